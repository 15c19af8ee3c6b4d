//! Saves the pictures of licence plate events to disk, like the Python SDK's
//! "Saving Images to Disk" pattern: the overview as
//! `captures/<plate>_full.jpg` and the plate crop as `captures/<plate>_crop.jpg`.
//!
//! ```text
//! cargo run --release --example save_images
//! cargo run --release --example save_images -- --port 5002 --dir /srv/captures
//! ```
//!
//! The plate text is made safe for a file name (letters, digits and `-` are
//! kept, anything else becomes `_`); an event without a plate is saved as
//! `noplate_<camera time in µs>` or, without a time, `noplate_<counter>`. A
//! plate seen again overwrites its files, as in the SDK. Each file is written
//! under a temporary name and then renamed, so a reader never sees half an
//! image. Images whose base64 is invalid are reported on standard error and
//! skipped.
//!
//! Exit status: runs until interrupted (Ctrl+C); 1 when the port cannot be
//! bound or the directory cannot be created, 2 on a usage error.

use std::fs;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use clap::Parser;
use viewtron::{Category, Event, ImageError, Server};

/// Saves the pictures of licence plate events to DIR.
#[derive(Parser)]
struct Args {
    /// TCP port to listen on
    #[arg(long, default_value_t = 5050)]
    port: u16,
    /// where the pictures go (created if missing)
    #[arg(long, default_value = "captures")]
    dir: PathBuf,
}

/// Where images go, and a counter for names that need one.
struct Captures {
    dir: PathBuf,
    counter: AtomicU64,
}

impl Captures {
    fn handle_event(&self, event: &Event, ip: IpAddr) {
        if event.category() != Category::Lpr {
            return;
        }
        let name = self.file_stem(event);
        println!(
            "[lpr] {} from {ip}: saving {}",
            event.plate_number().unwrap_or("<no plate>"),
            self.dir.join(format!("{name}_*.jpg")).display()
        );
        self.save(event.source_image_bytes(), &name, "full", ip);
        self.save(event.target_image_bytes(), &name, "crop", ip);
    }

    /// A file name stem: the sanitised plate, or a stand-in.
    fn file_stem(&self, event: &Event) -> String {
        let plate: String = event
            .plate_number()
            .unwrap_or("")
            .trim()
            .chars()
            .take(64)
            .map(|c| {
                if c.is_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if plate.chars().any(|c| c != '_') {
            plate
        } else if let Some(us) = event.time_us() {
            format!("noplate_{us}")
        } else {
            format!("noplate_{}", self.counter.fetch_add(1, Ordering::Relaxed))
        }
    }

    fn save(&self, image: Option<Result<Vec<u8>, ImageError>>, name: &str, kind: &str, ip: IpAddr) {
        let path = self.dir.join(format!("{name}_{kind}.jpg"));
        match image {
            None => {} // this post had no such picture
            Some(Err(e)) => eprintln!("save_images: {kind} image from {ip} not saved: {e}"),
            Some(Ok(bytes)) => {
                if let Err(e) = self.write(&path, &bytes) {
                    eprintln!("save_images: cannot write {}: {e}", path.display());
                }
            }
        }
    }

    /// Writes to a temporary file beside `path`, then renames it into place.
    fn write(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let tmp = path.with_extension(format!("jpg.{}.{n}.tmp", std::process::id()));
        fs::write(&tmp, bytes)?;
        fs::rename(&tmp, path).inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = fs::create_dir_all(&args.dir) {
        eprintln!("save_images: cannot create {}: {e}", args.dir.display());
        return ExitCode::FAILURE;
    }
    let captures = Arc::new(Captures {
        dir: args.dir,
        counter: AtomicU64::new(0),
    });
    let server = Server::builder()
        .port(args.port)
        .on_event(move |event, ip| captures.handle_event(&event, ip))
        .build();
    match server {
        Ok(server) => {
            server.serve_forever();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("save_images: {e}");
            ExitCode::FAILURE
        }
    }
}
