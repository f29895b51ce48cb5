//! The console's pages, one module per screen.

pub mod admin;
pub mod auth;
pub mod cases;
pub mod hospital;
pub mod infants;
pub mod lists;
pub mod management;
pub mod quality;
pub mod worklists;

use actix_web::HttpResponse;
use askama::Template;

use super::error::WebError;
use super::i18n::Tr;
use super::session::Console;
use crate::error::AppError;

/// What the page frame (`base.html`) shows: language, title, the signed-in user and the session's
/// CSRF token (empty when signed out), and the page's own path (for the language links).
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The page language.
    pub tr: Tr,
    /// The page title.
    pub title: String,
    /// "Signed in as …", when signed in.
    pub signed_in_as: Option<String>,
    /// The session's CSRF token, or empty.
    pub csrf: String,
    /// This page's path.
    pub path: String,
    /// The user administers the system (the administration link shows).
    pub admin: bool,
}

impl Chrome {
    /// The frame of a signed-in page.
    pub fn of(c: &Console, title_key: &str, path: &str) -> Self {
        Self {
            tr: c.tr,
            title: c.tr.t(title_key),
            signed_in_as: Some(c.tr.f("signed_in_as", &[("name", &c.session.display_name)])),
            csrf: c.session.csrf_token.clone(),
            path: path.to_string(),
            admin: c
                .session
                .principal
                .role
                .may(crate::domain::role::Action::PublishCatalogue),
        }
    }

    /// The frame of a page seen signed out.
    pub fn signed_out(tr: Tr, title_key: &str, path: &str) -> Self {
        Self {
            tr,
            title: tr.t(title_key),
            signed_in_as: None,
            csrf: String::new(),
            path: path.to_string(),
            admin: false,
        }
    }
}

/// One option of a select.
#[derive(Debug, Clone)]
pub struct Opt {
    /// The submitted value.
    pub value: String,
    /// What is shown.
    pub label: String,
    /// Chosen now.
    pub selected: bool,
}

/// How a refused form is explained on the page it came from: the status and the message
/// (`stale_key` names the "someone else changed this" text), or the error itself when it is not
/// the user's to fix.
pub fn refusal(
    tr: Tr,
    e: AppError,
    stale_key: &str,
) -> Result<(actix_web::http::StatusCode, String), AppError> {
    use actix_web::http::StatusCode;
    Ok(match e {
        AppError::PreconditionFailed => (StatusCode::PRECONDITION_FAILED, tr.t(stale_key)),
        AppError::Conflict { detail, .. } => (
            StatusCode::CONFLICT,
            crate::web::field_messages::translate(tr, &detail),
        ),
        AppError::Validation(errors) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            errors
                .0
                .iter()
                .map(|(f, m)| {
                    let m: Vec<String> = m
                        .iter()
                        .map(|m| crate::web::field_messages::translate(tr, m))
                        .collect();
                    format!("{f}: {}", m.join(", "))
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
        other => return Err(other),
    })
}

/// A condition's name in the page's language with its code: the catalogue in force names its
/// conditions; the others (management's `HL`, `HL-RISK`, `CCHD`) are named by the console's
/// text (`condition_<code>`), else shown as the code.
pub fn condition_label(tr: Tr, state: &crate::state::AppState, code: &str) -> String {
    crate::services::admin::catalogue::current(&state.catalogues, state.now())
        .ok()
        .and_then(|cat| {
            cat.catalogue()
                .conditions
                .iter()
                .find(|x| x.code == code)
                .map(|x| {
                    let n = if tr.locale == "en" {
                        &x.name_en
                    } else {
                        &x.name_zh
                    };
                    format!("{n} ({code})")
                })
        })
        .unwrap_or_else(|| {
            let key = format!("condition_{code}");
            let t = tr.t(&key);
            if t == key {
                code.to_string()
            } else {
                format!("{t} ({code})")
            }
        })
}

/// `s` percent-encoded for a query value (letters, digits, `-`, `_` and `.` kept).
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Renders a template into an HTML response with `status`.
pub fn render(
    status: actix_web::http::StatusCode,
    t: &impl Template,
) -> Result<HttpResponse, WebError> {
    let body = t
        .render()
        .map_err(|e| WebError::App(AppError::Unexpected(anyhow::anyhow!("template: {e}"))))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body))
}

/// A `303 See Other` to `to` (after a form post, so a reload does not post again).
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, to.to_string()))
        .finish()
}

/// Any other path: the API's problem+json 404 under `/api`, else the console's page.
pub async fn not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, WebError> {
    if req.path().starts_with("/api") {
        return Ok(actix_web::ResponseError::error_response(
            &AppError::NotFound { entity: "route" },
        ));
    }
    Err(WebError::NotFound)
}
