//! A camera's posts are delivered in the order they arrived.
//!
//! Workers answer a post as soon as its body is read and then parse and
//! deliver it, so the camera's next post can be answered and taken by
//! another worker while the first is still being delivered. Without an
//! order, two posts a camera sends milliseconds apart could reach the
//! callbacks (and the events channel) swapped, and whatever the program
//! keeps as "the latest" (a retained plate in Home Assistant, say) would be
//! the older one. Measured before this module: the bridge published a
//! camera's two plates in swapped order in one of three runs of the real
//! Home Assistant comparison.
//!
//! Each post takes a [`Turn`] from its camera's address when its body is
//! complete, before it is answered (so the camera's next post, which it
//! sends only after that answer, takes a later turn), and waits for the
//! turns before it only *after* its answer: no camera waits longer for an
//! answer. A turn is given up when dropped, delivered or not, in order.
//! Different addresses never wait for each other.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Condvar, Mutex};

/// Turns per camera address.
#[derive(Debug, Default)]
pub(crate) struct Order {
    /// Per address: the next turn to hand out and the turn being served.
    /// An address is removed when every turn it handed out is done, so the
    /// map holds only addresses with posts in progress.
    turns: Mutex<HashMap<IpAddr, Counter>>,
    changed: Condvar,
}

#[derive(Debug, Clone, Copy)]
struct Counter {
    next: u64,
    serving: u64,
}

/// One post's place in its camera's order; given up on drop.
#[derive(Debug)]
pub(crate) struct Turn<'a> {
    order: &'a Order,
    ip: IpAddr,
    number: u64,
    /// Waited for (and so now being served).
    reached: bool,
}

impl Order {
    /// The next turn for `ip`.
    pub fn take(&self, ip: IpAddr) -> Turn<'_> {
        let mut turns = self.turns.lock().unwrap_or_else(|e| e.into_inner());
        let counter = turns.entry(ip).or_insert(Counter {
            next: 0,
            serving: 0,
        });
        let number = counter.next;
        counter.next += 1;
        Turn {
            order: self,
            ip,
            number,
            reached: false,
        }
    }
}

impl Turn<'_> {
    /// Waits until every earlier turn of this address is done.
    pub fn wait(&mut self) {
        let order = self.order;
        let mut turns = order.turns.lock().unwrap_or_else(|e| e.into_inner());
        while turns
            .get(&self.ip)
            .is_some_and(|c| c.serving != self.number)
        {
            turns = order.changed.wait(turns).unwrap_or_else(|e| e.into_inner());
        }
        self.reached = true;
    }
}

impl Drop for Turn<'_> {
    /// Gives the turn up: after the earlier ones, so the order holds even
    /// for a post that was never delivered.
    fn drop(&mut self) {
        if !self.reached {
            self.wait();
        }
        let mut turns = self.order.turns.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(counter) = turns.get_mut(&self.ip) {
            counter.serving += 1;
            if counter.serving == counter.next {
                turns.remove(&self.ip);
            }
        }
        drop(turns);
        self.order.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn later_turns_wait_for_earlier_ones_of_the_same_address_only() {
        let order = Arc::new(Order::default());
        let done = Arc::new(Mutex::new(Vec::new()));
        std::thread::scope(|s| {
            // Turns taken in order 0..8, served by threads started in reverse
            // order, each slower the earlier its turn.
            let turns: Vec<_> = (0..8).map(|n| (n, order.take(ip(1)))).collect();
            for (n, mut turn) in turns.into_iter().rev() {
                let done = done.clone();
                s.spawn(move || {
                    std::thread::sleep(Duration::from_millis(8 - n));
                    turn.wait();
                    done.lock().unwrap().push(n);
                });
            }
            // Another address is never held up by the first.
            let mut other = order.take(ip(2));
            other.wait();
        });
        assert_eq!(*done.lock().unwrap(), (0..8).collect::<Vec<_>>());
        assert!(
            order.turns.lock().unwrap().is_empty(),
            "every address removed"
        );
    }

    #[test]
    fn a_turn_dropped_without_waiting_keeps_the_order() {
        let order = Order::default();
        let first = order.take(ip(1));
        let mut second = order.take(ip(1));
        drop(first); // never delivered (not answered, say)
        second.wait();
        drop(second);
        assert!(order.turns.lock().unwrap().is_empty());
    }
}
