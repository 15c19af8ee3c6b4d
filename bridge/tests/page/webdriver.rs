//! A headless Chromium driven through chromedriver: WebDriver is plain HTTP
//! and JSON, spoken here with `ureq`. Every wait is bounded; the browser and
//! the driver are stopped on drop.
//!
//! Missing browser: the test fails with the command that installs it
//! (`.ci/run` installs it before the tests), never a pass that saw no page.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{free_port, TempDir};

/// Debian's packages: `chromium` and `chromium-driver`.
pub const INSTALL: &str = "apt-get install -y chromium chromium-driver";

const STARTUP: Duration = Duration::from_secs(30);

/// The two programs, or why the test cannot run.
pub struct Tools {
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
}

fn find(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(["/usr/bin".into(), "/usr/lib/chromium".into()]);
    let dirs: Vec<PathBuf> = dirs.collect();
    names
        .iter()
        .flat_map(|n| dirs.iter().map(move |d| d.join(n)))
        .find(|p| p.is_file())
}

impl Tools {
    /// The browser and its driver (always `Some`: missing, it panics with
    /// the command that installs them).
    pub fn find() -> Option<Tools> {
        let chromium = std::env::var_os("CHROMIUM")
            .map(PathBuf::from)
            .or_else(|| find(&["chromium", "chromium-browser", "google-chrome"]));
        let chromedriver = find(&["chromedriver"]);
        if let (Some(chromium), Some(chromedriver)) = (&chromium, &chromedriver) {
            return Some(Tools {
                chromium: chromium.clone(),
                chromedriver: chromedriver.clone(),
            });
        }
        let missing = format!(
            "this test drives a real headless Chromium through chromedriver, and {} not installed: \
             install them with `{INSTALL}` (as root)",
            match (chromium, chromedriver) {
                (None, None) => "chromium and chromedriver are",
                (None, _) => "chromium is",
                _ => "chromedriver is",
            }
        );
        panic!("{missing}");
    }
}

/// A chromedriver with one browser session.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    pub log: PathBuf,
    _profile: TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a fresh profile.
    pub fn start(tools: &Tools) -> Browser {
        let profile = TempDir::new("chromium");
        let port = free_port();
        let log = profile.path().join("chromedriver.log");
        let driver = Command::new(&tools.chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", tools.chromedriver.display()));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(STARTUP))
            .http_status_as_error(false)
            .build()
            .into();
        let mut browser = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            agent,
            log,
            _profile: profile,
        };
        let deadline = Instant::now() + STARTUP;
        while browser.call("GET", "/status", None).is_err() {
            assert!(Instant::now() < deadline, "chromedriver never answered");
            if let Ok(Some(status)) = browser.driver.try_wait() {
                panic!("chromedriver exited ({status}); {}", browser.log_text());
            }
            thread::sleep(Duration::from_millis(50));
        }
        let data_dir = browser._profile.path().join("profile");
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,1000",
            &format!("--user-data-dir={}", data_dir.display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": tools.chromium, "args": args},
        }}});
        let created = browser
            .call("POST", "/session", Some(caps))
            .unwrap_or_else(|e| panic!("no browser session: {e}; {}", browser.log_text()));
        browser.session = created["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        browser
    }

    fn log_text(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let tail = text.len().saturating_sub(3000);
        format!("chromedriver log tail:\n{}", &text[tail..])
    }

    /// One WebDriver command: its `value`, or the error it answered.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let answer = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, body) => self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(body.unwrap_or(json!({})).to_string()),
        };
        let mut answer = answer.map_err(|e| format!("{method} {path}: {e}"))?;
        let status = answer.status().as_u16();
        let mut text = String::new();
        answer
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .reader()
            .read_to_string(&mut text)
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
        if status != 200 {
            return Err(format!("{method} {path}: {status} {}", v["value"]));
        }
        Ok(v["value"].clone())
    }

    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        self.call(method, &path, body)
            .unwrap_or_else(|e| panic!("{e}\n{}", self.log_text()))
    }

    pub fn goto(&self, url: &str) {
        self.command("POST", "/url", Some(json!({ "url": url })));
    }

    /// Runs `script` (a function body: `return ...`) in the page.
    pub fn js(&self, script: &str) -> Value {
        let body = json!({"script": script, "args": []});
        self.command("POST", "/execute/sync", Some(body))
    }

    /// Waits until `script` returns something truthy; returns it.
    pub fn wait_for(&self, what: &str, within: Duration, script: &str) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let v = self.js(script);
            if !(v.is_null() || v == json!(false) || v == json!("") || v == json!(0)) {
                return v;
            }
            if Instant::now() >= deadline {
                let text = self.js("return document.body ? document.body.innerText : ''");
                panic!(
                    "{what}: not within {within:?}; the page shows:\n{}",
                    text.as_str().unwrap_or_default()
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// A Chrome DevTools command through chromedriver.
    fn cdp(&self, cmd: &str, params: Value) -> Value {
        let body = json!({"cmd": cmd, "params": params});
        self.command("POST", "/goog/cdp/execute", Some(body))
    }

    /// Lays the page out at `width` CSS pixels (a phone: 390), as tall as
    /// `height`.
    pub fn viewport(&self, width: u32, height: u32, mobile: bool) {
        let params =
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile});
        self.cdp("Emulation.setDeviceMetricsOverride", params);
    }

    /// A PNG of the whole page at `width` pixels wide, written to `path`.
    pub fn screenshot(&self, path: &Path, width: u32, mobile: bool) {
        self.viewport(width, 800, mobile);
        let height = self.js("return Math.ceil(document.documentElement.scrollHeight)");
        let height = height.as_u64().unwrap_or(1000).clamp(300, 6000) as u32;
        self.viewport(width, height, mobile);
        let png = self.command("GET", "/screenshot", None);
        let png = base64_decode(png.as_str().expect("base64 PNG"));
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        fs::write(path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            let _ = self.call("DELETE", &path, None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Standard base64, padding optional; panics on anything else.
pub fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text.bytes().filter(|c| *c != b'=').map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, d)| n | u32::from(*d) << (18 - 6 * i));
        out.extend(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}
