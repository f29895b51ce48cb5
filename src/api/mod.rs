//! HTTP layer: routes, extractors, middleware and the OpenAPI document. Handlers parse input,
//! call a service inside [`crate::db::run`], and shape the response; they never build queries.

pub mod admin;
pub mod auth;
pub mod bearer;
pub mod follow_up;
pub mod health;
pub mod idempotency;
pub mod json;
pub mod management;
pub mod mllp;
pub mod observe;
pub mod quality;
pub mod screening;

use std::str::FromStr;

use actix_web::middleware::from_fn;
use actix_web::{HttpRequest, HttpResponse, web};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{AppError, ErrorCode};

use admin::{audit, catalogue, clients, hospitals, jobs, users};
use follow_up::{cases, notifications, worklists};
use quality::reports;
use screening::{cards, hl7, infants, merges, screens};

/// Parses an id from the path; a malformed id is simply not found.
pub fn path_id<T: FromStr>(raw: &str, entity: &'static str) -> Result<T, AppError> {
    raw.parse().map_err(|_| AppError::NotFound { entity })
}

/// One page of a list read with `limit + 1` rows: the rows to show, and whether more follow.
pub struct Paged<T> {
    /// At most `limit` rows.
    pub items: Vec<T>,
    /// A further row exists.
    pub more: bool,
}

impl<T> Paged<T> {
    /// Splits `rows` (read with `limit + 1`) into the page and whether more follow.
    pub fn of(mut rows: Vec<T>, limit: i64) -> Self {
        let n = usize::try_from(limit).unwrap_or(0);
        let more = rows.len() > n;
        rows.truncate(n);
        Self { items: rows, more }
    }

    /// The cursor of the next page (from the last row shown), when there is one.
    pub fn next_cursor(&self, cursor: impl Fn(&T) -> String) -> Option<String> {
        self.items.last().filter(|_| self.more).map(cursor)
    }
}

/// A list's page size: `asked` or `default`, refused with 400 naming `limit` outside `1..=max`.
pub fn page_limit(asked: Option<i64>, default: i64, max: i64) -> Result<i64, AppError> {
    let limit = asked.unwrap_or(default);
    if (1..=max).contains(&limit) {
        Ok(limit)
    } else {
        Err(AppError::bad_field(
            ErrorCode::InvalidQuery,
            "limit",
            format!("must be between 1 and {max}"),
        ))
    }
}

/// The OpenAPI 3 document, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(title = "Guthrie", description = "Newborn screening follow-up and recall workflow server"),
    paths(
        health::healthz, health::readyz, health::metrics,
        auth::login, auth::token, auth::me, auth::change_password,
        hospitals::create_hospital, hospitals::list_hospitals, hospitals::get_hospital, hospitals::update_hospital,
        users::create_user, users::list_users, users::get_user, users::update_user,
        clients::create_client, clients::list_clients, clients::update_client, clients::rotate_client_secret,
        infants::create_infant, infants::list_infants, infants::get_infant, infants::update_infant,
        catalogue::current_catalogue, catalogue::list_catalogue_versions, catalogue::get_catalogue, catalogue::publish_catalogue,
        cards::create_card, cards::get_card, cards::receive_card, cards::receive_cards, cards::submit_results, hl7::receive_message, hl7::list_messages, hl7::disagreements,
        screens::create_hearing_screen, screens::create_cchd_screen, screens::create_consent,
        screens::create_hearing_intervention,
        screens::get_screening_summary, screens::list_missed_screens,
        cases::list_cases, cases::get_case, cases::act_on_case, cases::record_contact_attempt,
        worklists::list_worklists, worklists::get_worklist, audit::get_audit,
        merges::merge_infants, merges::undo_merge,
        notifications::list_notifications, notifications::get_notification,
        notifications::retry_notification, notifications::sms_receipt,
        jobs::list_jobs, jobs::run_job,
        reports::quality_report, reports::quality_members,
        management::episodes::list_episodes, management::episodes::management_worklist,
        management::episodes::get_episode, management::episodes::register_episode,
        management::episodes::record_treatment, management::episodes::record_contact,
        management::episodes::transfer_episode, management::episodes::report_episode,
        management::episodes::acknowledge_flags, management::episodes::close_episode,
        management::report::management_report,
    ),
    modifiers(&ApiModifier),
    tags(
        (name = "auth", description = "Login and tokens"),
        (name = "hospitals", description = "Maternity hospitals"),
        (name = "users", description = "Staff accounts"),
        (name = "clients", description = "Hospital REST clients"),
        (name = "infants", description = "Registered births"),
        (name = "catalogue", description = "Versioned condition catalogue"),
        (name = "cards", description = "Blood-spot cards, lab receipt and results"),
        (name = "cases", description = "Follow-up cases"),
        (name = "management", description = "Long-term management of confirmed infants (高危儿专案管理)"),
        (name = "screening", description = "Hearing and heart screens, consent, summaries, missed screens"),
        (name = "notifications", description = "Outbox: e-mail and SMS notices, retries, SMS delivery receipts"),
        (name = "reports", description = "Quality indicators and coverage"),
        (name = "jobs", description = "Timed jobs: schedules, last runs, run now"),
        (name = "operations", description = "Health and metrics"),
    )
)]
pub struct ApiDoc;

/// Adds the bearer scheme and mounts the resource paths under `/api/v1` (the handlers' own
/// paths are relative to the scope they are registered in).
struct ApiModifier;

/// Paths served outside `/api/v1`.
const ROOT_PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

impl Modify for ApiModifier {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let paths = std::mem::take(&mut api.paths.paths);
        api.paths.paths = paths
            .into_iter()
            .map(|(p, item)| {
                if ROOT_PATHS.contains(&p.as_str()) {
                    (p, item)
                } else {
                    (format!("/api/v1{p}"), item)
                }
            })
            .collect();
        for item in api.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                problem_responses(op);
            }
        }
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Every error response of an operation is `application/problem+json` with the `Problem`
/// schema; every operation documents 400 (malformed request or header), 401 when it needs a
/// token, and 500.
fn problem_responses(op: &mut utoipa::openapi::path::Operation) {
    use utoipa::openapi::{Content, Ref, RefOr, Response};
    let problem = || Content::new(Some(Ref::from_schema_name("Problem")));
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let defaults: &[(&str, &str)] = &[
        ("400", "Malformed request, query or header"),
        ("401", "Missing, invalid, expired or revoked token"),
        ("500", "Internal error (logged with the request id)"),
    ];
    for (code, what) in defaults {
        if *code == "401" && !secured {
            continue;
        }
        op.responses
            .responses
            .entry((*code).to_string())
            .or_insert_with(|| RefOr::T(Response::new(*what)));
    }
    for (code, r) in op.responses.responses.iter_mut() {
        if (code.starts_with('4') || code.starts_with('5'))
            && let RefOr::T(r) = r
        {
            r.content.shift_remove("application/json");
            r.content
                .insert("application/problem+json".into(), RefOr::T(problem()));
        }
    }
}

/// Registers `/api/v1` with its middleware: authentication, then idempotency for POSTs.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api/v1")
            .wrap(from_fn(idempotency::idempotency))
            .wrap(from_fn(bearer::authenticate))
            // API answers may carry personal data: no browser or proxy may keep them.
            .wrap(
                actix_web::middleware::DefaultHeaders::new()
                    .add((actix_web::http::header::CACHE_CONTROL, "no-store")),
            )
            .service(auth::login)
            .service(auth::token)
            .service(auth::me)
            .service(auth::change_password)
            .service(hospitals::create_hospital)
            .service(hospitals::list_hospitals)
            .service(hospitals::get_hospital)
            .service(hospitals::update_hospital)
            .service(users::create_user)
            .service(users::list_users)
            .service(users::get_user)
            .service(users::update_user)
            .service(clients::create_client)
            .service(clients::list_clients)
            .service(clients::update_client)
            .service(clients::rotate_client_secret)
            .service(hl7::receive_message)
            .service(hl7::list_messages)
            .service(hl7::disagreements)
            .service(infants::create_infant)
            .service(infants::list_infants)
            .service(infants::get_infant)
            .service(infants::update_infant)
            .service(catalogue::current_catalogue)
            .service(catalogue::list_catalogue_versions)
            .service(catalogue::get_catalogue)
            .service(catalogue::publish_catalogue)
            .service(cards::create_card)
            .service(cards::get_card)
            .service(cards::receive_cards)
            .service(cards::receive_card)
            .service(cards::submit_results)
            .service(screens::create_hearing_screen)
            .service(screens::create_cchd_screen)
            .service(screens::create_consent)
            .service(screens::create_hearing_intervention)
            .service(screens::get_screening_summary)
            .service(screens::list_missed_screens)
            .service(cases::list_cases)
            .service(cases::get_case)
            .service(cases::act_on_case)
            .service(cases::record_contact_attempt)
            .service(worklists::list_worklists)
            .service(worklists::get_worklist)
            .service(audit::get_audit)
            .service(merges::merge_infants)
            .service(merges::undo_merge)
            .service(notifications::sms_receipt)
            .service(notifications::list_notifications)
            .service(notifications::get_notification)
            .service(notifications::retry_notification)
            .service(jobs::list_jobs)
            .service(jobs::run_job)
            .service(reports::quality_report)
            .service(reports::quality_members)
            .service(management::episodes::list_episodes)
            .service(management::episodes::management_worklist)
            .service(management::episodes::register_episode)
            .service(management::episodes::get_episode)
            .service(management::episodes::record_treatment)
            .service(management::episodes::record_contact)
            .service(management::episodes::transfer_episode)
            .service(management::episodes::report_episode)
            .service(management::episodes::acknowledge_flags)
            .service(management::episodes::close_episode)
            .service(management::report::management_report),
    )
    .service(health::healthz)
    .service(health::readyz)
    .service(health::metrics);
}

/// Query-string errors as problem+json naming the parameter.
pub fn query_error(err: actix_web::error::QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    let msg = err.to_string();
    // serde_urlencoded names the parameter only for unknown fields; otherwise say "query".
    let field = msg
        .strip_prefix("Query deserialize error: unknown field `")
        .or_else(|| msg.strip_prefix("unknown field `"))
        .and_then(|rest| rest.split('`').next())
        .unwrap_or("query")
        .to_string();
    AppError::bad_field(ErrorCode::InvalidQuery, field, msg).into()
}

/// Path errors (malformed ids) answer 404 like unknown ids.
pub fn path_error(_: actix_web::error::PathError, _: &HttpRequest) -> actix_web::Error {
    AppError::NotFound { entity: "resource" }.into()
}

/// Unknown routes.
pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound { entity: "route" })
}
