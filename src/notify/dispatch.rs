//! The outbox dispatcher: claims due notifications, sends them over their channel a few at a
//! time, and records each result: sent (with the provider's id), queued again after a capped
//! exponential backoff, or failed (after `max_attempts`, or at once on a permanent error such as a
//! hard bounce, which also puts a family's case on the contact-problem worklist).

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::json;

use super::outbox::backoff;
use super::{Notifier, SendError};
use crate::db::models::notification::{self, Notification, NotificationUpdate};
use diesel::Connection;

use crate::db::{self, now_micros, write_transaction};
use crate::domain::principal::Principal;
use crate::error::AppError;
use crate::services::contacts::flag_contact_problem;
use crate::state::AppState;

/// What one pass did.
#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
pub struct DispatchReport {
    /// Notifications claimed.
    pub claimed: usize,
    /// Handed to the mail server or gateway.
    pub sent: usize,
    /// Queued again for a later attempt.
    pub retried: usize,
    /// Given up.
    pub failed: usize,
}

async fn send(notifier: &Notifier, n: &Notification) -> Result<String, SendError> {
    match n.channel.as_str() {
        "email" => match &notifier.mailer {
            Some(m) => {
                m.send(
                    &n.id,
                    &n.recipient,
                    n.subject.as_deref().unwrap_or(""),
                    &n.body,
                )
                .await
            }
            None => Err(SendError::transient("e-mail is disabled")),
        },
        "sms" => match &notifier.sms {
            Some(g) => g.send(&n.id, &n.recipient, &n.body).await,
            None => Err(SendError::transient("sms is disabled")),
        },
        other => Err(SendError::permanent(format!("unknown channel {other}"))),
    }
}

/// One dispatcher pass at `now`: at most `notify.batch_size` notifications.
pub async fn run(state: &AppState, now: DateTime<Utc>) -> Result<DispatchReport, AppError> {
    let n = &state.settings.notify;
    let channels = state.notifier.enabled_channels();
    if channels.is_empty() {
        return Ok(DispatchReport::default());
    }
    let (t, lease) = (
        now_micros(now),
        now_micros(now + chrono::Duration::seconds(n.claim_secs)),
    );
    let batch = n.batch_size;
    let claimed = db::run(&state.pool, move |c| {
        write_transaction(c, |c| {
            notification::claim(c, &channels, t, lease, batch).map_err(AppError::from)
        })
    })
    .await?;
    let mut report = DispatchReport {
        claimed: claimed.len(),
        ..Default::default()
    };
    if claimed.is_empty() {
        return Ok(report);
    }
    let notifier = state.notifier.clone();
    let results: Vec<(Notification, Result<String, SendError>)> =
        futures_util::stream::iter(claimed)
            .map(|row| {
                let notifier = notifier.clone();
                async move {
                    let r = send(&notifier, &row).await;
                    (row, r)
                }
            })
            .buffer_unordered(n.concurrency)
            .collect()
            .await;
    let (max_attempts, base, cap) = (n.max_attempts, n.retry_base_secs, n.retry_max_secs);
    // One transaction for the batch, a savepoint per message: a result that cannot be recorded
    // rolls back alone (its lease then runs out and it is sent again).
    let outcomes = db::run(&state.pool, move |c| {
        let who = Principal::job("dispatcher");
        write_transaction(c, |c| {
            let mut outcomes = Vec::with_capacity(results.len());
            for (row, result) in &results {
                let r = c.transaction(|c| record(c, row, result, now, (max_attempts, base, cap), &who));
                match r {
                    Ok(o) => outcomes.push(o),
                    Err(e) => {
                        tracing::error!(notification.id = %row.id, error.code = e.code(), "delivery result not recorded");
                    }
                }
            }
            Ok::<_, AppError>(outcomes)
        })
    })
    .await?;
    for o in outcomes {
        match o {
            Outcome::Sent => report.sent += 1,
            Outcome::Retry => report.retried += 1,
            Outcome::Failed => report.failed += 1,
        }
    }
    Ok(report)
}

enum Outcome {
    Sent,
    Retry,
    Failed,
}

fn record(
    c: &mut crate::db::AnyConnection,
    row: &Notification,
    result: &Result<String, SendError>,
    now: DateTime<Utc>,
    (max_attempts, base, cap): (i32, i64, i64),
    who: &Principal,
) -> Result<Outcome, AppError> {
    let t = now_micros(now);
    match result {
        Ok(provider_id) => {
            let form = NotificationUpdate {
                status: Some("sent".into()),
                claimed_until: Some(None),
                provider_message_id: Some(Some(provider_id.clone())),
                last_error: Some(None),
                updated_at: Some(t),
                sent_at: Some(Some(t)),
                ..Default::default()
            };
            notification::finish(c, &row.id, &form)?;
            tracing::info!(notification.id = %row.id, channel = %row.channel, template = %row.template, "notification sent");
            Ok(Outcome::Sent)
        }
        Err(e) if e.permanent || row.attempts >= max_attempts => {
            let form = NotificationUpdate {
                status: Some("failed".into()),
                claimed_until: Some(None),
                last_error: Some(Some(e.message.clone())),
                updated_at: Some(t),
                ..Default::default()
            };
            notification::finish(c, &row.id, &form)?;
            tracing::warn!(notification.id = %row.id, channel = %row.channel, attempts = row.attempts, permanent = e.permanent, "notification failed");
            if e.permanent
                && row.recipient_role == "family"
                && let Some(case_id) = &row.case_id
            {
                flag_contact_problem(
                    c,
                    case_id,
                    json!({"source": "notification", "notification_id": row.id, "channel": row.channel, "error": e.message}),
                    who,
                    now,
                )?;
            }
            Ok(Outcome::Failed)
        }
        Err(e) => {
            let form = NotificationUpdate {
                status: Some("queued".into()),
                next_attempt_at: Some(t + backoff(row.attempts, base, cap)),
                claimed_until: Some(None),
                last_error: Some(Some(e.message.clone())),
                updated_at: Some(t),
                ..Default::default()
            };
            notification::finish(c, &row.id, &form)?;
            tracing::info!(notification.id = %row.id, channel = %row.channel, attempts = row.attempts, "notification will be retried");
            Ok(Outcome::Retry)
        }
    }
}
