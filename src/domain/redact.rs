//! What a role may read of people: the per-field redaction the site applies
//! to everything it sends (live stream, event search, snapshot, open
//! requests). The fields and the permission each needs are decided here,
//! once, from the one role matrix; `ARCHITECTURE.md` lists the decision.
//!
//! - **People** (a cardholder's id, a badge number, a visitor's name and the
//!   free-text reason an operator gave when answering a request, which may
//!   name someone) need [`Permission::ViewCardholders`].
//! - **Users** (the name of whoever commanded a door, answered a request or
//!   changed a credential) need [`Permission::SearchEvents`]: the roles that
//!   may search the log, where those names are on every row anyway.
//!
//! A redacted optional field is absent; a redacted required one reads
//! [`REDACTED`], which no real id or user name can be (it has spaces and
//! brackets, which ids and user names never hold).

use super::{AccessRequest, Event, EventKind, Permission, Role, Snapshot, allowed};
use super::{CardholderId, CredentialId};

/// What a required field reads when the role may not see it.
pub const REDACTED: &str = "(not shown)";

/// The redaction for one role. `Redaction::for_role(r).event(e)` is what a
/// signed-in user of role `r` receives of event `e`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redaction {
    people: bool,
    users: bool,
}

impl Redaction {
    /// The redaction the role matrix gives `role`.
    pub fn for_role(role: Role) -> Redaction {
        Redaction {
            people: !allowed(role, Permission::ViewCardholders),
            users: !allowed(role, Permission::SearchEvents),
        }
    }

    /// Whether this redaction changes nothing (the role sees every field).
    pub fn is_none(self) -> bool {
        !self.people && !self.users
    }

    fn user(self, name: String) -> String {
        if self.users {
            REDACTED.to_owned()
        } else {
            name
        }
    }

    fn opt<T>(hide: bool, v: Option<T>) -> Option<T> {
        if hide { None } else { v }
    }

    /// An access request as this role may read it.
    pub fn request(self, mut r: AccessRequest) -> AccessRequest {
        if self.people {
            r.cardholder = None;
            r.credential = None;
            r.visitor_name = None;
        }
        r
    }

    /// An event as this role may read it.
    pub fn event(self, mut e: Event) -> Event {
        if self.is_none() {
            return e;
        }
        let p = self.people;
        e.kind = match e.kind {
            EventKind::AccessGranted {
                door,
                access_point,
                cardholder,
                credential,
            } => EventKind::AccessGranted {
                door,
                access_point,
                cardholder: Self::opt(p, cardholder),
                credential: Self::opt(p, credential),
            },
            EventKind::AccessDenied {
                door,
                access_point,
                cardholder,
                credential,
                reason,
            } => EventKind::AccessDenied {
                door,
                access_point,
                cardholder: Self::opt(p, cardholder),
                credential: Self::opt(p, credential),
                reason,
            },
            EventKind::AccessRequestOpened { request } => EventKind::AccessRequestOpened {
                request: self.request(request),
            },
            EventKind::AccessRequestResolved {
                request,
                door,
                outcome,
                by,
                reason,
            } => EventKind::AccessRequestResolved {
                request,
                door,
                outcome,
                by: by.map(|b| self.user(b)),
                reason: Self::opt(p, reason),
            },
            EventKind::CommandCompleted {
                command,
                door,
                action,
                by,
            } => EventKind::CommandCompleted {
                command,
                door,
                action,
                by: self.user(by),
            },
            EventKind::CommandFailed {
                command,
                door,
                action,
                by,
                reason,
            } => EventKind::CommandFailed {
                command,
                door,
                action,
                by: self.user(by),
                reason,
            },
            EventKind::CredentialChanged {
                credential,
                cardholder,
                state,
                by,
            } => EventKind::CredentialChanged {
                credential: if p {
                    CredentialId::new(REDACTED)
                } else {
                    credential
                },
                cardholder: if p {
                    CardholderId::new(REDACTED)
                } else {
                    cardholder
                },
                state,
                by: self.user(by),
            },
            EventKind::CardholderChanged { cardholder, by } => EventKind::CardholderChanged {
                cardholder: if p {
                    CardholderId::new(REDACTED)
                } else {
                    cardholder
                },
                by: self.user(by),
            },
            EventKind::MapChanged { map, by } => EventKind::MapChanged {
                map,
                by: self.user(by),
            },
            EventKind::BookmarkAdded {
                bookmark,
                title,
                by,
            } => EventKind::BookmarkAdded {
                bookmark,
                title,
                by: self.user(by),
            },
            other @ (EventKind::DoorStateChanged { .. }
            | EventKind::DoorForcedOpen { .. }
            | EventKind::DoorHeldOpen { .. }
            | EventKind::TestFlood { .. }
            // A view's id and name name no person.
            | EventKind::ViewPublished { .. }
            | EventKind::ViewRemoved { .. }
            // A camera's state names no person.
            | EventKind::CameraOffline { .. }
            | EventKind::CameraOnline { .. }
            | EventKind::StorageLow { .. }) => other,
        };
        e
    }

    /// A shared view as this role may read it (who published it is a
    /// user name).
    pub fn shared_view(self, mut v: super::SharedView) -> super::SharedView {
        v.by = self.user(v.by);
        v
    }

    /// A snapshot as this role may read it (its open requests).
    pub fn snapshot(self, mut s: Snapshot) -> Snapshot {
        if self.people {
            s.open_requests = s
                .open_requests
                .into_iter()
                .map(|r| self.request(r))
                .collect();
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        AccessPointId, CommandId, CredentialState, DenyReason, DoorAction, DoorId, RequestId,
        RequestOutcome,
    };

    const NAME: &str = "Nora Lindqvist";
    const BADGE: &str = "0451-7788";
    const HOLDER: &str = "ch-nora";
    const USER: &str = "op-jansen";

    fn at() -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn request() -> AccessRequest {
        AccessRequest {
            id: RequestId::new("r1"),
            door: DoorId::new("d1"),
            access_point: Some(AccessPointId::new("ap1")),
            cardholder: Some(CardholderId::new(HOLDER)),
            credential: Some(CredentialId::new(BADGE)),
            reason: "visitor".into(),
            visitor_name: Some(NAME.into()),
            created: at(),
            expires: at(),
        }
    }

    /// One event of every kind that carries a person or a user.
    fn events() -> Vec<Event> {
        let door = || DoorId::new("d1");
        let kinds = vec![
            EventKind::AccessGranted {
                door: door(),
                access_point: None,
                cardholder: Some(CardholderId::new(HOLDER)),
                credential: Some(CredentialId::new(BADGE)),
            },
            EventKind::AccessDenied {
                door: door(),
                access_point: None,
                cardholder: Some(CardholderId::new(HOLDER)),
                credential: Some(CredentialId::new(BADGE)),
                reason: DenyReason::CardDisabled,
            },
            EventKind::AccessRequestOpened { request: request() },
            EventKind::AccessRequestResolved {
                request: RequestId::new("r1"),
                door: door(),
                outcome: RequestOutcome::Granted,
                by: Some(USER.into()),
                reason: Some(format!("{NAME} is expected")),
            },
            EventKind::CommandCompleted {
                command: CommandId::new("c1"),
                door: door(),
                action: DoorAction::Unlock,
                by: USER.into(),
            },
            EventKind::CommandFailed {
                command: CommandId::new("c2"),
                door: door(),
                action: DoorAction::Lock,
                by: USER.into(),
                reason: "timeout".into(),
            },
            EventKind::CredentialChanged {
                credential: CredentialId::new(BADGE),
                cardholder: CardholderId::new(HOLDER),
                state: CredentialState::Disabled,
                by: USER.into(),
            },
            EventKind::CardholderChanged {
                cardholder: CardholderId::new(HOLDER),
                by: USER.into(),
            },
            EventKind::MapChanged {
                map: crate::domain::MapId::new("floor1"),
                by: USER.into(),
            },
        ];
        kinds
            .into_iter()
            .enumerate()
            .map(|(i, kind)| Event {
                seq: i as u64 + 1,
                time: at(),
                kind,
            })
            .collect()
    }

    #[test]
    fn each_role_reads_what_the_matrix_lets_it() {
        for role in Role::ALL {
            let people = allowed(role, Permission::ViewCardholders);
            let users = allowed(role, Permission::SearchEvents);
            let r = Redaction::for_role(role);
            for e in events() {
                let wire = serde_json::to_string(&r.event(e.clone())).unwrap();
                let before = serde_json::to_string(&e).unwrap();
                for secret in [NAME, BADGE, HOLDER] {
                    if before.contains(secret) {
                        assert_eq!(wire.contains(secret), people, "{role} {secret} in {wire}");
                    }
                }
                if before.contains(USER) {
                    assert_eq!(wire.contains(USER), users, "{role} user in {wire}");
                }
                // Nothing else changes: the same seq, time and type.
                let (a, b) = (r.event(e.clone()), e);
                assert_eq!((a.seq, a.time), (b.seq, b.time));
                assert_eq!(a.kind.type_name(), b.kind.type_name());
                assert_eq!(a.kind.door(), b.kind.door());
            }
        }
        // The matrix today: only the viewer is redacted.
        assert!(!Redaction::for_role(Role::Viewer).is_none());
        assert!(Redaction::for_role(Role::Operator).is_none());
    }

    #[test]
    fn requests_and_snapshots_lose_people_for_the_viewer() {
        let viewer = Redaction::for_role(Role::Viewer);
        let r = viewer.request(request());
        assert_eq!(
            (r.cardholder, r.credential, r.visitor_name),
            (None, None, None)
        );
        assert_eq!(r.reason, "visitor");
        let admin = Redaction::for_role(Role::Admin);
        assert_eq!(admin.request(request()), request());
    }
}
