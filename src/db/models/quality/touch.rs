//! Incremental upkeep of the quality facts for the everyday writes: a new infant, a new card, a
//! new case and a new interpretation change a known few fields, so they update those fields (one
//! or two statements over one id, index probes whatever the statistics) instead of recomputing
//! the infant's facts (six statements: lock, three deletes, two inserts). On PostgreSQL each
//! rides in the statement of the write itself where it can (`sql::InsertThen`: the new infant,
//! case or interpretation row, then its facts, one round trip), and a new card's two are one.
//! Anything else, and any write inside [`super::facts::deferred`], recomputes as before; the
//! weekly rebuild counts any drift.
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

use super::facts::{self, REPORTED, by_id, by_ids};
use crate::db::models::follow_up::case::Case;
use crate::db::models::screening::dbs::InterpretationRow;
use crate::db::{AnyConnection, Backend};
use crate::domain::case::Reason;
use crate::domain::catalogue::Programme;
use crate::domain::ids::{CardId, InfantId};
use crate::domain::interpretation::CardOutcome;

/// A new infant: its facts row, with nothing screened yet (no cards, screens, consents or
/// cases can exist for an id that did not), from the infant's row alone. One insert; on
/// PostgreSQL the caller writes the infant and this row in one statement instead
/// ([`infant_facts_kept`], [`NEW_INFANT_FROM_INSERTED`]).
pub fn new_infant(conn: &mut AnyConnection, id: InfantId) -> QueryResult<()> {
    if !infant_facts_kept(id) {
        return Ok(());
    }
    static INSERT: LazyLock<String> = LazyLock::new(|| new_infant_row("infants WHERE id = $1"));
    by_id(conn, &INSERT, id.0).map(|_| ())
}

/// Whether a new infant's facts row is written now (false inside [`facts::deferred`], which
/// records the infant for its recompute instead).
pub fn infant_facts_kept(id: InfantId) -> bool {
    !facts::defer(&[id], None)
}

/// The columns of an inserted infant that [`NEW_INFANT_FROM_INSERTED`] reads.
pub const NEW_INFANT_COLUMNS: &str =
    "id, hospital_id, birth_at, merged_into, status, status_changed_at";

/// A new infant's facts row from the `inserted` infant row, for `sql::InsertThen`.
pub static NEW_INFANT_FROM_INSERTED: LazyLock<String> =
    LazyLock::new(|| new_infant_row("inserted"));

/// The facts row of an infant with nothing screened, from the infant rows of `source`
/// ([`NEW_INFANT_COLUMNS`]): what the full recompute (`facts::insert_infant_facts`) gives for an
/// infant with no cards, screens, consents or cases (test: the write paths' facts equal a
/// rebuild).
fn new_infant_row(source: &str) -> String {
    format!(
        "INSERT INTO quality_infant_facts (infant_id, hospital_id, birth_at, merged_into, status, status_changed_at, \
           dbs_ok_first, dbs_ok_last, dbs_bad_last, hear_screened, hear_initial_refer, hear_rescreen_at, hear_diagnostic_at, \
           cchd_screened, dbs_decided_at, dbs_refused_at, hear_decided_at, hear_refused_at, cchd_decided_at, cchd_refused_at, \
           positive_dbs, positive_hear, positive_cchd, hear_refer_case) \
         SELECT id, hospital_id, birth_at, merged_into, status, status_changed_at, \
           NULL, NULL, NULL, 0, 0, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0 \
         FROM {source}"
    )
}

/// A new card of infant `infant`: the infant's card-derived fields and the card's own facts
/// row. The infant's other cards' rows do not depend on it. On PostgreSQL the caller holds the
/// infant's lock (`infant::get_for_write`), and both are one statement (the update in a `WITH`,
/// the insert only when it changed the infant's row); SQLite takes them in turn.
pub fn new_card(conn: &mut AnyConnection, infant: InfantId, card: CardId) -> QueryResult<()> {
    if facts::defer(&[infant], None) {
        return Ok(());
    }
    let ids = [infant.0.to_string(), card.0.to_string()];
    let ids = [ids[0].as_str(), ids[1].as_str()];
    let written = if conn.backend() == Backend::Postgres {
        static BOTH: LazyLock<String> = LazyLock::new(|| {
            format!(
                "WITH infant_row AS ({NEW_CARD_INFANT} RETURNING 1) {} \
                 AND EXISTS (SELECT 1 FROM infant_row)",
                NEW_CARD_ROW.as_str()
            )
        });
        by_ids(conn, &BOTH, &ids)?
    } else {
        match by_ids(conn, NEW_CARD_INFANT, &ids[..1])? {
            0 => 0,
            _ => by_ids(conn, &NEW_CARD_ROW, &ids)?,
        }
    };
    if written == 0 {
        // No facts row to update (it was never written): recompute it whole, the card's too.
        return facts::touch(conn, &[infant]);
    }
    Ok(())
}

/// A new card's infant-facts update (`$1` the infant).
const NEW_CARD_INFANT: &str = "UPDATE quality_infant_facts SET (dbs_ok_first, dbs_ok_last, dbs_bad_last) = \
     (SELECT MIN(CASE WHEN c.quality IS NULL OR c.quality = 'acceptable' THEN c.collected_at END), \
             MAX(CASE WHEN c.quality IS NULL OR c.quality = 'acceptable' THEN c.collected_at END), \
             MAX(CASE WHEN c.quality <> 'acceptable' THEN c.collected_at END) \
      FROM dbs_cards c WHERE c.infant_id = $1) \
     WHERE infant_id = $1";

/// A new card's own facts row (`$2` the card).
static NEW_CARD_ROW: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO quality_card_facts (card_id, infant_id, hospital_id, birth_at, merged_into, collected_at, \
           received_at, quality, first_card, reported_at) \
         SELECT c.id, i.id, i.hospital_id, i.birth_at, i.merged_into, c.collected_at, c.received_at, c.quality, \
           CASE WHEN c.repeat_of IS NULL THEN 1 ELSE 0 END, \
           (SELECT MIN(d.interpreted_at) FROM dbs_interpretations d WHERE d.card_id = c.id AND {REPORTED}) \
         FROM dbs_cards c JOIN infants i ON i.id = c.infant_id WHERE c.id = $2"
    )
});

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

/// A new case's flags `set` (from [`case_flags_set`]) on its infant's facts; returns the rows
/// changed (see [`case_touched`]). On PostgreSQL the caller writes the case and this update in
/// one statement instead.
pub fn case_flags_update(conn: &mut AnyConnection, case: &Case, set: &str) -> QueryResult<usize> {
    let update = format!("UPDATE quality_infant_facts SET {set} WHERE infant_id = $1");
    by_id(conn, &update, case.infant_id.0)
}

/// The `SET` list of the flags a new case sets on its infant's facts, if it sets any and its
/// facts are kept now (`None` inside [`facts::deferred`], which records the infant instead).
pub fn case_flags_set(case: &Case) -> Option<String> {
    if facts::defer(&[case.infant_id], None) {
        return None;
    }
    let flags = case_flags(case.programme, case.reason);
    let set: Vec<String> = flags.iter().map(|f| format!("{f} = 1")).collect();
    (!set.is_empty()).then(|| set.join(", "))
}

/// After the update of a new case's flags changed `changed` rows: none means the infant has no
/// facts row (never written, or a recompute replaced it meanwhile), so it is recomputed.
pub fn case_touched(conn: &mut AnyConnection, case: &Case, changed: usize) -> QueryResult<()> {
    if changed == 0 {
        return facts::touch(conn, &[case.infant_id]);
    }
    Ok(())
}

/// A new interpretation: its card's first report time, when it reports results (not awaiting
/// them, not a rejected card; `facts::REPORTED`) earlier than any before it. On PostgreSQL the
/// caller writes the interpretation and this update in one statement ([`interpretation_lowers`],
/// [`LOWER_REPORTED_FROM_INSERTED`]); this is the update on its own.
pub fn new_interpretation(conn: &mut AnyConnection, row: &InterpretationRow) -> QueryResult<()> {
    if !interpretation_lowers(row) {
        return Ok(());
    }
    let update = "UPDATE quality_card_facts SET reported_at = \
        (SELECT CASE WHEN quality_card_facts.reported_at IS NULL \
                  OR quality_card_facts.reported_at > d.interpreted_at \
                THEN d.interpreted_at ELSE quality_card_facts.reported_at END \
         FROM dbs_interpretations d WHERE d.id = $1) \
        WHERE card_id = (SELECT d.card_id FROM dbs_interpretations d WHERE d.id = $1)";
    let changed = by_id(conn, update, &row.id)?;
    interpretation_touched(conn, row, changed)
}

/// Whether a new interpretation may lower its card's report time, so its facts need the update
/// (false inside [`facts::deferred`], which records the card for its recompute instead).
pub fn interpretation_lowers(row: &InterpretationRow) -> bool {
    !facts::defer(&[], Some(row.card_id))
        && !matches!(
            row.outcome,
            CardOutcome::AwaitingResults | CardOutcome::UnsatisfactoryRecollect
        )
}

/// The update of a new interpretation's card facts from the `inserted` interpretation row
/// (`card_id`, `interpreted_at`), for `sql::InsertThen`: the card's row found by its key (a
/// scalar subquery, so the plan is an index probe whatever the statistics).
pub const LOWER_REPORTED_FROM_INSERTED: &str = "UPDATE quality_card_facts SET reported_at = \
    (SELECT CASE WHEN quality_card_facts.reported_at IS NULL \
                   OR quality_card_facts.reported_at > inserted.interpreted_at \
                 THEN inserted.interpreted_at ELSE quality_card_facts.reported_at END \
     FROM inserted) \
    WHERE card_id = (SELECT card_id FROM inserted)";

/// After the update of a new interpretation's card facts changed `changed` rows: none means
/// the card has no facts row (never written, or a recompute replaced it meanwhile and the
/// update found the row it waited for deleted), so it is recomputed under the lock.
pub fn interpretation_touched(
    conn: &mut AnyConnection,
    row: &InterpretationRow,
    changed: usize,
) -> QueryResult<()> {
    if changed == 0 {
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
