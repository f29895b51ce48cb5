//! Registering births, reading, paging, updating contacts and status, idempotent retries.

use reqwest::Method;
use serde_json::{Value, json};

use guthrie::domain::principal::Scope;

use crate::helpers::{TestApp, infant_body, problem};

#[tokio::test]
async fn registration_round_trips_and_masks_the_id_number() {
    let app = TestApp::spawn().await;
    let (h, token) = app.hospital_with_token("A").await;
    let body = infant_body("MRN-1");
    let r = app.post("/api/v1/infants", &token, &body).await;
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let created: Value = r.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/infants/{}", created["id"].as_str().unwrap())
    );
    assert_eq!(created["hospital_id"], h.as_str());
    assert_eq!(
        created["birth_at"], body["birth_at"],
        "birth time keeps its offset"
    );
    assert_eq!(created["mother"]["phones"], json!(["13800138000"]));
    assert_eq!(
        created["mother"]["id_document"]["number_masked"],
        "110***********002X"
    );
    let text = app.get(&location, &token).await.text().await.unwrap();
    assert!(
        !text.contains("11010519491231002X"),
        "the full ID number never leaves the server"
    );
    let fetched: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(fetched, created);

    // In the database: a keyed hash and the masked form, never the number itself.
    let id = created["id"].as_str().unwrap().to_string();
    let pool = app.state.pool.clone();
    let row = tokio::task::spawn_blocking(move || {
        let mut c = pool.get().unwrap();
        guthrie::db::models::screening::infant::get(
            &mut c,
            &Scope::unrestricted(),
            id.parse().unwrap(),
        )
        .unwrap()
        .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(row.mother_id_hash.as_ref().unwrap().len(), 64);
    assert!(!format!("{row:?}").contains("11010519491231002X"));
}

#[tokio::test]
async fn a_duplicate_mrn_in_the_same_hospital_is_a_conflict() {
    let app = TestApp::spawn().await;
    let (_, a) = app.hospital_with_token("A").await;
    let (_, b) = app.hospital_with_token("B").await;
    let first: Value = app
        .post("/api/v1/infants", &a, &infant_body("M"))
        .await
        .json()
        .await
        .unwrap();
    let r = app.post("/api/v1/infants", &a, &infant_body("M")).await;
    assert_eq!(r.status(), 409);
    let p = problem(r).await;
    assert_eq!(p["code"], "duplicate_infant");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains(first["id"].as_str().unwrap())
    );
    // The same MRN at another hospital is a different infant.
    assert_eq!(
        app.post("/api/v1/infants", &b, &infant_body("M"))
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn idempotent_retry_returns_the_first_response_and_writes_once() {
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let body = infant_body("IDEM-1");
    let send = |b: &Value| {
        app.req(Method::POST, "/api/v1/infants", Some(&token))
            .header("Idempotency-Key", "req-42")
            .json(b)
            .send()
    };
    let first = send(&body).await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let retry = send(&body).await.unwrap();
    assert_eq!(retry.status(), 201);
    assert_eq!(retry.headers()["idempotency-replayed"], "true");
    assert!(retry.headers().get("location").is_some());
    assert_eq!(retry.json::<Value>().await.unwrap(), first);
    assert_eq!(app.infant_count().await, 1);

    // Same key, different body: 422 and nothing written.
    let r = send(&infant_body("IDEM-2")).await.unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(problem(r).await["code"], "idempotency_key_reused");
    assert_eq!(app.infant_count().await, 1);

    // A rejected first attempt does not burn the key.
    let mut bad = infant_body("IDEM-3");
    bad["birth_weight_g"] = json!(50);
    let r = app
        .req(Method::POST, "/api/v1/infants", Some(&token))
        .header("Idempotency-Key", "k3")
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = app
        .req(Method::POST, "/api/v1/infants", Some(&token))
        .header("Idempotency-Key", "k3")
        .json(&infant_body("IDEM-3"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(app.infant_count().await, 2);
}

#[tokio::test]
async fn list_pages_with_a_cursor_and_filters() {
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    for i in 0..5 {
        let mut b = infant_body(&format!("P-{i}"));
        b["nicu_admitted"] = json!(i % 2 == 0);
        assert_eq!(app.post("/api/v1/infants", &token, &b).await.status(), 201);
    }
    let mut seen = vec![];
    let mut url = "/api/v1/infants?limit=2".to_string();
    loop {
        let page: Value = app.get(&url, &token).await.json().await.unwrap();
        for i in page["items"].as_array().unwrap() {
            seen.push(i["mrn"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => url = format!("/api/v1/infants?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        vec!["P-4", "P-3", "P-2", "P-1", "P-0"],
        "newest first, each once"
    );
    let nicu: Value = app
        .get("/api/v1/infants?nicu_admitted=true", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(nicu["items"].as_array().unwrap().len(), 3);
    let by_mrn: Value = app
        .get("/api/v1/infants?mrn=P-3", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_mrn["items"][0]["mrn"], "P-3");
    let future = (crate::helpers::epoch() + chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let none: Value = app
        .get(&format!("/api/v1/infants?born_from={future}"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["items"].as_array().unwrap().len(), 0);
    for bad in [
        "limit=0",
        "limit=500",
        "cursor=zzz",
        "status=alive",
        "nicu_admitted=maybe",
        "colour=red",
    ] {
        let r = app.get(&format!("/api/v1/infants?{bad}"), &token).await;
        assert_eq!(r.status(), 400, "{bad}");
        assert_eq!(problem(r).await["code"], "invalid_query", "{bad}");
    }
}

#[tokio::test]
async fn contacts_and_status_can_be_updated_and_death_is_final() {
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let created: Value = app
        .post("/api/v1/infants", &token, &infant_body("U-1"))
        .await
        .json()
        .await
        .unwrap();
    let url = format!("/api/v1/infants/{}", created["id"].as_str().unwrap());

    let r = app
        .patch(&url, &token, &json!({"mother": {"phones": ["13900139000", "0571-88887777"], "id_document": null}, "address": null}))
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v["mother"]["phones"],
        json!(["13900139000", "057188887777"])
    );
    assert_eq!(v["mother"]["id_document"], Value::Null);
    assert_eq!(v["address"], Value::Null);
    assert_eq!(v["mother"]["name"], "王芳", "absent fields stay");

    let r = app
        .patch(
            &url,
            &token,
            &json!({"status": "transferred", "status_note": "to Ningbo"}),
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "transferred");
    let r = app
        .patch(&url, &token, &json!({"status": "deceased"}))
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "deceased");
    assert!(v["status_changed_at"].is_string());
    let r = app.patch(&url, &token, &json!({"status": "active"})).await;
    assert_eq!(r.status(), 409);
    let p = problem(r).await;
    assert_eq!(p["code"], "invalid_status_change");
    assert!(p["errors"]["status"].is_array());

    let r = app
        .patch(&url, &token, &json!({"mother": {"phones": ["12"]}}))
        .await;
    assert_eq!(r.status(), 422);
    assert!(problem(r).await["errors"]["mother.phones[0]"].is_array());
}

#[tokio::test]
async fn centre_staff_register_by_naming_the_hospital() {
    let app = TestApp::spawn().await;
    let h = app.hospital("A").await;
    let coord = app.staff_token("coord", "coordinator", None).await;
    let r = app
        .post("/api/v1/infants", &coord, &infant_body("C-1"))
        .await;
    assert_eq!(r.status(), 422);
    assert!(problem(r).await["errors"]["hospital_id"].is_array());
    let mut b = infant_body("C-1");
    b["hospital_id"] = json!(h);
    assert_eq!(app.post("/api/v1/infants", &coord, &b).await.status(), 201);
    app.patch(
        &format!("/api/v1/hospitals/{h}"),
        &app.admin_token,
        &json!({"active": false}),
    )
    .await;
    let mut b = infant_body("C-2");
    b["hospital_id"] = json!(h);
    let r = app.post("/api/v1/infants", &coord, &b).await;
    assert_eq!(r.status(), 422);
    assert_eq!(app.infant_count().await, 1);
}

#[tokio::test]
async fn concurrent_retries_with_one_key_write_once() {
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let body = infant_body("RACE-1");
    let sends = (0..6).map(|_| {
        app.req(Method::POST, "/api/v1/infants", Some(&token))
            .header("Idempotency-Key", "race")
            .json(&body)
            .send()
    });
    let statuses: Vec<u16> = futures_util::future::join_all(sends)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    assert!(statuses.contains(&201));
    assert_eq!(app.infant_count().await, 1);
}

#[tokio::test]
async fn the_same_baby_is_refused_but_twins_are_not() {
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let mut first = infant_body("TW-1");
    first["plurality"] = json!(2);
    first["birth_order"] = json!(1);
    let r = app.post("/api/v1/infants", &token, &first).await;
    assert_eq!(r.status(), 201);
    let first_id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The twin: same mother and birth time, birth order 2, its own MRN.
    let mut twin = first.clone();
    twin["mrn"] = json!("TW-2");
    twin["birth_order"] = json!(2);
    assert_eq!(
        app.post("/api/v1/infants", &token, &twin).await.status(),
        201
    );
    // The first twin again under another MRN: a duplicate, pointing at the existing record.
    let mut again = first.clone();
    again["mrn"] = json!("TW-1-AGAIN");
    let r = app.post("/api/v1/infants", &token, &again).await;
    assert_eq!(r.status(), 409);
    let p = problem(r).await;
    assert_eq!(p["code"], "duplicate_infant");
    assert!(p["detail"].as_str().unwrap().contains(&first_id));
    assert_eq!(app.infant_count().await, 2);
}

#[tokio::test]
async fn an_admin_merge_moves_screens_and_cases_and_can_be_undone() {
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let lab = app.staff_token("lab", "clinician", None).await;
    let (kept, _) = crate::screening::infant_with_card(&app, &token, "MG1").await;
    let (dup, barcode) = crate::screening::infant_with_card(&app, &token, "MG2").await;
    app.post("/api/v1/results", &lab, &json!({"cards": [{"barcode": barcode, "results": crate::screening::panel(&[("TSH", 30.0)])}]})).await;
    let r = app
        .post(
            &format!("/api/v1/infants/{dup}/hearing-interventions"),
            &token,
            &json!({"kind": "early_intervention", "started_at": crate::helpers::epoch().to_rfc3339()}),
        )
        .await;
    assert_eq!(r.status(), 201);

    let r = app
        .post(
            &format!("/api/v1/infants/{kept}/merge"),
            &token,
            &json!({"duplicate_id": dup}),
        )
        .await;
    assert_eq!(r.status(), 403, "admins only");
    let r = app
        .post(
            &format!("/api/v1/infants/{kept}/merge"),
            &app.admin_token,
            &json!({"duplicate_id": dup}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let m: Value = r.json().await.unwrap();
    app.assert_quality_facts_current().await;
    let s: Value = app
        .get(&format!("/api/v1/infants/{kept}/screening"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["cards"].as_array().unwrap().len(), 2);
    assert_eq!(s["hearing_interventions"].as_array().unwrap().len(), 1);
    let cases: Value = app
        .get(&format!("/api/v1/cases?infant_id={kept}"), &lab)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(cases["items"].as_array().unwrap().len(), 1);
    let d: Value = app
        .get(&format!("/api/v1/infants/{dup}"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(d["merged_into"], kept.as_str());
    assert_eq!(
        app.infant_count().await,
        1,
        "the merged record leaves the lists"
    );
    assert_eq!(
        app.post(
            &format!("/api/v1/infants/{kept}/merge"),
            &app.admin_token,
            &json!({"duplicate_id": dup})
        )
        .await
        .status(),
        409
    );

    let r = app
        .post(
            &format!("/api/v1/merges/{}/undo", m["id"].as_str().unwrap()),
            &app.admin_token,
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let s: Value = app
        .get(&format!("/api/v1/infants/{kept}/screening"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["cards"].as_array().unwrap().len(), 1);
    assert_eq!(s["hearing_interventions"], json!([]), "moved back");
    let cases: Value = app
        .get(&format!("/api/v1/cases?infant_id={dup}"), &lab)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        cases["items"].as_array().unwrap().len(),
        1,
        "the case went back"
    );
    assert_eq!(app.infant_count().await, 2);
    app.assert_quality_facts_current().await;
    let trail: Value = app
        .get(
            &format!("/api/v1/audit?entity=infant&id={dup}"),
            &app.admin_token,
        )
        .await
        .json()
        .await
        .unwrap();
    // Newest first, list reads (of the infant counts) aside.
    let change = trail
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["changes"]["ids"].is_null())
        .unwrap();
    assert_eq!(change["changes"]["merged_into"], json!([kept, null]));
}
