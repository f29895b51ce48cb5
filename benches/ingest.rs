//! Bulk ingest + interpretation through HTTP: plates of 1,000 cards x 40 analytes posted to
//! `/api/v1/results` against a real server on SQLite (default) or PostgreSQL
//! (`BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres`, a server's maintenance
//! database; a fresh database is created and dropped). `BENCH_CARDS` sets the total (10,000).
//! Run with `cargo bench --bench ingest`. Prints cards/s and analyte values/s.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

#[path = "../tests/api/seed.rs"]
mod seed;

use std::time::Instant;

use serde_json::{Value, json};

const PLATE: usize = 1000;

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for a listing; nothing to list.
    }
    let total: usize = std::env::var("BENCH_CARDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let server = common::BenchServer::start("guthrie_bench").await;
    let (base, token, http) = (&server.base, &server.token, &server.http);
    let state = &server.state;
    let hospital = http
        .post(format!("{base}/api/v1/hospitals"))
        .bearer_auth(token)
        .json(&json!({"code": "BENCH", "name": "Bench"}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let seed_start = Instant::now();
    let (pool, key) = (state.pool.clone(), state.id_hash_key.0.clone());
    let barcodes = tokio::task::spawn_blocking(move || {
        seed::seed_cards(&pool, &key, &hospital, 0, total, chrono::Utc::now())
    })
    .await
    .unwrap();
    eprintln!(
        "seeded {total} infants and cards in {:.1} s",
        seed_start.elapsed().as_secs_f64()
    );

    let panel = seed::full_panel();
    let plates: Vec<Value> = barcodes
        .chunks(PLATE)
        .map(|chunk| json!({"cards": chunk.iter().map(|b| json!({"barcode": b, "results": panel})).collect::<Vec<_>>()}))
        .collect();
    let started = Instant::now();
    for plate in &plates {
        let r = http
            .post(format!("{base}/api/v1/results"))
            .bearer_auth(token)
            .json(plate)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["rejected"], 0);
    }
    let secs = started.elapsed().as_secs_f64();
    let backend = server.backend();
    println!(
        "{backend}: {total} cards x {} analytes in {secs:.2} s = {:.0} cards/s, {:.0} values/s",
        panel.len(),
        total as f64 / secs,
        (total * panel.len()) as f64 / secs
    );
}
