//! `due_policies`: every due-time policy version, immutable once stored.

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::due_policies;
use crate::db::types::UtcMicros;

/// A stored policy; `content` is the policy as JSON.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = due_policies)]
pub struct DuePolicyRow {
    pub version: String,
    pub effective_from: NaiveDate,
    pub content: String,
    pub published_by: String,
    pub published_at: UtcMicros,
}

/// Stores a version.
pub fn insert(conn: &mut AnyConnection, row: &DuePolicyRow) -> QueryResult<()> {
    diesel::insert_into(due_policies::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// One version.
pub fn get(conn: &mut AnyConnection, version: &str) -> QueryResult<Option<DuePolicyRow>> {
    due_policies::table
        .find(version)
        .select(DuePolicyRow::as_select())
        .first(conn)
        .optional()
}

/// All versions, newest effective first.
pub fn list(conn: &mut AnyConnection) -> QueryResult<Vec<DuePolicyRow>> {
    due_policies::table
        .order((
            due_policies::effective_from.desc(),
            due_policies::published_at.desc(),
        ))
        .select(DuePolicyRow::as_select())
        .load(conn)
}
