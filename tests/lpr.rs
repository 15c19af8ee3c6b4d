//! The IP camera (v1) LPR overview item: what a camera whose firmware writes
//! an empty `plateNumber` into the overview item (issue 8, part 1) must see.
//!
//! Rule: a `listInfo/item` without plate text — `plateNumber` absent, empty
//! or blank, in any spelling — is the overview, never a plate and never a
//! target; its picture is the event's source image (`sourceDataInfo` is the
//! fallback). The real plate, its group, direction, confidence, vehicle and
//! crop come out as in any other post.
//!
//! The golden tests pin every field of each fixture; the tests after them
//! go through the event API a user calls (`plate()`, `plate_number()`,
//! `source_image()`, `target_image()`, `targets()`) and decode the pictures,
//! so an overview taken for a plate crop shows as a 32x18 JPEG where a 16x8
//! one belongs. `tests/examples_lpr.rs` posts the same fixtures to a real
//! `listen` and runs `dump` on them.

#[macro_use]
mod support;

use support::dump::dump;
use support::{event, fixture, jpeg_size};
use viewtron::{parse, Direction, Image, TargetType};

golden! {
    /// Item 0 has an empty plate (empty CDATA) and `PlateConfidence count="0"`:
    /// it is the overview (32x18), not a plate; the plate is item 1's.
    v1_lpr_overview_empty_plate: "v1-lpr-overview-empty-plate.xml" => r#"
event lpr "VEHICE" "License Plate Detection" v1 "1.7" time=1767950401250000
device name="Depot Barrier In" mac="3c:ef:8c:21:3d:70" serial="IPC7Q3B5N8E" channel=1
source 32x18 declared=220
target id=517 kind=Car rect=2400,3100,7300,9800 crop=16x8
plate number="KR19 WDX" group="temporaryList" color="white" direction=Approach confidence=94.8 vehicle=[kind="hatchback" color="black" brand="Ford" model="Fiesta"] crop=16x8
"#;

    /// Item 0 has no `plateNumber` at all; no `sourceDataInfo`.
    v1_lpr_overview_without_plate_number: "v1-lpr-overview-without-plate-number.xml" => r#"
event lpr "VEHICLE" "License Plate Detection" v1 "1.7" time=1767951502500000
device name="Depot Barrier Out" mac="3c:ef:8c:21:3d:71" serial="IPC7Q3B5N9F" channel=2
source 32x18 declared=220
target id=88 kind=Car rect=600,1900,5200,8800 crop=16x8
plate number="MV 6608 T" group="whiteList" color="yellow" direction=Away confidence=88.12 vehicle=[kind="pickup" color="blue" brand="Toyota" model="Hilux"] crop=16x8
"#;

    /// The only item is the plate; the overview comes from `sourceDataInfo`.
    v1_lpr_single_item: "v1-lpr-single-item.xml" => r#"
event lpr "VEHICE" "License Plate Detection" v1 "1.7" time=1767952603750000
device name="Yard Exit" mac="3c:ef:8c:21:3d:72" serial="IPC7Q3B6P0G"
source 32x18 declared=220
target id=2024 kind=Car rect=3500,2000,9100,9400 crop=16x8
plate number="YT 40 LKB" color="blue" direction=Away confidence=100 crop=16x8
"#;

    /// The overview item (`<plateNumber type="string"/>`) has a length-0
    /// picture: the overview is `sourceDataInfo`'s.
    v1_lpr_overview_in_source_data: "v1-lpr-overview-in-source-data.xml" => r#"
event lpr "VEHICE" "License Plate Detection" v1 "1.7" time=1767953704000000
device name="Visitor Lane" mac="3c:ef:8c:21:3d:73" serial="IPC7Q3B6P1H" channel=1
source 32x18 declared=220
target id=9 kind=Car rect=1500,2600,6100,9300 crop=16x8
plate number="BT-204-HN" group="blackList" color="white" direction=Approach confidence=90.11 vehicle=[kind="mpv" color="silver" brand="Renault" model="Espace"] crop=16x8
"#;

    /// The only item has blank plate text: no plate read. No plate, no
    /// target; its picture is the source image.
    v1_lpr_no_plate_read: "v1-lpr-no-plate-read.xml" => r#"
event lpr "VEHICE" "License Plate Detection" v1 "1.7" time=1767954805125000
device name="Depot Barrier In" mac="3c:ef:8c:21:3d:70" serial="IPC7Q3B5N8E" channel=1
source 32x18 declared=216
"#;
}

/// What a user of the event API sees in one fixture.
struct Seen {
    file: &'static str,
    plate: Option<&'static str>,
    group: Option<&'static str>,
    direction: Option<Direction>,
    confidence: Option<f32>,
    brand: Option<&'static str>,
    /// The element the source image must come from.
    source_from: &'static str,
    /// The targets' ids (each a car with the plate crop).
    targets: &'static [u64],
}

const SEEN: [Seen; 5] = [
    Seen {
        file: "v1-lpr-overview-empty-plate.xml",
        plate: Some("KR19 WDX"),
        group: Some("temporaryList"),
        direction: Some(Direction::Approach),
        confidence: Some(94.8),
        brand: Some("Ford"),
        source_from: "targetBase64Data",
        targets: &[517],
    },
    Seen {
        file: "v1-lpr-overview-without-plate-number.xml",
        plate: Some("MV 6608 T"),
        group: Some("whiteList"),
        direction: Some(Direction::Away),
        confidence: Some(88.12),
        brand: Some("Toyota"),
        source_from: "targetBase64Data",
        targets: &[88],
    },
    Seen {
        file: "v1-lpr-single-item.xml",
        plate: Some("YT 40 LKB"),
        group: None,
        direction: Some(Direction::Away),
        confidence: Some(100.0),
        brand: None,
        source_from: "sourceBase64Data",
        targets: &[2024],
    },
    Seen {
        file: "v1-lpr-overview-in-source-data.xml",
        plate: Some("BT-204-HN"),
        group: Some("blackList"),
        direction: Some(Direction::Approach),
        confidence: Some(90.11),
        brand: Some("Renault"),
        source_from: "sourceBase64Data",
        targets: &[9],
    },
    Seen {
        file: "v1-lpr-no-plate-read.xml",
        plate: None,
        group: None,
        direction: None,
        confidence: None,
        brand: None,
        source_from: "targetBase64Data",
        targets: &[],
    },
];

/// The decoded picture's JPEG size.
fn size(image: &Image) -> (u32, u32) {
    let bytes = image.bytes().expect("fixture images decode");
    jpeg_size(&bytes).expect("a baseline JPEG")
}

/// The base64 text of the first `<{element}>` that carries data, in the file.
fn first_payload(file: &str, element: &str) -> String {
    let text = String::from_utf8(fixture(file)).unwrap();
    let open = format!("<{element} type=\"string\"><![CDATA[");
    let start = text
        .find(&open)
        .unwrap_or_else(|| panic!("{file}: no {open}"))
        + open.len();
    let end = start + text[start..].find("]]>").unwrap();
    text[start..end].to_owned()
}

#[test]
fn overview_item_is_the_source_image_never_a_plate_or_a_target() {
    for seen in &SEEN {
        let name = seen.file;
        let e = event(name);
        // The plate a user reads, with everything that belongs to it.
        assert_eq!(e.plate_number(), seen.plate, "{name}: plate_number()");
        assert_eq!(e.plate().is_some(), seen.plate.is_some(), "{name}: plate()");
        assert_eq!(
            e.plates().len(),
            usize::from(seen.plate.is_some()),
            "{name}"
        );
        assert_eq!(e.plate_group(), seen.group, "{name}: plate_group()");
        let plate = e.plate();
        assert_eq!(plate.and_then(|p| p.direction.clone()), seen.direction);
        assert_eq!(plate.and_then(|p| p.confidence), seen.confidence, "{name}");
        let brand = e.vehicle().and_then(|v| v.brand.as_deref());
        assert_eq!(brand, seen.brand, "{name}: vehicle()");

        // The overview is the source image, from the element the rule says.
        let source = e
            .source_image()
            .unwrap_or_else(|| panic!("{name}: no source"));
        assert_eq!(size(source), (32, 18), "{name}: source_image()");
        let expected = first_payload(name, seen.source_from);
        assert_eq!(
            source.base64(),
            expected,
            "{name}: source from {}",
            seen.source_from
        );

        // Targets are the plates' cars, each with the 16x8 plate crop; the
        // overview is nowhere among them.
        let ids: Vec<u64> = e.targets().iter().filter_map(|t| t.id).collect();
        assert_eq!(ids, seen.targets, "{name}: targets()");
        assert_eq!(e.targets().len(), seen.targets.len(), "{name}");
        for t in e.targets() {
            assert_eq!(t.kind, Some(TargetType::Car), "{name}");
            let crop = t.image.as_ref().expect("a plate crop");
            assert_eq!(size(crop), (16, 8), "{name}: target crop");
            assert_ne!(crop.base64(), source.base64(), "{name}");
        }
        match e.target_image() {
            Some(crop) => {
                assert!(seen.plate.is_some(), "{name}: a crop without a plate");
                assert_eq!(size(crop), (16, 8), "{name}: target_image()");
                assert_eq!(Some(crop), plate.and_then(|p| p.image.as_ref()));
            }
            None => assert!(seen.plate.is_none(), "{name}: the plate has no crop"),
        }
        assert_eq!(e.source_image_bytes().map(|b| b.is_ok()), Some(true));
    }
}

/// Every spelling of "no plate text" in item 0 gives the same event as the
/// fixture's empty CDATA; so does the overview item listed after the plate.
#[test]
fn every_spelling_of_an_empty_plate_marks_the_overview() {
    let name = "v1-lpr-overview-empty-plate.xml";
    let text = String::from_utf8(fixture(name)).unwrap();
    let expected = dump(&parse(text.clone()).unwrap());
    let empty = r#"<plateNumber type="string"><![CDATA[]]></plateNumber>"#;
    assert!(text.contains(empty), "{name}");
    for spelling in [
        "",
        "<plateNumber/>",
        r#"<plateNumber type="string"/>"#,
        r#"<plateNumber type="string"></plateNumber>"#,
        "<plateNumber type=\"string\"> \n\t </plateNumber>",
        r#"<plateNumber type="string"><![CDATA[   ]]></plateNumber>"#,
        r#"<plateNumber type="string"><!-- none --></plateNumber>"#,
    ] {
        let body = text.replacen(empty, spelling, 1);
        assert_ne!(body, text, "{spelling:?} replaced nothing");
        let got = dump(&parse(body).unwrap());
        assert_eq!(got, expected, "item 0 with {spelling:?}");
    }
    // The overview item listed after the plate item: still the overview.
    let first = text.find("<item>").unwrap();
    let second = first + 1 + text[first + 1..].find("<item>").unwrap();
    let end = text.find("</listInfo>").unwrap();
    let (overview, plate) = (&text[first..second], &text[second..end]);
    let swapped = format!(
        "{}{}\n        {}\n    {}",
        &text[..first],
        plate.trim_end(),
        overview.trim_end(),
        &text[end..]
    );
    assert_ne!(swapped, text);
    assert_eq!(
        dump(&parse(swapped).unwrap()),
        expected,
        "overview item last"
    );
}

/// Plate text, even padded with blanks, makes the only item a plate: the
/// rule drops no plate a camera read.
#[test]
fn a_read_plate_is_never_taken_for_the_overview() {
    let text = String::from_utf8(fixture("v1-lpr-no-plate-read.xml")).unwrap();
    let read = text.replacen(
        "<plateNumber type=\"string\">   </plateNumber>",
        "<plateNumber type=\"string\"> QA 17 </plateNumber>",
        1,
    );
    assert_ne!(read, text);
    let Ok(viewtron::Post::Event(e)) = parse(read) else {
        panic!("not an event")
    };
    assert_eq!(e.plate_number(), Some("QA 17"));
    // The only item now reads a plate: its picture is the plate's crop and
    // the post has no overview.
    assert!(e.source_image().is_none());
    assert_eq!(e.targets().len(), 1);
    assert_eq!(e.target_image(), e.targets()[0].image.as_ref());
}

/// The fixtures really carry the spellings the README says they do.
#[test]
fn fixtures_have_the_shapes_they_claim() {
    let empty_cdata = r#"<plateNumber type="string"><![CDATA[]]></plateNumber>"#;
    let zero = r#"<PlateConfidence type="uint32" count="0"/>"#;
    let claims: [(&str, &str); 8] = [
        ("v1-lpr-overview-empty-plate.xml", empty_cdata),
        ("v1-lpr-overview-empty-plate.xml", zero),
        (
            "v1-lpr-overview-in-source-data.xml",
            r#"<plateNumber type="string"/>"#,
        ),
        ("v1-lpr-overview-in-source-data.xml", zero),
        (
            "v1-lpr-overview-in-source-data.xml",
            "<targetBase64Length type=\"uint32\">0<",
        ),
        (
            "v1-lpr-no-plate-read.xml",
            r#"<plateNumber type="string">   </plateNumber>"#,
        ),
        (
            "v1-lpr-single-item.xml",
            r#"<listInfo type="list" count="1">"#,
        ),
        (
            "v1-lpr-overview-without-plate-number.xml",
            "<smartType type=\"openAlramObj\">VEHICLE<",
        ),
    ];
    for (name, needle) in claims {
        let text = String::from_utf8(fixture(name)).unwrap();
        assert!(text.contains(needle), "{name}: {needle}");
    }
    // Which items have plate text, in order (a plate) or not (the overview).
    for (name, items) in [
        ("v1-lpr-overview-empty-plate.xml", "-P"),
        ("v1-lpr-overview-without-plate-number.xml", "-P"),
        ("v1-lpr-single-item.xml", "P"),
        ("v1-lpr-overview-in-source-data.xml", "-P"),
        ("v1-lpr-no-plate-read.xml", "-"),
    ] {
        let text = String::from_utf8(fixture(name)).unwrap();
        let shape: String = text
            .split("<item>")
            .skip(1)
            .map(|item| {
                let item = &item[..item.find("</item>").unwrap()];
                let plate = item.split("<plateNumber").nth(1).and_then(|rest| {
                    let value = &rest[rest.find('>')? + 1..rest.find("</plateNumber>")?];
                    let value = value.trim().trim_start_matches("<![CDATA[");
                    Some(value.trim_end_matches("]]>").trim().to_owned())
                });
                if plate.is_some_and(|p| !p.is_empty()) {
                    'P'
                } else {
                    '-'
                }
            })
            .collect();
        assert_eq!(shape, items, "{name}");
    }
}
