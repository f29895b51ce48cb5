//! Login, client credentials and every way a token is refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{JWT_SECRET, TestApp, problem};

#[tokio::test]
async fn staff_login_succeeds_and_me_reports_the_role() {
    let app = TestApp::spawn().await;
    let r = app.get("/api/v1/auth/me", &app.admin_token).await;
    assert_eq!(r.status(), 200);
    let me: Value = r.json().await.unwrap();
    assert_eq!(me["role"], "admin");
    assert_eq!(me["kind"], "user");
}

#[tokio::test]
async fn login_failures_look_the_same_for_unknown_users_and_wrong_passwords() {
    let app = TestApp::spawn().await;
    let mut bodies = vec![];
    for (u, p) in [
        ("admin", "wrong-password-123"),
        ("nobody", "wrong-password-123"),
    ] {
        let r = app
            .req(Method::POST, "/api/v1/auth/login", None)
            .json(&json!({"username": u, "password": p}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let p = problem(r).await;
        assert_eq!(p["code"], "invalid_credentials");
        bodies.push(p);
    }
    assert_eq!(
        bodies[0], bodies[1],
        "the answer must not reveal whether the username exists"
    );
}

#[tokio::test]
async fn login_is_rate_limited_per_address() {
    let app = TestApp::spawn_with(&[("GUTHRIE__AUTH__LOGIN_ATTEMPTS_PER_MINUTE", "3")]).await;
    // spawn_with already used one attempt to log the admin in.
    let attempt = || {
        app.req(Method::POST, "/api/v1/auth/login", None)
            .json(&json!({"username": "admin", "password": "wrong-password-123"}))
            .send()
    };
    assert_eq!(attempt().await.unwrap().status(), 401);
    assert_eq!(attempt().await.unwrap().status(), 401);
    let r = attempt().await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_some());
    assert_eq!(problem(r).await["code"], "rate_limited");
    // The token endpoint shares the limit.
    let r = app.client_token("gc_x", "gs_y").await;
    assert_eq!(r.status(), 429);
}

#[tokio::test]
async fn guessing_the_current_password_is_rate_limited_like_login() {
    let app = TestApp::spawn_with(&[("GUTHRIE__AUTH__LOGIN_ATTEMPTS_PER_MINUTE", "4")]).await;
    // Two logins so far (the admin's and this user's).
    let token = app.staff_token("guesser", "viewer", None).await;
    let guess = || {
        app.req(Method::POST, "/api/v1/auth/password", Some(&token))
            .json(&json!({"current_password": "not-it-at-all", "new_password": "another-long-password"}))
            .send()
    };
    assert_eq!(guess().await.unwrap().status(), 422);
    assert_eq!(guess().await.unwrap().status(), 422);
    let r = guess().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(problem(r).await["code"], "rate_limited");
}

async fn status_and_challenge(app: &TestApp, token: &str) -> (u16, String, String) {
    let r = app.get("/api/v1/infants", token).await;
    let status = r.status().as_u16();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let code = problem(r).await["code"].as_str().unwrap().to_string();
    (status, challenge, code)
}

fn claims(overrides: Value) -> Value {
    let now = Utc::now().timestamp();
    let mut c = json!({
        "iss": "guthrie", "aud": "guthrie-api", "sub": "u1", "iat": now, "exp": now + 600, "ver": 0,
        "jti": "j", "role": "admin", "kind": "user"
    });
    for (k, v) in overrides.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

fn hs256(c: &Value, secret: &str) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        c,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn every_bad_token_is_refused_with_401_and_a_challenge() {
    let app = TestApp::spawn().await;
    let me: Value = app
        .get("/api/v1/auth/me", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    let admin = json!({"sub": me["subject"]});
    let claims = |extra: Value| {
        let mut c = claims(admin.clone());
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    // Sanity: a well-formed token signed with the configured secret is accepted.
    assert_eq!(
        app.get("/api/v1/auth/me", &hs256(&claims(json!({})), JWT_SECRET))
            .await
            .status(),
        200
    );

    let none_token = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims(json!({})).to_string())
    );
    let hs512 = encode(
        &Header::new(Algorithm::HS512),
        &claims(json!({})),
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    let cases = [
        ("alg none", none_token),
        ("other algorithm", hs512),
        (
            "bad signature",
            hs256(&claims(json!({})), "another-secret-0123456789-abcdefghijkl"),
        ),
        (
            "expired",
            hs256(
                &claims(json!({"exp": Utc::now().timestamp() - 3600})),
                JWT_SECRET,
            ),
        ),
        (
            "wrong issuer",
            hs256(&claims(json!({"iss": "someone-else"})), JWT_SECRET),
        ),
        (
            "wrong audience",
            hs256(&claims(json!({"aud": "other-api"})), JWT_SECRET),
        ),
        (
            "hospital role without hospital",
            hs256(
                &claims(json!({"role": "hospital_client", "kind": "client"})),
                JWT_SECRET,
            ),
        ),
        ("garbage", "not.a.jwt".to_string()),
        (
            "issued in the future",
            hs256(
                &claims(json!({"iat": Utc::now().timestamp() + 600})),
                JWT_SECRET,
            ),
        ),
        (
            "not valid before a future time",
            hs256(
                &claims(json!({"nbf": Utc::now().timestamp() + 600})),
                JWT_SECRET,
            ),
        ),
        (
            "an older token version",
            hs256(&claims(json!({"ver": -1})), JWT_SECRET),
        ),
        (
            "an unknown subject",
            hs256(&claims(json!({"sub": "u1"})), JWT_SECRET),
        ),
    ];
    for (name, token) in cases {
        let (status, challenge, code) = status_and_challenge(&app, &token).await;
        assert_eq!(status, 401, "{name}");
        assert!(
            challenge.starts_with("Bearer") && challenge.contains("invalid_token"),
            "{name}: {challenge}"
        );
        assert_eq!(code, "invalid_token", "{name}");
    }
    let r = app
        .req(Method::GET, "/api/v1/infants", None)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], r#"Bearer realm="guthrie""#);
    assert_eq!(problem(r).await["code"], "missing_token");
}

#[tokio::test]
async fn client_credentials_give_a_hospital_bound_token() {
    let app = TestApp::spawn().await;
    let h = app.hospital("H1").await;
    let (id, secret) = app.client(&h).await;

    // Form, JSON and HTTP Basic all work.
    let r = app.client_token(&id, &secret).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["role"], "hospital_client");
    assert_eq!(t["hospital_id"], h.as_str());
    let me: Value = app
        .get("/api/v1/auth/me", t["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["hospital_id"], h.as_str());

    let r = app
        .req(Method::POST, "/api/v1/auth/token", None)
        .json(
            &json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .req(Method::POST, "/api/v1/auth/token", None)
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Wrong secret and unknown client answer alike; wrong grant type is a 400.
    let a = problem(app.client_token(&id, "gs_wrong").await).await;
    let b = problem(app.client_token("gc_unknown", &secret).await).await;
    assert_eq!(a, b);
    assert_eq!(a["status"], 401);
    assert_eq!(a["code"], "invalid_client");
    let r = app
        .req(Method::POST, "/api/v1/auth/token", None)
        .form(&[
            ("grant_type", "password"),
            ("client_id", &id),
            ("client_secret", &secret),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(problem(r).await["code"], "unsupported_grant_type");
}

#[tokio::test]
async fn rotation_and_deactivation_stop_the_old_credentials() {
    let app = TestApp::spawn().await;
    let h = app.hospital("H1").await;
    let (id, old) = app.client(&h).await;
    let list: Value = app
        .get("/api/v1/clients", &app.admin_token)
        .await
        .json()
        .await
        .unwrap();
    let row_id = list[0]["id"].as_str().unwrap().to_string();
    assert!(
        list[0].get("client_secret").is_none(),
        "secrets are never listed"
    );

    let r = app
        .post(
            &format!("/api/v1/clients/{row_id}/rotate-secret"),
            &app.admin_token,
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let new = r.json::<Value>().await.unwrap()["client_secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new, old);
    assert_eq!(app.client_token(&id, &old).await.status(), 401);
    assert_eq!(app.client_token(&id, &new).await.status(), 200);

    let r = app
        .patch(
            &format!("/api/v1/clients/{row_id}"),
            &app.admin_token,
            &json!({"active": false}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.client_token(&id, &new).await.status(), 401);

    // A deactivated hospital's clients cannot obtain tokens either.
    let (id2, s2) = app.client(&h).await;
    app.patch(
        &format!("/api/v1/hospitals/{h}"),
        &app.admin_token,
        &json!({"active": false}),
    )
    .await;
    assert_eq!(app.client_token(&id2, &s2).await.status(), 401);
}

#[tokio::test]
async fn password_change_requires_the_current_password() {
    let app = TestApp::spawn().await;
    let tok = app.staff_token("coord", "coordinator", None).await;
    let r = app
        .post(
            "/api/v1/auth/password",
            &tok,
            &json!({"current_password": "nope-nope-nope", "new_password": "another-long-password"}),
        )
        .await;
    assert_eq!(r.status(), 422);
    let r = app
        .post("/api/v1/auth/password", &tok, &json!({"current_password": "a-long-test-password", "new_password": "another-long-password"}))
        .await;
    assert_eq!(r.status(), 204);
    app.login("coord", "another-long-password").await;
}

async fn asymmetric(alg: &str, private: &str, public: &str) {
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let (private, public) = (format!("{dir}/{private}"), format!("{dir}/{public}"));
    let app = TestApp::spawn_with(&[
        ("GUTHRIE__AUTH__JWT_ALGORITHM", alg),
        ("GUTHRIE__AUTH__JWT_PRIVATE_KEY_FILE", &private),
        ("GUTHRIE__AUTH__JWT_PUBLIC_KEY_FILE", &public),
    ])
    .await;
    let header = jsonwebtoken::decode_header(&app.admin_token).unwrap();
    assert_eq!(format!("{:?}", header.alg), alg);
    assert_eq!(
        app.get("/api/v1/auth/me", &app.admin_token).await.status(),
        200
    );
    // An HS256 token made with the configured (unused) HS secret is refused: the algorithm is pinned.
    let forged = hs256(&claims(json!({})), JWT_SECRET);
    assert_eq!(app.get("/api/v1/auth/me", &forged).await.status(), 401);
}

#[tokio::test]
async fn eddsa_keys_are_supported() {
    asymmetric("EdDSA", "ed25519_private.pem", "ed25519_public.pem").await;
}

#[tokio::test]
async fn rs256_keys_are_supported() {
    asymmetric("RS256", "rsa_private.pem", "rsa_public.pem").await;
}
