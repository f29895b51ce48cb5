//! An indicator's drill-down: the infants, cards, cases or episodes behind its numerator, its
//! denominator or its gap, each linked to its page, paged by id.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use askama::Template;

use super::{Filters, query_string};
use crate::api::quality::reports::cohort;
use crate::db;
use crate::db::models::screening::infant;
use crate::domain::quality::{Indicator, Level, Part};
use crate::domain::role::Action;
use crate::error::AppError;
use crate::services::admin::catalogue;
use crate::services::quality::report::{Page, members};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::pages::{Chrome, render};
use crate::web::session::Console;

/// Drill-down rows per page.
const PAGE: i64 = 200;

/// One member of a drill-down.
#[derive(Debug, Clone)]
pub struct MemberRow {
    /// Where the member's page is.
    pub href: String,
    /// `HOSPITALCODE-MRN`.
    pub infant_ref: String,
    /// What the member is (infant, card, case, episode).
    pub what: String,
    /// Birth, local time.
    pub birth: String,
    /// In the numerator, in words.
    pub in_numerator: String,
}

#[derive(Template)]
#[template(path = "quality_members.html", config = "src/web/askama.toml")]
struct MembersPage {
    c: Chrome,
    heading: String,
    definition: String,
    parts: Vec<(String, String, bool)>,
    back: String,
    rows: Vec<MemberRow>,
    next: Option<String>,
}

/// `GET /quality/{indicator}`: the members behind an indicator (default: the gap).
#[get("/quality/{indicator}")]
pub async fn members_page(
    c: Console,
    state: web::Data<AppState>,
    indicator: web::Path<String>,
    f: web::Query<Filters>,
) -> Result<HttpResponse, WebError> {
    c.require(Action::ReadPersonalData)?;
    let ind = Indicator::parse(&indicator).ok_or(WebError::NotFound)?;
    let now = state.now();
    let q = f.query(crate::services::admin::versions::local_day(now))?;
    let cohort = cohort(&c.session.principal, &q, now)?;
    let part_name = q.part.clone().unwrap_or_else(|| "gap".into());
    let part = match part_name.as_str() {
        "gap" => Part::Gap,
        "numerator" => Part::Numerator,
        "denominator" => Part::Denominator,
        _ => return Err(AppError::invalid("part", "must be gap, numerator or denominator").into()),
    };
    let after = match q
        .cursor
        .as_deref()
        .map(str::parse::<uuid::Uuid>)
        .transpose()
    {
        Ok(a) => a,
        Err(_) => return Err(AppError::invalid("cursor", "is not a cursor").into()),
    };
    let lim = state
        .settings
        .quality
        .limits(catalogue::current(&state.catalogues, now)?.catalogue());
    let (rows, _) =
        db::replica::run_report(&state.pool, state.replica.as_ref(), now, move |conn| {
            members(
                conn,
                ind,
                &cohort,
                &lim,
                Page {
                    part,
                    after,
                    limit: PAGE + 1,
                },
            )
        })
        .await?;
    let page = crate::api::Paged::of(rows, PAGE);
    let ids: Vec<_> = page.items.iter().map(|m| m.infant_id).collect();
    let p = c.session.principal.clone();
    let refs = db::run(&state.pool, move |conn| {
        crate::services::admin::audit::list_read(conn, &p, "infant", ids.iter(), now)?;
        Ok::<_, AppError>(infant::refs(conn, &ids)?)
    })
    .await?;
    let tr = c.tr;
    let def = ind.def();
    let base = query_string(&q);
    let level = def.level;
    let rows = page
        .items
        .iter()
        .map(|m| MemberRow {
            href: match level {
                Level::Infant | Level::Card => format!("/infants/{}", m.infant_id),
                Level::Case => format!("/cases/{}", m.id),
                Level::Episode => format!("/management/episodes/{}", m.id),
            },
            infant_ref: refs
                .get(&m.infant_id)
                .cloned()
                .unwrap_or_else(|| m.mrn.clone()),
            what: tr.t(&format!(
                "level_{}",
                match level {
                    Level::Infant => "infant",
                    Level::Card => "card",
                    Level::Case => "case",
                    Level::Episode => "episode",
                }
            )),
            birth: tr.time(m.birth_at.utc()),
            in_numerator: if m.in_numerator {
                tr.t("yes")
            } else {
                tr.t("no")
            },
        })
        .collect();
    let next = page
        .next_cursor(|m| m.id.clone())
        .map(|cur| format!("/quality/{ind}?{base}&part={part_name}&cursor={cur}"));
    let name = if tr.locale == "en" {
        def.name_en
    } else {
        def.name_zh
    };
    let page = MembersPage {
        c: Chrome::of(&c, "quality_members_title", &format!("/quality/{ind}")),
        heading: tr.f(
            "members_heading",
            &[
                ("indicator", &name),
                ("part", &tr.t(&format!("part_{part_name}"))),
            ],
        ),
        definition: def.definition.into(),
        parts: ["gap", "numerator", "denominator"]
            .iter()
            .map(|p| {
                (
                    tr.t(&format!("part_{p}")),
                    format!("/quality/{ind}?{base}&part={p}"),
                    *p == part_name,
                )
            })
            .collect(),
        back: format!("/quality?{base}"),
        rows,
        next,
    };
    render(StatusCode::OK, &page)
}
