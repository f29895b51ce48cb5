//! `contact_attempts`: every attempt to reach a family, append-only.

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::contact_attempts;
use crate::db::types::UtcMicros;
use crate::domain::contact::{AttemptOutcome, Channel};
use crate::domain::ids::CaseId;

/// An attempt row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = contact_attempts)]
pub struct ContactAttempt {
    pub id: String,
    pub case_id: CaseId,
    pub channel: Channel,
    pub outcome: AttemptOutcome,
    pub contacted_by: String,
    pub attempted_at: UtcMicros,
    pub note: Option<String>,
    pub recorded_by: String,
    pub created_at: UtcMicros,
}

/// Inserts an attempt.
pub fn insert(conn: &mut AnyConnection, row: &ContactAttempt) -> QueryResult<()> {
    diesel::insert_into(contact_attempts::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// A case's attempts, oldest first.
pub fn of_case(conn: &mut AnyConnection, case_id: CaseId) -> QueryResult<Vec<ContactAttempt>> {
    contact_attempts::table
        .filter(contact_attempts::case_id.eq(case_id))
        .order(contact_attempts::attempted_at.asc())
        .select(ContactAttempt::as_select())
        .load(conn)
}

/// The latest attempt of each of these cases (when and how it went), by case.
pub fn latest_of(
    conn: &mut AnyConnection,
    case_ids: &[CaseId],
) -> QueryResult<std::collections::HashMap<CaseId, (UtcMicros, AttemptOutcome)>> {
    let rows: Vec<(CaseId, UtcMicros, AttemptOutcome)> = contact_attempts::table
        .filter(contact_attempts::case_id.eq_any(case_ids))
        .order(contact_attempts::attempted_at.asc())
        .select((
            contact_attempts::case_id,
            contact_attempts::attempted_at,
            contact_attempts::outcome,
        ))
        .load(conn)?;
    // Later rows replace earlier ones: the map keeps each case's latest.
    Ok(rows.into_iter().map(|(c, at, o)| (c, (at, o))).collect())
}
