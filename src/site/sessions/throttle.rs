//! Sign-in under load: a bounded number of password checks at once (each
//! argon2 check holds about 19 MiB), waited for in a short queue, and a
//! backoff per user name and per source address after failed sign-ins, on
//! the site's clock. The table of failures is capped; the entry with the
//! oldest failure goes first.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::backoff::{Backoff, Jitter};
use crate::site::env::Clock;

/// The numbers of the sign-in throttle.
#[derive(Debug, Clone)]
pub struct SignInLimits {
    /// Password checks running at once.
    pub checks_at_once: usize,
    /// The longest wait for a check's turn before answering 429.
    pub queue_wait: Duration,
    /// Failures of one user name or address before a backoff starts.
    pub free_failures: u32,
    /// The wait after each further failure: doubling, capped, no jitter
    /// (the wait is announced in `Retry-After`).
    pub backoff: Backoff,
    /// A name or address with no failure for this long starts afresh.
    pub forget_after: Duration,
    /// The most names and addresses remembered.
    pub max_entries: usize,
}

impl Default for SignInLimits {
    /// 3 checks at once, 1 s in the queue; 5 free failures, then 1 s
    /// doubling to 5 min; forgotten after 15 min; 10,000 entries.
    fn default() -> Self {
        SignInLimits {
            checks_at_once: 3,
            queue_wait: Duration::from_secs(1),
            free_failures: 5,
            backoff: Backoff::new(1_000, 300_000, Jitter::None),
            forget_after: Duration::from_secs(15 * 60),
            max_entries: 10_000,
        }
    }
}

/// Who a backoff is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    User(String),
    Address(String),
}

impl Subject {
    /// The audit target: `user:<name>` or `address:<ip>`.
    pub fn target(&self) -> String {
        match self {
            Subject::User(name) => format!("user:{name}"),
            Subject::Address(ip) => format!("address:{ip}"),
        }
    }
}

/// Why a sign-in was not checked, and how long to wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Too many failures of this user name or address.
    BackedOff { subject: Subject, wait: Duration },
    /// Every check is taken and the queue wait ran out.
    Busy { wait: Duration },
}

impl Refusal {
    /// The wait, in whole seconds for `Retry-After` (at least 1).
    pub fn retry_after_secs(&self) -> u64 {
        let wait = match self {
            Refusal::BackedOff { wait, .. } | Refusal::Busy { wait } => *wait,
        };
        wait.as_millis().div_ceil(1000).max(1) as u64
    }
}

/// A backoff that a failure started: what the audit trail records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackoffStarted {
    pub subject: Subject,
    pub failures: u32,
    pub wait: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last_failure: Instant,
    until: Option<Instant>,
}

/// The sign-in throttle: the check permits and the failure table.
pub struct Throttle {
    limits: SignInLimits,
    clock: Arc<dyn Clock>,
    checks: Arc<Semaphore>,
    failures: Mutex<HashMap<Subject, Entry>>,
}

impl Throttle {
    pub fn new(limits: SignInLimits, clock: Arc<dyn Clock>) -> Throttle {
        Throttle {
            checks: Arc::new(Semaphore::new(limits.checks_at_once.max(1))),
            limits,
            clock,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<Subject, Entry>> {
        self.failures.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Refused when the user name or the address is backed off, with the
    /// longer of their waits.
    pub fn check(&self, subjects: &[Subject]) -> Result<(), Refusal> {
        let now = self.clock.instant();
        let mut table = self.table();
        let mut refusal: Option<Refusal> = None;
        for subject in subjects {
            let Some(entry) = table.get(subject).copied() else {
                continue;
            };
            if now.saturating_duration_since(entry.last_failure) >= self.limits.forget_after {
                table.remove(subject);
                continue;
            }
            if let Some(until) = entry.until.filter(|u| *u > now) {
                let wait = until - now;
                let longer = match &refusal {
                    Some(Refusal::BackedOff { wait: w, .. }) => wait > *w,
                    _ => true,
                };
                if longer {
                    refusal = Some(Refusal::BackedOff {
                        subject: subject.clone(),
                        wait,
                    });
                }
            }
        }
        refusal.map_or(Ok(()), Err)
    }

    /// Waits for a check's turn, at most the queue wait (on the site's
    /// clock). Dropping the future leaves the queue.
    pub async fn permit(&self) -> Result<OwnedSemaphorePermit, Refusal> {
        let wait = self.limits.queue_wait;
        tokio::select! {
            permit = Arc::clone(&self.checks).acquire_owned() => {
                // The semaphore is never closed.
                permit.map_err(|_| Refusal::Busy { wait })
            }
            () = self.clock.sleep(wait) => Err(Refusal::Busy { wait }),
        }
    }

    /// Counts a failed sign-in against each subject; returns the backoffs
    /// it started.
    pub fn failed(&self, subjects: &[Subject]) -> Vec<BackoffStarted> {
        let now = self.clock.instant();
        let mut table = self.table();
        let mut started = Vec::new();
        for subject in subjects {
            let entry = table.entry(subject.clone()).or_insert(Entry {
                failures: 0,
                last_failure: now,
                until: None,
            });
            if now.saturating_duration_since(entry.last_failure) >= self.limits.forget_after {
                entry.failures = 0;
                entry.until = None;
            }
            entry.failures = entry.failures.saturating_add(1);
            entry.last_failure = now;
            let over = entry.failures.saturating_sub(self.limits.free_failures);
            if over > 0 {
                let wait = Duration::from_millis(self.limits.backoff.base_ms_for(over));
                entry.until = Some(now + wait);
                started.push(BackoffStarted {
                    subject: subject.clone(),
                    failures: entry.failures,
                    wait,
                });
            }
        }
        while table.len() > self.limits.max_entries {
            let oldest = table
                .iter()
                .min_by_key(|(_, e)| e.last_failure)
                .map(|(s, _)| s.clone());
            match oldest {
                Some(s) => table.remove(&s),
                None => break,
            };
        }
        started
    }

    /// A good sign-in forgets the user's failures (not the address's).
    pub fn succeeded(&self, user: &Subject) {
        self.table().remove(user);
    }

    /// Names and addresses remembered.
    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.table().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::env::SimulatedClock;
    use futures_util::FutureExt;

    fn throttle(limits: SignInLimits) -> (Throttle, SimulatedClock) {
        let clock = SimulatedClock::new(chrono::Utc::now());
        (Throttle::new(limits, Arc::new(clock.clone())), clock)
    }

    fn user(name: &str) -> Subject {
        Subject::User(name.into())
    }

    fn addr(ip: &str) -> Subject {
        Subject::Address(ip.into())
    }

    #[test]
    fn a_backoff_starts_after_the_free_failures_doubles_and_lifts_with_time() {
        let (t, clock) = throttle(SignInLimits::default());
        let who = [user("viewer"), addr("10.0.0.9")];
        for _ in 0..5 {
            assert!(t.check(&who).is_ok());
            assert!(t.failed(&who).is_empty(), "5 failures are free");
        }
        let started = t.failed(&who);
        assert_eq!(
            started,
            [
                BackoffStarted {
                    subject: user("viewer"),
                    failures: 6,
                    wait: Duration::from_secs(1)
                },
                BackoffStarted {
                    subject: addr("10.0.0.9"),
                    failures: 6,
                    wait: Duration::from_secs(1)
                },
            ]
        );
        let refusal = t.check(&who).unwrap_err();
        assert_eq!(
            refusal,
            Refusal::BackedOff {
                subject: user("viewer"),
                wait: Duration::from_secs(1)
            }
        );
        assert_eq!(refusal.retry_after_secs(), 1);
        clock.advance(Duration::from_millis(999));
        assert!(t.check(&who).is_err(), "still backed off 1 ms before");
        clock.advance(Duration::from_millis(1));
        assert!(t.check(&who).is_ok(), "lifted after 1 s");

        // The next failure doubles the wait.
        let started = t.failed(&who);
        assert_eq!(started[0].wait, Duration::from_secs(2));
        assert_eq!(t.check(&who).unwrap_err().retry_after_secs(), 2);
        clock.advance(Duration::from_millis(1_999));
        assert!(t.check(&who).is_err());
        clock.advance(Duration::from_millis(1));
        assert!(t.check(&who).is_ok());
    }

    #[test]
    fn the_wait_is_capped_and_failures_are_forgotten_after_a_quiet_time() {
        let (t, clock) = throttle(SignInLimits::default());
        let who = [user("admin")];
        let mut last = Vec::new();
        for _ in 0..40 {
            last = t.failed(&who);
        }
        assert_eq!(last[0].wait, Duration::from_secs(300), "capped at 5 min");
        clock.advance(Duration::from_secs(15 * 60));
        assert!(t.check(&who).is_ok());
        assert!(t.failed(&who).is_empty(), "counting starts afresh");
    }

    #[test]
    fn the_user_and_the_address_back_off_apart() {
        let (t, _clock) = throttle(SignInLimits::default());
        // One address guessing many names: the address backs off.
        for i in 0..6 {
            t.failed(&[user(&format!("u{i}")), addr("10.0.0.1")]);
        }
        assert!(matches!(
            t.check(&[user("someone"), addr("10.0.0.1")]),
            Err(Refusal::BackedOff {
                subject: Subject::Address(_),
                ..
            })
        ));
        assert!(t.check(&[user("someone"), addr("10.0.0.2")]).is_ok());
        // Many addresses guessing one name: the name backs off.
        for i in 0..6 {
            t.failed(&[user("operator"), addr(&format!("10.1.0.{i}"))]);
        }
        assert!(matches!(
            t.check(&[user("operator"), addr("10.2.0.1")]),
            Err(Refusal::BackedOff {
                subject: Subject::User(_),
                ..
            })
        ));
        assert!(t.check(&[user("admin"), addr("10.2.0.1")]).is_ok());
        // A good sign-in forgets the user's failures.
        t.succeeded(&user("operator"));
        assert!(t.check(&[user("operator"), addr("10.2.0.1")]).is_ok());
        // Both backed off: the longer wait is the answer.
        t.failed(&[user("operator"), addr("10.0.0.1")]);
        assert_eq!(
            t.check(&[user("operator"), addr("10.0.0.1")]),
            Err(Refusal::BackedOff {
                subject: addr("10.0.0.1"),
                wait: Duration::from_secs(2)
            })
        );
    }

    #[test]
    fn the_table_is_capped_by_evicting_the_oldest() {
        let (t, clock) = throttle(SignInLimits {
            max_entries: 4,
            free_failures: 0,
            ..SignInLimits::default()
        });
        for i in 0..10 {
            t.failed(&[user(&format!("u{i}"))]);
            clock.advance(Duration::from_millis(1));
        }
        assert_eq!(t.remembered(), 4);
        assert!(t.check(&[user("u0")]).is_ok(), "the oldest is gone");
        assert!(t.check(&[user("u9")]).is_err(), "the newest is kept");
    }

    #[tokio::test]
    async fn checks_at_once_are_bounded_and_the_queue_wait_answers_busy() {
        let (t, clock) = throttle(SignInLimits {
            checks_at_once: 2,
            ..SignInLimits::default()
        });
        let a = t.permit().await.unwrap();
        let _b = t.permit().await.unwrap();
        // A third waits; dropping it leaves the queue.
        let waiting = t.permit();
        tokio::pin!(waiting);
        assert!(waiting.as_mut().now_or_never().is_none());
        clock.advance(Duration::from_secs(1));
        assert_eq!(
            waiting.await.unwrap_err(),
            Refusal::Busy {
                wait: Duration::from_secs(1)
            }
        );
        // A dropped waiter holds nothing: a freed permit goes to the next.
        {
            let dropped = t.permit();
            tokio::pin!(dropped);
            assert!(dropped.as_mut().now_or_never().is_none());
        }
        drop(a);
        assert!(t.permit().await.is_ok());
    }
}
