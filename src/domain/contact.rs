//! Contact attempts: how staff tried to reach a family and what happened.

use serde::{Deserialize, Serialize};

/// How a family was contacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// A telephone call.
    Phone,
    /// A text message.
    Sms,
    /// An e-mail.
    Email,
    /// A home visit.
    HomeVisit,
    /// Through the birth hospital.
    ViaHospital,
}

super::text_enum!(Channel {
    Phone = "phone",
    Sms = "sms",
    Email = "email",
    HomeVisit = "home_visit",
    ViaHospital = "via_hospital",
});

/// What a contact attempt achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// The family was reached.
    Reached,
    /// Nobody answered.
    NoAnswer,
    /// The number is not the family's.
    WrongNumber,
    /// The family refused.
    Refused,
    /// The family has moved.
    Moved,
}

super::text_enum!(AttemptOutcome {
    Reached = "reached",
    NoAnswer = "no_answer",
    WrongNumber = "wrong_number",
    Refused = "refused",
    Moved = "moved",
});

impl AttemptOutcome {
    /// Whether the family's contact details need correcting (the contact-problem worklist).
    pub fn is_contact_problem(self) -> bool {
        matches!(self, AttemptOutcome::WrongNumber | AttemptOutcome::Moved)
    }
}
