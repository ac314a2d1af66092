//! People: cardholders, their credentials and the schedule their cards
//! follow, kept in the store (seeded once from the configuration at site
//! start, never overwriting what was edited since). The service keeps an
//! index of them in memory, keyed by id, changed only inside an event-log
//! commit together with the store, so a snapshot and the next access
//! decision see exactly what the log says. Photos come from the config's
//! photos folder, by cardholder id; one uploaded (`PUT
//! /cardholders/{id}/photo`, re-encoded JPEG in the data folder's `photos`)
//! takes precedence.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::config::SiteConfig;
use crate::domain::{
    Cardholder, CardholderId, Credential, CredentialId, CredentialState, EventKind,
};

use super::access::CredentialFacts;
use super::audit::{Actor, AuditTrail, PENDING, actions};
use super::env::SiteEnv;
use super::error::CoreError;
use super::events::EventLog;
use super::store::Person;

/// The longest cardholder name or department, in characters.
pub const MAX_NAME_CHARS: usize = 120;
/// The longest cardholder or credential id, in characters.
pub const MAX_ID_CHARS: usize = 64;
/// The most credentials one cardholder holds.
pub const MAX_CREDENTIALS: usize = 16;
/// The largest photo upload, in bytes.
pub const MAX_PHOTO_BYTES: usize = 2 * 1024 * 1024;
/// The largest uploaded photo, in pixels a side.
pub const MAX_PHOTO_SIDE: u32 = 4096;

/// Checks an uploaded photo and re-encodes it: a JPEG or PNG of at most
/// [`MAX_PHOTO_SIDE`] pixels a side, decoded, then written as a JPEG (so
/// nothing but pixels from the upload is ever served). CPU work: run it on
/// the blocking pool.
pub fn normalize_photo(bytes: &[u8]) -> Result<Vec<u8>, CoreError> {
    let bad = |why: String| invalid("photo", why);
    let format = image::guess_format(bytes).map_err(|_| bad("is not a JPEG or PNG".into()))?;
    if !matches!(format, image::ImageFormat::Jpeg | image::ImageFormat::Png) {
        return Err(bad("is not a JPEG or PNG".into()));
    }
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_PHOTO_SIDE);
    limits.max_image_height = Some(MAX_PHOTO_SIDE);
    limits.max_alloc = Some(u64::from(MAX_PHOTO_SIDE) * u64::from(MAX_PHOTO_SIDE) * 8);
    reader.limits(limits);
    let picture = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => bad(format!(
            "is larger than {MAX_PHOTO_SIDE}×{MAX_PHOTO_SIDE} pixels"
        )),
        e => bad(format!("cannot be decoded: {e}")),
    })?;
    if picture.width() == 0 || picture.height() == 0 {
        return Err(bad("has no pixels".into()));
    }
    let rgb = picture.to_rgb8();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 88)
        .encode_image(&rgb)
        .map_err(|e| bad(format!("cannot be encoded: {e}")))?;
    Ok(out)
}

/// What a create or an edit of a cardholder says. A field left `None` keeps
/// what is stored (an edit); a create needs a name and a schedule.
/// `credentials`, when given, replaces the cardholder's list, in its order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CardholderEdit {
    pub name: Option<String>,
    pub department: Option<String>,
    /// The id of one of the site's schedules.
    pub schedule: Option<String>,
    pub credentials: Option<Vec<Credential>>,
}

fn invalid(field: &str, why: impl std::fmt::Display) -> CoreError {
    CoreError::InvalidInput(format!("{field}: {why}"))
}

/// An id: 1 to [`MAX_ID_CHARS`] of ASCII letters, digits, `-`, `_`, `.`.
fn check_id(field: &str, id: &str) -> Result<(), CoreError> {
    if id.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if id.chars().count() > MAX_ID_CHARS {
        return Err(invalid(
            field,
            format!("is longer than {MAX_ID_CHARS} characters"),
        ));
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(invalid(
            field,
            "may hold only ASCII letters, digits, '-', '_' and '.'",
        ));
    }
    Ok(())
}

/// A name or department: trimmed, at most [`MAX_NAME_CHARS`], no control
/// characters; empty only where allowed.
fn check_text(field: &str, value: &str, may_be_empty: bool) -> Result<String, CoreError> {
    let value = value.trim();
    if value.is_empty() && !may_be_empty {
        return Err(invalid(field, "must not be empty"));
    }
    if value.chars().count() > MAX_NAME_CHARS {
        return Err(invalid(
            field,
            format!("is longer than {MAX_NAME_CHARS} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(field, "must not hold control characters"));
    }
    Ok(value.to_owned())
}

/// A store refusal of a people write, with the kind kept and a plain message.
fn people_store_error(e: super::store::StoreError) -> CoreError {
    use super::store::StoreError;
    match e {
        StoreError::Conflict(what) => CoreError::Conflict(what),
        StoreError::NotFound(what) => CoreError::NotFound(format!("no {what}")),
        e => CoreError::Store(e),
    }
}

/// The stored people, by id, and who holds each badge.
#[derive(Default)]
struct Index {
    people: HashMap<CardholderId, Person>,
    holders: HashMap<CredentialId, CardholderId>,
}

impl Index {
    /// Puts (or replaces) a person, and their badges.
    fn put(&mut self, person: Person) {
        let id = person.cardholder.id.clone();
        self.remove(&id);
        for c in &person.cardholder.credentials {
            self.holders.insert(c.id.clone(), id.clone());
        }
        self.people.insert(id, person);
    }

    fn remove(&mut self, id: &CardholderId) {
        if let Some(old) = self.people.remove(id) {
            for c in &old.cardholder.credentials {
                if self.holders.get(&c.id) == Some(id) {
                    self.holders.remove(&c.id);
                }
            }
        }
    }

    fn person_of(&self, badge: &CredentialId) -> Option<&Person> {
        self.people.get(self.holders.get(badge)?)
    }
}

/// The people service.
pub struct People {
    cfg: Arc<SiteConfig>,
    env: SiteEnv,
    log: Arc<EventLog>,
    audit: Arc<AuditTrail>,
    /// Photo files by cardholder id (from the configuration).
    photos: HashMap<CardholderId, PathBuf>,
    /// The stored people; changed only inside a log commit.
    index: Mutex<Index>,
}

impl People {
    /// The service over the store: seeds the configuration's cardholders
    /// not stored yet (with the credential states an earlier run changed),
    /// then loads everyone stored.
    pub fn new(
        cfg: Arc<SiteConfig>,
        env: SiteEnv,
        log: Arc<EventLog>,
        audit: Arc<AuditTrail>,
    ) -> Result<People, CoreError> {
        // States changed before people were kept in the store (schema < 3).
        let states: HashMap<CredentialId, CredentialState> =
            env.store.credential_states()?.into_iter().collect();
        let seed: Vec<Person> = cfg
            .cardholders
            .iter()
            .map(|c| {
                let mut cardholder = c.cardholder.clone();
                for cred in &mut cardholder.credentials {
                    if let Some(s) = states.get(&cred.id) {
                        cred.state = *s;
                    }
                }
                Person {
                    cardholder,
                    schedule: Some(c.schedule.clone()),
                }
            })
            .collect();
        let seeded = env.store.seed_people_with_schedules(&seed)?;
        if seeded > 0 {
            tracing::info!(seeded, "cardholders copied from the configuration");
        }
        let photos = cfg
            .cardholders
            .iter()
            .filter_map(|c| Some((c.cardholder.id.clone(), c.photo.clone()?)))
            .collect();
        let people = People {
            cfg,
            env,
            log,
            audit,
            photos,
            index: Mutex::new(Index::default()),
        };
        {
            let stored = people.env.store.people()?;
            let mut index = people.index();
            for p in stored {
                index.put(people.with_photo_flag(p));
            }
        }
        Ok(people)
    }

    fn index(&self) -> MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The folder of uploaded photos, beside the store.
    fn uploaded_dir(&self) -> PathBuf {
        self.env
            .store
            .path()
            .parent()
            .map_or_else(|| PathBuf::from("photos"), |d| d.join("photos"))
    }

    /// Where a cardholder's uploaded photo is kept: the id hex-encoded, so
    /// no id can name a path.
    fn uploaded_photo(&self, id: &CardholderId) -> PathBuf {
        self.uploaded_dir()
            .join(format!("{}.jpg", hex::encode(id.as_str())))
    }

    /// The photo served: an uploaded one, else the configuration's.
    fn photo_file(&self, id: &CardholderId) -> Option<PathBuf> {
        let uploaded = self.uploaded_photo(id);
        if uploaded.is_file() {
            return Some(uploaded);
        }
        self.photos.get(id).filter(|p| p.is_file()).cloned()
    }

    /// A person as served: `has_photo` says whether a photo file is there.
    fn with_photo_flag(&self, mut p: Person) -> Person {
        p.cardholder.has_photo = self.photo_file(&p.cardholder.id).is_some();
        p
    }

    /// Reads a person back from the store into the index (after a write,
    /// inside the commit that wrote it); returns them.
    fn reload(&self, id: &CardholderId) -> Result<Person, CoreError> {
        let stored = self.env.store.person(id)?;
        let mut index = self.index();
        match stored {
            Some(p) => {
                let p = self.with_photo_flag(p);
                index.put(p.clone());
                Ok(p)
            }
            None => {
                index.remove(id);
                Err(CoreError::NotFound(format!("no cardholder {id:?}")))
            }
        }
    }

    /// The cardholder who holds a badge.
    pub fn holder_of(&self, badge: &CredentialId) -> Option<CardholderId> {
        self.index().holders.get(badge).cloned()
    }

    /// What an access decision needs to know of a badge: its holder and the
    /// credential's facts; `None` for a badge nobody holds.
    pub fn credential_facts(
        &self,
        badge: &CredentialId,
    ) -> Option<(CardholderId, CredentialFacts<'_>)> {
        let index = self.index();
        let person = index.person_of(badge)?;
        let cred = person
            .cardholder
            .credentials
            .iter()
            .find(|c| &c.id == badge);
        Some((
            person.cardholder.id.clone(),
            CredentialFacts {
                // A credential the site indexes but cannot find counts as disabled.
                state: cred.map_or(CredentialState::Disabled, |c| c.state),
                valid_until: cred.and_then(|c| c.valid_until),
                schedule: person
                    .schedule
                    .as_deref()
                    .and_then(|s| self.cfg.schedule(s)),
            },
        ))
    }

    /// Cardholders whose name, department or a badge contains `q` (any
    /// case); all for an empty `q`. By name, then id.
    pub fn cardholders(&self, q: &str) -> Vec<Cardholder> {
        let q = q.trim().to_lowercase();
        let mut out: Vec<Cardholder> = self
            .index()
            .people
            .values()
            .map(|p| &p.cardholder)
            .filter(|ch| {
                q.is_empty()
                    || ch.name.to_lowercase().contains(&q)
                    || ch.department.to_lowercase().contains(&q)
                    || ch
                        .credentials
                        .iter()
                        .any(|c| c.id.as_str().to_lowercase().contains(&q))
            })
            .cloned()
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        out
    }

    /// One cardholder.
    pub fn cardholder(&self, id: &CardholderId) -> Result<Cardholder, CoreError> {
        self.index()
            .people
            .get(id)
            .map(|p| p.cardholder.clone())
            .ok_or_else(|| CoreError::NotFound(format!("no cardholder {id:?}")))
    }

    /// The name of the schedule a cardholder's cards follow, if any.
    pub fn schedule_of(&self, id: &CardholderId) -> Result<Option<String>, CoreError> {
        self.index()
            .people
            .get(id)
            .map(|p| p.schedule.clone())
            .ok_or_else(|| CoreError::NotFound(format!("no cardholder {id:?}")))
    }

    /// The photo file of a cardholder.
    pub fn photo_path(&self, id: &CardholderId) -> Result<PathBuf, CoreError> {
        if !self.index().people.contains_key(id) {
            return Err(CoreError::NotFound(format!("no cardholder {id:?}")));
        }
        self.photo_file(id)
            .ok_or_else(|| CoreError::NotFound(format!("cardholder {id:?} has no photo")))
    }

    /// Checks an edit and applies it to `person`. Run inside the log commit,
    /// so that who holds which badge cannot change meanwhile.
    fn apply_edit(&self, mut person: Person, edit: CardholderEdit) -> Result<Person, CoreError> {
        if let Some(name) = edit.name {
            person.cardholder.name = check_text("name", &name, false)?;
        }
        if let Some(department) = edit.department {
            person.cardholder.department = check_text("department", &department, true)?;
        }
        if let Some(schedule) = edit.schedule {
            if self.cfg.schedule(&schedule).is_none() {
                return Err(invalid(
                    "schedule",
                    format!("no schedule {schedule:?} on this site"),
                ));
            }
            person.schedule = Some(schedule);
        }
        if let Some(credentials) = edit.credentials {
            if credentials.len() > MAX_CREDENTIALS {
                return Err(invalid(
                    "credentials",
                    format!("a cardholder holds at most {MAX_CREDENTIALS}"),
                ));
            }
            let index = self.index();
            for (i, c) in credentials.iter().enumerate() {
                let field = format!("credentials[{i}].id");
                check_id(&field, c.id.as_str())?;
                if credentials[..i].iter().any(|o| o.id == c.id) {
                    return Err(invalid(&field, format!("badge {} is listed twice", c.id)));
                }
                if let Some(holder) = index.holders.get(&c.id)
                    && holder != &person.cardholder.id
                {
                    return Err(CoreError::Conflict(format!(
                        "{field}: badge {} is held by cardholder {holder}",
                        c.id
                    )));
                }
            }
            person.cardholder.credentials = credentials;
        }
        Ok(self.with_photo_flag(person))
    }

    /// Runs a create or an edit audited: its entry is written (`pending`)
    /// before anything changes, and the call refused (503) when it cannot
    /// be; the outcome is a new entry naming it.
    fn audited<T>(
        &self,
        actor: &Actor,
        action: &str,
        id: &str,
        change: impl FnOnce() -> Result<T, CoreError>,
    ) -> Result<T, CoreError> {
        let pending = self.audit.try_record(actor, action, id, PENDING)?;
        let result = change();
        let outcome = match &result {
            Ok(_) => "ok".to_owned(),
            Err(e) => format!("failed: {e}"),
        };
        self.audit.complete(actor, action, id, pending.id, &outcome);
        result
    }

    /// Creates a cardholder: `cardholder.changed`, audited. A name and a
    /// known schedule are needed; an id already taken, or a badge someone
    /// else holds, is a conflict.
    pub fn create_cardholder(
        &self,
        actor: &Actor,
        id: &CardholderId,
        edit: CardholderEdit,
    ) -> Result<Cardholder, CoreError> {
        self.audited(actor, actions::CARDHOLDER_CREATE, id.as_str(), || {
            self.create_unaudited(actor, id, edit)
        })
    }

    fn create_unaudited(
        &self,
        actor: &Actor,
        id: &CardholderId,
        edit: CardholderEdit,
    ) -> Result<Cardholder, CoreError> {
        check_id("id", id.as_str())?;
        if edit.name.is_none() {
            return Err(invalid("name", "is required"));
        }
        if edit.schedule.is_none() {
            return Err(invalid("schedule", "is required"));
        }
        let blank = Person {
            cardholder: Cardholder {
                id: id.clone(),
                name: String::new(),
                department: String::new(),
                has_photo: false,
                credentials: Vec::new(),
            },
            schedule: None,
        };
        let (_, cardholder) = self.log.commit(|| {
            if self.index().people.contains_key(id) {
                return Err(CoreError::Conflict(format!(
                    "id: cardholder {id} already exists"
                )));
            }
            let person = self.apply_edit(blank, edit)?;
            self.env
                .store
                .insert_person(&person)
                .map_err(people_store_error)?;
            let stored = self.reload(id)?;
            let kind = EventKind::CardholderChanged {
                cardholder: id.clone(),
                by: actor.username.clone(),
            };
            Ok((vec![kind], stored.cardholder))
        })?;
        Ok(cardholder)
    }

    /// Stores an uploaded photo (a JPEG from [`normalize_photo`]) for a
    /// cardholder: written beside, then renamed into place inside the log
    /// commit that emits `cardholder.changed`; audited.
    pub fn set_photo(
        &self,
        actor: &Actor,
        id: &CardholderId,
        jpeg: &[u8],
    ) -> Result<Cardholder, CoreError> {
        self.audited(actor, actions::CARDHOLDER_PHOTO, id.as_str(), || {
            self.set_photo_unaudited(actor, id, jpeg)
        })
    }

    fn set_photo_unaudited(
        &self,
        actor: &Actor,
        id: &CardholderId,
        jpeg: &[u8],
    ) -> Result<Cardholder, CoreError> {
        if !self.index().people.contains_key(id) {
            return Err(CoreError::NotFound(format!("no cardholder {id:?}")));
        }
        let io = |e: std::io::Error| {
            tracing::warn!(%id, "cannot store the photo: {e}");
            CoreError::Unavailable("the photo cannot be stored".into())
        };
        let dir = self.uploaded_dir();
        std::fs::create_dir_all(&dir).map_err(io)?;
        let target = self.uploaded_photo(id);
        let temp = target.with_extension(format!("jpg.new-{}", uuid::Uuid::new_v4()));
        let written = (|| {
            use std::io::Write;
            let mut f = std::fs::File::create(&temp)?;
            f.write_all(jpeg)?;
            f.sync_all()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(io(e));
        }
        let result = self.log.commit(|| {
            if !self.index().people.contains_key(id) {
                return Err(CoreError::NotFound(format!("no cardholder {id:?}")));
            }
            std::fs::rename(&temp, &target).map_err(io)?;
            let stored = self.reload(id)?;
            let kind = EventKind::CardholderChanged {
                cardholder: id.clone(),
                by: actor.username.clone(),
            };
            Ok((vec![kind], stored.cardholder))
        });
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        Ok(result?.1)
    }

    /// Edits a cardholder (the fields given): `cardholder.changed`,
    /// audited; the next access decision sees it.
    pub fn update_cardholder(
        &self,
        actor: &Actor,
        id: &CardholderId,
        edit: CardholderEdit,
    ) -> Result<Cardholder, CoreError> {
        self.audited(actor, actions::CARDHOLDER_UPDATE, id.as_str(), || {
            self.update_unaudited(actor, id, edit)
        })
    }

    fn update_unaudited(
        &self,
        actor: &Actor,
        id: &CardholderId,
        edit: CardholderEdit,
    ) -> Result<Cardholder, CoreError> {
        let (_, cardholder) = self.log.commit(|| {
            let current = self
                .index()
                .people
                .get(id)
                .cloned()
                .ok_or_else(|| CoreError::NotFound(format!("no cardholder {id:?}")))?;
            let person = self.apply_edit(current, edit)?;
            self.env
                .store
                .update_person(&person)
                .map_err(people_store_error)?;
            let stored = self.reload(id)?;
            let kind = EventKind::CardholderChanged {
                cardholder: id.clone(),
                by: actor.username.clone(),
            };
            Ok((vec![kind], stored.cardholder))
        })?;
        Ok(cardholder)
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
        if self.holder_of(id).is_none() {
            return Err(not_found());
        }
        let action = match state {
            CredentialState::Active => actions::CREDENTIAL_ENABLE,
            CredentialState::Disabled => actions::CREDENTIAL_DISABLE,
        };
        self.audited(actor, action, id.as_str(), || {
            self.set_credential_unaudited(actor, id, state)
        })
    }

    fn set_credential_unaudited(
        &self,
        actor: &Actor,
        id: &CredentialId,
        state: CredentialState,
    ) -> Result<Credential, CoreError> {
        let not_found = || CoreError::NotFound(format!("no credential {id:?}"));
        let (_, credential) = self.log.commit(|| {
            let holder = self.env.store.set_held_credential_state(
                id,
                state,
                &actor.username,
                self.env.clock.now(),
            )?;
            let person = self.reload(&holder)?;
            let credential = person
                .cardholder
                .credentials
                .into_iter()
                .find(|c| &c.id == id)
                .ok_or_else(not_found)?;
            let kind = EventKind::CredentialChanged {
                credential: id.clone(),
                cardholder: holder,
                state,
                by: actor.username.clone(),
            };
            Ok((vec![kind], credential))
        })?;
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
            assert_eq!(audit.items.len(), 2, "pending, then its outcome");
            assert_eq!(audit.items[1].outcome, PENDING);
            assert_eq!(
                audit.items[0].outcome,
                format!("entry {}: ok", audit.items[1].id)
            );
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

    #[test]
    fn seeded_once_and_a_stored_edit_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let id = CardholderId::new("ch-002");
        {
            let p = people_in(dir.path());
            assert_eq!(p.cardholders("").len(), p.cfg.cardholders.len());
            assert_eq!(p.schedule_of(&id).unwrap().as_deref(), Some("all-areas"));
            // An edit made in the store (as the API's edit does).
            let mut person = p.env.store.person(&id).unwrap().unwrap();
            person.cardholder.name = "Renamed Person".into();
            person.schedule = Some("office".into());
            person.cardholder.credentials[0].state = CredentialState::Disabled;
            p.env.store.update_person(&person).unwrap();
        }
        let p = people_in(dir.path());
        let ch = p.cardholder(&id).unwrap();
        assert_eq!(ch.name, "Renamed Person", "the seed does not overwrite");
        assert!(ch.has_photo, "the photo still comes by id");
        assert_eq!(p.schedule_of(&id).unwrap().as_deref(), Some("office"));
        let (_, facts) = p.credential_facts(&CredentialId::new("100107")).unwrap();
        assert_eq!(facts.state, CredentialState::Disabled);
        assert_eq!(facts.schedule.map(|s| s.id.as_str()), Some("office"));
        assert_eq!(p.cardholders("").len(), p.cfg.cardholders.len());
    }

    #[test]
    fn a_state_changed_before_people_were_stored_is_seeded() {
        let dir = tempfile::tempdir().unwrap();
        let badge = CredentialId::new("100107");
        {
            let store = Store::open_in(dir.path()).unwrap();
            store
                .set_credential_state(
                    &badge,
                    CredentialState::Disabled,
                    "admin",
                    chrono::Utc::now(),
                )
                .unwrap();
        }
        let p = people_in(dir.path());
        let (_, facts) = p.credential_facts(&badge).unwrap();
        assert_eq!(facts.state, CredentialState::Disabled);
    }

    fn card(id: &str) -> Credential {
        Credential {
            id: CredentialId::new(id),
            state: CredentialState::Active,
            valid_until: None,
        }
    }

    fn new_person(cards: &[&str]) -> CardholderEdit {
        CardholderEdit {
            name: Some("Ann Other".into()),
            department: Some("Lab".into()),
            schedule: Some("lab".into()),
            credentials: Some(cards.iter().map(|c| card(c)).collect()),
        }
    }

    #[test]
    fn bad_edits_name_their_field_and_conflicts_keep_their_kind() {
        let dir = tempfile::tempdir().unwrap();
        let p = people_in(dir.path());
        let id = CardholderId::new("ch-ann");
        let seq = p.log.last_seq();
        let refused = |edit: CardholderEdit| p.create_cardholder(&admin(), &id, edit).unwrap_err();
        let cases: Vec<(CardholderEdit, ErrorKind, &str)> = vec![
            (
                CardholderEdit {
                    name: Some("  ".into()),
                    ..new_person(&[])
                },
                ErrorKind::InvalidInput,
                "name:",
            ),
            (
                CardholderEdit {
                    name: None,
                    ..new_person(&[])
                },
                ErrorKind::InvalidInput,
                "name:",
            ),
            (
                CardholderEdit {
                    name: Some("x".repeat(MAX_NAME_CHARS + 1)),
                    ..new_person(&[])
                },
                ErrorKind::InvalidInput,
                "name:",
            ),
            (
                CardholderEdit {
                    department: Some("a\nb".into()),
                    ..new_person(&[])
                },
                ErrorKind::InvalidInput,
                "department:",
            ),
            (
                CardholderEdit {
                    schedule: Some("nowhere".into()),
                    ..new_person(&[])
                },
                ErrorKind::InvalidInput,
                "schedule:",
            ),
            (
                new_person(&["900001", "bad id"]),
                ErrorKind::InvalidInput,
                "credentials[1].id:",
            ),
            (
                new_person(&["900001", "900001"]),
                ErrorKind::InvalidInput,
                "credentials[1].id:",
            ),
            (
                CardholderEdit {
                    credentials: Some(
                        (0..=MAX_CREDENTIALS)
                            .map(|i| card(&format!("9{i}")))
                            .collect(),
                    ),
                    ..new_person(&[])
                },
                ErrorKind::InvalidInput,
                "credentials:",
            ),
            // Held by ch-002.
            (
                new_person(&["100107"]),
                ErrorKind::Conflict,
                "credentials[0].id:",
            ),
        ];
        for (edit, kind, field) in cases {
            let e = refused(edit.clone());
            assert_eq!(e.kind(), kind, "{edit:?}: {e}");
            assert!(e.to_string().starts_with(field), "{edit:?}: {e}");
        }
        let e = p
            .create_cardholder(&admin(), &CardholderId::new(""), new_person(&[]))
            .unwrap_err();
        assert!(e.to_string().starts_with("id:"), "{e}");
        let e = p
            .create_cardholder(&admin(), &CardholderId::new("ch-002"), new_person(&[]))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
        assert_eq!(
            p.update_cardholder(&admin(), &CardholderId::new("ch-999"), new_person(&[]))
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
        assert_eq!(p.log.last_seq(), seq, "nothing refused is logged");
        assert!(p.cardholder(&id).is_err(), "nor stored");

        // Every attempt is audited, refused ones as failed.
        let audited = |action: &str| {
            p.audit
                .search(&crate::site::audit::AuditQuery {
                    action: Some(action.into()),
                    limit: 100,
                    ..Default::default()
                })
                .unwrap()
                .items
        };
        // (each `pending` first, then `entry N: failed: …`).
        let creates = audited(actions::CARDHOLDER_CREATE);
        assert_eq!(creates.len(), 22);
        for pair in creates.chunks(2) {
            assert_eq!(pair[1].outcome, PENDING);
            let failed = format!("entry {}: failed: ", pair[1].id);
            assert!(pair[0].outcome.starts_with(&failed), "{pair:?}");
        }

        // Right, it is stored, logged and audited; a badge may move to
        // its new holder once its old one lets go of it.
        p.create_cardholder(&admin(), &id, new_person(&["900001"]))
            .unwrap();
        assert_eq!(p.log.last_seq(), seq + 1);
        assert_eq!(p.holder_of(&CredentialId::new("900001")), Some(id.clone()));
        p.update_cardholder(
            &admin(),
            &CardholderId::new("ch-002"),
            CardholderEdit {
                credentials: Some(vec![]),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(p.holder_of(&CredentialId::new("100107")), None);
        p.update_cardholder(
            &admin(),
            &id,
            CardholderEdit {
                credentials: Some(vec![card("900001"), card("100107")]),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(p.holder_of(&CredentialId::new("100107")), Some(id.clone()));
        assert_eq!(p.log.last_seq(), seq + 3);
        assert_eq!(audited(actions::CARDHOLDER_UPDATE).len(), 6);
        assert_eq!(
            audited(actions::CARDHOLDER_UPDATE)
                .iter()
                .filter(|a| a.outcome.ends_with(": ok"))
                .count(),
            2
        );
    }
}
