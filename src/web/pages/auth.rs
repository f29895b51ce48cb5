//! Signing in and out, the language switch, and changing one's password. Signing in makes a new
//! session (a new random id, whatever cookie came with the request), so a planted session id is
//! never promoted; signing out and a password change end it.

use actix_web::http::StatusCode;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::{Chrome, render, see_other};
use crate::db;
use crate::error::AppError;
use crate::services::admin::{accounts, sessions};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::i18n::{self, Tr};
use crate::web::session::{self, Console, LANG_COOKIE};

#[derive(Template)]
#[template(path = "login.html", config = "src/web/askama.toml")]
struct LoginPage {
    c: Chrome,
    notice: Option<String>,
    error: Option<String>,
    username: String,
}

/// Why the sign-in page is shown.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    /// `signed_out`, `session_ended` or `password_changed`.
    m: Option<String>,
}

/// `GET /`: the hospital view for hospital staff, the worklists for the centre, or the
/// sign-in page.
#[get("/")]
pub async fn home(req: HttpRequest) -> HttpResponse {
    let to = match req.extensions().get::<sessions::Active>() {
        Some(a) if a.principal.scope().hospital_filter().is_some() => "/hospital",
        Some(_) => "/worklists/overdue",
        None => "/login",
    };
    see_other(to)
}

/// `GET /login`.
#[get("/login")]
pub async fn login_page(tr: Tr, q: web::Query<LoginQuery>) -> Result<HttpResponse, WebError> {
    let notice =
        q.m.as_deref()
            .filter(|m| matches!(*m, "signed_out" | "session_ended" | "password_changed"))
            .map(|m| tr.t(m));
    render(
        StatusCode::OK,
        &LoginPage {
            c: Chrome::signed_out(tr, "sign_in_title", "/login"),
            notice,
            error: None,
            username: String::new(),
        },
    )
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
}

/// `POST /login`: a new session and its cookie, then the worklists.
#[post("/login")]
pub async fn login(
    req: HttpRequest,
    tr: Tr,
    state: web::Data<AppState>,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, WebError> {
    let LoginForm { username, password } = form.into_inner();
    let again = |error: String, username: String, status| {
        render(
            status,
            &LoginPage {
                c: Chrome::signed_out(tr, "sign_in_title", "/login"),
                notice: None,
                error: Some(error),
                username,
            },
        )
    };
    let ip = crate::auth::rate_limit::client_ip(&req, state.settings.server.behind_proxy);
    if let Err(seconds) = state.login_limiter.check(ip) {
        tracing::warn!("console sign-in rate limit reached");
        return again(
            tr.f("sign_in_rate_limited", &[("seconds", &seconds)]),
            username,
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let env = state.settings.environment;
    let old = req
        .cookie(session::cookie_name(&req, env))
        .map(|c| c.value().to_string());
    let (now, life) = (state.now(), state.settings.auth.session_lifetimes());
    let name = username.clone();
    let started = db::run(&state.pool, move |c| {
        if let Some(old) = old {
            sessions::sign_out(c, &old)?;
        }
        sessions::sign_in(c, &name, &password, now, life)
    })
    .await?;
    let Some(s) = started else {
        tracing::info!("console sign-in refused");
        return again(tr.t("sign_in_failed"), username, StatusCode::UNAUTHORIZED);
    };
    tracing::info!("console sign-in");
    let mut res = see_other(if s.must_change_password {
        "/password?first=1"
    } else {
        "/"
    });
    res.add_cookie(&session::cookie(
        &req,
        env,
        session::cookie_name(&req, env),
        s.cookie_id,
    ))
    .map_err(|e| WebError::App(AppError::Unexpected(anyhow::anyhow!("cookie: {e}"))))?;
    Ok(res)
}

/// A form that carries only the CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

/// `POST /logout`.
#[post("/logout")]
pub async fn logout(
    req: HttpRequest,
    c: Console,
    state: web::Data<AppState>,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, WebError> {
    c.check_csrf(&req, form.csrf.as_deref())?;
    let env = state.settings.environment;
    let name = session::cookie_name(&req, env);
    if let Some(id) = req.cookie(name).map(|c| c.value().to_string()) {
        db::run(&state.pool, move |conn| sessions::sign_out(conn, &id)).await?;
    }
    let mut res = see_other("/login?m=signed_out");
    res.add_removal_cookie(&session::removal(&req, env, name))
        .map_err(|e| WebError::App(AppError::Unexpected(anyhow::anyhow!("cookie: {e}"))))?;
    Ok(res)
}

/// Where to go back to after switching language.
#[derive(Debug, Deserialize)]
pub struct LangQuery {
    back: Option<String>,
}

/// `GET /lang/{locale}`: the session's language (or, signed out, a cookie), then back to the
/// page (a local path only).
#[get("/lang/{locale}")]
pub async fn language(
    req: HttpRequest,
    state: web::Data<AppState>,
    locale: web::Path<String>,
    q: web::Query<LangQuery>,
) -> Result<HttpResponse, WebError> {
    let locale = i18n::supported(&locale).ok_or(WebError::NotFound)?;
    let back = q
        .back
        .as_deref()
        .filter(|b| b.starts_with('/') && !b.starts_with("//") && !b.contains('\\'))
        .unwrap_or("/");
    let active = req.extensions().get::<sessions::Active>().cloned();
    if let Some(a) = active {
        db::run(&state.pool, move |c| {
            sessions::set_locale(c, &a.id_hash, locale)
        })
        .await?;
    }
    let mut res = see_other(back);
    let env = state.settings.environment;
    res.add_cookie(&session::cookie(&req, env, LANG_COOKIE, locale.to_string()))
        .map_err(|e| WebError::App(AppError::Unexpected(anyhow::anyhow!("cookie: {e}"))))?;
    Ok(res)
}

#[derive(Template)]
#[template(path = "password.html", config = "src/web/askama.toml")]
struct PasswordPage {
    c: Chrome,
    errors: Vec<FieldError>,
    first: bool,
}

/// Whether the password page follows a sign-in with a one-time password.
#[derive(Debug, Default, Deserialize)]
pub struct PasswordQuery {
    first: Option<String>,
}

/// One line of a form's error summary, linked to its field.
#[derive(Debug, Clone)]
pub struct FieldError {
    /// The field's id.
    pub field: String,
    /// The field's label.
    pub label: String,
    /// What is wrong.
    pub message: String,
}

/// `GET /password`.
#[get("/password")]
pub async fn password_page(
    c: Console,
    q: web::Query<PasswordQuery>,
) -> Result<HttpResponse, WebError> {
    render(
        StatusCode::OK,
        &PasswordPage {
            c: Chrome::of(&c, "change_password", "/password"),
            errors: vec![],
            first: q.first.is_some(),
        },
    )
}

/// The password form.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    csrf: Option<String>,
    current_password: String,
    new_password: String,
    confirm_password: String,
}

/// `POST /password`: on success every session of the user ends, this one included.
#[post("/password")]
pub async fn change_password(
    req: HttpRequest,
    c: Console,
    state: web::Data<AppState>,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, WebError> {
    c.check_csrf(&req, form.csrf.as_deref())?;
    let f = form.into_inner();
    let tr = c.tr;
    let label = |field: &str| tr.t(field);
    let show = |errors: Vec<FieldError>| {
        render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &PasswordPage {
                first: false,
                c: Chrome::of(&c, "change_password", "/password"),
                errors,
            },
        )
    };
    if f.new_password != f.confirm_password {
        return show(vec![FieldError {
            field: "confirm_password".into(),
            label: label("confirm_password"),
            message: tr.t("passwords_differ"),
        }]);
    }
    let ip = crate::auth::rate_limit::client_ip(&req, state.settings.server.behind_proxy);
    if state.login_limiter.check(ip).is_err() {
        return Err(WebError::Forbidden);
    }
    let key = c.session.principal.key();
    let id = c
        .session
        .principal
        .subject
        .parse()
        .map_err(|_| WebError::NotFound)?;
    let now = state.now();
    let done = db::run(&state.pool, move |conn| {
        accounts::change_own_password(conn, id, &f.current_password, f.new_password, now)
    })
    .await;
    match done {
        Ok(()) => {
            state.token_versions.forget(&key);
            let env = state.settings.environment;
            let mut res = see_other("/login?m=password_changed");
            res.add_removal_cookie(&session::removal(
                &req,
                env,
                session::cookie_name(&req, env),
            ))
            .map_err(|e| WebError::App(AppError::Unexpected(anyhow::anyhow!("cookie: {e}"))))?;
            Ok(res)
        }
        Err(AppError::Validation(errors)) => show(
            errors
                .0
                .into_iter()
                .flat_map(|(field, messages)| {
                    // The service names the new password `password`.
                    let field = if field == "password" {
                        "new_password".to_string()
                    } else {
                        field
                    };
                    messages.into_iter().map(move |message| FieldError {
                        label: label(&field),
                        field: field.clone(),
                        message: crate::web::field_messages::translate(tr, &message),
                    })
                })
                .collect(),
        ),
        Err(e) => Err(e.into()),
    }
}
