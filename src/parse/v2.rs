//! The NVR (v2) layout: `eventInfo` + `targetListInfo`, `licensePlateListInfo`
//! and `faceListInfo`.

use roxmltree::Node;

use super::xml::{self, child, children, join_targets, path, string, Ctx};
use crate::event::{Category, EventData, Face, Plate, Region, Target, TargetType, Vehicle};

/// The NVR `smartType`s with an event class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NvrSmartType {
    Vehicle,
    Face,
    RegionIntrusion,
    LineCrossing,
    CountingByLine,
    CountingByArea,
    Metadata,
}

static TABLE: [(&str, NvrSmartType); 7] = [
    ("vehicle", NvrSmartType::Vehicle),
    ("videoFaceDetect", NvrSmartType::Face),
    ("regionIntrusion", NvrSmartType::RegionIntrusion),
    ("lineCrossing", NvrSmartType::LineCrossing),
    ("targetCountingByLine", NvrSmartType::CountingByLine),
    ("targetCountingByArea", NvrSmartType::CountingByArea),
    ("videoMetadata", NvrSmartType::Metadata),
];

/// Case-insensitive lookup of an NVR `smartType`.
pub(crate) fn lookup(smart_type: &str) -> Option<NvrSmartType> {
    TABLE
        .iter()
        .find(|(code, _)| code.eq_ignore_ascii_case(smart_type))
        .map(|(_, k)| *k)
}

impl NvrSmartType {
    /// Category and the SDK's description.
    pub(crate) fn describe(self) -> (Category, &'static str) {
        match self {
            NvrSmartType::Vehicle => (Category::Lpr, "License Plate Detection"),
            NvrSmartType::Face => (Category::Face, "Face Detection"),
            NvrSmartType::RegionIntrusion => (Category::Intrusion, "Perimeter Intrusion"),
            NvrSmartType::LineCrossing => (Category::Intrusion, "Line Crossing"),
            NvrSmartType::CountingByLine => (Category::Counting, "Target Counting by Line"),
            NvrSmartType::CountingByArea => (Category::Counting, "Target Counting by Area"),
            NvrSmartType::Metadata => (Category::Metadata, "Video Metadata"),
        }
    }
}

/// Fills an event from a v2 body.
pub(crate) fn fill(ctx: &Ctx, data: &mut EventData, root: Node, smart: NvrSmartType) {
    data.source_image = child(root, "sourceDataInfo")
        .and_then(|b| xml::image(ctx, b, "sourceBase64Data", "sourceBase64Length"));
    match smart {
        NvrSmartType::Vehicle => plates(ctx, data, root),
        NvrSmartType::Face => faces(ctx, data, root),
        _ => targets(ctx, data, root),
    }
}

fn crop(ctx: &Ctx, item: Node) -> Option<crate::Image> {
    child(item, "targetImageData")
        .and_then(|b| xml::image(ctx, b, "targetBase64Data", "targetBase64Length"))
}

fn items<'a, 'i>(root: Node<'a, 'i>, list: &'static str) -> impl Iterator<Item = Node<'a, 'i>> {
    child(root, list)
        .into_iter()
        .flat_map(|l| children(l, "item"))
}

/// `eventInfo/item` joined with `targetListInfo/item` by `targetId`.
fn targets(ctx: &Ctx, data: &mut EventData, root: Node) {
    let rules = items(root, "eventInfo").map(|item| {
        let polygon = child(item, "pointGroup")
            .map(|g| Region::Polygon(children(g, "item").filter_map(xml::point).collect()));
        let line = child(item, "directionLine").and_then(xml::line);
        xml::rule_target(item, line.or(polygon))
    });
    let list = items(root, "targetListInfo").map(|item| Target {
        id: xml::number(item, "targetId"),
        kind: string(item, "targetType").map(|t| TargetType::from_code(&t)),
        rect: child(item, "rect").and_then(xml::rect),
        image: crop(ctx, item),
        ..Target::default()
    });
    data.targets = join_targets(rules.collect(), list.collect());
}

/// `licensePlateListInfo/item`: one plate, vehicle and target each.
fn plates(ctx: &Ctx, data: &mut EventData, root: Node) {
    for item in items(root, "licensePlateListInfo") {
        let target = Target {
            id: xml::number(item, "targetId"),
            kind: Some(TargetType::Car),
            rect: child(item, "rect").and_then(xml::rect),
            image: crop(ctx, item),
            ..Target::default()
        };
        let attr = child(item, "licensePlateAttribute");
        let matched = child(item, "licensePlateMatchInfo");
        let vehicle = child(item, "carAttribute").map(|a| Vehicle {
            kind: string(a, "carType"),
            color: string(a, "color"),
            brand: string(a, "brand"),
            model: string(a, "model"),
        });
        data.plates.push(Plate {
            number: attr.and_then(|a| string(a, "licensePlateNumber")),
            color: attr.and_then(|a| string(a, "color")),
            group: matched.and_then(|m| string(m, "groupName")),
            owner: matched.and_then(|m| string(m, "carOwner")),
            direction: path(item, &["direction"])
                .and_then(xml::text)
                .map(crate::Direction::from_code),
            confidence: attr
                .and_then(|a| xml::number::<f32>(a, "confidence"))
                .filter(|c| c.is_finite() && *c >= 0.0)
                .map(|c| if c > 100.0 { c / 100.0 } else { c }),
            image: target.image.clone(),
            vehicle,
        });
        data.targets.push(target);
    }
}

/// `faceListInfo/item`: one face (with attributes) and target each.
fn faces(ctx: &Ctx, data: &mut EventData, root: Node) {
    for item in items(root, "faceListInfo") {
        let target = Target {
            id: xml::number(item, "targetId"),
            kind: Some(TargetType::Person),
            rect: child(item, "rect").and_then(xml::rect),
            image: crop(ctx, item),
            ..Target::default()
        };
        data.faces.push(Face {
            id: target.id,
            rect: target.rect,
            age: string(item, "age"),
            sex: string(item, "sex"),
            glasses: string(item, "glasses"),
            mask: string(item, "mask"),
            image: target.image.clone(),
        });
        data.targets.push(target);
    }
}
