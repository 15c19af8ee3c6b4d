//! Images carried by a post: spans of base64 text inside the shared body,
//! decoded only when asked.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::Body;

/// Why an image's base64 text could not be decoded.
///
/// ```
/// use viewtron::{parse, ImageError, Post};
///
/// let xml = "<config version=\"2.0.0\"><messageType>alarmData</messageType>\
///            <smartType>regionIntrusion</smartType><sourceDataInfo>\
///            <sourceBase64Data>not_base64</sourceBase64Data></sourceDataInfo></config>";
/// let Ok(Post::Event(event)) = parse(xml) else { panic!() };
/// let err = event.source_image().unwrap().bytes().unwrap_err();
/// assert!(matches!(err, ImageError::InvalidCharacter { byte: b'_', .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// A byte that is neither base64 nor white space.
    #[error("invalid base64 character {byte:#04x} at offset {offset} of the image text")]
    InvalidCharacter {
        /// Offset of the byte within the image's base64 text.
        offset: usize,
        /// The offending byte.
        byte: u8,
    },
    /// The number of base64 characters (white space excluded) is not a multiple of four.
    #[error("image has {len} base64 characters, which is not a multiple of 4 (bad padding)")]
    InvalidLength {
        /// Number of base64 characters, padding included.
        len: usize,
    },
    /// Misplaced padding or non-canonical final bits.
    #[error("invalid base64 image data: {0}")]
    Invalid(String),
}

/// Where an image's base64 text lives.
#[derive(Clone)]
enum Text {
    /// A span of the post body: the usual case, no copy.
    Span(Body, Range<usize>),
    /// Text the XML parser had to rebuild (entities or CR/LF inside the data).
    Owned(Arc<str>),
}

/// An image (JPEG) in a post: the overview picture or a target crop.
///
/// The image is a span of the post body; nothing is copied or decoded until
/// [`bytes`](Image::bytes) is called. Cloning is cheap.
///
/// ```
/// use viewtron::{parse, Post};
///
/// // "/9j/4A==" is the base64 of a JPEG's first four bytes.
/// let xml = "<config version=\"2.0.0\"><messageType>alarmData</messageType>\
///            <smartType>regionIntrusion</smartType><sourceDataInfo><width>640</width>\
///            <height>480</height><sourceBase64Data>/9j/\n4A==</sourceBase64Data>\
///            </sourceDataInfo></config>";
/// let Ok(Post::Event(event)) = parse(xml) else { panic!() };
/// let image = event.source_image().unwrap();
/// assert_eq!(image.width(), Some(640));
/// assert_eq!(image.base64(), "/9j/\n4A==");
/// assert_eq!(image.bytes().unwrap(), [0xff, 0xd8, 0xff, 0xe0]);
/// assert_eq!(image.decoded_len().unwrap(), 4);
/// ```
#[derive(Clone)]
pub struct Image {
    text: Text,
    width: Option<u32>,
    height: Option<u32>,
    declared_len: Option<u64>,
}

impl Image {
    pub(crate) fn from_span(body: Body, range: Range<usize>) -> Self {
        Self::new(Text::Span(body, range))
    }

    pub(crate) fn from_owned(text: Arc<str>) -> Self {
        Self::new(Text::Owned(text))
    }

    fn new(text: Text) -> Self {
        Image {
            text,
            width: None,
            height: None,
            declared_len: None,
        }
    }

    pub(crate) fn with_meta(
        mut self,
        width: Option<u32>,
        height: Option<u32>,
        declared_len: Option<u64>,
    ) -> Self {
        self.width = width.filter(|w| *w > 0);
        self.height = height.filter(|h| *h > 0);
        self.declared_len = declared_len;
        self
    }

    /// The base64 text exactly as the camera sent it (CDATA markers removed),
    /// borrowed from the post body.
    ///
    /// ```
    /// # use viewtron::{parse, Post};
    /// # let xml = "<config version=\"2.0.0\"><messageType>alarmData</messageType><smartType>regionIntrusion</smartType><sourceDataInfo><sourceBase64Data><![CDATA[/9j/4A==]]></sourceBase64Data></sourceDataInfo></config>";
    /// # let Ok(Post::Event(event)) = parse(xml) else { panic!() };
    /// assert_eq!(event.source_image().unwrap().base64(), "/9j/4A==");
    /// ```
    ///
    /// The payload is not validated when the post is parsed (that would be a
    /// second pass over every image byte); if it is not UTF-8 — so not base64
    /// either — this is empty and [`bytes`](Image::bytes) reports the error.
    pub fn base64(&self) -> &str {
        std::str::from_utf8(self.raw()).unwrap_or_default()
    }

    /// The payload's bytes as sent.
    fn raw(&self) -> &[u8] {
        match &self.text {
            Text::Span(body, range) => body.as_bytes().get(range.clone()).unwrap_or_default(),
            Text::Owned(s) => s.as_bytes(),
        }
    }

    /// Width in pixels as the camera declared it (`None` when absent or 0).
    ///
    /// ```
    /// # use viewtron::{parse, Post};
    /// # let xml = "<config version=\"2.0.0\"><messageType>alarmData</messageType><smartType>regionIntrusion</smartType><sourceDataInfo><width>0</width><sourceBase64Data>/9j/4A==</sourceBase64Data></sourceDataInfo></config>";
    /// # let Ok(Post::Event(event)) = parse(xml) else { panic!() };
    /// // NVRs sometimes report 0 x 0 for a real picture.
    /// assert_eq!(event.source_image().unwrap().width(), None);
    /// ```
    pub fn width(&self) -> Option<u32> {
        self.width
    }

    /// Height in pixels as the camera declared it (`None` when absent or 0).
    ///
    /// ```
    /// # use viewtron::{parse, Post};
    /// # let xml = "<config version=\"2.0.0\"><messageType>alarmData</messageType><smartType>regionIntrusion</smartType><sourceDataInfo><height>720</height><sourceBase64Data>/9j/4A==</sourceBase64Data></sourceDataInfo></config>";
    /// # let Ok(Post::Event(event)) = parse(xml) else { panic!() };
    /// assert_eq!(event.source_image().unwrap().height(), Some(720));
    /// ```
    pub fn height(&self) -> Option<u32> {
        self.height
    }

    /// The base64 length the camera declared (`*Base64Length`), if any.
    ///
    /// ```
    /// # use viewtron::{parse, Post};
    /// # let xml = "<config version=\"2.0.0\"><messageType>alarmData</messageType><smartType>regionIntrusion</smartType><sourceDataInfo><sourceBase64Length>8</sourceBase64Length><sourceBase64Data>/9j/4A==</sourceBase64Data></sourceDataInfo></config>";
    /// # let Ok(Post::Event(event)) = parse(xml) else { panic!() };
    /// assert_eq!(event.source_image().unwrap().declared_len(), Some(8));
    /// ```
    pub fn declared_len(&self) -> Option<u64> {
        self.declared_len
    }

    /// Decodes the image. White space and line breaks inside the base64 are
    /// skipped; anything else outside the base64 alphabet is an error.
    ///
    /// ```
    /// # use viewtron::{parse, Post};
    /// # let xml = "<config version=\"2.0.0\"><messageType>alarmData</messageType><smartType>regionIntrusion</smartType><sourceDataInfo><sourceBase64Data> /9j/\r\n4A== </sourceBase64Data></sourceDataInfo></config>";
    /// # let Ok(Post::Event(event)) = parse(xml) else { panic!() };
    /// let jpeg = event.source_image().unwrap().bytes()?;
    /// assert_eq!(jpeg[..2], [0xff, 0xd8]);
    /// # Ok::<(), viewtron::ImageError>(())
    /// ```
    pub fn bytes(&self) -> Result<Vec<u8>, ImageError> {
        let text = self.raw();
        let mut out = Vec::with_capacity(text.len() / 4 * 3);
        decode(text, |chunk| out.extend_from_slice(chunk))?;
        Ok(out)
    }

    /// The decoded size in bytes, computed by decoding in a small stack buffer
    /// (no allocation). Fails exactly when [`bytes`](Image::bytes) fails.
    ///
    /// ```
    /// # use viewtron::{parse, Post};
    /// # let xml = "<config version=\"2.0.0\"><messageType>alarmData</messageType><smartType>regionIntrusion</smartType><sourceDataInfo><sourceBase64Data>/9j/4A==</sourceBase64Data></sourceDataInfo></config>";
    /// # let Ok(Post::Event(event)) = parse(xml) else { panic!() };
    /// assert_eq!(event.source_image().unwrap().decoded_len(), Ok(4));
    /// ```
    pub fn decoded_len(&self) -> Result<usize, ImageError> {
        let mut len = 0;
        decode(self.raw(), |chunk| len += chunk.len())?;
        Ok(len)
    }
}

impl fmt::Debug for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Image")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("base64_len", &self.raw().len())
            .finish()
    }
}

/// Characters gathered before each decode step; a multiple of 4.
const CHUNK: usize = 1024;

fn is_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

/// Streams the decoded bytes of `text` to `sink`, chunk by chunk, allocating
/// nothing. Text without white space (the usual case) is decoded directly;
/// wrapped text is filtered first. Errors always come from the filtering
/// path, so both report the same error for the same text.
fn decode(text: &[u8], mut sink: impl FnMut(&[u8])) -> Result<(), ImageError> {
    let unwrapped = memchr::memchr3(b'\n', b'\r', b' ', text).is_none()
        && memchr::memchr(b'\t', text).is_none();
    if unwrapped && text.len() % 4 == 0 {
        let mut out = [0u8; CHUNK / 4 * 3];
        let direct: Result<(), ()> = text.chunks(CHUNK).try_for_each(|chunk| {
            let n = STANDARD.decode_slice(chunk, &mut out).map_err(|_| ())?;
            sink(&out[..n]);
            Ok(())
        });
        if direct.is_ok() {
            return Ok(());
        }
        // Invalid: let the filtering path find and describe the error (what
        // `sink` was given so far is discarded by every caller on error).
        filtered(text, |_| {})?;
        return Err(ImageError::Invalid("invalid base64".into()));
    }
    filtered(text, sink)
}

/// Decodes `text`, skipping white space, validating every byte.
fn filtered(text: &[u8], mut sink: impl FnMut(&[u8])) -> Result<(), ImageError> {
    let mut buf = [0u8; CHUNK];
    let mut out = [0u8; CHUNK / 4 * 3];
    let mut filled = 0;
    let mut total = 0;
    let mut padding = 0;
    for (offset, &byte) in text.iter().enumerate() {
        if byte.is_ascii_whitespace() {
            continue;
        }
        let ok = if byte == b'=' {
            padding += 1;
            padding <= 2
        } else {
            padding == 0 && is_base64(byte)
        };
        if !ok {
            return Err(ImageError::InvalidCharacter { offset, byte });
        }
        buf[filled] = byte;
        filled += 1;
        total += 1;
        if filled == CHUNK {
            flush(&buf[..filled], &mut out, &mut sink)?;
            filled = 0;
        }
    }
    if total % 4 != 0 {
        return Err(ImageError::InvalidLength { len: total });
    }
    flush(&buf[..filled], &mut out, &mut sink)
}

fn flush(chunk: &[u8], out: &mut [u8], sink: &mut impl FnMut(&[u8])) -> Result<(), ImageError> {
    if chunk.is_empty() {
        return Ok(());
    }
    let n = STANDARD
        .decode_slice(chunk, out)
        .map_err(|e| ImageError::Invalid(e.to_string()))?;
    sink(&out[..n]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(text: &str) -> Result<Vec<u8>, ImageError> {
        Image::from_owned(Arc::from(text)).bytes()
    }

    #[test]
    fn decodes_across_chunk_boundaries() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut text = STANDARD.encode(&data);
        // Wrap at 76 columns like MIME, with CR/LF.
        let wrapped: String = text
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\r\n");
        assert_eq!(decode_all(&wrapped).unwrap(), data);
        // Unwrapped text takes the direct path; it must agree.
        assert_eq!(decode_all(&text).unwrap(), data);
        text.push('\n');
        assert_eq!(decode_all(&text).unwrap(), data);
        let image = Image::from_owned(Arc::from(wrapped.as_str()));
        assert_eq!(image.decoded_len().unwrap(), data.len());
    }

    #[test]
    fn rejects_placeholders_and_bad_padding() {
        assert!(matches!(
            decode_all("BASE64_JPEG_TARGET_CROP"),
            Err(ImageError::InvalidCharacter {
                offset: 6,
                byte: b'_'
            })
        ));
        assert_eq!(decode_all("QQ"), Err(ImageError::InvalidLength { len: 2 }));
        assert!(matches!(
            decode_all("QQ==QQ=="),
            Err(ImageError::InvalidCharacter { offset: 4, .. })
        ));
        assert!(matches!(
            decode_all("Q==="),
            Err(ImageError::InvalidCharacter { .. })
        ));
        assert!(decode_all("QR==").is_err(), "non-canonical trailing bits");
        // The direct path reports the same errors as the filtering one.
        let mut long = "QUJD".repeat(600);
        long.replace_range(2000..2001, "*");
        assert_eq!(
            decode_all(&long),
            Err(ImageError::InvalidCharacter {
                offset: 2000,
                byte: b'*'
            })
        );
        assert_eq!(decode_all(&format!("{long}\n")), decode_all(&long));
        assert_eq!(decode_all("QQ==").unwrap(), b"A");
        assert_eq!(decode_all("").unwrap(), b"");
    }
}
