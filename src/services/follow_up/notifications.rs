//! Staff and gateway actions on the outbox: a staff retry of a failed or cancelled message, and
//! the SMS gateway's delivery receipts. Each is one write transaction through the notification
//! state machine (`domain::notification`).

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::db::models::follow_up::notification::{self, Notification, NotificationUpdate};
use crate::db::types::UtcMicros;
use crate::db::{AnyConnection, write_transaction};
use crate::domain::ids::NotificationId;
use crate::domain::notification::{Audience, Event, ReceiptStatus, transition};
use crate::domain::principal::{Principal, Scope};
use crate::error::{AppError, ErrorCode};
use crate::services::admin::audit;
use crate::services::follow_up::contacts::flag_contact_problem;

/// Queues a failed or cancelled notification again, due now; audited.
pub fn retry(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: NotificationId,
    who: &Principal,
    now: DateTime<Utc>,
) -> Result<Notification, AppError> {
    write_transaction(conn, |c| {
        let current = notification::get(c, scope, id)?.ok_or(AppError::NotFound {
            entity: "notification",
        })?;
        let to = transition(current.status, Event::StaffRetry)
            .map_err(|e| AppError::conflict(ErrorCode::NotRetryable, None, e.to_string()))?;
        let t = UtcMicros::new(now);
        let form = NotificationUpdate {
            next_attempt_at: Some(t),
            claimed_until: Some(None),
            updated_at: Some(t),
            ..Default::default()
        };
        if notification::apply(c, id, Event::StaffRetry, &form)? == 0 {
            return Err(AppError::conflict(
                ErrorCode::NotRetryable,
                None,
                "the notification changed meanwhile; reload it",
            ));
        }
        audit::write(
            c,
            who,
            "notification",
            id,
            Some(&json!({"status": current.status})),
            &json!({"status": to}),
            now,
        )?;
        notification::get(c, scope, id)?.ok_or(AppError::NotFound {
            entity: "notification",
        })
    })
}

/// Records an SMS gateway receipt for the message it names. A wrong-number receipt for a
/// family message puts the case on the contact-problem worklist. Returns the notification's id.
pub fn record_sms_receipt(
    conn: &mut AnyConnection,
    message_id: &str,
    status: ReceiptStatus,
    error: Option<String>,
    now: DateTime<Utc>,
) -> Result<NotificationId, AppError> {
    write_transaction(conn, |c| {
        let n = notification::by_provider_id(c, "sms", message_id)?.ok_or(AppError::NotFound {
            entity: "notification",
        })?;
        let t = UtcMicros::new(now);
        let delivered = status == ReceiptStatus::Delivered;
        let event = if delivered {
            Event::DeliveryReceipt
        } else {
            Event::FailureReceipt
        };
        let form = NotificationUpdate {
            delivered_at: delivered.then_some(Some(t)),
            last_error: (!delivered)
                .then(|| Some(error.clone().unwrap_or_else(|| status.as_str().to_string()))),
            updated_at: Some(t),
            ..Default::default()
        };
        notification::apply(c, n.id, event, &form)?;
        if status == ReceiptStatus::WrongNumber
            && n.recipient_role == Audience::Family
            && let Some(case_id) = n.case_id
        {
            flag_contact_problem(
                c,
                case_id,
                json!({"source": "sms_receipt", "notification_id": n.id, "status": status}),
                &Principal::job("sms_receipts"),
                now,
            )?;
        }
        Ok(n.id)
    })
}
