//! Messages to institutions: each hospital's daily digest of its open and overdue cases, and the
//! monthly quality scorecards (each hospital's, and the all-hospital summary for the centre).
//! One per hospital and day (digest) or month (scorecard), by deduplication key.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::models::admin::hospital::{self, Hospital};
use crate::db::models::follow_up::case;
use crate::db::types::UtcMicros;
use crate::db::{AnyConnection, write_transaction};
use crate::domain::notification::{Audience, Channel};
use crate::domain::principal::Scope;
use crate::error::AppError;
use crate::notify::outbox::{Outgoing, queue};
use crate::services::follow_up::notices::NoticeContext;

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
    let tz = crate::services::admin::policy::current(&ctx.policies, now)?
        .tz()
        .map_err(|m| AppError::Unexpected(anyhow::anyhow!(m)))?;
    let day = now.with_timezone(&tz).date_naive();
    let hospitals: Vec<Hospital> = hospital::list(conn, &Scope::unrestricted(), Some(true))?;
    let locale = ctx.notify.staff_locale.clone();
    let mut report = DigestReport::default();
    let t = UtcMicros::new(now);
    for h in hospitals {
        let emails = h.emails();
        if emails.is_empty() {
            continue;
        }
        let d = case::hospital_digest(conn, h.id, t, DIGEST_LINES)?;
        if d.open == 0 {
            continue;
        }
        let (open_count, overdue_count, rows) = (d.open, d.overdue, d.rows);
        let lines: Vec<String> = rows
            .iter()
            .map(|(id, tier, prog, due)| {
                let mark = if *due < t { " !" } else { "" };
                format!(
                    "{tier} {prog} {} {id}{mark}",
                    due.utc().with_timezone(&tz).format("%Y-%m-%d %H:%M")
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
            hospital_id: Some(h.id),
            template: "hospital_digest",
            channel: Channel::Email,
            role: Audience::Hospital,
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

/// What a scorecard run did.
#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
pub struct ScorecardReport {
    /// The month reported (`YYYY-MM`).
    pub period: String,
    /// Hospitals that got a scorecard.
    pub hospitals: usize,
    /// E-mails queued (hospitals and the centre's summary).
    pub emails_queued: usize,
}

/// The scorecard's lines (the indicators with a denominator: value, numerator/denominator,
/// target, ✗ when missed), as the e-mail and the console's printable page show them.
pub fn scorecard_lines(
    values: &[crate::services::quality::report::IndicatorValue],
    locale: &str,
) -> String {
    values
        .iter()
        .filter(|v| v.denominator > 0)
        .map(|v| {
            let name = if locale == "en" { &v.name } else { &v.name_zh };
            let value = v
                .value
                .map_or_else(|| "—".to_string(), |x| format!("{:.1}%", x * 100.0));
            let target = v.target.map_or_else(String::new, |t| {
                let sign = if v.lower_is_better { "≤" } else { "≥" };
                format!(", {sign}{:.0}%", t * 100.0)
            });
            let mark = if v.met == Some(false) { " ✗" } else { "" };
            format!(
                "- {name}: {value} ({}/{}{target}){mark}",
                v.numerator, v.denominator
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Queues last month's quality scorecard to each active hospital with contact e-mails and the
/// all-hospital summary to the centre (`notify.recipients.centre_emails`), once per month each.
pub fn quality_scorecards(
    conn: &mut AnyConnection,
    ctx: &NoticeContext,
    quality: &crate::config::QualitySettings,
    limits: &crate::domain::quality::Limits,
    now: DateTime<Utc>,
) -> Result<ScorecardReport, AppError> {
    use crate::services::quality::report::{Cohort, previous_month, report};
    let (from, to) = previous_month(now);
    let period = from.format("%Y-%m").to_string();
    let locale = ctx.notify.staff_locale.clone();
    let mut out = ScorecardReport {
        period: period.clone(),
        ..Default::default()
    };
    let mut targets: Vec<(Option<Hospital>, Vec<String>)> =
        hospital::list(conn, &Scope::unrestricted(), Some(true))?
            .into_iter()
            .map(|h| {
                let emails = h.emails();
                (Some(h), emails)
            })
            .filter(|(_, e)| !e.is_empty())
            .collect();
    targets.push((None, ctx.notify.recipients.centre_emails.clone()));
    for (h, emails) in targets {
        if emails.is_empty() {
            continue;
        }
        let cohort = Cohort {
            from,
            to,
            hospital_id: h.as_ref().map(|h| h.id),
            district: None,
            programme: None,
            now,
        };
        let values = report(conn, &cohort, quality, limits)?;
        let name = h.as_ref().map_or_else(
            || {
                if locale == "en" {
                    "All hospitals".to_string()
                } else {
                    "全部医院".to_string()
                }
            },
            |h| h.name.clone(),
        );
        let o = Outgoing {
            dedup_base: format!(
                "scorecard:{}:{period}",
                h.as_ref()
                    .map_or("centre".to_string(), |h| h.id.to_string())
            ),
            case_id: None,
            hospital_id: h.as_ref().map(|h| h.id),
            template: "quality_scorecard",
            channel: Channel::Email,
            role: if h.is_some() {
                Audience::Hospital
            } else {
                Audience::Centre
            },
            recipients: emails,
            locale: locale.clone(),
            vars: std::collections::BTreeMap::from([
                ("hospital", name),
                ("period", period.clone()),
                ("lines", scorecard_lines(&values, &locale)),
            ]),
            not_before: now,
        };
        let n = write_transaction(conn, |c| queue(c, &ctx.templates, &o, now))?;
        if n > 0 && h.is_some() {
            out.hospitals += 1;
        }
        out.emails_queued += n;
    }
    Ok(out)
}
