//! The versioned catalogue through HTTP: reading, publishing, and interpretations keeping the
//! version they were made under.

use serde_json::{Value, json};

use crate::helpers::{TestApp, problem};
use crate::screening::{infant_with_card, panel};

#[tokio::test]
async fn the_current_catalogue_and_its_versions_are_readable() {
    let app = TestApp::spawn().await;
    let c: Value = app
        .get("/api/v1/catalogue", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(c["version"], "zj-2026");
    assert_eq!(c["jurisdiction"], "CN-ZJ");
    let dbs = c["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["programme"] == "DBS")
        .count();
    assert_eq!(dbs, 29);
    let pku = c["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["code"] == "PKU")
        .unwrap();
    assert_eq!(pku["name_zh"], "苯丙酮尿症/高苯丙氨酸血症");
    let v: Value = app
        .get("/api/v1/catalogue/versions", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v[0]["published_by"], "config");
    assert_eq!(
        app.get("/api/v1/catalogue/zj-2023", &app.admin_token)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get("/api/v1/catalogue/nope", &app.admin_token)
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn a_published_version_takes_over_and_old_interpretations_keep_theirs() {
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("A").await;
    let lab = app.staff_token("lab", "clinician", None).await;
    let (infant1, bc1) = infant_with_card(&app, &token, "V1").await;
    let r: Value = app
        .post(
            "/api/v1/results",
            &lab,
            &json!({"cards": [{"barcode": bc1, "results": panel(&[("TSH", 8.0)])}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["cards"][0]["interpretation"]["outcome"], "normal");

    // A stricter TSH cutoff, in force from today.
    let mut c: Value = app
        .get("/api/v1/catalogue", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    c["version"] = json!("zj-2026a");
    // The same day as the shipped zj-2026: the later publication wins the tie.
    c["effective_from"] = json!("2026-12-01");
    app.clock
        .set(app.state.now() + chrono::Duration::seconds(1));
    let rule = c["rules"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["id"] == "ch-tsh")
        .unwrap();
    rule["criteria"][0]["cutoff"] = json!(7.5);
    let r = app.post("/api/v1/catalogue", &lab, &c).await;
    assert_eq!(r.status(), 403, "only admins publish");
    let r = app.post("/api/v1/catalogue", &app.admin_token, &c).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    assert_eq!(
        app.post("/api/v1/catalogue", &app.admin_token, &c)
            .await
            .status(),
        409
    );
    let current: Value = app
        .get("/api/v1/catalogue", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(current["version"], "zj-2026a");

    let (_, bc2) = infant_with_card(&app, &token, "V2").await;
    let r: Value = app
        .post(
            "/api/v1/results",
            &lab,
            &json!({"cards": [{"barcode": bc2, "results": panel(&[("TSH", 8.0)])}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["cards"][0]["interpretation"]["outcome"], "positive");
    assert_eq!(
        r["cards"][0]["interpretation"]["catalogue_version"],
        "zj-2026a"
    );
    let s: Value = app
        .get(&format!("/api/v1/infants/{infant1}/screening"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        s["cards"][0]["interpretation"]["catalogue_version"],
        "zj-2026"
    );
    assert_eq!(s["cards"][0]["interpretation"]["outcome"], "normal");
}

#[tokio::test]
async fn an_invalid_catalogue_is_refused_naming_the_entry() {
    let app = TestApp::spawn().await;
    let mut c: Value = app
        .get("/api/v1/catalogue", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    c["version"] = json!("broken");
    c["rules"][0]["suggests"] = json!(["NOPE"]);
    let r = app.post("/api/v1/catalogue", &app.admin_token, &c).await;
    assert_eq!(r.status(), 422);
    let p = problem(r).await;
    assert!(
        p["errors"]["catalogue"][0]
            .as_str()
            .unwrap()
            .contains("unknown condition NOPE"),
        "{p}"
    );
    assert_eq!(
        app.get("/api/v1/catalogue/broken", &app.admin_token)
            .await
            .status(),
        404
    );
}
