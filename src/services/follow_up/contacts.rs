//! Contact attempts on a case: first-class records of who tried to reach the family, how, when
//! and with what result; wrong numbers and moves put the case on the contact-problem worklist.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::db::AnyConnection;
use crate::db::models::follow_up::case::{self, Case, CaseUpdateForm};
use crate::db::models::screening::infant::{self, InfantUpdateForm};
use crate::db::types::UtcMicros;
use crate::domain::case::{CaseState, EntryKind};
use crate::domain::contact::{AttemptOutcome, Channel};
use crate::domain::ids::CaseId;
use crate::domain::principal::{Principal, Scope};
use crate::error::{AppError, ErrorCode};
use crate::services::admin::audit;
use crate::services::follow_up::cases::event;

/// A contact attempt as submitted.
#[derive(Debug, Clone)]
pub struct AttemptInput {
    /// `phone`, `sms`, `email`, `home_visit`, `via_hospital`.
    pub channel: String,
    /// `reached`, `no_answer`, `wrong_number`, `refused`, `moved`.
    pub outcome: String,
    /// Who tried (name or role); defaults to the recording principal.
    pub contacted_by: Option<String>,
    /// When the attempt was made.
    pub attempted_at: DateTime<Utc>,
    /// Free text.
    pub note: Option<String>,
}

/// Records a contact attempt on an open case. `wrong_number` and `moved` flag the case and the
/// infant's contact details for correction (the contact-problem worklist); `reached` on an open
/// case moves it to family contacted.
pub fn record_attempt(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: CaseId,
    a: AttemptInput,
    who: &Principal,
    now: DateTime<Utc>,
) -> Result<Case, AppError> {
    crate::db::write_transaction(conn, |conn| {
        use crate::db::models::follow_up::contact::{self, ContactAttempt};
        use crate::domain::validation::FieldErrors;
        let current = case::get(conn, scope, id)?.ok_or(AppError::NotFound { entity: "case" })?;
        if current.state == CaseState::Resolved {
            return Err(AppError::conflict(
                ErrorCode::CaseResolved,
                None,
                "the case is resolved; reopen it first",
            ));
        }
        let mut e = FieldErrors::new();
        let channel = Channel::parse(&a.channel);
        if channel.is_none() {
            e.add("channel", format!("must be one of {}", Channel::names()));
        }
        let outcome = AttemptOutcome::parse(&a.outcome);
        if outcome.is_none() {
            e.add(
                "outcome",
                format!("must be one of {}", AttemptOutcome::names()),
            );
        }
        if a.attempted_at > now + chrono::Duration::minutes(5) {
            e.add("attempted_at", "must not be in the future");
        }
        let contacted_by = a
            .contacted_by
            .map(|c| e.text("contacted_by", &c, 64))
            .unwrap_or_else(|| who.key());
        let note = a
            .note
            .map(|n| e.text("note", &n, 500))
            .filter(|n| !n.is_empty());
        e.into_result().map_err(AppError::Validation)?;
        let (Some(channel), Some(outcome)) = (channel, outcome) else {
            return Err(AppError::Unexpected(anyhow::anyhow!("checked above")));
        };
        let t = UtcMicros::new(now);
        let attempt = ContactAttempt {
            id: uuid::Uuid::now_v7().to_string(),
            case_id: current.id,
            channel,
            outcome,
            contacted_by,
            attempted_at: UtcMicros::new(a.attempted_at),
            note,
            recorded_by: who.key(),
            created_at: t,
        };
        contact::insert(conn, &attempt)?;
        let problem = outcome.is_contact_problem();
        let reached_now = outcome == AttemptOutcome::Reached && current.state == CaseState::Open;
        let mut form = CaseUpdateForm {
            updated_at: Some(t),
            ..Default::default()
        };
        if problem {
            form.contact_problem = Some(true);
            let flag = InfantUpdateForm {
                contact_problem: Some(true),
                updated_at: Some(t),
                ..Default::default()
            };
            infant::update(conn, &Scope::unrestricted(), current.infant_id, &flag)?;
        }
        if reached_now {
            form.state = Some(CaseState::FamilyContacted);
        }
        if case::update_if_version(conn, id, current.version, &form)? == 0 {
            return Err(AppError::conflict(
                ErrorCode::CaseBusy,
                None,
                "the case changed concurrently; retry",
            ));
        }
        let detail = json!({"attempt_id": attempt.id, "channel": attempt.channel, "outcome": attempt.outcome, "contact_problem": problem});
        let to = reached_now.then_some(CaseState::FamilyContacted);
        let from = reached_now.then_some(CaseState::Open);
        case::insert_event(
            conn,
            &event(
                id,
                EntryKind::ContactAttempt,
                from,
                to,
                detail,
                &who.key(),
                now,
            ),
        )?;
        let updated = case::get(conn, scope, id)?.ok_or(AppError::NotFound { entity: "case" })?;
        audit::write(conn, who, "case", id, Some(&current), &updated, now)?;
        Ok(updated)
    })
}

/// Flags a case (and its infant) for the contact-problem worklist because a channel failed on
/// its own: an SMS receipt said wrong number, an e-mail bounced hard, or the family opted out of
/// SMS and needs another channel. `why` goes on the timeline. Does nothing to resolved cases.
pub fn flag_contact_problem(
    conn: &mut AnyConnection,
    case_id: CaseId,
    why: serde_json::Value,
    who: &Principal,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let Some(current) = case::get(conn, &Scope::unrestricted(), case_id)? else {
        return Ok(());
    };
    if current.state == CaseState::Resolved {
        return Ok(());
    }
    let t = UtcMicros::new(now);
    let flag = InfantUpdateForm {
        contact_problem: Some(true),
        updated_at: Some(t),
        ..Default::default()
    };
    infant::update(conn, &Scope::unrestricted(), current.infant_id, &flag)?;
    if !current.contact_problem {
        let form = CaseUpdateForm {
            contact_problem: Some(true),
            updated_at: Some(t),
            ..Default::default()
        };
        if case::update_if_version(conn, case_id, current.version, &form)? == 0 {
            return Err(AppError::conflict(
                ErrorCode::CaseBusy,
                None,
                "the case changed concurrently; retry",
            ));
        }
    }
    case::insert_event(
        conn,
        &event(
            case_id,
            EntryKind::ContactProblem,
            None,
            None,
            why,
            &who.key(),
            now,
        ),
    )?;
    let updated = case::get(conn, &Scope::unrestricted(), case_id)?
        .ok_or(AppError::NotFound { entity: "case" })?;
    audit::write(conn, who, "case", case_id, Some(&current), &updated, now)?;
    Ok(())
}
