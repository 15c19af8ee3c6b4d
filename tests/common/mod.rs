//! A minimal HTTP/1.1 camera for tests: raw bytes over loopback TCP, with
//! read timeouts so no test can hang.

#![allow(dead_code)]

pub mod child;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Upper bound for any single read in tests.
pub const TIMEOUT: Duration = Duration::from_secs(10);

pub const LPR_V1: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<config version="1.7" xmlns="http://www.ipc.com/ver10">
  <smartType type="openAlramObj">VEHICE</smartType>
  <currentTime type="tint64">1764331200000000</currentTime>
  <deviceName type="string"><![CDATA[North Gate]]></deviceName>
  <listInfo type="list" count="1"><item>
    <plateNumber type="string"><![CDATA[TST 042]]></plateNumber>
    <vehicleListType type="string">whiteList</vehicleListType>
  </item></listInfo>
</config>"#;

pub const TRAJECT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<config version="1.7" xmlns="http://www.ipc.com/ver10">
  <deviceName type="string">North Gate</deviceName>
  <traject type="list" count="2">
    <item><targetId>5</targetId><targetType>person</targetType>
      <rect><x1>10</x1><y1>20</y1><x2>30</x2><y2>40</y2></rect></item>
    <item><targetId>6</targetId><targetType>car</targetType></item>
  </traject>
</config>"#;

pub const INTRUSION_V2: &str = r#"<config version="2.0.0" xmlns="http://www.ipc.com/ver10">
  <messageType>alarmData</messageType>
  <deviceInfo><deviceName>Yard NVR</deviceName><channelId>4</channelId></deviceInfo>
  <smartType>regionIntrusion</smartType>
  <currentTime>1764331200000000</currentTime>
  <eventInfo><item><eventId>1</eventId><targetId>9</targetId></item></eventInfo>
</config>"#;

pub const ALARM_V2: &str = r#"<config version="2.0.0"><messageType>alarmStatus</messageType>
  <alarmStatusInfo><perimeterAlarm><item id="2">true</item></perimeterAlarm></alarmStatusInfo>
</config>"#;

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One camera connection.
pub struct Camera {
    pub reader: BufReader<TcpStream>,
}

impl Camera {
    pub fn connect(addr: SocketAddr) -> Camera {
        let stream = TcpStream::connect(loopback(addr)).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Camera {
            reader: BufReader::new(stream),
        }
    }

    /// A connection from `source` (any 127.0.0.0/8 address works on Linux
    /// loopback without configuration), so a test can play several hosts.
    pub fn connect_from(addr: SocketAddr, source: std::net::IpAddr) -> Camera {
        let stream = connect_from(addr, source);
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Camera {
            reader: BufReader::new(stream),
        }
    }

    pub fn write(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).expect("write");
    }

    /// Writes one byte per syscall, as slow embedded stacks do.
    pub fn write_bytewise(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.reader.get_mut().write_all(&[*b]).expect("write");
        }
    }

    pub fn post(&mut self, path: &str, body: &str) -> Response {
        self.write(&post_request(path, body, "keep-alive"));
        self.read_response()
    }

    pub fn read_response(&mut self) -> Response {
        read_response(&mut self.reader).expect("a response")
    }

    /// True when the server has closed the connection (EOF).
    pub fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 1];
        matches!(self.reader.read(&mut buf), Ok(0))
    }
}

/// A TCP connection to `addr` whose local address is `source` (port 0).
pub fn connect_from(addr: SocketAddr, source: std::net::IpAddr) -> TcpStream {
    use socket2::{Domain, Socket, Type};
    let addr = loopback(addr);
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).expect("socket");
    socket
        .bind(&SocketAddr::new(source, 0).into())
        .unwrap_or_else(|e| panic!("bind {source}: {e}"));
    socket.connect(&addr.into()).expect("connect");
    socket.into()
}

pub fn loopback(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    }
}

pub fn post_request(path: &str, body: &str, connection: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/xml; charset=utf-8\r\nConnection: {connection}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

pub fn read_response(reader: &mut impl BufRead) -> Option<Response> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let status: u16 = line.split(' ').nth(1)?.parse().ok()?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':')?;
        headers.push((n.trim().to_owned(), v.trim().to_owned()));
    }
    let mut r = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if (100..200).contains(&status) {
        return Some(r);
    }
    if let Some(len) = r.header("Content-Length") {
        let mut body = vec![0; len.parse().ok()?];
        reader.read_exact(&mut body).ok()?;
        r.body = body;
    } else if r
        .header("Transfer-Encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        loop {
            line.clear();
            reader.read_line(&mut line).ok()?;
            let size = usize::from_str_radix(line.trim(), 16).ok()?;
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            if size == 0 {
                break;
            }
            r.body.extend_from_slice(&chunk[..size]);
        }
    }
    Some(r)
}

/// Asserts the camera got the success answer.
pub fn assert_success(r: &Response) {
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("Content-Type"), Some("application/xml"), "{r:?}");
    assert!(r.text().contains("<status>success</status>"), "{r:?}");
}
