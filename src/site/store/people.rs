//! Cardholders and their credentials (schema version 3): the store side of
//! the people service (`site::people`), so that people can be created and
//! edited. At site start [`seed_people`] copies the config's cardholders (with
//! their schedule) in, once, and never overwrites one already stored.
//!
//! A credential belongs to one cardholder (its id is the key); a cardholder's
//! credentials keep their order.

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{Result, StoreError, enum_parse, enum_text, ops, time_from_us, time_us};
use crate::domain::{
    Cardholder, CardholderId, Credential, CredentialId, CredentialState, Timestamp,
};

/// A stored cardholder with the name of the schedule their cards follow.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub cardholder: Cardholder,
    /// `None` when no schedule is stored: the cards open nothing.
    pub schedule: Option<String>,
}

/// The step to schema version 3.
pub(super) fn v3_people(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch(
        "
CREATE TABLE cardholders (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    department TEXT NOT NULL,
    has_photo INTEGER NOT NULL DEFAULT 0,
    schedule TEXT
);
CREATE INDEX cardholders_name ON cardholders(name, id);

CREATE TABLE credentials (
    id TEXT PRIMARY KEY,
    cardholder TEXT NOT NULL REFERENCES cardholders(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    state TEXT NOT NULL,
    valid_until_us INTEGER
);
CREATE INDEX credentials_cardholder ON credentials(cardholder, position);
",
    )?;
    Ok(())
}

struct HolderRow {
    id: String,
    name: String,
    department: String,
    has_photo: bool,
}

fn holder_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<HolderRow> {
    Ok(HolderRow {
        id: r.get(0)?,
        name: r.get(1)?,
        department: r.get(2)?,
        has_photo: r.get::<_, i64>(3)? != 0,
    })
}

fn credential_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String, Option<i64>)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

fn credential(id: String, state: &str, valid_until_us: Option<i64>) -> Result<Credential> {
    Ok(Credential {
        id: CredentialId::new(id),
        state: enum_parse(state)?,
        valid_until: valid_until_us.map(time_from_us).transpose()?,
    })
}

fn holder(row: HolderRow, credentials: Vec<Credential>) -> Cardholder {
    Cardholder {
        id: CardholderId::new(row.id),
        name: row.name,
        department: row.department,
        has_photo: row.has_photo,
        credentials,
    }
}

/// Every cardholder with their credentials, by name.
pub(super) fn list(conn: &Connection) -> Result<Vec<Cardholder>> {
    let mut creds: HashMap<String, Vec<Credential>> = HashMap::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT cardholder, id, state, valid_until_us FROM credentials
             ORDER BY cardholder, position",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let holder: String = r.get(0)?;
            let c = credential(r.get(1)?, &r.get::<_, String>(2)?, r.get(3)?)?;
            creds.entry(holder).or_default().push(c);
        }
    }
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, department, has_photo FROM cardholders ORDER BY name, id",
    )?;
    let rows = stmt.query_map([], holder_from_row)?;
    let mut out = Vec::new();
    for row in rows {
        let row = row?;
        let c = creds.remove(&row.id).unwrap_or_default();
        out.push(holder(row, c));
    }
    Ok(out)
}

/// One cardholder with their credentials.
pub(super) fn get(conn: &Connection, id: &CardholderId) -> Result<Option<Cardholder>> {
    let row = conn
        .prepare_cached("SELECT id, name, department, has_photo FROM cardholders WHERE id = ?1")?
        .query_row(params![id.as_str()], holder_from_row)
        .optional()?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT id, state, valid_until_us FROM credentials WHERE cardholder = ?1 ORDER BY position",
    )?;
    let rows = stmt.query_map(params![id.as_str()], credential_from_row)?;
    let mut creds = Vec::new();
    for r in rows {
        let (cid, state, until) = r?;
        creds.push(credential(cid, &state, until)?);
    }
    Ok(Some(holder(row, creds)))
}

fn exists(conn: &Connection, id: &CardholderId) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM cardholders WHERE id = ?1")?
        .query_row(params![id.as_str()], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Makes `creds` the credentials of `holder`, in order. A credential held
/// by someone else, or listed twice, is a conflict.
fn put_credentials(conn: &Connection, holder: &CardholderId, creds: &[Credential]) -> Result<()> {
    let mut seen = HashSet::new();
    for c in creds {
        if !seen.insert(c.id.as_str()) {
            return Err(StoreError::Conflict(format!(
                "credential {} is listed twice for cardholder {holder}",
                c.id
            )));
        }
        let owner: Option<String> = conn
            .prepare_cached("SELECT cardholder FROM credentials WHERE id = ?1")?
            .query_row(params![c.id.as_str()], |r| r.get(0))
            .optional()?;
        if let Some(owner) = owner
            && owner != holder.as_str()
        {
            return Err(StoreError::Conflict(format!(
                "credential {} belongs to cardholder {owner}",
                c.id
            )));
        }
    }
    conn.prepare_cached("DELETE FROM credentials WHERE cardholder = ?1")?
        .execute(params![holder.as_str()])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO credentials (id, cardholder, position, state, valid_until_us)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (i, c) in creds.iter().enumerate() {
        insert.execute(params![
            c.id.as_str(),
            holder.as_str(),
            i as i64,
            enum_text(&c.state),
            c.valid_until.map(time_us),
        ])?;
    }
    Ok(())
}

fn insert_in(tx: &Transaction<'_>, ch: &Cardholder) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO cardholders (id, name, department, has_photo) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        ch.id.as_str(),
        ch.name,
        ch.department,
        ch.has_photo as i64
    ])?;
    put_credentials(tx, &ch.id, &ch.credentials)
}

/// Stores a new cardholder and their credentials; an id already stored is a
/// conflict.
pub(super) fn insert(conn: &mut Connection, ch: &Cardholder) -> Result<()> {
    let tx = conn.transaction()?;
    if exists(&tx, &ch.id)? {
        return Err(StoreError::Conflict(format!(
            "cardholder {} already exists",
            ch.id
        )));
    }
    insert_in(&tx, ch)?;
    tx.commit()?;
    Ok(())
}

/// Replaces a stored cardholder's fields and credentials.
pub(super) fn update(conn: &mut Connection, ch: &Cardholder) -> Result<()> {
    let tx = conn.transaction()?;
    let n = tx
        .prepare_cached(
            "UPDATE cardholders SET name = ?2, department = ?3, has_photo = ?4 WHERE id = ?1",
        )?
        .execute(params![
            ch.id.as_str(),
            ch.name,
            ch.department,
            ch.has_photo as i64
        ])?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("cardholder {}", ch.id)));
    }
    put_credentials(&tx, &ch.id, &ch.credentials)?;
    tx.commit()?;
    Ok(())
}

/// Stores the cardholders not stored yet (by id), in one transaction;
/// returns how many. Stored ones are left as they are (they may be edited).
pub(super) fn seed(conn: &mut Connection, people: &[Cardholder]) -> Result<usize> {
    let tx = conn.transaction()?;
    let mut n = 0;
    for ch in people {
        if !exists(&tx, &ch.id)? {
            insert_in(&tx, ch)?;
            n += 1;
        }
    }
    tx.commit()?;
    Ok(n)
}

/// Every stored cardholder with their credentials and schedule, by name.
pub(super) fn list_people(conn: &Connection) -> Result<Vec<Person>> {
    let mut schedules: HashMap<String, Option<String>> = HashMap::new();
    {
        let mut stmt = conn.prepare_cached("SELECT id, schedule FROM cardholders")?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            schedules.insert(r.get(0)?, r.get(1)?);
        }
    }
    Ok(list(conn)?
        .into_iter()
        .map(|cardholder| Person {
            schedule: schedules.remove(cardholder.id.as_str()).flatten(),
            cardholder,
        })
        .collect())
}

/// One stored cardholder with their credentials and schedule.
pub(super) fn get_person(conn: &Connection, id: &CardholderId) -> Result<Option<Person>> {
    let Some(cardholder) = get(conn, id)? else {
        return Ok(None);
    };
    Ok(Some(Person {
        schedule: schedule(conn, id)?,
        cardholder,
    }))
}

/// Stores a new person (cardholder, credentials, schedule) in one
/// transaction; an id already stored, or a credential held by someone else,
/// is a conflict.
pub(super) fn insert_person(conn: &mut Connection, p: &Person) -> Result<()> {
    let tx = conn.transaction()?;
    if exists(&tx, &p.cardholder.id)? {
        return Err(StoreError::Conflict(format!(
            "cardholder {} already exists",
            p.cardholder.id
        )));
    }
    insert_in(&tx, &p.cardholder)?;
    set_schedule(&tx, &p.cardholder.id, p.schedule.as_deref())?;
    tx.commit()?;
    Ok(())
}

/// Replaces a stored person's fields, credentials and schedule in one
/// transaction.
pub(super) fn update_person(conn: &mut Connection, p: &Person) -> Result<()> {
    let tx = conn.transaction()?;
    let ch = &p.cardholder;
    let n = tx
        .prepare_cached(
            "UPDATE cardholders SET name = ?2, department = ?3, has_photo = ?4, schedule = ?5
             WHERE id = ?1",
        )?
        .execute(params![
            ch.id.as_str(),
            ch.name,
            ch.department,
            ch.has_photo as i64,
            p.schedule
        ])?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("cardholder {}", ch.id)));
    }
    put_credentials(&tx, &ch.id, &ch.credentials)?;
    tx.commit()?;
    Ok(())
}

/// [`seed`] with each person's schedule: stores the people not stored yet
/// (by id), in one transaction; returns how many.
pub(super) fn seed_people(conn: &mut Connection, people: &[Person]) -> Result<usize> {
    let tx = conn.transaction()?;
    let mut n = 0;
    for p in people {
        if !exists(&tx, &p.cardholder.id)? {
            insert_in(&tx, &p.cardholder)?;
            set_schedule(&tx, &p.cardholder.id, p.schedule.as_deref())?;
            n += 1;
        }
    }
    tx.commit()?;
    Ok(n)
}

/// Sets a held credential's state, and remembers who changed it when (the
/// `credential_states` row), in one transaction; returns its holder. A
/// credential nobody holds is not found.
pub(super) fn set_held_credential_state(
    conn: &mut Connection,
    id: &CredentialId,
    state: CredentialState,
    by: &str,
    at: Timestamp,
) -> Result<CardholderId> {
    let tx = conn.transaction()?;
    let holder: Option<String> = tx
        .prepare_cached("SELECT cardholder FROM credentials WHERE id = ?1")?
        .query_row(params![id.as_str()], |r| r.get(0))
        .optional()?;
    let Some(holder) = holder else {
        return Err(StoreError::NotFound(format!("credential {id}")));
    };
    tx.prepare_cached("UPDATE credentials SET state = ?2 WHERE id = ?1")?
        .execute(params![id.as_str(), enum_text(&state)])?;
    ops::set_credential_state(&tx, id, state, by, at)?;
    tx.commit()?;
    Ok(CardholderId::new(holder))
}

/// The name of the schedule a cardholder's cards follow, when one is stored.
pub(super) fn schedule(conn: &Connection, id: &CardholderId) -> Result<Option<String>> {
    let row: Option<Option<String>> = conn
        .prepare_cached("SELECT schedule FROM cardholders WHERE id = ?1")?
        .query_row(params![id.as_str()], |r| r.get(0))
        .optional()?;
    row.ok_or_else(|| StoreError::NotFound(format!("cardholder {id}")))
}

/// Sets (or clears) the schedule a cardholder's cards follow.
pub(super) fn set_schedule(
    conn: &Connection,
    id: &CardholderId,
    schedule: Option<&str>,
) -> Result<()> {
    let n = conn
        .prepare_cached("UPDATE cardholders SET schedule = ?2 WHERE id = ?1")?
        .execute(params![id.as_str(), schedule])?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("cardholder {id}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Store;
    use super::*;
    use crate::domain::{CredentialState, ErrorKind, Timestamp};

    fn card(id: &str, state: CredentialState, until: Option<&str>) -> Credential {
        Credential {
            id: CredentialId::new(id),
            state,
            valid_until: until.map(|s| s.parse::<Timestamp>().unwrap()),
        }
    }

    fn person(id: &str, name: &str, cards: Vec<Credential>) -> Cardholder {
        Cardholder {
            id: CardholderId::new(id),
            name: name.into(),
            department: "Facilities".into(),
            has_photo: true,
            credentials: cards,
        }
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in(dir.path()).unwrap();
        (dir, store)
    }

    #[test]
    fn insert_get_and_list_round_trip() {
        let (_dir, store) = store();
        assert!(store.cardholders().unwrap().is_empty());
        let zoe = person(
            "ch-zoe",
            "Zoe Adams",
            vec![
                card(
                    "200",
                    CredentialState::Active,
                    Some("2027-01-31T23:59:59.000001Z"),
                ),
                card("100", CredentialState::Disabled, None),
            ],
        );
        let abe = person("ch-abe", "Abe Brown", vec![]);
        store.insert_cardholder(&zoe).unwrap();
        store.insert_cardholder(&abe).unwrap();
        assert_eq!(store.cardholder(&zoe.id).unwrap(), Some(zoe.clone()));
        assert_eq!(
            store.cardholder(&CardholderId::new("nobody")).unwrap(),
            None
        );
        // By name; credentials in the order given.
        assert_eq!(store.cardholders().unwrap(), vec![abe, zoe]);
    }

    #[test]
    fn update_replaces_fields_and_credentials() {
        let (_dir, store) = store();
        let mut p = person(
            "ch-1",
            "Ann",
            vec![
                card("1", CredentialState::Active, None),
                card("2", CredentialState::Active, None),
            ],
        );
        store.insert_cardholder(&p).unwrap();
        p.name = "Ann Smith".into();
        p.has_photo = false;
        p.credentials = vec![
            card("3", CredentialState::Active, Some("2026-12-01T00:00:00Z")),
            card("1", CredentialState::Disabled, None),
        ];
        store.update_cardholder(&p).unwrap();
        assert_eq!(store.cardholder(&p.id).unwrap(), Some(p.clone()));
        // Credential 2 is gone, so someone else may take it.
        store
            .insert_cardholder(&person(
                "ch-2",
                "Bob",
                vec![card("2", CredentialState::Active, None)],
            ))
            .unwrap();

        let missing = person("ch-none", "Nobody", vec![]);
        let err = store.update_cardholder(&missing).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    }

    #[test]
    fn conflicts_keep_their_kind_and_change_nothing() {
        let (_dir, store) = store();
        let ann = person(
            "ch-1",
            "Ann",
            vec![card("1", CredentialState::Active, None)],
        );
        store.insert_cardholder(&ann).unwrap();

        let again = person("ch-1", "Other Ann", vec![]);
        let err = store.insert_cardholder(&again).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");

        let thief = person(
            "ch-2",
            "Bob",
            vec![card("1", CredentialState::Active, None)],
        );
        let err = store.insert_cardholder(&thief).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
        assert!(err.to_string().contains("ch-1"), "{err}");
        assert_eq!(store.cardholder(&thief.id).unwrap(), None);

        let twice = person(
            "ch-3",
            "Cy",
            vec![
                card("9", CredentialState::Active, None),
                card("9", CredentialState::Disabled, None),
            ],
        );
        assert_eq!(
            store.insert_cardholder(&twice).unwrap_err().kind(),
            ErrorKind::Conflict
        );
        assert_eq!(store.cardholders().unwrap(), vec![ann]);
    }

    #[test]
    fn seeding_adds_only_the_missing_and_keeps_edits() {
        let (_dir, store) = store();
        let config = vec![
            person(
                "ch-1",
                "Ann",
                vec![card("1", CredentialState::Active, None)],
            ),
            person(
                "ch-2",
                "Bob",
                vec![card("2", CredentialState::Active, None)],
            ),
        ];
        assert_eq!(store.seed_people(&config).unwrap(), 2);
        let mut edited = config[0].clone();
        edited.name = "Ann Smith".into();
        edited.credentials[0].state = CredentialState::Disabled;
        store.update_cardholder(&edited).unwrap();

        let mut more = config.clone();
        more.push(person("ch-3", "Cy", vec![]));
        assert_eq!(store.seed_people(&more).unwrap(), 1);
        assert_eq!(store.seed_people(&more).unwrap(), 0);
        assert_eq!(
            store.cardholders().unwrap(),
            vec![edited, config[1].clone(), more[2].clone()]
        );
    }

    #[test]
    fn the_demo_config_seeds() {
        let (_dir, store) = store();
        let cfg = crate::config::SiteConfig::load(
            &std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/site.toml"),
        )
        .unwrap();
        let people: Vec<Cardholder> = cfg
            .cardholders
            .iter()
            .map(|c| c.cardholder.clone())
            .collect();
        assert!(!people.is_empty());
        assert_eq!(store.seed_people(&people).unwrap(), people.len());
        for p in &people {
            assert_eq!(store.cardholder(&p.id).unwrap().as_ref(), Some(p));
        }
    }

    #[test]
    fn schedule_is_kept_per_cardholder() {
        let (_dir, store) = store();
        let p = person("ch-1", "Ann", vec![]);
        store.insert_cardholder(&p).unwrap();
        assert_eq!(store.cardholder_schedule(&p.id).unwrap(), None);
        store
            .set_cardholder_schedule(&p.id, Some("office-hours"))
            .unwrap();
        assert_eq!(
            store.cardholder_schedule(&p.id).unwrap().as_deref(),
            Some("office-hours")
        );
        // An update of the person keeps it.
        store.update_cardholder(&p).unwrap();
        assert_eq!(
            store.cardholder_schedule(&p.id).unwrap().as_deref(),
            Some("office-hours")
        );
        let nobody = CardholderId::new("nobody");
        assert_eq!(
            store
                .set_cardholder_schedule(&nobody, None)
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            store.cardholder_schedule(&nobody).unwrap_err().kind(),
            ErrorKind::NotFound
        );
    }
}
