//! Blood-spot cards, lab results (single and plates), interpretation, and isolation.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, infant_body, problem, register_card, register_infant};
use crate::seed::{full_panel, seed_cards};

/// The full 40-analyte normal panel with some values replaced.
pub fn panel(overrides: &[(&str, f64)]) -> Vec<Value> {
    let mut p = full_panel();
    for (k, v) in overrides {
        let e = p
            .iter_mut()
            .find(|e| e["analyte"] == *k)
            .expect("a catalogue analyte");
        e["value"] = json!(v);
    }
    p
}

/// Registers an infant born 3 days ago and a card collected at 72 h; returns (infant id, barcode).
pub async fn infant_with_card(app: &TestApp, token: &str, mrn: &str) -> (String, String) {
    let (infant, birth) = register_infant(app, token, mrn, 72).await;
    let barcode = format!("BC{mrn}");
    let status = register_card(
        app,
        token,
        &infant,
        &barcode,
        birth + chrono::Duration::hours(72),
        None,
    )
    .await;
    assert_eq!(status, 201);
    (infant, barcode)
}

#[tokio::test]
async fn a_card_is_registered_received_and_interpreted() {
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let (infant, barcode) = infant_with_card(&app, &token, "C1").await;
    let lab = app.staff_token("lab", "clinician", None).await;

    // Hospitals cannot act as the lab.
    let r = app
        .post(
            "/api/v1/results",
            &token,
            &json!({"cards": [{"barcode": barcode, "results": panel(&[])}]}),
        )
        .await;
    assert_eq!(r.status(), 403);

    let r = app
        .post(
            &format!("/api/v1/cards/{barcode}/receipt"),
            &lab,
            &json!({"received_at": crate::helpers::epoch().to_rfc3339(), "quality": "acceptable"}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    let r = app
        .post(
            "/api/v1/results",
            &lab,
            &json!({"cards": [{"barcode": barcode, "results": panel(&[("TSH", 25.0)])}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["accepted"], 1);
    let i = &v["cards"][0]["interpretation"];
    assert_eq!(i["outcome"], "critical");
    assert_eq!(i["tier"], "T1");
    assert_eq!(i["catalogue_version"], "zj-2026");
    let why = &i["suspected"][0]["markers"][0];
    assert_eq!(
        (
            why["marker"].as_str(),
            why["value"].as_f64(),
            why["cutoff"].as_f64()
        ),
        (Some("TSH"), Some(25.0), Some(9.0))
    );

    // The hospital sees it in the infant's summary.
    let s: Value = app
        .get(&format!("/api/v1/infants/{infant}/screening"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["dbs"]["status"], "positive");
    assert_eq!(s["cards"][0]["interpretation"]["outcome"], "critical");
    assert_eq!(s["cards"][0]["timing"], "on_time");
    assert_eq!(s["catalogue_version"], "zj-2026");
}

#[tokio::test]
async fn a_plate_with_valid_invalid_and_positive_cards() {
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let lab = app.staff_token("lab", "coordinator", None).await;
    let mut barcodes = vec![];
    for i in 0..4 {
        barcodes.push(infant_with_card(&app, &token, &format!("P{i}")).await.1);
    }
    let plate = json!({"cards": [
        {"barcode": barcodes[0], "results": panel(&[])},
        {"barcode": barcodes[1], "results": panel(&[("Phe", 200.0), ("Tyr", 50.0)])},
        {"barcode": barcodes[2], "results": [{"analyte": "TSH", "value": -1.0, "unit": "mIU/L"},
                                             {"analyte": "Xyz", "value": 1.0, "unit": "umol/L"},
                                             {"analyte": "Phe", "value": 50.0, "unit": "mg/dL"},
                                             {"analyte": "Tyr", "value": "high", "unit": "umol/L"}]},
        {"barcode": "NO-SUCH-CARD", "results": panel(&[])},
        {"barcode": barcodes[3], "results": panel(&[("C8", 0.5), ("C10", 0.1)])},
    ]});
    let send = || {
        app.req(Method::POST, "/api/v1/results", Some(&lab))
            .header("Idempotency-Key", "plate-7")
            .json(&plate)
            .send()
    };
    let r = send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["accepted"].as_u64(), v["rejected"].as_u64()),
        (Some(3), Some(2))
    );
    let cards = v["cards"].as_array().unwrap();
    assert_eq!(cards[0]["interpretation"]["outcome"], "normal");
    assert_eq!(cards[1]["interpretation"]["outcome"], "positive");
    let suspected: Vec<&str> = cards[1]["interpretation"]["suspected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["condition"].as_str().unwrap())
        .collect();
    assert_eq!(suspected, vec!["PKU", "BH4D"]);
    assert_eq!(cards[2]["status"], "rejected");
    for f in [
        "results[0].value",
        "results[1].analyte",
        "results[2].unit",
        "results[3].value",
    ] {
        assert!(cards[2]["errors"][f].is_array(), "{f}: {}", cards[2]);
    }
    assert_eq!(cards[3]["errors"]["barcode"][0], "unknown barcode");
    assert_eq!(
        cards[4]["interpretation"]["suspected"][0]["condition"],
        "MCAD"
    );

    // The rejected card has no results or interpretation.
    let r: Value = app
        .get(
            &format!(
                "/api/v1/cards/{}",
                card_id(&app, &token, &barcodes[2]).await
            ),
            &token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["interpretation"], Value::Null);

    // Retrying the plate replays the first answer and interprets nothing again.
    let again = send().await.unwrap();
    assert_eq!(again.headers()["idempotency-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), v);
}

async fn card_id(app: &TestApp, token: &str, barcode: &str) -> String {
    let list: Value = app
        .get("/api/v1/infants", token)
        .await
        .json()
        .await
        .unwrap();
    for i in list["items"].as_array().unwrap() {
        let s: Value = app
            .get(
                &format!("/api/v1/infants/{}/screening", i["id"].as_str().unwrap()),
                token,
            )
            .await
            .json()
            .await
            .unwrap();
        for c in s["cards"].as_array().unwrap() {
            if c["barcode"] == barcode {
                return c["id"].as_str().unwrap().to_string();
            }
        }
    }
    panic!("no card {barcode}");
}

#[tokio::test]
async fn unsatisfactory_and_early_cards_ask_for_a_new_card() {
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let lab = app.staff_token("lab", "clinician", None).await;
    let (infant, barcode) = infant_with_card(&app, &token, "U1").await;
    let r = app
        .post(
            &format!("/api/v1/cards/{barcode}/receipt"),
            &lab,
            &json!({"received_at": crate::helpers::epoch().to_rfc3339(), "quality": "smudged"}),
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(problem(r).await["errors"]["quality"].is_array());
    let r = app
        .post(
            &format!("/api/v1/cards/{barcode}/receipt"),
            &lab,
            &json!({"received_at": crate::helpers::epoch().to_rfc3339(), "quality": "serum_ring"}),
        )
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["interpretation"]["outcome"], "unsatisfactory_recollect");
    assert_eq!(v["interpretation"]["tier"], "T3");
    let s: Value = app
        .get(&format!("/api/v1/infants/{infant}/screening"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["dbs"]["status"], "needs_repeat");
    assert_eq!(s["dbs"]["next_action"]["action"], "repeat_card");

    // A repeat card collected too early is classified so at registration.
    let r = app
        .post("/api/v1/cards", &token, &json!({"infant_id": infant, "barcode": "EARLY1", "collected_at": s["cards"][0]["collected_at"],
              "feeding": "breast", "collector": "n", "repeat_of_barcode": barcode}))
        .await;
    assert_eq!(r.status(), 201);
    let birth: Value = app
        .get(&format!("/api/v1/infants/{infant}"), &token)
        .await
        .json()
        .await
        .unwrap();
    let birth = chrono::DateTime::parse_from_rfc3339(birth["birth_at"].as_str().unwrap()).unwrap();
    let r = app
        .post("/api/v1/cards", &token, &json!({"infant_id": infant, "barcode": "EARLY2", "collected_at": (birth + chrono::Duration::hours(30)).to_rfc3339(),
              "feeding": "formula", "collector": "n"}))
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["timing"], "too_early");
    let r = app.post("/api/v1/cards", &token, &json!({"infant_id": infant, "barcode": "EARLY2", "collected_at": crate::helpers::epoch().to_rfc3339(), "feeding": "formula", "collector": "n"})).await;
    assert_eq!(r.status(), 409);
}

#[tokio::test]
async fn cards_and_screens_are_isolated_between_hospitals() {
    let app = TestApp::spawn().await;
    let (_, a) = app.hospital_with_token("A").await;
    let (_, b) = app.hospital_with_token("B").await;
    let (infant_b, barcode_b) = infant_with_card(&app, &b, "B1").await;
    let id = card_id(&app, &b, &barcode_b).await;
    assert_eq!(
        app.get(&format!("/api/v1/cards/{id}"), &a).await.status(),
        404
    );
    assert_eq!(
        app.get(&format!("/api/v1/infants/{infant_b}/screening"), &a)
            .await
            .status(),
        404
    );
    let r = app.post("/api/v1/cards", &a, &json!({"infant_id": infant_b, "barcode": "X1", "collected_at": crate::helpers::epoch().to_rfc3339(), "feeding": "breast", "collector": "n"})).await;
    assert_eq!(r.status(), 404);
    let hearing = json!({"stage": "initial", "method": "OAE", "left": "pass", "right": "pass", "tested_at": crate::helpers::epoch().to_rfc3339()});
    assert_eq!(
        app.post(
            &format!("/api/v1/infants/{infant_b}/hearing-screens"),
            &a,
            &hearing
        )
        .await
        .status(),
        404
    );
    let missed: Value = app
        .get(
            "/api/v1/screening/missed?programme=HEAR&as_of=2099-01-01T00:00:00Z",
            &a,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(missed["items"].as_array().unwrap().len(), 0);
    let missed: Value = app
        .get(
            "/api/v1/screening/missed?programme=HEAR&as_of=2099-01-01T00:00:00Z",
            &b,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(missed["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_lab_client_submits_results_but_reads_no_personal_data() {
    let app = TestApp::spawn().await;
    let (h, token) = app.hospital_with_token("A").await;
    let (_, barcode) = infant_with_card(&app, &token, "L1").await;
    let r = app
        .post(
            "/api/v1/clients",
            &app.admin_token,
            &json!({"name": "LIS", "role": "lab_client", "hospital_id": h}),
        )
        .await;
    assert_eq!(r.status(), 422, "a lab client belongs to no hospital");
    let r = app
        .post("/api/v1/clients", &app.admin_token, &json!({"name": "HIS"}))
        .await;
    assert_eq!(r.status(), 422, "a hospital client needs its hospital");
    let r = app
        .post(
            "/api/v1/clients",
            &app.admin_token,
            &json!({"name": "LIS", "role": "lab_client"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["hospital_id"], Value::Null);
    let t: Value = app
        .client_token(
            c["client_id"].as_str().unwrap(),
            c["client_secret"].as_str().unwrap(),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(t["role"], "lab_client");
    let lab = t["access_token"].as_str().unwrap();
    let r = app
        .post(
            &format!("/api/v1/cards/{barcode}/receipt"),
            lab,
            &json!({"received_at": crate::helpers::epoch().to_rfc3339(), "quality": "acceptable"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r: Value = app
        .post(
            "/api/v1/results",
            lab,
            &json!({"cards": [{"barcode": barcode, "results": panel(&[])}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["accepted"], 1);
    assert_eq!(app.get("/api/v1/infants", lab).await.status(), 403);
    assert_eq!(
        app.post("/api/v1/infants", lab, &infant_body("L2"))
            .await
            .status(),
        403
    );
}

#[tokio::test]
async fn a_plate_of_1000_cards_by_40_analytes_is_accepted() {
    let app = TestApp::spawn().await;
    let h = app.hospital("A").await;
    let lab = app.staff_token("lab", "clinician", None).await;
    let (pool, key) = (app.state.pool.clone(), app.state.id_hash_key.0.clone());
    let barcodes = tokio::task::spawn_blocking(move || {
        seed_cards(&pool, &key, &h, 0, 1000, crate::helpers::epoch())
    })
    .await
    .unwrap();
    let results = full_panel();
    assert_eq!(results.len(), 40);
    let cards: Vec<Value> = barcodes
        .iter()
        .map(|b| json!({"barcode": b, "results": results}))
        .collect();
    let r = app
        .post("/api/v1/results", &lab, &json!({"cards": cards}))
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["accepted"], 1000, "{}", v["cards"][0]);
    assert!(v["cards"].as_array().unwrap().iter().all(|c| {
        c["interpretation"]["not_tested"]
            .as_array()
            .unwrap()
            .is_empty()
    }));
}

/// Values must name an existing card, and a card with values cannot be deleted (the values
/// row's foreign key, on both databases: one row, so one check, per card's panel).
#[tokio::test]
async fn values_name_existing_cards_and_keep_them() {
    use diesel::RunQueryDsl;
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("FK").await;
    let (_, barcode) = infant_with_card(&app, &token, "FK1").await;
    let lab = app.staff_token("lab", "clinician", None).await;
    let r = app
        .post(
            "/api/v1/results",
            &lab,
            &json!({"cards": [{"barcode": barcode, "results": full_panel()}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let card = card_id(&app, &token, &barcode).await;
    let mut c = app.state.pool.get().unwrap();
    let is_fk = |e: diesel::result::Error| {
        matches!(
            e,
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                _
            )
        )
    };
    // A value of no card (alone, and beside a valid one) is refused.
    let panel = r#"{"TSH":[1.0,"mU/L","2026-12-01T00:00:00Z",null]}"#;
    for sql in [
        format!("INSERT INTO dbs_card_values (card_id, panel) VALUES ('no-such-card', '{panel}')"),
        format!(
            "INSERT INTO dbs_card_values (card_id, panel) \
             VALUES ('no-such-card', '{panel}'), ('another-missing-card', '{panel}')"
        ),
    ] {
        let e = diesel::sql_query(sql).execute(&mut c).unwrap_err();
        assert!(is_fk(e), "a value of no card is refused");
    }
    // Its interpretations gone, the card is still kept by its values.
    for sql in [
        format!("DELETE FROM quality_card_facts WHERE card_id = '{card}'"),
        format!("DELETE FROM dbs_interpretations WHERE card_id = '{card}'"),
    ] {
        diesel::sql_query(sql).execute(&mut c).unwrap();
    }
    let e = diesel::sql_query(format!("DELETE FROM dbs_cards WHERE id = '{card}'"))
        .execute(&mut c)
        .unwrap_err();
    assert!(is_fk(e), "a card with values is kept");
    // Values of an existing card are accepted (the check is not a blanket refusal).
    diesel::sql_query(format!(
        "UPDATE dbs_card_values SET panel = '{panel}' WHERE card_id = '{card}'"
    ))
    .execute(&mut c)
    .unwrap();
    diesel::sql_query(format!(
        "DELETE FROM dbs_card_values WHERE card_id = '{card}'"
    ))
    .execute(&mut c)
    .unwrap();
    diesel::sql_query(format!(
        "INSERT INTO dbs_card_values (card_id, panel) VALUES ('{card}', '{panel}')"
    ))
    .execute(&mut c)
    .unwrap();
}

/// A card's values are one panel: a later report merges into it, a corrected value replacing
/// the old one and every other value kept (read back through the `dbs_results` view, one row
/// per value, on both databases), and the re-interpretation sees the whole panel.
#[tokio::test]
async fn a_corrected_value_replaces_its_old_value_and_keeps_the_rest() {
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("PV").await;
    let (_, barcode) = infant_with_card(&app, &token, "PV1").await;
    let lab = app.staff_token("lab", "clinician", None).await;
    let body = |results: Vec<Value>| json!({"cards": [{"barcode": barcode, "results": results}]});
    let r = app.post("/api/v1/results", &lab, &body(panel(&[]))).await;
    assert_eq!(r.status(), 200);
    let card = card_id(&app, &token, &barcode).await;
    let values = |analyte: &str| {
        crate::helpers::count(
            &app,
            &format!(
                "SELECT COUNT(*) AS n FROM dbs_results WHERE card_id = '{card}' \
                 AND analyte = '{analyte}' AND value > 29.0 AND value < 31.0"
            ),
        )
    };
    let all = format!("SELECT COUNT(*) AS n FROM dbs_results WHERE card_id = '{card}'");
    assert_eq!(crate::helpers::count(&app, &all), 40);
    assert_eq!(values("TSH"), 0);

    let tsh = full_panel()
        .into_iter()
        .find(|e| e["analyte"] == "TSH")
        .unwrap();
    let r = app
        .post(
            "/api/v1/results",
            &lab,
            &body(vec![
                json!({"analyte": "TSH", "value": 30.0, "unit": tsh["unit"]}),
            ]),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(crate::helpers::count(&app, &all), 40, "{body}");
    assert_eq!(values("TSH"), 1, "the corrected value replaced the old one");
    assert_eq!(
        crate::helpers::count(
            &app,
            &format!("SELECT COUNT(*) AS n FROM dbs_card_values WHERE card_id = '{card}'")
        ),
        1
    );
    // The whole panel was interpreted: the raised TSH opened a case.
    let cases: Value = app.get("/api/v1/cases", &lab).await.json().await.unwrap();
    assert_eq!(cases["items"].as_array().unwrap().len(), 1, "{cases}");
}
