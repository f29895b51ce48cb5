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

/// Every stable problem `code` (RFC 9457 `type` is `/problems/<code>`). `docs/problems.md` is
/// generated from this list; a test keeps the two equal and checks that every code is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// One or more fields are out of range or malformed; `errors` names each (422).
    ValidationFailed,
    /// The body is not JSON (400).
    MalformedJson,
    /// The body could not be read (400).
    UnreadableBody,
    /// The body has a field the endpoint does not take; `errors` names it (400).
    UnknownField,
    /// A field has the wrong type or a value outside its closed set; `errors` names it (400).
    InvalidType,
    /// A query parameter is malformed or unknown (400).
    InvalidQuery,
    /// A form-encoded token request is malformed (400).
    MalformedForm,
    /// The token request's `grant_type` is not supported (400).
    UnsupportedGrantType,
    /// The `Idempotency-Key` header is malformed (400).
    InvalidIdempotencyKey,
    /// No bearer token (401).
    MissingToken,
    /// The bearer token is malformed, expired, revoked or not yet valid (401).
    InvalidToken,
    /// Wrong username or password, or an inactive account (401).
    InvalidCredentials,
    /// Wrong client id or secret, or an inactive client (401).
    InvalidClient,
    /// The SMS gateway's receipt token is wrong (401).
    InvalidReceiptToken,
    /// The principal's role may not do this (403).
    Forbidden,
    /// No such resource, or not visible to this principal (404).
    NotFound,
    /// Conflicts with an existing record (409).
    Conflict,
    /// The case changed concurrently; retry (409).
    CaseBusy,
    /// Another case with the same reason is open for this infant (409).
    CaseAlreadyOpen,
    /// The case is resolved; reopen it first (409).
    CaseResolved,
    /// The case's state does not allow this event; the detail lists what is allowed now (409).
    InvalidTransition,
    /// The infant's status cannot change this way (409).
    InvalidStatusChange,
    /// The infant is already registered: the same medical record number at the hospital, or the same mother, birth time and birth order (409).
    DuplicateInfant,
    /// The hospital already registered this barcode (409).
    DuplicateBarcode,
    /// Another hospital has this code (409).
    DuplicateHospitalCode,
    /// Another user has this username (409).
    UsernameTaken,
    /// An administrator cannot deactivate or demote their own account (409).
    CannotDemoteSelf,
    /// One of the records is already merged (409).
    AlreadyMerged,
    /// The merge was already undone (409).
    AlreadyUndone,
    /// A catalogue with this version id is already published (409).
    CatalogueVersionExists,
    /// Only failed or cancelled notifications can be queued again (409).
    NotRetryable,
    /// The job is already running (409).
    JobRunning,
    /// A request with this `Idempotency-Key` is still being processed (409).
    IdempotencyInProgress,
    /// Another server escalated the case first (internal: counted as a lost race, never answered).
    RungAlreadyFired,
    /// A management episode for this infant and condition is open already (409).
    EpisodeAlreadyOpen,
    /// The management episode is closed (409).
    EpisodeClosed,
    /// The follow-up contact is recorded or cancelled already (409).
    ContactAlreadyRecorded,
    /// The resource changed since the client read it; reload and retry (412).
    StaleEtag,
    /// The write needs `If-Match` with the ETag read (428).
    IfMatchRequired,
    /// The `Idempotency-Key` was used with a different request (422).
    IdempotencyKeyReused,
    /// The body must be `application/json` (415).
    UnsupportedMediaType,
    /// The body exceeds the configured limit (413).
    PayloadTooLarge,
    /// The request headers exceed the configured limit (431).
    HeadersTooLarge,
    /// Too many attempts; `Retry-After` says when to try again (429).
    RateLimited,
    /// The database is unreachable or busy (503).
    ServiceUnavailable,
    /// An unexpected error; it was logged by request id (500).
    InternalError,
}

crate::domain::text_enum!(ErrorCode {
    ValidationFailed = "validation_failed",
    MalformedJson = "malformed_json",
    UnreadableBody = "unreadable_body",
    UnknownField = "unknown_field",
    InvalidType = "invalid_type",
    InvalidQuery = "invalid_query",
    MalformedForm = "malformed_form",
    UnsupportedGrantType = "unsupported_grant_type",
    InvalidIdempotencyKey = "invalid_idempotency_key",
    MissingToken = "missing_token",
    InvalidToken = "invalid_token",
    InvalidCredentials = "invalid_credentials",
    InvalidClient = "invalid_client",
    InvalidReceiptToken = "invalid_receipt_token",
    Forbidden = "forbidden",
    NotFound = "not_found",
    Conflict = "conflict",
    CaseBusy = "case_busy",
    CaseAlreadyOpen = "case_already_open",
    CaseResolved = "case_resolved",
    InvalidTransition = "invalid_transition",
    InvalidStatusChange = "invalid_status_change",
    DuplicateInfant = "duplicate_infant",
    DuplicateBarcode = "duplicate_barcode",
    DuplicateHospitalCode = "duplicate_hospital_code",
    UsernameTaken = "username_taken",
    CannotDemoteSelf = "cannot_demote_self",
    AlreadyMerged = "already_merged",
    AlreadyUndone = "already_undone",
    CatalogueVersionExists = "catalogue_version_exists",
    NotRetryable = "not_retryable",
    JobRunning = "job_running",
    IdempotencyInProgress = "idempotency_in_progress",
    RungAlreadyFired = "rung_already_fired",
    EpisodeAlreadyOpen = "episode_already_open",
    EpisodeClosed = "episode_closed",
    ContactAlreadyRecorded = "contact_already_recorded",
    StaleEtag = "stale_etag",
    IfMatchRequired = "if_match_required",
    IdempotencyKeyReused = "idempotency_key_reused",
    UnsupportedMediaType = "unsupported_media_type",
    PayloadTooLarge = "payload_too_large",
    HeadersTooLarge = "headers_too_large",
    RateLimited = "rate_limited",
    ServiceUnavailable = "service_unavailable",
    InternalError = "internal_error",
});

impl ErrorCode {
    /// What the code means, for the generated list.
    pub fn meaning(self) -> &'static str {
        match self {
            ErrorCode::ValidationFailed => {
                "One or more fields are out of range or malformed; `errors` names each (422)."
            }
            ErrorCode::MalformedJson => "The body is not JSON (400).",
            ErrorCode::UnreadableBody => "The body could not be read (400).",
            ErrorCode::UnknownField => {
                "The body has a field the endpoint does not take; `errors` names it (400)."
            }
            ErrorCode::InvalidType => {
                "A field has the wrong type or a value outside its closed set; `errors` names it (400)."
            }
            ErrorCode::InvalidQuery => "A query parameter is malformed or unknown (400).",
            ErrorCode::MalformedForm => "A form-encoded token request is malformed (400).",
            ErrorCode::UnsupportedGrantType => {
                "The token request's `grant_type` is not supported (400)."
            }
            ErrorCode::InvalidIdempotencyKey => "The `Idempotency-Key` header is malformed (400).",
            ErrorCode::MissingToken => "No bearer token (401).",
            ErrorCode::InvalidToken => {
                "The bearer token is malformed, expired, revoked or not yet valid (401)."
            }
            ErrorCode::InvalidCredentials => {
                "Wrong username or password, or an inactive account (401)."
            }
            ErrorCode::InvalidClient => "Wrong client id or secret, or an inactive client (401).",
            ErrorCode::InvalidReceiptToken => "The SMS gateway's receipt token is wrong (401).",
            ErrorCode::Forbidden => "The principal's role may not do this (403).",
            ErrorCode::NotFound => "No such resource, or not visible to this principal (404).",
            ErrorCode::Conflict => "Conflicts with an existing record (409).",
            ErrorCode::CaseBusy => "The case changed concurrently; retry (409).",
            ErrorCode::CaseAlreadyOpen => {
                "Another case with the same reason is open for this infant (409)."
            }
            ErrorCode::CaseResolved => "The case is resolved; reopen it first (409).",
            ErrorCode::EpisodeAlreadyOpen => {
                "A management episode for this infant and condition is open already (409)."
            }
            ErrorCode::EpisodeClosed => "The management episode is closed (409).",
            ErrorCode::ContactAlreadyRecorded => {
                "The follow-up contact is recorded or cancelled already (409)."
            }
            ErrorCode::InvalidTransition => {
                "The case's state does not allow this event; the detail lists what is allowed now (409)."
            }
            ErrorCode::InvalidStatusChange => "The infant's status cannot change this way (409).",
            ErrorCode::DuplicateInfant => {
                "The infant is already registered: the same medical record number at the hospital, or the same mother, birth time and birth order (409)."
            }
            ErrorCode::DuplicateBarcode => "The hospital already registered this barcode (409).",
            ErrorCode::DuplicateHospitalCode => "Another hospital has this code (409).",
            ErrorCode::UsernameTaken => "Another user has this username (409).",
            ErrorCode::CannotDemoteSelf => {
                "An administrator cannot deactivate or demote their own account (409)."
            }
            ErrorCode::AlreadyMerged => "One of the records is already merged (409).",
            ErrorCode::AlreadyUndone => "The merge was already undone (409).",
            ErrorCode::CatalogueVersionExists => {
                "A catalogue with this version id is already published (409)."
            }
            ErrorCode::NotRetryable => {
                "Only failed or cancelled notifications can be queued again (409)."
            }
            ErrorCode::JobRunning => "The job is already running (409).",
            ErrorCode::IdempotencyInProgress => {
                "A request with this `Idempotency-Key` is still being processed (409)."
            }
            ErrorCode::RungAlreadyFired => {
                "Another server escalated the case first (internal: counted as a lost race, never answered)."
            }
            ErrorCode::StaleEtag => {
                "The resource changed since the client read it; reload and retry (412)."
            }
            ErrorCode::IfMatchRequired => "The write needs `If-Match` with the ETag read (428).",
            ErrorCode::IdempotencyKeyReused => {
                "The `Idempotency-Key` was used with a different request (422)."
            }
            ErrorCode::UnsupportedMediaType => "The body must be `application/json` (415).",
            ErrorCode::PayloadTooLarge => "The body exceeds the configured limit (413).",
            ErrorCode::HeadersTooLarge => "The request headers exceed the configured limit (431).",
            ErrorCode::RateLimited => {
                "Too many attempts; `Retry-After` says when to try again (429)."
            }
            ErrorCode::ServiceUnavailable => "The database is unreachable or busy (503).",
            ErrorCode::InternalError => "An unexpected error; it was logged by request id (500).",
        }
    }

    /// The Markdown list of every code (`docs/problems.md`).
    pub fn markdown() -> String {
        let mut out = String::from(
            "# Problem codes\n\nEvery error is `application/problem+json` with one of these stable `code`s \
             (generated from `ErrorCode` in `src/error.rs`; `cargo test` fails when this file is stale, \
             `GUTHRIE_WRITE_DOCS=1 cargo test --lib problem_codes` rewrites it).\n\n| code | meaning |\n|---|---|\n",
        );
        for c in ErrorCode::ALL {
            out.push_str(&format!("| `{}` | {} |\n", c.as_str(), c.meaning()));
        }
        out
    }
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
        code: ErrorCode,
        /// What was wrong, for the caller.
        detail: String,
        /// The field concerned, when known.
        field: Option<String>,
    },
    /// No or bad credentials (401, with `WWW-Authenticate`).
    #[error("{detail}")]
    Unauthorized {
        /// Stable code.
        code: ErrorCode,
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
        code: ErrorCode,
        /// What conflicts, for the caller.
        detail: String,
        /// The field concerned, when known.
        field: Option<String>,
    },
    /// Well-formed but unacceptable in context, e.g. an idempotency key reused (422).
    #[error("{detail}")]
    Unprocessable {
        /// Stable code.
        code: ErrorCode,
        /// Why it cannot be processed, for the caller.
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
    pub fn bad_field(code: ErrorCode, field: impl Into<String>, detail: impl Into<String>) -> Self {
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
    pub fn conflict(code: ErrorCode, field: Option<&str>, detail: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            detail: detail.into(),
            field: field.map(str::to_string),
        }
    }

    /// The stable code of this error, as text (for logs).
    pub fn code(&self) -> &'static str {
        self.error_code().as_str()
    }

    /// The stable code of this error.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            Self::Validation(_) => ErrorCode::ValidationFailed,
            Self::BadRequest { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::Conflict { code, .. }
            | Self::Unprocessable { code, .. } => *code,
            Self::Forbidden => ErrorCode::Forbidden,
            Self::PreconditionFailed => ErrorCode::StaleEtag,
            Self::PreconditionRequired => ErrorCode::IfMatchRequired,
            Self::NotFound { .. } => ErrorCode::NotFound,
            Self::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            Self::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            Self::HeadersTooLarge { .. } => ErrorCode::HeadersTooLarge,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Unavailable(_) => ErrorCode::ServiceUnavailable,
            Self::Db(e) if is_connection_lost(e) => ErrorCode::ServiceUnavailable,
            Self::Db(diesel::result::Error::NotFound) => ErrorCode::NotFound,
            Self::Db(e) if is_unique_violation(e) => ErrorCode::Conflict,
            Self::Db(_) | Self::Unexpected(_) => ErrorCode::InternalError,
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

/// True when the database connection was lost (a server restart or failover): the request is
/// answered 503, as when no connection can be had, never 500.
pub fn is_connection_lost(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => true,
        // libpq could not send the statement: the connection is gone (`no connection to the
        // server`), as after a restart when no transaction was open to notice it.
        Error::DatabaseError(DatabaseErrorKind::UnableToSendCommand, _) => true,
        // A restart or failover of the server: the transaction was rolled back with the
        // connection, so the request can be sent again.
        Error::DatabaseError(DatabaseErrorKind::Unknown, info) => {
            let m = info.message();
            [
                "terminating connection",
                "server closed the connection",
                "no connection to the server",
                "connection to server",
                "the database system is shutting down",
                "the database system is starting up",
                "could not receive data",
                "could not send data",
            ]
            .iter()
            .any(|p| m.contains(p))
        }
        _ => false,
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
            Self::Db(e) if is_connection_lost(e) => StatusCode::SERVICE_UNAVAILABLE,
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
                let v = if *code == ErrorCode::MissingToken {
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
    use super::ErrorCode;

    /// `docs/problems.md` is the generated list of codes; set `GUTHRIE_WRITE_DOCS=1` to rewrite.
    #[test]
    fn problem_codes_doc_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/problems.md");
        let want = ErrorCode::markdown();
        if std::env::var_os("GUTHRIE_WRITE_DOCS").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/problems.md is stale: run GUTHRIE_WRITE_DOCS=1 cargo test --lib problem_codes"
        );
    }

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
            code: ErrorCode::InvalidToken,
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
