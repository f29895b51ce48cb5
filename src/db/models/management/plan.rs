//! `management_plans`: every plan-set version, immutable once stored.

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::management_plans;
use crate::db::types::UtcMicros;

/// A stored plan set; `content` is the set as JSON.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = management_plans)]
pub struct PlanSetRow {
    pub version: String,
    pub effective_from: NaiveDate,
    pub content: String,
    pub published_by: String,
    pub published_at: UtcMicros,
}

/// Stores a version.
pub fn insert(conn: &mut AnyConnection, row: &PlanSetRow) -> QueryResult<()> {
    diesel::insert_into(management_plans::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// One version.
pub fn get(conn: &mut AnyConnection, version: &str) -> QueryResult<Option<PlanSetRow>> {
    management_plans::table
        .find(version)
        .select(PlanSetRow::as_select())
        .first(conn)
        .optional()
}

/// All versions.
pub fn list(conn: &mut AnyConnection) -> QueryResult<Vec<PlanSetRow>> {
    management_plans::table
        .order(management_plans::effective_from.desc())
        .select(PlanSetRow::as_select())
        .load(conn)
}
