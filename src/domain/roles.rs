//! The one role matrix: what each role may do. The site checks it on every
//! call; the client reads the same table to disable what the site would
//! refuse. Nothing else in the code decides on a role.

use super::{DoorAction, Role};

/// What a role may do. Checked on every call, in one place: [`allowed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Snapshot, live events, stills, maps, open requests, site time.
    ViewSite,
    /// Search the event log.
    SearchEvents,
    /// Lock, unlock, momentary access; read commands.
    CommandDoor,
    /// Lockdown and its release.
    Lockdown,
    /// Grant or deny access requests.
    AnswerRequests,
    /// Read cardholders and their photos.
    ViewCardholders,
    /// Enable and disable credentials.
    ManageCredentials,
    /// Read and verify the audit trail.
    ViewAudit,
    /// End other users' sessions (revocation).
    ManageSessions,
    /// Publish and delete the site's shared camera views.
    PublishViews,
    /// Place doors and cameras on the floor maps.
    EditMaps,
    /// Read the recordings' coverage and play recorded video.
    ViewRecordings,
    /// Place evidence locks on recordings (retention keeps them).
    LockEvidence,
}

impl Permission {
    /// Every permission, for tables and tests.
    pub const ALL: [Permission; 13] = [
        Permission::ViewSite,
        Permission::SearchEvents,
        Permission::CommandDoor,
        Permission::Lockdown,
        Permission::AnswerRequests,
        Permission::ViewCardholders,
        Permission::ManageCredentials,
        Permission::ViewAudit,
        Permission::ManageSessions,
        Permission::PublishViews,
        Permission::EditMaps,
        Permission::ViewRecordings,
        Permission::LockEvidence,
    ];

    /// A short name for messages.
    pub fn label(self) -> &'static str {
        match self {
            Permission::ViewSite => "view the site",
            Permission::SearchEvents => "search events",
            Permission::CommandDoor => "command doors",
            Permission::Lockdown => "lock down doors",
            Permission::AnswerRequests => "answer access requests",
            Permission::ViewCardholders => "view cardholders",
            Permission::ManageCredentials => "manage credentials",
            Permission::ViewAudit => "view the audit trail",
            Permission::ManageSessions => "revoke sessions",
            Permission::PublishViews => "publish shared views",
            Permission::EditMaps => "edit floor maps",
            Permission::ViewRecordings => "play recordings",
            Permission::LockEvidence => "lock evidence",
        }
    }
}

/// The role matrix: whether `role` has `permission`.
pub fn allowed(role: Role, permission: Permission) -> bool {
    use Permission::*;
    use Role::*;
    match permission {
        ViewSite => true,
        SearchEvents => matches!(role, Operator | Supervisor | Investigator | Admin),
        CommandDoor => matches!(role, Operator | Supervisor | Admin),
        Lockdown => matches!(role, Supervisor | Admin),
        AnswerRequests => matches!(role, Operator | Supervisor | Admin),
        ViewCardholders => matches!(role, Operator | Supervisor | Investigator | Admin),
        ManageCredentials => matches!(role, Supervisor | Admin),
        ViewAudit => matches!(role, Supervisor | Investigator | Admin),
        ManageSessions => matches!(role, Admin),
        PublishViews => matches!(role, Supervisor | Admin),
        EditMaps => matches!(role, Admin),
        ViewRecordings => matches!(role, Operator | Supervisor | Investigator | Admin),
        LockEvidence => matches!(role, Supervisor | Investigator | Admin),
    }
}

/// The whole matrix, every role against every permission.
pub fn matrix() -> Vec<(Role, Permission, bool)> {
    Role::ALL
        .into_iter()
        .flat_map(|r| {
            Permission::ALL
                .into_iter()
                .map(move |p| (r, p, allowed(r, p)))
        })
        .collect()
}

impl Permission {
    /// The permission a door command needs.
    pub fn for_door_action(action: DoorAction) -> Permission {
        match action {
            DoorAction::Lockdown | DoorAction::ReleaseLockdown => Permission::Lockdown,
            DoorAction::Lock | DoorAction::Unlock | DoorAction::Access => Permission::CommandDoor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission::*;
    use Role::*;

    #[test]
    fn role_matrix_table() {
        // (permission, viewer, operator, supervisor, investigator, admin)
        let table = [
            (ViewSite, true, true, true, true, true),
            (SearchEvents, false, true, true, true, true),
            (CommandDoor, false, true, true, false, true),
            (Lockdown, false, false, true, false, true),
            (AnswerRequests, false, true, true, false, true),
            (ViewCardholders, false, true, true, true, true),
            (ManageCredentials, false, false, true, false, true),
            (ViewAudit, false, false, true, true, true),
            (ManageSessions, false, false, false, false, true),
            (PublishViews, false, false, true, false, true),
            (EditMaps, false, false, false, false, true),
            (ViewRecordings, false, true, true, true, true),
            (LockEvidence, false, false, true, true, true),
        ];
        assert_eq!(table.len(), Permission::ALL.len());
        for (p, v, o, s, i, a) in table {
            for (role, want) in [
                (Viewer, v),
                (Operator, o),
                (Supervisor, s),
                (Investigator, i),
                (Admin, a),
            ] {
                assert_eq!(allowed(role, p), want, "{role} / {p:?}");
            }
        }
        assert_eq!(matrix().len(), 5 * Permission::ALL.len());
        assert!(matrix().iter().all(|&(r, p, ok)| allowed(r, p) == ok));
    }

    #[test]
    fn door_actions_need_their_permission() {
        for (action, want) in [
            (DoorAction::Lock, CommandDoor),
            (DoorAction::Unlock, CommandDoor),
            (DoorAction::Access, CommandDoor),
            (DoorAction::Lockdown, Lockdown),
            (DoorAction::ReleaseLockdown, Lockdown),
        ] {
            assert_eq!(Permission::for_door_action(action), want, "{action:?}");
        }
    }
}
