//! People: cardholders and their credentials (from the configuration), with
//! each credential's state as changed since (kept in the store).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::config::SiteConfig;
use crate::domain::{
    Cardholder, CardholderId, Credential, CredentialId, CredentialState, EventKind,
};

use super::access::CredentialFacts;
use super::audit::{Actor, AuditTrail, actions};
use super::env::SiteEnv;
use super::error::CoreError;
use super::events::EventLog;

/// The people service.
pub struct People {
    cfg: Arc<SiteConfig>,
    env: SiteEnv,
    log: Arc<EventLog>,
    audit: Arc<AuditTrail>,
    /// Credential id → (cardholder index, credential index) in `cfg.cardholders`.
    index: HashMap<CredentialId, (usize, usize)>,
    /// Credential states changed since the configuration; changed only
    /// inside a log commit.
    states: Mutex<HashMap<CredentialId, CredentialState>>,
}

impl People {
    /// The service, with the states kept from earlier runs.
    pub fn new(
        cfg: Arc<SiteConfig>,
        env: SiteEnv,
        log: Arc<EventLog>,
        audit: Arc<AuditTrail>,
    ) -> Result<People, CoreError> {
        let states = env.store.credential_states()?.into_iter().collect();
        let mut index = HashMap::new();
        for (ci, ch) in cfg.cardholders.iter().enumerate() {
            for (ki, c) in ch.cardholder.credentials.iter().enumerate() {
                index.insert(c.id.clone(), (ci, ki));
            }
        }
        Ok(People {
            cfg,
            env,
            log,
            audit,
            index,
            states: Mutex::new(states),
        })
    }

    fn states(&self) -> MutexGuard<'_, HashMap<CredentialId, CredentialState>> {
        self.states.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cardholder who holds a badge.
    pub fn holder_of(&self, badge: &CredentialId) -> Option<CardholderId> {
        let &(ci, _) = self.index.get(badge)?;
        self.cfg
            .cardholders
            .get(ci)
            .map(|ch| ch.cardholder.id.clone())
    }

    /// What an access decision needs to know of a badge: its holder and the
    /// credential's facts; `None` for a badge nobody holds.
    pub fn credential_facts(
        &self,
        badge: &CredentialId,
    ) -> Option<(CardholderId, CredentialFacts<'_>)> {
        let &(ci, ki) = self.index.get(badge)?;
        let holder = self.cfg.cardholders.get(ci)?;
        let cred = holder.cardholder.credentials.get(ki);
        let state = match cred {
            Some(c) => self.states().get(badge).copied().unwrap_or(c.state),
            // A credential the site indexes but cannot find counts as disabled.
            None => CredentialState::Disabled,
        };
        Some((
            holder.cardholder.id.clone(),
            CredentialFacts {
                state,
                valid_until: cred.and_then(|c| c.valid_until),
                schedule: self.cfg.schedule(&holder.schedule),
            },
        ))
    }

    fn cardholder_now(&self, idx: usize) -> Option<Cardholder> {
        let mut ch = self.cfg.cardholders.get(idx)?.cardholder.clone();
        let states = self.states();
        for c in &mut ch.credentials {
            if let Some(s) = states.get(&c.id) {
                c.state = *s;
            }
        }
        Some(ch)
    }

    /// Cardholders whose name, department or a badge contains `q` (any
    /// case); all for an empty `q`.
    pub fn cardholders(&self, q: &str) -> Vec<Cardholder> {
        let q = q.trim().to_lowercase();
        (0..self.cfg.cardholders.len())
            .filter_map(|i| self.cardholder_now(i))
            .filter(|ch| {
                q.is_empty()
                    || ch.name.to_lowercase().contains(&q)
                    || ch.department.to_lowercase().contains(&q)
                    || ch
                        .credentials
                        .iter()
                        .any(|c| c.id.as_str().to_lowercase().contains(&q))
            })
            .collect()
    }

    /// One cardholder.
    pub fn cardholder(&self, id: &CardholderId) -> Result<Cardholder, CoreError> {
        self.cfg
            .cardholders
            .iter()
            .position(|c| &c.cardholder.id == id)
            .and_then(|idx| self.cardholder_now(idx))
            .ok_or_else(|| CoreError::NotFound(format!("no cardholder {id:?}")))
    }

    /// The photo file of a cardholder.
    pub fn photo_path(&self, id: &CardholderId) -> Result<PathBuf, CoreError> {
        let ch = self
            .cfg
            .cardholders
            .iter()
            .find(|c| &c.cardholder.id == id)
            .ok_or_else(|| CoreError::NotFound(format!("no cardholder {id:?}")))?;
        ch.photo
            .clone()
            .filter(|p| p.is_file())
            .ok_or_else(|| CoreError::NotFound(format!("cardholder {id:?} has no photo")))
    }

    /// Enables or disables a badge: `credential.changed`, audited; the next
    /// access decision sees it.
    pub fn set_credential(
        &self,
        actor: &Actor,
        id: &CredentialId,
        state: CredentialState,
    ) -> Result<Credential, CoreError> {
        let not_found = || CoreError::NotFound(format!("no credential {id:?}"));
        let &(ci, ki) = self.index.get(id).ok_or_else(not_found)?;
        let holder = self.cfg.cardholders.get(ci).ok_or_else(not_found)?;
        let mut credential = holder
            .cardholder
            .credentials
            .get(ki)
            .cloned()
            .ok_or_else(not_found)?;
        self.log.commit(|| {
            self.env.store.set_credential_state(
                id,
                state,
                &actor.username,
                self.env.clock.now(),
            )?;
            self.states().insert(id.clone(), state);
            let kind = EventKind::CredentialChanged {
                credential: id.clone(),
                cardholder: holder.cardholder.id.clone(),
                state,
                by: actor.username.clone(),
            };
            Ok((vec![kind], ()))
        })?;
        let action = match state {
            CredentialState::Active => actions::CREDENTIAL_ENABLE,
            CredentialState::Disabled => actions::CREDENTIAL_DISABLE,
        };
        self.audit.record(actor, action, id.as_str(), "ok");
        credential.state = state;
        Ok(credential)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ErrorKind;
    use crate::site::drivers::Drivers;
    use crate::site::store::Store;
    use std::path::Path;

    fn people_in(dir: &Path) -> People {
        let cfg = SiteConfig::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/site.toml"))
            .unwrap();
        let store = Arc::new(Store::open_in(dir).unwrap());
        let env = SiteEnv::new(store, Drivers::new());
        let log = Arc::new(EventLog::open(&env).unwrap());
        let audit = Arc::new(AuditTrail::new(
            Arc::clone(&env.store),
            Arc::clone(&env.clock),
        ));
        People::new(Arc::new(cfg), env, log, audit).unwrap()
    }

    fn admin() -> Actor {
        Actor {
            username: "admin".into(),
            role: None,
            source: "test".into(),
        }
    }

    #[test]
    fn lookup_search_and_facts() {
        let dir = tempfile::tempdir().unwrap();
        let p = people_in(dir.path());
        let badge = CredentialId::new("100107");
        assert_eq!(p.holder_of(&badge), Some(CardholderId::new("ch-002")));
        assert_eq!(p.holder_of(&CredentialId::new("999999")), None);
        let (holder, facts) = p.credential_facts(&badge).unwrap();
        assert_eq!(holder, CardholderId::new("ch-002"));
        assert_eq!(facts.state, CredentialState::Active);
        assert_eq!(facts.schedule.map(|s| s.id.as_str()), Some("all-areas"));
        assert!(facts.valid_until.is_some());
        assert!(p.credential_facts(&CredentialId::new("999999")).is_none());
        assert_eq!(p.cardholders("OKAFOR").len(), 1);
        assert_eq!(p.cardholders("100107").len(), 1);
        assert_eq!(p.cardholders(" ").len(), p.cfg.cardholders.len());
        assert_eq!(
            p.cardholder(&CardholderId::new("ch-999"))
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
        assert!(
            p.photo_path(&CardholderId::new("ch-002"))
                .unwrap()
                .is_file()
        );
    }

    #[test]
    fn a_disabled_badge_is_logged_audited_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let badge = CredentialId::new("100107");
        {
            let p = people_in(dir.path());
            let seq = p.log.last_seq();
            let c = p
                .set_credential(&admin(), &badge, CredentialState::Disabled)
                .unwrap();
            assert_eq!(c.state, CredentialState::Disabled);
            assert_eq!(p.log.last_seq(), seq + 1);
            let (_, facts) = p.credential_facts(&badge).unwrap();
            assert_eq!(facts.state, CredentialState::Disabled);
            let ch = p.cardholder(&CardholderId::new("ch-002")).unwrap();
            assert_eq!(ch.credentials[0].state, CredentialState::Disabled);
            let audit = p
                .audit
                .search(&crate::site::audit::AuditQuery {
                    action: Some(actions::CREDENTIAL_DISABLE.into()),
                    limit: 10,
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(audit.items.len(), 1);
            assert_eq!(
                p.set_credential(
                    &admin(),
                    &CredentialId::new("nope"),
                    CredentialState::Active
                )
                .unwrap_err()
                .kind(),
                ErrorKind::NotFound
            );
        }
        let p = people_in(dir.path());
        let (_, facts) = p.credential_facts(&badge).unwrap();
        assert_eq!(
            facts.state,
            CredentialState::Disabled,
            "kept across a restart"
        );
    }
}
