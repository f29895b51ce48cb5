//! Security hardening: immediate revocation, scoped assignment, audited reads, formula-safe CSV,
//! bounded metrics, and the smaller items of the hardening list.

use chrono::Duration;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::jobs::{Env, next_local};

async fn user_id(app: &TestApp, token: &str) -> String {
    let me: Value = app
        .get("/api/v1/auth/me", token)
        .await
        .json()
        .await
        .unwrap();
    me["subject"].as_str().unwrap().to_string()
}

async fn status(app: &TestApp, path: &str, token: &str) -> u16 {
    app.get(path, token).await.status().as_u16()
}

#[tokio::test]
async fn demoted_deactivated_and_rotated_principals_lose_their_tokens_at_once() {
    let app = TestApp::spawn().await;
    let admin2 = app.staff_token("second.admin", "admin", None).await;
    let id = user_id(&app, &admin2).await;
    assert_eq!(status(&app, "/api/v1/users", &admin2).await, 200);

    // Demoted: the admin token stops working, and it can no longer create admins.
    let r = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &app.admin_token,
            &json!({"role": "coordinator"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(status(&app, "/api/v1/auth/me", &admin2).await, 401);
    let new_admin = json!({"username": "sneaky", "display_name": "x", "password": "a-long-test-password", "role": "admin"});
    assert_eq!(
        app.post("/api/v1/users", &admin2, &new_admin)
            .await
            .status(),
        401
    );
    let coord = app.login("second.admin", "a-long-test-password").await;
    assert_eq!(
        app.post("/api/v1/users", &coord, &new_admin).await.status(),
        403
    );
    assert_eq!(status(&app, "/api/v1/cases", &coord).await, 200);

    // A display-name change keeps the session; deactivation ends it.
    let r = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &app.admin_token,
            &json!({"display_name": "Li"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(status(&app, "/api/v1/cases", &coord).await, 200);
    let r = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &app.admin_token,
            &json!({"active": false}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(status(&app, "/api/v1/cases", &coord).await, 401);

    // A rotated client's earlier tokens stop working; so do a deactivated client's.
    let h = app.hospital("RV").await;
    let (client_id, secret) = app.client(&h).await;
    let token = |r: reqwest::Response| async move {
        r.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let t1 = token(app.client_token(&client_id, &secret).await).await;
    assert_eq!(status(&app, "/api/v1/infants", &t1).await, 200);
    let clients: Value = app
        .get("/api/v1/clients", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    let list = clients
        .as_array()
        .cloned()
        .unwrap_or_else(|| clients["items"].as_array().unwrap().clone());
    let row = list
        .iter()
        .find(|c| c["client_id"] == client_id.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .post(
            &format!("/api/v1/clients/{row}/rotate-secret"),
            &app.admin_token,
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let secret2 = r.json::<Value>().await.unwrap()["client_secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(status(&app, "/api/v1/infants", &t1).await, 401);
    let t2 = token(app.client_token(&client_id, &secret2).await).await;
    assert_eq!(status(&app, "/api/v1/infants", &t2).await, 200);
    let r = app
        .patch(
            &format!("/api/v1/clients/{row}"),
            &app.admin_token,
            &json!({"active": false}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(status(&app, "/api/v1/infants", &t2).await, 401);

    // One's own password change ends one's sessions; the new password works.
    let viewer = app.staff_token("viewer.one", "viewer", None).await;
    let r = app
        .post("/api/v1/auth/password", &viewer, &json!({"current_password": "a-long-test-password", "new_password": "another-long-password"}))
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(status(&app, "/api/v1/auth/me", &viewer).await, 401);
    app.login("viewer.one", "another-long-password").await;
}

/// Assigns `case` to user `who`; returns the status.
async fn assign(env: &Env, case: &str, who: &str) -> u16 {
    let app = &env.app;
    let etag = app
        .get(&format!("/api/v1/cases/{case}"), &env.lab)
        .await
        .headers()["etag"]
        .to_str()
        .unwrap()
        .to_string();
    app.req(
        reqwest::Method::POST,
        &format!("/api/v1/cases/{case}/events"),
        Some(&env.lab),
    )
    .header("If-Match", etag)
    .json(&json!({"assignee": who}))
    .send()
    .await
    .unwrap()
    .status()
    .as_u16()
}

#[tokio::test]
async fn cases_are_assigned_only_to_staff_who_may_see_them_and_escalation_respects_it() {
    let env = Env::start().await;
    let t0 = next_local(12);
    env.app.clock.set(t0);
    let app = &env.app;
    let other = app.hospital("HB").await;
    let mk = |username: &str, role: &str, hospital: Option<String>, email: &str| {
        json!({"username": username, "display_name": username, "password": "a-long-test-password",
               "role": role, "hospital_id": hospital, "email": email})
    };
    let mut ids = vec![];
    for body in [
        mk(
            "b.staff",
            "hospital_staff",
            Some(other.clone()),
            "b@hospital-b.test",
        ),
        mk("gone", "coordinator", None, "gone@centre.test"),
        mk("coord", "coordinator", None, "coord@centre.test"),
        mk("viewer", "viewer", None, "viewer@centre.test"),
    ] {
        let r = app.post("/api/v1/users", &app.admin_token, &body).await;
        assert_eq!(r.status(), 201);
        ids.push(
            r.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let r = app
        .patch(
            &format!("/api/v1/users/{}", ids[1]),
            &app.admin_token,
            &json!({"active": false}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let (_, case) = env.case_with("AS1", &[("C16-OH", 0.5)]).await;
    for (who, why) in [
        (&ids[0], "another hospital's staff"),
        (&ids[1], "inactive"),
        (&ids[3], "a viewer"),
        (
            &"0193a7d0-0000-7000-8000-000000000000".to_string(),
            "unknown",
        ),
    ] {
        assert_eq!(assign(&env, &case, who).await, 404, "{why}");
    }
    assert_eq!(env.case(&case).await["assignee"], Value::Null);
    assert_eq!(assign(&env, &case, &ids[2]).await, 200);

    // The assignee is deactivated later: L1 goes to the coordinators' address, not to them.
    let r = app
        .patch(
            &format!("/api/v1/users/{}", ids[2]),
            &app.admin_token,
            &json!({"active": false}),
        )
        .await;
    assert_eq!(r.status(), 200);
    env.tick(t0).await;
    env.tick(t0 + Duration::hours(4)).await;
    assert!(env.smtp.to("coord@centre.test").is_empty());
    assert!(env.smtp.to("b@hospital-b.test").is_empty());
    assert_eq!(env.smtp.to("coordinators@centre.test").len(), 1);
}

#[tokio::test]
async fn every_read_of_personal_data_is_audited_and_csv_cells_cannot_be_formulas() {
    let env = Env::start().await;
    let app = &env.app;
    let coord = app.staff_token("reader", "coordinator", None).await;
    let reader = user_id(app, &coord).await;
    let (infant, birth) = crate::helpers::register_infant(app, &env.hospital, "=1+2", 72).await;
    let s = crate::helpers::register_card(
        app,
        &env.hospital,
        &infant,
        "BCF1",
        birth + Duration::hours(72),
        None,
    )
    .await;
    assert_eq!(s, 201);
    let r = app
        .post("/api/v1/results", &env.lab, &json!({"cards": [{"barcode": "BCF1", "results": crate::screening::panel(&[("C16-OH", 0.5)])}]}))
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["accepted"], 1, "{v}");
    let cases: Value = app
        .get(&format!("/api/v1/cases?infant_id={infant}"), &env.lab)
        .await
        .json()
        .await
        .unwrap();
    let case = cases["items"][0]["id"].as_str().unwrap().to_string();
    let barcode_card: Value = app
        .get(&format!("/api/v1/infants/{infant}/screening"), &coord)
        .await
        .json()
        .await
        .unwrap();
    let card_id = barcode_card["cards"][0]["id"].as_str().unwrap().to_string();
    for path in [
        "/api/v1/infants".to_string(),
        "/api/v1/cases".to_string(),
        "/api/v1/worklists/critical".to_string(),
        format!("/api/v1/cards/{card_id}"),
        "/api/v1/notifications".to_string(),
    ] {
        assert_eq!(status(app, &path, &coord).await, 200, "{path}");
    }
    let actor = format!("user:{reader}");
    let trail = |entity: &str, id: &str| {
        let url = format!("/api/v1/audit?entity={entity}&id={id}");
        let actor = actor.clone();
        let id = id.to_string();
        async move {
            let v: Value = app.get(&url, &app.admin_token).await.json().await.unwrap();
            v.as_array()
                .unwrap()
                .iter()
                .filter(|e| e["actor"] == actor.as_str())
                .map(|e| match e["changes"]["ids"].as_array() {
                    Some(ids) => {
                        assert!(ids.contains(&json!(id)));
                        "list".to_string()
                    }
                    None => e["action"].as_str().unwrap().to_string(),
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(trail("infant", &infant).await, vec!["list"]);
    assert_eq!(trail("infant_screening", &infant).await, vec!["read"]);
    assert_eq!(
        trail("case", &case).await,
        vec!["list", "list"],
        "cases and a worklist"
    );
    assert_eq!(trail("card", &card_id).await, vec!["read"]);

    // The laboratory reads no infant's card record.
    let lab_client = {
        let r = app
            .post(
                "/api/v1/clients",
                &app.admin_token,
                &json!({"name": "LIS", "role": "lab_client"}),
            )
            .await;
        let v: Value = r.json().await.unwrap();
        let r = app
            .client_token(
                v["client_id"].as_str().unwrap(),
                v["client_secret"].as_str().unwrap(),
            )
            .await;
        r.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        status(app, &format!("/api/v1/cards/{card_id}"), &lab_client).await,
        403
    );

    // A drill-down CSV holding the MRN "=1+2" hands it to Excel as text.
    let day = |d: i64| (crate::helpers::epoch() + Duration::days(d)).date_naive();
    let r = app
        .get(
            &format!(
                "/api/v1/reports/quality/dbs_coverage/cases?from={}&to={}&part=denominator&format=csv",
                day(-5),
                day(0)
            ),
            &coord,
        )
        .await;
    let text = String::from_utf8(r.bytes().await.unwrap()[3..].to_vec()).unwrap();
    assert!(text.contains(",'=1+2,"), "{text}");
    assert!(!text.contains(",=1+2"), "{text}");
}

#[tokio::test]
async fn personal_data_is_never_cached_and_malformed_headers_get_problems() {
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("NS").await;
    crate::helpers::register_infant(&app, &token, "NS1", 10).await;
    for path in ["/api/v1/infants", "/api/v1/cases", "/api/v1/auth/me"] {
        let r = app.get(path, &token).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["cache-control"], "no-store", "{path}");
    }
    let bad = reqwest::header::HeaderValue::from_bytes(b"Bearer abc\xff").unwrap();
    let r = app
        .req(reqwest::Method::GET, "/api/v1/cases", None)
        .header("authorization", bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(crate::helpers::problem(r).await["code"], "invalid_token");
    let r = app
        .req(reqwest::Method::POST, "/api/v1/infants", Some(&token))
        .header(
            "idempotency-key",
            reqwest::header::HeaderValue::from_bytes(b"\xfe").unwrap(),
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        crate::helpers::problem(r).await["code"],
        "invalid_idempotency_key"
    );
    let r = app
        .req(reqwest::Method::POST, "/api/v1/infants", Some(&token))
        .header(
            "content-type",
            reqwest::header::HeaderValue::from_bytes(b"appl\xffication/json").unwrap(),
        )
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    crate::helpers::problem(r).await;
    // Oversized headers (16 KiB in all by default) are refused with a problem too.
    let r = app
        .req(reqwest::Method::GET, "/api/v1/cases", Some(&token))
        .header("x-padding", "a".repeat(20_000))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 431);
    assert_eq!(
        crate::helpers::problem(r).await["code"],
        "headers_too_large"
    );
}

#[tokio::test]
async fn barcodes_are_unique_per_hospital_and_a_foreign_one_answers_like_a_free_one() {
    use crate::helpers::{register_card, register_infant};
    let app = TestApp::spawn().await;
    let (_, a) = app.hospital_with_token("BA").await;
    let (_, b) = app.hospital_with_token("BB").await;
    let lab = app.staff_token("lab", "clinician", None).await;
    let (a1, birth) = register_infant(&app, &a, "A1", 80).await;
    let (a2, _) = register_infant(&app, &a, "A2", 80).await;
    let (b1, _) = register_infant(&app, &b, "B1", 80).await;
    let at = birth + Duration::hours(72);
    assert_eq!(register_card(&app, &a, &a1, "CARD-1", at, None).await, 201);
    // Another hospital's barcode: answered exactly like a free one.
    assert_eq!(register_card(&app, &b, &b1, "CARD-1", at, None).await, 201);
    assert_eq!(
        register_card(&app, &b, &b1, "CARD-FREE", at, None).await,
        201
    );
    // The hospital's own barcode again: a duplicate.
    let r = app
        .post("/api/v1/cards", &a, &json!({"infant_id": a2, "barcode": "CARD-1", "collected_at": at.to_rfc3339(), "feeding": "breast", "collector": "n"}))
        .await;
    assert_eq!(r.status(), 409);
    assert_eq!(
        crate::helpers::problem(r).await["code"],
        "duplicate_barcode"
    );
    // The laboratory cannot tell the two apart: that card waits for the centre, the others land.
    let v: Value = app
        .post(
            "/api/v1/results",
            &lab,
            &json!({"cards": [
                {"barcode": "CARD-1", "results": crate::screening::panel(&[])},
                {"barcode": "CARD-FREE", "results": crate::screening::panel(&[])},
            ]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (v["accepted"].as_u64(), v["rejected"].as_u64()),
        (Some(1), Some(1)),
        "{v}"
    );
    assert!(
        v["cards"][0]["errors"]["barcode"][0]
            .as_str()
            .unwrap()
            .contains("more than one hospital")
    );
    let r = app
        .post(
            "/api/v1/cards/CARD-1/receipt",
            &lab,
            &json!({"received_at": crate::helpers::epoch().to_rfc3339(), "quality": "acceptable"}),
        )
        .await;
    assert_eq!(r.status(), 422);
}
