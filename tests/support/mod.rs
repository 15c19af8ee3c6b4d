//! Helpers shared by the parser test crates: fixtures, images, a PRNG, base64.

#![allow(dead_code)]

pub mod dump;
#[macro_use]
pub mod golden;

use std::path::PathBuf;

use viewtron::{parse, Event, Image, Post};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The bytes of `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every `*.xml` fixture, sorted by name.
pub fn fixtures() -> Vec<(String, Vec<u8>)> {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .expect("tests/fixtures")
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".xml"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let body = fixture(&n);
            (n, body)
        })
        .collect()
}

/// The fixture parsed; panics on a parse error.
pub fn post(name: &str) -> Post {
    parse(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The fixture parsed as an event; panics on anything else.
pub fn event(name: &str) -> Event {
    match post(name) {
        Post::Event(e) => e,
        other => panic!("{name}: expected an event, got {other:?}"),
    }
}

/// Every image an event exposes: the overview and every target, plate and
/// face crop (plates and faces share their target's crop, so it is listed
/// once per place it appears).
pub fn all_images(e: &Event) -> Vec<(String, &Image)> {
    let mut out = Vec::new();
    if let Some(i) = e.source_image() {
        out.push(("source".to_owned(), i));
    }
    for (n, t) in e.targets().iter().enumerate() {
        out.extend(t.image.as_ref().map(|i| (format!("target {n}"), i)));
    }
    for (n, p) in e.plates().iter().enumerate() {
        out.extend(p.image.as_ref().map(|i| (format!("plate {n}"), i)));
    }
    for (n, f) in e.faces().iter().enumerate() {
        out.extend(f.image.as_ref().map(|i| (format!("face {n}"), i)));
    }
    out
}

/// Width and height from a JPEG's SOF0 segment.
pub fn jpeg_size(jpeg: &[u8]) -> Option<(u32, u32)> {
    let mut i = 2;
    while i + 9 < jpeg.len() {
        if jpeg[i] != 0xff {
            return None;
        }
        let marker = jpeg[i + 1];
        let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        if marker == 0xc0 {
            let h = u16::from_be_bytes([jpeg[i + 5], jpeg[i + 6]]);
            let w = u16::from_be_bytes([jpeg[i + 7], jpeg[i + 8]]);
            return Some((w.into(), h.into()));
        }
        i += 2 + len;
    }
    None
}

/// xorshift64*: a tiny deterministic PRNG, so failures reproduce.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform-ish in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Standard base64 with padding.
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * k)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
