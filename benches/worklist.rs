//! Worklist latency on a large data set: `BENCH_INFANTS` infants (default 1,000,000) and
//! `BENCH_CASES` open cases (default 50,000, a tenth overdue) built by the same generator as
//! `guthrie generate`, then the first page of the overdue worklist fetched over HTTP.
//! SQLite by default; PostgreSQL with `BENCH_DATABASE_URL` (a maintenance database URL).
//! Each list is fetched by a plain client and by one accepting gzip, as every browser does (a
//! compressed body on a keep-alive connection is where Nagle's algorithm used to add ~40 ms).
//! Then the console's pages over the same data, signed in with a session cookie: the overdue
//! worklist page and an overdue case's page (target p99 < 50 ms).
//! `cargo bench --bench worklist`; target p99 < 20 ms for the JSON lists.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Instant;

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
    let server = common::BenchServer::start("guthrie_wl").await;
    let (base, token, http) = (&server.base, &server.token, &server.http);
    let pool = server.state.pool.clone();
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

    let backend = server.backend();
    let paths = ["/api/v1/worklists/overdue", "/api/v1/worklists"];
    for (path, encoding) in paths.iter().flat_map(|p| [(*p, "identity"), (*p, "gzip")]) {
        let mut times = vec![];
        for i in 0..320 {
            let t = Instant::now();
            let r = http
                .get(format!("{base}{path}"))
                .bearer_auth(token)
                .header("Accept-Encoding", encoding)
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
            "{backend}: GET {path} ({encoding}) over {} infants / {} open cases: p50 {:.2} ms, p99 {:.2} ms",
            g.infants,
            g.open_cases,
            percentile(&times, 0.5),
            percentile(&times, 0.99)
        );
    }

    // The console: sign in, then the overdue worklist page and one overdue case's page.
    let (browser, cookie) = server.console_session().await;
    let overdue: serde_json::Value = http
        .get(format!("{base}/api/v1/worklists/overdue?limit=1"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let case = overdue["items"][0]["id"].as_str().unwrap().to_string();
    for path in ["/worklists/overdue".to_string(), format!("/cases/{case}")] {
        let mut times = vec![];
        for i in 0..320 {
            let t = Instant::now();
            let r = browser
                .get(format!("{base}{path}"))
                .header("Cookie", &cookie)
                .header("Accept-Encoding", "gzip")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{path}");
            let _ = r.bytes().await.unwrap();
            if i >= 20 {
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "{backend}: console page {} over {} infants / {} open cases: p50 {:.2} ms, p99 {:.2} ms",
            if path.starts_with("/cases") {
                "/cases/{id}"
            } else {
                path.as_str()
            },
            g.infants,
            g.open_cases,
            percentile(&times, 0.5),
            percentile(&times, 0.99)
        );
    }
}
