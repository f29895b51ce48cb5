//! Finding an infant the way staff are asked about one: by infant reference (`HOSPITALCODE-MRN`),
//! hospital and MRN, card barcode, the mother's phone number, the mother's identity-document
//! number (matched by its keyed hash, never stored or shown in full), or a birth-date range.
//! Exact matches of the text come first; at most [`MAX_HITS`] infants, each read audited.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::auth::secrets;
use crate::db::AnyConnection;
use crate::db::models::admin::hospital;
use crate::db::models::screening::infant::{self, Infant, Match};
use crate::db::models::screening::{dbs, phones};
use crate::db::types::UtcMicros;
use crate::domain::id_card::{self, IdDocumentType};
use crate::domain::ids::{HospitalId, InfantId};
use crate::domain::principal::{Principal, Scope};
use crate::domain::quality::birth_span;
use crate::error::AppError;

/// The most infants a search shows.
pub const MAX_HITS: usize = 20;

/// What staff typed and chose.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// A reference, MRN, barcode, phone number or ID number.
    pub text: Option<String>,
    /// Only this hospital (and with it, MRNs alone match).
    pub hospital: Option<HospitalId>,
    /// Born on or after this day (China time).
    pub born_from: Option<NaiveDate>,
    /// Born on or before this day.
    pub born_to: Option<NaiveDate>,
}

/// One infant found, and how.
#[derive(Debug, Clone)]
pub struct Hit {
    /// The infant.
    pub infant: Infant,
    /// `reference`, `mrn`, `barcode`, `phone`, `id_number` or `birth_date`.
    pub matched: &'static str,
}

fn push(hits: &mut Vec<Hit>, found: Vec<Infant>, matched: &'static str) {
    for i in found {
        if hits.len() < MAX_HITS && !hits.iter().any(|h| h.infant.id == i.id) {
            hits.push(Hit { infant: i, matched });
        }
    }
}

fn ids(
    conn: &mut AnyConnection,
    scope: &Scope,
    ids: Vec<InfantId>,
) -> Result<Vec<Infant>, AppError> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    Ok(infant::matching(
        conn,
        scope,
        &Match::Ids(ids),
        MAX_HITS as i64,
    )?)
}

/// Searches the infants `p` may see; `id_key` is the key of the ID-number hashes.
pub fn search(
    conn: &mut AnyConnection,
    p: &Principal,
    q: &Query,
    id_key: &[u8],
    now: DateTime<Utc>,
) -> Result<Vec<Hit>, AppError> {
    let scope = p.scope();
    let hospital = q.hospital.or(scope.hospital_filter());
    let mut hits = vec![];
    if let Some(text) = q.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        // HOSPITALCODE-MRN.
        if let Some((code, mrn)) = text.split_once('-')
            && let Some(h) = hospital::find_by_code(conn, code)?
            && let Some(i) = infant::find_by_mrn(conn, &scope, h.id, mrn)?
        {
            push(&mut hits, vec![i], "reference");
        }
        if let Some(h) = hospital
            && let Some(i) = infant::find_by_mrn(conn, &scope, h, text)?
        {
            push(&mut hits, vec![i], "mrn");
        }
        let by_card = dbs::find_by_barcode(conn, &scope, text)?
            .into_iter()
            .map(|c| c.infant_id)
            .collect();
        let found = ids(conn, &scope, by_card)?;
        push(&mut hits, found, "barcode");
        let phone: String = text.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        let digits = phone.strip_prefix('+').unwrap_or(&phone);
        if (7..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) {
            let with_phone = phones::infants_with(conn, &phone)?;
            let found = ids(conn, &scope, with_phone)?;
            push(&mut hits, found, "phone");
        }
        for kind in IdDocumentType::ALL {
            if let Ok(n) = id_card::normalise(*kind, text) {
                let hash = secrets::hmac_hex(id_key, format!("{}:{n}", kind.as_str()).as_bytes());
                let found = infant::matching(conn, &scope, &Match::IdHash(hash), MAX_HITS as i64)?;
                push(&mut hits, found, "id_number");
            }
        }
    }
    if q.born_from.is_some() || q.born_to.is_some() {
        let to = q
            .born_to
            .unwrap_or_else(|| crate::services::admin::versions::local_day(now));
        let from = q.born_from.unwrap_or(to - Duration::days(7));
        if from <= to {
            let (from, before) = birth_span(from, to);
            let m = Match::Born {
                from: UtcMicros::new(from),
                before: UtcMicros::new(before),
                hospital,
            };
            let found = infant::matching(conn, &scope, &m, MAX_HITS as i64)?;
            push(&mut hits, found, "birth_date");
        }
    }
    crate::services::admin::audit::list_read(
        conn,
        p,
        "infant",
        hits.iter().map(|h| h.infant.id),
        now,
    )?;
    Ok(hits)
}
