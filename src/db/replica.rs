//! The optional read replica (`database.read_url`): heavy reads — the quality report, its
//! drill-downs and exports — run there, and say how fresh the data was. Everything a user just
//! changed is read from the primary (read-your-writes), so only these reads move.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Double, Nullable, Timestamp};

use super::{AnyConnection, DbPool, PooledConn};
use crate::error::AppError;

/// Where a read ran and how current its data was.
#[derive(Debug, Clone, Copy, serde::Serialize, utoipa::ToSchema)]
pub struct Freshness {
    /// `replica` or `primary`.
    pub source: Source,
    /// The data includes every transaction committed on the primary up to this time (now on
    /// the primary, or on a replica that has replayed all it received).
    pub as_of: DateTime<Utc>,
    /// Seconds the replica is behind the primary (0 on the primary or when caught up).
    pub lag_seconds: f64,
}

/// Which database answered a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The primary (no replica configured, or it was unreachable).
    Primary,
    /// The read replica.
    Replica,
}

#[derive(QueryableByName)]
struct Status {
    #[diesel(sql_type = Bool)]
    standby: bool,
    #[diesel(sql_type = Bool)]
    caught_up: bool,
    #[diesel(sql_type = Nullable<Timestamp>)]
    replayed_at: Option<chrono::NaiveDateTime>,
    #[diesel(sql_type = Nullable<Double>)]
    lag: Option<f64>,
}

/// How fresh the data behind `conn` is at `now`. On PostgreSQL a standby compares what it
/// received with what it replayed: when equal it is caught up (an idle primary sends nothing,
/// so the last replayed transaction's age is not lag); otherwise the lag is the age of the last
/// replayed transaction. SQLite and a primary are current by definition.
pub fn freshness(conn: &mut AnyConnection, now: DateTime<Utc>) -> QueryResult<Freshness> {
    let primary = Freshness {
        source: Source::Primary,
        as_of: now,
        lag_seconds: 0.0,
    };
    let AnyConnection::Postgresql(c) = conn else {
        return Ok(primary);
    };
    let s: Status = diesel::sql_query(
        "SELECT pg_is_in_recovery() AS standby, \
         COALESCE(pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn(), true) AS caught_up, \
         (pg_last_xact_replay_timestamp() AT TIME ZONE 'UTC') AS replayed_at, \
         EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp()))::float8 AS lag",
    )
    .get_result(c)?;
    if !s.standby {
        return Ok(primary);
    }
    Ok(if s.caught_up {
        Freshness {
            source: Source::Replica,
            as_of: now,
            lag_seconds: 0.0,
        }
    } else {
        Freshness {
            source: Source::Replica,
            as_of: s.replayed_at.map_or(now, |t| t.and_utc()),
            lag_seconds: s.lag.unwrap_or(0.0).max(0.0),
        }
    })
}

/// A connection for a heavy read: the replica's when one is configured and answers, else the
/// primary's (a replica that is down slows reports; it never stops them).
pub fn report_conn(primary: &DbPool, replica: Option<&DbPool>) -> Result<PooledConn, AppError> {
    if let Some(r) = replica {
        match r.get() {
            Ok(c) => return Ok(c),
            Err(e) => {
                tracing::warn!(error = %e, "read replica unreachable; reading from the primary")
            }
        }
    }
    primary
        .get()
        .map_err(|e| AppError::Unavailable(e.to_string()))
}

/// Runs a heavy read `f` on the blocking pool against [`report_conn`], with the data's
/// [`freshness`].
pub async fn run_report<T, F>(
    primary: &DbPool,
    replica: Option<&DbPool>,
    now: DateTime<Utc>,
    f: F,
) -> Result<(T, Freshness), AppError>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let (primary, replica) = (primary.clone(), replica.cloned());
    tokio::task::spawn_blocking(move || {
        let mut conn = report_conn(&primary, replica.as_ref())?;
        let fresh = freshness(&mut conn, now)?;
        let out = f(&mut conn)?;
        Ok((out, fresh))
    })
    .await
    .map_err(|e| AppError::Unexpected(anyhow::anyhow!("database task failed: {e}")))?
}

/// The longest a report (or `/readyz`) waits for a replica connection.
const REPLICA_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Builds the replica's pool without connecting: a replica that is down at start must not stop
/// the server. Only a PostgreSQL URL names a streaming replica.
pub fn build_pool(
    url: &str,
    size: u32,
    timeout: std::time::Duration,
    statement_cache: bool,
) -> anyhow::Result<DbPool> {
    if super::Backend::of_url(url) != super::Backend::Postgres {
        anyhow::bail!("database.read_url must be a postgres:// URL (a streaming replica)");
    }
    let size = if size == 0 { 4 } else { size };
    Ok(diesel::r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(0))
        // A replica that does not answer soon sends reports to the primary (and `/readyz` to
        // "unreachable") after at most this, not after the primary's longer wait.
        .connection_timeout(timeout.min(REPLICA_WAIT))
        .build_unchecked(super::AnyManager {
            url: url.to_string(),
            statement_cache,
            _alive: std::sync::Arc::default(),
        }))
}
