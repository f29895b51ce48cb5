//! `users`: screening-centre and hospital staff who log in with a password.

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::users;
use crate::db::types::UtcMicros;
use crate::domain::ids::{HospitalId, UserId};
use crate::domain::principal::{PrincipalKind, actor_key};
use crate::domain::role::Role;

/// A user row. `password_hash` is an argon2id PHC string.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = users)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: Role,
    pub hospital_id: Option<HospitalId>,
    pub active: bool,
    pub created_at: UtcMicros,
    pub updated_at: UtcMicros,
    pub last_login_at: Option<UtcMicros>,
    /// Where escalations for this user (as assignee) are sent.
    pub email: Option<String>,
    /// Bumped to revoke every token issued before (tokens carry the version they were issued
    /// under).
    pub token_version: i32,
    /// The password was issued by an administrator: it signs in once, to choose one's own.
    pub password_one_time: bool,
}

impl User {
    /// The key this user acts under (`Principal::key` of their sessions and tokens).
    pub fn actor_key(&self) -> String {
        actor_key(PrincipalKind::User, self.id)
    }
}

/// Each user's display name under their actor key, to show the actors that audit entries,
/// case timelines and published versions name.
pub fn display_names(users: &[User]) -> HashMap<String, String> {
    users
        .iter()
        .map(|u| (u.actor_key(), u.display_name.clone()))
        .collect()
}

/// Changes to a user.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserUpdateForm {
    pub display_name: Option<String>,
    pub password_hash: Option<String>,
    pub role: Option<Role>,
    pub hospital_id: Option<Option<HospitalId>>,
    pub active: Option<bool>,
    pub updated_at: Option<UtcMicros>,
    pub last_login_at: Option<Option<UtcMicros>>,
    pub email: Option<Option<String>>,
    pub password_one_time: Option<bool>,
}

/// Inserts a user.
pub fn insert(conn: &mut AnyConnection, row: &User) -> QueryResult<()> {
    diesel::insert_into(users::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Reads a user by id.
pub fn get(conn: &mut AnyConnection, id: UserId) -> QueryResult<Option<User>> {
    crate::by_key!(conn, users::table.find(id).select(User::as_select()))
}

/// Reads the users `ids` (those that exist).
pub fn get_many(conn: &mut AnyConnection, ids: &[UserId]) -> QueryResult<Vec<User>> {
    users::table
        .filter(users::id.eq_any(ids))
        .select(User::as_select())
        .load(conn)
}

/// Reads a user by username.
pub fn find_by_username(conn: &mut AnyConnection, username: &str) -> QueryResult<Option<User>> {
    crate::by_key!(
        conn,
        users::table
            .filter(users::username.eq(username))
            .select(User::as_select())
    )
}

/// Lists users by username.
pub fn list(conn: &mut AnyConnection) -> QueryResult<Vec<User>> {
    users::table
        .order(users::username.asc())
        .select(User::as_select())
        .load(conn)
}

/// Counts users (first-start detection).
pub fn count(conn: &mut AnyConnection) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}

/// Applies an update; returns rows changed.
pub fn update(conn: &mut AnyConnection, id: UserId, form: &UserUpdateForm) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set(form)
        .execute(conn)
}

/// Revokes every token issued so far (they carry the old version).
pub fn revoke_tokens(conn: &mut AnyConnection, id: UserId) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set(users::token_version.eq(users::token_version + 1))
        .execute(conn)
}

/// The version tokens must carry and whether the principal is active; `None` when unknown.
pub fn token_state(conn: &mut AnyConnection, id: UserId) -> QueryResult<Option<(i32, bool)>> {
    crate::by_key!(
        conn,
        users::table
            .find(id)
            .select((users::token_version, users::active))
    )
}
