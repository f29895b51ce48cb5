//! The follow-up case state machine (catalogue §8): open → family contacted → recall scheduled →
//! recheck done → diagnostic work-up → resolved with an outcome, and reopening with a reason.
//! Pure: the service layer stores states and events; this module only says what is allowed.

use serde::{Deserialize, Serialize};

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// Opened, nobody reached yet.
    Open,
    /// The family (or the birth hospital on its behalf) has been reached.
    FamilyContacted,
    /// A recall visit or repeat specimen is booked.
    RecallScheduled,
    /// The repeat card or diagnostic test is done and linked.
    RecheckDone,
    /// Confirmatory diagnosis under way.
    DiagnosticWorkup,
    /// Closed with an outcome.
    Resolved,
}

super::text_enum!(CaseState {
    Open = "open",
    FamilyContacted = "family_contacted",
    RecallScheduled = "recall_scheduled",
    RecheckDone = "recheck_done",
    DiagnosticWorkup = "diagnostic_workup",
    Resolved = "resolved",
});

/// Why a case is opened; one open case per infant, programme and reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Positive or critical screen.
    Positive,
    /// Borderline: a repeat specimen.
    Repeat,
    /// Unusable or too-early card: a new one.
    Recollect,
    /// Hearing refer (rescreen, diagnosis or intervention due).
    Refer,
    /// No valid screen by the programme's age.
    Missed,
}

super::text_enum!(Reason {
    Positive = "positive",
    Repeat = "repeat",
    Recollect = "recollect",
    Refer = "refer",
    Missed = "missed",
});

/// The key that makes an open case unique per infant, programme and reason (NULL once resolved).
pub fn open_key(
    infant_id: super::ids::InfantId,
    programme: super::catalogue::Programme,
    reason: Reason,
) -> String {
    format!("{infant_id}|{programme}|{reason}")
}

/// How a case ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CaseOutcome {
    /// Confirmed with a condition; long-term follow-up starts.
    Confirmed {
        /// Condition code.
        condition: String,
    },
    /// False positive.
    RuledOut,
    /// Carrier or benign variant.
    Carrier,
    /// The guardian declined follow-up.
    Declined,
    /// The infant died.
    Deceased,
    /// Moved out of the jurisdiction, handed over.
    MovedOut,
    /// Diagnosed by another provider.
    DiagnosedElsewhere,
    /// Not reachable despite documented attempts.
    LostToFollowUp {
        /// Why (attempts made, channels used).
        reason: String,
    },
}

impl CaseOutcome {
    /// Outcomes that need the recheck or work-up to have happened.
    fn needs_recheck(&self) -> bool {
        matches!(
            self,
            Self::Confirmed { .. } | Self::RuledOut | Self::Carrier
        )
    }
}

/// What staff do to a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum CaseEvent {
    /// The family or hospital was reached.
    ContactFamily,
    /// A recall is booked (again, when rescheduled).
    ScheduleRecall {
        /// Appointment time.
        #[serde(default)]
        appointment_at: Option<chrono::DateTime<chrono::Utc>>,
        /// Where (clinic, hospital).
        #[serde(default)]
        place: Option<String>,
    },
    /// The recheck is done.
    RecordRecheck {
        /// The repeat card's barcode or the diagnostic test's reference.
        #[serde(default)]
        reference: Option<String>,
    },
    /// Diagnostic work-up begins.
    StartWorkup,
    /// Close the case.
    Resolve {
        /// How the case ended.
        outcome: CaseOutcome,
    },
    /// Reopen a resolved case.
    Reopen {
        /// Why the case was reopened.
        reason: String,
    },
}

/// What a timeline entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// The case was opened.
    Opened,
    /// A later result updated the open case (conditions added, tier raised).
    Updated,
    /// A state transition by staff.
    Transition,
    /// A note alone.
    Note,
    /// The assignee changed.
    Assigned,
    /// A normal repeat card suggests resolving the case.
    ResolutionProposed,
    /// A contact attempt was recorded.
    ContactAttempt,
    /// The family's contact details were found wrong or the family gone.
    ContactProblem,
    /// An escalation rung fired.
    Escalation,
}

super::text_enum!(EntryKind {
    Opened = "opened",
    Updated = "updated",
    Transition = "transition",
    Note = "note",
    Assigned = "assigned",
    ResolutionProposed = "resolution_proposed",
    ContactAttempt = "contact_attempt",
    ContactProblem = "contact_problem",
    Escalation = "escalation",
});

/// Names of events, for "allowed next" lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// See [`CaseEvent::ContactFamily`].
    ContactFamily,
    /// See [`CaseEvent::ScheduleRecall`].
    ScheduleRecall,
    /// See [`CaseEvent::RecordRecheck`].
    RecordRecheck,
    /// See [`CaseEvent::StartWorkup`].
    StartWorkup,
    /// See [`CaseEvent::Resolve`].
    Resolve,
    /// See [`CaseEvent::Reopen`].
    Reopen,
}

super::text_enum!(EventKind {
    ContactFamily = "contact_family",
    ScheduleRecall = "schedule_recall",
    RecordRecheck = "record_recheck",
    StartWorkup = "start_workup",
    Resolve = "resolve",
    Reopen = "reopen",
});

impl CaseEvent {
    /// The event's kind.
    pub fn kind(&self) -> EventKind {
        match self {
            Self::ContactFamily => EventKind::ContactFamily,
            Self::ScheduleRecall { .. } => EventKind::ScheduleRecall,
            Self::RecordRecheck { .. } => EventKind::RecordRecheck,
            Self::StartWorkup => EventKind::StartWorkup,
            Self::Resolve { .. } => EventKind::Resolve,
            Self::Reopen { .. } => EventKind::Reopen,
        }
    }
}

/// A refused transition, with what would have been allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{event:?} is not allowed in state {from:?}")]
pub struct InvalidTransition {
    /// Current state.
    pub from: CaseState,
    /// Refused event.
    pub event: EventKind,
    /// Events allowed now.
    pub allowed: Vec<EventKind>,
    /// Extra explanation (e.g. an outcome that needs a recheck).
    pub detail: Option<String>,
}

/// Events allowed in a state.
pub fn allowed(from: CaseState) -> Vec<EventKind> {
    use CaseState::*;
    use EventKind as E;
    match from {
        Open => vec![E::ContactFamily, E::ScheduleRecall, E::Resolve],
        FamilyContacted => vec![E::ScheduleRecall, E::RecordRecheck, E::Resolve],
        RecallScheduled => vec![
            E::ContactFamily,
            E::ScheduleRecall,
            E::RecordRecheck,
            E::Resolve,
        ],
        RecheckDone => vec![E::StartWorkup, E::ScheduleRecall, E::Resolve],
        DiagnosticWorkup => vec![E::Resolve],
        Resolved => vec![E::Reopen],
    }
}

/// Applies an event: the new state, or why not.
pub fn transition(from: CaseState, event: &CaseEvent) -> Result<CaseState, InvalidTransition> {
    use CaseState::*;
    let refuse = |detail: Option<String>| InvalidTransition {
        from,
        event: event.kind(),
        allowed: allowed(from),
        detail,
    };
    if !allowed(from).contains(&event.kind()) {
        return Err(refuse(None));
    }
    Ok(match event {
        CaseEvent::ContactFamily if from == RecallScheduled => RecallScheduled,
        CaseEvent::ContactFamily => FamilyContacted,
        CaseEvent::ScheduleRecall { .. } => RecallScheduled,
        CaseEvent::RecordRecheck { .. } => RecheckDone,
        CaseEvent::StartWorkup => DiagnosticWorkup,
        CaseEvent::Resolve { outcome } => {
            if outcome.needs_recheck() && !matches!(from, RecheckDone | DiagnosticWorkup) {
                return Err(refuse(Some(
                    "this outcome needs a recheck or diagnostic work-up first".into(),
                )));
            }
            if let CaseOutcome::LostToFollowUp { reason }
            | CaseOutcome::Confirmed { condition: reason } = outcome
                && reason.trim().is_empty()
            {
                return Err(refuse(Some(
                    "the outcome needs a reason or condition".into(),
                )));
            }
            Resolved
        }
        CaseEvent::Reopen { reason } => {
            if reason.trim().is_empty() {
                return Err(refuse(Some("reopening needs a reason".into())));
            }
            Open
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use CaseState::*;

    const STATES: [CaseState; 6] = [
        Open,
        FamilyContacted,
        RecallScheduled,
        RecheckDone,
        DiagnosticWorkup,
        Resolved,
    ];

    fn events() -> Vec<CaseEvent> {
        vec![
            CaseEvent::ContactFamily,
            CaseEvent::ScheduleRecall {
                appointment_at: None,
                place: None,
            },
            CaseEvent::RecordRecheck { reference: None },
            CaseEvent::StartWorkup,
            CaseEvent::Resolve {
                outcome: CaseOutcome::Declined,
            },
            CaseEvent::Reopen {
                reason: "new result".into(),
            },
        ]
    }

    /// The full table: (from, event) → Some(to) when legal.
    fn expected(from: CaseState, e: &CaseEvent) -> Option<CaseState> {
        match (from, e.kind()) {
            (Open, EventKind::ContactFamily) => Some(FamilyContacted),
            (Open, EventKind::ScheduleRecall) => Some(RecallScheduled),
            (FamilyContacted, EventKind::ScheduleRecall) => Some(RecallScheduled),
            (FamilyContacted, EventKind::RecordRecheck) => Some(RecheckDone),
            (RecallScheduled, EventKind::ContactFamily) => Some(RecallScheduled),
            (RecallScheduled, EventKind::ScheduleRecall) => Some(RecallScheduled),
            (RecallScheduled, EventKind::RecordRecheck) => Some(RecheckDone),
            (RecheckDone, EventKind::StartWorkup) => Some(DiagnosticWorkup),
            (RecheckDone, EventKind::ScheduleRecall) => Some(RecallScheduled),
            (s, EventKind::Resolve) if s != Resolved => Some(Resolved),
            (Resolved, EventKind::Reopen) => Some(Open),
            _ => None,
        }
    }

    #[test]
    fn every_legal_and_illegal_transition() {
        let mut legal = 0;
        for from in STATES {
            for e in events() {
                match (transition(from, &e), expected(from, &e)) {
                    (Ok(to), Some(want)) => {
                        assert_eq!(to, want, "{from:?} + {e:?}");
                        legal += 1;
                    }
                    (Err(err), None) => {
                        assert_eq!(err.allowed, allowed(from));
                        assert!(!err.allowed.contains(&e.kind()));
                    }
                    (got, want) => panic!("{from:?} + {e:?}: got {got:?}, want {want:?}"),
                }
            }
        }
        assert_eq!(legal, 15);
    }

    #[test]
    fn clinical_outcomes_need_a_recheck() {
        let confirmed = CaseEvent::Resolve {
            outcome: CaseOutcome::Confirmed {
                condition: "PKU".into(),
            },
        };
        for from in [Open, FamilyContacted, RecallScheduled] {
            let err = transition(from, &confirmed).unwrap_err();
            assert!(err.detail.is_some());
        }
        assert_eq!(transition(RecheckDone, &confirmed), Ok(Resolved));
        assert_eq!(transition(DiagnosticWorkup, &confirmed), Ok(Resolved));
        assert_eq!(
            transition(
                RecheckDone,
                &CaseEvent::Resolve {
                    outcome: CaseOutcome::RuledOut
                }
            ),
            Ok(Resolved)
        );
        assert!(
            transition(
                Open,
                &CaseEvent::Resolve {
                    outcome: CaseOutcome::Carrier
                }
            )
            .is_err()
        );
        // Outcomes that can end a case at any time.
        for o in [
            CaseOutcome::Deceased,
            CaseOutcome::MovedOut,
            CaseOutcome::DiagnosedElsewhere,
            CaseOutcome::Declined,
        ] {
            assert_eq!(
                transition(Open, &CaseEvent::Resolve { outcome: o }),
                Ok(Resolved)
            );
        }
    }

    #[test]
    fn reasons_are_required() {
        let lost = |r: &str| CaseEvent::Resolve {
            outcome: CaseOutcome::LostToFollowUp { reason: r.into() },
        };
        assert!(transition(Open, &lost(" ")).is_err());
        assert_eq!(
            transition(Open, &lost("3 calls, 2 SMS, home visit")),
            Ok(Resolved)
        );
        assert!(transition(Resolved, &CaseEvent::Reopen { reason: "".into() }).is_err());
    }
}
