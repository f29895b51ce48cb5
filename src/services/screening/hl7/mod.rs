//! HL7 v2 `ORU^R01` results from a laboratory, applied as receipts and results through the same
//! services as the JSON plates, and answered with an `ACK`: `AA` when every card was stored,
//! `AE` with one `ERR` per card that was not (the others land), `AR` when the message itself
//! cannot be read or is not one we take. A message resent under the same sending facility and
//! control id (MSH-10) gets the stored `ACK` and writes nothing.

mod batch;

pub use batch::ingest_body;

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, Utc};
use serde_json::json;

use crate::config::{Hl7Settings, LabProfile};
use crate::db::AnyConnection;
use crate::db::models::admin::hospital;
use crate::db::models::quality::facts;
use crate::db::models::screening::dbs;
use crate::db::models::screening::hl7::{self as stored, AppliedCard, Hl7Message};
use crate::db::types::{Json, UtcMicros};
use crate::domain::hl7::{
    AckCode, AckError, AckHeader, CardReport, LA_ACCEPTABLE, Oru, ack, analytes, read,
};
use crate::domain::interpretation::CardOutcome;
use crate::domain::principal::Scope;
use crate::error::{AppError, is_unique_violation};
use crate::services::screening::cards::{self, Rules, stored_results};
use crate::services::screening::results::{self, CardResults, ResultInput};

/// Our application name in the ACKs.
const APPLICATION: &str = "GUTHRIE";

/// Whether the laboratory itself found the card abnormal (an OBX-8 flag other than `N`, or an
/// interpretation answer of "out of range"), and its flags as `code=flag` texts.
fn lab_verdict(c: &CardReport) -> (bool, Vec<String>) {
    const OUT_OF_RANGE: [&str; 2] = ["LA18593-6", "LA25817-0"];
    let mut abnormal = false;
    let mut flags = vec![];
    for o in &c.observations {
        let flag = o.flag.trim();
        if !flag.is_empty() {
            flags.push(format!("{}={flag}", o.code));
            abnormal |= flag != "N";
        }
        let answer = o.value.split('^').next().unwrap_or("");
        if OUT_OF_RANGE.contains(&answer) {
            flags.push(format!("{}={answer}", o.code));
            abnormal = true;
        }
    }
    (abnormal, flags)
}

/// Why a card's transaction (or, in a batch's group, the group's) did not commit.
enum CardFailure {
    /// The card was refused (an `ERR`); nothing of it was written. In a group, which gives
    /// cards no savepoint of their own, the group is rolled back and applied message by message.
    Refused(String),
    /// The database failed.
    Db(AppError),
}

/// A card refused by the receipt or results service: its field errors, for the `ERR`; a
/// database failure stays one.
fn refused(barcode: &str, step: &str, e: AppError) -> CardFailure {
    match e {
        AppError::Db(e) => CardFailure::Db(AppError::Db(e)),
        e => {
            let o = crate::services::screening::results::failed(barcode, e);
            let why: Vec<String> = o
                .errors
                .iter()
                .map(|(f, m)| format!("{f}: {}", m.join(", ")))
                .collect();
            CardFailure::Refused(format!("{step} of card {barcode}: {}", why.join("; ")))
        }
    }
}

impl From<AppError> for CardFailure {
    fn from(e: AppError) -> Self {
        CardFailure::Db(e)
    }
}

impl From<diesel::result::Error> for CardFailure {
    fn from(e: diesel::result::Error) -> Self {
        CardFailure::Db(AppError::Db(e))
    }
}

/// What came of a message.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The ACK to send back.
    pub ack: String,
    /// Its code.
    pub code: AckCode,
    /// Cards in the message.
    pub cards: usize,
    /// Cards not stored.
    pub rejected: usize,
    /// The message had been received before: this is its stored ACK.
    pub replayed: bool,
}

/// A fresh control id for an ACK (MSH-10, at most 20 characters).
fn control_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()[..20].to_string()
}

fn header(m: &Oru) -> AckHeader {
    AckHeader {
        sending_application: APPLICATION.into(),
        sending_facility: m.receiving_facility.clone(),
        receiving_application: m.sending_application.clone(),
        receiving_facility: m.sending_facility.clone(),
        acknowledged: m.control_id.clone(),
        control_id: control_id(),
    }
}

/// An `AR`: the message (or frame) was not read, for `reason`, with its table 0357 code.
pub fn reject(code: (&'static str, &'static str), reason: String, now: DateTime<Utc>) -> Outcome {
    let h = AckHeader {
        sending_application: APPLICATION.into(),
        sending_facility: String::new(),
        receiving_application: String::new(),
        receiving_facility: String::new(),
        acknowledged: String::new(),
        control_id: control_id(),
    };
    let e = err("MSH", code.0, code.1, reason);
    Outcome {
        ack: ack(&h, AckCode::Ar, &[e], now),
        code: AckCode::Ar,
        cards: 0,
        rejected: 0,
        replayed: false,
    }
}

/// The `AR` of a message that failed for a reason of ours (the database): nothing was kept, so
/// the laboratory sends it again.
pub fn retry(now: DateTime<Utc>) -> Outcome {
    reject(
        ("207", "Application internal error"),
        "the message could not be processed now; send it again".into(),
        now,
    )
}

fn err(location: &str, code: &'static str, code_text: &'static str, message: String) -> AckError {
    AckError {
        location: location.to_string(),
        code,
        code_text,
        message,
    }
}

/// A body's text: in the character set its MSH-18 names, else its laboratory's (MSH-4 picks the
/// profile; MSH is ASCII), else UTF-8. `None` when the bytes are not valid in it.
pub fn text_of(settings: &Hl7Settings, body: &[u8]) -> Option<String> {
    let default = crate::domain::hl7::facility_of(body)
        .and_then(|f| settings.labs.get(&f))
        .and_then(|l| l.charset.clone());
    crate::domain::hl7::decode(body, default.as_deref())
}

/// Logs what came of each message (codes and counts, never content).
pub fn log(outcomes: &[Outcome], transport: &'static str) {
    for o in outcomes {
        tracing::info!(
            hl7.ack = o.code.as_str(),
            hl7.cards = o.cards,
            hl7.rejected = o.rejected,
            hl7.replayed = o.replayed,
            hl7.transport = transport,
            "hl7 message"
        );
    }
}

/// Forgets the raw text of messages received more than `days` before `now` (the
/// `hl7_retention` job); returns how many.
pub fn expire(conn: &mut AnyConnection, days: i64, now: DateTime<Utc>) -> Result<usize, AppError> {
    Ok(stored::expire_raw(
        conn,
        UtcMicros::new(now - chrono::Duration::days(days)),
    )?)
}

/// Birth hospitals' codes (PID-3.4, the MRN's authority) by id, as read.
type HospitalCodes = std::collections::HashMap<crate::domain::ids::HospitalId, Option<String>>;

/// A card checked and ready to apply: its row and infant, its quality and its values.
struct Ready {
    barcode: String,
    card: dbs::Card,
    infant: crate::db::models::screening::infant::Infant,
    quality: String,
    results: CardResults,
}

/// Checks a card before anything is written: its barcode names one registered card (`found`:
/// the cards its barcode names), the laboratory's MRN matches, its quality code and analytes
/// map. `Ok(Err(..))` is the card's `ERR`.
fn prepare(
    conn: &mut AnyConnection,
    lab: &LabProfile,
    rules: Rules<'_>,
    c: &CardReport,
    barcode: String,
    mut found: Vec<(dbs::Card, crate::db::models::screening::infant::Infant)>,
    codes: &mut HospitalCodes,
) -> Result<Result<Ready, AckError>, AppError> {
    let (card, infant) = match (found.pop(), found.is_empty()) {
        (Some(one), true) => one,
        (other, _) => {
            let why = if other.is_none() {
                "unknown"
            } else {
                "ambiguous"
            };
            return Ok(Err(err(
                &c.location,
                "204",
                "Unknown key identifier",
                format!("{why} card barcode {barcode}"),
            )));
        }
    };
    // The laboratory's MRN (and its authority, the birth hospital's code) must be the
    // registration's: a mismatch means the wrong card or the wrong infant.
    if let Some(mrn) = &c.mrn {
        let authority_differs = match &c.mrn_authority {
            None => false,
            Some(a) => {
                // Read once per hospital in a message or a batch's group.
                let code = match codes.get(&infant.hospital_id) {
                    Some(code) => code.clone(),
                    None => {
                        let code = hospital::get(conn, &Scope::unrestricted(), infant.hospital_id)?
                            .map(|h| h.code);
                        codes.insert(infant.hospital_id, code.clone());
                        code
                    }
                };
                Some(a) != code.as_ref()
            }
        };
        if infant.mrn != *mrn || authority_differs {
            return Ok(Err(err(
                &c.location,
                "207",
                "Application internal error",
                format!("MRN {mrn} does not match the registration of card {barcode}"),
            )));
        }
    }
    let quality = match &c.quality {
        None => "acceptable".to_string(),
        Some(q) => match lab.quality.get(q) {
            Some(mapped) => mapped.clone(),
            None if q == LA_ACCEPTABLE => "acceptable".into(),
            None => {
                return Ok(Err(err(
                    &c.location,
                    "103",
                    "Table value not found",
                    format!("unknown sample quality code {q}"),
                )));
            }
        },
    };
    // The analytes are checked before anything is written.
    let values = if quality == "acceptable" {
        match analytes(c, lab.profile(), rules.interp.catalogue()) {
            Ok(v) => v,
            Err(p) => {
                return Ok(Err(err(
                    p.location(),
                    "103",
                    "Table value not found",
                    format!("card {barcode}: {p}"),
                )));
            }
        }
    } else {
        vec![]
    };
    let results = CardResults {
        barcode: barcode.clone(),
        results: values
            .into_iter()
            .map(|(analyte, value, unit)| ResultInput {
                analyte,
                value: json!(value),
                unit,
            })
            .collect(),
        tested_at: c.tested_at,
        reported_at: c.reported_at,
    };
    Ok(Ok(Ready {
        barcode,
        card,
        infant,
        quality,
        results,
    }))
}

/// Applies a checked card in the caller's transaction: its receipt when it has none, its
/// results (`before`: the card's stored values, read here when `None`), and the mark that this
/// message's card was applied, with the laboratory's verdict beside ours — written now, or left
/// in `marks` for the caller to write.
#[allow(clippy::too_many_arguments)]
fn apply_card(
    conn: &mut AnyConnection,
    rules: Rules<'_>,
    c: &CardReport,
    ready: &Ready,
    before: Option<BTreeMap<String, f64>>,
    (facility, control): &(String, String),
    now: DateTime<Utc>,
    marks: Option<&mut Vec<AppliedCard>>,
) -> Result<(), CardFailure> {
    let Ready {
        barcode,
        card,
        infant,
        quality,
        results,
    } = ready;
    let before = match before {
        Some(b) => b,
        None => stored_results(conn, card.id)?,
    };
    let mut card = card.clone();
    let mut ours = None;
    if card.received_at.is_none() {
        // Recorded as of the laboratory's receipt time. With results in the same
        // message, their interpretation is the card's first; without (a rejected
        // card), the receipt is interpreted on its own.
        let at = c.received_at.unwrap_or(now).min(now);
        if results.results.is_empty() {
            let (received, i) =
                cards::receive_loaded(conn, rules, card, infant, &before, at, quality, at)
                    .map_err(|e| refused(barcode, "receipt", e))?;
            card = received;
            ours = Some(i.outcome);
        } else {
            card = cards::record_receipt(conn, rules, card, at, quality, at)
                .map_err(|e| refused(barcode, "receipt", e))?;
        }
    }
    if !results.results.is_empty() {
        let i = results::submit_loaded(conn, rules, &card, infant, before, results, now)
            .map_err(|e| refused(barcode, "results", e))?;
        ours = Some(i.outcome);
    }
    let ours = match ours {
        Some(o) => o,
        None => crate::db::models::screening::dbs::latest_interpretation(conn, card.id)?
            .map(|r| r.outcome)
            .unwrap_or(CardOutcome::AwaitingResults),
    };
    let (lab_abnormal, lab_flags) = lab_verdict(c);
    // Only a verdict on the values compares: not a card still awaiting results, a
    // rejected one or one collected too early.
    let we_flag = matches!(
        ours,
        CardOutcome::BorderlineRepeat | CardOutcome::Positive | CardOutcome::Critical
    );
    let tested = we_flag || ours == CardOutcome::Normal;
    let mark = AppliedCard {
        sending_facility: facility.to_string(),
        control_id: control.to_string(),
        barcode: barcode.clone(),
        stored_at: UtcMicros::new(now),
        card_id: card.id,
        lab_abnormal,
        lab_flags: Json(lab_flags),
        outcome: ours,
        disagrees: tested && lab_abnormal != we_flag,
    };
    match marks {
        Some(marks) => marks.push(mark),
        None => stored::mark_card(conn, &mark)?,
    }
    Ok(())
}

/// A message read against its laboratory's profile, or the answer it gets without touching
/// the database (not HL7, no profile, not a message we take).
enum Received<'s> {
    Answered(Outcome),
    Oru(Box<Oru>, &'s LabProfile),
}

/// Reads a message and finds its laboratory's profile.
fn receive<'s>(settings: &'s Hl7Settings, raw: &str, now: DateTime<Utc>) -> Received<'s> {
    let parsed = match read(raw) {
        Ok(p) => p,
        Err(e) => return Received::Answered(reject(e.code(), e.to_string(), now)),
    };
    let facility = parsed.sending_facility();
    let Some(lab) = settings.labs.get(&facility) else {
        return Received::Answered(reject(
            ("204", "Unknown key identifier"),
            format!("no laboratory profile for sending facility {facility}"),
            now,
        ));
    };
    let Some(local) = FixedOffset::east_opt(lab.utc_offset_minutes * 60) else {
        // Configuration validation keeps this out; never a guessed time.
        tracing::error!("an hl7 laboratory profile has an invalid utc_offset_minutes");
        return Received::Answered(retry(now));
    };
    match parsed.oru(lab.barcode, local) {
        Ok(m) => Received::Oru(Box::new(m), lab),
        Err(e) => Received::Answered(reject(e.code(), e.to_string(), now)),
    }
}

/// Applies one message from the principal `rules.who`: each card in its own transaction.
pub fn ingest(
    conn: &mut AnyConnection,
    settings: &Hl7Settings,
    rules: Rules<'_>,
    raw: &str,
    now: DateTime<Utc>,
) -> Result<Outcome, AppError> {
    let (m, lab) = match receive(settings, raw, now) {
        Received::Answered(o) => return Ok(o),
        Received::Oru(m, lab) => (m, lab),
    };
    match apply_message(conn, rules, raw, &m, lab, now, None) {
        Ok(o) => Ok(o),
        Err(CardFailure::Db(e)) => Err(e),
        // Only a group stops on a refused card.
        Err(CardFailure::Refused(_)) => Err(AppError::Unexpected(anyhow::anyhow!(
            "an hl7 card was refused outside a group"
        ))),
    }
}

/// Applies a read message. Alone (`group` = `None`), each card is its own transaction and the
/// message's row is written at once. In a group (the caller's transaction, see
/// [`batch`]), what the group read before is used instead of a query per card, cards get no
/// savepoint (a card refused part-way stops the group with [`CardFailure::Refused`]), and the
/// message's row and card marks are left in the group for its end.
fn apply_message(
    conn: &mut AnyConnection,
    rules: Rules<'_>,
    raw: &str,
    m: &Oru,
    lab: &LabProfile,
    now: DateTime<Utc>,
    mut group: Option<&mut batch::Group>,
) -> Result<Outcome, CardFailure> {
    let key = (m.sending_facility.clone(), m.control_id.clone());
    let seen = match &group {
        Some(g) => g.seen.get(&key).cloned(),
        None => stored::find(conn, &m.sending_facility, &m.control_id)?,
    };
    if let Some(seen) = seen {
        return Ok(replay(seen));
    }
    let mut errors: Vec<AckError> = vec![];
    let mut codes = HospitalCodes::new();
    for c in &m.cards {
        let Some(barcode) = c.barcode.clone() else {
            errors.push(err(
                &c.location,
                "101",
                "Required field missing",
                "the card's barcode is missing".into(),
            ));
            continue;
        };
        // Applied already, before a crash cut the message short: exactly once.
        let done = match &group {
            Some(g) => g
                .done
                .contains(&(key.0.clone(), key.1.clone(), barcode.clone())),
            None => stored::card_done(conn, &m.sending_facility, &m.control_id, &barcode)?,
        };
        if done {
            continue;
        }
        let (found, before) = match group.as_deref_mut().and_then(|g| g.take(&barcode)) {
            Some(read) => read,
            None => (dbs::card_with_infant(conn, &barcode)?, None),
        };
        let codes = match group.as_deref_mut() {
            Some(g) => &mut g.hospital_codes,
            None => &mut codes,
        };
        let ready = match prepare(conn, lab, rules, c, barcode, found, codes)? {
            Ok(r) => r,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let applied = match group.as_deref_mut() {
            // The group's transaction holds the card: a refusal rolls it all back.
            Some(g) => {
                apply_card(
                    conn,
                    rules,
                    c,
                    &ready,
                    before,
                    &key,
                    now,
                    Some(&mut g.marks),
                )?;
                Ok(())
            }
            // The card's receipt, results and mark in one transaction: all or nothing.
            None => crate::db::write_transaction(conn, |conn| {
                facts::deferred(conn, |conn| {
                    apply_card(conn, rules, c, &ready, before, &key, now, None)
                })
            }),
        };
        match applied {
            Ok(()) => {}
            Err(CardFailure::Refused(message)) => errors.push(err(
                &c.location,
                "207",
                "Application internal error",
                message,
            )),
            Err(e) => return Err(e),
        }
    }
    let code = if errors.is_empty() {
        AckCode::Aa
    } else {
        AckCode::Ae
    };
    let text = ack(&header(m), code, &errors, now);
    let row = Hl7Message {
        id: uuid::Uuid::now_v7().to_string(),
        sending_facility: m.sending_facility.clone(),
        control_id: m.control_id.clone(),
        received_by: rules.who.key(),
        received_at: UtcMicros::new(now),
        ack_code: code.as_str().into(),
        ack: text.clone(),
        cards: i32::try_from(m.cards.len()).unwrap_or(i32::MAX),
        rejected: i32::try_from(errors.len()).unwrap_or(i32::MAX),
        raw: raw.to_string(),
    };
    let audited = json!({"sending_facility": row.sending_facility, "control_id": row.control_id,
                "ack_code": row.ack_code, "cards": row.cards, "rejected": row.rejected});
    match group {
        // Written at the group's end; the same message later in the group gets this ACK.
        Some(g) => g.add_message(key, row.clone()),
        None => match stored::insert(conn, &row) {
            Ok(()) => {}
            // The same message, sent twice at once: the first one's ACK stands.
            Err(e) if is_unique_violation(&e) => {
                if let Some(seen) = stored::find(conn, &m.sending_facility, &m.control_id)? {
                    return Ok(replay(seen));
                }
            }
            Err(e) => return Err(e.into()),
        },
    }
    let who = rules.who;
    crate::services::admin::audit::write(conn, who, "hl7_message", &row.id, None, &audited, now)?;
    Ok(Outcome {
        ack: text,
        code,
        cards: m.cards.len(),
        rejected: errors.len(),
        replayed: false,
    })
}

fn replay(seen: Hl7Message) -> Outcome {
    let code = match seen.ack_code.as_str() {
        "AA" => AckCode::Aa,
        "AR" => AckCode::Ar,
        _ => AckCode::Ae,
    };
    Outcome {
        ack: seen.ack,
        code,
        cards: usize::try_from(seen.cards).unwrap_or(0),
        rejected: usize::try_from(seen.rejected).unwrap_or(0),
        replayed: true,
    }
}
