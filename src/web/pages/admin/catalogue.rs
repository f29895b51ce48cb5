//! Condition catalogue versions (administrators): every stored version; one version's fields;
//! two versions compared field by field (changed cutoffs and rules listed with the old and the
//! new value); and publishing a new version from an uploaded TOML file, validated exactly as the
//! API validates it — a file that fails shows its errors and stores nothing.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use crate::db;
use crate::db::models::admin::catalogue as rows;
use crate::domain::catalogue::Catalogue;
use crate::domain::role::Action;
use crate::error::AppError;
use crate::services::admin::catalogue as svc;
use crate::services::admin::compare::{self, Change};
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

fn version(state: &AppState, id: &str) -> Result<Catalogue, WebError> {
    let store = state
        .catalogues
        .read()
        .map_err(|_| AppError::Unexpected(anyhow::anyhow!("catalogue store poisoned")))?;
    store
        .get(id)
        .map(|i| i.catalogue().clone())
        .ok_or(WebError::NotFound)
}

async fn page(
    c: &Console,
    state: &AppState,
    q: &Show,
    status: StatusCode,
    error: Option<String>,
) -> Result<HttpResponse, WebError> {
    let tr = c.tr;
    let list = db::run(&state.pool, |conn| Ok::<_, AppError>(rows::list(conn)?)).await?;
    let ids: Vec<String> = list.iter().map(|r| r.version.clone()).collect();
    let (a, b) = match (&q.a, &q.b) {
        (Some(a), Some(b)) if ids.contains(a) && ids.contains(b) => {
            (Some(a.clone()), Some(b.clone()))
        }
        _ => (None, None),
    };
    let changes = match (&a, &b) {
        (Some(a), Some(b)) => compare::compare(&version(state, a)?, &version(state, b)?),
        _ => vec![],
    };
    let viewed = q.view.clone().filter(|v| ids.contains(v));
    let fields = match &viewed {
        Some(v) => compare::flatten(&version(state, v)?).into_iter().collect(),
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
        c: Chrome::of(c, "catalogue_title", "/admin/catalogue"),
        rows: list
            .iter()
            .map(|r| VersionRow {
                version: r.version.clone(),
                jurisdiction: r.jurisdiction.clone(),
                effective_from: r.effective_from.to_string(),
                published: format!("{} · {}", r.published_by, tr.time(r.published_at.utc())),
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
    page(&c, &state, &q, StatusCode::OK, None).await
}

/// `POST /admin/catalogue`: publishes the uploaded file (multipart: `csrf`, `file`).
#[post("/admin/catalogue")]
pub async fn publish(
    req: HttpRequest,
    c: Console,
    state: web::Data<AppState>,
    body: web::Bytes,
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
    let refuse = |m: String| (StatusCode::UNPROCESSABLE_ENTITY, Some(m));
    let file = match field("file") {
        Some(f) if !f.data.is_empty() && f.data.len() <= MAX_FILE => f,
        _ => {
            let (s, e) = refuse(c.tr.t("catalogue_no_file"));
            return page(&c, &state, &show, s, e).await;
        }
    };
    let text = String::from_utf8_lossy(&file.data).to_string();
    let parsed = match Catalogue::from_toml(&text) {
        Ok(cat) => cat,
        Err(e) => {
            let (s, m) = refuse(e.0);
            return page(&c, &state, &show, s, m).await;
        }
    };
    let (now, store, by) = (
        state.now(),
        state.catalogues.clone(),
        c.session.principal.key(),
    );
    let version = parsed.version.clone();
    match db::run(&state.pool, move |conn| {
        svc::publish(conn, &store, parsed, &by, now)
    })
    .await
    {
        Ok(()) => {
            tracing::info!(catalogue.version = %version, "catalogue published in the console");
            let v: String = version
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            Ok(crate::web::pages::see_other(&format!(
                "/admin/catalogue?published={v}&view={v}"
            )))
        }
        Err(e) => {
            let (s, m) = refusal(c.tr, e, "stale_case")?;
            page(&c, &state, &show, s, Some(m)).await
        }
    }
}
