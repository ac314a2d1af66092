//! What a UI frame costs on the UI thread, in CPU time of that thread, for
//! the three cases of issue 9's "Scale" section, drawn with egui_kittest (no
//! GPU renderer: the renderer's share is not in these figures):
//!
//! 1. the real `App` (the "Operations" dock: cameras in 3×3 at the front,
//!    the events list and the access monitor beside them) fed by the real
//!    worker from the demo site, its traffic at 50 badges a second; no video
//!    engine, so the nine tiles draw their "no video" state;
//! 2. the doors panel and the floor map side by side on the generated large
//!    site (1,000 doors, 300 cameras, 10,000 cardholders; demo cameras off),
//!    fed by the real worker, the site's traffic running;
//! 3. the cardholders panel on the large site while searches run: a new
//!    query every half second (names, departments, badge numbers, and the
//!    empty query that lists everyone), sent through the real worker,
//!    answered by the site, the results drawn; plus the site's answer to
//!    `Client::cardholders("Nora")`, round trip.
//!
//! "ours" is the CPU time of our code in a frame (`App::logic` + `App::ui`,
//! or the panels' functions and applying the worker's events); "step" is
//! the whole `Harness::step` (adds egui's end of frame and kittest's
//! AccessKit tree). "tessellate" is the renderer's CPU share that runs on
//! the UI thread: turning the frame's shapes into triangles
//! (`Context::tessellate`, as eframe does before it hands them to wgpu or
//! glow). The GPU's own work (upload, draw) is not measured: these
//! machines have no GPU. Frames are paced at 60 per second.
//!
//! `cargo bench --bench ui` (release), or `cargo bench --bench ui --profile
//! dev` for a quick debug run. The last line printed is one JSON object.

mod common;

use std::cell::Cell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use tokio::sync::mpsc;
use watchdesk::app::App;
use watchdesk::app::worker::{self, EventSink, SiteSource, WorkerConfig};
use watchdesk::client::{Client, ClientConfig};
use watchdesk::config::SiteConfig;
use watchdesk::site::generate::{SiteSize, write_site};
use watchdesk::site::{SiteHandle, SiteOptions};
use watchdesk::ui::{cardholders, doors, map};
use watchdesk::viewer::{
    AppEvent, AppState, Command, CommandReceiver, CommandSender, DoorsPanel, MapView,
    command_channel,
};

/// Frames measured per case (10 s at 60 frames a second).
const FRAMES: usize = 600;
/// Frames drawn first and not measured.
const WARMUP: usize = 60;
const FRAME: Duration = Duration::from_micros(16_667);
/// Cardholder searches measured.
const SEARCHES: usize = 200;

/// CPU time of the calling thread.
#[allow(unsafe_code, reason = "one libc call; std has no thread CPU clock")]
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Median and p99 of a set of milliseconds.
#[derive(Clone, Copy)]
struct Figures {
    median: f64,
    p99: f64,
    max: f64,
}

impl Figures {
    fn of(mut v: Vec<f64>) -> Figures {
        v.sort_by(f64::total_cmp);
        Figures {
            median: common::percentile(&v, 0.5),
            p99: common::percentile(&v, 0.99),
            max: v.last().copied().unwrap_or(f64::NAN),
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "median_ms": round(self.median),
            "p99_ms": round(self.p99),
            "max_ms": round(self.max),
        })
    }
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

async fn start_site(config: SiteConfig, dir: &std::path::Path) -> SiteHandle {
    watchdesk::site::start(SiteOptions {
        config,
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.to_owned(),
        fault_injection: false,
        tls: None,
    })
    .await
    .expect("site starts")
}

/// The real worker against `base_url`, signed in as the demo operator.
fn start_worker(
    rt: &tokio::runtime::Runtime,
    base_url: String,
) -> (
    mpsc::Sender<Command>,
    mpsc::Receiver<AppEvent>,
    tokio::task::JoinHandle<()>,
) {
    let (commands, command_rx) = mpsc::channel::<Command>(64);
    let (event_tx, events) = mpsc::channel(4096);
    let task = rt.spawn(worker::run(
        WorkerConfig {
            site: SiteSource::Remote { base_url },
            ca_cert: None,
            allow_plain_http: false,
            auto_sign_in: Some(("operator".into(), "demo-operator".into())),
        },
        command_rx,
        EventSink::new(event_tx, Arc::new(|| {})),
    ));
    (commands, events, task)
}

/// The real `App`, its `logic` and `ui` timed in thread CPU time.
struct Timed {
    app: App,
    ours: Rc<Cell<Duration>>,
}

impl eframe::App for Timed {
    fn logic(&mut self, ctx: &egui::Context, frame: &mut eframe::Frame) {
        let t = thread_cpu();
        self.app.logic(ctx, frame);
        self.ours.set(self.ours.get() + (thread_cpu() - t));
    }

    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        let t = thread_cpu();
        self.app.ui(ui, frame);
        self.ours.set(self.ours.get() + (thread_cpu() - t));
    }
}

/// Per-frame figures in ms: our code, the whole step, tessellation.
struct Frames {
    own: Vec<f64>,
    step: Vec<f64>,
    tessellate: Vec<f64>,
}

/// Steps `harness` until `ready`, then `FRAMES` frames at 60 a second,
/// calling `each(frame index, state)` before each; returns the figures per
/// frame in ms. `ours` is reset before each frame.
fn measure<S>(
    harness: &mut Harness<'_, S>,
    ours: &Rc<Cell<Duration>>,
    what: &str,
    ready: impl Fn(&S) -> bool,
    mut each: impl FnMut(usize, &mut S),
) -> Frames {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready(harness.state()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        harness.step();
        std::thread::sleep(FRAME);
    }
    let (mut own, mut step, mut tess) = (Vec::new(), Vec::new(), Vec::new());
    let mut next = Instant::now();
    for i in 0..WARMUP + FRAMES {
        each(i, harness.state_mut());
        ours.set(Duration::ZERO);
        let t = thread_cpu();
        harness.step();
        let whole = thread_cpu() - t;
        let output = harness.output();
        let shapes = output.shapes.clone();
        let ppp = output.pixels_per_point;
        let t = thread_cpu();
        let meshes = harness.ctx.tessellate(shapes, ppp);
        let tessellate = thread_cpu() - t;
        std::hint::black_box(meshes);
        if i >= WARMUP {
            own.push(ms(ours.get()));
            step.push(ms(whole));
            tess.push(ms(tessellate));
        }
        next += FRAME;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    Frames {
        own,
        step,
        tessellate: tess,
    }
}

/// A case's figures: our code, the whole step, the renderer's CPU share.
struct Case {
    ours: Figures,
    step: Figures,
    tessellate: Figures,
}

impl Case {
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "ours": self.ours.json(),
            "step": self.step.json(),
            "renderer_tessellate": self.tessellate.json(),
        })
    }
}

fn report(name: &str, frames: Frames) -> Case {
    let (o, s, t) = (
        Figures::of(frames.own),
        Figures::of(frames.step),
        Figures::of(frames.tessellate),
    );
    println!(
        "{name}: ours median {:.2} ms, p99 {:.2} ms, max {:.2} ms; whole step median {:.2} ms, p99 {:.2} ms; renderer (tessellation) median {:.2} ms, p99 {:.2} ms ({FRAMES} frames)",
        o.median, o.p99, o.max, s.median, s.p99, t.median, t.p99
    );
    Case {
        ours: o,
        step: s,
        tessellate: t,
    }
}

/// Case 1: the App in 3×3 with the demo site's traffic at 50/s.
fn three_by_three(rt: &tokio::runtime::Runtime) -> (Case, usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = SiteConfig::load(&repo().join("config/site.toml")).expect("demo config");
    config.video.demo_cameras = false;
    config.traffic.enabled = true;
    config.traffic.badges_per_minute = 3000.0;
    let site = rt.block_on(start_site(config, dir.path()));
    let (to_worker, from_worker, task) = start_worker(rt, site.base_url());
    let state = AppState::new(chrono::Utc::now(), site.base_url(), true);
    let mut app = App::new(state, to_worker, from_worker);
    assert!(app.open_workspace(None, Some("cameras:3x3")), "3x3 view");
    let ours = Rc::new(Cell::new(Duration::ZERO));
    let timed = Timed {
        app,
        ours: ours.clone(),
    };
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1920.0, 1080.0))
        .with_step_dt(FRAME.as_secs_f32())
        .build_eframe(move |_cc| timed);
    let frames = measure(
        &mut harness,
        &ours,
        "the demo site",
        |t: &Timed| {
            let s = t.app.state();
            s.runtime.session.is_some() && s.link_up() && !s.site().cameras().is_empty()
        },
        |_, _| {},
    );
    let events = harness.state().app.state().access_events().len();
    let case = report("3x3 view, demo site, traffic 50/s", frames);
    task.abort();
    drop(harness);
    drop(site);
    (case, events)
}

struct Panels {
    state: AppState,
    events: mpsc::Receiver<AppEvent>,
    doors: DoorsPanel,
    map: MapView,
    commands: CommandSender,
    ours: Rc<Cell<Duration>>,
}

/// Case 2: the doors panel and the map side by side on the large site.
fn doors_and_map(rt: &tokio::runtime::Runtime, site: &SiteHandle) -> (Case, usize) {
    let (_to_worker, events, task) = start_worker(rt, site.base_url());
    let (commands, _outbox) = command_channel();
    let ours = Rc::new(Cell::new(Duration::ZERO));
    let panels = Panels {
        state: AppState::new(chrono::Utc::now(), site.base_url(), false),
        events,
        doors: DoorsPanel::default(),
        map: MapView::default(),
        commands,
        ours: ours.clone(),
    };
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1920.0, 1080.0))
        .with_step_dt(FRAME.as_secs_f32())
        .build_ui_state(
            |ui, p: &mut Panels| {
                let t = thread_cpu();
                p.state.apply(AppEvent::Tick {
                    now: chrono::Utc::now(),
                });
                while let Ok(event) = p.events.try_recv() {
                    p.state.apply(event);
                }
                ui.columns(2, |cols| {
                    doors::doors_ui(&mut cols[0], &p.state, &mut p.doors, &p.commands);
                    map::map_ui(&mut cols[1], &p.state, &mut p.map, &p.commands);
                });
                p.ours.set(p.ours.get() + (thread_cpu() - t));
            },
            panels,
        );
    let frames = measure(
        &mut harness,
        &ours,
        "the large site",
        |p: &Panels| {
            let s = &p.state;
            s.runtime.session.is_some()
                && s.site().doors().len() >= 1000
                && s.site()
                    .maps()
                    .first()
                    .is_some_and(|m| s.site().map_image(&m.id).is_some())
        },
        |_, _| {},
    );
    let doors = harness.state().state.site().doors().len();
    let case = report("doors panel + map, large site", frames);
    task.abort();
    (case, doors)
}

struct People {
    state: AppState,
    events: mpsc::Receiver<AppEvent>,
    to_worker: mpsc::Sender<Command>,
    commands: CommandSender,
    outbox: CommandReceiver,
    ours: Rc<Cell<Duration>>,
    /// Search answers drawn during the measured frames.
    answers: usize,
}

/// What the bench types into the search, one every half second.
const QUERIES: [&str; 6] = ["Nora", "a", "", "Engineering", "1000", "Lind"];

/// Case 3: the cardholders panel on the large site, searches running.
fn cardholders_panel(rt: &tokio::runtime::Runtime, site: &SiteHandle) -> (Case, usize) {
    let (to_worker, events, task) = start_worker(rt, site.base_url());
    let (commands, outbox) = command_channel();
    let ours = Rc::new(Cell::new(Duration::ZERO));
    let people = People {
        state: AppState::new(chrono::Utc::now(), site.base_url(), false),
        events,
        to_worker,
        commands,
        outbox,
        ours: ours.clone(),
        answers: 0,
    };
    let mut harness = Harness::builder()
        .with_size(egui::vec2(900.0, 1080.0))
        .with_step_dt(FRAME.as_secs_f32())
        .build_ui_state(
            |ui, p: &mut People| {
                let t = thread_cpu();
                p.state.apply(AppEvent::Tick {
                    now: chrono::Utc::now(),
                });
                while let Ok(event) = p.events.try_recv() {
                    if matches!(event, AppEvent::CardholderSearch { .. }) {
                        p.answers += 1;
                    }
                    p.state.apply(event);
                }
                cardholders::cardholders_ui(ui, &p.state, &p.commands);
                p.ours.set(p.ours.get() + (thread_cpu() - t));
                // The panel's own commands (its first search, opening a
                // cardholder) go to the worker, as the shell sends them.
                while let Some(command) = p.outbox.try_recv() {
                    let _ = p.to_worker.try_send(command);
                }
            },
            people,
        );
    let frames = measure(
        &mut harness,
        &ours,
        "the large site's cardholders",
        |p: &People| p.state.runtime.session.is_some() && p.answers > 0,
        |i, p: &mut People| {
            if i % 30 == 0 {
                let q = QUERIES[(i / 30) % QUERIES.len()].to_owned();
                let _ = p.to_worker.try_send(Command::SearchCardholders { q });
            }
        },
    );
    let answers = harness.state().answers;
    let case = report(
        "cardholders panel, large site, a search every 0.5 s",
        frames,
    );
    task.abort();
    (case, answers)
}

/// Case 3: the site's answer to a cardholder search, round trip.
fn cardholder_search(rt: &tokio::runtime::Runtime, site: &SiteHandle) -> (Figures, usize) {
    rt.block_on(async {
        let mut client = Client::new(&ClientConfig {
            base_url: site.base_url(),
            ca_cert: None,
            allow_plain_http: false,
        })
        .expect("client");
        client
            .sign_in("operator", "demo-operator")
            .await
            .expect("sign-in");
        let mut found = 0;
        let mut times = Vec::new();
        for _ in 0..SEARCHES {
            let t = Instant::now();
            let list = client.cardholders("Nora").await.expect("search");
            times.push(ms(t.elapsed()));
            found = list.len();
        }
        let f = Figures::of(times);
        println!(
            "cardholder search \"Nora\", large site: median {:.2} ms, p99 {:.2} ms round trip, {found} found ({SEARCHES} searches)",
            f.median, f.p99
        );
        (f, found)
    })
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let profile = if cfg!(debug_assertions) {
        "dev"
    } else {
        "release"
    };
    println!(
        "profile: {profile}; figures are UI-thread CPU time per frame; the renderer's share is its tessellation (no GPU here)"
    );

    let (three, access_events) = three_by_three(&rt);

    let big = tempfile::tempdir().expect("temp dir");
    let site_toml = write_site(
        &big.path().join("config"),
        &repo().join("config"),
        SiteSize::default(),
    )
    .expect("large site written");
    let mut config = SiteConfig::load(&site_toml).expect("large site loads");
    config.video.demo_cameras = false;
    let data = big.path().join("data");
    let site = rt.block_on(start_site(config, &data));
    let (panels, doors) = doors_and_map(&rt, &site);
    let (people, answers) = cardholders_panel(&rt, &site);
    let (search, found) = cardholder_search(&rt, &site);
    drop(site);

    let target = 16.0;
    let met = three.ours.p99 <= target && panels.ours.p99 <= target && people.ours.p99 <= target;
    println!(
        "target p99 <= {target} ms of our own UI code per frame: {}",
        if met { "met" } else { "NOT met" }
    );
    let json = serde_json::json!({
        "profile": profile,
        "frames": FRAMES,
        "threeByThree": {
            "frame": three.json(),
            "access_events_seen": access_events,
        },
        "doorsAndMap": {
            "frame": panels.json(),
            "doors": doors,
        },
        "cardholderSearch": {
            "frame": people.json(),
            "answers_drawn": answers,
            "round_trip": search.json(),
            "found": found,
        },
        "renderer": "tessellation on the UI thread per case (renderer_tessellate); GPU upload and draw not measured (no GPU)",
        "target_p99_ms": target,
        "target_met": met,
    });
    println!("{json}");
}
