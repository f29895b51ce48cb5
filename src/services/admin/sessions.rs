//! Browser sessions of the staff console. Signing in checks the password like the API's login
//! and stores a new session under the SHA-256 of a fresh 256-bit id (the cookie holds the id, so
//! a stolen table gives no session). Each request resolves the cookie to the same [`Principal`]
//! a token would give, read fresh from the user row; the session ends when idle too long, at its
//! absolute expiry, at sign-out, or once the user's token version moves on (password change,
//! demotion, hospital change, deactivation), which ends every session of the user at once.

use chrono::{DateTime, Utc};

use crate::auth::secrets::{random_token, sha256_hex};
use crate::db::AnyConnection;
use crate::db::models::admin::web_session::{self, WebSession};
use crate::db::types::UtcMicros;
use crate::domain::principal::{Principal, PrincipalKind};
use crate::domain::session::{self, Lifetimes};
use crate::error::AppError;
use crate::services::admin::accounts;

/// A session just started: the cookie's id (shown to the browser once, never stored) and its
/// CSRF token.
#[derive(Debug, Clone)]
pub struct Started {
    /// The cookie value.
    pub cookie_id: String,
    /// The synchronizer token of the session.
    pub csrf_token: String,
    /// Signed in with a one-time password: the user is to choose their own now.
    pub must_change_password: bool,
}

/// A live session, resolved from its cookie.
#[derive(Debug, Clone)]
pub struct Active {
    /// Who is signed in, with the role and hospital their user row has now.
    pub principal: Principal,
    /// The user's display name.
    pub display_name: String,
    /// The synchronizer token unsafe requests must carry.
    pub csrf_token: String,
    /// The language chosen in this session.
    pub locale: Option<String>,
    /// Signed in with a one-time password that has not been replaced yet: the session may only
    /// choose a password (or sign out).
    pub must_change_password: bool,
    /// The stored key of the session.
    pub id_hash: String,
}

/// Checks the credentials and starts a session, or `None` when they are wrong (after the same
/// work as for a right one).
pub fn sign_in(
    conn: &mut AnyConnection,
    username: &str,
    password: &str,
    now: DateTime<Utc>,
    life: Lifetimes,
) -> Result<Option<Started>, AppError> {
    let Some((p, version)) = accounts::login_user(conn, username, password, now)? else {
        return Ok(None);
    };
    // Sessions nobody came back to are removed here, at the next sign-in of anyone (a
    // delete over the small table of staff sessions).
    purge(conn, now)?;
    let user_id = p
        .subject
        .parse()
        .map_err(|_| AppError::NotFound { entity: "user" })?;
    let cookie_id = random_token(32)?;
    let csrf_token = random_token(32)?;
    web_session::insert(
        conn,
        &WebSession {
            id_hash: sha256_hex(cookie_id.as_bytes()),
            user_id,
            token_version: version,
            csrf_token: csrf_token.clone(),
            locale: None,
            created_at: UtcMicros::new(now),
            last_seen_at: UtcMicros::new(now),
            idle_expires_at: UtcMicros::new(now + life.idle),
            expires_at: UtcMicros::new(now + life.absolute),
        },
    )?;
    let must_change_password =
        crate::db::models::admin::user::get(conn, user_id)?.is_some_and(|u| u.password_one_time);
    Ok(Some(Started {
        cookie_id,
        csrf_token,
        must_change_password,
    }))
}

/// The live session of a cookie, or `None` (unknown, ended, or its user changed). An ended
/// session's row is removed.
pub fn resolve(
    conn: &mut AnyConnection,
    cookie_id: &str,
    now: DateTime<Utc>,
    life: Lifetimes,
) -> Result<Option<Active>, AppError> {
    let id_hash = sha256_hex(cookie_id.as_bytes());
    let Some((s, u)) = web_session::find(conn, &id_hash)? else {
        return Ok(None);
    };
    let ended = session::is_over(now, s.idle_expires_at.utc(), s.expires_at.utc())
        || !u.active
        || u.token_version != s.token_version;
    if ended {
        web_session::delete(conn, &id_hash)?;
        return Ok(None);
    }
    if let Some(idle_until) =
        session::next_idle_expiry(now, s.last_seen_at.utc(), s.expires_at.utc(), life)
    {
        web_session::touch(
            conn,
            &id_hash,
            UtcMicros::new(now),
            UtcMicros::new(idle_until),
        )?;
    }
    Ok(Some(Active {
        principal: Principal {
            subject: u.id.to_string(),
            kind: PrincipalKind::User,
            role: u.role,
            hospital_id: u.hospital_id,
            request_id: None,
            correlation_id: None,
        },
        display_name: u.display_name,
        csrf_token: s.csrf_token,
        locale: s.locale,
        must_change_password: u.password_one_time,
        id_hash,
    }))
}

/// Ends the session of a cookie (nothing when it is unknown).
pub fn sign_out(conn: &mut AnyConnection, cookie_id: &str) -> Result<(), AppError> {
    web_session::delete(conn, &sha256_hex(cookie_id.as_bytes()))?;
    Ok(())
}

/// Chooses the session's language.
pub fn set_locale(conn: &mut AnyConnection, id_hash: &str, locale: &str) -> Result<(), AppError> {
    web_session::set_locale(conn, id_hash, locale)?;
    Ok(())
}

/// Removes ended sessions (at each sign-in).
pub fn purge(conn: &mut AnyConnection, now: DateTime<Utc>) -> Result<usize, AppError> {
    Ok(web_session::delete_expired(conn, UtcMicros::new(now))?)
}
