//! `hearing_screens`, `cchd_screens`, `screening_consents`, `hearing_interventions`: rows per
//! test, measurement, guardian decision or intervention started. Reads take a [`Scope`].

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::{cchd_screens, hearing_interventions, hearing_screens, screening_consents};
use crate::db::types::{Json, UtcMicros};
use crate::domain::catalogue::Programme;
use crate::domain::cchd::{AuscultationMethod, AuscultationResult};
use crate::domain::consent::Decision;
use crate::domain::hearing::{EarResult, HearingMethod, HearingStage, InterventionKind};
use crate::domain::ids::{HospitalId, InfantId};
use crate::domain::principal::Scope;

/// A hearing test row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = hearing_screens)]
pub struct HearingRow {
    pub id: String,
    pub infant_id: InfantId,
    pub hospital_id: HospitalId,
    pub stage: HearingStage,
    pub method: HearingMethod,
    pub left_ear: EarResult,
    pub right_ear: EarResult,
    pub tested_at: UtcMicros,
    pub nicu_days: Option<i32>,
    pub risk_factors: Json<Vec<String>>,
    pub created_by: String,
    pub created_at: UtcMicros,
}

/// A hearing intervention row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize, utoipa::ToSchema)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = hearing_interventions)]
pub struct InterventionRow {
    /// The decision's id.
    pub id: String,
    /// The infant it is for.
    pub infant_id: InfantId,
    /// The infant's hospital.
    pub hospital_id: HospitalId,
    /// What was started.
    pub kind: InterventionKind,
    /// When the intervention started (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub started_at: UtcMicros,
    /// Who provides it (a centre or programme name).
    pub provider: Option<String>,
    /// Who recorded it.
    pub recorded_by: String,
    /// When it was recorded.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: UtcMicros,
}

/// Inserts a hearing intervention.
pub fn insert_intervention(conn: &mut AnyConnection, row: &InterventionRow) -> QueryResult<()> {
    diesel::insert_into(hearing_interventions::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// An infant's hearing interventions within `scope`, oldest first.
pub fn interventions_of(
    conn: &mut AnyConnection,
    scope: &Scope,
    infant_id: InfantId,
) -> QueryResult<Vec<InterventionRow>> {
    let mut q = hearing_interventions::table
        .filter(hearing_interventions::infant_id.eq(infant_id))
        .into_boxed();
    q = crate::scoped!(q, scope, hearing_interventions::hospital_id);
    q.order(hearing_interventions::started_at.asc())
        .select(InterventionRow::as_select())
        .load(conn)
}

/// A pulse-oximetry measurement row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = cchd_screens)]
pub struct CchdRow {
    pub id: String,
    pub infant_id: InfantId,
    pub hospital_id: HospitalId,
    pub protocol: String,
    pub measured_at: UtcMicros,
    pub right_hand_spo2: f64,
    pub foot_spo2: f64,
    pub murmur_grade: Option<i32>,
    pub clinical_signs: Json<Vec<String>>,
    pub created_by: String,
    pub created_at: UtcMicros,
    pub auscultation_method: Option<AuscultationMethod>,
    pub auscultation_device_id: Option<String>,
    pub auscultation_result: Option<AuscultationResult>,
    pub auscultation_grade: Option<i32>,
    pub auscultation_score: Option<f64>,
}

/// A consent or refusal row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = screening_consents)]
pub struct ConsentRow {
    pub id: String,
    pub infant_id: InfantId,
    pub hospital_id: HospitalId,
    pub programme: Programme,
    pub decision: Decision,
    pub guardian_name: String,
    pub signed_at: UtcMicros,
    pub recorded_by: String,
    pub created_at: UtcMicros,
}

/// Inserts a hearing test.
pub fn insert_hearing(conn: &mut AnyConnection, row: &HearingRow) -> QueryResult<()> {
    diesel::insert_into(hearing_screens::table)
        .values(row)
        .execute(conn)?;
    crate::db::models::quality::facts::touch(conn, &[row.infant_id])
}

/// An infant's hearing tests within `scope`, oldest first.
pub fn hearing_of(
    conn: &mut AnyConnection,
    scope: &Scope,
    infant_id: InfantId,
) -> QueryResult<Vec<HearingRow>> {
    let mut q = hearing_screens::table
        .filter(hearing_screens::infant_id.eq(infant_id))
        .into_boxed();
    q = crate::scoped!(q, scope, hearing_screens::hospital_id);
    q.order(hearing_screens::tested_at.asc())
        .select(HearingRow::as_select())
        .load(conn)
}

/// Inserts a measurement.
pub fn insert_cchd(conn: &mut AnyConnection, row: &CchdRow) -> QueryResult<()> {
    diesel::insert_into(cchd_screens::table)
        .values(row)
        .execute(conn)?;
    crate::db::models::quality::facts::touch(conn, &[row.infant_id])
}

/// An infant's measurements within `scope`, oldest first.
pub fn cchd_of(
    conn: &mut AnyConnection,
    scope: &Scope,
    infant_id: InfantId,
) -> QueryResult<Vec<CchdRow>> {
    let mut q = cchd_screens::table
        .filter(cchd_screens::infant_id.eq(infant_id))
        .into_boxed();
    q = crate::scoped!(q, scope, cchd_screens::hospital_id);
    q.order(cchd_screens::measured_at.asc())
        .select(CchdRow::as_select())
        .load(conn)
}

/// Inserts a consent or refusal.
pub fn insert_consent(conn: &mut AnyConnection, row: &ConsentRow) -> QueryResult<()> {
    diesel::insert_into(screening_consents::table)
        .values(row)
        .execute(conn)?;
    crate::db::models::quality::facts::touch(conn, &[row.infant_id])
}

/// An infant's decisions within `scope`, oldest first.
pub fn consents_of(
    conn: &mut AnyConnection,
    scope: &Scope,
    infant_id: InfantId,
) -> QueryResult<Vec<ConsentRow>> {
    let mut q = screening_consents::table
        .filter(screening_consents::infant_id.eq(infant_id))
        .into_boxed();
    q = crate::scoped!(q, scope, screening_consents::hospital_id);
    q.order(screening_consents::signed_at.asc())
        .select(ConsentRow::as_select())
        .load(conn)
}
