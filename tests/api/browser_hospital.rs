//! The hospital view in a real browser: a maternity hospital's nurse lands on it, sees this
//! month's births with their screens, registers a birth through the form (a refused form shows
//! per-field errors and writes nothing), records hearing and heart screens, and cannot see
//! another hospital's view.

use serde_json::{Value, json};
use thirtyfour::prelude::*;

use crate::browser::{Browser, choose, replace, text_of, type_into};
use crate::helpers::{TestApp, register_infant};

const PASSWORD: &str = "a-long-test-password";

/// Submits the form posting to `action` and waits for the page that answers it (the old
/// page's notice would otherwise still be read: the answer is the same path).
async fn submit(b: &Browser, action: &str) {
    let page = b.d().find(By::Tag("html")).await.unwrap();
    b.d()
        .find(By::Css(format!(
            "form[action='{action}'] button[type=submit]"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    for _ in 0..200 {
        // Chromium may answer for the old page's node that it belongs to no document: the
        // page was replaced, as when it answers that the node is gone.
        if !page.is_present().await.unwrap_or(false) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no page answered the form posting to {action}");
}

async fn infants(app: &TestApp, token: &str) -> usize {
    let v: Value = app
        .get("/api/v1/infants?limit=200", token)
        .await
        .json()
        .await
        .unwrap();
    v["items"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_nurse_registers_a_birth_and_records_screens_in_the_hospital_view() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let (own, token) = app.hospital_with_token("ZJ10").await;
    let (other, other_token) = app.hospital_with_token("ZJ11").await;
    register_infant(&app, &token, "H1", 2).await;
    register_infant(&app, &other_token, "X1", 2).await;
    let r = app
        .post(
            "/api/v1/users",
            &app.admin_token,
            &json!({"username": "nurse", "display_name": "赵护士", "password": PASSWORD,
                    "role": "hospital_staff", "hospital_id": own}),
        )
        .await;
    assert_eq!(r.status(), 201);
    b.sign_in(&app.base, "nurse").await;
    assert_eq!(b.wait_for("/hospital").await, "/hospital");
    let births = text_of(&b, "table#births").await;
    assert!(
        births.contains("ZJ10-H1") && !births.contains("X1"),
        "{births}"
    );
    b.assert_no_csp_violation("hospital view").await;
    b.assert_accessible("hospital view").await;

    // A birth weight out of range: the API's message on the field, nothing written.
    let before = infants(&app, &token).await;
    type_into(&b, "mrn", "H2").await;
    choose(&b, "sex", "female").await;
    type_into(&b, "gestational_age_weeks", "39").await;
    type_into(&b, "gestational_age_days", "2").await;
    type_into(&b, "birth_weight_g", "90").await;
    type_into(&b, "mother_name", "钱女士").await;
    type_into(&b, "mother_phones", "13800000077").await;
    submit(&b, "/hospital/births").await;
    // The refusal is announced at the top of the page, linking to the form's errors.
    assert!(
        b.d()
            .find(By::Css("#refusal-top a[href='#register-errors']"))
            .await
            .is_ok()
    );
    let errors = text_of(&b, "#register-errors").await;
    assert!(errors.contains("出生体重"), "{errors}");
    // The message too is in Chinese (it came in the services' English before).
    assert!(errors.contains("须在 200 至 7000 g 之间"), "{errors}");
    assert!(!errors.contains("must be"), "{errors}");
    assert!(
        b.d()
            .find(By::Css("#register-errors a[href='#birth_weight_g']"))
            .await
            .is_ok()
    );
    assert_eq!(infants(&app, &token).await, before, "nothing written");
    b.assert_accessible("hospital view with errors").await;
    b.shot("hospital-errors-zh-CN").await;
    // The values are kept; the weight corrected, the birth is registered.
    replace(&b, "birth_weight_g", "3250").await;
    submit(&b, "/hospital/births").await;
    assert!(text_of(&b, "#hospital-notice").await.contains("出生已登记"));
    assert_eq!(infants(&app, &token).await, before + 1);
    assert!(text_of(&b, "table#births").await.contains("ZJ10-H2"));

    // Hearing: both ears pass. Heart: a bad saturation is refused, then recorded.
    type_into(&b, "h-mrn", "H2").await;
    submit(&b, "/hospital/hearing").await;
    assert!(
        text_of(&b, "#hospital-notice")
            .await
            .contains("听力筛查已记录")
    );
    type_into(&b, "c-mrn", "H2").await;
    type_into(&b, "c-right_hand_spo2", "高").await;
    type_into(&b, "c-foot_spo2", "99").await;
    submit(&b, "/hospital/heart").await;
    let errors = text_of(&b, "#screen-errors").await;
    assert!(errors.contains("右手血氧饱和度"), "{errors}");
    replace(&b, "c-right_hand_spo2", "98").await;
    submit(&b, "/hospital/heart").await;
    assert!(
        text_of(&b, "#hospital-notice")
            .await
            .contains("先心病筛查已记录")
    );
    let row = text_of(&b, "table#births tbody tr:first-child").await;
    assert!(row.contains("ZJ10-H2"), "{row}");
    assert_eq!(
        row.matches("已完成").count(),
        2,
        "hearing and heart done: {row}"
    );
    b.shot("hospital-view-zh-CN").await;
    b.assert_no_csp_violation("hospital view after forms").await;

    // Another hospital's view is the nurse's own.
    b.d()
        .goto(format!("{}/hospital?hospital={other}", app.base))
        .await
        .unwrap();
    let births = text_of(&b, "table#births").await;
    assert!(!births.contains("ZJ11-X1") && births.contains("ZJ10-H1"));
    b.quit().await;
}
