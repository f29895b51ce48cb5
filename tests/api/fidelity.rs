//! Follow-up fidelity: one case per missing specimen, opt-out at once, reminders counted by
//! reminders sent, deadlines on the summary and the worklists.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::helpers::{register_card, register_infant};
use crate::jobs::{Env, next_local};

async fn cases_of(env: &Env, infant: &str) -> Vec<Value> {
    let v: Value = env
        .app
        .get(&format!("/api/v1/cases?infant_id={infant}"), &env.lab)
        .await
        .json()
        .await
        .unwrap();
    v["items"].as_array().unwrap().clone()
}

async fn worklist(env: &Env, name: &str) -> Vec<String> {
    let v: Value = env
        .app
        .get(&format!("/api/v1/worklists/{name}"), &env.lab)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["count"].as_u64().unwrap() as usize,
        v["items"].as_array().unwrap().len()
    );
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

/// Registers an infant born `hours_old` hours ago with a card `BC<mrn>` collected at 72 h;
/// returns (infant id, birth).
pub async fn infant_with_card_aged(
    app: &crate::helpers::TestApp,
    token: &str,
    mrn: &str,
    hours_old: i64,
) -> (String, DateTime<Utc>) {
    let (infant, birth) = register_infant(app, token, mrn, hours_old).await;
    let collected = birth + Duration::hours(72);
    let s = register_card(app, token, &infant, &format!("BC{mrn}"), collected, None).await;
    assert_eq!(s, 201);
    (infant, birth)
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn an_open_case_of_the_programme_covers_its_missing_screen() {
    let env = Env::start().await;
    let (infant, birth) = infant_with_card_aged(&env.app, &env.hospital, "M4", 24 * 25).await;
    let r = env
        .app
        .post(
            "/api/v1/cards/BCM4/receipt",
            &env.lab,
            &json!({"received_at": (birth + Duration::hours(96)).to_rfc3339(), "quality": "insufficient"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let report = env.app.run_job("missed_screens").await;
    assert_eq!(report["opened"], json!({"DBS": 0, "HEAR": 1, "CCHD": 1}));
    let dbs: Vec<Value> = cases_of(&env, &infant)
        .await
        .into_iter()
        .filter(|c| c["programme"] == "DBS")
        .collect();
    assert_eq!(dbs.len(), 1, "{dbs:?}");
    assert_eq!(dbs[0]["reason"], "recollect");
}

#[tokio::test]
async fn opting_out_of_sms_flags_every_open_case_at_once() {
    let env = Env::start().await;
    let (infant, case) = env.case_with("O5", &[("C16-OH", 0.5)]).await;
    assert_eq!(env.case(&case).await["contact_problem"], false);
    assert!(!worklist(&env, "contact_problems").await.contains(&case));
    let r = env
        .patch_infant(&infant, json!({"sms_opt_out": true}))
        .await;
    assert_eq!(r.status(), 200);
    let c = env.case(&case).await;
    assert_eq!(c["contact_problem"], true);
    assert!(
        c["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "contact_problem" && e["detail"]["reason"] == "sms_opt_out"),
        "{c}"
    );
    assert_eq!(worklist(&env, "contact_problems").await, vec![case]);
}

#[tokio::test]
async fn a_long_overdue_recall_still_gets_its_reminders() {
    let env = Env::start().await;
    let t0 = next_local(12);
    env.app.clock.set(t0);
    let (_, case) = env.case_with("R6", &[("Tyr", 400.0)]).await;
    let due = time(&env.case(&case).await["recall_due_at"]);
    // Twenty days overdue before the first run (e.g. an age-capped late recollection).
    let mut days = vec![];
    for day in 20..35 {
        env.app
            .clock
            .set(due + Duration::hours(1) + Duration::days(day));
        if env.app.run_job("family_reminders").await["overdue_reminders"] == 1 {
            days.push(day);
        }
    }
    assert_eq!(days, vec![20, 23, 26]);
}

#[tokio::test]
async fn deadlines_reach_the_summary_and_the_worklists() {
    let env = Env::start().await;
    let t0 = next_local(12);
    env.app.clock.set(t0);
    let (infant, case) = env.case_with("D7", &[("C16-OH", 0.5)]).await;
    let c = env.case(&case).await;
    let (first, recall) = (time(&c["first_contact_due_at"]), time(&c["recall_due_at"]));
    assert!(first < recall, "{c}");
    assert_eq!(time(&c["next_due_at"]), first);

    // The summary shows the recall deadline of a positive card.
    let s = env.summary(&infant).await;
    assert_eq!(s["dbs"]["next_action"]["action"], "recall");
    assert_eq!(time(&s["dbs"]["next_action"]["due_by"]), recall);

    // Past first contact but before the recall: overdue, not on the recall-based lists.
    env.app.clock.set(first + Duration::minutes(1));
    assert_eq!(worklist(&env, "overdue").await, vec![case.clone()]);
    assert_eq!(env.case(&case).await["overdue"], true);
    let v: Value = env
        .app
        .get("/api/v1/cases?overdue=true", &env.lab)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    // Before the first-contact deadline, it is due within 48 h.
    env.app.clock.set(first - Duration::minutes(1));
    assert_eq!(worklist(&env, "due_48h").await, vec![case.clone()]);

    // Once the family is reached only the recall counts.
    env.app.clock.set(first + Duration::minutes(1));
    env.app
        .act_on_case(
            &env.lab,
            &case,
            &json!({"transition": {"event": "contact_family"}}),
        )
        .await;
    assert!(worklist(&env, "overdue").await.is_empty());
    let c = env.case(&case).await;
    assert_eq!(time(&c["next_due_at"]), recall);
    assert_eq!(c["overdue"], false);
}

/// Posts one card's results; returns the response body.
async fn post_results(env: &Env, body: Value) -> Value {
    let r = env.app.post("/api/v1/results", &env.lab, &body).await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn results_carry_the_laboratorys_times_and_receipts_come_in_bulk() {
    let env = Env::start().await;
    let mut births = vec![];
    for mrn in ["T1", "T2", "T3"] {
        births.push(
            infant_with_card_aged(&env.app, &env.hospital, mrn, 24 * 6)
                .await
                .1,
        );
    }
    let received = births[0] + Duration::hours(96);
    let r = env
        .app
        .post(
            "/api/v1/cards/receipts",
            &env.lab,
            &json!({"cards": [
                {"barcode": "BCT1", "received_at": received.to_rfc3339(), "quality": "acceptable"},
                {"barcode": "BCNONE", "received_at": received.to_rfc3339(), "quality": "acceptable"},
                {"barcode": "BCT2", "received_at": received.to_rfc3339(), "quality": "soggy"},
                {"barcode": "BCT3", "received_at": (births[2] + Duration::hours(96)).to_rfc3339(), "quality": "acceptable"},
            ]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["accepted"].as_u64(), v["rejected"].as_u64()),
        (Some(2), Some(2)),
        "{v}"
    );
    assert_eq!(v["cards"][1]["errors"]["barcode"][0], "unknown barcode");
    assert!(v["cards"][2]["errors"]["quality"].is_array(), "{v}");
    assert_eq!(
        v["cards"][0]["interpretation"]["outcome"],
        "awaiting_results"
    );

    // A report time before receipt, or in the future, rejects the card and changes nothing.
    let positive = crate::screening::panel(&[("C16-OH", 0.5)]);
    let v = post_results(&env, json!({"cards": [
        {"barcode": "BCT1", "results": positive, "tested_at": (received - Duration::hours(1)).to_rfc3339()},
        {"barcode": "BCT3", "results": positive, "reported_at": (crate::helpers::epoch() + Duration::hours(2)).to_rfc3339()},
    ]}))
    .await;
    assert_eq!(v["rejected"], 2, "{v}");
    assert!(v["cards"][0]["errors"]["tested_at"].is_array(), "{v}");
    assert!(v["cards"][1]["errors"]["reported_at"].is_array(), "{v}");
    assert!(cases_of_barcode(&env, "BCT1").await.is_empty());

    // The plate's report time is the case's start; a card's own time wins over the plate's.
    let reported = received + Duration::hours(20);
    let v = post_results(
        &env,
        json!({
            "reported_at": reported.to_rfc3339(),
            "tested_at": (received + Duration::hours(10)).to_rfc3339(),
            "cards": [{"barcode": "BCT1", "results": positive}],
        }),
    )
    .await;
    assert_eq!(v["accepted"], 1, "{v}");
    let cases = cases_of_barcode(&env, "BCT1").await;
    assert_eq!(cases.len(), 1);
    assert_eq!(
        time(&cases[0]["opened_at"]).timestamp_micros(),
        reported.timestamp_micros()
    );
    let own = received + Duration::hours(30);
    let v = post_results(
        &env,
        json!({
            "reported_at": reported.to_rfc3339(),
            "cards": [{"barcode": "BCT3", "results": positive, "reported_at": own.to_rfc3339()}],
        }),
    )
    .await;
    assert_eq!(v["accepted"], 1, "{v}");
    let opened = time(&cases_of_barcode(&env, "BCT3").await[0]["opened_at"]);
    assert_eq!(opened.timestamp_micros(), own.timestamp_micros());
}

async fn cases_of_barcode(env: &Env, barcode: &str) -> Vec<Value> {
    let v: Value = env
        .app
        .get("/api/v1/cases", &env.lab)
        .await
        .json()
        .await
        .unwrap();
    let mut out = vec![];
    for c in v["items"].as_array().unwrap() {
        let d = env.case(c["id"].as_str().unwrap()).await;
        if d["timeline"][0]["detail"]["trigger"]["barcode"] == barcode {
            out.push(c.clone());
        }
    }
    out
}

#[tokio::test]
async fn analyte_aliases_are_stored_under_the_catalogue_code_and_impossible_values_are_refused() {
    let env = Env::start().await;
    for mrn in ["A1", "A2"] {
        infant_with_card_aged(&env.app, &env.hospital, mrn, 24 * 4).await;
    }
    // The laboratory spells C5-OH as C5OH: accepted, nothing reported as not tested.
    let mut p = crate::screening::panel(&[]);
    for v in p.iter_mut().filter(|v| v["analyte"] == "C5-OH") {
        v["analyte"] = json!("C5OH");
    }
    let v = post_results(&env, json!({"cards": [{"barcode": "BCA1", "results": p}]})).await;
    assert_eq!(v["accepted"], 1, "{v}");
    assert_eq!(v["cards"][0]["interpretation"]["outcome"], "normal", "{v}");
    assert_eq!(v["cards"][0]["interpretation"]["not_tested"], json!([]));
    // Both spellings in one card are the same analyte twice.
    let mut twice = crate::screening::panel(&[]);
    twice.push(json!({"analyte": "C5OH", "value": 0.2, "unit": "umol/L"}));
    let v = post_results(
        &env,
        json!({"cards": [{"barcode": "BCA1", "results": twice}]}),
    )
    .await;
    assert_eq!(v["rejected"], 1, "{v}");
    assert!(
        v["cards"][0]["errors"]
            .to_string()
            .contains("C5-OH appears twice"),
        "{v}"
    );

    // TSH 1e308 and a negative value are refused per card, naming the analyte; no case opens.
    let v = post_results(
        &env,
        json!({"cards": [
            {"barcode": "BCA2", "results": crate::screening::panel(&[("TSH", 1e308)])},
            {"barcode": "BCA2", "results": crate::screening::panel(&[("Phe", -3.0)])},
        ]}),
    )
    .await;
    assert_eq!(v["rejected"], 2, "{v}");
    assert!(v["cards"][0]["errors"].to_string().contains("TSH"), "{v}");
    assert!(
        v["cards"][0]["errors"].to_string().contains("plausible"),
        "{v}"
    );
    assert!(
        v["cards"][1]["errors"].to_string().contains("non-negative"),
        "{v}"
    );
    let all: Value = env
        .app
        .get("/api/v1/cases", &env.lab)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["items"], json!([]));
}

#[tokio::test]
async fn the_nicu_stay_is_the_infants_and_every_hearing_assessment_uses_it() {
    let env = Env::start().await;
    let (infant, birth) = register_infant(&env.app, &env.hospital, "N11", 24 * 8).await;
    let url = format!("/api/v1/infants/{infant}/hearing-screens");
    let at = (birth + Duration::days(7)).to_rfc3339();
    let v: Value = env
        .app
        .post(&url, &env.hospital, &json!({"stage": "initial", "method": "OAE", "left": "pass", "right": "pass", "tested_at": at}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["status"], "pass");
    assert!(cases_of(&env, &infant).await.is_empty());

    // Recorded once on the infant: the OAE pass no longer counts, and a case opens at once.
    let r = env.patch_infant(&infant, json!({"nicu_days": 6})).await;
    assert_eq!(r.status(), 200);
    let i: Value = r.json().await.unwrap();
    assert_eq!(
        (i["nicu_days"].as_i64(), i["nicu_admitted"].as_bool()),
        (Some(6), Some(true))
    );
    let cases = cases_of(&env, &infant).await;
    assert_eq!(cases.len(), 1, "{cases:?}");
    assert_eq!(
        (cases[0]["programme"].as_str(), cases[0]["reason"].as_str()),
        (Some("HEAR"), Some("refer"))
    );
    let s = env.summary(&infant).await;
    assert_eq!(s["hearing_assessment"]["status"], "rescreen_due", "{s}");
    // A later OAE rescreen without nicu_days is still judged with the stay: not a pass.
    let v: Value = env
        .app
        .post(&url, &env.hospital, &json!({"stage": "rescreen", "method": "OAE", "left": "pass", "right": "pass", "tested_at": crate::helpers::epoch().to_rfc3339()}))
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(v["status"], "pass", "{v}");
    let r = env.patch_infant(&infant, json!({"nicu_days": 400})).await;
    assert_eq!(r.status(), 422);
    assert!(crate::helpers::problem(r).await["errors"]["nicu_days"].is_array());
}

/// Posts a heart screen; returns (status, body).
async fn heart(env: &Env, infant: &str, body: Value) -> (u16, Value) {
    let r = env
        .app
        .post(
            &format!("/api/v1/infants/{infant}/cchd-screens"),
            &env.hospital,
            &body,
        )
        .await;
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn a_heart_screen_sequence_keeps_its_protocol_and_hospitals_choose_theirs() {
    let env = Env::start().await;
    let (infant, birth) = register_infant(&env.app, &env.hospital, "H3", 40).await;
    let at = |h: i64| (birth + Duration::hours(h)).to_rfc3339();
    // Foot 94: a repeat is needed under AAP 2020.
    let (s, v) = heart(&env, &infant, json!({"protocol": "aap-2020", "measured_at": at(25), "right_hand_spo2": 97, "foot_spo2": 94})).await;
    assert_eq!(
        (s, v["outcome"]["outcome"].as_str()),
        (201, Some("repeat_needed")),
        "{v}"
    );
    // The repeat names no protocol: it continues AAP 2020, and a second failure refers.
    let (s, v) = heart(
        &env,
        &infant,
        json!({"measured_at": at(26), "right_hand_spo2": 97, "foot_spo2": 94}),
    )
    .await;
    assert_eq!(s, 201);
    assert_eq!(v["protocol"], "aap-2020");
    assert_eq!(v["outcome"]["outcome"], "positive", "{v}");
    // A repeat naming another protocol is refused, naming both.
    let (s, v) = heart(&env, &infant, json!({"protocol": "cn-dual-index", "measured_at": at(27), "right_hand_spo2": 97, "foot_spo2": 98})).await;
    assert_eq!(s, 422);
    let msg = v["errors"]["protocol"][0].as_str().unwrap();
    assert!(
        msg.contains("aap-2020") && msg.contains("cn-dual-index"),
        "{msg}"
    );

    // A hospital's configured protocol is where its screens start.
    let hospitals: Value = env
        .app
        .get("/api/v1/hospitals", &env.app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    let h = hospitals
        .as_array()
        .map_or_else(|| hospitals["items"][0].clone(), |a| a[0].clone());
    let url = format!("/api/v1/hospitals/{}", h["id"].as_str().unwrap());
    let r = env
        .app
        .patch(
            &url,
            &env.app.admin_token,
            &json!({"cchd_protocol": "nope"}),
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(crate::helpers::problem(r).await["errors"]["cchd_protocol"].is_array());
    let r = env
        .app
        .patch(
            &url,
            &env.app.admin_token,
            &json!({"cchd_protocol": "aap-2011"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap()["cchd_protocol"],
        "aap-2011"
    );
    let (other, birth2) = register_infant(&env.app, &env.hospital, "H3B", 40).await;
    let (s, v) = heart(&env, &other, json!({"measured_at": (birth2 + Duration::hours(25)).to_rfc3339(), "right_hand_spo2": 97, "foot_spo2": 94})).await;
    assert_eq!((s, v["protocol"].as_str()), (201, Some("aap-2011")), "{v}");
    // Either limb at 95 passes under AAP 2011 (a hand–foot gap of 3).
    assert_eq!(v["outcome"]["outcome"], "pass", "{v}");
}

#[tokio::test]
async fn an_ai_stethoscope_suspected_murmur_is_the_dual_index_murmur_sign() {
    let env = Env::start().await;
    let (infant, birth) = register_infant(&env.app, &env.hospital, "AI14", 30).await;
    let body = |result: &str, score: f64| {
        json!({"measured_at": (birth + Duration::hours(24)).to_rfc3339(), "right_hand_spo2": 98, "foot_spo2": 98,
               "auscultation": {"method": "ai_heart_sound", "device_id": "STETH-0042", "result": result, "grade": 2, "score": score}})
    };
    let (s, v) = heart(&env, &infant, body("bad", 0.5)).await;
    assert_eq!(s, 400, "{v}");
    let mut wrong = body("normal", 1.5);
    wrong["auscultation"]["device_id"] = json!(" ");
    let (s, v) = heart(&env, &infant, wrong).await;
    assert_eq!(s, 422);
    assert!(
        v["errors"]["auscultation.score"].is_array()
            && v["errors"]["auscultation.device_id"].is_array(),
        "{v}"
    );

    let (s, v) = heart(&env, &infant, body("suspected_murmur", 0.87)).await;
    assert_eq!(s, 201);
    assert_eq!(v["outcome"]["outcome"], "positive", "{v}");
    assert!(
        v["outcome"]["reasons"]
            .to_string()
            .contains("AI heart-sound"),
        "{v}"
    );
    let cases = cases_of(&env, &infant).await;
    assert_eq!(cases[0]["programme"], "CCHD");

    let s = env.summary(&infant).await;
    let a = &s["cchd_measurements"][0]["auscultation"];
    assert_eq!(
        (
            a["method"].as_str(),
            a["device_id"].as_str(),
            a["result"].as_str()
        ),
        (
            Some("ai_heart_sound"),
            Some("STETH-0042"),
            Some("suspected_murmur")
        ),
        "{s}"
    );
    assert_eq!(a["score"], 0.87);

    let day = |d: i64| (crate::helpers::epoch() + Duration::days(d)).date_naive();
    let report: Value = env
        .app
        .get(
            &format!("/api/v1/reports/quality?from={}&to={}", day(-3), day(0)),
            &env.lab,
        )
        .await
        .json()
        .await
        .unwrap();
    let cov = report["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == "cchd_coverage")
        .unwrap();
    assert_eq!(
        cov["auscultation"],
        json!({"screens": 1, "infants": 1, "suspected_murmur_infants": 1}),
        "{cov}"
    );
}

#[tokio::test]
async fn one_sweep_sends_each_staff_recipient_one_email_listing_its_cases() {
    use crate::jobs::HOSPITAL_EMAIL;
    let env = Env::start().await;
    let t0 = next_local(12);
    env.app.clock.set(t0);
    let mut cases = vec![];
    for k in 0..5 {
        cases.push(env.case_with(&format!("ONE{k}"), &[("Tyr", 400.0)]).await.1);
    }
    let (e, d) = env.tick(t0).await;
    assert_eq!(e["rungs_fired"], 5, "{e}");
    assert_eq!(e["staff_emails"], 1, "{e}");
    let mails = env.smtp.to(HOSPITAL_EMAIL);
    assert_eq!(mails.len(), 1, "one e-mail for five cases");
    assert!(
        mails[0].subject().contains("5 cases"),
        "{}",
        mails[0].subject()
    );
    let body = mails[0].body();
    for k in 0..5 {
        assert!(body.contains(&format!("HA-ONE{k}")), "{body}");
    }
    assert_eq!(d["sent"], 6, "five family SMS and one e-mail: {d}");
    // Each case still records its rung and its own notice, which names the combined e-mail.
    for case in &cases {
        let c = env.case(case).await;
        let esc = c["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["kind"] == "escalation")
            .count();
        assert_eq!(esc, 1, "{c}");
        let own = c["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["channel"] == "email")
            .unwrap()
            .clone();
        assert_eq!(own["status"], "cancelled", "{own}");
        assert!(
            own["last_error"]
                .as_str()
                .unwrap()
                .starts_with("combined into "),
            "{own}"
        );
    }
    // A later sweep with one case for the hospital sends that case's own e-mail.
    let (_, late) = env.case_with("ONE9", &[("Tyr", 400.0)]).await;
    let t1 = t0 + Duration::minutes(10);
    let (e, _) = env.tick(t1).await;
    assert_eq!(e["staff_emails"], 1, "{e}");
    let mails = env.smtp.to(HOSPITAL_EMAIL);
    assert_eq!(mails.len(), 2);
    assert!(mails[1].body().contains("HA-ONE9"));
    assert!(
        env.case(&late).await["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["channel"] == "email" && n["status"] == "sent")
    );
}
