//! A write of one statement on PostgreSQL, without `BEGIN` and `COMMIT`.
//!
//! Many requests read a little (the hospital, the infant) and then write once: one insert that
//! carries its audit entry and its quality facts in the same statement. A transaction around
//! that costs two round trips more (`BEGIN`, `COMMIT`) and gains nothing under PostgreSQL's
//! `READ COMMITTED`: a plain read inside a transaction sees no more than the same read just
//! before it (each statement takes its own snapshot; a plain read holds no lock), and one
//! statement is atomic on its own. [`write_once`] runs such a body in autocommit.
//!
//! The body's contract: plain reads (no `FOR UPDATE`/`FOR SHARE`), then at most one statement
//! that writes, with every audit entry riding in it (`audit::ride`). Debug builds check it on
//! every call: each statement is inspected as it starts and a second write, or a locking read,
//! fails the call (and so the tests, which run every write path on both backends).

use diesel::connection::{AnsiTransactionManager, TransactionManager};

use super::{AnyConnection, write_transaction};
use crate::db::models::admin::audit::gathering;

/// Runs `f`, a body of plain reads and then one write statement (see the module's contract),
/// atomically: on PostgreSQL outside a transaction in autocommit, two round trips fewer than
/// [`write_transaction`]; inside a transaction, and on SQLite (whose writer takes its lock with
/// `BEGIN IMMEDIATE`), as [`write_transaction`].
pub fn write_once<T, E, F>(conn: &mut AnyConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let AnyConnection::Postgresql(pg) = conn else {
        return write_transaction(conn, f);
    };
    let depth = AnsiTransactionManager::transaction_manager_status_mut(pg).transaction_depth()?;
    if depth.is_some() {
        return write_transaction(conn, f);
    }
    #[cfg(debug_assertions)]
    let watch = contract::Watch::start(pg);
    // Gathered entries ride in the write; any left would be appended by a second statement,
    // which the debug check refuses.
    let out = gathering(conn, f);
    #[cfg(debug_assertions)]
    if let AnyConnection::Postgresql(pg) = conn {
        watch.finish(pg);
    }
    out
}

#[cfg(debug_assertions)]
mod contract {
    use std::sync::{Arc, Mutex};

    use diesel::Connection;
    use diesel::connection::{Instrumentation, InstrumentationEvent};

    /// The statements a [`super::write_once`] body started, by kind.
    #[derive(Default)]
    struct Seen {
        writes: Vec<String>,
        locking: Vec<String>,
    }

    /// Watches a connection's statements while a body runs.
    pub(super) struct Watch(Arc<Mutex<Seen>>);

    /// A statement that writes: anything but a plain `SELECT` (or a `WITH` of selects only).
    fn writes(sql: &str) -> bool {
        let head = sql.trim_start();
        let reads = head.starts_with("SELECT") || head.starts_with("WITH");
        !reads
            || ["INSERT ", "UPDATE ", "DELETE "]
                .iter()
                .any(|k| sql.contains(k))
    }

    /// A read that takes a row lock, which autocommit would release at once.
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

    impl Watch {
        pub(super) fn start(pg: &mut diesel::PgConnection) -> Self {
            let seen = Arc::new(Mutex::new(Seen::default()));
            let sink = seen.clone();
            pg.set_instrumentation(move |event: InstrumentationEvent<'_>| {
                if let InstrumentationEvent::StartQuery { query, .. } = event {
                    let sql = query.to_string();
                    if let Ok(mut s) = sink.lock() {
                        if locks(&sql) {
                            s.locking.push(sql);
                        } else if writes(&sql) {
                            s.writes.push(sql);
                        }
                    }
                }
            });
            Self(seen)
        }

        /// Stops watching; panics (a test failure) when the body broke the contract.
        #[allow(clippy::panic)]
        pub(super) fn finish(self, pg: &mut diesel::PgConnection) {
            pg.set_instrumentation(None::<Box<dyn Instrumentation>>);
            let Ok(seen) = self.0.lock() else { return };
            if seen.writes.len() > 1 || !seen.locking.is_empty() {
                panic!(
                    "write_once: a body of plain reads and one write ran {} writes {:?} and locking reads {:?}",
                    seen.writes.len(),
                    seen.writes,
                    seen.locking
                );
            }
        }
    }

    #[cfg(test)]
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
}
