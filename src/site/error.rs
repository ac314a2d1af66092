//! The error of the site's services: each variant keeps its kind, so the
//! API answers an unavailable driver with 503 and a store failure with 500.

use crate::domain::ErrorKind;

use super::auth::AuthError;
use super::drivers::DriverError;
use super::store::StoreError;

/// Why a site service call failed.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Driver(#[from] DriverError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl CoreError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            CoreError::NotFound(_) => ErrorKind::NotFound,
            CoreError::Conflict(_) => ErrorKind::Conflict,
            CoreError::InvalidInput(_) => ErrorKind::InvalidInput,
            CoreError::Unavailable(_) => ErrorKind::Unavailable,
            CoreError::Auth(e) => e.kind(),
            CoreError::Driver(e) => e.kind(),
            CoreError::Store(e) => e.kind(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DoorId;

    #[test]
    fn kinds_survive_wrapping() {
        let cases = [
            (CoreError::NotFound("x".into()), ErrorKind::NotFound),
            (CoreError::Conflict("x".into()), ErrorKind::Conflict),
            (CoreError::InvalidInput("x".into()), ErrorKind::InvalidInput),
            (CoreError::Unavailable("x".into()), ErrorKind::Unavailable),
            (AuthError::NoSession.into(), ErrorKind::Unauthenticated),
            (
                DriverError::Unbound(DoorId::new("d")).into(),
                ErrorKind::Unavailable,
            ),
            (DriverError::NoSimulator.into(), ErrorKind::Unavailable),
        ];
        for (e, kind) in cases {
            assert_eq!(e.kind(), kind, "{e}");
        }
    }
}
