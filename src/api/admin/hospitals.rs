//! `/api/v1/hospitals`: maternity hospitals. Admins create and edit; screening-centre staff read
//! all; hospital principals read only their own.

use actix_web::http::header;
use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::json::{ApiJson, double_option};
use crate::api::path_id;
use crate::auth::extract::require;
use crate::db;
use crate::db::models::admin::hospital::{self, Hospital};
use crate::domain::ids::HospitalId;
use crate::domain::principal::Principal;
use crate::domain::role::Action;
use crate::error::{AppError, Problem};
use crate::services::admin::accounts::{self, HospitalInput, HospitalPatch};
use crate::state::AppState;

/// A hospital as returned.
#[derive(Debug, Serialize, ToSchema)]
pub struct HospitalResponse {
    /// The hospital's id.
    pub id: HospitalId,
    /// Unique code.
    pub code: String,
    /// The hospital's name.
    pub name: String,
    /// The district it belongs to.
    pub district: Option<String>,
    /// Follow-up contact addresses.
    pub contact_emails: Vec<String>,
    /// Whether it may register births and log in.
    pub active: bool,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last changed (UTC).
    pub updated_at: DateTime<Utc>,
    /// Its heart-screening protocol; `null` means the catalogue's default.
    pub cchd_protocol: Option<String>,
}

impl From<Hospital> for HospitalResponse {
    fn from(h: Hospital) -> Self {
        Self {
            contact_emails: h.emails(),
            id: h.id,
            code: h.code,
            name: h.name,
            district: h.district,
            active: h.active,
            created_at: h.created_at.utc(),
            updated_at: h.updated_at.utc(),
            cchd_protocol: h.cchd_protocol,
        }
    }
}

/// A new hospital.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateHospitalRequest {
    /// Unique code (letters, digits, `-`, `_`).
    pub code: String,
    /// The hospital's name.
    pub name: String,
    /// The district it belongs to.
    #[serde(default)]
    pub district: Option<String>,
    /// Follow-up contact addresses.
    #[serde(default)]
    pub contact_emails: Vec<String>,
}

/// Changes to a hospital; absent fields stay, `district: null` clears.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateHospitalRequest {
    /// New name.
    pub name: Option<String>,
    /// New district.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub district: Option<Option<String>>,
    /// New contact list.
    pub contact_emails: Option<Vec<String>>,
    /// Activate or deactivate.
    pub active: Option<bool>,
    /// The heart-screening protocol this hospital's screens start under (a catalogue protocol
    /// code), or `null` for the catalogue's default.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub cchd_protocol: Option<Option<String>>,
}

/// List filters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HospitalQuery {
    /// Only active or inactive hospitals.
    pub active: Option<bool>,
}

/// Register a hospital (admin).
#[utoipa::path(tag = "hospitals", security(("bearer" = [])), request_body = CreateHospitalRequest, responses(
    (status = 201, body = HospitalResponse), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/hospitals")]
pub async fn create_hospital(
    p: Principal,
    state: web::Data<AppState>,
    body: ApiJson<CreateHospitalRequest>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ManageAccounts)?;
    let b = body.0;
    let input = HospitalInput {
        code: b.code,
        name: b.name,
        district: b.district,
        contact_emails: b.contact_emails,
    };
    let now = state.now();
    let h = db::run(&state.pool, move |c| {
        accounts::create_hospital(c, input, now)
    })
    .await?;
    tracing::info!(hospital.id = %h.id, "hospital created");
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/hospitals/{}", h.id)))
        .json(HospitalResponse::from(h)))
}

/// List hospitals visible to the caller.
#[utoipa::path(tag = "hospitals", security(("bearer" = [])), params(HospitalQuery), responses((status = 200, body = [HospitalResponse])))]
#[get("/hospitals")]
pub async fn list_hospitals(
    p: Principal,
    state: web::Data<AppState>,
    q: web::Query<HospitalQuery>,
) -> Result<HttpResponse, AppError> {
    let scope = p.scope();
    let active = q.active;
    let rows = db::run(&state.pool, move |c| Ok(hospital::list(c, &scope, active)?)).await?;
    Ok(HttpResponse::Ok().json(
        rows.into_iter()
            .map(HospitalResponse::from)
            .collect::<Vec<_>>(),
    ))
}

/// One hospital (404 when not visible to the caller).
#[utoipa::path(tag = "hospitals", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = HospitalResponse), (status = 404, body = Problem)))]
#[get("/hospitals/{id}")]
pub async fn get_hospital(
    p: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id: HospitalId = path_id(&id, "hospital")?;
    let scope = p.scope();
    let h = db::run(&state.pool, move |c| {
        hospital::get(c, &scope, id)?.ok_or(AppError::NotFound { entity: "hospital" })
    })
    .await?;
    Ok(HttpResponse::Ok().json(HospitalResponse::from(h)))
}

/// Change a hospital (admin).
#[utoipa::path(tag = "hospitals", security(("bearer" = [])), params(("id" = String, Path)), request_body = UpdateHospitalRequest, responses(
    (status = 200, body = HospitalResponse), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[patch("/hospitals/{id}")]
pub async fn update_hospital(
    p: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<UpdateHospitalRequest>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ManageAccounts)?;
    let id: HospitalId = path_id(&id, "hospital")?;
    let b = body.0;
    let patch = HospitalPatch {
        name: b.name,
        district: b.district,
        contact_emails: b.contact_emails,
        active: b.active,
        cchd_protocol: b.cchd_protocol,
    };
    let now = state.now();
    let interp = crate::services::admin::catalogue::current(&state.catalogues, now)?;
    let h = db::run(&state.pool, move |c| {
        accounts::update_hospital(c, interp.catalogue(), id, patch, now)
    })
    .await?;
    tracing::info!(hospital.id = %h.id, "hospital updated");
    Ok(HttpResponse::Ok().json(HospitalResponse::from(h)))
}
