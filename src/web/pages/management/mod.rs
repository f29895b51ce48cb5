//! Long-term management in the console: the management worklist (open episodes whose next
//! deadline falls within the chosen days, overdue first) and an episode's page — its plan,
//! treatment, every follow-up contact with its window, status and measurements, flags, the
//! timeline — with the forms to record a contact (the plan's fields with their units), a
//! treatment, the provincial report, the clinician's acknowledgement of flags and the closure.
//! Every form carries the episode version it was read at; a stale one is refused and nothing is
//! written, as on a case's page.

mod forms;
mod page;

pub use forms::act;
pub use page::episode_page;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use askama::Template;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{Chrome, Opt, condition_label as condition_name, render};
use crate::api::Paged;
use crate::api::management::episodes::{decode_due_cursor, due_cursor};
use crate::db;
use crate::db::models::admin::hospital;
use crate::db::models::management::episode::{self, EpisodeFilter};
use crate::db::models::screening::infant;
use crate::db::types::UtcMicros;
use crate::domain::role::Action;
use crate::error::AppError;
use crate::services::admin::audit;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::i18n::Tr;
use crate::web::session::Console;

/// Rows per worklist page.
const PAGE: i64 = 100;

/// One episode as the worklist shows it.
#[derive(Debug, Clone)]
pub struct Row {
    /// Its id (its page's address).
    pub id: String,
    /// `HOSPITALCODE-MRN`.
    pub infant_ref: String,
    /// Condition by name (and code).
    pub condition: String,
    /// Responsible hospital.
    pub hospital: String,
    /// State in words.
    pub state: String,
    /// What the next deadline is for: treatment start or a follow-up contact.
    pub next: String,
    /// Next deadline, local time.
    pub due: String,
    /// Time left, or how long overdue.
    pub left: String,
    /// Past its deadline.
    pub overdue: bool,
    /// Measurements off target, awaiting the clinician.
    pub flags: i32,
}

#[derive(Template)]
#[template(path = "management.html", config = "src/web/askama.toml")]
struct WorklistPage {
    c: Chrome,
    rows: Vec<Row>,
    windows: Vec<Opt>,
    flagged: bool,
    caption: String,
    next: Option<String>,
}

/// Worklist filters.
#[derive(Debug, Deserialize)]
pub struct WorklistQuery {
    days: Option<i64>,
    flagged: Option<String>,
    cursor: Option<String>,
}

fn deadline(tr: Tr, due: Option<DateTime<Utc>>, now: DateTime<Utc>) -> (String, String, bool) {
    match due {
        Some(d) if d <= now => (
            tr.time(d),
            tr.f("overdue_by", &[("time", &tr.span(now - d))]),
            true,
        ),
        Some(d) => (
            tr.time(d),
            tr.f("time_left", &[("time", &tr.span(d - now))]),
            false,
        ),
        None => ("—".into(), "—".into(), false),
    }
}

/// `GET /management`: the management worklist.
#[get("/management")]
pub async fn worklist(
    c: Console,
    state: web::Data<AppState>,
    q: web::Query<WorklistQuery>,
) -> Result<HttpResponse, WebError> {
    c.require(Action::ReadPersonalData)?;
    let q = q.into_inner();
    let days = q.days.unwrap_or(7).clamp(0, 90);
    let flagged = q.flagged.as_deref() == Some("1");
    let after_due = match q.cursor.as_deref().map(decode_due_cursor).transpose() {
        Ok(a) => a,
        Err(_) => return Err(WebError::NotFound),
    };
    let now = state.now();
    let filter = EpisodeFilter {
        flagged: flagged.then_some(true),
        due_before: Some(UtcMicros::new(now + chrono::Duration::days(days))),
        after_due,
        by_due: true,
        ..Default::default()
    };
    let p = c.session.principal.clone();
    let (page, refs, hospitals) = db::run(&state.pool, move |conn| {
        let page = Paged::of(episode::list(conn, &p.scope(), &filter, PAGE + 1)?, PAGE);
        audit::list_read(
            conn,
            &p,
            "management_episode",
            page.items.iter().map(|e| e.id),
            now,
        )?;
        let infants: Vec<_> = page.items.iter().map(|e| e.infant_id).collect();
        let hs: Vec<_> = page.items.iter().map(|e| e.hospital_id).collect();
        let refs = infant::refs(conn, &infants)?;
        let hospitals = hospital::get_many(conn, &hs)?;
        Ok::<_, AppError>((page, refs, hospitals))
    })
    .await?;
    let tr = c.tr;
    let next = page.next_cursor(due_cursor).map(|cur| {
        format!(
            "/management?days={days}{}&cursor={cur}",
            if flagged { "&flagged=1" } else { "" }
        )
    });
    let rows = page
        .items
        .iter()
        .map(|e| {
            let (due, left, overdue) = deadline(tr, e.next_due_at.map(UtcMicros::utc), now);
            Row {
                id: e.id.to_string(),
                infant_ref: refs.get(&e.infant_id).cloned().unwrap_or_default(),
                condition: condition_name(tr, &state, &e.condition_code),
                hospital: hospitals
                    .get(&e.hospital_id)
                    .map(|h| h.name.clone())
                    .unwrap_or_default(),
                state: tr.t(&format!("episode_{}", e.state.as_str())),
                next: if e.treatment_started_at.is_none() && e.treatment_due_at.is_some() {
                    tr.t("next_treatment")
                } else {
                    tr.t("next_follow_up")
                },
                due,
                left,
                overdue,
                flags: e.flags,
            }
        })
        .collect();
    let windows = [0, 7, 30, 90]
        .iter()
        .map(|d| Opt {
            value: d.to_string(),
            label: tr.f("within_days", &[("days", d)]),
            selected: *d == days,
        })
        .collect();
    let page = WorklistPage {
        c: Chrome::of(&c, "management_title", "/management"),
        rows,
        windows,
        flagged,
        caption: tr.f("management_caption", &[("days", &days)]),
        next,
    };
    render(StatusCode::OK, &page)
}
