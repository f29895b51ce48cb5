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

/// Appends an entry: at once, or at the end of the write transaction that is [`gathering`]
/// (or with an earlier write of it on PostgreSQL: [`ride`]).
pub fn insert(conn: &mut AnyConnection, row: &AuditEntry) -> QueryResult<()> {
    let gathered = GATHERED.with(|g| match g.borrow_mut().as_mut() {
        Some(gathered) => {
            gathered.rows.push(row.clone());
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

/// The entries of a write transaction not yet written.
struct Gathered {
    rows: Vec<AuditEntry>,
    /// Where the innermost savepoint's entries begin: those before it belong to enclosing
    /// levels, which may still roll back without this savepoint.
    floor: usize,
}

thread_local! {
    /// The entries of the write transaction this thread is in, when it gathers them.
    static GATHERED: std::cell::RefCell<Option<Gathered>> =
        const { std::cell::RefCell::new(None) };
}

/// The entries gathered at the innermost savepoint level, as an insert to run with a write of
/// that level (a further `WITH` entry of its statement on PostgreSQL: one round trip fewer per
/// request). At most [`RIDING_MAX`] entries (a request writes one or two; more stay gathered). Were the write to fail, [`unride`] gives them back; when it
/// succeeds they are written with it, and roll back with it if its savepoint or transaction
/// does, as the gathered entries would be dropped then.
pub fn ride() -> Option<Riding> {
    GATHERED.with(|g| {
        let mut g = g.borrow_mut();
        let gathered = g.as_mut()?;
        let n = gathered.rows.len() - gathered.floor;
        if n == 0 || n > RIDING_MAX {
            return None;
        }
        let rows: Vec<AuditEntry> = gathered.rows.drain(gathered.floor..).collect();
        Some(Riding(rows))
    })
}

/// The most entries a [`ride`] takes: each count is a statement text of its own.
const RIDING_MAX: usize = 4;

/// Gives back the entries of a [`ride`] whose write failed.
pub fn unride(riding: Riding) {
    GATHERED.with(|g| {
        if let Some(gathered) = g.borrow_mut().as_mut() {
            gathered.rows.extend(riding.0);
        }
    });
}

/// Audit entries riding with a write ([`ride`]): their insert as a statement fragment.
pub struct Riding(Vec<AuditEntry>);

impl diesel::query_builder::QueryId for Riding {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

/// The columns an entry's binds fill, in [`push_entry`]'s order.
const COLUMNS: &str = "INSERT INTO audit_log (id, at, actor, request_id, entity, entity_id, \
                       action, changes, correlation_id) ";

/// An entry's values as binds, comma-separated.
fn push_entry<'b>(
    e: &'b AuditEntry,
    out: &mut diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
) -> QueryResult<()> {
    use diesel::sql_types::{Nullable, Text, Timestamp};
    out.push_bind_param::<Text, _>(&e.id)?;
    out.push_sql(", ");
    out.push_bind_param::<Timestamp, _>(&e.at)?;
    out.push_sql(", ");
    out.push_bind_param::<Text, _>(&e.actor)?;
    out.push_sql(", ");
    out.push_bind_param::<Nullable<Text>, _>(&e.request_id)?;
    out.push_sql(", ");
    out.push_bind_param::<Text, _>(&e.entity)?;
    out.push_sql(", ");
    out.push_bind_param::<Text, _>(&e.entity_id)?;
    out.push_sql(", ");
    out.push_bind_param::<Text, _>(&e.action)?;
    out.push_sql(", ");
    out.push_bind_param::<Text, _>(&e.changes)?;
    out.push_sql(", ");
    out.push_bind_param::<Nullable<Text>, _>(&e.correlation_id)
}

/// `INSERT INTO audit_log (…) VALUES (…), …`, a row of binds per entry: the same text for the
/// same number of entries, so diesel prepares it once per connection and count.
impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for Riding {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        out.push_sql(COLUMNS);
        out.push_sql("VALUES ");
        for (i, e) in self.0.iter().enumerate() {
            out.push_sql(if i == 0 { "(" } else { ", (" });
            push_entry(e, &mut out)?;
            out.push_sql(")");
        }
        Ok(())
    }
}

/// An entry written once per row of `inserted` (an insert that wrote one row or none): the
/// audit of a row's creation riding in its own insert on PostgreSQL (`sql::insert_then_riding`),
/// written only when the row is.
pub struct IfInserted<'a>(pub &'a AuditEntry);

impl diesel::query_builder::QueryId for IfInserted<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for IfInserted<'_> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        out.push_sql(COLUMNS);
        out.push_sql("SELECT ");
        push_entry(self.0, &mut out)?;
        out.push_sql(" FROM inserted");
        Ok(())
    }
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
    // A nested call: its entries begin here (`floor`), restored when it ends.
    let nested = GATHERED.with(|g| {
        g.borrow_mut().as_mut().map(|gathered| {
            let outer = gathered.floor;
            gathered.floor = gathered.rows.len();
            (gathered.floor, outer)
        })
    });
    if let Some((mark, outer)) = nested {
        let out = f(conn);
        GATHERED.with(|g| {
            if let Some(gathered) = g.borrow_mut().as_mut() {
                if out.is_err() {
                    gathered.rows.truncate(mark);
                }
                gathered.floor = outer;
            }
        });
        return out;
    }
    GATHERED.with(|g| {
        *g.borrow_mut() = Some(Gathered {
            rows: Vec::new(),
            floor: 0,
        })
    });
    let _reset = Reset;
    let out = f(conn)?;
    let rows = GATHERED
        .with(|g| g.borrow_mut().take())
        .map(|g| g.rows)
        .unwrap_or_default();
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

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::Connection;

    fn entry(id: &str) -> AuditEntry {
        AuditEntry {
            id: id.into(),
            at: UtcMicros::new(chrono::Utc::now()),
            actor: "user:test".into(),
            request_id: None,
            entity: "infant".into(),
            entity_id: id.into(),
            action: AuditAction::Create,
            changes: Json(serde_json::json!({})),
            correlation_id: None,
        }
    }

    fn ids(r: &Riding) -> Vec<&str> {
        r.0.iter().map(|e| e.id.as_str()).collect()
    }

    fn conn() -> AnyConnection {
        let mut c = AnyConnection::Sqlite(diesel::SqliteConnection::establish(":memory:").unwrap());
        diesel::sql_query(
            "CREATE TABLE audit_log (id TEXT PRIMARY KEY NOT NULL, at TIMESTAMP NOT NULL, \
             actor TEXT NOT NULL, request_id TEXT, entity TEXT NOT NULL, entity_id TEXT NOT NULL, \
             action TEXT NOT NULL, changes TEXT NOT NULL, correlation_id TEXT)",
        )
        .execute(&mut c)
        .unwrap();
        c
    }

    fn stored(c: &mut AnyConnection) -> Vec<String> {
        audit_log::table
            .select(audit_log::id)
            .order(audit_log::id)
            .load(c)
            .unwrap()
    }

    #[test]
    fn a_ride_takes_only_its_savepoint_levels_entries_and_a_failed_level_keeps_the_outer_ones() {
        let mut c = conn();
        let out: QueryResult<()> = gathering(&mut c, |c| {
            insert(c, &entry("a"))?;
            let inner: QueryResult<()> = gathering(c, |c| {
                insert(c, &entry("b"))?;
                // The savepoint's ride holds its own entry only, not the enclosing level's.
                assert_eq!(ids(&ride().unwrap()), ["b"]);
                insert(c, &entry("c"))?;
                Err(diesel::result::Error::RollbackTransaction)
            });
            assert!(inner.is_err());
            // The failed level's entry is dropped; the outer one is still there to ride.
            let outer = ride().unwrap();
            assert_eq!(ids(&outer), ["a"]);
            // A write that failed gives its entries back: they are written at the end.
            unride(outer);
            insert(c, &entry("d"))?;
            Ok(())
        });
        out.unwrap();
        assert_eq!(stored(&mut c), ["a", "d"]);
        // Outside a transaction nothing rides.
        assert!(ride().is_none());
    }

    #[test]
    fn a_ride_holds_at_most_four_entries() {
        let mut c = conn();
        let out: QueryResult<()> = gathering(&mut c, |c| {
            for id in ["a", "b", "c", "d", "e"] {
                insert(c, &entry(id))?;
            }
            assert!(ride().is_none(), "five entries stay gathered");
            Ok(())
        });
        out.unwrap();
        assert_eq!(stored(&mut c), ["a", "b", "c", "d", "e"]);
    }
}
