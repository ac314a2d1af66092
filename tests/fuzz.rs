//! Property ("fuzz") tests of what reads hostile or careless input: the
//! client's Server-Sent Events parser, the site's config files, the floor
//! plan placement files, and the door state machine (pure, and as the site
//! runs it with commands, timeouts and a controller that comes and goes).
//!
//! Each target runs rounds of `proptest` cases with a fresh random seed until
//! its time budget is spent: `WATCHDESK_FUZZ_SECS` seconds (default 5, so a
//! plain `cargo test` stays quick; CI gives each 60, `scripts/test.sh`). A
//! failure names its seed; `WATCHDESK_FUZZ_SEED=<seed>` reruns that one round.
//! cargo-fuzz needs a nightly toolchain, which this project does not use.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};

use watchdesk::client::sse::{SseError, SseEvent, SseParser};
use watchdesk::config::{ConfigError, SiteConfig};
use watchdesk::domain::{
    CommandId, CommandState, DoorAction, DoorAlarm, DoorCommand, DoorId, DoorInput, DoorMode,
    DoorPosition, DoorRefusal, DoorState, DoorStatus, EventKind,
};

// ---- the runner ------------------------------------------------------------------

/// Seconds each target runs when `WATCHDESK_FUZZ_SECS` is not set.
const DEFAULT_SECS: f64 = 3.0;

fn budget() -> Duration {
    let secs = std::env::var("WATCHDESK_FUZZ_SECS")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(DEFAULT_SECS);
    Duration::from_secs_f64(secs)
}

fn random_seed() -> u64 {
    RandomState::new().build_hasher().finish()
}

/// Runs `test` on values of `strategy`, `cases` at a time with a fresh seed,
/// until its `share` of the target's budget is spent (at least one round). A
/// failing case is shrunk and reported with the seed that found it.
fn fuzz<S>(
    name: &str,
    share: f64,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S: Strategy,
    S::Value: Debug,
{
    let started = Instant::now();
    let deadline = started + budget().mul_f64(share);
    let fixed = std::env::var("WATCHDESK_FUZZ_SEED")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    let (mut rounds, mut total) = (0u64, 0u64);
    loop {
        let seed = fixed.unwrap_or_else(random_seed);
        let config = Config {
            cases,
            failure_persistence: None,
            rng_seed: RngSeed::Fixed(seed),
            ..Config::default()
        };
        let mut runner = TestRunner::new(config);
        if let Err(e) = runner.run(&strategy, &test) {
            panic!("fuzz {name}: {e}\n(rerun this round with WATCHDESK_FUZZ_SEED={seed})");
        }
        rounds += 1;
        total += u64::from(cases);
        if fixed.is_some() || Instant::now() >= deadline {
            break;
        }
    }
    eprintln!(
        "fuzz {name}: {total} cases in {rounds} rounds, {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Byte offsets to cut a stream at, from any indices.
fn cuts(len: usize, at: &[Index]) -> Vec<usize> {
    let mut c: Vec<usize> = at.iter().map(|i| i.index(len + 1)).collect();
    c.sort_unstable();
    c
}

fn chunks<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut from = 0;
    for &c in cuts {
        out.push(&bytes[from..c]);
        from = c;
    }
    out.push(&bytes[from..]);
    out
}

// ---- the SSE parser --------------------------------------------------------------

/// Small limits, so that the fuzzer reaches them with short inputs.
const LINE: usize = 64;
const DATA: usize = 256;

/// What the parser may hold at most between chunks with these limits: a BOM's
/// start, a line, the data, and a type and an id of one line each (invalid
/// UTF-8 turns one byte into three).
fn held_bound(line: usize, data: usize) -> usize {
    3 + line + data + 2 * 3 * line
}

/// Feeds `chunks` until the first error; the events and that error.
fn parse_chunks(
    mut parser: SseParser,
    chunks: &[&[u8]],
    bound: usize,
) -> Result<(Vec<SseEvent>, Option<SseError>), TestCaseError> {
    let mut out = Vec::new();
    for c in chunks {
        let fed = parser.feed(c, &mut out);
        prop_assert!(
            parser.buffered_bytes() <= bound,
            "holds {} bytes, bound {bound}",
            parser.buffered_bytes()
        );
        if let Err(e) = fed {
            return Ok((out, Some(e)));
        }
    }
    Ok((out, None))
}

/// Pieces of the stream's syntax, and of UTF-8 and BOMs.
const SSE_PIECES: &[&[u8]] = &[
    b"\n",
    b"\r",
    b"\r\n",
    b"data:",
    b"data: ",
    b"id:",
    b"id: 7",
    b"event:",
    b"event: x",
    b":",
    b"retry: 5",
    b"\xEF\xBB\xBF",
    b"\xEF",
    b"\0",
    b"\xC3",
    b"\xA9",
    b"data",
    b" ",
    b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
];

/// Bytes that are mostly the stream's own syntax, so that the fuzzer builds
/// fields, line ends and BOMs, with any byte now and then.
fn sse_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        3 => any::<u8>().prop_map(|b| vec![b]),
        4 => prop::sample::select(SSE_PIECES).prop_map(|p: &[u8]| p.to_vec()),
    ];
    prop::collection::vec(piece, 0..max).prop_map(|v| v.concat())
}

/// Target 1: the client's SSE parser.
#[test]
fn fuzz_sse_parser() {
    sse_any_bytes_any_chunking();
    sse_valid_stream_parses_the_same_however_chunked();
}

fn sse_any_bytes_any_chunking() {
    let strategy = (sse_bytes(300), prop::collection::vec(any::<Index>(), 0..12));
    fuzz("sse_any_bytes", 0.5, 256, strategy, |(bytes, at)| {
        let bound = held_bound(LINE, DATA);
        let whole = parse_chunks(SseParser::with_limits(LINE, DATA), &[&bytes], bound)?;
        let cut = cuts(bytes.len(), &at);
        let split = parse_chunks(
            SseParser::with_limits(LINE, DATA),
            &chunks(&bytes, &cut),
            bound,
        )?;
        prop_assert_eq!(&whole, &split, "cut at {:?}", cut);
        // Byte by byte too: the hardest split of all.
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        let bytewise = parse_chunks(SseParser::with_limits(LINE, DATA), &singles, bound)?;
        prop_assert_eq!(&whole, &bytewise);
        for e in &whole.0 {
            prop_assert!(e.data.len() <= DATA);
        }
        // The real limits: nothing this short fails.
        let real = parse_chunks(SseParser::new(), &[&bytes], usize::MAX)?;
        prop_assert!(real.1.is_none(), "{:?}", real.1);
        Ok(())
    });
}

/// One event block of a valid stream.
#[derive(Debug, Clone)]
struct Block {
    comment: bool,
    id: Option<String>,
    event_type: Option<String>,
    data: Vec<String>,
}

/// Text without line ends or NUL, any other character (non-ASCII included).
fn field_text() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..12).prop_map(|cs| {
        cs.into_iter()
            .filter(|c| !matches!(c, '\r' | '\n' | '\0'))
            .collect()
    })
}

fn block() -> impl Strategy<Value = Block> {
    (
        any::<bool>(),
        prop::option::of(field_text()),
        prop::option::of(field_text()),
        prop::collection::vec(field_text(), 0..4),
    )
        .prop_map(|(comment, id, event_type, data)| Block {
            comment,
            id,
            event_type,
            data,
        })
}

/// The stream's bytes, with each line ended by one of `\n`, `\r\n`, `\r`.
fn encode(bom: bool, blocks: &[Block], ends: &[Index]) -> Vec<u8> {
    const ENDS: [&[u8]; 3] = [b"\n", b"\r\n", b"\r"];
    let mut lines: Vec<String> = Vec::new();
    for b in blocks {
        if b.comment {
            lines.push(": heartbeat".into());
        }
        if let Some(id) = &b.id {
            lines.push(format!("id: {id}"));
        }
        if let Some(t) = &b.event_type {
            lines.push(format!("event: {t}"));
        }
        for d in &b.data {
            lines.push(format!("data: {d}"));
        }
        lines.push(String::new());
    }
    let mut out = Vec::new();
    if bom {
        out.extend_from_slice(b"\xEF\xBB\xBF");
    }
    let mut after_cr = false;
    for (i, line) in lines.iter().enumerate() {
        out.extend_from_slice(line.as_bytes());
        let mut end = ends.get(i % ends.len().max(1)).map_or(0, |e| e.index(3));
        // `\r` then an empty line ended by `\n` is one `\r\n`: write the
        // empty line's end as `\r\n` there.
        if after_cr && line.is_empty() && end == 0 {
            end = 1;
        }
        after_cr = end == 2;
        out.extend_from_slice(ENDS[end]);
    }
    out
}

/// What the WHATWG rules make of the blocks.
fn expected(blocks: &[Block]) -> Vec<SseEvent> {
    let mut last_id = String::new();
    let mut out = Vec::new();
    for b in blocks {
        if let Some(id) = &b.id {
            last_id = id.clone();
        }
        if b.data.is_empty() {
            continue;
        }
        out.push(SseEvent {
            last_event_id: last_id.clone(),
            event_type: match b.event_type.as_deref() {
                None | Some("") => "message".into(),
                Some(t) => t.into(),
            },
            data: b.data.join("\n"),
        });
    }
    out
}

fn sse_valid_stream_parses_the_same_however_chunked() {
    let strategy = (
        any::<bool>(),
        prop::collection::vec(block(), 0..8),
        prop::collection::vec(any::<Index>(), 1..8),
        prop::collection::vec(any::<Index>(), 0..12),
    );
    fuzz(
        "sse_valid_stream",
        0.5,
        256,
        strategy,
        |(bom, blocks, ends, at)| {
            let bytes = encode(bom, &blocks, &ends);
            let want = expected(&blocks);
            let cut = cuts(bytes.len(), &at);
            let (got, err) = parse_chunks(SseParser::new(), &chunks(&bytes, &cut), usize::MAX)?;
            prop_assert!(err.is_none(), "{:?}", err);
            prop_assert_eq!(got, want, "cut at {:?}", cut);
            Ok(())
        },
    );
}

// ---- the config and placement files ------------------------------------------------

/// A copy of the demo site's files (config/, maps/, assets/photos/) in a
/// temporary folder, so a case can rewrite one of them.
struct SiteCopy {
    _dir: tempfile::TempDir,
    root: PathBuf,
    originals: BTreeMap<PathBuf, String>,
}

impl SiteCopy {
    fn new() -> SiteCopy {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().to_owned();
        let mut originals = BTreeMap::new();
        for sub in ["config", "maps", "assets/photos"] {
            let to = root.join(sub);
            std::fs::create_dir_all(&to).expect("mkdir");
            for entry in std::fs::read_dir(src.join(sub)).expect("read demo dir") {
                let path = entry.expect("entry").path();
                if path.is_file() {
                    let target = to.join(path.file_name().expect("name"));
                    std::fs::copy(&path, &target).expect("copy");
                    if path.extension().is_some_and(|x| x == "toml") {
                        let text = std::fs::read_to_string(&path).expect("read");
                        originals.insert(target, text);
                    }
                }
            }
        }
        SiteCopy {
            _dir: dir,
            root,
            originals,
        }
    }

    fn site_toml(&self) -> PathBuf {
        self.root.join("config/site.toml")
    }

    fn original(&self, rel: &str) -> (PathBuf, &str) {
        let path = self.root.join(rel);
        let text = self.originals.get(&path).expect("a copied file");
        (path, text)
    }

    /// Loads the site with `text` as the file at `path`, then puts the file back.
    fn load_with(&self, path: &Path, text: &str) -> Result<SiteConfig, ConfigError> {
        std::fs::write(path, text).expect("write");
        let result = SiteConfig::load_with_env(&self.site_toml(), &|_| None);
        std::fs::write(path, &self.originals[path]).expect("restore");
        result
    }
}

/// Values that have broken parsers before: out of range, not a number,
/// wrong type, paths, odd text.
const NASTY: &[&str] = &[
    "-1",
    "0",
    "-0.0",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "4294967296",
    "1e39",
    "1e400",
    "nan",
    "+inf",
    "-inf",
    "\"\"",
    "\"\\u0000\"",
    "\"../../../../etc/passwd\"",
    "\"/\"",
    "\"ü🚪\"",
    "[]",
    "{}",
    "[[]]",
    "true",
    "1979-05-27T07:32:00Z",
    "\"Europe/Nowhere\"",
    "'''\n",
    "\"\"\"",
    "=",
    "[site]",
    "[[door]]",
    "[[camera]]",
    "x = 1",
];

/// One change to a file's text.
#[derive(Debug, Clone)]
enum Edit {
    /// Replaces the value of a `key = value` line.
    Value(Index, String),
    DeleteLine(Index),
    DuplicateLine(Index),
    Insert(Index, String),
    Truncate(Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    let nasty = prop::sample::select(NASTY).prop_map(str::to_owned);
    let text = prop_oneof![3 => nasty, 1 => any::<String>()];
    prop_oneof![
        4 => (any::<Index>(), text.clone()).prop_map(|(i, v)| Edit::Value(i, v)),
        1 => any::<Index>().prop_map(Edit::DeleteLine),
        1 => any::<Index>().prop_map(Edit::DuplicateLine),
        2 => (any::<Index>(), text).prop_map(|(i, v)| Edit::Insert(i, v)),
        1 => any::<Index>().prop_map(Edit::Truncate),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for e in edits {
        if lines.is_empty() {
            lines.push(String::new());
        }
        match e {
            Edit::Value(i, v) => {
                // Only the lines with a value; any line when there is none.
                let with_value: Vec<usize> = (0..lines.len())
                    .filter(|&n| lines[n].contains('=') && !lines[n].trim_start().starts_with('#'))
                    .collect();
                let n = if with_value.is_empty() {
                    i.index(lines.len())
                } else {
                    with_value[i.index(with_value.len())]
                };
                let key = lines[n].split('=').next().unwrap_or("").to_owned();
                lines[n] = format!("{key}= {v}");
            }
            Edit::DeleteLine(i) => {
                lines.remove(i.index(lines.len()));
            }
            Edit::DuplicateLine(i) => {
                let n = i.index(lines.len());
                let l = lines[n].clone();
                lines.insert(n, l);
            }
            Edit::Insert(i, v) => {
                let n = i.index(lines.len() + 1);
                lines.insert(n, v.clone());
            }
            Edit::Truncate(i) => {
                let joined = lines.join("\n");
                let mut at = i.index(joined.len() + 1);
                while !joined.is_char_boundary(at) {
                    at -= 1;
                }
                lines = joined[..at].lines().map(str::to_owned).collect();
            }
        }
    }
    lines.join("\n")
}

/// What every config error must say: which file (one of the site's), and a
/// line inside it (0 only for the file as a whole). A file that is not
/// TOML at all is named with the line TOML's parser points at.
fn check_error(
    site: &SiteCopy,
    file: &Path,
    text: &str,
    err: &ConfigError,
) -> Result<(), TestCaseError> {
    let shown = err.to_string();
    match err {
        ConfigError::Read { file: named, .. } => {
            prop_assert!(shown.contains(&named.display().to_string()));
            // Only a file the edited one names may be missing.
            prop_assert!(named != file, "cannot read the edited file? {shown}");
        }
        ConfigError::Invalid {
            file: named, line, ..
        } => {
            // A config may name a file anywhere on the site's machine (the
            // admin writes it there): an error names a file outside the
            // site's folders only when the edited text names that file.
            let named_by_text = named
                .file_name()
                .is_some_and(|n| text.contains(&*n.to_string_lossy()));
            prop_assert!(
                named.starts_with(&site.root) || named.is_relative() || named_by_text,
                "error names a file outside the site that the config does not name: {shown}"
            );
            prop_assert!(shown.contains(&named.display().to_string()), "{shown}");
            let lines = std::fs::read_to_string(named)
                .map(|t| t.lines().count())
                .unwrap_or(0);
            let lines = if named == file {
                text.lines().count()
            } else {
                lines
            };
            prop_assert!(*line <= lines + 1, "line {line} of {lines}: {shown}");
            if named == file && toml::from_str::<toml::Table>(text).is_err() {
                prop_assert!(*line >= 1, "a syntax error without a line: {shown}");
            }
        }
    }
    Ok(())
}

/// Target 2: the site's config files.
#[test]
fn fuzz_config_files_never_panic_and_errors_name_file_and_line() {
    let site = SiteCopy::new();
    let files = [
        "config/site.toml",
        "config/users.toml",
        "config/cardholders.toml",
    ];
    let strategy = (
        0..files.len(),
        prop_oneof![
            6 => prop::collection::vec(edit(), 1..6).prop_map(Some),
            1 => Just(None),
        ],
        any::<String>(),
    );
    fuzz("config", 1.0, 64, strategy, |(f, edits, raw)| {
        let (path, original) = site.original(files[f]);
        let text = match &edits {
            Some(edits) => apply(original, edits),
            None => raw,
        };
        if let Err(e) = site.load_with(&path, &text) {
            check_error(&site, &path, &text, &e)?;
        }
        Ok(())
    });
}

/// Target 3: the floor plans' placement files.
#[test]
fn fuzz_map_placements_never_panic_and_stay_on_the_plan() {
    let site = SiteCopy::new();
    let files = ["maps/floor1.toml", "maps/floor2.toml"];
    let strategy = (
        0..files.len(),
        prop_oneof![
            6 => prop::collection::vec(edit(), 1..6).prop_map(Some),
            1 => Just(None),
        ],
        any::<String>(),
    );
    fuzz("map_placements", 1.0, 64, strategy, |(f, edits, raw)| {
        let (path, original) = site.original(files[f]);
        let text = match &edits {
            Some(edits) => apply(original, edits),
            None => raw,
        };
        match site.load_with(&path, &text) {
            Err(e) => check_error(&site, &path, &text, &e)?,
            Ok(cfg) => {
                for m in &cfg.maps {
                    for p in m.doors.iter().chain(&m.cameras) {
                        prop_assert!(
                            p.x.is_finite()
                                && p.y.is_finite()
                                && (0.0..=m.width as f32).contains(&p.x)
                                && (0.0..=m.height as f32).contains(&p.y),
                            "{} placed at ({}, {}) on a {}×{} plan",
                            p.id,
                            p.x,
                            p.y,
                            m.width,
                            m.height
                        );
                    }
                }
            }
        }
        Ok(())
    });
}

// ---- the door state machine --------------------------------------------------------

fn door_input() -> impl Strategy<Value = DoorInput> {
    prop_oneof![
        3 => prop::sample::select(DoorAction::ALL.to_vec()).prop_map(DoorInput::Command),
        1 => Just(DoorInput::AccessTimeElapsed),
        2 => Just(DoorInput::Opened),
        2 => Just(DoorInput::Closed),
        1 => Just(DoorInput::HeldOpenTimeElapsed),
        1 => any::<bool>().prop_map(DoorInput::Online),
    ]
}

/// Holds for every status the machine can reach.
fn door_invariants(s: &DoorStatus) -> Result<(), TestCaseError> {
    // A door whose state is not known is unknown, never locked.
    prop_assert_eq!(s.state(false), DoorState::Unknown);
    if !s.online {
        prop_assert_eq!(s.state(true), DoorState::Unknown);
    }
    // Alarms are about an open door.
    if s.forced || s.held_open {
        prop_assert_eq!(s.position, DoorPosition::Open, "{:?}", s);
    }
    Ok(())
}

/// One step: the refusal or the new status and alarms, checked against the
/// rules of the model.
fn door_step(before: DoorStatus, input: DoorInput) -> Result<DoorStatus, TestCaseError> {
    let result = before.apply(input);
    match (input, result) {
        (DoorInput::Command(action), Err(refusal)) => {
            let why = match (before.online, before.mode, action) {
                (false, _, _) => DoorRefusal::Offline,
                (true, DoorMode::LockedDown, DoorAction::Lockdown) => {
                    return Err(TestCaseError::fail(
                        "lockdown of a locked-down door refused",
                    ));
                }
                (true, DoorMode::LockedDown, DoorAction::ReleaseLockdown) => {
                    return Err(TestCaseError::fail("release of a lockdown refused"));
                }
                (true, DoorMode::LockedDown, _) => DoorRefusal::LockedDown,
                (true, _, DoorAction::ReleaseLockdown) => DoorRefusal::NotLockedDown,
                (true, _, _) => {
                    return Err(TestCaseError::fail(format!(
                        "{action:?} refused on {before:?}: {refusal}"
                    )));
                }
            };
            prop_assert_eq!(refusal, why);
            Ok(before)
        }
        (_, Err(refusal)) => Err(TestCaseError::fail(format!(
            "a physical input was refused: {input:?}: {refusal}"
        ))),
        (input, Ok((after, alarms))) => {
            door_invariants(&after)?;
            // Only a command moves the lock, besides a momentary access
            // ending (by time or by the door closing).
            match input {
                DoorInput::Command(action) => {
                    prop_assert!(before.online, "a command accepted while offline");
                    prop_assert!(
                        before.mode != DoorMode::LockedDown
                            || matches!(action, DoorAction::Lockdown | DoorAction::ReleaseLockdown),
                        "{:?} left a lockdown",
                        action
                    );
                    let want = match (before.mode, action) {
                        (DoorMode::Unlocked, DoorAction::Access) => DoorMode::Unlocked,
                        (_, a) => a.expected_mode(),
                    };
                    prop_assert_eq!(after.mode, want);
                    prop_assert_eq!(after.position, before.position);
                }
                DoorInput::AccessTimeElapsed | DoorInput::Closed
                    if before.mode == DoorMode::Accessed =>
                {
                    prop_assert_eq!(after.mode, DoorMode::Locked);
                }
                _ => prop_assert_eq!(after.mode, before.mode, "{:?} moved the lock", input),
            }
            // An alarm is raised once, when its flag goes up.
            let forced_raised = !before.forced && after.forced;
            let held_raised = !before.held_open && after.held_open;
            prop_assert_eq!(
                alarms.contains(&DoorAlarm::ForcedOpen),
                forced_raised,
                "{:?} {:?} -> {:?}",
                before,
                input,
                alarms
            );
            prop_assert_eq!(alarms.contains(&DoorAlarm::HeldOpen), held_raised);
            prop_assert!(alarms.len() <= 1);
            if input == DoorInput::Opened
                && matches!(before.mode, DoorMode::Locked | DoorMode::LockedDown)
            {
                prop_assert!(after.forced, "opened while locked, not forced");
            }
            if input == DoorInput::Closed {
                prop_assert!(!after.forced && !after.held_open);
            }
            if matches!(input, DoorInput::Online(_)) {
                prop_assert_eq!((after.mode, after.position), (before.mode, before.position));
            }
            Ok(after)
        }
    }
}

/// Target 4: the door state machine, pure and as the site runs it.
#[test]
fn fuzz_door_state_machine() {
    door_machine_keeps_its_invariants();
    site_door_commands_end_exactly_once();
}

fn door_machine_keeps_its_invariants() {
    let strategy = prop::collection::vec(door_input(), 0..64);
    fuzz("door_machine", 0.3, 512, strategy, |inputs| {
        let mut s = DoorStatus::locked_closed();
        door_invariants(&s)?;
        for input in inputs {
            s = door_step(s, input)?;
        }
        Ok(())
    });
}

/// What happens to the site in one step.
#[derive(Debug, Clone)]
enum SiteOp {
    /// A door command; the key comes from a small set, so keys repeat.
    Command {
        door: Index,
        action: DoorAction,
        key: u8,
    },
    Open(Index),
    Close(Index),
    Online(bool),
    /// Site clock forward by this many ms.
    Advance(u16),
}

fn site_op() -> impl Strategy<Value = SiteOp> {
    prop_oneof![
        4 => (any::<Index>(), prop::sample::select(DoorAction::ALL.to_vec()), 0u8..6)
            .prop_map(|(door, action, key)| SiteOp::Command { door, action, key }),
        2 => any::<Index>().prop_map(SiteOp::Open),
        2 => any::<Index>().prop_map(SiteOp::Close),
        1 => any::<bool>().prop_map(SiteOp::Online),
        3 => (0u16..6_000).prop_map(SiteOp::Advance),
    ]
}

mod site_doors {
    use super::*;
    use watchdesk::site::audit::Actor;
    use watchdesk::site::controller::SimulatedController;
    use watchdesk::site::core::SiteCore;
    use watchdesk::site::drivers::Drivers;
    use watchdesk::site::env::{Clock, SimulatedClock, SiteEnv};
    use watchdesk::site::store::{EventQuery, Store};

    fn config() -> SiteConfig {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/site.toml");
        let mut c = SiteConfig::load(&path).expect("the demo config loads");
        c.video.demo_cameras = false;
        c.traffic.enabled = false;
        c
    }

    /// The terminal events of each command so far: completed or failed.
    fn outcomes(core: &SiteCore) -> Result<HashMap<CommandId, Vec<CommandState>>, TestCaseError> {
        let mut out: HashMap<CommandId, Vec<CommandState>> = HashMap::new();
        for type_name in ["command.completed", "command.failed"] {
            let page = core
                .events()
                .search(&EventQuery {
                    type_name: Some(type_name.into()),
                    limit: 10_000,
                    ..EventQuery::default()
                })
                .map_err(|e| TestCaseError::fail(format!("search: {e}")))?;
            for e in page.items {
                match e.kind {
                    EventKind::CommandCompleted { command, .. } => {
                        out.entry(command)
                            .or_default()
                            .push(CommandState::Completed);
                    }
                    EventKind::CommandFailed { command, .. } => {
                        out.entry(command).or_default().push(CommandState::Failed);
                    }
                    _ => {}
                }
            }
        }
        Ok(out)
    }

    /// Runs `ops` against a real site core on a simulated clock; every
    /// accepted command ends exactly once, as its record says, and the door
    /// mirror ends up as the controller reports, unknown while it is offline.
    pub async fn run(ops: Vec<SiteOp>) -> Result<(), TestCaseError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let cfg = config();
        let timeout = Duration::from_millis(cfg.command_timeout_ms);
        let clock = SimulatedClock::new(chrono::Utc::now());
        let sim =
            SimulatedController::with_clock(&cfg.doors, &cfg.controller, Arc::new(clock.clone()));
        let store = Arc::new(Store::open_in(dir.path()).expect("store"));
        let env = SiteEnv::with_clock(
            Arc::new(clock.clone()),
            store,
            Drivers::simulated(sim.clone()),
        );
        let doors: Vec<DoorId> = cfg.doors.iter().map(|d| d.id.clone()).collect();
        let core = SiteCore::new(cfg, env).expect("core");
        let _bg = core.start_background();
        let actor = Actor {
            username: "operator".into(),
            role: Some(watchdesk::domain::Role::Operator),
            source: "127.0.0.1".into(),
        };
        let mut accepted: HashMap<CommandId, (DoorId, DoorAction)> = HashMap::new();
        let mut keys: HashMap<u8, (DoorId, DoorAction)> = HashMap::new();
        for op in ops {
            match op {
                SiteOp::Command { door, action, key } => {
                    let door = doors[door.index(doors.len())].clone();
                    let cmd = DoorCommand {
                        action,
                        idempotency_key: format!("fuzz-{key}"),
                    };
                    match core.doors().command(&actor, &door, &cmd) {
                        Ok(info) => {
                            let first = keys.entry(key).or_insert((door.clone(), action)).clone();
                            prop_assert_eq!(first, (door.clone(), action), "a reused key answered");
                            prop_assert_eq!(&info.door, &door);
                            accepted.insert(info.id, (door, action));
                        }
                        Err(e) => {
                            // Only a key reused for another door or action.
                            let first = keys.get(&key);
                            prop_assert!(
                                first.is_some_and(|f| f != &(door.clone(), action)),
                                "{:?} refused: {}",
                                cmd,
                                e
                            );
                        }
                    }
                }
                SiteOp::Open(i) => sim.open(&doors[i.index(doors.len())]),
                SiteOp::Close(i) => sim.close(&doors[i.index(doors.len())]),
                SiteOp::Online(on) => sim.set_online(on),
                SiteOp::Advance(ms) => clock.advance(Duration::from_millis(u64::from(ms))),
            }
            clock.settle().await;
            tokio::task::yield_now().await;
        }
        // Time passes until every command has ended (offline ones time out).
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            clock.advance(timeout);
            clock.settle().await;
            tokio::time::sleep(Duration::from_millis(2)).await;
            let ended = outcomes(&core)?;
            if accepted.keys().all(|id| ended.contains_key(id)) && clock.due_sleepers() == 0 {
                break;
            }
            prop_assert!(
                Instant::now() < deadline,
                "commands never ended: {:?}",
                accepted
                    .keys()
                    .filter(|id| !ended.contains_key(*id))
                    .collect::<Vec<_>>()
            );
        }
        // One more stretch of time: nothing ends twice.
        clock.advance(timeout * 2);
        clock.settle().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        let ended = outcomes(&core)?;
        for (id, (door, action)) in &accepted {
            let states = &ended[id];
            prop_assert_eq!(
                states.len(),
                1,
                "{:?} {:?} on {} ended {:?}",
                id,
                action,
                door,
                states
            );
            let record = core
                .doors()
                .get_command(id)
                .map_err(|e| TestCaseError::fail(format!("command record: {e}")))?;
            prop_assert_eq!(record.state, states[0], "record and event disagree");
        }
        prop_assert!(
            ended.keys().all(|id| accepted.contains_key(id)),
            "an unknown command ended"
        );
        // The mirror shows what the controller reports; while the controller
        // is offline it reports nothing, and the mirror shows the door offline.
        let mirror_deadline = Instant::now() + Duration::from_secs(5);
        for door in &doors {
            loop {
                let mirrored = core.doors().status(door);
                let agrees = if sim.is_online() {
                    mirrored == sim.status(door)
                } else {
                    mirrored.is_some_and(|m| !m.online)
                };
                if agrees {
                    break;
                }
                prop_assert!(
                    Instant::now() < mirror_deadline,
                    "{} mirrored {:?}, controller says {:?}",
                    door,
                    mirrored,
                    sim.status(door)
                );
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let mirrored = core.doors().status(door).expect("a configured door");
            door_invariants(&mirrored)?;
            if !sim.is_online() {
                prop_assert_eq!(mirrored.state(true), DoorState::Unknown);
            }
        }
        let _ = clock.now();
        core.shutdown();
        Ok(())
    }
}

fn site_door_commands_end_exactly_once() {
    let strategy = prop::collection::vec(site_op(), 0..24);
    fuzz("site_doors", 0.7, 16, strategy, |ops| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(site_doors::run(ops))
    });
}

/// What the placement fuzzer found first: TOML spells NaN (`nan`), and NaN
/// passed the "outside the plan" check, so a door was drawn nowhere.
#[test]
fn a_placement_at_nan_or_infinity_is_refused_with_file_and_line() {
    let site = SiteCopy::new();
    let (path, original) = site.original("maps/floor1.toml");
    for bad in ["nan", "-nan", "inf", "-inf"] {
        let text = original.replacen("x = 280.0", &format!("x = {bad}"), 1);
        assert_ne!(
            text, original,
            "the demo plan places door-lobby at x = 280.0"
        );
        match site.load_with(&path, &text) {
            Err(ConfigError::Invalid {
                file, line, key, ..
            }) => {
                assert_eq!(file, path);
                assert!(line > 0, "{bad}: no line");
                assert_eq!(key, "x");
            }
            other => panic!("x = {bad}: {other:?}"),
        }
    }
}
