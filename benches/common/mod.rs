#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]
//! What the HTTP benchmarks share: a release server on a fresh SQLite file, or on a fresh
//! PostgreSQL database when `BENCH_DATABASE_URL` names a server's maintenance database (dropped
//! afterwards), and an administrator's token.

use std::collections::HashMap;
use std::path::PathBuf;

use diesel::{Connection, PgConnection, RunQueryDsl};
use guthrie::config::Settings;
use guthrie::startup::Application;
use guthrie::state::AppState;
use serde_json::{Value, json};

/// A running benchmark server.
pub struct BenchServer {
    pub base: String,
    pub token: String,
    /// The administrator's username and password (to sign in to the console).
    pub admin: (String, String),
    pub state: AppState,
    pub http: reqwest::Client,
    pg: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl BenchServer {
    /// Starts the server and logs the administrator in.
    pub async fn start(prefix: &str) -> Self {
        Self::start_with(prefix, |_| {}).await
    }

    /// Starts the server after `adjust` has changed its settings.
    pub async fn start_with(prefix: &str, adjust: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (url, pg) = match std::env::var("BENCH_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            Some(admin) => {
                let name = format!("{prefix}_{}", std::process::id());
                let mut c = PgConnection::establish(&admin).unwrap();
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut c)
                    .unwrap();
                (
                    format!("{}/{name}", admin.rsplit_once('/').unwrap().0),
                    Some((admin, name)),
                )
            }
            None => (format!("sqlite://{}/bench.db", dir.path().display()), None),
        };
        let vars: HashMap<String, String> = [
            ("GUTHRIE_ENV", "test"),
            ("GUTHRIE__SERVER__PORT", "0"),
            (
                "GUTHRIE__AUTH__JWT_SECRET",
                "bench-secret-0123456789-abcdefghijklmno",
            ),
            ("DATABASE_URL", url.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
        let mut settings = Settings::load_with(&config, vars).unwrap();
        settings.catalogue.directory = config.join("catalogue").display().to_string();
        settings.follow_up.policy_directory = config.join("policy").display().to_string();
        settings.notify.template_directory = config.join("templates").display().to_string();
        adjust(&mut settings);
        let mut app = Application::build(settings).unwrap();
        let admin = app.take_first_admin().unwrap();
        let base = format!("http://127.0.0.1:{}", app.port());
        let state = app.state().clone();
        tokio::spawn(app.run_until_stopped());
        let http = reqwest::Client::new();
        let login: Value = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"username": admin.username, "password": admin.password}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = login["access_token"].as_str().unwrap().to_string();
        Self {
            base,
            token,
            admin: (admin.username, admin.password),
            state,
            http,
            pg,
            _dir: dir,
        }
    }

    /// Signs the administrator in to the console: a client that does not follow redirects
    /// and the session cookie (`name=value`) to send with its requests.
    pub async fn console_session(&self) -> (reqwest::Client, String) {
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = browser
            .post(format!("{}/login", self.base))
            .form(&[("username", &self.admin.0), ("password", &self.admin.1)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let cookie = r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        (browser, cookie)
    }

    /// `SQLite` or `PostgreSQL`.
    pub fn backend(&self) -> &'static str {
        if self.pg.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    }
}

impl Drop for BenchServer {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.pg {
            // `BENCH_KEEP_DB=1` keeps the generated database for looking at query plans.
            if std::env::var("BENCH_KEEP_DB").is_ok_and(|v| v == "1") {
                eprintln!("kept database {name}");
                return;
            }
            let Ok(mut c) = PgConnection::establish(admin) else {
                return;
            };
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut c);
        }
    }
}
