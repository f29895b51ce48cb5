//! `AppError`: the error type of services and handlers, rendered as RFC 9457
//! `application/problem+json` with a stable machine `code` and per-field `errors`.
//! 5xx responses carry a generic detail; the cause is logged once, by id, never with personal data.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::domain::validation::FieldErrors;

/// The problem document returned for every error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `/problems/<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// Human explanation of this occurrence.
    pub detail: String,
    /// Stable machine code (snake_case).
    pub code: String,
    /// Messages per offending field.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, Vec<String>>,
}

/// Every error a request can end in.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// One or more fields hold values out of range or malformed (422).
    #[error("validation failed")]
    Validation(FieldErrors),
    /// The request itself is unreadable: malformed JSON, unknown field, wrong type (400).
    #[error("{detail}")]
    BadRequest {
        /// Stable code.
        code: &'static str,
        /// Explanation.
        detail: String,
        /// The field concerned, when known.
        field: Option<String>,
    },
    /// No or bad credentials (401, with `WWW-Authenticate`).
    #[error("{detail}")]
    Unauthorized {
        /// Stable code.
        code: &'static str,
        /// Explanation (never says whether a username exists).
        detail: String,
    },
    /// Authenticated but the role may not do this (403).
    #[error("forbidden")]
    Forbidden,
    /// Not found, or not visible to this principal (404).
    #[error("{entity} not found")]
    NotFound {
        /// Kind of entity.
        entity: &'static str,
    },
    /// Conflicts with existing data (409).
    #[error("{detail}")]
    Conflict {
        /// Stable code.
        code: &'static str,
        /// Explanation.
        detail: String,
        /// The field concerned, when known.
        field: Option<String>,
    },
    /// Well-formed but unacceptable in context, e.g. an idempotency key reused (422).
    #[error("{detail}")]
    Unprocessable {
        /// Stable code.
        code: &'static str,
        /// Explanation.
        detail: String,
    },
    /// The resource changed since the client read it (412).
    #[error("the resource changed since you read it; reload and retry")]
    PreconditionFailed,
    /// A write needs `If-Match` (428).
    #[error("this write needs an If-Match header with the ETag you read")]
    PreconditionRequired,
    /// Wrong content type (415).
    #[error("request body must be application/json")]
    UnsupportedMediaType,
    /// Body larger than the configured limit (413).
    #[error("request body exceeds {limit} bytes")]
    PayloadTooLarge {
        /// Limit in bytes.
        limit: usize,
    },
    /// The request's headers together exceed the configured size (431).
    #[error("request headers exceed {limit} bytes")]
    HeadersTooLarge {
        /// Limit in bytes.
        limit: usize,
    },
    /// Too many attempts (429, with `Retry-After`).
    #[error("too many requests")]
    RateLimited {
        /// Seconds until the next attempt is allowed.
        retry_after_secs: u64,
    },
    /// The database is unreachable or the pool exhausted (503).
    #[error("database unavailable")]
    Unavailable(String),
    /// A database error not mapped above.
    #[error("database error")]
    Db(#[from] diesel::result::Error),
    /// Anything else (500).
    #[error("unexpected error")]
    Unexpected(#[from] anyhow::Error),
}

impl AppError {
    /// A 400 naming a field.
    pub fn bad_field(
        code: &'static str,
        field: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self::BadRequest {
            code,
            detail: detail.into(),
            field: Some(field.into()),
        }
    }

    /// A 422 for one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(FieldErrors::single(field, message))
    }

    /// A 409 naming a field.
    pub fn conflict(code: &'static str, field: Option<&str>, detail: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            detail: detail.into(),
            field: field.map(str::to_string),
        }
    }

    /// The stable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validation_failed",
            Self::BadRequest { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::Conflict { code, .. }
            | Self::Unprocessable { code, .. } => code,
            Self::Forbidden => "forbidden",
            Self::PreconditionFailed => "stale_etag",
            Self::PreconditionRequired => "if_match_required",
            Self::NotFound { .. } => "not_found",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::HeadersTooLarge { .. } => "headers_too_large",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable(_) => "service_unavailable",
            Self::Db(diesel::result::Error::NotFound) => "not_found",
            Self::Db(e) if is_unique_violation(e) => "conflict",
            Self::Db(_) | Self::Unexpected(_) => "internal_error",
        }
    }

    fn title(&self) -> &'static str {
        match self.status_code() {
            StatusCode::BAD_REQUEST => "Bad request",
            StatusCode::UNAUTHORIZED => "Unauthorized",
            StatusCode::FORBIDDEN => "Forbidden",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::CONFLICT => "Conflict",
            StatusCode::PRECONDITION_FAILED => "Precondition failed",
            StatusCode::PRECONDITION_REQUIRED => "Precondition required",
            StatusCode::PAYLOAD_TOO_LARGE => "Payload too large",
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "Request header fields too large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "Unsupported media type",
            StatusCode::UNPROCESSABLE_ENTITY => "Unprocessable content",
            StatusCode::TOO_MANY_REQUESTS => "Too many requests",
            StatusCode::SERVICE_UNAVAILABLE => "Service unavailable",
            _ => "Internal server error",
        }
    }

    fn field_errors(&self) -> BTreeMap<String, Vec<String>> {
        match self {
            Self::Validation(f) => f.0.clone(),
            Self::BadRequest {
                field: Some(f),
                detail,
                ..
            }
            | Self::Conflict {
                field: Some(f),
                detail,
                ..
            } => BTreeMap::from([(f.clone(), vec![detail.clone()])]),
            _ => BTreeMap::new(),
        }
    }

    /// The problem document for this error.
    pub fn problem(&self) -> Problem {
        let status = self.status_code();
        let detail = match self {
            Self::Validation(f) => format!(
                "{} field(s) failed validation: {}",
                f.0.len(),
                f.0.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
            Self::Db(diesel::result::Error::NotFound) => "not found".into(),
            Self::Db(e) if is_unique_violation(e) => "conflicts with an existing record".into(),
            _ if status.is_server_error() => {
                "the server could not complete the request; it has been logged".into()
            }
            other => other.to_string(),
        };
        let code = self.code();
        Problem {
            problem_type: format!("/problems/{code}"),
            title: self.title().into(),
            status: status.as_u16(),
            detail,
            code: code.into(),
            errors: self.field_errors(),
        }
    }
}

/// True for a unique-constraint violation on either backend.
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Validation(_) | Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Db(diesel::result::Error::NotFound) => StatusCode::NOT_FOUND,
            Self::Db(e) if is_unique_violation(e) => StatusCode::CONFLICT,
            Self::Db(_) | Self::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            // The chain may name tables or constraints, never request data.
            tracing::error!(error.code = self.code(), error.chain = %error_chain(self), "request failed");
        }
        let mut res = HttpResponse::build(status);
        res.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        match self {
            Self::Unauthorized { code, detail } => {
                let v = if *code == "missing_token" {
                    r#"Bearer realm="guthrie""#.to_string()
                } else {
                    let d = detail.replace('"', "'");
                    format!(
                        r#"Bearer realm="guthrie", error="invalid_token", error_description="{d}""#
                    )
                };
                if let Ok(v) = HeaderValue::from_str(&v) {
                    res.insert_header((header::WWW_AUTHENTICATE, v));
                }
            }
            Self::RateLimited { retry_after_secs } => {
                res.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            _ => {}
        }
        res.json(self.problem())
    }
}

/// The error and all its sources, one per line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_lists_fields_with_422() {
        let e = AppError::invalid("birth_weight_g", "must be between 200 and 7000 g");
        assert_eq!(e.status_code(), StatusCode::UNPROCESSABLE_ENTITY);
        let p = e.problem();
        assert_eq!(p.code, "validation_failed");
        assert_eq!(p.problem_type, "/problems/validation_failed");
        assert!(p.errors.contains_key("birth_weight_g"));
    }

    #[test]
    fn server_errors_hide_details() {
        let e = AppError::Unexpected(anyhow::anyhow!("secret table layout"));
        let p = e.problem();
        assert_eq!(p.status, 500);
        assert!(!p.detail.contains("secret"));
    }

    #[test]
    fn unauthorized_sets_www_authenticate() {
        let e = AppError::Unauthorized {
            code: "invalid_token",
            detail: "expired".into(),
        };
        let r = e.error_response();
        let h = r
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .unwrap()
            .to_str()
            .unwrap();
        assert!(h.contains("invalid_token"));
        assert_eq!(
            r.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/problem+json"
        );
    }
}
