//! Bad input: a clear problem document naming the field, and nothing written.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, infant_body, problem};

#[tokio::test]
async fn out_of_range_values_are_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let future = (crate::helpers::epoch() + chrono::Duration::days(2)).to_rfc3339();
    let cases: Vec<(&str, Value, &str)> = vec![
        ("birth_weight_g", json!(199), "birth_weight_g"),
        ("birth_weight_g", json!(7001), "birth_weight_g"),
        ("gestational_age_weeks", json!(19), "gestational_age_weeks"),
        ("gestational_age_weeks", json!(46), "gestational_age_weeks"),
        ("gestational_age_days", json!(7), "gestational_age_days"),
        ("birth_at", json!(future), "birth_at"),
        ("plurality", json!(0), "plurality"),
        ("birth_order", json!(3), "birth_order"),
        ("mrn", json!("  "), "mrn"),
    ];
    for (field, value, reported) in cases {
        let mut body = infant_body("V-1");
        body[field] = value.clone();
        let r = app.post("/api/v1/infants", &token, &body).await;
        assert_eq!(r.status(), 422, "{field}={value}");
        let p = problem(r).await;
        assert_eq!(p["code"], "validation_failed");
        assert_eq!(p["type"], "/problems/validation_failed");
        assert_eq!(p["title"], "Unprocessable content");
        assert_eq!(p["status"], 422);
        assert!(p["errors"][reported].is_array(), "{field}: {p}");
    }
    let mut body = infant_body("V-1");
    body["mother"]["id_document"]["number"] = json!("110105194912310021");
    let p = problem(app.post("/api/v1/infants", &token, &body).await).await;
    let msg = p["errors"]["mother.id_number"][0].as_str().unwrap();
    assert!(
        !msg.contains("110105194912310021"),
        "the number is never echoed"
    );
    body = infant_body("V-1");
    body["mother"]["phones"] = json!([]);
    let p = problem(app.post("/api/v1/infants", &token, &body).await).await;
    assert!(p["errors"]["mother.phones"].is_array());
    assert_eq!(app.infant_count().await, 0, "nothing was written");
}

#[tokio::test]
async fn the_future_is_judged_by_the_injected_clock() {
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let mut body = infant_body("CLOCK-1");
    body["birth_at"] = json!((crate::helpers::epoch() + chrono::Duration::days(2)).to_rfc3339());
    assert_eq!(
        app.post("/api/v1/infants", &token, &body).await.status(),
        422
    );
    app.clock
        .set(crate::helpers::epoch() + chrono::Duration::days(3));
    assert_eq!(
        app.post("/api/v1/infants", &token, &body).await.status(),
        201
    );
}

#[tokio::test]
async fn unreadable_bodies_are_400_naming_the_field() {
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let mut wrong_type = infant_body("T-1");
    wrong_type["birth_weight_g"] = json!("heavy");
    let mut unknown = infant_body("T-1");
    unknown["colour"] = json!("blue");
    let mut nested_unknown = infant_body("T-1");
    nested_unknown["mother"]["age"] = json!(30);
    let mut bad_enum = infant_body("T-1");
    bad_enum["sex"] = json!("boy");
    let mut bad_time = infant_body("T-1");
    bad_time["birth_at"] = json!("yesterday");
    let cases = [
        (wrong_type, "invalid_type", "birth_weight_g"),
        (unknown, "unknown_field", "colour"),
        (nested_unknown, "unknown_field", "mother.age"),
        (bad_enum, "invalid_type", "sex"),
        (bad_time, "invalid_type", "birth_at"),
    ];
    for (body, code, field) in cases {
        let p = problem(app.post("/api/v1/infants", &token, &body).await).await;
        assert_eq!(p["status"], 400, "{field}");
        assert_eq!(p["code"], code, "{field}");
        assert!(p["errors"][field].is_array(), "{field}: {p}");
    }
    let mut missing = infant_body("T-1");
    missing.as_object_mut().unwrap().remove("sex");
    let p = problem(app.post("/api/v1/infants", &token, &missing).await).await;
    assert_eq!(p["status"], 422);
    assert!(p["errors"]["sex"].is_array());

    let r = app
        .req(Method::POST, "/api/v1/infants", Some(&token))
        .header("content-type", "application/json")
        .body("{\"mrn\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(problem(r).await["code"], "malformed_json");
    let r = app
        .req(Method::POST, "/api/v1/infants", Some(&token))
        .body("mrn=1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert_eq!(app.infant_count().await, 0);
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let app = TestApp::spawn_with(&[("GUTHRIE__SERVER__BODY_LIMIT_BYTES", "2048")]).await;
    let (_, token) = app.hospital_with_token("A").await;
    let mut body = infant_body("BIG");
    body["address"] = json!("x".repeat(4096));
    let r = app.post("/api/v1/infants", &token, &body).await;
    assert_eq!(r.status(), 413);
    assert_eq!(problem(r).await["code"], "payload_too_large");
    // Also through the idempotency layer, which reads the body first.
    let r = app
        .req(Method::POST, "/api/v1/infants", Some(&token))
        .header("Idempotency-Key", "big")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(app.infant_count().await, 0);
}

#[tokio::test]
async fn unknown_routes_and_ids_are_problem_404s() {
    let app = TestApp::spawn().await;
    let r = app.get("/api/v1/nothing-here", &app.admin_token).await;
    assert_eq!(r.status(), 404);
    assert_eq!(problem(r).await["code"], "not_found");
    let r = app
        .get("/api/v1/infants/not-a-uuid", &app.admin_token)
        .await;
    assert_eq!(r.status(), 404);
}
