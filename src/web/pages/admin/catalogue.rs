//! Condition catalogue and due-time policy versions (administrators): every stored version; one
//! version's fields; two versions compared field by field (changed cutoffs, rules and due times
//! listed with the old and the new value); and publishing a new version from an uploaded TOML
//! file, validated exactly as at start-up and by the API — a file that fails shows its errors
//! and stores nothing.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use crate::db;
use crate::db::models::admin::catalogue as rows;
use crate::db::models::admin::user;
use crate::domain::catalogue::Catalogue;
use crate::domain::due::DuePolicy;
use crate::domain::role::Action;
use crate::error::AppError;
use crate::services::admin::catalogue as svc;
use crate::services::admin::compare::{self, Change};
use crate::services::admin::versioned;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::multipart;
use crate::web::pages::{Chrome, Opt, refusal, render};
use crate::web::session::Console;

/// Largest file accepted.
const MAX_FILE: usize = 2 * 1024 * 1024;

/// One stored version.
#[derive(Debug, Clone)]
pub struct VersionRow {
    /// Id.
    pub version: String,
    /// Jurisdiction.
    pub jurisdiction: String,
    /// First day in force.
    pub effective_from: String,
    /// Who published it, when.
    pub published: String,
}

#[derive(Template)]
#[template(path = "catalogue.html", config = "src/web/askama.toml")]
struct CataloguePage {
    c: Chrome,
    base: String,
    title: String,
    rows: Vec<VersionRow>,
    a: Vec<Opt>,
    b: Vec<Opt>,
    compared: Option<(String, String)>,
    changes: Vec<Change>,
    viewed: Option<String>,
    fields: Vec<(String, String)>,
    error: Option<String>,
    notice: Option<String>,
}

/// What to show.
#[derive(Debug, Default, Deserialize)]
pub struct Show {
    view: Option<String>,
    a: Option<String>,
    b: Option<String>,
    published: Option<String>,
}

/// Which configuration the page is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Catalogue,
    Policy,
}

impl Kind {
    fn base(self) -> &'static str {
        match self {
            Kind::Catalogue => "/admin/catalogue",
            Kind::Policy => "/admin/policies",
        }
    }

    fn title_key(self) -> &'static str {
        match self {
            Kind::Catalogue => "catalogue_title",
            Kind::Policy => "policies_title",
        }
    }
}

/// A stored version as JSON (what is flattened and compared).
fn version(state: &AppState, kind: Kind, id: &str) -> Result<serde_json::Value, WebError> {
    let json = |v: Result<serde_json::Value, serde_json::Error>| {
        v.map_err(|e| WebError::App(AppError::Unexpected(anyhow::anyhow!("{e}"))))
    };
    match kind {
        Kind::Catalogue => {
            let store = state
                .catalogues
                .read()
                .map_err(|_| AppError::Unexpected(anyhow::anyhow!("catalogue store poisoned")))?;
            let c: Catalogue = store
                .get(id)
                .map(|i| i.catalogue().clone())
                .ok_or(WebError::NotFound)?;
            json(serde_json::to_value(&c))
        }
        Kind::Policy => {
            let p = versioned::version(&state.policies, id).map_err(|_| WebError::NotFound)?;
            json(serde_json::to_value(&*p))
        }
    }
}

/// The stored versions: (id, jurisdiction, effective from, published by, published at).
type Listed = Vec<(
    String,
    String,
    String,
    String,
    chrono::DateTime<chrono::Utc>,
)>;

async fn listed(state: &AppState, kind: Kind) -> Result<Listed, WebError> {
    let (list, users) = db::run(&state.pool, move |conn| {
        let list: Listed = match kind {
            Kind::Catalogue => rows::list(conn)?
                .into_iter()
                .map(|r| {
                    (
                        r.version,
                        r.jurisdiction,
                        r.effective_from.to_string(),
                        r.published_by,
                        r.published_at.utc(),
                    )
                })
                .collect(),
            Kind::Policy => versioned::listing::<DuePolicy>(conn)?
                .into_iter()
                .map(|r| {
                    (
                        r.version,
                        "—".to_string(),
                        r.effective_from.to_string(),
                        r.published_by,
                        r.published_at.utc(),
                    )
                })
                .collect(),
        };
        Ok::<_, AppError>((list, user::list(conn)?))
    })
    .await?;
    // A publisher is shown by name.
    let names = user::display_names(&users);
    Ok(list
        .into_iter()
        .map(|(v, j, from, by, at)| {
            let by = names.get(&by).cloned().unwrap_or(by);
            (v, j, from, by, at)
        })
        .collect())
}

async fn page(
    c: &Console,
    state: &AppState,
    kind: Kind,
    q: &Show,
    status: StatusCode,
    error: Option<String>,
) -> Result<HttpResponse, WebError> {
    let tr = c.tr;
    let list = listed(state, kind).await?;
    let ids: Vec<String> = list.iter().map(|r| r.0.clone()).collect();
    let (a, b) = match (&q.a, &q.b) {
        (Some(a), Some(b)) if ids.contains(a) && ids.contains(b) => {
            (Some(a.clone()), Some(b.clone()))
        }
        _ => (None, None),
    };
    let changes = match (&a, &b) {
        (Some(a), Some(b)) => {
            compare::compare(&version(state, kind, a)?, &version(state, kind, b)?)
        }
        _ => vec![],
    };
    let viewed = q.view.clone().filter(|v| ids.contains(v));
    let fields = match &viewed {
        Some(v) => compare::flatten(&version(state, kind, v)?)
            .into_iter()
            .collect(),
        None => vec![],
    };
    let opts = |chosen: &Option<String>, default: usize| -> Vec<Opt> {
        ids.iter()
            .enumerate()
            .map(|(i, v)| Opt {
                value: v.clone(),
                label: v.clone(),
                selected: chosen.as_ref().map_or(i == default, |c| c == v),
            })
            .collect()
    };
    let p = CataloguePage {
        c: Chrome::of(c, kind.title_key(), kind.base()),
        base: kind.base().into(),
        title: tr.t(kind.title_key()),
        rows: list
            .iter()
            .map(|r| VersionRow {
                version: r.0.clone(),
                jurisdiction: r.1.clone(),
                effective_from: r.2.clone(),
                published: format!(
                    "{} · {}",
                    if r.3 == versioned::FROM_CONFIG {
                        tr.t("published_from_config")
                    } else {
                        r.3.clone()
                    },
                    tr.time(r.4)
                ),
            })
            .collect(),
        a: opts(&a, ids.len().saturating_sub(1).min(1)),
        b: opts(&b, 0),
        compared: a.zip(b),
        changes,
        viewed,
        fields,
        error,
        notice: q
            .published
            .as_ref()
            .map(|v| tr.f("catalogue_published", &[("version", v)])),
    };
    render(status, &p)
}

/// `GET /admin/catalogue`.
#[get("/admin/catalogue")]
pub async fn catalogue_page(
    c: Console,
    state: web::Data<AppState>,
    q: web::Query<Show>,
) -> Result<HttpResponse, WebError> {
    c.require(Action::PublishCatalogue)?;
    page(&c, &state, Kind::Catalogue, &q, StatusCode::OK, None).await
}

/// `GET /admin/policies`.
#[get("/admin/policies")]
pub async fn policies_page(
    c: Console,
    state: web::Data<AppState>,
    q: web::Query<Show>,
) -> Result<HttpResponse, WebError> {
    c.require(Action::PublishCatalogue)?;
    page(&c, &state, Kind::Policy, &q, StatusCode::OK, None).await
}

/// `POST /admin/catalogue`: publishes the uploaded catalogue (multipart: `csrf`, `file`).
#[post("/admin/catalogue")]
pub async fn publish(
    req: HttpRequest,
    c: Console,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, WebError> {
    publish_any(req, c, state, body, Kind::Catalogue).await
}

/// `POST /admin/policies`: publishes the uploaded due-time policy (multipart: `csrf`, `file`).
#[post("/admin/policies")]
pub async fn publish_policy(
    req: HttpRequest,
    c: Console,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, WebError> {
    publish_any(req, c, state, body, Kind::Policy).await
}

async fn publish_any(
    req: HttpRequest,
    c: Console,
    state: web::Data<AppState>,
    body: web::Bytes,
    kind: Kind,
) -> Result<HttpResponse, WebError> {
    let ct = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let parts = multipart::parse(&ct, &body).unwrap_or_default();
    let field = |n: &str| parts.iter().find(|p| p.name == n);
    let csrf = field("csrf").map(|p| String::from_utf8_lossy(&p.data).to_string());
    c.authorize(&req, csrf.as_deref(), Action::PublishCatalogue)?;
    let show = Show::default();
    let file = match field("file") {
        Some(f) if !f.data.is_empty() && f.data.len() <= MAX_FILE => f,
        _ => {
            let m = c.tr.t("catalogue_no_file");
            return page(
                &c,
                &state,
                kind,
                &show,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(m),
            )
            .await;
        }
    };
    let text = String::from_utf8_lossy(&file.data).to_string();
    let (now, by) = (state.now(), c.session.principal.key());
    let done = match kind {
        Kind::Catalogue => {
            let parsed = match Catalogue::from_toml(&text) {
                Ok(cat) => cat,
                Err(e) => {
                    return page(
                        &c,
                        &state,
                        kind,
                        &show,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        Some(e.0),
                    )
                    .await;
                }
            };
            let store = state.catalogues.clone();
            let version = parsed.version.clone();
            db::run(&state.pool, move |conn| {
                svc::publish(conn, &store, parsed, &by, now).map(|()| version)
            })
            .await
        }
        Kind::Policy => {
            let store = state.policies.clone();
            db::run(&state.pool, move |conn| {
                versioned::publish::<DuePolicy>(conn, &store, &text, &by, now)
            })
            .await
        }
    };
    match done {
        Ok(version) => {
            tracing::info!(version = %version, "configuration published in the console");
            let v = crate::web::pages::url_encode(&version);
            Ok(crate::web::pages::see_other(&format!(
                "{}?published={v}&view={v}",
                kind.base()
            )))
        }
        Err(e) => {
            let (s, m) = refusal(c.tr, e, "stale_case")?;
            page(&c, &state, kind, &show, s, Some(m)).await
        }
    }
}
