//! The payload rules, each against the vendor's reading.
use super::*;
use viewtron::{parse, Post};

fn event(xml: &str) -> Event {
    match parse(xml.to_owned().into_bytes()) {
        Ok(Post::Event(e)) => e,
        other => panic!("not an event: {other:?}"),
    }
}

const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 168, 1, 20));

#[test]
fn slugs_like_the_vendor() {
    assert_eq!(slug("Lobby & Reception"), "lobby_reception");
    assert_eq!(slug("  Depot NVR-16 "), "depot_nvr_16");
    assert_eq!(slug("Café Door"), "caf_door");
    assert_eq!(slug("***"), "");
    assert_eq!(camera_id(Some("Gate"), LOCAL), "gate_192_168_1_20");
    assert_eq!(camera_id(None, LOCAL), "192_168_1_20");
    assert_eq!(camera_id(Some(""), LOCAL), "192_168_1_20");
    assert_eq!(camera_id(Some(UNKNOWN_CAMERA), LOCAL), "192_168_1_20");
    // Python's lower() and Rust's to_lowercase() agree where it matters:
    // the Kelvin sign is a `k`, a dotted capital I an `i` and a mark.
    assert_eq!(slug("İstasyon Kapısı №3 \u{212a}"), "i_stasyon_kap_s_3_k");
    assert_eq!(slug("  Въезд Gate 2 "), "gate_2");
    assert_eq!(slug("🚗 Car Park 🅿️"), "car_park");
    assert_eq!(slug("unknown camera"), "unknown_camera");
}

#[test]
fn a_name_without_a_to_z_or_digits_gives_the_address_alone_as_the_vendor() {
    for name in [
        "***",
        "*** / --- !",
        "北门停车场",
        "Северный въезд",
        "Πύλη Στάθμευσης",
        "بوابة",
        "שער",
        "🚗🅿️",
        " \t\u{3000}",
    ] {
        assert_eq!(camera_id(Some(name), LOCAL), "192_168_1_20", "{name:?}");
    }
    // The device name keeps the name as it is.
    assert_eq!(
        display_name(Some("北门停车场"), LOCAL),
        "Viewtron 北门停车场"
    );
    assert_eq!(display_name(Some("***"), LOCAL), "Viewtron ***");
}

#[test]
fn ipv6_colons_become_underscores() {
    // The vendor would keep the colons (`fe80::1`), but its server never
    // receives from an IPv6 peer; Home Assistant refuses them in ids.
    let v6: IpAddr = "2001:db8::7".parse().unwrap();
    assert_eq!(camera_id(Some("Gate"), v6), "gate_2001_db8__7");
    assert_eq!(camera_id(None, v6), "2001_db8__7");
    assert_eq!(camera_id(Some("北门"), "::1".parse().unwrap()), "__1");
    assert_eq!(display_name(None, v6), "Viewtron 2001:db8::7");
    let id = camera_id(Some("Gate"), v6);
    assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
}

#[test]
fn display_names_like_the_vendor() {
    assert_eq!(display_name(Some("Gate"), LOCAL), "Viewtron Gate");
    assert_eq!(display_name(Some("viewtron IPC"), LOCAL), "viewtron IPC");
    assert_eq!(display_name(Some("VIEWTRON Gate"), LOCAL), "VIEWTRON Gate");
    assert_eq!(display_name(Some("viewtron 东门"), LOCAL), "viewtron 东门");
    assert_eq!(
        display_name(Some("Въезд Gate 2"), LOCAL),
        "Viewtron Въезд Gate 2"
    );
    assert_eq!(display_name(Some(""), LOCAL), "Viewtron 192.168.1.20");
    assert_eq!(display_name(None, LOCAL), "Viewtron 192.168.1.20");
    assert_eq!(
        display_name(Some(UNKNOWN_CAMERA), LOCAL),
        "Viewtron Unknown Camera"
    );
}

#[test]
fn plate_access_normalises_the_camera_lists() {
    assert_eq!(plate_access(Some("whiteList")), "allowed");
    assert_eq!(plate_access(Some("Blacklist")), "denied");
    assert_eq!(plate_access(Some("temporaryList")), "temporary");
    assert_eq!(plate_access(Some("Residents")), "unknown");
    assert_eq!(plate_access(None), "unknown");
}

#[test]
fn nvr_names_fall_back_to_unknown_camera_ip_camera_names_to_null() {
    let nvr = event(
        "<config version='2.0.0'><messageType>alarmData</messageType><smartType>regionIntrusion</smartType></config>",
    );
    assert_eq!(camera_name(&nvr).as_deref(), Some(UNKNOWN_CAMERA));
    let ipc = event("<config version='1.7'><smartType>PEA</smartType></config>");
    assert_eq!(camera_name(&ipc), None);
    let state = State::new(&ipc, LOCAL);
    assert_eq!(state.json["camera_name"], Value::Null);
    assert_eq!(state.camera_id, "192_168_1_20");
}

#[test]
fn a_bare_empty_ip_camera_name_is_unknown_camera_one_with_a_type_null() {
    let cases = [
        ("<deviceName></deviceName>", Some(UNKNOWN_CAMERA)),
        ("<deviceName>  </deviceName>", Some(UNKNOWN_CAMERA)),
        ("<deviceName/>", Some(UNKNOWN_CAMERA)),
        (
            "<deviceName><![CDATA[]]></deviceName>",
            Some(UNKNOWN_CAMERA),
        ),
        ("<deviceName type=\"string\"/>", None),
        (
            "<deviceName type=\"string\"><![CDATA[ ]]></deviceName>",
            None,
        ),
        ("<deviceNameX/>", None),
        ("", None),
        ("<deviceName> Gate </deviceName>", Some("Gate")),
    ];
    for (element, want) in cases {
        let e = event(&format!(
            "<config version='1.7'><smartType>PEA</smartType>{element}</config>"
        ));
        assert_eq!(camera_name(&e).as_deref(), want, "{element}");
    }
    let state = State::new(
        &event("<config version='1.7'><smartType>PEA</smartType><deviceName/></config>"),
        LOCAL,
    );
    assert_eq!(state.json["camera_name"], UNKNOWN_CAMERA);
    assert_eq!(state.camera_id, "192_168_1_20");
    // So does the IP camera layout in a 2.x envelope (the NVR name ignored).
    let v2 = event(
        "<config version='2.0.0'><deviceInfo><deviceName>Depot</deviceName></deviceInfo>\
         <smartType>PEA</smartType><deviceName/></config>",
    );
    assert_eq!(camera_name(&v2).as_deref(), Some(UNKNOWN_CAMERA));
    // The NVR layout says so for an empty name, the element bare or not
    // (the vendor names a camera whose NVR element has an attribute by
    // the Python text of its XML reader's dict: not copied).
    for element in ["<deviceName></deviceName>", "<deviceName type=\"string\"/>"] {
        let nvr = event(&format!(
            "<config version='2.0.0'><messageType>alarmData</messageType>\
             <smartType>regionIntrusion</smartType><deviceInfo>{element}</deviceInfo></config>"
        ));
        assert_eq!(
            camera_name(&nvr).as_deref(),
            Some(UNKNOWN_CAMERA),
            "{element}"
        );
    }
}

#[test]
fn an_ipc_layout_in_a_v2_envelope_ignores_the_device_info_name_as_the_vendor() {
    let e = event(
        "<config version='2.0.0'><deviceInfo><deviceName>Depot</deviceName><channelId>3</channelId></deviceInfo>\
         <smartType>PEA</smartType></config>",
    );
    let state = State::new(&e, LOCAL);
    assert_eq!(state.json["camera_name"], Value::Null);
    assert_eq!(state.camera_id, "192_168_1_20");
    assert!(state.json.get("channel_id").is_none());
}

#[test]
fn lpr_keys_and_extras() {
    let e = event(
        "<config version='1.7'><smartType>VEHICE</smartType><deviceName>Gate</deviceName>\
         <listInfo><item><plateNumber>AB12</plateNumber><vehicleListType>whiteList</vehicleListType></item></listInfo></config>",
    );
    let mut state = State::new(&e, LOCAL);
    state.add_extras(&e);
    assert_eq!(state.json["plate_number"], "AB12");
    assert_eq!(state.json["plate_status"], "whiteList");
    assert_eq!(state.json["plate_access"], "allowed");
    assert_eq!(state.json["plates"][0]["number"], "AB12");
    let keys: Vec<_> = state.json.keys().collect();
    assert_eq!(
        &keys[..5],
        [
            "event_type",
            "event_description",
            "camera_name",
            "camera_ip",
            "timestamp"
        ]
    );
}

#[test]
fn v1_plate_without_text_is_empty_without_items_no_plate() {
    let empty = event("<config version='1.7'><smartType>VEHICE</smartType><listInfo><item><plateNumber></plateNumber></item></listInfo></config>");
    assert_eq!(State::new(&empty, LOCAL).json["plate_number"], "");
    let none = event("<config version='1.7'><smartType>VEHICE</smartType></config>");
    assert_eq!(State::new(&none, LOCAL).json["plate_number"], "<NO PLATE>");
    assert_eq!(State::new(&none, LOCAL).json["plate_status"], "Unknown");
}
