//! Long-term management (高危儿专案管理) through HTTP: a confirmed case opens an episode in the
//! same transaction, treatment schedules its contacts, measurements off target flag it, a
//! missed contact climbs its ladder once per rung and stops when recorded, transfers keep the
//! history, hospitals see only their own, and the report counts a known cohort.

use chrono::{DateTime, Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, count, epoch, problem, register_infant};
use crate::screening::{infant_with_card, panel};

const RECIPIENTS: &str = r#"
[notify.recipients]
on_call_emails = ["oncall@centre.test"]
supervisor_emails = []
coordinator_emails = ["coord@centre.test"]
centre_emails = []

[[notify.recipients.districts]]
district = "*"
mch_emails = ["mch@district.test"]
bureau_emails = []
"#;

async fn spawn() -> TestApp {
    TestApp::spawn_full(&[], RECIPIENTS, crate::helpers::TestDb::new()).await
}

/// Takes a CH-positive infant through recall to a confirmed case; returns (infant, case id).
pub(crate) async fn confirmed(
    app: &TestApp,
    hospital_token: &str,
    coord: &str,
    mrn: &str,
) -> (String, String) {
    let (infant, barcode) = infant_with_card(app, hospital_token, mrn).await;
    let r = app
        .post(
            "/api/v1/results",
            coord,
            &json!({"cards": [{"barcode": barcode, "results": panel(&[("TSH", 40.0)])}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = app
        .get(&format!("/api/v1/cases?infant_id={infant}"), coord)
        .await
        .json()
        .await
        .unwrap();
    let id = v["items"][0]["id"].as_str().unwrap().to_string();
    for step in [
        json!({"transition": {"event": "contact_family"}}),
        json!({"transition": {"event": "record_recheck", "reference": "venous TSH 52"}}),
        json!({"transition": {"event": "start_workup"}}),
        json!({"transition": {"event": "resolve", "outcome": {"outcome": "confirmed", "condition": "CH"}}}),
    ] {
        app.act_on_case(coord, &id, &step).await;
    }
    (infant, id)
}

async fn episodes_of(app: &TestApp, token: &str, infant: &str) -> Vec<Value> {
    let v: Value = app
        .get(
            &format!("/api/v1/management/episodes?infant_id={infant}"),
            token,
        )
        .await
        .json()
        .await
        .unwrap();
    v["items"].as_array().unwrap().clone()
}

async fn detail(app: &TestApp, token: &str, id: &str) -> (Value, String) {
    let r = app
        .get(&format!("/api/v1/management/episodes/{id}"), token)
        .await;
    assert_eq!(r.status(), 200);
    let tag = r.headers()["etag"].to_str().unwrap().to_string();
    (r.json().await.unwrap(), tag)
}

async fn act(
    app: &TestApp,
    token: &str,
    id: &str,
    path: &str,
    tag: &str,
    body: &Value,
) -> reqwest::Response {
    app.req(
        Method::POST,
        &format!("/api/v1/management/episodes/{id}{path}"),
        Some(token),
    )
    .header("If-Match", tag)
    .json(body)
    .send()
    .await
    .unwrap()
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_confirmed_case_is_managed_from_treatment_to_follow_up() {
    let app = spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let coord = app.staff_token("coord", "coordinator", None).await;
    let doc = app.staff_token("doc", "clinician", None).await;
    let (infant, case_id) = confirmed(&app, &token, &coord, "M1").await;

    // The episode was opened by the confirmation, in its transaction.
    let eps = episodes_of(&app, &coord, &infant).await;
    assert_eq!(eps.len(), 1);
    let e = &eps[0];
    assert_eq!(
        (
            e["condition"].as_str(),
            e["plan"].as_str(),
            e["state"].as_str()
        ),
        (Some("CH"), Some("CH"), Some("registered"))
    );
    assert_eq!(e["case_id"], case_id);
    assert_eq!(e["plan_version"], "zj-mgmt-2026");
    let id = e["id"].as_str().unwrap().to_string();
    let (d, tag) = detail(&app, &coord, &id).await;
    assert_eq!(
        d["case"]["id"], case_id,
        "the case's history comes with the episode"
    );
    assert!(d["case"]["timeline"].as_array().unwrap().len() >= 4);
    // Before treatment only birth-anchored contacts exist; the next deadline is treatment start
    // (14 days of life).
    assert!(
        d["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["code"] == "DEV" || c["code"] == "TFT-Y2")
    );
    let birth = epoch() - Duration::hours(72);
    assert_eq!(time(&d["treatment_due_at"]), birth + Duration::days(14));
    assert_eq!(d["next_due_at"], d["treatment_due_at"]);

    // A coordinator may not record treatment; a stale ETag is refused; nothing changes.
    let started = epoch() + Duration::days(2);
    app.clock.set(started);
    let t = json!({"kind": "medication", "regimen": "levothyroxine 10 µg/kg/d", "prescriber": "Dr Li", "started_at": started});
    assert_eq!(
        act(&app, &coord, &id, "/treatments", &tag, &t)
            .await
            .status(),
        403
    );
    assert_eq!(
        act(&app, &doc, &id, "/treatments", "\"99\"", &t)
            .await
            .status(),
        412
    );
    let bad = json!({"kind": "potion", "regimen": "x", "prescriber": "y", "started_at": started});
    assert_eq!(
        act(&app, &doc, &id, "/treatments", &tag, &bad)
            .await
            .status(),
        400
    );
    let r = act(&app, &doc, &id, "/treatments", &tag, &t).await;
    assert_eq!(r.status(), 200);
    let tag = r.headers()["etag"].to_str().unwrap().to_string();
    let (d, _) = detail(&app, &doc, &id).await;
    assert_eq!(d["state"], "treatment_started");
    let contacts = d["contacts"].as_array().unwrap();
    let first = contacts.iter().find(|c| c["code"] == "TFT-1").unwrap();
    assert_eq!(time(&first["due_at"]), started + Duration::days(14));
    assert_eq!(
        contacts.iter().filter(|c| c["code"] == "TFT").count(),
        5,
        "every 10 weeks in year 1"
    );
    assert_eq!(d["treatments"].as_array().unwrap().len(), 1);

    // Recording the first check with TSH still high flags the episode; an unknown field is
    // refused naming it and changes nothing.
    let cid = first["id"].as_str().unwrap();
    app.clock.set(started + Duration::days(14));
    let r = act(
        &app,
        &doc,
        &id,
        &format!("/contacts/{cid}"),
        &tag,
        &json!({"measurements": {"Phe": 100.0}}),
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(problem(r).await["errors"]["measurements.Phe"].is_array());
    let body = json!({"measurements": {"TSH": 12.5, "FT4": 14.0}, "note": "dose up",
                      "treatment": {"kind": "medication", "regimen": "levothyroxine 12.5 µg/kg/d", "prescriber": "Dr Li", "started_at": started + Duration::days(14)}});
    let r = act(&app, &doc, &id, &format!("/contacts/{cid}"), &tag, &body).await;
    assert_eq!(r.status(), 200);
    let e: Value = r.json().await.unwrap();
    assert_eq!(
        (e["state"].as_str(), e["flags"].as_i64()),
        (Some("under_follow_up"), Some(1))
    );
    let tag = format!("\"{}\"", e["version"]);
    let again = act(
        &app,
        &doc,
        &id,
        &format!("/contacts/{cid}"),
        &tag,
        &json!({}),
    )
    .await;
    assert_eq!(again.status(), 409);
    assert_eq!(problem(again).await["code"], "contact_already_recorded");
    let flagged: Value = app
        .get("/api/v1/management/episodes?flagged=true", &coord)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(flagged["items"].as_array().unwrap().len(), 1);
    let (d, _) = detail(&app, &doc, &id).await;
    let rec = d["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == cid)
        .unwrap();
    assert_eq!(rec["status"], "done");
    assert_eq!(rec["off_target"][0]["field"], "TSH");
    assert_eq!(
        d["treatments"].as_array().unwrap().len(),
        2,
        "a change is history, not an overwrite"
    );
    let kinds: Vec<&str> = d["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "opened",
            "treatment_started",
            "contact_recorded",
            "flagged",
            "treatment_changed"
        ]
    );
    let r = act(&app, &doc, &id, "/flags/acknowledge", &tag, &json!({})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["flags"], 0);
    let audited = count(
        &app,
        &format!(
            "SELECT COUNT(*) AS n FROM audit_log WHERE entity = 'management_episode' AND entity_id = '{id}'"
        ),
    );
    assert!(audited >= 5, "{audited}");
}

#[tokio::test]
async fn a_missed_contact_escalates_once_per_rung_and_stops_when_recorded() {
    let app = spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let coord = app.staff_token("coord", "coordinator", None).await;
    let doc = app.staff_token("doc", "clinician", None).await;
    let (infant, _) = confirmed(&app, &token, &coord, "M2").await;
    let id = episodes_of(&app, &coord, &infant).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, tag) = detail(&app, &coord, &id).await;
    let t = json!({"kind": "medication", "regimen": "levothyroxine", "prescriber": "Dr Li", "started_at": epoch()});
    assert_eq!(
        act(&app, &doc, &id, "/treatments", &tag, &t).await.status(),
        200
    );
    let (d, _) = detail(&app, &coord, &id).await;
    let tft1 = d["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "TFT-1")
        .unwrap()
        .clone();
    let cid = tft1["id"].as_str().unwrap().to_string();
    let due = time(&tft1["due_at"]);
    let end = time(&tft1["window_end"]);
    let rows = |rung: &str| {
        count(
            &app,
            &format!(
                "SELECT COUNT(*) AS n FROM notifications WHERE dedup_key LIKE 'mgmt:{cid}:{rung}%'"
            ),
        )
    };

    // Three days before: the family's reminder, once however often the sweep runs.
    app.clock.set(due - Duration::days(3));
    app.run_job("escalation").await;
    app.run_job("escalation").await;
    assert_eq!(rows("M0"), 1);
    assert_eq!(rows("M1"), 0);
    // The window closes unrecorded: the hospital has no address, the coordinators are told;
    // the contact is on the worklist as overdue.
    app.clock.set(end + Duration::hours(1));
    let r = app.run_job("escalation").await;
    assert!(
        r["management_contacts"]["rungs_fired"].as_u64().unwrap() >= 1,
        "{r}"
    );
    app.run_job("escalation").await;
    assert_eq!(rows("M1"), 1);
    let w: Value = app
        .get("/api/v1/management/worklist?days=0", &coord)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        w["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == id && e["overdue"] == true)
    );
    // Recorded late: the ladder stops before the district rung.
    let (_, tag) = detail(&app, &coord, &id).await;
    let r = act(
        &app,
        &coord,
        &id,
        &format!("/contacts/{cid}"),
        &tag,
        &json!({"note": "came in late"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    app.clock.set(end + Duration::days(30));
    app.run_job("escalation").await;
    assert_eq!(rows("M2"), 0);
    let (d, _) = detail(&app, &coord, &id).await;
    let rec = d["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == cid)
        .unwrap();
    assert_eq!(rec["status"], "done_late");
    assert!(rec["next_rung"].is_null());
    let fired: Vec<&str> = d["escalations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["contact_id"] == cid)
        .map(|x| x["rung"].as_str().unwrap())
        .collect();
    assert_eq!(fired, ["M0", "M1"]);
    // Another contact left alone reaches the district MCH for a home visit, once.
    let other = d["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "TFT" && c["seq"] == 1)
        .unwrap()
        .clone();
    app.clock
        .set(time(&other["window_end"]) + Duration::days(15));
    app.run_job("escalation").await;
    app.run_job("escalation").await;
    let oid = other["id"].as_str().unwrap();
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT COUNT(*) AS n FROM notifications WHERE dedup_key LIKE 'mgmt:{oid}:M2%'"
            )
        ),
        1
    );
}

#[tokio::test]
async fn a_missed_treatment_target_is_escalated_once_and_a_timely_one_never() {
    let app = spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let coord = app.staff_token("coord", "coordinator", None).await;
    let doc = app.staff_token("doc", "clinician", None).await;
    // Two confirmed CH infants born 72 h before epoch (target: treatment by day 14 of life);
    // one is treated on day 10.
    let (late, _) = confirmed(&app, &token, &coord, "T1").await;
    let (timely, _) = confirmed(&app, &token, &coord, "T2").await;
    let late = episodes_of(&app, &coord, &late).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let timely = episodes_of(&app, &coord, &timely).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (d, tag) = detail(&app, &coord, &timely).await;
    let target = time(&d["treatment_due_at"]);
    assert_eq!(target, epoch() - Duration::hours(72) + Duration::days(14));
    app.clock.set(epoch() + Duration::days(7));
    let t = json!({"kind": "medication", "regimen": "levothyroxine", "prescriber": "Dr Li", "started_at": epoch() + Duration::days(7)});
    assert_eq!(
        act(&app, &doc, &timely, "/treatments", &tag, &t)
            .await
            .status(),
        200
    );
    let rows = |id: &str| {
        count(
            &app,
            &format!(
                "SELECT COUNT(*) AS n FROM notifications WHERE dedup_key LIKE 'mgmt-treatment:{id}%' AND template = 'management_treatment_overdue'"
            ),
        )
    };
    // Before the target nothing fires.
    app.clock.set(target - Duration::hours(1));
    let r = app.run_job("escalation").await;
    assert_eq!(
        r["management_contacts"]["treatment_targets_missed"], 0,
        "{r}"
    );
    // Past it: the coordinators and the on-call clinician are told (the hospital has no
    // address), once however often the sweep runs; the timeline says so.
    app.clock.set(target + Duration::hours(1));
    let r = app.run_job("escalation").await;
    assert_eq!(
        r["management_contacts"]["treatment_targets_missed"], 1,
        "{r}"
    );
    app.run_job("escalation").await;
    assert_eq!(rows(&late), 2);
    assert_eq!(rows(&timely), 0);
    let (d, _) = detail(&app, &coord, &late).await;
    let missed: Vec<&Value> = d["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "treatment_target_missed")
        .collect();
    assert_eq!(missed.len(), 1, "{d}");
    assert_eq!(time(&missed[0]["detail"]["target"]), target);
    // Treatment recorded late: nothing more fires.
    app.clock.set(target + Duration::days(2));
    let (_, tag) = detail(&app, &coord, &late).await;
    let t = json!({"kind": "medication", "regimen": "levothyroxine", "prescriber": "Dr Li", "started_at": target + Duration::days(1)});
    assert_eq!(
        act(&app, &doc, &late, "/treatments", &tag, &t)
            .await
            .status(),
        200
    );
    app.run_job("escalation").await;
    assert_eq!(rows(&late), 2);
}

#[tokio::test]
async fn transfer_keeps_the_history_and_hospitals_see_only_their_own() {
    let app = spawn().await;
    let (ha, token_a) = app.hospital_with_token("A").await;
    let (hb, token_b) = app.hospital_with_token("B").await;
    let coord = app.staff_token("coord", "coordinator", None).await;
    let (infant, _) = confirmed(&app, &token_a, &coord, "M3").await;
    let id = episodes_of(&app, &coord, &infant).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(episodes_of(&app, &token_a, &infant).await.len(), 1);
    assert!(episodes_of(&app, &token_b, &infant).await.is_empty());
    assert_eq!(
        app.get(&format!("/api/v1/management/episodes/{id}"), &token_b)
            .await
            .status(),
        404
    );
    // A hospital client may not close or transfer.
    let (_, tag) = detail(&app, &coord, &id).await;
    assert_eq!(
        act(
            &app,
            &token_a,
            &id,
            "/close",
            &tag,
            &json!({"closure": {"reason": "deceased"}})
        )
        .await
        .status(),
        403
    );

    let r = act(&app, &coord, &id, "/transfer", &tag, &json!({"to_centre": "温州市新生儿疾病筛查中心", "to_hospital_id": hb, "note": "family moved"})).await;
    assert_eq!(r.status(), 200);
    let e: Value = r.json().await.unwrap();
    assert_eq!(
        (e["hospital_id"].as_str(), e["centre"].as_str()),
        (Some(hb.as_str()), Some("温州市新生儿疾病筛查中心"))
    );
    assert_eq!(
        app.get(&format!("/api/v1/management/episodes/{id}"), &token_a)
            .await
            .status(),
        404
    );
    let (d, tag) = detail(&app, &token_b, &id).await;
    let tr = d["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["kind"] == "transferred")
        .unwrap();
    assert_eq!(tr["detail"]["from_hospital_id"], ha);
    assert!(
        d["case"]["timeline"].as_array().unwrap().len() >= 4,
        "the screen-to-diagnosis history moves with it"
    );

    // Closure needs its reason's detail; then the pending contacts are cancelled and a second
    // episode for the condition may be registered.
    let r = act(
        &app,
        &coord,
        &id,
        "/close",
        &tag,
        &json!({"closure": {"reason": "declined", "refusal_reference": " "}}),
    )
    .await;
    assert_eq!(r.status(), 422);
    assert!(problem(r).await["errors"]["closure.refusal_reference"].is_array());
    let r = act(
        &app,
        &coord,
        &id,
        "/close",
        &tag,
        &json!({"closure": {"reason": "declined", "refusal_reference": "拒绝书 2026-118"}}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let (d, tag) = detail(&app, &coord, &id).await;
    assert_eq!(d["state"], "closed");
    assert!(
        d["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["status"] == "cancelled")
    );
    assert!(d["next_due_at"].is_null());
    let r = act(
        &app,
        &coord,
        &id,
        "/report",
        &tag,
        &json!({"reference": "x"}),
    )
    .await;
    assert_eq!(problem(r).await["code"], "episode_closed");
    let body = json!({"infant_id": infant, "condition": "CH", "diagnosed_at": epoch()});
    assert_eq!(
        app.post("/api/v1/management/episodes", &coord, &body)
            .await
            .status(),
        201
    );
    assert_eq!(
        problem(app.post("/api/v1/management/episodes", &coord, &body).await).await["code"],
        "episode_already_open"
    );
}

#[tokio::test]
async fn a_referred_child_is_registered_and_the_report_counts_a_known_cohort() {
    let app = spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let coord = app.staff_token("coord", "coordinator", None).await;
    let doc = app.staff_token("doc", "clinician", None).await;
    // One confirmed CH (found, registered, reported, treated at 5 days of life).
    let (infant, _) = confirmed(&app, &token, &coord, "M4").await;
    let ch = episodes_of(&app, &coord, &infant).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, tag) = detail(&app, &coord, &ch).await;
    let r = act(
        &app,
        &coord,
        &ch,
        "/report",
        &tag,
        &json!({"reference": "ZJ-2026-0001"}),
    )
    .await;
    let tag = r.headers()["etag"].to_str().unwrap().to_string();
    let birth = epoch() - Duration::hours(72);
    app.clock.set(epoch() + Duration::days(3));
    let t = json!({"kind": "medication", "regimen": "levothyroxine", "prescriber": "Dr Li", "started_at": birth + Duration::days(5)});
    assert_eq!(
        act(&app, &doc, &ch, "/treatments", &tag, &t).await.status(),
        200
    );
    // One hearing-loss child referred in (registered, not treated) and a bad registration.
    let (other, _) = register_infant(&app, &token, "M5", 24 * 40).await;
    let bad = json!({"infant_id": other, "condition": "XYZ", "diagnosed_at": epoch()});
    let r = app.post("/api/v1/management/episodes", &coord, &bad).await;
    assert_eq!(r.status(), 422);
    assert!(problem(r).await["errors"]["condition"].is_array());
    let body =
        json!({"infant_id": other, "condition": "HL", "diagnosed_at": epoch() - Duration::days(2)});
    let r = app.post("/api/v1/management/episodes", &coord, &body).await;
    assert_eq!(r.status(), 201);
    let hl: Value = r.json().await.unwrap();
    assert_eq!(
        (hl["origin"].as_str(), hl["plan"].as_str()),
        (Some("referral"), Some("HL"))
    );

    let day = (epoch() + Duration::hours(8)).date_naive();
    let q = format!(
        "/api/v1/management/report?from={day}&to={}",
        day + Duration::days(30)
    );
    let rep: Value = app.get(&q, &coord).await.json().await.unwrap();
    assert_eq!(
        rep["total"]["funnel"],
        json!({"found": 1, "registered": 2, "reported": 1, "managed": 2, "treated": 1})
    );
    let ages = rep["total"]["age_at_treatment"].as_array().unwrap();
    assert_eq!(ages.len(), 1);
    assert_eq!(
        (
            ages[0]["condition"].as_str(),
            ages[0]["median_days"].as_f64()
        ),
        (Some("CH"), Some(5.0))
    );
    assert_eq!(ages[0]["within_target"]["rate"], 1.0);
    let csv = app
        .get(&format!("{q}&format=csv"), &coord)
        .await
        .text()
        .await
        .unwrap();
    assert!(csv.lines().nth(1).unwrap().contains(",1,2,1,2,1,"), "{csv}");
    let r = app
        .get(
            &format!(
                "/api/v1/management/report?from={day}&to={}",
                day - Duration::days(1)
            ),
            &coord,
        )
        .await;
    let p = problem(r).await;
    assert_eq!(p["code"], "invalid_query");
    assert!(p["errors"]["to"].is_array(), "{p}");

    // The same cohort in the quality report (infants born in the period): the management
    // indicators with their drill-downs.
    let (_, tag) = detail(&app, &coord, hl["id"].as_str().unwrap()).await;
    let lost = json!({"closure": {"reason": "lost_to_follow_up", "attempts": "3 calls, 1 visit"}});
    let hl_id = hl["id"].as_str().unwrap();
    assert_eq!(
        act(&app, &coord, hl_id, "/close", &tag, &lost)
            .await
            .status(),
        200
    );
    let births = format!(
        "from={}&to={day}",
        (epoch() + Duration::hours(8) - Duration::days(50)).date_naive()
    );
    let quality = |at: DateTime<Utc>| {
        app.clock.set(at);
        let (app, coord, births) = (&app, &coord, &births);
        async move {
            let v: Value = app
                .get(&format!("/api/v1/reports/quality?{births}"), coord)
                .await
                .json()
                .await
                .unwrap();
            assert!(v["indicators"].is_array(), "{v}");
            let pick = |id: &str| {
                let i = v["indicators"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|i| i["id"] == id)
                    .unwrap_or_else(|| panic!("{id} missing"));
                (
                    i["numerator"].as_i64().unwrap(),
                    i["denominator"].as_i64().unwrap(),
                )
            };
            let figures: Vec<(i64, i64)> = [
                "management_registration",
                "management_reporting",
                "management_treatment_timeliness",
                "management_follow_up_rate",
                "management_lost",
            ]
            .iter()
            .map(|id| pick(id))
            .collect();
            (figures, v)
        }
    };
    let (figures, v) = quality(epoch() + Duration::days(3)).await;
    assert_eq!(figures, [(1, 1), (1, 2), (1, 1), (0, 0), (1, 2)]);
    let timely = v["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "management_treatment_timeliness")
        .unwrap();
    assert_eq!(timely["level"], "episode");
    assert_eq!(timely["intervals"]["CH"]["median_hours"], 120.0);
    assert_eq!(timely["intervals"]["all"]["n"], 1);
    let members = |id: &'static str, part: &'static str| {
        let (app, coord, births) = (&app, &coord, &births);
        async move {
            let v: Value = app
                .get(
                    &format!("/api/v1/reports/quality/{id}/cases?{births}&part={part}"),
                    coord,
                )
                .await
                .json()
                .await
                .unwrap();
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(members("management_lost", "numerator").await, [hl_id]);
    assert_eq!(members("management_reporting", "gap").await, [hl_id]);
    assert_eq!(
        members("management_treatment_timeliness", "denominator").await,
        [ch.as_str()]
    );
    // CH's first thyroid check (treatment + 14 ± 3 days) closed its window unrecorded by day 25:
    // the follow-up rate counts the episode and misses it; the lost episode's contacts were
    // cancelled at closure and count nowhere.
    let (figures, _) = quality(epoch() + Duration::days(25)).await;
    assert_eq!(figures[3], (0, 1));
    assert_eq!(
        members("management_follow_up_rate", "gap").await,
        [ch.as_str()]
    );
    // A programme filter leaves the management indicators out (episodes carry conditions).
    let v: Value = app
        .get(
            &format!("/api/v1/reports/quality?{births}&programme=DBS"),
            &coord,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        v["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| !i["id"].as_str().unwrap().starts_with("management_"))
    );
}

#[tokio::test]
async fn an_edited_plan_set_under_a_stored_id_is_refused_and_a_new_id_is_stored() {
    use guthrie::domain::management::DEFAULT_PLANS_TOML;
    use guthrie::domain::management::plan::PlanSet;
    use guthrie::services::admin::versioned;
    let app = TestApp::spawn().await;
    let mut conn = app.state.pool.get().unwrap();
    // The built-in set was stored at start; syncing it again changes nothing.
    let stored = PlanSet::from_toml(DEFAULT_PLANS_TOML).unwrap();
    versioned::sync(&mut conn, std::slice::from_ref(&stored), epoch()).unwrap();
    // The same id with an edited plan stops start-up, naming the version.
    let mut edited = stored.clone();
    edited.plans[0].horizon_months += 12;
    let e = versioned::sync(&mut conn, std::slice::from_ref(&edited), epoch()).unwrap_err();
    assert!(
        e.to_string()
            .contains(&format!("management plan set {} differs", stored.version)),
        "{e}"
    );
    // Under a new id it is stored, and both versions load.
    edited.version = "zj-mgmt-2027".into();
    versioned::sync(&mut conn, std::slice::from_ref(&edited), epoch()).unwrap();
    let all = versioned::load_store::<PlanSet>(&mut conn).unwrap();
    assert!(all.get("zj-mgmt-2027").is_some() && all.get(&stored.version).is_some());
}
