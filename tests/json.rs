//! The JSON shape of posts (`serde` feature): keys, nulls, numbers, image lengths.

#![cfg(feature = "serde")]

use serde_json::{json, Value};
use viewtron::{parse, Post};

/// "/9j/4A==" decodes to the 4 bytes ff d8 ff e0.
const JPEG4: &str = "/9j/4A==";

fn to_json(xml: &str) -> Value {
    let post = parse(xml).expect("well-formed post");
    serde_json::to_value(&post).expect("serialisable")
}

/// The top-level keys of a JSON object text, in the order written.
fn keys(text: &str) -> Vec<String> {
    let (mut keys, mut depth, mut chars) = (Vec::new(), 0, text.chars());
    while let Some(c) = chars.next() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            '"' => {
                let mut string = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => string.extend(chars.next()),
                        '"' => break,
                        c => string.push(c),
                    }
                }
                if depth == 1 && chars.clone().next() == Some(':') {
                    keys.push(string);
                }
            }
            _ => {}
        }
    }
    keys
}

/// The serialised text of a post.
fn to_text(xml: &str) -> String {
    serde_json::to_string(&parse(xml).expect("well-formed post")).expect("serialisable")
}

fn no_device() -> Value {
    json!({"name": null, "ip": null, "mac": null, "serial": null, "channel": null})
}

#[test]
fn v1_lpr_event_with_plate() {
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<config version="1.7" xmlns="http://www.ipc.com/ver10">
  <smartType type="openAlramObj">VEHICE</smartType>
  <currentTime type="tint64">1764331200123456</currentTime>
  <deviceName type="string"><![CDATA[North Gate]]></deviceName>
  <mac type="string">58:5b:69:00:00:01</mac>
  <sn type="string">I84BB0A8D59C</sn>
  <channelId type="uint32">3</channelId>
  <listInfo type="list" count="2">
    <item><targetImageData><targetType type="uint32">2</targetType>
      <Width type="tuint32">1920</Width><Height type="tuint32">1080</Height>
      <targetBase64Data type="string"><![CDATA[{JPEG4}]]></targetBase64Data>
    </targetImageData></item>
    <item>
      <targetId type="tuint32">12</targetId>
      <plateNumber type="string"><![CDATA[TST 042]]></plateNumber>
      <vehicleListType type="string">whiteList</vehicleListType>
      <vehicleDirect type="string">leave</vehicleDirect>
      <PlateConfidence count="9937"/>
      <plateColor type="string">yellow</plateColor>
      <carRect><x1>100</x1><y1>200</y1><x2>300</x2><y2>400</y2></carRect>
      <carAttr><color>red</color><type>sedan</type><brand>Volvo</brand></carAttr>
      <targetImageData><targetType type="uint32">2</targetType>
        <targetBase64Data type="string"><![CDATA[not*base64]]></targetBase64Data>
      </targetImageData>
    </item>
  </listInfo>
</config>"#
    );
    let vehicle = json!({"type": "sedan", "color": "red", "brand": "Volvo", "model": null});
    let plate = json!({
        "number": "TST 042", "group": "whiteList", "color": "yellow", "direction": "away",
        "confidence": 99.37, "owner": null, "vehicle": vehicle, "image_len": null,
    });
    let expected = json!({
        "kind": "event",
        "category": "lpr",
        "alarm_type": "VEHICE",
        "description": "License Plate Detection",
        "format": "v1",
        "config_version": "1.7",
        "device": {"name": "North Gate", "ip": null, "mac": "58:5b:69:00:00:01",
                   "serial": "I84BB0A8D59C", "channel": 3},
        "time_us": 1_764_331_200_123_456_u64,
        "plate": plate,
        "plates": [plate],
        "vehicle": vehicle,
        "faces": [],
        "targets": [{
            "id": 12, "type": "car", "event_id": null, "status": null,
            "rect": [100, 200, 300, 400], "region": null, "point": null,
            "velocity": null, "direction": null, "image_len": null,
        }],
        // The overview (first listInfo item) decodes; the plate crop does not.
        "source_image_len": 4,
        "target_image_len": null,
    });
    assert_eq!(to_json(&xml), expected);
}

#[test]
fn keys_come_in_documented_order() {
    let event = to_text("<config version='1.0'><smartType>VSD</smartType></config>");
    assert_eq!(
        keys(&event),
        [
            "kind",
            "category",
            "alarm_type",
            "description",
            "format",
            "config_version",
            "device",
            "time_us",
            "plate",
            "plates",
            "vehicle",
            "faces",
            "targets",
            "source_image_len",
            "target_image_len",
        ]
    );
    assert!(
        event.starts_with(r#"{"kind":"event","category":"metadata","#),
        "{event}"
    );
    assert_eq!(keys(&to_text("")), ["kind", "device", "format"]);
    let status = "<config version='2.0.0'><messageType>alarmStatus</messageType></config>";
    assert_eq!(
        keys(&to_text(status)),
        ["kind", "device", "format", "time_us", "time_text", "alarms"]
    );
    let motion = "<config version='1.7'><smartType>MOTION</smartType></config>";
    assert_eq!(
        keys(&to_text(motion)),
        ["kind", "reason", "smart_type", "description"]
    );
}

#[test]
fn v2_face_event_with_two_faces() {
    let xml = format!(
        r#"<config version="2.0.0" xmlns="http://www.ipc.com/ver10">
  <messageType>alarmData</messageType>
  <deviceInfo><deviceName><![CDATA[Office]]></deviceName><ip>192.168.0.50</ip>
    <mac>58:5B:69:12:F0:79</mac><channelId>1</channelId></deviceInfo>
  <smartType>videoFaceDetect</smartType>
  <currentTime>1772212642929000</currentTime>
  <sourceDataInfo><width>1280</width><height>720</height>
    <sourceBase64Data>BASE64_JPEG_OVERVIEW_IMAGE</sourceBase64Data></sourceDataInfo>
  <faceListInfo>
    <item><targetId>50</targetId><rect><x1>854</x1><y1>176</y1><x2>978</x2><y2>300</y2></rect>
      <age>middleAged</age><sex>male</sex><glasses>unknown</glasses><mask>no</mask>
      <targetImageData><width>184</width><height>184</height>
        <targetBase64Data>{JPEG4}</targetBase64Data></targetImageData></item>
    <item><targetId>51</targetId><age>young</age><sex>female</sex></item>
  </faceListInfo>
</config>"#
    );
    let value = to_json(&xml);
    assert_eq!(value["kind"], "event");
    assert_eq!(value["category"], "face");
    assert_eq!(value["alarm_type"], "videoFaceDetect");
    assert_eq!(value["description"], "Face Detection");
    assert_eq!(value["format"], "v2");
    assert_eq!(value["config_version"], "2.0.0");
    assert_eq!(
        value["device"],
        json!({"name": "Office", "ip": "192.168.0.50", "mac": "58:5B:69:12:F0:79",
               "serial": null, "channel": 1})
    );
    assert_eq!(value["time_us"], 1_772_212_642_929_000_u64);
    assert_eq!(value["plate"], Value::Null);
    assert_eq!(value["plates"], json!([]));
    assert_eq!(value["vehicle"], Value::Null);
    assert_eq!(
        value["faces"],
        json!([
            {"age": "middleAged", "sex": "male", "glasses": "unknown", "mask": "no",
             "id": 50, "rect": [854, 176, 978, 300], "image_len": 4},
            {"age": "young", "sex": "female", "glasses": null, "mask": null,
             "id": 51, "rect": null, "image_len": null},
        ])
    );
    let targets = value["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2);
    assert_eq!(targets[0]["type"], "person");
    assert_eq!(targets[0]["rect"], json!([854, 176, 978, 300]));
    assert_eq!(targets[1]["id"], 51);
    assert_eq!(targets[1]["rect"], Value::Null);
    // Placeholder overview: not base64, so no length. First face crop: 4 bytes.
    assert_eq!(value["source_image_len"], Value::Null);
    assert_eq!(value["target_image_len"], 4);
}

#[test]
fn v2_intrusion_targets_carry_region_and_ids() {
    let xml = r#"<config version="2.0.0"><messageType>alarmData</messageType>
  <smartType>lineCrossing</smartType>
  <eventInfo><item><eventId>1409</eventId><targetId>1309</targetId>
    <directionLine><startPoint><x>3579</x><y>2550</y></startPoint>
      <endPoint><x>3655</x><y>9797</y></endPoint></directionLine>
    <rect><x1>3494</x1><y1>4409</y1><x2>4261</x2><y2>9791</y2></rect></item></eventInfo>
  <targetListInfo><item><targetId>1309</targetId><targetType>person</targetType>
    <targetImageData><targetBase64Data> /9j/
4A== </targetBase64Data></targetImageData></item></targetListInfo>
</config>"#;
    let value = to_json(xml);
    assert_eq!(
        value["targets"],
        json!([{
            "id": 1309, "type": "person", "event_id": 1409, "status": null,
            "rect": [3494, 4409, 4261, 9791],
            "region": {"type": "line", "start": [3579, 2550], "end": [3655, 9797]},
            "point": null, "velocity": null, "direction": null, "image_len": 4,
        }])
    );
    assert_eq!(value["target_image_len"], 4);
    assert_eq!(value["source_image_len"], Value::Null);
    assert_eq!(value["device"], no_device());
    assert_eq!(value["time_us"], Value::Null, "no currentTime: null");
}

#[test]
fn v1_polygon_region() {
    let xml = r#"<config version="1.7"><smartType>PEA</smartType><perimeter><perInfo><item>
  <eventId>220</eventId><targetId>20</targetId><status>SMART_START</status>
  <boundary><item><point><x>1</x><y>2</y></point></item><item><point><x>3</x><y>4</y></point></item>
  <item><point><x>5</x><y>6</y></point></item></boundary>
</item></perInfo></perimeter></config>"#;
    let target = &to_json(xml)["targets"][0];
    assert_eq!(target["status"], "SMART_START");
    assert_eq!(
        target["region"],
        json!({"type": "polygon", "points": [[1, 2], [3, 4], [5, 6]]})
    );
}

#[test]
fn traject_event() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<config version="1.7" xmlns="http://www.ipc.com/ver10">
  <deviceName type="string">North Gate</deviceName>
  <mac>58:5b:69:00:00:02</mac>
  <currentTime>1764331200</currentTime>
  <traject type="list" count="2">
    <item><targetId>5</targetId><targetType>person</targetType>
      <point><x>20</x><y>30</y></point><velocity>12</velocity><direction>3</direction>
      <rect><x1>10</x1><y1>20</y1><x2>30</x2><y2>40</y2></rect><trajectlength type="list"/></item>
    <item><targetId>6</targetId><targetType>car</targetType></item>
  </traject>
</config>"#;
    let value = to_json(xml);
    assert_eq!(value["kind"], "event");
    assert_eq!(value["category"], "traject");
    assert_eq!(value["alarm_type"], "traject");
    assert_eq!(value["description"], "Smart Tracking");
    assert_eq!(value["format"], "v1");
    assert_eq!(value["device"]["name"], "North Gate");
    assert_eq!(value["device"]["mac"], "58:5b:69:00:00:02");
    assert_eq!(
        value["time_us"], 1_764_331_200_000_000_u64,
        "seconds scaled to µs"
    );
    assert_eq!(
        value["targets"],
        json!([
            {"id": 5, "type": "person", "event_id": null, "status": null,
             "rect": [10, 20, 30, 40], "region": null, "point": [20, 30],
             "velocity": "12", "direction": "3", "image_len": null},
            {"id": 6, "type": "car", "event_id": null, "status": null,
             "rect": null, "region": null, "point": null,
             "velocity": null, "direction": null, "image_len": null},
        ])
    );
    assert_eq!(value["faces"], json!([]));
    assert_eq!(value["source_image_len"], Value::Null);
    assert_eq!(value["target_image_len"], Value::Null);
}

#[test]
fn keepalives() {
    assert_eq!(
        to_json(""),
        json!({"kind": "keepalive", "device": no_device(), "format": null})
    );
    assert_eq!(
        to_json(
            "<DeviceInfo><DeviceName>Lobby</DeviceName><DeviceNo.>1</DeviceNo.>\
             <SN><![CDATA[NF40D099BCM0]]></SN><ipAddress>192.168.1.192</ipAddress>\
             <macAddress>58:5b:69:5a:84:bb</macAddress></DeviceInfo>"
        ),
        json!({
            "kind": "keepalive",
            "device": {"name": "Lobby", "ip": "192.168.1.192", "mac": "58:5b:69:5a:84:bb",
                       "serial": "NF40D099BCM0", "channel": 1},
            "format": null,
        })
    );
    let v2 = to_json(
        "<config version=\"2.0.0\"><messageType>keepalive</messageType>\
         <deviceInfo><deviceName>NVR</deviceName><ip>10.0.0.9</ip></deviceInfo></config>",
    );
    assert_eq!(v2["format"], "v2");
    assert_eq!(v2["device"]["ip"], "10.0.0.9");
    assert_eq!(v2["device"]["channel"], Value::Null);
}

#[test]
fn alarm_status_v2_items() {
    let xml = r#"<config version="2.0.0"><messageType>alarmStatus</messageType>
  <deviceInfo><deviceName>Yard</deviceName><channelId>4</channelId></deviceInfo>
  <currentTime>1772056914000000</currentTime>
  <alarmStatusInfo>
    <perimeterAlarm><item id="1">true</item><item id="2">false</item></perimeterAlarm>
    <chlOfflineAlarm><item id="4">true</item></chlOfflineAlarm>
  </alarmStatusInfo>
</config>"#;
    assert_eq!(
        to_json(xml),
        json!({
            "kind": "alarm_status",
            "device": {"name": "Yard", "ip": null, "mac": null, "serial": null, "channel": 4},
            "format": "v2",
            "time_us": 1_772_056_914_000_000_u64,
            "time_text": null,
            "alarms": [
                {"name": "perimeterAlarm", "id": "1", "active": true},
                {"name": "perimeterAlarm", "id": "2", "active": false},
                {"name": "chlOfflineAlarm", "id": "4", "active": true},
            ],
        })
    );
}

#[test]
fn alarm_status_v1_text_time() {
    let xml = r#"<config version="1.7" xmlns="http://www.ipc.com/ver10">
  <alarmStatusInfo><vehiceAlarm type="boolean" id="1">false</vehiceAlarm><motionAlarm>true</motionAlarm></alarmStatusInfo>
  <dataTime><![CDATA[11-19-2025 12:15:11 PM]]></dataTime>
  <deviceInfo><deviceName><![CDATA[Viewtron IPC]]></deviceName><sn>I84B</sn></deviceInfo>
</config>"#;
    let value = to_json(xml);
    assert_eq!(value["kind"], "alarm_status");
    assert_eq!(value["format"], "v1");
    assert_eq!(value["time_us"], Value::Null);
    assert_eq!(value["time_text"], "11-19-2025 12:15:11 PM");
    assert_eq!(value["device"]["serial"], "I84B");
    assert_eq!(
        value["alarms"],
        json!([
            {"name": "vehiceAlarm", "id": "1", "active": false},
            {"name": "motionAlarm", "id": null, "active": true},
        ])
    );
}

#[test]
fn unrecognized_posts() {
    assert_eq!(
        to_json("<config version='1.7'><smartType>MOTION</smartType></config>"),
        json!({"kind": "unrecognized", "reason": "unknown-smartType",
               "smart_type": "MOTION", "description": "Motion Detection"})
    );
    assert_eq!(
        to_json("<config version='2.0.0'><smartType>somethingNew</smartType></config>"),
        json!({"kind": "unrecognized", "reason": "no-messageType",
               "smart_type": "somethingNew", "description": null})
    );
    assert_eq!(
        to_json("<config version='2.0.0'><messageType>hello</messageType></config>"),
        json!({"kind": "unrecognized", "reason": "unknown-messageType",
               "smart_type": null, "description": null})
    );
    assert_eq!(
        to_json("<html><body/></html>"),
        json!({"kind": "unrecognized", "reason": "not-viewtron",
               "smart_type": null, "description": null})
    );
}

#[test]
fn image_lengths_valid_invalid_absent() {
    let post = |source: &str| {
        format!(
            "<config version=\"2.0.0\"><messageType>alarmData</messageType>\
             <smartType>regionIntrusion</smartType>{source}</config>"
        )
    };
    let block = |data: &str| {
        format!("<sourceDataInfo><sourceBase64Data>{data}</sourceBase64Data></sourceDataInfo>")
    };
    assert_eq!(to_json(&post(&block(JPEG4)))["source_image_len"], 4);
    assert_eq!(to_json(&post(&block("QUJD")))["source_image_len"], 3);
    assert_eq!(
        to_json(&post(&block("/9j/\r\n4A==")))["source_image_len"],
        4
    );
    assert_eq!(
        to_json(&post(&block("/9j/4A")))["source_image_len"],
        Value::Null,
        "bad padding"
    );
    assert_eq!(
        to_json(&post(&block("BASE64_JPEG")))["source_image_len"],
        Value::Null
    );
    assert_eq!(
        to_json(&post(&block("")))["source_image_len"],
        Value::Null,
        "empty: no image"
    );
    assert_eq!(
        to_json(&post(""))["source_image_len"],
        Value::Null,
        "absent"
    );
    for value in [to_json(&post(&block(JPEG4))), to_json(&post(""))] {
        assert_eq!(value["target_image_len"], Value::Null);
    }
}

#[test]
fn implausible_time_is_null_and_numbers_stay_numbers() {
    let value = to_json(
        "<config version=\"2.0.0\"><messageType>alarmData</messageType><smartType>vehicle</smartType>\
         <deviceInfo><channelId>2</channelId></deviceInfo>\
         <currentTime>18445822972087551616</currentTime>\
         <licensePlateListInfo><item><targetId>104</targetId>\
         <licensePlateAttribute><licensePlateNumber>JP116D</licensePlateNumber></licensePlateAttribute>\
         <licensePlateMatchInfo><groupName>Staff</groupName><carOwner>Kim</carOwner></licensePlateMatchInfo>\
         </item></licensePlateListInfo></config>",
    );
    assert_eq!(value["time_us"], Value::Null);
    assert!(value["device"]["channel"].is_u64());
    assert!(value["targets"][0]["id"].is_u64());
    assert_eq!(value["plate"]["group"], "Staff");
    assert_eq!(value["plate"]["owner"], "Kim");
    assert_eq!(value["plate"]["vehicle"], Value::Null);
    assert_eq!(value["vehicle"], Value::Null);
}

#[test]
fn post_and_inner_value_serialise_alike() {
    let xml = "<config version='1.7'><smartType>VFD</smartType><currentTime>1732045234</currentTime></config>";
    let post = parse(xml).unwrap();
    let Post::Event(event) = &post else {
        panic!("not an event")
    };
    assert_eq!(
        serde_json::to_string(&post).unwrap(),
        serde_json::to_string(event).unwrap()
    );
}

/// Issue 8: firmware that writes an empty `plateNumber` into the overview
/// item. The JSON plate is the read one, not an all-null plate with
/// confidence 0 and no vehicle; the overview is `source_image_len`, not a
/// target. (The fixtures are described in `tests/fixtures/README.md`.)
#[test]
fn v1_lpr_overview_item_is_not_the_json_plate() {
    let read = |name: &str| {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        let body = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::to_value(parse(body).expect("a fixture parses")).unwrap()
    };
    let value = read("v1-lpr-overview-empty-plate.xml");
    let vehicle =
        json!({"type": "hatchback", "color": "black", "brand": "Ford", "model": "Fiesta"});
    let plate = json!({
        "number": "KR19 WDX", "group": "temporaryList", "color": "white",
        "direction": "approach", "confidence": 94.8, "owner": null,
        "vehicle": vehicle, "image_len": 161,
    });
    assert_eq!(value["plate"], plate);
    assert_eq!(value["plates"], json!([plate]));
    assert_eq!(value["vehicle"], vehicle);

    // (file, plate number, vehicle brand, target ids, overview and crop sizes)
    for (name, number, brand, ids, source, crop) in [
        (
            "v1-lpr-overview-empty-plate.xml",
            json!("KR19 WDX"),
            json!("Ford"),
            json!([517]),
            164,
            json!(161),
        ),
        (
            "v1-lpr-overview-without-plate-number.xml",
            json!("MV 6608 T"),
            json!("Toyota"),
            json!([88]),
            164,
            json!(161),
        ),
        (
            "v1-lpr-single-item.xml",
            json!("YT 40 LKB"),
            Value::Null,
            json!([2024]),
            164,
            json!(161),
        ),
        (
            "v1-lpr-overview-in-source-data.xml",
            json!("BT-204-HN"),
            json!("Renault"),
            json!([9]),
            164,
            json!(161),
        ),
        (
            "v1-lpr-no-plate-read.xml",
            Value::Null,
            Value::Null,
            json!([]),
            161,
            Value::Null,
        ),
    ] {
        let value = read(name);
        assert_eq!(value["plate"]["number"], number, "{name}");
        assert_eq!(value["vehicle"]["brand"], brand, "{name}");
        let plates = value["plates"].as_array().unwrap();
        assert_eq!(plates.len(), usize::from(!number.is_null()), "{name}");
        assert!(plates.iter().all(|p| p["number"].is_string()), "{name}");
        let targets = value["targets"].as_array().unwrap();
        let target_ids: Vec<&Value> = targets.iter().map(|t| &t["id"]).collect();
        assert_eq!(json!(target_ids), ids, "{name}");
        assert!(targets
            .iter()
            .all(|t| t["type"] == "car" && t["image_len"] == 161));
        assert_eq!(value["source_image_len"], source, "{name}");
        assert_eq!(value["target_image_len"], crop, "{name}");
    }
}
