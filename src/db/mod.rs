//! Database access over SQLite and PostgreSQL through one code path.
//!
//! `AnyConnection` is a diesel `MultiConnection`; the variant is chosen from the URL scheme by
//! our own r2d2 manager (the derive's `establish` tries variants in order and loses the real
//! error). Only this module holds backend-specific code. Diesel is synchronous: every call goes
//! through [`run`], which takes a pooled connection on the blocking thread pool, so no
//! connection is ever held across an `.await`.

pub mod group_commit;
pub mod models;
pub mod replica;
pub mod schema;
pub mod single_write;
pub mod sql;
pub mod sqlite_time;
pub mod types;
pub mod watch;

use std::path::Path;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{ManageConnection, Pool, R2D2Connection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::AppError;
pub use single_write::write_once;

/// One connection to either backend.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    /// PostgreSQL (production).
    Postgresql(diesel::PgConnection),
    /// SQLite (embedded default).
    Sqlite(diesel::SqliteConnection),
}

/// Which backend a URL or connection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
}

impl Backend {
    /// `postgres://` and `postgresql://` select PostgreSQL; anything else is a SQLite path.
    pub fn of_url(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

impl AnyConnection {
    /// The backend of this connection.
    pub fn backend(&self) -> Backend {
        match self {
            AnyConnection::Postgresql(_) => Backend::Postgres,
            AnyConnection::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// Restricts a boxed query to the caller's hospital, the one hospital filter every scoped query
/// uses: `q = scoped!(q, scope, cases::hospital_id);` (a `Scope` with no hospital leaves it whole).
#[macro_export]
macro_rules! scoped {
    ($q:expr, $scope:expr, $col:expr) => {
        match $scope.hospital_filter() {
            Some(h) => $q.filter($col.eq(h)),
            None => $q,
        }
    };
}

/// Runs `$body` with `$c` bound to the concrete connection, so queries the enum cannot
/// express (upsert, batch insert, row locks) are written once and type-checked per backend.
#[macro_export]
macro_rules! with_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::AnyConnection::Postgresql($c) => $body,
            $crate::db::AnyConnection::Sqlite($c) => $body,
        }
    };
}

/// The row a lookup by a unique key returns, read without a `LIMIT`, on the backend's own
/// connection: `crate::by_key!(conn, query)`, a `QueryResult<Option<_>>`.
///
/// Without a `LIMIT`: SQLite (3.53) plans `LIMIT ?` with the value bound to it and so recompiles
/// the statement whenever that parameter is bound again: diesel's `.first()` binds its `LIMIT 1`
/// on every call, so a cached key lookup was compiled anew each time (7 % of the SQLite writer
/// thread's time). Only for queries that match at most a few rows: there is no limit.
///
/// On the backend's own connection ([`with_conn!`]): through the `MultiConnection` enum every pass
/// diesel makes over a query (may it be cached, its cache key, its binds) renders the whole
/// statement text again (the derive's `SerializedQuery`), 6 % of the SQLite writer thread's time
/// on the everyday writes; on the connection itself a query of a static type is keyed by its type
/// and rendered once, when first prepared. A macro, not a function: a query built with
/// `as_select()` names its backend in its type, so the query is written once and typed per arm.
#[macro_export]
macro_rules! by_key {
    ($conn:expr, $q:expr) => {
        $crate::with_conn!($conn, |c| diesel::RunQueryDsl::load($q, c))
            .map(|rows: Vec<_>| rows.into_iter().next())
    };
}

/// A trivial query: the connection works (readiness).
pub fn ping(conn: &mut AnyConnection) -> QueryResult<()> {
    diesel::sql_query("SELECT 1").execute(conn).map(|_| ())
}

/// After a bulk load: fresh planner statistics and, on PostgreSQL, a vacuum, so the tables look
/// as a live database's do after autovacuum (a bulk UPDATE leaves dead tuples and an unset
/// visibility map, which turns index-only scans into heap scans). Run outside a transaction.
pub fn settle(conn: &mut AnyConnection) -> QueryResult<()> {
    let sql = match conn.backend() {
        Backend::Postgres => "VACUUM ANALYZE",
        Backend::Sqlite => "ANALYZE",
    };
    diesel::sql_query(sql).execute(conn).map(|_| ())
}

/// Embedded migrations, one tree per backend with the same names.
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
/// PostgreSQL migrations.
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// SQLite pragmas applied to every new connection: WAL for concurrent readers, foreign keys on
/// (off by default in SQLite), a busy timeout so writers wait instead of failing, and temporary
/// b-trees (a GROUP BY, a statement journal) in memory instead of a file created and removed
/// under `/var/tmp` by the statement that needs one; writers checkpoint the log only past
/// 10,000 pages, a background thread does it before ([`checkpoint_in_background`]).
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
                              PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                              PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 10000;";

/// The SQLite file path of a `sqlite://` URL or plain path.
pub fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
}

/// TLS modes that need libpq built with OpenSSL.
fn requires_tls(url: &str) -> bool {
    [
        "sslmode=require",
        "sslmode=verify-ca",
        "sslmode=verify-full",
    ]
    .iter()
    .any(|m| url.contains(m))
}

/// Opens one connection, choosing the backend by URL scheme.
pub fn establish(url: &str) -> ConnectionResult<AnyConnection> {
    match Backend::of_url(url) {
        Backend::Postgres => {
            if requires_tls(url) && !cfg!(feature = "postgres-tls") {
                return Err(ConnectionError::BadConnection(
                    "this build has no TLS support for PostgreSQL but the URL asks for sslmode=require \
                     or verify-*; rebuild with `cargo build --features postgres-tls`"
                        .into(),
                ));
            }
            let mut c = diesel::PgConnection::establish(url)?;
            // Timestamps are written from the application in UTC; keep the session in UTC too.
            c.batch_execute("SET TIME ZONE 'UTC'")
                .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
            Ok(AnyConnection::Postgresql(c))
        }
        Backend::Sqlite => {
            let path = sqlite_path(url);
            let dir = Path::new(path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty());
            if let (false, Some(dir)) = (path == ":memory:", dir) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    ConnectionError::BadConnection(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            let mut c = diesel::SqliteConnection::establish(path)?;
            c.batch_execute(SQLITE_PRAGMAS)
                .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
            Ok(AnyConnection::Sqlite(c))
        }
    }
}

/// r2d2 manager that dispatches on the URL scheme.
#[derive(Debug)]
pub struct AnyManager {
    url: String,
    /// Keep diesel's per-connection prepared statements (off behind a PgBouncer older than
    /// 1.21 in transaction mode, which cannot follow them across server connections).
    statement_cache: bool,
    /// Held while the pool lives: the SQLite checkpointer stops when it is gone.
    _alive: std::sync::Arc<()>,
}

impl ManageConnection for AnyManager {
    type Connection = AnyConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, Self::Error> {
        let mut c = establish(&self.url).map_err(diesel::r2d2::Error::ConnectionError)?;
        if let AnyConnection::Postgresql(pg) = &mut c {
            watch::install(pg);
            if !self.statement_cache {
                pg.set_prepared_statement_cache_size(diesel::connection::CacheSize::Disabled);
            }
        }
        Ok(c)
    }

    /// A PostgreSQL connection is pinged, a SQLite one (a file handle in this process) is always
    /// valid. The pool does not call this on checkout (a round trip per request, a tenth of an
    /// everyday write's): a connection a server restart or failover left dead fails its first
    /// statement instead, which answers that request 503 and marks the connection broken
    /// ([`Self::has_broken`]: its [`watch`] saw the server gone), so the pool drops it.
    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), Self::Error> {
        match conn {
            AnyConnection::Sqlite(_) => Ok(()),
            AnyConnection::Postgresql(_) => conn.ping().map_err(diesel::r2d2::Error::QueryError),
        }
    }

    /// Broken: a connection in a transaction it did not finish, or one a statement found its
    /// server gone on ([`watch`]).
    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        if let AnyConnection::Postgresql(pg) = conn
            && watch::lost(pg)
        {
            return true;
        }
        conn.is_broken()
    }
}

/// The shared connection pool.
pub type DbPool = Pool<AnyManager>;

/// A connection checked out of the pool.
pub type PooledConn = diesel::r2d2::PooledConnection<AnyManager>;

/// Builds the pool. `size` 0 picks 2 for SQLite (one writer at a time; a small pool keeps
/// lock waits short) and 10 for PostgreSQL. Fails fast when the database is unreachable.
pub fn build_pool(
    url: &str,
    size: u32,
    timeout: Duration,
    statement_cache: bool,
) -> anyhow::Result<DbPool> {
    let backend = Backend::of_url(url);
    let size = match (size, backend) {
        (0, Backend::Sqlite) => 2,
        (0, Backend::Postgres) => 10,
        (n, _) => n,
    };
    // Connect once outside r2d2 so the real error (bad URL, TLS, refused) reaches the operator.
    establish(url)
        .map_err(|e| anyhow::anyhow!("cannot connect to the {backend:?} database: {e}"))?;
    let alive = std::sync::Arc::new(());
    if backend == Backend::Sqlite && sqlite_path(url) != ":memory:" {
        checkpoint_in_background(url, std::sync::Arc::downgrade(&alive));
    }
    Pool::builder()
        .max_size(size)
        .connection_timeout(timeout)
        .test_on_check_out(false)
        .build(AnyManager {
            url: url.to_string(),
            statement_cache,
            _alive: alive,
        })
        .map_err(|e| anyhow::anyhow!("cannot build the connection pool: {e}"))
}

/// How often the SQLite checkpointer copies the write-ahead log into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(50);

/// Checkpoints a SQLite database's write-ahead log from a thread of its own, every
/// [`CHECKPOINT_EVERY`], while `alive` can be upgraded (the pool lives). SQLite otherwise
/// checkpoints inside the commit that fills the log past `wal_autocheckpoint` pages: copying
/// pages and an `fsync` while that writer holds the database's one write lock, so every other
/// writer waits. A passive checkpoint takes no write lock; the pragma's threshold (raised to
/// 10,000 pages, see [`SQLITE_PRAGMAS`]) stays as the backstop should this thread fall behind.
fn checkpoint_in_background(url: &str, alive: std::sync::Weak<()>) {
    let url = url.to_string();
    let spawned = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            let Ok(mut conn) = establish(&url) else {
                tracing::warn!("the SQLite checkpointer could not connect; writers checkpoint");
                return;
            };
            while alive.upgrade().is_some() {
                std::thread::sleep(CHECKPOINT_EVERY);
                if let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)") {
                    tracing::warn!(error = %e, "SQLite checkpoint failed");
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no SQLite checkpointer thread; writers checkpoint");
    }
}

/// Applies pending migrations for the connection's backend; returns how many ran.
pub fn run_migrations(conn: &mut AnyConnection) -> anyhow::Result<usize> {
    let applied = match conn {
        AnyConnection::Postgresql(c) => c
            .run_pending_migrations(POSTGRES_MIGRATIONS)
            .map(|v| v.len()),
        AnyConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
    };
    let applied = applied.map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
    if applied > 0 {
        analyze_tables_with_rows(conn)
            .map_err(|e| anyhow::anyhow!("ANALYZE after migrations failed: {e}"))?;
    }
    Ok(applied)
}

/// Fresh planner statistics for every table that has rows (after migrations: a new index or a
/// table filled by a migration has none, and the planner then takes a write's index probe for a
/// scan). Empty tables are left alone on purpose: on PostgreSQL an empty table's statistics make
/// the plans a connection caches (its foreign-key checks, its prepared statements) sequential
/// scans, which stay scans as the table grows, while a table never analyzed is planned as index
/// probes. Returns the tables analyzed.
pub fn analyze_tables_with_rows(conn: &mut AnyConnection) -> QueryResult<Vec<String>> {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    #[derive(QueryableByName)]
    struct Has {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        has: bool,
    }
    let list = match conn.backend() {
        Backend::Postgres => {
            "SELECT tablename::text AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1"
        }
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
        }
    };
    let names: Vec<Name> = diesel::sql_query(list).load(conn)?;
    let mut analyzed = Vec::new();
    for Name { name } in names {
        // Names come from the catalogue, quoted as identifiers.
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        let has: Has = diesel::sql_query(format!("SELECT EXISTS (SELECT 1 FROM {quoted}) AS has"))
            .get_result(conn)?;
        if has.has {
            diesel::sql_query(format!("ANALYZE {quoted}")).execute(conn)?;
            analyzed.push(name);
        }
    }
    Ok(analyzed)
}

/// Runs `f` in a write transaction. On SQLite it begins with `BEGIN IMMEDIATE`, taking the write
/// lock up front: a deferred transaction that reads and then writes fails at once with
/// "database is locked" when another writer is active, instead of waiting. Its audit entries
/// are appended together at its end ([`models::admin::audit::gathering`]).
pub fn write_transaction<T, E, F>(conn: &mut AnyConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    use models::admin::audit::gathering;
    if conn.backend() == Backend::Postgres {
        return conn.transaction(|c| gathering(c, f));
    }
    if let AnyConnection::Sqlite(c) = conn {
        // Inside a transaction already (a write made of several): a savepoint, which holds
        // the write lock the outer transaction took.
        let depth =
            AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth()?;
        if depth.is_some() {
            return conn.transaction(|c| gathering(c, f));
        }
        AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
    }
    let result = gathering(conn, f);
    if let AnyConnection::Sqlite(c) = conn {
        match &result {
            Ok(_) => AnsiTransactionManager::commit_transaction(c)?,
            Err(_) => AnsiTransactionManager::rollback_transaction(c)?,
        }
    }
    result
}

/// Runs a closure with a pooled connection on the blocking thread pool.
pub async fn run<T, F>(pool: &DbPool, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = pool
            .get()
            .map_err(|e| AppError::Unavailable(e.to_string()))?;
        f(&mut conn)
    })
    .await
    .map_err(|e| AppError::Unexpected(anyhow::anyhow!("database task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn names(backend: &str) -> BTreeSet<String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(backend);
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn migration_folders_hold_the_same_names() {
        let sqlite = names("sqlite");
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, names("postgres"));
        for backend in ["sqlite", "postgres"] {
            for n in names(backend) {
                let d = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("migrations")
                    .join(backend)
                    .join(&n);
                assert!(
                    d.join("up.sql").is_file() && d.join("down.sql").is_file(),
                    "{backend}/{n}"
                );
            }
        }
    }

    /// A migration's statements with comments, blank lines, case and the spelling of boolean
    /// defaults (SQLite `1`/`0`, PostgreSQL `TRUE`/`FALSE`) normalised away.
    fn statements(backend: &str, name: &str, file: &str) -> Vec<String> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(backend)
            .join(name)
            .join(file);
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| l.split("--").next().unwrap_or("").trim().to_uppercase())
            .filter(|l| !l.is_empty())
            .map(|l| {
                l.replace("DEFAULT 1", "DEFAULT TRUE")
                    .replace("DEFAULT 0", "DEFAULT FALSE")
            })
            .collect()
    }

    /// Migrations whose SQL may differ between the backends, each with why. Every other
    /// migration must say the same thing to both.
    const DIALECT_DIFFERENCES: &[(&str, &str)] = &[
        (
            "2026-11-22-000003_lab_clients",
            "SQLite cannot add a CHECK constraint or relax NOT NULL: the table is rebuilt",
        ),
        (
            "2026-12-01-000015_barcodes_per_hospital",
            "SQLite cannot drop a column's UNIQUE constraint: the table is rebuilt",
        ),
        (
            "2026-12-01-000017_infant_search",
            "the phone index is filled from the JSON array: json_each on SQLite, jsonb_array_elements_text on PostgreSQL",
        ),
        (
            "2026-12-07-000024_card_value_panels",
            "the panels are built and the dbs_results view read with each backend's JSON functions \
             (json_group_object and json_each on SQLite, json_object_agg and json_each on \
             PostgreSQL, whose panel row also takes toast_tuple_target)",
        ),
        (
            "2026-12-07-000025_check_domains",
            "PostgreSQL re-parses a table's CHECKs in every insert and caches a domain's: the \
             write path's single-column CHECKs become domains there; SQLite keeps its CHECKs",
        ),
    ];

    #[test]
    fn migrations_say_the_same_to_both_backends() {
        for name in names("sqlite") {
            for file in ["up.sql", "down.sql"] {
                let same = statements("sqlite", &name, file) == statements("postgres", &name, file);
                let excused = DIALECT_DIFFERENCES.iter().any(|(n, _)| *n == name);
                assert!(
                    same || excused,
                    "{name}/{file} differs between sqlite and postgres; make them the same or \
                     list the migration in DIALECT_DIFFERENCES with the reason"
                );
                if excused && file == "up.sql" {
                    assert!(
                        !same,
                        "{name} no longer differs: remove it from DIALECT_DIFFERENCES"
                    );
                }
            }
        }
    }

    #[test]
    fn backend_is_chosen_by_scheme() {
        assert_eq!(Backend::of_url("postgres://h/db"), Backend::Postgres);
        assert_eq!(Backend::of_url("postgresql://h/db"), Backend::Postgres);
        assert_eq!(Backend::of_url("sqlite://data/g.db"), Backend::Sqlite);
        assert_eq!(sqlite_path("sqlite://data/g.db"), "data/g.db");
        assert_eq!(sqlite_path("/tmp/x.db"), "/tmp/x.db");
    }

    #[test]
    fn tls_without_the_feature_fails_clearly() {
        if cfg!(feature = "postgres-tls") {
            return;
        }
        let Err(err) = establish("postgres://postgres@127.0.0.1:1/x?sslmode=require") else {
            panic!("expected an error");
        };
        assert!(err.to_string().contains("postgres-tls"), "{err}");
    }

    #[test]
    fn sqlite_file_gets_pragmas_and_migrations() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/sub/g.db", dir.path().display());
        let mut c = establish(&url).unwrap();
        assert!(run_migrations(&mut c).unwrap() >= 1);
        assert_eq!(run_migrations(&mut c).unwrap(), 0);
        #[derive(QueryableByName)]
        struct Fk {
            #[diesel(sql_type = diesel::sql_types::Integer)]
            foreign_keys: i32,
        }
        let fk: Fk = diesel::sql_query("PRAGMA foreign_keys")
            .get_result(&mut c)
            .unwrap();
        assert_eq!(fk.foreign_keys, 1);
    }
}
