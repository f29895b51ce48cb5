//! Quality report over one year of a province: `BENCH_BIRTHS` infants (default 500,000) born
//! over the last year with blood-spot cards (97%, 1% of them unsatisfactory) and their results,
//! hearing screens (98%), heart screens (95%) and 10,000 open cases; then the full report (every
//! indicator, all hospitals) and one hospital's report are fetched over HTTP.
//! SQLite by default; PostgreSQL with `BENCH_DATABASE_URL`. `cargo bench --bench quality`;
//! target < 2 s on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Instant;

use chrono::{Duration, Utc};
use diesel::RunQueryDsl;
use guthrie::db::sql::plus;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let births = env_usize("BENCH_BIRTHS", 500_000);
    let server = common::BenchServer::start("guthrie_q").await;
    let pool = server.state.pool.clone();
    let t = Instant::now();
    let backend = server.backend();
    let generated = tokio::task::spawn_blocking(move || {
        let mut c = pool.get().unwrap();
        guthrie::demo_data::generate(&mut c, 100, births, 10_000, Utc::now()).unwrap();
        let b = c.backend();
        let p = |col: &str, h: i64| plus(b, col, Duration::hours(h));
        let statements = [
            format!(
                "INSERT INTO dbs_cards (id, infant_id, hospital_id, barcode, collected_at, feeding, transfusion, tpn, antibiotics, \
                 collector, repeat_of, received_at, quality, quality_recorded_at, created_by, created_at, updated_at) \
                 SELECT 'c' || i.id, i.id, i.hospital_id, 'B' || i.mrn, {}, 'breast', false, false, false, 'bench', NULL, {}, \
                 CASE WHEN substr(i.mrn, 6, 2) = '50' THEN 'insufficient' ELSE 'acceptable' END, {}, 'bench', i.created_at, i.created_at \
                 FROM infants i WHERE substr(i.mrn, 6, 2) >= '03'",
                p("i.birth_at", 72), p("i.birth_at", 96), p("i.birth_at", 96)
            ),
            format!(
                "INSERT INTO dbs_interpretations (id, card_id, catalogue_version, outcome, tier, detail, interpreted_at) \
                 SELECT 'd' || c.id, c.id, 'zj-2023', 'normal', NULL, '{{}}', {} FROM dbs_cards c WHERE c.quality = 'acceptable'",
                p("c.received_at", 20)
            ),
            format!(
                "INSERT INTO hearing_screens (id, infant_id, hospital_id, stage, method, left_ear, right_ear, tested_at, nicu_days, \
                 risk_factors, created_by, created_at) SELECT 'h' || i.id, i.id, i.hospital_id, 'initial', 'OAE', 'pass', 'pass', {}, \
                 NULL, '[]', 'bench', i.created_at FROM infants i WHERE substr(i.mrn, 6, 2) >= '02'",
                p("i.birth_at", 48)
            ),
            format!(
                "INSERT INTO cchd_screens (id, infant_id, hospital_id, protocol, measured_at, right_hand_spo2, foot_spo2, murmur_grade, \
                 clinical_signs, created_by, created_at) SELECT 'x' || i.id, i.id, i.hospital_id, 'cn-dual-index', {}, 98, 98, NULL, \
                 '[]', 'bench', i.created_at FROM infants i WHERE substr(i.mrn, 6, 2) >= '05'",
                p("i.birth_at", 24)
            ),
        ];
        for s in statements {
            diesel::sql_query(s).execute(&mut c).unwrap();
        }
        // The screens above bypassed the writes that keep the quality facts: rebuild them all.
        let t = Instant::now();
        let months = guthrie::services::quality::facts::fill_all(&mut c).unwrap();
        let rebuild = t.elapsed().as_secs_f64();
        diesel::sql_query("ANALYZE").execute(&mut c).unwrap();
        (months, rebuild)
    })
    .await
    .unwrap();
    eprintln!(
        "generated {births} births with their screens in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let (months, rebuild) = generated;
    println!(
        "{backend}: quality facts filled from the source tables (as at start-up after an upgrade), {months} months of births: {rebuild:.1} s"
    );
    let today = Utc::now().date_naive();
    let from = today - Duration::days(365);
    let hospital: String = {
        let v: serde_json::Value = server
            .http
            .get(format!("{}/api/v1/hospitals", server.base))
            .bearer_auth(&server.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v[0]["id"].as_str().unwrap_or_default().to_string()
    };
    // Where the time goes: the one-pass infant and card counts versus the whole report.
    {
        let state = server.state.clone();
        let cohort = guthrie::services::quality::report::Cohort {
            from,
            to: today,
            hospital_id: None,
            district: None,
            programme: None,
            now: Utc::now(),
        };
        let (facts, whole) = tokio::task::spawn_blocking(move || {
            let mut c = state.pool.get().unwrap();
            let q = state.settings.quality.clone();
            let lim = q.limits(
                guthrie::services::admin::catalogue::current(&state.catalogues, Utc::now())
                    .unwrap()
                    .catalogue(),
            );
            // The infant- and card-level indicators: one scan of each facts table.
            let facts_level: Vec<_> = cohort
                .indicators()
                .into_iter()
                .filter(|i| i.def().level != guthrie::domain::quality::Level::Case)
                .collect();
            let t = Instant::now();
            guthrie::db::models::quality::indicators::count(
                &mut c,
                &cohort.births(),
                &lim,
                &facts_level,
            )
            .unwrap();
            let facts = t.elapsed().as_secs_f64();
            let t = Instant::now();
            guthrie::services::quality::report::report(&mut c, &cohort, &q, &lim).unwrap();
            (facts, t.elapsed().as_secs_f64())
        })
        .await
        .unwrap();
        eprintln!("infant and card counts {facts:.2} s of a whole report of {whole:.2} s");
        println!("{backend}: one-year report computed in the process (no HTTP): {whole:.2} s");
    }
    for (label, extra) in [
        ("all hospitals", String::new()),
        ("one hospital", format!("&hospital={hospital}")),
    ] {
        let mut times = vec![];
        let mut last = serde_json::Value::Null;
        for _ in 0..3 {
            let t = Instant::now();
            let r = server
                .http
                .get(format!(
                    "{}/api/v1/reports/quality?from={from}&to={today}{extra}",
                    server.base
                ))
                .bearer_auth(&server.token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            last = r.json().await.unwrap();
            times.push(t.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        let dbs = last["indicators"][0].clone();
        println!(
            "{backend}: quality report, one year, {label}: best {:.2} s, worst {:.2} s (dbs_coverage {}/{})",
            times[0], times[2], dbs["numerator"], dbs["denominator"]
        );
    }
    // The console: the quality dashboard over the year (the report, per-hospital coverage, the
    // monthly trend and the charts), and a hospital's own view (this month's births).
    {
        let (browser, cookie) = server.console_session().await;
        let mut times = vec![];
        for _ in 0..3 {
            let t = Instant::now();
            let r = browser
                .get(format!("{}/quality?from={from}&to={today}", server.base))
                .header("Cookie", &cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let body = r.text().await.unwrap();
            assert!(body.contains("chart-coverage"));
            times.push(t.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{backend}: console quality dashboard, one year, all hospitals: best {:.2} s, worst {:.2} s",
            times[0], times[2]
        );
        let mut times = vec![];
        for i in 0..220 {
            let t = Instant::now();
            let r = browser
                .get(format!("{}/hospital?hospital={hospital}", server.base))
                .header("Cookie", &cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let _ = r.bytes().await.unwrap();
            if i >= 20 {
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
        }
        times.sort_by(f64::total_cmp);
        let pct =
            |p: f64| times[((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1];
        println!(
            "{backend}: console hospital view (this month's births, open cases): p50 {:.1} ms, p99 {:.1} ms",
            pct(0.5),
            pct(0.99)
        );
    }
    // The weekly safety net: recompute everything and compare with what the writes kept.
    let state = server.state.clone();
    let (r, secs) = tokio::task::spawn_blocking(move || {
        let mut c = state.pool.get().unwrap();
        let t = Instant::now();
        let r = guthrie::services::quality::facts::rebuild_all(&mut c).unwrap();
        (r, t.elapsed().as_secs_f64())
    })
    .await
    .unwrap();
    println!(
        "{backend}: weekly quality_facts rebuild with drift count: {secs:.1} s ({} months, {} infants corrected)",
        r.months, r.infants_corrected
    );
}
