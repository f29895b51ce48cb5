//! The console's session middleware and extractors. A request's session cookie is resolved to
//! the signed-in user's [`Principal`] (the same one a token gives, so roles, hospital scoping
//! and the audit of reads apply unchanged); the page language is chosen; and every unsafe
//! request must come from this site (`Sec-Fetch-Site`, else `Origin`) before any handler runs.
//! Handlers then check the session's CSRF token ([`Console::check_csrf`]). The JSON API never
//! reads the cookie: this middleware wraps the console's routes only.

use std::future::{Ready, ready};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use super::error::WebError;
use super::i18n::{self, Tr};
use crate::api::observe::RequestId;
use crate::auth::secrets::eq_ct;
use crate::config::RunEnvironment;
use crate::db;
use crate::services::admin::sessions::{self, Active};
use crate::state::AppState;

/// The cookie over HTTPS (the `__Host-` prefix pins it to this host, path `/`, `Secure`).
pub const SECURE_COOKIE: &str = "__Host-guthrie_session";
/// The cookie over plain HTTP outside production (a developer's loopback).
pub const PLAIN_COOKIE: &str = "guthrie_session";
/// The language chosen before signing in.
pub const LANG_COOKIE: &str = "guthrie_lang";

/// Whether this request's cookies must be `Secure`: always, except over plain HTTP to a
/// loopback address outside production (a developer's machine, the tests).
pub fn secure_cookies(req: &HttpRequest, env: RunEnvironment) -> bool {
    let info = req.connection_info();
    let host = info.host();
    let loopback = ["127.0.0.1", "localhost", "[::1]"].iter().any(|l| {
        host == *l
            || host
                .strip_prefix(l)
                .is_some_and(|rest| rest.starts_with(':'))
    });
    env == RunEnvironment::Production || info.scheme() != "http" || !loopback
}

/// The session cookie's name for this request.
pub fn cookie_name(req: &HttpRequest, env: RunEnvironment) -> &'static str {
    if secure_cookies(req, env) {
        SECURE_COOKIE
    } else {
        PLAIN_COOKIE
    }
}

/// A cookie of the console: `HttpOnly`, `SameSite=Lax` (so a link in an escalation e-mail opens
/// the case), path `/`, `Secure` when [`secure_cookies`].
pub fn cookie(
    req: &HttpRequest,
    env: RunEnvironment,
    name: &str,
    value: String,
) -> Cookie<'static> {
    Cookie::build(name.to_string(), value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure_cookies(req, env))
        .finish()
}

/// A cookie that removes `name`.
pub fn removal(req: &HttpRequest, env: RunEnvironment, name: &str) -> Cookie<'static> {
    let mut c = cookie(req, env, name, String::new());
    c.make_removal();
    c
}

/// Whether an unsafe request comes from this site: `Sec-Fetch-Site` of `same-origin` (or `none`,
/// typed by the user), else an `Origin` equal to this server's; a request with neither header
/// (not from a browser, so it cannot carry a victim's cookie) passes, and still needs the token.
pub fn same_site(req: &HttpRequest) -> bool {
    let h = req.headers();
    if let Some(site) = h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    match h.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(origin) => {
            let info = req.connection_info();
            origin == format!("{}://{}", info.scheme(), info.host())
        }
        None => true,
    }
}

/// Resolves the session and the language, and refuses cross-site unsafe requests.
pub async fn load(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD);
    if unsafe_method && !same_site(req.request()) {
        tracing::warn!("console request from another site refused");
        let res = actix_web::ResponseError::error_response(&WebError::Csrf);
        return Ok(req.into_response(res).map_into_right_body());
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| {
            WebError::App(crate::error::AppError::Unexpected(anyhow::anyhow!(
                "application state missing"
            )))
        })?;
    let env = state.settings.environment;
    let name = cookie_name(req.request(), env);
    if let Some(id) = req.cookie(name).map(|c| c.value().to_string()) {
        let (now, life) = (state.now(), state.settings.auth.session_lifetimes());
        let active = db::run(&state.pool, move |c| sessions::resolve(c, &id, now, life))
            .await
            .map_err(WebError::from)?;
        if let Some(mut a) = active {
            if let Some(r) = req.extensions().get::<RequestId>() {
                a.principal.request_id = Some(r.id.clone());
                a.principal.correlation_id = r.correlation.clone();
            }
            tracing::Span::current().record("principal", a.principal.key());
            // A one-time password's session may only choose the user's own password.
            let path = req.path();
            let allowed = path == "/password"
                || path == "/logout"
                || path.starts_with("/lang/")
                || path.starts_with("/static/");
            if a.must_change_password && !allowed {
                let res = actix_web::HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, "/password?first=1"))
                    .finish();
                return Ok(req.into_response(res).map_into_right_body());
            }
            req.extensions_mut().insert(a);
        }
    }
    let locale = req
        .extensions()
        .get::<Active>()
        .and_then(|a| a.locale.clone())
        .or_else(|| req.cookie(LANG_COOKIE).map(|c| c.value().to_string()))
        .and_then(|l| i18n::supported(&l))
        .or_else(|| {
            req.headers()
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(i18n::from_accept_language)
        })
        .unwrap_or(i18n::DEFAULT);
    req.extensions_mut().insert(Tr::new(locale));
    Ok(next.call(req).await?.map_into_left_body())
}

impl FromRequest for Tr {
    type Error = WebError;
    type Future = Ready<Result<Self, WebError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(req
            .extensions()
            .get::<Tr>()
            .copied()
            .unwrap_or(Tr::new(i18n::DEFAULT))))
    }
}

/// A signed-in console user (the extractor redirects to the sign-in page otherwise).
#[derive(Debug, Clone)]
pub struct Console {
    /// The session.
    pub session: Active,
    /// The page language.
    pub tr: Tr,
}

impl Console {
    /// Refuses with 403 unless the user's role may do `a` (the one permission table).
    pub fn require(&self, a: crate::domain::role::Action) -> Result<(), WebError> {
        if self.session.principal.role.may(a) {
            Ok(())
        } else {
            Err(WebError::Forbidden)
        }
    }

    /// An unsafe request's checks: the session's CSRF token, then the role.
    pub fn authorize(
        &self,
        req: &HttpRequest,
        token: Option<&str>,
        a: crate::domain::role::Action,
    ) -> Result<(), WebError> {
        self.check_csrf(req, token)?;
        self.require(a)
    }

    /// Refuses unless `token` is this session's CSRF token (a form field, or the `X-CSRF-Token`
    /// header htmx sends).
    pub fn check_csrf(&self, req: &HttpRequest, token: Option<&str>) -> Result<(), WebError> {
        let header = req
            .headers()
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok());
        match token.or(header) {
            Some(t) if eq_ct(t, &self.session.csrf_token) => Ok(()),
            _ => {
                tracing::warn!("console request without a valid CSRF token refused");
                Err(WebError::Csrf)
            }
        }
    }
}

impl FromRequest for Console {
    type Error = WebError;
    type Future = Ready<Result<Self, WebError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let ext = req.extensions();
        ready(match ext.get::<Active>() {
            Some(a) => Ok(Console {
                session: a.clone(),
                tr: ext.get::<Tr>().copied().unwrap_or(Tr::new(i18n::DEFAULT)),
            }),
            None => Err(WebError::SignIn),
        })
    }
}
