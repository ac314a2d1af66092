//! Sign-in and sessions; permission checks read the one role matrix in
//! [`crate::domain::allowed`]. Passwords are argon2 PHC
//! strings from `config/users.toml`; a session token is 32 random bytes in
//! hex, and the store keeps only its sha256.
//!
//! A session ends at its TTL (`session_ttl_secs`), when revoked (sign-out,
//! an admin), or once unused for `session_idle_secs`: every authenticated
//! call counts as use, written at most once a minute per session (more
//! often for an idle time under 4 minutes). All on the site's clock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use argon2::password_hash::SaltString;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use sha2::{Digest, Sha256};

use crate::config::{SiteConfig, UserConfig};
use crate::domain::{ErrorKind, Permission, Role, Session, Timestamp, allowed};

use super::env::Clock;
use super::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Wrong name or password; never says which.
    #[error("wrong user name or password")]
    BadCredentials,
    #[error("sign in first: the session is missing, expired or signed out")]
    NoSession,
    #[error("{role} may not {what}", what = .permission.label())]
    Forbidden { role: Role, permission: Permission },
    /// Too many failed sign-ins, or too many at once: try again after
    /// `retry_after_secs` (the `Retry-After` header).
    #[error("{reason}; try again in {retry_after_secs} s")]
    Throttled {
        reason: String,
        retry_after_secs: u64,
    },
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AuthError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            AuthError::BadCredentials | AuthError::NoSession => ErrorKind::Unauthenticated,
            AuthError::Forbidden { .. } => ErrorKind::PermissionDenied,
            AuthError::Throttled { .. } => ErrorKind::RateLimited,
            AuthError::Hash(_) | AuthError::Store(_) => ErrorKind::Internal,
        }
    }
}

/// Hashes a password into an argon2id PHC string (for `users.toml`).
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| AuthError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// Whether `password` matches the PHC string `hash`. A malformed hash never
/// matches.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// The sha256 of a token, in hex: what the store keeps.
pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A signed-in caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub username: String,
    pub role: Role,
    pub expires: Timestamp,
    pub(crate) token_sha256: String,
}

impl Principal {
    /// Ok when the role has the permission, else [`AuthError::Forbidden`].
    pub fn require(&self, permission: Permission) -> Result<(), AuthError> {
        if allowed(self.role, permission) {
            Ok(())
        } else {
            Err(AuthError::Forbidden {
                role: self.role,
                permission,
            })
        }
    }
}

/// Whether `password` is one of the demo users' documented passwords
/// (`demo-` and a role name, `config/users.toml`). An account that signs in
/// with one is a demo account, on whatever site: from loopback only.
pub fn is_demo_password(password: &str) -> bool {
    password
        .strip_prefix("demo-")
        .is_some_and(|role| Role::ALL.iter().any(|r| r.as_str() == role))
}

/// Whether a peer address (as the API writes it: an IP, or `unknown`) is
/// loopback. An IPv4 address mapped into IPv6 counts as itself; anything
/// that is not an address is not loopback.
pub fn is_loopback_source(source: &str) -> bool {
    source
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// How often at most a session's use is written: a minute, or a quarter of
/// the idle timeout when that is shorter.
fn touch_every(idle_secs: u64) -> chrono::TimeDelta {
    chrono::TimeDelta::seconds((idle_secs / 4).clamp(1, 60) as i64)
}

/// Users and sessions.
pub struct Auth {
    users: HashMap<String, UserConfig>,
    session_ttl_secs: u64,
    session_idle_secs: u64,
    store: Arc<Store>,
    clock: Arc<dyn Clock>,
}

impl Auth {
    pub fn new(cfg: &SiteConfig, store: Arc<Store>, clock: Arc<dyn Clock>) -> Auth {
        Auth {
            users: cfg
                .users
                .iter()
                .map(|u| (u.name.clone(), u.clone()))
                .collect(),
            session_ttl_secs: cfg.session_ttl_secs,
            session_idle_secs: cfg.session_idle_secs,
            store,
            clock,
        }
    }

    /// The store.
    pub(crate) fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The site's clock.
    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Checks the password (on a blocking thread: argon2 is slow on
    /// purpose) and opens a session. An unknown user costs the same time as
    /// a wrong password.
    pub async fn sign_in(&self, username: &str, password: &str) -> Result<Session, AuthError> {
        let check = self.password_check(username, password);
        let ok = tokio::task::spawn_blocking(check).await.unwrap_or(false);
        self.open_session(username, ok)
    }

    /// The password check of a sign-in, to run on a blocking thread: true
    /// when the user exists and the password is theirs. An unknown user
    /// costs the same time as a wrong password.
    pub(crate) fn password_check(
        &self,
        username: &str,
        password: &str,
    ) -> impl FnOnce() -> bool + Send + 'static {
        let user = self.users.get(username).cloned();
        let password = password.to_owned();
        move || match &user {
            Some(u) => verify_password(&password, &u.password_hash),
            None => {
                verify_password(&password, dummy_hash());
                false
            }
        }
    }

    /// Opens a session for `username` once its password checked out
    /// (`password_ok`), else [`AuthError::BadCredentials`].
    pub(crate) fn open_session(
        &self,
        username: &str,
        password_ok: bool,
    ) -> Result<Session, AuthError> {
        let Some(user) = self.users.get(username).filter(|_| password_ok) else {
            return Err(AuthError::BadCredentials);
        };
        let token = hex::encode(rand::random::<[u8; 32]>());
        let now = self.clock.now();
        let expires = time_after(now, self.session_ttl_secs);
        self.store
            .insert_session(&token_sha256(&token), &user.name, user.role, expires, now)?;
        Ok(Session {
            token,
            username: user.name.clone(),
            role: user.role,
            expires,
        })
    }

    /// The session a bearer token belongs to, if it is live.
    pub fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AuthError::NoSession);
        }
        self.authenticate_hash(&token_sha256(token))
    }

    /// The live session stored under a token's hash; its use is recorded
    /// (at most once a minute).
    pub(crate) fn authenticate_hash(&self, hash: &str) -> Result<Principal, AuthError> {
        let Some(row) = self.store.session(hash)? else {
            return Err(AuthError::NoSession);
        };
        let now = self.clock.now();
        let idle_until = time_after(row.last_used, self.session_idle_secs);
        if row.revoked || row.expires <= now || idle_until <= now {
            return Err(AuthError::NoSession);
        }
        // A user removed from the config loses their sessions.
        let Some(user) = self.users.get(&row.username) else {
            return Err(AuthError::NoSession);
        };
        if now - row.last_used >= touch_every(self.session_idle_secs) {
            self.store.touch_session(hash, now)?;
        }
        Ok(Principal {
            username: row.username,
            role: user.role,
            expires: row.expires,
            token_sha256: hash.to_owned(),
        })
    }

    /// Ends a session.
    pub fn sign_out(&self, principal: &Principal) -> Result<(), AuthError> {
        self.store.revoke_session(&principal.token_sha256)?;
        Ok(())
    }

    /// Revokes the sessions of `username` (of everyone when `None`), but
    /// not the one under the token hash `except`; returns how many.
    pub fn revoke(&self, username: Option<&str>, except: Option<&str>) -> Result<usize, AuthError> {
        Ok(self.store.revoke_sessions(username, except)?)
    }

    /// Forgets the sessions that can no longer be used (revoked, expired,
    /// idle) on the site's clock; returns how many.
    pub fn purge(&self) -> Result<usize, AuthError> {
        let now = self.clock.now();
        let idle = chrono::TimeDelta::seconds(self.session_idle_secs.min(CENTURY) as i64);
        let idle_since = now.checked_sub_signed(idle).unwrap_or(Timestamp::MIN_UTC);
        Ok(self.store.purge_sessions(now, idle_since)?)
    }
}

/// A century in seconds: the cap of every configured duration.
const CENTURY: u64 = 100 * 366 * 24 * 3600;

/// `start + secs`, capped at a century (a config value too large for the
/// calendar must not crash the site).
pub(crate) fn time_after(start: Timestamp, secs: u64) -> Timestamp {
    let later = start.checked_add_signed(chrono::Duration::seconds(secs.min(CENTURY) as i64));
    later.unwrap_or(start)
}

/// A hash of a random password, verified against for unknown users so that
/// their sign-in takes as long as a known user's.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY
        .get_or_init(|| hash_password(&hex::encode(rand::random::<[u8; 16]>())).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission::*;
    use Role::*;

    #[test]
    fn hash_and_verify() {
        let h = hash_password("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("s3cret", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("s3cret", "not a hash"));
    }

    #[test]
    fn demo_users_hashes_match_documented_passwords() {
        let cfg = SiteConfig::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/site.toml"),
        )
        .unwrap();
        let op = cfg.users.iter().find(|u| u.name == "operator").unwrap();
        assert!(verify_password("demo-operator", &op.password_hash));
    }

    #[tokio::test]
    async fn sign_in_session_and_sign_out() {
        let cfg = SiteConfig::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/site.toml"),
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open_in(dir.path()).unwrap());
        let auth = Auth::new(&cfg, store, Arc::new(crate::site::env::RealClock));
        assert!(matches!(
            auth.sign_in("viewer", "nope").await,
            Err(AuthError::BadCredentials)
        ));
        assert!(matches!(
            auth.sign_in("ghost", "demo-viewer").await,
            Err(AuthError::BadCredentials)
        ));
        let s = auth.sign_in("viewer", "demo-viewer").await.unwrap();
        assert_eq!(s.token.len(), 64);
        let p = auth.authenticate(&s.token).unwrap();
        assert_eq!((p.username.as_str(), p.role), ("viewer", Viewer));
        assert!(p.require(ViewSite).is_ok());
        assert_eq!(
            p.require(CommandDoor).unwrap_err().kind(),
            ErrorKind::PermissionDenied
        );
        auth.sign_out(&p).unwrap();
        assert!(matches!(
            auth.authenticate(&s.token),
            Err(AuthError::NoSession)
        ));
        assert!(matches!(
            auth.authenticate("short"),
            Err(AuthError::NoSession)
        ));
    }

    #[tokio::test]
    async fn session_ends_at_its_ttl_on_the_site_clock() {
        use crate::site::env::SimulatedClock;
        let mut cfg = SiteConfig::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/site.toml"),
        )
        .unwrap();
        cfg.session_ttl_secs = 60;
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open_in(dir.path()).unwrap());
        let clock = SimulatedClock::new(chrono::Utc::now());
        let auth = Auth::new(&cfg, store, Arc::new(clock.clone()));
        let s = auth.sign_in("viewer", "demo-viewer").await.unwrap();
        assert_eq!(s.expires, clock.now() + chrono::Duration::seconds(60));
        clock.advance(std::time::Duration::from_millis(59_999));
        assert!(auth.authenticate(&s.token).is_ok());
        clock.advance(std::time::Duration::from_millis(1));
        assert!(matches!(
            auth.authenticate(&s.token),
            Err(AuthError::NoSession)
        ));
    }

    #[tokio::test]
    async fn an_unused_session_ends_after_the_idle_time_and_use_is_written_at_most_each_interval() {
        use crate::site::env::SimulatedClock;
        let mut cfg = SiteConfig::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/site.toml"),
        )
        .unwrap();
        cfg.session_idle_secs = 600;
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open_in(dir.path()).unwrap());
        // Whole microseconds, as stored.
        let start = crate::site::store::time_us(chrono::Utc::now());
        let clock = SimulatedClock::new(crate::site::store::time_from_us(start).unwrap());
        let auth = Auth::new(&cfg, Arc::clone(&store), Arc::new(clock.clone()));
        let s = auth.sign_in("viewer", "demo-viewer").await.unwrap();
        let hash = token_sha256(&s.token);
        let t0 = clock.now();
        let last_used = || store.session(&hash).unwrap().unwrap().last_used;
        assert_eq!(last_used(), t0);
        let secs = |n| std::time::Duration::from_secs(n);
        // Used within the minute: nothing written.
        clock.advance(secs(59));
        auth.authenticate(&s.token).unwrap();
        assert_eq!(last_used(), t0);
        // A minute on: written.
        clock.advance(secs(1));
        auth.authenticate(&s.token).unwrap();
        let t1 = clock.now();
        assert_eq!(last_used(), t1);
        // Used within 10 minutes of the last write: still lives.
        clock.advance(secs(599));
        auth.authenticate(&s.token).unwrap();
        let t2 = clock.now();
        assert_eq!(last_used(), t2);
        // 10 minutes unused: ended, and purged.
        clock.advance(secs(600));
        assert!(matches!(
            auth.authenticate(&s.token),
            Err(AuthError::NoSession)
        ));
        assert_eq!(auth.purge().unwrap(), 1);
        assert!(store.session(&hash).unwrap().is_none());
        // A shorter idle time is written more often.
        assert_eq!(touch_every(60), chrono::TimeDelta::seconds(15));
        assert_eq!(touch_every(1800), chrono::TimeDelta::seconds(60));
    }

    #[test]
    fn demo_passwords_and_loopback_sources() {
        for p in [
            "demo-viewer",
            "demo-operator",
            "demo-supervisor",
            "demo-investigator",
            "demo-admin",
        ] {
            assert!(is_demo_password(p), "{p}");
        }
        for p in [
            "demo-",
            "demo-root",
            "Demo-admin",
            "demo-admin ",
            "s3cret",
            "",
        ] {
            assert!(!is_demo_password(p), "{p}");
        }
        for a in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
            assert!(is_loopback_source(a), "{a}");
        }
        for a in [
            "192.0.2.7",
            "0.0.0.0",
            "::",
            "fd00::2",
            "::ffff:10.0.0.1",
            "unknown",
            "localhost",
            "",
        ] {
            assert!(!is_loopback_source(a), "{a}");
        }
    }

    #[test]
    fn time_after_never_panics_at_the_end_of_the_calendar() {
        let end = Timestamp::MAX_UTC;
        assert_eq!(time_after(end, 60), end);
        let t = chrono::Utc::now();
        assert_eq!(
            time_after(t, u64::MAX),
            t + chrono::Duration::seconds(CENTURY as i64)
        );
    }
}
