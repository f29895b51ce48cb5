//! More than one server on PostgreSQL: a primary and a streaming replica built here from the
//! PostgreSQL binaries (`initdb`, `pg_basebackup -R`, two free ports), two servers on the
//! primary. Reports read the replica (shown by pausing its replay), everything a user just
//! changed reads the primary, jobs run once per tick across both servers, and a primary restart
//! in the middle of a stream of writes loses no acknowledged write and answers 503, never 500.
//! Runs with `TEST_DATABASE_URL` (the PostgreSQL run of the suite); skipped on SQLite.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::Duration;
use diesel::{Connection, PgConnection, RunQueryDsl};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDb, epoch, register_infant};

/// The PostgreSQL server binaries (Debian: /usr/lib/postgresql/<major>/bin).
fn pg_bin(name: &str) -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let mut majors: Vec<PathBuf> = std::fs::read_dir(root)
        .expect("PostgreSQL server binaries under /usr/lib/postgresql")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    majors.sort();
    majors
        .pop()
        .expect("a PostgreSQL major version")
        .join("bin")
        .join(name)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a PostgreSQL tool, as the `postgres` user when the tests run as root (the server
/// refuses to run as root).
fn pg(name: &str, args: &[&str]) {
    let bin = pg_bin(name);
    let out = if is_root() {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(&bin)
            .args(args)
            .output()
    } else {
        Command::new(&bin).args(args).output()
    }
    .unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(
        out.status.success(),
        "{name} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A throwaway PostgreSQL server (data directory, port), stopped when dropped.
struct PgServer {
    data: PathBuf,
    port: u16,
}

impl PgServer {
    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn ctl(&self, args: &[&str]) {
        let data = self.data.display().to_string();
        let log = format!("{data}.log");
        let mut all = vec!["-D", &data, "-l", &log, "-w"];
        all.extend_from_slice(args);
        pg("pg_ctl", &all);
    }

    fn conf(&self, lines: &str) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.data.join("postgresql.conf"))
            .unwrap();
        writeln!(f, "{lines}").unwrap();
    }

    fn connect(&self) -> PgConnection {
        PgConnection::establish(&self.url()).unwrap()
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        let _ =
            std::panic::catch_unwind(|| pg("pg_ctl", &["-D", &data, "-m", "immediate", "stop"]));
    }
}

/// A primary and a streaming replica of it in `dir`.
fn primary_and_replica(dir: &Path) -> (PgServer, PgServer) {
    if is_root() {
        assert!(
            Command::new("chown")
                .args(["-R", "postgres", &dir.display().to_string()])
                .status()
                .unwrap()
                .success()
        );
    }
    let primary = PgServer {
        data: dir.join("primary"),
        port: free_port(),
    };
    let p = primary.data.display().to_string();
    pg(
        "initdb",
        &[
            "-D",
            &p,
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
    );
    let sock = dir.display().to_string();
    primary.conf(&format!(
        "port = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{sock}'\n\
         wal_level = replica\nmax_wal_senders = 4\nfsync = off\nhot_standby = on",
        primary.port
    ));
    primary.ctl(&["start"]);
    let replica = PgServer {
        data: dir.join("replica"),
        port: free_port(),
    };
    let r = replica.data.display().to_string();
    let port = primary.port.to_string();
    pg(
        "pg_basebackup",
        &[
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            "postgres",
            "-D",
            &r,
            "-R",
            "-X",
            "stream",
        ],
    );
    replica.conf(&format!("port = {}", replica.port));
    replica.ctl(&["start"]);
    (primary, replica)
}

/// The number of births the report counts (the largest denominator of its indicators).
fn births(report: &Value) -> i64 {
    report["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["denominator"].as_i64())
        .max()
        .unwrap_or(0)
}

/// Waits until the replica has replayed everything the primary has written.
async fn caught_up(primary: &PgServer, replica: &PgServer) {
    #[derive(diesel::QueryableByName)]
    struct Lsn {
        #[diesel(sql_type = diesel::sql_types::Text)]
        lsn: String,
    }
    let target: Lsn = diesel::sql_query("SELECT pg_current_wal_lsn()::text AS lsn")
        .get_result(&mut primary.connect())
        .unwrap();
    for _ in 0..200 {
        #[derive(diesel::QueryableByName)]
        struct Done {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            done: bool,
        }
        let d: Done = diesel::sql_query(format!(
            "SELECT pg_last_wal_replay_lsn() >= '{}'::pg_lsn AS done",
            target.lsn
        ))
        .get_result(&mut replica.connect())
        .unwrap();
        if d.done {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the replica did not catch up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_a_replica_and_a_primary_restart() {
    if std::env::var("TEST_DATABASE_URL").map_or(true, |u| u.is_empty()) {
        return; // PostgreSQL only: streaming replication has no SQLite counterpart.
    }
    let dir = tempfile::tempdir().unwrap();
    let (primary, replica) = primary_and_replica(dir.path());
    let app = TestApp::spawn_full(
        &[
            ("GUTHRIE__DATABASE__READ_URL", replica.url().as_str()),
            ("GUTHRIE__DATABASE__CONNECT_TIMEOUT_SECS", "2"),
        ],
        "",
        TestDb::at(&primary.url()),
    )
    .await;
    let (_, hospital) = app.hospital_with_token("RP").await;
    let lab = app.staff_token("lab", "clinician", None).await;
    let day = (epoch() - Duration::hours(72)).date_naive();
    let report_url = format!("/api/v1/reports/quality?from={day}&to={day}");
    let report = || async {
        let r = app.get(&report_url, &lab).await;
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()
    };

    // Reports read the replica.
    register_infant(&app, &hospital, "R1", 72).await;
    caught_up(&primary, &replica).await;
    let r = report().await;
    assert_eq!(r["data"]["source"], "replica", "{}", r["data"]);
    assert_eq!(r["data"]["lag_seconds"], 0.0);
    assert_eq!(births(&r), 1);
    let ready: Value = app.get("/readyz", "").await.json().await.unwrap();
    assert_eq!(ready["replica"]["status"], "streaming", "{ready}");

    // With the replica's replay paused, a new infant is on the primary at once (the user who
    // registered it sees it) but not yet in the report, which says how old its data is.
    diesel::sql_query("SELECT pg_wal_replay_pause()")
        .execute(&mut replica.connect())
        .unwrap();
    let (r2, _) = register_infant(&app, &hospital, "R2", 72).await;
    assert_eq!(
        app.get(&format!("/api/v1/infants/{r2}"), &hospital)
            .await
            .status(),
        200
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let r = report().await;
    assert_eq!(births(&r), 1, "the paused replica has not replayed R2");
    assert!(
        r["data"]["lag_seconds"].as_f64().unwrap() > 0.0,
        "{}",
        r["data"]
    );
    let ready: Value = app.get("/readyz", "").await.json().await.unwrap();
    assert!(
        ready["replica"]["lag_seconds"].as_f64().unwrap() > 0.0,
        "{ready}"
    );
    diesel::sql_query("SELECT pg_wal_replay_resume()")
        .execute(&mut replica.connect())
        .unwrap();
    caught_up(&primary, &replica).await;
    assert_eq!(births(&report().await), 2);

    // A second server on the same primary: each scheduled tick runs on one of them.
    let settings = crate::helpers::settings(&TestDb::at(&primary.url()), &[]);
    let pool = guthrie::startup::open_database(&settings).unwrap();
    let other = guthrie::startup::build_state(settings, pool, app.clock.clone()).unwrap();
    for minute in 1..=3 {
        let fired = epoch() + Duration::minutes(minute);
        let (a, b) = tokio::join!(
            guthrie::jobs::tick(&app.state, guthrie::jobs::Job::Escalation, fired),
            guthrie::jobs::tick(&other, guthrie::jobs::Job::Escalation, fired)
        );
        let ran = [a.unwrap(), b.unwrap()].iter().flatten().count();
        assert_eq!(ran, 1, "tick {minute}");
    }

    // The primary restarts while infants are being registered: each request is acknowledged
    // (201) or refused with 503, never 500; every acknowledged one is there afterwards; the
    // pool recovers without a server restart.
    let writer = {
        let (base, http, token) = (app.base.clone(), app.http.clone(), hospital.clone());
        tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for k in 0..400 {
                let mrn = format!("W{k}");
                let mut body = crate::helpers::infant_body(&mrn);
                body["birth_at"] = json!((epoch() - Duration::hours(72)).to_rfc3339());
                body["mother"]
                    .as_object_mut()
                    .unwrap()
                    .remove("id_document");
                let status = http
                    .post(format!("{base}/api/v1/infants"))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                outcomes.push((mrn, status));
                let recovered = outcomes.iter().rev().take(20).all(|(_, s)| *s == 201);
                if k > 60 && recovered && outcomes.iter().any(|(_, s)| *s == 503) {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            outcomes
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let (data, port) = (primary.data.clone(), primary.port);
    tokio::task::spawn_blocking(move || {
        // Stopped for a moment (a failover or a minor-version upgrade), then back.
        let p = PgServer { data, port };
        p.ctl(&["-m", "fast", "stop"]);
        std::thread::sleep(std::time::Duration::from_millis(1500));
        p.ctl(&["start"]);
        std::mem::forget(p);
    })
    .await
    .unwrap();
    let outcomes = writer.await.unwrap();
    let acknowledged: Vec<&str> = outcomes
        .iter()
        .filter(|(_, s)| *s == 201)
        .map(|(m, _)| m.as_str())
        .collect();
    let refused = outcomes.iter().filter(|(_, s)| *s == 503).count();
    assert!(
        outcomes.iter().all(|(_, s)| *s == 201 || *s == 503),
        "only 201 or 503: {outcomes:?}"
    );
    assert!(refused > 0, "the restart was seen: {outcomes:?}");
    assert!(
        outcomes.iter().rev().take(20).all(|(_, s)| *s == 201),
        "the pool recovered: {outcomes:?}"
    );
    let stored = crate::helpers::count(
        &app,
        "SELECT COUNT(*) AS n FROM infants WHERE mrn LIKE 'W%'",
    );
    assert!(
        stored >= acknowledged.len() as i64,
        "{stored} stored, {} acknowledged",
        acknowledged.len()
    );
    for mrn in acknowledged {
        let n = crate::helpers::count(
            &app,
            &format!("SELECT COUNT(*) AS n FROM infants WHERE mrn = '{mrn}'"),
        );
        assert_eq!(n, 1, "acknowledged {mrn} is stored");
    }
    drop(other);
    drop(app);
}

/// Behind a PgBouncer older than 1.21 in transaction mode a connection cannot keep prepared
/// statements: with `database.prepared_statements = false` the server keeps none, and the
/// everyday writes (registration, card, a positive result with its case and facts) still work.
#[tokio::test]
async fn without_prepared_statements_nothing_is_kept_on_the_connection() {
    if std::env::var("TEST_DATABASE_URL").map_or(true, |u| u.is_empty()) {
        return; // A PostgreSQL setting.
    }
    for prepared in [true, false] {
        let flag = prepared.to_string();
        let app = TestApp::spawn_full(
            &[
                ("GUTHRIE__DATABASE__PREPARED_STATEMENTS", flag.as_str()),
                ("GUTHRIE__DATABASE__POOL_SIZE", "1"),
            ],
            "",
            TestDb::new(),
        )
        .await;
        let (_, hospital) = app.hospital_with_token("PS").await;
        let lab = app.staff_token("lab", "clinician", None).await;
        let (_, barcode) = crate::screening::infant_with_card(&app, &hospital, "PS1").await;
        let r = app
            .post(
                "/api/v1/results",
                &lab,
                &json!({"cards": [{"barcode": barcode,
                                    "results": crate::screening::panel(&[("C16-OH", 0.5)])}]}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let kept = crate::helpers::count(&app, "SELECT COUNT(*) AS n FROM pg_prepared_statements");
        assert_eq!(
            kept > 0,
            prepared,
            "prepared_statements = {prepared}: {kept} kept"
        );
        assert_eq!(
            crate::helpers::count(&app, "SELECT COUNT(*) AS n FROM cases"),
            1,
            "the positive opened its case"
        );
    }
}
