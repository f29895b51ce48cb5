//! `/api/v1/clients`: hospitals' REST clients (admin only). The secret is returned once, at
//! creation or rotation; only its hash is kept.

use actix_web::http::header;
use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::json::ApiJson;
use crate::api::path_id;
use crate::auth::extract::require;
use crate::db;
use crate::db::models::admin::api_client::{self, ApiClient};
use crate::domain::ids::{ApiClientId, HospitalId};
use crate::domain::principal::Principal;
use crate::domain::role::{Action, Role};
use crate::error::{AppError, Problem};
use crate::services::admin::accounts::{self, IssuedClient};
use crate::state::AppState;

/// A client as returned (never with its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientResponse {
    /// Row id (for admin URLs).
    pub id: String,
    /// Public client id used at the token endpoint.
    pub client_id: String,
    /// A name for people (the hospital or laboratory system).
    pub name: String,
    /// `hospital_client` or `lab_client`.
    pub role: Role,
    /// Hospital it acts for (hospital clients).
    pub hospital_id: Option<HospitalId>,
    /// May obtain tokens.
    pub active: bool,
    /// When the current secret was issued.
    pub secret_rotated_at: DateTime<Utc>,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
}

impl From<ApiClient> for ClientResponse {
    fn from(c: ApiClient) -> Self {
        Self {
            id: c.id,
            client_id: c.client_id,
            name: c.name,
            role: c.role,
            hospital_id: c.hospital_id,
            active: c.active,
            secret_rotated_at: c.secret_rotated_at.utc(),
            created_at: c.created_at.utc(),
        }
    }
}

/// A client with its newly issued secret: shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientWithSecretResponse {
    /// The client.
    #[serde(flatten)]
    pub client: ClientResponse,
    /// The secret; store it now, it cannot be shown again.
    pub client_secret: String,
}

impl From<IssuedClient> for ClientWithSecretResponse {
    fn from(i: IssuedClient) -> Self {
        Self {
            client: i.client.into(),
            client_secret: i.secret,
        }
    }
}

/// A new client.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateClientRequest {
    /// Name, e.g. the hospital's HIS integration.
    pub name: String,
    /// `hospital_client` (default) or `lab_client`.
    #[serde(default = "hospital_client")]
    pub role: Role,
    /// Hospital it acts for; required for hospital clients, refused for lab clients.
    #[serde(default)]
    pub hospital_id: Option<HospitalId>,
}

fn hospital_client() -> Role {
    Role::HospitalClient
}

/// Changes to a client.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateClientRequest {
    /// New name.
    pub name: Option<String>,
    /// Activate or deactivate.
    pub active: Option<bool>,
}

/// List filters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ClientQuery {
    /// Only this hospital's clients.
    pub hospital_id: Option<HospitalId>,
}

/// Create a REST client for a hospital or for the laboratory (admin); the response holds the
/// secret once.
#[utoipa::path(tag = "clients", security(("bearer" = [])), request_body = CreateClientRequest, responses(
    (status = 201, body = ClientWithSecretResponse), (status = 422, body = Problem)))]
#[post("/clients")]
pub async fn create_client(
    p: Principal,
    state: web::Data<AppState>,
    body: ApiJson<CreateClientRequest>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ManageAccounts)?;
    let b = body.0;
    let now = state.now();
    let issued = db::run(&state.pool, move |c| {
        accounts::create_client(c, &b.name, b.role, b.hospital_id, now)
    })
    .await?;
    tracing::info!(client.id = %issued.client.id, "api client created");
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/clients/{}", issued.client.id),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ClientWithSecretResponse::from(issued)))
}

/// List clients (admin).
#[utoipa::path(tag = "clients", security(("bearer" = [])), params(ClientQuery), responses((status = 200, body = [ClientResponse])))]
#[get("/clients")]
pub async fn list_clients(
    p: Principal,
    state: web::Data<AppState>,
    q: web::Query<ClientQuery>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ManageAccounts)?;
    let hospital = q.hospital_id.map(|h| h.to_string());
    let rows = db::run(&state.pool, move |c| {
        Ok(api_client::list(c, hospital.as_deref())?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(
        rows.into_iter()
            .map(ClientResponse::from)
            .collect::<Vec<_>>(),
    ))
}

/// Rename, activate or deactivate a client (admin).
#[utoipa::path(tag = "clients", security(("bearer" = [])), params(("id" = String, Path)), request_body = UpdateClientRequest, responses(
    (status = 200, body = ClientResponse), (status = 404, body = Problem)))]
#[patch("/clients/{id}")]
pub async fn update_client(
    p: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<UpdateClientRequest>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ManageAccounts)?;
    let id: ApiClientId = path_id(&id, "api client")?;
    let b = body.0;
    let now = state.now();
    let c = db::run(&state.pool, move |c| {
        accounts::update_client(c, &id.to_string(), b.name, b.active, now)
    })
    .await?;
    state.token_versions.forget(&format!("client:{}", c.id));
    tracing::info!(client.id = %c.id, "api client updated");
    Ok(HttpResponse::Ok().json(ClientResponse::from(c)))
}

/// Issue a new secret; the old one stops working at once (admin).
#[utoipa::path(tag = "clients", security(("bearer" = [])), params(("id" = String, Path)), responses(
    (status = 200, body = ClientWithSecretResponse), (status = 404, body = Problem)))]
#[post("/clients/{id}/rotate-secret")]
pub async fn rotate_client_secret(
    p: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ManageAccounts)?;
    let id: ApiClientId = path_id(&id, "api client")?;
    let now = state.now();
    let issued = db::run(&state.pool, move |c| {
        accounts::rotate_client_secret(c, &id.to_string(), now)
    })
    .await?;
    state
        .token_versions
        .forget(&format!("client:{}", issued.client.id));
    tracing::info!(client.id = %issued.client.id, "api client secret rotated");
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ClientWithSecretResponse::from(issued)))
}
