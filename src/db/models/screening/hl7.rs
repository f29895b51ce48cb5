//! `hl7_messages`: every HL7 v2 message a laboratory sent, with the ACK it was answered with.

use diesel::prelude::*;
use diesel::sql_types::{Array, Text};

use crate::db::AnyConnection;
use crate::db::schema::hl7_messages;
use crate::db::types::{Json, UtcMicros};
use crate::domain::ids::CardId;
use crate::domain::interpretation::CardOutcome;

/// A message row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = hl7_messages)]
pub struct Hl7Message {
    /// Our id.
    pub id: String,
    /// MSH-4.1.
    pub sending_facility: String,
    /// MSH-10.
    pub control_id: String,
    /// The principal that sent it (`client:<id>`).
    pub received_by: String,
    /// When it arrived.
    pub received_at: UtcMicros,
    /// `AA`, `AE` or `AR`.
    pub ack_code: String,
    /// The ACK sent back.
    pub ack: String,
    /// Cards in the message.
    pub cards: i32,
    /// Cards not stored.
    pub rejected: i32,
    /// The message as received (UTF-8).
    pub raw: String,
}

/// The message a facility sent under this control id, if any.
pub fn find(
    conn: &mut AnyConnection,
    facility: &str,
    control_id: &str,
) -> QueryResult<Option<Hl7Message>> {
    hl7_messages::table
        .filter(hl7_messages::sending_facility.eq(facility))
        .filter(hl7_messages::control_id.eq(control_id))
        .select(Hl7Message::as_select())
        .first(conn)
        .optional()
}

/// The messages of a sending facility among these control ids that were received already (on
/// PostgreSQL one key probe per control id, see [`cards_done_among`]).
pub fn find_among(
    conn: &mut AnyConnection,
    facility: &str,
    control_ids: &[&str],
) -> QueryResult<Vec<Hl7Message>> {
    if control_ids.is_empty() {
        return Ok(vec![]);
    }
    let ids: Vec<String> = match conn {
        AnyConnection::Postgresql(c) => diesel::sql_query(
            "SELECT m.id AS key FROM unnest($2::text[]) AS k(control_id) CROSS JOIN LATERAL \
             (SELECT id FROM hl7_messages WHERE sending_facility = $1 \
              AND control_id = k.control_id OFFSET 0) m",
        )
        .bind::<Text, _>(facility)
        .bind::<Array<Text>, _>(control_ids)
        .load::<Key>(c)?
        .into_iter()
        .map(|k| k.key)
        .collect(),
        AnyConnection::Sqlite(c) => hl7_messages::table
            .filter(hl7_messages::sending_facility.eq(facility))
            .filter(hl7_messages::control_id.eq_any(control_ids))
            .select(hl7_messages::id)
            .load(c)?,
    };
    if ids.is_empty() {
        return Ok(vec![]);
    }
    hl7_messages::table
        .filter(hl7_messages::id.eq_any(&ids))
        .select(Hl7Message::as_select())
        .load(conn)
}

/// One text column of a raw query.
#[derive(QueryableByName)]
struct Key {
    #[diesel(sql_type = Text)]
    key: String,
}

/// A message's applied card, of a raw query.
#[derive(QueryableByName)]
struct Done {
    #[diesel(sql_type = Text)]
    control_id: String,
    #[diesel(sql_type = Text)]
    barcode: String,
}

/// The cards applied of a sending facility's messages among these control ids, as
/// `(control id, barcode)`.
///
/// On PostgreSQL both lookups probe the `(sending_facility, control_id, …)` key once per
/// control id (a lateral join that cannot be planned otherwise): written as `control_id =
/// ANY(…)`, a table planned while small (no statistics) is read by `sending_facility` alone
/// and the control ids filtered, every row the laboratory ever sent (10 ms at 3,000 cards).
pub fn cards_done_among(
    conn: &mut AnyConnection,
    facility: &str,
    control_ids: &[&str],
) -> QueryResult<Vec<(String, String)>> {
    use crate::db::schema::hl7_cards;
    if control_ids.is_empty() {
        return Ok(vec![]);
    }
    match conn {
        AnyConnection::Postgresql(c) => Ok(diesel::sql_query(
            "SELECT h.control_id, h.barcode FROM unnest($2::text[]) AS k(control_id) \
             CROSS JOIN LATERAL (SELECT control_id, barcode FROM hl7_cards \
             WHERE sending_facility = $1 AND control_id = k.control_id OFFSET 0) h",
        )
        .bind::<Text, _>(facility)
        .bind::<Array<Text>, _>(control_ids)
        .load::<Done>(c)?
        .into_iter()
        .map(|d| (d.control_id, d.barcode))
        .collect()),
        AnyConnection::Sqlite(c) => hl7_cards::table
            .filter(hl7_cards::sending_facility.eq(facility))
            .filter(hl7_cards::control_id.eq_any(control_ids))
            .select((hl7_cards::control_id, hl7_cards::barcode))
            .load(c),
    }
}

/// Records a message and its ACK.
pub fn insert(conn: &mut AnyConnection, row: &Hl7Message) -> QueryResult<()> {
    diesel::insert_into(hl7_messages::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Records messages and their ACKs in multi-row inserts (a batch's group at its end).
pub fn insert_all(conn: &mut AnyConnection, rows: &[Hl7Message]) -> QueryResult<()> {
    // Each row carries its raw message: a few hundred rows per statement at most.
    for part in rows.chunks(200) {
        crate::with_conn!(conn, |c| diesel::insert_into(hl7_messages::table)
            .values(part)
            .execute(c))?;
    }
    Ok(())
}

/// Whether this card of this message was applied already.
pub fn card_done(
    conn: &mut AnyConnection,
    facility: &str,
    control_id: &str,
    barcode: &str,
) -> QueryResult<bool> {
    use crate::db::schema::hl7_cards;
    let n: i64 = hl7_cards::table
        .filter(hl7_cards::sending_facility.eq(facility))
        .filter(hl7_cards::control_id.eq(control_id))
        .filter(hl7_cards::barcode.eq(barcode))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// A card of a message, as applied, with the laboratory's own verdict beside ours.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = crate::db::schema::hl7_cards)]
pub struct AppliedCard {
    /// MSH-4.1.
    pub sending_facility: String,
    /// MSH-10.
    pub control_id: String,
    /// The card's barcode.
    pub barcode: String,
    /// When it was applied.
    pub stored_at: UtcMicros,
    /// The card.
    pub card_id: CardId,
    /// The laboratory flagged a value or interpreted the card as out of range.
    pub lab_abnormal: bool,
    /// The laboratory's flags and interpretation codes, `code=flag`.
    pub lab_flags: Json<Vec<String>>,
    /// Our interpretation's outcome.
    pub outcome: CardOutcome,
    /// The laboratory and the catalogue disagree.
    pub disagrees: bool,
}

/// Records that this card of this message was applied (in the card's own transaction).
pub fn mark_card(conn: &mut AnyConnection, row: &AppliedCard) -> QueryResult<()> {
    use crate::db::schema::hl7_cards;
    diesel::insert_into(hl7_cards::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// [`mark_card`] for many cards, in multi-row inserts (a batch's group at its end).
pub fn mark_cards(conn: &mut AnyConnection, rows: &[AppliedCard]) -> QueryResult<()> {
    use crate::db::schema::hl7_cards;
    for part in rows.chunks(1000) {
        crate::with_conn!(conn, |c| diesel::insert_into(hl7_cards::table)
            .values(part)
            .execute(c))?;
    }
    Ok(())
}

/// Cards where the laboratory and the catalogue disagree, newest first, at most `limit`, before
/// the cursor `(stored_at, barcode)`.
pub fn disagreements(
    conn: &mut AnyConnection,
    scope: &crate::domain::principal::Scope,
    limit: i64,
) -> QueryResult<Vec<AppliedCard>> {
    use crate::db::schema::{dbs_cards, hl7_cards};
    let mut q = hl7_cards::table
        .inner_join(dbs_cards::table.on(dbs_cards::id.eq(hl7_cards::card_id)))
        .filter(hl7_cards::disagrees.eq(true))
        .into_boxed();
    q = crate::scoped!(q, scope, dbs_cards::hospital_id);
    q.order(hl7_cards::stored_at.desc())
        .limit(limit)
        .select(AppliedCard::as_select())
        .load(conn)
}

/// Messages newest first, at most `limit`, older than the message `before` (an id).
pub fn list(
    conn: &mut AnyConnection,
    before: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<Hl7Message>> {
    let mut q = hl7_messages::table.into_boxed();
    if let Some(b) = before {
        q = q.filter(hl7_messages::id.lt(b.to_string()));
    }
    q.order(hl7_messages::id.desc())
        .limit(limit)
        .select(Hl7Message::as_select())
        .load(conn)
}

/// Forgets the raw text of messages received before `cutoff` (their ACK and counts stay, so a
/// resend is still answered).
pub fn expire_raw(conn: &mut AnyConnection, cutoff: UtcMicros) -> QueryResult<usize> {
    diesel::update(
        hl7_messages::table
            .filter(hl7_messages::received_at.lt(cutoff))
            .filter(hl7_messages::raw.ne("")),
    )
    .set(hl7_messages::raw.eq(""))
    .execute(conn)
}
