//! Incremental upkeep of the quality facts for the everyday writes: a new infant, a new card, a
//! new case and a new interpretation change a known few fields, so they update those fields (one
//! or two statements over one id, index probes whatever the statistics) instead of recomputing
//! the infant's facts (six statements: lock, three deletes, two inserts). Anything else, and any
//! write inside [`super::facts::deferred`], recomputes as before; the weekly rebuild counts any
//! drift.
//!
//! Concurrency on PostgreSQL (READ COMMITTED): a recompute from the source tables must not run on
//! a snapshot older than another write's committed rows, so it follows a lock on the infant
//! taken in an earlier statement (`facts::statements`). A new card's fields are recomputed that
//! way, its infant locked as the card's request read it (`infant::get_for_write`). A new case or
//! interpretation instead only raises fields (a flag to 1, a time to an earlier one) from the
//! row's own values and its own transaction's rows: two such updates of one row commute, and
//! the second re-evaluates its expressions on the row the first committed, so they need no lock
//! (a round trip fewer each). Should a recompute replace the row meanwhile, the update finds no
//! row and recomputes under the lock.

use std::sync::LazyLock;

use diesel::prelude::*;

use super::facts::{self, REPORTED, by_id};
use crate::db::AnyConnection;
use crate::db::models::follow_up::case::Case;
use crate::db::models::screening::dbs::InterpretationRow;
use crate::domain::case::Reason;
use crate::domain::catalogue::Programme;
use crate::domain::ids::{CardId, InfantId};
use crate::domain::interpretation::CardOutcome;

/// A new infant: its facts row, with nothing screened yet (no cards, screens, consents or
/// cases can exist for an id that did not). One insert.
pub fn new_infant(conn: &mut AnyConnection, id: InfantId) -> QueryResult<()> {
    if facts::defer(&[id], None) {
        return Ok(());
    }
    static INSERT: LazyLock<String> =
        LazyLock::new(|| facts::insert_infant_facts(&facts::Scope::Param));
    by_id(conn, &INSERT, id.0).map(|_| ())
}

/// A new card of infant `infant`: the infant's card-derived fields and the card's own facts
/// row. The infant's other cards' rows do not depend on it. On PostgreSQL the caller holds the
/// infant's lock (`infant::get_for_write`).
pub fn new_card(conn: &mut AnyConnection, infant: InfantId, card: CardId) -> QueryResult<()> {
    if facts::defer(&[infant], None) {
        return Ok(());
    }
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
    static INSERT: LazyLock<String> = LazyLock::new(|| {
        format!(
            "INSERT INTO quality_card_facts (card_id, infant_id, hospital_id, birth_at, merged_into, collected_at, \
           received_at, quality, first_card, reported_at) \
         SELECT c.id, i.id, i.hospital_id, i.birth_at, i.merged_into, c.collected_at, c.received_at, c.quality, \
           CASE WHEN c.repeat_of IS NULL THEN 1 ELSE 0 END, \
           (SELECT MIN(d.interpreted_at) FROM dbs_interpretations d WHERE d.card_id = c.id AND {REPORTED}) \
         FROM dbs_cards c JOIN infants i ON i.id = c.infant_id WHERE c.id = $1"
        )
    });
    by_id(conn, &INSERT, card.0).map(|_| ())
}

/// The infant facts' flags a case of `programme` for `reason` sets: a screen-positive case
/// (`facts::POSITIVE_REASONS`) per programme, and a hearing refer.
fn case_flags(programme: Programme, reason: Reason) -> Vec<&'static str> {
    let positive = matches!(reason, Reason::Positive | Reason::Repeat | Reason::Refer);
    let mut flags = Vec::with_capacity(2);
    if positive {
        flags.push(match programme {
            Programme::Dbs => "positive_dbs",
            Programme::Hear => "positive_hear",
            Programme::Cchd => "positive_cchd",
        });
    }
    if programme == Programme::Hear && reason == Reason::Refer {
        flags.push("hear_refer_case");
    }
    flags
}

/// A new case: the infant's case-derived flags it sets (a case that sets none changes no fact).
pub fn new_case(conn: &mut AnyConnection, case: &Case) -> QueryResult<()> {
    if facts::defer(&[case.infant_id], None) {
        return Ok(());
    }
    let flags = case_flags(case.programme, case.reason);
    if flags.is_empty() {
        return Ok(());
    }
    let set: Vec<String> = flags.iter().map(|f| format!("{f} = 1")).collect();
    let update = format!(
        "UPDATE quality_infant_facts SET {} WHERE infant_id = $1",
        set.join(", ")
    );
    if by_id(conn, &update, case.infant_id.0)? == 0 {
        // No facts row to update (it was never written, or a recompute replaced it meanwhile).
        return facts::touch(conn, &[case.infant_id]);
    }
    Ok(())
}

/// A new interpretation: its card's first report time, when it reports results (not awaiting
/// them, not a rejected card; `facts::REPORTED`) earlier than any before it.
pub fn new_interpretation(conn: &mut AnyConnection, row: &InterpretationRow) -> QueryResult<()> {
    if facts::defer(&[], Some(row.card_id)) {
        return Ok(());
    }
    if matches!(
        row.outcome,
        CardOutcome::AwaitingResults | CardOutcome::UnsatisfactoryRecollect
    ) {
        return Ok(());
    }
    let update = "UPDATE quality_card_facts SET reported_at = \
        (SELECT CASE WHEN quality_card_facts.reported_at IS NULL \
                  OR quality_card_facts.reported_at > d.interpreted_at \
                THEN d.interpreted_at ELSE quality_card_facts.reported_at END \
         FROM dbs_interpretations d WHERE d.id = $1) \
        WHERE card_id = (SELECT d.card_id FROM dbs_interpretations d WHERE d.id = $1)";
    if by_id(conn, update, &row.id)? == 0 {
        // No facts row for the card: never written, or a recompute replaced it meanwhile (this
        // update then finds the row it waited for deleted). Recompute under the lock.
        return facts::touch_card(conn, row.card_id);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_sets_the_flags_of_its_programme_and_reason() {
        assert_eq!(
            case_flags(Programme::Dbs, Reason::Positive),
            ["positive_dbs"]
        );
        assert_eq!(case_flags(Programme::Dbs, Reason::Repeat), ["positive_dbs"]);
        assert!(case_flags(Programme::Dbs, Reason::Recollect).is_empty());
        assert!(case_flags(Programme::Dbs, Reason::Missed).is_empty());
        assert_eq!(
            case_flags(Programme::Hear, Reason::Refer),
            ["positive_hear", "hear_refer_case"]
        );
        assert_eq!(
            case_flags(Programme::Cchd, Reason::Positive),
            ["positive_cchd"]
        );
        assert!(case_flags(Programme::Cchd, Reason::Missed).is_empty());
    }
}
