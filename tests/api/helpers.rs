//! `TestApp`: a server on port 0 over a fresh database per test, with request helpers and
//! fixtures (hospitals, clients, staff users).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::Utc;
use diesel::{Connection, PgConnection, RunQueryDsl};
use guthrie::config::Settings;
use guthrie::startup::Application;
use guthrie::state::{AppState, ManualClock};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};

/// The HS256 secret the tests sign with (they forge tokens to test rejection).
pub const JWT_SECRET: &str = "test-secret-0123456789-abcdefghijklmnop";

/// A database for one test, removed afterwards.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_admin: Option<(String, String)>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    /// A fresh SQLite file, or a fresh PostgreSQL database when `TEST_DATABASE_URL` is set
    /// (a URL to a server's maintenance database, e.g. postgres://postgres@127.0.0.1:5432/postgres).
    pub fn new() -> Self {
        match std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            Some(admin_url) => {
                let name = format!(
                    "guthrie_t_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::SeqCst),
                    Utc::now().timestamp_subsec_micros()
                );
                let mut c =
                    PgConnection::establish(&admin_url).expect("TEST_DATABASE_URL unreachable");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut c)
                    .unwrap();
                let base = admin_url
                    .rsplit_once('/')
                    .map(|(b, _)| b)
                    .unwrap_or(&admin_url);
                TestDb {
                    url: format!("{base}/{name}"),
                    _dir: None,
                    pg_admin: Some((admin_url, name)),
                }
            }
            None => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}/guthrie.db", dir.path().display());
                TestDb {
                    url,
                    _dir: Some(dir),
                    pg_admin: None,
                }
            }
        }
    }
}

impl TestDb {
    /// A database this test does not own (a server the test started and stops itself).
    pub fn at(url: &str) -> Self {
        TestDb {
            url: url.to_string(),
            _dir: None,
            pg_admin: None,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.pg_admin
            && let Ok(mut c) = PgConnection::establish(admin)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut c);
        }
    }
}

/// The project's config directory.
pub fn config_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config")
}

/// Test settings over `db`, with extra `GUTHRIE__…` variables.
pub fn settings(db: &TestDb, extra: &[(&str, &str)]) -> Settings {
    settings_toml(db, extra, "")
}

/// Test settings with extra TOML appended to `config/test.toml` (for lists and tables, which
/// environment variables cannot express).
pub fn settings_toml(db: &TestDb, extra: &[(&str, &str)], toml: &str) -> Settings {
    let mut vars: HashMap<String, String> = [
        ("GUTHRIE_ENV", "test"),
        ("GUTHRIE__SERVER__PORT", "0"),
        ("GUTHRIE__SERVER__WORKERS", "1"),
        ("GUTHRIE__AUTH__JWT_SECRET", JWT_SECRET),
        ("DATABASE_URL", db.url.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    if toml.is_empty() {
        return Settings::load_with(&config_dir(), vars).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(config_dir().join("test.toml")).unwrap();
    std::fs::write(dir.path().join("test.toml"), format!("{base}\n{toml}")).unwrap();
    Settings::load_with(dir.path(), vars).unwrap()
}

/// A running server and a client for it.
pub struct TestApp {
    pub base: String,
    /// The MLLP listener's port, when the settings turn it on.
    pub mllp_port: Option<u16>,
    pub http: reqwest::Client,
    pub admin_token: String,
    pub admin_password: String,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub db: TestDb,
}

/// The instant every test server's clock starts at: Tuesday 1 December 2026, 09:00 in Beijing
/// (a working day, the day catalogue `zj-2026` comes into force). Tests place births, specimens
/// and deadlines relative to it, so no test depends on the day it runs. It lies in the past, so
/// what a test sends also satisfies the "not in the future" checks of a second server that runs
/// on the wall clock (the recovery test). Tokens and idempotency leases use the wall clock.
pub fn epoch() -> chrono::DateTime<Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-12-01T09:00:00+08:00")
        .unwrap()
        .with_timezone(&Utc)
}

impl TestApp {
    /// Starts a server with default test settings.
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Starts a server with extra settings.
    pub async fn spawn_with(extra: &[(&str, &str)]) -> Self {
        Self::spawn_full(extra, "", TestDb::new()).await
    }

    /// Starts a server with extra settings and TOML over `db`.
    pub async fn spawn_full(extra: &[(&str, &str)], toml: &str, db: TestDb) -> Self {
        guthrie::notify::install_crypto_provider();
        let settings = settings_toml(&db, extra, toml);
        let clock = Arc::new(ManualClock::new(epoch()));
        let mut app = Application::build_with_clock(settings, clock.clone()).unwrap();
        let admin = app
            .take_first_admin()
            .expect("first start creates an admin");
        let base = format!("http://127.0.0.1:{}", app.port());
        let mllp_port = app.mllp_port();
        let state = app.state().clone();
        tokio::spawn(app.run_until_stopped());
        // Idle connections are dropped well before the server's 5 s keep-alive closes them, so
        // a POST never goes out on a connection the server is closing (a broken pipe).
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(std::time::Duration::from_secs(2))
            .build()
            .unwrap();
        let mut t = TestApp {
            base,
            mllp_port,
            http,
            admin_token: String::new(),
            admin_password: admin.password.clone(),
            state,
            clock,
            db,
        };
        t.admin_token = t.login(&admin.username, &admin.password).await;
        t
    }

    /// Runs a job now (at the manual clock's time) through the admin endpoint; returns its report.
    pub async fn run_job(&self, name: &str) -> Value {
        let r = self
            .post(
                &format!("/api/v1/admin/jobs/{name}/run"),
                &self.admin_token,
                &json!({}),
            )
            .await;
        assert_eq!(r.status(), 200, "job {name}");
        r.json::<Value>().await.unwrap()["report"].clone()
    }

    /// Every row of the quality facts tables, as text, in key order.
    pub fn quality_facts(&self) -> Vec<String> {
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            v: String,
        }
        let text = |cols: &str| {
            cols.split(',')
                .map(|c| format!("COALESCE(CAST({} AS TEXT), '-')", c.trim()))
                .collect::<Vec<_>>()
                .join(" || '|' || ")
        };
        let infants = text(
            "infant_id, hospital_id, birth_at, merged_into, status, status_changed_at, dbs_ok_first, dbs_ok_last, \
             dbs_bad_last, hear_screened, hear_initial_refer, hear_rescreen_at, hear_diagnostic_at, cchd_screened, \
             dbs_decided_at, dbs_refused_at, hear_decided_at, hear_refused_at, cchd_decided_at, cchd_refused_at, \
             positive_dbs, positive_hear, positive_cchd, hear_refer_case",
        );
        let cards = text(
            "card_id, infant_id, hospital_id, birth_at, merged_into, collected_at, received_at, quality, first_card, \
             reported_at",
        );
        let mut c = self.state.pool.get().unwrap();
        let mut rows: Vec<Row> = diesel::sql_query(format!(
            "SELECT {infants} AS v FROM quality_infant_facts ORDER BY infant_id"
        ))
        .load(&mut c)
        .unwrap();
        rows.extend(
            diesel::sql_query(format!(
                "SELECT {cards} AS v FROM quality_card_facts ORDER BY card_id"
            ))
            .load::<Row>(&mut c)
            .unwrap(),
        );
        rows.into_iter().map(|r| r.v).collect()
    }

    /// Asserts that the quality facts kept by the writes so far are what a rebuild from the
    /// source tables gives.
    pub async fn assert_quality_facts_current(&self) {
        let kept = self.quality_facts();
        assert!(!kept.is_empty(), "some facts are kept");
        let r = self.run_job("quality_facts").await;
        assert!(r["months"].as_u64().unwrap() >= 1, "{r}");
        assert_eq!(r["infants_corrected"], 0, "{r}");
        let rebuilt = self.quality_facts();
        assert_eq!(kept, rebuilt, "the facts kept by writes equal a rebuild");
    }

    /// Acts on a case as a client does: reads its `ETag`, then posts `body` with `If-Match`;
    /// asserts success and returns the updated case.
    pub async fn act_on_case(&self, token: &str, case: &str, body: &Value) -> Value {
        let etag = self
            .get(&format!("/api/v1/cases/{case}"), token)
            .await
            .headers()["etag"]
            .to_str()
            .unwrap()
            .to_string();
        let r = self
            .req(
                Method::POST,
                &format!("/api/v1/cases/{case}/events"),
                Some(token),
            )
            .header("If-Match", etag)
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{body}");
        r.json().await.unwrap()
    }

    /// A request to `path` with an optional bearer token.
    /// The served OpenAPI document.
    pub async fn openapi(&self) -> Value {
        self.req(Method::GET, "/api/openapi.json", None)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub fn req(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let r = self.http.request(method, format!("{}{}", self.base, path));
        match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.req(Method::GET, path, Some(token))
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Response {
        self.req(Method::POST, path, Some(token))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> Response {
        self.req(Method::PATCH, path, Some(token))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Logs a staff user in; panics on failure.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let r = self
            .req(Method::POST, "/api/v1/auth/login", None)
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "login of {username}");
        r.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Creates a hospital; returns its id.
    pub async fn hospital(&self, code: &str) -> String {
        let r = self
            .post(
                "/api/v1/hospitals",
                &self.admin_token,
                &json!({"code": code, "name": format!("Hospital {code}")}),
            )
            .await;
        assert_eq!(r.status(), 201);
        r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Creates a REST client for a hospital; returns (client_id, secret).
    pub async fn client(&self, hospital_id: &str) -> (String, String) {
        let r = self
            .post(
                "/api/v1/clients",
                &self.admin_token,
                &json!({"name": "HIS", "hospital_id": hospital_id}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.unwrap();
        (
            v["client_id"].as_str().unwrap().into(),
            v["client_secret"].as_str().unwrap().into(),
        )
    }

    /// Exchanges client credentials for a token (form-encoded, as OAuth2 clients do).
    pub async fn client_token(&self, client_id: &str, secret: &str) -> Response {
        self.req(Method::POST, "/api/v1/auth/token", None)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret),
            ])
            .send()
            .await
            .unwrap()
    }

    /// A hospital plus a client token bound to it: (hospital_id, token).
    pub async fn hospital_with_token(&self, code: &str) -> (String, String) {
        let h = self.hospital(code).await;
        let (id, secret) = self.client(&h).await;
        let r = self.client_token(&id, &secret).await;
        assert_eq!(r.status(), 200);
        let tok = r.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        (h, tok)
    }

    /// Creates a staff user with `role` and logs them in.
    pub async fn staff_token(
        &self,
        username: &str,
        role: &str,
        hospital_id: Option<&str>,
    ) -> String {
        let password = "a-long-test-password";
        let r = self
            .post(
                "/api/v1/users",
                &self.admin_token,
                &json!({"username": username, "display_name": username, "password": password,
                        "role": role, "hospital_id": hospital_id}),
            )
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        self.login(username, password).await
    }

    /// Number of infant rows visible to the admin.
    pub async fn infant_count(&self) -> usize {
        let r = self
            .get("/api/v1/infants?limit=200", &self.admin_token)
            .await;
        assert_eq!(r.status(), 200);
        r.json::<Value>().await.unwrap()["items"]
            .as_array()
            .unwrap()
            .len()
    }
}

/// A valid registration body (birth about a day ago, Beijing time). Each MRN gets its own birth
/// minute, so different MRNs are different babies even with the same mother.
pub fn infant_body(mrn: &str) -> Value {
    let offset: i64 = mrn.bytes().map(i64::from).sum::<i64>() % 600;
    let birth = (epoch() - chrono::Duration::days(1) - chrono::Duration::minutes(offset))
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    json!({
        "mrn": mrn,
        "sex": "female",
        "birth_at": birth,
        "gestational_age_weeks": 39,
        "gestational_age_days": 2,
        "birth_weight_g": 3300,
        "plurality": 1,
        "birth_order": 1,
        "nicu_admitted": false,
        "mother": {
            "name": "王芳",
            "phones": ["138 0013 8000"],
            "id_document": {"type": "resident_id", "number": "11010519491231002X"}
        },
        "address": "杭州市西湖区"
    })
}

/// Reads a problem document and checks its media type.
pub async fn problem(r: Response) -> Value {
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(ct.as_deref(), Some("application/problem+json"));
    r.json().await.unwrap()
}

/// Registers an infant born `hours_old` hours ago, without a mother's ID document (so babies of
/// different tests never collide as duplicates); returns (id, birth time).
pub async fn register_infant(
    app: &TestApp,
    token: &str,
    mrn: &str,
    hours_old: i64,
) -> (String, chrono::DateTime<Utc>) {
    let birth = epoch() - chrono::Duration::hours(hours_old);
    let mut body = infant_body(mrn);
    body["birth_at"] = json!(birth.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    body["mother"]
        .as_object_mut()
        .unwrap()
        .remove("id_document");
    let r = app.post("/api/v1/infants", token, &body).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    (
        r.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string(),
        birth,
    )
}

/// Registers a card; `repeat_of` names the card it repeats. Returns the response status.
pub async fn register_card(
    app: &TestApp,
    token: &str,
    infant: &str,
    barcode: &str,
    collected_at: chrono::DateTime<Utc>,
    repeat_of: Option<&str>,
) -> u16 {
    let body = json!({"infant_id": infant, "barcode": barcode, "collected_at": collected_at.to_rfc3339(),
                      "feeding": "breast", "collector": "nurse 12", "repeat_of_barcode": repeat_of});
    app.post("/api/v1/cards", token, &body)
        .await
        .status()
        .as_u16()
}

/// `SELECT COUNT(*) AS n …` on the test database.
pub fn count(app: &TestApp, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut c = app.state.pool.get().unwrap();
    diesel::RunQueryDsl::get_result::<N>(diesel::sql_query(sql), &mut c)
        .unwrap()
        .n
}

/// A second server started as a process (`guthrie serve`) on the test database, to be killed
/// mid-request by a recovery test (dropping it kills it too).
pub struct ServerProcess {
    pub child: tokio::process::Child,
    pub base: String,
}

impl ServerProcess {
    /// Starts it with the configuration in `config` and extra variables, and waits until it
    /// answers `/healthz`.
    pub async fn start(db: &TestDb, config: &std::path::Path, env: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_guthrie"));
        cmd.env_clear()
            .env("GUTHRIE_CONFIG_DIR", config)
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("GUTHRIE_ENV", "test")
            .env("GUTHRIE__AUTH__JWT_SECRET", JWT_SECRET)
            .env("GUTHRIE__SERVER__PORT", port.to_string())
            .env("DATABASE_URL", &db.url);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .arg("serve")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if http.get(format!("{base}/healthz")).send().await.is_ok() {
                return ServerProcess { child, base };
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the second server did not start");
    }

    /// SIGKILL, and waits for it to be gone.
    pub async fn kill(&mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}
