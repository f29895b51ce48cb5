//! The console's pages, one module per screen.

pub mod auth;
pub mod cases;
pub mod infants;
pub mod lists;
pub mod management;
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
