//! `audit_log`: append-only. There is deliberately no update or delete function.

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::audit_log;
use crate::db::types::{Json, UtcMicros};
use crate::domain::audit::AuditAction;

/// One audit entry; `changes` is `{field: [before, after]}` as JSON.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: String,
    pub at: UtcMicros,
    pub actor: String,
    pub request_id: Option<String>,
    pub entity: String,
    pub entity_id: String,
    pub action: AuditAction,
    pub changes: Json<serde_json::Value>,
    /// The caller's own request id (`X-Request-Id`), when it sent one.
    pub correlation_id: Option<String>,
}

/// Appends an entry.
pub fn insert(conn: &mut AnyConnection, row: &AuditEntry) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Entries of one entity, newest first, at most `limit`.
pub fn of_entity(
    conn: &mut AnyConnection,
    entity: &str,
    id: &str,
    limit: i64,
) -> QueryResult<Vec<AuditEntry>> {
    // List reads are one `read` row naming every id returned (`entity_id` empty): found by the
    // id's quoted form in that list.
    let listed = audit_log::entity_id
        .eq("")
        .and(audit_log::action.eq(AuditAction::Read))
        .and(audit_log::changes.like(format!("%\"{}\"%", id.replace(['%', '_', '"'], ""))));
    audit_log::table
        .filter(audit_log::entity.eq(entity))
        .filter(audit_log::entity_id.eq(id).or(listed))
        .order((audit_log::at.desc(), audit_log::id.desc()))
        .limit(limit)
        .select(AuditEntry::as_select())
        .load(conn)
}
