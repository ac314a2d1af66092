//! Sign-in and sessions; permission checks read the one role matrix in
//! [`crate::domain::allowed`]. Passwords are argon2 PHC
//! strings from `config/users.toml`; a session token is 32 random bytes in
//! hex, and the store keeps only its sha256.

use std::collections::HashMap;
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

/// Users and sessions.
pub struct Auth {
    users: HashMap<String, UserConfig>,
    session_ttl_secs: u64,
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
            store,
            clock,
        }
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
        let expires = time_after(self.clock.now(), self.session_ttl_secs);
        self.store
            .insert_session(&token_sha256(&token), &user.name, user.role, expires)?;
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
        let hash = token_sha256(token);
        let Some(row) = self.store.session(&hash)? else {
            return Err(AuthError::NoSession);
        };
        if row.revoked || row.expires <= self.clock.now() {
            return Err(AuthError::NoSession);
        }
        // A user removed from the config loses their sessions.
        let Some(user) = self.users.get(&row.username) else {
            return Err(AuthError::NoSession);
        };
        Ok(Principal {
            username: row.username,
            role: user.role,
            expires: row.expires,
            token_sha256: hash,
        })
    }

    /// Ends a session.
    pub fn sign_out(&self, principal: &Principal) -> Result<(), AuthError> {
        self.store.revoke_session(&principal.token_sha256)?;
        Ok(())
    }
}

/// `start + secs`, capped at a century (a config value too large for the
/// calendar must not crash the site).
pub(crate) fn time_after(start: Timestamp, secs: u64) -> Timestamp {
    const CENTURY_SECS: u64 = 100 * 366 * 24 * 3600;
    start + chrono::Duration::seconds(secs.min(CENTURY_SECS) as i64)
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
}
