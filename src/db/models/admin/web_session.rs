//! `web_sessions`: the staff console's browser sessions, keyed by the SHA-256 of the cookie's
//! random id (the id itself is never stored).

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::{users, web_sessions};
use crate::db::types::UtcMicros;
use crate::domain::ids::UserId;

use super::user::User;

/// A session row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = web_sessions)]
pub struct WebSession {
    /// SHA-256 of the cookie's id, hex.
    pub id_hash: String,
    /// The signed-in user.
    pub user_id: UserId,
    /// The user's token version at sign-in; a later version ends the session.
    pub token_version: i32,
    /// The synchronizer token every unsafe request of this session must carry.
    pub csrf_token: String,
    /// The language chosen in this session, if any (else the browser's).
    pub locale: Option<String>,
    /// When the user signed in.
    pub created_at: UtcMicros,
    /// The last request seen.
    pub last_seen_at: UtcMicros,
    /// Ends unless a request comes before this.
    pub idle_expires_at: UtcMicros,
    /// Ends at this time whatever the activity.
    pub expires_at: UtcMicros,
}

/// Inserts a session.
pub fn insert(conn: &mut AnyConnection, row: &WebSession) -> QueryResult<()> {
    diesel::insert_into(web_sessions::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// The session with this id hash and its user.
pub fn find(conn: &mut AnyConnection, id_hash: &str) -> QueryResult<Option<(WebSession, User)>> {
    crate::by_key!(
        conn,
        web_sessions::table
            .inner_join(users::table)
            .filter(web_sessions::id_hash.eq(id_hash))
            .select((WebSession::as_select(), User::as_select()))
    )
}

/// Records a request: last seen now, idle expiry moved to `idle_until`.
pub fn touch(
    conn: &mut AnyConnection,
    id_hash: &str,
    now: UtcMicros,
    idle_until: UtcMicros,
) -> QueryResult<()> {
    diesel::update(web_sessions::table.find(id_hash))
        .set((
            web_sessions::last_seen_at.eq(now),
            web_sessions::idle_expires_at.eq(idle_until),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Sets the session's language.
pub fn set_locale(conn: &mut AnyConnection, id_hash: &str, locale: &str) -> QueryResult<()> {
    diesel::update(web_sessions::table.find(id_hash))
        .set(web_sessions::locale.eq(Some(locale)))
        .execute(conn)
        .map(|_| ())
}

/// Ends one session.
pub fn delete(conn: &mut AnyConnection, id_hash: &str) -> QueryResult<usize> {
    diesel::delete(web_sessions::table.find(id_hash)).execute(conn)
}

/// Ends every session of a user.
pub fn delete_for_user(conn: &mut AnyConnection, user: UserId) -> QueryResult<usize> {
    diesel::delete(web_sessions::table.filter(web_sessions::user_id.eq(user))).execute(conn)
}

/// Removes sessions that ended (idle or absolute expiry) before `now`.
pub fn delete_expired(conn: &mut AnyConnection, now: UtcMicros) -> QueryResult<usize> {
    diesel::delete(
        web_sessions::table.filter(
            web_sessions::expires_at
                .le(now)
                .or(web_sessions::idle_expires_at.le(now)),
        ),
    )
    .execute(conn)
}
