//! Worklist latency on a large data set: `BENCH_INFANTS` infants (default 1,000,000) and
//! `BENCH_CASES` open cases (default 50,000, a tenth overdue) built by the same generator as
//! `guthrie generate`, then the first page of the overdue worklist fetched over HTTP.
//! SQLite by default; PostgreSQL with `BENCH_DATABASE_URL` (a maintenance database URL).
//! `cargo bench --bench worklist`; target p99 < 20 ms.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use diesel::{Connection, PgConnection, RunQueryDsl};
use guthrie::config::Settings;
use guthrie::startup::Application;
use serde_json::{Value, json};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let (n_infants, n_cases) = (
        env_usize("BENCH_INFANTS", 1_000_000),
        env_usize("BENCH_CASES", 50_000),
    );
    let dir = tempfile::tempdir().unwrap();
    let (url, pg) = match std::env::var("BENCH_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(admin) => {
            let name = format!("guthrie_wl_{}", std::process::id());
            let mut c = PgConnection::establish(&admin).unwrap();
            diesel::sql_query(format!("CREATE DATABASE {name}"))
                .execute(&mut c)
                .unwrap();
            (
                format!("{}/{name}", admin.rsplit_once('/').unwrap().0),
                Some((admin, name)),
            )
        }
        None => (format!("sqlite://{}/bench.db", dir.path().display()), None),
    };
    let vars: HashMap<String, String> = [
        ("GUTHRIE_ENV", "test"),
        ("GUTHRIE__SERVER__PORT", "0"),
        (
            "GUTHRIE__AUTH__JWT_SECRET",
            "bench-secret-0123456789-abcdefghijklmno",
        ),
        ("DATABASE_URL", url.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut settings = Settings::load_with(&config, vars).unwrap();
    settings.catalogue.directory = config.join("catalogue").display().to_string();
    settings.follow_up.policy_directory = config.join("policy").display().to_string();
    let mut app = Application::build(settings).unwrap();
    let admin = app.take_first_admin().unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let pool = app.state().pool.clone();
    tokio::spawn(app.run_until_stopped());

    let started = Instant::now();
    let g = tokio::task::spawn_blocking(move || {
        let mut c = pool.get().unwrap();
        guthrie::demo_data::generate(&mut c, 100, n_infants, n_cases, chrono::Utc::now()).unwrap()
    })
    .await
    .unwrap();
    eprintln!(
        "generated {} infants and {} open cases in {:.1} s",
        g.infants,
        g.open_cases,
        started.elapsed().as_secs_f64()
    );

    let http = reqwest::Client::new();
    let token = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": admin.username, "password": admin.password}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let backend = if pg.is_some() { "PostgreSQL" } else { "SQLite" };
    for path in ["/api/v1/worklists/overdue", "/api/v1/worklists"] {
        let mut times = vec![];
        for i in 0..320 {
            let t = Instant::now();
            let r = http
                .get(format!("{base}{path}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let _ = r.bytes().await.unwrap();
            if i >= 20 {
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "{backend}: GET {path} over {} infants / {} open cases: p50 {:.2} ms, p99 {:.2} ms",
            g.infants,
            g.open_cases,
            percentile(&times, 0.5),
            percentile(&times, 0.99)
        );
    }
    if let Some((admin, name)) = pg {
        let mut c = PgConnection::establish(&admin).unwrap();
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut c);
    }
}
