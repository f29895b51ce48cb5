//! The `guthrie` binary: configuration errors, first-start output, account commands.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::helpers::{JWT_SECRET, TestApp, TestDb, config_dir};

fn guthrie(db: &TestDb) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_guthrie"));
    c.env_clear()
        .env("GUTHRIE_CONFIG_DIR", config_dir())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GUTHRIE_ENV", "test")
        .env("GUTHRIE__AUTH__JWT_SECRET", JWT_SECRET)
        .env("DATABASE_URL", &db.url)
        .kill_on_drop(true);
    c
}

async fn output(c: &mut Command) -> (i32, String, String) {
    let o = c.output().await.unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

#[tokio::test]
async fn an_unknown_config_key_stops_start_up_naming_the_key() {
    let db = TestDb::new();
    let (code, _, err) = output(
        guthrie(&db)
            .arg("migrate")
            .env("GUTHRIE__SERVER__PROT", "9"),
    )
    .await;
    assert_eq!(code, 2);
    assert!(err.contains("prot"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("test.toml"), "[database]\nurll = \"x\"\n").unwrap();
    let (code, _, err) = output(
        guthrie(&db)
            .arg("--config-dir")
            .arg(dir.path())
            .arg("migrate"),
    )
    .await;
    assert_eq!(code, 2);
    assert!(err.contains("urll"), "{err}");
}

#[tokio::test]
async fn production_refuses_a_missing_or_weak_jwt_secret() {
    let db = TestDb::new();
    let (code, _, err) = output(
        guthrie(&db)
            .arg("serve")
            .env("GUTHRIE_ENV", "production")
            .env("GUTHRIE__AUTH__JWT_SECRET", "weak"),
    )
    .await;
    assert_eq!(code, 2);
    assert!(err.contains("jwt_secret"), "{err}");
}

#[tokio::test]
async fn serve_prints_the_first_admin_password_once_and_it_works() {
    let db = TestDb::new();
    let mut child = guthrie(&db)
        .arg("serve")
        .env("GUTHRIE__SERVER__PORT", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut password = None;
    let read = async {
        let mut saw_header = false;
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("created administrator 'admin'") {
                saw_header = true;
            } else if saw_header && !line.trim().is_empty() {
                password = Some(line.trim().to_string());
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("serve printed no password");
    let _ = child.start_kill();
    let _ = child.wait().await;
    let password = password.unwrap();
    assert!(password.len() >= 20);

    // The printed password is the admin's: an app on the same database accepts it.
    let mut second = guthrie(&db)
        .arg("serve")
        .env("GUTHRIE__SERVER__PORT", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let _ = second.start_kill();
    let out = second.wait_with_output().await.unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("created administrator"),
        "printed only on the first start"
    );
    let settings = crate::helpers::settings(&db, &[]);
    let mut app = guthrie::startup::Application::build(settings).unwrap();
    assert!(app.take_first_admin().is_none());
    let port = app.port();
    tokio::spawn(app.run_until_stopped());
    let r = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn hospital_client_and_user_commands_create_working_accounts() {
    let app = TestApp::spawn().await;
    let (code, out, err) = output(guthrie(&app.db).args([
        "hospital",
        "add",
        "--code",
        "ZJ9",
        "--name",
        "Test",
        "--email",
        "a@example.org",
    ]))
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("created hospital ZJ9"));
    let (code, out, err) =
        output(guthrie(&app.db).args(["client", "add", "--hospital", "ZJ9"])).await;
    assert_eq!(code, 0, "{err}");
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    let (id, secret) = (field("client_id:"), field("client_secret:"));
    let r = app.client_token(&id, &secret).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["role"], "hospital_client");

    let (code, out, err) = output(guthrie(&app.db).args([
        "user",
        "add",
        "--username",
        "zhang.wei",
        "--role",
        "coordinator",
    ]))
    .await;
    assert_eq!(code, 0, "{err}");
    let pw = out
        .lines()
        .find_map(|l| l.strip_prefix("password (shown once): "))
        .unwrap();
    app.login("zhang.wei", pw).await;
    let (code, _, err) =
        output(guthrie(&app.db).args(["user", "add", "--username", "x", "--role", "root"])).await;
    assert_ne!(code, 0);
    assert!(err.contains("role"), "{err}");

    let (code, out, _) = output(guthrie(&app.db).arg("--help")).await;
    assert_eq!(code, 0);
    for cmd in ["serve", "migrate", "user", "hospital", "client"] {
        assert!(out.contains(cmd), "{cmd} missing from --help");
    }
}

#[tokio::test]
async fn generate_fills_an_empty_database_only() {
    let db = TestDb::new();
    let (code, out, err) = output(guthrie(&db).args([
        "generate",
        "--hospitals",
        "3",
        "--infants",
        "250",
        "--open-cases",
        "40",
    ]))
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("generated 3 hospitals, 250 infants, 40 open cases"),
        "{out}"
    );
    let (code, _, err) = output(guthrie(&db).args(["generate", "--infants", "10"])).await;
    assert_ne!(code, 0);
    assert!(err.contains("already holds 250 infants"), "{err}");
}

#[tokio::test]
async fn the_demo_fills_an_empty_database_once_and_its_coordinator_signs_in() {
    let db = TestDb::new();
    let (code, out, err) = output(guthrie(&db).arg("demo")).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("240 infants"), "{out}");
    let password = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("demo.coordinator"))
        .and_then(|rest| rest.split_whitespace().nth(1))
        .unwrap()
        .to_string();
    // A second run refuses: the database is no longer empty.
    let (code, _, err) = output(guthrie(&db).arg("demo")).await;
    assert_ne!(code, 0);
    assert!(err.contains("empty database"), "{err}");
    // A server on the same database shows the coordinator cases at several urgencies.
    let clock = std::sync::Arc::new(guthrie::state::ManualClock::new(chrono::Utc::now()));
    let built = guthrie::startup::Application::build_with_clock(
        crate::helpers::settings(&db, &[]),
        clock.clone(),
    )
    .unwrap();
    let app = TestApp {
        base: format!("http://127.0.0.1:{}", built.port()),
        mllp_port: None,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        admin_token: String::new(),
        admin_password: String::new(),
        state: built.state().clone(),
        clock,
        db,
    };
    tokio::spawn(built.run_until_stopped());
    let mut b = crate::console::Browser::new(&app);
    let r = b.sign_in("demo.coordinator", &password).await;
    assert_eq!(r.status(), 303);
    let html = b.get("/worklists/unassigned").await.text().await.unwrap();
    for tier in ["T0 危急", "T1 紧急"] {
        assert!(html.contains(tier), "{tier}: {html}");
    }
    assert!(html.contains("演示医院"));
}
