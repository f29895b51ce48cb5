//! Long-term management at province scale: `BENCH_INFANTS` infants (default 1,000,000) and
//! `BENCH_EPISODES` open management episodes (default 20,000) with every contact of their
//! plans, built by the same generators as `guthrie generate`; then the first page of the
//! management worklist over HTTP (target p99 < 20 ms) and the contact sweep, once with the
//! backlog of due rungs sixty days on and once with nothing due (it reads only the contacts due).
//! SQLite by default; PostgreSQL with `BENCH_DATABASE_URL`. `cargo bench --bench management`.
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
    let (n_infants, n_episodes) = (
        env_usize("BENCH_INFANTS", 1_000_000),
        env_usize("BENCH_EPISODES", 20_000),
    );
    let server = common::BenchServer::start("guthrie_mg").await;
    let (base, token, http) = (&server.base, &server.token, &server.http);
    let pool = server.state.pool.clone();
    let now = chrono::Utc::now();
    let plans = guthrie::services::management::plans::current(&server.state.plans, now).unwrap();
    let started = Instant::now();
    let contacts = tokio::task::spawn_blocking(move || {
        let mut c = pool.get().unwrap();
        guthrie::demo_data::generate(&mut c, 100, n_infants, 0, now).unwrap();
        guthrie::demo_data::generate_episodes(&mut c, &plans, n_episodes, now).unwrap()
    })
    .await
    .unwrap();
    eprintln!(
        "generated {n_infants} infants, {n_episodes} episodes and {contacts} contacts in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let backend = server.backend();
    for path in [
        "/api/v1/management/worklist",
        "/api/v1/management/worklist?days=0",
    ] {
        let mut times = vec![];
        for i in 0..320 {
            let t = Instant::now();
            let r = http
                .get(format!("{base}{path}"))
                .bearer_auth(token)
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
            "{backend}: GET {path} over {n_infants} infants / {n_episodes} episodes: p50 {:.2} ms, p99 {:.2} ms",
            percentile(&times, 0.5),
            percentile(&times, 0.99)
        );
    }
    // Sixty days on, the first weeks' contacts of every episode are due or overdue; the second
    // sweep at the same time finds nothing left.
    let later = now + chrono::Duration::days(60);
    for label in ["backlog 60 days on", "nothing due"] {
        let pool = server.state.pool.clone();
        let ctx = server.state.notice_context();
        let t = Instant::now();
        let r = tokio::task::spawn_blocking(move || {
            guthrie::services::management::sweep::sweep(&pool, &ctx, later, 500, 10_000).unwrap()
        })
        .await
        .unwrap();
        let secs = t.elapsed().as_secs_f64();
        println!(
            "{backend}: contact sweep ({label}): {} contacts, {} rungs, {} notices in {:.3} s ({:.0} contacts/s)",
            r.contacts,
            r.rungs_fired,
            r.notifications_queued,
            secs,
            r.contacts as f64 / secs.max(1e-9)
        );
    }
}
