//! Admin merge of duplicate infant records, and its undo.

use actix_web::{HttpResponse, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::api::json::ApiJson;
use crate::api::path_id;
use crate::auth::extract::require;
use crate::db;
use crate::db::models::screening::merge::Merge;
use crate::domain::ids::InfantId;
use crate::domain::principal::Principal;
use crate::domain::role::Action;
use crate::error::{AppError, Problem};
use crate::services::screening::merges;
use crate::state::AppState;

/// Which record to fold into this one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The duplicate record; its cards, screens, consents and cases move to the kept one.
    pub duplicate_id: InfantId,
}

/// Merge a duplicate record into this infant (admin). Reversible with the undo endpoint.
#[utoipa::path(tag = "infants", security(("bearer" = [])), params(("id" = String, Path)), request_body = MergeRequest,
    responses((status = 200, body = Merge), (status = 404, body = Problem), (status = 409, body = Problem)))]
#[post("/infants/{id}/merge")]
pub async fn merge_infants(
    p: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<MergeRequest>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::MergeInfants)?;
    let kept: InfantId = path_id(&id, "infant")?;
    let dup = body.0.duplicate_id;
    let now = state.now();
    let m = db::run(&state.pool, move |c| merges::merge(c, &p, kept, dup, now)).await?;
    tracing::info!(merge.id = %m.id, "infants merged");
    Ok(HttpResponse::Ok().json(m))
}

/// Undo a merge (admin): the moved rows go back and the duplicate record is active again.
#[utoipa::path(tag = "infants", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Merge), (status = 404, body = Problem), (status = 409, body = Problem)))]
#[post("/merges/{id}/undo")]
pub async fn undo_merge(
    p: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::MergeInfants)?;
    let id: uuid::Uuid = path_id(&id, "merge")?;
    let now = state.now();
    let m = db::run(&state.pool, move |c| {
        merges::undo(c, &p, &id.to_string(), now)
    })
    .await?;
    tracing::info!(merge.id = %m.id, "merge undone");
    Ok(HttpResponse::Ok().json(m))
}
