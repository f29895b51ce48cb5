//! `hl7_messages`: every HL7 v2 message a laboratory sent, with the ACK it was answered with.

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::hl7_messages;
use crate::db::types::UtcMicros;

/// A message row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
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

/// Records a message and its ACK.
pub fn insert(conn: &mut AnyConnection, row: &Hl7Message) -> QueryResult<()> {
    diesel::insert_into(hl7_messages::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
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

/// Records that this card of this message was applied (in the card's own transaction).
pub fn mark_card(
    conn: &mut AnyConnection,
    facility: &str,
    control_id: &str,
    barcode: &str,
    at: UtcMicros,
) -> QueryResult<()> {
    use crate::db::schema::hl7_cards;
    diesel::insert_into(hl7_cards::table)
        .values((
            hl7_cards::sending_facility.eq(facility),
            hl7_cards::control_id.eq(control_id),
            hl7_cards::barcode.eq(barcode),
            hl7_cards::stored_at.eq(at),
        ))
        .execute(conn)
        .map(|_| ())
}
