//! `GET /api/v1/management/report`: the five-step funnel, age at treatment start, follow-up
//! and lost-to-management rates and overdue contacts for a period, per hospital; `format=csv`
//! gives the per-hospital rows.

use actix_web::{HttpResponse, get, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::extract::require;
use crate::db;
use crate::domain::ids::HospitalId;
use crate::domain::principal::Principal;
use crate::domain::role::Action;
use crate::error::{AppError, ErrorCode, Problem};
use crate::services::management::report::{self, ManagementReport};
use crate::state::AppState;

/// Period and filters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ManagementReportQuery {
    /// First day (local, `YYYY-MM-DD`).
    pub from: NaiveDate,
    /// Last day (inclusive).
    pub to: NaiveDate,
    /// One hospital (hospital principals always get their own).
    pub hospital_id: Option<HospitalId>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// The report with its period.
#[derive(Debug, Serialize, ToSchema)]
pub struct ManagementReportResponse {
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// The figures.
    #[serde(flatten)]
    pub report: ManagementReport,
}

fn rate(r: &crate::domain::management::report::Rate) -> String {
    r.rate.map(|x| format!("{x:.4}")).unwrap_or_default()
}

#[utoipa::path(tag = "reports", security(("bearer" = [])), params(ManagementReportQuery), responses((status = 200, body = ManagementReportResponse), (status = 400, body = Problem)))]
#[get("/management/report")]
pub async fn management_report(
    p: Principal,
    state: web::Data<AppState>,
    q: web::Query<ManagementReportQuery>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ReadPersonalData)?;
    let q = q.into_inner();
    if q.to < q.from || (q.to - q.from).num_days() > 3660 {
        return Err(AppError::bad_field(
            ErrorCode::InvalidQuery,
            "to",
            "must be on or after `from`, within ten years",
        ));
    }
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => {
            return Err(AppError::bad_field(
                ErrorCode::InvalidQuery,
                "format",
                "must be json or csv",
            ));
        }
    };
    let (start, end) = crate::domain::quality::birth_span(q.from, q.to);
    let now = state.now();
    let scope = p.scope();
    let hospital = q.hospital_id;
    let pool = state.replica.clone().unwrap_or_else(|| state.pool.clone());
    let r = db::run(&pool, move |c| {
        report::build(c, &scope, hospital, start, end, now)
    })
    .await?;
    if csv {
        let mut out = String::from(
            "hospital_id,hospital,district,found,registered,reported,managed,treated,follow_up_rate,follow_up_numerator,follow_up_denominator,lost_rate\n",
        );
        for h in &r.by_hospital {
            let f = &h.figures;
            let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
            out.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{},{},{}\n",
                h.hospital_id,
                quote(&h.hospital),
                quote(h.district.as_deref().unwrap_or("")),
                f.funnel.found,
                f.funnel.registered,
                f.funnel.reported,
                f.funnel.managed,
                f.funnel.treated,
                rate(&f.follow_up_rate),
                f.follow_up_rate.numerator,
                f.follow_up_rate.denominator,
                rate(&f.lost_rate),
            ));
        }
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .body(out));
    }
    Ok(HttpResponse::Ok().json(ManagementReportResponse {
        from: q.from,
        to: q.to,
        report: r,
    }))
}
