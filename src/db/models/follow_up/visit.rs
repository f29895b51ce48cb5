//! `follow_up_visits`: long-term follow-up visits of confirmed cases.

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::follow_up_visits;
use crate::db::types::UtcMicros;
use crate::domain::ids::{CaseId, HospitalId, InfantId};
use crate::with_conn;

/// A scheduled visit.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = follow_up_visits)]
pub struct Visit {
    pub id: String,
    pub case_id: CaseId,
    pub infant_id: InfantId,
    pub hospital_id: HospitalId,
    pub condition_code: String,
    pub due_at: UtcMicros,
    pub done_at: Option<UtcMicros>,
    pub created_at: UtcMicros,
}

/// Inserts visits.
pub fn insert_all(conn: &mut AnyConnection, rows: &[Visit]) -> QueryResult<()> {
    with_conn!(conn, |c| diesel::insert_into(follow_up_visits::table)
        .values(rows)
        .execute(c))
    .map(|_| ())
}

/// A case's visits, soonest first.
pub fn of_case(conn: &mut AnyConnection, case_id: CaseId) -> QueryResult<Vec<Visit>> {
    follow_up_visits::table
        .filter(follow_up_visits::case_id.eq(case_id))
        .order(follow_up_visits::due_at.asc())
        .select(Visit::as_select())
        .load(conn)
}
