//! The in-process scheduler: tokio-cron-scheduler fires each job on its configured cron string
//! (six fields, seconds first, UTC; empty disables the job). On start, jobs catch up on what a
//! stopped server missed: the sweeps run at once (they work from stored state, so nothing is lost),
//! the daily jobs run when their last run is older than a day.

use tokio_cron_scheduler::{Job, JobScheduler};

use super::{JOBS, last_runs, run, schedule_of};
use crate::state::AppState;

/// Daily jobs run at start only when their last run is older than this.
const DAILY_CATCH_UP_HOURS: i64 = 20;

async fn tick(state: &AppState, name: &str) {
    // Errors are logged by `run`; a run still going in this process skips this tick.
    let _ = run(state, name, state.now()).await;
}

/// Starts the scheduler when `jobs.enabled`; the caller keeps it alive and shuts it down.
pub async fn start(state: AppState) -> anyhow::Result<Option<JobScheduler>> {
    if !state.settings.jobs.enabled {
        return Ok(None);
    }
    let sched = JobScheduler::new().await?;
    let mut enabled = Vec::new();
    for name in JOBS {
        let cron = schedule_of(&state, name);
        if cron.trim().is_empty() {
            tracing::info!(job = name, "job disabled (empty schedule)");
            continue;
        }
        let st = state.clone();
        let job = Job::new_async(cron.as_str(), move |_id, _lock| {
            let st = st.clone();
            Box::pin(async move { tick(&st, name).await })
        })
        .map_err(|e| anyhow::anyhow!("jobs.{name} = {cron:?} is not a valid schedule: {e}"))?;
        sched.add(job).await?;
        enabled.push(name);
    }
    sched.start().await?;
    tracing::info!(jobs = ?enabled, "scheduler started");
    tokio::spawn(catch_up(state, enabled));
    Ok(Some(sched))
}

async fn catch_up(state: AppState, enabled: Vec<&'static str>) {
    let runs = last_runs(&state).await.unwrap_or_default();
    let now = state.now();
    for name in enabled {
        // The facts rebuild is a weekly safety net and start-up already fills missing facts:
        // a missed run waits for the next one rather than slowing every start.
        if name == "quality_facts" {
            continue;
        }
        let daily = matches!(
            name,
            "family_reminders" | "hospital_digest" | "quality_scorecard"
        );
        let last = runs
            .iter()
            .find(|r| r.name == name)
            .and_then(|r| r.last_finished_at);
        let stale =
            last.is_none_or(|t| now - t.and_utc() > chrono::Duration::hours(DAILY_CATCH_UP_HOURS));
        if !daily || stale {
            tick(&state, name).await;
        }
    }
}
