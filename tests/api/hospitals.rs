//! Admin management of hospitals and users.

use serde_json::{Value, json};

use crate::helpers::{TestApp, problem};

#[tokio::test]
async fn hospitals_are_created_listed_and_updated_by_admins() {
    let app = TestApp::spawn().await;
    let r = app
        .post(
            "/api/v1/hospitals",
            &app.admin_token,
            &json!({"code": "ZJ-001", "name": "杭州市妇产科医院", "district": "上城区", "contact_emails": ["nbs@example.org"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let h: Value = r.json().await.unwrap();
    assert_eq!(h["contact_emails"], json!(["nbs@example.org"]));
    let r = app
        .post(
            "/api/v1/hospitals",
            &app.admin_token,
            &json!({"code": "ZJ-001", "name": "dup"}),
        )
        .await;
    assert_eq!(r.status(), 409);
    assert_eq!(problem(r).await["code"], "duplicate_hospital_code");
    let r = app
        .post(
            "/api/v1/hospitals",
            &app.admin_token,
            &json!({"code": "X", "name": "X", "contact_emails": ["not-an-email"]}),
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(problem(r).await["errors"]["contact_emails[0]"].is_array());

    let id = h["id"].as_str().unwrap();
    let r = app
        .patch(
            &format!("/api/v1/hospitals/{id}"),
            &app.admin_token,
            &json!({"district": null, "active": false}),
        )
        .await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["district"], Value::Null);
    assert_eq!(v["active"], false);
    let list: Value = app
        .get("/api/v1/hospitals?active=true", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn users_are_managed_by_admins_with_role_rules() {
    let app = TestApp::spawn().await;
    let h = app.hospital("A").await;
    let app = &app;
    let create =
        |body: Value| async move { app.post("/api/v1/users", &app.admin_token, &body).await };
    let base = json!({"username": "li.na", "display_name": "李娜", "password": "a-long-test-password", "role": "hospital_staff"});
    let r = create(base.clone()).await;
    assert_eq!(r.status(), 422, "hospital_staff needs a hospital");
    let mut ok = base.clone();
    ok["hospital_id"] = json!(h);
    let r = create(ok.clone()).await;
    assert_eq!(r.status(), 201);
    let u: Value = r.json().await.unwrap();
    assert!(u.get("password_hash").is_none());
    assert_eq!(create(ok).await.status(), 409);
    let mut weak = base.clone();
    weak["username"] = json!("weak");
    weak["role"] = json!("viewer");
    weak["password"] = json!("short");
    assert!(problem(create(weak).await).await["errors"]["password"].is_array());
    let mut client_role = base.clone();
    client_role["username"] = json!("robot");
    client_role["role"] = json!("hospital_client");
    client_role["hospital_id"] = json!(h);
    assert_eq!(create(client_role).await.status(), 422);

    // Deactivated users cannot log in.
    let id = u["id"].as_str().unwrap();
    app.login("li.na", "a-long-test-password").await;
    let r = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &app.admin_token,
            &json!({"active": false}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .req(reqwest::Method::POST, "/api/v1/auth/login", None)
        .json(&json!({"username": "li.na", "password": "a-long-test-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // An admin cannot lock themselves out.
    let me: Value = app
        .get("/api/v1/auth/me", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    let r = app
        .patch(
            &format!("/api/v1/users/{}", me["subject"].as_str().unwrap()),
            &app.admin_token,
            &json!({"active": false}),
        )
        .await;
    assert_eq!(r.status(), 409);
}
