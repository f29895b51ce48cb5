//! Follow-up cases: opened (or updated) automatically in the same transaction as the result
//! that causes them, with due times from the policy in force; moved through the state machine
//! by staff with optimistic concurrency; every change appended to the case's timeline.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::db::AnyConnection;
use crate::db::models::follow_up::case::{self, Case, CaseEventRow, CaseUpdateForm};
use crate::db::models::screening::infant::Infant;
use crate::db::types::{Json, UtcMicros};
use crate::domain::case::{
    CaseEvent, CaseOutcome, CaseState, EntryKind, InvalidTransition, Reason, open_key, transition,
};
use crate::domain::catalogue::{Programme, Tier};
use crate::domain::cchd::CchdOutcome;
use crate::domain::due::DuePolicy;
use crate::domain::escalation::Rung;
use crate::domain::hearing::{HearingAssessment, HearingStatus};
use crate::domain::ids::{CardId, CaseId, HospitalId, UserId};
use crate::domain::interpretation::{CardOutcome, Interpretation, Level};
use crate::domain::principal::{Principal, Scope};
use crate::error::{AppError, ErrorCode};
use crate::services::admin::audit;

/// What a result asks for.
#[derive(Debug, Clone)]
pub struct CaseSpec {
    /// The programme whose screen called for the case.
    pub programme: Programme,
    /// Why the case is opened (positive, repeat, refer, unsatisfactory, missed).
    pub reason: Reason,
    /// The urgency tier that sets its deadlines.
    pub tier: Tier,
    /// Suspected condition codes.
    pub suspected: Vec<String>,
    /// Catalogue version the result was interpreted under.
    pub catalogue_version: String,
    /// The triggering result, for the timeline.
    pub trigger: Value,
}

/// The case a blood-spot interpretation calls for, if any.
pub fn spec_for_card(i: &Interpretation, card_id: CardId, barcode: &str) -> Option<CaseSpec> {
    let (reason, min_level) = match i.outcome {
        CardOutcome::Critical | CardOutcome::Positive => (Reason::Positive, Level::Positive),
        CardOutcome::BorderlineRepeat => (Reason::Repeat, Level::Borderline),
        CardOutcome::UnsatisfactoryRecollect | CardOutcome::TooEarlyRepeat => {
            (Reason::Recollect, Level::Critical)
        }
        CardOutcome::Normal | CardOutcome::AwaitingResults => return None,
    };
    Some(CaseSpec {
        programme: Programme::Dbs,
        reason,
        tier: i.tier.unwrap_or(Tier::T2),
        suspected: i
            .suspected
            .iter()
            .filter(|f| f.level >= min_level)
            .map(|f| f.condition.clone())
            .collect(),
        catalogue_version: i.catalogue_version.clone(),
        trigger: json!({"kind": "dbs_interpretation", "card_id": card_id, "barcode": barcode, "outcome": i.outcome}),
    })
}

/// The case a hearing assessment calls for, if any.
pub fn spec_for_hearing(
    a: &HearingAssessment,
    tier: Tier,
    catalogue_version: &str,
    screen_id: &str,
) -> Option<CaseSpec> {
    let reason = match a.status {
        HearingStatus::RescreenDue
        | HearingStatus::DiagnosisDue
        | HearingStatus::InterventionDue
        | HearingStatus::InterventionStarted => Reason::Refer,
        HearingStatus::Missed => Reason::Missed,
        HearingStatus::NotScreened | HearingStatus::Pass => return None,
    };
    Some(CaseSpec {
        programme: Programme::Hear,
        reason,
        tier,
        suspected: vec!["HL".into()],
        catalogue_version: catalogue_version.into(),
        trigger: json!({"kind": "hearing_screen", "screen_id": screen_id, "status": a.status, "next_action": a.next_action}),
    })
}

/// The case a heart-screen outcome calls for, if any.
pub fn spec_for_cchd(
    o: &CchdOutcome,
    catalogue_version: &str,
    screen_id: &str,
) -> Option<CaseSpec> {
    let CchdOutcome::Positive { tier, reasons } = o else {
        return None;
    };
    Some(CaseSpec {
        programme: Programme::Cchd,
        reason: Reason::Positive,
        tier: *tier,
        suspected: vec!["CCHD".into()],
        catalogue_version: catalogue_version.into(),
        trigger: json!({"kind": "cchd_screen", "screen_id": screen_id, "reasons": reasons}),
    })
}

pub(crate) fn event(
    case_id: CaseId,
    kind: EntryKind,
    from: Option<CaseState>,
    to: Option<CaseState>,
    detail: Value,
    actor: &str,
    now: DateTime<Utc>,
) -> CaseEventRow {
    CaseEventRow {
        id: uuid::Uuid::now_v7().to_string(),
        case_id,
        kind,
        from_state: from,
        to_state: to,
        detail: Json(detail),
        actor: actor.into(),
        at: UtcMicros::new(now),
    }
}

/// Opens the case `spec` asks for, or updates the open one with the same infant, programme and
/// reason: suspected conditions are added, the tier only ever rises, and a raised tier brings
/// the due times forward (never back). Runs inside the caller's transaction.
pub fn open_or_update(
    conn: &mut AnyConnection,
    policy: &DuePolicy,
    infant: &Infant,
    spec: CaseSpec,
    who: &Principal,
    now: DateTime<Utc>,
) -> Result<Case, AppError> {
    let key = open_key(infant.id, spec.programme, spec.reason);
    let due = policy
        .due(spec.tier, now, infant.birth_at.utc())
        .map_err(|m| AppError::Unexpected(anyhow::anyhow!(m)))?;
    let t = UtcMicros::new(now);
    let row = Case {
        id: CaseId::new(),
        infant_id: infant.id,
        hospital_id: infant.hospital_id,
        programme: spec.programme,
        reason: spec.reason,
        state: CaseState::Open,
        tier: spec.tier,
        suspected: Json(spec.suspected.clone()),
        catalogue_version: spec.catalogue_version,
        policy_version: policy.version.clone(),
        first_contact_due_at: UtcMicros::new(due.first_contact_by),
        recall_due_at: UtcMicros::new(due.recall_by),
        assignee: None,
        outcome: None,
        open_key: Some(key.clone()),
        version: 1,
        opened_at: t,
        updated_at: t,
        resolved_at: None,
        contact_problem: false,
        appointment_at: None,
        appointment_place: None,
        next_rung: Some(Rung::L0),
        next_rung_at: Some(t),
        next_due_at: None,
    };
    let detail =
        json!({"trigger": spec.trigger, "tier": row.tier, "suspected": spec.suspected, "due": due});
    let opened = event(
        row.id,
        EntryKind::Opened,
        None,
        Some(CaseState::Open),
        detail,
        &who.key(),
        now,
    );
    // Audited as stored (its next due time set), in the insert's own statement on PostgreSQL.
    let row = case::with_next_due(row);
    let created = audit::change_entry(who, "case", row.id, None, &row, now)?;
    // The insert meets the open case's key if there is one (looked up only then).
    if let Some(row) = case::insert_unless_open(conn, row, &opened, &created)? {
        return Ok(row);
    }
    let Some(existing) = case::find_open(conn, &key)? else {
        return Err(AppError::conflict(
            ErrorCode::CaseBusy,
            None,
            "the open case was resolved concurrently; retry",
        ));
    };
    let mut suspected: BTreeSet<String> = existing.suspected.iter().cloned().collect();
    suspected.extend(spec.suspected.iter().cloned());
    let tier = existing.tier.min(spec.tier);
    let raised = tier < existing.tier;
    let form = CaseUpdateForm {
        tier: Some(tier),
        suspected: Some(Json(suspected.iter().cloned().collect())),
        first_contact_due_at: raised.then(|| {
            existing
                .first_contact_due_at
                .min(UtcMicros::new(due.first_contact_by))
        }),
        recall_due_at: raised.then(|| existing.recall_due_at.min(UtcMicros::new(due.recall_by))),
        // Earlier deadlines may bring rungs forward: wake the escalation sweep to recompute.
        next_rung_at: raised.then_some(Some(t)),
        updated_at: Some(t),
        ..Default::default()
    };
    if case::update_if_version(conn, existing.id, existing.version, &form)? == 0 {
        return Err(AppError::conflict(
            ErrorCode::CaseBusy,
            None,
            "the case changed concurrently; retry",
        ));
    }
    let detail = json!({"trigger": spec.trigger, "tier": tier, "tier_raised": raised, "suspected": suspected});
    case::insert_event(
        conn,
        &event(
            existing.id,
            EntryKind::Updated,
            None,
            None,
            detail,
            &who.key(),
            now,
        ),
    )?;
    let updated = case::get(conn, &Scope::unrestricted(), existing.id)?
        .ok_or(AppError::NotFound { entity: "case" })?;
    audit::write(
        conn,
        who,
        "case",
        updated.id,
        Some(&existing),
        &updated,
        now,
    )?;
    Ok(updated)
}

/// A normal repeat card answers the infant's open blood-spot repeat or recollection cases: each
/// gets a `resolution_proposed` timeline entry naming the card, for staff to confirm (resolving
/// stays a human decision).
pub fn propose_resolution(
    conn: &mut AnyConnection,
    infant: &Infant,
    card_id: CardId,
    barcode: &str,
    who: &Principal,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    for reason in [Reason::Repeat, Reason::Recollect] {
        let key = open_key(infant.id, Programme::Dbs, reason);
        if let Some(c) = case::find_open(conn, &key)? {
            let detail = json!({"card_id": card_id, "barcode": barcode, "proposed_outcome": "ruled_out",
                                "why": "a repeat card was normal"});
            case::insert_event(
                conn,
                &event(
                    c.id,
                    EntryKind::ResolutionProposed,
                    None,
                    None,
                    detail,
                    &who.key(),
                    now,
                ),
            )?;
        }
    }
    Ok(())
}

/// What confirming a case needs to open its management episode: the plan set in force and the
/// managing centre.
#[derive(Debug, Clone, Copy)]
pub struct Management<'a> {
    /// Plan set in force.
    pub plans: &'a crate::domain::management::plan::PlanSet,
    /// The managing centre.
    pub centre: &'a str,
}

/// A staff action on a case: a state transition with an optional note, or a note or assignment
/// alone. `expected_version` is the ETag the client read.
#[derive(Debug, Clone)]
pub struct CaseAction {
    /// The version (ETag) the client read.
    pub expected_version: i32,
    /// Transition, if any.
    pub event: Option<CaseEvent>,
    /// Free-text note.
    pub note: Option<String>,
    /// New assignee (coordinator user id), `Some(None)` to unassign.
    pub assignee: Option<Option<UserId>>,
}

/// Whether `u` may hold a case of `hospital_id`: an active user whose role works cases and who
/// can see that hospital's data. Assignment and the escalation's assignee notices both ask.
pub(crate) fn may_hold_case(
    u: &crate::db::models::admin::user::User,
    hospital_id: HospitalId,
) -> bool {
    let r = u.role;
    let works = r.may(crate::domain::role::Action::WorkCases)
        && (!r.is_hospital_bound() || u.hospital_id == Some(hospital_id));
    u.active && works
}

/// Applies a staff action with optimistic concurrency.
pub fn act(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: CaseId,
    action: CaseAction,
    management: &Management<'_>,
    who: &Principal,
    now: DateTime<Utc>,
) -> Result<Case, AppError> {
    crate::db::write_transaction(conn, |conn| {
        let expected_version = action.expected_version;
        let current = case::get(conn, scope, id)?.ok_or(AppError::NotFound { entity: "case" })?;
        if current.version != expected_version {
            return Err(AppError::PreconditionFailed);
        }
        if let Some(Some(a)) = &action.assignee
            && !crate::db::models::admin::user::get(conn, *a)?
                .is_some_and(|u| may_hold_case(&u, current.hospital_id))
        {
            // Unknown, inactive, or not allowed to see or work this case: as if it did not exist.
            return Err(AppError::NotFound { entity: "assignee" });
        }
        let from = current.state;
        let t = UtcMicros::new(now);
        let mut form = CaseUpdateForm {
            updated_at: Some(t),
            assignee: action.assignee,
            ..Default::default()
        };
        let mut to = from;
        if let Some(e) = &action.event {
            to = transition(from, e).map_err(invalid)?;
            form.state = Some(to);
            match e {
                CaseEvent::Resolve { outcome } => {
                    form.outcome = Some(Some(Json(outcome.clone())));
                    form.open_key = Some(None);
                    form.resolved_at = Some(Some(t));
                    form.next_rung = Some(None);
                    form.next_rung_at = Some(None);
                }
                CaseEvent::ScheduleRecall {
                    appointment_at,
                    place,
                } => {
                    if place.as_ref().is_some_and(|p| p.chars().count() > 128) {
                        return Err(AppError::invalid(
                            "transition.place",
                            "must be at most 128 characters",
                        ));
                    }
                    if appointment_at.is_some_and(|a| a < now - chrono::Duration::days(1)) {
                        return Err(AppError::invalid(
                            "transition.appointment_at",
                            "must not be in the past",
                        ));
                    }
                    form.appointment_at = Some(appointment_at.map(UtcMicros::new));
                    form.appointment_place = Some(place.clone());
                }
                CaseEvent::Reopen { .. } => {
                    let key = open_key(current.infant_id, current.programme, current.reason);
                    if case::find_open(conn, &key)?.is_some() {
                        return Err(AppError::conflict(
                            ErrorCode::CaseAlreadyOpen,
                            None,
                            "another case with the same reason is open for this infant",
                        ));
                    }
                    form.open_key = Some(Some(key));
                    form.outcome = Some(None);
                    form.resolved_at = Some(None);
                    // The sweep picks the ladder up again where it stopped.
                    form.next_rung_at = Some(Some(t));
                }
                _ => {}
            }
        }
        if case::update_if_version(conn, id, expected_version, &form)? == 0 {
            return Err(AppError::PreconditionFailed);
        }
        if let Some(CaseEvent::Resolve {
            outcome: CaseOutcome::Confirmed { condition },
        }) = &action.event
        {
            // A confirmed child enters long-term management in the same transaction.
            let e = crate::services::management::episodes::open(
                conn,
                management.plans,
                crate::services::management::episodes::OpenInput {
                    infant_id: current.infant_id,
                    condition: condition.clone(),
                    programme: Some(current.programme),
                    diagnosed_at: now,
                    case_id: Some(id),
                    centre: management.centre.to_string(),
                },
                who,
                now,
            )?;
            case::insert_event(
                conn,
                &event(
                    id,
                    EntryKind::Note,
                    None,
                    None,
                    json!({"management_episode": e.id}),
                    &who.key(),
                    now,
                ),
            )?;
        }
        if let Some(e) = &action.event {
            let detail = json!({"event": e, "note": action.note});
            case::insert_event(
                conn,
                &event(
                    id,
                    EntryKind::Transition,
                    Some(from),
                    Some(to),
                    detail,
                    &who.key(),
                    now,
                ),
            )?;
        } else if let Some(note) = &action.note {
            case::insert_event(
                conn,
                &event(
                    id,
                    EntryKind::Note,
                    None,
                    None,
                    json!({"note": note}),
                    &who.key(),
                    now,
                ),
            )?;
        }
        if let Some(a) = &action.assignee {
            case::insert_event(
                conn,
                &event(
                    id,
                    EntryKind::Assigned,
                    None,
                    None,
                    json!({"assignee": a}),
                    &who.key(),
                    now,
                ),
            )?;
        }
        let updated = case::get(conn, scope, id)?.ok_or(AppError::NotFound { entity: "case" })?;
        audit::write(conn, who, "case", id, Some(&current), &updated, now)?;
        Ok(updated)
    })
}

fn invalid(e: InvalidTransition) -> AppError {
    let allowed: Vec<&str> = e.allowed.iter().map(|k| k.as_str()).collect();
    let detail = match &e.detail {
        Some(d) => format!("{e}: {d}; allowed now: {}", allowed.join(", ")),
        None => format!("{e}; allowed now: {}", allowed.join(", ")),
    };
    AppError::conflict(ErrorCode::InvalidTransition, Some("event"), detail)
}

/// Opens a `missed` case for every active infant past a programme's screening age with no
/// valid screen and no refusal (at most `limit` infants, oldest first), unless one is already
/// open. Each infant is its own transaction; one failure is logged and skipped. Returns the
/// number of cases opened. The missed-screen sweep job calls this.
pub fn open_missed(
    conn: &mut AnyConnection,
    cat: &crate::domain::catalogue::Catalogue,
    policy: &DuePolicy,
    programme: Programme,
    as_of: DateTime<Utc>,
    limit: i64,
    who: &Principal,
) -> Result<usize, AppError> {
    let missed = crate::services::screening::summary::missed(
        conn,
        cat,
        &Scope::unrestricted(),
        programme,
        as_of,
        limit,
        true,
    )?;
    let tier = policy
        .missed_screen_tiers
        .get(&programme)
        .copied()
        .unwrap_or(Tier::T2);
    let mut opened = 0;
    for m in missed {
        let result = crate::db::write_transaction(conn, |conn| -> Result<bool, AppError> {
            // Any open case of the programme (an open missed case among them) covers it.
            if case::has_open_of_programme(conn, m.infant_id, programme)? {
                return Ok(false);
            }
            let infant = crate::db::models::screening::infant::get(
                conn,
                &Scope::unrestricted(),
                m.infant_id,
            )?
            .ok_or(AppError::NotFound { entity: "infant" })?;
            let spec = CaseSpec {
                programme,
                reason: Reason::Missed,
                tier,
                suspected: vec![],
                catalogue_version: cat.version.clone(),
                trigger: json!({"kind": "missed_screen", "screen_due_by": m.screen_due_by}),
            };
            open_or_update(conn, policy, &infant, spec, who, as_of)?;
            Ok(true)
        });
        match result {
            Ok(true) => opened += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::error!(infant.id = %m.infant_id, error.code = e.code(), "missed-screen case not opened")
            }
        }
    }
    Ok(opened)
}

/// Everything a case's page shows: the case, its timeline, contact attempts, long-term visits,
/// the escalation rungs fired (with their recipient groups) and its notifications, oldest first.
#[derive(Debug, Clone)]
pub struct CaseRecord {
    /// The case.
    pub case: Case,
    /// Its timeline entries, oldest first.
    pub events: Vec<crate::db::models::follow_up::case::CaseEventRow>,
    /// Its contact attempts, oldest first.
    pub attempts: Vec<crate::db::models::follow_up::contact::ContactAttempt>,
    /// Long-term follow-up visits scheduled for it.
    pub visits: Vec<crate::db::models::follow_up::visit::Visit>,
    /// The escalation rungs fired.
    pub escalations: Vec<crate::db::models::follow_up::notification::Escalation>,
    /// Its notifications, oldest first.
    pub notifications: Vec<crate::db::models::follow_up::notification::Notification>,
}

/// Reads a case `p` may see with everything about it; the read is audited.
pub fn record(
    conn: &mut AnyConnection,
    p: &Principal,
    id: CaseId,
    now: DateTime<Utc>,
) -> Result<CaseRecord, AppError> {
    use crate::db::models::follow_up::{contact, notification, visit};
    let scope = p.scope();
    let c = case::get(conn, &scope, id)?.ok_or(AppError::NotFound { entity: "case" })?;
    let filter = notification::NotificationFilter {
        case_id: Some(c.id.to_string()),
        ..Default::default()
    };
    let mut notifications = notification::list(conn, &scope, &filter, 500)?;
    notifications.reverse();
    let record = CaseRecord {
        events: case::events_of(conn, c.id)?,
        attempts: contact::of_case(conn, c.id)?,
        visits: visit::of_case(conn, c.id)?,
        escalations: notification::escalations_of(conn, c.id)?,
        notifications,
        case: c,
    };
    // Reading a case's personal data is itself audited.
    audit::read(conn, p, "case", record.case.id, now)?;
    Ok(record)
}
