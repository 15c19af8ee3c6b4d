//! Lifting image payloads out of a post before XML parsing.
//!
//! A camera post is a few kilobytes of XML around hundreds of kilobytes of
//! base64. The XML parser would walk every payload byte several times (UTF-8
//! validation, node counting, tokenizing), so the payloads are lifted out
//! first and the parser gets a *skeleton* — the document with those element
//! contents removed — while each image keeps its span of the original body.
//!
//! Where a payload ends is found without reading it when the camera declared
//! its length (`sourceBase64Length` before `sourceBase64Data`, as both
//! layouts have it) and the end tag stands exactly there; otherwise one
//! `memchr` pass finds the next `<`. Either way the XML parser never sees the
//! payload, so markup hidden inside one is not checked as XML — it is not
//! base64 either, and decoding that image reports it.

use std::ops::Range;

use memchr::{memchr, memmem};

/// The document without image payloads, and where each payload was.
#[derive(Debug, Default)]
pub(crate) struct Skeleton {
    pub text: Vec<u8>,
    /// `(position in text, span in body)`, in text order.
    holes: Vec<(usize, Range<usize>)>,
}

impl Skeleton {
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
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// The index of the `>` ending the tag that starts at `from`, skipping
/// quoted attribute values.
fn tag_end(body: &[u8], from: usize) -> Option<usize> {
    let mut quote = None;
    for (i, &b) in body.get(from..)?.iter().enumerate() {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), _) if b == q => quote = None,
            (None, b'>') => return Some(from + i),
            _ => {}
        }
    }
    None
}

/// Builds the skeleton: image payloads lifted out (see [`lift_payloads`]),
/// then the indentation between elements left out (see [`blank_runs`]).
pub(crate) fn lift(body: &[u8]) -> Skeleton {
    let lifted = lift_payloads(body);
    let source = if lifted.text.is_empty() {
        body
    } else {
        &lifted.text
    };
    let runs = blank_runs(source);
    if runs.is_empty() {
        return lifted;
    }
    let Skeleton { mut holes, .. } = lifted;
    let mut text = Vec::with_capacity(source.len());
    let (mut copied, mut dropped, mut h) = (0, 0, 0);
    for run in runs {
        // Holes sit between a start tag and its end tag, never in a run.
        while let Some(hole) = holes.get_mut(h).filter(|(at, _)| *at <= run.start) {
            hole.0 -= dropped;
            h += 1;
        }
        text.extend_from_slice(&source[copied..run.start]);
        dropped += run.len();
        copied = run.end;
    }
    for hole in &mut holes[h..] {
        hole.0 -= dropped;
    }
    text.extend_from_slice(&source[copied..]);
    Skeleton { text, holes }
}

/// Whitespace-only text that runs from a `>` to a `<` across a line break:
/// the indentation cameras put between elements. The XML parser would make
/// a node of each run (a third of a tracking post's nodes) that every lookup
/// skips, since values are read trimmed and blank text counts as none; so
/// the parser never sees them. Runs inside comments, CDATA sections and
/// processing instructions are kept, and so are runs before a CDATA section
/// (which the parser joins to the text around it). Leaving them out never
/// makes a malformed document well-formed: no `<` is removed, and
/// whitespace before the first `>` (where an XML declaration must come
/// first) is never touched.
fn blank_runs(src: &[u8]) -> Vec<Range<usize>> {
    let protected = protected(src);
    let (mut p, mut covered_to) = (0, 0);
    let mut runs = Vec::new();
    let mut done = 0;
    for nl in memchr::memchr_iter(b'\n', src) {
        if nl < done {
            continue;
        }
        let mut start = nl;
        while start > 0 && is_space(src[start - 1]) {
            start -= 1;
        }
        let mut end = nl + 1;
        while end < src.len() && is_space(src[end]) {
            end += 1;
        }
        done = end;
        if start == 0 || src[start - 1] != b'>' {
            continue;
        }
        if src.get(end) != Some(&b'<') || src[end..].starts_with(b"<![CDATA[") {
            continue;
        }
        // Regions are in start order and runs come in order: one pass.
        while let Some(region) = protected.get(p).filter(|r| r.start < start) {
            covered_to = covered_to.max(region.end);
            p += 1;
        }
        if covered_to > start {
            continue;
        }
        runs.push(start..end);
    }
    runs
}

/// Comments, CDATA sections and processing instructions, each from its
/// opening to its closing marker (or the end), sorted by start. An opening
/// marker inside another region (a `<!--` in a CDATA section) only makes a
/// region too large, never too small. Found from the `!` and `?` bytes,
/// which are rare outside such markup.
fn protected(src: &[u8]) -> Vec<Range<usize>> {
    let mut regions = Vec::new();
    let mut from = 0;
    while let Some(at) = memchr::memchr2(b'!', b'?', src.get(from..).unwrap_or_default()) {
        let at = from + at;
        from = at + 1;
        let Some(lt) = at.checked_sub(1).filter(|&lt| src[lt] == b'<') else {
            continue;
        };
        let rest = &src[lt..];
        let (open, close): (usize, &[u8]) = if rest.starts_with(b"<!--") {
            (4, b"-->")
        } else if rest.starts_with(b"<![CDATA[") {
            (9, b"]]>")
        } else if rest.starts_with(b"<?") {
            (2, b"?>")
        } else {
            continue;
        };
        let end = closing(src, lt + open, close).unwrap_or(src.len());
        regions.push(lt..end);
        from = from.max(end);
    }
    regions
}

/// The index after the first `close` (which ends in `>`) at or after `from`.
fn closing(src: &[u8], from: usize, close: &[u8]) -> Option<usize> {
    memchr::memchr_iter(b'>', src.get(from..)?)
        .map(|i| from + i + 1)
        .find(|&end| end - from >= close.len() && src[..end].ends_with(close))
}

/// Lifts the image payloads out. Anything unusual (unterminated markup, a
/// payload not followed by an end tag) is left in place for the XML parser
/// to judge.
fn lift_payloads(body: &[u8]) -> Skeleton {
    // Posts without images (keepalives, tracking, alarm statuses) skip the
    // scan; in posts with images the first match comes before any payload.
    if memmem::find(body, b"Base64Data").is_none() {
        return Skeleton::default();
    }
    let mut holes = Vec::new();
    let mut text = Vec::new();
    let mut copied = 0;
    let mut i = 0;
    let mut declared = None;
    while let Some(lt) = memchr(b'<', &body[i..]).map(|p| i + p) {
        let rest = &body[lt..];
        let skip_to = |end: &[u8]| find(body, lt + 2, end).map(|e| e + end.len());
        let next = if rest.starts_with(b"<!--") {
            skip_to(b"-->")
        } else if rest.starts_with(b"<![CDATA[") {
            skip_to(b"]]>")
        } else if rest.starts_with(b"<?") {
            skip_to(b"?>")
        } else if rest.starts_with(b"<!") || rest.starts_with(b"</") {
            tag_end(body, lt).map(|e| e + 1)
        } else {
            match payload(body, lt, &mut declared) {
                Some(Payload::Lifted {
                    content,
                    span,
                    close,
                }) => {
                    text.extend_from_slice(&body[copied..content]);
                    holes.push((text.len(), span));
                    copied = close;
                    Some(close)
                }
                Some(Payload::Not(after)) => Some(after),
                None => None,
            }
        };
        match next {
            Some(n) => i = n,
            None => break,
        }
    }
    if holes.is_empty() {
        // Nothing lifted: the caller parses the body itself, no copy.
        return Skeleton::default();
    }
    text.extend_from_slice(&body[copied..]);
    Skeleton { text, holes }
}

enum Payload {
    /// An image element: its content starts at `content`, the trimmed base64
    /// is `span`, and the end tag (or the CDATA end) is at `close`.
    Lifted {
        content: usize,
        span: Range<usize>,
        close: usize,
    },
    /// Another start tag, ending before this index.
    Not(usize),
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

/// Looks at the start tag at `lt`: a `…Base64Data` element with content is
/// lifted; a `…Base64Length` one records the declared length.
fn payload(body: &[u8], lt: usize, declared: &mut Option<usize>) -> Option<Payload> {
    let end = tag_end(body, lt)?;
    let tag = &body[lt + 1..end];
    let name_len = tag
        .iter()
        .position(|&b| is_space(b) || b == b'/')
        .unwrap_or(tag.len());
    let name = &tag[..name_len];
    let local = name.rsplit(|&b| b == b':').next().unwrap_or(name);
    if local.ends_with(b"Base64Length") {
        *declared = declared_length(body, end + 1);
    }
    if !local.ends_with(b"Base64Data") || tag.last() == Some(&b'/') {
        return Some(Payload::Not(end + 1));
    }
    let declared = declared.take();
    let content = end + 1;
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
        return Some(Payload::Not(end + 1));
    }
    Some(Payload::Lifted {
        content,
        span,
        close: after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lifted(xml: &str) -> (String, Vec<String>) {
        let s = lift(xml.as_bytes());
        let text = String::from_utf8(s.text.clone()).unwrap();
        let spans = s
            .holes
            .iter()
            .map(|(_, r)| xml[r.clone()].to_owned())
            .collect();
        (text, spans)
    }

    #[test]
    fn payloads_plain_and_cdata() {
        let xml = "<c><a><sourceBase64Data> QUJD\n</sourceBase64Data></a>\
                   <t><targetBase64Data type=\"string\"><![CDATA[REVG]]></targetBase64Data></t></c>";
        let (text, spans) = lifted(xml);
        assert_eq!(spans, ["QUJD", "REVG"]);
        assert_eq!(
            text,
            "<c><a><sourceBase64Data></sourceBase64Data></a>\
             <t><targetBase64Data type=\"string\"></targetBase64Data></t></c>"
        );
    }

    #[test]
    fn blank_text_between_markup_is_left_out() {
        let xml = "<?xml version=\"1.0\"?>\n<c>\n  <a> 1 </a>\n  <b>\n  </b><!-- x\n  -->\n  \
                   <![CDATA[>\n  <]]>\n  <d a='>\n <'>x\n</d>\n\t<e>x >\n <![CDATA[y]]></e>\r\n</c>\n";
        let (text, spans) = lifted(xml);
        assert!(spans.is_empty());
        assert_eq!(
            text,
            "<?xml version=\"1.0\"?><c><a> 1 </a><b></b><!-- x\n  -->\n  <![CDATA[>\n  <]]>\
             <d a='><'>x\n</d><e>x >\n <![CDATA[y]]></e></c>\n"
        );
        // Before the first markup it stays (an XML declaration must come
        // first); a compact document is not copied.
        assert_eq!(lifted(" \n<c>\n</c>").0, " \n<c></c>");
        assert!(lift(b"<c><a>1</a></c>").text.is_empty());
        // An unterminated comment protects everything after it.
        assert!(lift(b"<c><!-- \n<a>\n</a>").text.is_empty());
    }

    #[test]
    fn blank_text_around_payloads_is_left_out() {
        let xml = "<c>\n <sourceBase64Data>QUJD</sourceBase64Data>\n <t>\n  \
                   <xBase64Data>REVG</xBase64Data>\n </t>\n</c>";
        let s = lift(xml.as_bytes());
        let text = std::str::from_utf8(&s.text).unwrap();
        assert_eq!(
            text,
            "<c><sourceBase64Data></sourceBase64Data><t><xBase64Data></xBase64Data></t></c>"
        );
        let first = text.find("<source").unwrap()..text.find("<t>").unwrap();
        assert_eq!(&xml[s.payload_in(first).unwrap()], "QUJD");
        let second = text.find("<xBase64").unwrap()..text.find("</t>").unwrap();
        assert_eq!(&xml[s.payload_in(second).unwrap()], "REVG");
    }

    #[test]
    fn comments_cdata_and_odd_input_are_left_alone() {
        for xml in [
            "<c><!-- <sourceBase64Data>QUJD</sourceBase64Data> --></c>",
            "<c><![CDATA[<sourceBase64Data>QUJD</sourceBase64Data>]]></c>",
            "<c><sourceBase64Data/></c>",
            "<c><sourceBase64Data></sourceBase64Data></c>",
            "<c><sourceBase64Data>QUJD<b/></sourceBase64Data></c>",
            "<c><sourceBase64Data>QUJD",
            "<c><sourceBase64Data a='>'>QUJD</other></c>",
        ] {
            let s = lift(xml.as_bytes());
            assert!(s.holes.is_empty(), "{xml}");
            assert!(s.text.is_empty(), "{xml}");
        }
    }

    #[test]
    fn declared_lengths_are_used_only_when_true() {
        // Declared length right: the payload is not scanned.
        let (_, spans) = lifted(
            "<c><sourceBase64Length>8</sourceBase64Length><sourceBase64Data>QUJDREVG</sourceBase64Data></c>",
        );
        assert_eq!(spans, ["QUJDREVG"]);
        // CDATA with a declared length.
        let (_, spans) = lifted(
            "<c><xBase64Length>4</xBase64Length><xBase64Data><![CDATA[QUJD]]></xBase64Data></c>",
        );
        assert_eq!(spans, ["QUJD"]);
        // Wrong (short, long, huge) declared lengths fall back to the scan.
        for declared in ["3", "12", "99999999999999999999", "x"] {
            let xml = format!(
                "<c><sourceBase64Length>{declared}</sourceBase64Length><sourceBase64Data>QUJDREVG</sourceBase64Data></c>"
            );
            let (_, spans) = lifted(&xml);
            assert_eq!(spans, ["QUJDREVG"], "{declared}");
        }
        // A length declares only the next payload.
        let (_, spans) = lifted(
            "<c><aBase64Length>4</aBase64Length><aBase64Data>QUJD</aBase64Data><bBase64Data>REVGR0hJ</bBase64Data></c>",
        );
        assert_eq!(spans, ["QUJD", "REVGR0hJ"]);
    }

    #[test]
    fn holes_map_back_to_elements() {
        let xml = "<c><xBase64Data>QUJD</xBase64Data><yBase64Data>REVG</yBase64Data></c>";
        let s = lift(xml.as_bytes());
        let text = std::str::from_utf8(&s.text).unwrap();
        let second = text.find("<yBase64Data>").unwrap();
        let span = s.payload_in(second..second + 27).unwrap();
        assert_eq!(&xml[span], "REVG");
        assert_eq!(s.payload_in(0..3), None);
    }
}
