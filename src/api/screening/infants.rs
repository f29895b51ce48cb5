//! `/api/v1/infants`: registered births. Hospital principals register into and see only their
//! own hospital (enforced by `Scope` in the query layer); screening-centre staff see all.
//! The mother's ID number is accepted but only ever returned masked.

use actix_web::http::header;
use actix_web::{HttpResponse, get, patch, post, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, FixedOffset, Offset, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::Paged;
use crate::api::json::{ApiJson, double_option};
use crate::api::path_id;
use crate::auth::extract::require;
use crate::db;
use crate::db::models::screening::infant::{self, Infant, InfantFilter};
use crate::db::types::UtcMicros;
use crate::domain::id_card::IdDocumentType;
use crate::domain::ids::{HospitalId, InfantId};
use crate::domain::infant::{BirthFacts, InfantStatus, Sex};
use crate::domain::principal::Principal;
use crate::domain::role::Action;
use crate::error::{AppError, ErrorCode, Problem};
use crate::services::admin::audit;
use crate::services::screening::infants::{
    self as svc, IdDocumentInput, InfantPatch, Registration,
};
use crate::state::AppState;

/// Identity document as submitted.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdDocumentRequest {
    /// Document type.
    #[serde(rename = "type")]
    pub kind: IdDocumentType,
    /// Number (resident IDs are checksum-verified). Stored only as a keyed hash.
    pub number: String,
}

/// Mother's details as submitted.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MotherRequest {
    /// The mother's name.
    pub name: String,
    /// One to three phone numbers.
    pub phones: Vec<String>,
    /// Identity document.
    #[serde(default)]
    pub id_document: Option<IdDocumentRequest>,
}

/// A birth registration.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInfantRequest {
    /// Required for screening-centre callers; hospital principals may omit it.
    #[serde(default)]
    pub hospital_id: Option<HospitalId>,
    /// Medical record number, unique within the hospital.
    pub mrn: String,
    /// Sex at birth.
    pub sex: Sex,
    /// Birth date-time with its UTC offset (RFC 3339), not in the future.
    #[schema(value_type = String, format = DateTime)]
    pub birth_at: DateTime<FixedOffset>,
    /// Completed weeks of gestation, 20–45.
    pub gestational_age_weeks: i64,
    /// Extra days, 0–6.
    #[serde(default)]
    pub gestational_age_days: i64,
    /// Birth weight in grams, 200–7000.
    pub birth_weight_g: i64,
    /// Babies in this delivery (default 1).
    #[serde(default = "one")]
    pub plurality: i64,
    /// Position among them (default 1).
    #[serde(default = "one")]
    pub birth_order: i64,
    /// Admitted to a neonatal intensive care unit.
    #[serde(default)]
    pub nicu_admitted: bool,
    /// The mother: name, phones, identity document.
    pub mother: MotherRequest,
    /// Home address.
    #[serde(default)]
    pub address: Option<String>,
}

fn one() -> i64 {
    1
}

/// Mother's details to change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MotherPatchRequest {
    /// New name.
    pub name: Option<String>,
    /// New phone list.
    pub phones: Option<Vec<String>>,
    /// New document, or `null` to remove it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<IdDocumentRequest>)]
    pub id_document: Option<Option<IdDocumentRequest>>,
}

/// Contact and status changes; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateInfantRequest {
    /// Mother's contact details.
    pub mother: Option<MotherPatchRequest>,
    /// New address, or `null` to clear.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub address: Option<Option<String>>,
    /// New status (`deceased` is final).
    pub status: Option<InfantStatus>,
    /// When it changed (defaults to now).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub status_changed_at: Option<DateTime<FixedOffset>>,
    /// Why, e.g. receiving hospital.
    pub status_note: Option<String>,
    /// The family declines (true) or accepts again (false) SMS reminders.
    pub sms_opt_out: Option<bool>,
    /// Days the infant spent in the NICU (0–365), or `null` to clear; recorded once here and
    /// used by every hearing assessment (more than the catalogue's limit needs AABR).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>)]
    pub nicu_days: Option<Option<i64>>,
}

/// Identity document as returned: masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdDocumentResponse {
    /// Document type.
    #[serde(rename = "type")]
    pub kind: IdDocumentType,
    /// Masked number, e.g. `330***********123X`.
    pub number_masked: String,
}

/// Mother as returned.
#[derive(Debug, Serialize, ToSchema)]
pub struct MotherResponse {
    /// The mother's name.
    pub name: String,
    /// The mother's phone numbers.
    pub phones: Vec<String>,
    /// Masked document.
    pub id_document: Option<IdDocumentResponse>,
}

/// An infant as returned.
#[derive(Debug, Serialize, ToSchema)]
pub struct InfantResponse {
    /// The infant's id.
    pub id: InfantId,
    /// The birth hospital.
    pub hospital_id: HospitalId,
    /// Medical record number.
    pub mrn: String,
    /// Sex at birth.
    pub sex: Sex,
    /// Birth time in the offset it was reported in.
    #[schema(value_type = String, format = DateTime)]
    pub birth_at: DateTime<FixedOffset>,
    /// Completed weeks.
    pub gestational_age_weeks: i32,
    /// Extra days.
    pub gestational_age_days: i32,
    /// Birth weight in grams.
    pub birth_weight_g: i32,
    /// Babies in the delivery.
    pub plurality: i32,
    /// Position among them.
    pub birth_order: i32,
    /// NICU admission.
    pub nicu_admitted: bool,
    /// The mother.
    pub mother: MotherResponse,
    /// The family's address.
    pub address: Option<String>,
    /// `active`, `deceased` or `transferred`.
    pub status: InfantStatus,
    /// When the status last changed.
    pub status_changed_at: Option<DateTime<Utc>>,
    /// Why the status changed (transfer, death).
    pub status_note: Option<String>,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    pub updated_at: DateTime<Utc>,
    /// A contact attempt found the details wrong; correcting phones or address clears it.
    pub contact_problem: bool,
    /// When this record was merged into another: the kept record's id.
    pub merged_into: Option<InfantId>,
    /// The family declined SMS; follow-up uses other channels.
    pub sms_opt_out: bool,
    /// Days in the NICU, when recorded.
    pub nicu_days: Option<i32>,
}

impl From<Infant> for InfantResponse {
    fn from(i: Infant) -> Self {
        let offset = FixedOffset::east_opt(i.birth_utc_offset_minutes * 60).unwrap_or(Utc.fix());
        let phones = i.phones();
        let id_document = match (i.mother_id_type, i.mother_id_masked) {
            (Some(kind), Some(number_masked)) => Some(IdDocumentResponse {
                kind,
                number_masked,
            }),
            _ => None,
        };
        Self {
            birth_at: i.birth_at.utc().with_timezone(&offset),
            mother: MotherResponse {
                name: i.mother_name,
                phones,
                id_document,
            },
            id: i.id,
            hospital_id: i.hospital_id,
            mrn: i.mrn,
            sex: i.sex,
            gestational_age_weeks: i.gestational_age_weeks,
            gestational_age_days: i.gestational_age_days,
            birth_weight_g: i.birth_weight_g,
            plurality: i.plurality,
            birth_order: i.birth_order,
            nicu_admitted: i.nicu_admitted,
            address: i.address,
            status: i.status,
            status_changed_at: i.status_changed_at.map(|t| t.utc()),
            status_note: i.status_note,
            created_at: i.created_at.utc(),
            updated_at: i.updated_at.utc(),
            contact_problem: i.contact_problem,
            sms_opt_out: i.sms_opt_out,
            nicu_days: i.nicu_days,
            merged_into: i.merged_into,
        }
    }
}

/// A page of infants.
#[derive(Debug, Serialize, ToSchema)]
pub struct InfantPage {
    /// Newest registrations first.
    pub items: Vec<InfantResponse>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// List filters and paging.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct InfantQuery {
    /// Only this hospital (screening-centre callers).
    pub hospital_id: Option<HospitalId>,
    /// Only this status.
    pub status: Option<InfantStatus>,
    /// Exact MRN.
    pub mrn: Option<String>,
    /// NICU admission.
    pub nicu_admitted: Option<bool>,
    /// Born at or after (RFC 3339, e.g. `2026-11-01T00:00:00Z`).
    pub born_from: Option<DateTime<Utc>>,
    /// Born before.
    pub born_to: Option<DateTime<Utc>>,
    /// Opaque cursor from the previous page.
    pub cursor: Option<String>,
    /// Page size, 1–200 (default 50).
    pub limit: Option<i64>,
}

fn id_input(d: IdDocumentRequest) -> IdDocumentInput {
    IdDocumentInput {
        kind: d.kind,
        number: d.number,
    }
}

/// Register a birth.
#[utoipa::path(tag = "infants", security(("bearer" = [])), request_body = CreateInfantRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried POST return the first response")),
    responses((status = 201, body = InfantResponse), (status = 400, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/infants")]
pub async fn create_infant(
    p: Principal,
    state: web::Data<AppState>,
    body: ApiJson<CreateInfantRequest>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::WriteInfants)?;
    let b = body.0;
    let reg = Registration {
        hospital_id: b.hospital_id,
        sex: b.sex,
        birth: BirthFacts {
            mrn: b.mrn,
            birth_at: b.birth_at,
            gestational_age_weeks: b.gestational_age_weeks,
            gestational_age_days: b.gestational_age_days,
            birth_weight_g: b.birth_weight_g,
            plurality: b.plurality,
            birth_order: b.birth_order,
        },
        nicu_admitted: b.nicu_admitted,
        mother_name: b.mother.name,
        mother_phones: b.mother.phones,
        mother_id: b.mother.id_document.map(id_input),
        address: b.address,
    };
    let (now, key) = (state.now(), state.id_hash_key.0.clone());
    let row = state
        .writer
        .run(move |c| svc::register(c, &p, reg, &key, now))
        .await?;
    tracing::info!(infant.id = %row.id, hospital.id = %row.hospital_id, "infant registered");
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/infants/{}", row.id)))
        .json(InfantResponse::from(row)))
}

/// List infants visible to the caller, with filters and cursor paging.
#[utoipa::path(tag = "infants", security(("bearer" = [])), params(InfantQuery), responses((status = 200, body = InfantPage), (status = 400, body = Problem)))]
#[get("/infants")]
pub async fn list_infants(
    p: Principal,
    state: web::Data<AppState>,
    q: web::Query<InfantQuery>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ReadPersonalData)?;
    let q = q.into_inner();
    let limit = crate::api::page_limit(q.limit, 50, 200)?;
    let before_id = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let filter = InfantFilter {
        hospital_id: q.hospital_id,
        status: q.status,
        mrn: q.mrn,
        nicu_admitted: q.nicu_admitted,
        born_from: q.born_from.map(UtcMicros::new),
        born_to: q.born_to.map(UtcMicros::new),
        before_id,
    };
    let (scope, now) = (p.scope(), state.now());
    let page = db::run(&state.pool, move |c| {
        let page = Paged::of(infant::list(c, &scope, &filter, limit + 1)?, limit);
        audit::list_read(
            c,
            &p,
            "infant",
            page.items.iter().map(|r| r.id.to_string()),
            now,
        )?;
        Ok(page)
    })
    .await?;
    let next_cursor = page.next_cursor(|r| URL_SAFE_NO_PAD.encode(r.id.to_string()));
    Ok(HttpResponse::Ok().json(InfantPage {
        items: page.items.into_iter().map(InfantResponse::from).collect(),
        next_cursor,
    }))
}

fn decode_cursor(c: &str) -> Result<String, AppError> {
    URL_SAFE_NO_PAD
        .decode(c)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|s| s.parse::<InfantId>().is_ok())
        .ok_or_else(|| {
            AppError::bad_field(
                ErrorCode::InvalidQuery,
                "cursor",
                "is not a cursor from this API",
            )
        })
}

/// One infant (404 when not visible to the caller).
#[utoipa::path(tag = "infants", security(("bearer" = [])), params(("id" = String, Path)), responses((status = 200, body = InfantResponse), (status = 404, body = Problem)))]
#[get("/infants/{id}")]
pub async fn get_infant(
    p: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ReadPersonalData)?;
    let id: InfantId = path_id(&id, "infant")?;
    let scope = p.scope();
    let now = state.now();
    let row = db::run(&state.pool, move |c| {
        let row = svc::get(c, &scope, id)?;
        audit::read(c, &p, "infant", row.id, now)?;
        Ok(row)
    })
    .await?;
    Ok(HttpResponse::Ok().json(InfantResponse::from(row)))
}

/// Update contact details and status.
#[utoipa::path(tag = "infants", security(("bearer" = [])), params(("id" = String, Path)), request_body = UpdateInfantRequest, responses(
    (status = 200, body = InfantResponse), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[patch("/infants/{id}")]
pub async fn update_infant(
    p: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<UpdateInfantRequest>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::WriteInfants)?;
    let id: InfantId = path_id(&id, "infant")?;
    let b = body.0;
    let (name, phones, id_doc) = match b.mother {
        Some(m) => (m.name, m.phones, m.id_document.map(|d| d.map(id_input))),
        None => (None, None, None),
    };
    let patch = InfantPatch {
        mother_name: name,
        mother_phones: phones,
        mother_id: id_doc,
        address: b.address,
        status: b.status,
        status_changed_at: b.status_changed_at,
        status_note: b.status_note,
        sms_opt_out: b.sms_opt_out,
        nicu_days: b.nicu_days,
    };
    let (now, key) = (state.now(), state.id_hash_key.0.clone());
    let interp = crate::services::admin::catalogue::current(&state.catalogues, now)?;
    let policy = crate::services::admin::policy::current(&state.policies, now)?;
    let row = db::run(&state.pool, move |c| {
        let rules = crate::services::screening::cards::Rules {
            interp: &interp,
            policy: &policy,
            who: &p,
        };
        svc::update(c, &p, rules, id, patch, &key, now)
    })
    .await?;
    tracing::info!(infant.id = %row.id, "infant updated");
    Ok(HttpResponse::Ok().json(InfantResponse::from(row)))
}
