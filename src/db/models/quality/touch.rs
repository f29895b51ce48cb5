//! Incremental upkeep of the quality facts for the everyday writes: a new infant, a new card, a
//! new case and a new interpretation change a known few fields, so they update those fields (one
//! or two statements over one id, index probes whatever the statistics) instead of recomputing
//! the infant's facts (six statements: lock, three deletes, two inserts). The facts statement of
//! a new infant, case, interpretation or card follows its insert (`sql::insert_then`: one round
//! trip on PostgreSQL, a new card's two statements included).
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

use std::borrow::Cow;
use std::sync::LazyLock;

use diesel::prelude::*;

use super::facts::{self, REPORTED, by_ids};
use crate::db::AnyConnection;
use crate::db::models::follow_up::case::Case;
use crate::db::models::screening::dbs::InterpretationRow;
use crate::db::sql::Then;
use crate::domain::case::Reason;
use crate::domain::catalogue::Programme;
use crate::domain::ids::{CardId, InfantId};
use crate::domain::interpretation::CardOutcome;

/// A new infant's facts row, with nothing screened yet (no cards, screens, consents or cases
/// can exist for an id that did not), from the infant's row alone: the statement that follows
/// its insert (`sql::insert_then`); `None` inside [`facts::deferred`], which records the infant
/// for its recompute instead. What the full recompute (`facts::insert_infant_facts`) gives for
/// such an infant (test: the write paths' facts equal a rebuild).
pub fn new_infant(id: InfantId) -> Option<Then> {
    if facts::defer(&[id], None) {
        return None;
    }
    Some(Then {
        table: "infants",
        id: id.to_string(),
        columns: "id, hospital_id, birth_at, merged_into, status, status_changed_at, mother_phones",
        before_pg: None,
        also_pg: None,
        sql: Cow::Borrowed(
            "INSERT INTO quality_infant_facts (infant_id, hospital_id, birth_at, merged_into, status, \
               status_changed_at, dbs_ok_first, dbs_ok_last, dbs_bad_last, hear_screened, hear_initial_refer, \
               hear_rescreen_at, hear_diagnostic_at, cchd_screened, dbs_decided_at, dbs_refused_at, \
               hear_decided_at, hear_refused_at, cchd_decided_at, cchd_refused_at, positive_dbs, positive_hear, \
               positive_cchd, hear_refer_case) \
             SELECT id, hospital_id, birth_at, merged_into, status, status_changed_at, \
               NULL, NULL, NULL, 0, 0, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0 \
             FROM inserted",
        ),
    })
}

/// A new card of infant `infant` on SQLite: the infant's card-derived fields, then the card's
/// own facts row (the infant's other cards' rows do not depend on it). PostgreSQL writes them
/// in the card's insert ([`new_card_pg`]).
pub fn new_card(conn: &mut AnyConnection, infant: InfantId, card: CardId) -> QueryResult<()> {
    if facts::defer(&[infant], None) {
        return Ok(());
    }
    let ids = vec![infant.0.to_string(), card.0.to_string()];
    let written = match by_ids(conn, &NEW_CARD_INFANT, ids.clone())? {
        0 => 0,
        _ => by_ids(conn, &NEW_CARD_ROW, ids)?,
    };
    new_card_written(conn, infant, written)
}

/// After a new card's facts statements changed `written` rows: none means the infant had no
/// facts row to update (it was never written), so it is recomputed whole, the card's row too.
pub fn new_card_written(
    conn: &mut AnyConnection,
    infant: InfantId,
    written: usize,
) -> QueryResult<()> {
    if written == 0 {
        return facts::touch(conn, &[infant]);
    }
    Ok(())
}

/// A new card's facts on PostgreSQL, in its insert's statement (`sql::insert_then`): the
/// infant's card-derived fields over its stored cards and the inserted one (one snapshot: the
/// new row is seen only through `inserted`), then the card's own row from `inserted` when that
/// update changed the infant's row (a new card has no interpretations: no report time). The
/// caller holds the infant's lock (`infant::get_for_write`). `None` inside
/// [`facts::deferred`], which records the infant for its recompute instead. The same fields as
/// [`new_card`]'s statements (test: the write paths' facts equal a rebuild).
pub fn new_card_pg(infant: InfantId, card: CardId) -> Option<Then> {
    if facts::defer(&[infant], None) {
        return None;
    }
    Some(Then {
        table: "dbs_cards",
        id: card.to_string(),
        columns: "id, infant_id, collected_at, received_at, quality, repeat_of",
        before_pg: Some(NEW_CARD_INFANT_PG.as_str()),
        sql: Cow::Borrowed(NEW_CARD_ROW_PG.as_str()),
        also_pg: None,
    })
}

/// The update of infant `infant`'s card-derived facts fields from `cards` (a `FROM` item of
/// cards named `c`).
fn new_card_infant(cards: &str, infant: &str) -> String {
    format!(
        "UPDATE quality_infant_facts SET (dbs_ok_first, dbs_ok_last, dbs_bad_last) = \
           (SELECT MIN(CASE WHEN c.quality IS NULL OR c.quality = 'acceptable' THEN c.collected_at END), \
                   MAX(CASE WHEN c.quality IS NULL OR c.quality = 'acceptable' THEN c.collected_at END), \
                   MAX(CASE WHEN c.quality <> 'acceptable' THEN c.collected_at END) \
            FROM {cards}) \
         WHERE infant_id = {infant}"
    )
}

/// The insert of a card's own facts row from `card` (a `FROM` item named `c`) where `condition`
/// holds, its first report time `reported_at`.
fn new_card_row(card: &str, reported_at: &str, condition: &str) -> String {
    format!(
        "INSERT INTO quality_card_facts (card_id, infant_id, hospital_id, birth_at, merged_into, collected_at, \
           received_at, quality, first_card, reported_at) \
         SELECT c.id, i.id, i.hospital_id, i.birth_at, i.merged_into, c.collected_at, c.received_at, c.quality, \
           CASE WHEN c.repeat_of IS NULL THEN 1 ELSE 0 END, {reported_at} \
         FROM {card} JOIN infants i ON i.id = c.infant_id WHERE {condition}"
    )
}

/// A new card's infant-facts update (`$1` the infant), over its stored cards.
static NEW_CARD_INFANT: LazyLock<String> =
    LazyLock::new(|| new_card_infant("dbs_cards c WHERE c.infant_id = $1", "$1"));

/// A new card's own facts row (`$2` the card), as stored.
static NEW_CARD_ROW: LazyLock<String> = LazyLock::new(|| {
    new_card_row(
        "dbs_cards c",
        &format!(
            "(SELECT MIN(d.interpreted_at) FROM dbs_interpretations d WHERE d.card_id = c.id AND {REPORTED})"
        ),
        "c.id = $2",
    )
});

/// [`NEW_CARD_INFANT`] in the card's insert on PostgreSQL (`infant_row`), over the infant's
/// stored cards and the inserted one (one snapshot: the new row is only in `inserted`).
static NEW_CARD_INFANT_PG: LazyLock<String> = LazyLock::new(|| {
    let cards = "(SELECT quality, collected_at FROM dbs_cards \
                  WHERE infant_id = (SELECT infant_id FROM inserted) \
                  UNION ALL SELECT quality, collected_at FROM inserted) c";
    format!(
        "infant_row AS ({} RETURNING 1)",
        new_card_infant(cards, "(SELECT infant_id FROM inserted)")
    )
});

/// [`NEW_CARD_ROW`] in the card's insert on PostgreSQL, from `inserted`, when the infant's row
/// was updated (a new card has no interpretations: no report time).
static NEW_CARD_ROW_PG: LazyLock<String> =
    LazyLock::new(|| new_card_row("inserted c", "NULL", "EXISTS (SELECT 1 FROM infant_row)"));

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

/// A new case's facts statement, the flags it sets on its infant's facts row (a case that sets
/// none changes no fact), following its insert (`sql::insert_then`); `None` when it sets none,
/// or inside [`facts::deferred`], which records the infant for its recompute instead. It
/// changes no row when the infant has no facts row (never written, or a recompute replaced it
/// meanwhile): the caller then recomputes them (`facts::touch`).
pub fn new_case(case: &Case) -> Option<Then> {
    if facts::defer(&[case.infant_id], None) {
        return None;
    }
    let flags = case_flags(case.programme, case.reason);
    if flags.is_empty() {
        return None;
    }
    let set: Vec<String> = flags.iter().map(|f| format!("{f} = 1")).collect();
    Some(Then {
        table: "cases",
        id: case.id.to_string(),
        columns: "infant_id",
        before_pg: None,
        also_pg: None,
        sql: Cow::Owned(format!(
            "UPDATE quality_infant_facts SET {} WHERE infant_id = (SELECT infant_id FROM inserted)",
            set.join(", ")
        )),
    })
}

/// A new interpretation's facts statement, following its insert (`sql::insert_then`): its
/// card's first report time, when it reports results (not awaiting them, not a rejected card;
/// `facts::REPORTED`) earlier than any before it; the card's row found by its key (a scalar
/// subquery, so the plan is an index probe whatever the statistics). `None` when it reports no
/// results, or inside [`facts::deferred`], which records the card for its recompute instead. It
/// changes no row when the card has no facts row (never written, or a recompute replaced it
/// meanwhile and the update found the row it waited for deleted): the caller then recomputes
/// them under the lock (`facts::touch_card`).
pub fn new_interpretation(row: &InterpretationRow) -> Option<Then> {
    if facts::defer(&[], Some(row.card_id))
        || matches!(
            row.outcome,
            CardOutcome::AwaitingResults | CardOutcome::UnsatisfactoryRecollect
        )
    {
        return None;
    }
    Some(Then {
        table: "dbs_interpretations",
        id: row.id.clone(),
        columns: "card_id, interpreted_at",
        before_pg: None,
        also_pg: None,
        sql: Cow::Borrowed(
            "UPDATE quality_card_facts SET reported_at = \
               (SELECT CASE WHEN quality_card_facts.reported_at IS NULL \
                              OR quality_card_facts.reported_at > inserted.interpreted_at \
                            THEN inserted.interpreted_at ELSE quality_card_facts.reported_at END \
                FROM inserted) \
             WHERE card_id = (SELECT card_id FROM inserted)",
        ),
    })
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
