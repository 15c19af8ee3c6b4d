//! Golden tests: a fixture parsed and its dump (see `dump.rs`) compared
//! with the expected text. `tests/parse.rs` and `tests/lpr.rs` hold one
//! `golden!` test per fixture; `parse.rs` checks that none is missing.

use viewtron::Post;

use super::dump::dump;
use super::post;

/// Parses the fixture and compares its dump with `expected` (written with a
/// leading newline so the lines line up in the source).
pub fn check(name: &str, expected: &str) -> Post {
    let post = post(name);
    assert_eq!(dump(&post), expected.trim_start_matches('\n'), "{name}");
    post
}

/// One `#[test]` per fixture: `test_name: "file.xml" => "expected dump";`
#[allow(unused_macros)] // only the golden-test crates use it
macro_rules! golden {
    ($($(#[$meta:meta])* $test:ident: $file:literal => $expected:literal;)*) => {$(
        $(#[$meta])*
        #[test]
        fn $test() {
            $crate::support::golden::check($file, $expected);
        }
    )*};
}
