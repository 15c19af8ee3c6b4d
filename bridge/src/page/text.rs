//! Small text helpers of the page: cutting what cameras send to the page's
//! bound, base64 for the pictures (the library's pages answer text only),
//! and what kind of picture a camera sent. A leaf.

use super::limits::MAX_TEXT;

/// `text` cut to [`MAX_TEXT`] bytes at a character boundary, with `…` when
/// cut (the ellipsis fits in the bound).
pub fn capped(text: &str) -> String {
    if text.len() <= MAX_TEXT {
        return text.to_owned();
    }
    let mut end = MAX_TEXT - '…'.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// The picture's media type from its first bytes; `None` for anything a
/// browser should not be asked to show as a picture.
pub fn picture_type(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0xFF, 0xD8, 0xFF, ..] => Some("image/jpeg"),
        [0x89, b'P', b'N', b'G', ..] => Some("image/png"),
        _ => None,
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Appends the standard base64 (with padding) of `bytes` to `out`.
pub fn base64_into(bytes: &[u8], out: &mut String) {
    out.reserve(bytes.len().div_ceil(3) * 4);
    let symbol = |n: u32, shift: u32| ALPHABET[((n >> shift) & 63) as usize] as char;
    let mut chunks = bytes.chunks_exact(3);
    for c in &mut chunks {
        let n = u32::from(c[0]) << 16 | u32::from(c[1]) << 8 | u32::from(c[2]);
        for shift in [18, 12, 6, 0] {
            out.push(symbol(n, shift));
        }
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.extend([symbol(n, 18), symbol(n, 12), '=', '=']);
        }
        [a, b] => {
            let n = u32::from(a) << 16 | u32::from(b) << 8;
            out.extend([symbol(n, 18), symbol(n, 12), symbol(n, 6), '=']);
        }
        _ => {}
    }
}

/// `n` bytes for a person: `700 KiB`, `1.5 MiB`, `900 B`.
pub fn size(n: usize) -> String {
    match n {
        n if n < 1024 => format!("{n} B"),
        n if n < 1024 * 1024 => format!("{} KiB", n / 1024),
        n => format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        let mut s = String::new();
        base64_into(bytes, &mut s);
        s
    }

    #[test]
    fn base64_as_rfc_4648_says() {
        // RFC 4648, section 10.
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(b64(plain.as_bytes()), encoded);
        }
        assert_eq!(b64(&[0xFB, 0xFF, 0xBF]), "+/+/");
    }

    #[test]
    fn base64_round_trips_through_the_librarys_decoder() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let xml = format!(
            "<config version=\"1.7\"><smartType type=\"openAlramObj\">PEA</smartType>\
             <sourceDataInfo><sourceBase64Data><![CDATA[{}]]></sourceBase64Data>\
             </sourceDataInfo></config>",
            b64(&bytes)
        );
        let Ok(viewtron::Post::Event(event)) = viewtron::parse(xml.into_bytes()) else {
            panic!("not an event");
        };
        assert_eq!(event.source_image_bytes().unwrap().unwrap(), bytes);
    }

    #[test]
    fn long_text_is_cut_at_a_character() {
        assert_eq!(capped("Gate"), "Gate");
        let long = "é".repeat(100);
        let cut = capped(&long);
        assert!(cut.len() <= MAX_TEXT && cut.ends_with('…'), "{cut}");
        assert!(cut.starts_with("éé"));
    }

    #[test]
    fn pictures_by_their_first_bytes() {
        assert_eq!(picture_type(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(picture_type(b"\x89PNG\r\n"), Some("image/png"));
        assert_eq!(picture_type(b"<svg"), None);
        assert_eq!(size(700 * 1024), "700 KiB");
    }
}
