//! The threads that check passwords: a fixed few of their own, so that a
//! flood of sign-ins neither grows the site's memory (an argon2 check holds
//! about 19 MiB, and the allocator keeps it in the arena of the thread that
//! ran it) nor takes the blocking pool that search and audit use.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};

type Job = Box<dyn FnOnce() + Send>;

/// A small pool of password-check threads; dropping it ends them once the
/// check they run (if any) is done.
pub struct PasswordChecks {
    jobs: mpsc::Sender<Job>,
    threads: usize,
}

impl PasswordChecks {
    /// Starts `threads` checker threads (at least one).
    pub fn new(threads: usize) -> PasswordChecks {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let mut started = 0;
        for i in 0..threads.max(1) {
            let queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(format!("password-check-{i}"))
                .spawn(move || {
                    loop {
                        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                        match next {
                            Ok(job) => job(),
                            Err(mpsc::RecvError) => return,
                        }
                    }
                });
            match spawned {
                Ok(_) => started += 1,
                Err(e) => tracing::error!("cannot start a password-check thread: {e}"),
            }
        }
        PasswordChecks {
            jobs,
            threads: started,
        }
    }

    /// Runs `check` on a checker thread, holding `held` (the check's permit)
    /// until it ends, even if the caller stops waiting. False when it
    /// cannot run.
    pub async fn run<H: Send + 'static>(
        &self,
        held: H,
        check: impl FnOnce() -> bool + Send + 'static,
    ) -> bool {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // A caller that went away before its turn (a dropped request)
            // costs no check.
            if answer.is_closed() {
                drop(held);
                return;
            }
            let ok = check();
            drop(held);
            // The caller may have gone: nobody to tell.
            let _ = answer.send(ok);
        });
        if self.threads == 0 {
            // No thread of our own could start: the shared pool, rather
            // than no sign-in at all.
            return tokio::task::spawn_blocking(job).await.is_ok()
                && answered.await.unwrap_or(false);
        }
        if self.jobs.send(job).is_err() {
            return false;
        }
        answered.await.unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn checks_run_on_the_named_threads_and_hold_their_permit_to_the_end() {
        let checks = PasswordChecks::new(2);
        let sem = Arc::new(tokio::sync::Semaphore::new(1));
        let permit = Arc::clone(&sem).acquire_owned().await.unwrap();
        let ok = checks
            .run(permit, || {
                std::thread::current()
                    .name()
                    .is_some_and(|n| n.starts_with("password-check-"))
            })
            .await;
        assert!(ok);
        assert_eq!(sem.available_permits(), 1, "the permit is back");

        // A caller that stops waiting leaves the permit held until the
        // check ends.
        let (release, released) = std::sync::mpsc::channel::<()>();
        let permit = Arc::clone(&sem).acquire_owned().await.unwrap();
        {
            let run = checks.run(permit, move || released.recv().is_ok());
            tokio::pin!(run);
            assert!(futures_util::FutureExt::now_or_never(run.as_mut()).is_none());
        }
        assert_eq!(sem.available_permits(), 0, "the check still runs");
        release.send(()).unwrap();
        let again = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            Arc::clone(&sem).acquire_owned(),
        )
        .await;
        assert!(again.is_ok(), "the permit comes back when the check ends");
    }

    #[tokio::test]
    async fn a_caller_gone_before_its_turn_costs_no_check() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let checks = PasswordChecks::new(1);
        // The one thread is busy until released.
        let (release, released) = std::sync::mpsc::channel::<()>();
        let busy = checks.run((), move || released.recv().is_ok());
        tokio::pin!(busy);
        assert!(futures_util::FutureExt::now_or_never(busy.as_mut()).is_none());
        // A second caller queues, then goes away.
        let ran = Arc::new(AtomicBool::new(false));
        let sem = Arc::new(tokio::sync::Semaphore::new(1));
        let permit = Arc::clone(&sem).acquire_owned().await.unwrap();
        {
            let ran = Arc::clone(&ran);
            let gone = checks.run(permit, move || {
                ran.store(true, Ordering::SeqCst);
                true
            });
            tokio::pin!(gone);
            assert!(futures_util::FutureExt::now_or_never(gone.as_mut()).is_none());
        }
        release.send(()).unwrap();
        assert!(busy.await, "the first check ends");
        // Its permit comes back without its check having run.
        let again = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            Arc::clone(&sem).acquire_owned(),
        )
        .await;
        assert!(again.is_ok(), "the dropped caller's permit comes back");
        assert!(!ran.load(Ordering::SeqCst), "a dropped caller's check ran");
    }
}
