//! Record merges (administrators): the latest merges of duplicate infant records — which record
//! was kept, which merged into it, how many rows moved, who merged and when — each with an undo
//! button while it stands (the rows go back and the duplicate record is active again).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use crate::db;
use crate::db::models::screening::{infant, merge};
use crate::domain::role::Action;
use crate::error::AppError;
use crate::services::screening::merges;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::pages::{Chrome, refusal, render};
use crate::web::session::Console;

/// Merges listed.
const LIMIT: i64 = 100;

/// One merge line.
#[derive(Debug, Clone)]
pub struct MergeRow {
    /// Merge id (the undo form's address).
    pub id: String,
    /// The kept record: reference and page.
    pub kept: (String, String),
    /// The merged record: reference and page.
    pub merged: (String, String),
    /// Rows moved.
    pub rows: usize,
    /// Who merged, when.
    pub merged_at: String,
    /// Undone: when (none: it stands).
    pub undone_at: Option<String>,
}

#[derive(Template)]
#[template(path = "merges.html", config = "src/web/askama.toml")]
struct MergesPage {
    c: Chrome,
    rows: Vec<MergeRow>,
    error: Option<String>,
    notice: Option<String>,
}

async fn page(
    c: &Console,
    state: &AppState,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
) -> Result<HttpResponse, WebError> {
    let (list, refs) = db::run(&state.pool, |conn| {
        let list = merge::recent(conn, LIMIT)?;
        let ids: Vec<_> = list.iter().flat_map(|m| [m.kept_id, m.merged_id]).collect();
        let refs = infant::refs(conn, &ids)?;
        Ok::<_, AppError>((list, refs))
    })
    .await?;
    let tr = c.tr;
    let r = |id: crate::domain::ids::InfantId| {
        (
            refs.get(&id).cloned().unwrap_or_else(|| id.to_string()),
            format!("/infants/{id}"),
        )
    };
    let rows = list
        .iter()
        .map(|m| MergeRow {
            id: m.id.clone(),
            kept: r(m.kept_id),
            merged: r(m.merged_id),
            rows: m.moved.0.values().map(Vec::len).sum(),
            merged_at: format!("{} · {}", tr.time(m.merged_at.utc()), m.merged_by),
            undone_at: m.undone_at.map(|t| tr.time(t.utc())),
        })
        .collect();
    render(
        status,
        &MergesPage {
            c: Chrome::of(c, "merges_title", "/admin/merges"),
            rows,
            error,
            notice,
        },
    )
}

/// `GET /admin/merges`.
#[get("/admin/merges")]
pub async fn merges_page(c: Console, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    c.require(Action::MergeInfants)?;
    page(&c, &state, StatusCode::OK, None, None).await
}

/// The undo form.
#[derive(Debug, Deserialize)]
pub struct UndoForm {
    csrf: Option<String>,
}

/// `POST /admin/merges/{id}/undo`.
#[post("/admin/merges/{id}/undo")]
pub async fn undo(
    req: HttpRequest,
    c: Console,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<UndoForm>,
) -> Result<HttpResponse, WebError> {
    c.authorize(&req, form.csrf.as_deref(), Action::MergeInfants)?;
    let id = id.into_inner();
    let (p, now) = (c.session.principal.clone(), state.now());
    match db::run(&state.pool, move |conn| merges::undo(conn, &p, &id, now)).await {
        Ok(m) => {
            tracing::info!(merge.id = %m.id, "merge undone in the console");
            let n = c.tr.t("merge_undone_notice");
            page(&c, &state, StatusCode::OK, None, Some(n)).await
        }
        Err(e) => {
            let (s, msg) = refusal(c.tr, e, "stale_case")?;
            page(&c, &state, s, Some(msg), None).await
        }
    }
}
