//! The in-process scheduler: tokio-cron-scheduler fires each job on its configured cron string
//! (six fields, seconds first, UTC; empty disables the job). On start, jobs catch up on what a
//! stopped server missed: the sweeps run at once (they work from stored state, so nothing is lost),
//! the periodic jobs run when their last run is older than a day (`Job::catch_up`). Each tick runs
//! on one server: the first to claim the tick's scheduled time (a row in `job_ticks`) runs it.

use tokio_cron_scheduler::JobScheduler;

use super::{Job, last_runs, schedule_of};
use crate::domain::job::CatchUp;
use crate::state::AppState;

/// Daily jobs run at start only when their last run is older than this.
const DAILY_CATCH_UP_HOURS: i64 = 20;

async fn tick(state: &AppState, job: Job) {
    // Errors are logged by `run`; a tick another server took, or a run still going in this
    // process, skips this tick.
    // The tick is a wall-clock event; the job runs for the application's clock.
    if let Err(e) = super::tick(state, job, chrono::Utc::now()).await {
        tracing::debug!(job = job.name(), error.code = e.code(), "tick not run");
    }
}

/// Starts the scheduler when `jobs.enabled`; the caller keeps it alive and shuts it down.
pub async fn start(state: AppState) -> anyhow::Result<Option<JobScheduler>> {
    if !state.settings.jobs.enabled {
        return Ok(None);
    }
    let sched = JobScheduler::new().await?;
    let mut enabled = Vec::new();
    for &job in Job::ALL {
        let name = job.name();
        let cron = schedule_of(&state, job);
        if cron.trim().is_empty() {
            tracing::info!(job = name, "job disabled (empty schedule)");
            continue;
        }
        let st = state.clone();
        let cron_job = tokio_cron_scheduler::Job::new_async(cron.as_str(), move |_id, _lock| {
            let st = st.clone();
            Box::pin(async move { tick(&st, job).await })
        })
        .map_err(|e| anyhow::anyhow!("jobs.{name} = {cron:?} is not a valid schedule: {e}"))?;
        sched.add(cron_job).await?;
        enabled.push(job);
    }
    sched.start().await?;
    tracing::info!(jobs = ?enabled, "scheduler started");
    tokio::spawn(catch_up(state, enabled));
    Ok(Some(sched))
}

async fn catch_up(state: AppState, enabled: Vec<Job>) {
    let runs = last_runs(&state).await.unwrap_or_default();
    let now = state.now();
    for job in enabled {
        let last = runs
            .iter()
            .find(|r| r.name == job)
            .and_then(|r| r.last_finished_at);
        let stale =
            last.is_none_or(|t| now - t.utc() > chrono::Duration::hours(DAILY_CATCH_UP_HOURS));
        let due = match job.catch_up() {
            CatchUp::Always => true,
            CatchUp::WhenStale => stale,
            CatchUp::Never => false,
        };
        if due {
            tick(&state, job).await;
        }
    }
}
