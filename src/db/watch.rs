//! What a PostgreSQL connection's own statements tell about it, seen through diesel's
//! instrumentation, which the pool installs on every connection it opens ([`ConnWatch`]):
//!
//! - a statement that found the server gone (a restart, a failover) marks the connection lost,
//!   and the pool drops it as it comes back (`AnyManager::has_broken`). Diesel alone notices
//!   only a broken *transaction*: a dead connection used outside one went back to the pool and
//!   failed every request that took it, jobs' and reports' as much as requests'.
//! - in debug builds, while a `write_once` body runs, the statements it starts, so the body's
//!   contract (plain reads, then at most one write) is checked on every call the tests make.

use diesel::Connection;
use diesel::connection::{Instrumentation, InstrumentationEvent};

/// The instrumentation of each pooled PostgreSQL connection.
#[derive(Default)]
pub struct ConnWatch {
    /// A statement failed because the server was lost.
    lost: bool,
    /// The statements of the running `write_once` body, when one runs (debug builds).
    #[cfg(debug_assertions)]
    single: Option<Seen>,
}

impl Instrumentation for ConnWatch {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::FinishQuery { error: Some(e), .. }
                if crate::error::is_connection_lost(e) =>
            {
                self.lost = true
            }
            #[cfg(debug_assertions)]
            InstrumentationEvent::StartQuery { query, .. } => {
                if let Some(seen) = self.single.as_mut() {
                    seen.note(query.to_string());
                }
            }
            _ => {}
        }
    }
}

/// The watch of a connection the pool opened (none on one opened otherwise).
fn of(pg: &mut diesel::PgConnection) -> Option<&mut ConnWatch> {
    pg.instrumentation().downcast_mut::<ConnWatch>()
}

/// Installs a watch on a new connection.
pub fn install(pg: &mut diesel::PgConnection) {
    pg.set_instrumentation(ConnWatch::default());
}

/// True when a statement of this connection found its server gone.
pub fn lost(pg: &mut diesel::PgConnection) -> bool {
    of(pg).is_some_and(|w| w.lost)
}

/// Starts watching a `write_once` body's statements.
#[cfg(debug_assertions)]
pub fn start_single(pg: &mut diesel::PgConnection) {
    if let Some(w) = of(pg) {
        w.single = Some(Seen::default());
    }
}

/// Stops watching; panics (a test failure) when the body broke `write_once`'s contract.
#[cfg(debug_assertions)]
#[allow(clippy::panic)]
pub fn finish_single(pg: &mut diesel::PgConnection) {
    let Some(seen) = of(pg).and_then(|w| w.single.take()) else {
        return;
    };
    if seen.writes.len() > 1 || !seen.locking.is_empty() {
        panic!(
            "write_once: a body of plain reads and one write ran {} writes {:?} and locking reads {:?}",
            seen.writes.len(),
            seen.writes,
            seen.locking
        );
    }
}

/// The statements a `write_once` body started, by kind.
#[cfg(debug_assertions)]
#[derive(Default)]
struct Seen {
    writes: Vec<String>,
    locking: Vec<String>,
}

#[cfg(debug_assertions)]
impl Seen {
    fn note(&mut self, sql: String) {
        if locks(&sql) {
            self.locking.push(sql);
        } else if writes(&sql) {
            self.writes.push(sql);
        }
    }
}

/// A statement that writes: anything but a plain `SELECT` (or a `WITH` of selects only).
#[cfg(debug_assertions)]
fn writes(sql: &str) -> bool {
    let head = sql.trim_start();
    let reads = head.starts_with("SELECT") || head.starts_with("WITH");
    !reads
        || ["INSERT ", "UPDATE ", "DELETE "]
            .iter()
            .any(|k| sql.contains(k))
}

/// A read that takes a row lock, which autocommit would release at once.
#[cfg(debug_assertions)]
fn locks(sql: &str) -> bool {
    [
        " FOR UPDATE",
        " FOR NO KEY UPDATE",
        " FOR SHARE",
        " FOR KEY SHARE",
    ]
    .iter()
    .any(|k| sql.contains(k))
}

#[cfg(all(test, debug_assertions))]
mod tests {
    use super::*;

    #[test]
    fn a_plain_select_reads_and_an_insert_or_a_write_in_a_with_writes() {
        assert!(!writes("SELECT \"infants\".\"id\" FROM \"infants\""));
        assert!(!writes("WITH x AS (SELECT 1) SELECT * FROM x"));
        assert!(writes("INSERT INTO \"infants\" (\"id\") VALUES ($1)"));
        assert!(writes(
            "WITH inserted AS (INSERT INTO cases (id) VALUES ($1)) SELECT 1"
        ));
        assert!(writes("UPDATE cases SET state = $1"));
        assert!(writes("BEGIN"));
    }

    #[test]
    fn a_row_locking_read_is_seen() {
        assert!(locks(
            "SELECT * FROM infants WHERE id = $1 FOR NO KEY UPDATE"
        ));
        assert!(locks("SELECT * FROM infants FOR UPDATE"));
        assert!(!locks("SELECT updated_at FROM infants"));
    }
}
