//! `api_clients`: hospitals' REST clients (OAuth2 client-credentials).

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::api_clients;
use crate::db::types::UtcMicros;
use crate::domain::ids::HospitalId;
use crate::domain::role::Role;

/// An API client row. `secret_hash` is the SHA-256 of a high-entropy random secret.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = api_clients)]
pub struct ApiClient {
    pub id: String,
    pub client_id: String,
    pub name: String,
    /// `hospital_client` (bound to `hospital_id`) or `lab_client` (no hospital).
    pub role: Role,
    pub hospital_id: Option<HospitalId>,
    pub secret_hash: String,
    pub active: bool,
    pub secret_rotated_at: UtcMicros,
    pub created_at: UtcMicros,
    pub updated_at: UtcMicros,
    /// Bumped to revoke every token issued before (tokens carry the version they were issued
    /// under).
    pub token_version: i32,
}

/// Changes to a client.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = api_clients)]
pub struct ApiClientUpdateForm {
    pub name: Option<String>,
    pub secret_hash: Option<String>,
    pub secret_rotated_at: Option<UtcMicros>,
    pub active: Option<bool>,
    pub updated_at: Option<UtcMicros>,
}

/// Inserts a client.
pub fn insert(conn: &mut AnyConnection, row: &ApiClient) -> QueryResult<()> {
    diesel::insert_into(api_clients::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Reads a client by row id.
pub fn get(conn: &mut AnyConnection, id: &str) -> QueryResult<Option<ApiClient>> {
    crate::by_key!(
        conn,
        api_clients::table.find(id).select(ApiClient::as_select())
    )
}

/// Reads a client by its public `client_id`.
pub fn find_by_client_id(
    conn: &mut AnyConnection,
    client_id: &str,
) -> QueryResult<Option<ApiClient>> {
    crate::by_key!(
        conn,
        api_clients::table
            .filter(api_clients::client_id.eq(client_id))
            .select(ApiClient::as_select())
    )
}

/// Lists clients, optionally of one hospital.
pub fn list(conn: &mut AnyConnection, hospital_id: Option<&str>) -> QueryResult<Vec<ApiClient>> {
    let mut q = api_clients::table.into_boxed();
    if let Some(h) = hospital_id {
        q = q.filter(api_clients::hospital_id.eq(h.to_string()));
    }
    q.order(api_clients::created_at.asc())
        .select(ApiClient::as_select())
        .load(conn)
}

/// Applies an update; returns rows changed.
pub fn update(
    conn: &mut AnyConnection,
    id: &str,
    form: &ApiClientUpdateForm,
) -> QueryResult<usize> {
    diesel::update(api_clients::table.find(id))
        .set(form)
        .execute(conn)
}

/// Revokes every token issued so far (they carry the old version).
pub fn revoke_tokens(conn: &mut AnyConnection, id: &str) -> QueryResult<usize> {
    diesel::update(api_clients::table.find(id))
        .set(api_clients::token_version.eq(api_clients::token_version + 1))
        .execute(conn)
}

/// The version tokens must carry and whether the principal is active; `None` when unknown.
pub fn token_state(conn: &mut AnyConnection, id: &str) -> QueryResult<Option<(i32, bool)>> {
    crate::by_key!(
        conn,
        api_clients::table
            .find(id)
            .select((api_clients::token_version, api_clients::active))
    )
}
