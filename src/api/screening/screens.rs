//! Per-infant screening: hearing tests, pulse-oximetry measurements, consent or refusal, the
//! three-programme summary, and the missed-screen list.

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::json::ApiJson;
use crate::api::path_id;
use crate::auth::extract::require;
use crate::db;
use crate::db::models::screening::screens::InterventionRow;
use crate::domain::catalogue::Programme;
use crate::domain::cchd::{CchdMeasurement, CchdOutcome};
use crate::domain::consent::Decision;
use crate::domain::hearing::InterventionKind;
use crate::domain::hearing::{
    EarResult, HearingAssessment, HearingMethod, HearingStage, HearingTest,
};
use crate::domain::ids::InfantId;
use crate::domain::principal::Principal;
use crate::domain::role::Action;
use crate::error::{AppError, Problem};
use crate::services::admin::catalogue::current;
use crate::services::admin::policy;
use crate::services::screening::screens::{
    self as svc, ConsentInput, HearingInput, InterventionInput,
};
use crate::services::screening::summary::{self as screening, MissedScreen, ScreeningSummary};
use crate::state::AppState;

/// A hearing test.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HearingRequest {
    /// `initial`, `rescreen` or `diagnostic`.
    pub stage: HearingStage,
    /// `OAE`, `AABR` or `DIAGNOSTIC`.
    pub method: HearingMethod,
    /// Left ear `pass` / `refer` (diagnostic: normal / hearing loss).
    pub left: EarResult,
    /// Right ear.
    pub right: EarResult,
    /// When the test was done.
    pub tested_at: DateTime<Utc>,
    /// Deprecated: record the stay once with `PATCH /infants/{id}` (`nicu_days`), which wins
    /// over this field. Days in NICU, when known (over the catalogue's limit requires AABR).
    #[serde(default)]
    pub nicu_days: Option<i64>,
    /// Risk-factor codes of the catalogue.
    #[serde(default)]
    pub risk_factors: Vec<String>,
}

/// A pulse-oximetry measurement with auscultation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CchdRequest {
    /// Protocol code. A repeat continues its sequence's protocol (naming another is refused);
    /// a first measurement defaults to the hospital's protocol, else the catalogue's.
    #[serde(default)]
    pub protocol: Option<String>,
    /// When the measurement was taken.
    pub measured_at: DateTime<Utc>,
    /// Right hand SpO2 (%).
    pub right_hand_spo2: f64,
    /// Foot SpO2 (%).
    pub foot_spo2: f64,
    /// Murmur grade 0–6.
    #[serde(default)]
    pub murmur_grade: Option<i64>,
    /// Clinical signs (family history of CHD, special facial features, other malformations).
    #[serde(default)]
    pub clinical_signs: Vec<String>,
    /// A device's heart-sound auscultation (AI stethoscope), beside or instead of a clinician's
    /// murmur grade; where the protocol says so, its suspected murmur is the murmur sign.
    #[serde(default)]
    pub auscultation: Option<crate::domain::cchd::Auscultation>,
}

/// The heart screen after this measurement.
#[derive(Debug, Serialize, ToSchema)]
pub struct CchdResponse {
    /// Protocol applied.
    pub protocol: String,
    /// Outcome over the infant's measurements under it.
    pub outcome: CchdOutcome,
    /// Measurements ignored and why.
    pub notes: Vec<String>,
}

/// A guardian's signed decision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    /// `DBS`, `HEAR` or `CCHD`.
    pub programme: Programme,
    /// Consent or refusal.
    pub decision: Decision,
    /// Who signed.
    pub guardian_name: String,
    /// When the parent signed.
    pub signed_at: DateTime<Utc>,
}

/// A recorded decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentResponse {
    /// The decision's id.
    pub id: String,
    /// The programme the decision is for.
    pub programme: Programme,
    /// Consent or refusal.
    pub decision: Decision,
    /// When signed.
    pub signed_at: DateTime<Utc>,
    /// Staff or client that recorded it.
    pub recorded_by: String,
}

/// Missed-screen filters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MissedQuery {
    /// `DBS`, `HEAR` or `CCHD`.
    pub programme: Programme,
    /// Reference time (default now).
    pub as_of: Option<DateTime<Utc>>,
    /// Maximum rows, 1–5000 (default 500).
    pub limit: Option<i64>,
}

/// Missed screens.
#[derive(Debug, Serialize, ToSchema)]
pub struct MissedResponse {
    /// Infants, oldest birth first.
    pub items: Vec<MissedScreen>,
}

fn infant_id(raw: &str) -> Result<InfantId, AppError> {
    path_id(raw, "infant")
}

/// Record a hearing test; answers the hearing pathway's assessment.
#[utoipa::path(tag = "screening", security(("bearer" = [])), params(("id" = String, Path)), request_body = HearingRequest,
    responses((status = 201, body = HearingAssessment), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/infants/{id}/hearing-screens")]
pub async fn create_hearing_screen(
    p: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<HearingRequest>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::WriteInfants)?;
    let id = infant_id(&id)?;
    let b = body.0;
    let input = HearingInput {
        test: HearingTest {
            stage: b.stage,
            method: b.method,
            left: b.left,
            right: b.right,
            tested_at: b.tested_at,
        },
        nicu_days: b.nicu_days,
        risk_factors: b.risk_factors,
    };
    let now = state.now();
    let interp = current(&state.catalogues, now)?;
    let policy = policy::current(&state.policies, now)?;
    let a = db::run(&state.pool, move |c| {
        svc::record_hearing(c, interp.catalogue(), &policy, &p, &id, input, now)
    })
    .await?;
    tracing::info!(infant.id = %id, "hearing test recorded");
    Ok(HttpResponse::Created().json(a))
}

/// Record a pulse-oximetry measurement; answers the protocol's outcome.
#[utoipa::path(tag = "screening", security(("bearer" = [])), params(("id" = String, Path)), request_body = CchdRequest,
    responses((status = 201, body = CchdResponse), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/infants/{id}/cchd-screens")]
pub async fn create_cchd_screen(
    p: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<CchdRequest>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::WriteInfants)?;
    let id = infant_id(&id)?;
    let b = body.0;
    let m = CchdMeasurement {
        measured_at: b.measured_at,
        right_hand_spo2: b.right_hand_spo2,
        foot_spo2: b.foot_spo2,
        murmur_grade: b.murmur_grade,
        clinical_signs: b.clinical_signs,
        auscultation: b.auscultation,
    };
    let now = state.now();
    let interp = current(&state.catalogues, now)?;
    let policy = policy::current(&state.policies, now)?;
    let (protocol, outcome, notes) = db::run(&state.pool, move |c| {
        svc::record_cchd(
            c,
            interp.catalogue(),
            &policy,
            &p,
            &id,
            (b.protocol, m),
            now,
        )
    })
    .await?;
    tracing::info!(infant.id = %id, "heart screen recorded");
    Ok(HttpResponse::Created().json(CchdResponse {
        protocol,
        outcome,
        notes,
    }))
}

/// Record a guardian's consent or refusal for a programme; the latest decision is in force.
#[utoipa::path(tag = "screening", security(("bearer" = [])), params(("id" = String, Path)), request_body = ConsentRequest,
    responses((status = 201, body = ConsentResponse), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/infants/{id}/consents")]
pub async fn create_consent(
    p: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<ConsentRequest>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::WriteInfants)?;
    let id = infant_id(&id)?;
    let b = body.0;
    let input = ConsentInput {
        programme: b.programme,
        decision: b.decision,
        guardian_name: b.guardian_name,
        signed_at: b.signed_at,
    };
    let now = state.now();
    let row = db::run(&state.pool, move |c| {
        svc::record_consent(c, &p, &id, input, now)
    })
    .await?;
    tracing::info!(infant.id = %id, "screening decision recorded");
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/infants/{id}/screening")))
        .json(ConsentResponse {
            id: row.id,
            programme: row.programme,
            decision: row.decision,
            signed_at: row.signed_at.utc(),
            recorded_by: row.recorded_by,
        }))
}

/// A hearing intervention that started.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InterventionRequest {
    /// What was started.
    pub kind: InterventionKind,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Who provides it (a centre or programme name).
    #[serde(default)]
    pub provider: Option<String>,
}

/// Record that a hearing intervention started for an infant (hearing aids, cochlear implant,
/// early-intervention services): the last step of the 1-3-6 pathway, due by 6 months of age.
#[utoipa::path(tag = "screening", security(("bearer" = [])), params(("id" = String, Path)), request_body = InterventionRequest,
    responses((status = 201, body = InterventionRow), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/infants/{id}/hearing-interventions")]
pub async fn create_hearing_intervention(
    p: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<InterventionRequest>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::WriteInfants)?;
    let id = infant_id(&id)?;
    let b = body.0;
    let input = InterventionInput {
        kind: b.kind,
        started_at: b.started_at,
        provider: b.provider,
    };
    let now = state.now();
    let row = db::run(&state.pool, move |c| {
        svc::record_intervention(c, &p, &id, input, now)
    })
    .await?;
    tracing::info!(infant.id = %id, intervention.id = %row.id, "hearing intervention recorded");
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/infants/{id}/screening")))
        .json(row))
}

/// Screening status of an infant in every programme, with specimens, tests, interpretations and
/// the next due action.
#[utoipa::path(tag = "screening", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = ScreeningSummary), (status = 404, body = Problem)))]
#[get("/infants/{id}/screening")]
pub async fn get_screening_summary(
    p: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ReadPersonalData)?;
    let id = infant_id(&id)?;
    let now = state.now();
    let interp = current(&state.catalogues, now)?;
    let scope = p.scope();
    let s = db::run(&state.pool, move |c| {
        let s = screening::summary(c, &interp, &scope, id, now)?;
        crate::services::admin::audit::read(c, &p, "infant_screening", s.infant_id, now)?;
        Ok(s)
    })
    .await?;
    Ok(HttpResponse::Ok().json(s))
}

/// Infants past a programme's screening age with no valid screen (refusals excluded).
#[utoipa::path(tag = "screening", security(("bearer" = [])), params(MissedQuery),
    responses((status = 200, body = MissedResponse), (status = 400, body = Problem)))]
#[get("/screening/missed")]
pub async fn list_missed_screens(
    p: Principal,
    state: web::Data<AppState>,
    q: web::Query<MissedQuery>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ReadPersonalData)?;
    let q = q.into_inner();
    let limit = crate::api::page_limit(q.limit, 500, 5000)?;
    let as_of = q.as_of.unwrap_or_else(|| state.now());
    let interp = current(&state.catalogues, as_of)?;
    let scope = p.scope();
    let now = state.now();
    let items = db::run(&state.pool, move |c| {
        let items = screening::missed(
            c,
            interp.catalogue(),
            &scope,
            q.programme,
            as_of,
            limit,
            false,
        )?;
        let ids = items.iter().map(|m| m.infant_id);
        crate::services::admin::audit::list_read(c, &p, "infant", ids, now)?;
        Ok(items)
    })
    .await?;
    Ok(HttpResponse::Ok().json(MissedResponse { items }))
}
