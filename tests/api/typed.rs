//! The typed boundary: values outside a closed set are refused naming the field and the allowed
//! values, the OpenAPI document lists those values, and a stored value the code does not know is
//! an error, not a silent default.

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{TestApp, epoch, problem, register_infant};

#[tokio::test]
async fn a_value_outside_a_closed_set_is_400_naming_field_and_allowed_values() {
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let (infant, _) = register_infant(&app, &token, "TY-1", 30).await;
    let at = epoch().to_rfc3339();
    let tries = [
        (
            "/api/v1/cards".to_string(),
            json!({"infant_id": infant, "barcode": "TY1", "collected_at": at, "feeding": "milkshake", "collector": "n"}),
            "feeding",
            "parenteral",
        ),
        (
            format!("/api/v1/infants/{infant}/consents"),
            json!({"programme": "DBS", "decision": "maybe", "guardian_name": "王芳", "signed_at": at}),
            "decision",
            "refusal",
        ),
        (
            format!("/api/v1/infants/{infant}/hearing-interventions"),
            json!({"kind": "magic", "started_at": at}),
            "kind",
            "cochlear_implant",
        ),
    ];
    for (url, body, field, allowed) in tries {
        let r = app.post(&url, &token, &body).await;
        assert_eq!(r.status(), 400, "{url}");
        let p = problem(r).await;
        assert_eq!(p["code"], "invalid_type", "{p}");
        let msg = p["errors"][field][0].as_str().unwrap_or_default();
        assert!(msg.contains(allowed), "{field}: {p}");
    }
    // Nothing was written by the refused requests.
    let s: Value = app
        .get(&format!("/api/v1/infants/{infant}/screening"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["dbs"]["consent"], Value::Null, "{s}");
    assert_eq!(s["hearing_interventions"], json!([]));
    assert_eq!(s["cards"], json!([]));
}

#[tokio::test]
async fn the_openapi_document_lists_the_allowed_values() {
    let app = TestApp::spawn().await;
    let doc = app.openapi().await;
    let schemas = &doc["components"]["schemas"];
    let values = |name: &str| -> Vec<String> {
        schemas[name]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} has no enum: {}", schemas[name]))
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    assert!(values("CaseState").contains(&"diagnostic_workup".to_string()));
    assert_eq!(values("Tier"), ["T0", "T1", "T2", "T3"]);
    assert!(values("Status").contains(&"delivered".to_string()));
    assert!(values("Feeding").contains(&"parenteral".to_string()));
    // The case response refers to them rather than saying "string".
    let case = &schemas["CaseResponse"]["properties"];
    assert_eq!(
        case["state"]["$ref"], "#/components/schemas/CaseState",
        "{case}"
    );
    assert_eq!(case["tier"]["$ref"], "#/components/schemas/Tier");
}

#[tokio::test]
async fn a_stored_value_the_code_does_not_know_is_an_error_not_a_default() {
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let (infant, _) = register_infant(&app, &token, "TY-2", 30).await;
    // Someone edits the database by hand: the phone list (a JSON column no CHECK guards) no
    // longer decodes.
    let pool = app.state.pool.clone();
    let id = infant.clone();
    tokio::task::spawn_blocking(move || {
        use guthrie::db::schema::infants;
        let mut c = pool.get().unwrap();
        diesel::update(infants::table.filter(infants::id.eq(&id)))
            .set(infants::mother_phones.eq("not json"))
            .execute(&mut c)
            .unwrap();
    })
    .await
    .unwrap();
    let r = app.get(&format!("/api/v1/infants/{infant}"), &token).await;
    assert_eq!(r.status(), 500, "no silent empty phone list");
    let p = problem(r).await;
    assert_eq!(p["code"], "internal_error");
    assert!(
        !p["detail"].as_str().unwrap().contains("not json"),
        "the stored text is not echoed"
    );
}

#[tokio::test]
async fn a_list_filter_outside_its_closed_set_is_400_invalid_query() {
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    for query in [
        "state=maybe",
        "tier=T9",
        "programme=DNA",
        "hospital_id=not-an-id",
    ] {
        let r = app.get(&format!("/api/v1/cases?{query}"), &token).await;
        assert_eq!(r.status(), 400, "{query}");
        let p = problem(r).await;
        assert_eq!(p["code"], "invalid_query", "{query}: {p}");
    }
    let r = app.get("/api/v1/notifications?status=maybe", &token).await;
    let p = problem(r).await;
    assert!(
        p["errors"]["status"][0]
            .as_str()
            .unwrap()
            .contains("delivered"),
        "{p}"
    );
}
