//! `/api/v1/worklists`: the queues staff work from — overdue, due today, due in 48 h, unassigned,
//! contact problems, critical (T0) open — each counted; the deadline lists by the earliest pending
//! deadline (first contact, then recall), the others by recall due time. Hospital
//! principals see their own hospital's.

use actix_web::{HttpResponse, get, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::follow_up::cases::CaseResponse;
use crate::auth::extract::require;
use crate::db;
use crate::domain::principal::Principal;
use crate::domain::role::Action;
use crate::domain::worklist::Worklist as List;
use crate::error::{AppError, Problem};
use crate::services::follow_up::worklists;
use crate::state::AppState;

/// A worklist's size.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorklistCount {
    /// The worklist's name.
    pub name: String,
    /// Cases on it.
    pub count: i64,
}

/// A worklist's first page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Worklist {
    /// The worklist's name.
    pub name: String,
    /// Cases on it.
    pub count: i64,
    /// Soonest due first.
    pub items: Vec<CaseResponse>,
}

/// Page size.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WorklistQuery {
    /// 1–200 (default 50).
    pub limit: Option<i64>,
}

/// Every worklist with its count.
#[utoipa::path(tag = "cases", security(("bearer" = [])), responses((status = 200, body = [WorklistCount])))]
#[get("/worklists")]
pub async fn list_worklists(
    p: Principal,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ReadPersonalData)?;
    let now = state.now();
    let (lists, failed) = db::run(&state.pool, move |c| worklists::counts(c, &p, now)).await?;
    let mut counts: Vec<WorklistCount> = lists
        .into_iter()
        .map(|(w, count)| WorklistCount {
            name: w.name().to_string(),
            count,
        })
        .collect();
    // Notices that could not be delivered; listed at GET /notifications?status=failed.
    counts.push(WorklistCount {
        name: "failed_notifications".into(),
        count: failed,
    });
    Ok(HttpResponse::Ok().json(counts))
}

/// One worklist: its count and first page.
#[utoipa::path(tag = "cases", security(("bearer" = [])), params(("name" = String, Path), WorklistQuery),
    responses((status = 200, body = Worklist), (status = 404, body = Problem)))]
#[get("/worklists/{name}")]
pub async fn get_worklist(
    p: Principal,
    state: web::Data<AppState>,
    name: web::Path<String>,
    q: web::Query<WorklistQuery>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ReadPersonalData)?;
    let limit = crate::api::page_limit(q.limit, 50, 200)?;
    let now = state.now();
    let name = name.into_inner();
    let list = List::parse(&name).ok_or(AppError::NotFound { entity: "worklist" })?;
    let (count, rows) = db::run(&state.pool, move |c| {
        worklists::page(c, &p, list, |f| f, limit, now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(Worklist {
        name,
        count,
        items: rows
            .into_iter()
            .map(|c| CaseResponse::new(c, now))
            .collect(),
    }))
}
