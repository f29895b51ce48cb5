//! Users and API clients (administrators only). A user is created with a generated one-time
//! password, and a client with a generated secret, each shown once on the page that answers the
//! form (never stored in clear, never shown again; `Cache-Control: no-store`); a password reset
//! issues a new one-time password; deactivating a user ends their sessions at once, and
//! rotating or deactivating a client ends its tokens.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use crate::db;
use crate::db::models::admin::{api_client, hospital, user};
use crate::domain::ids::{HospitalId, UserId};
use crate::domain::role::{Action, Role};
use crate::error::AppError;
use crate::services::admin::accounts::{self, UserInput, UserPatch};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::i18n::Tr;
use crate::web::pages::{Chrome, Opt, refusal, render};
use crate::web::session::Console;

/// One account line (a user or a client).
#[derive(Debug, Clone)]
pub struct AccountRow {
    /// Row id (the forms' address).
    pub id: String,
    /// Username or client id.
    pub login: String,
    /// Display name or client name.
    pub name: String,
    /// Role in words.
    pub role: String,
    /// Hospital, if bound.
    pub hospital: String,
    /// Active.
    pub active: bool,
    /// Last sign-in or last rotation.
    pub when: String,
}

/// A secret issued by the last form, shown once.
#[derive(Debug, Clone)]
pub struct Issued {
    /// For whom.
    pub login: String,
    /// The password or secret.
    pub secret: String,
}

#[derive(Template)]
#[template(path = "accounts.html", config = "src/web/askama.toml")]
struct AccountsPage {
    c: Chrome,
    clients: bool,
    rows: Vec<AccountRow>,
    roles: Vec<Opt>,
    hospitals: Vec<Opt>,
    issued: Option<Issued>,
    error: Option<String>,
    notice: Option<String>,
}

const USER_ROLES: [Role; 5] = [
    Role::Admin,
    Role::Coordinator,
    Role::Clinician,
    Role::Viewer,
    Role::HospitalStaff,
];
const CLIENT_ROLES: [Role; 2] = [Role::HospitalClient, Role::LabClient];

fn role_label(tr: Tr, r: Role) -> String {
    tr.t(&format!("role_{}", r.as_str()))
}

async fn page(
    c: &Console,
    state: &AppState,
    clients: bool,
    status: StatusCode,
    issued: Option<Issued>,
    error: Option<String>,
    notice: Option<String>,
) -> Result<HttpResponse, WebError> {
    let tr = c.tr;
    let (users, cls, hs) = db::run(&state.pool, move |conn| {
        let hs = hospital::list(conn, &crate::domain::principal::Scope::unrestricted(), None)?;
        let users = if clients { vec![] } else { user::list(conn)? };
        let cls = if clients {
            api_client::list(conn, None)?
        } else {
            vec![]
        };
        Ok::<_, AppError>((users, cls, hs))
    })
    .await?;
    let hname = |h: Option<HospitalId>| {
        h.and_then(|h| hs.iter().find(|x| x.id == h))
            .map(|x| format!("{} {}", x.code, x.name))
            .unwrap_or_else(|| "—".into())
    };
    let rows = if clients {
        cls.iter()
            .map(|k| AccountRow {
                id: k.id.clone(),
                login: k.client_id.clone(),
                name: k.name.clone(),
                role: role_label(tr, k.role),
                hospital: hname(k.hospital_id),
                active: k.active,
                when: tr.time(k.secret_rotated_at.utc()),
            })
            .collect()
    } else {
        users
            .iter()
            .map(|u| AccountRow {
                id: u.id.to_string(),
                login: u.username.clone(),
                name: u.display_name.clone(),
                role: role_label(tr, u.role),
                hospital: hname(u.hospital_id),
                active: u.active,
                when: u
                    .last_login_at
                    .map_or_else(|| "—".into(), |t| tr.time(t.utc())),
            })
            .collect()
    };
    let roles: &[Role] = if clients { &CLIENT_ROLES } else { &USER_ROLES };
    let p = AccountsPage {
        c: Chrome::of(
            c,
            if clients {
                "clients_title"
            } else {
                "users_title"
            },
            if clients {
                "/admin/clients"
            } else {
                "/admin/users"
            },
        ),
        clients,
        rows,
        roles: roles
            .iter()
            .map(|r| Opt {
                value: r.as_str().into(),
                label: role_label(tr, *r),
                selected: false,
            })
            .collect(),
        hospitals: hs
            .iter()
            .filter(|h| h.active)
            .map(|h| Opt {
                value: h.id.to_string(),
                label: format!("{} {}", h.code, h.name),
                selected: false,
            })
            .collect(),
        issued,
        error,
        notice,
    };
    let mut res = render(status, &p)?;
    res.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}

async fn refused(
    c: &Console,
    state: &AppState,
    clients: bool,
    e: AppError,
) -> Result<HttpResponse, WebError> {
    let (status, message) = refusal(c.tr, e, "stale_case")?;
    page(c, state, clients, status, None, Some(message), None).await
}

/// `GET /admin/users`.
#[get("/admin/users")]
pub async fn users_page(c: Console, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    c.require(Action::ManageAccounts)?;
    page(&c, &state, false, StatusCode::OK, None, None, None).await
}

/// `GET /admin/clients`.
#[get("/admin/clients")]
pub async fn clients_page(
    c: Console,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    c.require(Action::ManageAccounts)?;
    page(&c, &state, true, StatusCode::OK, None, None, None).await
}

/// The create forms (users and clients).
#[derive(Debug, Deserialize)]
pub struct CreateForm {
    csrf: Option<String>,
    #[serde(default)]
    username: String,
    #[serde(default)]
    name: String,
    role: String,
    #[serde(default)]
    hospital: String,
    #[serde(default)]
    email: String,
}

fn hospital_of(v: &str) -> Option<HospitalId> {
    v.parse().ok().map(HospitalId)
}

/// `POST /admin/users`: creates a user with a one-time password, shown once.
#[post("/admin/users")]
pub async fn create_user(
    req: HttpRequest,
    c: Console,
    state: web::Data<AppState>,
    form: web::Form<CreateForm>,
) -> Result<HttpResponse, WebError> {
    c.authorize(&req, form.csrf.as_deref(), Action::ManageAccounts)?;
    let f = form.into_inner();
    let Some(role) = Role::parse(&f.role) else {
        return refused(
            &c,
            &state,
            false,
            AppError::invalid("role", "choose a role"),
        )
        .await;
    };
    let input = UserInput {
        username: f.username.trim().to_string(),
        display_name: f.name.trim().to_string(),
        password: String::new(),
        role,
        hospital_id: hospital_of(&f.hospital),
        email: Some(f.email.trim().to_string()).filter(|e| !e.is_empty()),
    };
    let now = state.now();
    match db::run(&state.pool, move |conn| {
        accounts::create_user_with_one_time_password(conn, input, now)
    })
    .await
    {
        Ok((u, otp)) => {
            tracing::info!(user.id = %u.id, "user created in the console");
            let issued = Issued {
                login: u.username,
                secret: otp,
            };
            page(&c, &state, false, StatusCode::OK, Some(issued), None, None).await
        }
        Err(e) => refused(&c, &state, false, e).await,
    }
}

/// A row action's form.
#[derive(Debug, Deserialize)]
pub struct RowForm {
    csrf: Option<String>,
}

/// `POST /admin/users/{id}/{action}`: `deactivate`, `activate` or `reset` (a new one-time
/// password, shown once). Deactivation and reset end the user's sessions at once.
#[post("/admin/users/{id}/{action}")]
pub async fn user_action(
    req: HttpRequest,
    c: Console,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: web::Form<RowForm>,
) -> Result<HttpResponse, WebError> {
    c.authorize(&req, form.csrf.as_deref(), Action::ManageAccounts)?;
    let (id, action) = path.into_inner();
    let id: UserId = id.parse().map(UserId).map_err(|_| WebError::NotFound)?;
    if c.session.principal.subject == id.to_string() && action != "activate" {
        let e = AppError::invalid(
            "user",
            "an administrator cannot deactivate or reset their own account here",
        );
        return refused(&c, &state, false, e).await;
    }
    let now = state.now();
    let done = match action.as_str() {
        "reset" => {
            db::run(&state.pool, move |conn| {
                accounts::reset_to_one_time_password(conn, id, now).map(|(u, otp)| (u, Some(otp)))
            })
            .await
        }
        "deactivate" | "activate" => {
            let active = action == "activate";
            db::run(&state.pool, move |conn| {
                let patch = UserPatch {
                    active: Some(active),
                    ..Default::default()
                };
                accounts::update_user(conn, id, patch, now).map(|u| (u, None))
            })
            .await
        }
        _ => return Err(WebError::NotFound),
    };
    match done {
        Ok((u, otp)) => {
            state.token_versions.forget(&u.actor_key());
            tracing::info!(user.id = %u.id, action = %action, "user changed in the console");
            let issued = otp.map(|secret| Issued {
                login: u.username.clone(),
                secret,
            });
            let notice = issued
                .is_none()
                .then(|| c.tr.f("account_changed", &[("login", &u.username)]));
            page(&c, &state, false, StatusCode::OK, issued, None, notice).await
        }
        Err(e) => refused(&c, &state, false, e).await,
    }
}

/// `POST /admin/clients`: creates an API client; its secret is shown once.
#[post("/admin/clients")]
pub async fn create_client(
    req: HttpRequest,
    c: Console,
    state: web::Data<AppState>,
    form: web::Form<CreateForm>,
) -> Result<HttpResponse, WebError> {
    c.authorize(&req, form.csrf.as_deref(), Action::ManageAccounts)?;
    let f = form.into_inner();
    let Some(role) = Role::parse(&f.role) else {
        return refused(&c, &state, true, AppError::invalid("role", "choose a role")).await;
    };
    let now = state.now();
    let (name, h) = (f.name.clone(), hospital_of(&f.hospital));
    match db::run(&state.pool, move |conn| {
        accounts::create_client(conn, &name, role, h, now)
    })
    .await
    {
        Ok(k) => {
            tracing::info!(client.id = %k.client.id, "API client created in the console");
            let issued = Issued {
                login: k.client.client_id,
                secret: k.secret,
            };
            page(&c, &state, true, StatusCode::OK, Some(issued), None, None).await
        }
        Err(e) => refused(&c, &state, true, e).await,
    }
}

/// `POST /admin/clients/{id}/{action}`: `rotate` (a new secret, shown once; the old one and its
/// tokens stop at once), `deactivate` or `activate`.
#[post("/admin/clients/{id}/{action}")]
pub async fn client_action(
    req: HttpRequest,
    c: Console,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: web::Form<RowForm>,
) -> Result<HttpResponse, WebError> {
    c.authorize(&req, form.csrf.as_deref(), Action::ManageAccounts)?;
    let (id, action) = path.into_inner();
    let now = state.now();
    let key = id.clone();
    let done = match action.as_str() {
        "rotate" => {
            db::run(&state.pool, move |conn| {
                accounts::rotate_client_secret(conn, &key, now).map(|k| (k.client, Some(k.secret)))
            })
            .await
        }
        "deactivate" | "activate" => {
            let active = action == "activate";
            db::run(&state.pool, move |conn| {
                accounts::update_client(conn, &key, None, Some(active), now).map(|k| (k, None))
            })
            .await
        }
        _ => return Err(WebError::NotFound),
    };
    match done {
        Ok((k, secret)) => {
            state.token_versions.forget(&format!("client:{}", k.id));
            tracing::info!(client.id = %k.id, action = %action, "API client changed in the console");
            let issued = secret.map(|s| Issued {
                login: k.client_id.clone(),
                secret: s,
            });
            let notice = issued
                .is_none()
                .then(|| c.tr.f("account_changed", &[("login", &k.client_id)]));
            page(&c, &state, true, StatusCode::OK, issued, None, notice).await
        }
        Err(e) => refused(&c, &state, true, e).await,
    }
}
