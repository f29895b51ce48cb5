//! HL7 v2.5.1 `ORU^R01` result messages from a screening laboratory, read into what Guthrie
//! needs per card (the barcode that joins it to a registered card, the infant's MRN for a
//! cross-check, the laboratory's collection, receipt and report times, the sample quality, the
//! observations with their codes, units and the laboratory's own flags), and the `ACK` written
//! back. Structure only: which code is which analyte and which unit is which is the laboratory
//! profile's business ([`Profile`]), and an unknown code or unit is an error naming it, never a
//! guess. The text is read by [`er7`], our own zero-copy reader; nothing here touches a database.

pub mod er7;

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};
use er7::{Message, Segment, Separators};

use crate::domain::catalogue::Catalogue;

/// The LOINC code of the current card's barcode (a card-data question in the report summary).
pub const LOINC_BARCODE: &str = "57723-9";
/// The LOINC code of the sample quality of a dried blood spot.
pub const LOINC_SAMPLE_QUALITY: &str = "57718-9";
/// The LOINC answer for an acceptable sample.
pub const LA_ACCEPTABLE: &str = "LA12432-3";

/// Where a laboratory puts the card's barcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BarcodeAt {
    /// An OBX with LOINC 57723-9 (the NDBS implementation guide's place).
    Obx57723,
    /// SPM-2.1, the specimen's placer id.
    Spm2,
    /// OBR-2.1, the placer order number.
    Obr2,
}

/// Why a whole message is rejected (`AR`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// Not parseable as HL7 v2.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A message type other than `ORU^R01`.
    #[error("unsupported message type {0}")]
    MessageType(String),
    /// A version outside 2.3.1–2.5.1.
    #[error("unsupported version {0}")]
    Version(String),
    /// A processing id other than `P` (production) or `T` (training).
    #[error("unsupported processing id {0}")]
    ProcessingId(String),
}

/// One OBX as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// OBX-3.1, the first (usually LOINC) code.
    pub code: String,
    /// OBX-3.4, the alternate (usually local) code, if any.
    pub alt_code: Option<String>,
    /// OBX-5, decoded.
    pub value: String,
    /// OBX-6.1, the unit.
    pub unit: String,
    /// OBX-8, the laboratory's abnormal flag (`N`, `H`, `HH`, `L`, `LL`, `A`, …).
    pub flag: String,
    /// OBX-11, the result status (`F` final, `C` corrected, …).
    pub status: String,
    /// OBX-29: `QST` for a question about the card (birth weight, age), `RSLT` for a result.
    pub kind: String,
    /// Where it is, for an `ERR` (`OBX^<n>` counting OBX segments in the message).
    pub location: String,
}

/// What one card's results say: one patient group (PID … its OBR/OBX/SPM segments).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CardReport {
    /// The card's barcode, where the profile says it is.
    pub barcode: Option<String>,
    /// PID-3.1, the infant's medical record number.
    pub mrn: Option<String>,
    /// PID-3.4, the authority that assigned it (the birth hospital's code).
    pub mrn_authority: Option<String>,
    /// SPM-17 or OBR-7: when the card was collected.
    pub collected_at: Option<DateTime<Utc>>,
    /// SPM-18: when the laboratory received it.
    pub received_at: Option<DateTime<Utc>>,
    /// OBR-22: when the results were reported.
    pub reported_at: Option<DateTime<Utc>>,
    /// The latest OBX-14 (observation time) of its results: when the card was tested.
    pub tested_at: Option<DateTime<Utc>>,
    /// OBX 57718-9's answer code (LA12432-3 acceptable, else a reason).
    pub quality: Option<String>,
    /// Every other observation, in order.
    pub observations: Vec<Observation>,
    /// Where the group starts, for an `ERR` (`PID^<n>`).
    pub location: String,
}

/// A parsed `ORU^R01`.
#[derive(Debug, Clone, PartialEq)]
pub struct Oru {
    /// MSH-3.1.
    pub sending_application: String,
    /// MSH-4.1: with MSH-10, the message's identity.
    pub sending_facility: String,
    /// MSH-5.1.
    pub receiving_application: String,
    /// MSH-6.1.
    pub receiving_facility: String,
    /// MSH-10.
    pub control_id: String,
    /// MSH-12.
    pub version: String,
    /// The cards, one per patient group.
    pub cards: Vec<CardReport>,
}

/// An HL7 timestamp (`YYYYMMDD[HH[MM[SS[.S…]]]][+/-ZZZZ]`) as a UTC instant; without an offset it
/// is read in `local` (the laboratory's time zone).
pub fn timestamp(s: &str, local: FixedOffset) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let (body, offset) = match s.find(['+', '-']) {
        Some(i) if i >= 8 => (&s[..i], Some(&s[i..])),
        _ => (s, None),
    };
    let body = body.split('.').next().unwrap_or(body);
    if body.len() < 8 || !body.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let num = |a: usize, b: usize| body.get(a..b).and_then(|x| x.parse::<u32>().ok());
    let date = NaiveDate::from_ymd_opt(i32::try_from(num(0, 4)?).ok()?, num(4, 6)?, num(6, 8)?)?;
    let time = NaiveTime::from_hms_opt(
        num(8, 10).unwrap_or(0),
        num(10, 12).unwrap_or(0),
        num(12, 14).unwrap_or(0),
    )?;
    let tz = match offset {
        Some(o) if o.len() == 5 => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let h: i32 = o[1..3].parse().ok()?;
            let m: i32 = o[3..5].parse().ok()?;
            FixedOffset::east_opt(sign * (h * 3600 + m * 60))?
        }
        Some(_) => return None,
        None => local,
    };
    tz.from_local_datetime(&NaiveDateTime::new(date, time))
        .single()
        .map(|t| t.with_timezone(&Utc))
}

fn field<'a>(s: &Segment<'a>, n: usize) -> &'a str {
    s.field(n)
}

fn component<'a>(s: &Segment<'a>, n: usize, c: usize) -> &'a str {
    s.component(n, c)
}

fn decoded(seps: &Separators, raw: &str) -> String {
    seps.decode(raw).to_string()
}

impl Rejected {
    /// The HL7 table 0357 code and text of its `ERR`.
    pub fn code(&self) -> (&'static str, &'static str) {
        match self {
            Rejected::Malformed(_) => ("100", "Segment sequence error"),
            Rejected::MessageType(_) => ("200", "Unsupported message type"),
            Rejected::Version(_) => ("203", "Unsupported version id"),
            Rejected::ProcessingId(_) => ("202", "Unsupported processing id"),
        }
    }
}

/// Field `n` of a body's first MSH segment, read from its bytes (MSH is ASCII whatever the
/// message's character set).
fn msh_bytes(body: &[u8], n: usize) -> Option<&[u8]> {
    let start = body.windows(3).position(|w| w == b"MSH")?;
    let seg = &body[start..];
    let end = seg
        .iter()
        .position(|b| *b == b'\r' || *b == b'\n')
        .unwrap_or(seg.len());
    let seg = &seg[..end];
    let sep = *seg.get(3)?;
    // MSH-1 is the separator itself: MSH-n is the n-th piece after splitting at it.
    seg.split(|b| *b == sep).nth(n - 1)
}

/// The sending facility (MSH-4.1) of a body, read from its bytes.
pub fn facility_of(body: &[u8]) -> Option<String> {
    let f = msh_bytes(body, 4)?;
    let first = f.split(|b| *b == b'^').next().unwrap_or(f);
    std::str::from_utf8(first)
        .ok()
        .map(String::from)
        .filter(|f| !f.is_empty())
}

/// The sending facility (MSH-4.1) and control id (MSH-10) of a message's text, read from its
/// header without parsing the rest (escapes are not decoded: a caller compares them with the
/// parsed message's).
pub fn identity_of(text: &str) -> Option<(String, String)> {
    let facility = facility_of(text.as_bytes())?;
    let control = std::str::from_utf8(msh_bytes(text.as_bytes(), 10)?).ok()?;
    Some((facility, control.to_string())).filter(|(_, c)| !c.is_empty())
}

/// The body as text: in the character set MSH-18 names (`UNICODE UTF-8`, `GB 18030-2000`, `GBK`,
/// `8859/1`, `ASCII`), else in `default` (the laboratory's), else UTF-8. `None` when the bytes are
/// not valid in that character set (never a guess).
pub fn decode(body: &[u8], default: Option<&str>) -> Option<String> {
    let named = msh_bytes(body, 18)
        .and_then(|f| std::str::from_utf8(f).ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from);
    let label = named.or_else(|| default.map(String::from));
    let encoding = match label.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("UNICODE UTF-8" | "UTF-8" | "ASCII") => encoding_rs::UTF_8,
        Some("GB 18030-2000" | "GB18030" | "GB 18030") => encoding_rs::GB18030,
        Some("GBK") => encoding_rs::GBK,
        Some("8859/1") => encoding_rs::WINDOWS_1252,
        Some(other) => encoding_rs::Encoding::for_label(other.as_bytes())?,
    };
    encoding
        .decode_without_bom_handling_and_without_replacement(body)
        .map(|c| c.into_owned())
}

/// The messages of a batch (`FHS`/`BHS` … `MSH` … `BTS`/`FTS`), each from its `MSH` to the
/// next; `None` when the text is a single message (it starts with `MSH`).
pub fn split_batch(text: &str) -> Option<Vec<&str>> {
    let body = text.trim_start_matches('\u{feff}').trim_start();
    if !(body.starts_with("FHS") || body.starts_with("BHS")) {
        return None;
    }
    let mut out = vec![];
    // The current message's start and end (the end of its last segment so far).
    let mut current: Option<(usize, usize)> = None;
    let mut at = 0;
    for line in body.split_inclusive(['\r', '\n']) {
        let start = at;
        at += line.len();
        let segment = line.trim_end_matches(['\r', '\n']);
        if segment.starts_with("MSH") {
            if let Some((from, to)) = current.take() {
                out.push(&body[from..to]);
            }
            current = Some((start, start + segment.len()));
        } else if ["BTS", "FTS", "BHS", "FHS"]
            .iter()
            .any(|t| segment.starts_with(t))
        {
            // A batch header or trailer ends the message before it.
            if let Some((from, to)) = current.take() {
                out.push(&body[from..to]);
            }
        } else if let Some((_, to)) = current.as_mut()
            && !segment.is_empty()
        {
            *to = start + segment.len();
        }
    }
    if let Some((from, to)) = current {
        out.push(&body[from..to]);
    }
    Some(out)
}

/// Wraps the ACKs of a batch's messages in a batch of their own (`BHS` … `BTS`).
pub fn batch_ack(acks: &[String], at: DateTime<Utc>) -> String {
    let cst = FixedOffset::east_opt(8 * 3600).unwrap_or(Utc.fix());
    let mut out = format!(
        "BHS|^~\\&|GUTHRIE||||{}\r",
        at.with_timezone(&cst).format("%Y%m%d%H%M%S%z")
    );
    for a in acks {
        out.push_str(a);
    }
    out.push_str(&format!("BTS|{}\r", acks.len()));
    out
}

/// Reads an `ORU^R01` (segments separated by `\r`, or by newlines).
pub fn parse_oru(text: &str, barcode_at: BarcodeAt, local: FixedOffset) -> Result<Oru, Rejected> {
    read(text)?.oru(barcode_at, local)
}

/// A message parsed once: its sending facility chooses the laboratory's profile, which then
/// reads the message ([`Parsed::oru`]) without parsing it again.
pub struct Parsed<'m>(Message<'m>);

/// Parses a message's structure (segments separated by `\r`, or by newlines).
pub fn read(text: &str) -> Result<Parsed<'_>, Rejected> {
    Message::parse(text)
        .map(Parsed)
        .map_err(|e| Rejected::Malformed(e.to_string()))
}

impl Parsed<'_> {
    /// MSH-4.1, decoded (empty when absent).
    pub fn sending_facility(&self) -> String {
        self.0
            .segment("MSH")
            .map(|msh| decoded(&self.0.separators, component(msh, 4, 1)))
            .unwrap_or_default()
    }

    /// Reads the message as an `ORU^R01` under a laboratory's barcode place and time zone.
    pub fn oru(&self, barcode_at: BarcodeAt, local: FixedOffset) -> Result<Oru, Rejected> {
        read_oru(&self.0, barcode_at, local)
    }
}

fn read_oru(m: &Message<'_>, barcode_at: BarcodeAt, local: FixedOffset) -> Result<Oru, Rejected> {
    let msh = m
        .segment("MSH")
        .ok_or_else(|| Rejected::Malformed("no MSH segment".into()))?;
    let kind = format!("{}^{}", component(msh, 9, 1), component(msh, 9, 2));
    if kind != "ORU^R01" {
        return Err(Rejected::MessageType(kind));
    }
    let version = component(msh, 12, 1).to_string();
    if !matches!(version.as_str(), "2.3.1" | "2.4" | "2.5" | "2.5.1") {
        return Err(Rejected::Version(version));
    }
    let processing = component(msh, 11, 1).to_string();
    if !matches!(processing.as_str(), "P" | "T") {
        return Err(Rejected::ProcessingId(processing));
    }
    let control_id = field(msh, 10).to_string();
    if control_id.is_empty() {
        return Err(Rejected::Malformed(
            "MSH-10 (message control id) is empty".into(),
        ));
    }
    let seps = &m.separators;
    let mut cards: Vec<CardReport> = vec![];
    // Segments are numbered per name for an `ERR` location; only PID and OBX are named there.
    let (mut pids, mut obxs) = (0usize, 0usize);
    for s in m.segments() {
        let n = match s.name {
            "PID" => {
                pids += 1;
                pids
            }
            "OBX" => {
                obxs += 1;
                obxs
            }
            _ => 0,
        };
        if s.name == "PID" {
            cards.push(CardReport {
                mrn: Some(decoded(seps, component(s, 3, 1))).filter(|x| !x.is_empty()),
                mrn_authority: Some(decoded(seps, component(s, 3, 4))).filter(|x| !x.is_empty()),
                location: format!("PID^{n}"),
                ..Default::default()
            });
            continue;
        }
        let Some(card) = cards.last_mut() else {
            continue;
        };
        match s.name {
            "OBR" => {
                if barcode_at == BarcodeAt::Obr2 && card.barcode.is_none() {
                    card.barcode =
                        Some(decoded(seps, component(s, 2, 1))).filter(|x| !x.is_empty());
                }
                card.collected_at = card.collected_at.or(timestamp(field(s, 7), local));
                card.reported_at = timestamp(field(s, 22), local).or(card.reported_at);
            }
            "SPM" => {
                if barcode_at == BarcodeAt::Spm2 && card.barcode.is_none() {
                    // SPM-2 is an EIP: its first component's first subcomponent is the id.
                    let raw = s.subcomponent(2, 1, 1);
                    card.barcode = Some(decoded(seps, raw)).filter(|x| !x.is_empty());
                }
                card.collected_at = timestamp(field(s, 17), local).or(card.collected_at);
                card.received_at = timestamp(field(s, 18), local).or(card.received_at);
            }
            "OBX" => {
                // Split once: an OBX is read at nine of its fields, up to the 29th.
                let fields = s.fields();
                let field = |n: usize| fields.get(n).copied().unwrap_or("");
                let component = |n: usize, c: usize| s.component_in(field(n), c);
                let code = decoded(seps, component(3, 1));
                let value = decoded(seps, field(5));
                if code == LOINC_BARCODE {
                    if barcode_at == BarcodeAt::Obx57723 {
                        card.barcode = Some(value.trim().to_string()).filter(|x| !x.is_empty());
                    }
                    continue;
                }
                if code == LOINC_SAMPLE_QUALITY {
                    card.quality = Some(decoded(seps, component(5, 1)));
                    continue;
                }
                let kind = decoded(seps, field(29));
                if kind != "QST" {
                    card.tested_at = card.tested_at.max(timestamp(field(14), local));
                }
                card.observations.push(Observation {
                    alt_code: Some(decoded(seps, component(3, 4))).filter(|x| !x.is_empty()),
                    code,
                    value,
                    unit: decoded(seps, component(6, 1)),
                    flag: decoded(seps, field(8)),
                    status: decoded(seps, field(11)),
                    kind,
                    location: format!("OBX^{n}"),
                });
            }
            _ => {}
        }
    }
    Ok(Oru {
        sending_application: decoded(seps, component(msh, 3, 1)),
        sending_facility: decoded(seps, component(msh, 4, 1)),
        receiving_application: decoded(seps, component(msh, 5, 1)),
        receiving_facility: decoded(seps, component(msh, 6, 1)),
        control_id,
        version,
        cards,
    })
}

/// How a laboratory's codes and units map to the catalogue (borrowed from its configured
/// profile).
#[derive(Debug, Clone, Copy)]
pub struct Profile<'a> {
    /// LOINC or local code → catalogue analyte code.
    pub codes: &'a BTreeMap<String, String>,
    /// The laboratory's unit (`m[IU]/L`), or an analyte and a unit (`Phe mg/dL`: mass to molar
    /// factors differ per analyte) → the catalogue's unit and the factor to multiply by.
    pub units: &'a BTreeMap<String, UnitMap>,
    /// Numeric observations that are not analytes (besides the card questions, OBX-29 `QST`,
    /// which are never analytes).
    pub ignored: &'a std::collections::BTreeSet<String>,
}

/// One unit of a laboratory and how to convert it.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct UnitMap {
    /// The catalogue's unit.
    pub to: String,
    /// Multiply the laboratory's value by this (1 when only the spelling differs).
    #[serde(default = "one")]
    pub factor: f64,
}

fn one() -> f64 {
    1.0
}

/// Why one card's observations cannot be stored (an `ERR` of an `AE`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CardProblem {
    /// No code of the observation is in the profile.
    #[error("unknown analyte code {code}")]
    UnknownCode {
        /// The code.
        code: String,
        /// Where.
        location: String,
    },
    /// The unit is not in the profile.
    #[error("unknown unit {unit} for {code}")]
    UnknownUnit {
        /// The unit.
        unit: String,
        /// The code it came with.
        code: String,
        /// Where.
        location: String,
    },
    /// The value is not a number.
    #[error("value {value} of {code} is not a number")]
    NotANumber {
        /// The value.
        value: String,
        /// The code.
        code: String,
        /// Where.
        location: String,
    },
    /// A corrected result: interpretations are never changed in place.
    #[error(
        "corrected result for {code} (OBX-11 = C) is not accepted: interpretations are immutable"
    )]
    Corrected {
        /// The code.
        code: String,
        /// Where.
        location: String,
    },
}

impl CardProblem {
    /// Where the problem is, for `ERR-2`.
    pub fn location(&self) -> &str {
        match self {
            CardProblem::UnknownCode { location, .. }
            | CardProblem::UnknownUnit { location, .. }
            | CardProblem::NotANumber { location, .. }
            | CardProblem::Corrected { location, .. } => location,
        }
    }
}

/// The analyte values of a card in the catalogue's codes and units: `(analyte, value, unit)`.
/// A code is looked up in the profile's code map, then among the catalogue's LOINC codes, codes
/// and aliases (a laboratory's LIS codes), first by OBX-3.1 and then by OBX-3.4; a unit in the
/// profile's unit map, else it must be the catalogue's own unit for that analyte. Card
/// questions (OBX-29 `QST`), codes the profile ignores, and coded or text observations nothing
/// names (the laboratory's interpretations) are left out; a numeric observation with an unknown
/// code is an error, and anything named must convert cleanly.
pub fn analytes(
    card: &CardReport,
    p: Profile<'_>,
    catalogue: &Catalogue,
) -> Result<Vec<(String, f64, String)>, CardProblem> {
    let in_catalogue = |code: &str| {
        catalogue
            .analytes
            .iter()
            .find(|a| a.loinc.as_deref() == Some(code))
            .or_else(|| catalogue.analyte_by_any_name(code))
            .map(|a| a.code.clone())
    };
    let mut out = vec![];
    for o in &card.observations {
        if o.kind == "QST" || p.ignored.contains(&o.code) {
            continue;
        }
        let analyte = p
            .codes
            .get(&o.code)
            .or_else(|| o.alt_code.as_ref().and_then(|a| p.codes.get(a)))
            .cloned()
            .or_else(|| in_catalogue(&o.code))
            .or_else(|| o.alt_code.as_deref().and_then(in_catalogue));
        let Some(analyte) = analyte else {
            // A coded interpretation or card question (CWE, ST text) is not an analyte.
            if o.value.trim().parse::<f64>().is_err() {
                continue;
            }
            return Err(CardProblem::UnknownCode {
                code: o.alt_code.clone().unwrap_or_else(|| o.code.clone()),
                location: o.location.clone(),
            });
        };
        if o.status == "C" {
            return Err(CardProblem::Corrected {
                code: o.code.clone(),
                location: o.location.clone(),
            });
        }
        // An analyte's own entry first (mass to molar factors differ per analyte), then the
        // unit's; either must land in the catalogue's unit. (An analyte the catalogue lacks is
        // the results check's to refuse, with its own error.)
        let mapped = p
            .units
            .get(&format!("{analyte} {}", o.unit))
            .or_else(|| p.units.get(&o.unit));
        let target = catalogue.analyte(&analyte).map(|a| a.unit.as_str());
        let (factor, unit) = match (mapped, target) {
            (Some(u), Some(t)) if u.to == t => (u.factor, t),
            (Some(u), None) => (u.factor, u.to.as_str()),
            (None, Some(t)) if t == o.unit => (1.0, t),
            // Not mapped, or mapped to another unit than the catalogue's.
            _ => {
                return Err(CardProblem::UnknownUnit {
                    unit: o.unit.clone(),
                    code: o.code.clone(),
                    location: o.location.clone(),
                });
            }
        };
        let value: f64 = o
            .value
            .trim()
            .parse()
            .map_err(|_| CardProblem::NotANumber {
                value: o.value.clone(),
                code: o.code.clone(),
                location: o.location.clone(),
            })?;
        out.push((analyte, value * factor, unit.to_string()));
    }
    Ok(out)
}

/// An acknowledgment code (original mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckCode {
    /// Accepted: everything was stored.
    Aa,
    /// Application error: some cards were not stored (one `ERR` each).
    Ae,
    /// Rejected: nothing was read.
    Ar,
}

impl AckCode {
    /// `AA`, `AE` or `AR`.
    pub fn as_str(self) -> &'static str {
        match self {
            AckCode::Aa => "AA",
            AckCode::Ae => "AE",
            AckCode::Ar => "AR",
        }
    }
}

/// One `ERR` segment: where, the HL7 table 0357 code and text, and a message for people.
#[derive(Debug, Clone, PartialEq)]
pub struct AckError {
    /// ERR-2, e.g. `OBX^12` (written as is: it is made of segment names and numbers).
    pub location: String,
    /// ERR-3.1, e.g. `204` (unknown key identifier).
    pub code: &'static str,
    /// ERR-3.2.
    pub code_text: &'static str,
    /// ERR-8.
    pub message: String,
}

/// Who sends the `ACK` and to whom: the original message's addresses, swapped.
#[derive(Debug, Clone, PartialEq)]
pub struct AckHeader {
    /// MSH-3 of the ACK (Guthrie).
    pub sending_application: String,
    /// MSH-4 of the ACK.
    pub sending_facility: String,
    /// MSH-5 of the ACK (the laboratory's application).
    pub receiving_application: String,
    /// MSH-6 of the ACK.
    pub receiving_facility: String,
    /// MSA-2: the acknowledged message's control id.
    pub acknowledged: String,
    /// MSH-10 of the ACK.
    pub control_id: String,
}

/// Writes an `ACK^R01` (segments separated by `\r`), every value escaped.
pub fn ack(h: &AckHeader, code: AckCode, errors: &[AckError], at: DateTime<Utc>) -> String {
    let seps = Separators::default();
    let e = |s: &str| seps.encode(s).to_string();
    let cst = FixedOffset::east_opt(8 * 3600).unwrap_or(Utc.fix());
    let mut out = format!(
        "MSH|^~\\&|{}|{}|{}|{}|{}||ACK^R01^ACK|{}|P|2.5.1\rMSA|{}|{}",
        e(&h.sending_application),
        e(&h.sending_facility),
        e(&h.receiving_application),
        e(&h.receiving_facility),
        at.with_timezone(&cst).format("%Y%m%d%H%M%S%z"),
        e(&h.control_id),
        code.as_str(),
        e(&h.acknowledged),
    );
    for err in errors {
        out.push_str(&format!(
            "\rERR||{}|{}^{}^HL70357|E||||{}",
            // Built here from segment names and numbers: its `^` separate its parts.
            err.location,
            err.code,
            e(err.code_text),
            e(&err.message)
        ));
    }
    out.push('\r');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cst() -> FixedOffset {
        FixedOffset::east_opt(8 * 3600).unwrap()
    }

    /// A synthetic Zhejiang message: one card with a critical TSH, Chinese names, a local code.
    const CRITICAL_TSH: &str = "MSH|^~\\&|NBSLIS|ZJNBSC|GUTHRIE|ZJNBSC|20261125150000+0800||ORU^R01^ORU_R01|LIS0001|P|2.5.1|||AL|NE|CHN|UNICODE UTF-8\r\
PID|1||000123^^^ZJ001^MR||王芳之女^^^^^^L||20261121083000+0800|F\r\
NK1|1|王芳^^^^^^L|MTH^Mother^HL70063\r\
ORC|RE|3301202611210123^ZJ001|NBS2611240045^ZJNBSC||CM\r\
OBR|1|3301202611210123^ZJ001|NBS2611240045^ZJNBSC|57128-1^Newborn Screening Report summary panel^LN|||20261123103000+0800|||||||||||||||20261125143000+0800|||F\r\
OBX|1|ST|57723-9^Unique bar code number of Current sample^LN||3301202611210123||||||F\r\
OBX|2|CWE|57718-9^Sample quality of Dried blood spot^LN||LA12432-3^Acceptable^LN||||||F\r\
OBX|3|NM|8339-4^Birth weight Measured^LN||3300|g^gram^UCUM|||||F||||||||||||||||||QST\r\
OBX|4|CWE|57130-7^Newborn screening report - overall interpretation^LN||LA25817-0^Out of range requiring immediate referral^LN||||||F\r\
SPM|1|3301202611210123&ZJ001^NBS2611240045&ZJNBSC||440500007^Blood spot specimen^SCT|||||||||||||20261123103000+0800|20261124091500+0800\r\
OBR|2|3301202611210123^ZJ001|NBS2611240045^ZJNBSC|54090-6^Thyroid newborn screening panel^LN|||20261123103000+0800|||||||||||||||20261125143000+0800|||F\r\
OBX|1|NM|29575-8^Thyrotropin [Units/volume] in Dried blood spot^LN||32.5|m[IU]/L^milli-international unit per liter^UCUM|<9|HH|||F|||20261125120000+0800\r\
OBX|2|CWE|46762-1^Congenital hypothyroidism newborn screen interpretation^LN||LA18593-6^Out of range^LN||||||F\r\
OBX|3|NM|29573-3^Phenylalanine^LN^PHE^Phe local^L||1.08|mg/dL|<2|N|||F\r";

    /// A test laboratory's maps, owned so a test can change them.
    struct Maps {
        codes: BTreeMap<String, String>,
        units: BTreeMap<String, UnitMap>,
        ignored: std::collections::BTreeSet<String>,
    }

    impl Maps {
        fn view(&self) -> Profile<'_> {
            Profile {
                codes: &self.codes,
                units: &self.units,
                ignored: &self.ignored,
            }
        }
    }

    fn profile() -> Maps {
        Maps {
            codes: [("29575-8", "TSH"), ("PHE", "Phe")]
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            units: [
                ("m[IU]/L", ("mIU/L", 1.0)),
                // Phenylalanine: 1 mg/dL = 60.54 µmol/L.
                ("mg/dL", ("umol/L", 60.54)),
            ]
            .iter()
            .map(|(a, (to, f))| {
                (
                    a.to_string(),
                    UnitMap {
                        to: to.to_string(),
                        factor: *f,
                    },
                )
            })
            .collect(),
            ignored: Default::default(),
        }
    }

    #[test]
    fn a_card_is_read_with_its_times_quality_and_observations() {
        let m = parse_oru(CRITICAL_TSH, BarcodeAt::Obx57723, cst()).unwrap();
        assert_eq!(
            (m.sending_facility.as_str(), m.control_id.as_str()),
            ("ZJNBSC", "LIS0001")
        );
        assert_eq!(m.cards.len(), 1);
        let c = &m.cards[0];
        assert_eq!(c.barcode.as_deref(), Some("3301202611210123"));
        assert_eq!(
            (c.mrn.as_deref(), c.mrn_authority.as_deref()),
            (Some("000123"), Some("ZJ001"))
        );
        assert_eq!(c.quality.as_deref(), Some(LA_ACCEPTABLE));
        assert_eq!(
            c.received_at.unwrap().to_rfc3339(),
            "2026-11-24T01:15:00+00:00"
        );
        assert_eq!(
            c.collected_at.unwrap().to_rfc3339(),
            "2026-11-23T02:30:00+00:00"
        );
        assert_eq!(
            c.reported_at.unwrap().to_rfc3339(),
            "2026-11-25T06:30:00+00:00"
        );
        // OBX-14 of its results (not of its card questions).
        assert_eq!(
            c.tested_at.unwrap().to_rfc3339(),
            "2026-11-25T04:00:00+00:00"
        );
        let tsh = c.observations.iter().find(|o| o.code == "29575-8").unwrap();
        assert_eq!(
            (tsh.value.as_str(), tsh.unit.as_str(), tsh.flag.as_str()),
            ("32.5", "m[IU]/L", "HH")
        );
        // The same card found through SPM-2 or OBR-2.
        for at in [BarcodeAt::Spm2, BarcodeAt::Obr2] {
            let m = parse_oru(CRITICAL_TSH, at, cst()).unwrap();
            assert_eq!(
                m.cards[0].barcode.as_deref(),
                Some("3301202611210123"),
                "{at:?}"
            );
        }
    }

    fn catalogue() -> Catalogue {
        Catalogue::from_toml(crate::domain::catalogue::DEFAULT_CATALOGUE_TOML).unwrap()
    }

    #[test]
    fn codes_and_units_go_through_the_profile_and_unknown_ones_are_named() {
        let cat = catalogue();
        let m = parse_oru(CRITICAL_TSH, BarcodeAt::Obx57723, cst()).unwrap();
        let values = analytes(&m.cards[0], profile().view(), &cat).unwrap();
        // Birth weight is a card question (QST), the interpretations are coded: not analytes.
        assert_eq!(values.len(), 2, "{values:?}");
        assert_eq!(values[0], ("TSH".to_string(), 32.5, "mIU/L".to_string()));
        // The local code (OBX-3.4) and mg/dL converted to µmol/L.
        assert_eq!(values[1].0, "Phe");
        assert!((values[1].1 - 65.3832).abs() < 1e-9);
        let mut p = profile();
        p.units.remove("mg/dL");
        assert!(
            matches!(analytes(&m.cards[0], p.view(), &cat), Err(CardProblem::UnknownUnit { unit, .. }) if unit == "mg/dL")
        );
        // An analyte's own unit entry wins over the unit's, and must land in its unit.
        let mut p = profile();
        p.units.insert(
            "Phe mg/dL".into(),
            UnitMap {
                to: "umol/L".into(),
                factor: 60.0,
            },
        );
        assert!((analytes(&m.cards[0], p.view(), &cat).unwrap()[1].1 - 64.8).abs() < 1e-9);
        p.units.get_mut("Phe mg/dL").unwrap().to = "mg/dL".into();
        assert!(matches!(
            analytes(&m.cards[0], p.view(), &cat),
            Err(CardProblem::UnknownUnit { .. })
        ));
        // Without a code map, the catalogue's LOINC codes (29575-8, 29573-3) name the analytes;
        // a unit spelled as the catalogue's needs no map.
        let mut p = profile();
        p.codes.clear();
        let values = analytes(&m.cards[0], p.view(), &cat).unwrap();
        assert_eq!(values[0].0, "TSH");
        assert_eq!(values[1].0, "Phe");
        let plain = CRITICAL_TSH.replace(
            "|m[IU]/L^milli-international unit per liter^UCUM|",
            "|mIU/L|",
        );
        let m2 = parse_oru(&plain, BarcodeAt::Obx57723, cst()).unwrap();
        let mut p = profile();
        p.units.remove("m[IU]/L");
        assert_eq!(analytes(&m2.cards[0], p.view(), &cat).unwrap()[0].1, 32.5);
        // A code neither the profile nor the catalogue knows is named, never guessed.
        let unknown =
            CRITICAL_TSH.replace("29573-3^Phenylalanine^LN^PHE^", "99999-9^Mystery^LN^XYZ^");
        let m3 = parse_oru(&unknown, BarcodeAt::Obx57723, cst()).unwrap();
        let e = analytes(&m3.cards[0], profile().view(), &cat).unwrap_err();
        assert_eq!(e.to_string(), "unknown analyte code XYZ");
        assert_eq!(e.location(), "OBX^7");
        let corrected = CRITICAL_TSH.replace("|<9|HH|||F", "|<9|HH|||C");
        let m = parse_oru(&corrected, BarcodeAt::Obx57723, cst()).unwrap();
        assert!(matches!(
            analytes(&m.cards[0], profile().view(), &cat),
            Err(CardProblem::Corrected { .. })
        ));
    }

    #[test]
    fn other_messages_versions_and_processing_ids_are_rejected() {
        let adt = CRITICAL_TSH.replace("ORU^R01^ORU_R01", "ADT^A01");
        assert_eq!(
            parse_oru(&adt, BarcodeAt::Obx57723, cst()),
            Err(Rejected::MessageType("ADT^A01".into()))
        );
        let v = CRITICAL_TSH.replace("|P|2.5.1|", "|P|2.7|");
        assert_eq!(
            parse_oru(&v, BarcodeAt::Obx57723, cst()),
            Err(Rejected::Version("2.7".into()))
        );
        let d = CRITICAL_TSH.replace("|P|2.5.1|", "|D|2.5.1|");
        assert_eq!(
            parse_oru(&d, BarcodeAt::Obx57723, cst()),
            Err(Rejected::ProcessingId("D".into()))
        );
        assert!(matches!(
            parse_oru("hello", BarcodeAt::Obx57723, cst()),
            Err(Rejected::Malformed(_))
        ));
    }

    #[test]
    fn bodies_are_read_in_their_character_set() {
        let gb = CRITICAL_TSH.replace("UNICODE UTF-8", "GB 18030-2000");
        let (bytes, _, bad) = encoding_rs::GB18030.encode(&gb);
        assert!(!bad);
        assert!(
            std::str::from_utf8(&bytes).is_err(),
            "GB18030 bytes are not UTF-8"
        );
        assert_eq!(facility_of(&bytes).as_deref(), Some("ZJNBSC"));
        let text = decode(&bytes, None).unwrap();
        assert!(text.contains("王芳之女"));
        // No MSH-18: the laboratory's default.
        let plain = CRITICAL_TSH.replace("UNICODE UTF-8", "");
        let (bytes, _, _) = encoding_rs::GB18030.encode(&plain);
        assert!(decode(&bytes, Some("GB18030")).unwrap().contains("王芳"));
        assert!(
            decode(&bytes, None).is_none(),
            "GB18030 read as UTF-8 is refused, not guessed"
        );
    }

    #[test]
    fn a_batch_splits_into_its_messages() {
        let second = CRITICAL_TSH.replace("LIS0001", "LIS0002");
        let batch =
            format!("FHS|^~\\&|NBSLIS\rBHS|^~\\&|NBSLIS\r{CRITICAL_TSH}{second}BTS|2\rFTS|1\r");
        let parts = split_batch(&batch).unwrap();
        assert_eq!(parts.len(), 2);
        assert!(
            parts[0].starts_with("MSH") && parts[0].ends_with("F") && !parts[0].contains("LIS0002")
        );
        assert!(!parts[1].contains("BTS"));
        for p in parts {
            assert_eq!(
                parse_oru(p, BarcodeAt::Obx57723, cst())
                    .unwrap()
                    .cards
                    .len(),
                1
            );
        }
        assert!(split_batch(CRITICAL_TSH).is_none());
        let acks = batch_ack(
            &["MSH|a\rMSA|AA|1\r".into()],
            timestamp("20261125150001+0800", cst()).unwrap(),
        );
        assert!(
            acks.starts_with("BHS|^~\\&|GUTHRIE||||20261125150001+0800\rMSH|a")
                && acks.ends_with("BTS|1\r")
        );
    }

    #[test]
    fn timestamps_read_offsets_or_the_local_zone() {
        let t = |s| timestamp(s, cst()).map(|t| t.to_rfc3339());
        assert_eq!(
            t("20261125150000+0800").as_deref(),
            Some("2026-11-25T07:00:00+00:00")
        );
        assert_eq!(
            t("202611251500").as_deref(),
            Some("2026-11-25T07:00:00+00:00")
        );
        assert_eq!(
            t("20261125150000.123-0500").as_deref(),
            Some("2026-11-25T20:00:00+00:00")
        );
        assert_eq!(t("20261125").as_deref(), Some("2026-11-24T16:00:00+00:00"));
        assert_eq!(t("2026-11-25"), None);
        assert_eq!(t(""), None);
    }

    #[test]
    fn acks_echo_the_control_id_and_escape_their_text() {
        let h = AckHeader {
            sending_application: "GUTHRIE".into(),
            sending_facility: "ZJNBSC".into(),
            receiving_application: "NBSLIS".into(),
            receiving_facility: "ZJNBSC".into(),
            acknowledged: "LIS0001".into(),
            control_id: "G1".into(),
        };
        let at = timestamp("20261125150001+0800", cst()).unwrap();
        assert_eq!(
            ack(&h, AckCode::Aa, &[], at),
            "MSH|^~\\&|GUTHRIE|ZJNBSC|NBSLIS|ZJNBSC|20261125150001+0800||ACK^R01^ACK|G1|P|2.5.1\rMSA|AA|LIS0001\r"
        );
        let err = AckError {
            location: "SPM^1^2".into(),
            code: "204",
            code_text: "Unknown key identifier",
            message: "unknown card barcode 33|01^x".into(),
        };
        let text = ack(&h, AckCode::Ae, &[err], at);
        assert!(text.contains("MSA|AE|LIS0001\rERR||SPM^1^2|204^Unknown key identifier^HL70357|E||||unknown card barcode 33\\F\\01\\S\\x\r"), "{text}");
        // What we write parses again.
        let back = Message::parse(&text).unwrap();
        assert_eq!(back.segment("MSA").unwrap().field(1), "AE");
        let err = back.segment("ERR").unwrap();
        assert_eq!(
            back.separators.decode(err.field(8)),
            "unknown card barcode 33|01^x"
        );
        // And with hl7-parser.
        let theirs = hl7_parser::Message::parse(text.trim_end_matches('\r')).unwrap();
        assert_eq!(
            theirs.segment("MSA").unwrap().field(1).unwrap().raw_value(),
            "AE"
        );
    }
}
