//! A sliding window of weighted events, to the second: one bucket per
//! second in which something counted, so memory follows the window's
//! length in seconds, not the number of events (a flood of probes costs
//! no more than a trickle).

use std::collections::VecDeque;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    second: i64,
    weight: i64,
    first_seq: u64,
    first_ts_us: i64,
}

#[derive(Debug, Default)]
pub struct Window {
    buckets: VecDeque<Bucket>,
    sum: i64,
    /// An alert opened for this window is open until then (µs).
    pub open_until_us: Option<i64>,
    /// The time of the last event counted (µs), to sweep idle windows.
    pub last_ts_us: i64,
}

impl Window {
    /// Counts `weight` at `ts_us` (event `seq`), forgets what is older than
    /// `window_us` before it, and returns the sum in the window.
    pub fn add(&mut self, ts_us: i64, seq: u64, weight: i64, window_us: i64) -> i64 {
        let second = ts_us.div_euclid(1_000_000);
        match self.buckets.back_mut() {
            Some(b) if b.second == second => b.weight = b.weight.saturating_add(weight),
            _ => self.buckets.push_back(Bucket {
                second,
                weight,
                first_seq: seq,
                first_ts_us: ts_us,
            }),
        }
        self.sum = self.sum.saturating_add(weight);
        self.last_ts_us = self.last_ts_us.max(ts_us);
        let oldest = ts_us.saturating_sub(window_us);
        while let Some(b) = self.buckets.front() {
            if b.first_ts_us >= oldest || self.buckets.len() == 1 {
                break;
            }
            self.sum -= b.weight;
            self.buckets.pop_front();
        }
        self.sum
    }

    /// The first event still in the window: (seq, time in µs).
    pub fn first(&self) -> (u64, i64) {
        self.buckets
            .front()
            .map_or((0, 0), |b| (b.first_seq, b.first_ts_us))
    }

    /// Whether nothing in it matters at `now_us` any more.
    pub fn idle(&self, now_us: i64, window_us: i64) -> bool {
        self.last_ts_us < now_us.saturating_sub(window_us)
            && self.open_until_us.is_none_or(|t| t <= now_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_within_the_window_only() {
        let mut w = Window::default();
        let s = 1_000_000;
        assert_eq!(w.add(10 * s, 1, 1, 60 * s), 1);
        assert_eq!(w.add(10 * s + 1, 2, 1, 60 * s), 2);
        assert_eq!(w.add(50 * s, 3, 1, 60 * s), 3);
        assert_eq!(w.first().0, 1);
        // 71 s: the events at 10 s are out of a 60 s window.
        assert_eq!(w.add(71 * s, 4, 1, 60 * s), 2);
        assert_eq!(w.first().0, 3);
        assert_eq!(w.add(200 * s, 5, 5, 60 * s), 5);
        assert!(!w.idle(200 * s, 60 * s));
        assert!(w.idle(261 * s, 60 * s));
    }

    #[test]
    fn a_flood_in_one_second_is_one_bucket() {
        let mut w = Window::default();
        for i in 0..100_000u64 {
            w.add(5_000_000 + i as i64, i, 1, 10_000_000);
        }
        assert_eq!(w.buckets.len(), 1);
        assert_eq!(w.sum, 100_000);
    }
}
