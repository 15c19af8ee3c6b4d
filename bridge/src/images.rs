//! Saved event images (`save_images`), named as the vendor names them, and
//! kept in bounds (`image_retention_days`, `image_max_mb`).
//!
//! The vendor writes `<YYYYmmdd_HHMMSS>_<event type>_<overview|target>.jpg`
//! (local wall-clock time) into `images/` and puts the absolute path in the
//! payload. Its files never go away, and two events of one type within a
//! second overwrite each other. Here the names are the same, a second file
//! within the same second gets `_2`, `_3`… instead of overwriting, and a
//! sweeper thread deletes the oldest files past the age or size limit.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{bounded, Receiver, Sender};

/// How often the sweeper looks, at least (it also runs shortly after saves).
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Outcomes, for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    pub saved: AtomicU64,
    pub failed: AtomicU64,
    pub deleted: AtomicU64,
}

/// Limits for the image folder.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    pub max_age: Option<Duration>,
    pub max_bytes: Option<u64>,
}

/// The image folder.
pub struct Images {
    dir: PathBuf,
    counters: Arc<Counters>,
    /// Wakes the sweeper after a save (capacity 1: one wake-up is enough).
    wake: Option<Sender<()>>,
    stop: Arc<AtomicBool>,
    sweeper: Mutex<Option<JoinHandle<()>>>,
    /// Serialises choosing a free name and creating the file.
    naming: Mutex<()>,
}

impl std::fmt::Debug for Images {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Images")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Images {
    /// Creates the folder if needed and starts the sweeper when a limit is set.
    pub fn start(dir: PathBuf, limits: Limits) -> std::io::Result<Images> {
        fs::create_dir_all(&dir)?;
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (wake, sweeper) = if limits.max_age.is_some() || limits.max_bytes.is_some() {
            let (tx, rx) = bounded(1);
            let (dir, counters, stop) = (dir.clone(), counters.clone(), stop.clone());
            let t = std::thread::Builder::new()
                .name("image-sweeper".into())
                .spawn(move || sweeper(&dir, limits, &rx, &counters, &stop))?;
            (Some(tx), Some(t))
        } else {
            (None, None)
        };
        Ok(Images {
            dir,
            counters,
            wake,
            stop,
            sweeper: Mutex::new(sweeper),
            naming: Mutex::new(()),
        })
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Writes one picture (`kind` is `overview` or `target`); its absolute
    /// path, or `None` when it could not be written (logged).
    pub fn save(&self, event_type: &str, kind: &str, bytes: &[u8]) -> Option<String> {
        let stamp = jiff::ZonedDateTime::now()
            .strftime("%Y%m%d_%H%M%S")
            .to_string();
        // The event type comes from the camera: keep it to a safe file name.
        let event_type: String = event_type
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let base = format!("{stamp}_{event_type}_{kind}");
        let written = {
            let _naming = self.naming.lock().unwrap_or_else(|e| e.into_inner());
            (1..1000).find_map(|n| {
                let name = if n == 1 {
                    format!("{base}.jpg")
                } else {
                    format!("{base}_{n}.jpg")
                };
                let path = self.dir.join(name);
                match fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                {
                    Ok(file) => Some(Ok((path, file))),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => None,
                    Err(e) => Some(Err(e)),
                }
            })
        };
        let result = match written {
            Some(Ok((path, mut file))) => file.write_all(bytes).map(|()| path),
            Some(Err(e)) => Err(e),
            None => Err(std::io::Error::other("no free file name")),
        };
        match result {
            Ok(path) => {
                self.counters.saved.fetch_add(1, Ordering::Relaxed);
                if let Some(wake) = &self.wake {
                    let _ = wake.try_send(());
                }
                Some(path.to_string_lossy().into_owned())
            }
            Err(e) => {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                log::warn!("image save failed ({kind}) in {}: {e}", self.dir.display());
                None
            }
        }
    }

    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self
            .sweeper
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            let _ = t.join();
        }
    }
}

fn sweeper(
    dir: &Path,
    limits: Limits,
    wake: &Receiver<()>,
    counters: &Counters,
    stop: &AtomicBool,
) {
    let mut next = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        if Instant::now() >= next {
            sweep(dir, limits, counters);
            next = Instant::now() + SWEEP_EVERY;
        }
        // A save wakes us; sweep at most once a second after saves.
        if wake.recv_timeout(Duration::from_millis(250)).is_ok() {
            next = next.min(Instant::now() + Duration::from_secs(1));
        }
    }
}

/// Deletes `.jpg` files older than the age limit, then the oldest until the
/// folder's `.jpg` files fit the size limit.
pub fn sweep(dir: &Path, limits: Limits, counters: &Counters) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(SystemTime, u64, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "jpg"))
        .filter_map(|e| {
            let meta = e.metadata().ok().filter(|m| m.is_file())?;
            Some((
                meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                meta.len(),
                e.path(),
            ))
        })
        .collect();
    files.sort();
    let now = SystemTime::now();
    let mut total: u64 = files.iter().map(|f| f.1).sum();
    for (modified, len, path) in files {
        let too_old = limits
            .max_age
            .is_some_and(|age| now.duration_since(modified).is_ok_and(|d| d > age));
        let too_big = limits.max_bytes.is_some_and(|max| total > max);
        if !(too_old || too_big) {
            // Sorted oldest first: nothing newer is too old, and the size fits.
            break;
        }
        match fs::remove_file(&path) {
            Ok(()) => {
                total -= len;
                counters.deleted.fetch_add(1, Ordering::Relaxed);
                log::debug!(
                    "deleted {} ({})",
                    path.display(),
                    if too_old {
                        "too old"
                    } else {
                        "over the size limit"
                    }
                );
            }
            Err(e) => log::warn!("cannot delete {}: {e}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("viewtron-bridge-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn same_second_files_never_overwrite_each_other() {
        let dir = scratch("names");
        let images = Images::start(dir.clone(), Limits::default()).unwrap();
        let a = images.save("VEHICE", "overview", b"one").unwrap();
        let b = images.save("VEHICE", "overview", b"two").unwrap();
        assert_ne!(a, b);
        assert_eq!(fs::read(&a).unwrap(), b"one");
        assert_eq!(fs::read(&b).unwrap(), b"two");
        assert!(Path::new(&a).is_absolute() || !dir.is_absolute());
        let evil = images.save("../../etc/x", "target", b"z").unwrap();
        assert!(Path::new(&evil).parent().unwrap() == dir, "{evil}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn sweep_deletes_the_old_then_the_oldest_over_size() {
        let dir = scratch("sweep");
        let old = dir.join("old.jpg");
        fs::write(&old, [0u8; 10]).unwrap();
        let f = fs::File::options().write(true).open(&old).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(3 * 86_400))
            .unwrap();
        for (i, name) in ["a.jpg", "b.jpg", "c.jpg"].iter().enumerate() {
            let p = dir.join(name);
            fs::write(&p, [0u8; 100]).unwrap();
            let f = fs::File::options().write(true).open(&p).unwrap();
            f.set_modified(SystemTime::now() - Duration::from_secs(100 - i as u64))
                .unwrap();
        }
        fs::write(dir.join("notes.txt"), [0u8; 1000]).unwrap();
        let counters = Counters::default();
        let limits = Limits {
            max_age: Some(Duration::from_secs(86_400)),
            max_bytes: Some(250),
        };
        sweep(&dir, limits, &counters);
        assert!(!old.exists());
        assert!(!dir.join("a.jpg").exists(), "the oldest goes first");
        assert!(dir.join("b.jpg").exists() && dir.join("c.jpg").exists());
        assert!(dir.join("notes.txt").exists(), "only .jpg files are ours");
        assert_eq!(counters.deleted.load(Ordering::Relaxed), 2);
        fs::remove_dir_all(dir).unwrap();
    }
}
