//! The outbox dispatcher: claims due notifications, sends them over their channel a few at a
//! time, and records each result: sent (with the provider's id), queued again after a capped
//! exponential backoff, or failed (after `max_attempts`, or at once on a permanent error such as a
//! hard bounce, which also puts a family's case on the contact-problem worklist).

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::json;

use crate::db::models::follow_up::notification::{self, Notification, NotificationUpdate};
use crate::db::types::UtcMicros;
use crate::notify::outbox::backoff;
use crate::notify::{Notifier, SendError};

use crate::db::{self, write_transaction};
use crate::domain::notification::{Audience, Event};
use crate::domain::principal::Principal;
use crate::error::AppError;
use crate::services::follow_up::contacts::flag_contact_problem;
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
    /// Claimed by this pass but taken over by another dispatcher before its turn (its lease had
    /// run out): not sent by this one.
    pub taken_over: usize,
}

async fn send(notifier: &Notifier, n: &Notification) -> Result<String, SendError> {
    match n.channel.as_str() {
        "email" => match &notifier.mailer {
            Some(m) => {
                m.send(
                    &n.id.to_string(),
                    &n.recipient,
                    n.subject.as_deref().unwrap_or(""),
                    &n.body,
                )
                .await
            }
            None => Err(SendError::transient("e-mail is disabled")),
        },
        "sms" => match &notifier.sms {
            Some(g) => g.send(&n.id.to_string(), &n.recipient, &n.body).await,
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
        UtcMicros::new(now),
        UtcMicros::new(now + chrono::Duration::seconds(n.claim_secs)),
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
    // Each message: confirm the claim is still this dispatcher's and extend its lease (a slow
    // batch may have outlived it and another server taken the message over), send, and record
    // the result at once, so no message is sent by two servers or left looking unsent.
    let started = std::time::Instant::now();
    let claim_secs = chrono::Duration::seconds(n.claim_secs);
    let limits = (n.max_attempts, n.retry_base_secs, n.retry_max_secs);
    let outcomes: Vec<Option<Outcome>> = futures_util::stream::iter(claimed)
        .map(|row| {
            let elapsed = chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
            deliver(state, row, now + elapsed, claim_secs, limits)
        })
        .buffer_unordered(n.concurrency)
        .collect()
        .await;
    for o in outcomes {
        match o {
            Some(Outcome::Sent) => report.sent += 1,
            Some(Outcome::Retry) => report.retried += 1,
            Some(Outcome::Failed) => report.failed += 1,
            Some(Outcome::Lost) => report.taken_over += 1,
            None => {}
        }
    }
    Ok(report)
}

/// One message of a pass at time `at`: hold, send, record. `None` when the result could not be
/// recorded (logged; its lease then runs out and it is sent again).
async fn deliver(
    state: &AppState,
    row: Notification,
    at: DateTime<Utc>,
    claim_secs: chrono::Duration,
    limits: (i32, i64, i64),
) -> Option<Outcome> {
    let (id, attempts, until) = (row.id, row.attempts, UtcMicros::new(at + claim_secs));
    let held = db::run(&state.pool, move |c| {
        Ok(notification::hold(c, id, attempts, until)?)
    })
    .await;
    match held {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!(notification.id = %row.id, "notification taken over by another dispatcher; not sent here");
            return Some(Outcome::Lost);
        }
        Err(e) => {
            tracing::error!(notification.id = %row.id, error.code = e.code(), "notification lease not extended");
            return None;
        }
    }
    let result = send(&state.notifier, &row).await;
    let recorded = db::run(&state.pool, move |c| {
        let who = Principal::job("dispatcher");
        write_transaction(c, |c| record(c, &row, &result, at, limits, &who))
    })
    .await;
    match recorded {
        Ok(o) => Some(o),
        Err(e) => {
            tracing::error!(error.code = e.code(), "delivery result not recorded");
            None
        }
    }
}

enum Outcome {
    Sent,
    Retry,
    Failed,
    /// Another dispatcher had taken the message over: not sent here.
    Lost,
}

fn record(
    c: &mut crate::db::AnyConnection,
    row: &Notification,
    result: &Result<String, SendError>,
    now: DateTime<Utc>,
    (max_attempts, base, cap): (i32, i64, i64),
    who: &Principal,
) -> Result<Outcome, AppError> {
    let t = UtcMicros::new(now);
    match result {
        Ok(provider_id) => {
            let form = NotificationUpdate {
                claimed_until: Some(None),
                provider_message_id: Some(Some(provider_id.clone())),
                last_error: Some(None),
                updated_at: Some(t),
                sent_at: Some(Some(t)),
                ..Default::default()
            };
            notification::finish(c, row.id, row.attempts, Event::Sent, &form)?;
            tracing::info!(notification.id = %row.id, channel = %row.channel, template = %row.template, "notification sent");
            Ok(Outcome::Sent)
        }
        Err(e) if e.permanent || row.attempts >= max_attempts => {
            let form = NotificationUpdate {
                claimed_until: Some(None),
                last_error: Some(Some(e.message.clone())),
                updated_at: Some(t),
                ..Default::default()
            };
            notification::finish(c, row.id, row.attempts, Event::GiveUp, &form)?;
            tracing::warn!(notification.id = %row.id, channel = %row.channel, attempts = row.attempts, permanent = e.permanent, "notification failed");
            if e.permanent
                && row.recipient_role == Audience::Family
                && let Some(case_id) = row.case_id
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
                next_attempt_at: Some(UtcMicros::new(now + backoff(row.attempts, base, cap))),
                claimed_until: Some(None),
                last_error: Some(Some(e.message.clone())),
                updated_at: Some(t),
                ..Default::default()
            };
            notification::finish(c, row.id, row.attempts, Event::Requeue, &form)?;
            tracing::info!(notification.id = %row.id, channel = %row.channel, attempts = row.attempts, "notification will be retried");
            Ok(Outcome::Retry)
        }
    }
}
