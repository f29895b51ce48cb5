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

/// Appends an entry: at once, or at the end of the write transaction that is [`gathering`].
pub fn insert(conn: &mut AnyConnection, row: &AuditEntry) -> QueryResult<()> {
    let gathered = GATHERED.with(|g| match g.borrow_mut().as_mut() {
        Some(rows) => {
            rows.push(row.clone());
            true
        }
        None => false,
    });
    if gathered {
        return Ok(());
    }
    diesel::insert_into(audit_log::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Rows per multi-row insert (9 columns: far under both backends' parameter limits).
const ROWS_PER_INSERT: usize = 1000;

thread_local! {
    /// The entries of the write transaction this thread is in, when it gathers them.
    static GATHERED: std::cell::RefCell<Option<Vec<AuditEntry>>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `f` (a write transaction's body) with its audit entries gathered and appended together
/// when it succeeds, in one multi-row insert instead of one statement each; entries are only
/// read by other requests, never inside the transaction that wrote them. A nested call (a
/// savepoint) joins the outermost and, when it fails, drops the entries it added: they
/// described writes its savepoint rolled back. If the outermost `f` fails nothing is written.
pub fn gathering<T, E: From<diesel::result::Error>>(
    conn: &mut AnyConnection,
    f: impl FnOnce(&mut AnyConnection) -> Result<T, E>,
) -> Result<T, E> {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            GATHERED.with(|g| *g.borrow_mut() = None);
        }
    }
    let nested = GATHERED.with(|g| g.borrow().as_ref().map(Vec::len));
    if let Some(mark) = nested {
        let out = f(conn);
        if out.is_err() {
            GATHERED.with(|g| {
                if let Some(rows) = g.borrow_mut().as_mut() {
                    rows.truncate(mark);
                }
            });
        }
        return out;
    }
    GATHERED.with(|g| *g.borrow_mut() = Some(Vec::new()));
    let _reset = Reset;
    let out = f(conn)?;
    let rows = GATHERED.with(|g| g.borrow_mut().take()).unwrap_or_default();
    // A one-row insert, and a two-row insert of a fixed-size array, are statements diesel
    // prepares once per connection; a multi-row insert from a list is parsed (and on PostgreSQL
    // planned) again every time.
    let rows = match <[AuditEntry; 2]>::try_from(rows) {
        Ok(pair) => {
            crate::with_conn!(conn, |c| diesel::insert_into(audit_log::table)
                .values(pair)
                .execute(c))?;
            return Ok(out);
        }
        Err(rows) => rows,
    };
    if let [one] = rows.as_slice() {
        crate::with_conn!(conn, |c| diesel::insert_into(audit_log::table)
            .values(one)
            .execute(c))?;
        return Ok(out);
    }
    for part in rows.chunks(ROWS_PER_INSERT) {
        crate::with_conn!(conn, |c| diesel::insert_into(audit_log::table)
            .values(part)
            .execute(c))?;
    }
    Ok(out)
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

/// What the audit viewer asks for: one entity's trail, or one actor's, or everything.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Entity kind (`infant`, `case`, …).
    pub entity: Option<String>,
    /// With `entity`: its id (list reads naming it are included).
    pub entity_id: Option<String>,
    /// `user:<id>` or `client:<id>`.
    pub actor: Option<String>,
}

/// A page of entries, newest first, older than `before` (at, id), at most `limit`.
pub fn page(
    conn: &mut AnyConnection,
    f: &AuditFilter,
    before: Option<(UtcMicros, String)>,
    limit: i64,
) -> QueryResult<Vec<AuditEntry>> {
    let mut q = audit_log::table.into_boxed();
    if let Some(e) = &f.entity {
        q = q.filter(audit_log::entity.eq(e.clone()));
    }
    if let Some(id) = &f.entity_id {
        let listed = audit_log::entity_id
            .eq("")
            .and(audit_log::action.eq(AuditAction::Read))
            .and(audit_log::changes.like(format!("%\"{}\"%", id.replace(['%', '_', '"'], ""))));
        q = q.filter(audit_log::entity_id.eq(id.clone()).or(listed));
    }
    if let Some(a) = &f.actor {
        q = q.filter(audit_log::actor.eq(a.clone()));
    }
    if let Some((at, id)) = before {
        q = q.filter(
            audit_log::at
                .lt(at)
                .or(audit_log::at.eq(at).and(audit_log::id.lt(id))),
        );
    }
    q.order((audit_log::at.desc(), audit_log::id.desc()))
        .limit(limit)
        .select(AuditEntry::as_select())
        .load(conn)
}
