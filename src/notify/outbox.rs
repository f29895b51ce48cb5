//! Writing to the outbox: a message is rendered once per locale and queued once per recipient,
//! inside the caller's transaction, under a deduplication key built from the cause (for example
//! `esc:<case>:L2`), the recipient's role and a hash of the address, so no cause ever queues the
//! same message to the same person twice.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use sha2::{Digest, Sha256};

use super::templates::Templates;
use crate::db::AnyConnection;
use crate::db::models::follow_up::notification::{self, HeldEmail, Notification};
use crate::db::types::UtcMicros;
use crate::domain::ids::{CaseId, HospitalId, NotificationId};
use crate::domain::notification::{Audience, Channel, Status};
use crate::error::AppError;

/// A message to queue.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The cause, e.g. `esc:<case id>:L0` or `digest:<hospital>:<date>`.
    pub dedup_base: String,
    /// Case it is about.
    pub case_id: Option<CaseId>,
    /// Hospital it concerns (scopes hospital users' view of the outbox).
    pub hospital_id: Option<HospitalId>,
    /// Template name.
    pub template: &'static str,
    /// E-mail or SMS.
    pub channel: Channel,
    /// Whom it is for.
    pub role: Audience,
    /// Addresses or phone numbers.
    pub recipients: Vec<String>,
    /// Locale of the text.
    pub locale: String,
    /// Template variables.
    pub vars: BTreeMap<&'static str, String>,
    /// Not to be sent before (quiet hours).
    pub not_before: DateTime<Utc>,
}

pub(crate) fn recipient_hash(r: &str) -> String {
    let d = Sha256::digest(r.as_bytes());
    d.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Renders and queues `o`; returns how many rows were queued (duplicates are skipped).
pub fn queue(
    conn: &mut AnyConnection,
    templates: &Templates,
    o: &Outgoing,
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    let rows = rows(templates, o, now)?;
    if rows.is_empty() {
        return Ok(0);
    }
    Ok(notification::enqueue_all(conn, &rows)?.len())
}

/// The outbox rows of `o`, rendered once and addressed once per recipient (not yet queued).
pub fn rows(
    templates: &Templates,
    o: &Outgoing,
    now: DateTime<Utc>,
) -> Result<Vec<Notification>, AppError> {
    if o.recipients.is_empty() {
        return Ok(vec![]);
    }
    let vars: BTreeMap<&str, String> = o.vars.iter().map(|(k, v)| (*k, v.clone())).collect();
    let r = templates
        .render(o.template, &o.locale, &vars)
        .map_err(|m| AppError::Unexpected(anyhow::anyhow!(m)))?;
    let t = UtcMicros::new(now);
    Ok(o.recipients
        .iter()
        .map(|to| Notification {
            id: NotificationId::new(),
            dedup_key: format!("{}|{}|{}", o.dedup_base, o.role, recipient_hash(to)),
            case_id: o.case_id,
            hospital_id: o.hospital_id,
            template: o.template.into(),
            channel: o.channel,
            recipient_role: o.role,
            recipient: to.clone(),
            locale: o.locale.clone(),
            subject: r.subject.clone(),
            body: r.body.clone(),
            next_attempt_at: UtcMicros::new(o.not_before.max(now)),
            ..queued(t)
        })
        .collect())
}

/// A fresh outbox row queued at `t`, never attempted; the caller fills in what it is and whom
/// it is for.
fn queued(t: UtcMicros) -> Notification {
    Notification {
        id: NotificationId::new(),
        dedup_key: String::new(),
        case_id: None,
        hospital_id: None,
        template: String::new(),
        channel: Channel::Email,
        recipient_role: Audience::Staff,
        recipient: String::new(),
        locale: String::new(),
        subject: None,
        body: String::new(),
        status: Status::Queued,
        attempts: 0,
        next_attempt_at: t,
        claimed_until: None,
        provider_message_id: None,
        last_error: None,
        created_at: t,
        updated_at: t,
        sent_at: None,
        delivered_at: None,
    }
}

/// Combines the staff e-mails one sweep queued at `now` (held until `held_until`): a recipient
/// with several gets one `escalation_summary` message listing them (the originals are cancelled,
/// naming it), a recipient with one gets it as it is. Either way they are due at once. Each
/// case's rung and notices stay recorded on the case. Returns the messages now due.
pub fn combine_staff_emails(
    conn: &mut AnyConnection,
    templates: &Templates,
    now: DateTime<Utc>,
    held_until: DateTime<Utc>,
) -> Result<usize, AppError> {
    let t = UtcMicros::new(now);
    let rows = notification::held_staff_emails(conn, t, UtcMicros::new(held_until))?;
    let mut groups: BTreeMap<(String, String), Vec<HeldEmail>> = BTreeMap::new();
    for r in rows {
        groups
            .entry((r.recipient.clone(), r.locale.clone()))
            .or_default()
            .push(r);
    }
    let mut due = 0;
    for ((recipient, locale), mut rows) in groups {
        let ids: Vec<NotificationId> = rows.iter().map(|r| r.id).collect();
        if rows.len() == 1 {
            due += notification::release(conn, &ids, t)?;
            continue;
        }
        // Most urgent first: subjects start with the tier, `[T0]` before `[T1]`.
        rows.sort_by(|a, b| a.subject.cmp(&b.subject));
        let case_ids: Vec<CaseId> = rows.iter().filter_map(|r| r.case_id).collect();
        let refs = crate::db::models::follow_up::case::infant_refs(conn, &case_ids)?;
        let lines: Vec<String> = rows
            .iter()
            .map(|r| {
                let subject = r.subject.as_deref().unwrap_or(&r.template);
                match r.case_id.as_ref().and_then(|c| refs.get(c)) {
                    Some(infant) => format!("- {subject} · {infant}"),
                    None => format!("- {subject}"),
                }
            })
            .collect();
        let vars: BTreeMap<&str, String> = [
            ("count", rows.len().to_string()),
            ("case_lines", lines.join("\n")),
        ]
        .into_iter()
        .collect();
        let rendered = templates
            .render("escalation_summary", &locale, &vars)
            .map_err(|m| AppError::Unexpected(anyhow::anyhow!(m)))?;
        // Same recipient, locale, channel and queue time as the notices it carries (all queued
        // by this sweep, never attempted); its own key, text and scope, due now.
        let first = &rows[0];
        let row = Notification {
            // The group's first original makes the key unique to this combination.
            dedup_key: format!("esc-summary:{}|{}", ids[0], recipient_hash(&recipient)),
            hospital_id: rows
                .iter()
                .all(|r| r.hospital_id == first.hospital_id)
                .then_some(first.hospital_id)
                .flatten(),
            template: "escalation_summary".into(),
            recipient_role: if rows
                .iter()
                .all(|r| r.recipient_role == first.recipient_role)
            {
                first.recipient_role
            } else {
                Audience::Staff
            },
            recipient: recipient.clone(),
            locale: locale.clone(),
            subject: rendered.subject,
            body: rendered.body,
            ..queued(t)
        };
        if !notification::enqueue_all(conn, std::slice::from_ref(&row))?.is_empty() {
            notification::combine_into(conn, &ids, row.id, t)?;
            due += 1;
        } else {
            due += notification::release(conn, &ids, t)?;
        }
    }
    Ok(due)
}

/// The first moment at or after `t` outside the quiet hours `start`–`end` (local time in `tz`;
/// the window may run over midnight).
pub fn after_quiet_hours(
    t: DateTime<Utc>,
    tz: Tz,
    start: NaiveTime,
    end: NaiveTime,
) -> DateTime<Utc> {
    if start == end {
        return t;
    }
    let local = t.with_timezone(&tz);
    let (day, time) = (local.date_naive(), local.time());
    let wraps = start > end;
    let quiet = if wraps {
        time >= start || time < end
    } else {
        time >= start && time < end
    };
    if !quiet {
        return t;
    }
    let end_day = if wraps && time >= start {
        day + Duration::days(1)
    } else {
        day
    };
    tz.from_local_datetime(&end_day.and_time(end))
        .earliest()
        .map_or(t, |d| d.with_timezone(&Utc))
}

/// Capped exponential backoff: `base · 2^(attempts-1)`, at most `max` seconds.
pub fn backoff(attempts: i32, base_secs: i64, max_secs: i64) -> Duration {
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(0);
    let secs = base_secs.saturating_mul(2_i64.saturating_pow(exp));
    Duration::seconds(secs.min(max_secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        // 2026-03-02 local Asia/Shanghai (UTC+8)
        chrono_tz::Asia::Shanghai
            .with_ymd_and_hms(2026, 3, 2, h, m, 0)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn quiet_hours_over_midnight_hold_until_morning() {
        let tz = chrono_tz::Asia::Shanghai;
        let (s, e) = (hm(21, 0), hm(8, 0));
        assert_eq!(after_quiet_hours(at(12, 0), tz, s, e), at(12, 0));
        assert_eq!(after_quiet_hours(at(20, 59), tz, s, e), at(20, 59));
        assert_eq!(
            after_quiet_hours(at(21, 0), tz, s, e),
            at(8, 0) + Duration::days(1)
        );
        assert_eq!(
            after_quiet_hours(at(23, 30), tz, s, e),
            at(8, 0) + Duration::days(1)
        );
        assert_eq!(after_quiet_hours(at(3, 0), tz, s, e), at(8, 0));
        assert_eq!(after_quiet_hours(at(8, 0), tz, s, e), at(8, 0));
    }

    #[test]
    fn quiet_hours_within_a_day_and_disabled() {
        let tz = chrono_tz::Asia::Shanghai;
        assert_eq!(
            after_quiet_hours(at(13, 0), tz, hm(12, 0), hm(14, 0)),
            at(14, 0)
        );
        assert_eq!(
            after_quiet_hours(at(15, 0), tz, hm(12, 0), hm(14, 0)),
            at(15, 0)
        );
        assert_eq!(
            after_quiet_hours(at(3, 0), tz, hm(0, 0), hm(0, 0)),
            at(3, 0)
        );
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1, 60, 3600), Duration::seconds(60));
        assert_eq!(backoff(2, 60, 3600), Duration::seconds(120));
        assert_eq!(backoff(4, 60, 3600), Duration::seconds(480));
        assert_eq!(backoff(10, 60, 3600), Duration::seconds(3600));
        assert_eq!(backoff(1000, 60, 3600), Duration::seconds(3600));
    }
}
