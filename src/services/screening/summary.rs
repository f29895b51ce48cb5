//! The per-infant screening summary across the three programmes, and the missed-screen query
//! (used by the summary, later by jobs and reports).

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::db::AnyConnection;
use crate::db::models::screening::dbs::{self, Card};
use crate::db::models::screening::infant::{self, Infant};
use crate::db::models::screening::screens::{self, CchdRow, ConsentRow, HearingRow};
use crate::db::types::UtcMicros;
use crate::domain::catalogue::{Catalogue, Programme};
use crate::domain::cchd::CchdOutcome;
use crate::domain::consent::Decision;
use crate::domain::hearing::{HearingAssessment, HearingStatus};
use crate::domain::ids::{CardId, HospitalId, InfantId};
use crate::domain::interpretation::{CardOutcome, Interpretation, Interpreter};
use crate::domain::principal::Scope;
use crate::error::AppError;
use crate::services::screening::cards::{CollectionTiming, timing};
use crate::services::screening::screens::{cchd_outcome, hearing_assessment};

/// Where an infant stands in one programme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProgrammeStatus {
    /// Nothing yet, still in time.
    NotYetScreened,
    /// Specimen or test under way.
    InProgress,
    /// Screened and passed.
    Pass,
    /// Screen positive: follow-up.
    Positive,
    /// A repeat specimen or test is needed.
    NeedsRepeat,
    /// Past the screening age with no valid screen.
    Missed,
    /// The guardian refused.
    Refused,
}

/// The next thing to do and when.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NextAction {
    /// The next step, in words.
    pub action: String,
    /// Deadline, when there is one.
    pub due_by: Option<DateTime<Utc>>,
}

/// A card with its latest interpretation.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CardSummary {
    /// Card id.
    pub id: CardId,
    /// The card's barcode.
    pub barcode: String,
    /// Collection time.
    pub collected_at: DateTime<Utc>,
    /// Age at collection (h).
    pub age_at_collection_hours: i64,
    /// Collection timing.
    pub timing: CollectionTiming,
    /// Lab receipt.
    pub received_at: Option<DateTime<Utc>>,
    /// `acceptable` or the unsatisfactory reason.
    pub quality: Option<String>,
    /// The card this one repeats.
    pub repeat_of: Option<CardId>,
    /// Latest interpretation.
    pub interpretation: Option<Interpretation>,
}

/// One programme's part of the summary.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProgrammeSummary {
    /// Where the infant stands in this programme.
    pub status: ProgrammeStatus,
    /// Latest guardian decision.
    pub consent: Option<Decision>,
    /// What is due next.
    pub next_action: Option<NextAction>,
}

/// Everything about an infant's screening.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScreeningSummary {
    /// The infant summarised.
    pub infant_id: InfantId,
    /// Catalogue version in force.
    pub catalogue_version: String,
    /// Blood spot.
    pub dbs: ProgrammeSummary,
    /// Cards, oldest first.
    pub cards: Vec<CardSummary>,
    /// The hearing programme.
    pub hearing: ProgrammeSummary,
    /// Hearing pathway detail.
    pub hearing_assessment: HearingAssessment,
    /// Hearing tests.
    #[schema(value_type = Vec<Object>)]
    pub hearing_tests: Vec<serde_json::Value>,
    /// Hearing interventions started, oldest first.
    pub hearing_interventions: Vec<crate::db::models::screening::screens::InterventionRow>,
    /// The heart (CCHD) programme.
    pub cchd: ProgrammeSummary,
    /// Heart screen outcome.
    pub cchd_outcome: CchdOutcome,
    /// The heart screen's measurements, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub cchd_measurements: Vec<serde_json::Value>,
}

fn latest_decision(consents: &[ConsentRow], p: Programme) -> Option<Decision> {
    consents
        .iter()
        .filter(|c| c.programme == p)
        .max_by_key(|c| c.signed_at)
        .map(|c| c.decision)
}

fn action(a: &str, due_by: Option<DateTime<Utc>>) -> Option<NextAction> {
    Some(NextAction {
        action: a.into(),
        due_by,
    })
}

/// Builds the summary of an infant the caller can see.
pub fn summary(
    conn: &mut AnyConnection,
    interp: &Interpreter,
    scope: &Scope,
    infant_id: InfantId,
    now: DateTime<Utc>,
) -> Result<ScreeningSummary, AppError> {
    let cat = interp.catalogue();
    let infant =
        infant::get(conn, scope, infant_id)?.ok_or(AppError::NotFound { entity: "infant" })?;
    let birth = infant.birth_at.utc();
    let consents = screens::consents_of(conn, scope, infant.id)?;

    let mut cards = vec![];
    for c in dbs::cards_of_infant(conn, scope, infant.id)? {
        cards.push(summarise_card(conn, interp, &infant, c)?);
    }
    let dbs_consent = latest_decision(&consents, Programme::Dbs);
    let mut dbs = dbs_status(cat, birth, &cards, dbs_consent, now);
    if let Some(next) = dbs.next_action.as_mut().filter(|n| n.action == "recall") {
        // A positive card's deadline is its case's recall due time.
        let key = crate::domain::case::open_key(
            infant.id,
            Programme::Dbs,
            crate::domain::case::Reason::Positive,
        );
        next.due_by = crate::db::models::follow_up::case::find_open(conn, &key)?
            .map(|c| c.recall_due_at.utc());
    }

    let hearing_rows = screens::hearing_of(conn, scope, infant.id)?;
    let assessment = hearing_assessment(conn, cat, scope, &infant, now)?;
    let interventions = screens::interventions_of(conn, scope, infant.id)?;
    let hear_consent = latest_decision(&consents, Programme::Hear);
    let hearing = ProgrammeSummary {
        status: if hear_consent == Some(Decision::Refusal) {
            ProgrammeStatus::Refused
        } else {
            match assessment.status {
                HearingStatus::NotScreened => ProgrammeStatus::NotYetScreened,
                HearingStatus::Missed => ProgrammeStatus::Missed,
                HearingStatus::Pass => ProgrammeStatus::Pass,
                HearingStatus::RescreenDue => ProgrammeStatus::NeedsRepeat,
                HearingStatus::DiagnosisDue
                | HearingStatus::InterventionDue
                | HearingStatus::InterventionStarted => ProgrammeStatus::Positive,
            }
        },
        next_action: assessment
            .next_action
            .as_deref()
            .and_then(|a| action(a, assessment.due_by)),
        consent: hear_consent,
    };

    let cchd_rows = screens::cchd_of(conn, scope, infant.id)?;
    let (outcome, _) = cchd_outcome(conn, cat, scope, &infant)?;
    let cchd_consent = latest_decision(&consents, Programme::Cchd);
    let screen_by = birth + Duration::hours(cat.cchd.screen_by_hours);
    let echo_by = birth + Duration::days(cat.cchd.echo_within_days);
    let (status, next) = match &outcome {
        _ if cchd_consent == Some(Decision::Refusal) => (ProgrammeStatus::Refused, None),
        CchdOutcome::Pass => (ProgrammeStatus::Pass, None),
        CchdOutcome::Positive { .. } => (
            ProgrammeStatus::Positive,
            action("echocardiography", Some(echo_by)),
        ),
        CchdOutcome::RepeatNeeded { due_by, .. } => (
            ProgrammeStatus::NeedsRepeat,
            action("repeat_oximetry", Some(*due_by)),
        ),
        CchdOutcome::Pending if !cchd_rows.is_empty() => (
            ProgrammeStatus::InProgress,
            action("oximetry", Some(screen_by)),
        ),
        CchdOutcome::Pending if now >= screen_by => {
            (ProgrammeStatus::Missed, action("oximetry", Some(screen_by)))
        }
        CchdOutcome::Pending => (
            ProgrammeStatus::NotYetScreened,
            action("oximetry", Some(screen_by)),
        ),
    };
    let cchd = ProgrammeSummary {
        status,
        consent: cchd_consent,
        next_action: next,
    };

    Ok(ScreeningSummary {
        infant_id: infant.id,
        catalogue_version: cat.version.clone(),
        dbs,
        cards,
        hearing,
        hearing_assessment: assessment,
        hearing_tests: hearing_rows.iter().map(hearing_json).collect(),
        hearing_interventions: interventions,
        cchd,
        cchd_outcome: outcome,
        cchd_measurements: cchd_rows.iter().map(cchd_json).collect::<Result<_, _>>()?,
    })
}

/// One card with its latest interpretation, within `scope`.
pub fn card(
    conn: &mut AnyConnection,
    interp: &Interpreter,
    scope: &Scope,
    id: CardId,
) -> Result<CardSummary, AppError> {
    let c = dbs::get_card(conn, scope, id)?.ok_or(AppError::NotFound { entity: "card" })?;
    let infant =
        infant::get(conn, scope, c.infant_id)?.ok_or(AppError::NotFound { entity: "infant" })?;
    summarise_card(conn, interp, &infant, c)
}

/// A card of a known infant with its latest interpretation.
fn summarise_card(
    conn: &mut AnyConnection,
    interp: &Interpreter,
    infant: &Infant,
    c: Card,
) -> Result<CardSummary, AppError> {
    let interpretation = match dbs::latest_interpretation(conn, c.id)? {
        Some(r) => Some(r.detail.0),
        None => None,
    };
    Ok(card_summary(interp, infant, c, interpretation))
}

fn card_summary(
    interp: &Interpreter,
    infant: &Infant,
    c: Card,
    interpretation: Option<Interpretation>,
) -> CardSummary {
    let (hours, t) = timing(interp, infant, c.collected_at.utc());
    CardSummary {
        id: c.id,
        barcode: c.barcode,
        collected_at: c.collected_at.utc(),
        age_at_collection_hours: hours,
        timing: t,
        received_at: c.received_at.map(|t| t.utc()),
        quality: c.quality,
        repeat_of: c.repeat_of,
        interpretation,
    }
}

fn dbs_status(
    cat: &Catalogue,
    birth: DateTime<Utc>,
    cards: &[CardSummary],
    consent: Option<Decision>,
    now: DateTime<Utc>,
) -> ProgrammeSummary {
    let sp = &cat.specimen;
    let last_day = birth + Duration::days(sp.max_collection_age_days);
    let (status, next) = if consent == Some(Decision::Refusal) {
        (ProgrammeStatus::Refused, None)
    } else {
        match cards.last().map(|c| (c, c.interpretation.as_ref())) {
            None if now >= birth + Duration::days(sp.normal_collection_max_days) => (
                ProgrammeStatus::Missed,
                action("collect_card", Some(last_day)),
            ),
            None => (
                ProgrammeStatus::NotYetScreened,
                action(
                    "collect_card",
                    Some(birth + Duration::days(sp.normal_collection_max_days)),
                ),
            ),
            Some((_, None)) => (ProgrammeStatus::InProgress, action("lab_result", None)),
            Some((_, Some(i))) => match i.outcome {
                CardOutcome::AwaitingResults => {
                    (ProgrammeStatus::InProgress, action("lab_result", None))
                }
                CardOutcome::Critical | CardOutcome::Positive => {
                    (ProgrammeStatus::Positive, action("recall", None))
                }
                CardOutcome::BorderlineRepeat
                | CardOutcome::UnsatisfactoryRecollect
                | CardOutcome::TooEarlyRepeat => (
                    ProgrammeStatus::NeedsRepeat,
                    action("repeat_card", Some(last_day)),
                ),
                CardOutcome::Normal if !i.protocol_repeat_reasons.is_empty() => (
                    ProgrammeStatus::NeedsRepeat,
                    action("protocol_repeat_card", None),
                ),
                CardOutcome::Normal => (ProgrammeStatus::Pass, None),
            },
        }
    };
    ProgrammeSummary {
        status,
        consent,
        next_action: next,
    }
}

fn hearing_json(r: &HearingRow) -> serde_json::Value {
    serde_json::json!({
        "id": r.id, "stage": r.stage, "method": r.method, "left": r.left_ear, "right": r.right_ear,
        "tested_at": r.tested_at.utc(), "nicu_days": r.nicu_days,
        "risk_factors": r.risk_factors,
    })
}

fn cchd_json(r: &CchdRow) -> Result<serde_json::Value, AppError> {
    Ok(serde_json::json!({
        "id": r.id, "protocol": r.protocol, "measured_at": r.measured_at.utc(),
        "right_hand_spo2": r.right_hand_spo2, "foot_spo2": r.foot_spo2, "murmur_grade": r.murmur_grade,
        "clinical_signs": r.clinical_signs,
        "auscultation": crate::services::screening::screens::auscultation_of(r),
    }))
}

/// An infant past a programme's screening age with no valid screen.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MissedScreen {
    /// The infant with no screen.
    pub infant_id: InfantId,
    /// The infant's birth hospital.
    pub hospital_id: HospitalId,
    /// Birth (UTC).
    pub birth_at: DateTime<Utc>,
    /// The age limit that passed.
    pub screen_due_by: DateTime<Utc>,
}

/// Active infants in `scope` born before the programme's age limit as of `as_of`, with no valid
/// screen (DBS: a card not marked unsatisfactory; hearing: any test; heart: any measurement),
/// excluding those whose guardian's latest decision is a refusal. At most `limit` rows, oldest
/// birth first.
pub fn missed(
    conn: &mut AnyConnection,
    cat: &Catalogue,
    scope: &Scope,
    programme: Programme,
    as_of: DateTime<Utc>,
    limit: i64,
    without_missed_case: bool,
) -> Result<Vec<MissedScreen>, AppError> {
    let age = match programme {
        Programme::Dbs => Duration::days(cat.specimen.normal_collection_max_days),
        Programme::Hear => Duration::days(cat.hearing.initial_by_days),
        Programme::Cchd => Duration::hours(cat.cchd.screen_by_hours),
    };
    let rows = infant::unscreened(
        conn,
        scope,
        programme,
        UtcMicros::new(as_of - age),
        limit,
        without_missed_case,
    )?;
    let mut out = vec![];
    for i in rows {
        let consents = screens::consents_of(conn, scope, i.id)?;
        if latest_decision(&consents, programme) == Some(Decision::Refusal) {
            continue;
        }
        out.push(MissedScreen {
            screen_due_by: i.birth_at.utc() + age,
            infant_id: i.id,
            hospital_id: i.hospital_id,
            birth_at: i.birth_at.utc(),
        });
    }
    Ok(out)
}
