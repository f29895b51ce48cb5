//! `guthrie demo`: fills an EMPTY database with a small, clearly labelled demonstration
//! programme, so a newcomer sees a working console at once. It starts the server in-process on
//! a free loopback port and drives the real JSON API, as hospitals and the laboratory would: three
//! demonstration hospitals (`DEMO1`–`DEMO3`, "演示"), a few hundred infants born over the last
//! eight days with cards, results, hearing and heart screens; positives at every urgency, some
//! overdue, some already contacted, booked or resolved; a few missed screens; then one escalation
//! sweep, which fires rungs and queues notifications. It prints the demonstration accounts'
//! passwords once.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::auth::secrets::random_token;
use crate::config::Settings;
use crate::domain::ids::HospitalId;
use crate::domain::role::Role;
use crate::services::admin::accounts::{self, HospitalInput, UserInput};
use crate::startup::Application;

/// Infants in the demonstration.
const INFANTS: usize = 240;

/// All 40 analytes of the default catalogue with unremarkable values: a normal card.
pub const NORMAL_PANEL: [(&str, f64, &str); 40] = [
    ("TSH", 3.0, "mIU/L"),
    ("17OHP", 5.0, "nmol/L"),
    ("G6PD", 8.0, "U/gHb"),
    ("Phe", 60.0, "umol/L"),
    ("Tyr", 80.0, "umol/L"),
    ("Xle", 150.0, "umol/L"),
    ("Val", 130.0, "umol/L"),
    ("Cit", 15.0, "umol/L"),
    ("Arg", 10.0, "umol/L"),
    ("Met", 25.0, "umol/L"),
    ("Orn", 60.0, "umol/L"),
    ("Gly", 300.0, "umol/L"),
    ("Ala", 250.0, "umol/L"),
    ("SUAC", 0.5, "umol/L"),
    ("C0", 25.0, "umol/L"),
    ("C2", 20.0, "umol/L"),
    ("C3", 2.0, "umol/L"),
    ("C3DC", 0.05, "umol/L"),
    ("C4", 0.2, "umol/L"),
    ("C4DC", 0.2, "umol/L"),
    ("C5", 0.1, "umol/L"),
    ("C5:1", 0.02, "umol/L"),
    ("C5DC", 0.08, "umol/L"),
    ("C5-OH", 0.2, "umol/L"),
    ("C6", 0.05, "umol/L"),
    ("C8", 0.05, "umol/L"),
    ("C10", 0.08, "umol/L"),
    ("C10:1", 0.06, "umol/L"),
    ("C12", 0.1, "umol/L"),
    ("C14", 0.15, "umol/L"),
    ("C14:1", 0.1, "umol/L"),
    ("C14-OH", 0.02, "umol/L"),
    ("C16", 2.0, "umol/L"),
    ("C16-OH", 0.01, "umol/L"),
    ("C18", 0.8, "umol/L"),
    ("C18:1", 1.0, "umol/L"),
    ("C18:1-OH", 0.01, "umol/L"),
    ("C18:2", 0.2, "umol/L"),
    ("T4", 150.0, "nmol/L"),
    ("IRT", 30.0, "ng/mL"),
];

/// The normal panel with some values changed, as result JSON.
pub fn panel(overrides: &[(&str, f64)]) -> Vec<Value> {
    NORMAL_PANEL
        .iter()
        .map(|(a, v, u)| {
            let v = overrides
                .iter()
                .find(|(k, _)| k == a)
                .map_or(*v, |(_, x)| *x);
            json!({"analyte": a, "value": v, "unit": u})
        })
        .collect()
}

/// What infant `i` of the demonstration gets: abnormal values that open a case, and whether its
/// card is never collected (a missed screen).
fn abnormal(i: usize) -> (&'static [(&'static str, f64)], bool) {
    match i % 40 {
        3 => (&[("C16-OH", 0.5)], false),  // LCHAD, critical: T0
        7 => (&[("TSH", 25.0)], false),    // hypothyroidism, critical: T1
        11 => (&[("Phe", 200.0)], false),  // PKU
        17 => (&[("17OHP", 20.0)], false), // CAH
        23 => (&[("TSH", 12.0)], false),   // hypothyroidism
        29 => (&[("G6PD", 2.0)], false),   // G6PD deficiency
        37 => (&[], true),
        _ => (&[], false),
    }
}

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> anyhow::Result<reqwest::Response> {
        let mut r = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(b);
        }
        if let Some(e) = if_match {
            r = r.header("If-Match", e);
        }
        Ok(r.send().await?)
    }

    /// A request that must succeed; its JSON.
    async fn ok(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: &Value,
    ) -> anyhow::Result<Value> {
        let body = (!body.is_null()).then_some(body);
        let r = self.send(method, path, Some(token), body, None).await?;
        let status = r.status();
        let text = r.text().await?;
        if !status.is_success() {
            anyhow::bail!("{path}: {status}: {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn login(&self, username: &str, password: &str) -> anyhow::Result<String> {
        let v = self
            .ok(
                Method::POST,
                "/api/v1/auth/login",
                "",
                &json!({"username": username, "password": password}),
            )
            .await?;
        v["access_token"]
            .as_str()
            .map(String::from)
            .ok_or_else(|| anyhow::anyhow!("no token"))
    }

    /// Acts on a case at its current version.
    async fn act(&self, token: &str, case: &str, body: &Value) -> anyhow::Result<()> {
        let r = self
            .send(
                Method::GET,
                &format!("/api/v1/cases/{case}"),
                Some(token),
                None,
                None,
            )
            .await?;
        let etag = r
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let r = self
            .send(
                Method::POST,
                &format!("/api/v1/cases/{case}/events"),
                Some(token),
                Some(body),
                Some(&etag),
            )
            .await?;
        if !r.status().is_success() {
            anyhow::bail!("case {case}: {}", r.text().await?);
        }
        Ok(())
    }
}

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Accounts made for the demonstration: (username, role, password).
type Accounts = Vec<(String, Role, String)>;

fn accounts(
    app: &Application,
    hospital: HospitalId,
    now: DateTime<Utc>,
) -> anyhow::Result<Accounts> {
    let mut conn = app.state().pool.get()?;
    let mut out = vec![];
    for (username, display, role, h) in [
        ("demo.admin", "演示管理员", Role::Admin, None),
        (
            "demo.coordinator",
            "演示协调员 张敏",
            Role::Coordinator,
            None,
        ),
        ("demo.lab", "演示检验科 李华", Role::Clinician, None),
        (
            "demo.nurse",
            "演示医院一 护士 王丽",
            Role::HospitalStaff,
            Some(hospital),
        ),
    ] {
        let password = random_token(15)?;
        accounts::create_user(
            &mut conn,
            UserInput {
                username: username.into(),
                display_name: display.into(),
                password: password.clone(),
                role,
                hospital_id: h,
                email: None,
            },
            now,
        )
        .map_err(|e| anyhow::anyhow!("demo account {username}: {e}"))?;
        out.push((username.to_string(), role, password));
    }
    Ok(out)
}

/// Runs the demonstration fill against the configured database.
pub async fn demo(mut settings: Settings) -> anyhow::Result<()> {
    settings.server.host = "127.0.0.1".into();
    settings.server.port = 0;
    settings.jobs.enabled = false;
    let mut app = Application::build(settings)?;
    let first_admin = app.take_first_admin();
    let now = Utc::now();
    {
        let mut conn = app.state().pool.get()?;
        if crate::db::models::screening::infant::count(&mut conn)? > 0 {
            anyhow::bail!(
                "the database already holds infants; the demonstration fills an empty database only"
            );
        }
    }
    let hospitals: Vec<_> = {
        let mut conn = app.state().pool.get()?;
        [
            ("DEMO1", "演示医院一（DEMO）"),
            ("DEMO2", "演示医院二（DEMO）"),
            ("DEMO3", "演示医院三（DEMO）"),
        ]
        .into_iter()
        .map(|(code, name)| {
            accounts::create_hospital(
                &mut conn,
                HospitalInput {
                    code: code.into(),
                    name: name.into(),
                    district: Some("演示区".into()),
                    contact_emails: vec![format!("{}@demo.invalid", code.to_lowercase())],
                },
                now,
            )
            .map_err(|e| anyhow::anyhow!("demo hospital {code}: {e}"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?
    };
    let made = accounts(&app, hospitals[0].id, now)?;
    let api = Api {
        http: reqwest::Client::new(),
        base: format!("http://127.0.0.1:{}", app.port()),
    };
    tokio::spawn(app.run_until_stopped());
    let password = |u: &str| {
        made.iter()
            .find(|m| m.0 == u)
            .map(|m| m.2.clone())
            .unwrap_or_default()
    };
    let admin = api.login("demo.admin", &password("demo.admin")).await?;
    let lab = api.login("demo.lab", &password("demo.lab")).await?;
    let coord = api
        .login("demo.coordinator", &password("demo.coordinator"))
        .await?;

    let mut plate = vec![];
    for i in 0..INFANTS {
        let h = &hospitals[i % hospitals.len()];
        let birth = now - Duration::minutes(50 * i as i64 + 90);
        let mrn = format!("D{:05}", i + 1);
        let infant = api
            .ok(
                Method::POST,
                "/api/v1/infants",
                &admin,
                &json!({
                    "hospital_id": h.id, "mrn": mrn, "sex": if i % 2 == 0 { "female" } else { "male" },
                    "birth_at": at(birth), "gestational_age_weeks": 36 + (i % 5) as i64,
                    "gestational_age_days": (i % 7) as i64, "birth_weight_g": 2600 + (i * 37 % 1200) as i64,
                    "plurality": 1, "birth_order": 1, "nicu_admitted": false,
                    "mother": {"name": format!("演示母亲{}", i + 1), "phones": [format!("1390000{:04}", i + 1)]},
                    "address": "演示市演示区"
                }),
            )
            .await?;
        let id = infant["id"].as_str().unwrap_or_default().to_string();
        let age = now - birth;
        let (values, missed) = abnormal(i);
        if age > Duration::hours(30) {
            let (right, foot) = if i % 53 == 5 { (88, 87) } else { (98, 98) };
            api.ok(
                Method::POST,
                &format!("/api/v1/infants/{id}/cchd-screens"),
                &admin,
                &json!({"measured_at": at(birth + Duration::hours(30)), "right_hand_spo2": right, "foot_spo2": foot, "murmur_grade": 0}),
            )
            .await?;
        }
        if age > Duration::hours(48) {
            let left = if i % 19 == 4 { "refer" } else { "pass" };
            api.ok(
                Method::POST,
                &format!("/api/v1/infants/{id}/hearing-screens"),
                &admin,
                &json!({"stage": "initial", "method": "OAE", "left": left, "right": "pass", "tested_at": at(birth + Duration::hours(48))}),
            )
            .await?;
        }
        if age > Duration::hours(52) && !missed {
            let barcode = format!("DEMO{:05}", i + 1);
            api.ok(
                Method::POST,
                "/api/v1/cards",
                &admin,
                &json!({"infant_id": id, "barcode": barcode, "collected_at": at(birth + Duration::hours(50)),
                        "feeding": "breast", "collector": "演示采血护士"}),
            )
            .await?;
            if age > Duration::hours(76) {
                let reported = birth + Duration::hours(76);
                plate.push(json!({"barcode": barcode, "results": panel(values),
                                  "tested_at": at(reported - Duration::hours(2)), "reported_at": at(reported)}));
            }
        }
    }
    for chunk in plate.chunks(100) {
        api.ok(
            Method::POST,
            "/api/v1/results",
            &lab,
            &json!({"cards": chunk}),
        )
        .await?;
    }

    // Work some of the open cases, as the coordinators would have.
    let open = api
        .ok(
            Method::GET,
            "/api/v1/cases?open=true&limit=200",
            &coord,
            &json!(null),
        )
        .await?;
    let ids: Vec<String> = open["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    for (k, case) in ids.iter().enumerate() {
        match k % 5 {
            0 => {
                api.ok(Method::POST, &format!("/api/v1/cases/{case}/contact-attempts"), &coord,
                    &json!({"channel": "phone", "outcome": "reached", "note": "母亲已知晓，同意复查"})).await?;
                api.act(
                    &coord,
                    case,
                    &json!({"transition": {"event": "schedule_recall",
                    "appointment_at": at(now + Duration::days(1)), "place": "演示筛查中心门诊"}}),
                )
                .await?;
            }
            1 => {
                api.ok(
                    Method::POST,
                    &format!("/api/v1/cases/{case}/contact-attempts"),
                    &coord,
                    &json!({"channel": "phone", "outcome": "no_answer"}),
                )
                .await?;
            }
            2 => {
                api.ok(
                    Method::POST,
                    &format!("/api/v1/cases/{case}/contact-attempts"),
                    &coord,
                    &json!({"channel": "phone", "outcome": "wrong_number", "note": "号码为空号"}),
                )
                .await?;
            }
            _ => {}
        }
    }
    // One escalation sweep now: overdue cases climb their ladder and notices are queued.
    api.ok(
        Method::POST,
        "/api/v1/admin/jobs/escalation/run",
        &admin,
        &json!({}),
    )
    .await?;

    println!(
        "\nDemonstration data written: 3 hospitals (DEMO1–DEMO3), {INFANTS} infants, {} open cases.",
        ids.len()
    );
    if let Some(a) = first_admin {
        println!(
            "First start: administrator '{}' with password:  {}",
            a.username, a.password
        );
    }
    println!("Demonstration accounts (shown once):");
    for (u, role, p) in &made {
        println!("    {u:<18} {:<15} {p}", role.as_str());
    }
    println!(
        "\nNow run the server (`cargo run`) and sign in at http://127.0.0.1:8080/ as demo.coordinator.\n"
    );
    Ok(())
}
