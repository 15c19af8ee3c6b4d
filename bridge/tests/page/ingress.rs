//! Home Assistant's ingress, as far as the page can tell: the page is served
//! under `/api/hassio_ingress/<token>/`, each request passed to the bridge
//! without that prefix and with `X-Ingress-Path`. A request outside the
//! prefix (an address in the page starting with `/`) is answered 404 and
//! remembered, so the test can say the page never left its prefix.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

pub const PREFIX: &str = "/api/hassio_ingress/Xk3s9Q_test-token";

pub struct Ingress {
    pub port: u16,
    /// Paths asked for outside the prefix.
    pub strays: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Ingress {
    /// Proxies `http://127.0.0.1:<port>PREFIX/...` to the bridge on `bridge_port`.
    pub fn start(bridge_port: u16) -> Ingress {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let strays = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (strays2, stop2) = (strays.clone(), stop.clone());
        thread::spawn(move || {
            for client in listener.incoming() {
                if stop2.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(client) = client else { continue };
                let strays = strays2.clone();
                thread::spawn(move || {
                    let _ = serve(client, bridge_port, &strays);
                });
            }
        });
        Ingress { port, strays, stop }
    }

    /// The page's address as Home Assistant's sidebar opens it.
    pub fn url(&self, query: &str) -> String {
        format!("http://127.0.0.1:{}{PREFIX}/{query}", self.port)
    }
}

impl Drop for Ingress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port));
    }
}

/// One request per connection (answered with `Connection: close`).
fn serve(client: TcpStream, bridge_port: u16, strays: &Mutex<Vec<String>>) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let mut client = client;
    let Some(rest) = target.strip_prefix(PREFIX).filter(|r| r.starts_with('/')) else {
        strays.lock().unwrap().push(target.to_owned());
        client.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
        return Ok(());
    };
    let mut bridge = TcpStream::connect((Ipv4Addr::LOCALHOST, bridge_port))?;
    bridge.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        bridge,
        "{method} {rest} HTTP/1.1\r\nHost: 172.30.32.1\r\nX-Ingress-Path: {PREFIX}\r\n\
         X-Forwarded-For: 172.30.32.2\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = Vec::new();
    bridge.read_to_end(&mut answer)?;
    client.write_all(&answer)?;
    client.flush()
}
