//! Health, readiness, metrics, OpenAPI, request ids, and the first-start administrator.

use std::sync::Arc;

use guthrie::startup::Application;
use guthrie::state::SystemClock;
use reqwest::Method;
use serde_json::Value;

use crate::helpers::{TestApp, infant_body, settings};

/// The `/metrics` text.
async fn metrics(app: &TestApp) -> String {
    app.req(Method::GET, "/metrics", None)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = TestApp::spawn().await;
    let r = app.req(Method::GET, "/healthz", None).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = app.req(Method::GET, "/readyz", None).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("x-request-id").is_some());
    let r = app
        .req(Method::GET, "/healthz", None)
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    // The server's own id answers; the caller's is its correlation id.
    assert_ne!(r.headers()["x-request-id"], "abc-123");
    assert_eq!(r.headers()["x-correlation-id"], "abc-123");
    // Unknown methods and unmatched paths fold into one label each.
    for i in 0..20 {
        let method = Method::from_bytes(format!("BREW{i}").as_bytes()).unwrap();
        app.req(method, "/healthz", None).send().await.unwrap();
        app.req(Method::GET, &format!("/api/v1/nothing-{i}/x{i}"), None)
            .send()
            .await
            .unwrap();
        app.req(Method::GET, &format!("/random-{i}"), None)
            .send()
            .await
            .unwrap();
    }
    let text = metrics(&app).await;
    assert!(
        text.contains(
            "guthrie_http_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"}"
        ),
        "{text}"
    );
    assert!(text.contains("guthrie_http_request_duration_seconds"));
    // On SQLite the everyday writes commit in groups, counted for the operator.
    if app.state.writer.groups_commits() {
        let (_, token) = app.hospital_with_token("M").await;
        let bodies: Vec<Value> = (0..6).map(|i| infant_body(&format!("MX-{i}"))).collect();
        let writes: Vec<_> = bodies
            .iter()
            .map(|b| app.post("/api/v1/infants", &token, b))
            .collect();
        for r in futures_util::future::join_all(writes).await {
            assert_eq!(r.status(), 201);
        }
        let (groups, requests) = app.state.writer.committed();
        assert!(
            requests >= 6 && groups >= 1 && groups <= requests,
            "{groups} / {requests}"
        );
        let text = metrics(&app).await;
        assert!(
            text.contains(&format!("guthrie_write_group_requests_total {requests}")),
            "{text}"
        );
        assert!(text.contains("guthrie_write_groups_total "), "{text}");
    }
    assert!(
        !text.contains("BREW") && !text.contains("nothing-") && !text.contains("random-"),
        "{text}"
    );
    assert!(text.contains("method=\"other\""), "{text}");
    let series = text
        .lines()
        .filter(|l| l.starts_with("guthrie_http_requests_total{"))
        .count();
    assert!(series <= 8, "{text}");
}

#[tokio::test]
async fn openapi_document_and_viewer_are_served() {
    let app = TestApp::spawn().await;
    let doc = app.openapi().await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/infants",
        "/api/v1/infants/{id}",
        "/api/v1/auth/token",
        "/api/v1/hospitals",
        "/api/v1/clients/{id}/rotate-secret",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from OpenAPI"
        );
    }
    assert!(doc["components"]["schemas"]["CreateInfantRequest"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    // Every operation's error responses are problem+json with the Problem schema.
    let mut errors = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.contains_key("500"), "{method} {path}");
            for (code, r) in responses {
                if code.starts_with('4') || code.starts_with('5') {
                    errors += 1;
                    assert_eq!(
                        r["content"]["application/problem+json"]["schema"]["$ref"],
                        "#/components/schemas/Problem",
                        "{method} {path} {code}"
                    );
                    assert!(
                        r["content"]["application/json"].is_null(),
                        "{method} {path} {code}"
                    );
                }
            }
        }
    }
    assert!(errors > 100, "{errors}");
    assert!(doc["paths"]["/api/v1/cases"]["get"]["responses"]["401"].is_object());
    assert!(doc["paths"]["/api/v1/auth/login"]["post"]["responses"]["401"].is_object());
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    let case = &doc["components"]["schemas"]["CaseResponse"]["properties"];
    assert!(case["next_due_at"].is_object());
    let r = app
        .req(Method::GET, "/api/docs/", None)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().to_lowercase().contains("swagger"));
}

#[tokio::test]
async fn first_start_creates_one_admin_and_later_starts_do_not() {
    let app = TestApp::spawn().await;
    assert!(
        app.admin_password.len() >= 20,
        "a random password, not a default"
    );
    // A second server on the same database creates nobody.
    let again =
        Application::build_with_clock(settings(&app.db, &[]), Arc::new(SystemClock)).unwrap();
    let mut again = again;
    assert!(again.take_first_admin().is_none());
    let users: Value = app
        .get("/api/v1/users", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(users.as_array().unwrap().len(), 1);
    assert_eq!(users[0]["role"], "admin");
    // No well-known password works.
    for pw in ["admin", "password", "changeme", ""] {
        let r = app
            .req(Method::POST, "/api/v1/auth/login", None)
            .json(&serde_json::json!({"username": "admin", "password": pw}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
}

#[tokio::test]
async fn statistics_are_taken_of_tables_with_rows_and_never_of_empty_ones() {
    // A new database was just migrated (which analyzes): its empty tables are left without
    // statistics, so the plans a connection caches (foreign-key checks, prepared statements)
    // stay index probes as they grow; a table with rows gets statistics.
    let app = TestApp::spawn().await;
    app.hospital("ST").await;
    let mut c = app.state.pool.get().unwrap();
    let analyzed = guthrie::db::analyze_tables_with_rows(&mut c).unwrap();
    assert!(analyzed.iter().any(|t| t == "hospitals"), "{analyzed:?}");
    assert!(
        !analyzed.iter().any(|t| t == "dbs_interpretations"),
        "{analyzed:?}"
    );
    let stats = |table: &str| {
        let sql = match c.backend() {
            guthrie::db::Backend::Sqlite => {
                format!("SELECT COUNT(*) AS n FROM sqlite_stat1 WHERE tbl = '{table}'")
            }
            guthrie::db::Backend::Postgres => format!(
                "SELECT COUNT(*) AS n FROM pg_stat_user_tables \
                 WHERE relname = '{table}' AND last_analyze IS NOT NULL"
            ),
        };
        crate::helpers::count(&app, &sql)
    };
    assert!(stats("hospitals") > 0);
    assert_eq!(stats("dbs_interpretations"), 0);
}
