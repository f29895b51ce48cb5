//! Incremental upkeep of the quality facts for the everyday writes: a new infant, a new card and
//! a new case change a known few fields, so they update those fields (one or two statements over
//! one id, index probes whatever the statistics) instead of recomputing the infant's facts (six
//! statements: lock, three deletes, two inserts). Anything else, and any write inside
//! [`super::facts::deferred`], recomputes as before; the weekly rebuild counts any drift.

use diesel::prelude::*;

use super::facts::{self, POSITIVE_REASONS, REPORTED, by_id};
use crate::db::{AnyConnection, Backend};
use crate::domain::ids::{CardId, InfantId};

/// On PostgreSQL, the infant is locked before its facts change, so two writes for one infant
/// update them one after the other (see `facts::statements`); SQLite's writer holds the database.
fn lock_infant(conn: &mut AnyConnection, id: InfantId) -> QueryResult<()> {
    if conn.backend() == Backend::Postgres {
        by_id(
            conn,
            "SELECT i.id FROM infants i WHERE i.id = $1 FOR NO KEY UPDATE",
            id.0,
        )?;
    }
    Ok(())
}

/// A new infant: its facts row, with nothing screened yet (no cards, screens, consents or
/// cases can exist for an id that did not). One insert.
pub fn new_infant(conn: &mut AnyConnection, id: InfantId) -> QueryResult<()> {
    if facts::defer(&[id], None) {
        return Ok(());
    }
    let sql = facts::insert_infant_facts(&facts::Scope::Param);
    by_id(conn, &sql, id.0).map(|_| ())
}

/// A new card of infant `infant`: the infant's card-derived fields and the card's own facts
/// row. The infant's other cards' rows do not depend on it.
pub fn new_card(conn: &mut AnyConnection, infant: InfantId, card: CardId) -> QueryResult<()> {
    if facts::defer(&[infant], None) {
        return Ok(());
    }
    lock_infant(conn, infant)?;
    let changed = by_id(
        conn,
        "UPDATE quality_infant_facts SET (dbs_ok_first, dbs_ok_last, dbs_bad_last) = \
         (SELECT MIN(CASE WHEN c.quality IS NULL OR c.quality = 'acceptable' THEN c.collected_at END), \
                 MAX(CASE WHEN c.quality IS NULL OR c.quality = 'acceptable' THEN c.collected_at END), \
                 MAX(CASE WHEN c.quality <> 'acceptable' THEN c.collected_at END) \
          FROM dbs_cards c WHERE c.infant_id = $1) \
         WHERE infant_id = $1",
        infant.0,
    )?;
    if changed == 0 {
        // No facts row to update (it was never written): recompute it whole.
        return facts::touch(conn, &[infant]);
    }
    let insert = format!(
        "INSERT INTO quality_card_facts (card_id, infant_id, hospital_id, birth_at, merged_into, collected_at, \
           received_at, quality, first_card, reported_at) \
         SELECT c.id, i.id, i.hospital_id, i.birth_at, i.merged_into, c.collected_at, c.received_at, c.quality, \
           CASE WHEN c.repeat_of IS NULL THEN 1 ELSE 0 END, \
           (SELECT MIN(d.interpreted_at) FROM dbs_interpretations d WHERE d.card_id = c.id AND {REPORTED}) \
         FROM dbs_cards c JOIN infants i ON i.id = c.infant_id WHERE c.id = $1"
    );
    by_id(conn, &insert, card.0).map(|_| ())
}

/// A new case of infant `infant`: the infant's case-derived fields.
pub fn new_case(conn: &mut AnyConnection, infant: InfantId) -> QueryResult<()> {
    if facts::defer(&[infant], None) {
        return Ok(());
    }
    lock_infant(conn, infant)?;
    let update = format!(
        "UPDATE quality_infant_facts SET (positive_dbs, positive_hear, positive_cchd, hear_refer_case) = \
         (SELECT COALESCE(MAX(CASE WHEN k.programme = 'DBS' AND {POSITIVE_REASONS} THEN 1 ELSE 0 END), 0), \
                 COALESCE(MAX(CASE WHEN k.programme = 'HEAR' AND {POSITIVE_REASONS} THEN 1 ELSE 0 END), 0), \
                 COALESCE(MAX(CASE WHEN k.programme = 'CCHD' AND {POSITIVE_REASONS} THEN 1 ELSE 0 END), 0), \
                 COALESCE(MAX(CASE WHEN k.programme = 'HEAR' AND k.reason = 'refer' THEN 1 ELSE 0 END), 0) \
          FROM cases k WHERE k.infant_id = $1) \
         WHERE infant_id = $1"
    );
    if by_id(conn, &update, infant.0)? == 0 {
        return facts::touch(conn, &[infant]);
    }
    Ok(())
}
