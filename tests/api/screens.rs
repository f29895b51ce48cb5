//! Hearing and heart screens, consent and refusal, the summary and missed screens, via HTTP.

use serde_json::{Value, json};

use crate::helpers::{TestApp, problem, register_infant};

async fn infant(
    app: &TestApp,
    token: &str,
    mrn: &str,
    hours_old: i64,
) -> (String, chrono::DateTime<chrono::Utc>) {
    register_infant(app, token, mrn, hours_old).await
}

#[tokio::test]
async fn heart_screen_repeat_then_fail_under_the_default_protocol() {
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let (id, birth) = infant(&app, &token, "H1", 30).await;
    let at = |h: i64| (birth + chrono::Duration::hours(h)).to_rfc3339();
    let url = format!("/api/v1/infants/{id}/cchd-screens");
    let r = app.post(&url, &token, &json!({"measured_at": at(24), "right_hand_spo2": 97, "foot_spo2": 93, "murmur_grade": 0})).await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["protocol"], "cn-dual-index");
    assert_eq!(v["outcome"]["outcome"], "repeat_needed");
    let v: Value = app
        .post(
            &url,
            &token,
            &json!({"measured_at": at(27), "right_hand_spo2": 97, "foot_spo2": 92}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["outcome"]["outcome"], "positive");
    assert_eq!(v["outcome"]["tier"], "T1");
    let s: Value = app
        .get(&format!("/api/v1/infants/{id}/screening"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["cchd"]["status"], "positive");
    assert_eq!(s["cchd"]["next_action"]["action"], "echocardiography");
    assert_eq!(s["cchd_measurements"].as_array().unwrap().len(), 2);
    let r = app.post(&url, &token, &json!({"measured_at": at(28), "right_hand_spo2": 120, "foot_spo2": 92, "protocol": "made-up"})).await;
    assert_eq!(r.status(), 422);
    let p = problem(r).await;
    assert!(p["errors"]["right_hand_spo2"].is_array() && p["errors"]["protocol"].is_array());
}

#[tokio::test]
async fn hearing_refer_needs_a_rescreen_and_nicu_needs_aabr() {
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let (id, birth) = infant(&app, &token, "E1", 24 * 8).await;
    let url = format!("/api/v1/infants/{id}/hearing-screens");
    let at = (birth + chrono::Duration::days(7)).to_rfc3339();
    let v: Value = app
        .post(&url, &token, &json!({"stage": "initial", "method": "OAE", "left": "pass", "right": "pass", "tested_at": at, "nicu_days": 6}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["status"], "rescreen_due",
        "an OAE pass after > 5 NICU days does not count"
    );
    assert_eq!(v["next_action"], "rescreen");
    let v: Value = app
        .post(&url, &token, &json!({"stage": "rescreen", "method": "AABR", "left": "pass", "right": "pass", "tested_at": crate::helpers::epoch().to_rfc3339()}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "pass");
    assert_eq!(v["next_action"], "surveillance");
    let r = app.post(&url, &token, &json!({"stage": "initial", "method": "DIAGNOSTIC", "left": "pass", "right": "pass", "tested_at": at, "risk_factors": ["bad"]})).await;
    let p = problem(r).await;
    assert!(p["errors"]["method"].is_array() && p["errors"]["risk_factors[0]"].is_array());
}

#[tokio::test]
async fn missed_screens_and_refusals() {
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let (old, _) = infant(&app, &token, "M1", 24 * 10).await;
    let (refused, _) = infant(&app, &token, "M2", 24 * 10).await;
    let (young, _) = infant(&app, &token, "M3", 24).await;
    let r = app
        .post(&format!("/api/v1/infants/{refused}/consents"), &token, &json!({"programme": "DBS", "decision": "refusal", "guardian_name": "王芳", "signed_at": crate::helpers::epoch().to_rfc3339()}))
        .await;
    assert_eq!(r.status(), 201);
    let missed: Value = app
        .get("/api/v1/screening/missed?programme=DBS", &token)
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = missed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["infant_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![old.as_str()],
        "refused and young infants are not missed"
    );
    let s: Value = app
        .get(&format!("/api/v1/infants/{old}/screening"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["dbs"]["status"], "missed");
    assert_eq!(s["hearing"]["status"], "missed");
    assert_eq!(s["cchd"]["status"], "missed");
    let s: Value = app
        .get(&format!("/api/v1/infants/{refused}/screening"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["dbs"]["status"], "refused");
    assert_eq!(s["dbs"]["consent"], "refusal");
    let s: Value = app
        .get(&format!("/api/v1/infants/{young}/screening"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["dbs"]["status"], "not_yet_screened");
    assert_eq!(s["dbs"]["next_action"]["action"], "collect_card");
    let r = app
        .get("/api/v1/screening/missed?programme=XYZ", &token)
        .await;
    assert_eq!(r.status(), 400);
}
