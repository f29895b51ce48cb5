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

/// A raw statement over one id (`$1`, wherever it appears) that diesel prepares once per
/// connection and reuses, on either database: cached under its text like diesel's own queries
/// (`sql_query` is never cached, so a statement whose parsing and planning cost more than its
/// execution paid them on every write). On PostgreSQL a protocol-level prepared statement, no
/// session-level `PREPARE`, so it works through PgBouncer in transaction mode (1.21+,
/// `max_prepared_statements`).
pub struct CachedById<'a> {
    parts: Vec<&'a str>,
    id: String,
}

impl<'a> CachedById<'a> {
    /// `sql` with `$1` standing for `id`.
    pub fn new(sql: &'a str, id: impl ToString) -> Self {
        Self {
            parts: sql.split("$1").collect(),
            id: id.to_string(),
        }
    }
}

impl diesel::query_builder::QueryId for CachedById<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

/// Each `$1` becomes a bind of the same id, spelled by the backend (`$1`, `$2`, … on PostgreSQL,
/// `?` on SQLite): the text, and so the cache key, is the same on every call.
impl<DB> diesel::query_builder::QueryFragment<DB> for CachedById<'_>
where
    DB: diesel::backend::Backend + diesel::sql_types::HasSqlType<diesel::sql_types::Text>,
    String: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, DB>,
    ) -> diesel::QueryResult<()> {
        for (k, part) in self.parts.iter().enumerate() {
            if k > 0 {
                out.push_bind_param::<diesel::sql_types::Text, _>(&self.id)?;
            }
            out.push_sql(part);
        }
        Ok(())
    }
}

impl<Conn> RunQueryDsl<Conn> for CachedById<'_> {}

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
}
