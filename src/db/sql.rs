//! The few SQL fragments whose spelling differs between SQLite and PostgreSQL, for the quality
//! queries that are assembled as text. Nothing outside `db/` branches on the backend.

use chrono::Duration;
use diesel::RunQueryDsl;

use super::{AnyConnection, Backend};

/// `sql` cut at its numbered placeholders (`$` and digits): each piece of text, then the number
/// that follows it (`None` after the last piece). A `$` followed by no digit stays in the text.
fn placeholders(sql: &str) -> Vec<(&str, Option<usize>)> {
    let mut parts = Vec::new();
    let mut rest = sql;
    let mut from = 0;
    while let Some(at) = rest[from..].find('$').map(|k| from + k) {
        let digits = rest[at + 1..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len() - at - 1);
        match rest[at + 1..at + 1 + digits].parse::<usize>() {
            Ok(n) => {
                parts.push((&rest[..at], Some(n)));
                rest = &rest[at + 1 + digits..];
                from = 0;
            }
            Err(_) => from = at + 1,
        }
    }
    parts.push((rest, None));
    parts
}

/// `sql` with its numbered placeholders spelled for the backend: PostgreSQL keeps `$n`, SQLite
/// takes `?n` (both bind the same value wherever its number appears). The text must hold no
/// other `$` followed by a digit.
pub fn numbered(b: Backend, sql: &str) -> String {
    match b {
        Backend::Postgres => sql.to_string(),
        Backend::Sqlite => {
            let mut out = String::with_capacity(sql.len());
            for (text, n) in placeholders(sql) {
                out.push_str(text);
                if let Some(n) = n {
                    out.push_str(&format!("?{n}"));
                }
            }
            out
        }
    }
}

/// `col` plus `d`.
pub fn plus(b: Backend, col: &str, d: Duration) -> String {
    let secs = d.num_seconds();
    match b {
        Backend::Sqlite => format!("datetime({col}, '+{secs} seconds')"),
        Backend::Postgres => format!("({col} + interval '{secs} seconds')"),
    }
}

/// Whole minutes from `from` to `to` (timestamp columns), rounded to the nearest.
pub fn minutes(b: Backend, from: &str, to: &str) -> String {
    match b {
        Backend::Sqlite => {
            format!("CAST(ROUND((julianday({to}) - julianday({from})) * 1440) AS INTEGER)")
        }
        Backend::Postgres => {
            format!("CAST(ROUND(date_part('epoch', {to} - {from}) / 60) AS BIGINT)")
        }
    }
}

/// Whole minutes from `from` to `to`, rounded down.
pub fn minutes_floor(b: Backend, from: &str, to: &str) -> String {
    match b {
        Backend::Sqlite => {
            format!("CAST((julianday({to}) - julianday({from})) * 1440 + 0.0001 AS INTEGER)")
        }
        Backend::Postgres => {
            format!("CAST(FLOOR(date_part('epoch', {to} - {from}) / 60 + 0.0001) AS BIGINT)")
        }
    }
}

/// Runs `f` (inside the caller's transaction) with sequential scans ruled out on PostgreSQL,
/// for statements that reach a few rows through an index: with small, stale or no statistics
/// PostgreSQL may plan those as scans of whole tables (or hash joins over them), which grow
/// with the data. The setting is set back after `f`; on SQLite it just runs `f`.
pub fn index_probes<T, E: From<diesel::result::Error>>(
    conn: &mut AnyConnection,
    f: impl FnOnce(&mut AnyConnection) -> Result<T, E>,
) -> Result<T, E> {
    if conn.backend() != Backend::Postgres {
        return f(conn);
    }
    diesel::sql_query("SET LOCAL enable_seqscan = off").execute(conn)?;
    let out = f(conn)?;
    diesel::sql_query("SET LOCAL enable_seqscan = on").execute(conn)?;
    Ok(out)
}

/// Runs `f` in a transaction that lets PostgreSQL hash large id sets in memory
/// (`SET LOCAL work_mem`); on SQLite it just runs `f`.
pub fn with_set_memory<T, E: From<diesel::result::Error>>(
    conn: &mut AnyConnection,
    f: impl FnOnce(&mut AnyConnection) -> Result<T, E>,
) -> Result<T, E> {
    use diesel::Connection;
    if conn.backend() != Backend::Postgres {
        return f(conn);
    }
    conn.transaction(|conn| {
        diesel::sql_query("SET LOCAL work_mem = '256MB'").execute(conn)?;
        f(conn)
    })
}

/// How many connections may write at once: several on PostgreSQL (bounded by `pool_size`),
/// one on SQLite (a single writer).
pub fn writers(url: &str, wanted: usize, pool_size: usize) -> usize {
    match Backend::of_url(url) {
        Backend::Postgres => wanted.min(pool_size).max(1),
        Backend::Sqlite => 1,
    }
}

/// A raw statement over ids (`$1`, `$2`, …, each wherever it appears) that diesel prepares once
/// per connection and reuses, on either database: cached under its text like diesel's own
/// queries (`sql_query` is never cached, so a statement whose parsing and planning cost more
/// than its execution paid them on every write). On PostgreSQL a protocol-level prepared
/// statement, no session-level `PREPARE`, so it works through PgBouncer in transaction mode
/// (1.21+, `max_prepared_statements`).
pub struct CachedById<'a> {
    /// The text between placeholders, each followed by the number of the id that fills it.
    parts: Vec<(&'a str, Option<usize>)>,
    ids: Vec<String>,
}

impl<'a> CachedById<'a> {
    /// `sql` with `$1` standing for `id`.
    pub fn new(sql: &'a str, id: impl ToString) -> Self {
        Self::with_ids(sql, vec![id.to_string()])
    }

    /// `sql` with `$1` standing for `ids[0]`, `$2` for `ids[1]`, and so on. A placeholder with
    /// no id is an error when the statement is built.
    pub fn with_ids(sql: &'a str, ids: Vec<String>) -> Self {
        Self {
            parts: placeholders(sql),
            ids,
        }
    }
}

impl diesel::query_builder::QueryId for CachedById<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

/// Each placeholder becomes a bind of its id, spelled by the backend (`$1`, `$2`, … in order on
/// PostgreSQL, `?` on SQLite): the text, and so the cache key, is the same on every call.
impl<DB> diesel::query_builder::QueryFragment<DB> for CachedById<'_>
where
    DB: diesel::backend::Backend + diesel::sql_types::HasSqlType<diesel::sql_types::Text>,
    String: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> diesel::QueryResult<()> {
        for (part, id) in &self.parts {
            out.push_sql(part);
            if let Some(n) = id {
                let id = n
                    .checked_sub(1)
                    .and_then(|k| self.ids.get(k))
                    .ok_or_else(|| {
                        diesel::result::Error::QueryBuilderError(
                            format!("placeholder ${n} has no id").into(),
                        )
                    })?;
                out.push_bind_param::<diesel::sql_types::Text, _>(id)?;
            }
        }
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for CachedById<'_> {}

/// An SQL expression of type `ST` whose text is fixed (e.g. a literal predicate that matches a
/// partial index's): unlike diesel's `dsl::sql`, which marks every statement holding it as not
/// cacheable (so PostgreSQL parses and plans it on every call), the statement stays prepared
/// once per connection, cached under its text.
#[derive(Debug, Clone, Copy)]
pub struct FixedSql<ST> {
    sql: &'static str,
    sql_type: std::marker::PhantomData<ST>,
}

/// `sql` as an expression of type `ST`.
pub const fn fixed<ST>(sql: &'static str) -> FixedSql<ST> {
    FixedSql {
        sql,
        sql_type: std::marker::PhantomData,
    }
}

impl<ST> diesel::expression::Expression for FixedSql<ST>
where
    ST: diesel::sql_types::SqlType + diesel::expression::TypedExpressionType,
{
    type SqlType = ST;
}

impl<ST, QS> diesel::expression::AppearsOnTable<QS> for FixedSql<ST> where
    Self: diesel::expression::Expression
{
}

impl<ST, QS> diesel::expression::SelectableExpression<QS> for FixedSql<ST> where
    Self: diesel::expression::Expression
{
}

impl<ST> diesel::expression::ValidGrouping<()> for FixedSql<ST> {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

impl<ST> diesel::query_builder::QueryId for FixedSql<ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST, DB: diesel::backend::Backend> diesel::query_builder::QueryFragment<DB> for FixedSql<ST> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> diesel::QueryResult<()> {
        out.push_sql(self.sql);
        Ok(())
    }
}

/// The statement that keeps a derived row in step with an insert (the quality facts of a new
/// infant, case or interpretation), reading the inserted row as `inserted`.
pub struct Then {
    /// The inserted row's table.
    pub table: &'static str,
    /// The inserted row's `id`.
    pub id: String,
    /// The inserted row's columns the statement reads.
    pub columns: &'static str,
    /// The statement over `inserted`: an `UPDATE` or an `INSERT … SELECT`.
    pub sql: std::borrow::Cow<'static, str>,
    /// On PostgreSQL, further `WITH` entries (`name AS (…)`, comma-separated) between
    /// `inserted` and `sql`, which `sql` may read (a first data-modifying step). Only
    /// [`insert_then`]'s PostgreSQL form runs them.
    pub before_pg: Option<&'static str>,
    /// On PostgreSQL, a second statement over `inserted` in the same round trip (a further
    /// data-modifying `WITH`; its rows are not counted). Only [`insert_then`]'s PostgreSQL form
    /// runs it: a caller that sets it writes the same rows itself on SQLite.
    pub also_pg: Option<&'static str>,
}

/// Runs `insert` (one row) and then `then` over the row it inserted (skipped when the insert
/// wrote nothing, e.g. `ON CONFLICT DO NOTHING`); returns the rows inserted and, when there
/// was a `then`, the rows it changed. On PostgreSQL one round trip:
/// `WITH inserted AS (<insert> RETURNING …), changed AS (<then> RETURNING 1)` counting both
/// (one snapshot: `then` sees the new row only through `inserted`). SQLite has no
/// data-modifying `WITH`: the insert, then `WITH inserted AS (SELECT … WHERE id = $1) <then>`,
/// the same statement text over the stored row. Both are prepared once per connection.
/// `then.before_pg` and `then.also_pg`, when set, join the PostgreSQL statement as further
/// `WITH` entries, before and after the facts statement. On PostgreSQL the audit entries the
/// transaction has gathered so far at this savepoint level ride in the statement too
/// (`audit::ride`): a service that audits a new row before inserting it saves the round trip
/// of the audit's own insert.
pub fn insert_then<I>(
    conn: &mut AnyConnection,
    insert: I,
    then: Option<&Then>,
) -> diesel::QueryResult<(usize, Option<usize>)>
where
    I: diesel::query_builder::QueryFragment<diesel::pg::Pg>
        + diesel::query_dsl::methods::ExecuteDsl<diesel::PgConnection>
        + diesel::query_dsl::methods::ExecuteDsl<diesel::SqliteConnection>,
{
    insert_then_riding(conn, insert, then, &[]).map(|(inserted, changed, _)| (inserted, changed))
}

/// [`insert_then`] with, on PostgreSQL, further data-modifying `WITH` entries with their own
/// binds (`rides`: statements ending `… FROM inserted`, so they write only when the insert did)
/// in the same round trip; the third value says whether they ran there. On SQLite `rides` are
/// not run: the caller writes the same rows itself when the third value is `false` and a row
/// was inserted.
pub fn insert_then_riding<I>(
    conn: &mut AnyConnection,
    insert: I,
    then: Option<&Then>,
    rides: &[&dyn diesel::query_builder::QueryFragment<diesel::pg::Pg>],
) -> diesel::QueryResult<(usize, Option<usize>, bool)>
where
    I: diesel::query_builder::QueryFragment<diesel::pg::Pg>
        + diesel::query_dsl::methods::ExecuteDsl<diesel::PgConnection>
        + diesel::query_dsl::methods::ExecuteDsl<diesel::SqliteConnection>,
{
    use crate::db::models::admin::audit;
    use diesel::query_dsl::methods::ExecuteDsl;
    match conn {
        AnyConnection::Postgresql(c) if then.is_some() || !rides.is_empty() => {
            // The audit entries gathered so far at this savepoint level ride too.
            let audit = audit::ride();
            let mut all = rides.to_vec();
            if let Some(audit) = &audit {
                all.push(audit);
            }
            let run = InsertThen {
                insert,
                then,
                rides: &all,
            }
            .get_result::<(i64, i64)>(c);
            let (inserted, changed) = match run {
                Ok(counts) => counts,
                Err(e) => {
                    if let Some(audit) = audit {
                        audit::unride(audit);
                    }
                    return Err(e);
                }
            };
            Ok((
                count(inserted),
                then.map(|_| count(changed)),
                !rides.is_empty(),
            ))
        }
        AnyConnection::Sqlite(c) if then.is_some() => {
            let inserted = ExecuteDsl::execute(insert, c)?;
            let Some(then) = then.filter(|_| inserted > 0) else {
                return Ok((inserted, Some(0), false));
            };
            let sql = format!(
                "WITH inserted AS (SELECT {} FROM {} WHERE id = $1) {}",
                then.columns, then.table, then.sql
            );
            let changed = CachedById::new(&sql, &then.id).execute(c)?;
            Ok((inserted, Some(changed), false))
        }
        _ => {
            let inserted = crate::with_conn!(conn, |c| ExecuteDsl::execute(insert, c))?;
            Ok((inserted, None, false))
        }
    }
}

/// A row count PostgreSQL returned as `bigint`.
fn count(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

/// [`insert_then_riding`] on PostgreSQL: the insert, its `then` and its rides as one statement.
struct InsertThen<'a, I> {
    insert: I,
    then: Option<&'a Then>,
    rides: &'a [&'a dyn diesel::query_builder::QueryFragment<diesel::pg::Pg>],
}

impl<I> diesel::query_builder::QueryId for InsertThen<'_, I> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<I> diesel::query_builder::Query for InsertThen<'_, I> {
    type SqlType = (diesel::sql_types::BigInt, diesel::sql_types::BigInt);
}

impl<I> diesel::query_builder::QueryFragment<diesel::pg::Pg> for InsertThen<'_, I>
where
    I: diesel::query_builder::QueryFragment<diesel::pg::Pg>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        out.push_sql("WITH inserted AS (");
        self.insert.walk_ast(out.reborrow())?;
        out.push_sql(" RETURNING ");
        out.push_sql(self.then.map_or("1", |t| t.columns));
        out.push_sql(")");
        if let Some(then) = self.then {
            if let Some(before) = then.before_pg {
                out.push_sql(", ");
                out.push_sql(before);
            }
            out.push_sql(", changed AS (");
            out.push_sql(&then.sql);
            out.push_sql(" RETURNING 1)");
            if let Some(also) = then.also_pg {
                out.push_sql(", also AS (");
                out.push_sql(also);
                out.push_sql(")");
            }
        }
        for (i, ride) in self.rides.iter().enumerate() {
            out.push_sql(&format!(", ride{i} AS ("));
            ride.walk_ast(out.reborrow())?;
            out.push_sql(")");
        }
        out.push_sql(" SELECT (SELECT COUNT(*) FROM inserted), ");
        out.push_sql(if self.then.is_some() {
            "(SELECT COUNT(*) FROM changed)"
        } else {
            "0::bigint"
        });
        Ok(())
    }
}

impl<I, Conn> RunQueryDsl<Conn> for InsertThen<'_, I> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_spelled_per_backend() {
        let sql = "a = $1 AND b < $2 AND c = '$x' AND d = $12";
        assert_eq!(numbered(Backend::Postgres, sql), sql);
        assert_eq!(
            numbered(Backend::Sqlite, sql),
            "a = ?1 AND b < ?2 AND c = '$x' AND d = ?12"
        );
    }

    #[test]
    fn cached_ids_fill_their_placeholders_in_order() {
        let sql = "UPDATE t SET a = $2 WHERE x = $1 AND y = $1 AND z <> '$x' AND w = $";
        let q = CachedById::with_ids(sql, vec!["one".into(), "two".into()]);
        assert_eq!(
            diesel::debug_query::<diesel::pg::Pg, _>(&q).to_string(),
            "UPDATE t SET a = $1 WHERE x = $2 AND y = $3 AND z <> '$x' AND w = $ \
             -- binds: [\"two\", \"one\", \"one\"]"
        );
        assert_eq!(
            diesel::debug_query::<diesel::sqlite::Sqlite, _>(&q).to_string(),
            "UPDATE t SET a = ? WHERE x = ? AND y = ? AND z <> '$x' AND w = $ \
             -- binds: [\"two\", \"one\", \"one\"]"
        );
        let missing = CachedById::with_ids("a = $3", vec!["one".into()]);
        let built = diesel::query_builder::QueryFragment::<diesel::pg::Pg>::to_sql(
            &missing,
            &mut diesel::pg::PgQueryBuilder::default(),
            &diesel::pg::Pg,
        );
        assert!(built.is_err(), "a placeholder with no id is refused");
    }
}
