//! `db::write_once`: on PostgreSQL a body of plain reads and one write runs in autocommit, and
//! debug builds (these tests) refuse a body that breaks that contract; on SQLite it is a write
//! transaction. And a pooled connection whose server went away is known lost (`db::watch`).

use std::panic::AssertUnwindSafe;

use diesel::RunQueryDsl;
use guthrie::db::{AnyConnection, Backend, write_once};

use crate::helpers::TestApp;

/// Runs `body` through `write_once` on a pooled connection: `Err` when it panicked.
async fn run_once(
    app: &TestApp,
    body: fn(&mut AnyConnection) -> diesel::QueryResult<()>,
) -> (Backend, Result<diesel::QueryResult<()>, ()>) {
    let pool = app.state.pool.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().unwrap();
        let backend = conn.backend();
        let out = std::panic::catch_unwind(AssertUnwindSafe(|| write_once(&mut conn, body)));
        (backend, out.map_err(|_| ()))
    })
    .await
    .unwrap()
}

fn rename(c: &mut AnyConnection, name: &str) -> diesel::QueryResult<usize> {
    diesel::sql_query(format!(
        "UPDATE hospitals SET name = '{name}' WHERE code = 'A'"
    ))
    .execute(c)
}

#[tokio::test]
async fn a_single_write_body_with_a_second_write_or_a_row_lock_is_refused_on_postgres() {
    let app = TestApp::spawn().await;
    app.hospital("A").await;
    // Reads and one write: fine on both backends.
    let (backend, out) = run_once(&app, |c| {
        diesel::sql_query("SELECT 1 AS one").execute(c)?;
        rename(c, "one write").map(|_| ())
    })
    .await;
    assert!(matches!(out, Ok(Ok(()))));
    // Two writes: a transaction's worth, which autocommit would not make atomic.
    let (_, two) = run_once(&app, |c| {
        rename(c, "first")?;
        rename(c, "second").map(|_| ())
    })
    .await;
    // A row lock, which autocommit would drop as soon as it was taken.
    let (_, locked) = run_once(&app, |c| {
        diesel::sql_query("SELECT id FROM hospitals WHERE code = 'A' FOR UPDATE").execute(c)?;
        rename(c, "locked").map(|_| ())
    })
    .await;
    match backend {
        Backend::Postgres => {
            assert!(two.is_err(), "two writes must be refused");
            assert!(locked.is_err(), "a locking read must be refused");
        }
        // SQLite: a write transaction, where two writes are fine (and `FOR UPDATE` is a
        // syntax error, not a panic).
        Backend::Sqlite => {
            assert!(matches!(two, Ok(Ok(()))));
            assert!(locked.is_ok());
        }
    }
}

#[tokio::test]
async fn a_pooled_connection_that_found_its_server_gone_is_marked_lost_on_postgres() {
    #[derive(diesel::QueryableByName)]
    struct Pid {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pid: i32,
    }
    let app = TestApp::spawn().await;
    let pool = app.state.pool.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().unwrap();
        let AnyConnection::Postgresql(pg) = &mut *conn else {
            return; // SQLite: a file in this process, never lost.
        };
        let pid: Pid = diesel::sql_query("SELECT pg_backend_pid() AS pid")
            .get_result(pg)
            .unwrap();
        assert!(!guthrie::db::watch::lost(pg));
        // Its server session ends (as in a restart), seen from another connection.
        let mut other = pool.get().unwrap();
        diesel::sql_query(format!("SELECT pg_terminate_backend({})", pid.pid))
            .execute(&mut *other)
            .unwrap();
        // Outside a transaction, where diesel alone would call the connection healthy.
        let err = diesel::sql_query("SELECT 1").execute(pg).unwrap_err();
        assert!(guthrie::error::is_connection_lost(&err), "{err:?}");
        assert!(
            guthrie::db::watch::lost(pg),
            "the pool would take the dead connection back"
        );
    })
    .await
    .unwrap();
}
