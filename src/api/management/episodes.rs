//! Episodes: list (filters, cursor paging), one with its timeline and `ETag`, registration of
//! a child diagnosed elsewhere, and the actions (treatment, contact, transfer, report, flags,
//! closure), each naming the `ETag` it read in `If-Match` (412 when stale, 428 when missing).

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::Paged;
use crate::api::follow_up::cases::if_match;
use crate::api::json::ApiJson;
use crate::api::path_id;
use crate::auth::extract::require;
use crate::db;
use crate::db::models::management::contact::Contact;
use crate::db::models::management::episode::{self, Episode, EpisodeFilter};
use crate::db::types::UtcMicros;
use crate::domain::catalogue::Programme;
use crate::domain::ids::{CaseId, ContactId, EpisodeId, HospitalId, InfantId};
use crate::domain::management::plan::{ContactKind, OutOfRange};
use crate::domain::management::{Closure, ContactRung, EpisodeState, Origin, TreatmentKind};
use crate::domain::principal::Principal;
use crate::domain::role::Action;
use crate::error::{AppError, ErrorCode, Problem};
use crate::services::admin::audit;
use crate::services::management::episodes::{
    self as svc, ContactInput, EpisodeAction, OpenInput, TreatmentInput,
};
use crate::state::AppState;

/// An episode as returned.
#[derive(Debug, Serialize, ToSchema)]
pub struct EpisodeResponse {
    /// Id.
    pub id: EpisodeId,
    /// The infant.
    pub infant_id: InfantId,
    /// The hospital responsible (birth hospital, or the one it was transferred to).
    pub hospital_id: HospitalId,
    /// The confirmed case it came from.
    pub case_id: Option<CaseId>,
    /// From a confirmed case or registered by staff.
    pub origin: Origin,
    /// Condition code.
    pub condition: String,
    /// Plan-set version and plan.
    pub plan_version: String,
    /// Plan code.
    pub plan: String,
    /// State.
    pub state: EpisodeState,
    /// Managing centre.
    pub centre: String,
    /// Diagnosis confirmed.
    pub diagnosed_at: DateTime<Utc>,
    /// Treatment should start by.
    pub treatment_due_at: Option<DateTime<Utc>>,
    /// Treatment started.
    pub treatment_started_at: Option<DateTime<Utc>>,
    /// The earliest pending deadline (treatment start, or a contact's window end).
    pub next_due_at: Option<DateTime<Utc>>,
    /// Open and past that deadline.
    pub overdue: bool,
    /// Measurements off target not yet acknowledged by a clinician.
    pub flags: i32,
    /// Reported to the province.
    pub reported_at: Option<DateTime<Utc>>,
    /// The province's reference.
    pub report_reference: Option<String>,
    /// Why it closed.
    pub closure: Option<Closure>,
    /// When it closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// Version (the ETag's value).
    pub version: i32,
    /// Registered.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl EpisodeResponse {
    /// Builds the response; `overdue` at `now`.
    pub fn new(e: Episode, now: DateTime<Utc>) -> Self {
        Self {
            overdue: e.state != EpisodeState::Closed
                && e.next_due_at.is_some_and(|t| t.utc() < now),
            id: e.id,
            infant_id: e.infant_id,
            hospital_id: e.hospital_id,
            case_id: e.case_id,
            origin: e.origin,
            condition: e.condition_code,
            plan_version: e.plan_version,
            plan: e.plan_code,
            state: e.state,
            centre: e.centre,
            diagnosed_at: e.diagnosed_at.utc(),
            treatment_due_at: e.treatment_due_at.map(UtcMicros::utc),
            treatment_started_at: e.treatment_started_at.map(UtcMicros::utc),
            next_due_at: e.next_due_at.map(UtcMicros::utc),
            flags: e.flags,
            reported_at: e.reported_at.map(UtcMicros::utc),
            report_reference: e.report_reference,
            closure: e.closure.map(|c| c.0),
            closed_at: e.closed_at.map(UtcMicros::utc),
            version: e.version,
            created_at: e.created_at.utc(),
            updated_at: e.updated_at.utc(),
        }
    }
}

/// A follow-up contact as returned.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactResponse {
    /// Id (for recording it).
    pub id: ContactId,
    /// The plan's contact code.
    pub code: String,
    /// Visit or test.
    pub kind: ContactKind,
    /// Occurrence number.
    pub seq: i32,
    /// Due.
    pub due_at: DateTime<Utc>,
    /// Window.
    pub window_start: DateTime<Utc>,
    /// Window end: after it the contact is overdue.
    pub window_end: DateTime<Utc>,
    /// `pending`, `overdue`, `done`, `done_late` or `cancelled`.
    pub status: &'static str,
    /// When it was done.
    pub done_at: Option<DateTime<Utc>>,
    /// Values recorded.
    pub measurements: Option<BTreeMap<String, f64>>,
    /// Values off target.
    pub off_target: Option<Vec<OutOfRange>>,
    /// Note.
    pub note: Option<String>,
    /// The escalation rung due next.
    pub next_rung: Option<ContactRung>,
    /// When.
    pub next_rung_at: Option<DateTime<Utc>>,
}

impl ContactResponse {
    fn new(c: Contact, now: DateTime<Utc>) -> Self {
        let status = crate::domain::management::contact_status(
            c.done_at.map(UtcMicros::utc),
            c.cancelled_at.is_some(),
            c.window_end.utc(),
            now,
        );
        Self {
            id: c.id,
            code: c.code,
            kind: c.kind,
            seq: c.seq,
            due_at: c.due_at.utc(),
            window_start: c.window_start.utc(),
            window_end: c.window_end.utc(),
            status,
            done_at: c.done_at.map(UtcMicros::utc),
            measurements: c.measurements.map(|m| m.0),
            off_target: c.off_target.map(|m| m.0),
            note: c.note,
            next_rung: c.next_rung,
            next_rung_at: c.next_rung_at.map(UtcMicros::utc),
        }
    }
}

/// An episode with its history.
#[derive(Debug, Serialize, ToSchema)]
pub struct EpisodeDetail {
    /// The episode.
    #[serde(flatten)]
    pub episode: EpisodeResponse,
    /// Its contacts, soonest first.
    pub contacts: Vec<ContactResponse>,
    /// Treatments: the first start and every change.
    #[schema(value_type = Vec<Object>)]
    pub treatments: Vec<serde_json::Value>,
    /// Fired contact rungs.
    #[schema(value_type = Vec<Object>)]
    pub escalations: Vec<serde_json::Value>,
    /// The case before it (screen to diagnosis) with its timeline.
    #[schema(value_type = Option<Object>)]
    pub case: Option<serde_json::Value>,
    /// The episode's timeline.
    #[schema(value_type = Vec<Object>)]
    pub timeline: Vec<serde_json::Value>,
}

/// A page of episodes.
#[derive(Debug, Serialize, ToSchema)]
pub struct EpisodePage {
    /// Episodes.
    pub items: Vec<EpisodeResponse>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
}

/// List filters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EpisodeQuery {
    /// Condition code.
    pub condition: Option<String>,
    /// Responsible hospital.
    pub hospital_id: Option<HospitalId>,
    /// Hospital district.
    pub district: Option<String>,
    /// State.
    pub state: Option<EpisodeState>,
    /// Open episodes only.
    pub open: Option<bool>,
    /// Open and past the next deadline.
    pub overdue: Option<bool>,
    /// With (or without) unacknowledged off-target measurements.
    pub flagged: Option<bool>,
    /// One infant's episodes.
    pub infant_id: Option<InfantId>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
    /// Page size (1–200, default 50).
    pub limit: Option<i64>,
}

/// Worklist filters: open episodes whose next deadline falls within `days`, soonest first.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WorklistQuery {
    /// Deadlines up to this many days ahead (0–90, default 7); overdue ones always.
    pub days: Option<i64>,
    /// Responsible hospital.
    pub hospital_id: Option<HospitalId>,
    /// Flagged episodes only.
    pub flagged: Option<bool>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
    /// Page size (1–200, default 50).
    pub limit: Option<i64>,
}

/// Registration of a child diagnosed elsewhere or referred in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The infant (registered in Guthrie).
    pub infant_id: InfantId,
    /// Condition code.
    pub condition: String,
    /// The programme, for the fallback plan of a condition no plan names.
    #[serde(default)]
    pub programme: Option<Programme>,
    /// When the diagnosis was confirmed.
    pub diagnosed_at: DateTime<Utc>,
}

/// A treatment start or change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TreatmentRequest {
    /// Coded type.
    pub kind: TreatmentKind,
    /// Regimen (drug and dose, diet, device).
    pub regimen: String,
    /// Prescriber.
    pub prescriber: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
}

impl From<TreatmentRequest> for TreatmentInput {
    fn from(t: TreatmentRequest) -> Self {
        Self {
            kind: t.kind,
            regimen: t.regimen,
            prescriber: t.prescriber,
            started_at: t.started_at,
        }
    }
}

/// A follow-up contact done.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactRequest {
    /// When it happened (default now).
    #[serde(default)]
    pub done_at: Option<DateTime<Utc>>,
    /// Values by the plan's field codes.
    #[serde(default)]
    pub measurements: BTreeMap<String, f64>,
    /// Note.
    #[serde(default)]
    pub note: Option<String>,
    /// A treatment change decided at this contact.
    #[serde(default)]
    pub treatment: Option<TreatmentRequest>,
}

/// A transfer to another centre.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    /// Receiving centre.
    pub to_centre: String,
    /// The hospital now responsible, if it changes.
    #[serde(default)]
    pub to_hospital_id: Option<HospitalId>,
    /// Why.
    #[serde(default)]
    pub note: Option<String>,
}

/// The province's reference for the reported case.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    /// Reference.
    pub reference: String,
}

/// A closure.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    /// Why, with the detail the reason needs.
    pub closure: Closure,
}

fn etag(e: &Episode) -> String {
    format!("\"{}\"", e.version)
}

fn bad_cursor() -> AppError {
    AppError::bad_field(
        ErrorCode::InvalidQuery,
        "cursor",
        "is not a cursor from this API",
    )
}

fn decode(s: &str) -> Result<String, AppError> {
    String::from_utf8(URL_SAFE_NO_PAD.decode(s).map_err(|_| bad_cursor())?)
        .map_err(|_| bad_cursor())
}

pub(crate) fn due_cursor(e: &Episode) -> String {
    let t = e
        .next_due_at
        .map(|t| t.utc().timestamp_micros())
        .unwrap_or_default();
    URL_SAFE_NO_PAD.encode(format!("{t}|{}", e.id))
}

pub(crate) fn decode_due_cursor(s: &str) -> Result<(UtcMicros, String), AppError> {
    let text = decode(s)?;
    let (t, id) = text.split_once('|').ok_or_else(bad_cursor)?;
    let t = t
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(bad_cursor)?;
    Ok((UtcMicros::new(t), id.to_string()))
}

fn respond(e: Episode, now: DateTime<Utc>, status: actix_web::http::StatusCode) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(&e)))
        .json(EpisodeResponse::new(e, now))
}

#[utoipa::path(tag = "management", security(("bearer" = [])), params(EpisodeQuery), responses((status = 200, body = EpisodePage), (status = 400, body = Problem)))]
#[get("/management/episodes")]
pub async fn list_episodes(
    p: Principal,
    state: web::Data<AppState>,
    q: web::Query<EpisodeQuery>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ReadPersonalData)?;
    let q = q.into_inner();
    let limit = crate::api::page_limit(q.limit, 50, 200)?;
    let now = state.now();
    let after_id = q.cursor.as_deref().map(decode).transpose()?;
    let filter = EpisodeFilter {
        condition: q.condition,
        hospital_id: q.hospital_id,
        district: q.district,
        state: q.state,
        open_only: q.open == Some(true),
        overdue_at: (q.overdue == Some(true)).then(|| UtcMicros::new(now)),
        flagged: q.flagged,
        infant_id: q.infant_id,
        after_id,
        ..Default::default()
    };
    let scope = p.scope();
    let page = db::run(&state.pool, move |c| {
        let page = Paged::of(episode::list(c, &scope, &filter, limit + 1)?, limit);
        audit::list_read(
            c,
            &p,
            "management_episode",
            page.items.iter().map(|r| r.id),
            now,
        )?;
        Ok(page)
    })
    .await?;
    let next_cursor = page.next_cursor(|e| URL_SAFE_NO_PAD.encode(e.id.to_string()));
    Ok(HttpResponse::Ok().json(EpisodePage {
        items: page
            .items
            .into_iter()
            .map(|e| EpisodeResponse::new(e, now))
            .collect(),
        next_cursor,
    }))
}

#[utoipa::path(tag = "management", security(("bearer" = [])), params(WorklistQuery), responses((status = 200, body = EpisodePage), (status = 400, body = Problem)))]
#[get("/management/worklist")]
pub async fn management_worklist(
    p: Principal,
    state: web::Data<AppState>,
    q: web::Query<WorklistQuery>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ReadPersonalData)?;
    let q = q.into_inner();
    let limit = crate::api::page_limit(q.limit, 50, 200)?;
    let days = q.days.unwrap_or(7);
    if !(0..=90).contains(&days) {
        return Err(AppError::bad_field(
            ErrorCode::InvalidQuery,
            "days",
            "must be 0–90",
        ));
    }
    let now = state.now();
    let filter = EpisodeFilter {
        hospital_id: q.hospital_id,
        flagged: q.flagged.filter(|f| *f),
        due_before: Some(UtcMicros::new(now + chrono::Duration::days(days))),
        after_due: q.cursor.as_deref().map(decode_due_cursor).transpose()?,
        by_due: true,
        ..Default::default()
    };
    let scope = p.scope();
    let page = db::run(&state.pool, move |c| {
        let page = Paged::of(episode::list(c, &scope, &filter, limit + 1)?, limit);
        audit::list_read(
            c,
            &p,
            "management_episode",
            page.items.iter().map(|r| r.id),
            now,
        )?;
        Ok(page)
    })
    .await?;
    let next_cursor = page.next_cursor(due_cursor);
    Ok(HttpResponse::Ok().json(EpisodePage {
        items: page
            .items
            .into_iter()
            .map(|e| EpisodeResponse::new(e, now))
            .collect(),
        next_cursor,
    }))
}

#[utoipa::path(tag = "management", security(("bearer" = [])), params(("id" = String, Path)), responses((status = 200, body = EpisodeDetail), (status = 404, body = Problem)))]
#[get("/management/episodes/{id}")]
pub async fn get_episode(
    p: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ReadPersonalData)?;
    let id: uuid::Uuid = path_id(&id, "episode")?;
    let now = state.now();
    let r = db::run(&state.pool, move |c| svc::record(c, &p, EpisodeId(id), now)).await?;
    let tag = etag(&r.episode);
    let case = r.case.map(|(c, events)| {
        serde_json::json!({
            "id": c.id, "programme": c.programme, "reason": c.reason, "state": c.state,
            "opened_at": c.opened_at.utc(), "resolved_at": c.resolved_at.map(UtcMicros::utc),
            "outcome": c.outcome.map(|o| o.0),
            "timeline": events.into_iter().map(|e| serde_json::json!({
                "kind": e.kind, "from_state": e.from_state, "to_state": e.to_state,
                "detail": e.detail.0, "actor": e.actor, "at": e.at.utc()})).collect::<Vec<_>>(),
        })
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, tag))
        .json(EpisodeDetail {
            contacts: r.contacts.into_iter().map(|c| ContactResponse::new(c, now)).collect(),
            treatments: r
                .treatments
                .into_iter()
                .map(|t| serde_json::json!({"kind": t.kind, "regimen": t.regimen, "prescriber": t.prescriber,
                    "started_at": t.started_at.utc(), "recorded_by": t.recorded_by, "recorded_at": t.recorded_at.utc()}))
                .collect(),
            escalations: r
                .escalations
                .into_iter()
                .map(|x| serde_json::json!({"contact_id": x.contact_id, "rung": x.rung, "fired_at": x.fired_at.utc(), "recipients": x.recipients.0}))
                .collect(),
            case,
            timeline: r
                .events
                .into_iter()
                .map(|e| serde_json::json!({"kind": e.kind, "detail": e.detail.0, "actor": e.actor, "at": e.at.utc()}))
                .collect(),
            episode: EpisodeResponse::new(r.episode, now),
        }))
}

#[utoipa::path(tag = "management", security(("bearer" = [])), request_body = RegisterRequest,
    responses((status = 201, body = EpisodeResponse), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/management/episodes")]
pub async fn register_episode(
    p: Principal,
    state: web::Data<AppState>,
    body: ApiJson<RegisterRequest>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ManageEpisodes)?;
    let b = body.0;
    let condition = b.condition.trim().to_string();
    if condition.is_empty() || condition.len() > 32 {
        return Err(AppError::invalid("condition", "must be 1–32 characters"));
    }
    let now = state.now();
    let plans = crate::services::management::plans::current(&state.plans, now)?;
    let input = OpenInput {
        infant_id: b.infant_id,
        condition,
        programme: b.programme,
        diagnosed_at: b.diagnosed_at,
        case_id: None,
        centre: state.settings.management.centre.clone(),
    };
    let scope = p.scope();
    let e = db::run(&state.pool, move |c| {
        svc::register(c, &plans, &scope, input, &p, now)
    })
    .await?;
    Ok(respond(e, now, actix_web::http::StatusCode::CREATED))
}

async fn act(
    req: &HttpRequest,
    p: Principal,
    state: &AppState,
    id: &str,
    action: EpisodeAction,
) -> Result<HttpResponse, AppError> {
    let id: uuid::Uuid = path_id(id, "episode")?;
    let expected = if_match(req)?;
    let (scope, now, plans) = (p.scope(), state.now(), state.plans.clone());
    let e = db::run(&state.pool, move |c| {
        svc::act(c, &plans, &scope, EpisodeId(id), expected, action, &p, now)
    })
    .await?;
    Ok(respond(e, now, actix_web::http::StatusCode::OK))
}

#[utoipa::path(tag = "management", security(("bearer" = [])), params(("id" = String, Path), ("If-Match" = String, Header)), request_body = TreatmentRequest,
    responses((status = 200, body = EpisodeResponse), (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
#[post("/management/episodes/{id}/treatments")]
pub async fn record_treatment(
    req: HttpRequest,
    p: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<TreatmentRequest>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::RecordClinical)?;
    act(
        &req,
        p,
        &state,
        &id,
        EpisodeAction::Treatment(body.0.into()),
    )
    .await
}

#[utoipa::path(tag = "management", security(("bearer" = [])), params(("id" = String, Path), ("contact_id" = String, Path), ("If-Match" = String, Header)), request_body = ContactRequest,
    responses((status = 200, body = EpisodeResponse), (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem), (status = 428, body = Problem)))]
#[post("/management/episodes/{id}/contacts/{contact_id}")]
pub async fn record_contact(
    req: HttpRequest,
    p: Principal,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: ApiJson<ContactRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    // Measurements and treatment are clinical; a coordinator may record a contact that happened.
    let clinical = !b.measurements.is_empty() || b.treatment.is_some();
    if clinical || !p.role.may(Action::ManageEpisodes) {
        require(&p, Action::RecordClinical)?;
    }
    let (id, cid) = path.into_inner();
    let cid: uuid::Uuid = path_id(&cid, "contact")?;
    let input = ContactInput {
        done_at: b.done_at.unwrap_or_else(|| state.now()),
        measurements: b.measurements,
        note: b.note.filter(|n| !n.trim().is_empty()),
        treatment: b.treatment.map(Into::into),
    };
    act(
        &req,
        p,
        &state,
        &id,
        EpisodeAction::Contact(ContactId(cid), input),
    )
    .await
}

#[utoipa::path(tag = "management", security(("bearer" = [])), params(("id" = String, Path), ("If-Match" = String, Header)), request_body = TransferRequest,
    responses((status = 200, body = EpisodeResponse), (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
#[post("/management/episodes/{id}/transfer")]
pub async fn transfer_episode(
    req: HttpRequest,
    p: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<TransferRequest>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ManageEpisodes)?;
    let b = body.0;
    let a = EpisodeAction::Transfer {
        to_centre: b.to_centre,
        to_hospital: b.to_hospital_id,
        note: b.note,
    };
    act(&req, p, &state, &id, a).await
}

#[utoipa::path(tag = "management", security(("bearer" = [])), params(("id" = String, Path), ("If-Match" = String, Header)), request_body = ReportRequest,
    responses((status = 200, body = EpisodeResponse), (status = 409, body = Problem), (status = 412, body = Problem)))]
#[post("/management/episodes/{id}/report")]
pub async fn report_episode(
    req: HttpRequest,
    p: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<ReportRequest>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ManageEpisodes)?;
    act(
        &req,
        p,
        &state,
        &id,
        EpisodeAction::Report {
            reference: body.0.reference,
        },
    )
    .await
}

#[utoipa::path(tag = "management", security(("bearer" = [])), params(("id" = String, Path), ("If-Match" = String, Header)),
    responses((status = 200, body = EpisodeResponse), (status = 409, body = Problem), (status = 412, body = Problem)))]
#[post("/management/episodes/{id}/flags/acknowledge")]
pub async fn acknowledge_flags(
    req: HttpRequest,
    p: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::RecordClinical)?;
    act(&req, p, &state, &id, EpisodeAction::AcknowledgeFlags).await
}

#[utoipa::path(tag = "management", security(("bearer" = [])), params(("id" = String, Path), ("If-Match" = String, Header)), request_body = CloseRequest,
    responses((status = 200, body = EpisodeResponse), (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
#[post("/management/episodes/{id}/close")]
pub async fn close_episode(
    req: HttpRequest,
    p: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<CloseRequest>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ManageEpisodes)?;
    act(&req, p, &state, &id, EpisodeAction::Close(body.0.closure)).await
}
