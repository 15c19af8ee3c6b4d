//! Cameras at addresses of their own: the bridge trusts the test's loopback
//! address as a proxy, so `X-Forwarded-For` names the camera.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};

use crate::support::{fixture, WAIT};

/// Posts `body` to `path` as the camera at `camera`; the status and how
/// long the answer took.
pub fn post_as(port: u16, camera: &str, path: &str, body: &[u8]) -> (u16, Duration) {
    let start = Instant::now();
    let mut tcp = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: bridge\r\nContent-Type: application/xml\r\n\
         X-Forwarded-For: {camera}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).unwrap();
    tcp.write_all(body).unwrap();
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer);
    let took = start.elapsed();
    let status = std::str::from_utf8(answer.get(9..12).unwrap_or_default())
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, took)
}

/// Posts as `camera` and insists on the camera's success answer.
pub fn post_ok(port: u16, camera: &str, body: &[u8]) -> Duration {
    let (status, took) = post_as(port, camera, "/API", body);
    assert_eq!(status, 200, "a post from {camera} was not answered 200");
    took
}

/// The `v1-lpr-vehice.xml` fixture with every picture replaced by a JPEG
/// header and `size` bytes: too large for the page to keep.
pub fn lpr_with_large_pictures(size: usize) -> Vec<u8> {
    let text = String::from_utf8(fixture("v1-lpr-vehice.xml")).unwrap();
    let mut big = vec![0u8; size];
    big[..4].copy_from_slice(&[0xFF, 0xD8, 0xFF, 0xE0]);
    let encoded = base64(&big);
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("<![CDATA[/9j/") {
        let end = start + rest[start..].find("]]>").unwrap();
        out.push_str(&rest[..start]);
        out.push_str("<![CDATA[");
        out.push_str(&encoded);
        rest = &rest[end..];
    }
    out.push_str(rest);
    // The declared lengths, as a camera would send them.
    let marker = "Base64Length type=\"uint32\">";
    let mut text = String::new();
    let mut rest = out.as_str();
    while let Some(at) = rest.find(marker) {
        let digits = at + marker.len();
        let end = digits + rest[digits..].find('<').unwrap();
        text.push_str(&rest[..digits]);
        text.push_str(&encoded.len().to_string());
        rest = &rest[end..];
    }
    text.push_str(rest);
    text.replace("Harbour Gate LPR", "Loading Bay LPR")
        .replace("HX72 LMP", "BIG 0001")
        .into_bytes()
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes.len() / 3 * 4 + 4);
    for c in bytes.chunks(3) {
        let n = c
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= c.len() {
                s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}
