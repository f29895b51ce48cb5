//! Group commit for SQLite's one writer. SQLite lets one transaction write at a time, and every
//! commit appends each page it changed to the write-ahead log (later copied into the database
//! file by the checkpointer). Everyday writes of many requests change the same pages (the
//! newest leaf of every time-ordered index, the tables' last pages), so a commit per request
//! writes those pages once per request. Here the writes of requests that arrive together run on
//! one thread, one connection, one transaction: each request in a savepoint of its own (a
//! refused request rolls back alone and changes nothing), then one commit for the group, and
//! only then does any of them get its answer, so an answered write is a committed one. A
//! request waits for the group it joined, never for a later one.
//!
//! On PostgreSQL, which has many writers and commits in groups itself, [`Writer::run`] is
//! [`super::run`]: a pooled connection on the blocking pool.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, channel};

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use prometheus_client::metrics::counter::Counter;

use super::{AnyConnection, Backend, DbPool, establish, write_transaction};
use crate::error::AppError;

/// Most requests committed together (a bound on how long the first of a group waits).
pub const MAX_GROUP: usize = 64;

/// Hands a request's answer over once its group's commit is known: `Ok` when committed.
type Done = Box<dyn FnOnce(Result<(), String>) + Send>;

/// One request's writes: runs in the group's transaction, returns how to answer it.
type Job = Box<dyn FnOnce(&mut AnyConnection) -> Done + Send>;

/// A committed (or failed) group's answers, handed from the writer to the answer thread.
type Answers = (Vec<Done>, Result<(), String>);

/// Where write requests run: a group-commit thread on SQLite, the pool on PostgreSQL.
#[derive(Debug, Clone)]
pub struct Writer {
    pool: DbPool,
    lane: Option<Sender<Job>>,
    counts: Counts,
}

/// Groups committed and the requests they held, since start (exported at `/metrics`).
#[derive(Debug, Default, Clone)]
pub struct Counts {
    /// Groups committed.
    pub groups: Counter,
    /// Requests those groups held.
    pub requests: Counter,
}

impl Writer {
    /// Starts the SQLite writer thread on a connection of its own (`url`), or none on
    /// PostgreSQL. The thread ends when the last clone of the returned writer is dropped.
    pub fn start(pool: DbPool, url: &str) -> anyhow::Result<Self> {
        if Backend::of_url(url) != Backend::Sqlite {
            return Ok(Self {
                pool,
                lane: None,
                counts: Counts::default(),
            });
        }
        let conn = establish(url)
            .map_err(|e| anyhow::anyhow!("the SQLite writer could not connect: {e}"))?;
        let (tx, rx) = channel::<Job>();
        let (answer, answers) = channel::<Answers>();
        std::thread::Builder::new()
            .name("sqlite-answers".into())
            .spawn(move || {
                while let Ok((done, committed)) = answers.recv() {
                    tell(done, &committed);
                }
            })
            .map_err(|e| anyhow::anyhow!("no SQLite answer thread: {e}"))?;
        let url = url.to_string();
        let counts = Counts::default();
        let kept = counts.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || serve(&url, conn, &rx, &answer, &kept))
            .map_err(|e| anyhow::anyhow!("no SQLite writer thread: {e}"))?;
        Ok(Self {
            pool,
            lane: Some(tx),
            counts,
        })
    }

    /// Whether writes run on the group-commit thread (SQLite) rather than the pool.
    pub fn groups_commits(&self) -> bool {
        self.lane.is_some()
    }

    /// Groups committed and the requests they held, since start (SQLite; zeros otherwise).
    pub fn committed(&self) -> (u64, u64) {
        (self.counts.groups.get(), self.counts.requests.get())
    }

    /// The counters behind [`Writer::committed`], for the metrics registry.
    pub fn counts(&self) -> Counts {
        self.counts.clone()
    }

    /// Runs `f`, which writes in transactions of its own ([`write_transaction`]), and answers
    /// once its writes are committed. On SQLite it runs in a savepoint of a group's
    /// transaction, so a refused `f` rolls back alone. `f` must use only the connection it is
    /// given (another connection would wait for the group's write lock).
    pub async fn run<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let Some(lane) = &self.lane else {
            // The services open their own transactions; a wrapping one would add savepoints.
            return super::run(&self.pool, f).await;
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let out = write_transaction(conn, f);
            Box::new(move |committed: Result<(), String>| {
                let answer = match committed {
                    Ok(()) => out,
                    // Nothing of the group was kept, this request's writes included.
                    Err(e) => Err(AppError::Unavailable(e)),
                };
                let _ = tx.send(answer);
            })
        });
        lane.send(job)
            .map_err(|_| AppError::Unavailable("the database writer has stopped".into()))?;
        rx.await.map_err(|_| {
            AppError::Unavailable("the write was abandoned; nothing of it was kept".into())
        })?
    }
}

/// The writer thread: waits for a request, then runs it and every request already waiting
/// (up to [`MAX_GROUP`]) in one transaction, commits, and has them all answered. A write that
/// panics takes its group down (rolled back, each told so) and the connection is replaced.
///
/// The answers go out on a thread of their own (`answer`): waking each waiting request is a
/// system call (about a tenth of this thread's time in the write bench), and this thread, the
/// one every write waits for, goes on with the next group meanwhile.
fn serve(
    url: &str,
    mut conn: AnyConnection,
    rx: &Receiver<Job>,
    answer: &Sender<Answers>,
    counts: &Counts,
) {
    while let Ok(first) = rx.recv() {
        if let Err(e) = begin(&mut conn) {
            // Dropping the request answers it: abandoned, nothing kept.
            tracing::error!(error = %e, "the SQLite writer could not begin a transaction");
            drop(first);
            continue;
        }
        let mut done: Vec<Done> = Vec::with_capacity(8);
        let mut next = Some(first);
        let mut panicked = false;
        while let Some(job) = next.take() {
            match catch_unwind(AssertUnwindSafe(|| job(&mut conn))) {
                Ok(d) => done.push(d),
                Err(_) => {
                    panicked = true;
                    break;
                }
            }
            if done.len() < MAX_GROUP {
                next = rx.try_recv().ok();
            }
        }
        let committed = if panicked {
            Err("a write of its group failed; nothing of the group was kept".to_string())
        } else {
            end(&mut conn, true)
        };
        if committed.is_ok() {
            counts.groups.inc();
            counts.requests.inc_by(done.len() as u64);
        }
        if let Err(e) = &committed {
            tracing::error!(error = %e, requests = done.len(), "a group of writes was rolled back");
            // A fresh connection: closing this one rolls back whatever it holds, whatever
            // state its transaction bookkeeping was left in.
            match establish(url) {
                Ok(fresh) => conn = fresh,
                Err(err) => {
                    tracing::error!(error = %err, "the SQLite writer could not reconnect");
                    let _ = end(&mut conn, false);
                }
            }
        }
        if let Err(std::sync::mpsc::SendError((done, committed))) = answer.send((done, committed)) {
            // The answer thread is gone: answer here.
            tell(done, &committed);
        }
    }
}

/// Answers each request of a group with the group's outcome.
fn tell(done: Vec<Done>, committed: &Result<(), String>) {
    for d in done {
        d(committed.clone());
    }
}

/// `BEGIN IMMEDIATE`: the write lock from the start (see [`write_transaction`]).
fn begin(conn: &mut AnyConnection) -> Result<(), String> {
    match conn {
        AnyConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
                .map_err(|e| e.to_string())
        }
        AnyConnection::Postgresql(_) => Err("the group writer is for SQLite".into()),
    }
}

/// Commits (or rolls back) the group's transaction.
fn end(conn: &mut AnyConnection, commit: bool) -> Result<(), String> {
    match conn {
        AnyConnection::Sqlite(c) if commit => {
            AnsiTransactionManager::commit_transaction(c).map_err(|e| e.to_string())
        }
        AnyConnection::Sqlite(c) => {
            AnsiTransactionManager::rollback_transaction(c).map_err(|e| e.to_string())
        }
        AnyConnection::Postgresql(_) => Err("the group writer is for SQLite".into()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::time::Duration;

    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;

    use super::*;
    use crate::db::build_pool;

    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }

    fn rows(pool: &DbPool) -> i64 {
        let mut c = pool.get().unwrap();
        diesel::sql_query("SELECT COUNT(*) AS n FROM t")
            .get_result::<N>(&mut c)
            .unwrap()
            .n
    }

    fn insert(c: &mut AnyConnection, v: i64) -> Result<(), AppError> {
        diesel::sql_query(format!("INSERT INTO t (v) VALUES ({v})"))
            .execute(c)
            .map(|_| ())
            .map_err(AppError::from)
    }

    /// Requests queued behind a running one commit with it, in one group; a refused one in the
    /// middle changes nothing and the others still land; a panicking one takes its whole group
    /// down (each told it was not kept) and the writer goes on with the next.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_writes_commit_together_and_fail_alone() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/g.db", dir.path().display());
        let pool = build_pool(&url, 2, Duration::from_secs(5), true).unwrap();
        pool.get()
            .unwrap()
            .batch_execute("CREATE TABLE t (v INTEGER NOT NULL CHECK (v >= 0))")
            .unwrap();
        let writer = Writer::start(pool.clone(), &url).unwrap();

        // The first request holds the writer until the others are queued.
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let w = writer.clone();
        let first = tokio::spawn(async move {
            w.run(move |c| {
                gate.recv_timeout(Duration::from_secs(10)).unwrap();
                insert(c, 1)
            })
            .await
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut others = Vec::new();
        for v in [2_i64, -1, 3] {
            let w = writer.clone();
            others.push(tokio::spawn(async move {
                // Writes, then is refused: its savepoint rolls back alone.
                w.run(move |c| insert(c, v.abs() + 100).and_then(|()| insert(c, v)))
                    .await
            }));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        release.send(()).unwrap();
        assert!(first.await.unwrap().is_ok());
        let outcomes: Vec<bool> = futures_join(others).await;
        assert_eq!(outcomes, vec![true, false, true]);
        assert_eq!(writer.committed(), (1, 4), "one group of four requests");
        // 1, 102 and 2, 103 and 3: the refused request's 101 is gone with it.
        assert_eq!(rows(&pool), 5);

        // A panic rolls back its group; the writer carries on.
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let w = writer.clone();
        let held = tokio::spawn(async move {
            w.run(move |c| {
                gate.recv_timeout(Duration::from_secs(10)).unwrap();
                insert(c, 7)
            })
            .await
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let w = writer.clone();
        let boom = tokio::spawn(async move {
            w.run(|_| -> Result<(), AppError> { panic!("a write that panics") })
                .await
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        release.send(()).unwrap();
        assert!(matches!(held.await.unwrap(), Err(AppError::Unavailable(_))));
        assert!(matches!(boom.await.unwrap(), Err(AppError::Unavailable(_))));
        assert_eq!(rows(&pool), 5, "nothing of the failed group was kept");
        writer.run(|c| insert(c, 8)).await.unwrap();
        assert_eq!(rows(&pool), 6);
    }

    async fn futures_join(tasks: Vec<tokio::task::JoinHandle<Result<(), AppError>>>) -> Vec<bool> {
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap().is_ok());
        }
        out
    }
}
