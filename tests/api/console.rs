//! The staff console over HTTP (without a browser): sessions (sign-in, a new id at each sign-in,
//! sign-out, idle and absolute expiry, deactivation and password change), CSRF (token and
//! origin), the strict security headers, languages, and hospital scoping of the worklists.

use chrono::Duration;
use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::screening::{infant_with_card, panel};

pub const PASSWORD: &str = "a-long-test-password";

/// A browser's cookie jar for one user, by hand.
pub struct Browser<'a> {
    app: &'a TestApp,
    cookie: Option<String>,
    lang: Option<&'static str>,
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            cookie: None,
            lang: None,
        }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut r = self.app.req(method, path, None);
        if let Some(c) = &self.cookie {
            r = r.header("cookie", format!("guthrie_session={c}"));
        }
        if let Some(l) = self.lang {
            r = r.header("accept-language", l);
        }
        r
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.request(Method::POST, path)
            .header("sec-fetch-site", "same-origin")
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Signs in; returns the response and keeps the new session cookie.
    pub async fn sign_in(&mut self, username: &str, password: &str) -> Response {
        let r = self
            .post("/login", &[("username", username), ("password", password)])
            .await;
        if let Some(c) = session_cookie(&r) {
            self.cookie = Some(c);
        }
        r
    }

    /// The CSRF token of a signed-in page.
    pub async fn csrf(&self) -> String {
        let html = self.get("/password").await.text().await.unwrap();
        let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
        html[at..at + 43].to_string()
    }
}

/// The value of the session cookie a response sets, if any.
fn session_cookie(r: &Response) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("guthrie_session="))
        .map(|v| v.split(';').next().unwrap_or_default().to_string())
        .filter(|v| !v.is_empty())
}

pub fn location(r: &Response) -> &str {
    r.headers()["location"].to_str().unwrap()
}

/// A staff user; returns their id.
pub async fn user(app: &TestApp, username: &str, role: &str, hospital: Option<&str>) -> String {
    let r = app
        .post(
            "/api/v1/users",
            &app.admin_token,
            &json!({"username": username, "display_name": format!("{username} 王"), "password": PASSWORD,
                    "role": role, "hospital_id": hospital}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A hospital with a critical (T0) case; returns the hospital id and the case's infant reference.
async fn hospital_with_case(app: &TestApp, code: &str, lab: &str) -> (String, String) {
    let (id, token) = app.hospital_with_token(code).await;
    let mrn = format!("M{code}");
    let (_, barcode) = infant_with_card(app, &token, &mrn).await;
    let r = app
        .post(
            "/api/v1/results",
            lab,
            &json!({"cards": [{"barcode": barcode, "results": panel(&[("C16-OH", 0.5)])}]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    (id, format!("{code}-{mrn}"))
}

#[tokio::test]
async fn signing_in_opens_the_worklists_under_a_strict_policy() {
    let app = TestApp::spawn().await;
    let lab = app.staff_token("lab", "clinician", None).await;
    let (_, infant_ref) = hospital_with_case(&app, "HA", &lab).await;
    user(&app, "coord", "coordinator", None).await;
    let mut b = Browser::new(&app);

    let r = b.get("/").await;
    assert_eq!((r.status().as_u16(), location(&r)), (303, "/login"));
    let r = b.get("/login").await;
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(r.text().await.unwrap().contains("登录 Guthrie"));

    let r = b.sign_in("coord", "wrong-password-here").await;
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("用户名或密码错误"));
    assert!(b.cookie.is_none());

    let r = b.sign_in("coord", PASSWORD).await;
    assert_eq!((r.status().as_u16(), location(&r)), (303, "/"));
    let set = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(set.contains("httponly") && set.contains("samesite=lax") && set.contains("path=/"));
    assert_eq!(location(&b.get("/").await), "/worklists/overdue");

    let r = b.get("/worklists/critical").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let html = r.text().await.unwrap();
    assert!(html.contains(&infant_ref), "{html}");
    assert!(html.contains("T0 危急") && html.contains("coord 王"));
    assert!(!html.contains("style=") && !html.contains("<script>"));
    // The counters refresh as a fragment.
    let tabs = b
        .get("/worklists/critical/tabs")
        .await
        .text()
        .await
        .unwrap();
    assert!(tabs.starts_with("<nav id=\"tabs\"") && tabs.contains("hx-trigger=\"every 60s\""));
    // The console's cookie is no credential for the JSON API.
    let r = b
        .request(Method::GET, "/api/v1/auth/me")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // Unknown console paths are a page; unknown API paths stay problem+json.
    let r = b.get("/nowhere").await;
    assert_eq!(r.status(), 404);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let r = b.get("/api/v2/x").await;
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    // Static files are served with long caching.
    let r = b.get("/static/htmx-2.0.11.min.js").await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
}

#[tokio::test]
async fn each_sign_in_is_a_new_session_and_signing_out_ends_it() {
    let app = TestApp::spawn().await;
    user(&app, "coord", "coordinator", None).await;
    let mut b = Browser::new(&app);
    b.sign_in("coord", PASSWORD).await;
    let first = b.cookie.clone().unwrap();
    assert_eq!(first.len(), 43, "256 random bits, base64url");
    // Signing in again with a session (a planted one, say) never keeps its id.
    b.sign_in("coord", PASSWORD).await;
    let second = b.cookie.clone().unwrap();
    assert_ne!(first, second);
    let mut old = Browser::new(&app);
    old.cookie = Some(first);
    assert_eq!(location(&old.get("/worklists/overdue").await), "/login");

    let csrf = b.csrf().await;
    let r = b.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(location(&r), "/login?m=signed_out");
    let set = r.headers()["set-cookie"].to_str().unwrap();
    assert!(
        set.starts_with("guthrie_session=;") || set.contains("Max-Age=0"),
        "{set}"
    );
    assert_eq!(location(&b.get("/worklists/overdue").await), "/login");
    let page = Browser::new(&app)
        .get("/login?m=signed_out")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("已退出"));
}

#[tokio::test]
async fn sessions_end_when_idle_when_old_and_when_the_user_changes() {
    let app = TestApp::spawn().await;
    let id = user(&app, "coord", "coordinator", None).await;
    let mut b = Browser::new(&app);
    b.sign_in("coord", PASSWORD).await;
    let start = crate::helpers::epoch();

    // Idle: 29 minutes keep it, and every request moves the idle expiry.
    app.clock.set(start + Duration::minutes(29));
    assert_eq!(b.get("/worklists/overdue").await.status(), 200);
    app.clock.set(start + Duration::minutes(58));
    assert_eq!(b.get("/worklists/overdue").await.status(), 200);
    app.clock.set(start + Duration::minutes(89));
    assert_eq!(location(&b.get("/worklists/overdue").await), "/login");

    // Absolute: twelve hours after sign-in, however active.
    b.sign_in("coord", PASSWORD).await;
    let signed_in = start + Duration::minutes(89);
    let mut t = signed_in;
    while t < signed_in + Duration::hours(12) - Duration::minutes(20) {
        t += Duration::minutes(20);
        app.clock.set(t);
        assert_eq!(b.get("/worklists/overdue").await.status(), 200, "at {t}");
    }
    app.clock.set(signed_in + Duration::hours(12));
    assert_eq!(location(&b.get("/worklists/overdue").await), "/login");

    // Deactivation ends every session at once.
    b.sign_in("coord", PASSWORD).await;
    assert_eq!(b.get("/worklists/overdue").await.status(), 200);
    let r = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &app.admin_token,
            &json!({"active": false}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(location(&b.get("/worklists/overdue").await), "/login");
    let r = b.sign_in("coord", PASSWORD).await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn unsafe_requests_need_the_session_token_and_this_site() {
    let app = TestApp::spawn().await;
    user(&app, "coord", "coordinator", None).await;
    let mut b = Browser::new(&app);
    b.sign_in("coord", PASSWORD).await;
    let csrf = b.csrf().await;

    let r = b.post("/logout", &[]).await;
    assert_eq!(r.status(), 403);
    let r = b.post("/logout", &[("csrf", "forged")]).await;
    assert_eq!(r.status(), 403);
    // The right token from another site is refused before any handler runs; so is a sign-in
    // posted from another site.
    let from = |path: &str, header: (&str, &str), form: &[(&str, &str)]| {
        b.request(Method::POST, path)
            .header(header.0, header.1)
            .form(form)
            .send()
    };
    let token = [("csrf", csrf.as_str())];
    let credentials = [("username", "coord"), ("password", PASSWORD)];
    for r in [
        from("/logout", ("origin", "http://evil.example"), &token).await,
        from("/logout", ("sec-fetch-site", "cross-site"), &token).await,
        from("/login", ("sec-fetch-site", "cross-site"), &credentials).await,
    ] {
        assert_eq!(r.unwrap().status(), 403);
    }
    // Still signed in after all that; the header form of the token works too (htmx).
    assert_eq!(b.get("/worklists/overdue").await.status(), 200);
    let r = b
        .request(Method::POST, "/logout")
        .header("x-csrf-token", csrf.as_str())
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/login?m=signed_out");
}

#[tokio::test]
async fn changing_the_password_in_the_console_ends_the_session() {
    let app = TestApp::spawn().await;
    user(&app, "coord", "coordinator", None).await;
    let mut b = Browser::new(&app);
    b.sign_in("coord", PASSWORD).await;
    let mut other = Browser::new(&app);
    other.sign_in("coord", PASSWORD).await;
    let csrf = b.csrf().await;
    let new = "another-long-password";

    let change = |current: &'static str, confirm: &'static str| {
        let (b, csrf) = (&b, csrf.clone());
        async move {
            b.post(
                "/password",
                &[
                    ("csrf", csrf.as_str()),
                    ("current_password", current),
                    ("new_password", new),
                    ("confirm_password", confirm),
                ],
            )
            .await
        }
    };
    let r = change(PASSWORD, "different-one-here").await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("href=\"#confirm_password\"") && html.contains("不一致"),
        "{html}"
    );
    let r = change("not-the-password", new).await;
    assert_eq!(r.status(), 422);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("href=\"#current_password\"")
    );

    let r = change(PASSWORD, new).await;
    assert_eq!(location(&r), "/login?m=password_changed");
    // Every session of the user ended, the other browser's too.
    assert_eq!(location(&b.get("/worklists/overdue").await), "/login");
    assert_eq!(location(&other.get("/worklists/overdue").await), "/login");
    assert_eq!(b.sign_in("coord", PASSWORD).await.status(), 401);
    assert_eq!(b.sign_in("coord", new).await.status(), 303);
}

#[tokio::test]
async fn a_hospital_user_sees_their_hospitals_cases_only_in_their_language() {
    let app = TestApp::spawn().await;
    let lab = app.staff_token("lab", "clinician", None).await;
    let (a, ref_a) = hospital_with_case(&app, "HA", &lab).await;
    let (_, ref_b) = hospital_with_case(&app, "HB", &lab).await;
    user(&app, "nurse", "hospital_staff", Some(&a)).await;
    user(&app, "coord", "coordinator", None).await;

    let mut nurse = Browser::new(&app);
    nurse.lang = Some("en-GB,en;q=0.9");
    nurse.sign_in("nurse", PASSWORD).await;
    let html = nurse.get("/worklists/critical").await.text().await.unwrap();
    assert!(html.contains(&ref_a) && !html.contains(&ref_b), "{html}");
    assert!(html.contains("<html lang=\"en\">") && html.contains("T0 critical"));
    // No hospital filter for a hospital user: they have one hospital.
    assert!(!html.contains("id=\"hospital\""));

    let mut coord = Browser::new(&app);
    coord.sign_in("coord", PASSWORD).await;
    let html = coord.get("/worklists/critical").await.text().await.unwrap();
    assert!(html.contains(&ref_a) && html.contains(&ref_b));
    assert!(html.contains("<html lang=\"zh-CN\">"));
    // Filtering by hospital narrows the list.
    let html = coord
        .get(&format!("/worklists/critical?hospital={a}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(&ref_a) && !html.contains(&ref_b));
    // The language switch sticks to the session.
    let r = coord.get("/lang/en?back=/worklists/critical").await;
    assert_eq!(location(&r), "/worklists/critical");
    let html = coord.get("/worklists/critical").await.text().await.unwrap();
    assert!(html.contains("<html lang=\"en\">"));
    // Only local paths to go back to.
    let r = coord.get("/lang/zh-CN?back=//evil.example/").await;
    assert_eq!(location(&r), "/");
}

/// The id of the one case on `infant_ref`'s row of the critical worklist, as the page links it.
async fn case_link(b: &Browser<'_>, infant_ref: &str) -> String {
    let html = b.get("/worklists/critical").await.text().await.unwrap();
    let at = html.find(&format!(">{infant_ref}</a>")).expect("the row");
    let start = html[..at].rfind("/cases/").unwrap();
    html[start..at - 1].to_string()
}

fn version_of(html: &str) -> String {
    let at = html.find("name=\"version\" value=\"").unwrap() + 22;
    html[at..].split('"').next().unwrap().to_string()
}

#[tokio::test]
async fn case_page_actions_keep_the_apis_rules() {
    let app = TestApp::spawn().await;
    let lab = app.staff_token("lab", "clinician", None).await;
    let (a, ref_a) = hospital_with_case(&app, "HA", &lab).await;
    let (_, ref_b) = hospital_with_case(&app, "HB", &lab).await;
    let coord_id = user(&app, "coord", "coordinator", None).await;
    user(&app, "nurse", "hospital_staff", Some(&a)).await;
    let mut coord = Browser::new(&app);
    coord.sign_in("coord", PASSWORD).await;
    let case_b = case_link(&coord, &ref_b).await;
    let page = coord.get(&case_b).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(&ref_b) && html.contains("待联系"));
    let version = version_of(&html);
    let csrf = coord.csrf().await;

    // Another hospital's case is not there for a hospital user.
    let mut nurse = Browser::new(&app);
    nurse.sign_in("nurse", PASSWORD).await;
    let r = nurse.get(&case_b).await;
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("没有找到该页面"));
    assert!(
        nurse
            .get(&case_link(&nurse, &ref_a).await)
            .await
            .status()
            .is_success()
    );
    // Nor can they act on it.
    let nurse_csrf = nurse.csrf().await;
    let r = nurse
        .post(
            &format!("{case_b}/act"),
            &[
                ("csrf", &nurse_csrf),
                ("version", &version),
                ("kind", "note"),
                ("note", "x"),
            ],
        )
        .await;
    assert!(r.status() == 404 || r.status() == 403, "{}", r.status());

    // Without the session's token nothing happens.
    let r = coord
        .post(
            &format!("{case_b}/act"),
            &[("version", &version), ("kind", "note"), ("note", "x")],
        )
        .await;
    assert_eq!(r.status(), 403);

    // A transition the state does not allow is explained, and nothing is written.
    let r = coord
        .post(
            &format!("{case_b}/act"),
            &[
                ("csrf", &csrf),
                ("version", &version),
                ("kind", "record_recheck"),
            ],
        )
        .await;
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("allowed now"));
    // A resolution without its outcome is refused naming the field.
    let r = coord
        .post(
            &format!("{case_b}/act"),
            &[
                ("csrf", &csrf),
                ("version", &version),
                ("kind", "resolve"),
                ("outcome", "confirmed"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("transition.outcome.condition")
    );

    // A note at the version read goes in; the same form again is stale.
    let r = coord
        .post(
            &format!("{case_b}/act"),
            &[
                ("csrf", &csrf),
                ("version", &version),
                ("kind", "note"),
                ("note", "first note"),
            ],
        )
        .await;
    assert_eq!(location(&r), case_b);
    let r = coord
        .post(
            &format!("{case_b}/act"),
            &[
                ("csrf", &csrf),
                ("version", &version),
                ("kind", "note"),
                ("note", "second note"),
            ],
        )
        .await;
    assert_eq!(r.status(), 412);
    let html = r.text().await.unwrap();
    assert!(html.contains("其他人已修改此病例") && html.contains("first note"));
    assert!(!html.contains("second note"));

    // Assigning to oneself, then a contact attempt that reached the family.
    let html = coord.get(&case_b).await.text().await.unwrap();
    let version = version_of(&html);
    let r = coord
        .post(
            &format!("{case_b}/assign"),
            &[
                ("csrf", &csrf),
                ("version", &version),
                ("assignee", &coord_id),
            ],
        )
        .await;
    assert_eq!(location(&r), case_b);
    let r = coord
        .post(
            &format!("{case_b}/contact"),
            &[
                ("csrf", &csrf),
                ("channel", "phone"),
                ("outcome", "reached"),
            ],
        )
        .await;
    assert_eq!(location(&r), case_b);
    let html = coord.get(&case_b).await.text().await.unwrap();
    assert!(
        html.contains("已联系家属") && html.contains(&format!("value=\"{coord_id}\" selected"))
    );
    // The API sees the same case.
    let id = case_b.trim_start_matches("/cases/");
    let v: Value = app
        .get(&format!("/api/v1/cases/{id}"), &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["state"], "family_contacted");
    assert_eq!(v["assignee"], coord_id);
}

#[tokio::test]
async fn infants_are_found_by_what_staff_are_told_and_shown_with_their_cards() {
    let app = TestApp::spawn().await;
    let lab = app.staff_token("lab", "clinician", None).await;
    let (a, _) = hospital_with_case(&app, "HA", &lab).await;
    let (_, token_b) = app.hospital_with_token("HB").await;
    // Another infant at HB with its own phone and the mother's ID document (HA's has none).
    let mut body = crate::helpers::infant_body("MB2");
    body["mother"]["phones"] = json!(["139-0000-1111"]);
    let r = app.post("/api/v1/infants", &token_b, &body).await;
    assert_eq!(r.status(), 201);
    user(&app, "coord", "coordinator", None).await;
    user(&app, "nurse", "hospital_staff", Some(&a)).await;
    let mut coord = Browser::new(&app);
    coord.sign_in("coord", PASSWORD).await;

    let found = |html: &str, reference: &str| html.contains(&format!(">{reference}</a>"));
    for (q, want, not) in [
        ("HA-MHA", "HA-MHA", "HB-MB2"),
        ("BCMHA", "HA-MHA", "HB-MB2"),
        ("138 0013 8000", "HA-MHA", "HB-MB2"),
        ("13900001111", "HB-MB2", "HA-MHA"),
        ("11010519491231002x", "HB-MB2", "HA-MHA"),
    ] {
        let html = coord
            .get(&format!("/infants?q={}", urlencode(q)))
            .await
            .text()
            .await
            .unwrap();
        assert!(found(&html, want) && !found(&html, not), "{q}: {html}");
    }
    let html = coord
        .get("/infants?q=nothing-like-this")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("没有找到符合条件的婴儿"));
    // By birth date: HA's was born three days before the test clock's day, HB's one day before.
    let day = |n: i64| {
        (crate::helpers::epoch() + Duration::hours(8) - Duration::days(n))
            .date_naive()
            .to_string()
    };
    let html = coord
        .get(&format!("/infants?born_from={}&born_to={}", day(1), day(1)))
        .await
        .text()
        .await
        .unwrap();
    assert!(!found(&html, "HA-MHA") && found(&html, "HB-MB2"), "{html}");
    let html = coord
        .get(&format!("/infants?born_from={}&born_to={}", day(4), day(1)))
        .await
        .text()
        .await
        .unwrap();
    assert!(found(&html, "HA-MHA") && found(&html, "HB-MB2"), "{html}");

    // A hospital user finds only their own hospital's infants, by MRN alone too.
    let mut nurse = Browser::new(&app);
    nurse.sign_in("nurse", PASSWORD).await;
    let html = nurse
        .get("/infants?q=13900001111")
        .await
        .text()
        .await
        .unwrap();
    assert!(!found(&html, "HB-MB2"));
    let html = nurse.get("/infants?q=MHA").await.text().await.unwrap();
    assert!(found(&html, "HA-MHA"), "{html}");

    // The infant page: registration with the ID masked, screening, the card and why, the case.
    let html = coord.get("/infants?q=HA-MHA").await.text().await.unwrap();
    let at = html.find("href=\"/infants/").unwrap() + 6;
    let href = html[at..].split('"').next().unwrap().to_string();
    let page = coord.get(&href).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("婴儿 HA-MHA") && html.contains("BCMHA"),
        "{html}"
    );
    assert!(
        html.contains("C16-OH = 0.5"),
        "the marker behind the finding: {html}"
    );
    assert!(!html.contains("110105"), "no ID number is shown");
    assert!(html.contains("href=\"/cases/"));
    // The mother's ID only masked.
    let html = coord.get("/infants?q=HB-MB2").await.text().await.unwrap();
    let at = html.find("href=\"/infants/").unwrap() + 6;
    let hb = html[at..].split('"').next().unwrap().to_string();
    let html = coord.get(&hb).await.text().await.unwrap();
    assert!(html.contains("母亲证件号（脱敏）") && !html.contains("11010519491231002X"));
    assert_eq!(nurse.get(&hb).await.status(), 404);
    // Not for another hospital's user.
    let r = nurse
        .get(&href.replace(&href[9..], "00000000-0000-0000-0000-000000000000"))
        .await;
    assert_eq!(r.status(), 404);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn missed_screens_are_listed_per_programme_and_hospital() {
    let app = TestApp::spawn().await;
    let (a, token_a) = app.hospital_with_token("HA").await;
    let (_, token_b) = app.hospital_with_token("HB").await;
    // Ten days old with no card: past the blood-spot age; one born today is not.
    crate::helpers::register_infant(&app, &token_a, "OLD-A", 240).await;
    crate::helpers::register_infant(&app, &token_b, "OLD-B", 240).await;
    crate::helpers::register_infant(&app, &token_a, "NEW-A", 5).await;
    user(&app, "coord", "coordinator", None).await;
    user(&app, "nurse", "hospital_staff", Some(&a)).await;
    let mut coord = Browser::new(&app);
    coord.sign_in("coord", PASSWORD).await;
    let html = coord
        .get("/missed?programme=DBS")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(">HA-OLD-A</a>") && html.contains(">HB-OLD-B</a>"),
        "{html}"
    );
    assert!(!html.contains("NEW-A"));
    let html = coord
        .get(&format!("/missed?programme=DBS&hospital={a}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(">HA-OLD-A</a>") && !html.contains("HB-OLD-B"));
    let mut nurse = Browser::new(&app);
    nurse.sign_in("nurse", PASSWORD).await;
    let html = nurse
        .get("/missed?programme=DBS")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(">HA-OLD-A</a>") && !html.contains("HB-OLD-B"));
    // Naming another hospital widens nothing.
    let other = html.len();
    let html = nurse
        .get("/missed?programme=DBS&hospital=00000000-0000-0000-0000-000000000001")
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains("HA-OLD-A") && !html.contains("HB-OLD-B") && other > 0);
}

#[tokio::test]
async fn contacts_are_corrected_on_the_infant_page_and_searchable_at_once() {
    let app = TestApp::spawn().await;
    let lab = app.staff_token("lab", "clinician", None).await;
    hospital_with_case(&app, "HA", &lab).await;
    user(&app, "coord", "coordinator", None).await;
    let mut coord = Browser::new(&app);
    coord.sign_in("coord", PASSWORD).await;
    let html = coord.get("/infants?q=HA-MHA").await.text().await.unwrap();
    let at = html.find("href=\"/infants/").unwrap() + 6;
    let page = html[at..].split('"').next().unwrap().to_string();
    let csrf = coord.csrf().await;
    let form = |phones: &'static str| {
        [
            ("csrf", csrf.clone()),
            ("mother_name", "王芳".to_string()),
            ("phones", phones.to_string()),
            ("address", "杭州市上城区".to_string()),
        ]
    };
    let post = |fields: [(&'static str, String); 4]| {
        let (b, page) = (&coord, page.clone());
        async move {
            let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            b.post(&format!("{page}/contacts"), &f).await
        }
    };
    // A bad number is refused next to its field, and nothing changes.
    let r = post(form("12")).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("href=\"#phones\""), "{html}");
    assert!(html.contains("138 0013 8000") || html.contains("13800138000"));
    // A right one replaces the old number, in the page and in the search.
    let r = post(form("137 1111 2222, 0571-8888 9999")).await;
    assert_eq!(location(&r), page);
    let html = coord.get(&page).await.text().await.unwrap();
    assert!(html.contains("杭州市上城区"));
    let by_new = coord
        .get("/infants?q=13711112222")
        .await
        .text()
        .await
        .unwrap();
    assert!(by_new.contains(">HA-MHA</a>"), "{by_new}");
    let by_old = coord
        .get("/infants?q=13800138000")
        .await
        .text()
        .await
        .unwrap();
    assert!(!by_old.contains(">HA-MHA</a>"));
    // Without the token nothing is written.
    let r = coord
        .post(
            &format!("{page}/contacts"),
            &[("mother_name", "X"), ("phones", "13900000000")],
        )
        .await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn worklists_page_on_and_filter_by_assignee() {
    let app = TestApp::spawn().await;
    let lab = app.staff_token("lab", "clinician", None).await;
    let (_, ref_a) = hospital_with_case(&app, "HA", &lab).await;
    let (_, ref_b) = hospital_with_case(&app, "HB", &lab).await;
    let (_, ref_c) = hospital_with_case(&app, "HC", &lab).await;
    let coord_id = user(&app, "coord", "coordinator", None).await;
    let mut coord = Browser::new(&app);
    coord.sign_in("coord", PASSWORD).await;
    // Page by page, one row each: every case once, in order, then no next page.
    let mut seen = vec![];
    let mut path = "/worklists/critical?limit=1".to_string();
    loop {
        let html = coord.get(&path).await.text().await.unwrap();
        for r in [&ref_a, &ref_b, &ref_c] {
            if html.contains(&format!(">{r}</a>")) {
                seen.push(r.clone());
            }
        }
        let Some(at) = html.find("\" rel=\"next\"") else {
            break;
        };
        let start = html[..at].rfind("href=\"").unwrap() + 6;
        path = html[start..at].replace("&#38;", "&");
        assert!(seen.len() <= 3, "{seen:?}");
    }
    seen.sort();
    assert_eq!(seen, [ref_a.clone(), ref_b.clone(), ref_c.clone()]);
    // Assigning one case to the coordinator, then filtering by a colleague's id.
    let case_b = case_link(&coord, &ref_b).await;
    let html = coord.get(&case_b).await.text().await.unwrap();
    let version = version_of(&html);
    let csrf = coord.csrf().await;
    coord
        .post(
            &format!("{case_b}/assign"),
            &[
                ("csrf", &csrf),
                ("version", &version),
                ("assignee", &coord_id),
            ],
        )
        .await;
    for filter in ["me".to_string(), coord_id.clone()] {
        let html = coord
            .get(&format!("/worklists/critical?assignee={filter}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            html.contains(&format!(">{ref_b}</a>")) && !html.contains(&format!(">{ref_a}</a>"))
        );
    }
}

#[tokio::test]
async fn the_infant_page_shows_screens_consents_and_merges() {
    let app = TestApp::spawn().await;
    let (_, token) = app.hospital_with_token("HA").await;
    let (kept, born) = crate::helpers::register_infant(&app, &token, "K1", 60).await;
    let (dup, _) = crate::helpers::register_infant(&app, &token, "K2", 60).await;
    let at = |h: i64| (born + Duration::hours(h)).to_rfc3339();
    let r = app
        .post(&format!("/api/v1/infants/{kept}/hearing-screens"), &token,
              &json!({"stage": "initial", "method": "OAE", "left": "refer", "right": "pass", "tested_at": at(48)}))
        .await;
    assert_eq!(r.status(), 201);
    let r = app
        .post(&format!("/api/v1/infants/{kept}/cchd-screens"), &token,
              &json!({"measured_at": at(30), "right_hand_spo2": 98, "foot_spo2": 97, "murmur_grade": 0}))
        .await;
    assert_eq!(r.status(), 201);
    let r = app
        .post(&format!("/api/v1/infants/{kept}/consents"), &token,
              &json!({"programme": "HEAR", "decision": "consent", "guardian_name": "王芳", "signed_at": at(1)}))
        .await;
    assert_eq!(r.status(), 201);
    let r = app
        .post(
            &format!("/api/v1/infants/{kept}/merge"),
            &app.admin_token,
            &json!({"duplicate_id": dup}),
        )
        .await;
    assert_eq!(r.status(), 200);
    user(&app, "coord", "coordinator", None).await;
    let mut coord = Browser::new(&app);
    coord.sign_in("coord", PASSWORD).await;
    let html = coord
        .get(&format!("/infants/{kept}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("OAE · 左耳 refer · 右耳 pass"), "{html}");
    assert!(html.contains("右手 98% · 足 97% · 杂音 0 级"), "{html}");
    assert!(html.contains("<td>同意</td>"), "{html}");
    assert!(
        html.contains("听力复筛 ("),
        "the next step in words: {html}"
    );
    assert!(
        html.contains(&format!("href=\"/infants/{dup}\""))
            && html.contains("另一条重复记录并入本记录")
    );
}

#[tokio::test]
async fn the_session_cookie_is_secure_and_host_bound_except_on_loopback_http() {
    let app = TestApp::spawn().await;
    user(&app, "coord", "coordinator", None).await;
    let sign_in = |host: &'static str| {
        app.req(Method::POST, "/login", None)
            .header("host", host)
            .header("sec-fetch-site", "same-origin")
            .form(&[("username", "coord"), ("password", PASSWORD)])
            .send()
    };
    let r = sign_in("127.0.0.1:8080").await.unwrap();
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.starts_with("guthrie_session=") && !set.contains("Secure"),
        "{set}"
    );
    // The same server reached by a name that is not loopback (behind a TLS proxy, say).
    let r = sign_in("screening.example.cn").await.unwrap();
    let set = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set.starts_with("__Host-guthrie_session=") && set.contains("Secure"),
        "{set}"
    );
    assert!(set.contains("Path=/") && !set.contains("Domain"), "{set}");
}
