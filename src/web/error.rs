//! How a console request fails: a redirect to sign in, or a small page in both languages (the
//! error happens before a locale is known). Server errors are logged with the request id, and
//! the page shows only that id.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::error::AppError;

/// A failed console request.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Not signed in, or the session ended: go to the sign-in page.
    #[error("sign in first")]
    SignIn,
    /// No such page, or not one this user may see.
    #[error("not found")]
    NotFound,
    /// The user's role may not do this.
    #[error("forbidden")]
    Forbidden,
    /// The CSRF token or the request's origin did not check out.
    #[error("request not verified")]
    Csrf,
    /// Anything else.
    #[error(transparent)]
    App(AppError),
}

impl From<AppError> for WebError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound { .. } => WebError::NotFound,
            AppError::Forbidden => WebError::Forbidden,
            other => WebError::App(other),
        }
    }
}

impl From<diesel::result::Error> for WebError {
    fn from(e: diesel::result::Error) -> Self {
        WebError::App(AppError::Db(e))
    }
}

#[derive(Template)]
#[template(path = "error.html", config = "src/web/askama.toml")]
struct ErrorPage<'a> {
    status: u16,
    zh: &'a str,
    en: &'a str,
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::SignIn => StatusCode::SEE_OTHER,
            WebError::NotFound => StatusCode::NOT_FOUND,
            WebError::Forbidden | WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::App(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (zh, en) = match self {
            WebError::SignIn => {
                return HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, "/login"))
                    .finish();
            }
            WebError::NotFound => (
                "没有找到该页面，或您无权查看。",
                "This page does not exist, or you may not see it.",
            ),
            WebError::Forbidden => ("您无权执行此操作。", "You may not do this."),
            WebError::Csrf => (
                "请求无法验证（页面可能已过期），请刷新后重试。",
                "The request could not be verified (the page may be stale); reload and try again.",
            ),
            WebError::App(e) => {
                tracing::error!(error = %e, "console request failed");
                (
                    "服务器出错，请稍后再试。",
                    "The server failed; please try again later.",
                )
            }
        };
        let status = self.status_code();
        let body = ErrorPage {
            status: status.as_u16(),
            zh,
            en,
        }
        .render()
        .unwrap_or_else(|_| en.to_string());
        HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body)
    }
}
