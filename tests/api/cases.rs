//! Follow-up cases through HTTP: automatic opening, de-duplication, transitions with ETags,
//! isolation.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, problem, register_card};
use crate::screening::{infant_with_card, panel};

async fn post_results(app: &TestApp, lab: &str, barcode: &str, values: &[(&str, f64)]) -> Value {
    let r = app
        .post(
            "/api/v1/results",
            lab,
            &json!({"cards": [{"barcode": barcode, "results": panel(values)}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// The case's current ETag, as a client reads it before acting.
async fn etag_of(app: &TestApp, token: &str, id: &str) -> String {
    app.get(&format!("/api/v1/cases/{id}"), token)
        .await
        .headers()["etag"]
        .to_str()
        .unwrap()
        .to_string()
}

async fn cases_of(app: &TestApp, token: &str, infant: &str) -> Vec<Value> {
    let v: Value = app
        .get(&format!("/api/v1/cases?infant_id={infant}"), token)
        .await
        .json()
        .await
        .unwrap();
    v["items"].as_array().unwrap().clone()
}

/// The due policy in force today (one per year of holiday calendar).
fn expected_policy() -> &'static str {
    let today = crate::helpers::epoch() + chrono::Duration::hours(8);
    if today.naive_utc().date() >= chrono::NaiveDate::from_ymd_opt(2027, 1, 1).unwrap() {
        "due-2027"
    } else {
        "due-2026"
    }
}

#[tokio::test]
async fn a_critical_result_opens_a_t0_case_and_a_second_positive_updates_it() {
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let lab = app.staff_token("lab", "clinician", None).await;
    let (infant, barcode) = infant_with_card(&app, &token, "K1").await;
    let before = crate::helpers::epoch();
    post_results(&app, &lab, &barcode, &[("C16-OH", 0.5)]).await;
    let cases = cases_of(&app, &lab, &infant).await;
    assert_eq!(cases.len(), 1);
    let c = &cases[0];
    assert_eq!(
        (
            c["programme"].as_str(),
            c["reason"].as_str(),
            c["tier"].as_str()
        ),
        (Some("DBS"), Some("positive"), Some("T0"))
    );
    assert_eq!(c["suspected"], json!(["LCHAD"]));
    assert_eq!(
        (
            c["catalogue_version"].as_str(),
            c["policy_version"].as_str()
        ),
        (Some("zj-2026"), Some(expected_policy()))
    );
    let contact =
        chrono::DateTime::parse_from_rfc3339(c["first_contact_due_at"].as_str().unwrap()).unwrap();
    let recall =
        chrono::DateTime::parse_from_rfc3339(c["recall_due_at"].as_str().unwrap()).unwrap();
    assert!(
        contact <= before + chrono::Duration::hours(4) + chrono::Duration::minutes(1),
        "first contact within 4 h"
    );
    assert!(
        recall <= before + chrono::Duration::hours(24) + chrono::Duration::minutes(1),
        "recall the same day"
    );

    // A repeat card with another positive marker updates the same case.
    let status = register_card(
        &app,
        &token,
        &infant,
        "K1-R",
        crate::helpers::epoch(),
        Some(&barcode),
    )
    .await;
    assert_eq!(status, 201);
    post_results(&app, &lab, "K1-R", &[("TSH", 12.0)]).await;
    let cases = cases_of(&app, &lab, &infant).await;
    assert_eq!(cases.len(), 1, "updated, not duplicated");
    assert_eq!(cases[0]["suspected"], json!(["CH", "LCHAD"]));
    assert_eq!(cases[0]["tier"], "T0", "the tier never falls");
    let detail: Value = app
        .get(
            &format!("/api/v1/cases/{}", cases[0]["id"].as_str().unwrap()),
            &lab,
        )
        .await
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["opened", "updated"]);
    assert_eq!(
        detail["timeline"][0]["detail"]["trigger"]["barcode"],
        barcode.as_str()
    );
}

#[tokio::test]
async fn unsatisfactory_cards_and_heart_and_hearing_results_open_cases() {
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let lab = app.staff_token("lab", "clinician", None).await;
    let (infant, barcode) = infant_with_card(&app, &token, "K2").await;
    let r = app
        .post(
            &format!("/api/v1/cards/{barcode}/receipt"),
            &lab,
            &json!({"received_at": crate::helpers::epoch().to_rfc3339(), "quality": "insufficient"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let cases = cases_of(&app, &lab, &infant).await;
    assert_eq!(
        (cases[0]["reason"].as_str(), cases[0]["tier"].as_str()),
        (Some("recollect"), Some("T3"))
    );

    let now = crate::helpers::epoch().to_rfc3339();
    let r = app
        .post(
            &format!("/api/v1/infants/{infant}/cchd-screens"),
            &token,
            &json!({"measured_at": now, "right_hand_spo2": 85, "foot_spo2": 97}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = app.post(&format!("/api/v1/infants/{infant}/hearing-screens"), &token, &json!({"stage": "initial", "method": "OAE", "left": "refer", "right": "pass", "tested_at": now})).await;
    assert_eq!(r.status(), 201);
    let cases = cases_of(&app, &lab, &infant).await;
    let mut kinds: Vec<(String, String, String)> = cases
        .iter()
        .map(|c| {
            (
                c["programme"].as_str().unwrap().into(),
                c["reason"].as_str().unwrap().into(),
                c["tier"].as_str().unwrap().into(),
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        vec![
            ("CCHD".into(), "positive".into(), "T0".into()),
            ("DBS".into(), "recollect".into(), "T3".into()),
            ("HEAR".into(), "refer".into(), "T2".into()),
        ]
    );
}

#[tokio::test]
async fn transitions_need_the_current_etag_and_follow_the_state_machine() {
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let lab = app.staff_token("lab", "coordinator", None).await;
    let (infant, barcode) = infant_with_card(&app, &token, "K3").await;
    post_results(&app, &lab, &barcode, &[("TSH", 12.0)]).await;
    let id = cases_of(&app, &lab, &infant).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let url = format!("/api/v1/cases/{id}/events");
    let tag = etag_of(&app, &lab, &id).await;
    let act = |tag: Option<String>, body: Value| {
        let mut r = app.req(Method::POST, &url, Some(&lab)).json(&body);
        if let Some(t) = tag {
            r = r.header("If-Match", t);
        }
        r.send()
    };
    let contact =
        json!({"transition": {"event": "contact_family"}, "note": "reached the mother by phone"});
    let r = act(None, contact.clone()).await.unwrap();
    assert_eq!(r.status(), 428);
    assert_eq!(problem(r).await["code"], "if_match_required");

    // Two coordinators with the same ETag: one wins, one gets 412.
    let (a, b) = tokio::join!(
        act(Some(tag.clone()), contact.clone()),
        act(Some(tag.clone()), json!({"note": "left a message"}))
    );
    let mut statuses = vec![a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, vec![200, 412]);
    // Whichever won, the family is reached before going on (if the note won, the contact
    // is sent again with the new ETag).
    let tag = etag_of(&app, &lab, &id).await;
    let state: Value = app
        .get(&format!("/api/v1/cases/{id}"), &lab)
        .await
        .json()
        .await
        .unwrap();
    if state["state"] == "open" {
        let r = act(Some(tag), contact.clone()).await.unwrap();
        assert_eq!(r.status(), 200);
    }

    let tag = etag_of(&app, &lab, &id).await;
    // Illegal: confirming a diagnosis before any recheck.
    let r = act(Some(tag.clone()), json!({"transition": {"event": "resolve", "outcome": {"outcome": "confirmed", "condition": "CH"}}})).await.unwrap();
    assert_eq!(r.status(), 409);
    let p = problem(r).await;
    assert_eq!(p["code"], "invalid_transition");
    assert!(p["detail"].as_str().unwrap().contains("allowed now"), "{p}");
    let r = act(Some(tag), json!({"transition": {"event": "start_workup"}}))
        .await
        .unwrap();
    assert_eq!(r.status(), 409);

    // Through to resolution, then reopened.
    let mut tag = etag_of(&app, &lab, &id).await;
    for step in [
        json!({"transition": {"event": "schedule_recall", "appointment_at": (crate::helpers::epoch() + chrono::Duration::days(1)).to_rfc3339(), "place": "省妇幼遗传代谢病门诊"}}),
        json!({"transition": {"event": "record_recheck", "reference": "K3-R"}}),
        json!({"transition": {"event": "resolve", "outcome": {"outcome": "ruled_out"}}}),
        json!({"transition": {"event": "reopen", "reason": "new result"}}),
    ] {
        let r = act(Some(tag.clone()), step.clone()).await.unwrap();
        assert_eq!(r.status(), 200, "{step}");
        tag = r.headers()["etag"].to_str().unwrap().to_string();
    }
    let detail: Value = app
        .get(&format!("/api/v1/cases/{id}"), &lab)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["state"], "open");
    assert_eq!(detail["appointment_place"], "省妇幼遗传代谢病门诊");
    assert!(detail["appointment_at"].is_string());
    let recheck = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["to_state"] == "recheck_done")
        .unwrap()
        .clone();
    assert_eq!(recheck["detail"]["event"]["reference"], "K3-R");
    let states: Vec<&str> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["to_state"].as_str())
        .collect();
    assert_eq!(
        states,
        vec![
            "open",
            "family_contacted",
            "recall_scheduled",
            "recheck_done",
            "resolved",
            "open"
        ]
    );
    // Hospitals cannot act on cases.
    let r = app
        .req(Method::POST, &url, Some(&token))
        .header("If-Match", tag)
        .json(&json!({"note": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn cases_are_isolated_and_filterable() {
    let app = TestApp::spawn().await;
    let (_, a) = app.hospital_with_token("A").await;
    let (_, b) = app.hospital_with_token("B").await;
    let lab = app.staff_token("lab", "clinician", None).await;
    let (infant_a, barcode_a) = infant_with_card(&app, &a, "A1").await;
    let (_, barcode_b) = infant_with_card(&app, &b, "B1").await;
    post_results(&app, &lab, &barcode_a, &[("TSH", 12.0)]).await;
    post_results(&app, &lab, &barcode_b, &[("Phe", 500.0)]).await;
    let id_a = cases_of(&app, &lab, &infant_a).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.get(&format!("/api/v1/cases/{id_a}"), &a).await.status(),
        200
    );
    assert_eq!(
        app.get(&format!("/api/v1/cases/{id_a}"), &b).await.status(),
        404
    );
    let mine: Value = app.get("/api/v1/cases", &b).await.json().await.unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    let all: Value = app
        .get("/api/v1/cases?open=true&limit=1", &lab)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
    let next = all["next_cursor"].as_str().unwrap();
    let page2: Value = app
        .get(
            &format!("/api/v1/cases?open=true&limit=1&cursor={next}"),
            &lab,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert_ne!(page2["items"][0]["id"], all["items"][0]["id"]);
    assert_eq!(
        all["items"][0]["tier"], "T1",
        "soonest due first: the critical Phe"
    );
    let t2: Value = app
        .get("/api/v1/cases?tier=T2", &lab)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(t2["items"].as_array().unwrap().len(), 1);
    let overdue: Value = app
        .get("/api/v1/cases?overdue=true", &lab)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(overdue["items"].as_array().unwrap().len(), 0);
    app.clock
        .set(crate::helpers::epoch() + chrono::Duration::days(8));
    let overdue: Value = app
        .get("/api/v1/cases?overdue=true", &lab)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(overdue["items"].as_array().unwrap().len(), 2);
    assert!(overdue["items"][0]["overdue"].as_bool().unwrap());
}

#[tokio::test]
async fn contact_attempts_and_worklists() {
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let (_, other) = app.hospital_with_token("B").await;
    let coord = app.staff_token("coord", "coordinator", None).await;
    let (infant, barcode) = infant_with_card(&app, &token, "W1").await;
    post_results(&app, &coord, &barcode, &[("C16-OH", 0.5)]).await;
    let id = cases_of(&app, &coord, &infant).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let count = |lists: &Value, name: &str| {
        lists
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == name)
            .unwrap()["count"]
            .as_i64()
            .unwrap()
    };

    let lists: Value = app
        .get("/api/v1/worklists", &coord)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            count(&lists, "critical"),
            count(&lists, "unassigned"),
            count(&lists, "due_48h")
        ),
        (1, 1, 1)
    );
    assert_eq!(
        (count(&lists, "overdue"), count(&lists, "contact_problems")),
        (0, 0)
    );
    let lists: Value = app
        .get("/api/v1/worklists", &other)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        count(&lists, "critical"),
        0,
        "another hospital sees none of it"
    );

    // The birth hospital tries the phone: wrong number.
    let url = format!("/api/v1/cases/{id}/contact-attempts");
    let r = app.post(&url, &token, &json!({"channel": "phone", "outcome": "wrong_number", "note": "number not in service"})).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().await.unwrap()["state"], "open");
    let w: Value = app
        .get("/api/v1/worklists/contact_problems", &coord)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(w["count"], 1);
    assert_eq!(w["items"][0]["id"], id.as_str());
    let i: Value = app
        .get(&format!("/api/v1/infants/{infant}"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(i["contact_problem"], true);
    let r = app
        .post(&url, &token, &json!({"channel": "fax", "outcome": "lost"}))
        .await;
    let p = problem(r).await;
    assert!(p["errors"]["channel"].is_array() && p["errors"]["outcome"].is_array());

    // Corrected phone numbers take it off the list; reaching the family moves the case on.
    app.patch(
        &format!("/api/v1/infants/{infant}"),
        &token,
        &json!({"mother": {"phones": ["13900001111"]}}),
    )
    .await;
    let w: Value = app
        .get("/api/v1/worklists/contact_problems", &coord)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(w["count"], 0);
    let r = app
        .post(
            &url,
            &coord,
            &json!({"channel": "phone", "outcome": "reached"}),
        )
        .await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["state"],
        "family_contacted"
    );
    let detail: Value = app
        .get(&format!("/api/v1/cases/{id}"), &coord)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["contact_attempts"].as_array().unwrap().len(), 2);

    // Assignment takes it off the unassigned list.
    let tag = etag_of(&app, &coord, &id).await;
    let me: Value = app
        .get("/api/v1/auth/me", &coord)
        .await
        .json()
        .await
        .unwrap();
    let r = app
        .req(
            Method::POST,
            &format!("/api/v1/cases/{id}/events"),
            Some(&coord),
        )
        .header("If-Match", tag)
        .json(&json!({"assignee": me["subject"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let w: Value = app
        .get("/api/v1/worklists/unassigned", &coord)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(w["count"], 0);
    let mine: Value = app
        .get(
            &format!(
                "/api/v1/cases?assignee={}&condition=LCHAD",
                me["subject"].as_str().unwrap()
            ),
            &coord,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.get("/api/v1/worklists/nope", &coord).await.status(),
        404
    );

    // Past the due time it is overdue.
    app.clock
        .set(crate::helpers::epoch() + chrono::Duration::days(2));
    let w: Value = app
        .get("/api/v1/worklists/overdue", &coord)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(w["count"], 1);
}

#[tokio::test]
async fn a_normal_repeat_card_proposes_resolving_a_borderline_case() {
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let lab = app.staff_token("lab", "clinician", None).await;
    let (infant, barcode) = infant_with_card(&app, &token, "RP1").await;
    post_results(&app, &lab, &barcode, &[("Tyr", 400.0)]).await;
    let cases = cases_of(&app, &lab, &infant).await;
    assert_eq!(
        (cases[0]["reason"].as_str(), cases[0]["tier"].as_str()),
        (Some("repeat"), Some("T2"))
    );
    let status = register_card(
        &app,
        &token,
        &infant,
        "RP1-R",
        crate::helpers::epoch(),
        Some(&barcode),
    )
    .await;
    assert_eq!(status, 201);
    post_results(&app, &lab, "RP1-R", &[]).await;
    let detail: Value = app
        .get(
            &format!("/api/v1/cases/{}", cases[0]["id"].as_str().unwrap()),
            &lab,
        )
        .await
        .json()
        .await
        .unwrap();
    let last = detail["timeline"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["kind"], "resolution_proposed");
    assert_eq!(last["detail"]["barcode"], "RP1-R");
    assert_eq!(detail["state"], "open", "staff decide");
}

#[tokio::test]
async fn missed_screens_open_cases_once_and_refusals_none() {
    use guthrie::domain::catalogue::Programme;
    use guthrie::domain::principal::{Principal, PrincipalKind};
    use guthrie::domain::role::Role;
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let coord = app.staff_token("coord", "coordinator", None).await;
    let (late, _) = crate::helpers::register_infant(&app, &token, "MS1", 24 * 10).await;
    let (refused, _) = crate::helpers::register_infant(&app, &token, "MS2", 24 * 10).await;
    crate::helpers::register_infant(&app, &token, "MS3", 24).await;
    app.post(
        &format!("/api/v1/infants/{refused}/consents"),
        &token,
        &json!({"programme": "DBS", "decision": "refusal", "guardian_name": "王芳", "signed_at": crate::helpers::epoch().to_rfc3339()}),
    )
    .await;
    let state = app.state.clone();
    let sweep = move || {
        let state = state.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let now = crate::helpers::epoch();
                let cat =
                    guthrie::services::admin::catalogue::current(&state.catalogues, now).unwrap();
                let policy =
                    guthrie::services::admin::policy::current(&state.policies, now).unwrap();
                let who = Principal {
                    subject: "missed-screen-sweep".into(),
                    kind: PrincipalKind::Client,
                    role: Role::Admin,
                    hospital_id: None,
                    request_id: None,
                    correlation_id: None,
                };
                let mut c = state.pool.get().unwrap();
                guthrie::services::follow_up::cases::open_missed(
                    &mut c,
                    cat.catalogue(),
                    &policy,
                    Programme::Dbs,
                    now,
                    1000,
                    &who,
                )
                .unwrap()
            })
            .await
            .unwrap()
        }
    };
    assert_eq!(sweep().await, 1);
    assert_eq!(sweep().await, 0, "never twice");
    let cases: Value = app
        .get("/api/v1/cases?programme=DBS", &coord)
        .await
        .json()
        .await
        .unwrap();
    let items = cases["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["infant_id"], late.as_str());
    assert_eq!(
        (items[0]["reason"].as_str(), items[0]["tier"].as_str()),
        (Some("missed"), Some("T3"))
    );
}

#[tokio::test]
async fn a_confirmed_case_schedules_long_term_visits_and_screens_are_audited() {
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let coord = app.staff_token("coord", "coordinator", None).await;
    let (infant, barcode) = infant_with_card(&app, &token, "LT1").await;
    post_results(&app, &coord, &barcode, &[("TSH", 40.0)]).await;
    let id = cases_of(&app, &coord, &infant).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut tag = etag_of(&app, &coord, &id).await;
    for step in [
        json!({"transition": {"event": "contact_family"}}),
        json!({"transition": {"event": "schedule_recall"}}),
        json!({"transition": {"event": "record_recheck", "reference": "venous TSH 52"}}),
        json!({"transition": {"event": "start_workup"}}),
        json!({"transition": {"event": "resolve", "outcome": {"outcome": "confirmed", "condition": "CH"}}}),
    ] {
        let r = app
            .req(
                Method::POST,
                &format!("/api/v1/cases/{id}/events"),
                Some(&coord),
            )
            .header("If-Match", tag)
            .json(&step)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{step}");
        tag = r.headers()["etag"].to_str().unwrap().to_string();
    }
    let detail: Value = app
        .get(&format!("/api/v1/cases/{id}"), &coord)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        detail["outcome"],
        json!({"outcome": "confirmed", "condition": "CH"})
    );
    // Long-term follow-up is a management episode now, named on the case's timeline.
    assert!(detail["follow_up_visits"].as_array().unwrap().is_empty());
    let noted = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|e| e["detail"]["management_episode"].as_str())
        .unwrap()
        .to_string();
    let e = app
        .get(&format!("/api/v1/management/episodes/{noted}"), &coord)
        .await;
    assert_eq!(e.status(), 200);

    // Hearing, heart and consent writes are audited too.
    let now = crate::helpers::epoch().to_rfc3339();
    app.post(&format!("/api/v1/infants/{infant}/hearing-screens"), &token, &json!({"stage": "initial", "method": "OAE", "left": "pass", "right": "pass", "tested_at": now})).await;
    app.post(
        &format!("/api/v1/infants/{infant}/cchd-screens"),
        &token,
        &json!({"measured_at": now, "right_hand_spo2": 98, "foot_spo2": 98}),
    )
    .await;
    app.post(&format!("/api/v1/infants/{infant}/consents"), &token, &json!({"programme": "HEAR", "decision": "consent", "guardian_name": "王芳", "signed_at": now})).await;
    let s: Value = app
        .get(&format!("/api/v1/infants/{infant}/screening"), &token)
        .await
        .json()
        .await
        .unwrap();
    for (entity, id) in [
        ("hearing_screen", &s["hearing_tests"][0]["id"]),
        ("cchd_screen", &s["cchd_measurements"][0]["id"]),
    ] {
        let t: Value = app
            .get(
                &format!("/api/v1/audit?entity={entity}&id={}", id.as_str().unwrap()),
                &app.admin_token,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(t[0]["action"], "create", "{entity}");
    }
}

/// A case's `next_due_at` is computed in Rust when the case is inserted and in SQL when it
/// changes; both must give the same deadline in every state and order of the two deadlines.
#[tokio::test]
async fn insert_and_update_agree() {
    use diesel::prelude::*;
    use guthrie::db::models::follow_up::case::{fill_next_due, next_due};
    use guthrie::db::schema::cases;
    use guthrie::db::types::UtcMicros;
    use guthrie::domain::case::CaseState;
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let lab = app.staff_token("lab", "clinician", None).await;
    let (infant, barcode) = infant_with_card(&app, &token, "ND1").await;
    post_results(&app, &lab, &barcode, &[("C16-OH", 0.5)]).await;
    let case = cases_of(&app, &lab, &infant).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut c = app.state.pool.get().unwrap();
    let stored = |c: &mut guthrie::db::AnyConnection| -> Option<UtcMicros> {
        cases::table
            .filter(cases::id.eq(&case))
            .select(cases::next_due_at)
            .first(c)
            .unwrap()
    };
    // As inserted: an open T0 case is due for first contact before its recall.
    let (fc, rc): (UtcMicros, UtcMicros) = cases::table
        .filter(cases::id.eq(&case))
        .select((cases::first_contact_due_at, cases::recall_due_at))
        .first(&mut c)
        .unwrap();
    assert_eq!(stored(&mut c), Some(next_due(CaseState::Open, fc, rc)));
    assert_eq!(stored(&mut c), Some(fc));
    let early = UtcMicros::new(crate::helpers::epoch());
    let late = UtcMicros::new(crate::helpers::epoch() + chrono::Duration::days(3));
    for state in [CaseState::Open, CaseState::FamilyContacted] {
        for (fc, rc) in [(early, late), (late, early), (early, early)] {
            diesel::update(cases::table.filter(cases::id.eq(&case)))
                .set((
                    cases::state.eq(state),
                    cases::first_contact_due_at.eq(fc),
                    cases::recall_due_at.eq(rc),
                    cases::next_due_at.eq(None::<UtcMicros>),
                ))
                .execute(&mut c)
                .unwrap();
            fill_next_due(&mut c).unwrap();
            assert_eq!(
                stored(&mut c),
                Some(next_due(state, fc, rc)),
                "{state:?} {fc:?} {rc:?}"
            );
        }
    }
}
