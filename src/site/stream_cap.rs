//! At most [`STREAMS_PER_SESSION`] live event streams per session at once
//! (issue 8), so that one session cannot hold an unbounded number of
//! endless answers (each a task, a broadcast receiver and a connection).
//!
//! The next one is refused (429) rather than closing the oldest: closing the
//! oldest would let any holder of the token cut off the operator's working
//! window, and two windows of one session would take turns cutting each
//! other off in a reconnect loop. A refused client retries with its backoff;
//! a stream whose client went away frees its place as soon as the server
//! notices (at the next heartbeat write).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::{Stream, StreamExt};

use crate::domain::ErrorKind;

/// Live streams one session may hold open at once.
pub const STREAMS_PER_SESSION: usize = 4;

/// The session already holds its share of live streams.
#[derive(Debug, thiserror::Error)]
#[error("this session already has {0} live event streams open")]
pub struct TooManyStreams(pub usize);

impl TooManyStreams {
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::RateLimited
    }
}

type Counts = Arc<Mutex<HashMap<String, usize>>>;

/// Counts the open live streams of each session.
#[derive(Debug)]
pub struct StreamCap {
    per_session: usize,
    open: Counts,
}

impl Default for StreamCap {
    fn default() -> Self {
        Self::new(STREAMS_PER_SESSION)
    }
}

impl StreamCap {
    pub fn new(per_session: usize) -> Self {
        Self {
            per_session,
            open: Counts::default(),
        }
    }

    /// A place for one more stream of `session` (any stable key of it: the
    /// token's hash), or [`TooManyStreams`].
    pub fn take(&self, session: &str) -> Result<StreamSlot, TooManyStreams> {
        let mut open = lock(&self.open);
        let n = open.entry(session.to_owned()).or_insert(0);
        if *n >= self.per_session {
            return Err(TooManyStreams(*n));
        }
        *n += 1;
        Ok(StreamSlot {
            open: Arc::clone(&self.open),
            session: session.to_owned(),
        })
    }

    /// The streams `session` holds now.
    pub fn open(&self, session: &str) -> usize {
        lock(&self.open).get(session).copied().unwrap_or(0)
    }
}

fn lock(counts: &Counts) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
    counts.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One stream's place; given back when dropped.
#[derive(Debug)]
pub struct StreamSlot {
    open: Counts,
    session: String,
}

impl StreamSlot {
    /// `stream`, holding this place for as long as it lives.
    pub fn hold<S: Stream>(self, stream: S) -> impl Stream<Item = S::Item> {
        stream.map(move |item| {
            let _held = &self;
            item
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = lock(&self.open);
        if let Some(n) = open.get_mut(&self.session) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.session);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fifth_stream_of_a_session_is_refused_and_a_closed_one_frees_its_place() {
        let cap = StreamCap::default();
        let slots: Vec<_> = (0..STREAMS_PER_SESSION)
            .map(|_| cap.take("a").unwrap())
            .collect();
        let err = cap.take("a").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::RateLimited);
        assert!(cap.take("b").is_ok(), "another session is not affected");
        let mut slots = slots;
        drop(slots.pop());
        assert_eq!(cap.open("a"), STREAMS_PER_SESSION - 1);
        slots.push(cap.take("a").unwrap());
        drop(slots);
        assert_eq!(cap.open("a"), 0);
        assert!(lock(&cap.open).is_empty(), "no entry is left behind");
    }

    #[tokio::test]
    async fn a_held_stream_gives_its_place_back_when_dropped() {
        let cap = StreamCap::new(1);
        let stream = cap
            .take("a")
            .unwrap()
            .hold(futures_util::stream::iter([1, 2]));
        assert!(cap.take("a").is_err());
        assert_eq!(stream.collect::<Vec<_>>().await, [1, 2]);
        assert_eq!(cap.open("a"), 0);
    }
}
