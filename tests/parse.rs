//! Golden tests: every fixture in `tests/fixtures/` parsed, and every field it
//! carries asserted. See `tests/fixtures/README.md` for what each file covers.
//!
//! Each fixture has a test comparing the dump of its parsed post (see
//! `support/dump.rs`: every field the library exposes, `None` left out) with
//! the expected text, so a field the parser drops or invents fails the test.
//! The tests after those check properties over all fixtures (images, the
//! convenience accessors); variations and error paths are in
//! `tests/parse_errors.rs`.

#[macro_use]
mod support;

use std::time::UNIX_EPOCH;

use support::{all_images, fixture, fixtures, jpeg_size, post};
use viewtron::{parse, Category, Image, Post};

golden! {
    /// A 0-byte body is a keepalive.
    any_keepalive_empty: "any-keepalive-empty.xml" => "
keepalive
device
";

    /// The overview is listInfo item 0's crop (32x18), not the 40x24 sourceDataInfo;
    /// `leave` means away; count="9725" is 97.25 %; carRect is the target's box.
    v1_lpr_vehice: "v1-lpr-vehice.xml" => r#"
event lpr "VEHICE" "License Plate Detection" v1 "1.7" time=1767612345678901
device name="Harbour Gate LPR" mac="3c:ef:8c:21:0a:4e" serial="IPC7Q2K8M1R" channel=1
source 32x18 declared=220
target id=311 kind=Car rect=3100,4200,6900,9600 crop=16x8
plate number="HX72 LMP" group="blackList" color="yellow" direction=Away confidence=97.25 vehicle=[kind="sedan" color="grey" brand="Skoda" model="Octavia"] crop=16x8
"#;

    /// Overview only in sourceDataInfo; two plates, the second in no list and
    /// with a length-0 crop (no image); a plate number wrapped in newlines.
    v1_lpr_vehicle: "v1-lpr-vehicle.xml" => r#"
event lpr "VEHICLE" "License Plate Detection" v1 "1.7" time=1767698765432100
device name="Service Road East" mac="3c:ef:8c:21:0b:13" serial="IPC7Q2K9X4T"
source 32x18 declared=220
target id=402 kind=Car rect=500,2500,4800,9900 crop=16x8
target id=403 kind=Car rect=5200,1800,9400,7700
plate number="DN 3301 K" group="whiteList" color="blue" direction=Approach confidence=99 vehicle=[kind="suv" color="white"] crop=16x8
plate number="RB-558-QZ" color="white" direction=Away confidence=86.5
"#;

    /// `<x/>`, `<x type="string"/>`, `<x><![CDATA[]]></x>`, blanks: all absent.
    /// Item 1's plate text is empty too: it is an overview item (without a
    /// picture), so no plate and no target (see `tests/lpr.rs`).
    v1_lpr_empty_fields: "v1-lpr-empty-fields.xml" => r#"
event lpr "VEHICE" "License Plate Detection" v1 "1.7"
device
"#;

    /// Three faces (one without a crop); overview base64 wrapped with LF.
    v1_face_vfd: "v1-face-vfd.xml" => r#"
event face "VFD" "Face Detection" v1 "1.7" time=1767700800250000
device name="Staff Entrance" mac="3c:ef:8c:44:19:d2" serial="IPC5M7H3W0C"
source 32x18 declared=220
target id=1201 kind=Person rect=1200,1500,2000,3100 crop=16x16
target id=1202 kind=Person rect=4400,1300,5100,2700 crop=16x16
target id=1203 kind=Person rect=7600,2000,8300,3500
face id=1201 rect=1200,1500,2000,3100 crop=16x16
face id=1202 rect=4400,1300,5100,2700 crop=16x16
face id=1203 rect=7600,2000,8300,3500
"#;

    /// No XML declaration; `&amp;` in the device name.
    v1_face_vfd_match: "v1-face-vfd-match.xml" => r#"
event face "VFD_MATCH" "Face Match" v1 "1.7" time=1767701111000000
device name="Lobby & Reception" mac="3c:ef:8c:44:19:d3" serial="IPC5M7H3W1D" channel=3
source 32x18 declared=220
target id=77 kind=Person rect=3000,2200,3900,4100 crop=16x16
face id=77 rect=3000,2200,3900,4100 crop=16x16
"#;

    /// Two perInfo targets joined by targetId with their listInfo crops.
    v1_intrusion_pea_perimeter: "v1-intrusion-pea-perimeter.xml" => r#"
event intrusion "PEA" "Line Crossing / Intrusion" v1 "1.7" time=1767802200125000
device name="Fence North" mac="3c:ef:8c:70:2e:01" serial="IPC9D4F6A2Z"
source 32x18 declared=220
target id=21 event=5101 status="SMART_START" kind=Person rect=2100,3300,2900,7800 region=zone(800,1200)(9100,1000)(9500,6000)(5000,9700)(600,7400) crop=8x16
target id=22 event=5102 status="SMART_PROCEDURE" kind=Car rect=6000,4100,8800,6600 region=zone(100,100)(4000,200)(2000,5000) crop=24x16
"#;

    /// Comments before the root; tripwire line; targetType 4 is a motorbike.
    v1_intrusion_pea_tripwire: "v1-intrusion-pea-tripwire.xml" => r#"
event intrusion "PEA" "Line Crossing / Intrusion" v1 "1.7" time=1767803300500000
device name="Cycle Path Gate" mac="3c:ef:8c:70:2e:02" serial="IPC9D4F6A3Y"
source 32x18 declared=220
target id=64 event=618 status="SMART_STOP" kind=Motor rect=4300,3900,5600,6100 region=line(1000,5200)-(9000,4800) crop=16x16
"#;

    /// No XML declaration; a listInfo target only.
    v1_intrusion_aoientry: "v1-intrusion-aoientry.xml" => r#"
event intrusion "AOIENTRY" "Intrusion Zone Entry" v1 "1.7" time=1767804400000001
device name="Loading Dock" mac="3c:ef:8c:70:2e:03" serial="IPC9D4F6A4X"
source 32x18 declared=220
target id=88 kind=Person rect=1500,2500,3500,9000 crop=8x16
"#;

    v1_intrusion_aoileave: "v1-intrusion-aoileave.xml" => r#"
event intrusion "AOILEAVE" "Intrusion Zone Exit" v1 "1.7" time=1767804460000000
device name="Loading Dock" mac="3c:ef:8c:70:2e:03" serial="IPC9D4F6A4X"
source 32x18 declared=220
target id=89 kind=Car rect=6200,3600,9800,8000 crop=24x16
"#;

    v1_intrusion_loiter: "v1-intrusion-loiter.xml" => r#"
event intrusion "LOITER" "Loitering Detection" v1 "1.7" time=1767805500000000
device name="ATM Lobby" mac="3c:ef:8c:70:2e:04" serial="IPC9D4F6A5W"
source 32x18 declared=220
target id=505 event=9001 status="SMART_START" kind=Person rect=4400,3000,5200,7600 region=zone(2000,2000)(8000,2000)(8000,8000)(2000,8000) crop=8x16
"#;

    /// Config version 1.0, currentTime in seconds.
    v1_intrusion_pvd: "v1-intrusion-pvd.xml" => r#"
event intrusion "PVD" "Illegal Parking" v1 "1.0" time=1767806600000000
device name="Fire Lane" mac="3c:ef:8c:70:2e:05" serial="IPC9D4F6A6V"
source 32x18 declared=220
target id=7 kind=Car rect=3000,5000,7000,9500 crop=24x16
"#;

    /// currentTime in milliseconds; no overview; two targets on one line.
    v1_counting_passlinecount: "v1-counting-passlinecount.xml" => r#"
event counting "PASSLINECOUNT" "Line Crossing Target Count" v1 "1.7" time=1767807700123000
device name="Turnstile Hall" mac="3c:ef:8c:70:2e:06" serial="IPC9D4F6A7U" channel=2
target id=131 event=3301 status="SMART_START" kind=Person rect=1000,4000,1800,6500 region=line(0,5000)-(10000,5000) crop=8x16
target id=132 event=3302 status="SMART_NONE" kind=Person rect=6100,3900,6900,6400 region=line(0,5000)-(10000,5000) crop=8x16
"#;

    v1_counting_traffic: "v1-counting-traffic.xml" => r#"
event counting "TRAFFIC" "Intrusion Target Count" v1 "1.7" time=1767808800999999
device name="Bike Shed" mac="3c:ef:8c:70:2e:07" serial="IPC9D4F6A8T"
source 32x18 declared=220
target id=919 event=4040 status="SMART_START" kind=Motor rect=4700,5200,5900,8100 region=zone(500,9500)(5000,500)(9500,9500) crop=16x16
"#;

    /// Images inside the <vsd> wrapper; overview base64 wrapped with CR LF.
    v1_metadata_vsd: "v1-metadata-vsd.xml" => r#"
event metadata "VSD" "Video Metadata" v1 "1.7" time=1767809900000000
device name="Plaza Overview" mac="3c:ef:8c:70:2e:08" serial="IPC9D4F6A9S"
source 32x18 declared=220
target kind=Person crop=8x16
"#;

    /// Tracking: no smartType, three targets with point, velocity and direction.
    v1_traject: "v1-traject.xml" => r#"
event traject "traject" "Smart Tracking" v1 "1.7" time=1767810000041000
device name="Car Park Level 2" mac="3c:ef:8c:70:2e:09" serial="IPC9D4F6B0R"
target id=1001 kind=Person rect=2100,4000,2800,8240 point=2450,6120 velocity="14" direction="90"
target id=1002 kind=Car rect=5800,4100,8220,6960 point=7010,5530 velocity="0" direction="270"
target id=1003 kind=Motor rect=9000,8000,9800,9600 point=9400,8800 velocity="31" direction="180"
"#;

    /// `<DeviceInfo>` root: DeviceNo. is the channel.
    v1_keepalive_deviceinfo: "v1-keepalive-deviceinfo.xml" => r#"
keepalive
device name="Harbour Gate LPR" ip="10.20.30.41" mac="3c:ef:8c:21:0a:4e" serial="IPC7Q2K8M1R" channel=1
"#;

    /// Config 1.7 keepalive on one line, without XML declaration.
    v1_keepalive_config: "v1-keepalive-config.xml" => r#"
keepalive format=v1
device name="Staff Entrance" ip="10.20.30.52" mac="3c:ef:8c:44:19:d2" serial="IPC5M7H3W0C"
"#;

    /// IP camera alarm status: dataTime text, deviceInfo with ipAddress/macAddress.
    v1_alarm_status: "v1-alarm-status.xml" => r#"
alarm_status v1 time_text="03-02-2026 07:41:09 AM"
device name="Fence North" ip="10.20.30.60" mac="3c:ef:8c:70:2e:01" serial="IPC9D4F6A2Z" channel=1
alarm perimeterAlarm id="1" active=true
alarm tripwireAlarm id="2" active=false
"#;

    v1_unknown_motion: "v1-unknown-motion.xml" => r#"
unrecognized unknown-smartType smart_type="MOTION" description="Motion Detection"
"#;

    /// currentTime 18445822972087551616 is garbage: no time. The overview says
    /// 0 x 0 but carries a picture. A target id and a plate wrapped in newlines.
    v2_lpr_vehicle: "v2-lpr-vehicle.xml" => r#"
event lpr "vehicle" "License Plate Detection" v2 "2.0.0"
device name="Depot NVR-16" ip="172.16.8.20" mac="3C:EF:8C:90:11:B7" channel=5
source ?x? declared=220
target id=88 kind=Car rect=1010,530,1138,594 crop=16x8
target id=89 kind=Car rect=310,600,438,664 crop=16x8
plate number="7YTW210" group="Night Shift" color="white" owner="Okafor & Daughters Ltd" vehicle=[kind="pickup" color="red" brand="Ford" model="FORD_RANGER"] crop=16x8
plate number="CV19 XPA" color="yellow" crop=16x8
"#;

    /// `VEHICLE` without licensePlateListInfo: v1 layout, format stays v2.
    v2_lpr_vehicle_without_plate_list: "v2-lpr-vehicle-without-plate-list.xml" => r#"
event lpr "VEHICLE" "License Plate Detection" v2 "2.0.0" time=1767909000000000
device name="Depot NVR-16" ip="172.16.8.20" mac="3C:EF:8C:90:11:B7" channel=1
target id=55 kind=Car crop=16x8
plate number="MK05 TRV" group="temporaryList" color="white" direction=Approach confidence=93.12 crop=16x8
"#;

    /// Three faces with attributes, the last without a crop.
    v2_face_video_face_detect: "v2-face-video-face-detect.xml" => r#"
event face "videoFaceDetect" "Face Detection" v2 "2.0.0" time=1767900000777000
device name="Depot NVR-16" ip="172.16.8.20" mac="3C:EF:8C:90:11:B7" channel=9
source 32x18 declared=220
target id=3001 kind=Person rect=2210,1400,2790,2450 crop=16x16
target id=3002 kind=Person rect=6020,1730,6540,2660 crop=16x16
target id=3003 kind=Person rect=8100,1900,8400,2400
face id=3001 rect=2210,1400,2790,2450 age="youth" sex="female" glasses="yes" mask="no" crop=16x16
face id=3002 rect=6020,1730,6540,2660 age="elderly" sex="male" glasses="no" mask="yes" crop=16x16
face id=3003 rect=8100,1900,8400,2400 age="unknown" sex="unknown" glasses="unknown" mask="unknown"
"#;

    /// Two targets, one without a crop; `&` inside CDATA.
    v2_intrusion_region_intrusion: "v2-intrusion-region-intrusion.xml" => r#"
event intrusion "regionIntrusion" "Perimeter Intrusion" v2 "2.0.0" time=1767901234500000
device name="Yard & Fuel Bay" ip="172.16.8.21" mac="3C:EF:8C:90:11:C2" channel=4
source 32x18 declared=220
target id=612 event=712 kind=Person rect=2400,3900,3100,8700 region=zone(1200,2500)(5600,2300)(5800,9400)(900,9100) crop=8x16
target id=613 event=713 kind=Car rect=3300,5000,5400,7900 region=zone(1200,2500)(5600,2300)(5800,9400)(900,9100)
"#;

    /// No XML declaration.
    v2_intrusion_line_crossing: "v2-intrusion-line-crossing.xml" => r#"
event intrusion "lineCrossing" "Line Crossing" v2 "2.0.0" time=1767902000000000
device name="Depot NVR-16" ip="172.16.8.20" mac="3C:EF:8C:90:11:B7" channel=2
source 32x18 declared=220
target id=1501 event=2001 kind=Motor rect=4600,4100,5300,9200 region=line(4800,300)-(5100,9900) crop=16x16
"#;

    /// The all-zero rect of line counting is kept as sent.
    v2_counting_target_counting_by_line: "v2-counting-target-counting-by-line.xml" => r#"
event counting "targetCountingByLine" "Target Counting by Line" v2 "2.0.0" time=1767903000000000
device name="Depot NVR-16" ip="172.16.8.20" mac="3C:EF:8C:90:11:B7" channel=6
source 32x18 declared=220
target id=280 event=880 kind=Person rect=0,0,0,0 region=line(2500,1000)-(2500,9000) crop=8x16
"#;

    /// Config version 2.1.0.
    v2_counting_target_counting_by_area: "v2-counting-target-counting-by-area.xml" => r#"
event counting "targetCountingByArea" "Target Counting by Area" v2 "2.1.0" time=1767904000000000
device name="Depot NVR-16" ip="172.16.8.20" mac="3C:EF:8C:90:11:B7" channel=7
source 32x18 declared=220
target id=1290 event=1990 kind=Person rect=4100,4200,4700,6900 region=zone(3000,3000)(7000,3000)(7000,7000)(3000,7000) crop=8x16
"#;

    /// Three targets, the last without a crop.
    v2_metadata_video_metadata: "v2-metadata-video-metadata.xml" => r#"
event metadata "videoMetadata" "Video Metadata" v2 "2.0.0" time=1767905000000000
device name="Depot NVR-16" ip="172.16.8.20" mac="3C:EF:8C:90:11:B7" channel=8
source 32x18 declared=220
target id=3100 event=4100 kind=Person rect=1000,2000,1500,6000 region=zone(0,0)(9900,0)(9900,9900)(0,9900) crop=8x16
target id=3101 event=4101 kind=Car rect=5000,5000,8000,7000 region=zone(0,0)(9900,0)(9900,9900)(0,9900) crop=24x16
target id=3102 event=4102 kind=Motor rect=8500,1000,9200,2500 region=zone(0,0)(9900,0)(9900,9900)(0,9900)
"#;

    /// No messageType, IP camera smartType: v1 layout, format stays v2.
    v2_routing_ipc_smarttype: "v2-routing-ipc-smarttype.xml" => r#"
event intrusion "PEA" "Line Crossing / Intrusion" v2 "2.0.0" time=1767907000000000
device name="Depot NVR-16" ip="172.16.8.20" mac="3C:EF:8C:90:11:B7" channel=3
target id=17 event=27 status="SMART_START" kind=Person rect=4000,4000,6000,8000 region=zone(1000,1000)(9000,1000)(5000,9000) crop=8x16
"#;

    /// No messageType and an NVR smartType: unrecognized.
    v2_unrecognized_no_message_type: "v2-unrecognized-no-message-type.xml" => r#"
unrecognized no-messageType smart_type="regionIntrusion"
"#;

    v2_keepalive: "v2-keepalive.xml" => r#"
keepalive format=v2
device name="Depot NVR-16" ip="172.16.8.20" mac="3C:EF:8C:90:11:B7"
"#;

    /// Several alarms, one with two rule items.
    v2_alarm_status: "v2-alarm-status.xml" => r#"
alarm_status v2 time=1767906000000000
device name="Depot NVR-16" ip="172.16.8.20" mac="3C:EF:8C:90:11:B7" channel=4
alarm perimeterAlarm id="1" active=true
alarm perimeterAlarm id="3" active=false
alarm vfdAlarm id="1" active=false
alarm chlOfflineAlarm id="12" active=true
"#;
}

// ---------------------------------------------------------------------------
// Properties over all fixtures

#[test]
fn every_fixture_has_a_golden_test_and_the_kind_its_name_says() {
    let source = concat!(include_str!("parse.rs"), include_str!("lpr.rs"));
    let mut seen = 0;
    for (name, body) in fixtures() {
        let golden = source.contains(&format!(": \"{name}\" =>"));
        assert!(golden, "{name} has no golden test");
        let post = parse(body).unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = if name.contains("-keepalive") {
            "keepalive"
        } else if name.contains("-alarm-status") {
            "alarm_status"
        } else if name.contains("-unknown-") || name.contains("-unrecognized-") {
            "unrecognized"
        } else {
            "event"
        };
        assert_eq!(post.kind(), expected, "{name}");
        seen += 1;
    }
    assert_eq!(seen, 37, "a fixture was added: give it a README row");
}

/// What the README says the fixtures exercise is really in the files.
#[test]
fn fixtures_have_the_shapes_they_claim() {
    let claims: [(&str, &[u8]); 12] = [
        ("v1-keepalive-config.xml", b"<config "), // no XML declaration
        ("v1-face-vfd-match.xml", b"<config "),
        ("v2-intrusion-line-crossing.xml", b"<config "),
        ("v1-intrusion-pea-tripwire.xml", b"?>\n<!--"), // comment before the root
        ("v1-face-vfd-match.xml", b"&amp;"),
        ("v2-lpr-vehicle.xml", b"&amp;"),
        ("v2-lpr-vehicle.xml", b">18445822972087551616<"),
        ("v1-lpr-empty-fields.xml", b"<deviceName type=\"string\"/>"),
        (
            "v1-lpr-empty-fields.xml",
            b"<sn type=\"string\"><![CDATA[]]></sn>",
        ),
        ("v1-lpr-empty-fields.xml", b"<model/>"),
        ("v1-lpr-vehicle.xml", b"<plateNumber type=\"string\">\n"),
        ("v2-lpr-vehicle.xml", b"<targetId>\n"),
    ];
    for (name, needle) in claims {
        let found = fixture(name).windows(needle.len()).any(|w| w == needle);
        assert!(found, "{name}: {}", String::from_utf8_lossy(needle));
    }
    assert!(fixture("any-keepalive-empty.xml").is_empty());
    // Base64 wrapped with LF (VFD) and CR LF (VSD); the CRs survive in the file.
    let crs = fixture("v1-metadata-vsd.xml")
        .iter()
        .filter(|&&b| b == b'\r')
        .count();
    assert_eq!(crs, 3);
    for (name, lines, len) in [("v1-face-vfd.xml", 4, 163), ("v1-metadata-vsd.xml", 4, 163)] {
        let Post::Event(e) = post(name) else {
            panic!("{name}")
        };
        let image = e.source_image().unwrap();
        assert_eq!(image.base64().lines().count(), lines, "{name}");
        assert_eq!(image.bytes().map(|b| b.len()), Ok(len), "{name}");
    }
}

#[test]
fn every_image_is_a_valid_jpeg_of_its_declared_size() {
    let mut count = 0;
    for (name, body) in fixtures() {
        let Post::Event(e) = parse(body).unwrap() else {
            continue;
        };
        for (what, image) in all_images(&e) {
            let at = format!("{name} {what}");
            let bytes = image.bytes().unwrap_or_else(|err| panic!("{at}: {err}"));
            assert_eq!(bytes[..3], [0xff, 0xd8, 0xff], "{at}: JPEG SOI");
            assert_eq!(bytes[bytes.len() - 2..], [0xff, 0xd9], "{at}: JPEG EOI");
            assert_eq!(image.decoded_len(), Ok(bytes.len()), "{at}");
            let chars = image.base64().bytes().filter(|b| !b.is_ascii_whitespace());
            assert_eq!(image.declared_len(), Some(chars.count() as u64), "{at}");
            let (w, h) = jpeg_size(&bytes).unwrap_or_else(|| panic!("{at}: no SOF0"));
            // The 0 x 0 overview of v2-lpr-vehicle.xml is the only image without a size.
            assert_eq!(
                (image.width().unwrap_or(32), image.height().unwrap_or(18)),
                (w, h),
                "{at}"
            );
            count += 1;
        }
    }
    assert_eq!(
        count, 70,
        "overviews plus every target, plate and face crop"
    );
}

/// The convenience accessors agree with the full lists on every fixture.
#[test]
fn accessors_agree_with_the_lists() {
    for (name, body) in fixtures() {
        let post = parse(body).unwrap();
        let Post::Event(e) = &post else { continue };
        let plate = e.plate();
        let d = e.device();
        let got = (post.device(), e.device_name(), e.channel(), plate);
        let want = (Some(d), d.name.as_deref(), d.channel, e.plates().first());
        assert_eq!(got, want, "{name}");
        let got = (e.plate_number(), e.plate_group(), e.vehicle());
        let number = plate.and_then(|p| p.number.as_deref());
        let want = (
            number,
            plate.and_then(|p| p.group.as_deref()),
            plate.and_then(|p| p.vehicle.as_ref()),
        );
        assert_eq!(got, want, "{name}");
        let crop = plate.and_then(|p| p.image.as_ref());
        let crop = crop
            .or_else(|| e.faces().iter().find_map(|f| f.image.as_ref()))
            .or_else(|| e.targets().iter().find_map(|t| t.image.as_ref()));
        assert_eq!(e.target_image(), crop, "{name}");
        assert_eq!(e.target_image_bytes(), crop.map(Image::bytes), "{name}");
        let source = e.source_image().map(Image::bytes);
        assert_eq!(e.source_image_bytes(), source, "{name}");
        let since = e.time().map(|t| t.duration_since(UNIX_EPOCH).unwrap());
        assert_eq!(since.map(|d| d.as_micros() as u64), e.time_us(), "{name}");
        for (p, t) in e.plates().iter().zip(e.targets()) {
            assert_eq!(p.image, t.image, "{name}: a plate's crop is its target's");
        }
        for (f, t) in e.faces().iter().zip(e.targets()) {
            assert_eq!((f.id, f.rect, &f.image), (t.id, t.rect, &t.image), "{name}");
        }
        let lpr = e.category() == Category::Lpr;
        assert!(lpr || e.plates().is_empty(), "{name}");
        let face = e.category() == Category::Face;
        assert!(face || e.faces().is_empty(), "{name}");
        assert!(e.body().as_bytes() == fixture(&name), "{name}: body kept");
    }
    let name = "v1-unknown-motion.xml";
    let Post::Unrecognized(u) = post(name) else {
        panic!()
    };
    assert!(u.body().as_bytes() == fixture(name), "body kept");
}
