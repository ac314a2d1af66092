//! Cardholder photos as small thumbnails, for the rows that show many
//! people (the access monitor): a bounded cache keyed by cardholder, in
//! memory only. The UI reads it and asks for what it lacks with
//! `Command::WantPhotos`; the shell marks those [`Thumb::Loading`] as it
//! forwards the command (so no frame asks twice); the worker fetches a few
//! at a time, decodes and downscales off the UI thread and answers
//! `AppEvent::Thumb`. A photo the site does not have (or may not show) is
//! [`Thumb::Missing`] and never asked for again; a `cardholder.changed`
//! drops the person's entry, so a new photo shows.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;

use crate::domain::CardholderId;

use super::StillImage;

/// The most thumbnails kept; the least recently drawn go first.
pub const THUMBS_LEN: usize = 256;
/// The longest side of a thumbnail, in pixels (the worker downscales).
pub const THUMB_SIDE_PX: u32 = 64;

/// What the cache knows of one person's photo.
#[derive(Debug, Clone, PartialEq)]
pub enum Thumb {
    /// Not asked for (or dropped): the UI asks for it.
    Wanted,
    /// Asked for; the worker has not answered yet.
    Loading,
    /// Decoded and downscaled. `version` changes with every picture that
    /// comes, so a texture made from an older one is made again.
    Ready {
        image: Arc<StillImage>,
        version: u64,
    },
    /// None to show: the site has none, the role may not see it, or it
    /// could not be decoded. Not asked for again.
    Missing,
    /// The site could not be reached: asked for again after the next
    /// snapshot (a reconnect).
    Failed,
}

/// The worker's answer for one photo.
#[derive(Debug, Clone, PartialEq)]
pub enum ThumbResult {
    Ready(Arc<StillImage>),
    /// 404, a role without `ViewCardholders`, or not decodable.
    Missing,
    /// Anything else (the network, the site busy).
    Failed,
}

static WANTED: Thumb = Thumb::Wanted;

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    thumb: Thumb,
    /// When it was last drawn (the cache's own clock).
    used: Cell<u64>,
    /// The person changed while the photo was loading: the answer on its
    /// way may be the old picture, so it is dropped and asked for again.
    stale: bool,
}

/// See the module doc.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Thumbs {
    entries: HashMap<CardholderId, Entry>,
    /// Counts reads, for least-recently-used eviction. A `Cell`: the UI
    /// reads the cache through `&AppState`, and a read is a use.
    clock: Cell<u64>,
    versions: u64,
}

impl Thumbs {
    /// The photo of `id` as the UI should draw it (a read counts as a use).
    pub fn get(&self, id: &CardholderId) -> &Thumb {
        match self.entries.get(id) {
            Some(entry) => {
                entry.used.set(self.tick());
                &entry.thumb
            }
            None => &WANTED,
        }
    }

    /// The version of `id`'s picture, if one is ready (not a use).
    pub fn version(&self, id: &CardholderId) -> Option<u64> {
        match self.entries.get(id).map(|e| &e.thumb) {
            Some(Thumb::Ready { version, .. }) => Some(*version),
            _ => None,
        }
    }

    /// How many people the cache holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn tick(&self) -> u64 {
        let now = self.clock.get() + 1;
        self.clock.set(now);
        now
    }

    /// The UI asked for `ids`: those not in the cache become Loading and
    /// are returned (each once), for the worker; the rest are dropped.
    pub fn ask(&mut self, ids: impl IntoIterator<Item = CardholderId>) -> Vec<CardholderId> {
        let mut fresh = Vec::new();
        for id in ids {
            if self.entries.contains_key(&id) {
                continue;
            }
            let entry = Entry {
                thumb: Thumb::Loading,
                used: Cell::new(self.tick()),
                stale: false,
            };
            self.entries.insert(id.clone(), entry);
            fresh.push(id);
        }
        self.evict();
        fresh
    }

    /// The ask never reached the worker: `ids` may be asked for again.
    pub fn not_sent(&mut self, ids: &[CardholderId]) {
        for id in ids {
            if self
                .entries
                .get(id)
                .is_some_and(|e| e.thumb == Thumb::Loading)
            {
                self.entries.remove(id);
            }
        }
    }

    /// The worker's answer. Kept only for a photo still asked for: one
    /// evicted meanwhile is asked for again when it is drawn.
    pub fn answered(&mut self, id: CardholderId, result: ThumbResult) {
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        if entry.thumb != Thumb::Loading {
            return;
        }
        if entry.stale {
            self.entries.remove(&id);
            return;
        }
        entry.thumb = match result {
            ThumbResult::Ready(image) => {
                self.versions += 1;
                Thumb::Ready {
                    image,
                    version: self.versions,
                }
            }
            ThumbResult::Missing => Thumb::Missing,
            ThumbResult::Failed => Thumb::Failed,
        };
    }

    /// The person changed at the site: their photo is read again.
    pub fn changed(&mut self, id: &CardholderId) {
        match self.entries.get_mut(id) {
            Some(entry) if entry.thumb == Thumb::Loading => entry.stale = true,
            Some(_) => {
                self.entries.remove(id);
            }
            None => {}
        }
    }

    /// A fresh snapshot (the link is back): photos that failed on the way
    /// are asked for again.
    pub fn retry_failed(&mut self) {
        self.entries.retain(|_, e| e.thumb != Thumb::Failed);
    }

    /// Drops the least recently drawn until at most [`THUMBS_LEN`] are
    /// left; a photo on its way stays (its answer is awaited).
    fn evict(&mut self) {
        while self.entries.len() > THUMBS_LEN {
            let oldest = self
                .entries
                .iter()
                .filter(|(_, e)| e.thumb != Thumb::Loading)
                .min_by_key(|(_, e)| e.used.get())
                .map(|(id, _)| id.clone());
            match oldest {
                Some(id) => {
                    self.entries.remove(&id);
                }
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(i: usize) -> CardholderId {
        format!("ch-{i}").as_str().into()
    }

    fn image() -> Arc<StillImage> {
        Arc::new(StillImage {
            width: 1,
            height: 1,
            rgba: bytes::Bytes::from_static(&[0, 0, 0, 255]),
        })
    }

    #[test]
    fn an_ask_is_forwarded_once_until_answered() {
        let mut t = Thumbs::default();
        assert_eq!(t.get(&id(1)), &Thumb::Wanted);
        // The same id twice in one ask, and again the next frame.
        assert_eq!(t.ask([id(1), id(2), id(1)]), vec![id(1), id(2)]);
        assert_eq!(t.ask([id(1), id(2)]), Vec::<CardholderId>::new());
        assert_eq!(t.get(&id(1)), &Thumb::Loading);
        t.answered(id(1), ThumbResult::Ready(image()));
        assert!(matches!(t.get(&id(1)), Thumb::Ready { .. }));
        assert!(t.ask([id(1)]).is_empty(), "ready: not asked again");
        // An ask that never left can be made again.
        t.not_sent(&[id(2)]);
        assert_eq!(t.get(&id(2)), &Thumb::Wanted);
        assert_eq!(t.ask([id(2)]), vec![id(2)]);
    }

    #[test]
    fn a_missing_photo_is_not_asked_for_again_but_a_failed_one_is_after_a_snapshot() {
        let mut t = Thumbs::default();
        t.ask([id(1), id(2)]);
        t.answered(id(1), ThumbResult::Missing);
        t.answered(id(2), ThumbResult::Failed);
        assert_eq!(t.get(&id(1)), &Thumb::Missing);
        assert!(t.ask([id(1), id(2)]).is_empty());
        t.retry_failed();
        assert_eq!(t.get(&id(1)), &Thumb::Missing);
        assert_eq!(t.ask([id(1), id(2)]), vec![id(2)]);
    }

    #[test]
    fn a_changed_cardholder_is_read_again_with_a_new_version() {
        let mut t = Thumbs::default();
        t.ask([id(1)]);
        t.answered(id(1), ThumbResult::Ready(image()));
        let first = t.version(&id(1)).unwrap();
        t.changed(&id(1));
        assert_eq!(t.get(&id(1)), &Thumb::Wanted);
        assert_eq!(t.ask([id(1)]), vec![id(1)]);
        // Changed again while loading: that answer may be the old picture.
        t.changed(&id(1));
        t.answered(id(1), ThumbResult::Ready(image()));
        assert_eq!(t.get(&id(1)), &Thumb::Wanted, "dropped, asked again");
        assert_eq!(t.ask([id(1)]), vec![id(1)]);
        t.answered(id(1), ThumbResult::Ready(image()));
        assert!(t.version(&id(1)).unwrap() > first);
        // Missing ones are dropped too (a photo may have been uploaded).
        t.ask([id(2)]);
        t.answered(id(2), ThumbResult::Missing);
        t.changed(&id(2));
        assert_eq!(t.get(&id(2)), &Thumb::Wanted);
    }

    #[test]
    fn at_most_thumbs_len_are_kept_and_the_least_recently_drawn_go() {
        let mut t = Thumbs::default();
        for i in 0..THUMBS_LEN {
            t.ask([id(i)]);
            t.answered(id(i), ThumbResult::Ready(image()));
        }
        // Drawn just now: ch-0 stays, ch-1 is the oldest.
        t.get(&id(0));
        t.ask([id(THUMBS_LEN)]);
        assert_eq!(t.len(), THUMBS_LEN);
        assert!(matches!(t.get(&id(0)), Thumb::Ready { .. }));
        assert_eq!(t.get(&id(1)), &Thumb::Wanted, "evicted");
        assert_eq!(t.get(&id(THUMBS_LEN)), &Thumb::Loading, "never the new one");
        // An answer for an evicted one is not kept.
        t.answered(id(1), ThumbResult::Ready(image()));
        assert_eq!(t.get(&id(1)), &Thumb::Wanted);
        // Many at once stay bounded.
        t.ask((0..1_000).map(|i| id(10_000 + i)));
        for i in 0..1_000 {
            t.answered(id(10_000 + i), ThumbResult::Missing);
        }
        t.ask([id(1)]);
        assert!(t.len() <= THUMBS_LEN, "{}", t.len());
    }
}
