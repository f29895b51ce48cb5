//! Administration in a real browser: the notification preview renders any template with example
//! data in both languages, checks a proposed change as at start-up (a family SMS naming a
//! condition is refused), and a hospital user cannot reach it.

use serde_json::json;
use thirtyfour::prelude::*;

use crate::browser::{Browser, click, replace, text_of, user};
use crate::helpers::TestApp;

#[tokio::test]
async fn an_admin_previews_templates_and_a_hospital_user_cannot() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    user(&app, "root", "系统管理员", "admin").await;
    b.sign_in(&app.base, "root").await;
    b.wait_for("/worklists/overdue").await;
    b.d()
        .goto(format!("{}/admin/templates?name=family_recall", app.base))
        .await
        .unwrap();
    let zh = text_of(&b, "#body-zh-CN").await;
    let en = text_of(&b, "#body-en").await;
    assert!(zh.contains("ZJ001-000123") && !zh.contains("{{"), "{zh}");
    assert!(en.contains("ZJ001-000123") && !en.contains("{{"), "{en}");
    b.assert_no_csp_violation("template preview").await;
    b.assert_accessible("template preview").await;
    // A family SMS that names a condition is refused with the start-up check's message.
    replace(
        &b,
        "body-edit-zh-CN",
        "宝宝疑似苯丙酮尿症，请于{{due_date}}复查",
    )
    .await;
    click(&b, "form:has(#body-edit-zh-CN) button[type=submit]").await;
    let err = text_of(&b, "#error-zh-CN").await;
    assert!(err.contains("must not name a condition"), "{err}");
    // A proper change renders with the example data.
    replace(
        &b,
        "body-edit-zh-CN",
        "请于{{due_date}}到{{place}}复查，电话{{centre_phone}}",
    )
    .await;
    click(&b, "form:has(#body-edit-zh-CN) button[type=submit]").await;
    let body = text_of(&b, "#body-zh-CN").await;
    assert!(
        body.contains("请于2026-12-08到省妇保新筛门诊复查"),
        "{body}"
    );
    b.shot("template-preview-zh-CN").await;
    // A staff e-mail shows its subject in both languages.
    b.d()
        .goto(format!(
            "{}/admin/templates?name=management_treatment_overdue",
            app.base
        ))
        .await
        .unwrap();
    assert!(text_of(&b, "#subject-en").await.contains("0193a1b2"));

    // A hospital user gets the not-found page, and no administration link.
    let (own, _) = app.hospital_with_token("ZJ12").await;
    let r = app
        .post(
            "/api/v1/users",
            &app.admin_token,
            &json!({"username": "nurse", "display_name": "孙护士", "password": "a-long-test-password",
                    "role": "hospital_staff", "hospital_id": own}),
        )
        .await;
    assert_eq!(r.status(), 201);
    b.d()
        .find(By::Css("form[action='/logout'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_for("/login?m=signed_out").await;
    b.sign_in(&app.base, "nurse").await;
    b.wait_for("/hospital").await;
    assert!(
        b.d()
            .find(By::Css("a[href='/admin/templates']"))
            .await
            .is_err()
    );
    let r = reqwest::Client::new()
        .get(format!("{}/admin/templates", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.url().path(), "/login", "signed out: to the sign-in page");
    b.d()
        .goto(format!("{}/admin/templates", app.base))
        .await
        .unwrap();
    let h1 = text_of(&b, "h1").await;
    assert!(!h1.contains("通知预览"), "{h1}");
    b.assert_no_csp_violation("not-found page").await;
    b.assert_accessible("not-found page").await;
    b.shot("admin-forbidden-zh-CN").await;
    b.quit().await;
}

async fn sign_in_with(b: &Browser, base: &str, username: &str, password: &str) {
    b.d().goto(format!("{base}/login")).await.unwrap();
    replace(b, "username", username).await;
    replace(b, "password", password).await;
    click(b, "main form button[type=submit]").await;
}

#[tokio::test]
async fn a_one_time_password_works_once_and_a_rotated_secret_ends_the_old_one() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let h = app.hospital("ZJ13").await;
    let (client_id, old_secret) = app.client(&h).await;
    user(&app, "root", "系统管理员", "admin").await;
    b.sign_in(&app.base, "root").await;
    b.wait_for("/worklists/overdue").await;

    // The administrator creates a coordinator: the one-time password is shown once.
    b.d()
        .goto(format!("{}/admin/users", app.base))
        .await
        .unwrap();
    b.assert_accessible("users").await;
    replace(&b, "new-username", "newcoord").await;
    replace(&b, "new-name", "新协调员").await;
    click(&b, "#new-role option[value='coordinator']").await;
    click(&b, "#create-form button[type=submit]").await;
    let otp = text_of(&b, "#issued-secret").await;
    assert!(otp.len() >= 16, "{otp}");
    b.shot("admin-users-issued-zh-CN").await;
    b.assert_no_csp_violation("users").await;
    b.d()
        .goto(format!("{}/admin/users", app.base))
        .await
        .unwrap();
    assert!(!b.d().source().await.unwrap().contains(&otp), "shown once");

    // It signs in once, straight to choosing a password …
    click(&b, "form[action='/logout'] button").await;
    b.wait_for("/login?m=signed_out").await;
    b.assert_no_csp_violation("sign-in page").await;
    b.assert_accessible("sign-in page").await;
    sign_in_with(&b, &app.base, "newcoord", &otp).await;
    assert_eq!(b.wait_for("/password?first=1").await, "/password?first=1");
    assert!(text_of(&b, "#first-password").await.contains("一次性密码"));
    // The session goes nowhere else until a password is chosen.
    b.d()
        .goto(format!("{}/worklists/overdue", app.base))
        .await
        .unwrap();
    assert_eq!(b.wait_for("/password?first=1").await, "/password?first=1");
    // … and never again.
    click(&b, "form[action='/logout'] button").await;
    b.wait_for("/login?m=signed_out").await;
    sign_in_with(&b, &app.base, "newcoord", &otp).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(b.path().await.starts_with("/login"), "{}", b.path().await);
    let r = app
        .req(reqwest::Method::POST, "/api/v1/auth/login", None)
        .json(&json!({"username": "newcoord", "password": otp}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "nor through the API");

    // Rotating a client's secret from the page ends the old secret at once.
    b.sign_in(&app.base, "root").await;
    b.wait_for("/worklists/overdue").await;
    b.d()
        .goto(format!("{}/admin/clients", app.base))
        .await
        .unwrap();
    b.assert_accessible("clients").await;
    assert_eq!(
        app.client_token(&client_id, &old_secret).await.status(),
        200
    );
    click(
        &b,
        &format!("tr[data-login='{client_id}'] form[action$='/rotate'] button"),
    )
    .await;
    let new_secret = text_of(&b, "#issued-secret").await;
    assert_ne!(new_secret, old_secret);
    assert_eq!(
        app.client_token(&client_id, &old_secret).await.status(),
        401
    );
    assert_eq!(
        app.client_token(&client_id, &new_secret).await.status(),
        200
    );
    b.assert_no_csp_violation("clients").await;
    b.quit().await;
}

#[tokio::test]
async fn an_invalid_catalogue_shows_its_errors_and_a_valid_one_compares_field_by_field() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    user(&app, "root", "系统管理员", "admin").await;
    b.sign_in(&app.base, "root").await;
    b.wait_for("/worklists/overdue").await;
    let versions = || async {
        let v: serde_json::Value = app
            .get("/api/v1/catalogue/versions", &app.admin_token)
            .await
            .json()
            .await
            .unwrap();
        v.as_array().unwrap().len()
    };
    let before = versions().await;
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/catalogue/zj-2023.toml"),
    )
    .unwrap();
    let upload = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    // A new version id whose CH tier is not a tier: refused with the validator's message.
    let bad = upload(
        "bad.toml",
        original
            .replace("version = \"zj-2023\"", "version = \"zj-2027\"")
            .replacen("tier = \"T2\"", "tier = \"T9\"", 1),
    );
    b.d()
        .goto(format!("{}/admin/catalogue", app.base))
        .await
        .unwrap();
    let file = b.d().find(By::Id("file")).await.unwrap();
    file.send_keys(bad.to_string_lossy().as_ref())
        .await
        .unwrap();
    click(&b, "#publish-form button[type=submit]").await;
    let err = text_of(&b, "#catalogue-error").await;
    assert!(err.contains("T9") || err.contains("tier"), "{err}");
    assert_eq!(versions().await, before, "nothing stored");
    b.assert_accessible("catalogue refused").await;
    b.shot("catalogue-refused-zh-CN").await;

    // A valid new version with one cutoff changed is published and compares by field.
    let good = upload(
        "good.toml",
        original
            .replace("version = \"zj-2023\"", "version = \"zj-2027\"")
            .replace(
                "effective_from = \"2023-01-01\"",
                "effective_from = \"2027-01-01\"",
            )
            .replacen("cutoff = 9.0", "cutoff = 8.5", 1),
    );
    let file = b.d().find(By::Id("file")).await.unwrap();
    file.send_keys(good.to_string_lossy().as_ref())
        .await
        .unwrap();
    click(&b, "#publish-form button[type=submit]").await;
    assert!(text_of(&b, "#catalogue-notice").await.contains("zj-2027"));
    assert_eq!(versions().await, before + 1);
    // The stored versions name their publisher, not a user key; those read at start, their
    // source in the page's language.
    let stored = text_of(&b, "table#versions").await;
    assert!(
        stored.contains("系统管理员") && !stored.contains("user:"),
        "{stored}"
    );
    assert!(
        stored.contains("配置文件") && !stored.contains("config"),
        "{stored}"
    );
    b.d()
        .goto(format!("{}/admin/catalogue?a=zj-2023&b=zj-2027", app.base))
        .await
        .unwrap();
    let changes = text_of(&b, "table#changes").await;
    assert!(
        changes.contains("9.0") && changes.contains("8.5"),
        "{changes}"
    );
    assert!(
        changes.contains("effective_from") && changes.contains("version"),
        "{changes}"
    );
    b.assert_no_csp_violation("catalogue compare").await;
    b.assert_accessible("catalogue compare").await;
    // The publish box stands clear of the comparison above it (it sat flush against it).
    let gap = b
        .d()
        .execute(
            "const f = document.querySelector('#publish-form'); \
             return f.getBoundingClientRect().top \
               - f.previousElementSibling.getBoundingClientRect().bottom;",
            vec![],
        )
        .await
        .unwrap();
    let gap: f64 = gap.convert().unwrap();
    assert!(gap >= 8.0, "publish box {gap} px below the comparison");
    b.shot("catalogue-compare-zh-CN").await;

    // Due-time policies: the same page, the same checks.
    let policies = || crate::helpers::count(&app, "SELECT COUNT(*) AS n FROM due_policies");
    let stored = policies();
    let policy = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/policy/due-2026.toml"),
    )
    .unwrap();
    b.d()
        .goto(format!("{}/admin/policies", app.base))
        .await
        .unwrap();
    let bad = upload(
        "bad-policy.toml",
        policy.replace(
            "version = \"due-2026\"",
            "version = \"due-2028\"\nnonsense = 1",
        ),
    );
    let file = b.d().find(By::Id("file")).await.unwrap();
    file.send_keys(bad.to_string_lossy().as_ref())
        .await
        .unwrap();
    click(&b, "#publish-form button[type=submit]").await;
    let err = text_of(&b, "#catalogue-error").await;
    assert!(err.contains("nonsense"), "{err}");
    assert_eq!(policies(), stored, "nothing stored");
    let good = upload(
        "good-policy.toml",
        policy
            .replace("version = \"due-2026\"", "version = \"due-2028\"")
            .replace(
                "effective_from = \"2026-01-01\"",
                "effective_from = \"2028-01-01\"",
            )
            .replacen(
                "first_contact = { hours = 4 }",
                "first_contact = { hours = 3 }",
                1,
            ),
    );
    let file = b.d().find(By::Id("file")).await.unwrap();
    file.send_keys(good.to_string_lossy().as_ref())
        .await
        .unwrap();
    click(&b, "#publish-form button[type=submit]").await;
    assert!(text_of(&b, "#catalogue-notice").await.contains("due-2028"));
    assert_eq!(policies(), stored + 1);
    b.d()
        .goto(format!("{}/admin/policies?a=due-2026&b=due-2028", app.base))
        .await
        .unwrap();
    let changes = text_of(&b, "table#changes").await;
    assert!(changes.contains("first_contact"), "{changes}");
    b.assert_accessible("policy compare").await;
    b.shot("policy-compare-zh-CN").await;
    b.d()
        .goto(format!(
            "{}/lang/en?back=/admin/policies%3Fa%3Ddue-2026%26b%3Ddue-2028",
            app.base
        ))
        .await
        .unwrap();
    let stored = text_of(&b, "table#versions").await;
    assert!(
        stored.contains("configuration files") && stored.contains("系统管理员"),
        "{stored}"
    );
    b.assert_accessible("policy compare, English").await;
    // An administrator's English header has the most links of any.
    b.assert_header_on_two_rows("policy compare, English").await;
    b.shot("policy-compare-en").await;
    b.quit().await;
}

#[tokio::test]
async fn jobs_run_from_their_page_and_the_audit_trail_shows_who_did_what() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("ZJ14").await;
    let (infant, _) = crate::helpers::register_infant(&app, &token, "A1", 2).await;
    user(&app, "root", "系统管理员", "admin").await;
    b.sign_in(&app.base, "root").await;
    b.wait_for("/worklists/overdue").await;
    b.d()
        .goto(format!("{}/admin/jobs", app.base))
        .await
        .unwrap();
    click(&b, "tr[data-job='missed_screens'] form button").await;
    let ran = text_of(&b, "#job-ran").await;
    assert!(ran.contains("missed_screens"), "{ran}");
    let row = text_of(&b, "tr[data-job='missed_screens']").await;
    assert!(row.contains("成功"), "{row}");
    b.assert_no_csp_violation("jobs").await;
    b.assert_accessible("jobs").await;
    b.shot("admin-jobs-zh-CN").await;
    // The infant's trail: its registration (by the hospital's client), then this read.
    b.d()
        .goto(format!("{}/infants/{infant}", app.base))
        .await
        .unwrap();
    b.d()
        .goto(format!(
            "{}/admin/audit?entity=infant&id={infant}",
            app.base
        ))
        .await
        .unwrap();
    let trail = text_of(&b, "table#audit").await;
    assert!(trail.contains("创建") && trail.contains("读取"), "{trail}");
    assert!(trail.contains("系统管理员 (root)"), "{trail}");
    // Its time and action read on one line each (the details took the width and stood the
    // two-character action on end).
    let lines = b
        .d()
        .execute(
            "return [...document.querySelectorAll('#audit .nowrap')].map(e => { \
               const r = document.createRange(); r.selectNodeContents(e); \
               return r.getClientRects().length; });",
            vec![],
        )
        .await
        .unwrap();
    let lines: Vec<u64> = lines.convert().unwrap();
    assert!(lines.len() >= 6, "{lines:?}");
    assert!(lines.iter().all(|n| *n == 1), "wrapped: {lines:?}");
    b.assert_no_csp_violation("audit").await;
    b.assert_accessible("audit").await;
    b.shot("admin-audit-zh-CN").await;
    b.quit().await;
}

#[tokio::test]
async fn an_admin_creates_edits_and_deactivates_a_hospital() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    user(&app, "root", "系统管理员", "admin").await;
    b.sign_in(&app.base, "root").await;
    b.wait_for("/worklists/overdue").await;
    b.d()
        .goto(format!("{}/admin/hospitals", app.base))
        .await
        .unwrap();
    replace(&b, "new-code", "ZJ99").await;
    replace(&b, "new-hname", "示例县妇幼保健院").await;
    replace(&b, "new-district", "示例县").await;
    click(&b, "#create-hospital button[type=submit]").await;
    assert!(text_of(&b, "#hospital-notice").await.contains("ZJ99"));
    async fn zj99(app: &TestApp) -> serde_json::Value {
        let v: serde_json::Value = app
            .get("/api/v1/hospitals", &app.admin_token)
            .await
            .json()
            .await
            .unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .find(|h| h["code"] == "ZJ99")
            .cloned()
            .unwrap()
    }
    let h = zj99(&app).await;
    let id = h["id"].as_str().unwrap().to_string();
    // A bad address is refused and nothing changes.
    replace(&b, &format!("emails-{id}"), "not-an-address").await;
    click(&b, "form[data-code='ZJ99'] button[type=submit]").await;
    assert!(
        text_of(&b, "#hospital-error")
            .await
            .contains("contact_emails")
    );
    assert_eq!(zj99(&app).await["contact_emails"], json!([]));
    // Addresses and deactivation saved.
    replace(&b, &format!("emails-{id}"), "nbs@zj99.test").await;
    click(&b, &format!("#active-{id}")).await;
    click(&b, "form[data-code='ZJ99'] button[type=submit]").await;
    assert!(text_of(&b, "#hospital-notice").await.contains("ZJ99"));
    let h = zj99(&app).await;
    assert_eq!(h["contact_emails"], json!(["nbs@zj99.test"]));
    assert_eq!(h["active"], false);
    b.assert_no_csp_violation("hospitals").await;
    b.assert_accessible("hospitals").await;
    b.shot("admin-hospitals-zh-CN").await;
    b.quit().await;
}

#[tokio::test]
async fn a_merge_is_undone_from_the_merges_page() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("ZJ15").await;
    let (kept, _) = crate::helpers::register_infant(&app, &token, "M1", 2).await;
    let (dup, _) = crate::helpers::register_infant(&app, &token, "M1B", 2).await;
    let r = app
        .post(
            &format!("/api/v1/infants/{kept}/merge"),
            &app.admin_token,
            &json!({"duplicate_id": dup}),
        )
        .await;
    assert_eq!(r.status(), 200);
    user(&app, "root", "系统管理员", "admin").await;
    b.sign_in(&app.base, "root").await;
    b.wait_for("/worklists/overdue").await;
    b.d()
        .goto(format!("{}/admin/merges", app.base))
        .await
        .unwrap();
    let list = text_of(&b, "table#merges").await;
    assert!(
        list.contains("ZJ15-M1") && list.contains("ZJ15-M1B"),
        "{list}"
    );
    b.assert_accessible("merges").await;
    click(&b, "table#merges form button").await;
    assert!(text_of(&b, "#merge-notice").await.contains("撤销"));
    let v: serde_json::Value = app
        .get(&format!("/api/v1/infants/{dup}"), &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    assert!(v["merged_into"].is_null(), "{v}");
    assert!(
        b.d().find(By::Css("table#merges form")).await.is_err(),
        "undone once"
    );
    b.assert_no_csp_violation("merges").await;
    b.quit().await;
}
