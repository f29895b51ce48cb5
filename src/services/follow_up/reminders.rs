//! Family reminders: the day before a booked recall visit, and every few days while a recall is
//! overdue. Idempotent through their deduplication keys, so a rerun or a second server sends
//! nothing new, and looking back far enough that a day the server was down is caught up.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use std::collections::BTreeSet;

use crate::db::models::follow_up::case;
use crate::db::models::follow_up::notification;
use crate::db::types::UtcMicros;
use crate::db::{AnyConnection, write_transaction};
use crate::domain::ids::CaseId;
use crate::domain::principal::Principal;
use crate::error::AppError;
use crate::services::follow_up::notices::{self, NoticeContext};

/// What a reminder run did.
#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
pub struct ReminderReport {
    /// Visit reminders queued.
    pub visit_reminders: usize,
    /// Overdue reminders queued.
    pub overdue_reminders: usize,
    /// Cases that failed (logged).
    pub errors: usize,
}

/// Queues family reminders at `now`: visits booked between now and the end of tomorrow (local
/// time) and overdue recalls (one every `overdue_reminder_every_days`, at most
/// `overdue_reminder_max`).
pub fn family_reminders(
    conn: &mut AnyConnection,
    ctx: &NoticeContext,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<ReminderReport, AppError> {
    let who = Principal::job("family_reminders");
    let tz = crate::services::admin::policy::current(&ctx.policies, now)?
        .tz()
        .map_err(|m| AppError::Unexpected(anyhow::anyhow!(m)))?;
    let local_tomorrow_end = (now.with_timezone(&tz).date_naive() + Duration::days(2))
        .and_hms_opt(0, 0, 0)
        .and_then(|d| d.and_local_timezone(tz).earliest())
        .map_or(now + Duration::days(1), |d| d.with_timezone(&Utc));
    let visits = case::visits_booked(
        conn,
        UtcMicros::new(now),
        UtcMicros::new(local_tomorrow_end),
        limit,
    )?;
    let overdue = case::overdue_recalls(conn, UtcMicros::new(now), limit)?;
    let mut report = ReminderReport::default();
    // One transaction per reminder; a failing case is logged and skipped.
    let mut remind = |conn: &mut AnyConnection, id: CaseId, template: &'static str, key: String| {
        let r = write_transaction(conn, |c| -> Result<usize, AppError> {
            let Some(f) = notices::load(c, ctx, id, now)? else {
                return Ok(0);
            };
            notices::queue_family_sms(c, ctx, &f, template, key, &who, now)
        });
        r.unwrap_or_else(|e| {
            report.errors += 1;
            tracing::error!(case.id = %id, template, error.code = e.code(), "family reminder failed");
            0
        })
    };
    let mut visit_reminders = 0;
    for (id, at) in visits {
        let at = at.map(|a| a.utc().timestamp()).unwrap_or_default();
        visit_reminders += remind(
            conn,
            id,
            "family_visit_reminder",
            format!("visit:{id}:{at}"),
        );
    }
    let every = Duration::days(ctx.notify.overdue_reminder_every_days.max(1));
    let mut overdue_reminders = 0;
    for (id, _) in overdue {
        // Counted by the reminders already queued, not by days since the due date, so a case
        // that became overdue long ago (e.g. an age-capped late recollection) still gets them.
        let sent = overdue_rounds(conn, id)?;
        let n = i64::try_from(sent.rounds).unwrap_or(i64::MAX);
        let rested = sent.last.is_none_or(|last| now - last >= every);
        if n < ctx.notify.overdue_reminder_max && rested {
            overdue_reminders += remind(conn, id, "family_overdue", format!("overdue:{id}:{n}"));
        }
    }
    report.visit_reminders = visit_reminders;
    report.overdue_reminders = overdue_reminders;
    Ok(report)
}

/// The overdue reminders a case has had: how many rounds (one round may reach several phones)
/// and when the last one was queued.
struct Rounds {
    rounds: usize,
    last: Option<DateTime<Utc>>,
}

fn overdue_rounds(conn: &mut AnyConnection, case_id: CaseId) -> Result<Rounds, AppError> {
    let rows = notification::keys_of_case(conn, case_id, "family_overdue")?;
    // Keys are `overdue:{case}:{round}|{role}|{recipient}`.
    let rounds: BTreeSet<&str> = rows
        .iter()
        .filter_map(|(k, _)| k.split('|').next())
        .collect();
    Ok(Rounds {
        rounds: rounds.len(),
        last: rows.iter().map(|(_, at)| at.utc()).max(),
    })
}
