//! Timed jobs and notifications through HTTP, with a manual clock, a real SMTP listener and a
//! real HTTP SMS gateway: the escalation ladder, quiet hours, the outbox's retries, receipts,
//! opt-out, catch-up and two servers racing on one database.

use chrono::{DateTime, Datelike, Duration, FixedOffset, TimeZone, Utc};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDb, register_card, register_infant};
use crate::screening::panel;
use crate::sinks::{SmsSink, SmtpSink};

pub const HOSPITAL_EMAIL: &str = "follow-up@hospital-a.test";
const ON_CALL: &str = "oncall@centre.test";
const SUPERVISOR: &str = "supervisor@centre.test";
const COORDINATORS: &str = "coordinators@centre.test";
const MCH: &str = "mch@xihu.test";
const BUREAU: &str = "bureau@xihu.test";
const CENTRE: &str = "centre@centre.test";
pub const RECEIPT_TOKEN: &str = "receipt-token-0123456789";

/// The notification settings of these tests: SMTP at `smtp_port`, SMS at `sms_url`.
pub fn notify_toml(smtp_port: u16, sms_url: &str) -> String {
    format!(
        r#"
[notify]
staff_locale = "en"
centre_phone = "0571-12345678"

[notify.email]
enabled = true
host = "127.0.0.1"
port = {smtp_port}
security = "plain"
from = "Guthrie <noreply@centre.test>"
timeout_secs = 3

[notify.sms]
enabled = true
url = "{sms_url}"
auth_header_name = "X-Api-Key"
auth_header_value = "gateway-key"
receipt_token = "{RECEIPT_TOKEN}"
timeout_secs = 3

[notify.recipients]
on_call_emails = ["{ON_CALL}"]
supervisor_emails = ["{SUPERVISOR}"]
coordinator_emails = ["{COORDINATORS}"]
centre_emails = ["{CENTRE}"]

[[notify.recipients.districts]]
district = "西湖区"
mch_emails = ["{MCH}"]
bureau_emails = ["{BUREAU}"]
"#
    )
}

/// Creates a hospital with follow-up e-mails and a REST client token for it: (id, token).
pub async fn hospital_with_emails(
    app: &TestApp,
    code: &str,
    district: Option<&str>,
    emails: &[&str],
) -> (String, String) {
    let r = app
        .post(
            "/api/v1/hospitals",
            &app.admin_token,
            &json!({"code": code, "name": format!("Hospital {}", &code[1..]), "district": district,
                    "contact_emails": emails}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let h = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (id, secret) = app.client(&h).await;
    let token = app
        .client_token(&id, &secret)
        .await
        .json::<Value>()
        .await
        .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    (h, token)
}

/// A server wired to a fresh SMTP listener and SMS gateway.
pub struct Env {
    pub app: TestApp,
    pub smtp: SmtpSink,
    pub sms: SmsSink,
    /// Hospital client token.
    pub hospital: String,
    /// Lab (clinician) token.
    pub lab: String,
}

impl Env {
    /// A critical case for infant `mrn` whose family SMS keeps failing until it is marked
    /// failed (the gateway stays down); returns the environment and the time reached.
    async fn with_a_failed_sms(mrn: &str) -> (Env, chrono::DateTime<chrono::Utc>) {
        let env = Env::start().await;
        env.sms
            .failing
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let t0 = next_local(12);
        env.app.clock.set(t0);
        env.case_with(mrn, &[("C16-OH", 0.5)]).await;
        let mut t = t0;
        for _ in 0..8 {
            env.tick(t).await;
            t += Duration::hours(2);
        }
        (env, t)
    }

    pub async fn start() -> Self {
        let smtp = SmtpSink::start().await;
        let sms = SmsSink::start().await;
        Self::start_with(smtp, sms, TestDb::new()).await
    }

    pub async fn start_with(smtp: SmtpSink, sms: SmsSink, db: TestDb) -> Self {
        let toml = notify_toml(smtp.port, &sms.url);
        let app = TestApp::spawn_full(&[], &toml, db).await;
        let (_, hospital) =
            hospital_with_emails(&app, "HA", Some("西湖区"), &[HOSPITAL_EMAIL]).await;
        let lab = app.staff_token("lab", "clinician", None).await;
        Self {
            app,
            smtp,
            sms,
            hospital,
            lab,
        }
    }

    /// Registers an infant with a card and posts `values`; returns (infant id, case id).
    pub async fn case_with(&self, mrn: &str, values: &[(&str, f64)]) -> (String, String) {
        let (infant, birth) = register_infant(&self.app, &self.hospital, mrn, 72).await;
        let barcode = format!("BC{mrn}");
        let s = register_card(
            &self.app,
            &self.hospital,
            &infant,
            &barcode,
            birth + Duration::hours(72),
            None,
        )
        .await;
        assert_eq!(s, 201);
        let r = self
            .app
            .post(
                "/api/v1/results",
                &self.lab,
                &json!({"cards": [{"barcode": barcode, "results": panel(values)}]}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let v: Value = self
            .app
            .get(&format!("/api/v1/cases?infant_id={infant}"), &self.lab)
            .await
            .json()
            .await
            .unwrap();
        let id = v["items"][0]["id"].as_str().unwrap().to_string();
        (infant, id)
    }

    /// `GET /api/v1/notifications?{query}`: the items, newest first.
    pub async fn notifications(&self, query: &str) -> Vec<Value> {
        let r = self
            .app
            .get(&format!("/api/v1/notifications?{query}"), &self.lab)
            .await;
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()["items"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// `PATCH /api/v1/infants/{infant}` as the hospital.
    pub async fn patch_infant(&self, infant: &str, body: Value) -> reqwest::Response {
        self.app
            .patch(&format!("/api/v1/infants/{infant}"), &self.hospital, &body)
            .await
    }

    /// The infant's screening summary, read by the lab (centre staff).
    pub async fn summary(&self, infant: &str) -> Value {
        let r = self
            .app
            .get(&format!("/api/v1/infants/{infant}/screening"), &self.lab)
            .await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    pub async fn case(&self, id: &str) -> Value {
        let r = self
            .app
            .get(&format!("/api/v1/cases/{id}"), &self.lab)
            .await;
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    /// A second server's state over the same database and clock (its own pool and id).
    pub fn second_server(&self) -> guthrie::state::AppState {
        let settings = crate::helpers::settings_toml(
            &self.app.db,
            &[],
            &notify_toml(self.smtp.port, &self.sms.url),
        );
        let pool = guthrie::startup::open_database(&settings).unwrap();
        guthrie::startup::build_state(settings, pool, self.app.clock.clone()).unwrap()
    }

    /// Moves the clock to `t` and runs the escalation sweep and the dispatcher.
    pub async fn tick(&self, t: DateTime<Utc>) -> (Value, Value) {
        self.app.clock.set(t);
        let e = self.app.run_job("escalation").await;
        let d = self.app.run_job("dispatcher").await;
        (e, d)
    }
}

/// The next `hour`:00 in Beijing at least five minutes from now.
pub fn next_local(hour: u32) -> DateTime<Utc> {
    let cst = FixedOffset::east_opt(8 * 3600).unwrap();
    let now = crate::helpers::epoch().with_timezone(&cst);
    let today = cst
        .from_local_datetime(&now.date_naive().and_hms_opt(hour, 0, 0).unwrap())
        .unwrap();
    let t = if today > now + Duration::minutes(5) {
        today
    } else {
        today + Duration::days(1)
    };
    t.with_timezone(&Utc)
}

fn rungs(case: &Value) -> Vec<String> {
    case["escalations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["rung"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_t0_case_climbs_the_ladder_once_per_rung_and_resolving_stops_it() {
    let env = Env::start().await;
    let t0 = next_local(12);
    env.app.clock.set(t0);
    // A coordinator with an e-mail, assigned to the case, receives L1.
    let r = env
        .app
        .post(
            "/api/v1/users",
            &env.app.admin_token,
            &json!({"username": "coord", "display_name": "Coord", "password": "a-long-test-password",
                    "role": "coordinator", "email": "coord@centre.test"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let coord_id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, case) = env.case_with("E1", &[("C16-OH", 0.5)]).await;
    let c = env.case(&case).await;
    assert_eq!(
        (c["tier"].as_str(), c["next_rung"].as_str()),
        (Some("T0"), Some("L0"))
    );
    env.app
        .act_on_case(&env.lab, &case, &json!({"assignee": coord_id}))
        .await;

    // L0 at once: family SMS (T0 ignores quiet hours), hospital and on-call e-mail.
    let (e, d) = env.tick(t0).await;
    assert_eq!(e["rungs_fired"], 1);
    assert_eq!(d["sent"], 3, "{d}");
    let sms = env.sms.received();
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0]["to"], "13800138000");
    assert_eq!(sms[0]["_auth"], "gateway-key");
    let text = sms[0]["text"].as_str().unwrap();
    assert!(
        text.contains("HA-E1") && text.contains("0571-12345678"),
        "{text}"
    );
    assert!(
        !text.contains("LCHAD") && !text.contains("羟酰"),
        "no diagnosis in family SMS: {text}"
    );
    let hosp = env.smtp.to(HOSPITAL_EMAIL);
    assert_eq!(hosp.len(), 1);
    assert!(
        hosp[0]
            .subject()
            .starts_with("[T0] Newborn screening recall"),
        "{}",
        hosp[0].subject()
    );
    let body = hosp[0].body();
    assert!(
        body.contains("HA-E1") && body.contains("LCHAD") && body.contains(&case),
        "{body}"
    );
    assert_eq!(env.smtp.to(ON_CALL).len(), 1);

    // Nothing fires twice, however often the sweep runs.
    let (e, d) = env.tick(t0 + Duration::minutes(1)).await;
    assert_eq!(
        (e["rungs_fired"].as_u64(), d["sent"].as_u64()),
        (Some(0), Some(0))
    );

    // L1 at the first-contact deadline (4 h): hospital again and the assigned coordinator.
    let (e, _) = env.tick(t0 + Duration::hours(3)).await;
    assert_eq!(e["rungs_fired"], 0);
    let (e, _) = env.tick(t0 + Duration::hours(4)).await;
    assert_eq!(e["rungs_fired"], 1);
    assert_eq!(env.smtp.to("coord@centre.test").len(), 1);
    assert!(
        env.smtp.to("coord@centre.test")[0]
            .subject()
            .contains("First contact overdue")
    );
    assert_eq!(env.smtp.to(HOSPITAL_EMAIL).len(), 2);
    assert!(
        env.smtp.to(COORDINATORS).is_empty(),
        "the assignee, not the shared address"
    );

    // L2 at the recall due time (24 h): the supervisor.
    env.tick(t0 + Duration::hours(24)).await;
    assert_eq!(env.smtp.to(SUPERVISOR).len(), 1);
    // L3 one day later for T0: the district MCH institution.
    env.tick(t0 + Duration::hours(47)).await;
    assert!(env.smtp.to(MCH).is_empty());
    env.tick(t0 + Duration::hours(48)).await;
    assert_eq!(env.smtp.to(MCH).len(), 1);
    assert!(env.smtp.to(MCH)[0].body().contains("home visit"));
    // L4 two weeks after due: the health bureau; lost to follow-up is proposed.
    env.tick(t0 + Duration::hours(24) + Duration::days(14))
        .await;
    assert_eq!(env.smtp.to(BUREAU).len(), 1);
    let c = env.case(&case).await;
    assert_eq!(rungs(&c), ["L0", "L1", "L2", "L3", "L4"]);
    assert!(c["next_rung"].is_null());
    let timeline = c["timeline"].as_array().unwrap();
    let esc: Vec<&Value> = timeline
        .iter()
        .filter(|e| e["kind"] == "escalation")
        .collect();
    assert_eq!(esc.len(), 5);
    assert_eq!(esc[4]["detail"]["proposed_outcome"], "lost_to_follow_up");
    assert_eq!(esc[0]["actor"], "job:escalation");
    assert!(esc[0]["detail"]["recipients"].as_array().unwrap().len() >= 3);
    assert_eq!(c["notifications"].as_array().unwrap().len(), 8);
    let (e, d) = env.tick(t0 + Duration::days(30)).await;
    assert_eq!(
        (e["rungs_fired"].as_u64(), d["sent"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(env.smtp.mails().len(), 7);

    // A second T0 case resolved after L0 never escalates again.
    env.app.clock.set(t0);
    let (_, other) = env.case_with("E2", &[("C16-OH", 0.5)]).await;
    env.tick(t0).await;
    let resolve =
        json!({"transition": {"event": "resolve", "outcome": {"outcome": "diagnosed_elsewhere"}}});
    env.app.act_on_case(&env.lab, &other, &resolve).await;
    let (e, _) = env.tick(t0 + Duration::days(20)).await;
    assert_eq!(e["rungs_fired"], 0);
    assert_eq!(rungs(&env.case(&other).await), ["L0"]);
}

#[tokio::test]
async fn quiet_hours_hold_family_sms_except_for_t0() {
    let env = Env::start().await;
    let night = next_local(22);
    env.app.clock.set(night);
    let (_, routine) = env.case_with("Q1", &[("Tyr", 400.0)]).await;
    env.case_with("Q2", &[("C16-OH", 0.5)]).await;
    assert_eq!(env.case(&routine).await["tier"], "T2");
    let (_, d) = env.tick(night).await;
    // The T0 family SMS, one hospital e-mail listing both cases, and on-call's go now; the T2
    // SMS waits.
    assert_eq!(env.sms.received().len(), 1);
    assert!(
        env.sms.received()[0]["text"]
            .as_str()
            .unwrap()
            .contains("HA-Q2")
    );
    assert_eq!(d["sent"], 3, "{d}");
    assert_eq!(notice_lines(&env, HOSPITAL_EMAIL).len(), 2);
    let queued = env
        .notifications(&format!("case_id={routine}&channel=sms"))
        .await;
    let n = &queued[0];
    assert_eq!(n["status"], "queued");
    let release = night + Duration::hours(10); // 08:00 the next morning
    assert_eq!(
        n["next_attempt_at"].as_str().unwrap(),
        release.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    env.tick(night + Duration::hours(9)).await;
    assert_eq!(env.sms.received().len(), 1, "still quiet at 07:00");
    env.tick(release).await;
    assert_eq!(env.sms.received().len(), 2);
    assert!(
        env.sms.received()[1]["text"]
            .as_str()
            .unwrap()
            .contains("HA-Q1")
    );
}

#[tokio::test]
async fn smtp_down_keeps_mail_queued_and_delivers_it_once_when_back() {
    let env = Env::start().await;
    let port = env.smtp.port;
    // The mail server goes down.
    env.smtp.stop();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let t0 = next_local(12);
    env.app.clock.set(t0);
    let (_, case) = env.case_with("S1", &[("Tyr", 400.0)]).await;
    let (_, d) = env.tick(t0).await;
    assert_eq!(d["retried"], 1, "{d}");
    assert_eq!(d["sent"], 1, "the SMS still goes: {d}");
    let list = env
        .notifications(&format!("case_id={case}&channel=email"))
        .await;
    let n = &list[0];
    assert_eq!(
        (n["status"].as_str(), n["attempts"].as_i64()),
        (Some("queued"), Some(1))
    );
    assert!(n["last_error"].as_str().unwrap().contains("smtp"));
    // Before the backoff ends nothing is attempted.
    let (_, d) = env.tick(t0 + Duration::seconds(30)).await;
    assert_eq!(d["claimed"], 0);
    let (_, d) = env.tick(t0 + Duration::seconds(61)).await;
    assert_eq!(d["retried"], 1);
    // The server comes back on the same port: delivered exactly once.
    let back = SmtpSink::start_on(port).await;
    let (_, d) = env.tick(t0 + Duration::seconds(61 + 121)).await;
    assert_eq!(d["sent"], 1, "{d}");
    for k in 1..4 {
        env.tick(t0 + Duration::hours(k)).await;
    }
    assert_eq!(back.to(HOSPITAL_EMAIL).len(), 1);
    let n: Value = env
        .app
        .get(
            &format!("/api/v1/notifications/{}", n["id"].as_str().unwrap()),
            &env.lab,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (n["status"].as_str(), n["attempts"].as_i64()),
        (Some("sent"), Some(3))
    );
}

#[tokio::test]
async fn a_message_that_keeps_failing_is_marked_failed_and_can_be_retried() {
    let (env, t) = Env::with_a_failed_sms("F1").await;
    let failed = env.notifications("status=failed").await;
    let items = failed;
    assert_eq!(items.len(), 1);
    assert_eq!(
        (items[0]["channel"].as_str(), items[0]["attempts"].as_i64()),
        (Some("sms"), Some(8))
    );
    let counts: Value = env
        .app
        .get("/api/v1/worklists", &env.lab)
        .await
        .json()
        .await
        .unwrap();
    let failed_count = counts
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "failed_notifications")
        .unwrap()["count"]
        .clone();
    assert_eq!(failed_count, 1);
    // Staff retry once the gateway is back.
    env.sms
        .failing
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let id = items[0]["id"].as_str().unwrap();
    let r = env
        .app
        .post(
            &format!("/api/v1/notifications/{id}/retry"),
            &env.lab,
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = env
        .app
        .post(
            &format!("/api/v1/notifications/{id}/retry"),
            &env.lab,
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), 409, "a queued message is not retried twice");
    let (_, d) = env.tick(t).await;
    assert_eq!(d["sent"], 1);
    assert_eq!(env.sms.received().len(), 1);
}

#[tokio::test]
async fn failed_notifications_are_listed_and_retried_in_the_console() {
    use crate::console::{Browser, PASSWORD, location, user};
    let (env, t) = Env::with_a_failed_sms("F2").await;
    user(&env.app, "coord", "coordinator", None).await;
    let mut b = Browser::new(&env.app);
    b.sign_in("coord", PASSWORD).await;
    // The worklists link to the list.
    let tabs = b.get("/worklists/overdue").await.text().await.unwrap();
    assert!(tabs.contains("href=\"/notifications/failed\"") && tabs.contains("发送失败的通知：1"));
    let html = b.get("/notifications/failed").await.text().await.unwrap();
    let at = html.find("action=\"/notifications/").expect("a retry form") + 8;
    let action = html[at..].split('"').next().unwrap().to_string();
    assert!(html.contains("href=\"/cases/"));
    env.sms
        .failing
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let csrf = b.csrf().await;
    let r = b.post(&action, &[("csrf", &csrf)]).await;
    assert_eq!(location(&r), "/notifications/failed?retried=1");
    let html = b
        .get("/notifications/failed?retried=1")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("已重新排队发送") && html.contains("没有发送失败的通知"));
    // A second retry of the same message (now queued) changes nothing.
    let r = b.post(&action, &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 409);
    let (_, d) = env.tick(t).await;
    assert_eq!(d["sent"], 1);
}

#[tokio::test]
async fn a_hard_bounce_fails_at_once_without_retries() {
    let env = Env::start().await;
    let (_, token) = hospital_with_emails(&env.app, "HB", None, &["bounce@hospital-b.test"]).await;
    let t0 = next_local(12);
    env.app.clock.set(t0);
    let (infant, birth) = register_infant(&env.app, &token, "B1", 72).await;
    register_card(
        &env.app,
        &token,
        &infant,
        "BCB1",
        birth + Duration::hours(72),
        None,
    )
    .await;
    env.app
        .post(
            "/api/v1/results",
            &env.lab,
            &json!({"cards": [{"barcode": "BCB1", "results": panel(&[("Tyr", 400.0)])}]}),
        )
        .await;
    let (_, d) = env.tick(t0).await;
    assert_eq!(d["failed"], 1, "{d}");
    let failed = env.notifications("status=failed&channel=email").await;
    let n = &failed[0];
    assert_eq!(n["attempts"], 1);
    assert!(n["last_error"].as_str().unwrap().contains("550"), "{n}");
}

#[tokio::test]
async fn receipts_opt_out_and_missing_phones_reach_the_contact_problem_worklist() {
    let env = Env::start().await;
    let t0 = next_local(12);
    env.app.clock.set(t0);
    let (_, case) = env.case_with("R1", &[("C16-OH", 0.5)]).await;
    env.tick(t0).await;
    let sms = env
        .notifications(&format!("case_id={case}&channel=sms"))
        .await;
    let provider = sms[0]["provider_message_id"].as_str().unwrap().to_string();
    let receipt = |token: &str, body: Value| {
        env.app
            .req(
                reqwest::Method::POST,
                "/api/v1/notifications/sms-receipts",
                None,
            )
            .header("X-Receipt-Token", token)
            .json(&body)
            .send()
    };
    let r = receipt(
        "wrong",
        json!({"message_id": provider, "status": "delivered"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 401);
    let r = receipt(
        RECEIPT_TOKEN,
        json!({"message_id": provider, "status": "eaten"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 422);
    let r = receipt(
        RECEIPT_TOKEN,
        json!({"message_id": "gw-none", "status": "delivered"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    let r = receipt(
        RECEIPT_TOKEN,
        json!({"message_id": provider, "status": "delivered"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 204);
    let n = &env.case(&case).await["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["channel"] == "sms")
        .unwrap()
        .clone();
    assert_eq!(n["status"], "delivered");
    assert!(!env.case(&case).await["contact_problem"].as_bool().unwrap());
    let r = receipt(
        RECEIPT_TOKEN,
        json!({"message_id": provider, "status": "wrong_number"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 204);
    let c = env.case(&case).await;
    assert_eq!(c["contact_problem"], true);
    assert!(
        c["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "contact_problem" && e["detail"]["source"] == "sms_receipt")
    );

    // A family that opted out of SMS gets none; the case needs another channel.
    let (infant, birth) = register_infant(&env.app, &env.hospital, "R2", 72).await;
    let r = env
        .patch_infant(&infant, json!({"sms_opt_out": true}))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(r.json::<Value>().await.unwrap()["sms_opt_out"], true);
    assert_eq!(
        register_card(
            &env.app,
            &env.hospital,
            &infant,
            "BCR2",
            birth + Duration::hours(72),
            None
        )
        .await,
        201
    );
    env.app
        .post(
            "/api/v1/results",
            &env.lab,
            &json!({"cards": [{"barcode": "BCR2", "results": panel(&[("C16-OH", 0.5)])}]}),
        )
        .await;
    let before = env.sms.received().len();
    env.tick(t0 + Duration::minutes(5)).await;
    assert_eq!(env.sms.received().len(), before, "no SMS after opt-out");
    let list: Value = env
        .app
        .get("/api/v1/worklists/contact_problems", &env.lab)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["count"], 2);
}

#[tokio::test]
async fn a_missed_tick_catches_up_every_due_rung_once() {
    let env = Env::start().await;
    let t0 = next_local(12);
    env.app.clock.set(t0);
    let (_, case) = env.case_with("C1", &[("C16-OH", 0.5)]).await;
    // The server was down for three weeks: one run fires every due rung, in order, once.
    let (e, d) = env.tick(t0 + Duration::days(21)).await;
    assert_eq!(e["rungs_fired"], 5, "{e}");
    // One sweep, one e-mail per recipient: the hospital's L0 and L1 notices come in one.
    assert_eq!(d["sent"], 7, "one SMS and six e-mails: {d}");
    assert_eq!(notice_lines(&env, HOSPITAL_EMAIL).len(), 2);
    assert_eq!(env.smtp.to(HOSPITAL_EMAIL).len(), 1);
    assert_eq!(
        rungs(&env.case(&case).await),
        ["L0", "L1", "L2", "L3", "L4"]
    );
    let (e, _) = env.tick(t0 + Duration::days(22)).await;
    assert_eq!(e["rungs_fired"], 0);
}

#[tokio::test]
async fn a_case_that_cannot_be_escalated_fails_alone_and_leaves_nothing_half_written() {
    let env = Env::start().await;
    let t0 = next_local(12);
    env.app.clock.set(t0);
    let mut cases = Vec::new();
    for k in 0..3 {
        cases.push(env.case_with(&format!("F{k}"), &[("C16-OH", 0.5)]).await.1);
    }
    // The middle case's timeline refuses escalation entries: its chunk fails at the last
    // statements, after its notices were written in the same transaction.
    let poisoned = &cases[1];
    {
        use diesel::RunQueryDsl;
        let mut c = env.app.state.pool.get().unwrap();
        let sql = match c.backend() {
            guthrie::db::Backend::Sqlite => vec![format!(
                "CREATE TRIGGER poison BEFORE INSERT ON case_events WHEN NEW.case_id = '{poisoned}' \
                 AND NEW.kind = 'escalation' BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
            )],
            guthrie::db::Backend::Postgres => vec![
                format!(
                    "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                     IF NEW.case_id = '{poisoned}' AND NEW.kind = 'escalation' THEN \
                     RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$"
                ),
                "CREATE TRIGGER poison BEFORE INSERT ON case_events FOR EACH ROW \
                 EXECUTE FUNCTION poison()"
                    .to_string(),
            ],
        };
        for q in sql {
            diesel::sql_query(q).execute(&mut c).unwrap();
        }
    }
    let (e, _) = env.tick(t0).await;
    assert_eq!(e["cases"], 3, "{e}");
    assert_eq!(e["rungs_fired"], 2, "{e}");
    assert_eq!(e["errors"], 1, "{e}");
    let queued = |case: &str| {
        crate::helpers::count(
            &env.app,
            &format!("SELECT COUNT(*) AS n FROM notifications WHERE case_id = '{case}'"),
        )
    };
    assert_eq!(queued(poisoned), 0, "the failed case queued nothing");
    assert!(queued(&cases[0]) > 0 && queued(&cases[2]) > 0);
    assert!(rungs(&env.case(poisoned).await).is_empty());
    assert_eq!(rungs(&env.case(&cases[2]).await), ["L0"]);
    // The next run tries it again (and fails again, alone).
    let (e, _) = env.tick(t0 + Duration::minutes(1)).await;
    assert_eq!(
        (e["cases"].as_u64(), e["errors"].as_u64()),
        (Some(1), Some(1)),
        "{e}"
    );
}

#[tokio::test]
async fn two_servers_racing_on_one_database_never_fire_or_send_twice() {
    let env = Env::start().await;
    let t0 = next_local(12);
    env.app.clock.set(t0);
    for k in 0..6 {
        env.case_with(&format!("M{k}"), &[("C16-OH", 0.5)]).await;
    }
    // A second server process: its own pool and state over the same database.
    let other = env.second_server();
    let one = env.app.state.clone();
    // L0 for six cases, then L1 for six, then L2–L4 for six.
    for (t, expected) in [
        (t0, 6),
        (t0 + Duration::hours(4), 6),
        (t0 + Duration::days(20), 18),
    ] {
        env.app.clock.set(t);
        let (a, b) = tokio::join!(
            guthrie::jobs::run(&one, "escalation", t),
            guthrie::jobs::run(&other, "escalation", t)
        );
        let fired = a.unwrap().report["rungs_fired"].as_u64().unwrap()
            + b.unwrap().report["rungs_fired"].as_u64().unwrap();
        assert_eq!(fired, expected, "at {t}");
        for _ in 0..3 {
            let (a, b) = tokio::join!(
                guthrie::jobs::run(&one, "dispatcher", t),
                guthrie::jobs::run(&other, "dispatcher", t)
            );
            a.unwrap();
            b.unwrap();
        }
    }
    // Per case: L0 family SMS; notices L0 ×2 (hospital, on-call), L1 ×2, L2, L3, L4, each
    // delivered exactly once (in the case's own e-mail or in one listing a sweep's cases).
    assert_eq!(env.sms.received().len(), 6);
    for (to, n) in [
        (HOSPITAL_EMAIL, 12),
        (ON_CALL, 6),
        (COORDINATORS, 6),
        (SUPERVISOR, 6),
        (MCH, 6),
        (BUREAU, 6),
    ] {
        let mut lines = notice_lines(&env, to);
        assert_eq!(lines.len(), n, "{to}: {lines:?}");
        lines.sort();
        lines.dedup();
        assert_eq!(lines.len(), n, "{to}: each notice once");
        assert!(
            env.smtp.to(to).len() <= n / 6 * 2,
            "{to}: combined per sweep"
        );
    }
}

#[tokio::test]
async fn each_scheduled_tick_runs_on_one_server_and_the_job_list_names_it() {
    let env = Env::start().await;
    let t0 = next_local(12);
    env.app.clock.set(t0);
    for k in 0..3 {
        env.case_with(&format!("T{k}"), &[("C16-OH", 0.5)]).await;
    }
    let other = env.second_server();
    let one = env.app.state.clone();
    assert_ne!(one.instance_id, other.instance_id);
    let job = guthrie::jobs::Job::Escalation;
    // The scheduler fires every minute on both; their clocks differ by a few hundred ms.
    for minute in 0..3 {
        let t = t0 + Duration::minutes(minute + 1);
        env.app.clock.set(t);
        let (a, b) = tokio::join!(
            guthrie::jobs::tick(&one, job, t + Duration::milliseconds(5)),
            guthrie::jobs::tick(&other, job, t - Duration::milliseconds(400))
        );
        let ran: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
        assert_eq!(
            ran.len(),
            1,
            "minute {minute}: exactly one server runs the tick"
        );
        if minute == 0 {
            assert_eq!(ran[0].report["rungs_fired"], 3);
        }
    }
    // A tick taken is not run again by a late server.
    assert!(
        guthrie::jobs::tick(&other, job, t0 + Duration::seconds(61))
            .await
            .unwrap()
            .is_none()
    );
    let admin = env.app.staff_token("admin1", "admin", None).await;
    let jobs: Value = env
        .app
        .get("/api/v1/admin/jobs", &admin)
        .await
        .json()
        .await
        .unwrap();
    let esc = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "escalation")
        .unwrap();
    let server = esc["last_server"].as_str().unwrap();
    assert!(
        server == &*one.instance_id || server == &*other.instance_id,
        "{server}"
    );
    assert_eq!(
        crate::helpers::count(
            &env.app,
            "SELECT COUNT(*) AS n FROM job_ticks WHERE job = 'escalation'"
        ),
        3
    );
}

/// The case notices `to` received: the subject of each case's own e-mail, and each line of an
/// e-mail that lists a sweep's cases.
pub fn notice_lines(env: &Env, to: &str) -> Vec<String> {
    let mut out = vec![];
    for m in env.smtp.to(to) {
        if m.subject().contains("cases need your action") {
            out.extend(
                m.body()
                    .lines()
                    .filter_map(|l| l.strip_prefix("- "))
                    .map(str::to_string),
            );
        } else {
            out.push(m.subject());
        }
    }
    out
}

#[tokio::test]
async fn the_missed_screen_sweep_opens_cases_once() {
    let env = Env::start().await;
    let (infant, _) = register_infant(&env.app, &env.hospital, "MS1", 24 * 25).await;
    let report = env.app.run_job("missed_screens").await;
    assert_eq!(report["opened"], json!({"DBS": 1, "HEAR": 1, "CCHD": 1}));
    let report = env.app.run_job("missed_screens").await;
    assert_eq!(report["opened"], json!({"DBS": 0, "HEAR": 0, "CCHD": 0}));
    let v: Value = env
        .app
        .get(&format!("/api/v1/cases?infant_id={infant}"), &env.lab)
        .await
        .json()
        .await
        .unwrap();
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert!(items.iter().all(|c| c["reason"] == "missed"));
    let detail = env.case(items[0]["id"].as_str().unwrap()).await;
    assert_eq!(detail["timeline"][0]["actor"], "job:missed_screens");
}

#[tokio::test]
async fn family_reminders_and_the_hospital_digest_go_once_per_cause() {
    let env = Env::start().await;
    let t0 = next_local(12);
    env.app.clock.set(t0);
    let (_, case) = env.case_with("D1", &[("Tyr", 400.0)]).await;
    let appointment = t0 + Duration::days(1) - Duration::hours(2);
    for transition in [
        json!({"event": "contact_family"}),
        json!({"event": "schedule_recall", "appointment_at": appointment.to_rfc3339(), "place": "Clinic 3"}),
    ] {
        env.app
            .act_on_case(&env.lab, &case, &json!({ "transition": transition }))
            .await;
    }
    let r = env.app.run_job("family_reminders").await;
    assert_eq!(r["visit_reminders"], 1, "{r}");
    let r = env.app.run_job("family_reminders").await;
    assert_eq!(r["visit_reminders"], 0, "once per visit");
    env.app.run_job("dispatcher").await;
    let texts: Vec<String> = env
        .sms
        .received()
        .iter()
        .map(|b| b["text"].as_str().unwrap().to_string())
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("Clinic 3") && t.contains("HA-D1")),
        "{texts:?}"
    );

    // Overdue: one reminder every 3 days, at most 3.
    let due = env.case(&case).await["recall_due_at"]
        .as_str()
        .unwrap()
        .parse::<DateTime<Utc>>()
        .unwrap();
    let mut sent = 0;
    for day in 0..15 {
        env.app
            .clock
            .set(due + Duration::hours(1) + Duration::days(day));
        sent += env.app.run_job("family_reminders").await["overdue_reminders"]
            .as_u64()
            .unwrap();
    }
    assert_eq!(sent, 3);

    // The digest: one per hospital per day.
    env.app.clock.set(t0);
    let r = env.app.run_job("hospital_digest").await;
    assert_eq!(
        (r["hospitals"].as_u64(), r["emails_queued"].as_u64()),
        (Some(1), Some(1))
    );
    let r = env.app.run_job("hospital_digest").await;
    assert_eq!(r["emails_queued"], 0);
    env.app.run_job("dispatcher").await;
    let digest: Vec<_> = env
        .smtp
        .to(HOSPITAL_EMAIL)
        .into_iter()
        .filter(|m| m.subject().contains("follow-up"))
        .collect();
    assert_eq!(digest.len(), 1);
    assert!(
        digest[0].subject().contains("1 open"),
        "{}",
        digest[0].subject()
    );
    assert!(digest[0].body().contains(&case));
}

#[tokio::test]
async fn jobs_are_listed_run_by_admins_only_and_unknown_ones_are_404() {
    let env = Env::start().await;
    let r = env
        .app
        .post("/api/v1/admin/jobs/escalation/run", &env.lab, &json!({}))
        .await;
    assert_eq!(r.status(), 403);
    let r = env
        .app
        .post(
            "/api/v1/admin/jobs/nope/run",
            &env.app.admin_token,
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), 404);
    env.app.run_job("escalation").await;
    let jobs: Value = env
        .app
        .get("/api/v1/admin/jobs", &env.app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    let jobs = jobs.as_array().unwrap();
    assert_eq!(jobs.len(), 8);
    assert!(jobs.iter().any(|j| j["name"] == "quality_facts"));
    assert!(jobs.iter().any(|j| j["name"] == "hl7_retention"));
    let esc = jobs.iter().find(|j| j["name"] == "escalation").unwrap();
    assert_eq!(esc["last_ok"], true);
    assert_eq!(esc["schedule"], "0 * * * * *");
    assert!(esc["last_report"]["cases"].is_number());
    let r = env
        .app
        .get("/api/v1/notifications?status=lost", &env.lab)
        .await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn the_scheduler_runs_the_jobs_inside_the_server() {
    let smtp = SmtpSink::start().await;
    let sms = SmsSink::start().await;
    let toml = notify_toml(smtp.port, &sms.url);
    let db = TestDb::new();
    let app = TestApp::spawn_full(
        &[
            ("GUTHRIE__JOBS__ENABLED", "true"),
            ("GUTHRIE__JOBS__ESCALATION", "* * * * * *"),
            ("GUTHRIE__JOBS__DISPATCHER", "* * * * * *"),
            // The daily jobs would catch up at start, and a digest that runs after the case
            // opened is a second e-mail to the hospital.
            ("GUTHRIE__JOBS__HOSPITAL_DIGEST", ""),
            ("GUTHRIE__JOBS__FAMILY_REMINDERS", ""),
            ("GUTHRIE__JOBS__QUALITY_SCORECARD", ""),
        ],
        &toml,
        db,
    )
    .await;
    let (_, token) = hospital_with_emails(&app, "HS", None, &[HOSPITAL_EMAIL]).await;
    let lab = app.staff_token("lab", "clinician", None).await;
    let (infant, birth) = register_infant(&app, &token, "SC1", 72).await;
    register_card(
        &app,
        &token,
        &infant,
        "BCSC1",
        birth + Duration::hours(72),
        None,
    )
    .await;
    app.post(
        "/api/v1/results",
        &lab,
        &json!({"cards": [{"barcode": "BCSC1", "results": panel(&[("C16-OH", 0.5)])}]}),
    )
    .await;
    let mut waited = 0;
    while smtp.to(HOSPITAL_EMAIL).is_empty() && waited < 100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    assert_eq!(
        smtp.to(HOSPITAL_EMAIL).len(),
        1,
        "the scheduled sweep and dispatcher delivered L0"
    );
}

#[tokio::test]
async fn an_invalid_schedule_or_template_stops_start_up() {
    let db = TestDb::new();
    let settings = crate::helpers::settings(
        &db,
        &[
            ("GUTHRIE__JOBS__ENABLED", "true"),
            ("GUTHRIE__JOBS__ESCALATION", "every minute"),
        ],
    );
    let app = guthrie::startup::Application::build(settings).unwrap();
    let err = app.run_until_stopped().await.unwrap_err().to_string();
    assert!(err.contains("jobs.escalation"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let en =
        std::fs::read_to_string(crate::helpers::config_dir().join("templates/en.toml")).unwrap();
    std::fs::write(
        dir.path().join("en.toml"),
        en.replace("{{due_date}}", "{{due_day}}"),
    )
    .unwrap();
    let db = TestDb::new();
    let settings = crate::helpers::settings(
        &db,
        &[
            (
                "GUTHRIE__NOTIFY__TEMPLATE_DIRECTORY",
                dir.path().to_str().unwrap(),
            ),
            ("GUTHRIE__NOTIFY__FAMILY_LOCALE", "en"),
            ("GUTHRIE__NOTIFY__STAFF_LOCALE", "en"),
        ],
    );
    let err = guthrie::startup::Application::build(settings)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("due_day") && err.contains("en.toml"), "{err}");
}

#[tokio::test]
async fn the_monthly_scorecard_goes_to_each_hospital_and_the_centre_once() {
    let env = Env::start().await;
    // An infant born in the middle of last month, screened for the heart only.
    let cst = FixedOffset::east_opt(8 * 3600).unwrap();
    let today = crate::helpers::epoch().with_timezone(&cst).date_naive();
    let first = today.with_day(1).unwrap();
    let last_month_mid = (first - Duration::days(15)).and_hms_opt(10, 0, 0).unwrap();
    let birth = cst
        .from_local_datetime(&last_month_mid)
        .unwrap()
        .with_timezone(&Utc);
    let mut body = crate::helpers::infant_body("SCM1");
    body["birth_at"] = json!(birth.to_rfc3339());
    body["mother"]
        .as_object_mut()
        .unwrap()
        .remove("id_document");
    let r = env.app.post("/api/v1/infants", &env.hospital, &body).await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = env
        .app
        .post(&format!("/api/v1/infants/{id}/cchd-screens"), &env.hospital,
              &json!({"measured_at": (birth + Duration::hours(24)).to_rfc3339(), "right_hand_spo2": 98, "foot_spo2": 98}))
        .await;
    assert_eq!(r.status(), 201);
    let r = env.app.run_job("quality_scorecard").await;
    let period = (first - Duration::days(1)).format("%Y-%m").to_string();
    assert_eq!(r["period"], period.as_str());
    assert_eq!(
        (r["hospitals"].as_u64(), r["emails_queued"].as_u64()),
        (Some(1), Some(2)),
        "{r}"
    );
    assert_eq!(
        env.app.run_job("quality_scorecard").await["emails_queued"],
        0,
        "once a month"
    );
    env.app.run_job("dispatcher").await;
    let mail = env.smtp.to(HOSPITAL_EMAIL);
    assert_eq!(mail.len(), 1);
    assert_eq!(
        mail[0].subject(),
        format!("Hospital A newborn screening quality scorecard {period}")
    );
    let body = mail[0].body();
    assert!(
        body.contains("Heart (CCHD) screening coverage: 100.0% (1/1, ≥95%)"),
        "{body}"
    );
    assert!(
        body.contains("Blood-spot screening coverage: 0.0% (0/1, ≥98%) ✗"),
        "{body}"
    );
    let centre = env.smtp.to(CENTRE);
    assert_eq!(centre.len(), 1);
    assert!(centre[0].subject().starts_with("All hospitals"));
}
