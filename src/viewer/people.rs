//! The cardholders panel's state, in memory only: the last search the site
//! answered, the cardholder open in the panel (with its photo and recent
//! events), and the credential changes sent and not yet seen. Changed only
//! through [`AppState::apply`](super::AppState::apply); the search itself
//! is answered by the site (`GET /cardholders?q=`), never filtered here.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::domain::{Cardholder, CardholderId, CredentialId, CredentialState, Event, EventKind};

use super::StillImage;

/// The most search results kept (the site answers the first page).
pub const SEARCH_RESULTS_LEN: usize = 500;
/// The most recent events shown for a cardholder.
pub const CARDHOLDER_EVENTS_LEN: u32 = 20;
/// The recent events on a request's cardholder card.
pub const CARD_EVENTS_LEN: u32 = 3;
/// The most cards kept (a few requests at a time).
pub const CARDS_LEN: usize = 32;

/// The card of the person at a door, read when their request pops:
/// cached here, so the pop draws it every frame without asking again.
#[derive(Debug, Clone, PartialEq)]
pub struct CardholderCard {
    pub id: CardholderId,
    /// None when it could not be read (`failed` says why).
    pub cardholder: Option<Cardholder>,
    pub photo: Option<Arc<StillImage>>,
    /// The newest [`CARD_EVENTS_LEN`] events, newest first; None when the
    /// role may not search events.
    pub events: Option<Vec<Event>>,
    pub failed: Option<String>,
}

/// What the last search came back with.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum SearchResults {
    /// No search answered yet.
    #[default]
    None,
    Found {
        q: String,
        cardholders: Vec<Cardholder>,
    },
    Failed {
        q: String,
        message: String,
    },
}

/// The cardholder open in the panel.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenCardholder {
    pub id: CardholderId,
    /// None until the site answers.
    pub cardholder: Option<Cardholder>,
    /// Why it could not be read, if it could not.
    pub failed: Option<String>,
    pub photo: Option<Arc<StillImage>>,
    /// The site's recent events of this cardholder, newest first; None
    /// until they come (or when the role may not search events).
    pub events: Option<Vec<Event>>,
}

/// A credential change sent to the site and not yet seen in the cardholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialChange {
    Pending(CredentialState),
    Failed {
        wanted: CredentialState,
        message: String,
    },
}

/// A cardholder create or edit sent to the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaveState {
    Saving,
    /// Stored: the form may close.
    Saved(CardholderId),
    Failed(String),
}

/// Why a change of badges was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadgesRefused {
    /// A badge is someone else's (the site answered 409).
    pub conflict: bool,
    pub message: String,
}

/// The outcome of a change of badges, under the nonce it was sent with.
#[derive(Debug, Clone, PartialEq)]
pub struct BadgesOutcome {
    pub nonce: String,
    /// The cardholder as stored, when it was.
    pub cardholder: Option<Cardholder>,
    pub refused: Option<BadgesRefused>,
}

/// See the module doc.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct People {
    pub results: SearchResults,
    pub open: Option<OpenCardholder>,
    /// Credential changes in flight or failed, by credential.
    pub changes: BTreeMap<CredentialId, CredentialChange>,
    /// The last create or edit, while the form is open.
    pub save: Option<SaveState>,
    /// The open cardholder changed at the site: the shell asks for it again.
    refresh_due: bool,
    /// Request cards by cardholder (at most [`CARDS_LEN`]).
    pub cards: BTreeMap<CardholderId, CardholderCard>,
    /// Counts the cards dropped because their cardholder changed: the pop
    /// asks for a card once per cardholder and epoch.
    pub cards_epoch: u64,
    /// The last change of badges' outcome (the form matches its nonce).
    pub badges: Option<BadgesOutcome>,
    /// Small photos of the people in the access monitor's rows (bounded;
    /// the shell marks those asked for).
    pub thumbs: super::photos::Thumbs,
}

impl People {
    /// A request card came (or could not be read).
    pub fn card_loaded(&mut self, card: CardholderCard) {
        if !self.cards.contains_key(&card.id)
            && self.cards.len() >= CARDS_LEN
            && let Some(first) = self.cards.keys().next().cloned()
        {
            self.cards.remove(&first);
        }
        self.cards.insert(card.id.clone(), card);
    }

    /// A change of badges came back: the cardholder as stored is shown.
    pub fn badges_saved(&mut self, mut outcome: BadgesOutcome) {
        if let Some(c) = outcome.cardholder.take() {
            self.loaded(c);
        }
        self.badges = Some(outcome);
    }

    /// The card of `id`, if read.
    pub fn card(&self, id: &CardholderId) -> Option<&CardholderCard> {
        self.cards.get(id)
    }

    /// A search's answer.
    pub fn search_answered(&mut self, q: String, result: Result<Vec<Cardholder>, String>) {
        self.results = match result {
            Ok(mut cardholders) => {
                cardholders.truncate(SEARCH_RESULTS_LEN);
                SearchResults::Found { q, cardholders }
            }
            Err(message) => SearchResults::Failed { q, message },
        };
    }

    /// The operator opened `id`: what was shown of another goes.
    pub fn opening(&mut self, id: CardholderId) {
        if self.open.as_ref().is_some_and(|o| o.id == id) {
            return;
        }
        self.changes.clear();
        self.open = Some(OpenCardholder {
            id,
            cardholder: None,
            failed: None,
            photo: None,
            events: None,
        });
    }

    fn open_mut(&mut self, id: &CardholderId) -> Option<&mut OpenCardholder> {
        self.open.as_mut().filter(|o| &o.id == id)
    }

    /// The site's answer for a cardholder: shown if it is the open one,
    /// and a search result is brought up to date too.
    pub fn loaded(&mut self, cardholder: Cardholder) {
        if let SearchResults::Found { cardholders, .. } = &mut self.results
            && let Some(row) = cardholders.iter_mut().find(|c| c.id == cardholder.id)
        {
            *row = cardholder.clone();
        }
        // A change the site now shows is done (or was overtaken).
        for credential in &cardholder.credentials {
            if let Some(CredentialChange::Pending(wanted)) = self.changes.get(&credential.id)
                && *wanted == credential.state
            {
                self.changes.remove(&credential.id);
            }
        }
        if let Some(open) = self.open_mut(&cardholder.id) {
            open.failed = None;
            open.cardholder = Some(cardholder);
        }
    }

    /// A create or edit was stored: the cardholder is opened as stored.
    pub fn saved(&mut self, cardholder: Cardholder) {
        self.save = Some(SaveState::Saved(cardholder.id.clone()));
        self.opening(cardholder.id.clone());
        self.loaded(cardholder);
    }

    /// The open cardholder could not be read.
    pub fn load_failed(&mut self, id: &CardholderId, message: String) {
        if let Some(open) = self.open_mut(id) {
            open.failed = Some(message);
        }
    }

    pub fn photo(&mut self, id: &CardholderId, image: Arc<StillImage>) {
        if let Some(open) = self.open_mut(id) {
            open.photo = Some(image);
        }
    }

    pub fn events(&mut self, id: &CardholderId, events: Vec<Event>) {
        if let Some(open) = self.open_mut(id) {
            open.events = Some(events);
        }
    }

    /// A change of a credential was sent.
    pub fn change_sent(&mut self, credential: CredentialId, wanted: CredentialState) {
        self.changes
            .insert(credential, CredentialChange::Pending(wanted));
    }

    /// The site refused a change, or it never got there.
    pub fn change_failed(&mut self, credential: CredentialId, message: String) {
        let wanted = match self.changes.get(&credential) {
            Some(CredentialChange::Pending(w)) => *w,
            Some(CredentialChange::Failed { wanted, .. }) => *wanted,
            None => return,
        };
        self.changes
            .insert(credential, CredentialChange::Failed { wanted, message });
    }

    /// A live event: a change to the open cardholder (made here or at any
    /// other client) makes it due to be read again; the credential's new
    /// state shows at once.
    pub fn live(&mut self, event: &Event) {
        self.card_live(event);
        let (EventKind::CredentialChanged { cardholder, .. }
        | EventKind::CardholderChanged { cardholder, .. }) = &event.kind
        else {
            // An access event of the open cardholder joins its recent ones.
            if let Some(id) = event.kind.cardholder()
                && let Some(open) = self.open_mut(id)
                && let Some(events) = &mut open.events
                && !events.iter().any(|e| e.seq == event.seq)
            {
                events.insert(0, event.clone());
                events.truncate(CARDHOLDER_EVENTS_LEN as usize);
            }
            return;
        };
        if let EventKind::CredentialChanged {
            credential, state, ..
        } = &event.kind
            && let Some(open) = self.open_mut(cardholder)
            && let Some(shown) = &mut open.cardholder
            && let Some(c) = shown.credentials.iter_mut().find(|c| &c.id == credential)
        {
            c.state = *state;
            if let Some(CredentialChange::Pending(wanted)) = self.changes.get(credential)
                && wanted == state
            {
                self.changes.remove(credential);
            }
        }
        if self.open.as_ref().is_some_and(|o| &o.id == cardholder) {
            self.refresh_due = true;
        }
    }

    /// A live event on the cards: a badge's new state shows at once, an
    /// access event joins the person's recent ones, any other change of
    /// the person drops the card (the pop reads it again).
    fn card_live(&mut self, event: &Event) {
        match &event.kind {
            EventKind::CredentialChanged {
                cardholder,
                credential,
                state,
                ..
            } => {
                if let Some(c) = self
                    .cards
                    .get_mut(cardholder)
                    .and_then(|card| card.cardholder.as_mut())
                    .and_then(|c| c.credentials.iter_mut().find(|c| &c.id == credential))
                {
                    c.state = *state;
                }
            }
            EventKind::CardholderChanged { cardholder, .. } => {
                self.thumbs.changed(cardholder);
                if self.cards.remove(cardholder).is_some() {
                    self.cards_epoch += 1;
                }
            }
            kind => {
                if let Some(events) = kind
                    .cardholder()
                    .and_then(|id| self.cards.get_mut(id))
                    .and_then(|card| card.events.as_mut())
                    && !events.iter().any(|e| e.seq == event.seq)
                {
                    events.insert(0, event.clone());
                    events.truncate(CARD_EVENTS_LEN as usize);
                }
            }
        }
    }

    /// The open cardholder, when it is due to be read again (once).
    pub fn take_refresh(&mut self) -> Option<CardholderId> {
        if !std::mem::take(&mut self.refresh_due) {
            return None;
        }
        self.open.as_ref().map(|o| o.id.clone())
    }

    /// The change of `credential` in flight or failed, if any.
    pub fn change(&self, credential: &CredentialId) -> Option<&CredentialChange> {
        self.changes.get(credential)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Credential;

    fn holder(id: &str, badge_state: CredentialState) -> Cardholder {
        Cardholder {
            id: id.into(),
            name: format!("Person {id}"),
            department: "Lab".into(),
            has_photo: true,
            credentials: vec![Credential {
                id: format!("badge-{id}").as_str().into(),
                state: badge_state,
                valid_until: None,
            }],
        }
    }

    fn event(seq: u64, kind: EventKind) -> Event {
        Event {
            seq,
            time: chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("time"),
            kind,
        }
    }

    fn changed(cardholder: &str, state: CredentialState) -> EventKind {
        EventKind::CredentialChanged {
            credential: format!("badge-{cardholder}").as_str().into(),
            cardholder: cardholder.into(),
            state,
            by: "supervisor".into(),
        }
    }

    #[test]
    fn opening_another_cardholder_forgets_the_first() {
        let mut p = People::default();
        p.opening("a".into());
        p.loaded(holder("a", CredentialState::Active));
        p.photo(
            &"a".into(),
            Arc::new(StillImage {
                width: 1,
                height: 1,
                rgba: bytes::Bytes::from_static(&[0, 0, 0, 255]),
            }),
        );
        assert!(p.open.as_ref().unwrap().photo.is_some());
        // Opening the same one again keeps what is shown.
        p.opening("a".into());
        assert!(p.open.as_ref().unwrap().cardholder.is_some());
        p.opening("b".into());
        let open = p.open.as_ref().unwrap();
        assert_eq!(open.id, "b".into());
        assert!(open.cardholder.is_none() && open.photo.is_none());
        // A late answer for the first is not shown as the second.
        p.loaded(holder("a", CredentialState::Active));
        p.events(&"a".into(), vec![]);
        assert!(p.open.as_ref().unwrap().cardholder.is_none());
        assert!(p.open.as_ref().unwrap().events.is_none());
        p.load_failed(&"b".into(), "gone".into());
        assert_eq!(p.open.as_ref().unwrap().failed.as_deref(), Some("gone"));
    }

    #[test]
    fn a_change_is_pending_until_the_site_shows_it() {
        let mut p = People::default();
        p.opening("a".into());
        p.loaded(holder("a", CredentialState::Active));
        let badge: CredentialId = "badge-a".into();
        p.change_sent(badge.clone(), CredentialState::Disabled);
        assert_eq!(
            p.change(&badge),
            Some(&CredentialChange::Pending(CredentialState::Disabled))
        );
        // Another reading that still shows the old state keeps it pending.
        p.loaded(holder("a", CredentialState::Active));
        assert!(p.change(&badge).is_some());
        // The event stream says it is done: shown at once, due a refresh.
        p.live(&event(7, changed("a", CredentialState::Disabled)));
        assert_eq!(p.change(&badge), None);
        let shown = p.open.as_ref().unwrap().cardholder.as_ref().unwrap();
        assert_eq!(shown.credentials[0].state, CredentialState::Disabled);
        assert_eq!(p.take_refresh(), Some("a".into()));
        assert_eq!(p.take_refresh(), None, "once");
    }

    #[test]
    fn a_saved_cardholder_is_opened_as_stored() {
        let mut p = People::default();
        p.opening("a".into());
        p.saved(holder("n", CredentialState::Active));
        assert_eq!(p.save, Some(SaveState::Saved("n".into())));
        let open = p.open.as_ref().unwrap();
        assert_eq!(open.id, "n".into());
        assert_eq!(open.cardholder.as_ref().unwrap().name, "Person n");
    }

    #[test]
    fn a_refused_change_says_why_and_unknown_ones_are_ignored() {
        let mut p = People::default();
        p.change_failed("nobody".into(), "no".into());
        assert!(p.changes.is_empty());
        p.change_sent("badge-a".into(), CredentialState::Disabled);
        p.change_failed("badge-a".into(), "forbidden".into());
        assert_eq!(
            p.change(&"badge-a".into()),
            Some(&CredentialChange::Failed {
                wanted: CredentialState::Disabled,
                message: "forbidden".into()
            })
        );
    }

    #[test]
    fn changes_elsewhere_refresh_only_the_open_cardholder() {
        let mut p = People::default();
        p.live(&event(1, changed("a", CredentialState::Disabled)));
        assert_eq!(p.take_refresh(), None, "nothing open");
        p.opening("b".into());
        p.live(&event(2, changed("a", CredentialState::Disabled)));
        assert_eq!(p.take_refresh(), None, "another cardholder");
        p.live(&event(
            3,
            EventKind::CardholderChanged {
                cardholder: "b".into(),
                by: "admin".into(),
            },
        ));
        assert_eq!(p.take_refresh(), Some("b".into()));
    }

    #[test]
    fn search_results_are_the_sites_and_follow_reloads() {
        let mut p = People::default();
        p.search_answered("per".into(), Ok(vec![holder("a", CredentialState::Active)]));
        p.loaded(holder("a", CredentialState::Disabled));
        match &p.results {
            SearchResults::Found { q, cardholders } => {
                assert_eq!(q, "per");
                assert_eq!(
                    cardholders[0].credentials[0].state,
                    CredentialState::Disabled
                );
            }
            other => panic!("{other:?}"),
        }
        p.search_answered("x".into(), Err("offline".into()));
        assert!(matches!(p.results, SearchResults::Failed { .. }));
    }

    #[test]
    fn cards_follow_live_events_and_a_changed_person_is_read_again() {
        let mut p = People::default();
        let granted = |seq| {
            event(
                seq,
                EventKind::AccessGranted {
                    door: "d1".into(),
                    access_point: None,
                    cardholder: Some("a".into()),
                    credential: None,
                },
            )
        };
        p.card_loaded(CardholderCard {
            id: "a".into(),
            cardholder: Some(holder("a", CredentialState::Active)),
            photo: None,
            events: Some(vec![granted(1), granted(2), granted(3)]),
            failed: None,
        });
        p.live(&event(4, changed("a", CredentialState::Disabled)));
        let card = p.card(&"a".into()).unwrap();
        let state = card.cardholder.as_ref().unwrap().credentials[0].state;
        assert_eq!(state, CredentialState::Disabled);
        p.live(&granted(5));
        let seqs: Vec<u64> = p
            .card(&"a".into())
            .unwrap()
            .events
            .as_ref()
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, vec![5, 1, 2], "newest first, three at most");
        let epoch = p.cards_epoch;
        p.live(&event(
            6,
            EventKind::CardholderChanged {
                cardholder: "a".into(),
                by: "admin".into(),
            },
        ));
        assert!(p.card(&"a".into()).is_none());
        assert_eq!(p.cards_epoch, epoch + 1);
        for i in 0..CARDS_LEN + 5 {
            p.card_loaded(CardholderCard {
                id: format!("c{i}").as_str().into(),
                cardholder: None,
                photo: None,
                events: None,
                failed: Some("no".into()),
            });
        }
        assert_eq!(p.cards.len(), CARDS_LEN, "bounded");
    }

    #[test]
    fn access_events_of_the_open_cardholder_join_its_recent_ones() {
        let mut p = People::default();
        p.opening("a".into());
        let granted = |seq| {
            event(
                seq,
                EventKind::AccessGranted {
                    door: "d1".into(),
                    access_point: None,
                    cardholder: Some("a".into()),
                    credential: None,
                },
            )
        };
        p.live(&granted(1));
        assert!(p.open.as_ref().unwrap().events.is_none(), "not loaded yet");
        p.events(&"a".into(), vec![granted(1)]);
        p.live(&granted(1));
        p.live(&granted(2));
        let seqs: Vec<u64> = p
            .open
            .as_ref()
            .unwrap()
            .events
            .as_ref()
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, vec![2, 1]);
    }
}
