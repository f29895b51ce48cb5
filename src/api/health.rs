//! Liveness, readiness and metrics.

use actix_web::{HttpResponse, get, web};

use crate::db;
use crate::error::AppError;
use crate::state::AppState;

/// Process is up (no dependencies checked).
#[utoipa::path(tag = "operations", responses((status = 200, description = "alive")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// The database answers a query; with a read replica configured, also how far behind it is
/// (`replica.lag_seconds`) or that it is unreachable (reports then read the primary, so the
/// server stays ready).
#[utoipa::path(tag = "operations", responses((status = 200, description = "ready"), (status = 503, description = "database unreachable")))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    db::run(&state.pool, |c| {
        db::ping(c).map_err(|e| AppError::Unavailable(e.to_string()))
    })
    .await?;
    let Some(replica) = state.replica.clone() else {
        return Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ready"})));
    };
    let now = state.now();
    let lag = tokio::task::spawn_blocking(move || -> Result<db::replica::Freshness, String> {
        let mut c = replica.get().map_err(|e| e.to_string())?;
        db::replica::freshness(&mut c, now).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| AppError::Unexpected(anyhow::anyhow!("readiness task failed: {e}")))?;
    let replica = match lag {
        Ok(f) if f.source == db::replica::Source::Replica => {
            serde_json::json!({"status": "streaming", "lag_seconds": f.lag_seconds, "as_of": f.as_of})
        }
        // `read_url` names a database that is not in recovery: a promoted replica, or a mistake.
        Ok(_) => serde_json::json!({"status": "not_a_replica"}),
        Err(_) => serde_json::json!({"status": "unreachable"}),
    };
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ready", "replica": replica})))
}

/// Prometheus text exposition.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Prometheus metrics", content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(state.metrics.render())
}
