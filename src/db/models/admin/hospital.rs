//! `hospitals`: maternity hospitals that register births and submit screens.

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::hospitals;
use crate::db::types::{Json, UtcMicros};
use crate::domain::ids::HospitalId;
use crate::domain::principal::Scope;

/// A hospital row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = hospitals)]
pub struct Hospital {
    pub id: HospitalId,
    pub code: String,
    pub name: String,
    pub district: Option<String>,
    /// E-mail addresses for follow-up notices.
    pub contact_emails: Json<Vec<String>>,
    pub active: bool,
    pub created_at: UtcMicros,
    pub updated_at: UtcMicros,
    /// The heart-screening protocol its screens start under; the catalogue default when `None`.
    pub cchd_protocol: Option<String>,
}

impl Hospital {
    /// The follow-up contact addresses.
    pub fn emails(&self) -> Vec<String> {
        self.contact_emails.0.clone()
    }
}

/// Changes to a hospital; `None` leaves a column alone, `Some(None)` clears a nullable one.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = hospitals)]
pub struct HospitalUpdateForm {
    pub name: Option<String>,
    pub district: Option<Option<String>>,
    pub contact_emails: Option<Json<Vec<String>>>,
    pub active: Option<bool>,
    pub updated_at: Option<UtcMicros>,
    pub cchd_protocol: Option<Option<String>>,
}

/// Inserts a hospital.
pub fn insert(conn: &mut AnyConnection, row: &Hospital) -> QueryResult<()> {
    diesel::insert_into(hospitals::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Reads a hospital visible in `scope`.
pub fn get(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: HospitalId,
) -> QueryResult<Option<Hospital>> {
    if !scope.allows(id) {
        return Ok(None);
    }
    crate::by_key!(
        conn,
        hospitals::table.find(id).select(Hospital::as_select())
    )
}

/// These hospitals (any scope: for jobs), by id; ids without a row are left out.
pub fn get_many(
    conn: &mut AnyConnection,
    ids: &[HospitalId],
) -> QueryResult<std::collections::HashMap<HospitalId, Hospital>> {
    Ok(hospitals::table
        .filter(hospitals::id.eq_any(ids))
        .select(Hospital::as_select())
        .load(conn)?
        .into_iter()
        .map(|h| (h.id, h))
        .collect())
}

/// Finds a hospital by its code (CLI convenience).
pub fn find_by_code(conn: &mut AnyConnection, code: &str) -> QueryResult<Option<Hospital>> {
    hospitals::table
        .filter(hospitals::code.eq(code))
        .select(Hospital::as_select())
        .first(conn)
        .optional()
}

/// Lists hospitals visible in `scope`, by code.
pub fn list(
    conn: &mut AnyConnection,
    scope: &Scope,
    active: Option<bool>,
) -> QueryResult<Vec<Hospital>> {
    let mut q = hospitals::table.into_boxed();
    q = crate::scoped!(q, scope, hospitals::id);
    if let Some(a) = active {
        q = q.filter(hospitals::active.eq(a));
    }
    q.order(hospitals::code.asc())
        .select(Hospital::as_select())
        .load(conn)
}

/// Applies an update; returns the number of rows changed (0 = not found).
pub fn update(
    conn: &mut AnyConnection,
    id: HospitalId,
    form: &HospitalUpdateForm,
) -> QueryResult<usize> {
    diesel::update(hospitals::table.filter(hospitals::id.eq(id)))
        .set(form)
        .execute(conn)
}
