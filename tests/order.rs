//! The threat to a program's state: a camera's posts delivered out of order,
//! so that what it keeps as the latest plate is an older one. A camera posts
//! back to back on one keep-alive connection (each post waits for its
//! answer, as cameras do) while the callback takes longer for some posts
//! than others: every post must reach the callback in the order it was
//! sent, and another camera's posts must not wait for this one's.

mod common;

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use viewtron::Server;

fn plate_post(plate: &str) -> String {
    LPR_V1.replace("TST 042", plate)
}

#[test]
fn a_cameras_posts_reach_the_callback_in_the_order_it_sent_them() {
    const POSTS: usize = 40;
    let seen: Arc<Mutex<Vec<(IpAddr, String)>>> = Arc::default();
    let record = seen.clone();
    let server = Server::builder()
        .bind("127.0.0.1".parse().unwrap())
        .port(0)
        .workers(4)
        .on_event(move |event, ip| {
            let plate = event.plate_number().unwrap_or("-").to_owned();
            // Every even post is slow to handle: without an order, the odd
            // one after it overtakes it.
            let n: usize = plate.trim_start_matches("P").parse().unwrap_or(0);
            if n % 2 == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
            record.lock().unwrap().push((ip, plate));
        })
        .build()
        .unwrap();
    let addr = server.local_addr();
    let camera: IpAddr = "127.0.0.2".parse().unwrap();
    let mut cam = Camera::connect_from(addr, camera);
    for n in 0..POSTS {
        assert_success(&cam.post("/API", &plate_post(&format!("P{n}"))));
    }
    // Another camera meanwhile: delivered without waiting for the first's
    // queue (its one post is in, long before the first camera's 40 are).
    let other: IpAddr = "127.0.0.3".parse().unwrap();
    let mut second = Camera::connect_from(addr, other);
    assert_success(&second.post("/API", &plate_post("OTHER")));
    let deadline = Instant::now() + TIMEOUT;
    while seen.lock().unwrap().len() < POSTS + 1 {
        assert!(
            Instant::now() < deadline,
            "not all delivered: {:?}",
            seen.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let plates: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(ip, _)| *ip == camera)
        .map(|(_, p)| p.clone())
        .collect();
    let sent: Vec<String> = (0..POSTS).map(|n| format!("P{n}")).collect();
    assert_eq!(plates, sent, "delivered in the order sent");
    server.shutdown();
}
