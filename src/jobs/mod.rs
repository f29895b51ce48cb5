//! Timed jobs. Each job is a plain function of the state and `now`, so the scheduler, the admin
//! endpoint (`POST /api/v1/admin/jobs/{name}/run`) and tests run the same code. Jobs are
//! idempotent (fired rungs and deduplication keys), so overlapping runs on several servers are
//! safe; within one process a job whose previous run is still going skips its tick.

pub mod dispatch;
pub mod scheduler;

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::Serialize;
use serde_json::Value;

use crate::db;
use crate::db::models::follow_up::notification::{self, JobRun};
use crate::db::types::{Json, UtcMicros};
use crate::domain::catalogue::Programme;
use crate::domain::principal::Principal;
use crate::error::{AppError, ErrorCode};
use crate::services::admin::{catalogue, policy};
use crate::services::follow_up::{digests, escalation, reminders};
use crate::state::AppState;

pub use crate::domain::job::Job;

/// Batches one escalation run works through at most.
const MAX_BATCHES: usize = 100;

/// What a run did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobReport {
    /// Job name.
    pub job: String,
    /// The `now` it ran for.
    pub at: DateTime<Utc>,
    /// Counts, per job.
    #[schema(value_type = Object)]
    pub report: Value,
}

/// The cron string configured for a job.
pub fn schedule_of(state: &AppState, job: Job) -> String {
    let j = &state.settings.jobs;
    match job {
        Job::Escalation => j.escalation.clone(),
        Job::MissedScreens => j.missed_screens.clone(),
        Job::FamilyReminders => j.family_reminders.clone(),
        Job::HospitalDigest => j.hospital_digest.clone(),
        Job::Dispatcher => j.dispatcher.clone(),
        Job::QualityScorecard => j.quality_scorecard.clone(),
        Job::QualityFacts => j.quality_facts.clone(),
        Job::Hl7Retention => j.hl7_retention.clone(),
    }
}

struct RunningGuard<'a> {
    state: &'a AppState,
    name: &'static str,
}

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut r) = self.state.running_jobs.lock() {
            r.remove(self.name);
        }
    }
}

/// Ticks are remembered this long (one row per job per tick; the dispatcher's every 5 s).
const TICKS_KEPT_HOURS: i64 = 24;

/// A scheduled tick of `job`, fired by the scheduler's wall clock at `fired_at`: runs the job
/// for the application's `now` unless another server already took this tick (its key is the
/// scheduled time, [`crate::domain::job::tick_at`]), so each tick runs on one server however
/// many share the database. `None` when the tick was another server's.
pub async fn tick(
    state: &AppState,
    job: Job,
    fired_at: DateTime<Utc>,
) -> Result<Option<JobReport>, AppError> {
    let now = state.now();
    let busy = state
        .running_jobs
        .lock()
        .map(|r| r.contains(job.name()))
        .unwrap_or(true);
    if busy {
        // Its last run is still going here: leave the tick to another server.
        return Ok(None);
    }
    let cron = schedule_of(state, job);
    let at = crate::domain::job::tick_at(&cron, fired_at).unwrap_or(fired_at);
    let server = state.instance_id.to_string();
    let forget = UtcMicros::new(fired_at - chrono::Duration::hours(TICKS_KEPT_HOURS));
    let mine = db::run(&state.pool, move |c| {
        Ok(notification::claim_tick(
            c,
            job,
            UtcMicros::new(at),
            &server,
            UtcMicros::new(fired_at),
            forget,
        )?)
    })
    .await?;
    if !mine {
        tracing::debug!(job = job.name(), tick = %at, "tick taken by another server");
        return Ok(None);
    }
    run(state, job.name(), now).await.map(Some)
}

/// Runs job `name` for `now`. A job already running in this process → 409 `job_running`.
pub async fn run(state: &AppState, name: &str, now: DateTime<Utc>) -> Result<JobReport, AppError> {
    let job = Job::parse(name).ok_or(AppError::NotFound { entity: "job" })?;
    let name = job.name();
    {
        let mut r = state
            .running_jobs
            .lock()
            .map_err(|_| AppError::Unexpected(anyhow::anyhow!("job registry poisoned")))?;
        if !r.insert(name) {
            return Err(AppError::conflict(
                ErrorCode::JobRunning,
                None,
                format!("job {name} is already running"),
            ));
        }
    }
    let _guard = RunningGuard { state, name };
    let started = UtcMicros::new(state.now());
    let result = run_body(state, job, now).await;
    let (ok, report) = match &result {
        Ok(v) => (true, v.clone()),
        Err(e) => (false, serde_json::json!({"error": e.code()})),
    };
    let row = JobRun {
        name: job,
        last_started_at: Some(started),
        last_finished_at: Some(UtcMicros::new(state.now())),
        last_ok: Some(ok),
        last_report: Some(Json(report)),
        last_server: Some(state.instance_id.to_string()),
    };
    if let Err(e) = db::run(&state.pool, move |c| Ok(notification::save_run(c, &row)?)).await {
        tracing::warn!(job = name, error.code = e.code(), "job run not recorded");
    }
    match &result {
        Ok(v) => tracing::info!(job = name, report = %v, "job finished"),
        Err(e) => tracing::error!(job = name, error.code = e.code(), error = %e, "job failed"),
    }
    Ok(JobReport {
        job: name.into(),
        at: now,
        report: result?,
    })
}

fn to_value<T: Serialize>(t: T) -> Result<Value, AppError> {
    serde_json::to_value(t).map_err(|e| AppError::Unexpected(e.into()))
}

async fn run_body(state: &AppState, job: Job, now: DateTime<Utc>) -> Result<Value, AppError> {
    let ctx = state.notice_context();
    let batch = state.settings.jobs.batch_size;
    match job {
        Job::Escalation => {
            let pool = state.pool.clone();
            let workers = db::sql::writers(
                state.settings.database.url.expose_secret(),
                escalation::WORKERS,
                pool.max_size() as usize,
            );
            let swept = tokio::task::spawn_blocking(move || {
                let cases = escalation::sweep(&pool, &ctx, now, batch, MAX_BATCHES, workers)?;
                // Long-term management contacts climb their own ladder in the same tick.
                let contacts = crate::services::management::sweep::sweep(
                    &pool,
                    &ctx,
                    now,
                    batch,
                    MAX_BATCHES,
                )?;
                Ok::<_, AppError>((cases, contacts))
            })
            .await
            .map_err(|e| AppError::Unexpected(anyhow::anyhow!("escalation task failed: {e}")))?;
            let (cases, contacts) = swept?;
            let mut v = to_value(cases)?;
            if let Some(o) = v.as_object_mut() {
                o.insert("management_contacts".into(), to_value(contacts)?);
            }
            Ok(v)
        }
        Job::MissedScreens => {
            let interp = catalogue::current(&state.catalogues, now)?;
            let pol = policy::current(&state.policies, now)?;
            let opened = db::run(&state.pool, move |c| {
                let who = Principal::job("missed_screens");
                let mut out = serde_json::Map::new();
                for p in [Programme::Dbs, Programme::Hear, Programme::Cchd] {
                    let n = crate::services::follow_up::cases::open_missed(
                        c,
                        interp.catalogue(),
                        &pol,
                        p,
                        now,
                        batch,
                        &who,
                    )?;
                    out.insert(p.as_str().to_string(), n.into());
                }
                Ok(out)
            })
            .await?;
            Ok(serde_json::json!({ "opened": opened }))
        }
        Job::FamilyReminders => to_value(
            db::run(&state.pool, move |c| {
                reminders::family_reminders(c, &ctx, now, batch)
            })
            .await?,
        ),
        Job::HospitalDigest => {
            to_value(db::run(&state.pool, move |c| digests::hospital_digest(c, &ctx, now)).await?)
        }
        Job::Dispatcher => to_value(dispatch::run(state, now).await?),
        Job::Hl7Retention => {
            let days = state.settings.hl7.raw_retention_days;
            let forgotten = db::run(&state.pool, move |c| {
                crate::services::screening::hl7::expire(c, days, now)
            })
            .await?;
            Ok(serde_json::json!({ "raw_texts_forgotten": forgotten }))
        }
        Job::QualityScorecard => {
            let limits = state
                .settings
                .quality
                .limits(catalogue::current(&state.catalogues, now)?.catalogue());
            let quality = state.settings.quality.clone();
            to_value(
                db::run(&state.pool, move |c| {
                    digests::quality_scorecards(c, &ctx, &quality, &limits, now)
                })
                .await?,
            )
        }
        Job::QualityFacts => {
            let r = db::run(&state.pool, crate::services::quality::facts::rebuild_all).await?;
            if r.infants_corrected > 0 {
                // Some write path missed keeping the facts: the report was wrong until now.
                tracing::warn!(
                    infants = r.infants_corrected,
                    "quality facts differed from the source tables and were corrected"
                );
            }
            to_value(r)
        }
    }
}

/// Every job's last recorded run.
pub async fn last_runs(state: &AppState) -> Result<Vec<JobRun>, AppError> {
    db::run(&state.pool, |c| Ok(notification::runs(c)?)).await
}
