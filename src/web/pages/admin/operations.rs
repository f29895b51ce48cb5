//! Operations (administrators): the timed jobs with their schedules and last runs (report and
//! server) and a "run now" button; and the audit trail viewer, by entity or by user, newest
//! first, paged. The trail is read-only here as everywhere.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use chrono::DateTime;
use serde::Deserialize;

use crate::api::admin::jobs::{job_infos, run_now};
use crate::db;
use crate::db::models::admin::audit::{self, AuditFilter};
use crate::db::models::admin::user;
use crate::db::types::UtcMicros;
use crate::domain::role::Action;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::pages::cases::detail_text;
use crate::web::pages::{Chrome, Opt, refusal, render};
use crate::web::session::Console;

/// One job line.
#[derive(Debug, Clone)]
pub struct JobRow {
    /// Name.
    pub name: String,
    /// Cron string, or —.
    pub schedule: String,
    /// Last run: start and finish.
    pub last: String,
    /// Succeeded, failed, or —, in words.
    pub outcome: String,
    /// Failed.
    pub failed: bool,
    /// The last report as short text.
    pub report: String,
    /// The server that ran it.
    pub server: String,
}

#[derive(Template)]
#[template(path = "jobs.html", config = "src/web/askama.toml")]
struct JobsPage {
    c: Chrome,
    rows: Vec<JobRow>,
    ran: Option<(String, String)>,
    error: Option<String>,
}

async fn jobs(
    c: &Console,
    state: &AppState,
    status: StatusCode,
    ran: Option<(String, String)>,
    error: Option<String>,
) -> Result<HttpResponse, WebError> {
    let tr = c.tr;
    let infos = job_infos(state).await?;
    let rows = infos
        .into_iter()
        .map(|j| JobRow {
            schedule: if j.schedule.is_empty() {
                "—".into()
            } else {
                j.schedule.clone()
            },
            last: match (j.last_started_at, j.last_finished_at) {
                (Some(s), Some(f)) => format!("{} → {}", tr.time(s), tr.time(f)),
                (Some(s), None) => format!("{} → …", tr.time(s)),
                _ => "—".into(),
            },
            outcome: match j.last_ok {
                Some(true) => tr.t("job_ok"),
                Some(false) => tr.t("job_failed"),
                None => "—".into(),
            },
            failed: j.last_ok == Some(false),
            report: j.last_report.as_ref().map(detail_text).unwrap_or_default(),
            server: j.last_server.clone().unwrap_or_default(),
            name: j.name,
        })
        .collect();
    render(
        status,
        &JobsPage {
            c: Chrome::of(c, "jobs_title", "/admin/jobs"),
            rows,
            ran,
            error,
        },
    )
}

/// `GET /admin/jobs`.
#[get("/admin/jobs")]
pub async fn jobs_page(c: Console, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    c.require(Action::RunJobs)?;
    jobs(&c, &state, StatusCode::OK, None, None).await
}

/// The run form.
#[derive(Debug, Deserialize)]
pub struct RunForm {
    csrf: Option<String>,
}

/// `POST /admin/jobs/{name}/run`: runs a job now and shows its report.
#[post("/admin/jobs/{name}/run")]
pub async fn run_job(
    req: HttpRequest,
    c: Console,
    state: web::Data<AppState>,
    name: web::Path<String>,
    form: web::Form<RunForm>,
) -> Result<HttpResponse, WebError> {
    c.authorize(&req, form.csrf.as_deref(), Action::RunJobs)?;
    match run_now(&state, &name).await {
        Ok(r) => {
            tracing::info!(job = %r.job, "job run from the console");
            let text = detail_text(&r.report);
            jobs(&c, &state, StatusCode::OK, Some((r.job, text)), None).await
        }
        Err(AppError::NotFound { .. }) => Err(WebError::NotFound),
        Err(e) => {
            let (s, m) = refusal(c.tr, e, "stale_case")?;
            jobs(&c, &state, s, None, Some(m)).await
        }
    }
}

/// One audit line.
#[derive(Debug, Clone)]
pub struct AuditRow {
    /// When.
    pub at: String,
    /// Who (a name, or the actor key).
    pub actor: String,
    /// Entity and id.
    pub entity: String,
    /// Created, changed, read.
    pub action: String,
    /// What changed (or which ids a list read returned).
    pub changes: String,
    /// The request id.
    pub request: String,
}

#[derive(Template)]
#[template(path = "audit.html", config = "src/web/askama.toml")]
struct AuditPage {
    c: Chrome,
    entity: String,
    id: String,
    actors: Vec<Opt>,
    rows: Vec<AuditRow>,
    next: Option<String>,
}

/// The viewer's filters.
#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    entity: Option<String>,
    id: Option<String>,
    actor: Option<String>,
    before: Option<String>,
}

const AUDIT_PAGE: i64 = 100;

fn nonempty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `GET /admin/audit`.
#[get("/admin/audit")]
pub async fn audit_page(
    c: Console,
    state: web::Data<AppState>,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, WebError> {
    c.require(Action::ReadAudit)?;
    let f = AuditFilter {
        entity: nonempty(&q.entity),
        entity_id: nonempty(&q.id).filter(|_| nonempty(&q.entity).is_some()),
        actor: nonempty(&q.actor),
    };
    let before = nonempty(&q.before).and_then(|b| {
        let (t, id) = b.split_once('|')?;
        let t = DateTime::from_timestamp_micros(t.parse().ok()?)?;
        Some((UtcMicros::new(t), id.to_string()))
    });
    let ff = f.clone();
    let (rows, users) = db::run(&state.pool, move |conn| {
        Ok::<_, AppError>((
            audit::page(conn, &ff, before, AUDIT_PAGE + 1)?,
            user::list(conn)?,
        ))
    })
    .await?;
    let tr = c.tr;
    let name = |actor: &str| {
        users.iter().find(|u| u.actor_key() == actor).map_or_else(
            || actor.to_string(),
            |u| format!("{} ({})", u.display_name, u.username),
        )
    };
    let page = crate::api::Paged::of(rows, AUDIT_PAGE);
    let next = page
        .next_cursor(|r| format!("{}|{}", r.at.utc().timestamp_micros(), r.id))
        .map(|cur| {
            let mut s = format!("/admin/audit?before={cur}");
            for (k, v) in [
                ("entity", &f.entity),
                ("id", &f.entity_id),
                ("actor", &f.actor),
            ] {
                if let Some(v) = v {
                    s.push_str(&format!("&{k}={v}"));
                }
            }
            s
        });
    let out = AuditPage {
        c: Chrome::of(&c, "audit_title", "/admin/audit"),
        entity: f.entity.clone().unwrap_or_default(),
        id: f.entity_id.clone().unwrap_or_default(),
        actors: users
            .iter()
            .map(|u| Opt {
                value: u.actor_key(),
                label: format!("{} ({})", u.display_name, u.username),
                selected: f.actor.as_deref() == Some(u.actor_key().as_str()),
            })
            .collect(),
        rows: page
            .items
            .iter()
            .map(|r| AuditRow {
                at: tr.time(r.at.utc()),
                actor: name(&r.actor),
                entity: if r.entity_id.is_empty() {
                    r.entity.clone()
                } else {
                    format!("{} {}", r.entity, r.entity_id)
                },
                action: tr.t(&format!("audit_{}", r.action.as_str())),
                changes: detail_text(&r.changes.0),
                request: r.request_id.clone().unwrap_or_default(),
            })
            .collect(),
        next,
    };
    render(StatusCode::OK, &out)
}
