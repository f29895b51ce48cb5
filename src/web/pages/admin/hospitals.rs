//! Hospitals (administrators): every hospital with its district, contact addresses, heart-screen
//! protocol and status; a form to create one; and per hospital a form to edit its name,
//! district, addresses and protocol, and to deactivate or reactivate it (its users and clients
//! stop signing in while it is inactive). Checked by the API's services; a refusal shows the
//! messages and changes nothing.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use crate::db;
use crate::db::models::admin::hospital;
use crate::domain::ids::HospitalId;
use crate::domain::principal::Scope;
use crate::domain::role::Action;
use crate::error::AppError;
use crate::services::admin::accounts::{self, HospitalInput, HospitalPatch};
use crate::services::admin::catalogue;
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::pages::{Chrome, Opt, refusal, render};
use crate::web::session::Console;

/// One hospital line with its edit form's values.
#[derive(Debug, Clone)]
pub struct HospitalRow {
    /// Id.
    pub id: String,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// District.
    pub district: String,
    /// Contact addresses, comma-separated.
    pub emails: String,
    /// Protocol choices, this hospital's selected.
    pub protocols: Vec<Opt>,
    /// Active.
    pub active: bool,
}

#[derive(Template)]
#[template(path = "hospitals.html", config = "src/web/askama.toml")]
struct HospitalsPage {
    c: Chrome,
    rows: Vec<HospitalRow>,
    error: Option<String>,
    notice: Option<String>,
}

fn emails(s: &str) -> Vec<String> {
    s.split([',', '，', ';', ' ', '\n'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

async fn page(
    c: &Console,
    state: &AppState,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
) -> Result<HttpResponse, WebError> {
    let hs = db::run(&state.pool, |conn| {
        Ok::<_, AppError>(hospital::list(conn, &Scope::unrestricted(), None)?)
    })
    .await?;
    let cat = catalogue::current(&state.catalogues, state.now())?;
    let codes: Vec<String> = cat
        .catalogue()
        .cchd
        .protocols
        .iter()
        .map(|p| p.code.clone())
        .collect();
    let tr = c.tr;
    let rows = hs
        .iter()
        .map(|h| HospitalRow {
            id: h.id.to_string(),
            code: h.code.clone(),
            name: h.name.clone(),
            district: h.district.clone().unwrap_or_default(),
            emails: h.emails().join(", "),
            protocols: std::iter::once(Opt {
                value: String::new(),
                label: tr.t("protocol_default"),
                selected: h.cchd_protocol.is_none(),
            })
            .chain(codes.iter().map(|p| Opt {
                value: p.clone(),
                label: p.clone(),
                selected: h.cchd_protocol.as_deref() == Some(p),
            }))
            .collect(),
            active: h.active,
        })
        .collect();
    render(
        status,
        &HospitalsPage {
            c: Chrome::of(c, "hospitals_title", "/admin/hospitals"),
            rows,
            error,
            notice,
        },
    )
}

async fn refused(c: &Console, state: &AppState, e: AppError) -> Result<HttpResponse, WebError> {
    let (s, m) = refusal(c.tr, e, "stale_case")?;
    page(c, state, s, Some(m), None).await
}

/// `GET /admin/hospitals`.
#[get("/admin/hospitals")]
pub async fn hospitals_page(
    c: Console,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    c.require(Action::ManageAccounts)?;
    page(&c, &state, StatusCode::OK, None, None).await
}

/// The hospital forms.
#[derive(Debug, Deserialize)]
pub struct HospitalForm {
    csrf: Option<String>,
    #[serde(default)]
    code: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    district: String,
    #[serde(default)]
    emails: String,
    #[serde(default)]
    protocol: String,
    #[serde(default)]
    active: Option<String>,
}

/// `POST /admin/hospitals`: creates a hospital.
#[post("/admin/hospitals")]
pub async fn create_hospital(
    req: HttpRequest,
    c: Console,
    state: web::Data<AppState>,
    form: web::Form<HospitalForm>,
) -> Result<HttpResponse, WebError> {
    c.authorize(&req, form.csrf.as_deref(), Action::ManageAccounts)?;
    let f = form.into_inner();
    let input = HospitalInput {
        code: f.code.trim().to_string(),
        name: f.name.trim().to_string(),
        district: Some(f.district.trim().to_string()).filter(|d| !d.is_empty()),
        contact_emails: emails(&f.emails),
    };
    let now = state.now();
    match db::run(&state.pool, move |conn| {
        accounts::create_hospital(conn, input, now)
    })
    .await
    {
        Ok(h) => {
            tracing::info!(hospital.id = %h.id, "hospital created in the console");
            let n = c.tr.f("account_changed", &[("login", &h.code)]);
            page(&c, &state, StatusCode::OK, None, Some(n)).await
        }
        Err(e) => refused(&c, &state, e).await,
    }
}

/// `POST /admin/hospitals/{id}`: edits a hospital (and activates or deactivates it).
#[post("/admin/hospitals/{id}")]
pub async fn update_hospital(
    req: HttpRequest,
    c: Console,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<HospitalForm>,
) -> Result<HttpResponse, WebError> {
    c.authorize(&req, form.csrf.as_deref(), Action::ManageAccounts)?;
    let id: HospitalId = id.parse().map(HospitalId).map_err(|_| WebError::NotFound)?;
    let f = form.into_inner();
    let patch = HospitalPatch {
        name: Some(f.name.trim().to_string()),
        district: Some(Some(f.district.trim().to_string()).filter(|d| !d.is_empty())),
        contact_emails: Some(emails(&f.emails)),
        active: Some(f.active.as_deref() == Some("1")),
        cchd_protocol: Some(Some(f.protocol.trim().to_string()).filter(|p| !p.is_empty())),
    };
    let now = state.now();
    let cat = catalogue::current(&state.catalogues, now)?;
    match db::run(&state.pool, move |conn| {
        accounts::update_hospital(conn, cat.catalogue(), id, patch, now)
    })
    .await
    {
        Ok(h) => {
            tracing::info!(hospital.id = %h.id, "hospital changed in the console");
            let n = c.tr.f("account_changed", &[("login", &h.code)]);
            page(&c, &state, StatusCode::OK, None, Some(n)).await
        }
        Err(e) => refused(&c, &state, e).await,
    }
}
