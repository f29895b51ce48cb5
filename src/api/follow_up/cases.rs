//! `/api/v1/cases`: follow-up cases opened by results. Lists with filters and cursor paging,
//! one case with its timeline and an `ETag`, and staff actions (transitions, notes, assignment)
//! that must name the `ETag` they read in `If-Match` (412 when stale, 428 when missing).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::Paged;
use crate::api::json::{ApiJson, double_option};
use crate::api::path_id;
use crate::auth::extract::require;
use crate::db;
use crate::db::models::follow_up::case::{self, Case, CaseFilter};
use crate::db::types::UtcMicros;
use crate::domain::case::{CaseEvent, CaseOutcome, CaseState, EntryKind, Reason};
use crate::domain::catalogue::{Programme, Tier};
use crate::domain::contact::{AttemptOutcome, Channel};
use crate::domain::escalation::Rung;
use crate::domain::ids::{CaseId, HospitalId, InfantId, UserId};
use crate::domain::principal::Principal;
use crate::domain::role::Action;
use crate::error::{AppError, ErrorCode, Problem};
use crate::services::admin::audit;
use crate::services::follow_up::cases::{self as svc, CaseAction};
use crate::services::follow_up::contacts::{self, AttemptInput};
use crate::state::AppState;

/// A case as returned.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseResponse {
    /// The case's id.
    pub id: CaseId,
    /// The infant followed up.
    pub infant_id: InfantId,
    /// Birth hospital.
    pub hospital_id: HospitalId,
    /// The programme whose screen called for the case.
    pub programme: Programme,
    /// Why the case was opened.
    pub reason: Reason,
    /// Where the case stands in its state machine.
    pub state: CaseState,
    /// The urgency tier that sets its deadlines.
    pub tier: Tier,
    /// Suspected conditions.
    pub suspected: Vec<String>,
    /// Catalogue version of the triggering result.
    pub catalogue_version: String,
    /// Due-policy version of the due times.
    pub policy_version: String,
    /// First contact due.
    pub first_contact_due_at: DateTime<Utc>,
    /// Recall due.
    pub recall_due_at: DateTime<Utc>,
    /// The earliest deadline still pending: first contact while nobody has been reached, then
    /// the recall (none once resolved).
    pub next_due_at: Option<DateTime<Utc>>,
    /// Open and past its earliest pending deadline.
    pub overdue: bool,
    /// Assigned coordinator.
    pub assignee: Option<UserId>,
    /// Outcome once resolved.
    pub outcome: Option<CaseOutcome>,
    /// Version (the ETag's value).
    pub version: i32,
    /// When the case was opened.
    pub opened_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When it was resolved, if it is.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Booked recall visit.
    pub appointment_at: Option<DateTime<Utc>>,
    /// Where the recheck appointment is.
    pub appointment_place: Option<String>,
    /// On the contact-problem worklist: the family's details need correcting or another channel.
    pub contact_problem: bool,
    /// The escalation rung due next (`L0`…`L4`); none once the ladder is done or the case resolved.
    pub next_rung: Option<Rung>,
    /// When the escalation sweep will look at the case next.
    pub next_rung_at: Option<DateTime<Utc>>,
}

impl CaseResponse {
    /// Builds the response; `overdue` is judged at `now`.
    pub fn new(c: Case, now: DateTime<Utc>) -> Self {
        Self {
            next_due_at: c
                .next_due_at
                .filter(|_| c.state != CaseState::Resolved)
                .map(UtcMicros::utc),
            overdue: c.state != CaseState::Resolved && c.next_due_at.is_some_and(|t| t.utc() < now),
            outcome: c.outcome.map(|o| o.0),
            suspected: c.suspected.0,
            id: c.id,
            infant_id: c.infant_id,
            hospital_id: c.hospital_id,
            programme: c.programme,
            reason: c.reason,
            state: c.state,
            tier: c.tier,
            catalogue_version: c.catalogue_version,
            policy_version: c.policy_version,
            first_contact_due_at: c.first_contact_due_at.utc(),
            recall_due_at: c.recall_due_at.utc(),
            assignee: c.assignee,
            version: c.version,
            opened_at: c.opened_at.utc(),
            updated_at: c.updated_at.utc(),
            resolved_at: c.resolved_at.map(UtcMicros::utc),
            appointment_at: c.appointment_at.map(UtcMicros::utc),
            appointment_place: c.appointment_place,
            contact_problem: c.contact_problem,
            next_rung: c.next_rung,
            next_rung_at: c.next_rung_at.map(UtcMicros::utc),
        }
    }
}

/// One timeline entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEntry {
    /// What the entry records.
    pub kind: EntryKind,
    /// State before.
    pub from_state: Option<CaseState>,
    /// State after.
    pub to_state: Option<CaseState>,
    /// Detail (triggering result, event, note…).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// Who acted (a user id, or `system`).
    pub actor: String,
    /// When it happened.
    pub at: DateTime<Utc>,
}

/// A contact attempt as returned.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptResponse {
    /// How the family was contacted.
    pub channel: Channel,
    /// What came of it.
    pub outcome: AttemptOutcome,
    /// Who tried.
    pub contacted_by: String,
    /// When the attempt was made.
    pub attempted_at: DateTime<Utc>,
    /// A free-text note.
    pub note: Option<String>,
}

/// A case with its timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseDetail {
    /// The case.
    #[serde(flatten)]
    pub case: CaseResponse,
    /// Contact attempts, oldest first.
    pub contact_attempts: Vec<AttemptResponse>,
    /// Long-term follow-up visits of a confirmed case, soonest first.
    #[schema(value_type = Vec<Object>)]
    pub follow_up_visits: Vec<serde_json::Value>,
    /// Escalation rungs fired, with when and to whom (roles and counts).
    #[schema(value_type = Vec<Object>)]
    pub escalations: Vec<serde_json::Value>,
    /// Notifications about the case (e-mail, SMS) with their delivery status, oldest first.
    pub notifications: Vec<crate::api::follow_up::notifications::NotificationResponse>,
    /// Oldest first.
    pub timeline: Vec<TimelineEntry>,
}

/// A contact attempt.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttemptRequest {
    /// `phone`, `sms`, `email`, `home_visit`, `via_hospital`.
    pub channel: String,
    /// `reached`, `no_answer`, `wrong_number`, `refused`, `moved`.
    pub outcome: String,
    /// Who tried (default: the caller).
    #[serde(default)]
    pub contacted_by: Option<String>,
    /// When (default: now).
    #[serde(default)]
    pub attempted_at: Option<DateTime<Utc>>,
    /// A free-text note kept with the event.
    #[serde(default)]
    pub note: Option<String>,
}

/// A page of cases.
#[derive(Debug, Serialize, ToSchema)]
pub struct CasePage {
    /// By recall due time.
    pub items: Vec<CaseResponse>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// List filters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CaseQuery {
    /// Exact state.
    pub state: Option<CaseState>,
    /// Only unresolved cases.
    pub open: Option<bool>,
    /// Only this programme.
    pub programme: Option<Programme>,
    /// Only this urgency tier.
    pub tier: Option<Tier>,
    /// Only this hospital's infants.
    pub hospital_id: Option<HospitalId>,
    /// Only this infant's cases.
    pub infant_id: Option<String>,
    /// Only cases assigned to this user (a user id).
    pub assignee: Option<String>,
    /// Only open cases past their recall due time.
    pub overdue: Option<bool>,
    /// Recall due before.
    pub due_before: Option<DateTime<Utc>>,
    /// Recall due at or after.
    pub due_after: Option<DateTime<Utc>>,
    /// Opened at or after.
    pub opened_from: Option<DateTime<Utc>>,
    /// Opened before.
    pub opened_to: Option<DateTime<Utc>>,
    /// A suspected condition code (e.g. `PKU`).
    pub condition: Option<String>,
    /// Only cases with (or without) a contact problem.
    pub contact_problem: Option<bool>,
    /// Only unassigned cases.
    pub unassigned: Option<bool>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size 1–200 (default 50).
    pub limit: Option<i64>,
}

/// A staff action.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseActionRequest {
    /// A state transition, e.g. `{"event": "contact_family"}` or
    /// `{"event": "resolve", "outcome": {"outcome": "ruled_out"}}`.
    #[serde(default)]
    pub transition: Option<CaseEvent>,
    /// A note for the timeline.
    #[serde(default)]
    pub note: Option<String>,
    /// Assign (user id) or unassign (`null`).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub assignee: Option<Option<String>>,
}

fn etag(c: &Case) -> String {
    format!("\"{}\"", c.version)
}

/// The version an `If-Match` names (428 when missing, 412 when unreadable); episodes use it too.
pub(crate) fn if_match(req: &HttpRequest) -> Result<i32, AppError> {
    let v = req
        .headers()
        .get(header::IF_MATCH)
        .ok_or(AppError::PreconditionRequired)?;
    v.to_str()
        .ok()
        .map(|s| s.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|s| s.parse().ok())
        .ok_or(AppError::PreconditionFailed)
}

fn encode_cursor(c: &Case) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}|{}",
        c.recall_due_at.utc().format("%Y-%m-%dT%H:%M:%S%.6f"),
        c.id
    ))
}

fn decode_cursor(s: &str) -> Result<(UtcMicros, String), AppError> {
    let bad = || {
        AppError::bad_field(
            ErrorCode::InvalidQuery,
            "cursor",
            "is not a cursor from this API",
        )
    };
    let text =
        String::from_utf8(URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?).map_err(|_| bad())?;
    let (t, id) = text.split_once('|').ok_or_else(bad)?;
    let t = DateTime::parse_from_rfc3339(&format!("{t}Z")).map_err(|_| bad())?;
    Ok((UtcMicros::new(t.with_timezone(&Utc)), id.to_string()))
}

/// List cases visible to the caller.
#[utoipa::path(tag = "cases", security(("bearer" = [])), params(CaseQuery), responses((status = 200, body = CasePage), (status = 400, body = Problem)))]
#[get("/cases")]
pub async fn list_cases(
    p: Principal,
    state: web::Data<AppState>,
    q: web::Query<CaseQuery>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ReadPersonalData)?;
    let q = q.into_inner();
    let limit = crate::api::page_limit(q.limit, 50, 200)?;
    let now = state.now();
    let overdue = q.overdue == Some(true);
    let filter = CaseFilter {
        state: q.state,
        open_only: q.open == Some(true) || overdue,
        programme: q.programme,
        tier: q.tier,
        hospital_id: q.hospital_id,
        infant_id: q.infant_id,
        assignee: q.assignee,
        recall_due_before: q.due_before.map(UtcMicros::new),
        // Overdue as on the worklist: past the earliest pending deadline.
        deadline_before: overdue.then(|| UtcMicros::new(now)),
        deadline_from: None,
        by_deadline: false,
        after: q.cursor.as_deref().map(decode_cursor).transpose()?,
        unassigned: q.unassigned == Some(true),
        contact_problem: q.contact_problem,
        condition: q.condition,
        recall_due_from: q.due_after.map(UtcMicros::new),
        opened_from: q.opened_from.map(UtcMicros::new),
        opened_before: q.opened_to.map(UtcMicros::new),
    };
    let scope = p.scope();
    let page = db::run(&state.pool, move |c| {
        let page = Paged::of(case::list(c, &scope, &filter, limit + 1)?, limit);
        audit::list_read(c, &p, "case", page.items.iter().map(|r| r.id), now)?;
        Ok(page)
    })
    .await?;
    let next_cursor = page.next_cursor(encode_cursor);
    Ok(HttpResponse::Ok().json(CasePage {
        items: page
            .items
            .into_iter()
            .map(|c| CaseResponse::new(c, now))
            .collect(),
        next_cursor,
    }))
}

/// One case with its full timeline; the `ETag` is what a later action must send in `If-Match`.
#[utoipa::path(tag = "cases", security(("bearer" = [])), params(("id" = String, Path)), responses((status = 200, body = CaseDetail), (status = 404, body = Problem)))]
#[get("/cases/{id}")]
pub async fn get_case(
    p: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ReadPersonalData)?;
    let id: uuid::Uuid = path_id(&id, "case")?;
    let now = state.now();
    let svc::CaseRecord {
        case: c,
        events,
        attempts,
        visits,
        escalations: fired,
        notifications: notes,
    } = db::run(&state.pool, move |conn| {
        svc::record(conn, &p, CaseId(id), now)
    })
    .await?;
    let contact_attempts = attempts
        .into_iter()
        .map(|a| AttemptResponse {
            channel: a.channel,
            outcome: a.outcome,
            contacted_by: a.contacted_by,
            attempted_at: a.attempted_at.utc(),
            note: a.note,
        })
        .collect();
    let tag = etag(&c);
    let timeline = events
        .into_iter()
        .map(|e| TimelineEntry {
            kind: e.kind,
            from_state: e.from_state,
            to_state: e.to_state,
            detail: e.detail.0,
            actor: e.actor,
            at: e.at.utc(),
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, tag))
        .json(CaseDetail {
            case: CaseResponse::new(c, state.now()),
            contact_attempts,
            follow_up_visits: visits
                .into_iter()
                .map(|v| serde_json::json!({"condition": v.condition_code, "due_at": v.due_at.utc(), "done_at": v.done_at.map(|d| d.utc())}))
                .collect(),
            escalations: fired
                .into_iter()
                .map(|e| serde_json::json!({"rung": e.rung, "fired_at": e.fired_at.utc(),
                    "recipients": e.recipients.0}))
                .collect(),
            notifications: notes.into_iter().map(Into::into).collect(),
            timeline,
        }))
}

/// Act on a case: a transition (409 with the allowed events when illegal), a note, an
/// assignment. Requires `If-Match` with the case's `ETag`.
#[utoipa::path(tag = "cases", security(("bearer" = [])), params(("id" = String, Path), ("If-Match" = String, Header)), request_body = CaseActionRequest,
    responses((status = 200, body = CaseResponse), (status = 409, body = Problem), (status = 412, body = Problem), (status = 428, body = Problem)))]
#[post("/cases/{id}/events")]
pub async fn act_on_case(
    req: HttpRequest,
    p: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<CaseActionRequest>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::WorkCases)?;
    let id: uuid::Uuid = path_id(&id, "case")?;
    let expected = if_match(&req)?;
    let b = body.0;
    if b.transition.is_none() && b.note.is_none() && b.assignee.is_none() {
        return Err(AppError::invalid(
            "transition",
            "give a transition, a note or an assignee",
        ));
    }
    let action = CaseAction {
        expected_version: expected,
        event: b.transition,
        note: b.note.filter(|n| !n.trim().is_empty()),
        // An id that is not even well-formed names nobody: as if unknown.
        assignee: match b.assignee {
            Some(Some(a)) => Some(Some(
                a.parse::<UserId>()
                    .map_err(|_| AppError::NotFound { entity: "assignee" })?,
            )),
            Some(None) => Some(None),
            None => None,
        },
    };
    let (scope, now) = (p.scope(), state.now());
    let plans = crate::services::management::plans::current(&state.plans, now)?;
    let centre = state.settings.management.centre.clone();
    let c = db::run(&state.pool, move |conn| {
        svc::act(
            conn,
            &scope,
            CaseId(id),
            action,
            &svc::Management {
                plans: &plans,
                centre: &centre,
            },
            &p,
            now,
        )
    })
    .await?;
    tracing::info!(case.id = %c.id, case.state = %c.state, "case updated");
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(&c)))
        .json(CaseResponse::new(c, now)))
}

/// Record a contact attempt (case workers, and hospital principals for their own cases).
/// `wrong_number` or `moved` put the case on the contact-problem worklist and flag the infant's
/// details for correction; `reached` moves an open case to family contacted.
#[utoipa::path(tag = "cases", security(("bearer" = [])), params(("id" = String, Path)), request_body = AttemptRequest,
    responses((status = 201, body = CaseResponse), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/cases/{id}/contact-attempts")]
pub async fn record_contact_attempt(
    p: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<AttemptRequest>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::RecordContactAttempts)?;
    let id: uuid::Uuid = path_id(&id, "case")?;
    let b = body.0;
    let now = state.now();
    let input = AttemptInput {
        channel: b.channel,
        outcome: b.outcome,
        contacted_by: b.contacted_by,
        attempted_at: b.attempted_at.unwrap_or(now),
        note: b.note,
    };
    let scope = p.scope();
    let c = db::run(&state.pool, move |conn| {
        contacts::record_attempt(conn, &scope, CaseId(id), input, &p, now)
    })
    .await?;
    tracing::info!(case.id = %c.id, "contact attempt recorded");
    Ok(HttpResponse::Created()
        .insert_header((header::ETAG, etag(&c)))
        .json(CaseResponse::new(c, now)))
}
