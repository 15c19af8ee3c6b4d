//! The IP camera (v1) layout: `perInfo`/`tripInfo` rule items, `listInfo`
//! image items, `sourceDataInfo`, the `vsd` wrapper, LPR and tracking posts.

use roxmltree::Node;

use super::xml::{self, child, children, join_targets, path, string, string_any, Ctx};
use crate::event::{
    Category, Direction, EventData, Face, Plate, Region, Target, TargetType, Vehicle,
};

/// One row of the IP camera `smartType` table: a code with an event class.
pub(crate) struct IpcSmartType {
    code: &'static str,
    category: Category,
    description: &'static str,
}

impl IpcSmartType {
    pub(crate) fn describe(&self) -> (Category, &'static str) {
        (self.category, self.description)
    }
}

const fn row(code: &'static str, category: Category, description: &'static str) -> IpcSmartType {
    IpcSmartType {
        code,
        category,
        description,
    }
}

/// `smartType` codes with an event class (descriptions are the Python SDK's).
static TABLE: [IpcSmartType; 12] = [
    row("VEHICE", Category::Lpr, "License Plate Detection"),
    row("VEHICLE", Category::Lpr, "License Plate Detection"),
    row("VFD", Category::Face, "Face Detection"),
    row("VFD_MATCH", Category::Face, "Face Match"),
    row("PEA", Category::Intrusion, "Line Crossing / Intrusion"),
    row("AOIENTRY", Category::Intrusion, "Intrusion Zone Entry"),
    row("AOILEAVE", Category::Intrusion, "Intrusion Zone Exit"),
    row("LOITER", Category::Intrusion, "Loitering Detection"),
    row("PVD", Category::Intrusion, "Illegal Parking"),
    row(
        "PASSLINECOUNT",
        Category::Counting,
        "Line Crossing Target Count",
    ),
    row("TRAFFIC", Category::Counting, "Intrusion Target Count"),
    row("VSD", Category::Metadata, "Video Metadata"),
];

/// Codes the SDK knows by name but has no event class for.
static UNSUPPORTED: [(&str, &str); 9] = [
    ("MOTION", "Motion Detection"),
    ("SENSOR", "External Sensor"),
    ("AVD", "Exception Detection"),
    ("OSC", "Missing Object or Abandoned Object"),
    ("CDD", "Crowd Density Detection"),
    ("CPC", "people counting"),
    ("IPD", "people intrusion"),
    ("FALLING", "Falling Object Detection"),
    ("EA", "Motorcycle / Bicycle Detection"),
];

/// Case-insensitive lookup of an IP camera `smartType`.
pub(crate) fn lookup(smart_type: &str) -> Option<&'static IpcSmartType> {
    TABLE
        .iter()
        .find(|k| k.code.eq_ignore_ascii_case(smart_type))
}

/// The SDK description of a known but unsupported code.
pub(crate) fn unsupported_description(smart_type: &str) -> Option<&'static str> {
    UNSUPPORTED
        .iter()
        .find(|(code, _)| code.eq_ignore_ascii_case(smart_type))
        .map(|(_, d)| *d)
}

/// Fills an event from a v1 body.
pub(crate) fn fill(ctx: &Ctx, data: &mut EventData, root: Node, smart: &IpcSmartType) {
    data.source_image = source_image(ctx, root);
    match smart.category {
        Category::Lpr => lpr(ctx, data, root),
        Category::Face => faces(ctx, data, root),
        _ => rules(ctx, data, root),
    }
}

fn source_image(ctx: &Ctx, root: Node) -> Option<crate::Image> {
    let block = child(root, "sourceDataInfo").or_else(|| path(root, &["vsd", "sourceDataInfo"]))?;
    xml::image(ctx, block, "sourceBase64Data", "sourceBase64Length")
}

/// A `listInfo/item`: target id, box and crop.
fn list_target(ctx: &Ctx, item: Node) -> Target {
    let block = child(item, "targetImageData");
    Target {
        id: xml::number(item, "targetId"),
        rect: child(item, "rect").and_then(xml::rect),
        kind: block
            .and_then(|b| string(b, "targetType"))
            .map(|t| TargetType::from_code(&t)),
        image: block.and_then(|b| xml::image(ctx, b, "targetBase64Data", "targetBase64Length")),
        ..Target::default()
    }
}

/// A rule item (`perInfo/item`, `tripInfo/item`, …): ids, status, box, geometry.
fn rule_target(item: Node) -> Target {
    let polygon = child(item, "boundary").map(|b| {
        let points = children(b, "item").filter_map(|i| child(i, "point").and_then(xml::point));
        Region::Polygon(points.collect())
    });
    let line = child(item, "line").and_then(xml::line);
    xml::rule_target(item, line.or(polygon))
}

/// Intrusion, counting and metadata posts: every rule item of every
/// `<x><xInfo><item>` block, joined with the `listInfo` crops.
fn rules(ctx: &Ctx, data: &mut EventData, root: Node) {
    let rule_items = root
        .children()
        .filter(Node::is_element)
        .flat_map(|block| {
            block
                .children()
                .filter(|n| n.is_element() && n.tag_name().name().ends_with("Info"))
        })
        .flat_map(|info| children(info, "item"))
        .map(rule_target);
    let list_items = path(root, &["listInfo"])
        .into_iter()
        .flat_map(|l| children(l, "item"))
        .map(|item| list_target(ctx, item));
    let mut targets = join_targets(rule_items.collect(), list_items.collect());
    if let Some(block) = path(root, &["vsd", "targetImageData"]) {
        targets.push(Target {
            kind: string(block, "targetType").map(|t| TargetType::from_code(&t)),
            image: xml::image(ctx, block, "targetBase64Data", "targetBase64Length"),
            ..Target::default()
        });
    }
    data.targets = targets;
}

/// Face posts: one face (and target) per `listInfo/item`.
fn faces(ctx: &Ctx, data: &mut EventData, root: Node) {
    for item in child(root, "listInfo")
        .into_iter()
        .flat_map(|l| children(l, "item"))
    {
        let mut target = list_target(ctx, item);
        target.kind.get_or_insert(TargetType::Person);
        data.faces.push(Face {
            id: target.id,
            rect: target.rect,
            image: target.image.clone(),
            ..Face::default()
        });
        data.targets.push(target);
    }
}

/// Whether a v1 LPR `listInfo/item` reads a plate: it has plate *text*.
///
/// The overview item is told apart by what it lacks, not by its position:
/// most firmware leaves `plateNumber` out of it, some writes an empty one
/// (`<plateNumber/>`, blanks, empty CDATA) with `PlateConfidence count="0"`.
/// Either way it is the overview, never a plate — and a post whose only item
/// has no plate text is a vehicle seen but no plate read.
fn reads_plate(item: Node) -> bool {
    child(item, "plateNumber").and_then(xml::text).is_some()
}

/// LPR posts: an item without plate text is the overview (its picture is
/// the source image; `sourceDataInfo` is the fallback), never a plate or a
/// target; each item with plate text is a plate and its car a target.
fn lpr(ctx: &Ctx, data: &mut EventData, root: Node) {
    let (plates, overviews): (Vec<Node>, Vec<Node>) = child(root, "listInfo")
        .into_iter()
        .flat_map(|l| children(l, "item"))
        .partition(|item| reads_plate(*item));
    let overview = overviews
        .iter()
        .filter_map(|i| child(*i, "targetImageData"))
        .find_map(|b| xml::image(ctx, b, "targetBase64Data", "targetBase64Length"));
    if overview.is_some() {
        data.source_image = overview;
    }
    for item in plates {
        let mut target = list_target(ctx, item);
        target.kind.get_or_insert(TargetType::Car);
        if target.rect.is_none() {
            target.rect = child(item, "carRect").and_then(xml::rect);
        }
        let confidence = child(item, "PlateConfidence").and_then(|c| {
            let raw = c.attribute("count").or_else(|| xml::text(c))?;
            let v = raw
                .trim()
                .parse::<f32>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)?;
            Some(v / 100.0)
        });
        let vehicle = child(item, "carAttr").map(|a| Vehicle {
            kind: string(a, "type"),
            color: string(a, "color"),
            brand: string(a, "brand"),
            model: string(a, "model"),
        });
        data.plates.push(Plate {
            number: string(item, "plateNumber"),
            group: string(item, "vehicleListType"),
            color: string(item, "plateColor"),
            direction: string(item, "vehicleDirect").map(|d| Direction::from_code(&d)),
            confidence,
            owner: string_any(item, &["owner", "carOwner"]),
            image: target.image.clone(),
            vehicle,
        });
        data.targets.push(target);
    }
}

/// Tracking posts: one target per `traject/item`.
pub(crate) fn traject(data: &mut EventData, traject: Node) {
    data.targets = children(traject, "item")
        .map(|item| {
            let [id, kind, rect, point, velocity, direction] = xml::pick(
                item,
                [
                    "targetId",
                    "targetType",
                    "rect",
                    "point",
                    "velocity",
                    "direction",
                ],
            );
            Target {
                id: id.and_then(xml::text).and_then(|t| t.parse().ok()),
                kind: kind.and_then(xml::text).map(TargetType::from_code),
                rect: rect.and_then(xml::rect),
                point: point.and_then(xml::point),
                velocity: xml::owned(velocity),
                direction: xml::owned(direction),
                ..Target::default()
            }
        })
        .collect();
}
