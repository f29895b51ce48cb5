//! Long-term management of confirmed infants (高危儿专案管理): an episode per infant and
//! condition, from registration through treatment and follow-up to closure, following a
//! versioned plan ([`plan`]). Pure rules only: states, closure reasons, treatment types and the
//! escalation of a follow-up contact that is not done.

pub mod plan;
pub mod report;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use plan::ContactLadder;

/// The built-in plan set, used when `management.plan_directory` does not exist.
pub const DEFAULT_PLANS_TOML: &str = include_str!("../../../config/management/zj-2026.toml");

/// Where an episode stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EpisodeState {
    /// Registered; treatment not started (or none planned).
    Registered,
    /// Treatment started; no follow-up contact recorded since.
    TreatmentStarted,
    /// Follow-up contacts are being recorded.
    UnderFollowUp,
    /// Closed, with a reason.
    Closed,
}

super::text_enum!(EpisodeState {
    Registered = "registered",
    TreatmentStarted = "treatment_started",
    UnderFollowUp = "under_follow_up",
    Closed = "closed",
});

/// Where a follow-up contact stands at `now`: `cancelled`, `done`, `done_late` (after its
/// window), `overdue` (its window closed unrecorded) or `pending`.
pub fn contact_status(
    done_at: Option<DateTime<Utc>>,
    cancelled: bool,
    window_end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> &'static str {
    match done_at {
        _ if cancelled => "cancelled",
        Some(d) if d > window_end => "done_late",
        Some(_) => "done",
        None if window_end < now => "overdue",
        None => "pending",
    }
}

/// How an episode came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A follow-up case resolved as confirmed.
    Case,
    /// Registered by staff: diagnosed elsewhere or referred in.
    Referral,
}

super::text_enum!(Origin { Case = "case", Referral = "referral" });

/// Why an episode closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "reason", rename_all = "snake_case", deny_unknown_fields)]
pub enum Closure {
    /// The plan's horizon was reached.
    HorizonReached,
    /// Handed to a centre outside this system.
    TransferredOut {
        /// The receiving centre.
        receiving_centre: String,
    },
    /// The child died.
    Deceased,
    /// The guardian declined management, with a signed refusal.
    Declined {
        /// Reference of the signed refusal (document number, scan id).
        refusal_reference: String,
    },
    /// Not reachable despite documented attempts.
    LostToFollowUp {
        /// The attempts made.
        attempts: String,
    },
    /// The diagnosis was revised (not the condition after all).
    DiagnosisRevised {
        /// What changed.
        note: String,
    },
}

impl Closure {
    /// The reason's name (stored in its own column for reports).
    pub fn name(&self) -> &'static str {
        match self {
            Self::HorizonReached => "horizon_reached",
            Self::TransferredOut { .. } => "transferred_out",
            Self::Deceased => "deceased",
            Self::Declined { .. } => "declined",
            Self::LostToFollowUp { .. } => "lost_to_follow_up",
            Self::DiagnosisRevised { .. } => "diagnosis_revised",
        }
    }

    /// The free text a reason needs, with its field name, when it is missing.
    pub fn missing_text(&self) -> Option<&'static str> {
        let blank = |s: &String| s.trim().is_empty();
        match self {
            Self::TransferredOut { receiving_centre } if blank(receiving_centre) => {
                Some("closure.receiving_centre")
            }
            Self::Declined { refusal_reference } if blank(refusal_reference) => {
                Some("closure.refusal_reference")
            }
            Self::LostToFollowUp { attempts } if blank(attempts) => Some("closure.attempts"),
            Self::DiagnosisRevised { note } if blank(note) => Some("closure.note"),
            _ => None,
        }
    }
}

/// The coded type of a treatment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TreatmentKind {
    /// Drug (levothyroxine, hydrocortisone, carnitine…).
    Medication,
    /// Special diet (low-Phe formula…).
    Diet,
    /// Hearing aid.
    HearingAid,
    /// Cochlear implant.
    CochlearImplant,
    /// Surgery or catheter intervention.
    Surgery,
    /// Anything else.
    Other,
}

super::text_enum!(TreatmentKind {
    Medication = "medication",
    Diet = "diet",
    HearingAid = "hearing_aid",
    CochlearImplant = "cochlear_implant",
    Surgery = "surgery",
    Other = "other",
});

/// A rung of a follow-up contact's escalation.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
pub enum ContactRung {
    /// Family SMS before the due day.
    M0,
    /// Window closed: hospital and coordinators.
    M1,
    /// Some days later: district MCH home visit.
    M2,
}

super::text_enum!(ContactRung { M0 = "M0", M1 = "M1", M2 = "M2" });

impl ContactLadder {
    /// When `rung` falls for a contact due at `due_at` whose window closes at `window_end`.
    pub fn at(
        &self,
        rung: ContactRung,
        due_at: DateTime<Utc>,
        window_end: DateTime<Utc>,
    ) -> DateTime<Utc> {
        match rung {
            ContactRung::M0 => due_at - Duration::days(self.family_reminder_days_before),
            ContactRung::M1 => window_end + Duration::days(self.staff_after_window_days),
            ContactRung::M2 => window_end + Duration::days(self.district_after_window_days),
        }
    }

    /// The rungs due at `now` that have not fired, in order. A reminder whose due day has
    /// passed is not sent late (the overdue rungs say more).
    pub fn due(
        &self,
        fired: &[ContactRung],
        due_at: DateTime<Utc>,
        window_end: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Vec<ContactRung> {
        ContactRung::ALL
            .iter()
            .copied()
            .filter(|r| !fired.contains(r) && self.at(*r, due_at, window_end) <= now)
            .filter(|r| *r != ContactRung::M0 || now <= window_end)
            .collect()
    }

    /// The next rung not fired and not skipped, with its time.
    pub fn next(
        &self,
        fired: &[ContactRung],
        due_at: DateTime<Utc>,
        window_end: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<(ContactRung, DateTime<Utc>)> {
        ContactRung::ALL
            .iter()
            .copied()
            .filter(|r| !fired.contains(r))
            .filter(|r| *r != ContactRung::M0 || now <= window_end)
            .map(|r| (r, self.at(r, due_at, window_end)))
            .find(|(_, t)| *t > now)
    }
}

#[cfg(test)]
mod tests;
