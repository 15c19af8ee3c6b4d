//! Small helpers over `roxmltree` nodes, namespace- and annotation-agnostic.

use std::str::FromStr;
use std::sync::Arc;

use roxmltree::{Node, StringStorage};

use super::skeleton::Skeleton;
use crate::event::{Point, Rect, Region, Target, TargetStatus};
use crate::{Body, Image};

/// What the layout parsers need besides the node they are looking at.
pub(crate) struct Ctx<'a> {
    /// The shared body images point into.
    pub body: &'a Body,
    /// Where image payloads were lifted from, when the parser saw a skeleton.
    pub skeleton: &'a Skeleton,
}

/// Child elements of `node` named `name` (local name, case-sensitive).
pub(crate) fn children<'a, 'i>(
    node: Node<'a, 'i>,
    name: &'static str,
) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

/// The first child element named `name`.
pub(crate) fn child<'a, 'i>(node: Node<'a, 'i>, name: &'static str) -> Option<Node<'a, 'i>> {
    children(node, name).next()
}

/// The first child element named like each of `names`, found in one pass
/// over the children (cheaper than one `child` call per name).
pub(crate) fn pick<'a, 'i, const N: usize>(
    node: Node<'a, 'i>,
    names: [&str; N],
) -> [Option<Node<'a, 'i>>; N] {
    let mut found = [None; N];
    for c in node.children().filter(Node::is_element) {
        let name = c.tag_name().name();
        if let Some(i) = names.iter().position(|n| *n == name) {
            found[i].get_or_insert(c);
        }
    }
    found
}

/// An element's text, owned.
pub(crate) fn owned(node: Option<Node>) -> Option<String> {
    node.and_then(text).map(str::to_owned)
}

/// Follows a path of child element names.
pub(crate) fn path<'a, 'i>(node: Node<'a, 'i>, names: &[&'static str]) -> Option<Node<'a, 'i>> {
    names.iter().try_fold(node, |n, name| child(n, name))
}

/// The element's own text, CDATA included, trimmed; `None` when empty.
/// Comments are skipped: the first non-blank text child is the value.
pub(crate) fn text<'a>(node: Node<'a, '_>) -> Option<&'a str> {
    node.children()
        .filter(Node::is_text)
        .filter_map(|c| c.text())
        .map(str::trim)
        .find(|t| !t.is_empty())
}

/// Text of the child `name`, owned.
pub(crate) fn string(node: Node, name: &'static str) -> Option<String> {
    child(node, name).and_then(text).map(str::to_owned)
}

/// Text of the first of several possible children, owned.
pub(crate) fn string_any(node: Node, names: &[&'static str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| child(node, n).and_then(text))
        .map(str::to_owned)
}

/// A number in the child `name`.
pub(crate) fn number<T: FromStr>(node: Node, name: &'static str) -> Option<T> {
    child(node, name).and_then(text)?.parse().ok()
}

/// A number in the first present child of several names.
pub(crate) fn number_any<T: FromStr>(node: Node, names: &[&'static str]) -> Option<T> {
    names
        .iter()
        .find_map(|n| child(node, n).and_then(text))?
        .parse()
        .ok()
}

/// `<x>`/`<y>` children as a point.
pub(crate) fn point(node: Node) -> Option<Point> {
    Some(Point {
        x: number(node, "x")?,
        y: number(node, "y")?,
    })
}

/// `<startPoint>`/`<endPoint>` children as a tripwire line.
pub(crate) fn line(node: Node) -> Option<Region> {
    Some(Region::Line {
        start: child(node, "startPoint").and_then(point)?,
        end: child(node, "endPoint").and_then(point)?,
    })
}

/// The parts every rule item shares (v1 `perInfo/item`, v2 `eventInfo/item`):
/// ids, status and box, with the rule's geometry.
pub(crate) fn rule_target(item: Node, region: Option<Region>) -> Target {
    Target {
        id: number(item, "targetId"),
        event_id: number(item, "eventId"),
        status: child(item, "status")
            .and_then(text)
            .map(TargetStatus::from_code),
        rect: child(item, "rect").and_then(rect),
        region,
        ..Target::default()
    }
}

/// `<x1>…<y2>` children as a rectangle.
pub(crate) fn rect(node: Node) -> Option<Rect> {
    let [x1, y1, x2, y2] = pick(node, ["x1", "y1", "x2", "y2"]);
    let n = |c: Option<Node>| c.and_then(text)?.parse().ok();
    Some(Rect {
        x1: n(x1)?,
        y1: n(y1)?,
        x2: n(x2)?,
        y2: n(y2)?,
    })
}

/// An image from a `sourceDataInfo` / `targetImageData` block: the base64 text
/// becomes a span of the body (no copy) unless the XML parser had to rebuild it.
pub(crate) fn image(
    ctx: &Ctx,
    block: Node,
    data: &'static str,
    len: &'static str,
) -> Option<Image> {
    let element = child(block, data)?;
    let image = match ctx.skeleton.payload_in(element.range()) {
        Some(span) => Image::from_span(ctx.body.clone(), span),
        None => text_image(ctx, element)?,
    };
    let declared = number::<u64>(block, len);
    if declared == Some(0) {
        return None;
    }
    Some(image.with_meta(
        number_any(block, &["width", "Width"]),
        number_any(block, &["height", "Height"]),
        declared,
    ))
}

/// An image whose base64 the XML parser read (not lifted).
fn text_image(ctx: &Ctx, element: Node) -> Option<Image> {
    let text_node = element.children().find(|n| n.is_text())?;
    let image = match text_node.text_storage()? {
        StringStorage::Borrowed(s) => {
            let trimmed = s.trim();
            if trimmed.is_empty() {
                return None;
            }
            // `trimmed` is a slice of `ctx.input`, itself a slice of the body:
            // record where, so the image can point into the shared body.
            let base = ctx.body.as_bytes().as_ptr() as usize;
            match (trimmed.as_ptr() as usize).checked_sub(base) {
                Some(start) if start + trimmed.len() <= ctx.body.len() => {
                    Image::from_span(ctx.body.clone(), start..start + trimmed.len())
                }
                _ => Image::from_owned(Arc::from(trimmed)),
            }
        }
        StringStorage::Owned(s) => {
            let trimmed = s.trim();
            if trimmed.is_empty() {
                return None;
            }
            Image::from_owned(Arc::from(trimmed))
        }
    };
    Some(image)
}

/// Joins rule items with image items by `targetId`: an image item whose id
/// matches a rule item completes it; any other is a target of its own.
pub(crate) fn join_targets(mut rules: Vec<Target>, list: Vec<Target>) -> Vec<Target> {
    for item in list {
        let slot = item.id.and_then(|id| {
            rules
                .iter_mut()
                .find(|t| t.id == Some(id) && t.image.is_none() && t.kind.is_none())
        });
        match slot {
            Some(t) => {
                t.kind = item.kind;
                t.image = item.image;
                t.rect = t.rect.or(item.rect);
            }
            None => rules.push(item),
        }
    }
    rules
}
