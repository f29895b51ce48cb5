//! How each quality indicator is counted, in one exhaustive match ([`sql`]): its fast count (sums
//! over the facts tables `quality_infant_facts` / `quality_card_facts`, or over the cohort's
//! cases) and its source query over the tables the facts come from, which the drill-down lists.
//! The two must agree; the cohort test checks every indicator's drill-down against its count.
//!
//! The cohort is bound, never spelled into the SQL: `$1` and `$2` are the birth span, `$3` the
//! hospital when there is one (PostgreSQL numbers its parameters `$n`, SQLite `?n`, so one
//! placeholder is used as often as needed; [`crate::db::sql::numbered`] spells them). What is
//! spelled is generated here: column names, enum texts and durations. Conditions on related
//! rows are uncorrelated `id IN (SELECT …)` sets, which both databases build once per query
//! (a hashed subplan or an ephemeral index) instead of probing per infant.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Bool, Text, Timestamp};

use super::facts::{POSITIVE_REASONS, REPORTED};
use crate::db::sql::{numbered, plus};
use crate::db::types::UtcMicros;
use crate::db::{AnyConnection, Backend, MultiBackend};
use crate::domain::catalogue::Programme;
use crate::domain::ids::{HospitalId, InfantId};
use crate::domain::quality::{Indicator, Limits, Part};

/// The cohort as the queries bind it: infants born in `[from, before)`, not merged into another
/// record, optionally of one hospital; and the programmes it covers.
#[derive(Debug, Clone)]
pub struct Births {
    /// Born at or after.
    pub from: DateTime<Utc>,
    /// Born before.
    pub before: DateTime<Utc>,
    /// Only this hospital's infants.
    pub hospital: Option<HospitalId>,
    /// Only the infants of this district's hospitals.
    pub district: Option<String>,
    /// Only this programme's indicators and cases.
    pub programme: Option<Programme>,
    /// When the report is made: the management indicators count what is due by then. Bound
    /// after the cohort (`$3`, or `$4` with a hospital) by the queries that use it.
    pub now: DateTime<Utc>,
}

impl Births {
    /// The cohort condition on the infants (or facts) table aliased `alias`.
    pub(super) fn on(&self, alias: &str) -> String {
        let mut w = format!(
            "{alias}.birth_at >= $1 AND {alias}.birth_at < $2 AND {alias}.merged_into IS NULL"
        );
        if self.hospital.is_some() {
            w.push_str(&format!(" AND {alias}.hospital_id = $3"));
        }
        if self.district.is_some() {
            let k = if self.hospital.is_some() { 4 } else { 3 };
            w.push_str(&format!(
                " AND {alias}.hospital_id IN (SELECT hd.id FROM hospitals hd WHERE hd.district = ${k})"
            ));
        }
        w
    }

    /// How many parameters the cohort binds (the next one is this plus one).
    fn params(&self) -> usize {
        2 + usize::from(self.hospital.is_some()) + usize::from(self.district.is_some())
    }

    /// The placeholder of `now`, which follows the cohort's parameters.
    fn now_placeholder(&self) -> String {
        format!("${}", self.params() + 1)
    }

    /// Whether `sql` (before [`numbered`]) uses `now`, so the query must bind it.
    fn uses_now(&self, sql: &str) -> bool {
        let p = self.now_placeholder();
        sql.match_indices(&p).any(|(at, _)| {
            !sql[at + p.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit())
        })
    }

    /// The programmes of the filter.
    fn programmes(&self) -> Vec<Programme> {
        self.programme
            .map_or_else(|| Programme::ALL.to_vec(), |p| vec![p])
    }

    /// ` AND col = '<programme>'` under a programme filter.
    fn programme_filter(&self, col: &str) -> String {
        self.programme
            .map_or_else(String::new, |p| format!(" AND {col} = '{}'", p.as_str()))
    }

    /// The screen-positive cases (alias `k`) of the filter's programmes.
    pub(super) fn positive(&self) -> String {
        format!("{POSITIVE_REASONS}{}", self.programme_filter("k.programme"))
    }

    /// `sql` with the cohort's parameters bound.
    pub(super) fn query(
        &self,
        b: Backend,
        sql: &str,
    ) -> BoxedSqlQuery<'static, MultiBackend, SqlQuery> {
        let q = diesel::sql_query(numbered(b, sql))
            .into_boxed::<MultiBackend>()
            .bind::<Timestamp, _>(UtcMicros::new(self.from))
            .bind::<Timestamp, _>(UtcMicros::new(self.before));
        let q = match self.hospital {
            Some(h) => q.bind::<Text, _>(h),
            None => q,
        };
        match &self.district {
            Some(d) => q.bind::<Text, _>(d.clone()),
            None => q,
        }
    }
}

/// The source of the case-level indicators.
pub(super) const CASES_FROM: &str = "cases k JOIN infants i ON i.id = k.infant_id";
/// A case rechecked: moved to recheck done or work-up, or resolved with a diagnostic outcome.
const RECHECKED: &str = "(k.id IN (SELECT e.case_id FROM case_events e WHERE e.to_state IN ('recheck_done','diagnostic_workup')) \
    OR k.outcome LIKE '%\"confirmed\"%' OR k.outcome LIKE '%\"ruled_out\"%' OR k.outcome LIKE '%\"carrier\"%' OR k.outcome LIKE '%\"diagnosed_elsewhere\"%')";
/// First time the family was reached: a `reached` contact attempt or the move to family contacted.
pub(super) const FIRST_CONTACT: &str = "(SELECT MIN(x.t) FROM (SELECT a.attempted_at AS t FROM contact_attempts a WHERE a.case_id = k.id AND a.outcome = 'reached' \
    UNION ALL SELECT e.at AS t FROM case_events e WHERE e.case_id = k.id AND e.to_state = 'family_contacted') x)";
/// First time the case was rechecked: the move to recheck done or work-up, else a diagnostic resolution.
pub(super) const RECHECK: &str = "(SELECT MIN(x.t) FROM (SELECT e.at AS t FROM case_events e WHERE e.case_id = k.id AND e.to_state IN ('recheck_done','diagnostic_workup') \
    UNION ALL SELECT k2.resolved_at AS t FROM cases k2 WHERE k2.id = k.id AND (k2.outcome LIKE '%\"confirmed\"%' OR k2.outcome LIKE '%\"ruled_out\"%' OR k2.outcome LIKE '%\"carrier\"%' OR k2.outcome LIKE '%\"diagnosed_elsewhere\"%')) x)";

/// The source of the episode-level (management) indicators.
const EPISODES_FROM: &str = "management_episodes m JOIN infants i ON i.id = m.infant_id";
/// An episode that counts: not closed because the diagnosis was revised.
const EPISODE_COUNTS: &str = "(m.close_reason IS NULL OR m.close_reason <> 'diagnosis_revised')";

/// The table a fast count sums over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Over {
    /// `quality_infant_facts f`.
    InfantFacts,
    /// `quality_card_facts f`.
    CardFacts,
    /// The cohort's cases (`k`, with the infant `i`).
    Cases,
    /// The cohort's management episodes (`m`, with the infant `i`).
    Episodes,
}

/// An indicator's fast count: denominator and numerator conditions over one table.
struct Count {
    over: Over,
    den: String,
    num: String,
}

/// An indicator's source query: `FROM … WHERE <cohort><den>`, the numerator condition and the
/// member id column (infant, card or case).
struct Source {
    from: &'static str,
    den: String,
    num: String,
    member: &'static str,
}

/// Both ways of counting one indicator.
struct Sql {
    count: Count,
    source: Source,
}

/// What the definitions need besides the indicator.
struct Ctx<'a> {
    b: Backend,
    births: &'a Births,
    lim: &'a Limits,
}

impl Ctx<'_> {
    fn plus(&self, col: &str, d: Duration) -> String {
        plus(self.b, col, d)
    }

    /// `i.id IN (…)`: the cohort's infants with a row in `from` (keyed by `key`) meeting `cond`.
    /// The set is built once per query from the cohort's rows only (`i2` is the cohort again).
    fn set(&self, from: &str, key: &str, cond: &str) -> String {
        format!(
            "i.id IN (SELECT {key} FROM {from} JOIN infants i2 ON i2.id = {key} WHERE {} AND {cond})",
            self.births.on("i2")
        )
    }

    /// Screened in programme `p`, over the source tables.
    fn screened(&self, p: Programme) -> String {
        match p {
            Programme::Dbs => self.set(
                "dbs_cards c",
                "c.infant_id",
                &format!(
                    "(c.quality IS NULL OR c.quality = 'acceptable') AND c.collected_at <= {}",
                    self.plus("i2.birth_at", self.lim.dbs)
                ),
            ),
            Programme::Hear => self.set(
                "hearing_screens h",
                "h.infant_id",
                "h.stage IN ('initial','rescreen')",
            ),
            Programme::Cchd => self.set("cchd_screens s", "s.infant_id", "1 = 1"),
        }
    }

    /// Screened in programme `p`, over the infant facts.
    fn screened_fact(&self, p: Programme) -> String {
        match p {
            Programme::Dbs => format!(
                "(f.dbs_ok_first IS NOT NULL AND f.dbs_ok_first <= {})",
                self.plus("f.birth_at", self.lim.dbs)
            ),
            Programme::Hear => "f.hear_screened = 1".into(),
            Programme::Cchd => "f.cchd_screened = 1".into(),
        }
    }

    /// Screened in any programme of the filter, over the infant facts.
    fn screened_any_fact(&self) -> String {
        let any: Vec<String> = self
            .births
            .programmes()
            .into_iter()
            .map(|p| self.screened_fact(p))
            .collect();
        any.join(" OR ")
    }

    /// Coverage: eligible infants (not died unscreened before the age limit) screened.
    fn coverage(&self, p: Programme) -> Sql {
        let age = self.lim.coverage_age(p);
        Sql {
            count: Count {
                over: Over::InfantFacts,
                den: format!(
                    "NOT (f.status = 'deceased' AND f.status_changed_at < {} AND NOT {})",
                    self.plus("f.birth_at", age),
                    self.screened_fact(p)
                ),
                num: self.screened_fact(p),
            },
            source: self.infants(
                format!(
                    " AND NOT (i.status = 'deceased' AND i.status_changed_at < {} AND NOT {})",
                    self.plus("i.birth_at", age),
                    self.screened(p)
                ),
                self.screened(p),
            ),
        }
    }

    /// Refusals: infants whose latest decision for `p` is a refusal.
    fn refusal(&self, p: Programme) -> Sql {
        let x = match p {
            Programme::Dbs => "dbs",
            Programme::Hear => "hear",
            Programme::Cchd => "cchd",
        };
        let prog = p.as_str();
        Sql {
            count: Count {
                over: Over::InfantFacts,
                den: "1 = 1".into(),
                num: format!(
                    "f.{x}_refused_at IS NOT NULL AND f.{x}_refused_at = f.{x}_decided_at"
                ),
            },
            source: self.infants(
                String::new(),
                self.set(
                    "screening_consents s",
                    "s.infant_id",
                    &format!(
                        "s.programme = '{prog}' AND s.decision = 'refusal' AND NOT EXISTS (SELECT 1 FROM screening_consents s2 \
                         WHERE s2.infant_id = s.infant_id AND s2.programme = '{prog}' AND s2.signed_at > s.signed_at)"
                    ),
                ),
            ),
        }
    }

    fn infants(&self, den_extra: String, num: String) -> Source {
        Source {
            from: "infants i",
            den: den_extra,
            num,
            member: "i.id",
        }
    }

    fn cards(&self, den: &str, num: String) -> Source {
        Source {
            from: "dbs_cards c JOIN infants i ON i.id = c.infant_id",
            den: format!(" AND {den}"),
            num,
            member: "c.id",
        }
    }

    /// A card-level indicator: its fact conditions (alias `f`) and source conditions (`c`, `i`).
    fn card_level(&self, facts: (&str, String), source: (&str, String)) -> Sql {
        Sql {
            count: Count {
                over: Over::CardFacts,
                den: facts.0.into(),
                num: facts.1,
            },
            source: self.cards(source.0, source.1),
        }
    }

    /// An episode-level indicator: the same conditions count and list.
    fn episode_level(&self, den: String, num: String) -> Sql {
        Sql {
            count: Count {
                over: Over::Episodes,
                den: den.clone(),
                num: num.clone(),
            },
            source: Source {
                from: EPISODES_FROM,
                den: format!(" AND {den}"),
                num,
                member: "m.id",
            },
        }
    }

    /// A case-level indicator: the same conditions count and list.
    fn case_level(&self, den: String, num: String) -> Sql {
        Sql {
            count: Count {
                over: Over::Cases,
                den: den.clone(),
                num: num.clone(),
            },
            source: Source {
                from: CASES_FROM,
                den: format!(" AND {den}"),
                num,
                member: "k.id",
            },
        }
    }
}

/// How `ind` is counted and listed. Every indicator has an arm: a new one does not compile
/// until both are written.
fn sql(ind: Indicator, x: &Ctx) -> Sql {
    let lim = x.lim;
    match ind {
        Indicator::DbsCoverage => x.coverage(Programme::Dbs),
        Indicator::HearingCoverage => x.coverage(Programme::Hear),
        Indicator::CchdCoverage => x.coverage(Programme::Cchd),
        Indicator::DbsRefusalRate => x.refusal(Programme::Dbs),
        Indicator::HearingRefusalRate => x.refusal(Programme::Hear),
        Indicator::CchdRefusalRate => x.refusal(Programme::Cchd),
        Indicator::ConsentAwareness => Sql {
            count: Count {
                over: Over::InfantFacts,
                den: "1 = 1".into(),
                num: "f.dbs_decided_at IS NOT NULL OR f.hear_decided_at IS NOT NULL OR f.cchd_decided_at IS NOT NULL".into(),
            },
            source: x.infants(
                String::new(),
                x.set("screening_consents s", "s.infant_id", "1 = 1"),
            ),
        },
        Indicator::UnsatisfactoryCards => x.card_level(
            ("f.quality IS NOT NULL", "f.quality <> 'acceptable'".into()),
            ("c.quality IS NOT NULL", "c.quality <> 'acceptable'".into()),
        ),
        Indicator::UnsatisfactoryNotRecollected => Sql {
            count: Count {
                over: Over::InfantFacts,
                den: "f.dbs_bad_last IS NOT NULL".into(),
                num: "f.dbs_ok_last IS NULL OR f.dbs_ok_last <= f.dbs_bad_last".into(),
            },
            source: x.infants(
                format!(
                    " AND {}",
                    x.set("dbs_cards u", "u.infant_id", "u.quality <> 'acceptable'")
                ),
                format!(
                    "NOT {}",
                    x.set(
                        "dbs_cards r",
                        "r.infant_id",
                        "(r.quality IS NULL OR r.quality = 'acceptable') AND r.collected_at > \
                         (SELECT MAX(u.collected_at) FROM dbs_cards u WHERE u.infant_id = r.infant_id AND u.quality <> 'acceptable')"
                    )
                ),
            ),
        },
        Indicator::LateCards => x.card_level(
            (
                "f.received_at IS NOT NULL",
                format!("f.received_at > {}", x.plus("f.collected_at", lim.late_card)),
            ),
            (
                "c.received_at IS NOT NULL",
                format!("c.received_at > {}", x.plus("c.collected_at", lim.late_card)),
            ),
        ),
        Indicator::EarlyCollection => x.card_level(
            (
                "f.first_card = 1",
                format!("f.collected_at < {}", x.plus("f.birth_at", lim.dbs_early)),
            ),
            (
                "c.repeat_of IS NULL",
                format!("c.collected_at < {}", x.plus("i.birth_at", lim.dbs_early)),
            ),
        ),
        Indicator::LateCollection => x.card_level(
            (
                "f.first_card = 1",
                format!("f.collected_at > {}", x.plus("f.birth_at", lim.dbs_late)),
            ),
            (
                "c.repeat_of IS NULL",
                format!("c.collected_at > {}", x.plus("i.birth_at", lim.dbs_late)),
            ),
        ),
        Indicator::ReportTimeliness => {
            let reported = |extra: &str| {
                format!(
                    "c.id IN (SELECT d.card_id FROM dbs_interpretations d JOIN dbs_cards c2 ON c2.id = d.card_id \
                     JOIN infants i2 ON i2.id = c2.infant_id WHERE {} AND {REPORTED}{extra})",
                    x.births.on("i2")
                )
            };
            let in_time = format!(
                " AND d.interpreted_at <= {}",
                x.plus("c2.received_at", lim.report)
            );
            x.card_level(
                (
                    "f.received_at IS NOT NULL AND f.reported_at IS NOT NULL",
                    format!("f.reported_at <= {}", x.plus("f.received_at", lim.report)),
                ),
                (
                    &format!("c.received_at IS NOT NULL AND {}", reported("")),
                    reported(&in_time),
                ),
            )
        }
        Indicator::PositiveRate => {
            let any_screened: Vec<String> = x
                .births
                .programmes()
                .into_iter()
                .map(|p| x.screened(p))
                .collect();
            let positive_fact: Vec<&str> = x
                .births
                .programmes()
                .into_iter()
                .map(|p| match p {
                    Programme::Dbs => "f.positive_dbs = 1",
                    Programme::Hear => "f.positive_hear = 1",
                    Programme::Cchd => "f.positive_cchd = 1",
                })
                .collect();
            Sql {
                count: Count {
                    over: Over::InfantFacts,
                    den: x.screened_any_fact(),
                    num: positive_fact.join(" OR "),
                },
                source: x.infants(
                    format!(" AND ({})", any_screened.join(" OR ")),
                    x.set("cases k", "k.infant_id", &x.births.positive()),
                ),
            }
        }
        Indicator::RecallRate => x.case_level(x.births.positive(), RECHECKED.into()),
        Indicator::FirstContactTimeliness => x.case_level(
            x.births.positive(),
            format!("{FIRST_CONTACT} <= k.first_contact_due_at"),
        ),
        Indicator::RecallTimeliness => {
            x.case_level(x.births.positive(), format!("{RECHECK} <= k.recall_due_at"))
        }
        Indicator::LostToFollowUp => x.case_level(
            x.births.positive(),
            "(k.state = 'resolved' AND k.outcome LIKE '%\"lost_to_follow_up\"%')".into(),
        ),
        Indicator::ConfirmedPpv => x.case_level(
            x.births.positive(),
            "(k.state = 'resolved' AND k.outcome LIKE '%\"confirmed\"%')".into(),
        ),
        Indicator::HearingRescreenBy42d => Sql {
            count: Count {
                over: Over::InfantFacts,
                den: "f.hear_initial_refer = 1".into(),
                num: format!(
                    "f.hear_rescreen_at <= {}",
                    x.plus("f.birth_at", lim.hearing_rescreen)
                ),
            },
            source: x.infants(
                format!(
                    " AND {}",
                    x.set(
                        "hearing_screens h",
                        "h.infant_id",
                        "h.stage = 'initial' AND (h.left_ear = 'refer' OR h.right_ear = 'refer')"
                    )
                ),
                x.set(
                    "hearing_screens h",
                    "h.infant_id",
                    &format!(
                        "h.stage = 'rescreen' AND h.tested_at <= {}",
                        x.plus("i2.birth_at", lim.hearing_rescreen)
                    ),
                ),
            ),
        },
        Indicator::HearingDiagnosisBy3m => Sql {
            count: Count {
                over: Over::InfantFacts,
                den: "f.hear_refer_case = 1".into(),
                num: format!(
                    "f.hear_diagnostic_at <= {}",
                    x.plus("f.birth_at", lim.hearing_diagnosis)
                ),
            },
            source: x.infants(
                format!(
                    " AND {}",
                    x.set(
                        "cases k",
                        "k.infant_id",
                        "k.programme = 'HEAR' AND k.reason = 'refer'"
                    )
                ),
                x.set(
                    "hearing_screens h",
                    "h.infant_id",
                    &format!(
                        "h.stage = 'diagnostic' AND h.tested_at <= {}",
                        x.plus("i2.birth_at", lim.hearing_diagnosis)
                    ),
                ),
            ),
        },
        Indicator::HearingInterventionBy6m => x.case_level(
            "k.programme = 'HEAR' AND k.state = 'resolved' AND k.outcome LIKE '%\"confirmed\"%'"
                .into(),
            format!(
                "k.infant_id IN (SELECT v.infant_id FROM hearing_interventions v JOIN infants i2 ON i2.id = v.infant_id \
                 WHERE {} AND v.started_at <= {})",
                x.births.on("i2"),
                x.plus("i2.birth_at", lim.hearing_intervention)
            ),
        ),
        Indicator::CchdEchoCompletion => x.case_level(
            "k.programme = 'CCHD' AND k.reason = 'positive'".into(),
            RECHECKED.into(),
        ),
        Indicator::ManagementRegistration => x.case_level(
            "k.state = 'resolved' AND k.outcome LIKE '%\"confirmed\"%'".into(),
            "k.id IN (SELECT m.case_id FROM management_episodes m WHERE m.case_id IS NOT NULL)"
                .into(),
        ),
        Indicator::ManagementReporting => {
            x.episode_level(EPISODE_COUNTS.into(), "m.reported_at IS NOT NULL".into())
        }
        Indicator::ManagementTreatmentTimeliness => x.episode_level(
            format!(
                "{EPISODE_COUNTS} AND m.treatment_due_at IS NOT NULL \
                 AND (m.treatment_started_at IS NOT NULL OR m.treatment_due_at < {})",
                x.births.now_placeholder()
            ),
            "m.treatment_started_at <= m.treatment_due_at".into(),
        ),
        Indicator::ManagementFollowUpRate => {
            let now = x.births.now_placeholder();
            x.episode_level(
                format!(
                    "m.id IN (SELECT c.episode_id FROM management_contacts c \
                     WHERE c.cancelled_at IS NULL AND c.window_end < {now})"
                ),
                format!(
                    "m.id NOT IN (SELECT c.episode_id FROM management_contacts c \
                     WHERE c.cancelled_at IS NULL AND c.window_end < {now} \
                     AND (c.done_at IS NULL OR c.done_at > c.window_end))"
                ),
            )
        }
        Indicator::ManagementLost => x.episode_level(
            EPISODE_COUNTS.into(),
            "m.close_reason = 'lost_to_follow_up'".into(),
        ),
    }
}

/// Screened in any programme of the cohort's filter, over the infant facts aliased `f` (the
/// positive rate's denominator).
pub(super) fn screened_any_fact(b: Backend, births: &Births, lim: &Limits) -> String {
    Ctx { b, births, lim }.screened_any_fact()
}

#[derive(QueryableByName)]
struct Joined {
    #[diesel(sql_type = Text)]
    v: String,
}

/// (numerator, denominator) per indicator.
pub type Counts = HashMap<Indicator, (i64, i64)>;

/// Counts `inds` over the cohort: one scan of each facts table and one pass over the cohort's
/// cases, whatever the number of indicators.
pub fn count(
    conn: &mut AnyConnection,
    births: &Births,
    lim: &Limits,
    inds: &[Indicator],
) -> QueryResult<Counts> {
    let x = Ctx {
        b: conn.backend(),
        births,
        lim,
    };
    let mut out = Counts::new();
    for over in [
        Over::InfantFacts,
        Over::CardFacts,
        Over::Cases,
        Over::Episodes,
    ] {
        let items: Vec<(Indicator, Count)> = inds
            .iter()
            .map(|&i| (i, sql(i, &x).count))
            .filter(|(_, c)| c.over == over)
            .collect();
        if items.is_empty() {
            continue;
        }
        let from_where = match over {
            Over::InfantFacts => format!("FROM quality_infant_facts f WHERE {}", births.on("f")),
            Over::CardFacts => format!("FROM quality_card_facts f WHERE {}", births.on("f")),
            Over::Cases => format!("FROM {CASES_FROM} WHERE {}", births.on("i")),
            Over::Episodes => format!("FROM {EPISODES_FROM} WHERE {}", births.on("i")),
        };
        // One text of all the sums: the number of columns varies with the indicators.
        let sums: Vec<String> = items
            .iter()
            .flat_map(|(_, c)| {
                [
                    format!(
                        "CAST(COALESCE(SUM(CASE WHEN {} THEN 1 ELSE 0 END), 0) AS TEXT)",
                        c.den
                    ),
                    format!(
                        "CAST(COALESCE(SUM(CASE WHEN ({}) AND ({}) THEN 1 ELSE 0 END), 0) AS TEXT)",
                        c.den, c.num
                    ),
                ]
            })
            .collect();
        let sql = format!("SELECT {} AS v {from_where}", sums.join(" || ',' || "));
        let mut q = births.query(x.b, &sql);
        if births.uses_now(&sql) {
            q = q.bind::<Timestamp, _>(UtcMicros::new(births.now));
        }
        let row: Joined = q.get_result(conn)?;
        let n = row
            .v
            .split(',')
            .map(|s| s.trim().parse::<i64>())
            .collect::<Result<Vec<i64>, _>>()
            .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))?;
        for (k, (ind, _)) in items.iter().enumerate() {
            let den = n.get(2 * k).copied();
            let num = n.get(2 * k + 1).copied();
            let (Some(den), Some(num)) = (den, num) else {
                return Err(diesel::result::Error::DeserializationError(
                    "fewer sums than indicators".into(),
                ));
            };
            out.insert(*ind, (num, den));
        }
    }
    Ok(out)
}

#[derive(QueryableByName)]
struct HospitalCount {
    #[diesel(sql_type = Text)]
    hospital_id: HospitalId,
    #[diesel(sql_type = BigInt)]
    den: i64,
    #[diesel(sql_type = BigInt)]
    num: i64,
}

/// `ind` per hospital of the cohort: (hospital, numerator, denominator), hospitals with a
/// denominator only. One grouped pass over the indicator's table.
pub fn count_by_hospital(
    conn: &mut AnyConnection,
    births: &Births,
    lim: &Limits,
    ind: Indicator,
) -> QueryResult<Vec<(HospitalId, i64, i64)>> {
    let x = Ctx {
        b: conn.backend(),
        births,
        lim,
    };
    let c = sql(ind, &x).count;
    let (from_where, col) = match c.over {
        Over::InfantFacts => (
            format!("FROM quality_infant_facts f WHERE {}", births.on("f")),
            "f.hospital_id",
        ),
        Over::CardFacts => (
            format!("FROM quality_card_facts f WHERE {}", births.on("f")),
            "f.hospital_id",
        ),
        Over::Cases => (
            format!("FROM {CASES_FROM} WHERE {}", births.on("i")),
            "i.hospital_id",
        ),
        Over::Episodes => (
            format!("FROM {EPISODES_FROM} WHERE {}", births.on("i")),
            "i.hospital_id",
        ),
    };
    let sql = format!(
        "SELECT {col} AS hospital_id, \
         CAST(COALESCE(SUM(CASE WHEN {den} THEN 1 ELSE 0 END), 0) AS BIGINT) AS den, \
         CAST(COALESCE(SUM(CASE WHEN ({den}) AND ({num}) THEN 1 ELSE 0 END), 0) AS BIGINT) AS num \
         {from_where} GROUP BY {col} ORDER BY {col}",
        den = c.den,
        num = c.num,
    );
    let mut q = births.query(x.b, &sql);
    if births.uses_now(&sql) {
        q = q.bind::<Timestamp, _>(UtcMicros::new(births.now));
    }
    Ok(q.load::<HospitalCount>(conn)?
        .into_iter()
        .filter(|r| r.den > 0)
        .map(|r| (r.hospital_id, r.num, r.den))
        .collect())
}

#[derive(QueryableByName)]
struct MonthCount {
    #[diesel(sql_type = Text)]
    month: String,
    #[diesel(sql_type = BigInt)]
    den: i64,
    #[diesel(sql_type = BigInt)]
    num: i64,
}

/// `ind` per month of birth (China Standard Time, `YYYY-MM`): (month, numerator, denominator),
/// months with a denominator only. One grouped pass over the indicator's table.
pub fn count_by_month(
    conn: &mut AnyConnection,
    births: &Births,
    lim: &Limits,
    ind: Indicator,
) -> QueryResult<Vec<(String, i64, i64)>> {
    let b = conn.backend();
    let x = Ctx { b, births, lim };
    let c = sql(ind, &x).count;
    let (from_where, col) = match c.over {
        Over::InfantFacts => (
            format!("FROM quality_infant_facts f WHERE {}", births.on("f")),
            "f.birth_at",
        ),
        Over::CardFacts => (
            format!("FROM quality_card_facts f WHERE {}", births.on("f")),
            "f.birth_at",
        ),
        Over::Cases => (
            format!("FROM {CASES_FROM} WHERE {}", births.on("i")),
            "i.birth_at",
        ),
        Over::Episodes => (
            format!("FROM {EPISODES_FROM} WHERE {}", births.on("i")),
            "i.birth_at",
        ),
    };
    let month = match b {
        Backend::Sqlite => format!("strftime('%Y-%m', datetime({col}, '+8 hours'))"),
        Backend::Postgres => format!("to_char({col} + interval '8 hours', 'YYYY-MM')"),
    };
    let sql = format!(
        "SELECT {month} AS month, \
         CAST(COALESCE(SUM(CASE WHEN {den} THEN 1 ELSE 0 END), 0) AS BIGINT) AS den, \
         CAST(COALESCE(SUM(CASE WHEN ({den}) AND ({num}) THEN 1 ELSE 0 END), 0) AS BIGINT) AS num \
         {from_where} GROUP BY {month} ORDER BY {month}",
        den = c.den,
        num = c.num,
    );
    let mut q = births.query(b, &sql);
    if births.uses_now(&sql) {
        q = q.bind::<Timestamp, _>(UtcMicros::new(births.now));
    }
    Ok(q.load::<MonthCount>(conn)?
        .into_iter()
        .filter(|r| r.den > 0)
        .map(|r| (r.month, r.num, r.den))
        .collect())
}

/// One member of an indicator.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema, QueryableByName)]
pub struct Member {
    /// Infant, card or case id (by the indicator's level).
    #[diesel(sql_type = Text)]
    pub id: String,
    /// The infant.
    #[diesel(sql_type = Text)]
    pub infant_id: InfantId,
    /// The infant's hospital.
    #[diesel(sql_type = Text)]
    pub hospital_id: HospitalId,
    /// Medical record number.
    #[diesel(sql_type = Text)]
    pub mrn: String,
    /// Birth (UTC).
    #[diesel(sql_type = Timestamp)]
    #[schema(value_type = String, format = DateTime)]
    pub birth_at: UtcMicros,
    /// Counted in the numerator.
    #[diesel(sql_type = Bool)]
    pub in_numerator: bool,
}

/// Lists the members of `ind` in `part`, by id, after `after`, at most `limit`.
pub fn members(
    conn: &mut AnyConnection,
    ind: Indicator,
    births: &Births,
    lim: &Limits,
    part: Part,
    after: Option<uuid::Uuid>,
    limit: i64,
) -> QueryResult<Vec<Member>> {
    let x = Ctx {
        b: conn.backend(),
        births,
        lim,
    };
    let s = sql(ind, &x).source;
    let filter = match part {
        Part::Denominator => String::new(),
        Part::Numerator => format!(" AND {}", s.num),
        Part::Gap if ind.def().lower_is_better => format!(" AND {}", s.num),
        Part::Gap => format!(" AND NOT {}", s.num),
    };
    let mut next = births.params() + 1;
    let with_now = births.uses_now(&format!("{}{}", s.den, s.num));
    if with_now {
        next += 1;
    }
    let after_cond = if after.is_some() {
        let c = format!(" AND {} > ${next}", s.member);
        next += 1;
        c
    } else {
        String::new()
    };
    let sql = format!(
        "SELECT {m} AS id, i.id AS infant_id, i.hospital_id AS hospital_id, i.mrn AS mrn, i.birth_at AS birth_at, \
         CASE WHEN {num} THEN 1=1 ELSE 1=0 END AS in_numerator FROM {from} WHERE {cohort}{den}{filter}{after_cond} \
         ORDER BY {m} LIMIT ${next}",
        m = s.member,
        num = s.num,
        from = s.from,
        cohort = births.on("i"),
        den = s.den,
    );
    let mut q = births.query(x.b, &sql);
    if with_now {
        q = q.bind::<Timestamp, _>(UtcMicros::new(births.now));
    }
    if let Some(a) = after {
        q = q.bind::<Text, _>(a.to_string());
    }
    q.bind::<BigInt, _>(limit).load(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_indicator_binds_its_cohort_and_spells_no_date_or_id() {
        let lim = Limits {
            dbs: Duration::days(20),
            dbs_early: Duration::hours(48),
            dbs_late: Duration::days(7),
            hearing: Duration::days(3),
            hearing_rescreen: Duration::days(42),
            hearing_diagnosis: Duration::days(90),
            hearing_intervention: Duration::days(180),
            cchd: Duration::hours(72),
            late_card: Duration::days(5),
            report: Duration::days(3),
            groups: Default::default(),
        };
        let births = Births {
            from: Utc::now(),
            before: Utc::now(),
            hospital: Some(HospitalId(uuid::Uuid::nil())),
            district: None,
            programme: None,
            now: Utc::now(),
        };
        for b in [Backend::Sqlite, Backend::Postgres] {
            let x = Ctx {
                b,
                births: &births,
                lim: &lim,
            };
            for &i in Indicator::ALL {
                let s = sql(i, &x);
                let text = [s.count.den, s.count.num, s.source.den, s.source.num].join(" ");
                assert!(
                    !text.contains("2026") && !text.contains("'0"),
                    "{i}: {text}"
                );
                // Every subquery over the cohort again (`i2`) binds the hospital too.
                assert_eq!(
                    text.matches("JOIN infants i2").count(),
                    text.matches("i2.hospital_id = $3").count(),
                    "{i}: {text}"
                );
            }
        }
    }
}
