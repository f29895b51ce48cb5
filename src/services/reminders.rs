//! Daily notices: family reminders (the day before a booked recall visit, and every few days
//! while a recall is overdue) and each hospital's digest of its open and overdue cases. Both are
//! idempotent through their deduplication keys, so a rerun or a second server sends nothing new,
//! and both look back far enough that a day the server was down is caught up.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::models::hospital::{self, Hospital};
use crate::db::schema::cases;
use crate::db::{AnyConnection, now_micros, write_transaction};
use crate::domain::principal::{Principal, Scope};
use crate::error::AppError;
use crate::notify::outbox::{Outgoing, queue};
use crate::services::notices::{self, NoticeContext};

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
    let tz = crate::services::policy::current(&ctx.policies, now)?
        .tz()
        .map_err(|m| AppError::Unexpected(anyhow::anyhow!(m)))?;
    let local_tomorrow_end = (now.with_timezone(&tz).date_naive() + Duration::days(2))
        .and_hms_opt(0, 0, 0)
        .and_then(|d| d.and_local_timezone(tz).earliest())
        .map_or(now + Duration::days(1), |d| d.with_timezone(&Utc));
    let open_recall = ["open", "family_contacted", "recall_scheduled"];
    let visits: Vec<(String, Option<chrono::NaiveDateTime>)> = cases::table
        .filter(cases::open_key.is_not_null())
        .filter(cases::state.eq_any(open_recall))
        .filter(cases::appointment_at.gt(now_micros(now)))
        .filter(cases::appointment_at.lt(now_micros(local_tomorrow_end)))
        .order(cases::appointment_at.asc())
        .limit(limit)
        .select((cases::id, cases::appointment_at))
        .load(conn)?;
    let overdue: Vec<(String, chrono::NaiveDateTime)> = cases::table
        .filter(cases::state.ne("resolved"))
        .filter(cases::state.eq_any(open_recall))
        .filter(cases::recall_due_at.lt(now_micros(now)))
        .order(cases::recall_due_at.asc())
        .limit(limit)
        .select((cases::id, cases::recall_due_at))
        .load(conn)?;
    let mut report = ReminderReport::default();
    for (id, at) in visits {
        let at = at.map(|a| a.and_utc().timestamp()).unwrap_or_default();
        let r = write_transaction(conn, |c| -> Result<usize, AppError> {
            let Some(f) = notices::load(c, ctx, &id, now)? else {
                return Ok(0);
            };
            notices::queue_family_sms(
                c,
                ctx,
                &f,
                "family_visit_reminder",
                format!("visit:{id}:{at}"),
                &who,
                now,
            )
        });
        match r {
            Ok(n) => report.visit_reminders += n,
            Err(e) => {
                report.errors += 1;
                tracing::error!(case.id = %id, error.code = e.code(), "visit reminder failed");
            }
        }
    }
    let every = ctx.notify.overdue_reminder_every_days.max(1);
    for (id, due) in overdue {
        let n = (now - due.and_utc()).num_days() / every;
        if n >= ctx.notify.overdue_reminder_max {
            continue;
        }
        let r = write_transaction(conn, |c| -> Result<usize, AppError> {
            let Some(f) = notices::load(c, ctx, &id, now)? else {
                return Ok(0);
            };
            notices::queue_family_sms(
                c,
                ctx,
                &f,
                "family_overdue",
                format!("overdue:{id}:{n}"),
                &who,
                now,
            )
        });
        match r {
            Ok(k) => report.overdue_reminders += k,
            Err(e) => {
                report.errors += 1;
                tracing::error!(case.id = %id, error.code = e.code(), "overdue reminder failed");
            }
        }
    }
    Ok(report)
}

/// What a digest run did.
#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
pub struct DigestReport {
    /// Hospitals that got a digest.
    pub hospitals: usize,
    /// E-mails queued.
    pub emails_queued: usize,
}

/// Lines listed in a digest at most (the counts cover all).
const DIGEST_LINES: i64 = 50;

/// Queues each active hospital's daily digest (hospitals with open cases and contact e-mails),
/// at most one per hospital per local day.
pub fn hospital_digest(
    conn: &mut AnyConnection,
    ctx: &NoticeContext,
    now: DateTime<Utc>,
) -> Result<DigestReport, AppError> {
    let tz = crate::services::policy::current(&ctx.policies, now)?
        .tz()
        .map_err(|m| AppError::Unexpected(anyhow::anyhow!(m)))?;
    let day = now.with_timezone(&tz).date_naive();
    let hospitals: Vec<Hospital> = hospital::list(conn, &Scope::unrestricted(), Some(true))?;
    let locale = ctx.notify.staff_locale.clone();
    let mut report = DigestReport::default();
    let t = now_micros(now);
    for h in hospitals {
        let emails: Vec<String> = serde_json::from_str(&h.contact_emails).unwrap_or_default();
        if emails.is_empty() {
            continue;
        }
        let open = cases::table
            .filter(cases::hospital_id.eq(&h.id))
            .filter(cases::state.ne("resolved"));
        let open_count: i64 = open.count().get_result(conn)?;
        if open_count == 0 {
            continue;
        }
        let overdue_count: i64 = open
            .filter(cases::recall_due_at.lt(t))
            .count()
            .get_result(conn)?;
        let rows: Vec<(String, String, String, chrono::NaiveDateTime)> = open
            .order(cases::recall_due_at.asc())
            .limit(DIGEST_LINES)
            .select((
                cases::id,
                cases::tier,
                cases::programme,
                cases::recall_due_at,
            ))
            .load(conn)?;
        let lines: Vec<String> = rows
            .iter()
            .map(|(id, tier, prog, due)| {
                let mark = if *due < t { " !" } else { "" };
                format!(
                    "{tier} {prog} {} {id}{mark}",
                    due.and_utc().with_timezone(&tz).format("%Y-%m-%d %H:%M")
                )
            })
            .collect();
        let vars = std::collections::BTreeMap::from([
            ("hospital", h.name.clone()),
            ("date", day.to_string()),
            ("open_count", open_count.to_string()),
            ("overdue_count", overdue_count.to_string()),
            ("case_lines", lines.join("\n")),
        ]);
        let o = Outgoing {
            dedup_base: format!("digest:{}:{day}", h.id),
            case_id: None,
            hospital_id: Some(h.id.clone()),
            template: "hospital_digest",
            channel: "email",
            role: "hospital",
            recipients: emails,
            locale: locale.clone(),
            vars,
            not_before: now,
        };
        let n = write_transaction(conn, |c| queue(c, &ctx.templates, &o, now))?;
        if n > 0 {
            report.hospitals += 1;
            report.emails_queued += n;
        }
    }
    Ok(report)
}
