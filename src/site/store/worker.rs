//! A thread that owns one SQLite connection and runs the jobs sent to it,
//! one at a time, in the order sent.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use rusqlite::Connection;

use super::{Result, StoreError};

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// One connection, one thread, one queue.
pub(super) struct Worker {
    role: &'static str,
    jobs: Option<mpsc::Sender<Job>>,
    /// Locked by the thread for each job, and by [`Worker::lend`].
    conn: Arc<Mutex<Connection>>,
    thread: Option<JoinHandle<()>>,
}

fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Worker {
    /// Starts the thread `store-{role}` owning `conn`.
    pub(super) fn spawn(role: &'static str, conn: Connection) -> Result<Worker> {
        let conn = Arc::new(Mutex::new(conn));
        let (tx, rx) = mpsc::channel::<Job>();
        let shared = conn.clone();
        let thread = std::thread::Builder::new()
            .name(format!("store-{role}"))
            .spawn(move || {
                for job in rx {
                    let mut guard = lock(&shared);
                    // A panicking job drops its answer channel, so its caller
                    // gets `StoreError::Gone`; the thread goes on.
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut guard)));
                }
            })
            .map_err(|source| StoreError::Thread { role, source })?;
        Ok(Worker {
            role,
            jobs: Some(tx),
            conn,
            thread: Some(thread),
        })
    }

    fn send(&self, job: Job) -> Result<()> {
        self.jobs
            .as_ref()
            .and_then(|tx| tx.send(job).ok())
            .ok_or(StoreError::Gone(self.role))
    }

    /// Runs `f` on the thread and blocks the calling thread until it is done.
    pub(super) fn blocking<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(Box::new(move |conn| {
            let _ = tx.send(f(conn));
        }))?;
        rx.recv().map_err(|_| StoreError::Gone(self.role))?
    }

    /// Runs `f` on the thread; the caller's task waits without blocking.
    pub(super) async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Box::new(move |conn| {
            let _ = tx.send(f(conn));
        }))?;
        rx.await.map_err(|_| StoreError::Gone(self.role))?
    }

    /// Queues `f` and returns at once; [`Pending::wait`] blocks for its
    /// answer. Jobs run in the order queued.
    pub(super) fn queue<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R> + Send + 'static,
    ) -> Result<Pending<R>> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(Box::new(move |conn| {
            let _ = tx.send(f(conn));
        }))?;
        Ok(Pending {
            rx,
            role: self.role,
        })
    }

    /// Runs `f` on the CALLING thread with the connection, between two jobs
    /// (for closures that borrow from the caller and so cannot be sent).
    pub(super) fn lend<R>(&self, f: impl FnOnce(&mut Connection) -> R) -> R {
        f(&mut lock(&self.conn))
    }
}

/// The answer of a queued job, to wait for later.
pub struct Pending<R> {
    rx: mpsc::Receiver<Result<R>>,
    role: &'static str,
}

impl<R> Pending<R> {
    /// Blocks until the job has run (or its thread is gone).
    pub fn wait(self) -> Result<R> {
        self.rx.recv().map_err(|_| StoreError::Gone(self.role))?
    }
}

impl Drop for Worker {
    /// Lets the queued jobs finish, then closes the connection.
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take()
            && t.thread().id() != std::thread::current().id()
        {
            let _ = t.join();
        }
    }
}
