//! Recovery: a server killed half-way through a keyed plate does not lock the laboratory's
//! retry; the retry runs again and every card ends up stored once, with no duplicate case.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{ServerProcess, TestApp, config_dir, count};
use crate::screening::panel;
use crate::seed::seed_cards;

const CARDS: usize = 1500;
const LEASE_SECS: u64 = 2;

#[tokio::test]
async fn a_retry_after_the_server_died_mid_plate_runs_again_and_stores_every_card_once() {
    let app = TestApp::spawn_with(&[("GUTHRIE__SERVER__IDEMPOTENCY_LEASE_SECS", "2")]).await;
    let h = app.hospital("A").await;
    let lab = app.staff_token("lab", "clinician", None).await;
    let (pool, key) = (app.state.pool.clone(), app.state.id_hash_key.0.clone());
    let barcodes = tokio::task::spawn_blocking(move || {
        seed_cards(&pool, &key, &h, 0, CARDS, crate::helpers::epoch())
    })
    .await
    .unwrap();
    // Every 50th card is positive: 30 cases, each opened once whatever the retries.
    let cards: Vec<Value> = barcodes
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let values = if i % 50 == 0 {
                panel(&[("C16-OH", 0.5)])
            } else {
                panel(&[])
            };
            json!({"barcode": b, "results": values})
        })
        .collect();
    let plate = json!({ "cards": cards });

    // A second server on the same database takes the plate and is killed half-way.
    let lease = LEASE_SECS.to_string();
    let mut doomed = ServerProcess::start(
        &app.db,
        &config_dir(),
        &[("GUTHRIE__SERVER__IDEMPOTENCY_LEASE_SECS", &lease)],
    )
    .await;
    let (base, http) = (doomed.base.clone(), reqwest::Client::new());
    let send = {
        let (http, url, lab, plate) = (
            http.clone(),
            format!("{base}/api/v1/results"),
            lab.clone(),
            plate.clone(),
        );
        tokio::spawn(async move {
            http.post(url)
                .bearer_auth(lab)
                .header("Idempotency-Key", "plate-2026-12-01-A")
                .json(&plate)
                .send()
                .await
        })
    };
    let total = i64::try_from(CARDS).unwrap() * 40;
    let mut stored = 0;
    for _ in 0..3000 {
        stored = count(&app, "SELECT COUNT(*) AS n FROM dbs_results");
        if stored > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    doomed.kill().await;
    assert!(
        send.await.unwrap().is_err(),
        "the doomed server never answered"
    );
    let stored_at_death = count(&app, "SELECT COUNT(*) AS n FROM dbs_results");
    assert!(
        stored > 0 && stored_at_death < total,
        "killed mid-plate: {stored_at_death} of {total} values stored"
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) AS n FROM idempotency_keys WHERE response_status IS NULL"
        ),
        1,
        "the dead request's claim is left pending"
    );

    // While its lease runs, a retry is told the request is in progress; once it lapsed, the
    // retry takes the key over, runs the plate again and answers for every card.
    let retry = || {
        app.req(reqwest::Method::POST, "/api/v1/results", Some(&lab))
            .header("Idempotency-Key", "plate-2026-12-01-A")
            .json(&plate)
            .send()
    };
    let r = retry().await.unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(
        crate::helpers::problem(r).await["code"],
        "idempotency_in_progress"
    );
    tokio::time::sleep(Duration::from_secs(LEASE_SECS + 1)).await;
    let r = retry().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("idempotency-replayed").is_none());
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["accepted"], CARDS, "{}", v["cards"][0]);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM dbs_results"), total);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM cases"), 30);
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) AS n FROM (SELECT infant_id FROM cases GROUP BY infant_id, programme, reason HAVING COUNT(*) > 1) d"
        ),
        0
    );
    // The next retry is answered from the stored response.
    let r = retry().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["idempotency-replayed"], "true");
}

#[tokio::test]
async fn a_dispatcher_whose_lease_ran_out_never_sends_what_another_took_over() {
    use crate::jobs::{Env, HOSPITAL_EMAIL, hospital_with_emails, next_local, notify_toml};
    use crate::sinks::{SmsSink, SmtpSink};
    use chrono::Duration as Span;

    let (smtp, sms) = (SmtpSink::start().await, SmsSink::start().await);
    let toml = notify_toml(smtp.port, &sms.url);
    let extra = [
        ("GUTHRIE__NOTIFY__CONCURRENCY", "1"),
        ("GUTHRIE__NOTIFY__CLAIM_SECS", "60"),
    ];
    let app = TestApp::spawn_full(&extra, &toml, crate::helpers::TestDb::new()).await;
    let (_, hospital) = hospital_with_emails(&app, "HA", Some("西湖区"), &[HOSPITAL_EMAIL]).await;
    let lab = app.staff_token("lab", "clinician", None).await;
    let env = Env {
        app,
        smtp,
        sms,
        hospital,
        lab,
    };
    let t0 = next_local(12);
    env.app.clock.set(t0);
    // Two sweeps, one case each: four e-mails of their own (none to combine).
    for k in 0..2 {
        env.case_with(&format!("SL{k}"), &[("C16-OH", 0.5)]).await;
        env.app.run_job("escalation").await;
    }
    // A second server over the same database.
    let settings = crate::helpers::settings_toml(&env.app.db, &extra, &toml);
    let pool = guthrie::startup::open_database(&settings).unwrap();
    let other = guthrie::startup::build_state(settings, pool, env.app.clock.clone()).unwrap();

    // The mail server is slow: the first dispatcher's batch outlives its 60 s lease (as the
    // second server's clock sees it) and the second takes over what it has not reached. Each
    // message takes 2 s; the second server runs 3 s in, while the first sends its second message
    // (its first is recorded by then, with a second to spare under load).
    env.smtp
        .delay_ms
        .store(2000, std::sync::atomic::Ordering::SeqCst);
    let one = env.app.state.clone();
    let first = tokio::spawn(async move { guthrie::jobs::run(&one, "dispatcher", t0).await });
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let second = guthrie::jobs::run(&other, "dispatcher", t0 + Span::seconds(61))
        .await
        .unwrap()
        .report;
    let first = first.await.unwrap().unwrap().report;
    assert!(
        second["sent"].as_u64().unwrap() >= 1,
        "the second server took over: {second}"
    );
    assert_eq!(
        first["taken_over"], second["sent"],
        "what the second sent, the first left alone: {first} {second}"
    );
    // Nothing is left to send, and every message arrived exactly once.
    env.smtp
        .delay_ms
        .store(0, std::sync::atomic::Ordering::SeqCst);
    let later = guthrie::jobs::run(&other, "dispatcher", t0 + Span::minutes(30))
        .await
        .unwrap();
    assert_eq!(later.report["claimed"], 0, "{}", later.report);
    let mails = env.smtp.mails();
    let mut ids: Vec<String> = mails
        .iter()
        .map(|m| {
            m.data
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("message-id"))
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(mails.len(), 4, "two cases × hospital and on-call: {ids:?}");
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4);
    assert_eq!(env.sms.received().len(), 2);
}
