//! `/api/v1/audit`: the audit trail of one entity, for administrators. Read-only: the trail has
//! no API (and no code path) that changes or deletes it.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::extract::require;
use crate::db;
use crate::db::models::admin::audit;
use crate::domain::audit::AuditAction;
use crate::domain::principal::Principal;
use crate::domain::role::Action;
use crate::error::{AppError, Problem};
use crate::state::AppState;

/// Which entity.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// `infant`, `infant_screening`, `card`, `card_results`, `hearing_screen`, `cchd_screen`,
    /// `consent`, `hearing_intervention`, `case`, `notification`. List reads naming the id are
    /// included.
    pub entity: String,
    /// Its id.
    pub id: String,
    /// At most this many entries, newest first (1–1000, default 200).
    pub limit: Option<i64>,
}

/// One entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryResponse {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who (`user:<id>` or `client:<id>`).
    pub actor: String,
    /// The server's request id (also in the access log and the response's `X-Request-Id`).
    pub request_id: Option<String>,
    /// The caller's own request id, when it sent `X-Request-Id`.
    pub correlation_id: Option<String>,
    /// Created, changed or read.
    pub action: AuditAction,
    /// `{field: [before, after]}`; for a list read (one row per list request), `{ids: [...]}`
    /// naming every record it returned.
    #[schema(value_type = Object)]
    pub changes: serde_json::Value,
}

/// The audit trail of an entity (admin).
#[utoipa::path(tag = "operations", security(("bearer" = [])), params(AuditQuery), responses((status = 200, body = [AuditEntryResponse]), (status = 403, body = Problem)))]
#[get("/audit")]
pub async fn get_audit(
    p: Principal,
    state: web::Data<AppState>,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ReadAudit)?;
    let q = q.into_inner();
    let limit = crate::api::page_limit(q.limit, 200, 1000)?;
    let rows = db::run(&state.pool, move |c| {
        Ok(audit::of_entity(c, &q.entity, &q.id, limit)?)
    })
    .await?;
    let out: Vec<AuditEntryResponse> = rows
        .into_iter()
        .map(|r| AuditEntryResponse {
            at: r.at.utc(),
            actor: r.actor,
            request_id: r.request_id,
            correlation_id: r.correlation_id,
            action: r.action,
            changes: r.changes.0,
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}
