//! Quality indicators computed from stored event times (birth, collection, receipt, result,
//! contact, recheck, resolution) for the infants born in a period. Each indicator's definition
//! is a [`Spec`] (SQL conditions, the same text on both databases but for date arithmetic), used
//! for the drill-down and for the case-level counts; infant- and card-level counts come in one
//! pass from `services::quality_facts`. Interval statistics are computed in Rust over the
//! follow-up cases (few). Conditions on related rows are uncorrelated
//! `id IN (SELECT …)` sets, which both databases build once per query (a hashed subplan or an
//! ephemeral index) instead of probing per infant. Every literal put into the SQL is generated here
//! (timestamps, enum values) or checked (a hospital id parsed as a UUID), never raw input.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};
use serde::Serialize;

use crate::config::QualitySettings;
use crate::db::types::UtcMicros;
use crate::db::{AnyConnection, Backend};
use crate::domain::catalogue::Catalogue;
use crate::domain::quality::{INDICATORS, IndicatorDef, IntervalStats, Level};
use crate::error::AppError;
use crate::services::quality::breakdowns;

/// The cohort: infants born in `[from, to]` (local dates), optionally of one hospital.
#[derive(Debug, Clone)]
pub struct Cohort {
    /// First day (local).
    pub from: NaiveDate,
    /// Last day (local, inclusive).
    pub to: NaiveDate,
    /// One hospital (a checked UUID).
    pub hospital_id: Option<uuid::Uuid>,
    /// One programme (`DBS`, `HEAR`, `CCHD`): indicators of other programmes are left out.
    pub programme: Option<String>,
}

/// What the report takes from the catalogue: the coverage indicators' age limits and the
/// condition groups.
#[derive(Debug, Clone)]
pub struct Limits {
    /// DBS card by this age (the absolute latest collection age).
    pub dbs: Duration,
    /// A card collected before this age is early.
    pub dbs_early: Duration,
    /// A card collected after this age is late.
    pub dbs_late: Duration,
    /// Initial hearing screen by this age.
    pub hearing: Duration,
    /// Hearing rescreen by this age.
    pub hearing_rescreen: Duration,
    /// Diagnostic audiology by this age.
    pub hearing_diagnosis: Duration,
    /// Hearing intervention by this age.
    pub hearing_intervention: Duration,
    /// Heart screen by this age.
    pub cchd: Duration,
    /// Condition code → group (`E`, `AA`, `OA`, `FAO`), for the positive rate per group.
    pub groups: BTreeMap<String, String>,
}

impl Limits {
    /// From a catalogue.
    pub fn of(c: &Catalogue) -> Self {
        Self {
            dbs: Duration::days(c.specimen.max_collection_age_days),
            dbs_early: Duration::hours(c.specimen.min_collection_age_hours),
            dbs_late: Duration::days(c.specimen.normal_collection_max_days),
            hearing: Duration::days(c.hearing.initial_by_days),
            hearing_rescreen: Duration::days(c.hearing.rescreen_by_days),
            hearing_diagnosis: Duration::days(c.hearing.diagnosis_by_days),
            hearing_intervention: Duration::days(c.hearing.intervention_by_days),
            cchd: Duration::hours(c.cchd.screen_by_hours),
            groups: c
                .conditions
                .iter()
                .map(|k| (k.code.clone(), k.group.clone()))
                .collect(),
        }
    }
}

/// One indicator's value.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IndicatorValue {
    /// Id.
    pub id: String,
    /// Programme.
    pub programme: Option<String>,
    /// What is counted.
    pub level: Level,
    /// English name.
    pub name: String,
    /// Chinese name.
    pub name_zh: String,
    /// Numerator.
    pub numerator: i64,
    /// Denominator.
    pub denominator: i64,
    /// numerator / denominator; none when the denominator is 0.
    pub value: Option<f64>,
    /// Target (a minimum, or a maximum when `lower_is_better`).
    pub target: Option<f64>,
    /// A lower value is better.
    pub lower_is_better: bool,
    /// Whether the target is met (none without target or value).
    pub met: Option<bool>,
    /// Definition.
    pub definition: String,
    /// Source of the definition.
    pub source: String,
    /// Interval statistics (timeliness indicators): all cases, then by tier.
    #[schema(value_type = Option<Object>)]
    pub intervals: Option<BTreeMap<String, IntervalStats>>,
    /// Per suspected condition (PPV): [confirmed, screen-positive].
    #[schema(value_type = Option<Object>)]
    pub by_condition: Option<BTreeMap<String, [i64; 2]>>,
    /// Per condition group (positive rate): [screen-positive infants, screened infants].
    #[schema(value_type = Option<Object>)]
    pub by_group: Option<BTreeMap<String, [i64; 2]>>,
    /// Per catalogue version that opened the case (PPV): [confirmed, screen-positive].
    #[schema(value_type = Option<Object>)]
    pub by_catalogue_version: Option<BTreeMap<String, [i64; 2]>>,
    /// First cards per collection-age band (early and late collection).
    #[schema(value_type = Option<Object>)]
    pub distribution: Option<BTreeMap<String, i64>>,
    /// Heart screens with a device's heart-sound auscultation (AI stethoscope), on the heart
    /// screening coverage: `screens`, `infants`, `suspected_murmur_infants`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub auscultation: Option<BTreeMap<String, i64>>,
}

/// SQL pieces of one indicator: `FROM … WHERE …` of the denominator, the numerator condition,
/// and the member id column.
struct Spec {
    from: &'static str,
    den: String,
    num: String,
    member: &'static str,
}

fn ts(t: NaiveDateTime) -> String {
    // `%.f` prints no fraction when it is zero, as SQLite stores it (text compares by prefix).
    format!("'{}'", t.format("%Y-%m-%d %H:%M:%S%.f"))
}

/// Start and end (exclusive) of the cohort's birth times, UTC, in China Standard Time.
pub fn bounds(c: &Cohort) -> (NaiveDateTime, NaiveDateTime) {
    let tz = chrono_tz::Asia::Shanghai;
    let at = |d: NaiveDate| -> NaiveDateTime {
        tz.from_local_datetime(&d.and_time(chrono::NaiveTime::MIN))
            .earliest()
            .map_or_else(|| d.and_time(chrono::NaiveTime::MIN), |t| t.naive_utc())
    };
    (at(c.from), at(c.to + Duration::days(1)))
}

/// The cohort condition on the infants table aliased `i`.
pub(crate) fn cohort_where(c: &Cohort) -> String {
    cohort_where_as(c, "i")
}

/// The cohort condition on the infants table aliased `alias` (subqueries use `i2`).
pub(crate) fn cohort_where_as(c: &Cohort, alias: &str) -> String {
    let (from, to) = bounds(c);
    let mut w = format!(
        "{alias}.birth_at >= {} AND {alias}.birth_at < {} AND {alias}.merged_into IS NULL",
        ts(from),
        ts(to)
    );
    if let Some(h) = c.hospital_id {
        w.push_str(&format!(" AND {alias}.hospital_id = '{h}'"));
    }
    w
}

/// The source of the case-level indicators.
pub(crate) const CASES_FROM: &str = "cases k JOIN infants i ON i.id = k.infant_id";
pub(crate) use crate::db::models::quality::facts::{POSITIVE_REASONS, REPORTED};
const RECHECKED: &str = "(k.id IN (SELECT e.case_id FROM case_events e WHERE e.to_state IN ('recheck_done','diagnostic_workup')) \
    OR k.outcome LIKE '%\"confirmed\"%' OR k.outcome LIKE '%\"ruled_out\"%' OR k.outcome LIKE '%\"carrier\"%' OR k.outcome LIKE '%\"diagnosed_elsewhere\"%')";

/// `i.id IN (…)`: the cohort's infants with a row in `from` (keyed by `key`) meeting `cond`. The
/// set is built once per query from the cohort's rows only (`i2` is the cohort again).
fn set(c: &Cohort, from: &str, key: &str, cond: &str) -> String {
    format!(
        "i.id IN (SELECT {key} FROM {from} JOIN infants i2 ON i2.id = {key} WHERE {} AND {cond})",
        cohort_where_as(c, "i2")
    )
}

fn screened(c: &Cohort, b: Backend, prog: &str, lim: &Limits) -> String {
    match prog {
        "DBS" => set(
            c,
            "dbs_cards c",
            "c.infant_id",
            &format!(
                "(c.quality IS NULL OR c.quality = 'acceptable') AND c.collected_at <= {}",
                crate::db::sql::plus(b, "i2.birth_at", lim.dbs)
            ),
        ),
        "HEAR" => set(
            c,
            "hearing_screens h",
            "h.infant_id",
            "h.stage IN ('initial','rescreen')",
        ),
        _ => set(c, "cchd_screens s", "s.infant_id", "1 = 1"),
    }
}

fn eligible(c: &Cohort, b: Backend, prog: &str, lim: &Limits) -> String {
    let age = match prog {
        "DBS" => lim.dbs,
        "HEAR" => lim.hearing,
        _ => lim.cchd,
    };
    format!(
        "NOT (i.status = 'deceased' AND i.status_changed_at < {} AND NOT {})",
        crate::db::sql::plus(b, "i.birth_at", age),
        screened(c, b, prog, lim)
    )
}

fn refused(c: &Cohort, prog: &str) -> String {
    set(
        c,
        "screening_consents s",
        "s.infant_id",
        &format!(
            "s.programme = '{prog}' AND s.decision = 'refusal' AND NOT EXISTS (SELECT 1 FROM screening_consents s2 \
             WHERE s2.infant_id = s.infant_id AND s2.programme = '{prog}' AND s2.signed_at > s.signed_at)"
        ),
    )
}

/// The programmes the cohort's filter covers.
pub(crate) fn programmes(c: &Cohort) -> Vec<&str> {
    match &c.programme {
        Some(x) => vec![x.as_str()],
        None => vec!["DBS", "HEAR", "CCHD"],
    }
}

pub(crate) fn prog_filter(c: &Cohort, col: &str) -> String {
    match &c.programme {
        Some(p) => format!(" AND {col} = '{p}'"),
        None => String::new(),
    }
}

fn spec(d: &IndicatorDef, c: &Cohort, b: Backend, q: &QualitySettings, lim: &Limits) -> Spec {
    let cohort = cohort_where(c);
    let cohort2 = cohort_where_as(c, "i2");
    let infants = |den_extra: String, num: String| Spec {
        from: "infants i",
        den: format!("{cohort}{den_extra}"),
        num,
        member: "i.id",
    };
    let cards = |den_extra: &str, num: String| Spec {
        from: "dbs_cards c JOIN infants i ON i.id = c.infant_id",
        den: format!("{cohort} AND {den_extra}"),
        num,
        member: "c.id",
    };
    let cases = |den_extra: String, num: String| Spec {
        from: CASES_FROM,
        den: format!("{cohort} AND {den_extra}"),
        num,
        member: "k.id",
    };
    match d.id {
        "dbs_coverage" | "hearing_coverage" | "cchd_coverage" => {
            let p = d.programme.unwrap_or("DBS");
            infants(
                format!(" AND {}", eligible(c, b, p, lim)),
                screened(c, b, p, lim),
            )
        }
        "dbs_refusal_rate" => infants(String::new(), refused(c, "DBS")),
        "hearing_refusal_rate" => infants(String::new(), refused(c, "HEAR")),
        "cchd_refusal_rate" => infants(String::new(), refused(c, "CCHD")),
        "consent_awareness" => infants(
            String::new(),
            set(c, "screening_consents s", "s.infant_id", "1 = 1"),
        ),
        "unsatisfactory_cards" => {
            cards("c.quality IS NOT NULL", "c.quality <> 'acceptable'".into())
        }
        "unsatisfactory_not_recollected" => infants(
            format!(
                " AND {}",
                set(c, "dbs_cards u", "u.infant_id", "u.quality <> 'acceptable'")
            ),
            format!(
                "NOT {}",
                set(
                    c,
                    "dbs_cards r",
                    "r.infant_id",
                    "(r.quality IS NULL OR r.quality = 'acceptable') AND r.collected_at > \
                     (SELECT MAX(u.collected_at) FROM dbs_cards u WHERE u.infant_id = r.infant_id AND u.quality <> 'acceptable')"
                )
            ),
        ),
        "late_cards" => cards(
            "c.received_at IS NOT NULL",
            format!(
                "c.received_at > {}",
                crate::db::sql::plus(b, "c.collected_at", Duration::days(q.late_card_days))
            ),
        ),
        "early_collection" => cards(
            "c.repeat_of IS NULL",
            format!(
                "c.collected_at < {}",
                crate::db::sql::plus(b, "i.birth_at", lim.dbs_early)
            ),
        ),
        "late_collection" => cards(
            "c.repeat_of IS NULL",
            format!(
                "c.collected_at > {}",
                crate::db::sql::plus(b, "i.birth_at", lim.dbs_late)
            ),
        ),
        "report_timeliness" => cards(
            &format!(
                "c.received_at IS NOT NULL AND c.id IN (SELECT d.card_id FROM dbs_interpretations d \
                JOIN dbs_cards c2 ON c2.id = d.card_id JOIN infants i2 ON i2.id = c2.infant_id WHERE {} AND {REPORTED})",
                cohort2
            ),
            format!(
                "c.id IN (SELECT d.card_id FROM dbs_interpretations d JOIN dbs_cards c2 ON c2.id = d.card_id \
                 JOIN infants i2 ON i2.id = c2.infant_id WHERE {cohort2} AND {REPORTED} AND d.interpreted_at <= {})",
                crate::db::sql::plus(b, "c2.received_at", Duration::days(q.report_days))
            ),
        ),
        "positive_rate" => {
            let any_screened: Vec<String> = programmes(c)
                .iter()
                .map(|p| screened(c, b, p, lim))
                .collect();
            infants(
                format!(" AND ({})", any_screened.join(" OR ")),
                set(
                    c,
                    "cases k",
                    "k.infant_id",
                    &format!("{POSITIVE_REASONS}{}", prog_filter(c, "k.programme")),
                ),
            )
        }
        "recall_rate"
        | "first_contact_timeliness"
        | "recall_timeliness"
        | "lost_to_follow_up"
        | "confirmed_ppv" => {
            let den = format!("{POSITIVE_REASONS}{}", prog_filter(c, "k.programme"));
            let num = match d.id {
                "recall_rate" => RECHECKED.to_string(),
                "first_contact_timeliness" => format!("{FIRST_CONTACT} <= k.first_contact_due_at"),
                "recall_timeliness" => format!("{RECHECK} <= k.recall_due_at"),
                "lost_to_follow_up" => {
                    "(k.state = 'resolved' AND k.outcome LIKE '%\"lost_to_follow_up\"%')".into()
                }
                _ => "(k.state = 'resolved' AND k.outcome LIKE '%\"confirmed\"%')".into(),
            };
            cases(den, num)
        }
        "hearing_rescreen_by_42d" => infants(
            format!(
                " AND {}",
                set(
                    c,
                    "hearing_screens h",
                    "h.infant_id",
                    "h.stage = 'initial' AND (h.left_ear = 'refer' OR h.right_ear = 'refer')"
                )
            ),
            set(
                c,
                "hearing_screens h",
                "h.infant_id",
                &format!(
                    "h.stage = 'rescreen' AND h.tested_at <= {}",
                    crate::db::sql::plus(b, "i2.birth_at", lim.hearing_rescreen)
                ),
            ),
        ),
        "hearing_diagnosis_by_3m" => infants(
            format!(
                " AND {}",
                set(
                    c,
                    "cases k",
                    "k.infant_id",
                    "k.programme = 'HEAR' AND k.reason = 'refer'"
                )
            ),
            set(
                c,
                "hearing_screens h",
                "h.infant_id",
                &format!(
                    "h.stage = 'diagnostic' AND h.tested_at <= {}",
                    crate::db::sql::plus(b, "i2.birth_at", lim.hearing_diagnosis)
                ),
            ),
        ),
        "hearing_intervention_by_6m" => cases(
            "k.programme = 'HEAR' AND k.state = 'resolved' AND k.outcome LIKE '%\"confirmed\"%'"
                .into(),
            format!(
                "k.infant_id IN (SELECT v.infant_id FROM hearing_interventions v JOIN infants i2 ON i2.id = v.infant_id \
                 WHERE {cohort2} AND v.started_at <= {})",
                crate::db::sql::plus(b, "i2.birth_at", lim.hearing_intervention)
            ),
        ),
        _ => cases(
            "k.programme = 'CCHD' AND k.reason = 'positive'".into(),
            RECHECKED.into(),
        ),
    }
}

/// First time the family was reached: a `reached` contact attempt or the move to family contacted.
pub(crate) const FIRST_CONTACT: &str = "(SELECT MIN(x.t) FROM (SELECT a.attempted_at AS t FROM contact_attempts a WHERE a.case_id = k.id AND a.outcome = 'reached' \
    UNION ALL SELECT e.at AS t FROM case_events e WHERE e.case_id = k.id AND e.to_state = 'family_contacted') x)";
/// First time the case was rechecked: the move to recheck done or work-up, else a diagnostic resolution.
pub(crate) const RECHECK: &str = "(SELECT MIN(x.t) FROM (SELECT e.at AS t FROM case_events e WHERE e.case_id = k.id AND e.to_state IN ('recheck_done','diagnostic_workup') \
    UNION ALL SELECT k2.resolved_at AS t FROM cases k2 WHERE k2.id = k.id AND (k2.outcome LIKE '%\"confirmed\"%' OR k2.outcome LIKE '%\"ruled_out\"%' OR k2.outcome LIKE '%\"carrier\"%' OR k2.outcome LIKE '%\"diagnosed_elsewhere\"%')) x)";

#[derive(QueryableByName)]
struct Counts {
    #[diesel(sql_type = BigInt)]
    den: i64,
    #[diesel(sql_type = BigInt)]
    num: i64,
}

/// The indicators that apply to the cohort's programme filter.
pub fn applicable(c: &Cohort) -> Vec<&'static IndicatorDef> {
    INDICATORS
        .iter()
        .filter(|d| match (&c.programme, d.programme) {
            (Some(p), Some(dp)) => p == dp,
            _ => true,
        })
        .collect()
}

/// Computes every applicable indicator.
pub fn report(
    conn: &mut AnyConnection,
    c: &Cohort,
    q: &QualitySettings,
    lim: &Limits,
) -> Result<Vec<IndicatorValue>, AppError> {
    crate::db::sql::with_set_memory(conn, |conn| report_in(conn, c, q, lim))
}

fn report_in(
    conn: &mut AnyConnection,
    c: &Cohort,
    q: &QualitySettings,
    lim: &Limits,
) -> Result<Vec<IndicatorValue>, AppError> {
    let b = conn.backend();
    // Infant- and card-level indicators from the facts tables, one scan each; case-level ones
    // in one pass over the cohort's cases; anything else (none today) by its own definition.
    let mut fast = crate::services::quality::facts::counts(conn, c, q, lim)?;
    let case_items: Vec<(&'static str, String, String)> = applicable(c)
        .into_iter()
        .filter(|d| !fast.contains_key(d.id))
        .map(|d| (d, spec(d, c, b, q, lim)))
        .filter(|(_, s)| s.from == CASES_FROM)
        .map(|(d, s)| (d.id, s.den, s.num))
        .collect();
    if !case_items.is_empty() {
        let from_where = format!("FROM {CASES_FROM} WHERE {}", cohort_where(c));
        crate::services::quality::facts::run(conn, &case_items, &from_where, &mut fast)?;
    }
    let positives = breakdowns::positive_cases(conn, c, lim)?;
    let mut ages = None;
    let mut out = Vec::new();
    for d in applicable(c) {
        let (num, den) = match fast.get(d.id) {
            Some(nd) => *nd,
            None => {
                let s = spec(d, c, b, q, lim);
                let sql = format!(
                    "SELECT COUNT(*) AS den, CAST(COALESCE(SUM(CASE WHEN {} THEN 1 ELSE 0 END), 0) AS BIGINT) AS num FROM {} WHERE {}",
                    s.num, s.from, s.den
                );
                let counts: Counts = diesel::sql_query(sql).get_result(conn)?;
                (counts.num, counts.den)
            }
        };
        let mut v = value(d, num, den, q);
        match d.id {
            "first_contact_timeliness" => {
                v.intervals = Some(breakdowns::intervals(&positives, |r| r.first_contact));
            }
            "recall_timeliness" => {
                v.intervals = Some(breakdowns::intervals(&positives, |r| r.recheck));
            }
            "confirmed_ppv" => {
                v.by_condition = Some(breakdowns::ppv_by_condition(&positives));
                v.by_catalogue_version = Some(breakdowns::ppv_by_version(&positives));
            }
            "positive_rate" => {
                v.by_group = Some(breakdowns::positive_by_group(&positives, &lim.groups, den));
            }
            "report_timeliness" => v.intervals = Some(breakdowns::turnaround(conn, c)?),
            "cchd_coverage" => v.auscultation = Some(breakdowns::auscultation(conn, c)?),
            "early_collection" | "late_collection" => {
                if ages.is_none() {
                    ages = Some(breakdowns::collection_ages(conn, c)?);
                }
                v.distribution = ages.clone();
            }
            _ => {}
        }
        out.push(v);
    }
    Ok(out)
}

fn value(d: &IndicatorDef, num: i64, den: i64, q: &QualitySettings) -> IndicatorValue {
    let value = (den > 0).then(|| num as f64 / den as f64);
    let target = q.targets.get(d.id).copied();
    let met = match (value, target) {
        (Some(v), Some(t)) if d.lower_is_better => Some(v <= t),
        (Some(v), Some(t)) => Some(v >= t),
        _ => None,
    };
    IndicatorValue {
        id: d.id.into(),
        programme: d.programme.map(String::from),
        level: d.level,
        name: d.name_en.into(),
        name_zh: d.name_zh.into(),
        numerator: num,
        denominator: den,
        value,
        target,
        lower_is_better: d.lower_is_better,
        met,
        definition: d.definition.into(),
        source: d.source.into(),
        intervals: None,
        by_condition: None,
        by_group: None,
        by_catalogue_version: None,
        distribution: None,
        auscultation: None,
    }
}

/// Which members of an indicator to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The denominator.
    Denominator,
    /// The numerator.
    Numerator,
    /// The members that miss the goal: the denominator less the numerator, or for rates of
    /// problems the numerator.
    Gap,
}

/// One member of an indicator.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, QueryableByName)]
pub struct Member {
    /// Infant, card or case id (by the indicator's level).
    #[diesel(sql_type = Text)]
    pub id: String,
    /// Infant.
    #[diesel(sql_type = Text)]
    pub infant_id: String,
    /// Hospital.
    #[diesel(sql_type = Text)]
    pub hospital_id: String,
    /// Medical record number.
    #[diesel(sql_type = Text)]
    pub mrn: String,
    /// Birth (UTC).
    #[diesel(sql_type = Timestamp)]
    #[schema(value_type = String, format = DateTime)]
    pub birth_at: UtcMicros,
    /// Counted in the numerator.
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub in_numerator: bool,
}

/// A page of an indicator's members.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    /// Which members.
    pub part: Part,
    /// After this id.
    pub after: Option<uuid::Uuid>,
    /// At most this many.
    pub limit: i64,
}

/// Lists the members of an indicator, by id.
pub fn members(
    conn: &mut AnyConnection,
    d: &IndicatorDef,
    c: &Cohort,
    q: &QualitySettings,
    lim: &Limits,
    page: Page,
) -> Result<Vec<Member>, AppError> {
    crate::db::sql::with_set_memory(conn, |conn| members_in(conn, d, c, q, lim, page))
}

fn members_in(
    conn: &mut AnyConnection,
    d: &IndicatorDef,
    c: &Cohort,
    q: &QualitySettings,
    lim: &Limits,
    page: Page,
) -> Result<Vec<Member>, AppError> {
    let Page { part, after, limit } = page;
    let b = conn.backend();
    let s = spec(d, c, b, q, lim);
    let filter = match part {
        Part::Denominator => String::new(),
        Part::Numerator => format!(" AND {}", s.num),
        Part::Gap if d.lower_is_better => format!(" AND {}", s.num),
        Part::Gap => format!(" AND NOT {}", s.num),
    };
    let after = after.map_or_else(String::new, |a| format!(" AND {} > '{a}'", s.member));
    let sql = format!(
        "SELECT {m} AS id, i.id AS infant_id, i.hospital_id AS hospital_id, i.mrn AS mrn, i.birth_at AS birth_at, \
         CASE WHEN {num} THEN 1=1 ELSE 1=0 END AS in_numerator FROM {from} WHERE {den}{filter}{after} ORDER BY {m} LIMIT {limit}",
        m = s.member,
        num = s.num,
        from = s.from,
        den = s.den,
    );
    Ok(diesel::sql_query(sql).load(conn)?)
}

/// The previous calendar month of `now` (China Standard Time).
pub fn previous_month(now: DateTime<Utc>) -> (NaiveDate, NaiveDate) {
    let today = crate::services::admin::versions::local_day(now);
    let first_this = today.with_day0(0).unwrap_or(today);
    let last_prev = first_this - Duration::days(1);
    (last_prev.with_day0(0).unwrap_or(last_prev), last_prev)
}
