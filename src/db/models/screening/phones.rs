//! `infant_phones`: each infant's normalised contact numbers, one row per number, so staff can
//! find an infant by the mother's phone through an index. Every insert and update of an infant
//! that sets its phones writes its rows here ([`add`], or [`ADD_FROM_INSERTED_PG`] in the insert's
//! own statement, for a new infant; [`replace`] after);
//! rows loaded in bulk by SQL are filled by [`fill_all`].

use diesel::prelude::*;

use crate::db::schema::infant_phones;
use crate::db::{AnyConnection, Backend};
use crate::domain::ids::InfantId;

/// Makes `phones` the infant's numbers.
pub fn replace(conn: &mut AnyConnection, infant: InfantId, phones: &[String]) -> QueryResult<()> {
    diesel::delete(infant_phones::table.filter(infant_phones::infant_id.eq(infant)))
        .execute(conn)?;
    add(conn, infant, phones)
}

/// A new infant's numbers from its inserted row (`inserted`, with `id` and `mother_phones`),
/// as a further statement of its insert on PostgreSQL (`sql::Then::also_pg`): what [`add`]
/// writes, without a round trip of its own.
pub const ADD_FROM_INSERTED_PG: &str = "INSERT INTO infant_phones (phone, infant_id) \
     SELECT DISTINCT j.value, i.id \
     FROM inserted i, jsonb_array_elements_text(i.mother_phones::jsonb) AS j(value)";

/// Records the numbers of an infant that has none yet (a new one).
pub fn add(conn: &mut AnyConnection, infant: InfantId, phones: &[String]) -> QueryResult<()> {
    // A few numbers per infant: one insert each.
    let distinct: std::collections::BTreeSet<&str> = phones.iter().map(String::as_str).collect();
    for p in distinct {
        diesel::insert_into(infant_phones::table)
            .values((
                infant_phones::phone.eq(p),
                infant_phones::infant_id.eq(infant),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The infants with this number.
pub fn infants_with(conn: &mut AnyConnection, phone: &str) -> QueryResult<Vec<InfantId>> {
    infant_phones::table
        .filter(infant_phones::phone.eq(phone))
        .select(infant_phones::infant_id)
        .limit(100)
        .load(conn)
}

/// Rebuilds the table from the infants' own phone lists (after a bulk load by SQL).
pub fn fill_all(conn: &mut AnyConnection) -> QueryResult<usize> {
    diesel::delete(infant_phones::table).execute(conn)?;
    let from = match conn.backend() {
        Backend::Sqlite => "infants i, json_each(i.mother_phones) j",
        Backend::Postgres => {
            "infants i, jsonb_array_elements_text(i.mother_phones::jsonb) AS j(value)"
        }
    };
    diesel::sql_query(format!(
        "INSERT INTO infant_phones (phone, infant_id) SELECT DISTINCT j.value, i.id FROM {from}"
    ))
    .execute(conn)
}
