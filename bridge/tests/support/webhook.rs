//! A local HTTP server standing in for Home Assistant's webhook endpoint.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::sync::mpsc::{channel, Receiver};
use std::thread;

use super::base::WAIT;

/// A webhook request as the receiver got it.
#[derive(Debug, Clone)]
pub struct Hook {
    pub path: String,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// How the webhook receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `200` to everything.
    Ok,
    /// `500` to the first `n` requests, then `200`.
    FailFirst(usize),
    /// Accepts connections and never answers (Home Assistant hung).
    Hang,
}

/// A local HTTP server standing in for Home Assistant's webhook endpoint.
pub struct WebhookReceiver {
    pub port: u16,
    pub rx: Receiver<Hook>,
}

pub fn webhook_receiver(mode: Mode) -> WebhookReceiver {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = channel();
    thread::spawn(move || {
        let mut answered = 0usize;
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            if mode == Mode::Hang {
                held.push(stream); // never read, never answered
                continue;
            }
            stream.set_read_timeout(Some(WAIT)).ok();
            let mut reader = BufReader::new(stream);
            while let Some(hook) = read_request(&mut reader) {
                let fail = matches!(mode, Mode::FailFirst(n) if answered < n);
                answered += 1;
                let status = if fail {
                    "500 Internal Server Error"
                } else {
                    "200 OK"
                };
                let _ = write!(
                    reader.get_mut(),
                    "HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n"
                );
                if !fail && tx.send(hook).is_err() {
                    return;
                }
            }
        }
    });
    WebhookReceiver { port, rx }
}

fn read_request(reader: &mut impl BufRead) -> Option<Hook> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let path = line.split_whitespace().nth(1)?.to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Hook {
        path,
        content_type: headers.get("content-type").cloned().unwrap_or_default(),
        body,
    })
}
