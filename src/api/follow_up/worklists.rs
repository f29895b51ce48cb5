//! `/api/v1/worklists`: the queues staff work from — overdue, due today, due in 48 h, unassigned,
//! contact problems, critical (T0) open — each counted; the deadline lists by the earliest pending
//! deadline (first contact, then recall), the others by recall due time. Hospital
//! principals see their own hospital's.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::follow_up::cases::CaseResponse;
use crate::auth::extract::require;
use crate::db;
use crate::db::models::follow_up::case::{self, CaseFilter};
use crate::db::types::UtcMicros;
use crate::domain::catalogue::Tier;
use crate::domain::principal::Principal;
use crate::domain::role::Action;
use crate::domain::worklist::Worklist as List;
use crate::error::{AppError, Problem};
use crate::state::AppState;

/// The filter behind a worklist at `now`.
pub fn worklist_filter(list: List, now: DateTime<Utc>) -> CaseFilter {
    let open = CaseFilter {
        open_only: true,
        ..Default::default()
    };
    // The time-bound lists go by the earliest pending deadline: first contact while nobody was
    // reached, then the recall.
    if let Some(w) = list.deadline_window(now) {
        return CaseFilter {
            deadline_from: w.from.map(UtcMicros::new),
            deadline_before: w.before.map(UtcMicros::new),
            by_deadline: true,
            ..open
        };
    }
    match list {
        List::Unassigned => CaseFilter {
            unassigned: true,
            ..open
        },
        List::ContactProblems => CaseFilter {
            contact_problem: Some(true),
            ..open
        },
        List::Critical => CaseFilter {
            tier: Some(Tier::T0),
            ..open
        },
        List::Overdue | List::DueToday | List::Due48h => open,
    }
}

/// A worklist's size.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorklistCount {
    /// Name.
    pub name: String,
    /// Cases on it.
    pub count: i64,
}

/// A worklist's first page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Worklist {
    /// Name.
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
    let (scope, now) = (p.scope(), state.now());
    let counts = db::run(&state.pool, move |c| {
        let mut counts = List::ALL
            .into_iter()
            .map(|w| {
                Ok(WorklistCount {
                    name: w.name().to_string(),
                    count: case::count(c, &scope, &worklist_filter(w, now))?,
                })
            })
            .collect::<Result<Vec<_>, AppError>>()?;
        // Notices that could not be delivered; listed at GET /notifications?status=failed.
        counts.push(WorklistCount {
            name: "failed_notifications".into(),
            count: crate::db::models::follow_up::notification::count_status(
                c,
                &scope,
                crate::domain::notification::Status::Failed.as_str(),
            )?,
        });
        Ok(counts)
    })
    .await?;
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
    let filter = worklist_filter(list, now);
    let scope = p.scope();
    let (count, rows) = db::run(&state.pool, move |c| {
        let rows = case::list(c, &scope, &filter, limit)?;
        crate::services::admin::audit::list_read(c, &p, "case", rows.iter().map(|r| r.id), now)?;
        Ok((case::count(c, &scope, &filter)?, rows))
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
