//! Hospitals, staff users and hospital API clients: creation, updates, secret rotation and
//! credential checks. Used by both the admin API and the command line.

use chrono::{DateTime, Utc};

use crate::auth::{password, secrets};
use crate::db::models::admin::api_client::{self, ApiClient, ApiClientUpdateForm};
use crate::db::models::admin::hospital::{self, Hospital, HospitalUpdateForm};
use crate::db::models::admin::user::{self, User, UserUpdateForm};
use crate::db::types::{Json, UtcMicros};
use crate::db::{AnyConnection, write_transaction};
use crate::domain::ids::{ApiClientId, HospitalId, UserId};
use crate::domain::principal::{Principal, PrincipalKind, Scope};
use crate::domain::role::Role;
use crate::domain::validation::FieldErrors;
use crate::error::{AppError, ErrorCode, is_unique_violation};

/// A new hospital.
#[derive(Debug, Clone)]
pub struct HospitalInput {
    /// Short unique code, e.g. the provincial institution code.
    pub code: String,
    /// Display name.
    pub name: String,
    /// District (for routing notices to district MCH staff later).
    pub district: Option<String>,
    /// Follow-up contact e-mail addresses.
    pub contact_emails: Vec<String>,
}

/// Changes to a hospital.
#[derive(Debug, Clone, Default)]
pub struct HospitalPatch {
    /// New name.
    pub name: Option<String>,
    /// New district (`Some(None)` clears it).
    pub district: Option<Option<String>>,
    /// New contact list.
    pub contact_emails: Option<Vec<String>>,
    /// Activate or deactivate.
    pub active: Option<bool>,
    /// The heart-screening protocol its screens start under (`Some(None)`: the catalogue's
    /// default).
    pub cchd_protocol: Option<Option<String>>,
}

/// Whether `m` looks like an e-mail address (one `@`, a dotted domain, no spaces).
pub fn is_email(m: &str) -> bool {
    m.len() <= 254
        && m.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'))
        && !m.chars().any(char::is_whitespace)
}

fn check_email(field: &str, m: Option<String>, e: &mut FieldErrors) -> Option<String> {
    let m = m.map(|m| m.trim().to_string()).filter(|m| !m.is_empty())?;
    if !is_email(&m) {
        e.add(field, "is not an e-mail address");
    }
    Some(m)
}

fn check_emails(emails: &[String], e: &mut FieldErrors) -> Vec<String> {
    if emails.len() > 10 {
        e.add("contact_emails", "at most 10 addresses");
    }
    emails
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let m = m.trim().to_string();
            if !is_email(&m) {
                e.add(format!("contact_emails[{i}]"), "is not an e-mail address");
            }
            m
        })
        .collect()
}

/// Creates a hospital; its code must be unique.
pub fn create_hospital(
    conn: &mut AnyConnection,
    input: HospitalInput,
    now: DateTime<Utc>,
) -> Result<Hospital, AppError> {
    let mut e = FieldErrors::new();
    let code = e.text("code", &input.code, 32);
    if !code
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        e.add("code", "may hold only letters, digits, - and _");
    }
    let name = e.text("name", &input.name, 128);
    let district = input
        .district
        .map(|d| e.text("district", &d, 64))
        .filter(|d| !d.is_empty());
    let contact_emails = check_emails(&input.contact_emails, &mut e);
    e.into_result().map_err(AppError::Validation)?;
    let t = UtcMicros::new(now);
    let row = Hospital {
        id: HospitalId::new(),
        code,
        name,
        district,
        contact_emails: Json(contact_emails),
        active: true,
        created_at: t,
        updated_at: t,
        cchd_protocol: None,
    };
    hospital::insert(conn, &row).map_err(|err| {
        if is_unique_violation(&err) {
            AppError::conflict(
                ErrorCode::DuplicateHospitalCode,
                Some("code"),
                "a hospital with this code exists",
            )
        } else {
            err.into()
        }
    })?;
    Ok(row)
}

/// Updates a hospital (admin).
pub fn update_hospital(
    conn: &mut AnyConnection,
    cat: &crate::domain::catalogue::Catalogue,
    id: HospitalId,
    patch: HospitalPatch,
    now: DateTime<Utc>,
) -> Result<Hospital, AppError> {
    let mut e = FieldErrors::new();
    if let Some(Some(code)) = &patch.cchd_protocol
        && cat.cchd_protocol(code).is_none()
    {
        let codes: Vec<&str> = cat.cchd.protocols.iter().map(|p| p.code.as_str()).collect();
        e.add(
            "cchd_protocol",
            format!("must be one of {}", codes.join(", ")),
        );
    }
    let form = HospitalUpdateForm {
        name: patch.name.map(|n| e.text("name", &n, 128)),
        district: patch.district.map(|d| {
            d.map(|d| e.text("district", &d, 64))
                .filter(|d| !d.is_empty())
        }),
        contact_emails: patch.contact_emails.map(|m| Json(check_emails(&m, &mut e))),
        active: patch.active,
        updated_at: Some(UtcMicros::new(now)),
        cchd_protocol: patch.cchd_protocol,
    };
    e.into_result().map_err(AppError::Validation)?;
    write_transaction(conn, |c| {
        if hospital::update(c, id, &form)? == 0 {
            return Err(AppError::NotFound { entity: "hospital" });
        }
        hospital::get(c, &Scope::unrestricted(), id)?
            .ok_or(AppError::NotFound { entity: "hospital" })
    })
}

/// A new staff user.
#[derive(Debug, Clone)]
pub struct UserInput {
    /// Login name (lower-case letters, digits, `.`, `_`, `-`).
    pub username: String,
    /// Name shown in the UI and audit trail.
    pub display_name: String,
    /// Initial password.
    pub password: String,
    /// Role; `hospital_client` is not a user role.
    pub role: Role,
    /// Required for `hospital_staff`, refused otherwise.
    pub hospital_id: Option<HospitalId>,
    /// Where escalations for this user's cases go.
    pub email: Option<String>,
}

fn check_role_hospital(
    conn: &mut AnyConnection,
    role: Role,
    hospital_id: Option<HospitalId>,
    e: &mut FieldErrors,
) -> Result<(), AppError> {
    if !role.is_user_role() {
        e.add("role", "hospital_client is for API clients, not users");
    }
    match (role.is_hospital_bound(), hospital_id) {
        (true, None) => e.add("hospital_id", "is required for hospital_staff"),
        (false, Some(_)) => e.add("hospital_id", "only hospital_staff belong to a hospital"),
        (true, Some(h)) => {
            if hospital::get(conn, &Scope::unrestricted(), h)?.is_none() {
                e.add("hospital_id", "no such hospital");
            }
        }
        (false, None) => {}
    }
    Ok(())
}

/// Creates a user with an argon2id password hash.
pub fn create_user(
    conn: &mut AnyConnection,
    input: UserInput,
    now: DateTime<Utc>,
) -> Result<User, AppError> {
    insert_user(conn, input, false, now)
}

/// A password an administrator hands over: 20 random characters (URL-safe base64).
fn one_time_password() -> Result<String, AppError> {
    Ok(secrets::random_token(15)?)
}

/// Creates a user with a generated one-time password (returned once, never stored): it signs
/// in once, and only to choose the user's own (`input.password` is ignored).
pub fn create_user_with_one_time_password(
    conn: &mut AnyConnection,
    mut input: UserInput,
    now: DateTime<Utc>,
) -> Result<(User, String), AppError> {
    let otp = one_time_password()?;
    input.password = otp.clone();
    Ok((insert_user(conn, input, true, now)?, otp))
}

/// Replaces a user's password with a generated one-time password (returned once); every
/// session of the user ends.
pub fn reset_to_one_time_password(
    conn: &mut AnyConnection,
    id: UserId,
    now: DateTime<Utc>,
) -> Result<(User, String), AppError> {
    let otp = one_time_password()?;
    let patch = UserPatch {
        password: Some(otp.clone()),
        one_time: true,
        ..Default::default()
    };
    Ok((update_user(conn, id, patch, now)?, otp))
}

fn insert_user(
    conn: &mut AnyConnection,
    input: UserInput,
    one_time: bool,
    now: DateTime<Utc>,
) -> Result<User, AppError> {
    let mut e = FieldErrors::new();
    let username = e.text("username", &input.username, 64);
    if username.len() < 3
        || !username
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_".contains(c))
    {
        e.add(
            "username",
            "must be 3 to 64 lower-case letters, digits, '.', '-' or '_'",
        );
    }
    let display_name = e.text("display_name", &input.display_name, 128);
    if let Err(m) = password::check_strength(&input.password) {
        e.add("password", m);
    }
    check_role_hospital(conn, input.role, input.hospital_id, &mut e)?;
    let email = check_email("email", input.email, &mut e);
    e.into_result().map_err(AppError::Validation)?;
    let t = UtcMicros::new(now);
    let row = User {
        id: UserId::new(),
        username,
        display_name,
        password_hash: password::hash(&input.password)?,
        role: input.role,
        hospital_id: input.hospital_id,
        active: true,
        created_at: t,
        updated_at: t,
        last_login_at: None,
        email,
        token_version: 0,
        password_one_time: one_time,
    };
    user::insert(conn, &row).map_err(|err| {
        if is_unique_violation(&err) {
            AppError::conflict(
                ErrorCode::UsernameTaken,
                Some("username"),
                "this username is taken",
            )
        } else {
            err.into()
        }
    })?;
    Ok(row)
}

/// Changes to a user (admin).
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    /// New display name.
    pub display_name: Option<String>,
    /// New role (with `hospital_id` when it becomes hospital-bound).
    pub role: Option<Role>,
    /// New hospital.
    pub hospital_id: Option<Option<HospitalId>>,
    /// Activate or deactivate.
    pub active: Option<bool>,
    /// Reset the password.
    pub password: Option<String>,
    /// New or cleared e-mail address.
    pub email: Option<Option<String>>,
    /// With `password`: it is a one-time password (signs in once, to choose one's own).
    pub one_time: bool,
}

/// Updates a user.
pub fn update_user(
    conn: &mut AnyConnection,
    id: UserId,
    patch: UserPatch,
    now: DateTime<Utc>,
) -> Result<User, AppError> {
    write_transaction(conn, |c| {
        let current = user::get(c, id)?.ok_or(AppError::NotFound { entity: "user" })?;
        let mut e = FieldErrors::new();
        let role = match patch.role {
            Some(r) => r,
            None => current.role,
        };
        let hospital_id = match patch.hospital_id {
            Some(h) => h,
            None => current.hospital_id,
        };
        check_role_hospital(c, role, hospital_id, &mut e)?;
        let display_name = patch.display_name.map(|d| e.text("display_name", &d, 128));
        if let Some(Err(m)) = patch.password.as_deref().map(password::check_strength) {
            e.add("password", m);
        }
        let email = patch.email.map(|m| check_email("email", m, &mut e));
        e.into_result().map_err(AppError::Validation)?;
        let form = UserUpdateForm {
            display_name,
            password_hash: patch.password.as_deref().map(password::hash).transpose()?,
            role: Some(role),
            hospital_id: Some(hospital_id),
            active: patch.active,
            updated_at: Some(UtcMicros::new(now)),
            // A one-time password signs in once from now: as if never signed in.
            last_login_at: (patch.password.is_some() && patch.one_time).then_some(None),
            email,
            password_one_time: patch.password.as_ref().map(|_| patch.one_time),
        };
        // A changed role or hospital, a deactivation or a password reset ends every session.
        let revoke = role != current.role
            || form
                .hospital_id
                .as_ref()
                .is_some_and(|h| *h != current.hospital_id)
            || (patch.active == Some(false) && current.active)
            || form.password_hash.is_some();
        user::update(c, id, &form)?;
        if revoke {
            user::revoke_tokens(c, id)?;
        }
        user::get(c, id)?.ok_or(AppError::NotFound { entity: "user" })
    })
}

/// A user changes their own password: `current` must be right, `new` strong enough. Every token
/// and console session of the user ends (their token version moves on).
pub fn change_own_password(
    conn: &mut AnyConnection,
    id: UserId,
    current: &str,
    new: String,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let u = user::get(conn, id)?.ok_or(AppError::NotFound { entity: "user" })?;
    if !password::verify(current, &u.password_hash) {
        return Err(AppError::invalid("current_password", "is wrong"));
    }
    let patch = UserPatch {
        password: Some(new),
        ..Default::default()
    };
    update_user(conn, u.id, patch, now).map(|_| ())
}

/// Checks a username and password; returns the principal and the token version its tokens
/// carry. Unknown users, wrong passwords and inactive accounts all
/// give `None` after the same amount of work, so the answer never reveals which usernames exist.
pub fn login_user(
    conn: &mut AnyConnection,
    username: &str,
    pw: &str,
    now: DateTime<Utc>,
) -> Result<Option<(Principal, i32)>, AppError> {
    let Some(u) = user::find_by_username(conn, username.trim())? else {
        password::verify_dummy(pw);
        return Ok(None);
    };
    if !password::verify(pw, &u.password_hash) || !u.active {
        return Ok(None);
    }
    // A one-time password has signed in once already.
    if u.password_one_time && u.last_login_at.is_some() {
        return Ok(None);
    }
    let role = u.role;
    let hospital_id = u.hospital_id;
    if let Some(h) = hospital_id
        && !hospital::get(conn, &Scope::unrestricted(), h)?.is_some_and(|h| h.active)
    {
        return Ok(None);
    }
    let form = UserUpdateForm {
        last_login_at: Some(Some(UtcMicros::new(now))),
        ..Default::default()
    };
    user::update(conn, u.id, &form)?;
    let p = Principal {
        subject: u.id.to_string(),
        kind: PrincipalKind::User,
        role,
        hospital_id,
        request_id: None,
        correlation_id: None,
    };
    Ok(Some((p, u.token_version)))
}

/// A client as created: the secret is shown once and only its hash is kept.
#[derive(Debug)]
pub struct IssuedClient {
    /// The stored row.
    pub client: ApiClient,
    /// The plain secret, never stored.
    pub secret: String,
}

fn new_secret() -> Result<(String, String), AppError> {
    let secret = format!("gs_{}", secrets::random_token(32)?);
    let hash = secrets::sha256_hex(secret.as_bytes());
    Ok((secret, hash))
}

/// Creates an API client: a hospital's (`hospital_client`, bound to `hospital_id`) or the
/// laboratory's (`lab_client`, no hospital).
pub fn create_client(
    conn: &mut AnyConnection,
    name: &str,
    role: Role,
    hospital_id: Option<HospitalId>,
    now: DateTime<Utc>,
) -> Result<IssuedClient, AppError> {
    let mut e = FieldErrors::new();
    let name = e.text("name", name, 128);
    match (role, hospital_id) {
        (Role::HospitalClient, Some(h)) => {
            if hospital::get(conn, &Scope::unrestricted(), h)?.is_none() {
                e.add("hospital_id", "no such hospital");
            }
        }
        (Role::HospitalClient, None) => e.add("hospital_id", "is required for a hospital_client"),
        (Role::LabClient, Some(_)) => e.add("hospital_id", "a lab_client belongs to no hospital"),
        (Role::LabClient, None) => {}
        _ => e.add("role", "must be hospital_client or lab_client"),
    }
    e.into_result().map_err(AppError::Validation)?;
    let (secret, secret_hash) = new_secret()?;
    let t = UtcMicros::new(now);
    let client = ApiClient {
        id: ApiClientId::new().to_string(),
        client_id: format!("gc_{}", secrets::random_token(16)?),
        name,
        role,
        hospital_id,
        secret_hash,
        active: true,
        secret_rotated_at: t,
        created_at: t,
        updated_at: t,
        token_version: 0,
    };
    api_client::insert(conn, &client)?;
    Ok(IssuedClient { client, secret })
}

/// Replaces a client's secret; the old secret and every token issued under it stop working at
/// once.
pub fn rotate_client_secret(
    conn: &mut AnyConnection,
    id: &str,
    now: DateTime<Utc>,
) -> Result<IssuedClient, AppError> {
    let (secret, secret_hash) = new_secret()?;
    let t = UtcMicros::new(now);
    let form = ApiClientUpdateForm {
        secret_hash: Some(secret_hash),
        secret_rotated_at: Some(t),
        updated_at: Some(t),
        ..Default::default()
    };
    write_transaction(conn, |c| {
        if api_client::update(c, id, &form)? == 0 {
            return Err(AppError::NotFound {
                entity: "api client",
            });
        }
        api_client::revoke_tokens(c, id)?;
        let client = api_client::get(c, id)?.ok_or(AppError::NotFound {
            entity: "api client",
        })?;
        Ok(IssuedClient { client, secret })
    })
}

/// Activates or deactivates a client, or renames it.
pub fn update_client(
    conn: &mut AnyConnection,
    id: &str,
    name: Option<String>,
    active: Option<bool>,
    now: DateTime<Utc>,
) -> Result<ApiClient, AppError> {
    let mut e = FieldErrors::new();
    let name = name.map(|n| e.text("name", &n, 128));
    e.into_result().map_err(AppError::Validation)?;
    let form = ApiClientUpdateForm {
        name,
        active,
        updated_at: Some(UtcMicros::new(now)),
        ..Default::default()
    };
    write_transaction(conn, |c| {
        if api_client::update(c, id, &form)? == 0 {
            return Err(AppError::NotFound {
                entity: "api client",
            });
        }
        if active == Some(false) {
            api_client::revoke_tokens(c, id)?;
        }
        api_client::get(c, id)?.ok_or(AppError::NotFound {
            entity: "api client",
        })
    })
}

/// Checks client credentials; `None` for unknown, wrong, inactive, or an inactive hospital.
pub fn login_client(
    conn: &mut AnyConnection,
    client_id: &str,
    secret: &str,
) -> Result<Option<(Principal, i32)>, AppError> {
    let Some(c) = api_client::find_by_client_id(conn, client_id.trim())? else {
        return Ok(None);
    };
    if !c.active || !secrets::eq_ct(&secrets::sha256_hex(secret.as_bytes()), &c.secret_hash) {
        return Ok(None);
    }
    let role = c.role;
    let hospital_id = match c.hospital_id {
        Some(h) => {
            if !hospital::get(conn, &Scope::unrestricted(), h)?.is_some_and(|h| h.active) {
                return Ok(None);
            }
            Some(h)
        }
        None => None,
    };
    if role.is_hospital_bound() != hospital_id.is_some() {
        return Ok(None);
    }
    let p = Principal {
        subject: c.id,
        kind: PrincipalKind::Client,
        role,
        hospital_id,
        request_id: None,
        correlation_id: None,
    };
    Ok(Some((p, c.token_version)))
}
