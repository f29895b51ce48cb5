//! HL7 at plate size and across a crash: a batch of 1,000 one-card `ORU^R01` messages × 40
//! analytes is sent to a second server that is killed (SIGKILL) half-way through it; the
//! laboratory resends the whole batch to the surviving server and every card lands exactly once:
//! one interpretation, 40 values and one applied-mark per card, one case per critical card, and
//! an `AA` for every message (the ones committed before the crash from their stored ACKs).

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Method;

use crate::helpers::{ServerProcess, TestApp, TestDb, config_dir, count};
use crate::hl7::{msa, msas, oru, profile};
use crate::seed::seed_cards;

const CARDS: usize = 1000;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let p = entry.path();
        let target = to.join(entry.file_name());
        if p.is_dir() {
            copy_dir(&p, &target);
        } else {
            std::fs::copy(&p, &target).unwrap();
        }
    }
}

/// The project's configuration with the laboratory's profile added to `test.toml`, for a
/// server started as a process.
fn config_with_profile() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("hl7-config-{}", uuid::Uuid::now_v7().simple()));
    copy_dir(&config_dir(), &dir);
    let test = dir.join("test.toml");
    let mut text = std::fs::read_to_string(&test).unwrap();
    text.push('\n');
    text.push_str(&profile());
    std::fs::write(&test, text).unwrap();
    dir
}

#[tokio::test]
async fn a_plate_sized_batch_killed_half_way_is_resent_and_every_card_lands_once() {
    let app = TestApp::spawn_full(&[], &profile(), TestDb::new()).await;
    let lab = app.staff_token("lab", "clinician", None).await;
    let h = app.hospital("HA").await;
    let (pool, key) = (app.state.pool.clone(), app.state.id_hash_key.0.clone());
    let barcodes = tokio::task::spawn_blocking(move || {
        seed_cards(&pool, &key, &h, 0, CARDS, crate::helpers::epoch())
    })
    .await
    .unwrap();
    app.clock
        .set(crate::helpers::epoch() + chrono::Duration::hours(1));
    // Every 50th card has a critical TSH: 20 cases, each opened once whatever the resends.
    let messages: Vec<String> = barcodes
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let critical = [("TSH", "29575-8", "120", "m[IU]/L")];
            let overrides: &[(&str, &str, &str, &str)] = if i % 50 == 0 { &critical } else { &[] };
            oru(&format!("PLATE{i:05}"), b, &format!("SEED-{i}"), overrides)
        })
        .collect();
    let batch = format!(
        "BHS|^~\\&|NBSLIS|ZJNBSC\r{}\rBTS|{CARDS}\r",
        messages.join("\r")
    );

    // A second server on the same database takes the batch and is killed half-way.
    let mut doomed = ServerProcess::start(&app.db, &config_with_profile(), &[]).await;
    let (base, http) = (doomed.base.clone(), reqwest::Client::new());
    let send = {
        let (http, url, lab, batch) = (
            http.clone(),
            format!("{base}/api/v1/hl7v2"),
            lab.clone(),
            batch.clone(),
        );
        tokio::spawn(async move {
            http.post(url)
                .bearer_auth(lab)
                .header("content-type", "application/hl7-v2")
                .body(batch)
                .send()
                .await
        })
    };
    let mut applied = 0;
    for _ in 0..6000 {
        applied = count(&app, "SELECT COUNT(*) AS n FROM hl7_cards");
        if applied > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    doomed.kill().await; // SIGKILL
    assert!(
        send.await.unwrap().is_err(),
        "the doomed server never answered"
    );
    let at_death = count(&app, "SELECT COUNT(*) AS n FROM hl7_cards");
    let total = i64::try_from(CARDS).unwrap();
    assert!(
        applied > 0 && at_death < total,
        "killed mid-batch: {at_death} of {total} cards applied"
    );
    // What committed is whole: each applied card has its message, values and interpretation.
    assert_eq!(
        count(&app, "SELECT COUNT(*) AS n FROM hl7_messages"),
        at_death
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) AS n FROM dbs_results"),
        at_death * 40
    );

    // The laboratory resends the whole batch (to the surviving server).
    let r = app
        .req(Method::POST, "/api/v1/hl7v2", Some(&lab))
        .header("content-type", "application/hl7-v2")
        .body(batch.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ack = r.text().await.unwrap();
    let answers = msas(&ack);
    assert_eq!(answers.len(), CARDS);
    assert!(
        answers.iter().all(|m| msa(m) == "AA"),
        "{:?}",
        answers.iter().find(|m| msa(m) != "AA")
    );
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM hl7_messages"), total);
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM hl7_cards"), total);
    assert_eq!(
        count(&app, "SELECT COUNT(*) AS n FROM dbs_results"),
        total * 40
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) AS n FROM dbs_interpretations"),
        total,
        "one interpretation per card"
    );
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) AS n FROM dbs_cards WHERE received_at IS NULL"
        ),
        0
    );
    assert_eq!(count(&app, "SELECT COUNT(*) AS n FROM cases"), 20);
    // Once more: every answer from the stored ACKs, nothing written.
    let again = app
        .req(Method::POST, "/api/v1/hl7v2", Some(&lab))
        .header("content-type", "application/hl7-v2")
        .body(batch)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(again.matches("MSA|AA|").count(), CARDS);
    assert_eq!(
        count(&app, "SELECT COUNT(*) AS n FROM dbs_interpretations"),
        total
    );
}
