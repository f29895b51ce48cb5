//! The quality dashboard (质量): period presets (this and last month, quarter, year) or any two
//! days, hospital and programme; the indicator table — value, numerator and denominator (each a
//! link to the infants, cards, cases or episodes behind it), target, met, the definition and its
//! source on expand — with a CSV download of what is shown; and charts drawn on the server as
//! SVG, each followed by the same numbers as a table. The figures are the JSON report's
//! (`services::quality::report`), so the two always agree.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use askama::Template;
use chrono::{Datelike, Duration, NaiveDate};
use serde::Deserialize;

use super::{Chrome, Opt, render};
use crate::api::quality::reports::{QualityQuery, cohort, indicators_csv};
use crate::db;
use crate::db::models::admin::hospital;
use crate::domain::catalogue::Programme;
use crate::domain::ids::HospitalId;
use crate::domain::role::Action;
use crate::error::AppError;
use crate::services::admin::catalogue;
use crate::services::quality::dashboard;
use crate::services::quality::report::IndicatorValue;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::i18n::Tr;
use crate::web::session::Console;

mod charts;
mod members;
mod scorecard;

pub use members::members_page;
pub use scorecard::scorecard_page;

use charts::{Chart, chart_list};

/// The dashboard's filters, as the form sends them (empty fields are absent).
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    from: Option<String>,
    to: Option<String>,
    /// A calendar month, `YYYY-MM` (before `quarter`, `year` and the days).
    month: Option<String>,
    /// A quarter, `YYYY-Qn`.
    quarter: Option<String>,
    /// A year, `YYYY`.
    year: Option<String>,
    hospital: Option<String>,
    district: Option<String>,
    programme: Option<String>,
    part: Option<String>,
    cursor: Option<String>,
}

fn nonempty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl Filters {
    /// The report query: last month unless both days are given.
    pub(super) fn query(&self, today: NaiveDate) -> Result<QualityQuery, AppError> {
        let day = |v: &Option<String>, field: &str| {
            nonempty(v)
                .map(|s| {
                    s.parse::<NaiveDate>()
                        .map_err(|_| AppError::invalid(field, "is not a date (YYYY-MM-DD)"))
                })
                .transpose()
        };
        let (from, to) = if let Some(m) = nonempty(&self.month) {
            period_of_month(&m)
                .ok_or_else(|| AppError::invalid("month", "is not a month (YYYY-MM)"))?
        } else if let Some(q) = nonempty(&self.quarter) {
            period_of_quarter(&q)
                .ok_or_else(|| AppError::invalid("quarter", "is not a quarter (YYYY-Qn)"))?
        } else if let Some(y) = nonempty(&self.year) {
            y.parse::<i32>()
                .ok()
                .and_then(|y| {
                    Some((
                        NaiveDate::from_ymd_opt(y, 1, 1)?,
                        NaiveDate::from_ymd_opt(y, 12, 31)?,
                    ))
                })
                .ok_or_else(|| AppError::invalid("year", "is not a year (YYYY)"))?
        } else {
            match (day(&self.from, "from")?, day(&self.to, "to")?) {
                (Some(f), Some(t)) => (f, t),
                _ => last_month(today),
            }
        };
        Ok(QualityQuery {
            from,
            to,
            hospital: nonempty(&self.hospital),
            district: nonempty(&self.district),
            programme: nonempty(&self.programme),
            format: None,
            part: nonempty(&self.part),
            limit: None,
            cursor: nonempty(&self.cursor),
        })
    }
}

/// The first and last day of `YYYY-MM`.
fn period_of_month(m: &str) -> Option<(NaiveDate, NaiveDate)> {
    let first = NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").ok()?;
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)?
    };
    Some((first, next - Duration::days(1)))
}

/// The first and last day of `YYYY-Qn`.
fn period_of_quarter(q: &str) -> Option<(NaiveDate, NaiveDate)> {
    let (y, n) = q.split_once(['-', ' '])?;
    let y: i32 = y.parse().ok()?;
    let n: u32 = n.trim_start_matches(['Q', 'q']).parse().ok()?;
    if !(1..=4).contains(&n) {
        return None;
    }
    let first = NaiveDate::from_ymd_opt(y, (n - 1) * 3 + 1, 1)?;
    let (_, last) = period_of_month(&format!("{y}-{:02}", n * 3))?;
    Some((first, last))
}

fn last_month(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = today.with_day(1).unwrap_or(today);
    let last_prev = first - Duration::days(1);
    (last_prev.with_day(1).unwrap_or(last_prev), last_prev)
}

/// The query string of a cohort (for links that keep it).
pub(super) fn query_string(q: &QualityQuery) -> String {
    let mut s = format!("from={}&to={}", q.from, q.to);
    if let Some(h) = &q.hospital {
        s.push_str(&format!("&hospital={h}"));
    }
    if let Some(d) = &q.district {
        let enc = super::url_encode(d);
        s.push_str(&format!("&district={enc}"));
    }
    if let Some(p) = &q.programme {
        s.push_str(&format!("&programme={p}"));
    }
    s
}

/// One indicator line.
#[derive(Debug, Clone)]
pub struct Row {
    /// Indicator id.
    pub id: String,
    /// Name in the page's language.
    pub name: String,
    /// Value as a percentage, or —.
    pub value: String,
    /// Numerator.
    pub num: i64,
    /// Denominator.
    pub den: i64,
    /// Target (≥ or ≤), or —.
    pub target: String,
    /// Met, not met, or —, in words.
    pub met: String,
    /// `met`, `missed` or `none` (the cell's class).
    pub met_class: String,
    /// Numerator / denominator in one line.
    pub definition: String,
    /// Where the definition comes from.
    pub source: String,
    /// Median and p90 (hours) when the indicator carries them.
    pub intervals: String,
}

#[derive(Template)]
#[template(path = "quality.html", config = "src/web/askama.toml")]
struct QualityPage {
    c: Chrome,
    from: String,
    to: String,
    presets: Vec<(String, String)>,
    hospitals: Vec<Opt>,
    districts: Vec<Opt>,
    programmes: Vec<Opt>,
    query: String,
    caption: String,
    rows: Vec<Row>,
    charts: Vec<Chart>,
    generated: String,
}

fn presets(tr: Tr, today: NaiveDate) -> Vec<(String, String)> {
    let this_month = today.with_day(1).unwrap_or(today);
    let q0 =
        NaiveDate::from_ymd_opt(today.year(), (today.month0() / 3) * 3 + 1, 1).unwrap_or(today);
    let y0 = NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today);
    let (lm_from, lm_to) = last_month(today);
    [
        ("preset_this_month", this_month, today),
        ("preset_last_month", lm_from, lm_to),
        ("preset_this_quarter", q0, today),
        ("preset_this_year", y0, today),
    ]
    .into_iter()
    .map(|(k, f, t)| (tr.t(k), format!("/quality?from={f}&to={t}")))
    .collect()
}

fn rows(tr: Tr, values: &[IndicatorValue]) -> Vec<Row> {
    values
        .iter()
        .map(|v| {
            let (met, class) = match v.met {
                Some(true) => (tr.t("met_yes"), "met"),
                Some(false) => (tr.t("met_no"), "missed"),
                None => ("—".to_string(), "none"),
            };
            Row {
                id: v.id.to_string(),
                name: if tr.locale == "en" {
                    v.name.clone()
                } else {
                    v.name_zh.clone()
                },
                value: v.value.map_or_else(|| "—".into(), pct),
                num: v.numerator,
                den: v.denominator,
                target: v.target.map_or_else(
                    || "—".into(),
                    |t| format!("{} {}", if v.lower_is_better { "≤" } else { "≥" }, pct(t)),
                ),
                met,
                met_class: class.into(),
                definition: v.definition.clone(),
                source: v.source.clone(),
                intervals: v
                    .intervals
                    .as_ref()
                    .and_then(|m| m.get("all"))
                    .map(|s| {
                        tr.f(
                            "median_p90",
                            &[
                                ("median", &format!("{:.1}", s.median_hours)),
                                ("p90", &format!("{:.1}", s.p90_hours)),
                            ],
                        )
                    })
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// The hospitals the user may see: (id, name, district).
async fn hospitals(
    c: &Console,
    state: &AppState,
) -> Result<Vec<(HospitalId, String, Option<String>)>, WebError> {
    let scope = c.session.principal.scope();
    Ok(db::run(&state.pool, move |conn| {
        Ok::<_, AppError>(
            hospital::list(conn, &scope, None)?
                .into_iter()
                .map(|h| (h.id, h.name, h.district))
                .collect(),
        )
    })
    .await?)
}

/// `GET /quality`: the dashboard.
#[get("/quality")]
pub async fn dashboard_page(
    c: Console,
    state: web::Data<AppState>,
    f: web::Query<Filters>,
) -> Result<HttpResponse, WebError> {
    c.require(Action::ReadPersonalData)?;
    let now = state.now();
    let today = crate::services::admin::versions::local_day(now);
    let q = f.query(today)?;
    let cohort = cohort(&c.session.principal, &q, now)?;
    let lim = state
        .settings
        .quality
        .limits(catalogue::current(&state.catalogues, now)?.catalogue());
    let settings = state.settings.quality.clone();
    let cc = cohort.clone();
    let (d, _) = db::replica::run_report(&state.pool, state.replica.as_ref(), now, move |conn| {
        dashboard::build(conn, &cc, &settings, &lim)
    })
    .await?;
    let tr = c.tr;
    let hs = hospitals(&c, &state).await?;
    let names: HashMap<HospitalId, String> = hs.iter().map(|(id, n, _)| (*id, n.clone())).collect();
    let mut districts: Vec<String> = hs.iter().filter_map(|h| h.2.clone()).collect();
    districts.sort();
    districts.dedup();
    let charts = chart_list(tr, &state, &d, &names);
    let page = QualityPage {
        c: Chrome::of(&c, "quality_title", "/quality"),
        from: q.from.to_string(),
        to: q.to.to_string(),
        presets: presets(tr, today),
        districts: districts
            .into_iter()
            .map(|d| Opt {
                selected: cohort.district.as_deref() == Some(d.as_str()),
                label: d.clone(),
                value: d,
            })
            .collect(),
        hospitals: hs
            .iter()
            .map(|(id, name, _)| Opt {
                value: id.to_string(),
                label: name.clone(),
                selected: cohort.hospital_id == Some(*id),
            })
            .collect(),
        programmes: Programme::ALL
            .iter()
            .map(|p| Opt {
                value: p.as_str().into(),
                label: tr.t(&format!("programme_{}", p.as_str())),
                selected: cohort.programme == Some(*p),
            })
            .collect(),
        query: query_string(&q),
        caption: tr.f(
            "indicators_caption",
            &[("from", &q.from.to_string()), ("to", &q.to.to_string())],
        ),
        rows: rows(tr, &d.indicators),
        charts,
        generated: tr.f("generated_at", &[("time", &tr.time(now))]),
    };
    render(StatusCode::OK, &page)
}

/// `GET /quality/export.csv`: the indicator table as CSV.
#[get("/quality/export.csv")]
pub async fn export(
    c: Console,
    state: web::Data<AppState>,
    f: web::Query<Filters>,
) -> Result<HttpResponse, WebError> {
    c.require(Action::ReadPersonalData)?;
    let now = state.now();
    let q = f.query(crate::services::admin::versions::local_day(now))?;
    let cohort = cohort(&c.session.principal, &q, now)?;
    let lim = state
        .settings
        .quality
        .limits(catalogue::current(&state.catalogues, now)?.catalogue());
    let settings = state.settings.quality.clone();
    let (values, data) =
        db::replica::run_report(&state.pool, state.replica.as_ref(), now, move |conn| {
            crate::services::quality::report::report(conn, &cohort, &settings, &lim)
        })
        .await?;
    Ok(indicators_csv(&values, q.from, q.to, &data))
}

pub(super) fn pct(v: f64) -> String {
    if v != 0.0 && v.abs() < 0.01 {
        format!("{:.2}%", v * 100.0)
    } else {
        format!("{:.1}%", v * 100.0)
    }
}

pub(super) fn rate(num: i64, den: i64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_month_quarter_or_year_names_its_days() {
        let f = |month: Option<&str>, quarter: Option<&str>, year: Option<&str>| Filters {
            month: month.map(str::to_string),
            quarter: quarter.map(str::to_string),
            year: year.map(str::to_string),
            ..Default::default()
        };
        let today = d("2026-12-06");
        let q = f(Some("2026-02"), None, None).query(today).unwrap();
        assert_eq!((q.from, q.to), (d("2026-02-01"), d("2026-02-28")));
        let q = f(None, Some("2026-Q3"), None).query(today).unwrap();
        assert_eq!((q.from, q.to), (d("2026-07-01"), d("2026-09-30")));
        let q = f(None, None, Some("2025")).query(today).unwrap();
        assert_eq!((q.from, q.to), (d("2025-01-01"), d("2025-12-31")));
        let q = f(None, None, None).query(today).unwrap();
        assert_eq!((q.from, q.to), (d("2026-11-01"), d("2026-11-30")));
        assert!(f(None, Some("2026-Q5"), None).query(today).is_err());
        assert!(f(Some("June"), None, None).query(today).is_err());
    }
}
