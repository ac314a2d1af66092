//! A pure, incremental Server-Sent Events parser: bytes in, events out.
//!
//! It follows the WHATWG `text/event-stream` rules: lines end in `\n`,
//! `\r\n` or `\r` (a chunk may split a `\r\n`), lines starting with `:` are
//! comments, `data:` lines join with `\n`, a blank line dispatches, a single
//! space after the colon is dropped, an `id` containing NUL is ignored, and
//! the last event id persists across events. Bytes are buffered until a line
//! is complete, so a chunk may end anywhere, even inside a UTF-8 sequence.

use crate::domain::ErrorKind;

/// The longest line accepted, in bytes. A longer one is a broken or hostile
/// stream.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// The most data one event may carry, in bytes.
pub const MAX_EVENT_DATA_BYTES: usize = 4 * 1024 * 1024;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The last event id seen on this stream (it persists across events),
    /// empty when none was sent yet.
    pub last_event_id: String,
    /// The `event:` field, `message` when none was given.
    pub event_type: String,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// A stream that cannot be parsed further.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    #[error("event stream line longer than {limit_bytes} bytes")]
    LineTooLong { limit_bytes: usize },
    #[error("event stream event data longer than {limit_bytes} bytes")]
    EventTooLarge { limit_bytes: usize },
}

impl SseError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Unavailable
    }
}

/// The incremental parser. Feed it chunks in order; it keeps what it needs
/// between them, never more than its limits: a line of at most
/// `max_line_bytes`, an event's data of at most `max_event_data_bytes` (as
/// text, after invalid UTF-8 became U+FFFD), an event type and an id of at
/// most one line each.
#[derive(Debug)]
pub struct SseParser {
    max_line_bytes: usize,
    max_event_data_bytes: usize,
    /// Bytes of the line not yet complete.
    line: Vec<u8>,
    /// The previous chunk ended in `\r`: a leading `\n` of the next one
    /// belongs to that line end.
    after_cr: bool,
    /// The stream's first bytes may be a UTF-8 byte order mark to drop.
    started: bool,
    /// The first bytes (at most three), held until we know whether they are
    /// a BOM.
    head: Vec<u8>,
    data: String,
    has_data: bool,
    event_type: String,
    last_event_id: String,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::with_limits(MAX_LINE_BYTES, MAX_EVENT_DATA_BYTES)
    }
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// A parser with other limits than [`MAX_LINE_BYTES`] and
    /// [`MAX_EVENT_DATA_BYTES`] (the fuzz tests use small ones).
    pub fn with_limits(max_line_bytes: usize, max_event_data_bytes: usize) -> Self {
        Self {
            max_line_bytes,
            max_event_data_bytes,
            line: Vec::new(),
            after_cr: false,
            started: false,
            head: Vec::new(),
            data: String::new(),
            has_data: false,
            event_type: String::new(),
            last_event_id: String::new(),
        }
    }

    /// The bytes held between chunks: the unfinished line, the event being
    /// built (data, type) and the last id. Bounded by the limits whatever
    /// was fed.
    pub fn buffered_bytes(&self) -> usize {
        self.head.len()
            + self.line.len()
            + self.data.len()
            + self.event_type.len()
            + self.last_event_id.len()
    }

    /// The last event id seen so far (persists across events).
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// Parses `bytes` and appends every event they complete to `out`.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if self.started {
            return self.feed_started(bytes, out);
        }
        // Hold the first bytes (no more than a BOM's length) until we can
        // tell whether a BOM is there.
        const BOM: &[u8] = b"\xEF\xBB\xBF";
        let take = bytes.len().min(BOM.len() - self.head.len());
        let (first, rest) = bytes.split_at(take);
        self.head.extend_from_slice(first);
        if self.head.len() < BOM.len() && BOM.starts_with(&self.head) {
            return Ok(());
        }
        self.started = true;
        let head = std::mem::take(&mut self.head);
        self.feed_started(head.strip_prefix(BOM).unwrap_or(&head), out)?;
        self.feed_started(rest, out)
    }

    fn feed_started(&mut self, bytes: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        let mut rest = bytes;
        if self.after_cr {
            match rest.first() {
                None => return Ok(()), // an empty chunk: still undecided
                Some(b'\n') => rest = &rest[1..],
                Some(_) => {}
            }
            self.after_cr = false;
        }
        while let Some(pos) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            if self.line.len() + pos > self.max_line_bytes {
                return Err(SseError::LineTooLong {
                    limit_bytes: self.max_line_bytes,
                });
            }
            self.line.extend_from_slice(&rest[..pos]);
            let was_cr = rest[pos] == b'\r';
            rest = &rest[pos + 1..];
            if was_cr {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            let line = std::mem::take(&mut self.line);
            self.process_line(&line, out)?;
        }
        if self.line.len() + rest.len() > self.max_line_bytes {
            return Err(SseError::LineTooLong {
                limit_bytes: self.max_line_bytes,
            });
        }
        self.line.extend_from_slice(rest);
        Ok(())
    }

    fn process_line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        if line[0] == b':' {
            return Ok(()); // a comment, e.g. a heartbeat
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                let value = value.strip_prefix(b" ").unwrap_or(value);
                (&line[..colon], value)
            }
            None => (line, &[][..]),
        };
        match name {
            b"data" => {
                // Counted as text: invalid UTF-8 grows (one byte becomes a
                // three-byte U+FFFD), so the raw length would not bound it.
                let value = String::from_utf8_lossy(value);
                if self.data.len() + value.len() + 1 > self.max_event_data_bytes {
                    return Err(SseError::EventTooLarge {
                        limit_bytes: self.max_event_data_bytes,
                    });
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&value);
                self.has_data = true;
            }
            b"event" => self.event_type = String::from_utf8_lossy(value).into_owned(),
            b"id" if !value.contains(&0) => {
                self.last_event_id = String::from_utf8_lossy(value).into_owned();
            }
            // `retry` only tunes a browser's reconnect delay; we keep our own.
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event_type = std::mem::take(&mut self.event_type);
        if !self.has_data {
            self.data.clear();
            return;
        }
        self.has_data = false;
        out.push(SseEvent {
            last_event_id: self.last_event_id.clone(),
            event_type: if event_type.is_empty() {
                "message".to_owned()
            } else {
                event_type
            },
            data: std::mem::take(&mut self.data),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for c in chunks {
            p.feed(c, &mut out).unwrap();
        }
        out
    }

    fn ev(id: &str, ty: &str, data: &str) -> SseEvent {
        SseEvent {
            last_event_id: id.into(),
            event_type: ty.into(),
            data: data.into(),
        }
    }

    /// A stream with every feature: BOM, comments, CRLF, lone CR, LF,
    /// multi-line data, an event without a type, an id-only block, a field
    /// without a colon, a retry line, and non-ASCII text.
    const SAMPLE: &[u8] = b"\xEF\xBB\xBF: hb\r\n\
id: 1\r\nevent: door.state_changed\r\ndata: {\"seq\":1}\r\n\r\n\
: hb\n\
id: 2\rdata: line one\rdata:line two\r\r\
retry: 3000\n\
data\n\
data: caf\xC3\xA9 \xE2\x9C\x93\n\n\
id: 3\n\n\
event: x\ndata: {\"seq\":4}\nid: 4\n\n";

    fn sample_expected() -> Vec<SseEvent> {
        vec![
            ev("1", "door.state_changed", "{\"seq\":1}"),
            ev("2", "message", "line one\nline two"),
            ev("2", "message", "\ncafé ✓"),
            ev("4", "x", "{\"seq\":4}"),
        ]
    }

    #[test]
    fn whole_sample_parses() {
        assert_eq!(parse_all(&[SAMPLE]), sample_expected());
    }

    #[test]
    fn every_single_split_point_gives_the_same_events() {
        for split in 0..=SAMPLE.len() {
            let (a, b) = SAMPLE.split_at(split);
            assert_eq!(
                parse_all(&[a, b]),
                sample_expected(),
                "split at byte {split}"
            );
        }
    }

    #[test]
    fn every_pair_of_split_points_gives_the_same_events() {
        for i in 0..=SAMPLE.len() {
            for j in i..=SAMPLE.len() {
                let chunks = [&SAMPLE[..i], &SAMPLE[i..j], &SAMPLE[j..]];
                assert_eq!(
                    parse_all(&chunks),
                    sample_expected(),
                    "splits at {i} and {j}"
                );
            }
        }
    }

    #[test]
    fn byte_by_byte_gives_the_same_events() {
        let chunks: Vec<&[u8]> = SAMPLE.chunks(1).collect();
        assert_eq!(parse_all(&chunks), sample_expected());
    }

    #[test]
    fn comments_only_and_trailing_partial_event_give_nothing() {
        assert!(parse_all(&[b": hb\n: hb\r\n", b"data: unfinished\n"]).is_empty());
    }

    #[test]
    fn crlf_split_across_chunks_is_one_line_end() {
        // "data: a\r" | "\n\r\n": must be one event, not an early dispatch.
        let out = parse_all(&[b"data: a\r", b"\n", b"data: b\r", b"\n\r", b"\n"]);
        assert_eq!(out, vec![ev("", "message", "a\nb")]);
    }

    #[test]
    fn id_with_nul_is_ignored_and_id_persists() {
        let out = parse_all(&[b"id: 7\ndata: a\n\nid: 8\0x\ndata: b\n\n"]);
        assert_eq!(out, vec![ev("7", "message", "a"), ev("7", "message", "b")]);
    }

    #[test]
    fn only_one_leading_space_is_dropped() {
        let out = parse_all(&[b"data:  two spaces\n\n"]);
        assert_eq!(out, vec![ev("", "message", " two spaces")]);
    }

    #[test]
    fn bom_only_at_the_very_start() {
        let out = parse_all(&[b"data: a\n\n\xEF\xBB\xBFdata: b\n\n"]);
        // The second BOM is part of an unknown field name, so it is ignored.
        assert_eq!(out, vec![ev("", "message", "a")]);
    }

    #[test]
    fn short_stream_without_bom_is_not_swallowed() {
        let out = parse_all(&[b"d", b"a", b"ta: x\n", b"\n"]);
        assert_eq!(out, vec![ev("", "message", "x")]);
    }

    #[test]
    fn overlong_line_is_an_error() {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        let big = vec![b'a'; MAX_LINE_BYTES + 1];
        assert_eq!(
            p.feed(&big, &mut out),
            Err(SseError::LineTooLong {
                limit_bytes: MAX_LINE_BYTES
            })
        );
    }
}
