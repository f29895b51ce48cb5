//! `/api/v1/auth`: staff login, the OAuth2 client-credentials token endpoint, the caller's own
//! identity and password change. Login and token are rate-limited per client address, and a
//! failure never says whether the username or client exists.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::json::{ApiJson, parse, read_limited};
use crate::db;
use crate::domain::principal::{Principal, PrincipalKind};
use crate::domain::role::Role;
use crate::error::{AppError, ErrorCode};
use crate::services::admin::accounts;
use crate::state::AppState;

/// Staff login.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The staff user's username.
    pub username: String,
    /// The staff user's password.
    pub password: String,
}

/// An issued access token (OAuth2 token response shape).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// The JWT.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until expiry.
    pub expires_in: i64,
    /// Role granted.
    pub role: Role,
    /// Hospital of a hospital-bound principal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hospital_id: Option<String>,
}

/// Client-credentials grant, as form fields or JSON; credentials may instead come by HTTP Basic.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientTokenRequest {
    /// Must be `client_credentials`.
    pub grant_type: String,
    /// Public client id (`gc_…`).
    pub client_id: Option<String>,
    /// Client secret (`gs_…`).
    pub client_secret: Option<String>,
    /// Ignored; tokens carry the client's fixed role.
    pub scope: Option<String>,
}

/// Who the caller is.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    /// User id or client row id.
    pub subject: String,
    /// `user` or `client`.
    pub kind: String,
    /// The user's role.
    pub role: Role,
    /// Hospital, for hospital-bound roles.
    pub hospital_id: Option<String>,
}

/// Own password change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// Current password.
    pub current_password: String,
    /// New password (at least 12 characters).
    pub new_password: String,
}

fn rate_limit(req: &HttpRequest, state: &AppState) -> Result<(), AppError> {
    let ip = crate::auth::rate_limit::client_ip(req, state.settings.server.behind_proxy);
    state.login_limiter.check(ip).map_err(|retry_after_secs| {
        tracing::warn!("login rate limit reached");
        AppError::RateLimited { retry_after_secs }
    })
}

/// A token for `p` under its principal's token `version`. Tokens live in real time, not the
/// injected clock that domain logic runs on: they are checked against the wall clock.
fn token_response(
    state: &AppState,
    (p, version): &(Principal, i32),
    ttl: i64,
) -> Result<HttpResponse, AppError> {
    let access_token = state.jwt.issue(p, *version, ttl, chrono::Utc::now())?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: ttl,
            role: p.role,
            hospital_id: p.hospital_id.map(|h| h.to_string()),
        }))
}

/// Staff login with username and password.
#[utoipa::path(tag = "auth", request_body = LoginRequest, responses(
    (status = 200, body = TokenResponse), (status = 401, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
#[post("/auth/login")]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ApiJson<LoginRequest>,
) -> Result<HttpResponse, AppError> {
    rate_limit(&req, &state)?;
    let LoginRequest { username, password } = body.0;
    let now = state.now();
    let found = db::run(&state.pool, move |c| {
        accounts::login_user(c, &username, &password, now)
    })
    .await?;
    let Some(issued) = found else {
        tracing::info!("staff login refused");
        return Err(AppError::Unauthorized {
            code: ErrorCode::InvalidCredentials,
            detail: "username or password is wrong".into(),
        });
    };
    tracing::info!(user.id = %issued.0.subject, "staff login");
    token_response(&state, &issued, state.settings.auth.staff_token_ttl_secs)
}

/// OAuth2 client-credentials grant for a hospital's REST client.
#[utoipa::path(tag = "auth", request_body(content = ClientTokenRequest, content_type = "application/x-www-form-urlencoded"), responses(
    (status = 200, body = TokenResponse), (status = 400, body = crate::error::Problem), (status = 401, body = crate::error::Problem)))]
#[post("/auth/token")]
pub async fn token(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    rate_limit(&req, &state)?;
    let body = read_limited(
        &mut payload.into_inner(),
        state.settings.server.body_limit_bytes,
    )
    .await?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut form: ClientTokenRequest = if content_type.starts_with("application/json") {
        parse(&body)?
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        serde_urlencoded_like(&body)?
    } else {
        return Err(AppError::UnsupportedMediaType);
    };
    if form.grant_type != "client_credentials" {
        return Err(AppError::bad_field(
            ErrorCode::UnsupportedGrantType,
            "grant_type",
            "only client_credentials is supported",
        ));
    }
    if let Some((id, secret)) = basic_credentials(&req) {
        form.client_id = Some(id);
        form.client_secret = Some(secret);
    }
    let (Some(id), Some(secret)) = (form.client_id, form.client_secret) else {
        return Err(AppError::Unauthorized {
            code: ErrorCode::InvalidClient,
            detail: "client authentication failed".into(),
        });
    };
    let found = db::run(&state.pool, move |c| {
        accounts::login_client(c, &id, &secret)
    })
    .await?;
    let Some(issued) = found else {
        tracing::info!("client token refused");
        return Err(AppError::Unauthorized {
            code: ErrorCode::InvalidClient,
            detail: "client authentication failed".into(),
        });
    };
    tracing::info!(client.id = %issued.0.subject, "client token issued");
    token_response(&state, &issued, state.settings.auth.client_token_ttl_secs)
}

/// Parses a form body through `actix_web::web::Form`'s own decoder rules (serde_urlencoded).
fn serde_urlencoded_like(body: &[u8]) -> Result<ClientTokenRequest, AppError> {
    let pairs: Vec<(String, String)> = url_decode_pairs(body)?;
    let map: serde_json::Map<String, serde_json::Value> = pairs
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    parse(&serde_json::to_vec(&map).map_err(anyhow::Error::from)?)
}

fn url_decode_pairs(body: &[u8]) -> Result<Vec<(String, String)>, AppError> {
    let text = std::str::from_utf8(body).map_err(|_| AppError::BadRequest {
        code: ErrorCode::MalformedForm,
        detail: "form body is not UTF-8".into(),
        field: None,
    })?;
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((percent_decode(k)?, percent_decode(v)?))
        })
        .collect()
}

fn percent_decode(s: &str) -> Result<String, AppError> {
    let bad = || AppError::BadRequest {
        code: ErrorCode::MalformedForm,
        detail: "bad percent-encoding".into(),
        field: None,
    };
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b.get(i + 1..i + 3).ok_or_else(bad)?;
                let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| bad())
}

fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = v.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((percent_decode(id).ok()?, percent_decode(secret).ok()?))
}

/// The caller's identity, from the token.
#[utoipa::path(tag = "auth", security(("bearer" = [])), responses((status = 200, body = MeResponse), (status = 401, body = crate::error::Problem)))]
#[get("/auth/me")]
pub async fn me(p: Principal) -> HttpResponse {
    HttpResponse::Ok().json(MeResponse {
        subject: p.subject,
        kind: match p.kind {
            PrincipalKind::User => "user".into(),
            PrincipalKind::Client => "client".into(),
            PrincipalKind::Job => "job".into(),
        },
        role: p.role,
        hospital_id: p.hospital_id.map(|h| h.to_string()),
    })
}

/// Change one's own password (staff users). Rate-limited per address like login; every token
/// of the user, this one included, stops working (log in again with the new password).
#[utoipa::path(tag = "auth", security(("bearer" = [])), request_body = ChangePasswordRequest, responses(
    (status = 204), (status = 401, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
    (status = 429, body = crate::error::Problem)))]
#[post("/auth/password")]
pub async fn change_password(
    req: HttpRequest,
    p: Principal,
    state: web::Data<AppState>,
    body: ApiJson<ChangePasswordRequest>,
) -> Result<HttpResponse, AppError> {
    if p.kind != PrincipalKind::User {
        return Err(AppError::Forbidden);
    }
    rate_limit(&req, &state)?;
    let key = p.key();
    let ChangePasswordRequest {
        current_password,
        new_password,
    } = body.0;
    let now = state.now();
    db::run(&state.pool, move |c| {
        let id = p
            .subject
            .parse()
            .map_err(|_| AppError::NotFound { entity: "user" })?;
        accounts::change_own_password(c, id, &current_password, new_password, now)
    })
    .await?;
    state.token_versions.forget(&key);
    Ok(HttpResponse::NoContent().finish())
}
