//! `/api/v1/admin/jobs`: the timed jobs with their schedules and last runs, and running one now
//! (administrators). A run uses the server's clock, like a scheduled tick.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::extract::require;
use crate::domain::principal::Principal;
use crate::domain::role::Action;
use crate::error::{AppError, Problem};
use crate::jobs::{self, Job, JobReport};
use crate::state::AppState;

/// A job as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobInfo {
    /// The job's name (`escalation`, `dispatcher`, …).
    pub name: String,
    /// Cron string (six fields, UTC); empty when disabled.
    pub schedule: String,
    /// The scheduler runs in this server.
    pub scheduler_enabled: bool,
    /// Last run started (any server).
    pub last_started_at: Option<DateTime<Utc>>,
    /// Last run finished.
    pub last_finished_at: Option<DateTime<Utc>>,
    /// Whether it succeeded.
    pub last_ok: Option<bool>,
    /// Its counts.
    #[schema(value_type = Option<Object>)]
    pub last_report: Option<serde_json::Value>,
    /// The server that ran it (`host/pid/id`; each scheduled tick runs on one server).
    pub last_server: Option<String>,
}

/// The jobs and their last runs (admin).
#[utoipa::path(tag = "jobs", security(("bearer" = [])), responses((status = 200, body = [JobInfo]), (status = 403, body = Problem)))]
#[get("/admin/jobs")]
pub async fn list_jobs(p: Principal, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    require(&p, Action::RunJobs)?;
    Ok(HttpResponse::Ok().json(job_infos(&state).await?))
}

/// Every job with its schedule and last run (the API's list and the console's jobs page).
pub(crate) async fn job_infos(state: &AppState) -> Result<Vec<JobInfo>, AppError> {
    let runs = jobs::last_runs(state).await?;
    let out: Vec<JobInfo> = Job::ALL
        .iter()
        .copied()
        .map(|job| {
            let r = runs.iter().find(|r| r.name == job);
            JobInfo {
                name: job.name().to_string(),
                schedule: jobs::schedule_of(state, job),
                scheduler_enabled: state.settings.jobs.enabled,
                last_started_at: r.and_then(|r| r.last_started_at).map(|t| t.utc()),
                last_finished_at: r.and_then(|r| r.last_finished_at).map(|t| t.utc()),
                last_ok: r.and_then(|r| r.last_ok),
                last_report: r.and_then(|r| r.last_report.clone()).map(|j| j.0),
                last_server: r.and_then(|r| r.last_server.clone()),
            }
        })
        .collect();
    Ok(out)
}

/// Runs a job now with the server's clock (the API and the console's "run now").
pub(crate) async fn run_now(state: &AppState, name: &str) -> Result<JobReport, AppError> {
    jobs::run(state, name, state.now()).await
}

/// Run a job now (admin): `escalation`, `missed_screens`, `family_reminders`,
/// `hospital_digest` or `dispatcher`.
#[utoipa::path(tag = "jobs", security(("bearer" = [])), params(("name" = String, Path)),
    responses((status = 200, body = JobReport), (status = 404, body = Problem), (status = 409, body = Problem)))]
#[post("/admin/jobs/{name}/run")]
pub async fn run_job(
    p: Principal,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::RunJobs)?;
    let report = run_now(&state, &name).await?;
    Ok(HttpResponse::Ok().json(report))
}
