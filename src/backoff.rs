//! The one backoff policy: a delay that doubles from `initial_ms` after each
//! failure, capped at `max_ms`, spread by jitter so that many peers behind
//! one failed switch do not retry in step. The camera players, the live
//! event stream, command dispatch and the client's snapshot and still
//! fetches all wait with it; each picks its own numbers, none its own rule.
//! No clock and no sleeping here: callers wait the [`Duration`] it returns
//! (on whatever clock they run on).

use std::time::Duration;

use rand::Rng;

/// How a delay is spread around its base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// Exactly the base delay (tests, or a single peer).
    None,
    /// ±20% of the base.
    Spread,
    /// "Equal jitter": between half the base and all of it.
    Equal,
}

/// Exponential backoff with jitter. Count failures with
/// [`Backoff::next_delay`], start over with [`Backoff::reset`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub initial_ms: u64,
    /// The longest delay (before jitter).
    pub max_ms: u64,
    pub jitter: Jitter,
    attempt: u32,
}

impl Default for Backoff {
    /// 500 ms doubling to 10 s, ±20%: a camera stream's reconnect.
    fn default() -> Self {
        Self::new(500, 10_000, Jitter::Spread)
    }
}

impl Backoff {
    pub fn new(initial_ms: u64, max_ms: u64, jitter: Jitter) -> Self {
        Self {
            initial_ms,
            max_ms,
            jitter,
            attempt: 0,
        }
    }

    /// The number of failures so far.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The delay before jitter after `attempt` failures (1-based; 0 counts
    /// as 1): `initial_ms` doubled `attempt - 1` times, at most `max_ms`.
    pub fn base_ms_for(&self, attempt: u32) -> u64 {
        let doublings = attempt.saturating_sub(1).min(30);
        self.initial_ms
            .saturating_mul(1u64 << doublings)
            .min(self.max_ms)
    }

    /// The delay before jitter for the current failure count.
    pub fn base_ms(&self) -> u64 {
        self.base_ms_for(self.attempt)
    }

    /// The delay after `attempt` failures, with jitter, without counting.
    pub fn delay_for(&self, attempt: u32) -> Duration {
        let base = self.base_ms_for(attempt);
        let ms = match self.jitter {
            Jitter::None => base,
            Jitter::Equal if base < 2 => base,
            Jitter::Equal => rand::rng().random_range(base / 2..=base),
            Jitter::Spread => {
                let spread = base / 5;
                rand::rng().random_range(base - spread..=base.saturating_add(spread))
            }
        };
        Duration::from_millis(ms)
    }

    /// Counts one failure and returns how long to wait before the next try.
    pub fn next_delay(&mut self) -> Duration {
        self.attempt = self.attempt.saturating_add(1);
        self.delay_for(self.attempt)
    }

    /// Back to the first delay (after a success).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_cap_with_bounded_spread() {
        let mut b = Backoff::default();
        let mut bases = Vec::new();
        for _ in 0..8 {
            let d = b.next_delay().as_millis() as u64;
            let base = b.base_ms();
            assert!(d >= base * 8 / 10 && d <= base * 12 / 10, "{d} vs {base}");
            bases.push(base);
        }
        assert_eq!(bases, [500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
        assert_eq!(b.attempt(), 8);
        b.reset();
        assert_eq!(b.attempt(), 0);
        let d = b.next_delay().as_millis() as u64;
        assert!((400..=600).contains(&d));
    }

    #[test]
    fn equal_jitter_stays_between_half_and_all() {
        let b = Backoff::new(250, 5_000, Jitter::Equal);
        let got: Vec<u64> = (1..=7).map(|a| b.base_ms_for(a)).collect();
        assert_eq!(got, vec![250, 500, 1000, 2000, 4000, 5000, 5000]);
        assert_eq!(b.base_ms_for(u32::MAX), 5000);
        assert_eq!(b.base_ms_for(0), 250);
        for a in 1..10 {
            let d = b.delay_for(a).as_millis() as u64;
            assert!(
                d >= b.base_ms_for(a) / 2 && d <= b.base_ms_for(a),
                "{a}: {d}"
            );
        }
        // Tiny delays are not jittered to zero.
        assert_eq!(
            Backoff::new(1, 1, Jitter::Equal).delay_for(3).as_millis(),
            1
        );
    }

    #[test]
    fn no_jitter_is_exact_and_huge_values_saturate() {
        let b = Backoff::new(300, 10_000, Jitter::None);
        assert_eq!(b.delay_for(1), Duration::from_millis(300));
        assert_eq!(b.delay_for(2), Duration::from_millis(600));
        let huge = Backoff::new(u64::MAX / 2, u64::MAX, Jitter::Spread);
        assert!(huge.delay_for(40) >= Duration::from_millis(u64::MAX / 2));
    }
}
