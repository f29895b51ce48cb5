//! Quality indicators over a fixed synthetic cohort with known expected values, including infants
//! born on the period's boundaries, a transferred and a deceased infant, refusals, repeat cards,
//! a late report and a case reopened after resolution; drill-down, CSV and hospital scoping.

use chrono::{DateTime, Duration, FixedOffset, TimeZone, Utc};
use serde_json::{Value, json};

use crate::helpers::{TestApp, infant_body};
use crate::screening::panel;

/// Local (Beijing) date `days` from today at `hour`:00, in UTC.
fn local(days: i64, hour: u32) -> DateTime<Utc> {
    let cst = FixedOffset::east_opt(8 * 3600).unwrap();
    let today = crate::helpers::epoch().with_timezone(&cst).date_naive();
    cst.from_local_datetime(
        &(today + Duration::days(days))
            .and_hms_opt(hour, 0, 0)
            .unwrap(),
    )
    .unwrap()
    .with_timezone(&Utc)
}

fn day(days: i64) -> String {
    (crate::helpers::epoch()
        .with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap())
        .date_naive()
        + Duration::days(days))
    .to_string()
}

struct Cohort<'a> {
    app: &'a TestApp,
    hospital: String,
    lab: String,
    coord: String,
}

impl<'a> Cohort<'a> {
    /// A hospital (code `code`) with its token, a lab clinician and a coordinator; returns the
    /// hospital's id too.
    async fn start(app: &'a TestApp, code: &str) -> (Self, String) {
        let (id, hospital) = app.hospital_with_token(code).await;
        let lab = app.staff_token("lab", "clinician", None).await;
        let coord = app.staff_token("coord", "coordinator", None).await;
        let c = Cohort {
            app,
            hospital,
            lab,
            coord,
        };
        (c, id)
    }

    fn at(&self, t: DateTime<Utc>) {
        self.app.clock.set(t + Duration::minutes(1));
    }

    async fn infant(&self, mrn: &str, birth: DateTime<Utc>) -> String {
        self.app.clock.set(crate::helpers::epoch());
        let mut body = infant_body(mrn);
        body["birth_at"] = json!(birth.to_rfc3339());
        body["mother"]
            .as_object_mut()
            .unwrap()
            .remove("id_document");
        let r = self
            .app
            .post("/api/v1/infants", &self.hospital, &body)
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn card(
        &self,
        infant: &str,
        barcode: &str,
        collected: DateTime<Utc>,
        repeat_of: Option<&str>,
    ) {
        self.at(collected);
        let body = json!({"infant_id": infant, "barcode": barcode, "collected_at": collected.to_rfc3339(),
                          "feeding": "breast", "collector": "nurse", "repeat_of_barcode": repeat_of});
        let r = self.app.post("/api/v1/cards", &self.hospital, &body).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }

    async fn receive(&self, barcode: &str, at: DateTime<Utc>, quality: &str) {
        self.at(at);
        let r = self
            .app
            .post(
                &format!("/api/v1/cards/{barcode}/receipt"),
                &self.lab,
                &json!({"received_at": at.to_rfc3339(), "quality": quality}),
            )
            .await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }

    async fn results(&self, barcode: &str, at: DateTime<Utc>, values: &[(&str, f64)]) {
        self.at(at);
        let r = self
            .app
            .post(
                "/api/v1/results",
                &self.lab,
                &json!({"cards": [{"barcode": barcode, "results": panel(values)}]}),
            )
            .await;
        assert_eq!(r.status(), 200);
    }

    async fn hearing(&self, infant: &str, stage: &str, left: &str, at: DateTime<Utc>) {
        self.at(at);
        let r = self
            .app
            .post(&format!("/api/v1/infants/{infant}/hearing-screens"), &self.hospital,
                  &json!({"stage": stage, "method": "OAE", "left": left, "right": "pass", "tested_at": at.to_rfc3339()}))
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }

    async fn heart(&self, infant: &str, at: DateTime<Utc>) {
        self.at(at);
        let r = self
            .app
            .post(&format!("/api/v1/infants/{infant}/cchd-screens"), &self.hospital,
                  &json!({"measured_at": at.to_rfc3339(), "right_hand_spo2": 98, "foot_spo2": 98, "murmur_grade": 0}))
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }

    async fn decision(&self, infant: &str, programme: &str, decision: &str, at: DateTime<Utc>) {
        self.at(at);
        let r = self
            .app
            .post(&format!("/api/v1/infants/{infant}/consents"), &self.hospital,
                  &json!({"programme": programme, "decision": decision, "guardian_name": "王芳", "signed_at": at.to_rfc3339()}))
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }

    async fn case_of(&self, infant: &str, programme: &str) -> String {
        let v: Value = self
            .app
            .get(
                &format!("/api/v1/cases?infant_id={infant}&programme={programme}"),
                &self.coord,
            )
            .await
            .json()
            .await
            .unwrap();
        v["items"][0]["id"].as_str().unwrap().to_string()
    }

    /// The `field` of every member a drill-down (`/api/v1/reports/quality/{path}`) lists, sorted.
    async fn members(&self, path: &str, field: &str) -> Vec<String> {
        let v: Value = self
            .app
            .get(&format!("/api/v1/reports/quality/{path}"), &self.coord)
            .await
            .json()
            .await
            .unwrap();
        let ids: Vec<&str> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m[field].as_str().unwrap())
            .collect();
        sorted(&ids)
    }

    async fn act(&self, case: &str, at: DateTime<Utc>, body: Value) {
        self.at(at);
        self.app.act_on_case(&self.coord, case, &body).await;
    }
}

fn sorted<S: AsRef<str>>(ids: &[S]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| s.as_ref().to_string()).collect();
    v.sort_unstable();
    v
}

fn indicator<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .unwrap_or_else(|| panic!("no indicator {id}"))
}

#[tokio::test]
async fn a_fixed_cohort_gives_the_expected_value_of_every_indicator() {
    let app = TestApp::spawn().await;
    let (c, hq) = Cohort::start(&app, "HQ").await;
    let (_, other_hospital) = app.hospital_with_token("HR").await;
    let h = Duration::hours;

    // A: fully screened, consent recorded, card reported 4 h after receipt.
    let a_birth = local(-25, 10);
    let a = c.infant("QA", a_birth).await;
    c.decision(&a, "DBS", "consent", a_birth + h(1)).await;
    c.heart(&a, a_birth + h(24)).await;
    c.hearing(&a, "initial", "pass", a_birth + h(48)).await;
    c.card(&a, "QA1", a_birth + h(72), None).await;
    c.receive("QA1", a_birth + h(96), "acceptable").await;
    c.results("QA1", a_birth + h(100), &[]).await;

    // B: unsatisfactory first card, acceptable repeat reported late (4 days after receipt);
    // hearing refer then rescreen pass on day 20; refuses the heart screen.
    let b_birth = local(-25, 11);
    let b = c.infant("QB", b_birth).await;
    c.decision(&b, "CCHD", "refusal", b_birth + h(2)).await;
    c.hearing(&b, "initial", "refer", b_birth + h(48)).await;
    c.card(&b, "QB1", b_birth + h(72), None).await;
    c.receive("QB1", b_birth + h(96), "insufficient").await;
    c.card(&b, "QB2", b_birth + h(150), Some("QB1")).await;
    c.receive("QB2", b_birth + h(160), "acceptable").await;
    c.results("QB2", b_birth + h(160) + Duration::days(4), &[])
        .await;
    c.hearing(&b, "rescreen", "pass", b_birth + Duration::days(20))
        .await;

    // C: unsatisfactory card never recollected; heart screened; transferred (still counted).
    let c_birth = local(-24, 10);
    let ci = c.infant("QC", c_birth).await;
    c.heart(&ci, c_birth + h(24)).await;
    c.card(&ci, "QC1", c_birth + h(72), None).await;
    c.receive("QC1", c_birth + h(80), "insufficient").await;
    app.clock.set(crate::helpers::epoch());
    let r = app
        .patch(
            &format!("/api/v1/infants/{ci}"),
            &c.hospital,
            &json!({"status": "transferred", "status_note": "to Ningbo"}),
        )
        .await;
    assert_eq!(r.status(), 200);

    // D: died at 30 h, unscreened: not eligible for any coverage denominator.
    let d_birth = local(-24, 12);
    let d = c.infant("QD", d_birth).await;
    app.clock.set(crate::helpers::epoch());
    let r = app
        .patch(
            &format!("/api/v1/infants/{d}"),
            &c.hospital,
            &json!({"status": "deceased", "status_changed_at": (d_birth + h(30)).to_rfc3339()}),
        )
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    // E: born at 00:00 on the first day (inside); refuses the blood spot; hearing and heart done.
    let e_birth = local(-30, 0);
    let e = c.infant("QE", e_birth).await;
    c.decision(&e, "DBS", "refusal", e_birth + h(3)).await;
    c.heart(&e, e_birth + h(24)).await;
    c.hearing(&e, "initial", "pass", e_birth + h(48)).await;

    // F: born at 00:00 the day after the period (outside): counts nowhere.
    let f_birth = local(-10, 0);
    let f = c.infant("QF", f_birth).await;
    c.card(&f, "QF1", f_birth + h(30), None).await;

    // G: critical result, T0 case reached at 2 h, rechecked at 16 h, confirmed, then reopened.
    let g_birth = local(-22, 10);
    let g = c.infant("QG", g_birth).await;
    c.heart(&g, g_birth + h(24)).await;
    c.hearing(&g, "initial", "pass", g_birth + h(48)).await;
    c.card(&g, "QG1", g_birth + h(72), None).await;
    c.receive("QG1", g_birth + h(80), "acceptable").await;
    c.results("QG1", g_birth + h(84), &[("C16-OH", 0.5)]).await;
    let g_case = c.case_of(&g, "DBS").await;
    let opened = g_birth + h(84) + Duration::minutes(1);
    c.at(opened + h(2) - Duration::minutes(1));
    let r = app
        .post(&format!("/api/v1/cases/{g_case}/contact-attempts"), &c.coord,
              &json!({"channel": "phone", "outcome": "reached", "attempted_at": (opened + h(2)).to_rfc3339()}))
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    c.act(
        &g_case,
        opened + h(3) - Duration::minutes(1),
        json!({"transition": {"event": "schedule_recall"}}),
    )
    .await;
    c.act(
        &g_case,
        opened + h(16) - Duration::minutes(1),
        json!({"transition": {"event": "record_recheck", "reference": "QG2"}}),
    )
    .await;
    c.act(&g_case, opened + h(40), json!({"transition": {"event": "resolve", "outcome": {"outcome": "confirmed", "condition": "LCHAD"}}})).await;
    c.act(
        &g_case,
        opened + h(60),
        json!({"transition": {"event": "reopen", "reason": "diagnosis revised"}}),
    )
    .await;

    // H: borderline card, never reached, resolved lost to follow-up.
    let h_birth = local(-21, 10);
    let hi = c.infant("QH", h_birth).await;
    c.heart(&hi, h_birth + h(24)).await;
    c.hearing(&hi, "initial", "pass", h_birth + h(30)).await;
    c.card(&hi, "QH1", h_birth + h(50), None).await;
    c.receive("QH1", h_birth + h(60), "acceptable").await;
    c.results("QH1", h_birth + h(65), &[("Tyr", 400.0)]).await;
    let h_case = c.case_of(&hi, "DBS").await;
    c.act(&h_case, h_birth + Duration::days(15), json!({"transition": {"event": "resolve", "outcome": {"outcome": "lost_to_follow_up", "reason": "3 calls, 2 SMS, home visit: moved away"}}})).await;

    // K: card collected at 40 h (too early: a repeat is due) and received 6 days later (late).
    let k_birth = local(-20, 10);
    let k = c.infant("QK", k_birth).await;
    c.heart(&k, k_birth + h(24)).await;
    c.hearing(&k, "initial", "pass", k_birth + h(48)).await;
    c.card(&k, "QK1", k_birth + h(40), None).await;
    c.receive("QK1", k_birth + h(40) + Duration::days(6), "acceptable")
        .await;
    c.results("QK1", k_birth + h(40) + Duration::days(7), &[])
        .await;

    // L: card collected on day 8 (late collection).
    let l_birth = local(-20, 11);
    let l = c.infant("QL", l_birth).await;
    c.heart(&l, l_birth + h(24)).await;
    c.hearing(&l, "initial", "pass", l_birth + h(48)).await;
    c.card(&l, "QL1", l_birth + Duration::days(8), None).await;
    c.receive("QL1", l_birth + Duration::days(9), "acceptable")
        .await;
    c.results("QL1", l_birth + Duration::days(9) + h(1), &[])
        .await;

    app.clock.set(crate::helpers::epoch());
    let (from, to) = (day(-30), day(-11));
    let report: Value = app
        .get(
            &format!("/api/v1/reports/quality?from={from}&to={to}"),
            &c.coord,
        )
        .await
        .json()
        .await
        .unwrap();
    let expected: &[(&str, i64, i64)] = &[
        ("dbs_coverage", 6, 8),
        ("hearing_coverage", 7, 8),
        ("cchd_coverage", 7, 8),
        ("dbs_refusal_rate", 1, 9),
        ("hearing_refusal_rate", 0, 9),
        ("cchd_refusal_rate", 1, 9),
        ("consent_awareness", 3, 9),
        ("unsatisfactory_cards", 2, 8),
        ("unsatisfactory_not_recollected", 1, 2),
        ("late_cards", 1, 8),
        ("early_collection", 1, 7),
        ("late_collection", 1, 7),
        ("report_timeliness", 5, 6),
        ("positive_rate", 3, 8),
        ("recall_rate", 1, 3),
        ("first_contact_timeliness", 1, 3),
        ("recall_timeliness", 1, 3),
        ("lost_to_follow_up", 1, 3),
        ("confirmed_ppv", 0, 3),
        ("hearing_rescreen_by_42d", 1, 1),
        ("hearing_diagnosis_by_3m", 0, 1),
        ("hearing_intervention_by_6m", 0, 0),
        ("cchd_echo_completion", 0, 0),
        // G's confirmation opened a management episode (LCHAD); the case was reopened, so it
        // no longer counts as confirmed, while the episode stays, unreported, untreated past
        // the plan's target and open.
        ("management_registration", 0, 0),
        ("management_reporting", 0, 1),
        ("management_treatment_timeliness", 0, 1),
        ("management_follow_up_rate", 0, 0),
        ("management_lost", 0, 1),
    ];
    let ids: Vec<&str> = report["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        expected.iter().map(|e| e.0).collect::<Vec<_>>(),
        "every indicator, in order"
    );
    for (id, num, den) in expected {
        let i = indicator(&report, id);
        assert_eq!(
            (i["numerator"].as_i64(), i["denominator"].as_i64()),
            (Some(*num), Some(*den)),
            "{id}"
        );
        assert!(!i["definition"].as_str().unwrap().is_empty());
    }
    // The drill-down lists exactly the members the report counts, for every indicator.
    for (id, num, den) in expected {
        for (part, n) in [("numerator", num), ("denominator", den)] {
            let v: Value = app
                .get(&format!("/api/v1/reports/quality/{id}/cases?from={from}&to={to}&part={part}&limit=1000"), &c.coord)
                .await
                .json()
                .await
                .unwrap();
            assert_eq!(
                v["items"].as_array().unwrap().len() as i64,
                *n,
                "{id} {part}"
            );
        }
    }
    let dbs = indicator(&report, "dbs_coverage");
    assert_eq!(
        (
            dbs["value"].as_f64(),
            dbs["target"].as_f64(),
            dbs["met"].as_bool()
        ),
        (Some(0.75), Some(0.98), Some(false))
    );
    assert!(indicator(&report, "cchd_echo_completion")["value"].is_null());
    let contact = &indicator(&report, "first_contact_timeliness")["intervals"];
    assert_eq!(
        (
            contact["T0"]["n"].as_u64(),
            contact["T0"]["median_hours"].as_f64()
        ),
        (Some(1), Some(2.0))
    );
    let recall = &indicator(&report, "recall_timeliness")["intervals"];
    assert_eq!(recall["all"]["p90_hours"].as_f64(), Some(16.0));
    assert_eq!(
        indicator(&report, "confirmed_ppv")["by_condition"]["LCHAD"],
        json!([0, 1])
    );
    assert_eq!(indicator(&report, "lost_to_follow_up")["met"], false);
    // Breakdowns: positive rate per condition group (G: LCHAD is FAO, H: TYR1 is AA, B: a
    // hearing refer), PPV per catalogue version, receipt-to-report hours (K's too-early card
    // was reported at receipt + 1 min; B's repeat 96 h after receipt), collection-age bands.
    assert_eq!(
        indicator(&report, "positive_rate")["by_group"],
        json!({"AA": [1, 8], "FAO": [1, 8], "HEAR": [1, 8]})
    );
    assert_eq!(
        indicator(&report, "confirmed_ppv")["by_catalogue_version"],
        json!({"zj-2023": [0, 3]})
    );
    let turnaround = &indicator(&report, "report_timeliness")["intervals"]["all"];
    assert_eq!(turnaround["n"], 6);
    let minutes = |v: &Value| (v.as_f64().unwrap() * 60.0).round() as i64;
    assert_eq!(minutes(&turnaround["median_hours"]), 4 * 60 + 1);
    assert_eq!(minutes(&turnaround["p90_hours"]), 96 * 60 + 1);
    let bands = json!({"under_24h": 0, "24h_to_48h": 1, "48h_to_72h": 1, "72h_to_7d": 4, "7d_to_20d": 1, "over_20d": 0});
    assert_eq!(
        indicator(&report, "early_collection")["distribution"],
        bands
    );
    assert_eq!(indicator(&report, "late_collection")["distribution"], bands);

    // Drill-down: the unscreened eligible infants are C and E.
    let ids = c
        .members(
            &format!("dbs_coverage/cases?from={from}&to={to}"),
            "infant_id",
        )
        .await;
    assert_eq!(ids, sorted(&[&ci, &e]));
    let lost: Value = app
        .get(
            &format!("/api/v1/reports/quality/lost_to_follow_up/cases?from={from}&to={to}"),
            &c.coord,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        lost["items"][0]["id"],
        h_case.as_str(),
        "a problem rate's gap is its numerator"
    );
    let den: Value = app
        .get(&format!("/api/v1/reports/quality/dbs_coverage/cases?from={from}&to={to}&part=denominator&limit=5"), &c.coord)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(den["items"].as_array().unwrap().len(), 5);
    let cursor = den["next_cursor"].as_str().unwrap();
    let rest: Value = app
        .get(&format!("/api/v1/reports/quality/dbs_coverage/cases?from={from}&to={to}&part=denominator&limit=5&cursor={cursor}"), &c.coord)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rest["items"].as_array().unwrap().len(), 3);
    assert!(rest["next_cursor"].is_null());

    // CSV with a BOM, for the report and a drill-down.
    let r = app
        .get(
            &format!("/api/v1/reports/quality?from={from}&to={to}&format=csv"),
            &c.coord,
        )
        .await;
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let bytes = r.bytes().await.unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert!(text.starts_with("indicator,name,name_zh,"));
    assert!(text.contains("dbs_coverage,Blood-spot screening coverage,新筛率（遗传代谢病）,DBS,6,8,0.7500,0.9800,false"), "{text}");
    let r = app
        .get(
            &format!("/api/v1/reports/quality/late_cards/cases?from={from}&to={to}&format=csv"),
            &c.coord,
        )
        .await;
    let text = String::from_utf8(r.bytes().await.unwrap()[3..].to_vec()).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("QK"));

    // One programme; one hospital; hospital principals see only their own.
    let hear: Value = app
        .get(
            &format!("/api/v1/reports/quality?from={from}&to={to}&programme=HEAR"),
            &c.coord,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        hear["indicators"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["programme"].is_null() || i["programme"] == "HEAR")
    );
    assert_eq!(indicator(&hear, "recall_rate")["denominator"], 1);
    assert_eq!(indicator(&hear, "positive_rate")["numerator"], 1);
    let mine: Value = app
        .get(
            &format!("/api/v1/reports/quality?from={from}&to={to}&hospital={hq}"),
            &c.hospital,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(indicator(&mine, "dbs_coverage")["denominator"], 8);
    let theirs: Value = app
        .get(
            &format!("/api/v1/reports/quality?from={from}&to={to}"),
            &other_hospital,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(indicator(&theirs, "dbs_coverage")["denominator"], 0);
    let r = app
        .get(
            &format!("/api/v1/reports/quality?from={from}&to={to}&hospital={hq}"),
            &other_hospital,
        )
        .await;
    assert_eq!(r.status(), 404);
    let r = app
        .get(
            &format!("/api/v1/reports/quality?from={to}&to={from}"),
            &c.coord,
        )
        .await;
    assert_eq!(r.status(), 400);
    let r = app
        .get(
            &format!("/api/v1/reports/quality/nope/cases?from={from}&to={to}"),
            &c.coord,
        )
        .await;
    assert_eq!(r.status(), 404);
    // The report above counted the facts the writes kept; a rebuild gives the same rows.
    app.assert_quality_facts_current().await;
}

/// The infant's facts row of [`TestApp::quality_facts`], column by column.
fn infant_facts<'a>(facts: &'a [String], infant: &str) -> Vec<&'a str> {
    facts
        .iter()
        .find(|r| r.starts_with(infant))
        .unwrap()
        .split('|')
        .collect()
}

#[tokio::test]
async fn concurrent_writes_for_one_infant_keep_its_facts_exact() {
    let app = TestApp::spawn().await;
    let (_, hospital) = app.hospital_with_token("HC").await;
    let (infant, _) = crate::helpers::register_infant(&app, &hospital, "CW1", 30).await;
    let at = (crate::helpers::epoch() - Duration::hours(2)).to_rfc3339();
    let mut writes = vec![];
    for (k, programme) in ["DBS", "HEAR", "CCHD"].iter().enumerate() {
        writes.push((
            format!("/api/v1/infants/{infant}/consents"),
            json!({"programme": programme, "decision": if k == 1 { "refusal" } else { "consent" },
                   "guardian_name": "王芳", "signed_at": at}),
        ));
    }
    for k in 0..3 {
        writes.push((
            format!("/api/v1/infants/{infant}/hearing-screens"),
            json!({"stage": "initial", "method": "OAE", "left": if k == 0 { "refer" } else { "pass" },
                   "right": "pass", "tested_at": at}),
        ));
        writes.push((
            format!("/api/v1/infants/{infant}/cchd-screens"),
            json!({"measured_at": at, "right_hand_spo2": 98, "foot_spo2": 98, "murmur_grade": 0}),
        ));
        writes.push((
            "/api/v1/cards".to_string(),
            json!({"infant_id": infant, "barcode": format!("CW1-{k}"), "collected_at": at,
                   "feeding": "breast", "collector": "nurse"}),
        ));
    }
    let sent = writes
        .iter()
        .map(|(path, body)| app.post(path, &hospital, body));
    for r in futures_util::future::join_all(sent).await {
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    app.assert_quality_facts_current().await;
    let facts = app.quality_facts();
    let row = infant_facts(&facts, &infant);
    // hear_screened, hear_initial_refer, cchd_screened; the DBS consent and the hearing refusal.
    assert_eq!((row[9], row[10], row[13]), ("1", "1", "1"), "{row:?}");
    assert_ne!(row[14], "-");
    assert_ne!(row[17], "-");
    assert_eq!(
        facts.iter().filter(|r| r.contains("CW1")).count(),
        0,
        "facts hold no barcodes"
    );
    let cards = facts
        .iter()
        .filter(|r| r.split('|').nth(1) == Some(infant.as_str()))
        .count();
    assert_eq!(cards, 3, "one card row per card");

    // The lock-free upkeep (a new case's flags, an interpretation's first report time) racing
    // the recomputes of other writes for the same infant: three results at once, two of them
    // positive, beside two more heart screens.
    let lab = app.staff_token("lab", "clinician", None).await;
    let mut writes = vec![];
    for k in 0..3 {
        let value = if k == 2 { 0.01 } else { 0.5 };
        writes.push((
            "/api/v1/results".to_string(),
            &lab,
            json!({"cards": [{"barcode": format!("CW1-{k}"),
                "results": crate::screening::panel(&[("C16-OH", value)])}]}),
        ));
    }
    for _ in 0..2 {
        writes.push((
            format!("/api/v1/infants/{infant}/cchd-screens"),
            &hospital,
            json!({"measured_at": at, "right_hand_spo2": 98, "foot_spo2": 98, "murmur_grade": 0}),
        ));
    }
    let sent = writes
        .iter()
        .map(|(path, token, body)| app.post(path, token, body));
    for r in futures_util::future::join_all(sent).await {
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }
    app.assert_quality_facts_current().await;
    let facts = app.quality_facts();
    let row = infant_facts(&facts, &infant);
    assert_eq!(row[20], "1", "positive_dbs: {row:?}");
    let reported = facts
        .iter()
        .filter(|r| r.split('|').nth(1) == Some(infant.as_str()))
        .filter(|r| r.split('|').next_back() != Some("-"))
        .count();
    assert_eq!(reported, 3, "every card's first report time: {facts:?}");
}

#[tokio::test]
async fn hearing_intervention_by_6_months_counts_confirmed_hearing_loss() {
    let app = TestApp::spawn().await;
    let (c, _) = Cohort::start(&app, "HI").await;
    let (_, other) = app.hospital_with_token("HJ").await;
    let d = Duration::days;
    // Hearing loss confirmed for each: refer, refer at rescreen, diagnostic hearing loss,
    // then the case resolved confirmed. X1 starts hearing aids on day 150, X2 on day 200 (late),
    // X3 never; X4 (born after the period) on day 100.
    let mut cases = vec![];
    let mut infants = vec![];
    for (k, born) in [-250, -249, -248, -200].into_iter().enumerate() {
        let birth = local(born, 10);
        let x = c.infant(&format!("HL{k}"), birth).await;
        c.hearing(&x, "initial", "refer", birth + d(2)).await;
        c.hearing(&x, "rescreen", "refer", birth + d(20)).await;
        c.at(birth + d(60));
        let r = app
            .post(&format!("/api/v1/infants/{x}/hearing-screens"), &c.hospital,
                  &json!({"stage": "diagnostic", "method": "DIAGNOSTIC", "left": "refer", "right": "refer", "tested_at": (birth + d(60)).to_rfc3339()}))
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let case = c.case_of(&x, "HEAR").await;
        c.act(
            &case,
            birth + d(61),
            json!({"transition": {"event": "schedule_recall"}}),
        )
        .await;
        c.act(
            &case,
            birth + d(62),
            json!({"transition": {"event": "record_recheck", "reference": "ABR"}}),
        )
        .await;
        c.act(&case, birth + d(63), json!({"transition": {"event": "resolve", "outcome": {"outcome": "confirmed", "condition": "HL"}}}))
            .await;
        cases.push(case);
        infants.push((x, birth));
    }
    let start = |k: usize, day: i64| {
        let (x, birth) = &infants[k];
        (
            format!("/api/v1/infants/{x}/hearing-interventions"),
            json!({"kind": "hearing_aids", "started_at": (*birth + d(day)).to_rfc3339(), "provider": "省儿保听力中心"}),
        )
    };
    app.clock.set(crate::helpers::epoch());
    for (k, day) in [(0, 150), (1, 200), (3, 100)] {
        let (path, body) = start(k, day);
        let r = app.post(&path, &c.hospital, &body).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        assert_eq!(r.json::<Value>().await.unwrap()["kind"], "hearing_aids");
    }

    // Bad input changes nothing: an unknown kind, a start before birth, another hospital.
    let (path, mut body) = start(2, 30);
    body["kind"] = json!("magic");
    let p = crate::helpers::problem(app.post(&path, &c.hospital, &body).await).await;
    assert!(p["errors"]["kind"].is_array(), "{p}");
    let (path, body) = start(2, -1);
    let p = crate::helpers::problem(app.post(&path, &c.hospital, &body).await).await;
    assert!(p["errors"]["started_at"].is_array(), "{p}");
    let (path, body) = start(2, 30);
    assert_eq!(app.post(&path, &other, &body).await.status(), 404);
    let summary = |k: usize| {
        let path = format!("/api/v1/infants/{}/screening", infants[k].0);
        let (app, token) = (&app, c.hospital.clone());
        async move { app.get(&path, &token).await.json::<Value>().await.unwrap() }
    };
    let s = summary(2).await;
    assert_eq!(s["hearing_interventions"], json!([]));
    assert_eq!(s["hearing_assessment"]["next_action"], "intervention");
    let s = summary(0).await;
    assert_eq!(s["hearing_interventions"].as_array().unwrap().len(), 1);
    assert!(s["hearing_assessment"]["next_action"].is_null(), "{s}");
    assert_eq!(s["hearing_assessment"]["status"], "intervention_started");

    let (from, to) = (day(-250), day(-248));
    let report: Value = app
        .get(
            &format!("/api/v1/reports/quality?from={from}&to={to}&programme=HEAR"),
            &c.coord,
        )
        .await
        .json()
        .await
        .unwrap();
    let i = indicator(&report, "hearing_intervention_by_6m");
    assert_eq!((&i["numerator"], &i["denominator"]), (&json!(1), &json!(3)));
    assert_eq!(i["met"], false);
    let ids = c
        .members(
            &format!("hearing_intervention_by_6m/cases?from={from}&to={to}"),
            "id",
        )
        .await;
    assert_eq!(
        ids,
        sorted(&[&cases[1], &cases[2]]),
        "the late and the missing intervention"
    );
}

/// The everyday writes update a few facts fields in place (on PostgreSQL inside the write's own
/// statement); where the row they update is missing, they rebuild it instead of losing it.
#[tokio::test]
async fn writes_rebuild_facts_rows_they_find_missing() {
    use diesel::RunQueryDsl;
    let app = TestApp::spawn().await;
    let (_, hospital) = app.hospital_with_token("HM").await;
    let (infant, birth) = crate::helpers::register_infant(&app, &hospital, "MF1", 30).await;
    let facts_rows = |table: &str, key: &str, id: &str| {
        crate::helpers::count(
            &app,
            &format!("SELECT COUNT(*) AS n FROM {table} WHERE {key} = '{id}'"),
        )
    };
    assert_eq!(facts_rows("quality_infant_facts", "infant_id", &infant), 1);
    let drop_facts = |sql: &str| {
        let mut c = app.state.pool.get().unwrap();
        diesel::sql_query(sql).execute(&mut c).unwrap();
    };
    // A new card whose infant has no facts row.
    drop_facts(&format!(
        "DELETE FROM quality_infant_facts WHERE infant_id = '{infant}'"
    ));
    let status = crate::helpers::register_card(
        &app,
        &hospital,
        &infant,
        "MF1-1",
        birth + Duration::hours(26),
        None,
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(facts_rows("quality_infant_facts", "infant_id", &infant), 1);
    assert_eq!(facts_rows("quality_card_facts", "infant_id", &infant), 1);
    app.assert_quality_facts_current().await;
    // A positive result (an interpretation and a case) with neither facts row there.
    drop_facts(&format!(
        "DELETE FROM quality_infant_facts WHERE infant_id = '{infant}'"
    ));
    drop_facts(&format!(
        "DELETE FROM quality_card_facts WHERE infant_id = '{infant}'"
    ));
    let lab = app.staff_token("lab", "clinician", None).await;
    let r = app
        .post(
            "/api/v1/results",
            &lab,
            &json!({"cards": [{"barcode": "MF1-1", "results": panel(&[("C16-OH", 0.5)])}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["cards"][0]["status"], "accepted", "{body}");
    assert_eq!(
        crate::helpers::count(
            &app,
            &format!(
                "SELECT COUNT(*) AS n FROM quality_infant_facts \
                 WHERE infant_id = '{infant}' AND positive_dbs = 1"
            )
        ),
        1,
        "the case's flag is in the rebuilt row"
    );
    assert_eq!(
        crate::helpers::count(
            &app,
            &format!(
                "SELECT COUNT(*) AS n FROM quality_card_facts \
                 WHERE infant_id = '{infant}' AND reported_at IS NOT NULL"
            )
        ),
        1,
        "the report time is in the rebuilt card row"
    );
    app.assert_quality_facts_current().await;
}

#[tokio::test]
async fn the_weekly_rebuild_corrects_and_counts_drifted_facts() {
    let app = TestApp::spawn().await;
    let (_, hospital) = app.hospital_with_token("HD").await;
    let (a, _) = crate::helpers::register_infant(&app, &hospital, "DR1", 30).await;
    let (b, _) = crate::helpers::register_infant(&app, &hospital, "DR2", 30).await;
    let body = json!({"infant_id": b, "barcode": "DR2-1", "collected_at": crate::helpers::epoch().to_rfc3339(),
                      "feeding": "breast", "collector": "nurse"});
    assert_eq!(
        app.post("/api/v1/cards", &hospital, &body).await.status(),
        201
    );
    let kept = app.quality_facts();
    // Damage one infant row and one card row, as a write path that forgot its touch would.
    {
        use diesel::RunQueryDsl;
        let mut c = app.state.pool.get().unwrap();
        diesel::sql_query(format!(
            "UPDATE quality_infant_facts SET hear_screened = 1 WHERE infant_id = '{a}'"
        ))
        .execute(&mut c)
        .unwrap();
        diesel::sql_query("UPDATE quality_card_facts SET quality = 'insufficient'")
            .execute(&mut c)
            .unwrap();
    }
    assert_ne!(app.quality_facts(), kept);
    let r = app.run_job("quality_facts").await;
    assert_eq!(r["infants_corrected"], 2, "{r}");
    assert_eq!(app.quality_facts(), kept, "the rebuild restored the facts");
    let r = app.run_job("quality_facts").await;
    assert_eq!(r["infants_corrected"], 0, "nothing left to correct");
}

#[tokio::test]
async fn a_district_filter_counts_the_infants_of_its_hospitals_only() {
    let app = TestApp::spawn().await;
    let (east, east_token) = app.hospital_with_token("DE").await;
    let (_west, west_token) = app.hospital_with_token("DW").await;
    let r = app
        .patch(
            &format!("/api/v1/hospitals/{east}"),
            &app.admin_token,
            &json!({"district": "东区"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    for (token, mrn) in [
        (&east_token, "E1"),
        (&east_token, "E2"),
        (&west_token, "W1"),
    ] {
        crate::helpers::register_infant(&app, token, mrn, 30).await;
    }
    let day = (crate::helpers::epoch() + Duration::hours(8)).date_naive();
    let q = |extra: &str| {
        format!(
            "/api/v1/reports/quality?from={}&to={day}{extra}",
            day - Duration::days(5)
        )
    };
    let births = |v: &Value| indicator(v, "dbs_coverage")["denominator"].as_i64();
    let all: Value = app
        .get(&q(""), &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    let east_only: Value = app
        .get(&q("&district=%E4%B8%9C%E5%8C%BA"), &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!((births(&all), births(&east_only)), (Some(3), Some(2)));
    let members: Value = app
        .get(
            &format!(
                "/api/v1/reports/quality/dbs_coverage/cases?from={}&to={day}&district=%E4%B8%9C%E5%8C%BA&part=denominator",
                day - Duration::days(5)
            ),
            &app.admin_token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(members["items"].as_array().unwrap().len(), 2);
    let none: Value = app
        .get(&q("&district=nowhere"), &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(births(&none), Some(0));
}
