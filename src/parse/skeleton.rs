//! What the XML parser is given: the *skeleton* of a post.
//!
//! A camera post is a few kilobytes of XML around hundreds of kilobytes of
//! base64, and roxmltree's cost is per byte of payload and per node and
//! attribute of markup. So one pass over the body hands it less of both,
//! without changing what any lookup finds or whether the document is
//! well-formed:
//!
//! - **Image payloads are lifted out**: the XML parser would walk every
//!   payload byte several times (UTF-8 validation, node counting,
//!   tokenizing). Each image keeps its span of the original body. Where a
//!   payload ends is found without reading it when the camera declared its
//!   length (`sourceBase64Length` before `sourceBase64Data`, as both layouts
//!   have it) and the end tag stands exactly there; otherwise one `memchr`
//!   pass finds the next `<`. Either way markup hidden inside a payload is
//!   not checked as XML: it is not base64 either, and decoding that image
//!   reports it.
//! - **Indentation is left out**: whitespace-only text from a `>` to a `<`
//!   across a line break would be a node of its own (a third of a tracking
//!   post's nodes) that every lookup skips, since values are read trimmed
//!   and blank text counts as none. Text before a CDATA section is kept (the
//!   parser joins it to the section), and so is anything before the first
//!   markup (where an XML declaration must come first).
//! - **Type annotations and the default namespace are left out**: cameras
//!   annotate nearly every element (`<velocity type="uint32">`), and the
//!   root declares a default namespace that every element then resolves.
//!   Lookups are by local name and never read `type`, so a `type` or
//!   `xmlns` attribute is dropped, but only from a start tag whose
//!   attributes are all plain (`name="value"` or `name='value'`, one space
//!   or more before each, names distinct, values of printable ASCII without
//!   `<` or `&`) and never a reserved namespace, so that no malformed tag
//!   becomes well-formed.
//!
//! - **A plain XML declaration is left out**: `<?xml version="1.0"
//!   encoding="UTF-8"?>` at the very start says only what the parser
//!   assumes; any other declaration stays for the parser to judge.
//!
//! Comments, CDATA sections, processing instructions, declarations and end
//! tags are copied as they are; no `<` is ever removed. Unusual input
//! (unterminated markup, a payload not followed by its end tag) is left in
//! place for the XML parser to judge, and a body with nothing to leave out
//! is parsed as it is, without a copy.

use std::ops::Range;

use memchr::{memchr, memchr3, memmem};

/// The document the XML parser is given, and where each payload was.
#[derive(Debug)]
pub(crate) struct Skeleton {
    /// The skeleton text; empty when the body itself is to be parsed
    /// (nothing was left out).
    pub text: Vec<u8>,
    /// `(position in text, span in body)`, in text order.
    holes: Vec<(usize, Range<usize>)>,
}

impl Skeleton {
    /// The text's buffer, emptied, for the next [`lift`].
    pub fn into_buffer(self) -> Vec<u8> {
        let mut text = self.text;
        text.clear();
        text
    }

    /// The body span of the payload lifted from the element whose range in
    /// the skeleton text is `element`.
    pub fn payload_in(&self, element: Range<usize>) -> Option<Range<usize>> {
        let i = self.holes.partition_point(|(at, _)| *at < element.start);
        self.holes
            .get(i)
            .filter(|(at, _)| *at <= element.end)
            .map(|(_, span)| span.clone())
    }
}

/// Finds `needle` at or after `from`; the index is absolute.
fn find(body: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    memmem::find(body.get(from..)?, needle).map(|i| from + i)
}

fn is_space(b: u8) -> bool {
    CLASS[usize::from(b)] & SPACE != 0
}

/// XML whitespace.
const SPACE: u8 = 1;
/// Ends a name in a start tag: whitespace, `/`, `>`, `=`.
const NAME_END: u8 = 2;
/// Ends an end tag's name: `>` or a quote.
const END_TAG_STOP: u8 = 4;
/// Ends a plain attribute value: a quote, `<`, `&` or anything outside
/// printable ASCII.
const VALUE_STOP: u8 = 8;

/// The classes of each byte, so that every test in the scan's inner loops
/// is one table lookup.
static CLASS: [u8; 256] = {
    let mut table = [0; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let mut class = 0;
        if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
            class |= SPACE | NAME_END;
        }
        if matches!(c, b'/' | b'>' | b'=') {
            class |= NAME_END;
        }
        if matches!(c, b'>' | b'"' | b'\'') {
            class |= END_TAG_STOP;
        }
        if !matches!(c, b' '..=b'~') || matches!(c, b'"' | b'\'' | b'<' | b'&') {
            class |= VALUE_STOP;
        }
        table[b] = class;
        b += 1;
    }
    table
};

/// The index of the `>` ending the tag that starts at `from`, skipping
/// quoted attribute values.
fn tag_end(body: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        let i = at + memchr3(b'>', b'"', b'\'', body.get(at..)?)?;
        match body[i] {
            b'>' => return Some(i),
            quote => at = i + 1 + memchr(quote, &body[i + 1..])? + 1,
        }
    }
}

/// The skeleton under construction: `text` holds `body[..copied]` minus
/// what was left out.
struct Builder<'b> {
    body: &'b [u8],
    text: Vec<u8>,
    /// Everything before this index of `body` is in `text` or left out.
    copied: usize,
    holes: Vec<(usize, Range<usize>)>,
}

impl Builder<'_> {
    /// Leaves `range` of the body out (it starts at or after `copied`).
    fn omit(&mut self, range: Range<usize>) {
        if self.copied == 0 {
            self.text.reserve(self.body.len().min(MAX_KEPT));
        }
        self.text
            .extend_from_slice(&self.body[self.copied..range.start]);
        self.copied = range.end;
    }
}

/// XML declarations that say only what the parser assumes anyway (XML 1.0,
/// UTF-8), left out when a body starts with one.
const DECLARATIONS: [&[u8]; 3] = [
    br#"<?xml version="1.0" encoding="UTF-8"?>"#,
    br#"<?xml version="1.0" encoding="utf-8"?>"#,
    br#"<?xml version="1.0"?>"#,
];

/// The largest buffer worth keeping for the next post: a tracking post's
/// skeleton is about 1 KB, an NVR image post's a few.
pub(crate) const MAX_KEPT: usize = 16 * 1024;

/// Builds the skeleton in one pass over the markup, in `buffer` (empty; a
/// previous skeleton's, to spare an allocation per post).
///
/// Tags and values are a few bytes long, so the scan walks them with plain
/// loops: a vectorised search costs more to set up than it saves on a dozen
/// bytes. It is kept for what can be long (payloads, unlifted text).
pub(crate) fn lift(body: &[u8], buffer: Vec<u8>) -> Skeleton {
    let mut b = Builder {
        body,
        text: buffer,
        copied: 0,
        holes: Vec::new(),
    };
    let mut i = 0;
    if let Some(declaration) = DECLARATIONS.iter().find(|d| body.starts_with(d)) {
        b.omit(0..declaration.len());
        i = declaration.len();
    }
    let mut declared = None;
    while let Some((lt, blank)) = next_lt(body, i) {
        if blank
            && i > 0
            && body[i - 1] == b'>'
            && !(body.get(lt + 1) == Some(&b'!') && body[lt..].starts_with(b"<![CDATA["))
        {
            b.omit(i..lt);
        }
        let next = match body.get(lt + 1) {
            Some(b'!') if body[lt..].starts_with(b"<!--") => closing(body, lt + 4, b"-->"),
            Some(b'!') if body[lt..].starts_with(b"<![CDATA[") => closing(body, lt + 9, b"]]>"),
            Some(b'!') => tag_end(body, lt).map(|e| e + 1),
            Some(b'?') => closing(body, lt + 2, b"?>"),
            Some(b'/') => end_tag(body, lt),
            _ => start_tag(&mut b, lt, &mut declared),
        };
        match next {
            Some(n) => i = n,
            None => break,
        }
    }
    // With nothing left out (and so no holes) the text stays empty: the
    // caller parses the body itself, no copy.
    if b.copied > 0 {
        b.text.extend_from_slice(&body[b.copied..]);
    }
    Skeleton {
        text: b.text,
        holes: b.holes,
    }
}

/// The index after the first `close` (which ends in `>`) at or after `from`.
fn closing(body: &[u8], from: usize, close: &[u8]) -> Option<usize> {
    let mut at = from;
    loop {
        let gt = at + memchr(b'>', body.get(at..)?)?;
        if gt + 1 - from >= close.len() && body[..=gt].ends_with(close) {
            return Some(gt + 1);
        }
        at = gt + 1;
    }
}

/// The next `<` at or after `from`, and whether the text before it is
/// indentation (white space only, with a line break): both in one pass,
/// since most text between tags is either indentation or a short value.
fn next_lt(body: &[u8], from: usize) -> Option<(usize, bool)> {
    /// Values are short: beyond this, a vectorised search pays.
    const NEAR: usize = 32;
    let rest = body.get(from..)?;
    let mut line_break = false;
    for (p, &c) in rest.iter().enumerate() {
        if c == b'<' {
            return Some((from + p, line_break));
        }
        if !is_space(c) {
            break;
        }
        line_break |= c == b'\n';
        if p == NEAR {
            // A long blank run: find its end, then look at it once more.
            let lt = from + memchr(b'<', rest)?;
            return Some((lt, is_indentation(&body[from..lt])));
        }
    }
    let near = &rest[..rest.len().min(NEAR)];
    match near.iter().position(|&c| c == b'<') {
        Some(p) => Some((from + p, false)),
        None => memchr(b'<', rest.get(NEAR..)?).map(|p| (from + NEAR + p, false)),
    }
}

/// Where the scan resumes after the end tag at `lt`.
fn end_tag(body: &[u8], lt: usize) -> Option<usize> {
    let rest = body.get(lt + 2..)?;
    let k = rest
        .iter()
        .position(|&c| CLASS[usize::from(c)] & END_TAG_STOP != 0)?;
    if rest[k] == b'>' {
        return Some(lt + 2 + k + 1);
    }
    // Not an end tag the parser will accept; stay in step anyway.
    tag_end(body, lt).map(|e| e + 1)
}

/// Whitespace-only text with a line break in it.
fn is_indentation(run: &[u8]) -> bool {
    let mut line_break = false;
    for &c in run {
        if !is_space(c) {
            return false;
        }
        line_break |= c == b'\n';
    }
    line_break
}

/// Handles the start tag at `lt`: leaves out its plain `type` and `xmlns`
/// attributes, lifts a `…Base64Data` payload, records a `…Base64Length`.
/// Returns where the scan resumes.
fn start_tag(b: &mut Builder, lt: usize, declared: &mut Option<usize>) -> Option<usize> {
    let body = b.body;
    let at = lt
        + 1
        + body[lt + 1..]
            .iter()
            .position(|&c| CLASS[usize::from(c)] & NAME_END != 0 && c != b'=')?;
    let name = &body[lt + 1..at];
    let end = match body.get(at)? {
        b'>' => at,
        _ => match attributes(body, at) {
            Some(Attributes { end, omitted }) => {
                for range in omitted.into_iter().flatten() {
                    b.omit(range);
                }
                end
            }
            None => tag_end(body, at)?,
        },
    };
    // A name ends like this exactly when its local part does. (Most names
    // end otherwise: look at the last byte before comparing.)
    let last = name.last().copied();
    if last == Some(b'h') && name.ends_with(b"Base64Length") {
        *declared = declared_length(body, end + 1);
    }
    if last != Some(b'a') || !name.ends_with(b"Base64Data") || body[end - 1] == b'/' {
        return Some(end + 1);
    }
    match payload(body, name, end + 1, declared.take())? {
        Some((span, close)) => {
            b.omit(end + 1..close);
            b.holes.push((b.text.len(), span));
            Some(close)
        }
        None => Some(end + 1),
    }
}

/// A start tag's attributes, every one of them plain.
struct Attributes {
    /// The index of the tag's `>`.
    end: usize,
    /// The `type` and `xmlns` attributes, each with the space before it, in
    /// body order: a tag has at most one of each (names are distinct).
    omitted: [Option<Range<usize>>; 2],
}

/// Reads the attributes from `from` (just after the tag name) to the tag's
/// end; `None` unless every one is plain: one space or more before it, a
/// name, `=`, a quoted value of printable ASCII without `<` or `&`. Other
/// names given twice make the tag malformed whatever is left out; `type` or
/// `xmlns` twice keeps it as it is.
fn attributes(body: &[u8], from: usize) -> Option<Attributes> {
    let mut omitted = [None, None];
    let mut at = from;
    loop {
        let start = at;
        at += body[at..].iter().position(|&c| !is_space(c))?;
        match body[at] {
            b'>' => break,
            b'/' if body.get(at + 1) == Some(&b'>') => {
                at += 1;
                break;
            }
            _ if at == start => return None,
            _ => {}
        }
        let name_start = at;
        at += body[at..]
            .iter()
            .position(|&c| CLASS[usize::from(c)] & NAME_END != 0)?;
        let name = &body[name_start..at];
        let quote = *body.get(at + 1).filter(|_| body[at] == b'=')?;
        if name.is_empty() || (quote != b'"' && quote != b'\'') {
            return None;
        }
        at += 2;
        let value_start = at;
        // The other quote may stand in a value; anything else stopping
        // the value makes the tag not plain.
        loop {
            at += body[at..]
                .iter()
                .position(|&c| CLASS[usize::from(c)] & VALUE_STOP != 0)?;
            match body[at] {
                c if c == quote => break,
                b'"' | b'\'' => at += 1,
                _ => return None,
            }
        }
        let value = &body[value_start..at];
        at += 1;
        let slot = match name {
            b"type" => 0,
            b"xmlns"
                if value != b"http://www.w3.org/XML/1998/namespace"
                    && value != b"http://www.w3.org/2000/xmlns/" =>
            {
                1
            }
            _ => continue,
        };
        if omitted[slot].replace(start..at).is_some() {
            return None;
        }
    }
    // In body order, for `Builder::omit`.
    if matches!(&omitted, [Some(t), Some(x)] if x.start < t.start) {
        omitted.swap(0, 1);
    }
    Some(Attributes { end: at, omitted })
}

/// The number in a `…Base64Length` element whose content starts at `at`.
fn declared_length(body: &[u8], at: usize) -> Option<usize> {
    let digits = body.get(at..)?.iter().take(24);
    let text: Vec<u8> = digits.take_while(|&&b| b != b'<').copied().collect();
    std::str::from_utf8(&text).ok()?.trim().parse().ok()
}

/// Where a payload starting at `start` ends (exclusive) and where the text
/// after it resumes: at the declared length if the end is really there, else
/// at the next `end` marker.
fn payload_end(body: &[u8], start: usize, declared: Option<usize>, end: &[u8]) -> Option<usize> {
    if let Some(at) = declared.and_then(|n| start.checked_add(n)) {
        let mut after = at;
        while body.get(after).copied().is_some_and(is_space) {
            after += 1;
        }
        let closes = match end {
            b"<" => body.get(after..).is_some_and(|r| r.starts_with(b"</")),
            _ => body.get(at..).is_some_and(|r| r.starts_with(end)),
        };
        if closes {
            return Some(at);
        }
    }
    find(body, start, end)
}

/// The payload of the `…Base64Data` element `name` whose content starts at
/// `content`: `Some((span, close))` when it is lifted (the trimmed base64 is
/// `span`, its end tag starts at `close`), `Some(None)` when it stays
/// (empty, or not closed by its own end tag), `None` when the body ends
/// before the payload does.
fn payload(
    body: &[u8],
    name: &[u8],
    content: usize,
    declared: Option<usize>,
) -> Option<Option<(Range<usize>, usize)>> {
    let mut start = content;
    while body.get(start).copied().is_some_and(is_space) {
        start += 1;
    }
    let (mut span, mut after) = if body[start..].starts_with(b"<![CDATA[") {
        let s = start + 9;
        let e = payload_end(body, s, declared, b"]]>")?;
        (s..e, e + 3)
    } else {
        let e = payload_end(body, start, declared, b"<")?;
        (start..e, e)
    };
    while span.end > span.start && is_space(body[span.end - 1]) {
        span.end -= 1;
    }
    while span.start < span.end && is_space(body[span.start]) {
        span.start += 1;
    }
    while body.get(after).copied().is_some_and(is_space) {
        after += 1;
    }
    // Only a payload closed by its own end tag is lifted.
    let closing = body.get(after..)?;
    if span.is_empty() || !closing.starts_with(b"</") || !closing[2..].starts_with(name) {
        return Some(None);
    }
    Some(Some((span, after)))
}

#[cfg(test)]
mod tests;
