//! The coordinator's home: the six worklists as tabs with their counts (refreshed every minute by
//! htmx), and the chosen list as a table, soonest due first, filterable by programme, tier,
//! hospital and assignee. A hospital user sees their hospital's cases only (the scope comes from
//! the session's principal, as for a token).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use askama::Template;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{Chrome, Opt, render};
use crate::db;
use crate::db::models::admin::{hospital, user};
use crate::db::types::UtcMicros;
use crate::domain::catalogue::{Programme, Tier};
use crate::domain::ids::{HospitalId, UserId};
use crate::domain::principal::Scope;
use crate::domain::role::Action;
use crate::domain::worklist::Worklist;
use crate::services::follow_up::worklists::{self, BoardRow};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::i18n::Tr;
use crate::web::session::Console;

/// Rows shown per page by default.
const PAGE: i64 = 100;

/// One worklist tab.
#[derive(Debug, Clone)]
pub struct Tab {
    /// Where it leads.
    pub href: String,
    /// Its name.
    pub label: String,
    /// Cases on it.
    pub count: i64,
    /// The list shown.
    pub current: bool,
}

#[derive(Template)]
#[template(path = "tabs.html", config = "src/web/askama.toml")]
struct Tabs {
    tr: Tr,
    tabs: Vec<Tab>,
    refresh: String,
    failed: i64,
    failed_label: String,
}

/// One case as the table shows it.
#[derive(Debug, Clone)]
pub struct Row {
    /// The case's id (its page's address).
    pub case_id: String,
    /// `T0` … `T3` (the badge's class).
    pub tier: String,
    /// The tier in words (urgency is never shown by colour alone).
    pub tier_label: String,
    /// `HOSPITALCODE-MRN`.
    pub infant_ref: String,
    /// The hospital's name.
    pub hospital: String,
    /// Why the case is open.
    pub reason: String,
    /// Suspected conditions by name (and code), comma-separated.
    pub suspected: String,
    /// The earliest pending deadline, local time.
    pub due: String,
    /// Time left, or how long overdue.
    pub left: String,
    /// Past its deadline.
    pub overdue: bool,
    /// Who works it.
    pub assignee: String,
    /// The latest contact attempt.
    pub last_contact: String,
}

#[derive(Template)]
#[template(path = "worklist.html", config = "src/web/askama.toml")]
struct WorklistPage {
    c: Chrome,
    tabs: String,
    action: String,
    caption: String,
    rows: Vec<Row>,
    programmes: Vec<Opt>,
    tiers: Vec<Opt>,
    hospitals: Vec<Opt>,
    assignees: Vec<Opt>,
    next: Option<String>,
    first: Option<String>,
}

/// The filters of a list.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Filters {
    /// `DBS`, `HEAR` or `CCHD`.
    programme: Option<String>,
    /// `T0` … `T3`.
    tier: Option<String>,
    /// A hospital id.
    hospital: Option<String>,
    /// `me` for one's own cases, or a colleague's user id.
    assignee: Option<String>,
    /// The next page: the last row's sort key and id (`<RFC 3339>_<case id>`).
    after: Option<String>,
    /// Rows per page (1–200, default 100).
    limit: Option<i64>,
}

impl Filters {
    /// The query string of these filters (for the next-page link), without the cursor.
    fn query(&self) -> String {
        let mut q = vec![];
        for (k, v) in [
            ("programme", &self.programme),
            ("tier", &self.tier),
            ("hospital", &self.hospital),
            ("assignee", &self.assignee),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                let v: String = v
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect();
                q.push(format!("{k}={v}"));
            }
        }
        if let Some(l) = self.limit {
            q.push(format!("limit={l}"));
        }
        q.join("&")
    }
}

/// The cursor after `r`: the key the list is sorted by, then the id.
fn cursor(list: Worklist, r: &BoardRow) -> String {
    let key = if list.deadline_window(chrono::DateTime::UNIX_EPOCH).is_some() {
        r.case.next_due_at.unwrap_or(r.case.recall_due_at)
    } else {
        r.case.recall_due_at
    };
    // UTC with `Z`: a `+` would read as a space in a query string.
    let key = key
        .utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    format!("{key}_{}", r.case.id)
}

fn parse_cursor(s: &str) -> Option<(UtcMicros, String)> {
    let (t, id) = s.split_once('_')?;
    let t = chrono::DateTime::parse_from_rfc3339(t)
        .ok()?
        .with_timezone(&Utc);
    let id: uuid::Uuid = id.parse().ok()?;
    Some((UtcMicros::new(t), id.to_string()))
}

fn label(tr: Tr, w: Worklist) -> String {
    tr.t(&format!("worklist_{}", w.name()))
}

/// The tabs as HTML, and their counts in words (announced to screen readers when htmx refreshes
/// them).
async fn tabs(
    c: &Console,
    state: &AppState,
    current: Worklist,
) -> Result<(String, String), WebError> {
    let (p, now) = (c.session.principal.clone(), state.now());
    let (lists, failed) =
        db::run(&state.pool, move |conn| worklists::counts(conn, &p, now)).await?;
    let spoken = lists
        .iter()
        .map(|(w, n)| format!("{} {n}", label(c.tr, *w)))
        .collect::<Vec<_>>()
        .join(", ");
    let t = Tabs {
        tr: c.tr,
        tabs: lists
            .into_iter()
            .map(|(w, count)| Tab {
                href: format!("/worklists/{}", w.name()),
                label: label(c.tr, w),
                count,
                current: w == current,
            })
            .collect(),
        refresh: format!("/worklists/{}/tabs", current.name()),
        failed,
        failed_label: c.tr.f("failed_notifications", &[("count", &failed)]),
    };
    let html = t
        .render()
        .map_err(|e| WebError::App(crate::error::AppError::Unexpected(anyhow::anyhow!("{e}"))))?;
    Ok((html, spoken))
}

/// Condition code → its name in the page's language, from the catalogue in force.
type Names = std::collections::HashMap<String, String>;

fn condition_names(state: &AppState, tr: Tr) -> Names {
    crate::services::admin::catalogue::current(&state.catalogues, state.now())
        .map(|c| {
            c.catalogue()
                .conditions
                .iter()
                .map(|k| {
                    let name = if tr.locale == "en" {
                        &k.name_en
                    } else {
                        &k.name_zh
                    };
                    (k.code.clone(), format!("{name} ({})", k.code))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn row(tr: Tr, names: &Names, r: BoardRow, now: DateTime<Utc>) -> Row {
    let due = r.case.next_due_at.map(|d| d.utc());
    let (left, overdue) = match due {
        Some(d) if d <= now => (tr.f("overdue_by", &[("time", &tr.span(now - d))]), true),
        Some(d) => (tr.f("time_left", &[("time", &tr.span(d - now))]), false),
        None => (String::new(), false),
    };
    Row {
        case_id: r.case.id.to_string(),
        tier: r.case.tier.as_str().into(),
        tier_label: tr.t(&format!("tier_{}", r.case.tier.as_str())),
        infant_ref: r.infant_ref,
        hospital: r.hospital,
        reason: format!(
            "{} · {}",
            tr.t(&format!("programme_{}", r.case.programme.as_str())),
            tr.t(&format!("reason_{}", r.case.reason.as_str()))
        ),
        suspected: r
            .case
            .suspected
            .0
            .iter()
            .map(|code| names.get(code).cloned().unwrap_or_else(|| code.clone()))
            .collect::<Vec<_>>()
            .join(", "),
        due: due.map(|d| tr.time(d)).unwrap_or_default(),
        left,
        overdue,
        assignee: r.assignee.unwrap_or_else(|| tr.t("unassigned")),
        last_contact: r
            .last_contact
            .map_or_else(|| tr.t("never_contacted"), |(at, _)| tr.time(at)),
    }
}

fn options(values: &[(&str, String)], chosen: Option<&str>) -> Vec<Opt> {
    values
        .iter()
        .map(|(v, l)| Opt {
            value: v.to_string(),
            label: l.clone(),
            selected: chosen == Some(*v),
        })
        .collect()
}

/// `GET /worklists/{name}`.
#[get("/worklists/{name}")]
pub async fn worklist(
    c: Console,
    state: web::Data<AppState>,
    name: web::Path<String>,
    q: web::Query<Filters>,
) -> Result<HttpResponse, WebError> {
    c.require(Action::ReadPersonalData)?;
    let list = Worklist::parse(&name).ok_or(WebError::NotFound)?;
    let f = q.into_inner();
    // A filter value outside its set filters nothing (the form only offers valid ones).
    let programme = f.programme.as_deref().and_then(Programme::parse);
    let tier = f.tier.as_deref().and_then(Tier::parse);
    let hospital_id: Option<HospitalId> = f
        .hospital
        .as_deref()
        .and_then(|h| h.parse().ok())
        .map(HospitalId);
    let me: Option<UserId> = c.session.principal.subject.parse().ok().map(UserId);
    let assignee: Option<UserId> = match f.assignee.as_deref() {
        Some("me") => me,
        Some(other) => other.parse().ok().map(UserId),
        None => None,
    };
    let after = f.after.as_deref().and_then(parse_cursor);
    let page_size = f.limit.unwrap_or(PAGE).clamp(1, 200);
    let (p, now) = (c.session.principal.clone(), state.now());
    let unrestricted = p.scope().hospital_filter().is_none();
    let (count, mut rows, hospitals, colleagues) = db::run(&state.pool, move |conn| {
        let (count, rows) = worklists::board(
            conn,
            &p,
            list,
            |mut cf| {
                if programme.is_some() {
                    cf.programme = programme;
                }
                if tier.is_some() {
                    cf.tier = tier;
                }
                if hospital_id.is_some() {
                    cf.hospital_id = hospital_id;
                }
                if let Some(a) = assignee {
                    cf.assignee = Some(a.to_string());
                }
                cf.after = after.clone();
                cf
            },
            page_size + 1,
            now,
        )?;
        let colleagues: Vec<(UserId, String)> = user::list(conn)?
            .into_iter()
            .filter(|u| u.active && u.role.may(Action::WorkCases))
            .filter(|u| unrestricted || u.hospital_id == p.hospital_id)
            .map(|u| (u.id, u.display_name))
            .collect();
        let hospitals = if unrestricted {
            hospital::list(conn, &Scope::unrestricted(), Some(true))?
        } else {
            vec![]
        };
        Ok((count, rows, hospitals, colleagues))
    })
    .await?;
    let tr = c.tr;
    let more = rows.len() > page_size as usize;
    rows.truncate(page_size as usize);
    let shown = rows.len();
    let path_now = format!("/worklists/{}", list.name());
    let filters = f.query();
    let sep = if filters.is_empty() { "" } else { "&" };
    let next = more
        .then(|| {
            rows.last()
                .map(|r| format!("{path_now}?{filters}{sep}after={}", cursor(list, r)))
        })
        .flatten();
    let first = f.after.is_some().then(|| format!("{path_now}?{filters}"));
    let (tabs, _) = tabs(&c, &state, list).await?;
    let path = format!("/worklists/{}", list.name());
    let page = WorklistPage {
        c: Chrome::of(&c, "worklists_title", &path),
        tabs,
        action: path.clone(),
        caption: format!(
            "{} — {}",
            label(tr, list),
            tr.f("cases_shown", &[("count", &count), ("shown", &shown)])
        ),
        rows: {
            let names = condition_names(&state, tr);
            rows.into_iter().map(|r| row(tr, &names, r, now)).collect()
        },
        programmes: options(
            &Programme::ALL
                .iter()
                .map(|p| (p.as_str(), tr.t(&format!("programme_{}", p.as_str()))))
                .collect::<Vec<_>>(),
            programme.map(Programme::as_str),
        ),
        tiers: options(
            &Tier::ALL
                .iter()
                .map(|t| (t.as_str(), tr.t(&format!("tier_{}", t.as_str()))))
                .collect::<Vec<_>>(),
            tier.map(Tier::as_str),
        ),
        hospitals: hospitals
            .iter()
            .map(|h| Opt {
                value: h.id.to_string(),
                label: format!("{} {}", h.code, h.name),
                selected: hospital_id == Some(h.id),
            })
            .collect(),
        assignees: {
            let chosen = f.assignee.clone().unwrap_or_default();
            let mut o = options(
                &[("", tr.t("any")), ("me", tr.t("filter_mine"))],
                Some(&chosen),
            );
            o.extend(colleagues.iter().map(|(id, name)| Opt {
                value: id.to_string(),
                label: name.clone(),
                selected: chosen == id.to_string(),
            }));
            o
        },
        next,
        first,
    };
    render(StatusCode::OK, &page)
}

/// `GET /worklists/{name}/tabs`: the tabs alone, for the minute refresh; to htmx also the
/// page's live region with the counts in words (swapped out of band).
#[get("/worklists/{name}/tabs")]
pub async fn worklist_tabs(
    req: actix_web::HttpRequest,
    c: Console,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    c.require(Action::ReadPersonalData)?;
    let list = Worklist::parse(&name).ok_or(WebError::NotFound)?;
    let (mut body, spoken) = tabs(&c, &state, list).await?;
    if req.headers().contains_key("hx-request") {
        let announced = askama::filters::escape(
            c.tr.f("counts_updated", &[("counts", &spoken)]),
            askama::filters::Html,
        )
        .map(|e| e.to_string())
        .unwrap_or_default();
        body.push_str(&format!(
            "<div id=\"status\" role=\"status\" aria-live=\"polite\" class=\"visually-hidden\" hx-swap-oob=\"true\">{announced}</div>"
        ));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body))
}
