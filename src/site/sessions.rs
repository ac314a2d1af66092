//! Sessions: sign-in, bearer tokens and sign-out over [`Auth`], each
//! audited (a failed sign-in under the name given).

use std::sync::Arc;

use crate::domain::Session;

use super::audit::{Actor, AuditTrail, actions};
use super::auth::{Auth, Principal};
use super::error::CoreError;

/// Longest user name written to the audit trail.
const MAX_AUDITED_NAME: usize = 128;

/// The sessions service.
pub struct Sessions {
    auth: Auth,
    audit: Arc<AuditTrail>,
}

impl Sessions {
    pub fn new(auth: Auth, audit: Arc<AuditTrail>) -> Sessions {
        Sessions { auth, audit }
    }

    /// Signs in; audited either way.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        source: &str,
    ) -> Result<Session, CoreError> {
        let result = self.auth.sign_in(username, password).await;
        let name: String = username.chars().take(MAX_AUDITED_NAME).collect();
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
}
