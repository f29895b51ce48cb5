//! `/api/v1/catalogue`: the condition catalogue in force, any stored version, and publication of
//! a new version (admin). Published versions never change.

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::json::ApiJson;
use crate::auth::extract::require;
use crate::db;
use crate::db::models::admin::catalogue as rows;
use crate::domain::catalogue::Catalogue;
use crate::domain::principal::Principal;
use crate::domain::role::Action;
use crate::error::{AppError, Problem};
use crate::services::admin::catalogue as svc;
use crate::state::AppState;

/// A stored version, without its content.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogueVersionResponse {
    /// Version id.
    pub version: String,
    /// The jurisdiction the catalogue is for.
    pub jurisdiction: String,
    /// First day in force.
    pub effective_from: NaiveDate,
    /// Who published it (`config` for files loaded at start).
    pub published_by: String,
    /// When the version was published.
    pub published_at: DateTime<Utc>,
}

/// The catalogue in force today.
#[utoipa::path(tag = "catalogue", security(("bearer" = [])), responses((status = 200, body = Catalogue)))]
#[get("/catalogue")]
pub async fn current_catalogue(
    _p: Principal,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let interp = svc::current(&state.catalogues, state.now())?;
    Ok(HttpResponse::Ok().json(interp.catalogue()))
}

/// Every stored version, newest first.
#[utoipa::path(tag = "catalogue", security(("bearer" = [])), responses((status = 200, body = [CatalogueVersionResponse])))]
#[get("/catalogue/versions")]
pub async fn list_catalogue_versions(
    _p: Principal,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let list = db::run(&state.pool, |c| Ok(rows::list(c)?)).await?;
    let out: Vec<CatalogueVersionResponse> = list
        .into_iter()
        .map(|r| CatalogueVersionResponse {
            version: r.version,
            jurisdiction: r.jurisdiction,
            effective_from: r.effective_from,
            published_by: r.published_by,
            published_at: r.published_at.utc(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

/// One stored version.
#[utoipa::path(tag = "catalogue", security(("bearer" = [])), params(("version" = String, Path)),
    responses((status = 200, body = Catalogue), (status = 404, body = Problem)))]
#[get("/catalogue/{version}")]
pub async fn get_catalogue(
    _p: Principal,
    state: web::Data<AppState>,
    version: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let interp = state
        .catalogues
        .read()
        .map_err(|_| AppError::Unexpected(anyhow::anyhow!("catalogue store poisoned")))?
        .get(&version)
        .ok_or(AppError::NotFound {
            entity: "catalogue version",
        })?;
    Ok(HttpResponse::Ok().json(interp.catalogue()))
}

/// Publish a new version (admin). It is validated like the files loaded at start; the version id
/// must be new. Interpretations made from `effective_from` on use it.
#[utoipa::path(tag = "catalogue", security(("bearer" = [])), request_body = Catalogue,
    responses((status = 201, body = CatalogueVersionResponse), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/catalogue")]
pub async fn publish_catalogue(
    p: Principal,
    state: web::Data<AppState>,
    body: ApiJson<Catalogue, true>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::PublishCatalogue)?;
    let c = body.0;
    let (now, store, by) = (state.now(), state.catalogues.clone(), p.key());
    let version = c.version.clone();
    let response = CatalogueVersionResponse {
        version: c.version.clone(),
        jurisdiction: c.jurisdiction.clone(),
        effective_from: c.effective_from,
        published_by: by.clone(),
        published_at: now,
    };
    db::run(&state.pool, move |conn| {
        svc::publish(conn, &store, c, &by, now)
    })
    .await?;
    tracing::info!(catalogue.version = %version, "catalogue published");
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/catalogue/{version}")))
        .json(response))
}
