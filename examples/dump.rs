//! Parses saved camera posts and prints each as one line of JSON.
//!
//! ```text
//! cargo run --release --example dump -- FILE...
//! cargo run --release --example dump -- posts/*.xml > events.jsonl
//! curl -s … | cargo run --release --example dump -- -
//! ```
//!
//! Each FILE is one post body (`-` reads standard input). For each, in order,
//! the example prints one JSON object on one line: `"file"` (the path as given)
//! followed by the post's keys in the crate's JSON shape (`"kind"`, …; see the
//! crate docs, section "JSON output"). A file that cannot be read or parsed gives
//! `{"file": …, "kind": "error", "error": "<message>"}` instead, and the
//! example carries on.
//!
//! Exit status: 0 when every input was processed (parse errors included),
//! 1 when standard output cannot be written, 2 on a usage error (no FILE).
//! The dev-dependency on the crate itself turns on the `serde` feature, so no
//! `--features` flag is needed.

use std::ffi::OsString;
use std::io::{self, BufWriter, Read, Write};
use std::process::ExitCode;

const USAGE: &str = "usage: dump FILE...   (one post body per FILE, `-` for stdin)";

fn main() -> ExitCode {
    let files: Vec<OsString> = std::env::args_os().skip(1).collect();
    if files.iter().any(|f| f == "-h" || f == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if files.is_empty() {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    match dump(&files) {
        Ok(()) => ExitCode::SUCCESS,
        // `dump … | head` closes the pipe early: not worth a complaint.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dump: cannot write output: {e}");
            ExitCode::FAILURE
        }
    }
}

fn dump(files: &[OsString]) -> io::Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    for file in files {
        let name = file.to_string_lossy();
        let line = match read(file) {
            Err(e) => error_line(&name, &format!("cannot read {name}: {e}")),
            Ok(body) => match viewtron::parse(body) {
                Err(e) => error_line(&name, &e.to_string()),
                Ok(post) => post_line(&name, &post),
            },
        };
        writeln!(out, "{line}")?;
    }
    out.flush()
}

fn read(file: &OsString) -> io::Result<Vec<u8>> {
    if file == "-" {
        let mut body = Vec::new();
        io::stdin().lock().read_to_end(&mut body)?;
        Ok(body)
    } else {
        std::fs::read(file)
    }
}

/// `{"file":…,` followed by the post's own keys, in their documented order.
fn post_line(file: &str, post: &viewtron::Post) -> String {
    let post = serde_json::to_string(post).expect("a post always serialises");
    // A post is always a non-empty JSON object: splice "file" in front of its keys.
    let keys = post
        .strip_prefix('{')
        .expect("a post serialises to an object");
    format!("{{\"file\":{},{keys}", quote(file))
}

fn error_line(file: &str, error: &str) -> String {
    format!(
        "{{\"file\":{},\"kind\":\"error\",\"error\":{}}}",
        quote(file),
        quote(error)
    )
}

/// A JSON string literal.
fn quote(text: &str) -> String {
    serde_json::to_string(text).expect("a string always serialises")
}
