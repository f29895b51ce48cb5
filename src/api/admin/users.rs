//! `/api/v1/users`: staff accounts (admin only). Password hashes never leave the server.

use actix_web::http::header;
use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::json::{ApiJson, double_option};
use crate::api::path_id;
use crate::auth::extract::require;
use crate::db;
use crate::db::models::admin::user::{self, User};
use crate::domain::ids::{HospitalId, UserId};
use crate::domain::principal::Principal;
use crate::domain::role::{Action, Role};
use crate::error::{AppError, ErrorCode, Problem};
use crate::services::admin::accounts::{self, UserInput, UserPatch};
use crate::state::AppState;

/// A user as returned.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    /// The user's id.
    pub id: UserId,
    /// Login name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// The user's role.
    pub role: Role,
    /// Hospital of hospital staff.
    pub hospital_id: Option<HospitalId>,
    /// May log in.
    pub active: bool,
    /// Created (UTC).
    pub created_at: DateTime<Utc>,
    /// Last successful login (UTC).
    pub last_login_at: Option<DateTime<Utc>>,
    /// E-mail for escalations of assigned cases.
    pub email: Option<String>,
}

impl From<User> for UserResponse {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            role: u.role,
            hospital_id: u.hospital_id,
            active: u.active,
            created_at: u.created_at.utc(),
            last_login_at: u.last_login_at.map(|t| t.utc()),
            email: u.email,
        }
    }
}

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// Login name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Initial password (at least 12 characters).
    pub password: String,
    /// Role (not `hospital_client`).
    pub role: Role,
    /// Required for `hospital_staff`.
    pub hospital_id: Option<HospitalId>,
    /// E-mail for escalations of assigned cases.
    pub email: Option<String>,
}

/// Changes to a user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// New display name.
    pub display_name: Option<String>,
    /// New role.
    pub role: Option<Role>,
    /// New hospital (`null` clears).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub hospital_id: Option<Option<HospitalId>>,
    /// Activate or deactivate.
    pub active: Option<bool>,
    /// Reset the password.
    pub password: Option<String>,
    /// New e-mail (`null` clears).
    #[serde(default, deserialize_with = "double_option")]
    pub email: Option<Option<String>>,
}

/// Create a user (admin).
#[utoipa::path(tag = "users", security(("bearer" = [])), request_body = CreateUserRequest, responses(
    (status = 201, body = UserResponse), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/users")]
pub async fn create_user(
    p: Principal,
    state: web::Data<AppState>,
    body: ApiJson<CreateUserRequest>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ManageAccounts)?;
    let b = body.0;
    let input = UserInput {
        username: b.username,
        display_name: b.display_name,
        password: b.password,
        role: b.role,
        hospital_id: b.hospital_id,
        email: b.email,
    };
    let now = state.now();
    let u = db::run(&state.pool, move |c| accounts::create_user(c, input, now)).await?;
    tracing::info!(user.id = %u.id, "user created");
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/users/{}", u.id)))
        .json(UserResponse::from(u)))
}

/// List users (admin).
#[utoipa::path(tag = "users", security(("bearer" = [])), responses((status = 200, body = [UserResponse])))]
#[get("/users")]
pub async fn list_users(
    p: Principal,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ManageAccounts)?;
    let rows = db::run(&state.pool, |c| Ok(user::list(c)?)).await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(UserResponse::from).collect::<Vec<_>>()))
}

/// One user (admin).
#[utoipa::path(tag = "users", security(("bearer" = [])), params(("id" = String, Path)), responses((status = 200, body = UserResponse), (status = 404, body = Problem)))]
#[get("/users/{id}")]
pub async fn get_user(
    p: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ManageAccounts)?;
    let id: UserId = path_id(&id, "user")?;
    let u = db::run(&state.pool, move |c| {
        user::get(c, id)?.ok_or(AppError::NotFound { entity: "user" })
    })
    .await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(u)))
}

/// Change a user: role, hospital, active flag, password reset (admin).
#[utoipa::path(tag = "users", security(("bearer" = [])), params(("id" = String, Path)), request_body = UpdateUserRequest, responses(
    (status = 200, body = UserResponse), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[patch("/users/{id}")]
pub async fn update_user(
    p: Principal,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: ApiJson<UpdateUserRequest>,
) -> Result<HttpResponse, AppError> {
    require(&p, Action::ManageAccounts)?;
    let id: UserId = path_id(&id, "user")?;
    let b = body.0;
    if id.to_string() == p.subject
        && (b.active == Some(false) || b.role.is_some_and(|r| r != Role::Admin))
    {
        return Err(AppError::conflict(
            ErrorCode::CannotDemoteSelf,
            Some("role"),
            "an administrator cannot deactivate or demote their own account",
        ));
    }
    let patch = UserPatch {
        display_name: b.display_name,
        role: b.role,
        hospital_id: b.hospital_id,
        active: b.active,
        password: b.password,
        email: b.email,
        one_time: false,
    };
    let now = state.now();
    let u = db::run(&state.pool, move |c| {
        accounts::update_user(c, id, patch, now)
    })
    .await?;
    state.token_versions.forget(&u.actor_key());
    tracing::info!(user.id = %u.id, "user updated");
    Ok(HttpResponse::Ok().json(UserResponse::from(u)))
}
