//! First start: one administrator with a random password, and per-installation secrets when
//! configuration supplies none (outside production).

use chrono::{DateTime, Utc};

use crate::auth::secrets;
use crate::db::models::admin::{instance_secret, user};
use crate::db::types::UtcMicros;
use crate::db::{AnyConnection, write_transaction};
use crate::domain::role::Role;
use crate::error::AppError;
use crate::services::admin::accounts::{UserInput, create_user};

/// Username of the bootstrap administrator.
pub const FIRST_ADMIN: &str = "admin";

/// Credentials created on first start, to be shown once.
#[derive(Debug)]
pub struct FirstAdmin {
    /// The first administrator's username.
    pub username: String,
    /// Random password; never stored in clear, never logged.
    pub password: String,
}

/// Creates the first administrator when there are no users at all. Never creates a second one,
/// and no fixed default password exists.
pub fn ensure_first_admin(
    conn: &mut AnyConnection,
    now: DateTime<Utc>,
) -> Result<Option<FirstAdmin>, AppError> {
    write_transaction(conn, |c| {
        if user::count(c)? > 0 {
            return Ok(None);
        }
        let password = secrets::random_token(18)?;
        create_user(
            c,
            UserInput {
                username: FIRST_ADMIN.into(),
                display_name: "Administrator".into(),
                password: password.clone(),
                role: Role::Admin,
                hospital_id: None,
                email: None,
            },
            now,
        )?;
        Ok(Some(FirstAdmin {
            username: FIRST_ADMIN.into(),
            password,
        }))
    })
}

/// Returns the installation's generated secret `name` (32 random bytes, base64url), creating it once.
pub fn instance_secret(
    conn: &mut AnyConnection,
    name: &str,
    now: DateTime<Utc>,
) -> Result<String, AppError> {
    // Generated up front: if randomness failed inside the transaction, an empty key could be stored.
    let candidate = secrets::random_token(32)?;
    Ok(instance_secret::get_or_create(
        conn,
        name,
        UtcMicros::new(now),
        || candidate,
    )?)
}
