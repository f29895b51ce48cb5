//! Long-term management in a real browser: a clinician finds a confirmed child on the
//! management worklist, records the treatment and a follow-up whose value is off target (the
//! flag shows and is acknowledged), and a coordinator reports the episode and sees a closure
//! without its required detail refused with nothing written.

use thirtyfour::prelude::*;

use crate::browser::{Browser, choose, click, state_shown, text_of, type_into, user};
use crate::helpers::TestApp;

#[tokio::test]
async fn a_confirmed_child_is_treated_followed_and_reported_in_the_browser() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("ZJ07").await;
    let api_coord = app.staff_token("api-coord", "coordinator", None).await;
    crate::management::confirmed(&app, &token, &api_coord, "G700").await;
    user(&app, "doc", "陈医生", "clinician").await;
    user(&app, "coord", "李协调员", "coordinator").await;

    // The clinician opens the management worklist: the child's treatment is due within 30 days.
    b.sign_in(&app.base, "doc").await;
    b.wait_for("/worklists/overdue").await;
    b.d()
        .goto(format!("{}/management?days=30", app.base))
        .await
        .unwrap();
    let list = text_of(&b, "table#episodes").await;
    assert!(list.contains("先天性甲状腺功能减低症"), "{list}");
    b.shot("management-worklist-zh-CN").await;
    b.assert_no_csp_violation("management worklist").await;
    b.assert_accessible("management worklist").await;
    click(&b, "a[href^='/management/episodes/']").await;
    assert_eq!(state_shown(&b, "已登记").await, "已登记");
    let episode = b.path().await;

    // Treatment, then the first thyroid check with TSH above the plan's range.
    choose(&b, "treatment-kind", "medication").await;
    type_into(&b, "regimen", "左甲状腺素钠 37.5 µg/日").await;
    type_into(&b, "prescriber", "陈医生").await;
    click(&b, "form[action$='/treatment'] button[type=submit]").await;
    assert_eq!(state_shown(&b, "已开始治疗").await, "已开始治疗");
    b.d()
        .find(By::Css("form[action$='/contact'] input[name=m_TSH]"))
        .await
        .unwrap()
        .send_keys("12")
        .await
        .unwrap();
    b.d()
        .find(By::Css("form[action$='/contact'] input[name=m_FT4]"))
        .await
        .unwrap()
        .send_keys("15")
        .await
        .unwrap();
    click(&b, "form[action$='/contact'] button[type=submit]").await;
    assert_eq!(state_shown(&b, "随访中").await, "随访中");
    let flags = text_of(&b, "#episode-flags").await;
    assert!(flags.contains("1项"), "{flags}");
    let contacts = text_of(&b, "table#contacts").await;
    assert!(contacts.contains("TSH 12 mIU/L ⚠"), "{contacts}");
    let timeline = text_of(&b, "table.timeline").await;
    for step in [
        "建立专案",
        "开始治疗",
        "记录随访",
        "检测结果超出目标",
        "陈医生",
    ] {
        assert!(timeline.contains(step), "{step} missing from {timeline}");
    }
    b.shot("management-episode-flagged-zh-CN").await;
    click(&b, "form[action$='/acknowledge'] button[type=submit]").await;
    assert_eq!(state_shown(&b, "随访中").await, "随访中");
    assert!(b.d().find(By::Css("#episode-flags")).await.is_err());
    b.assert_no_csp_violation("episode page").await;
    b.assert_accessible("episode page").await;

    // The coordinator: a closure as lost without the attempts is refused, nothing written;
    // the provincial report is recorded.
    click(&b, "form[action='/logout'] button").await;
    b.wait_for("/login?m=signed_out").await;
    b.sign_in(&app.base, "coord").await;
    b.wait_for("/worklists/overdue").await;
    b.d().goto(format!("{}{episode}", app.base)).await.unwrap();
    choose(&b, "closure-reason", "lost_to_follow_up").await;
    click(&b, "form[action$='/close'] button[type=submit]").await;
    let alert = text_of(&b, "#episode-error").await;
    assert!(alert.contains("closure.attempts"), "{alert}");
    assert_eq!(state_shown(&b, "随访中").await, "随访中");
    type_into(&b, "report-reference", "ZJ-2026-0700").await;
    click(&b, "form[action$='/report'] button[type=submit]").await;
    assert_eq!(state_shown(&b, "ZJ-2026-0700").await, "ZJ-2026-0700");
    // A coordinator records no measurements: the contact forms have none to fill.
    assert!(
        b.d()
            .find(By::Css("form[action$='/contact'] input[name=m_TSH]"))
            .await
            .is_err()
    );
    b.shot("management-episode-reported-zh-CN").await;
    b.assert_no_csp_violation("episode page (coordinator)")
        .await;
    b.quit().await;
}
