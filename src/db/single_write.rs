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
//! every call on a pooled connection (`db::watch`): each statement is inspected as it starts and
//! a second write, or a locking read, fails the call (and so the tests, which run every write
//! path on both backends).

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
    super::watch::start_single(pg);
    // Gathered entries ride in the write; any left would be appended by a second statement,
    // which the debug check refuses.
    let out = gathering(conn, f);
    #[cfg(debug_assertions)]
    if let AnyConnection::Postgresql(pg) = conn {
        super::watch::finish_single(pg);
    }
    out
}
