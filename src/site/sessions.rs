//! Sessions: sign-in, bearer tokens and sign-out over [`Auth`], each
//! audited (a failed sign-in under the name given). Sign-in goes through the
//! [`throttle`]: a few password checks at once, and a backoff per user name
//! and per address after failures, each start of one audited.

mod checks;
mod throttle;

use std::sync::Arc;

use crate::domain::Session;

use self::checks::PasswordChecks;
pub use self::throttle::SignInLimits;
use self::throttle::{Refusal, Subject, Throttle};

use super::audit::{Actor, AuditTrail, actions};
use super::auth::{Auth, AuthError, Principal};
use super::error::CoreError;

/// Longest user name written to the audit trail.
const MAX_AUDITED_NAME: usize = 128;

/// The sessions service.
pub struct Sessions {
    auth: Auth,
    audit: Arc<AuditTrail>,
    throttle: Throttle,
    checks: PasswordChecks,
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
            auth,
            audit,
            throttle,
            checks,
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
        let result = self.auth.open_session(username, password_ok);
        let (role, outcome) = match &result {
            Ok(s) => (Some(s.role), "ok"),
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

    /// Ends a session; audited.
    pub fn sign_out(&self, p: &Principal, source: &str) -> Result<(), CoreError> {
        self.auth.sign_out(p)?;
        self.audit.record(
            &Actor::user(p, source),
            actions::SIGN_OUT,
            &p.username,
            "ok",
        );
        Ok(())
    }
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
        let e = sessions.sign_in(&long, "x", "10.0.0.9").await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unauthenticated);
        let s = sessions
            .sign_in("viewer", "demo-viewer", "10.0.0.9")
            .await
            .unwrap();
        let p = sessions.authenticate(&s.token).unwrap();
        sessions.sign_out(&p, "10.0.0.9").unwrap();
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
        assert!(page.items.iter().all(|e| e.source == "10.0.0.9"));
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
                .sign_in("viewer", "guess", "10.0.0.9")
                .await
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Unauthenticated);
        }
        // Backed off: even the right password is not checked.
        let e = sessions
            .sign_in("viewer", "demo-viewer", "10.0.0.8")
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::RateLimited);
        assert_eq!(retry_after(e), Some(1));
        // So is another name from the same address.
        let e = sessions
            .sign_in("operator", "demo-operator", "10.0.0.9")
            .await
            .unwrap_err();
        assert_eq!(retry_after(e), Some(1));
        // Another name from another address gets in.
        sessions
            .sign_in("operator", "demo-operator", "10.0.0.8")
            .await
            .unwrap();
        sim.advance(std::time::Duration::from_millis(999));
        assert!(
            sessions
                .sign_in("viewer", "demo-viewer", "10.0.0.8")
                .await
                .is_err()
        );
        sim.advance(std::time::Duration::from_millis(1));
        sessions
            .sign_in("viewer", "demo-viewer", "10.0.0.8")
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
                ("address:10.0.0.9".to_owned(), want),
            ]
        );
        let sign_ins = page
            .items
            .iter()
            .filter(|e| e.action == actions::SIGN_IN)
            .count();
        assert_eq!(sign_ins, 8, "throttled attempts write no sign-in row");
    }
}
