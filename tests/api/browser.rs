//! The console in a real browser: Debian's headless Chromium driven through `chromedriver`
//! (WebDriver, the `thirtyfour` client), against the real server on a fresh database. Each test
//! saves PNG screenshots under `target/tmp/screenshots/` and fails on any Content-Security-Policy
//! violation the browser logs. Without `chromium` and `chromium-driver` the tests skip with a
//! message, unless `CI=true`, where a missing browser is a failure (`.ci/run` installs them).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use thirtyfour::prelude::*;
use thirtyfour::{ChromiumLikeCapabilities, LoggingPrefsLogLevel};

use crate::helpers::TestApp;
use crate::screening::{infant_with_card, panel};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const PASSWORD: &str = "a-long-test-password";

/// A headless Chromium under its own chromedriver, ended on drop.
pub(crate) struct Browser {
    driver: Option<WebDriver>,
    chromedriver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // After a failure the session is not quit politely (that would wait on the dead test's
        // runtime): chromedriver and the browser it started go together, as one process group.
        std::mem::forget(self.driver.take());
        let group = format!("-{}", self.chromedriver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.chromedriver.wait();
    }
}

impl Browser {
    /// Starts one, or `None` (the test skips) when the browser is not installed outside CI.
    pub(crate) async fn start() -> Option<Browser> {
        guthrie::notify::install_crypto_provider();
        if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver fonts-noto-cjk)"
            );
            eprintln!("browser test skipped: install chromium and chromium-driver to run it");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let chromedriver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if reqwest::get(format!("{url}/status")).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary(CHROMIUM).unwrap();
        for arg in [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1400,900",
            "--lang=zh-CN",
        ] {
            caps.add_arg(arg).unwrap();
        }
        caps.add_arg(&format!("--user-data-dir={}", profile.path().display()))
            .unwrap();
        caps.set_browser_log_level(LoggingPrefsLogLevel::All)
            .unwrap();
        // The browser asks for Chinese first, as on a coordinator's desk.
        caps.add_experimental_option("prefs", json!({"intl.accept_languages": "zh-CN,zh"}))
            .unwrap();
        let t = std::time::Instant::now();
        let driver = WebDriver::new(url, caps).await.unwrap();
        eprintln!("browser started in {:.1} s", t.elapsed().as_secs_f64());
        Some(Browser {
            driver: Some(driver),
            chromedriver,
            _profile: profile,
        })
    }

    pub(crate) fn d(&self) -> &WebDriver {
        self.driver.as_ref().unwrap()
    }

    /// Saves a screenshot named `name`.png.
    pub(crate) async fn shot(&self, name: &str) {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        self.d()
            .screenshot(&dir.join(format!("{name}.png")))
            .await
            .unwrap();
    }

    /// Fails unless the header keeps its two rows: the brand, the language links and the sign-out
    /// button on the first (they wrapped below the brand when an English administrator's page
    /// links shared that row), the page links below.
    pub(crate) async fn assert_header_on_two_rows(&self, page: &str) {
        let mut rects = vec![];
        for css in [
            "header.top .brand",
            "header.top .langs",
            "header.top form button",
            "header.top nav",
        ] {
            rects.push(
                self.d()
                    .find(By::Css(css))
                    .await
                    .unwrap()
                    .rect()
                    .await
                    .unwrap(),
            );
        }
        let middle = |r: &thirtyfour::ElementRect| r.y + r.height / 2.0;
        let brand = &rects[0];
        for (name, r) in [("language links", &rects[1]), ("sign out", &rects[2])] {
            assert!(
                (middle(brand) - middle(r)).abs() < brand.height,
                "{page}: the {name} wrapped below the brand: {brand:?} {r:?}"
            );
        }
        assert!(
            rects[3].y >= brand.y + brand.height,
            "{page}: the page links share the brand's row"
        );
    }

    /// Fails on any Content-Security-Policy violation logged since the last call.
    pub(crate) async fn assert_no_csp_violation(&self, page: &str) {
        let log = self.d().browser_log().await.unwrap();
        let violations: Vec<&str> = log
            .iter()
            .map(|e| e.message.as_str())
            .filter(|m| m.contains("Content Security Policy") || m.contains("Refused to"))
            .collect();
        assert!(violations.is_empty(), "{page}: {violations:?}");
    }

    /// Runs axe-core (vendored under `tests/assets`, MPL-2.0) in the page and fails on any
    /// serious or critical accessibility violation, naming the rule and the elements.
    pub(crate) async fn assert_accessible(&self, page: &str) {
        let text = self.axe_violations().await;
        assert_eq!(text, "[]", "{page}: accessibility violations");
    }

    /// The serious and critical axe-core violations of the page, as JSON.
    pub(crate) async fn axe_violations(&self) -> String {
        const AXE: &str = include_str!("../assets/axe-4.14.1.min.js");
        self.d().execute(AXE, vec![]).await.unwrap();
        let out = self
            .d()
            .execute_async(
                r#"const done = arguments[arguments.length - 1];
                axe.run(document, {resultTypes: ['violations']})
                  .then(r => done(JSON.stringify(r.violations
                    .filter(v => v.impact === 'serious' || v.impact === 'critical')
                    .map(v => ({id: v.id, impact: v.impact, help: v.help,
                                nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))})))))
                  .catch(e => done('axe failed: ' + e));"#,
                vec![],
            )
            .await
            .unwrap();
        out.convert().unwrap()
    }

    /// Waits (up to 5 s) until the page's path and query are `want`; returns what it is.
    pub(crate) async fn wait_for(&self, want: &str) -> String {
        let mut now = self.path().await;
        for _ in 0..50 {
            if now == want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            now = self.path().await;
        }
        now
    }

    pub(crate) async fn path(&self) -> String {
        let u = self.d().current_url().await.unwrap();
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        }
    }

    pub(crate) async fn sign_in(&self, base: &str, username: &str) {
        self.d().goto(format!("{base}/")).await.unwrap();
        assert_eq!(self.wait_for("/login").await, "/login");
        type_into(self, "username", username).await;
        type_into(self, "password", PASSWORD).await;
        self.d()
            .find(By::Css("main form button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    pub(crate) async fn quit(mut self) {
        if let Some(d) = self.driver.take() {
            d.quit().await.unwrap();
        }
    }
}

/// An infant of the hospital behind `token` whose card's results (`values`) open a case;
/// returns the infant's id.
pub(crate) async fn positive_infant(
    app: &TestApp,
    token: &str,
    lab: &str,
    mrn: &str,
    values: &[(&str, f64)],
) -> String {
    let (infant, barcode) = infant_with_card(app, token, mrn).await;
    let r = app
        .post(
            "/api/v1/results",
            lab,
            &json!({"cards": [{"barcode": barcode, "results": panel(values)}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    infant
}

pub(crate) async fn user(app: &TestApp, username: &str, display: &str, role: &str) {
    let r = app
        .post(
            "/api/v1/users",
            &app.admin_token,
            &json!({"username": username, "display_name": display, "password": PASSWORD, "role": role}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

#[tokio::test]
async fn a_coordinator_works_the_worklists_in_a_browser() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let lab = app.staff_token("lab", "clinician", None).await;
    let (_, token) = app.hospital_with_token("ZJ01").await;
    for (mrn, value) in [("A100", 0.5), ("A101", 0.5)] {
        positive_infant(&app, &token, &lab, mrn, &[("C16-OH", value)]).await;
    }
    user(&app, "coord", "李协调员", "coordinator").await;

    b.sign_in(&app.base, "coord").await;
    assert_eq!(b.wait_for("/worklists/overdue").await, "/worklists/overdue");
    b.assert_no_csp_violation("worklists").await;
    b.d()
        .goto(format!("{}/worklists/critical", app.base))
        .await
        .unwrap();
    let source = b.d().source().await.unwrap();
    assert!(
        source.contains("ZJ01-A100") && source.contains("ZJ01-A101"),
        "{source}"
    );
    // Conditions by their catalogue name, not only their code.
    assert!(source.contains("(LCHAD)"), "{source}");
    let rows = b
        .d()
        .find_all(By::Css("table.cases tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let badge = b.d().find(By::Css("span.tier-T0")).await.unwrap();
    assert_eq!(badge.text().await.unwrap(), "T0 危急");
    // htmx loaded under the strict policy and swaps the counters in place.
    let kind = b.d().execute("return typeof htmx;", vec![]).await.unwrap();
    assert_eq!(kind.json(), &json!("object"));
    b.d()
        .execute(
            "htmx.ajax('GET', '/worklists/critical/tabs', {target: '#tabs', swap: 'outerHTML'});",
            vec![],
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let current = b.d().find(By::Css("#tabs a.current")).await.unwrap();
    assert!(current.text().await.unwrap().contains('2'));
    // The refresh is announced to screen readers through the page's live region.
    let status = b.d().find(By::Id("status")).await.unwrap();
    let said = status
        .prop("textContent")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(
        said.contains("工作台计数已更新") && said.contains("危急（T0） 2"),
        "{said}"
    );
    b.shot("worklist-zh-CN").await;
    b.assert_no_csp_violation("worklist after an htmx swap")
        .await;

    // English, from the header link.
    b.d()
        .find(By::LinkText("English"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.d()
        .query(By::Css("html[lang='en']"))
        .first()
        .await
        .unwrap();
    assert!(b.d().source().await.unwrap().contains("T0 critical"));
    b.shot("worklist-en").await;

    // Signing out, from the header button.
    b.d()
        .find(By::Css("header form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(
        b.wait_for("/login?m=signed_out").await,
        "/login?m=signed_out"
    );
    b.shot("signed-out-en").await;
    b.assert_no_csp_violation("sign-in page").await;
    // The check can fail: an inline style added to the page is refused and logged.
    b.d()
        .execute(
            "var s = document.createElement('style'); s.textContent = 'b {}'; document.head.appendChild(s);",
            vec![],
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = b.d().browser_log().await.unwrap();
    assert!(
        log.iter()
            .any(|e| e.message.contains("Content Security Policy")),
        "{log:?}"
    );
    b.quit().await;
}

/// Clicks the submit button of the case page's form for `kind`.
async fn submit(b: &Browser, kind: &str) {
    b.d()
        .find(By::Css(format!(
            "form:has(input[name=kind][value={kind}]) button[type=submit]"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

pub(crate) async fn choose(b: &Browser, select: &str, value: &str) {
    b.d()
        .find(By::Css(format!("#{select} option[value='{value}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

pub(crate) async fn type_into(b: &Browser, id: &str, text: &str) {
    b.d()
        .find(By::Id(id))
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
}

/// The case page's facts once they show `want` (the page after a post may still be loading,
/// so a read of the old page's element is simply tried again); what they show otherwise.
pub(crate) async fn state_shown(b: &Browser, want: &str) -> String {
    let mut last = String::new();
    for _ in 0..50 {
        if let Ok(el) = b.d().find(By::Css("dl.facts")).await
            && let Ok(text) = el.text().await
        {
            if text.contains(want) {
                return want.to_string();
            }
            last = text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

#[tokio::test]
async fn a_case_is_worked_to_resolved_and_a_stale_form_is_refused() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let Some(other) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let lab = app.staff_token("lab", "clinician", None).await;
    let (_, token) = app.hospital_with_token("ZJ02").await;
    positive_infant(&app, &token, &lab, "B200", &[("C16-OH", 0.5)]).await;
    user(&app, "coord", "李协调员", "coordinator").await;
    user(&app, "coord2", "王协调员", "coordinator").await;

    // From the worklist to the case.
    b.sign_in(&app.base, "coord").await;
    b.wait_for("/worklists/overdue").await;
    b.d()
        .goto(format!("{}/worklists/critical", app.base))
        .await
        .unwrap();
    b.d()
        .find(By::LinkText("ZJ02-B200"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(state_shown(&b, "待联系").await, "待联系");
    let case_path = b.path().await;
    assert!(case_path.starts_with("/cases/"));

    // The second coordinator opens the same case now.
    other.sign_in(&app.base, "coord2").await;
    other.wait_for("/worklists/overdue").await;
    other
        .d()
        .goto(format!("{}{case_path}", app.base))
        .await
        .unwrap();

    // A call that reached the family, a booked recall, the recheck, the outcome.
    choose(&b, "attempt-outcome", "reached").await;
    type_into(&b, "attempt-note", "母亲接听，同意复查").await;
    b.d()
        .find(By::Css("form[action$='/contact'] button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(state_shown(&b, "已联系家属").await, "已联系家属");
    type_into(&b, "place", "省妇保新筛门诊").await;
    submit(&b, "schedule_recall").await;
    assert_eq!(state_shown(&b, "已预约复查").await, "已预约复查");
    type_into(&b, "reference", "BC-B200-R").await;
    submit(&b, "record_recheck").await;
    assert_eq!(state_shown(&b, "已复查").await, "已复查");
    choose(&b, "outcome", "ruled_out").await;
    type_into(&b, "note-resolve", "复查正常").await;
    submit(&b, "resolve").await;
    assert_eq!(state_shown(&b, "已结案").await, "已结案");

    let timeline = b
        .d()
        .find(By::Css("table.timeline"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for step in [
        "开启病例",
        "联系尝试",
        "待联系 → 已联系家属",
        "已联系家属 → 已预约复查",
        "已预约复查 → 已复查",
        "已复查 → 已结案",
        "李协调员",
        "复查正常",
    ] {
        assert!(timeline.contains(step), "{step} missing from {timeline}");
    }
    b.shot("case-resolved-zh-CN").await;
    b.assert_no_csp_violation("case page").await;

    // The second coordinator's page is stale: their note is refused, and nothing is written.
    type_into(&other, "note-only", "迟到的备注").await;
    submit(&other, "note").await;
    let alert = other
        .d()
        .query(By::Css("#case-error"))
        .first()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(alert.contains("其他人已修改此病例"), "{alert}");
    assert!(
        !other
            .d()
            .source()
            .await
            .unwrap()
            .contains("迟到的备注</td>")
    );
    other.shot("case-stale-zh-CN").await;
    other.assert_no_csp_violation("stale case page").await;
    b.quit().await;
    other.quit().await;
}

#[tokio::test]
async fn a_hospital_user_cannot_open_another_hospitals_case() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let lab = app.staff_token("lab", "clinician", None).await;
    let (own, own_token) = app.hospital_with_token("ZJ03").await;
    let (_, other_token) = app.hospital_with_token("ZJ04").await;
    let mut case_of = vec![];
    for (token, mrn) in [(&own_token, "C300"), (&other_token, "C400")] {
        let infant = positive_infant(&app, token, &lab, mrn, &[("C16-OH", 0.5)]).await;
        let cases: Value = app
            .get(&format!("/api/v1/cases?infant_id={infant}"), &lab)
            .await
            .json()
            .await
            .unwrap();
        case_of.push(cases["items"][0]["id"].as_str().unwrap().to_string());
    }
    let r = app
        .post(
            "/api/v1/users",
            &app.admin_token,
            &json!({"username": "nurse", "display_name": "王护士", "password": PASSWORD,
                    "role": "hospital_staff", "hospital_id": own}),
        )
        .await;
    assert_eq!(r.status(), 201);
    b.sign_in(&app.base, "nurse").await;
    b.wait_for("/worklists/overdue").await;
    b.d()
        .goto(format!("{}/cases/{}", app.base, case_of[0]))
        .await
        .unwrap();
    assert!(b.d().source().await.unwrap().contains("ZJ03-C300"));
    b.d()
        .goto(format!("{}/cases/{}", app.base, case_of[1]))
        .await
        .unwrap();
    let text = b
        .d()
        .find(By::Tag("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("没有找到该页面"), "{text}");
    assert!(!b.d().source().await.unwrap().contains("ZJ04"));
    b.shot("case-of-another-hospital").await;
    b.assert_no_csp_violation("not-found page").await;
    b.quit().await;
}

#[tokio::test]
async fn every_console_page_renders_in_both_languages_without_a_csp_violation() {
    let Some(b) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let lab = app.staff_token("lab", "clinician", None).await;
    let (_, token) = app.hospital_with_token("ZJ05").await;
    let infant = positive_infant(&app, &token, &lab, "E500", &[("TSH", 25.0)]).await;
    crate::helpers::register_infant(&app, &token, "E501", 24 * 12).await;
    user(&app, "coord", "周协调员", "coordinator").await;
    b.sign_in(&app.base, "coord").await;
    b.wait_for("/worklists/overdue").await;
    let cases: Value = app
        .get(&format!("/api/v1/cases?infant_id={infant}"), &lab)
        .await
        .json()
        .await
        .unwrap();
    let case = cases["items"][0]["id"].as_str().unwrap().to_string();
    // A child with hearing loss referred in, for the management pages.
    let e501: Value = app
        .get("/api/v1/infants?mrn=E501", &lab)
        .await
        .json()
        .await
        .unwrap();
    let mgr = app.staff_token("mgr", "coordinator", None).await;
    let r = app
        .post(
            "/api/v1/management/episodes",
            &mgr,
            &json!({"infant_id": e501["items"][0]["id"], "condition": "HL", "diagnosed_at": crate::helpers::epoch()}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let episode = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let pages = [
        ("worklists", "/worklists/due_48h".to_string()),
        ("case", format!("/cases/{case}")),
        ("search", "/infants?q=ZJ05-E500".to_string()),
        ("infant", format!("/infants/{infant}")),
        ("missed", "/missed?programme=DBS".to_string()),
        ("failed", "/notifications/failed".to_string()),
        ("password", "/password".to_string()),
        ("management", "/management?days=90".to_string()),
        ("episode", format!("/management/episodes/{episode}")),
        ("quality", "/quality".to_string()),
        ("hospital", "/hospital".to_string()),
        ("scorecard", "/quality/scorecard?month=2026-11".to_string()),
        (
            "quality-members",
            "/quality/recall_rate?part=denominator".to_string(),
        ),
    ];
    for lang in ["zh-CN", "en"] {
        b.d()
            .goto(format!("{}/lang/{lang}?back=/worklists/overdue", app.base))
            .await
            .unwrap();
        for (name, path) in &pages {
            b.d().goto(format!("{}{path}", app.base)).await.unwrap();
            let html = b.d().find(By::Tag("html")).await.unwrap();
            assert_eq!(
                html.attr("lang").await.unwrap().as_deref(),
                Some(lang),
                "{path}"
            );
            let title = b.d().title().await.unwrap();
            assert!(title.ends_with("· Guthrie"), "{path}: {title}");
            // Every page has one main heading and no English key left untranslated.
            let h1 = b
                .d()
                .find(By::Tag("h1"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(!h1.is_empty() && !h1.contains('_'), "{path}: {h1}");
            if *name == "hospital" {
                // A centre user who has chosen no hospital is offered the choice, not a blank page.
                b.d().find(By::Css("select#hospital")).await.unwrap();
                assert!(!text_of(&b, "#hospital-choose").await.is_empty());
            }
            b.assert_no_csp_violation(path).await;
            b.assert_accessible(path).await;
            // Action boxes carry their titles inside the box (a title on the border ran over
            // it when it took two lines).
            let on_border = b
                .d()
                .execute(
                    "return [...document.querySelectorAll('form.action fieldset > legend')] \
                       .filter(l => l.getBoundingClientRect().top \
                         - l.parentElement.getBoundingClientRect().top < 5).length;",
                    vec![],
                )
                .await
                .unwrap();
            assert_eq!(
                on_border.json(),
                &json!(0),
                "{path}: a title on its box's border"
            );
            b.shot(&format!("{name}-{lang}")).await;
        }
    }
    // The check can fail: an image without a text alternative is a critical violation.
    b.d()
        .execute(
            "document.querySelector('main').insertAdjacentHTML('beforeend', '<img src=\"/static/app.css\">')",
            vec![],
        )
        .await
        .unwrap();
    assert!(b.axe_violations().await.contains("image-alt"));
    b.quit().await;
}

/// The text of the first element matching `css`, waiting (up to 5 s) for the page after a
/// post to show it.
pub(crate) async fn text_of(b: &Browser, css: &str) -> String {
    for _ in 0..50 {
        if let Ok(el) = b.d().find(By::Css(css)).await
            && let Ok(text) = el.text().await
        {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} not found on {}", b.path().await);
}

/// Clicks the first element matching `css`.
pub(crate) async fn click(b: &Browser, css: &str) {
    b.d()
        .find(By::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Replaces the value of the field with id `id`.
pub(crate) async fn replace(b: &Browser, id: &str, text: &str) {
    let el = b.d().find(By::Id(id)).await.unwrap();
    el.clear().await.unwrap();
    el.send_keys(text).await.unwrap();
}
