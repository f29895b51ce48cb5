//! HL7 v2 ingest: batches (`BHS`) of 1,000 `ORU^R01` messages of one card × 40 analytes each,
//! posted to `/api/v1/hl7v2` against a real server on SQLite (default) or PostgreSQL
//! (`BENCH_DATABASE_URL`); every card is received and given its results in its own transaction.
//! First, parsing alone (no database) over the same messages. `BENCH_CARDS` sets the total
//! (default 10,000). Run with `cargo bench --bench hl7`; targets: ≥ 20,000 cards/s parsed,
//! ≥ 1,000 cards/s stored on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

// The seed's panel helper is the JSON benches'; this one writes its own messages.
#[allow(dead_code)]
#[path = "../tests/api/seed.rs"]
mod seed;

use std::collections::BTreeMap;
use std::time::Instant;

use guthrie::config::LabProfile;
use guthrie::domain::hl7::{BarcodeAt, UnitMap, parse_oru};
use serde_json::{Value, json};

const BATCH: usize = 1000;

fn message(n: usize, barcode: &str) -> String {
    let mut s = vec![
        format!(
            "MSH|^~\\&|LIS|BENCHLAB|GUTHRIE|CENTRE|20261201100000+0800||ORU^R01^ORU_R01|B{n:08}|P|2.5.1"
        ),
        "PID|1".to_string(),
        "OBR|1|||57128-1^Newborn Screening Report summary panel^LN".to_string(),
        format!("OBX|1|ST|57723-9^Barcode^LN||{barcode}||||||F"),
        "OBX|2|CWE|57718-9^Sample quality^LN||LA12432-3^Acceptable^LN||||||F".to_string(),
    ];
    for (k, (a, v, u)) in guthrie::cli::demo::NORMAL_PANEL.iter().enumerate() {
        s.push(format!("OBX|{}|NM|{a}^{a}^L||{v}|{u}||N|||F", k + 3));
    }
    s.join("\r")
}

fn profile() -> LabProfile {
    let mut codes = BTreeMap::new();
    let mut units = BTreeMap::new();
    for (a, _, u) in guthrie::cli::demo::NORMAL_PANEL {
        codes.insert(a.to_string(), a.to_string());
        units.insert(
            u.to_string(),
            UnitMap {
                to: u.to_string(),
                factor: 1.0,
            },
        );
    }
    LabProfile {
        barcode: BarcodeAt::Obx57723,
        utc_offset_minutes: 480,
        charset: None,
        quality: BTreeMap::from([("LA12432-3".to_string(), "acceptable".to_string())]),
        codes,
        units,
        ignored: Default::default(),
    }
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let total: usize = std::env::var("BENCH_CARDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let server = common::BenchServer::start_with("guthrie_hl7", |s| {
        s.hl7.labs.insert("BENCHLAB".into(), profile());
        s.hl7.max_message_bytes = 64 * 1024 * 1024;
    })
    .await;
    let (base, token, http) = (&server.base, &server.token, &server.http);
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
    let (pool, key) = (
        server.state.pool.clone(),
        server.state.id_hash_key.0.clone(),
    );
    let barcodes = tokio::task::spawn_blocking(move || {
        seed::seed_cards(&pool, &key, &hospital, 0, total, chrono::Utc::now())
    })
    .await
    .unwrap();
    let messages: Vec<String> = barcodes
        .iter()
        .enumerate()
        .map(|(n, b)| message(n, b))
        .collect();

    // Parsing alone: the fastest of three passes (the first runs while the database is still
    // busy with the seed's writes, which a single pass on this machine measured as noise).
    let cst = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let mut secs = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        for m in &messages {
            let parsed = parse_oru(m, BarcodeAt::Obx57723, cst).unwrap();
            assert_eq!(parsed.cards[0].observations.len(), 40);
        }
        secs = secs.min(t.elapsed().as_secs_f64());
    }
    println!(
        "parsing alone (fastest of 3): {total} one-card messages in {secs:.3} s = {:.0} cards/s",
        total as f64 / secs
    );

    let backend = server.backend();
    let started = Instant::now();
    for chunk in messages.chunks(BATCH) {
        let body = format!(
            "BHS|^~\\&|LIS|BENCHLAB\r{}\rBTS|{}\r",
            chunk.join("\r"),
            chunk.len()
        );
        let r = http
            .post(format!("{base}/api/v1/hl7v2"))
            .bearer_auth(token)
            .header("content-type", "application/hl7-v2")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let ack = r.text().await.unwrap();
        let accepted = ack.matches("MSA|AA|").count();
        assert_eq!(accepted, chunk.len(), "{}", &ack[..ack.len().min(2000)]);
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{backend}: {total} cards x 40 analytes over HL7 batches of {BATCH} in {secs:.2} s = {:.0} cards/s (receipt, results and mark per card)",
        total as f64 / secs
    );
}
