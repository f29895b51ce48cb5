//! The everyday write path at concurrency: `BENCH_CLIENTS` (default 8) clients each repeat a
//! group of three requests — register an infant (hospital client), register its card, post its
//! 40-analyte result with a positive (laboratory user), which opens a follow-up case — for
//! `BENCH_SECS` seconds (default 20) after a 3 s warm-up, against a release server on SQLite
//! (default) or PostgreSQL (`BENCH_DATABASE_URL`, a server's maintenance database; a fresh
//! database is created and dropped). Prints groups/s and per-request p50/p99. `BENCH_POOL_SIZE`
//! sets `database.pool_size`.
//! `cargo bench --bench writes`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn post(http: &reqwest::Client, url: String, token: &str, body: &Value) -> (u16, Duration) {
    let t = Instant::now();
    let r = http
        .post(url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let _ = r.bytes().await;
    (status, t.elapsed())
}

/// The `access_token` of a login or token request's answer.
async fn access_token(request: reqwest::RequestBuilder) -> String {
    request.send().await.unwrap().json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let clients = env_u64("BENCH_CLIENTS", 8) as usize;
    let secs = env_u64("BENCH_SECS", 20);
    // `BENCH_POOL_SIZE` overrides `database.pool_size` (0: the backend's default).
    let pool_size = env_u64("BENCH_POOL_SIZE", 0) as u32;
    let server = common::BenchServer::start_with("guthrie_writes", |s| {
        s.database.pool_size = pool_size;
    })
    .await;
    let (base, admin, http) = (server.base.clone(), &server.token, &server.http);
    let post_admin = |path: &str, body: Value| {
        let url = format!("{base}{path}");
        async move {
            http.post(url)
                .bearer_auth(admin)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let hospital = post_admin(
        "/api/v1/hospitals",
        json!({"code": "WB", "name": "Write bench"}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let client = post_admin(
        "/api/v1/clients",
        json!({"name": "HIS", "hospital_id": hospital}),
    )
    .await;
    let hospital_token = access_token(http.post(format!("{base}/api/v1/auth/token")).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", client["client_id"].as_str().unwrap()),
        ("client_secret", client["client_secret"].as_str().unwrap()),
    ]))
    .await;
    let password = "a-long-bench-password";
    post_admin(
        "/api/v1/users",
        json!({"username": "lab", "display_name": "lab", "password": password, "role": "clinician"}),
    )
    .await;
    let lab_token = access_token(
        http.post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"username": "lab", "password": password})),
    )
    .await;
    let panel = guthrie::cli::demo::panel(&[("C16-OH", 0.5)]);

    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for k in 0..clients {
        let (http, base) = (reqwest::Client::new(), base.clone());
        let (ht, lt, panel) = (hospital_token.clone(), lab_token.clone(), panel.clone());
        let (stop, measuring) = (stop.clone(), measuring.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies: Vec<Duration> = Vec::new();
            let (mut groups, mut failures) = (0u64, 0u64);
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let mrn = format!("W{k}-{n}");
                let birth = chrono::Utc::now() - chrono::Duration::hours(72);
                let infant = json!({
                    "mrn": mrn, "sex": "female", "birth_at": birth.to_rfc3339(),
                    "gestational_age_weeks": 39, "gestational_age_days": 2,
                    "birth_weight_g": 3300, "plurality": 1, "birth_order": 1,
                    "nicu_admitted": false,
                    "mother": {"name": "王芳", "phones": ["138 0013 8000"]},
                    "address": "杭州市西湖区"
                });
                let t = Instant::now();
                let r = http
                    .post(format!("{base}/api/v1/infants"))
                    .bearer_auth(&ht)
                    .json(&infant)
                    .send()
                    .await
                    .unwrap();
                let mut lat = vec![t.elapsed()];
                let ok = r.status().as_u16() == 201;
                let id = r.json::<Value>().await.unwrap()["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let barcode = format!("WB{k}x{n}");
                let card = json!({"infant_id": id, "barcode": barcode,
                    "collected_at": (birth + chrono::Duration::hours(48)).to_rfc3339(),
                    "feeding": "breast", "collector": "nurse"});
                let (s2, l2) = post(&http, format!("{base}/api/v1/cards"), &ht, &card).await;
                let result = json!({"cards": [{"barcode": barcode, "results": panel}]});
                let (s3, l3) = post(&http, format!("{base}/api/v1/results"), &lt, &result).await;
                lat.extend([l2, l3]);
                if measuring.load(Ordering::Relaxed) {
                    if ok && s2 == 201 && s3 == 200 {
                        groups += 1;
                        latencies.extend(lat);
                    } else {
                        failures += 1;
                    }
                }
            }
            (groups, failures, latencies)
        }));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    measuring.store(true, Ordering::Relaxed);
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = t.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let (mut groups, mut failures, mut lat) = (0, 0, Vec::new());
    for task in tasks {
        let (g, f, l) = task.await.unwrap();
        groups += g;
        failures += f;
        lat.extend(l);
    }
    lat.sort();
    let pct =
        |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "{}: register + card + positive result, {clients} clients, {secs} s: {groups} groups = {:.0} groups/s; \
         per request p50 {:.1} ms, p99 {:.1} ms; {failures} failed groups",
        server.backend(),
        groups as f64 / elapsed,
        pct(0.50),
        pct(0.99),
    );
    assert_eq!(failures, 0);
}
