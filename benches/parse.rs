//! Parser benchmarks: `cargo bench --bench parse`.
//!
//! Every input is built here, from the layouts in the protocol notes, with
//! valid base64 of deterministic bytes, at the sizes cameras actually send:
//!
//! | group          | input                                                              |
//! |----------------|--------------------------------------------------------------------|
//! | `keepalive`    | empty body (counted in posts/s); IP camera `<DeviceInfo>` (~270 B) |
//! | `alarm_status` | IP camera alarm status (~640 B)                                    |
//! | `traject`      | IP camera tracking post, 3 targets (~1.9 KB)                       |
//! | `lpr`          | IP camera plate post, 6 KB base64 overview + 1.6 KB crop (~9.8 KB) |
//! | `images_500k`  | NVR intrusion, 450 KB base64 overview + 40 KB crop (~490 KB)       |
//!
//! `lpr` and `images_500k` are measured twice: `parse` alone (images stay
//! spans of the body) and `parse+decode`, which also decodes every image.
//! Bodies are handed over as owned `Vec<u8>` built outside the timed part, so
//! the parse measures no copy; the results are dropped outside it too.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use viewtron::{parse, Category, Event, Image, Post};

/// Deterministic pseudo-random "JPEG" bytes (xorshift64*), SOI/EOI markers included.
fn jpeg(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect();
    out[..4].copy_from_slice(&[0xff, 0xd8, 0xff, 0xe0]);
    out[len - 2..].copy_from_slice(&[0xff, 0xd9]);
    out
}

/// Base64 text whose decoded size is `decoded_len` bytes.
fn base64_image(decoded_len: usize, seed: u64) -> String {
    STANDARD.encode(jpeg(decoded_len, seed))
}

const DEVICE_INFO: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<DeviceInfo>
    <DeviceName>Loading Bay North</DeviceName>
    <DeviceNo.>1</DeviceNo.>
    <SN><![CDATA[NF40D099BCM0]]></SN>
    <ipAddress>192.168.1.192</ipAddress>
    <macAddress>58:5b:69:5a:84:bb</macAddress>
</DeviceInfo>
"#;

const ALARM_STATUS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<config version="1.7" xmlns="http://www.ipc.com/ver10">
    <alarmStatusInfo>
        <perimeterAlarm type="boolean" id="1">true</perimeterAlarm>
        <tripwireAlarm type="boolean" id="2">false</tripwireAlarm>
    </alarmStatusInfo>
    <dataTime><![CDATA[2026-03-29 09:58:21]]></dataTime>
    <deviceInfo>
        <deviceName><![CDATA[Loading Bay North]]></deviceName>
        <deviceNo.><![CDATA[1]]></deviceNo.>
        <sn><![CDATA[I84BB0A8D59C]]></sn>
        <ipAddress><![CDATA[192.168.1.57]]></ipAddress>
        <macAddress><![CDATA[58:5b:69:5a:84:bb]]></macAddress>
    </deviceInfo>
</config>
"#;

/// An IP camera tracking post with `targets` tracked objects.
fn traject(targets: u32) -> String {
    let mut items = String::new();
    for i in 0..targets {
        let (x, y) = (1200 + 1700 * i, 2400 + 900 * i);
        let kind = ["person", "car", "motor"][i as usize % 3];
        items += &format!(
            r#"
        <item>
            <targetId type="uint64">{id}</targetId>
            <point><x type="uint32">{x}</x><y type="uint32">{y}</y></point>
            <rect><x1 type="uint32">{x1}</x1><y1 type="uint32">{y1}</y1><x2 type="uint32">{x2}</x2><y2 type="uint32">{y2}</y2></rect>
            <velocity type="uint32">{v}</velocity>
            <direction type="uint32">{d}</direction>
            <targetType type="string">{kind}</targetType>
            <trajectlength type="list" count="0"/>
        </item>"#,
            id = 1041 + i,
            x1 = x - 400,
            y1 = y - 900,
            x2 = x + 400,
            y2 = y + 900,
            v = 12 + i,
            d = (90 * i) % 360,
        );
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<config version="1.7" xmlns="http://www.ipc.com/ver10">
    <currentTime type="tint64">1772057090604000</currentTime>
    <mac type="string"><![CDATA[58:5b:69:5a:84:bb]]></mac>
    <sn type="string"><![CDATA[I84BB0A8D59C]]></sn>
    <deviceName type="string"><![CDATA[Loading Bay North]]></deviceName>
    <traject type="list" count="{targets}">{items}
    </traject>
</config>
"#
    )
}

/// An IP camera plate post: overview in `listInfo` item 0, plate and crop in item 1.
fn lpr(overview: &str, crop: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<config version="1.7" xmlns="http://www.ipc.com/ver10">
    <smartType type="openAlramObj">VEHICE</smartType>
    <subscribeRelation type="subscribeOption">FEATURE_RESULT</subscribeRelation>
    <currentTime type="tint64">1772210268473000</currentTime>
    <mac type="string"><![CDATA[58:5b:69:5a:84:bb]]></mac>
    <sn type="string"><![CDATA[I84BB0A8D59C]]></sn>
    <deviceName type="string"><![CDATA[Gate]]></deviceName>
    <types>
        <openAlramObj type="string">VEHICE,VFD_MATCH,PEA,VFD,VSD,AOIENTRY,AOILEAVE,PASSLINECOUNT,TRAFFIC</openAlramObj>
        <targetType type="string">1,2,4</targetType>
    </types>
    <listInfo type="list" count="2">
        <item>
            <targetImageData>
                <dataType type="uint32">0</dataType>
                <targetType type="uint32">2</targetType>
                <Width type="tuint32">640</Width>
                <Height type="tuint32">360</Height>
                <targetBase64Length type="uint32">{overview_len}</targetBase64Length>
                <targetBase64Data type="string"><![CDATA[{overview}]]></targetBase64Data>
            </targetImageData>
        </item>
        <item>
            <targetId type="uint64">77</targetId>
            <plateNumber type="string"><![CDATA[KX42 ABC]]></plateNumber>
            <vehicleListType type="string">whiteList</vehicleListType>
            <vehicleDirect type="string">approach</vehicleDirect>
            <PlateConfidence type="uint32" count="9725"/>
            <plateColor type="string">yellow</plateColor>
            <carAttr><color>white</color><type>suv</type><brand>volvo</brand><model>xc60</model></carAttr>
            <carRect><x1>3100</x1><y1>2900</y1><x2>6800</x2><y2>8700</y2></carRect>
            <targetImageData>
                <dataType type="uint32">0</dataType>
                <targetType type="uint32">2</targetType>
                <Width type="tuint32">150</Width>
                <Height type="tuint32">50</Height>
                <targetBase64Length type="uint32">{crop_len}</targetBase64Length>
                <targetBase64Data type="string"><![CDATA[{crop}]]></targetBase64Data>
            </targetImageData>
        </item>
    </listInfo>
</config>
"#,
        overview_len = overview.len(),
        crop_len = crop.len(),
    )
}

/// An NVR intrusion post with an overview and one target crop.
fn intrusion(overview: &str, crop: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<config version="2.0.0" xmlns="http://www.ipc.com/ver10">
    <messageType>alarmData</messageType>
    <deviceInfo>
        <deviceName><![CDATA[Yard NVR]]></deviceName>
        <ip><![CDATA[192.168.0.56]]></ip>
        <mac><![CDATA[58:5b:69:40:11:02]]></mac>
        <channelId>3</channelId>
    </deviceInfo>
    <smartType>regionIntrusion</smartType>
    <currentTime>1772057090604000</currentTime>
    <eventInfo>
        <item>
            <eventId>12</eventId>
            <targetId>5</targetId>
            <boundary>area</boundary>
            <pointGroup>
                <item><x>1000</x><y>1000</y></item>
                <item><x>9000</x><y>1000</y></item>
                <item><x>9000</x><y>9000</y></item>
                <item><x>1000</x><y>9000</y></item>
            </pointGroup>
            <rect><x1>4100</x1><y1>3300</y1><x2>5200</x2><y2>7900</y2></rect>
        </item>
    </eventInfo>
    <targetListInfo>
        <item>
            <targetId>5</targetId>
            <targetType>person</targetType>
            <targetImageData>
                <width>352</width>
                <height>640</height>
                <targetBase64Length>{crop_len}</targetBase64Length>
                <targetBase64Data><![CDATA[{crop}]]></targetBase64Data>
            </targetImageData>
        </item>
    </targetListInfo>
    <sourceDataInfo>
        <width>2560</width>
        <height>1440</height>
        <sourceBase64Length>{overview_len}</sourceBase64Length>
        <sourceBase64Data><![CDATA[{overview}]]></sourceBase64Data>
    </sourceDataInfo>
</config>
"#,
        overview_len = overview.len(),
        crop_len = crop.len(),
    )
}

/// Each distinct image of an event once: the overview and the crops (a
/// plate's or face's crop is also its target's, so skip repeats).
fn images(event: &Event) -> Vec<&Image> {
    let crops = event.targets().iter().filter_map(|t| t.image.as_ref());
    let faces = event.faces().iter().filter_map(|f| f.image.as_ref());
    let plates = event.plates().iter().filter_map(|p| p.image.as_ref());
    let mut out: Vec<&Image> = Vec::new();
    for image in event
        .source_image()
        .into_iter()
        .chain(crops)
        .chain(faces)
        .chain(plates)
    {
        if !out
            .iter()
            .any(|i| i.base64().as_ptr() == image.base64().as_ptr())
        {
            out.push(image);
        }
    }
    out
}

fn event(body: &[u8]) -> Event {
    match parse(body.to_vec()) {
        Ok(Post::Event(event)) => event,
        other => panic!("benchmark input is not an event: {other:?}"),
    }
}

/// Parse only, one benchmark per `(name, body)`.
fn bench_parse(c: &mut Criterion, group: &str, inputs: &[(&str, &[u8])]) {
    let mut g = c.benchmark_group(group);
    for &(name, body) in inputs {
        // An empty body has no bytes to count: report posts per second.
        g.throughput(if body.is_empty() {
            Throughput::Elements(1)
        } else {
            Throughput::Bytes(body.len() as u64)
        });
        g.bench_function(name, |b| {
            b.iter_batched(
                || body.to_vec(),
                |body| parse(body).expect("benchmark input parses"),
                batch_size(body),
            )
        });
    }
    g.finish();
}

/// Parse only, then parse and decode every image.
fn bench_images(c: &mut Criterion, group: &str, body: &[u8]) {
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("parse", |b| {
        b.iter_batched(
            || body.to_vec(),
            |body| parse(body).expect("benchmark input parses"),
            batch_size(body),
        )
    });
    g.bench_function("parse+decode", |b| {
        b.iter_batched(
            || body.to_vec(),
            |body| {
                let Ok(Post::Event(event)) = parse(body) else {
                    unreachable!("checked in main")
                };
                let decoded: Vec<Vec<u8>> = images(&event)
                    .into_iter()
                    .map(|i| i.bytes().expect("valid base64"))
                    .collect();
                (event, decoded)
            },
            batch_size(body),
        )
    });
    g.finish();
}

/// Many small inputs per batch; one big one at a time.
fn batch_size(body: &[u8]) -> BatchSize {
    if body.len() > 64 * 1024 {
        BatchSize::LargeInput
    } else {
        BatchSize::SmallInput
    }
}

fn benches(c: &mut Criterion) {
    // Check once that each input is what its name says, so a parser change
    // cannot quietly turn a benchmark into one of an error path.
    let traject = traject(3).into_bytes();
    let e = event(&traject);
    assert_eq!((e.category(), e.targets().len()), (Category::Traject, 3));

    let (overview, crop) = (base64_image(4_500, 1), base64_image(1_200, 2));
    let lpr = lpr(&overview, &crop).into_bytes();
    let e = event(&lpr);
    assert_eq!(e.category(), Category::Lpr);
    assert_eq!(e.plate_number(), Some("KX42 ABC"));
    let lens: Vec<_> = images(&e).iter().map(|i| i.decoded_len()).collect();
    assert_eq!(lens, [Ok(4_500), Ok(1_200)]);

    let (overview, crop) = (base64_image(337_500, 3), base64_image(30_000, 4));
    let big = intrusion(&overview, &crop).into_bytes();
    let e = event(&big);
    assert_eq!(e.category(), Category::Intrusion);
    let decoded: Vec<_> = images(&e).iter().map(|i| i.bytes().unwrap()).collect();
    assert_eq!(decoded, [jpeg(337_500, 3), jpeg(30_000, 4)]);
    assert!(matches!(parse(ALARM_STATUS), Ok(Post::AlarmStatus(_))));
    assert!(matches!(parse(DEVICE_INFO), Ok(Post::Keepalive(_))));

    eprintln!(
        "input sizes: device_info {} B, alarm_status {} B, traject {} B, lpr {} B, images_500k {} B",
        DEVICE_INFO.len(),
        ALARM_STATUS.len(),
        traject.len(),
        lpr.len(),
        big.len()
    );

    bench_parse(
        c,
        "keepalive",
        &[("empty", b""), ("device_info", DEVICE_INFO.as_bytes())],
    );
    bench_parse(c, "alarm_status", &[("parse", ALARM_STATUS.as_bytes())]);
    bench_parse(c, "traject", &[("parse", &traject)]);
    bench_images(c, "lpr", &lpr);
    bench_images(c, "images_500k", &big);
}

criterion_group!(parse_benches, benches);
criterion_main!(parse_benches);
