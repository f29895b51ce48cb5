//! The rows behind the indicators' breakdowns: the cohort's screen-positive cases with the times
//! the timeliness indicators measure, and histograms of the card facts grouped in SQL (minutes
//! from receipt to report, hours of life at first collection) so a year of cards is one scan.
//! The cohort is bound as in [`super::indicators`].

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamp};

use super::indicators::{Births, CASES_FROM, FIRST_CONTACT, RECHECK, screened_any_fact};
use crate::db::AnyConnection;
use crate::db::sql::{minutes, minutes_floor};
use crate::db::types::{Json, UtcMicros};
use crate::domain::case::CaseOutcome;
use crate::domain::catalogue::{Programme, Tier};
use crate::domain::ids::InfantId;
use crate::domain::quality::Limits;

/// One screen-positive case of the cohort, with the times the timeliness indicators measure.
#[derive(Debug, Clone, QueryableByName)]
pub struct PositiveCase {
    /// The infant.
    #[diesel(sql_type = Text)]
    pub infant_id: InfantId,
    /// The case's programme.
    #[diesel(sql_type = Text)]
    pub programme: Programme,
    /// The case's urgency tier.
    #[diesel(sql_type = Text)]
    pub tier: Tier,
    /// Suspected condition codes.
    #[diesel(sql_type = Text)]
    pub suspected: Json<Vec<String>>,
    /// The catalogue version that opened the case.
    #[diesel(sql_type = Text)]
    pub catalogue_version: String,
    /// How it was resolved, if it was.
    #[diesel(sql_type = Nullable<Text>)]
    pub outcome: Option<Json<CaseOutcome>>,
    /// When the case was opened (the result that called for it).
    #[diesel(sql_type = Timestamp)]
    pub opened_at: UtcMicros,
    /// The infant counts as screened in a programme of the filter (the positive rate's
    /// denominator).
    #[diesel(sql_type = Integer)]
    pub screened: i32,
    /// First time the family was reached.
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub first_contact: Option<UtcMicros>,
    /// First time the case was rechecked.
    #[diesel(sql_type = Nullable<Timestamp>)]
    pub recheck: Option<UtcMicros>,
}

/// The cohort's screen-positive cases (of the programme filter).
pub fn positive_cases(
    conn: &mut AnyConnection,
    births: &Births,
    lim: &Limits,
) -> QueryResult<Vec<PositiveCase>> {
    let b = conn.backend();
    let screened_any_fact = screened_any_fact(b, births, lim);
    let sql = format!(
        "SELECT k.infant_id, k.programme, k.tier, k.suspected, k.catalogue_version, k.outcome, k.opened_at, \
         CASE WHEN f.infant_id IS NOT NULL AND ({screened_any_fact}) THEN 1 ELSE 0 END AS screened, \
         {FIRST_CONTACT} AS first_contact, {RECHECK} AS recheck \
         FROM {CASES_FROM} LEFT JOIN quality_infant_facts f ON f.infant_id = k.infant_id \
         WHERE {} AND {}",
        births.on("i"),
        births.positive(),
    );
    births.query(b, &sql).load(conn)
}

/// A histogram bucket: a whole number of minutes or hours, and how many fall in it.
#[derive(Debug, Clone, Copy, QueryableByName)]
pub struct Bucket {
    /// Minutes or hours, by the query.
    #[diesel(sql_type = BigInt)]
    pub key: i64,
    /// How many.
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// Minutes from receipt to the first reported result (rounded to the nearest), over the
/// cohort's received and reported cards.
pub fn turnaround_minutes(conn: &mut AnyConnection, births: &Births) -> QueryResult<Vec<Bucket>> {
    let b = conn.backend();
    let sql = format!(
        "SELECT {m} AS key, COUNT(*) AS n FROM quality_card_facts f \
         WHERE {cohort} AND f.received_at IS NOT NULL AND f.reported_at IS NOT NULL GROUP BY {m}",
        m = minutes(b, "f.received_at", "f.reported_at"),
        cohort = births.on("f"),
    );
    births.query(b, &sql).load(conn)
}

/// Whole hours of life (rounded down) at the collection of the cohort's first cards.
pub fn collection_hours(conn: &mut AnyConnection, births: &Births) -> QueryResult<Vec<Bucket>> {
    let b = conn.backend();
    // SQL integer division truncates toward zero, and a card is never collected before birth.
    let sql = format!(
        "SELECT {m} / 60 AS key, COUNT(*) AS n FROM quality_card_facts f \
         WHERE {cohort} AND f.first_card = 1 GROUP BY {m} / 60",
        m = minutes_floor(b, "f.birth_at", "f.collected_at"),
        cohort = births.on("f"),
    );
    births.query(b, &sql).load(conn)
}

/// The cohort's heart screens with a device auscultation (AI stethoscope).
#[derive(Debug, Clone, Copy, QueryableByName)]
pub struct Auscultation {
    /// Heart screens with a device auscultation.
    #[diesel(sql_type = BigInt)]
    pub screens: i64,
    /// Infants screened so.
    #[diesel(sql_type = BigInt)]
    pub infants: i64,
    /// Infants with a suspected murmur.
    #[diesel(sql_type = BigInt)]
    pub suspected: i64,
}

/// Counts the cohort's heart screens with a device auscultation.
pub fn auscultation(conn: &mut AnyConnection, births: &Births) -> QueryResult<Auscultation> {
    let sql = format!(
        "SELECT COUNT(*) AS screens, COUNT(DISTINCT s.infant_id) AS infants, \
         COUNT(DISTINCT CASE WHEN s.auscultation_result = 'suspected_murmur' THEN s.infant_id END) AS suspected \
         FROM cchd_screens s JOIN infants i ON i.id = s.infant_id \
         WHERE {} AND s.auscultation_method IS NOT NULL",
        births.on("i")
    );
    births.query(conn.backend(), &sql).get_result(conn)
}

/// One started treatment of the cohort's management episodes.
#[derive(Debug, Clone, QueryableByName)]
pub struct TreatmentStart {
    /// The episode's condition.
    #[diesel(sql_type = Text)]
    pub condition: String,
    /// The infant's birth.
    #[diesel(sql_type = Timestamp)]
    pub birth_at: UtcMicros,
    /// When treatment started.
    #[diesel(sql_type = Timestamp)]
    pub started_at: UtcMicros,
}

/// The cohort's episodes with treatment started (less those closed as diagnosis revised).
pub fn treatment_starts(
    conn: &mut AnyConnection,
    births: &Births,
) -> QueryResult<Vec<TreatmentStart>> {
    let sql = format!(
        "SELECT m.condition_code AS condition, i.birth_at AS birth_at, m.treatment_started_at AS started_at \
         FROM management_episodes m JOIN infants i ON i.id = m.infant_id \
         WHERE {} AND m.treatment_started_at IS NOT NULL \
         AND (m.close_reason IS NULL OR m.close_reason <> 'diagnosis_revised')",
        births.on("i")
    );
    births.query(conn.backend(), &sql).load(conn)
}

/// Escalation rungs fired on the cohort's cases, per rung and the infant's hospital.
#[derive(Debug, Clone, QueryableByName)]
pub struct RungCount {
    /// The rung (`L0` … `L4`).
    #[diesel(sql_type = Text)]
    pub rung: String,
    /// The infant's hospital.
    #[diesel(sql_type = Text)]
    pub hospital_id: crate::domain::ids::HospitalId,
    /// Rungs fired.
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// Counts the escalation rungs fired on the cohort's cases (of the programme filter), by rung
/// and hospital.
pub fn rungs_fired(conn: &mut AnyConnection, births: &Births) -> QueryResult<Vec<RungCount>> {
    let programme = births.programme.map_or_else(String::new, |p| {
        format!(" AND k.programme = '{}'", p.as_str())
    });
    let sql = format!(
        "SELECT x.rung AS rung, i.hospital_id AS hospital_id, CAST(COUNT(*) AS BIGINT) AS n \
         FROM case_escalations x JOIN cases k ON k.id = x.case_id JOIN infants i ON i.id = k.infant_id \
         WHERE {}{programme} GROUP BY x.rung, i.hospital_id ORDER BY x.rung, i.hospital_id",
        births.on("i")
    );
    births.query(conn.backend(), &sql).load(conn)
}
