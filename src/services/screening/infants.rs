//! Registering births and keeping infants' contact details and status current.
//! Every query goes through the caller's [`Scope`], so hospital principals only reach their own.

use chrono::{DateTime, FixedOffset, Utc};

use crate::auth::secrets;
use crate::db::models::admin::hospital;
use crate::db::models::screening::infant::{self, Infant, InfantUpdateForm};
use crate::db::types::{Json, UtcMicros};
use crate::db::{AnyConnection, write_once, write_transaction};
use crate::domain::id_card::IdDocumentType;
use crate::domain::ids::{HospitalId, InfantId};
use crate::domain::infant::{
    BirthFacts, InfantStatus, Sex, check_birth, check_id_document, check_phones,
};
use crate::domain::principal::{Principal, Scope};
use crate::domain::validation::FieldErrors;
use crate::error::{AppError, ErrorCode, is_unique_violation};
use crate::services::admin::audit;

/// A mother's identity document as submitted.
#[derive(Debug, Clone)]
pub struct IdDocumentInput {
    /// Document type.
    pub kind: IdDocumentType,
    /// The number in clear; hashed and masked here, then dropped.
    pub number: String,
}

/// A birth to register.
#[derive(Debug, Clone)]
pub struct Registration {
    /// Needed for screening-centre callers; hospital principals may omit it (their own).
    pub hospital_id: Option<HospitalId>,
    /// Sex at birth.
    pub sex: Sex,
    /// Birth facts checked by the domain.
    pub birth: BirthFacts,
    /// NICU admission.
    pub nicu_admitted: bool,
    /// Mother's name.
    pub mother_name: String,
    /// Contact phones.
    pub mother_phones: Vec<String>,
    /// Mother's identity document.
    pub mother_id: Option<IdDocumentInput>,
    /// Home address.
    pub address: Option<String>,
}

/// Contact and status changes; `None` leaves a field unchanged, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct InfantPatch {
    /// New mother's name.
    pub mother_name: Option<String>,
    /// New phone list.
    pub mother_phones: Option<Vec<String>>,
    /// New or cleared identity document.
    pub mother_id: Option<Option<IdDocumentInput>>,
    /// New or cleared address.
    pub address: Option<Option<String>>,
    /// New status.
    pub status: Option<InfantStatus>,
    /// When the status changed (date of death or transfer); defaults to now.
    pub status_changed_at: Option<DateTime<FixedOffset>>,
    /// Why (e.g. receiving hospital).
    pub status_note: Option<String>,
    /// The family opts out of (true) or back into (false) SMS.
    pub sms_opt_out: Option<bool>,
    /// Days in the NICU, or `Some(None)` to clear.
    pub nicu_days: Option<Option<i64>>,
}

/// Keyed hash, masked form and type of a checked document, for storage.
type StoredId = (IdDocumentType, String, String);

fn id_fields(doc: &IdDocumentInput, key: &[u8], e: &mut FieldErrors) -> Option<StoredId> {
    check_id_document("mother.id_number", doc.kind, &doc.number, e).map(|c| {
        let hash = secrets::hmac_hex(
            key,
            format!("{}:{}", c.kind.as_str(), c.normalised).as_bytes(),
        );
        (c.kind, hash, c.masked)
    })
}

fn optional_text(
    field: &str,
    v: Option<String>,
    max: usize,
    e: &mut FieldErrors,
) -> Option<String> {
    v.map(|a| e.text(field, &a, max)).filter(|a| !a.is_empty())
}

/// Resolves which hospital a registration belongs to. A hospital principal can only register
/// into its own hospital: naming another answers 404, as if it did not exist.
fn target_hospital(
    conn: &mut AnyConnection,
    p: &Principal,
    asked: Option<HospitalId>,
    e: &mut FieldErrors,
) -> Result<Option<HospitalId>, AppError> {
    let scope = p.scope();
    let id = match (asked, scope.hospital_filter()) {
        (Some(a), Some(own)) if a != own => return Err(AppError::NotFound { entity: "hospital" }),
        (_, Some(own)) => own,
        (Some(a), None) => a,
        (None, None) => {
            e.add("hospital_id", "is required for screening-centre users");
            return Ok(None);
        }
    };
    match hospital::get(conn, &scope, id)? {
        Some(h) if h.active => Ok(Some(id)),
        Some(_) => {
            e.add("hospital_id", "hospital is inactive");
            Ok(None)
        }
        None if scope.hospital_filter().is_some() => Err(AppError::NotFound { entity: "hospital" }),
        None => {
            e.add("hospital_id", "no such hospital");
            Ok(None)
        }
    }
}

/// Registers a birth. All checks run before anything is written; a duplicate MRN in the same
/// hospital is a 409 naming the existing record. The MRN is not looked up first: the insert meets
/// the hospital's unique MRN key (one statement fewer per birth, and no plan to go wrong on a
/// table without statistics), and only a refused insert looks for the record it met.
pub fn register(
    conn: &mut AnyConnection,
    p: &Principal,
    r: Registration,
    id_key: &[u8],
    now: DateTime<Utc>,
) -> Result<Infant, AppError> {
    let mut taken: Option<(HospitalId, String)> = None;
    let out = insert_birth(conn, p, r, id_key, now, &mut taken);
    match (out, taken) {
        (Err(_), Some((hospital_id, mrn))) => {
            // The transaction rolled back; the record the MRN key met, if the caller sees it.
            let existing = infant::find_by_mrn(conn, &p.scope(), hospital_id, &mrn)?;
            Err(match existing {
                Some(i) => duplicate(i.id),
                None => duplicate("(registered concurrently)"),
            })
        }
        (out, _) => out,
    }
}

/// [`register`]'s transaction. A refused insert (the MRN is taken) or a same-birth conflict with
/// the MRN also taken sets `taken`, and the caller answers the MRN conflict.
fn insert_birth(
    conn: &mut AnyConnection,
    p: &Principal,
    r: Registration,
    id_key: &[u8],
    now: DateTime<Utc>,
    taken: &mut Option<(HospitalId, String)>,
) -> Result<Infant, AppError> {
    // Plain reads, then one insert carrying its audit entry, facts and phones: on PostgreSQL
    // without BEGIN and COMMIT (`write_once`).
    write_once(conn, |c| {
        let mut e = FieldErrors::new();
        let hospital_id = target_hospital(c, p, r.hospital_id, &mut e)?;
        let mrn = check_birth(&r.birth, now, &mut e);
        let mother_name = e.text("mother.name", &r.mother_name, 64);
        let phones = check_phones("mother.phones", &r.mother_phones, &mut e);
        let id = r
            .mother_id
            .as_ref()
            .and_then(|d| id_fields(d, id_key, &mut e));
        let address = optional_text("address", r.address, 256, &mut e);
        e.into_result().map_err(AppError::Validation)?;
        let Some(hospital_id) = hospital_id else {
            return Err(AppError::invalid("hospital_id", "is required"));
        };
        let scope = p.scope();
        // The same mother, birth time and birth order is the same baby (twins differ in birth
        // order). Checked within what the caller can see, so no other hospital's record leaks.
        if let Some((_, hash, _)) = &id {
            let birth = UtcMicros::new(r.birth.birth_at.with_timezone(&Utc));
            let order = clamp_i32(r.birth.birth_order);
            if let Some(existing) = infant::find_same_birth(c, &scope, hash, birth, order)? {
                // A taken MRN is the answer when both are (as when it was checked first).
                if infant::find_by_mrn(c, &scope, hospital_id, &mrn)?.is_some() {
                    *taken = Some((hospital_id, mrn));
                    return Err(duplicate("(registered already)"));
                }
                return Err(AppError::conflict(
                    ErrorCode::DuplicateInfant,
                    Some("mother.id_document"),
                    format!(
                        "an infant with this mother, birth time and birth order is already registered: {}",
                        existing.id
                    ),
                ));
            }
        }
        let t = UtcMicros::new(now);
        let (id_type, id_hash, id_masked) = match id {
            Some((k, h, m)) => (Some(k), Some(h), Some(m)),
            None => (None, None, None),
        };
        let row = Infant {
            id: InfantId::new(),
            hospital_id,
            mrn,
            sex: r.sex,
            birth_at: UtcMicros::new(r.birth.birth_at.with_timezone(&Utc)),
            birth_utc_offset_minutes: r.birth.birth_at.offset().local_minus_utc() / 60,
            gestational_age_weeks: clamp_i32(r.birth.gestational_age_weeks),
            gestational_age_days: clamp_i32(r.birth.gestational_age_days),
            birth_weight_g: clamp_i32(r.birth.birth_weight_g),
            plurality: clamp_i32(r.birth.plurality),
            birth_order: clamp_i32(r.birth.birth_order),
            nicu_admitted: r.nicu_admitted,
            mother_name,
            mother_phones: Json(phones),
            mother_id_type: id_type,
            mother_id_hash: id_hash,
            mother_id_masked: id_masked,
            address,
            status: InfantStatus::Active,
            status_changed_at: None,
            status_note: None,
            created_by: p.key(),
            created_at: t,
            updated_at: t,
            contact_problem: false,
            merged_into: None,
            sms_opt_out: false,
            nicu_days: None,
        };
        // Audited first: on PostgreSQL the entry rides in the insert's statement.
        audit::write(c, p, "infant", row.id, None, &row, now)?;
        infant::insert(c, &row).map_err(|err| {
            if is_unique_violation(&err) {
                *taken = Some((hospital_id, row.mrn.clone()));
                duplicate("(registered concurrently)")
            } else {
                err.into()
            }
        })?;
        Ok(row)
    })
}

fn duplicate(existing_id: impl std::fmt::Display) -> AppError {
    AppError::conflict(
        ErrorCode::DuplicateInfant,
        Some("mrn"),
        format!("an infant with this MRN is already registered at this hospital: {existing_id}"),
    )
}

/// Values were range-checked already; this only satisfies the column type.
fn clamp_i32(v: i64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// Reads one infant in the caller's scope (404 otherwise).
pub fn get(conn: &mut AnyConnection, scope: &Scope, id: InfantId) -> Result<Infant, AppError> {
    infant::get(conn, scope, id)?.ok_or(AppError::NotFound { entity: "infant" })
}

/// Applies contact, status and NICU changes in the caller's scope. A changed NICU stay
/// re-assesses the hearing pathway under `rules` (it may now need AABR: a case opens).
pub fn update(
    conn: &mut AnyConnection,
    p: &Principal,
    rules: crate::services::screening::cards::Rules<'_>,
    id: InfantId,
    patch: InfantPatch,
    id_key: &[u8],
    now: DateTime<Utc>,
) -> Result<Infant, AppError> {
    let scope = p.scope();
    write_transaction(conn, |c| {
        let current = get(c, &scope, id)?;
        let mut e = FieldErrors::new();
        let mother_name = patch.mother_name.map(|n| e.text("mother.name", &n, 64));
        let phones = patch
            .mother_phones
            .map(|ph| check_phones("mother.phones", &ph, &mut e));
        let id_doc = patch
            .mother_id
            .map(|d| d.and_then(|d| id_fields(&d, id_key, &mut e)));
        let address = patch
            .address
            .map(|a| optional_text("address", a, 256, &mut e));
        let note = optional_text("status_note", patch.status_note, 256, &mut e);
        if patch
            .nicu_days
            .flatten()
            .is_some_and(|d| !(0..=365).contains(&d))
        {
            e.add("nicu_days", "must be between 0 and 365");
        }
        let nicu_days = patch
            .nicu_days
            .map(|d| d.and_then(|d| i32::try_from(d).ok()));
        let mut status_form = (None, None, None);
        if let Some(to) = patch.status {
            let from = current.status;
            if !from.can_change_to(to) {
                return Err(AppError::conflict(
                    ErrorCode::InvalidStatusChange,
                    Some("status"),
                    format!(
                        "status cannot change from {} to {}",
                        from.as_str(),
                        to.as_str()
                    ),
                ));
            }
            let at = patch
                .status_changed_at
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or(now);
            if at > now + chrono::Duration::minutes(5) {
                e.add("status_changed_at", "must not be in the future");
            }
            if at < current.birth_at.utc() {
                e.add("status_changed_at", "must not be before the birth");
            }
            status_form = (Some(to), Some(Some(UtcMicros::new(at))), Some(note));
        } else if patch.status_changed_at.is_some() || note.is_some() {
            e.add(
                "status",
                "is required with status_changed_at or status_note",
            );
        }
        e.into_result().map_err(AppError::Validation)?;
        let (id_type, id_hash, id_masked) = match id_doc {
            None => (None, None, None),
            Some(None) => (Some(None), Some(None), Some(None)),
            Some(Some((k, h, m))) => (Some(Some(k)), Some(Some(h)), Some(Some(m))),
        };
        let (phones_changed, address_changed) = (phones.is_some(), address.is_some());
        let form = InfantUpdateForm {
            mother_name,
            mother_phones: phones.map(Json),
            mother_id_type: id_type,
            mother_id_hash: id_hash,
            mother_id_masked: id_masked,
            address,
            status: status_form.0,
            status_changed_at: status_form.1,
            status_note: status_form.2,
            updated_at: Some(UtcMicros::new(now)),
            // New phone numbers or address answer a contact problem.
            contact_problem: (phones_changed || address_changed).then_some(false),
            merged_into: None,
            sms_opt_out: patch.sms_opt_out,
            nicu_admitted: nicu_days.flatten().is_some_and(|d| d > 0).then_some(true),
            nicu_days,
        };
        infant::update(c, &scope, id, &form)?;
        if form.contact_problem == Some(false) {
            crate::db::models::follow_up::case::clear_contact_problem(c, id, UtcMicros::new(now))?;
        }
        if patch.sms_opt_out == Some(true) && !current.sms_opt_out {
            // The family can no longer be reached by SMS: every open case needs another channel
            // now, not when the next SMS would have gone out.
            for case_id in crate::db::models::follow_up::case::open_ids_of_infant(c, id)? {
                crate::services::follow_up::contacts::flag_contact_problem(
                    c,
                    case_id,
                    serde_json::json!({"source": "infant_update", "reason": "sms_opt_out",
                        "needs": "another channel (phone call, home visit, via hospital)"}),
                    p,
                    now,
                )?;
            }
        }
        let updated = get(c, &scope, id)?;
        audit::write(c, p, "infant", id, Some(&current), &updated, now)?;
        if updated.nicu_days != current.nicu_days {
            crate::services::screening::screens::reassess_hearing(c, rules, &updated, now)?;
        }
        Ok(updated)
    })
}
