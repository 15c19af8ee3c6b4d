//! The page's bounds, in one place, and the memory they add up to.
//!
//! A leaf: the store, the JSON and the tests read these; nothing here
//! imports from the rest of the page.

/// Events kept, newest last: what the page's "Latest events" shows.
pub const MAX_EVENTS: usize = 20;

/// Pictures kept per event: the overview and the plate/target picture.
pub const PICTURES_PER_EVENT: usize = 2;

/// A picture larger than this (decoded bytes) is not kept; the event says so.
pub const MAX_PICTURE: usize = 512 * 1024;

/// Camera addresses the page keeps its own counts for; posts from further
/// addresses are counted together (`untracked`).
pub const MAX_CAMERAS: usize = 1000;

/// Camera ids kept per address (an NVR posts one per channel).
pub const MAX_IDS: usize = 16;

/// Any text the page keeps (camera id, name, plate, smart type...) is cut
/// to this many bytes.
pub const MAX_TEXT: usize = 128;

/// Text fields per kept event (id, name, smart type, plate, plate status,
/// detail), and notes per event (one per dropped picture at most).
pub const TEXTS_PER_EVENT: usize = 6 + PICTURES_PER_EVENT;

/// Allowance per kept event besides its pictures and texts: the struct,
/// its `Arc`, the deque slot and the allocator's rounding.
pub const EVENT_OVERHEAD: usize = 512;

/// Allowance per tracked camera besides its texts: the map entry, the
/// counts by category (a handful of `(&str, u64)` in a `BTreeMap` node),
/// the ids' `Vec` and the allocator's rounding.
pub const CAMERA_OVERHEAD: usize = 768;

/// Upper bound, in bytes, of everything the page keeps: the pictures
/// (20 × 2 × 512 KiB = 20 MiB), the events' texts and the cameras'
/// (1,000 × (16 + 1) × 128 B + overheads): 23,946,240 bytes, under 23 MiB.
/// The store's unit tests check the overheads against the real sizes.
pub const MEMORY_BOUND: usize = MAX_EVENTS
    * (PICTURES_PER_EVENT * MAX_PICTURE + TEXTS_PER_EVENT * MAX_TEXT + EVENT_OVERHEAD)
    + MAX_CAMERAS * ((MAX_IDS + 1) * MAX_TEXT + CAMERA_OVERHEAD);

/// How often the page asks for news, unless its address says `?poll=MS`.
pub const POLL_MS: u64 = 2000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_is_what_the_docs_say() {
        assert_eq!(MEMORY_BOUND, 23_946_240);
        assert_eq!(MEMORY_BOUND >> 20, 22, "22.8 MiB: under 23 MiB");
    }
}
