//! `/api/v1/reports/quality`: the programme's quality indicators for the infants born in a
//! period, per hospital and programme, as JSON (for dashboards) or CSV (UTF-8 with a BOM, so
//! Excel shows Chinese correctly), and the infants, cards or cases behind any indicator.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::page_limit;
use crate::auth::extract::require;
use crate::db;
use crate::db::models::quality::indicators::Member;
use crate::db::replica::{Freshness, Source};
use crate::domain::catalogue::Programme;
use crate::domain::ids::HospitalId;
use crate::domain::principal::Principal;
use crate::domain::quality::{Indicator, Part};
use crate::domain::role::Action;
use crate::error::{AppError, ErrorCode, Problem};
use crate::services::admin::catalogue;
use crate::services::quality::report::{Cohort, IndicatorValue};
use crate::state::AppState;

/// Period and filters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct QualityQuery {
    /// First birth date (local, `YYYY-MM-DD`).
    pub from: NaiveDate,
    /// Last birth date (inclusive).
    pub to: NaiveDate,
    /// One hospital (hospital principals always get their own).
    pub hospital: Option<String>,
    /// The hospitals of one district.
    pub district: Option<String>,
    /// `DBS`, `HEAR` or `CCHD`.
    pub programme: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
    /// Drill-down: `gap` (default: the members that miss the goal), `numerator` or `denominator`.
    pub part: Option<String>,
    /// Drill-down page size, 1–1000 (default 200).
    pub limit: Option<i64>,
    /// Drill-down: `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The report.
#[derive(Debug, Serialize, ToSchema)]
pub struct QualityReport {
    /// First birth date.
    pub from: NaiveDate,
    /// Last birth date.
    pub to: NaiveDate,
    /// Hospital, if one.
    pub hospital_id: Option<HospitalId>,
    /// Programme, if one.
    pub programme: Option<Programme>,
    /// Jurisdiction of the targets.
    pub jurisdiction: String,
    /// When computed.
    pub generated_at: DateTime<Utc>,
    /// Every indicator that applies, in report order.
    pub indicators: Vec<IndicatorValue>,
    /// Which database answered (the read replica when configured) and how current it was.
    pub data: Freshness,
}

/// A drill-down page.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberPage {
    /// The indicator listed.
    pub indicator: Indicator,
    /// `gap`, `numerator` or `denominator`.
    pub part: String,
    /// Members by id.
    pub items: Vec<Member>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
    /// Which database answered (the read replica when configured) and how current it was.
    pub data: Freshness,
}

pub(crate) fn cohort(
    p: &Principal,
    q: &QualityQuery,
    now: DateTime<Utc>,
) -> Result<Cohort, AppError> {
    if q.to < q.from {
        return Err(AppError::bad_field(
            ErrorCode::InvalidQuery,
            "to",
            "must not be before from",
        ));
    }
    if (q.to - q.from).num_days() > 731 {
        return Err(AppError::bad_field(
            ErrorCode::InvalidQuery,
            "to",
            "a period is at most two years",
        ));
    }
    let programme = q
        .programme
        .as_deref()
        .map(|p| {
            Programme::parse(p).ok_or_else(|| {
                AppError::bad_field(
                    ErrorCode::InvalidQuery,
                    "programme",
                    "must be DBS, HEAR or CCHD",
                )
            })
        })
        .transpose()?;
    let asked: Option<HospitalId> = q
        .hospital
        .as_deref()
        .map(|h| {
            h.parse().map(HospitalId).map_err(|_| {
                AppError::bad_field(ErrorCode::InvalidQuery, "hospital", "is not a hospital id")
            })
        })
        .transpose()?;
    let hospital_id = match p.scope().hospital_filter() {
        Some(own) => {
            if asked.is_some_and(|a| a != own) {
                return Err(AppError::NotFound { entity: "hospital" });
            }
            Some(own)
        }
        None => asked,
    };
    let district = match (&hospital_id, q.district.as_deref().map(str::trim)) {
        (_, None | Some("")) | (Some(_), _) => None,
        (None, Some(d)) if d.chars().count() <= 64 => Some(d.to_string()),
        (None, Some(_)) => {
            return Err(AppError::bad_field(
                ErrorCode::InvalidQuery,
                "district",
                "is at most 64 characters",
            ));
        }
    };
    Ok(Cohort {
        from: q.from,
        to: q.to,
        hospital_id,
        district,
        programme,
        now,
    })
}

/// One CSV cell. Text a spreadsheet would evaluate as a formula (starting with `=`, `+`, `-`,
/// `@`, a tab or a carriage return; OWASP CSV injection) is prefixed with `'`; plain numbers
/// (e.g. `-0.5`) stay numbers.
fn csv_cell(s: &str) -> String {
    let formula = s.starts_with(['=', '+', '-', '@', '\t', '\r'])
        && !s.parse::<f64>().is_ok_and(f64::is_finite);
    let s = if formula {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn csv_cells_never_start_a_formula() {
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+1+1"), "'+1+1");
        assert_eq!(csv_cell("-1+cmd|' /C calc'!A0"), "'-1+cmd|' /C calc'!A0");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("\tx"), "'\tx");
        assert_eq!(csv_cell("\rx"), "\"'\rx\"");
        assert_eq!(csv_cell("-0.5"), "-0.5");
        assert_eq!(csv_cell("0.98"), "0.98");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("ZJ001-000123"), "ZJ001-000123");
    }
}

fn csv_response(
    name: &str,
    header: &[&str],
    rows: Vec<Vec<String>>,
    data: &Freshness,
) -> HttpResponse {
    let mut out = String::from("\u{feff}");
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("X-Data-Source", freshness_source(data)))
        .insert_header(("X-Data-As-Of", data.as_of.to_rfc3339()))
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}.csv\""),
        ))
        .body(out)
}

/// The indicators as CSV (UTF-8 with a BOM), one line each: what the report endpoint and the
/// console's dashboard download.
pub(crate) fn indicators_csv(
    indicators: &[IndicatorValue],
    from: NaiveDate,
    to: NaiveDate,
    data: &Freshness,
) -> HttpResponse {
    let rows = indicators
        .iter()
        .map(|i| {
            let all = i.intervals.as_ref().and_then(|m| m.get("all"));
            vec![
                i.id.to_string(),
                i.name.clone(),
                i.name_zh.clone(),
                i.programme.map(|p| p.to_string()).unwrap_or_default(),
                i.numerator.to_string(),
                i.denominator.to_string(),
                opt(i.value),
                opt(i.target),
                i.met.map(|m| m.to_string()).unwrap_or_default(),
                all.map(|s| format!("{:.1}", s.median_hours))
                    .unwrap_or_default(),
                all.map(|s| format!("{:.1}", s.p90_hours))
                    .unwrap_or_default(),
                i.definition.clone(),
            ]
        })
        .collect();
    csv_response(
        &format!("quality-{from}-{to}"),
        &[
            "indicator",
            "name",
            "name_zh",
            "programme",
            "numerator",
            "denominator",
            "value",
            "target",
            "met",
            "median_hours",
            "p90_hours",
            "definition",
        ],
        rows,
        data,
    )
}

fn freshness_source(d: &Freshness) -> &'static str {
    match d.source {
        Source::Primary => "primary",
        Source::Replica => "replica",
    }
}

fn wants_csv(q: &QualityQuery) -> Result<bool, AppError> {
    match q.format.as_deref() {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(_) => Err(AppError::bad_field(
            ErrorCode::InvalidQuery,
            "format",
            "must be json or csv",
        )),
    }
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.4}")).unwrap_or_default()
}

/// Quality indicators of the infants born from `from` to `to`.
#[utoipa::path(tag = "reports", security(("bearer" = [])), params(QualityQuery),
    responses((status = 200, body = QualityReport), (status = 400, body = Problem)))]
#[get("/reports/quality")]
pub async fn quality_report(
    p: Principal,
    state: web::Data<AppState>,
    q: web::Query<QualityQuery>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ReadPersonalData)?;
    let q = q.into_inner();
    let csv = wants_csv(&q)?;
    let c = cohort(&p, &q, state.now())?;
    let now = state.now();
    let lim = state
        .settings
        .quality
        .limits(catalogue::current(&state.catalogues, now)?.catalogue());
    let settings = state.settings.quality.clone();
    let cc = c.clone();
    let (indicators, data) =
        db::replica::run_report(&state.pool, state.replica.as_ref(), now, move |conn| {
            crate::services::quality::report::report(conn, &cc, &settings, &lim)
        })
        .await?;
    if csv {
        return Ok(indicators_csv(&indicators, q.from, q.to, &data));
    }
    Ok(HttpResponse::Ok().json(QualityReport {
        from: c.from,
        to: c.to,
        hospital_id: c.hospital_id,
        programme: c.programme,
        jurisdiction: state.settings.quality.jurisdiction.clone(),
        generated_at: now,
        indicators,
        data,
    }))
}

/// The infants, cards or cases behind an indicator (by default the gap: those that miss the goal).
#[utoipa::path(tag = "reports", security(("bearer" = [])), params(("indicator" = String, Path), QualityQuery),
    responses((status = 200, body = MemberPage), (status = 400, body = Problem), (status = 404, body = Problem)))]
#[get("/reports/quality/{indicator}/cases")]
pub async fn quality_members(
    p: Principal,
    state: web::Data<AppState>,
    indicator: web::Path<String>,
    q: web::Query<QualityQuery>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ReadPersonalData)?;
    let d = Indicator::parse(&indicator).ok_or(AppError::NotFound {
        entity: "indicator",
    })?;
    let q = q.into_inner();
    let csv = wants_csv(&q)?;
    let c = cohort(&p, &q, state.now())?;
    let part_name = q.part.clone().unwrap_or_else(|| "gap".into());
    let part = match part_name.as_str() {
        "gap" => Part::Gap,
        "numerator" => Part::Numerator,
        "denominator" => Part::Denominator,
        _ => {
            return Err(AppError::bad_field(
                ErrorCode::InvalidQuery,
                "part",
                "must be gap, numerator or denominator",
            ));
        }
    };
    let limit = page_limit(q.limit, 200, if csv { 100_000 } else { 1000 })?;
    let after: Option<uuid::Uuid> = q
        .cursor
        .as_deref()
        .map(|s| {
            s.parse().map_err(|_| {
                AppError::bad_field(ErrorCode::InvalidQuery, "cursor", "is not a cursor")
            })
        })
        .transpose()?;
    let lim = state
        .settings
        .quality
        .limits(catalogue::current(&state.catalogues, state.now())?.catalogue());
    let now = state.now();
    // Read on the replica (when configured); the read is audited on the primary.
    let (rows, data) =
        db::replica::run_report(&state.pool, state.replica.as_ref(), now, move |conn| {
            crate::services::quality::report::members(
                conn,
                d,
                &c,
                &lim,
                crate::services::quality::report::Page {
                    part,
                    after,
                    limit: limit + 1,
                },
            )
        })
        .await?;
    let page = crate::api::Paged::of(rows, limit);
    let ids: Vec<_> = page.items.iter().map(|m| m.infant_id).collect();
    db::run(&state.pool, move |conn| {
        crate::services::admin::audit::list_read(conn, &p, "infant", ids.into_iter(), now)
    })
    .await?;
    let next_cursor = page.next_cursor(|m| m.id.clone());
    let items: Vec<Member> = page.items;
    if csv {
        let rows = items
            .iter()
            .map(|m| {
                vec![
                    m.id.clone(),
                    m.infant_id.to_string(),
                    m.hospital_id.to_string(),
                    m.mrn.clone(),
                    m.birth_at.utc().to_rfc3339(),
                    m.in_numerator.to_string(),
                ]
            })
            .collect();
        return Ok(csv_response(
            &format!("{d}-{part_name}-{}-{}", q.from, q.to),
            &[
                "id",
                "infant_id",
                "hospital_id",
                "mrn",
                "birth_at",
                "in_numerator",
            ],
            rows,
            &data,
        ));
    }
    Ok(HttpResponse::Ok().json(MemberPage {
        indicator: d,
        part: part_name,
        items,
        next_cursor,
        data,
    }))
}
