//! A hospital's monthly scorecard as a printable page: the lines of the e-mailed scorecard
//! (`services::follow_up::digests::scorecard_lines`, the same text) for one month of births,
//! with the indicators missed first marked. Hospital staff get their own hospital.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use askama::Template;
use chrono::{Datelike, Duration, NaiveDate};
use serde::Deserialize;

use crate::api::quality::reports::{QualityQuery, cohort};
use crate::db;
use crate::db::models::admin::hospital;
use crate::domain::ids::HospitalId;
use crate::domain::role::Action;
use crate::error::AppError;
use crate::services::admin::catalogue;
use crate::services::follow_up::digests::scorecard_lines;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::pages::{Chrome, Opt, render};
use crate::web::session::Console;

/// Month and hospital.
#[derive(Debug, Deserialize)]
pub struct ScorecardQuery {
    month: Option<String>,
    hospital: Option<String>,
}

#[derive(Template)]
#[template(path = "scorecard.html", config = "src/web/askama.toml")]
struct ScorecardPage {
    c: Chrome,
    heading: String,
    month: String,
    hospitals: Vec<Opt>,
    lines: Vec<(String, bool)>,
}

/// The first and last day of `YYYY-MM`.
fn month_days(month: &str) -> Option<(NaiveDate, NaiveDate)> {
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()?;
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)?
    };
    Some((first, next - Duration::days(1)))
}

/// `GET /quality/scorecard`: one hospital's scorecard for a month (default: last month).
#[get("/quality/scorecard")]
pub async fn scorecard_page(
    c: Console,
    state: web::Data<AppState>,
    q: web::Query<ScorecardQuery>,
) -> Result<HttpResponse, WebError> {
    c.require(Action::ReadPersonalData)?;
    let now = state.now();
    let (last_from, _) = crate::services::quality::report::previous_month(now);
    let month = q
        .month
        .clone()
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| last_from.format("%Y-%m").to_string());
    let (from, to) =
        month_days(&month).ok_or_else(|| AppError::invalid("month", "is not a month (YYYY-MM)"))?;
    let scope = c.session.principal.scope();
    let hs = db::run(&state.pool, move |conn| {
        Ok::<_, AppError>(hospital::list(conn, &scope, Some(true))?)
    })
    .await?;
    let asked = q.hospital.clone().filter(|h| !h.trim().is_empty());
    let chosen: Option<HospitalId> = match (&asked, c.session.principal.scope().hospital_filter()) {
        (_, Some(own)) => Some(own),
        (Some(h), None) => Some(
            h.parse()
                .map(HospitalId)
                .map_err(|_| AppError::invalid("hospital", "is not a hospital id"))?,
        ),
        (None, None) => None,
    };
    let query = QualityQuery {
        from,
        to,
        hospital: chosen.map(|h| h.to_string()),
        district: None,
        programme: None,
        format: None,
        part: None,
        limit: None,
        cursor: None,
    };
    let cohort = cohort(&c.session.principal, &query, now)?;
    let lim = state
        .settings
        .quality
        .limits(catalogue::current(&state.catalogues, now)?.catalogue());
    let settings = state.settings.quality.clone();
    let (values, _) =
        db::replica::run_report(&state.pool, state.replica.as_ref(), now, move |conn| {
            crate::services::quality::report::report(conn, &cohort, &settings, &lim)
        })
        .await?;
    let tr = c.tr;
    let name = chosen
        .and_then(|h| hs.iter().find(|x| x.id == h).map(|x| x.name.clone()))
        .unwrap_or_else(|| tr.t("all_hospitals"));
    let lines = scorecard_lines(&values, tr.locale)
        .lines()
        .map(|l| {
            let l = l.trim_start_matches("- ").to_string();
            let missed = l.ends_with('✗');
            (l, missed)
        })
        .collect();
    let page = ScorecardPage {
        c: Chrome::of(&c, "scorecard_title", "/quality/scorecard"),
        heading: tr.f(
            "scorecard_heading",
            &[("hospital", &name), ("month", &month)],
        ),
        month,
        hospitals: hs
            .iter()
            .map(|h| Opt {
                value: h.id.to_string(),
                label: h.name.clone(),
                selected: chosen == Some(h.id),
            })
            .collect(),
        lines,
    };
    render(StatusCode::OK, &page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_is_its_first_to_last_day() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(
            month_days("2026-02"),
            Some((d("2026-02-01"), d("2026-02-28")))
        );
        assert_eq!(
            month_days("2026-12"),
            Some((d("2026-12-01"), d("2026-12-31")))
        );
        assert_eq!(month_days("2026-13"), None);
        assert_eq!(month_days("soon"), None);
    }
}
