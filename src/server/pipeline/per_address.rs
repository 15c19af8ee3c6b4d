//! Per-address fairness: how many requests one camera address may have in
//! progress at once (the admission checks themselves are in `admit`).
//!
//! A request is *in progress* from the moment a worker takes it until its
//! answer is written: that is the time a slow client can hold a worker.
//! Delivery to the callbacks comes after the answer and is not counted, so a
//! slow callback never makes a camera's next post look like a flood. A camera
//! posts one request at a time on one connection, an NVR a few; a client
//! over the cap is refused before a worker commits to its body, so one
//! address can never hold more than the cap's worth of workers, however many
//! connections it opens. Behind a trusted proxy the address is the camera's
//! (see `forwarded`), so cameras behind the same proxy do not share a cap.
//!
//! The table holds only addresses with a request in progress: its size is
//! bounded by the number of workers.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Counts requests in progress per address, against one cap.
#[derive(Debug)]
pub(crate) struct PerAddress {
    cap: usize,
    in_progress: Mutex<HashMap<IpAddr, usize>>,
}

/// A request admitted; dropping it ends the request's count.
#[derive(Debug)]
pub(crate) struct Ticket<'a> {
    admission: &'a PerAddress,
    ip: IpAddr,
}

impl PerAddress {
    pub fn new(cap: usize) -> PerAddress {
        PerAddress {
            cap,
            in_progress: Mutex::new(HashMap::new()),
        }
    }

    /// Admits one more request from `ip`, unless it already has `cap` in
    /// progress.
    pub fn enter(&self, ip: IpAddr) -> Option<Ticket<'_>> {
        let mut table = self.in_progress.lock().unwrap_or_else(|e| e.into_inner());
        let count = table.entry(ip).or_insert(0);
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(Ticket {
            admission: self,
            ip,
        })
    }

    /// Requests in progress from every address together.
    pub fn total(&self) -> usize {
        let table = self.in_progress.lock().unwrap_or_else(|e| e.into_inner());
        table.values().sum()
    }

    /// Requests in progress from `ip`.
    #[cfg(test)]
    fn count(&self, ip: IpAddr) -> usize {
        let table = self.in_progress.lock().unwrap_or_else(|e| e.into_inner());
        table.get(&ip).copied().unwrap_or(0)
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut table = self
            .admission
            .in_progress
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(count) = table.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                table.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_its_cap_and_no_more() {
        let admission = PerAddress::new(2);
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let first = admission.enter(a).unwrap();
        let second = admission.enter(a).unwrap();
        assert!(admission.enter(a).is_none(), "the third is refused");
        // Another address is not affected.
        let other = admission.enter(b).unwrap();
        assert_eq!(admission.count(b), 1);
        drop(first);
        let third = admission
            .enter(a)
            .expect("a finished request frees its place");
        drop((second, third, other));
        assert_eq!(admission.count(a), 0);
        assert!(admission.in_progress.lock().unwrap().is_empty());
    }
}
