//! The door model and its state machine. Pure: the simulated controller
//! drives it, tests table it, the UI reads [`DoorStatus::state`].

use serde::{Deserialize, Serialize};

/// What the lock is told to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DoorMode {
    Locked,
    Unlocked,
    /// Momentarily unlocked for the door's access time.
    Accessed,
    /// Locked and refusing every credential until the lockdown is released.
    LockedDown,
}

/// Whether the door leaf is open, from the door position switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DoorPosition {
    Closed,
    Open,
}

/// What a door does when it loses power.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailMode {
    /// Unlocks on power loss (life safety, emergency exits).
    FailSafe,
    /// Stays locked on power loss.
    FailSecure,
}

impl FailMode {
    pub fn label(self) -> &'static str {
        match self {
            FailMode::FailSafe => "fail-safe",
            FailMode::FailSecure => "fail-secure",
        }
    }
}

/// The state a door reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DoorStatus {
    pub mode: DoorMode,
    pub position: DoorPosition,
    /// Opened while locked without a grant; clears when it closes.
    pub forced: bool,
    /// Open past its held-open threshold; clears when it closes.
    pub held_open: bool,
    /// False when its controller cannot be reached: then nothing else here
    /// is known to be true.
    pub online: bool,
}

impl DoorStatus {
    pub fn locked_closed() -> Self {
        Self {
            mode: DoorMode::Locked,
            position: DoorPosition::Closed,
            forced: false,
            held_open: false,
            online: true,
        }
    }

    /// The one word an operator sees. `link_up` is false when the client has
    /// lost the site: a door whose state is not known is unknown, never
    /// locked.
    pub fn state(&self, link_up: bool) -> DoorState {
        if !link_up || !self.online {
            DoorState::Unknown
        } else if self.forced {
            DoorState::Forced
        } else if self.held_open {
            DoorState::HeldOpen
        } else if self.position == DoorPosition::Open {
            DoorState::Open
        } else {
            match self.mode {
                DoorMode::Locked => DoorState::Locked,
                DoorMode::Unlocked => DoorState::Unlocked,
                DoorMode::Accessed => DoorState::Accessed,
                DoorMode::LockedDown => DoorState::LockedDown,
            }
        }
    }

    /// Apply one input. Returns the new status and the alarms the input
    /// raised, or why the door refuses it.
    pub fn apply(&self, input: DoorInput) -> Result<(DoorStatus, Vec<DoorAlarm>), DoorRefusal> {
        let mut s = *self;
        let mut alarms = Vec::new();
        match input {
            DoorInput::Command(action) => {
                if !s.online {
                    return Err(DoorRefusal::Offline);
                }
                s.mode = match (s.mode, action) {
                    (_, DoorAction::Lockdown) => DoorMode::LockedDown,
                    (DoorMode::LockedDown, DoorAction::ReleaseLockdown) => DoorMode::Locked,
                    (_, DoorAction::ReleaseLockdown) => return Err(DoorRefusal::NotLockedDown),
                    (DoorMode::LockedDown, _) => return Err(DoorRefusal::LockedDown),
                    (_, DoorAction::Lock) => DoorMode::Locked,
                    (_, DoorAction::Unlock) => DoorMode::Unlocked,
                    (DoorMode::Unlocked, DoorAction::Access) => DoorMode::Unlocked,
                    (_, DoorAction::Access) => DoorMode::Accessed,
                };
            }
            DoorInput::AccessTimeElapsed => {
                if s.mode == DoorMode::Accessed {
                    s.mode = DoorMode::Locked;
                }
            }
            DoorInput::Opened => {
                s.position = DoorPosition::Open;
                if matches!(s.mode, DoorMode::Locked | DoorMode::LockedDown) && !s.forced {
                    s.forced = true;
                    alarms.push(DoorAlarm::ForcedOpen);
                }
            }
            DoorInput::Closed => {
                s.position = DoorPosition::Closed;
                s.forced = false;
                s.held_open = false;
                // Relock on close: a granted passage is over once the door shuts.
                if s.mode == DoorMode::Accessed {
                    s.mode = DoorMode::Locked;
                }
            }
            DoorInput::HeldOpenTimeElapsed => {
                if s.position == DoorPosition::Open && s.mode != DoorMode::Unlocked && !s.held_open
                {
                    s.held_open = true;
                    alarms.push(DoorAlarm::HeldOpen);
                }
            }
            DoorInput::Online(online) => s.online = online,
        }
        Ok((s, alarms))
    }
}

/// What a door can be told or can sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoorInput {
    Command(DoorAction),
    AccessTimeElapsed,
    Opened,
    Closed,
    HeldOpenTimeElapsed,
    Online(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoorAlarm {
    ForcedOpen,
    HeldOpen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DoorRefusal {
    #[error("the door's controller cannot be reached")]
    Offline,
    #[error("the door is locked down; release the lockdown first")]
    LockedDown,
    #[error("the door is not locked down")]
    NotLockedDown,
}

/// The shown state of a door, from [`DoorStatus::state`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DoorState {
    Locked,
    Unlocked,
    Accessed,
    LockedDown,
    Open,
    Forced,
    HeldOpen,
    Unknown,
}

impl DoorState {
    pub fn label(self) -> &'static str {
        match self {
            DoorState::Locked => "locked",
            DoorState::Unlocked => "unlocked",
            DoorState::Accessed => "accessed",
            DoorState::LockedDown => "locked down",
            DoorState::Open => "open",
            DoorState::Forced => "FORCED",
            DoorState::HeldOpen => "held open",
            DoorState::Unknown => "UNKNOWN",
        }
    }

    /// Whether this state wants an operator's attention.
    pub fn is_alarm(self) -> bool {
        matches!(
            self,
            DoorState::Forced | DoorState::HeldOpen | DoorState::Unknown
        )
    }
}

/// A command an operator sends to a door.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DoorAction {
    Lock,
    Unlock,
    /// Momentary unlock for the door's access time.
    Access,
    Lockdown,
    ReleaseLockdown,
}

impl DoorAction {
    pub const ALL: [DoorAction; 5] = [
        DoorAction::Lock,
        DoorAction::Unlock,
        DoorAction::Access,
        DoorAction::Lockdown,
        DoorAction::ReleaseLockdown,
    ];

    pub fn label(self) -> &'static str {
        match self {
            DoorAction::Lock => "lock",
            DoorAction::Unlock => "unlock",
            DoorAction::Access => "access",
            DoorAction::Lockdown => "lockdown",
            DoorAction::ReleaseLockdown => "release lockdown",
        }
    }

    /// The door mode a completed command leaves, when the door accepts it.
    pub fn expected_mode(self) -> DoorMode {
        match self {
            DoorAction::Lock | DoorAction::ReleaseLockdown => DoorMode::Locked,
            DoorAction::Unlock => DoorMode::Unlocked,
            DoorAction::Access => DoorMode::Accessed,
            DoorAction::Lockdown => DoorMode::LockedDown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DoorInput::*;
    use DoorMode::*;

    fn st(mode: DoorMode, open: bool) -> DoorStatus {
        DoorStatus {
            mode,
            position: if open {
                DoorPosition::Open
            } else {
                DoorPosition::Closed
            },
            ..DoorStatus::locked_closed()
        }
    }

    /// (start, input, expected mode, expected open, forced, held, alarms)
    type Row = (
        DoorStatus,
        DoorInput,
        DoorMode,
        bool,
        bool,
        bool,
        Vec<DoorAlarm>,
    );

    #[test]
    fn state_machine_table() {
        let table: Vec<Row> = vec![
            (
                st(Locked, false),
                Command(DoorAction::Unlock),
                Unlocked,
                false,
                false,
                false,
                vec![],
            ),
            (
                st(Unlocked, false),
                Command(DoorAction::Lock),
                Locked,
                false,
                false,
                false,
                vec![],
            ),
            (
                st(Locked, false),
                Command(DoorAction::Access),
                Accessed,
                false,
                false,
                false,
                vec![],
            ),
            (
                st(Unlocked, false),
                Command(DoorAction::Access),
                Unlocked,
                false,
                false,
                false,
                vec![],
            ),
            (
                st(Accessed, false),
                AccessTimeElapsed,
                Locked,
                false,
                false,
                false,
                vec![],
            ),
            (
                st(Unlocked, false),
                AccessTimeElapsed,
                Unlocked,
                false,
                false,
                false,
                vec![],
            ),
            (
                st(Locked, false),
                Opened,
                Locked,
                true,
                true,
                false,
                vec![DoorAlarm::ForcedOpen],
            ),
            (
                st(LockedDown, false),
                Opened,
                LockedDown,
                true,
                true,
                false,
                vec![DoorAlarm::ForcedOpen],
            ),
            (
                st(Accessed, false),
                Opened,
                Accessed,
                true,
                false,
                false,
                vec![],
            ),
            (
                st(Unlocked, false),
                Opened,
                Unlocked,
                true,
                false,
                false,
                vec![],
            ),
            (
                st(Accessed, true),
                Closed,
                Locked,
                false,
                false,
                false,
                vec![],
            ),
            (
                st(Locked, true),
                HeldOpenTimeElapsed,
                Locked,
                true,
                false,
                true,
                vec![DoorAlarm::HeldOpen],
            ),
            (
                st(Unlocked, true),
                HeldOpenTimeElapsed,
                Unlocked,
                true,
                false,
                false,
                vec![],
            ),
            (
                st(Locked, false),
                HeldOpenTimeElapsed,
                Locked,
                false,
                false,
                false,
                vec![],
            ),
            (
                st(Locked, false),
                Command(DoorAction::Lockdown),
                LockedDown,
                false,
                false,
                false,
                vec![],
            ),
            (
                st(LockedDown, false),
                Command(DoorAction::ReleaseLockdown),
                Locked,
                false,
                false,
                false,
                vec![],
            ),
        ];
        for (i, (start, input, mode, open, forced, held, alarms)) in table.into_iter().enumerate() {
            let (s, a) = start
                .apply(input)
                .unwrap_or_else(|e| panic!("row {i}: refused: {e}"));
            assert_eq!(s.mode, mode, "row {i}: mode");
            assert_eq!(s.position == DoorPosition::Open, open, "row {i}: position");
            assert_eq!(s.forced, forced, "row {i}: forced");
            assert_eq!(s.held_open, held, "row {i}: held open");
            assert_eq!(a, alarms, "row {i}: alarms");
        }
    }

    #[test]
    fn refusals() {
        let down = st(LockedDown, false);
        for a in [DoorAction::Lock, DoorAction::Unlock, DoorAction::Access] {
            assert_eq!(down.apply(Command(a)), Err(DoorRefusal::LockedDown));
        }
        assert_eq!(
            st(Locked, false).apply(Command(DoorAction::ReleaseLockdown)),
            Err(DoorRefusal::NotLockedDown)
        );
        let offline = DoorStatus {
            online: false,
            ..st(Locked, false)
        };
        assert_eq!(
            offline.apply(Command(DoorAction::Unlock)),
            Err(DoorRefusal::Offline)
        );
    }

    #[test]
    fn forced_door_clears_on_close_and_alarm_raised_once() {
        let (s, a) = st(Locked, false).apply(Opened).unwrap();
        assert_eq!(a, vec![DoorAlarm::ForcedOpen]);
        let (s, a) = s.apply(HeldOpenTimeElapsed).unwrap();
        assert_eq!(a, vec![DoorAlarm::HeldOpen]);
        let (s, a) = s.apply(HeldOpenTimeElapsed).unwrap();
        assert!(a.is_empty(), "held-open alarm raised twice");
        let (s, _) = s.apply(Closed).unwrap();
        assert!(!s.forced && !s.held_open);
        assert_eq!(s.state(true), DoorState::Locked);
    }

    #[test]
    fn shown_state_table() {
        let offline = DoorStatus {
            online: false,
            ..st(Locked, false)
        };
        let forced = DoorStatus {
            forced: true,
            ..st(Locked, true)
        };
        let held = DoorStatus {
            held_open: true,
            ..st(Locked, true)
        };
        let table = [
            (st(Locked, false), true, DoorState::Locked),
            (st(Locked, false), false, DoorState::Unknown),
            (offline, true, DoorState::Unknown),
            (forced, true, DoorState::Forced),
            (held, true, DoorState::HeldOpen),
            (st(Accessed, true), true, DoorState::Open),
            (st(Unlocked, false), true, DoorState::Unlocked),
            (st(Accessed, false), true, DoorState::Accessed),
            (st(LockedDown, false), true, DoorState::LockedDown),
        ];
        for (i, (s, link, want)) in table.into_iter().enumerate() {
            assert_eq!(s.state(link), want, "row {i}");
        }
    }
}
