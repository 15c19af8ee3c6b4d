//! Routes each event to a handler chosen by its category, like the Python
//! SDK's "Routing by Event Category" pattern: plates, intrusions and faces
//! each get their own function; other categories (counting, metadata,
//! tracking) are ignored.
//!
//! ```text
//! cargo run --release --example route_by_category
//! cargo run --release --example route_by_category -- --port 5002
//! ```
//!
//! Exit status: runs until interrupted (Ctrl+C); 1 when the port cannot be
//! bound, 2 on a usage error.

use std::net::IpAddr;
use std::process::ExitCode;

use clap::Parser;
use viewtron::{Category, Event, Server};

/// Prints plates, intrusions and faces, each from a handler of its own.
#[derive(Parser)]
struct Args {
    /// TCP port to listen on
    #[arg(long, default_value_t = 5050)]
    port: u16,
}

fn handle_lpr(event: &Event, ip: IpAddr) {
    let plate = event.plate_number().unwrap_or("<no plate>");
    let group = event.plate_group().unwrap_or("not in a list");
    println!("Plate: {plate} ({group}) from {ip}");
}

fn handle_intrusion(event: &Event, ip: IpAddr) {
    println!("Intrusion: {} from {ip}", event.alarm_type());
}

fn handle_face(event: &Event, ip: IpAddr) {
    println!("Face detected from {ip} ({} face(s))", event.faces().len());
}

fn handle_event(event: Event, ip: IpAddr) {
    // `Category` is an enum: the compiler checks these names, where the
    // Python version looks handlers up in a dict by string. It is
    // `#[non_exhaustive]` (a later release may add categories), so the last
    // arm takes the rest.
    match event.category() {
        Category::Lpr => handle_lpr(&event, ip),
        Category::Intrusion => handle_intrusion(&event, ip),
        Category::Face => handle_face(&event, ip),
        _ => {} // counting, metadata, tracking, and any category added later
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match Server::builder()
        .port(args.port)
        .on_event(handle_event)
        .build()
    {
        Ok(server) => {
            server.serve_forever();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("route_by_category: {e}");
            ExitCode::FAILURE
        }
    }
}
