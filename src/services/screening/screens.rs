//! Hearing tests, pulse-oximetry measurements and consent decisions, each recorded for an infant
//! the caller can see, then assessed against the catalogue's pathway.

use chrono::{DateTime, Utc};

use crate::db::models::screening::infant::{self, Infant};
use crate::db::models::screening::screens::{
    self, CchdRow, ConsentRow, HearingRow, InterventionRow,
};
use crate::db::types::Json;
use crate::db::types::UtcMicros;
use crate::db::{AnyConnection, write_transaction};
use crate::domain::catalogue::{Catalogue, Programme, Tier};
use crate::domain::cchd::{self, Auscultation, CchdMeasurement, CchdOutcome};
use crate::domain::consent::Decision;
use crate::domain::due::DuePolicy;
use crate::domain::hearing::InterventionKind;
use crate::domain::hearing::{
    self, HearingAssessment, HearingInfant, HearingMethod, HearingStage, HearingTest,
};
use crate::domain::ids::InfantId;
use crate::domain::principal::{Principal, Scope};
use crate::domain::validation::FieldErrors;
use crate::error::AppError;
use crate::services::admin::audit;
use crate::services::follow_up::cases;

fn visible_infant(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: &InfantId,
) -> Result<Infant, AppError> {
    infant::get(conn, scope, *id)?.ok_or(AppError::NotFound { entity: "infant" })
}

fn check_time(
    e: &mut FieldErrors,
    field: &str,
    at: DateTime<Utc>,
    infant: &Infant,
    now: DateTime<Utc>,
) {
    if at > now + chrono::Duration::minutes(5) {
        e.add(field, "must not be in the future");
    }
    if at < infant.birth_at.utc() {
        e.add(field, "must not be before the birth");
    }
}

/// A hearing test as submitted.
#[derive(Debug, Clone)]
pub struct HearingInput {
    /// The test's stage, method and ear results.
    pub test: HearingTest,
    /// NICU days, when known.
    pub nicu_days: Option<i64>,
    /// Risk factors.
    pub risk_factors: Vec<String>,
}

/// Records a hearing test and returns the pathway assessment.
pub fn record_hearing(
    conn: &mut AnyConnection,
    cat: &Catalogue,
    policy: &DuePolicy,
    p: &Principal,
    infant_id: &InfantId,
    h: HearingInput,
    now: DateTime<Utc>,
) -> Result<HearingAssessment, AppError> {
    let scope = p.scope();
    write_transaction(conn, |conn| {
        let infant = visible_infant(conn, &scope, infant_id)?;
        let mut e = FieldErrors::new();
        check_time(&mut e, "tested_at", h.test.tested_at, &infant, now);
        let diagnostic = h.test.stage == HearingStage::Diagnostic;
        if diagnostic != (h.test.method == HearingMethod::Diagnostic) {
            e.add(
                "method",
                "DIAGNOSTIC is the method of the diagnostic stage, and only of it",
            );
        }
        if h.nicu_days.is_some_and(|d| !(0..=365).contains(&d)) {
            e.add("nicu_days", "must be between 0 and 365");
        }
        for (i, r) in h.risk_factors.iter().enumerate() {
            if !cat.hearing.risk_factors.contains(r) {
                e.add(
                    format!("risk_factors[{i}]"),
                    format!("must be one of {}", cat.hearing.risk_factors.join(", ")),
                );
            }
        }
        e.into_result().map_err(AppError::Validation)?;
        let row = HearingRow {
            id: uuid::Uuid::now_v7().to_string(),
            infant_id: infant.id,
            hospital_id: infant.hospital_id,
            stage: h.test.stage,
            method: h.test.method,
            left_ear: h.test.left,
            right_ear: h.test.right,
            tested_at: UtcMicros::new(h.test.tested_at),
            nicu_days: h.nicu_days.and_then(|d| i32::try_from(d).ok()),
            risk_factors: Json(h.risk_factors.clone()),
            created_by: p.key(),
            created_at: UtcMicros::new(now),
        };
        screens::insert_hearing(conn, &row)?;
        audit::write(conn, p, "hearing_screen", &row.id, None, &row, now)?;
        open_hearing_case(conn, cat, policy, p, &infant, &row.id, now)
    })
}

/// Assesses the infant's hearing pathway and opens (or updates) the case it calls for; `cause`
/// names what changed (a test id, or the infant's id for a changed NICU stay).
fn open_hearing_case(
    conn: &mut AnyConnection,
    cat: &Catalogue,
    policy: &DuePolicy,
    p: &Principal,
    infant: &Infant,
    cause: &str,
    now: DateTime<Utc>,
) -> Result<HearingAssessment, AppError> {
    let a = hearing_assessment(conn, cat, &Scope::unrestricted(), infant, now)?;
    let tier = cat.condition("HL").map_or(Tier::T2, |c| c.tier);
    if let Some(spec) = cases::spec_for_hearing(&a, tier, &cat.version, cause) {
        cases::open_or_update(conn, policy, infant, spec, p, now)?;
    }
    Ok(a)
}

/// Re-assesses the hearing pathway after the infant's NICU stay changed, once it has a test.
pub fn reassess_hearing(
    conn: &mut AnyConnection,
    rules: crate::services::screening::cards::Rules<'_>,
    infant: &Infant,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    if screens::hearing_of(conn, &Scope::unrestricted(), infant.id)?.is_empty() {
        return Ok(());
    }
    open_hearing_case(
        conn,
        rules.interp.catalogue(),
        rules.policy,
        rules.who,
        infant,
        &infant.id.to_string(),
        now,
    )
    .map(|_| ())
}

/// The hearing pathway of an infant from all its tests.
pub fn hearing_assessment(
    conn: &mut AnyConnection,
    cat: &Catalogue,
    scope: &Scope,
    infant: &Infant,
    now: DateTime<Utc>,
) -> Result<HearingAssessment, AppError> {
    let rows = screens::hearing_of(conn, scope, infant.id)?;
    let mut risk_factors: Vec<String> = vec![];
    let mut nicu_days = None;
    let mut tests = vec![];
    for r in &rows {
        for f in r.risk_factors.iter() {
            if !risk_factors.contains(f) {
                risk_factors.push(f.clone());
            }
        }
        nicu_days = r.nicu_days.map(i64::from).or(nicu_days);
        tests.push(HearingTest {
            stage: r.stage,
            method: r.method,
            left: r.left_ear,
            right: r.right_ear,
            tested_at: r.tested_at.utc(),
        });
    }
    // The infant's recorded stay wins over what tests carried (the older way to send it).
    let nicu_days = infant.nicu_days.map(i64::from).or(nicu_days);
    let intervention_started = screens::interventions_of(conn, scope, infant.id)?
        .first()
        .map(|v| v.started_at.utc());
    let who = HearingInfant {
        birth_at: infant.birth_at.utc(),
        nicu_days,
        risk_factors,
        intervention_started,
    };
    Ok(hearing::assess(&cat.hearing, &who, &tests, now))
}

/// The protocol a new measurement is read under: the sequence's, once the infant has one (a
/// repeat naming another protocol is refused, naming both); else the one named, the hospital's
/// configured protocol, or the catalogue's default.
fn sequence_protocol(
    conn: &mut AnyConnection,
    cat: &Catalogue,
    infant: &Infant,
    requested: Option<String>,
    e: &mut FieldErrors,
) -> Result<String, AppError> {
    let sequence = screens::cchd_of(conn, &Scope::unrestricted(), infant.id)?
        .pop()
        .map(|r| r.protocol);
    match (sequence, requested) {
        (Some(seq), Some(req)) if seq != req => {
            e.add(
                "protocol",
                format!(
                    "this infant's heart screen runs under {seq}; a repeat cannot switch to {req}"
                ),
            );
            Ok(seq)
        }
        (Some(seq), _) => Ok(seq),
        (None, Some(req)) => Ok(req),
        (None, None) => Ok(crate::db::models::admin::hospital::get(
            conn,
            &Scope::unrestricted(),
            infant.hospital_id,
        )?
        .and_then(|h| h.cchd_protocol)
        .unwrap_or_else(|| cat.cchd.default_protocol.clone())),
    }
}

fn check_auscultation(e: &mut FieldErrors, a: &Auscultation) {
    let id = a.device_id.trim();
    if id.is_empty() || id.chars().count() > 64 {
        e.add("auscultation.device_id", "must be 1 to 64 characters");
    }
    if a.grade.is_some_and(|g| !(1..=6).contains(&g)) {
        e.add("auscultation.grade", "must be between 1 and 6");
    }
    if a.score.is_some_and(|s| !(0.0..=1.0).contains(&s)) {
        e.add("auscultation.score", "must be between 0 and 1");
    }
}

/// Records a pulse-oximetry measurement (under the protocol [`sequence_protocol`] chooses) and
/// returns the protocol's outcome over the infant's measurements under that protocol.
pub fn record_cchd(
    conn: &mut AnyConnection,
    cat: &Catalogue,
    policy: &DuePolicy,
    p: &Principal,
    infant_id: &InfantId,
    (protocol, m): (Option<String>, CchdMeasurement),
    now: DateTime<Utc>,
) -> Result<(String, CchdOutcome, Vec<String>), AppError> {
    let scope = p.scope();
    write_transaction(conn, |conn| {
        let infant = visible_infant(conn, &scope, infant_id)?;
        let mut e = FieldErrors::new();
        let protocol = sequence_protocol(conn, cat, &infant, protocol, &mut e)?;
        if let Some(a) = &m.auscultation {
            check_auscultation(&mut e, a);
        }
        if cat.cchd_protocol(&protocol).is_none() {
            let codes: Vec<&str> = cat.cchd.protocols.iter().map(|p| p.code.as_str()).collect();
            e.add("protocol", format!("must be one of {}", codes.join(", ")));
        }
        check_time(&mut e, "measured_at", m.measured_at, &infant, now);
        for (f, v) in [
            ("right_hand_spo2", m.right_hand_spo2),
            ("foot_spo2", m.foot_spo2),
        ] {
            if !(50.0..=100.0).contains(&v) {
                e.add(f, "must be between 50 and 100 (%)");
            }
        }
        if m.murmur_grade.is_some_and(|g| !(0..=6).contains(&g)) {
            e.add("murmur_grade", "must be between 0 and 6");
        }
        e.into_result().map_err(AppError::Validation)?;
        let screen_id = uuid::Uuid::now_v7().to_string();
        let row = CchdRow {
            id: screen_id.clone(),
            infant_id: infant.id,
            hospital_id: infant.hospital_id,
            protocol: protocol.clone(),
            measured_at: UtcMicros::new(m.measured_at),
            right_hand_spo2: m.right_hand_spo2,
            foot_spo2: m.foot_spo2,
            murmur_grade: m.murmur_grade.and_then(|g| i32::try_from(g).ok()),
            clinical_signs: Json(m.clinical_signs.clone()),
            created_by: p.key(),
            created_at: UtcMicros::new(now),
            auscultation_method: m.auscultation.as_ref().map(|a| a.method),
            auscultation_device_id: m
                .auscultation
                .as_ref()
                .map(|a| a.device_id.trim().to_string()),
            auscultation_result: m.auscultation.as_ref().map(|a| a.result),
            auscultation_grade: m
                .auscultation
                .as_ref()
                .and_then(|a| a.grade)
                .and_then(|g| i32::try_from(g).ok()),
            auscultation_score: m.auscultation.as_ref().and_then(|a| a.score),
        };
        screens::insert_cchd(conn, &row)?;
        audit::write(conn, p, "cchd_screen", &row.id, None, &row, now)?;
        let (outcome, notes) = cchd_outcome(conn, cat, &scope, &infant)?;
        if let Some(spec) = cases::spec_for_cchd(&outcome, &cat.version, &screen_id) {
            cases::open_or_update(conn, policy, &infant, spec, p, now)?;
        }
        Ok((protocol.clone(), outcome, notes))
    })
}

/// The heart-screen outcome: the protocol of the latest measurement over all measurements made
/// under it.
pub fn cchd_outcome(
    conn: &mut AnyConnection,
    cat: &Catalogue,
    scope: &Scope,
    infant: &Infant,
) -> Result<(CchdOutcome, Vec<String>), AppError> {
    let rows = screens::cchd_of(conn, scope, infant.id)?;
    let Some(last) = rows.last() else {
        return Ok((CchdOutcome::Pending, vec![]));
    };
    let Some(protocol) = cat.cchd_protocol(&last.protocol) else {
        return Ok((
            CchdOutcome::Pending,
            vec![format!(
                "protocol {} is not in this catalogue",
                last.protocol
            )],
        ));
    };
    let ms: Vec<CchdMeasurement> = rows
        .iter()
        .filter(|r| r.protocol == last.protocol)
        .map(|r| -> Result<CchdMeasurement, AppError> {
            Ok(CchdMeasurement {
                measured_at: r.measured_at.utc(),
                right_hand_spo2: r.right_hand_spo2,
                foot_spo2: r.foot_spo2,
                murmur_grade: r.murmur_grade.map(i64::from),
                clinical_signs: r.clinical_signs.0.clone(),
                auscultation: auscultation_of(r),
            })
        })
        .collect::<Result<_, AppError>>()?;
    Ok(cchd::evaluate(protocol, infant.birth_at.utc(), &ms))
}

/// A stored heart screen's device auscultation, if it has one.
pub fn auscultation_of(r: &CchdRow) -> Option<Auscultation> {
    let (Some(method), Some(device_id), Some(result)) = (
        r.auscultation_method,
        r.auscultation_device_id.clone(),
        r.auscultation_result,
    ) else {
        return None;
    };
    Some(Auscultation {
        method,
        device_id,
        result,
        grade: r.auscultation_grade.map(i64::from),
        score: r.auscultation_score,
    })
}

/// A guardian's decision as submitted.
#[derive(Debug, Clone)]
pub struct ConsentInput {
    /// The programme the decision is for.
    pub programme: Programme,
    /// Consent or refusal.
    pub decision: Decision,
    /// Who signed.
    pub guardian_name: String,
    /// When the parent signed.
    pub signed_at: DateTime<Utc>,
}

/// Records a consent or refusal; the latest decision per programme is the one in force.
pub fn record_consent(
    conn: &mut AnyConnection,
    p: &Principal,
    infant_id: &InfantId,
    c: ConsentInput,
    now: DateTime<Utc>,
) -> Result<ConsentRow, AppError> {
    let scope = p.scope();
    write_transaction(conn, |conn| {
        let infant = visible_infant(conn, &scope, infant_id)?;
        let mut e = FieldErrors::new();
        let guardian_name = e.text("guardian_name", &c.guardian_name, 64);
        if c.signed_at > now + chrono::Duration::minutes(5) {
            e.add("signed_at", "must not be in the future");
        }
        e.into_result().map_err(AppError::Validation)?;
        let row = ConsentRow {
            id: uuid::Uuid::now_v7().to_string(),
            infant_id: infant.id,
            hospital_id: infant.hospital_id,
            programme: c.programme,
            decision: c.decision,
            guardian_name,
            signed_at: UtcMicros::new(c.signed_at),
            recorded_by: p.key(),
            created_at: UtcMicros::new(now),
        };
        screens::insert_consent(conn, &row)?;
        audit::write(conn, p, "consent", &row.id, None, &row, now)?;
        Ok(row)
    })
}

/// A hearing intervention as submitted.
#[derive(Debug, Clone)]
pub struct InterventionInput {
    /// What was started.
    pub kind: InterventionKind,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Who provides it.
    pub provider: Option<String>,
}

/// Records that a hearing intervention started (the 1-3-6 pathway's last step).
pub fn record_intervention(
    conn: &mut AnyConnection,
    p: &Principal,
    infant_id: &InfantId,
    i: InterventionInput,
    now: DateTime<Utc>,
) -> Result<InterventionRow, AppError> {
    let scope = p.scope();
    write_transaction(conn, |conn| {
        let infant = visible_infant(conn, &scope, infant_id)?;
        let mut e = FieldErrors::new();
        check_time(&mut e, "started_at", i.started_at, &infant, now);
        let provider = i.provider.as_deref().map(|v| e.text("provider", v, 128));
        e.into_result().map_err(AppError::Validation)?;
        let row = InterventionRow {
            id: uuid::Uuid::now_v7().to_string(),
            infant_id: infant.id,
            hospital_id: infant.hospital_id,
            kind: i.kind,
            started_at: UtcMicros::new(i.started_at),
            provider,
            recorded_by: p.key(),
            created_at: UtcMicros::new(now),
        };
        screens::insert_intervention(conn, &row)?;
        audit::write(conn, p, "hearing_intervention", &row.id, None, &row, now)?;
        Ok(row)
    })
}
