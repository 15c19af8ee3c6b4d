//! The parser on variations of the fixtures and on bad input: what a
//! camera with odd firmware, or an attacker, sends. Case-insensitive
//! `smartType`, malformed XML and non-UTF-8 with their positions, DTDs and
//! entity bombs refused, invalid base64 an error value, no image data in
//! `Debug`, defensive routing. (Split from `tests/parse.rs`, whose golden
//! tests cover the fixtures as they are.)

mod support;

use std::time::{Duration, Instant};

use support::dump::dump;
use support::fixture;
use viewtron::{parse, Event, Image, ImageError, ParseError, Post};

fn fixture_text(name: &str) -> String {
    String::from_utf8(fixture(name)).unwrap()
}

/// `smartType` matches case-insensitively; `alarm_type` reports the raw text.
#[test]
fn smart_type_is_case_insensitive_alarm_type_raw() {
    let body = fixture_text("v1-face-vfd-match.xml").replace(">VFD_MATCH<", ">vfd_Match<");
    let text = dump(&parse(body).unwrap());
    let head = "event face \"vfd_Match\" \"Face Match\" v1";
    assert!(text.starts_with(head), "{text}");
    let body = fixture_text("v2-keepalive.xml").replace(">keepalive<", ">heartbeat<");
    let text = dump(&parse(body).unwrap());
    assert_eq!(text, "unrecognized unknown-messageType\n");
    let text = dump(&parse("<html><body/></html>").unwrap());
    assert_eq!(text, "unrecognized not-viewtron\n");
}

#[test]
fn malformed_xml_reports_line_and_column() {
    let body = "<config version=\"1.7\">\n  <smartType>VFD</smartType>\n  <x>1</y>\n</config>";
    let err = parse(body).unwrap_err();
    // Column 7 is the `</` of the mismatched end tag.
    assert!(
        matches!(
            &err,
            ParseError::Xml {
                line: 3,
                column: 7,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(matches!(&err, ParseError::Xml { message, .. } if message.contains("'x'")));
    assert!(err.to_string().contains("line 3, column 7"), "{err}");
    // Cut inside `<mac><![CDATA[3C:EF:8C` on line 7.
    let body = fixture("v2-keepalive.xml");
    let cut = body.windows(8).position(|w| w == b"3C:EF:8C").unwrap() + 8;
    let err = parse(&body[..cut]).unwrap_err();
    assert!(matches!(err, ParseError::Xml { line: 7, .. }), "{err:?}");
}

#[test]
fn non_utf8_reports_offset_of_first_bad_byte() {
    let mut body = fixture("v1-lpr-vehice.xml");
    let at = body.windows(8).position(|w| w == b"HX72 LMP").unwrap() + 4;
    body[at] = 0xff;
    assert_eq!(parse(body).unwrap_err(), ParseError::Utf8 { offset: at });
    // A BOM, then an incomplete sequence at the very end (first byte of "é").
    let mut body = b"\xef\xbb\xbf<DeviceInfo><DeviceName>Caf".to_vec();
    let at = body.len();
    body.push(0xc3);
    let err = parse(body).unwrap_err();
    assert_eq!(err, ParseError::Utf8 { offset: at }, "counts the BOM");
    assert!(err.to_string().contains(&format!("offset {at}")), "{err}");
}

#[test]
fn dtd_and_entity_bomb_are_refused_fast() {
    // A billion laughs: 10^12 copies of "boom" if the entities were expanded.
    let mut bomb = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE config [\n");
    bomb += "<!ENTITY a0 \"boom\">\n";
    for i in 1..=12 {
        let refs = format!("&a{};", i - 1).repeat(10);
        bomb += &format!("<!ENTITY a{i} \"{refs}\">\n");
    }
    bomb += "]>\n<config version=\"1.7\"><smartType>VFD</smartType>";
    bomb += "<deviceName>&a12;</deviceName></config>";
    let start = Instant::now();
    let err = parse(bomb).unwrap_err();
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_secs(1), "took {elapsed:?}");
    let refused = matches!(&err, ParseError::Xml { message, .. } if message.contains("DTD"));
    assert!(refused, "{err:?}");
    let plain = "<!DOCTYPE config>\n<config version=\"1.7\"><smartType>VFD</smartType></config>";
    let refused = matches!(parse(plain), Err(ParseError::Xml { .. }));
    assert!(refused, "any DTD is refused");
}

#[test]
fn invalid_base64_gives_image_error_not_panic() {
    let body = fixture_text("v2-intrusion-line-crossing.xml");
    let start = body.find("<sourceBase64Data>").unwrap() + "<sourceBase64Data>".len();
    let end = body[start..].find('<').unwrap() + start;
    let with = |text: &str| match parse(format!("{}{text}{}", &body[..start], &body[end..])) {
        Ok(Post::Event(e)) => e,
        other => panic!("{other:?}"),
    };
    let e = with("PLACEHOLDER_OVERVIEW");
    let image = e.source_image().unwrap();
    let err = image.bytes().unwrap_err();
    assert!(matches!(
        err,
        ImageError::InvalidCharacter {
            offset: 11,
            byte: b'_'
        }
    ));
    assert_eq!(image.decoded_len(), Err(err.clone()));
    assert_eq!(e.source_image_bytes(), Some(Err(err)));
    let e = with("/9j/4AAQS");
    let err = e.source_image().unwrap().bytes().unwrap_err();
    assert_eq!(err, ImageError::InvalidLength { len: 9 });
    for bad in ["/9j=4AAQ", "/9j/4A=A", "/9j/4A==4A==", "/9j/4A!A"] {
        let e = with(bad);
        assert!(e.source_image().unwrap().bytes().is_err(), "{bad:?}");
        assert!(e.source_image().unwrap().decoded_len().is_err(), "{bad:?}");
    }
    // The crop of the same post is untouched.
    let crop = e.target_image_bytes().unwrap().unwrap();
    assert!(crop.starts_with(&[0xff, 0xd8]));
}

// Events cross threads and are cheap to clone.
const _: fn() = || {
    fn assert<T: Send + Sync + Clone + 'static>() {}
    assert::<Event>();
    assert::<Post>();
    assert::<Image>();
};

#[test]
fn debug_output_never_dumps_image_data() {
    let big = "QUJD".repeat(100_000); // 400 KB of valid base64
    let with_big = format!("<sourceBase64Data>{big}");
    let body = fixture_text("v2-intrusion-line-crossing.xml");
    let p = parse(body.replacen("<sourceBase64Data>", &with_big, 1)).unwrap();
    let Post::Event(e) = &p else { panic!("{p:?}") };
    assert!(e.source_image().unwrap().base64().len() > 400_000);
    for text in [format!("{e:?}"), format!("{p:?}"), format!("{e:#?}")] {
        assert!(text.len() < 4_000, "Debug is {} bytes", text.len());
        assert!(!text.contains("QUJDQUJD"));
        assert!(text.contains("lineCrossing"), "Debug still says what it is");
    }
    let clone = e.clone();
    let same = std::ptr::eq(clone.body().as_bytes(), e.body().as_bytes());
    assert!(same, "a clone shares the body");
}

/// `PlateConfidence` that is not a number means "no confidence", like any
/// other unusable value (compare the garbage `currentTime`).
#[test]
fn non_numeric_plate_confidence_is_absent() {
    for count in ["NaN", "inf", "-infinity"] {
        let body = fixture_text("v1-lpr-vehice.xml").replace("\"9725\"", &format!("\"{count}\""));
        let Post::Event(e) = parse(body).unwrap() else {
            panic!()
        };
        assert_eq!(e.plate().unwrap().confidence, None, "count={count}");
    }
}

/// A refused DTD is reported where it is, like any other XML error.
#[test]
fn refused_dtd_is_reported_at_the_doctype() {
    let body = "<?xml version=\"1.0\"?>\n<!DOCTYPE config>\n<config version=\"1.7\"/>";
    let err = parse(body).unwrap_err().to_string();
    assert!(err.contains("line 2, column 1"), "{err}");
}

#[test]
fn defensive_routing_uses_the_v1_layout_even_with_a_plate_list() {
    // A 2.x post without messageType whose smartType is an IP camera code
    // is parsed with the v1 layout (protocol §3), whatever else it carries.
    let xml = r#"<config version="2.0.0"><smartType>VEHICLE</smartType>
        <listInfo><item><plateNumber>V1 LAYOUT</plateNumber></item></listInfo>
        <licensePlateListInfo><item><licensePlateAttribute>
          <licensePlateNumber>V2 LAYOUT</licensePlateNumber>
        </licensePlateAttribute></item></licensePlateListInfo></config>"#;
    let Ok(Post::Event(event)) = parse(xml) else {
        panic!("not an event")
    };
    assert_eq!(event.format(), viewtron::Format::V2);
    assert_eq!(event.plate_number(), Some("V1 LAYOUT"));
    // With messageType, the NVR vehicle layout applies.
    let with_type = xml.replace(
        "<smartType>",
        "<messageType>alarmData</messageType><smartType>",
    );
    let Ok(Post::Event(event)) = parse(with_type) else {
        panic!("not an event")
    };
    assert_eq!(event.plate_number(), Some("V2 LAYOUT"));
}

#[test]
fn comments_inside_values_are_skipped() {
    let xml = "<config version='1.7'><smartType>VEHICE</smartType><listInfo><item>\
               <plateNumber><!-- read by camera 2 --> AB12 </plateNumber></item></listInfo></config>";
    let Ok(Post::Event(event)) = parse(xml) else {
        panic!("not an event")
    };
    assert_eq!(event.plate_number(), Some("AB12"));
}

/// What the parser is given leaves out indentation, type annotations and
/// a plain declaration (see the crate's parsing notes); a post cut right
/// after its declaration must still be an error, never an empty keepalive,
/// and errors still point into the body as sent.
#[test]
fn a_post_cut_after_its_declaration_is_an_error_not_a_keepalive() {
    for body in [
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
        "\u{feff}<?xml version=\"1.0\"?>\r\n  ",
    ] {
        assert!(
            matches!(parse(body), Err(ParseError::Xml { .. })),
            "{body:?}"
        );
    }
    assert!(matches!(parse(" \n\t"), Ok(Post::Keepalive(_))));
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<config version=\"1.7\">\n  \
                <smartType type=\"openAlramObj\">VFD</smartType>\n  <x type=\"uint32\">1</y>\n</config>";
    match parse(body) {
        Err(ParseError::Xml { line: 4, .. }) => {}
        other => panic!("{other:?}"),
    }
}
