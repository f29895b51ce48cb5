//! Two working lists beside the worklists: infants past a programme's screening age with no
//! valid screen (`/missed`, per programme and hospital, linking to each infant), and the
//! notifications that could not be delivered (`/notifications/failed`), each with a retry
//! button.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use super::{Chrome, Opt, render, see_other};
use crate::db;
use crate::db::models::admin::hospital;
use crate::db::models::follow_up::notification::{self, NotificationFilter};
use crate::domain::catalogue::Programme;
use crate::domain::ids::{HospitalId, NotificationId};
use crate::domain::notification::Status;
use crate::domain::principal::Scope;
use crate::domain::role::Action;
use crate::services::admin::catalogue::current;
use crate::services::follow_up::notifications as outbox;
use crate::services::screening::summary;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::session::Console;

/// How many rows a list shows.
const LIMIT: i64 = 200;

/// One infant with a missing screen.
#[derive(Debug, Clone)]
pub struct MissedRow {
    /// The infant's page.
    pub href: String,
    /// `HOSPITALCODE-MRN`.
    pub reference: String,
    /// The hospital.
    pub hospital: String,
    /// Birth, local time.
    pub born: String,
    /// When the screen was due.
    pub due: String,
}

#[derive(Template)]
#[template(path = "missed.html", config = "src/web/askama.toml")]
struct MissedPage {
    c: Chrome,
    programmes: Vec<Opt>,
    hospitals: Vec<Opt>,
    caption: String,
    rows: Vec<MissedRow>,
}

/// The missed-screen filters.
#[derive(Debug, Default, Deserialize)]
pub struct MissedQuery {
    #[serde(default)]
    programme: String,
    #[serde(default)]
    hospital: String,
}

/// `GET /missed`.
#[get("/missed")]
pub async fn missed(
    c: Console,
    state: web::Data<AppState>,
    q: web::Query<MissedQuery>,
) -> Result<HttpResponse, WebError> {
    c.require(Action::ReadPersonalData)?;
    let programme = Programme::parse(&q.programme).unwrap_or(Programme::Dbs);
    let only: Option<HospitalId> = q.hospital.parse().ok().map(HospitalId);
    let (p, now) = (c.session.principal.clone(), state.now());
    let interp = current(&state.catalogues, now)?;
    let unrestricted = p.scope().hospital_filter().is_none();
    let (items, hospitals, refs) = db::run(&state.pool, move |conn| {
        // One hospital's list is the whole list filtered, as the scope would do it.
        let scope = match only {
            Some(h) => p.scope().narrowed_to(h),
            None => p.scope(),
        };
        let items = summary::missed(
            conn,
            interp.catalogue(),
            &scope,
            programme,
            now,
            LIMIT,
            false,
        )?;
        crate::services::admin::audit::list_read(
            conn,
            &p,
            "infant",
            items.iter().map(|m| m.infant_id),
            now,
        )?;
        let hospitals = hospital::list(conn, &Scope::unrestricted(), None)?;
        let refs = crate::db::models::screening::infant::refs(
            conn,
            &items.iter().map(|m| m.infant_id).collect::<Vec<_>>(),
        )?;
        Ok((items, hospitals, refs))
    })
    .await?;
    let tr = c.tr;
    let name_of = |h: HospitalId| {
        hospitals
            .iter()
            .find(|x| x.id == h)
            .map(|x| x.name.clone())
            .unwrap_or_default()
    };
    let rows: Vec<MissedRow> = items
        .iter()
        .map(|m| MissedRow {
            href: format!("/infants/{}", m.infant_id),
            reference: refs.get(&m.infant_id).cloned().unwrap_or_default(),
            hospital: name_of(m.hospital_id),
            born: tr.time(m.birth_at),
            due: tr.time(m.screen_due_by),
        })
        .collect();
    let page = MissedPage {
        c: Chrome::of(&c, "nav_missed", "/missed"),
        programmes: Programme::ALL
            .iter()
            .map(|x| Opt {
                value: x.as_str().into(),
                label: tr.t(&format!("programme_{}", x.as_str())),
                selected: *x == programme,
            })
            .collect(),
        hospitals: if unrestricted {
            hospitals
                .iter()
                .map(|h| Opt {
                    value: h.id.to_string(),
                    label: format!("{} {}", h.code, h.name),
                    selected: only == Some(h.id),
                })
                .collect()
        } else {
            vec![]
        },
        caption: tr.f(
            "missed_caption",
            &[
                (
                    "programme",
                    &tr.t(&format!("programme_{}", programme.as_str())),
                ),
                ("count", &rows.len()),
            ],
        ),
        rows,
    };
    render(StatusCode::OK, &page)
}

/// One undelivered notification.
#[derive(Debug, Clone)]
pub struct FailedRow {
    /// Its id (the retry form's address).
    pub id: String,
    /// Queued, local time.
    pub at: String,
    /// The case's page, when it belongs to one.
    pub case_href: Option<String>,
    /// Template.
    pub template: String,
    /// Channel and audience.
    pub channel: String,
    /// The last error (never an address or a body).
    pub error: String,
}

#[derive(Template)]
#[template(path = "failed.html", config = "src/web/askama.toml")]
struct FailedPage {
    c: Chrome,
    may_retry: bool,
    rows: Vec<FailedRow>,
    notice: Option<String>,
}

/// Whether the page follows a retry.
#[derive(Debug, Default, Deserialize)]
pub struct FailedQuery {
    retried: Option<String>,
}

/// `GET /notifications/failed`.
#[get("/notifications/failed")]
pub async fn failed(
    c: Console,
    state: web::Data<AppState>,
    q: web::Query<FailedQuery>,
) -> Result<HttpResponse, WebError> {
    c.require(Action::ReadPersonalData)?;
    let role = c.session.principal.role;
    let scope = c.session.principal.scope();
    let rows = db::run(&state.pool, move |conn| {
        let f = NotificationFilter {
            status: Some(Status::Failed),
            ..Default::default()
        };
        Ok(notification::list(conn, &scope, &f, LIMIT)?)
    })
    .await?;
    let tr = c.tr;
    let page = FailedPage {
        c: Chrome::of(&c, "failed_title", "/notifications/failed"),
        may_retry: role.may(Action::RetryNotifications),
        rows: rows
            .into_iter()
            .map(|n| FailedRow {
                id: n.id.to_string(),
                at: tr.time(n.created_at.utc()),
                case_href: n.case_id.map(|k| format!("/cases/{k}")),
                template: n.template,
                channel: format!(
                    "{} → {}",
                    tr.t(&format!("channel_{}", n.channel.as_str())),
                    tr.t(&format!("audience_{}", n.recipient_role.as_str()))
                ),
                error: n.last_error.unwrap_or_default(),
            })
            .collect(),
        notice: q.retried.as_ref().map(|_| tr.t("retried")),
    };
    render(StatusCode::OK, &page)
}

/// The retry form.
#[derive(Debug, Deserialize)]
pub struct RetryForm {
    csrf: Option<String>,
}

/// `POST /notifications/{id}/retry`: queued again now.
#[post("/notifications/{id}/retry")]
pub async fn retry(
    req: HttpRequest,
    c: Console,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<RetryForm>,
) -> Result<HttpResponse, WebError> {
    c.authorize(&req, form.csrf.as_deref(), Action::RetryNotifications)?;
    let id = NotificationId(id.parse().map_err(|_| WebError::NotFound)?);
    let (p, now) = (c.session.principal.clone(), state.now());
    let scope = p.scope();
    let n = db::run(&state.pool, move |conn| {
        outbox::retry(conn, &scope, id, &p, now)
    })
    .await?;
    tracing::info!(notification.id = %n.id, "notification queued again from the console");
    Ok(see_other("/notifications/failed?retried=1"))
}
