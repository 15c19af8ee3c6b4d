//! The cameras the bridge knows, kept across restarts in
//! `<state_dir>/cameras.json`: for each camera address, the camera ids (with
//! the vendor's camera name, which makes the device's name) that its events
//! were published under, and when it last posted.
//!
//! Why a file: a keepalive says nothing of the camera id (often not even a
//! name), so after a restart the bridge could not tell whose "still here"
//! it is until the camera's next event, which may be days away. The file is
//! read before the broker is connected, whatever the broker keeps (a
//! mosquitto without persistence forgets every retained message when it
//! restarts), and is written atomically (a temporary file renamed over it).
//! A file that cannot be read or written is a warning, never a stop: the
//! bridge then learns the names again from events.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// One camera id an address has posted as (an HA device).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub id: String,
    /// The vendor's camera name (`null` for an unnamed IP camera).
    pub name: Option<String>,
    /// Made up from a keepalive (no event yet): replaced by the first event's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub provisional: bool,
}

/// What the file keeps of one address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Known {
    /// Oldest first; a provisional device, if any, alone.
    pub devices: Vec<Device>,
    /// Unix seconds of its latest post.
    pub last_seen: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct FileFormat {
    version: u32,
    cameras: BTreeMap<IpAddr, Known>,
}

/// The state file, or none (connectivity without memory).
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    /// The last error logged, so a persistent one is logged once.
    last_error: Option<String>,
}

impl Store {
    pub fn new(dir: &Path) -> Store {
        Store {
            path: dir.join("cameras.json"),
            last_error: None,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the file holds; empty (and a warning) when it cannot be read.
    pub fn load(&self) -> BTreeMap<IpAddr, Known> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return BTreeMap::new(),
            Err(e) => {
                log::warn!("cannot read {}: {e}", self.path.display());
                return BTreeMap::new();
            }
        };
        match serde_json::from_str::<FileFormat>(&text) {
            Ok(file) => file.cameras,
            Err(e) => {
                log::warn!(
                    "{}: not a camera list ({e}); starting without it",
                    self.path.display()
                );
                BTreeMap::new()
            }
        }
    }

    /// Writes `cameras` (atomically); a failure is logged once per cause.
    pub fn save(&mut self, cameras: BTreeMap<IpAddr, Known>) {
        let file = FileFormat {
            version: 1,
            cameras,
        };
        let result = self.write(&file);
        match result {
            Ok(()) => {
                if self.last_error.take().is_some() {
                    log::info!("camera list saved again to {}", self.path.display());
                }
            }
            Err(e) => {
                let e = e.to_string();
                if self.last_error.as_deref() != Some(e.as_str()) {
                    log::warn!(
                        "cannot save the camera list to {}: {e} (set state_dir to a writable folder; \
                         until then a restart forgets which camera a keepalive comes from)",
                        self.path.display()
                    );
                    self.last_error = Some(e);
                }
            }
        }
    }

    fn write(&self, file: &FileFormat) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let text = serde_json::to_vec_pretty(file).map_err(std::io::Error::other)?;
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &self.path)
    }
}

/// Unix seconds.
pub fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Back from Unix seconds.
pub fn from_unix(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bad_files() {
        let dir = std::env::temp_dir().join(format!("viewtron-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut store = Store::new(&dir.join("sub"));
        assert!(store.load().is_empty());
        let mut cameras = BTreeMap::new();
        cameras.insert(
            "192.168.1.20".parse().unwrap(),
            Known {
                devices: vec![Device {
                    id: "gate_192_168_1_20".into(),
                    name: Some("Gate".into()),
                    provisional: false,
                }],
                last_seen: 1_800_000_000,
            },
        );
        store.save(cameras.clone());
        assert_eq!(store.load(), cameras);
        let text = std::fs::read_to_string(store.path()).unwrap();
        assert!(text.contains("\"version\": 1"), "{text}");
        assert!(!text.contains("provisional"), "{text}");
        std::fs::write(store.path(), "not json").unwrap();
        assert!(store.load().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
