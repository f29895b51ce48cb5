//! The notification lifecycle: statuses, the events that move a notification, and the one
//! transition function the dispatcher, staff retries, delivery receipts and the combining of a
//! sweep's e-mails all go through. The database applies a transition as a conditional update
//! from [`Event::from`] to [`Event::to`], so a message another actor moved meanwhile is left
//! alone.

use serde::{Deserialize, Serialize};

/// Where a notification is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for its `next_attempt_at`.
    Queued,
    /// Claimed by a dispatcher under a lease.
    Sending,
    /// Handed to the mail server or SMS gateway.
    Sent,
    /// The gateway reported delivery.
    Delivered,
    /// Given up (a permanent error, the last attempt, or a failure receipt).
    Failed,
    /// Withdrawn (e.g. carried by a combined e-mail).
    Cancelled,
}

super::text_enum!(Status {
    Queued = "queued",
    Sending = "sending",
    Sent = "sent",
    Delivered = "delivered",
    Failed = "failed",
    Cancelled = "cancelled",
});

/// How a notification travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// SMTP e-mail.
    Email,
    /// The SMS gateway.
    Sms,
}

super::text_enum!(Channel { Email = "email", Sms = "sms" });

/// Whom a notification is for (never the address itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// The infant's family.
    Family,
    /// The birth hospital's contacts.
    Hospital,
    /// The case's coordinator (its assignee, else the centre's coordinators).
    Coordinator,
    /// The screening centre's supervisor.
    Supervisor,
    /// The centre's on-call clinician.
    OnCall,
    /// The district maternal and child health institution.
    DistrictMch,
    /// The district health bureau.
    HealthBureau,
    /// The screening centre (digests with no hospital).
    Centre,
    /// Staff of mixed roles (a combined e-mail).
    Staff,
}

super::text_enum!(Audience {
    Family = "family",
    Hospital = "hospital",
    Coordinator = "coordinator",
    Supervisor = "supervisor",
    OnCall = "on_call",
    DistrictMch = "district_mch",
    HealthBureau = "health_bureau",
    Centre = "centre",
    Staff = "staff",
});

/// What an SMS gateway's receipt says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptStatus {
    /// Delivered to the handset.
    Delivered,
    /// Not delivered (temporary or unknown reason).
    Failed,
    /// The gateway gave up.
    Undeliverable,
    /// The number is not the family's.
    WrongNumber,
}

super::text_enum!(ReceiptStatus {
    Delivered = "delivered",
    Failed = "failed",
    Undeliverable = "undeliverable",
    WrongNumber = "wrong_number",
});

/// What happens to a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A dispatcher claims it (a due queued message, or one whose lease ran out).
    Claim,
    /// The channel accepted it.
    Sent,
    /// A transient failure: queued again after a backoff.
    Requeue,
    /// A permanent failure or the last attempt.
    GiveUp,
    /// The gateway reports delivery.
    DeliveryReceipt,
    /// The gateway reports failure (failed, undeliverable, wrong number).
    FailureReceipt,
    /// Staff queue a failed or cancelled message again.
    StaffRetry,
    /// A combined e-mail now carries it.
    Combine,
}

impl Event {
    /// The statuses the event applies to.
    pub fn from(self) -> &'static [Status] {
        use Status::*;
        match self {
            Event::Claim => &[Queued, Sending],
            Event::Sent | Event::Requeue | Event::GiveUp => &[Sending],
            // A receipt may follow a receipt (a gateway's later, better report wins).
            Event::DeliveryReceipt | Event::FailureReceipt => &[Sent, Delivered, Failed],
            Event::StaffRetry => &[Failed, Cancelled],
            Event::Combine => &[Queued],
        }
    }

    /// The status the event leads to.
    pub fn to(self) -> Status {
        match self {
            Event::Claim => Status::Sending,
            Event::Sent => Status::Sent,
            Event::Requeue | Event::StaffRetry => Status::Queued,
            Event::GiveUp | Event::FailureReceipt => Status::Failed,
            Event::DeliveryReceipt => Status::Delivered,
            Event::Combine => Status::Cancelled,
        }
    }
}

/// An event that does not apply to a status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {} notification cannot take {event:?}", from.as_str())]
pub struct InvalidTransition {
    /// Where it was.
    pub from: Status,
    /// What was tried.
    pub event: Event,
}

/// Applies an event: the new status, or why not.
pub fn transition(from: Status, event: Event) -> Result<Status, InvalidTransition> {
    if event.from().contains(&from) {
        Ok(event.to())
    } else {
        Err(InvalidTransition { from, event })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lifecycle_of_a_message() {
        use Event::*;
        let mut s = Status::Queued;
        for (e, next) in [
            (Claim, Status::Sending),
            (Requeue, Status::Queued),
            (Claim, Status::Sending),
            (Sent, Status::Sent),
            (DeliveryReceipt, Status::Delivered),
        ] {
            s = transition(s, e).unwrap();
            assert_eq!(s, next);
        }
        assert_eq!(transition(Status::Sending, GiveUp), Ok(Status::Failed));
        assert_eq!(transition(Status::Failed, StaffRetry), Ok(Status::Queued));
        assert_eq!(transition(Status::Queued, Combine), Ok(Status::Cancelled));
        assert_eq!(
            transition(Status::Cancelled, StaffRetry),
            Ok(Status::Queued)
        );
    }

    #[test]
    fn refused_transitions_name_the_status_and_the_event() {
        for (from, e) in [
            (Status::Sent, Event::StaffRetry),
            (Status::Delivered, Event::Claim),
            (Status::Queued, Event::Sent),
            (Status::Queued, Event::DeliveryReceipt),
            (Status::Sending, Event::Combine),
            (Status::Cancelled, Event::Claim),
        ] {
            let err = transition(from, e).unwrap_err();
            assert_eq!((err.from, err.event), (from, e));
            assert!(err.to_string().contains(from.as_str()), "{err}");
        }
    }

    #[test]
    fn texts_round_trip() {
        for &s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
    }
}
