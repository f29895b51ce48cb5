//! The audit trail: every write records who, when, the request id and what changed.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, infant_body};
use crate::screening::{infant_with_card, panel};

async fn trail(app: &TestApp, entity: &str, id: &str) -> Vec<Value> {
    let r = app
        .get(
            &format!("/api/v1/audit?entity={entity}&id={id}"),
            &app.admin_token,
        )
        .await;
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap().as_array().unwrap().clone()
}

#[tokio::test]
async fn writes_and_case_reads_are_audited_with_request_ids() {
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let lab = app.staff_token("lab", "clinician", None).await;

    let r = app
        .req(Method::POST, "/api/v1/infants", Some(&token))
        .header("x-request-id", "req-create-1")
        .json(&infant_body("AU1"))
        .send()
        .await
        .unwrap();
    let r_id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_ne!(r_id, "req-create-1");
    let infant: Value = r.json().await.unwrap();
    let id = infant["id"].as_str().unwrap();
    app.patch(
        &format!("/api/v1/infants/{id}"),
        &token,
        &json!({"address": "宁波市"}),
    )
    .await;
    let t = trail(&app, "infant", id).await;
    assert_eq!(t.len(), 2);
    assert_eq!(t[0]["action"], "update");
    assert_eq!(
        t[0]["changes"]["address"],
        json!(["杭州市西湖区", "宁波市"])
    );
    assert!(t[0]["changes"].get("mrn").is_none(), "only changed fields");
    assert_eq!(t[1]["action"], "create");
    // The caller's id is the correlation id; the request id is the server's own.
    assert_eq!(t[1]["correlation_id"], "req-create-1");
    assert_eq!(t[1]["request_id"], r_id);
    assert!(t[1]["actor"].as_str().unwrap().starts_with("client:"));
    assert!(
        !t[1]["changes"].to_string().contains("11010519491231002X"),
        "ID numbers never reach the trail"
    );

    let (_, barcode) = infant_with_card(&app, &token, "AU2").await;
    app.post(
        "/api/v1/results",
        &lab,
        &json!({"cards": [{"barcode": barcode, "results": panel(&[("TSH", 30.0)])}]}),
    )
    .await;
    let cases: Value = app.get("/api/v1/cases", &lab).await.json().await.unwrap();
    let case_id = cases["items"][0]["id"].as_str().unwrap();
    app.get(&format!("/api/v1/cases/{case_id}"), &lab).await;
    let t = trail(&app, "case", case_id).await;
    let actions: Vec<&str> = t.iter().map(|e| e["action"].as_str().unwrap()).collect();
    // The case's read, the list read naming it, its creation.
    assert_eq!(actions, vec!["read", "read", "create"]);
    assert_eq!(t[1]["changes"]["ids"], json!([case_id]));
    let detail: Value = app
        .get(&format!("/api/v1/cases/{case_id}"), &lab)
        .await
        .json()
        .await
        .unwrap();
    let card_id = detail["timeline"][0]["detail"]["trigger"]["card_id"]
        .as_str()
        .unwrap()
        .to_string();
    let t = trail(&app, "card_results", &card_id).await;
    assert_eq!(t.len(), 1);
    assert_eq!(t[0]["changes"]["TSH"], json!([null, 30.0]));
    assert!(t[0]["actor"].as_str().unwrap().starts_with("user:"));
    assert_eq!(trail(&app, "card", &card_id).await[0]["action"], "create");
    assert_eq!(
        app.get(&format!("/api/v1/audit?entity=case&id={case_id}"), &lab)
            .await
            .status(),
        403,
        "admins only"
    );
}

/// A write transaction appends its entries together at its end; a savepoint that rolls back
/// takes its entries with it, and a transaction that fails writes none.
#[tokio::test]
async fn entries_of_a_rolled_back_write_are_not_kept() {
    use guthrie::db::write_transaction;
    use guthrie::domain::principal::Principal;
    use guthrie::error::AppError;
    use guthrie::services::admin::audit::write;
    let app = TestApp::spawn().await;
    let who = Principal::job("audit_test");
    let now = chrono::Utc::now();
    let mut c = app.state.pool.get().unwrap();
    let entry = |c: &mut guthrie::db::AnyConnection, id: &str| {
        write(c, &who, "probe", id, None, &json!({"n": 1}), now)
    };
    write_transaction(&mut c, |c| -> Result<(), AppError> {
        entry(c, "kept-1")?;
        // A savepoint that fails: its entry goes with it.
        let inner = write_transaction(c, |c| -> Result<(), AppError> {
            entry(c, "rolled-back")?;
            Err(AppError::invalid("probe", "fails"))
        });
        assert!(inner.is_err());
        // One that succeeds: kept.
        write_transaction(c, |c| entry(c, "kept-2"))?;
        // Nothing is written before the transaction ends (read inside it).
        let n: i64 = {
            use diesel::prelude::*;
            use guthrie::db::schema::audit_log;
            audit_log::table
                .filter(audit_log::entity.eq("probe"))
                .count()
                .get_result(c)
                .unwrap()
        };
        assert_eq!(n, 0);
        Ok(())
    })
    .unwrap();
    let failed = write_transaction(&mut c, |c| -> Result<(), AppError> {
        entry(c, "failed")?;
        Err(AppError::invalid("probe", "fails"))
    });
    assert!(failed.is_err());
    // Outside a write transaction an entry is written at once.
    entry(&mut c, "alone").unwrap();
    let ids: Vec<String> = {
        use diesel::prelude::*;
        use guthrie::db::schema::audit_log;
        audit_log::table
            .filter(audit_log::entity.eq("probe"))
            .order(audit_log::entity_id.asc())
            .select(audit_log::entity_id)
            .load(&mut c)
            .unwrap()
    };
    assert_eq!(ids, ["alone", "kept-1", "kept-2"]);
}
