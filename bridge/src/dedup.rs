//! Repeat plates (`dedup_seconds`): a car waiting at a gate is read again and
//! again; publishing each read re-triggers automations. With a window set,
//! a plate from a camera is forwarded once, then not again until the window
//! has passed since it was last forwarded. Off by default, as the vendor.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries kept before old ones are pruned.
const PRUNE_AT: usize = 10_000;

/// Last forwarding time per (camera id, plate).
#[derive(Debug)]
pub struct Dedup {
    window: Duration,
    seen: Mutex<HashMap<(String, String), Instant>>,
}

impl Dedup {
    pub fn new(window: Duration) -> Dedup {
        Dedup {
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// `true` when this plate was forwarded from this camera within the
    /// window (skip it); otherwise records it as forwarded now.
    pub fn is_repeat(&self, camera_id: &str, plate: &str) -> bool {
        self.is_repeat_at(camera_id, plate, Instant::now())
    }

    fn is_repeat_at(&self, camera_id: &str, plate: &str, now: Instant) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let key = (camera_id.to_owned(), plate.to_owned());
        if seen
            .get(&key)
            .is_some_and(|t| now.duration_since(*t) < self.window)
        {
            return true;
        }
        if seen.len() >= PRUNE_AT {
            let window = self.window;
            seen.retain(|_, t| now.duration_since(*t) < window);
        }
        seen.insert(key, now);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plate_repeats_only_within_the_window_per_camera() {
        let d = Dedup::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(!d.is_repeat_at("gate", "AB12", t0));
        assert!(d.is_repeat_at("gate", "AB12", t0 + Duration::from_secs(9)));
        assert!(
            !d.is_repeat_at("yard", "AB12", t0 + Duration::from_secs(9)),
            "another camera"
        );
        assert!(
            !d.is_repeat_at("gate", "CD34", t0 + Duration::from_secs(9)),
            "another plate"
        );
        // Measured from when it was last forwarded, not last seen.
        assert!(!d.is_repeat_at("gate", "AB12", t0 + Duration::from_secs(10)));
    }

    #[test]
    fn memory_stays_bounded() {
        let d = Dedup::new(Duration::from_secs(1));
        let t0 = Instant::now();
        for i in 0..PRUNE_AT {
            d.is_repeat_at("c", &i.to_string(), t0);
        }
        d.is_repeat_at("c", "late", t0 + Duration::from_secs(5));
        assert_eq!(d.seen.lock().unwrap().len(), 1);
    }
}
