//! Sessions: sign-in, bearer tokens and sign-out over [`Auth`], each
//! audited (a failed sign-in under the name given). Sign-in goes through the
//! [`throttle`]: a few password checks at once, and a backoff per user name
//! and per address after failures, each start of one audited.
//!
//! A demo account (one that signs in with a documented demo password,
//! [`is_demo_password`]) signs in from loopback only: from anywhere else it
//! gets the answer of a wrong password, audited as such with the reason.
//! An admin revokes one user's sessions or everyone's ([`Sessions::revoke`],
//! audited); the caller's own session is kept (sign-out ends it). A live
//! stream ends with its session ([`Sessions::ended`]). A task on the site's
//! clock forgets dead sessions and expired idempotency keys
//! ([`Sessions::run_purge`]).

mod checks;
mod throttle;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::domain::Session;

use self::checks::PasswordChecks;
pub use self::throttle::SignInLimits;
use self::throttle::{Refusal, Subject, Throttle};

use super::audit::{Actor, AuditTrail, actions};
use super::auth::{Auth, AuthError, Principal, is_demo_password, is_loopback_source};
use super::error::CoreError;
use super::store::IDEMPOTENCY_KEY_TTL;

/// Longest user name written to the audit trail.
const MAX_AUDITED_NAME: usize = 128;

/// How often (site clock) dead sessions and expired idempotency keys are
/// forgotten.
pub const PURGE_EVERY: Duration = Duration::from_secs(5 * 60);

/// How often (site clock) a live stream checks that its session still
/// lives; a revocation through this service ends it at once.
pub const STREAM_RECHECK: Duration = Duration::from_secs(5);

/// The audit outcome of a demo account's sign-in from elsewhere.
const DEMO_ELSEWHERE: &str = "denied: a demo user, from an address that is not loopback";

/// Whose sessions an admin revokes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoke {
    /// Every session of this user.
    User(String),
    /// Every session of every user.
    All,
}

/// The sessions service.
pub struct Sessions {
    auth: Arc<Auth>,
    audit: Arc<AuditTrail>,
    throttle: Throttle,
    checks: PasswordChecks,
    /// Bumped at every revocation, so live streams re-check at once.
    revocations: watch::Sender<u64>,
}

impl Sessions {
    /// Sessions with the default [`SignInLimits`].
    pub fn new(auth: Auth, audit: Arc<AuditTrail>) -> Sessions {
        Sessions::with_limits(auth, audit, SignInLimits::default())
    }

    pub fn with_limits(auth: Auth, audit: Arc<AuditTrail>, limits: SignInLimits) -> Sessions {
        let checks = PasswordChecks::new(limits.checks_at_once);
        let throttle = Throttle::new(limits, Arc::clone(auth.clock()));
        Sessions {
            auth: Arc::new(auth),
            audit,
            throttle,
            checks,
            revocations: watch::Sender::new(0),
        }
    }

    /// Signs in; audited either way. A user name or address backed off
    /// after failures, or a full queue of password checks, answers
    /// [`AuthError::Throttled`] without checking the password (and without
    /// an audit row: the start of the backoff has one).
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        source: &str,
    ) -> Result<Session, CoreError> {
        let name: String = username.chars().take(MAX_AUDITED_NAME).collect();
        let subjects = [
            Subject::User(name.clone()),
            Subject::Address(source.to_owned()),
        ];
        self.throttle.check(&subjects).map_err(throttled)?;
        let permit = self.throttle.permit().await.map_err(throttled)?;
        // A backoff may have started while this one waited in the queue.
        self.throttle.check(&subjects).map_err(throttled)?;
        let check = self.auth.password_check(username, password);
        let password_ok = self.checks.run(permit, check).await;
        // Checked after the password, so the answer and its time are those
        // of a wrong password.
        let demo_elsewhere =
            password_ok && is_demo_password(password) && !is_loopback_source(source);
        let result = self
            .auth
            .open_session(username, password_ok && !demo_elsewhere);
        let (role, outcome) = match &result {
            Ok(s) => (Some(s.role), "ok"),
            Err(_) if demo_elsewhere => (None, DEMO_ELSEWHERE),
            Err(_) => (None, "denied"),
        };
        let actor = Actor {
            username: name.clone(),
            role,
            source: source.to_owned(),
        };
        self.audit.record(&actor, actions::SIGN_IN, &name, outcome);
        match &result {
            Ok(_) => self.throttle.succeeded(&subjects[0]),
            Err(AuthError::BadCredentials) => {
                for b in self.throttle.failed(&subjects) {
                    let outcome = format!(
                        "backoff {} ms after {} failures",
                        b.wait.as_millis(),
                        b.failures
                    );
                    self.audit.record(
                        &actor,
                        actions::SIGN_IN_BACKOFF,
                        &b.subject.target(),
                        &outcome,
                    );
                }
            }
            Err(_) => {}
        }
        Ok(result?)
    }

    /// The session of a bearer token.
    pub fn authenticate(&self, token: &str) -> Result<Principal, CoreError> {
        Ok(self.auth.authenticate(token)?)
    }

    /// Whether the session with this token hash still lives (counts as its
    /// use, as an open stream does).
    pub fn is_live(&self, token_sha256: &str) -> bool {
        self.auth.authenticate_hash(token_sha256).is_ok()
    }

    /// Ends a session; audited.
    pub fn sign_out(&self, p: &Principal, source: &str) -> Result<(), CoreError> {
        self.auth.sign_out(p)?;
        self.revocations.send_modify(|n| *n = n.wrapping_add(1));
        self.audit.record(
            &Actor::user(p, source),
            actions::SIGN_OUT,
            &p.username,
            "ok",
        );
        Ok(())
    }

    /// Revokes one user's sessions or everyone's, but never the caller's
    /// own (sign-out ends that); audited. Returns how many were revoked.
    /// The caller's role is checked by the API (`ManageSessions`).
    pub fn revoke(
        &self,
        caller: &Principal,
        source: &str,
        what: &Revoke,
    ) -> Result<usize, CoreError> {
        let (user, target) = match what {
            Revoke::User(name) => {
                let short: String = name.chars().take(MAX_AUDITED_NAME).collect();
                (Some(name.as_str()), format!("user:{short}"))
            }
            Revoke::All => (None, "all".to_owned()),
        };
        let actor = Actor::user(caller, source);
        let revoked = self.auth.revoke(user, Some(&caller.token_sha256));
        let outcome = match &revoked {
            Ok(n) => format!("ok: {n} revoked"),
            Err(e) => format!("failed: {e}"),
        };
        self.revocations.send_modify(|n| *n = n.wrapping_add(1));
        self.audit
            .record(&actor, actions::SESSION_REVOKE, &target, &outcome);
        Ok(revoked?)
    }

    /// Resolves once the session of `p` no longer lives (revoked, expired,
    /// idle, its user gone), or the service is gone: at once after a
    /// revocation through this service, else within [`STREAM_RECHECK`] of
    /// the site's clock. Each check counts as use of the session, so an
    /// open live stream keeps its session from idling out.
    pub fn ended(&self, p: &Principal) -> impl Future<Output = ()> + Send + use<> {
        let auth = Arc::clone(&self.auth);
        let mut revocations = self.revocations.subscribe();
        let hash = p.token_sha256.clone();
        async move {
            loop {
                let tick = auth.clock().sleep(STREAM_RECHECK);
                tokio::select! {
                    changed = revocations.changed() => {
                        if changed.is_err() {
                            return;
                        }
                    }
                    () = tick => {}
                }
                let (auth, hash) = (Arc::clone(&auth), hash.clone());
                let live = tokio::task::spawn_blocking(move || auth.authenticate_hash(&hash))
                    .await
                    .is_ok_and(|r| r.is_ok());
                if !live {
                    return;
                }
            }
        }
    }

    /// Forgets dead sessions (revoked, expired, idle) and finished commands
    /// whose idempotency key has expired, now; returns how many of each.
    pub fn purge(&self) -> Result<(usize, usize), CoreError> {
        purge(&self.auth)
    }

    /// The task that calls [`Sessions::purge`] every [`PURGE_EVERY`] of the
    /// site's clock (off the runtime's workers: the store calls block).
    pub fn run_purge(&self) -> JoinHandle<()> {
        let auth = Arc::clone(&self.auth);
        tokio::spawn(async move {
            loop {
                auth.clock().sleep(PURGE_EVERY).await;
                let a = Arc::clone(&auth);
                match tokio::task::spawn_blocking(move || purge(&a)).await {
                    Ok(Ok((sessions, commands))) => {
                        tracing::debug!(sessions, commands, "purged dead sessions and old keys");
                    }
                    Ok(Err(e)) => tracing::error!("cannot purge sessions and keys: {e:#}"),
                    Err(e) => tracing::error!("the purge failed: {e}"),
                }
            }
        })
    }
}

fn purge(auth: &Auth) -> Result<(usize, usize), CoreError> {
    let sessions = auth.purge()?;
    let now = auth.clock().now();
    let before = now
        .checked_sub_signed(IDEMPOTENCY_KEY_TTL)
        .unwrap_or(crate::domain::Timestamp::MIN_UTC);
    let commands = auth
        .store()
        .purge_commands(before)
        .map_err(AuthError::from)?;
    Ok((sessions, commands))
}

/// A refusal of the throttle as the error the API answers (429).
fn throttled(r: Refusal) -> CoreError {
    let reason = match &r {
        Refusal::BackedOff { .. } => "too many failed sign-ins",
        Refusal::Busy { .. } => "too many sign-ins at once",
    };
    AuthError::Throttled {
        reason: reason.to_owned(),
        retry_after_secs: r.retry_after_secs(),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SiteConfig;
    use crate::domain::ErrorKind;
    use crate::site::audit::AuditQuery;
    use crate::site::env::{Clock, RealClock};
    use crate::site::store::Store;
    use std::path::Path;

    #[tokio::test]
    async fn sign_in_and_out_are_audited() {
        let cfg = SiteConfig::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/site.toml"))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open_in(dir.path()).unwrap());
        let clock: Arc<dyn Clock> = Arc::new(RealClock);
        let audit = Arc::new(AuditTrail::new(Arc::clone(&store), Arc::clone(&clock)));
        let sessions = Sessions::new(Auth::new(&cfg, store, clock), Arc::clone(&audit));
        let long = "g".repeat(500);
        let e = sessions.sign_in(&long, "x", "127.0.0.9").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unauthenticated);
        let s = sessions
            .sign_in("viewer", "demo-viewer", "127.0.0.9")
            .await
            .unwrap();
        let p = sessions.authenticate(&s.token).unwrap();
        sessions.sign_out(&p, "127.0.0.9").unwrap();
        assert_eq!(
            sessions.authenticate(&s.token).unwrap_err().kind(),
            ErrorKind::Unauthenticated
        );
        let page = audit
            .search(&AuditQuery {
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        let got: Vec<(String, String, String)> = page
            .items
            .iter()
            .rev()
            .map(|e| (e.user.clone(), e.action.clone(), e.outcome.clone()))
            .collect();
        let short = "g".repeat(MAX_AUDITED_NAME);
        assert_eq!(
            got,
            [
                (short, actions::SIGN_IN.to_owned(), "denied".to_owned()),
                ("viewer".into(), actions::SIGN_IN.into(), "ok".into()),
                ("viewer".into(), actions::SIGN_OUT.into(), "ok".into()),
            ]
        );
        assert!(page.items.iter().all(|e| e.source == "127.0.0.9"));
    }

    #[tokio::test]
    async fn failures_back_off_without_checking_audited_and_lift_on_the_site_clock() {
        use crate::site::env::SimulatedClock;
        let cfg = SiteConfig::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/site.toml"))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open_in(dir.path()).unwrap());
        let sim = SimulatedClock::new(chrono::Utc::now());
        let clock: Arc<dyn Clock> = Arc::new(sim.clone());
        let audit = Arc::new(AuditTrail::new(Arc::clone(&store), Arc::clone(&clock)));
        let sessions = Sessions::new(Auth::new(&cfg, store, clock), Arc::clone(&audit));
        let retry_after = |e: CoreError| match e {
            CoreError::Auth(AuthError::Throttled {
                retry_after_secs, ..
            }) => Some(retry_after_secs),
            _ => None,
        };
        for _ in 0..6 {
            let e = sessions
                .sign_in("viewer", "guess", "127.0.0.9")
                .await
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Unauthenticated);
        }
        // Backed off: even the right password is not checked.
        let e = sessions
            .sign_in("viewer", "demo-viewer", "127.0.0.8")
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert_eq!(retry_after(e), Some(1));
        // So is another name from the same address.
        let e = sessions
            .sign_in("operator", "demo-operator", "127.0.0.9")
            .await
            .unwrap_err();
        assert_eq!(retry_after(e), Some(1));
        // Another name from another address gets in.
        sessions
            .sign_in("operator", "demo-operator", "127.0.0.8")
            .await
            .unwrap();
        sim.advance(std::time::Duration::from_millis(999));
        assert!(
            sessions
                .sign_in("viewer", "demo-viewer", "127.0.0.8")
                .await
                .is_err()
        );
        sim.advance(std::time::Duration::from_millis(1));
        sessions
            .sign_in("viewer", "demo-viewer", "127.0.0.8")
            .await
            .unwrap();

        let page = audit
            .search(&AuditQuery {
                limit: 100,
                ..Default::default()
            })
            .unwrap();
        let backoffs: Vec<(String, String)> = page
            .items
            .iter()
            .rev()
            .filter(|e| e.action == actions::SIGN_IN_BACKOFF)
            .map(|e| (e.target.clone(), e.outcome.clone()))
            .collect();
        let want = "backoff 1000 ms after 6 failures".to_owned();
        assert_eq!(
            backoffs,
            [
                ("user:viewer".to_owned(), want.clone()),
                ("address:127.0.0.9".to_owned(), want),
            ]
        );
        let sign_ins = page
            .items
            .iter()
            .filter(|e| e.action == actions::SIGN_IN)
            .count();
        assert_eq!(sign_ins, 8, "throttled attempts write no sign-in row");
    }

    fn sessions_on(
        clock: Arc<dyn Clock>,
    ) -> (Sessions, Arc<AuditTrail>, Arc<Store>, tempfile::TempDir) {
        let cfg = SiteConfig::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/site.toml"))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open_in(dir.path()).unwrap());
        let audit = Arc::new(AuditTrail::new(Arc::clone(&store), Arc::clone(&clock)));
        let auth = Auth::new(&cfg, Arc::clone(&store), clock);
        (Sessions::new(auth, Arc::clone(&audit)), audit, store, dir)
    }

    fn rows(audit: &AuditTrail, action: &str) -> Vec<(String, String, String, String)> {
        let page = audit
            .search(&AuditQuery {
                action: Some(action.to_owned()),
                limit: 100,
                ..Default::default()
            })
            .unwrap();
        page.items
            .iter()
            .rev()
            .map(|e| {
                (
                    e.user.clone(),
                    e.source.clone(),
                    e.target.clone(),
                    e.outcome.clone(),
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn demo_users_sign_in_from_loopback_only_audited() {
        let (sessions, audit, _store, _dir) = sessions_on(Arc::new(RealClock));
        for source in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            sessions
                .sign_in("operator", "demo-operator", source)
                .await
                .unwrap_or_else(|e| panic!("{source}: {e}"));
        }
        for source in ["192.0.2.7", "fd00::2", "unknown"] {
            let e = sessions
                .sign_in("operator", "demo-operator", source)
                .await
                .unwrap_err();
            let wrong = sessions
                .sign_in("operator", "wrong", source)
                .await
                .unwrap_err();
            assert_eq!(
                (e.kind(), e.to_string()),
                (wrong.kind(), wrong.to_string()),
                "{source}: the answer of a wrong password"
            );
        }
        let got = rows(&audit, actions::SIGN_IN);
        assert_eq!(got.len(), 9);
        assert!(got[..3].iter().all(|r| r.3 == "ok"));
        for pair in got[3..].chunks(2) {
            assert_eq!(pair[0].3, DEMO_ELSEWHERE, "{pair:?}");
            assert_eq!(pair[1].3, "denied", "{pair:?}");
        }
    }

    #[tokio::test]
    async fn revocation_by_user_or_all_keeps_the_callers_own_is_audited_and_ends_streams() {
        let (sessions, audit, _store, _dir) = sessions_on(Arc::new(RealClock));
        let admin_session = sessions
            .sign_in("admin", "demo-admin", "::1")
            .await
            .unwrap();
        let admin = sessions.authenticate(&admin_session.token).unwrap();
        let mut ops = Vec::new();
        for _ in 0..2 {
            let s = sessions
                .sign_in("operator", "demo-operator", "::1")
                .await
                .unwrap();
            ops.push(s.token);
        }
        let viewer = sessions
            .sign_in("viewer", "demo-viewer", "::1")
            .await
            .unwrap();
        let op = sessions.authenticate(&ops[0]).unwrap();
        let ended = tokio::spawn(sessions.ended(&op));

        let n = sessions
            .revoke(&admin, "::1", &Revoke::User("operator".into()))
            .unwrap();
        assert_eq!(n, 2);
        // At once, not at the next re-check.
        tokio::time::timeout(Duration::from_secs(2), ended)
            .await
            .expect("the stream's session end is seen at once")
            .unwrap();
        for t in &ops {
            assert!(sessions.authenticate(t).is_err());
        }
        assert!(sessions.authenticate(&viewer.token).is_ok());
        // Everyone's but the caller's own.
        let n = sessions.revoke(&admin, "::1", &Revoke::All).unwrap();
        assert_eq!(n, 1);
        assert!(sessions.authenticate(&viewer.token).is_err());
        assert!(sessions.authenticate("0".repeat(64).as_str()).is_err());
        assert!(
            sessions.authenticate(&admin_session.token).is_ok(),
            "the admin's own session stays"
        );
        let long = "x".repeat(500);
        assert_eq!(
            sessions.revoke(&admin, "::1", &Revoke::User(long)).unwrap(),
            0
        );
        let got = rows(&audit, actions::SESSION_REVOKE);
        let target_long = format!("user:{}", "x".repeat(MAX_AUDITED_NAME));
        assert_eq!(
            got,
            [
                (
                    "admin".into(),
                    "::1".into(),
                    "user:operator".into(),
                    "ok: 2 revoked".into()
                ),
                (
                    "admin".into(),
                    "::1".into(),
                    "all".into(),
                    "ok: 1 revoked".into()
                ),
                (
                    "admin".into(),
                    "::1".into(),
                    target_long,
                    "ok: 0 revoked".into()
                ),
            ]
        );
    }

    #[tokio::test]
    async fn idle_and_expired_sessions_end_streams_and_are_purged_on_the_site_clock() {
        use crate::site::env::SimulatedClock;
        let sim = SimulatedClock::new(chrono::Utc::now());
        let (sessions, _audit, store, _dir) = sessions_on(Arc::new(sim.clone()));
        let s = sessions
            .sign_in("viewer", "demo-viewer", "127.0.0.1")
            .await
            .unwrap();
        let p = sessions.authenticate(&s.token).unwrap();
        let hash = p.token_sha256.clone();
        let mut ended = tokio::spawn(sessions.ended(&p));
        let purge = sessions.run_purge();

        // An open stream keeps its session in use: past the idle time (30
        // min), re-checked every 5 s, it lives.
        let step = STREAM_RECHECK;
        let mut passed = Duration::ZERO;
        while passed < Duration::from_secs(31 * 60) {
            wait_for_sleepers(&sim, 2).await;
            sim.advance(step);
            passed += step;
            assert!(!ended.is_finished(), "ended after {passed:?}");
        }
        assert!(sessions.authenticate(&s.token).is_ok());
        // Stream gone: 30 minutes unused end the session.
        ended.abort();
        let _ = (&mut ended).await;
        let last = store.session(&hash).unwrap().unwrap().last_used;
        let almost = last + chrono::TimeDelta::minutes(30) - chrono::TimeDelta::milliseconds(1);
        sim.advance((almost - sim.now()).to_std().unwrap());
        assert!(sessions.authenticate(&s.token).is_ok(), "not yet idle");
        let last = store.session(&hash).unwrap().unwrap().last_used;
        let idle_at = last + chrono::TimeDelta::minutes(30);
        sim.advance((idle_at - sim.now()).to_std().unwrap());
        assert!(sessions.authenticate(&s.token).is_err(), "idle");
        // The next purge (every 5 min of the site's clock) forgets it.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        sim.advance(PURGE_EVERY);
        while store.session(&hash).unwrap().is_some() {
            assert!(tokio::time::Instant::now() < deadline, "not purged");
            wait_for_sleepers(&sim, 1).await;
            sim.advance(PURGE_EVERY);
        }
        purge.abort();
    }

    /// Waits (under a deadline) until the simulated clock has `n` sleepers,
    /// none of them due.
    async fn wait_for_sleepers(sim: &crate::site::env::SimulatedClock, n: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while sim.sleepers() < n || sim.due_sleepers() > 0 {
            assert!(tokio::time::Instant::now() < deadline, "no {n} sleepers");
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}
