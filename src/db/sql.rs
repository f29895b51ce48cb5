//! The few SQL fragments whose spelling differs between SQLite and PostgreSQL, for the quality
//! queries that are assembled as text. Nothing outside `db/` branches on the backend.

use chrono::Duration;
use diesel::RunQueryDsl;

use super::{AnyConnection, Backend};

/// `sql` with its numbered placeholders spelled for the backend: PostgreSQL keeps `$n`, SQLite
/// takes `?n` (both bind the same value wherever its number appears). The text must hold no
/// other `$` followed by a digit.
pub fn numbered(b: Backend, sql: &str) -> String {
    match b {
        Backend::Postgres => sql.to_string(),
        Backend::Sqlite => {
            let mut out = String::with_capacity(sql.len());
            let mut chars = sql.chars().peekable();
            while let Some(c) = chars.next() {
                let digit_next = chars.peek().is_some_and(char::is_ascii_digit);
                out.push(if c == '$' && digit_next { '?' } else { c });
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
    /// The text between placeholders, and after each gap the (0-based) id that fills it.
    parts: Vec<(&'a str, Option<usize>)>,
    ids: Vec<String>,
}

impl<'a> CachedById<'a> {
    /// `sql` with `$1` standing for `id`.
    pub fn new(sql: &'a str, id: impl ToString) -> Self {
        Self::with_ids(sql, vec![id.to_string()])
    }

    /// `sql` with `$1` standing for `ids[0]`, `$2` for `ids[1]`, and so on. A placeholder past
    /// the ids is an error when the statement is built.
    pub fn with_ids(sql: &'a str, ids: Vec<String>) -> Self {
        let mut parts = Vec::new();
        let mut rest = sql;
        while let Some(at) = rest.find('$') {
            let digits = rest[at + 1..]
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len() - at - 1);
            match rest[at + 1..at + 1 + digits].parse::<usize>() {
                Ok(n) if n > 0 => {
                    parts.push((&rest[..at], Some(n - 1)));
                    rest = &rest[at + 1 + digits..];
                }
                // A `$` that is no placeholder stays in the text.
                _ => {
                    parts.push((&rest[..=at], None));
                    rest = &rest[at + 1..];
                }
            }
        }
        parts.push((rest, None));
        Self { parts, ids }
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
            if let Some(k) = id {
                let id = self.ids.get(*k).ok_or_else(|| {
                    diesel::result::Error::QueryBuilderError(
                        format!("placeholder ${} has no id", k + 1).into(),
                    )
                })?;
                out.push_bind_param::<diesel::sql_types::Text, _>(id)?;
            }
        }
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for CachedById<'_> {}

/// A typed insert that hands the rows it wrote, as `inserted` (the `returning` columns), to a
/// second statement in the same round trip: `WITH inserted AS (<insert> RETURNING …) <then>`
/// (PostgreSQL only; SQLite has no data-modifying `WITH`). `then` sees the rows only through
/// `inserted` (both run on one snapshot); `execute` returns the rows `then` changed. Prepared
/// once per connection when the insert is (its text is the same every time).
pub struct InsertThen<'a, I> {
    /// The insert statement.
    pub insert: I,
    /// The columns of the inserted rows that `then` reads.
    pub returning: &'a str,
    /// The statement that follows, over `inserted`.
    pub then: &'a str,
}

impl<I> diesel::query_builder::QueryId for InsertThen<'_, I> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
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
        out.push_sql(self.returning);
        out.push_sql(") ");
        out.push_sql(self.then);
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
