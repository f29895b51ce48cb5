//! A hospital principal only ever reaches its own hospital's data: foreign ids answer 404.

use serde_json::{Value, json};

use crate::helpers::{TestApp, infant_body, problem};

#[tokio::test]
async fn hospital_a_cannot_read_list_update_or_register_into_b() {
    let app = TestApp::spawn().await;
    let (a, token_a) = app.hospital_with_token("A").await;
    let (b, token_b) = app.hospital_with_token("B").await;

    let r = app
        .post("/api/v1/infants", &token_b, &infant_body("B-1"))
        .await;
    assert_eq!(r.status(), 201);
    let b_infant: Value = r.json().await.unwrap();
    let id = b_infant["id"].as_str().unwrap();
    assert_eq!(b_infant["hospital_id"], b.as_str());

    // Read, update: 404 exactly as for an id that does not exist.
    let r = app.get(&format!("/api/v1/infants/{id}"), &token_a).await;
    assert_eq!(r.status(), 404);
    let foreign = problem(r).await;
    let missing = problem(
        app.get(
            &format!("/api/v1/infants/{}", uuid::Uuid::now_v7()),
            &token_a,
        )
        .await,
    )
    .await;
    assert_eq!(foreign, missing);
    let r = app
        .patch(
            &format!("/api/v1/infants/{id}"),
            &token_a,
            &json!({"address": "x"}),
        )
        .await;
    assert_eq!(r.status(), 404);

    // List: B's infant is not there, even when A asks for B's hospital explicitly.
    let list: Value = app
        .get("/api/v1/infants", &token_a)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    let list: Value = app
        .get(&format!("/api/v1/infants?hospital_id={b}"), &token_a)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 0);

    // Register into B: 404 for the hospital, and nothing written.
    let mut body = infant_body("A-into-B");
    body["hospital_id"] = json!(b);
    let r = app.post("/api/v1/infants", &token_a, &body).await;
    assert_eq!(r.status(), 404);
    assert_eq!(app.infant_count().await, 1);

    // A's hospital record is visible to A, B's is not.
    assert_eq!(
        app.get(&format!("/api/v1/hospitals/{a}"), &token_a)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get(&format!("/api/v1/hospitals/{b}"), &token_a)
            .await
            .status(),
        404
    );
    let hs: Value = app
        .get("/api/v1/hospitals", &token_a)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(hs.as_array().unwrap().len(), 1);

    // B's own principal still sees and updates it; the unchanged address proves A wrote nothing.
    let r = app.get(&format!("/api/v1/infants/{id}"), &token_b).await;
    assert_eq!(r.json::<Value>().await.unwrap()["address"], "杭州市西湖区");
}

#[tokio::test]
async fn hospital_staff_users_are_scoped_like_clients() {
    let app = TestApp::spawn().await;
    let (a, token_a) = app.hospital_with_token("A").await;
    let b = app.hospital("B").await;
    let staff_b = app.staff_token("nurse.b", "hospital_staff", Some(&b)).await;
    let r = app
        .post("/api/v1/infants", &token_a, &infant_body("A-1"))
        .await;
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.get(&format!("/api/v1/infants/{id}"), &staff_b)
            .await
            .status(),
        404
    );
    // Staff register into their own hospital without naming it.
    let r = app
        .post("/api/v1/infants", &staff_b, &infant_body("B-1"))
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().await.unwrap()["hospital_id"], b.as_str());
    // Screening-centre staff see both hospitals.
    let coord = app.staff_token("coord", "coordinator", None).await;
    let all: Value = app
        .get("/api/v1/infants", &coord)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    let only_a: Value = app
        .get(&format!("/api/v1/infants?hospital_id={a}"), &coord)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(only_a["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn roles_limit_what_each_principal_may_do() {
    let app = TestApp::spawn().await;
    let (_, client) = app.hospital_with_token("A").await;
    let viewer = app.staff_token("viewer", "viewer", None).await;
    // Only admins manage hospitals, users and clients.
    for tok in [&client, &viewer] {
        assert_eq!(
            app.post("/api/v1/hospitals", tok, &json!({"code": "X", "name": "X"}))
                .await
                .status(),
            403
        );
        assert_eq!(app.get("/api/v1/users", tok).await.status(), 403);
        assert_eq!(app.get("/api/v1/clients", tok).await.status(), 403);
    }
    // Viewers read but do not register births.
    let r = app
        .post("/api/v1/infants", &viewer, &infant_body("V-1"))
        .await;
    assert_eq!(r.status(), 403);
    assert_eq!(problem(r).await["code"], "forbidden");
    assert_eq!(app.get("/api/v1/infants", &viewer).await.status(), 200);
}
