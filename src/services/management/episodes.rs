//! Management episodes: opened when a case is confirmed (in its transaction) or by staff for a
//! child diagnosed elsewhere; treatment, follow-up contacts with measurements, transfer, report
//! and closure, each a versioned change (`If-Match`) with a timeline entry and an audit row.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::db::AnyConnection;
use crate::db::models::management::contact::{self, Contact, Recorded};
use crate::db::models::management::episode::{self, Episode, EpisodeUpdate, open_key};
use crate::db::models::management::history::{self, Event, Treatment};
use crate::db::models::screening::infant;
use crate::db::types::{Json, UtcMicros};
use crate::domain::catalogue::Programme;
use crate::domain::ids::{CaseId, ContactId, EpisodeId, HospitalId, InfantId};
use crate::domain::management::plan::{Anchor, Anchors, ContactLadder, Occurrence, Plan, PlanSet};
use crate::domain::management::{Closure, ContactRung, EpisodeState, Origin, TreatmentKind};
use crate::domain::principal::{Principal, Scope};
use crate::error::{AppError, ErrorCode};
use crate::services::admin::audit;

/// What opening an episode needs besides the plan set.
#[derive(Debug, Clone)]
pub struct OpenInput {
    /// The infant.
    pub infant_id: InfantId,
    /// The confirmed condition (catalogue code, `HL`, `CCHD`, `HL-RISK`).
    pub condition: String,
    /// The programme that found it, for the fallback plan.
    pub programme: Option<Programme>,
    /// When the diagnosis was confirmed.
    pub diagnosed_at: DateTime<Utc>,
    /// The case it comes from, if any.
    pub case_id: Option<CaseId>,
    /// The managing centre.
    pub centre: String,
}

/// A timeline entry.
pub fn event(
    id: EpisodeId,
    kind: &str,
    detail: Value,
    who: &Principal,
    now: DateTime<Utc>,
) -> Event {
    Event {
        id: uuid::Uuid::now_v7().to_string(),
        episode_id: id,
        kind: kind.into(),
        detail: Json(detail),
        actor: who.key(),
        at: UtcMicros::new(now),
    }
}

/// The first rung of a contact scheduled at `now`: the family reminder while its window is
/// open, else straight to the staff.
fn first_rung(l: &ContactLadder, o: &Occurrence, now: DateTime<Utc>) -> (ContactRung, UtcMicros) {
    let r = if now <= o.window_end {
        ContactRung::M0
    } else {
        ContactRung::M1
    };
    (r, UtcMicros::new(l.at(r, o.due_at, o.window_end)))
}

fn contact_rows(
    id: EpisodeId,
    l: &ContactLadder,
    occ: &[Occurrence],
    now: DateTime<Utc>,
) -> Vec<Contact> {
    occ.iter()
        .map(|o| {
            let (r, at) = first_rung(l, o, now);
            Contact {
                id: ContactId::new(),
                episode_id: id,
                code: o.code.clone(),
                kind: o.kind,
                seq: o.seq,
                due_at: UtcMicros::new(o.due_at),
                window_start: UtcMicros::new(o.window_start),
                window_end: UtcMicros::new(o.window_end),
                done_at: None,
                measurements: None,
                off_target: None,
                note: None,
                recorded_by: None,
                cancelled_at: None,
                next_rung: Some(r),
                next_rung_at: Some(at),
                created_at: UtcMicros::new(now),
            }
        })
        .collect()
}

/// Opens an episode (inside the caller's transaction). With one open already for the infant
/// and condition, a case's confirmation is added to its timeline and that episode returned;
/// a staff registration is refused.
pub fn open(
    conn: &mut AnyConnection,
    plans: &PlanSet,
    input: OpenInput,
    who: &Principal,
    now: DateTime<Utc>,
) -> Result<Episode, AppError> {
    let inf = infant::get(conn, &Scope::unrestricted(), input.infant_id)?
        .ok_or(AppError::NotFound { entity: "infant" })?;
    let plan = plans
        .plan_for(&input.condition, input.programme)
        .ok_or_else(|| {
            AppError::invalid(
                "condition",
                format!(
                    "no management plan in {} manages {}",
                    plans.version, input.condition
                ),
            )
        })?;
    let key = open_key(input.infant_id, &input.condition);
    if let Some(existing) = episode::find_open(conn, &key)? {
        if input.case_id.is_none() {
            return Err(AppError::conflict(
                ErrorCode::EpisodeAlreadyOpen,
                Some("condition"),
                format!(
                    "episode {existing} manages this infant's {} already",
                    input.condition
                ),
            ));
        }
        history::insert_events(
            conn,
            &[event(
                existing,
                "case_confirmed",
                json!({"case_id": input.case_id}),
                who,
                now,
            )],
        )?;
        return episode::get(conn, &Scope::unrestricted(), existing)?
            .ok_or(AppError::NotFound { entity: "episode" });
    }
    let birth = inf.birth_at.utc();
    if input.diagnosed_at < birth || input.diagnosed_at > now + Duration::hours(1) {
        return Err(AppError::invalid(
            "diagnosed_at",
            "must be between the birth and now",
        ));
    }
    let anchors = Anchors {
        birth,
        diagnosis: input.diagnosed_at,
        treatment: None,
    };
    let id = EpisodeId::new();
    let t = UtcMicros::new(now);
    let e = Episode {
        id,
        infant_id: inf.id,
        hospital_id: inf.hospital_id,
        case_id: input.case_id,
        origin: if input.case_id.is_some() {
            Origin::Case
        } else {
            Origin::Referral
        },
        condition_code: input.condition.clone(),
        plan_version: plans.version.clone(),
        plan_code: plan.code.clone(),
        state: EpisodeState::Registered,
        open_key: Some(key),
        centre: input.centre,
        diagnosed_at: UtcMicros::new(input.diagnosed_at),
        treatment_due_at: plan.treatment_due(&anchors).map(UtcMicros::new),
        treatment_started_at: None,
        next_due_at: None,
        flags: 0,
        reported_at: None,
        report_reference: None,
        close_reason: None,
        closure: None,
        closed_at: None,
        version: 1,
        created_by: who.key(),
        created_at: t,
        updated_at: t,
        treatment_escalated_at: None,
    };
    episode::insert(conn, &e)?;
    let occ = plan.schedule(&anchors, &[Anchor::Birth, Anchor::Diagnosis], now);
    contact::insert_all(conn, &contact_rows(id, &plans.escalation, &occ, now))?;
    history::insert_events(
        conn,
        &[event(
            id,
            "opened",
            json!({"origin": e.origin, "case_id": e.case_id, "condition": e.condition_code,
                   "plan_version": e.plan_version, "plan": e.plan_code, "contacts": occ.len()}),
            who,
            now,
        )],
    )?;
    episode::refresh_next_due(conn, id)?;
    audit::write(
        conn,
        who,
        "management_episode",
        id,
        None::<&Value>,
        &json!({"infant_id": e.infant_id, "condition": e.condition_code, "plan": e.plan_code}),
        now,
    )?;
    tracing::info!(episode.id = %id, infant.id = %e.infant_id, "management episode opened");
    Ok(e)
}

/// A treatment start or change.
#[derive(Debug, Clone)]
pub struct TreatmentInput {
    /// Coded type.
    pub kind: TreatmentKind,
    /// Regimen (drug and dose, diet, device).
    pub regimen: String,
    /// Prescriber.
    pub prescriber: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
}

/// A recorded follow-up contact.
#[derive(Debug, Clone)]
pub struct ContactInput {
    /// When it happened.
    pub done_at: DateTime<Utc>,
    /// Measured values by field code.
    pub measurements: BTreeMap<String, f64>,
    /// Note.
    pub note: Option<String>,
    /// A treatment change decided at the contact.
    pub treatment: Option<TreatmentInput>,
}

/// A staff change to an episode.
#[derive(Debug, Clone)]
pub enum EpisodeAction {
    /// Start or change treatment.
    Treatment(TreatmentInput),
    /// Record a follow-up contact.
    Contact(ContactId, ContactInput),
    /// Hand management to another centre (and, optionally, another hospital).
    Transfer {
        /// Receiving centre.
        to_centre: String,
        /// The hospital now responsible, if it changes.
        to_hospital: Option<HospitalId>,
        /// Why.
        note: Option<String>,
    },
    /// Reported to the province.
    Report {
        /// The province's reference.
        reference: String,
    },
    /// The clinician has seen the flagged measurements.
    AcknowledgeFlags,
    /// Close the episode.
    Close(Closure),
}

impl EpisodeAction {
    fn name(&self) -> &'static str {
        match self {
            Self::Treatment(_) => "treatment",
            Self::Contact(..) => "contact",
            Self::Transfer { .. } => "transfer",
            Self::Report { .. } => "report",
            Self::AcknowledgeFlags => "acknowledge_flags",
            Self::Close(_) => "close",
        }
    }
}

fn text(field: &str, v: &str, max: usize) -> Result<String, AppError> {
    let v = v.trim();
    if v.is_empty() || v.chars().count() > max {
        return Err(AppError::invalid(
            field,
            format!("must be 1–{max} characters"),
        ));
    }
    Ok(v.to_string())
}

/// What an action changes: the episode's columns, its timeline, new contacts.
struct Change<'a> {
    e: &'a Episode,
    plan: &'a Plan,
    ladder: &'a ContactLadder,
    birth: DateTime<Utc>,
    form: EpisodeUpdate,
    events: Vec<Event>,
    who: &'a Principal,
    now: DateTime<Utc>,
}

impl Change<'_> {
    fn note(&mut self, kind: &str, detail: Value) {
        self.events
            .push(event(self.e.id, kind, detail, self.who, self.now));
    }

    fn state(&self) -> EpisodeState {
        self.form.state.unwrap_or(self.e.state)
    }

    fn treatment(&mut self, conn: &mut AnyConnection, t: TreatmentInput) -> Result<(), AppError> {
        let regimen = text("treatment.regimen", &t.regimen, 500)?;
        let prescriber = text("treatment.prescriber", &t.prescriber, 128)?;
        if t.started_at < self.birth || t.started_at > self.now + Duration::hours(1) {
            return Err(AppError::invalid(
                "treatment.started_at",
                "must be between the birth and now",
            ));
        }
        history::insert_treatment(
            conn,
            &Treatment {
                id: uuid::Uuid::now_v7().to_string(),
                episode_id: self.e.id,
                kind: t.kind,
                regimen,
                prescriber,
                started_at: UtcMicros::new(t.started_at),
                recorded_by: self.who.key(),
                recorded_at: UtcMicros::new(self.now),
            },
        )?;
        let first =
            self.e.treatment_started_at.is_none() && self.form.treatment_started_at.is_none();
        if first {
            self.form.treatment_started_at = Some(Some(UtcMicros::new(t.started_at)));
            if self.state() == EpisodeState::Registered {
                self.form.state = Some(EpisodeState::TreatmentStarted);
            }
            let anchors = Anchors {
                birth: self.birth,
                diagnosis: self.e.diagnosed_at.utc(),
                treatment: Some(t.started_at),
            };
            let occ = self.plan.schedule(&anchors, &[Anchor::Treatment], self.now);
            contact::insert_all(conn, &contact_rows(self.e.id, self.ladder, &occ, self.now))?;
            let on_target = self
                .e
                .treatment_due_at
                .is_none_or(|d| t.started_at <= d.utc());
            self.note(
                "treatment_started",
                json!({"kind": t.kind, "started_at": t.started_at, "age_days": (t.started_at - self.birth).num_days(),
                       "within_target": on_target, "contacts": occ.len()}),
            );
        } else {
            self.note(
                "treatment_changed",
                json!({"kind": t.kind, "started_at": t.started_at}),
            );
        }
        Ok(())
    }

    fn contact(
        &mut self,
        conn: &mut AnyConnection,
        id: ContactId,
        c: ContactInput,
    ) -> Result<(), AppError> {
        let row =
            contact::get(conn, self.e.id, id)?.ok_or(AppError::NotFound { entity: "contact" })?;
        if row.done_at.is_some() || row.cancelled_at.is_some() {
            return Err(AppError::conflict(
                ErrorCode::ContactAlreadyRecorded,
                None,
                "this contact is recorded or cancelled already",
            ));
        }
        if c.done_at < self.birth || c.done_at > self.now + Duration::hours(1) {
            return Err(AppError::invalid(
                "done_at",
                "must be between the birth and now",
            ));
        }
        let spec = self.plan.contact(&row.code).ok_or_else(|| {
            AppError::Unexpected(anyhow::anyhow!(
                "contact {} is not in plan {}",
                row.code,
                self.plan.code
            ))
        })?;
        let off = spec
            .check(&c.measurements)
            .map_err(|(field, msg)| AppError::invalid(field, msg))?;
        let note = c.note.map(|n| text("note", &n, 2000)).transpose()?;
        let recorded = Recorded {
            done_at: Some(UtcMicros::new(c.done_at)),
            measurements: Some(Json(c.measurements.clone())),
            off_target: (!off.is_empty()).then(|| Json(off.clone())),
            note,
            recorded_by: Some(self.who.key()),
            next_rung: Some(None),
            next_rung_at: Some(None),
        };
        if contact::record(conn, id, &recorded)? == 0 {
            return Err(AppError::conflict(
                ErrorCode::ContactAlreadyRecorded,
                None,
                "this contact was recorded concurrently",
            ));
        }
        let in_window = row.window_start <= UtcMicros::new(c.done_at)
            && UtcMicros::new(c.done_at) <= row.window_end;
        self.note(
            "contact_recorded",
            json!({"contact_id": id, "code": row.code, "seq": row.seq, "done_at": c.done_at,
                   "in_window": in_window, "measurements": c.measurements}),
        );
        if !off.is_empty() {
            self.form.flags = Some(self.form.flags.unwrap_or(self.e.flags) + 1);
            self.note(
                "flagged",
                json!({"contact_id": id, "code": row.code, "off_target": off}),
            );
        }
        let s = self.state();
        if s == EpisodeState::TreatmentStarted
            || (s == EpisodeState::Registered && self.plan.treatment_target.is_none())
        {
            self.form.state = Some(EpisodeState::UnderFollowUp);
        }
        if let Some(t) = c.treatment {
            self.treatment(conn, t)?;
        }
        Ok(())
    }
}

/// Applies a staff action to an episode at `expected_version` (412 when stale).
#[allow(clippy::too_many_arguments)]
pub fn act(
    conn: &mut AnyConnection,
    plans: &crate::services::management::plans::SharedPlans,
    scope: &Scope,
    id: EpisodeId,
    expected_version: i32,
    action: EpisodeAction,
    who: &Principal,
    now: DateTime<Utc>,
) -> Result<Episode, AppError> {
    crate::db::write_transaction(conn, |conn| {
        let e = episode::get(conn, scope, id)?.ok_or(AppError::NotFound { entity: "episode" })?;
        if e.version != expected_version {
            return Err(AppError::PreconditionFailed);
        }
        if e.state == EpisodeState::Closed {
            return Err(AppError::conflict(
                ErrorCode::EpisodeClosed,
                None,
                "the episode is closed",
            ));
        }
        let set = crate::services::management::plans::version(plans, &e.plan_version)?;
        let plan = set.plan(&e.plan_code).ok_or_else(|| {
            AppError::Unexpected(anyhow::anyhow!(
                "plan {} missing from {}",
                e.plan_code,
                e.plan_version
            ))
        })?;
        let birth = infant::get(conn, &Scope::unrestricted(), e.infant_id)?
            .ok_or(AppError::NotFound { entity: "infant" })?
            .birth_at
            .utc();
        let name = action.name();
        let mut ch = Change {
            e: &e,
            plan,
            ladder: &set.escalation,
            birth,
            form: EpisodeUpdate {
                updated_at: Some(UtcMicros::new(now)),
                ..Default::default()
            },
            events: Vec::new(),
            who,
            now,
        };
        match action {
            EpisodeAction::Treatment(t) => ch.treatment(conn, t)?,
            EpisodeAction::Contact(cid, c) => ch.contact(conn, cid, c)?,
            EpisodeAction::Transfer {
                to_centre,
                to_hospital,
                note,
            } => {
                let to_centre = text("to_centre", &to_centre, 128)?;
                if let Some(h) = to_hospital
                    && crate::db::models::admin::hospital::get(conn, &Scope::unrestricted(), h)?
                        .is_none_or(|x| !x.active)
                {
                    return Err(AppError::invalid(
                        "to_hospital_id",
                        "is not an active hospital",
                    ));
                }
                let note = note.map(|n| text("note", &n, 2000)).transpose()?;
                ch.form.centre = Some(to_centre.clone());
                ch.form.hospital_id = to_hospital;
                ch.note(
                    "transferred",
                    json!({"from_centre": e.centre, "to_centre": to_centre,
                           "from_hospital_id": e.hospital_id, "to_hospital_id": to_hospital.unwrap_or(e.hospital_id), "note": note}),
                );
            }
            EpisodeAction::Report { reference } => {
                let reference = text("reference", &reference, 128)?;
                ch.form.reported_at = Some(Some(UtcMicros::new(now)));
                ch.form.report_reference = Some(Some(reference.clone()));
                ch.note("reported", json!({"reference": reference}));
            }
            EpisodeAction::AcknowledgeFlags => {
                ch.note("flags_acknowledged", json!({"flags": e.flags}));
                ch.form.flags = Some(0);
            }
            EpisodeAction::Close(c) => {
                if let Some(field) = c.missing_text() {
                    return Err(AppError::invalid(field, "is required for this reason"));
                }
                let cancelled = contact::cancel_pending(conn, id, UtcMicros::new(now))?;
                ch.form.state = Some(EpisodeState::Closed);
                ch.form.open_key = Some(None);
                ch.form.close_reason = Some(Some(c.name().to_string()));
                ch.form.closure = Some(Some(Json(c.clone())));
                ch.form.closed_at = Some(Some(UtcMicros::new(now)));
                ch.note(
                    "closed",
                    json!({"closure": c, "contacts_cancelled": cancelled}),
                );
            }
        }
        let Change { form, events, .. } = ch;
        if episode::update_if_version(conn, id, expected_version, &form)? == 0 {
            return Err(AppError::PreconditionFailed);
        }
        history::insert_events(conn, &events)?;
        episode::refresh_next_due(conn, id)?;
        let after = episode::get(conn, &Scope::unrestricted(), id)?
            .ok_or(AppError::NotFound { entity: "episode" })?;
        audit::write(conn, who, "management_episode", id, Some(&e), &after, now)?;
        tracing::info!(episode.id = %id, action = name, "management episode updated");
        Ok(after)
    })
}

/// Registers an episode for a child diagnosed elsewhere or referred in.
pub fn register(
    conn: &mut AnyConnection,
    plans: &PlanSet,
    scope: &Scope,
    input: OpenInput,
    who: &Principal,
    now: DateTime<Utc>,
) -> Result<Episode, AppError> {
    crate::db::write_transaction(conn, |conn| {
        // The infant must be one the caller may see.
        infant::get(conn, scope, input.infant_id)?
            .ok_or(AppError::NotFound { entity: "infant" })?;
        open(conn, plans, input, who, now)
    })
}

/// An episode with everything its page shows.
#[derive(Debug)]
pub struct EpisodeRecord {
    /// The episode.
    pub episode: Episode,
    /// Its contacts, soonest first.
    pub contacts: Vec<Contact>,
    /// Treatments, in order.
    pub treatments: Vec<Treatment>,
    /// Timeline.
    pub events: Vec<Event>,
    /// Fired contact rungs.
    pub escalations: Vec<crate::db::models::management::contact::ContactEscalation>,
    /// The case it came from and that case's timeline.
    pub case: Option<(
        crate::db::models::follow_up::case::Case,
        Vec<crate::db::models::follow_up::case::CaseEventRow>,
    )>,
}

/// Loads an episode the scope may see with its history; the read is audited.
pub fn record(
    conn: &mut AnyConnection,
    who: &Principal,
    id: EpisodeId,
    now: DateTime<Utc>,
) -> Result<EpisodeRecord, AppError> {
    use crate::db::models::follow_up::case;
    let scope = who.scope();
    let e = episode::get(conn, &scope, id)?.ok_or(AppError::NotFound { entity: "episode" })?;
    let case = match e.case_id {
        Some(c) => case::get(conn, &Scope::unrestricted(), c)?
            .map(|x| -> Result<_, AppError> {
                let ev = case::events_of(conn, x.id)?;
                Ok((x, ev))
            })
            .transpose()?,
        None => None,
    };
    audit::read(conn, who, "management_episode", id, now)?;
    Ok(EpisodeRecord {
        contacts: contact::of_episode(conn, id)?,
        treatments: history::treatments_of(conn, id)?,
        events: history::events_of(conn, id)?,
        escalations: contact::escalations_of(conn, id)?,
        episode: e,
        case,
    })
}
