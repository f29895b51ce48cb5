//! `infants`: registered births. Every read and write here takes a [`Scope`], so a hospital
//! principal can only ever reach its own hospital's infants, whatever the handler does.

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::infants;
use crate::db::sql::Then;
use crate::db::types::{Json, UtcMicros};
use crate::domain::case::Reason;
use crate::domain::catalogue::Programme;
use crate::domain::id_card::IdDocumentType;
use crate::domain::ids::{HospitalId, InfantId};
use crate::domain::infant::{InfantStatus, Sex};
use crate::domain::principal::Scope;

/// An infant row. The mother's ID number is never stored: only its keyed hash and masked form.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, serde::Serialize)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = infants)]
pub struct Infant {
    pub id: InfantId,
    pub hospital_id: HospitalId,
    pub mrn: String,
    pub sex: Sex,
    /// Birth time (UTC).
    pub birth_at: UtcMicros,
    /// The offset the birth time was reported in, to give it back as submitted.
    pub birth_utc_offset_minutes: i32,
    pub gestational_age_weeks: i32,
    pub gestational_age_days: i32,
    pub birth_weight_g: i32,
    pub plurality: i32,
    pub birth_order: i32,
    pub nicu_admitted: bool,
    pub mother_name: String,
    /// Normalised phone numbers.
    pub mother_phones: Json<Vec<String>>,
    pub mother_id_type: Option<IdDocumentType>,
    pub mother_id_hash: Option<String>,
    pub mother_id_masked: Option<String>,
    pub address: Option<String>,
    pub status: InfantStatus,
    pub status_changed_at: Option<UtcMicros>,
    pub status_note: Option<String>,
    pub created_by: String,
    pub created_at: UtcMicros,
    pub updated_at: UtcMicros,
    /// Set when a contact attempt found the details wrong; cleared when they are corrected.
    pub contact_problem: bool,
    /// Set when an administrator merged this record into another (the kept one).
    pub merged_into: Option<InfantId>,
    /// The family asked not to receive SMS; follow-up needs another channel.
    pub sms_opt_out: bool,
    /// Days in the NICU, when known; every hearing assessment uses it.
    pub nicu_days: Option<i32>,
}

impl Infant {
    /// The mother's phone numbers.
    pub fn phones(&self) -> Vec<String> {
        self.mother_phones.0.clone()
    }
}

/// Contact and status changes.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = infants)]
pub struct InfantUpdateForm {
    pub mother_name: Option<String>,
    pub mother_phones: Option<Json<Vec<String>>>,
    pub mother_id_type: Option<Option<IdDocumentType>>,
    pub mother_id_hash: Option<Option<String>>,
    pub mother_id_masked: Option<Option<String>>,
    pub address: Option<Option<String>>,
    pub status: Option<InfantStatus>,
    pub status_changed_at: Option<Option<UtcMicros>>,
    pub status_note: Option<Option<String>>,
    pub updated_at: Option<UtcMicros>,
    pub contact_problem: Option<bool>,
    pub merged_into: Option<Option<InfantId>>,
    pub sms_opt_out: Option<bool>,
    pub nicu_admitted: Option<bool>,
    pub nicu_days: Option<Option<i32>>,
}

/// List filters; `None` means "any".
#[derive(Debug, Default, Clone)]
pub struct InfantFilter {
    pub hospital_id: Option<HospitalId>,
    pub status: Option<InfantStatus>,
    pub mrn: Option<String>,
    pub nicu_admitted: Option<bool>,
    pub born_from: Option<UtcMicros>,
    pub born_to: Option<UtcMicros>,
    /// Return rows with ids below this one (newest first).
    pub before_id: Option<String>,
}

/// Inserts an infant, with its quality-facts row and its phones (one statement on PostgreSQL);
/// the caller checks the hospital against the scope first.
pub fn insert(conn: &mut AnyConnection, row: &Infant) -> QueryResult<()> {
    let mut facts = crate::db::models::quality::touch::new_infant(row.id);
    // On PostgreSQL the numbers ride in the insert's statement when it has one.
    if let Some(then) = facts.as_mut()
        && conn.backend() == crate::db::Backend::Postgres
    {
        then.also_pg = Some(super::phones::ADD_FROM_INSERTED_PG);
    }
    crate::db::sql::insert_then(
        conn,
        diesel::insert_into(infants::table).values(row),
        facts.as_ref(),
    )?;
    match facts {
        Some(Then {
            also_pg: Some(_), ..
        }) => Ok(()),
        _ => super::phones::add(conn, row.id, &row.mother_phones.0),
    }
}

/// Reads an infant visible in `scope`. The row is probed by its key alone and the scope checked
/// on it: with the hospital in the statement, a plan cached while the table had no statistics
/// may walk the hospital's index and filter by id, every infant of the hospital per read.
pub fn get(conn: &mut AnyConnection, scope: &Scope, id: InfantId) -> QueryResult<Option<Infant>> {
    let row: Option<Infant> =
        crate::by_key!(conn, infants::table.find(id).select(Infant::as_select()))?;
    Ok(row.filter(|i| scope.allows(i.hospital_id)))
}

/// [`get`] for a write that changes the infant's quality facts (a new card): on PostgreSQL the
/// row is locked as it is read (`FOR NO KEY UPDATE`, see `quality::facts::statements`), so the
/// facts upkeep that follows needs no lock statement of its own; SQLite's writer holds the
/// database.
pub fn get_for_write(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: InfantId,
) -> QueryResult<Option<Infant>> {
    let AnyConnection::Postgresql(c) = conn else {
        return get(conn, scope, id);
    };
    let row = infants::table
        .find(id)
        .select(Infant::as_select())
        .for_no_key_update()
        .load::<Infant>(c)?
        .into_iter()
        .next();
    Ok(row.filter(|i| scope.allows(i.hospital_id)))
}

/// These infants (any scope: for jobs), by id; ids without a row are left out.
pub fn get_many(
    conn: &mut AnyConnection,
    ids: &[InfantId],
) -> QueryResult<std::collections::HashMap<InfantId, Infant>> {
    Ok(infants::table
        .filter(infants::id.eq_any(ids))
        .select(Infant::as_select())
        .load(conn)?
        .into_iter()
        .map(|i| (i.id, i))
        .collect())
}

/// The active, unmerged infants born in `[from, before)` within `scope`, latest first, at most
/// `limit`.
pub fn born_between(
    conn: &mut AnyConnection,
    scope: &Scope,
    from: UtcMicros,
    before: UtcMicros,
    limit: i64,
) -> QueryResult<Vec<Infant>> {
    let mut q = infants::table
        .filter(infants::birth_at.ge(from))
        .filter(infants::birth_at.lt(before))
        .filter(infants::merged_into.is_null())
        .into_boxed();
    q = crate::scoped!(q, scope, infants::hospital_id);
    q.order((infants::birth_at.desc(), infants::id.asc()))
        .limit(limit)
        .select(Infant::as_select())
        .load(conn)
}

/// Finds an infant by hospital and MRN, within `scope`.
pub fn find_by_mrn(
    conn: &mut AnyConnection,
    scope: &Scope,
    hospital_id: HospitalId,
    mrn: &str,
) -> QueryResult<Option<Infant>> {
    if !scope.allows(hospital_id) {
        return Ok(None);
    }
    crate::by_key!(
        conn,
        infants::table
            .filter(infants::hospital_id.eq(hospital_id))
            .filter(infants::mrn.eq(mrn))
            .select(Infant::as_select())
    )
}

/// An infant of the same mother (keyed ID hash), birth time and birth order, within `scope`.
pub fn find_same_birth(
    conn: &mut AnyConnection,
    scope: &Scope,
    mother_id_hash: &str,
    birth_at: UtcMicros,
    birth_order: i32,
) -> QueryResult<Option<Infant>> {
    let mut q = infants::table
        .filter(infants::mother_id_hash.eq(mother_id_hash))
        .filter(infants::birth_at.eq(birth_at))
        .filter(infants::birth_order.eq(birth_order))
        .into_boxed();
    q = crate::scoped!(q, scope, infants::hospital_id);
    q.select(Infant::as_select()).first(conn).optional()
}

/// Lists infants visible in `scope`, newest registration first, at most `limit` rows.
pub fn list(
    conn: &mut AnyConnection,
    scope: &Scope,
    f: &InfantFilter,
    limit: i64,
) -> QueryResult<Vec<Infant>> {
    let mut q = infants::table
        .filter(infants::merged_into.is_null())
        .into_boxed();
    q = crate::scoped!(q, scope, infants::hospital_id);
    if let Some(h) = &f.hospital_id {
        q = q.filter(infants::hospital_id.eq(*h));
    }
    if let Some(s) = &f.status {
        q = q.filter(infants::status.eq(*s));
    }
    if let Some(m) = &f.mrn {
        q = q.filter(infants::mrn.eq(m.clone()));
    }
    if let Some(n) = f.nicu_admitted {
        q = q.filter(infants::nicu_admitted.eq(n));
    }
    if let Some(t) = f.born_from {
        q = q.filter(infants::birth_at.ge(t));
    }
    if let Some(t) = f.born_to {
        q = q.filter(infants::birth_at.lt(t));
    }
    if let Some(id) = &f.before_id {
        q = q.filter(infants::id.lt(id.clone()));
    }
    q.order(infants::id.desc())
        .limit(limit)
        .select(Infant::as_select())
        .load(conn)
}

/// Updates an infant visible in `scope`; returns rows changed (0 = not found or not visible).
pub fn update(
    conn: &mut AnyConnection,
    scope: &Scope,
    id: InfantId,
    form: &InfantUpdateForm,
) -> QueryResult<usize> {
    let n = match scope.hospital_filter() {
        Some(h) => diesel::update(
            infants::table
                .filter(infants::id.eq(id))
                .filter(infants::hospital_id.eq(h.to_string())),
        )
        .set(form)
        .execute(conn)?,
        None => diesel::update(infants::table.filter(infants::id.eq(id)))
            .set(form)
            .execute(conn)?,
    };
    if n > 0 {
        if let Some(phones) = &form.mother_phones {
            super::phones::replace(conn, id, &phones.0)?;
        }
        crate::db::models::quality::facts::touch(conn, &[id])?;
    }
    Ok(n)
}

/// Active, unmerged infants of `scope` born at or before `born_before` with no screen of
/// `programme` (for blood spots: no card that is acceptable or not yet judged), oldest first, at
/// most `limit`. With `without_missed_case`, infants that already had a missed-screen case of the
/// programme, or whose open case of the programme covers the missing screen, are left out, so
/// the sweep's batches move on to new infants.
pub fn unscreened(
    conn: &mut AnyConnection,
    scope: &Scope,
    programme: Programme,
    born_before: UtcMicros,
    limit: i64,
    without_missed_case: bool,
) -> QueryResult<Vec<Infant>> {
    use crate::db::schema::{cases, cchd_screens, dbs_cards, hearing_screens};
    use diesel::dsl::{exists, not};
    let mut q = infants::table
        .filter(infants::status.eq(InfantStatus::Active))
        .filter(infants::merged_into.is_null())
        .filter(infants::birth_at.le(born_before))
        .into_boxed();
    q = crate::scoped!(q, scope, infants::hospital_id);
    if without_missed_case {
        q = q.filter(not(exists(
            cases::table
                .filter(cases::infant_id.eq(infants::id))
                .filter(cases::programme.eq(programme))
                .filter(
                    cases::reason
                        .eq(Reason::Missed)
                        .or(cases::open_key.is_not_null()),
                ),
        )));
    }
    q = match programme {
        Programme::Dbs => q.filter(not(exists(
            dbs_cards::table
                .filter(dbs_cards::infant_id.eq(infants::id))
                .filter(
                    dbs_cards::quality
                        .is_null()
                        .or(dbs_cards::quality.eq("acceptable")),
                ),
        ))),
        Programme::Hear => q.filter(not(exists(
            hearing_screens::table.filter(hearing_screens::infant_id.eq(infants::id)),
        ))),
        Programme::Cchd => q.filter(not(exists(
            cchd_screens::table.filter(cchd_screens::infant_id.eq(infants::id)),
        ))),
    };
    q.order(infants::birth_at.asc())
        .limit(limit)
        .select(Infant::as_select())
        .load(conn)
}

/// The unmerged infants of `scope` among `ids`, or with this keyed ID hash, or born in
/// `[born_from, born_before)` (optionally of one hospital); each list at most `limit`, by birth.
pub fn matching(
    conn: &mut AnyConnection,
    scope: &Scope,
    m: &Match,
    limit: i64,
) -> QueryResult<Vec<Infant>> {
    let mut q = infants::table
        .filter(infants::merged_into.is_null())
        .into_boxed();
    q = crate::scoped!(q, scope, infants::hospital_id);
    match m {
        Match::Ids(ids) => q = q.filter(infants::id.eq_any(ids.clone())),
        Match::IdHash(h) => q = q.filter(infants::mother_id_hash.eq(h.clone())),
        Match::Born {
            from,
            before,
            hospital,
        } => {
            q = q.filter(
                infants::birth_at
                    .ge(*from)
                    .and(infants::birth_at.lt(*before)),
            );
            if let Some(h) = hospital {
                q = q.filter(infants::hospital_id.eq(*h));
            }
        }
    }
    q.order((infants::birth_at.desc(), infants::id))
        .limit(limit)
        .select(Infant::as_select())
        .load(conn)
}

/// What [`matching`] looks for.
#[derive(Debug, Clone)]
pub enum Match {
    /// These infants.
    Ids(Vec<InfantId>),
    /// The mother's keyed ID-document hash.
    IdHash(String),
    /// Births in a span, optionally of one hospital.
    Born {
        /// At or after.
        from: UtcMicros,
        /// Before.
        before: UtcMicros,
        /// Only this hospital.
        hospital: Option<HospitalId>,
    },
}

/// `HOSPITALCODE-MRN` of each of these infants (what staff quote; never a name), by id.
pub fn refs(
    conn: &mut AnyConnection,
    ids: &[InfantId],
) -> QueryResult<std::collections::HashMap<InfantId, String>> {
    use crate::db::schema::hospitals;
    Ok(infants::table
        .inner_join(hospitals::table)
        .filter(infants::id.eq_any(ids))
        .select((infants::id, hospitals::code, infants::mrn))
        .load::<(InfantId, String, String)>(conn)?
        .into_iter()
        .map(|(id, code, mrn)| (id, crate::domain::infant::infant_ref(&code, &mrn)))
        .collect())
}

/// How many infant rows there are (merged ones included).
pub fn count(conn: &mut AnyConnection) -> QueryResult<i64> {
    infants::table.count().get_result(conn)
}
