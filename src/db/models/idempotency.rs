//! `idempotency_keys`: the first response to a POST carrying an `Idempotency-Key`, so a retry
//! gets the same answer instead of a second write.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::idempotency_keys;

/// A stored key. `response_status` is `None` while the first request is still running.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = idempotency_keys)]
pub struct IdempotencyRecord {
    pub principal: String,
    pub idem_key: String,
    pub method: String,
    pub path: String,
    pub request_hash: String,
    pub response_status: Option<i32>,
    pub response_body: Option<String>,
    pub response_location: Option<String>,
    pub created_at: NaiveDateTime,
}

/// Claims a key by inserting a pending record. A unique violation means it was already used.
pub fn claim(conn: &mut AnyConnection, row: &IdempotencyRecord) -> QueryResult<()> {
    diesel::insert_into(idempotency_keys::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Reads a key's record.
pub fn get(
    conn: &mut AnyConnection,
    principal: &str,
    key: &str,
) -> QueryResult<Option<IdempotencyRecord>> {
    idempotency_keys::table
        .find((principal, key))
        .select(IdempotencyRecord::as_select())
        .first(conn)
        .optional()
}

/// Stores the response of the first request.
pub fn complete(
    conn: &mut AnyConnection,
    principal: &str,
    key: &str,
    status: i32,
    body: &str,
    location: Option<&str>,
) -> QueryResult<usize> {
    diesel::update(idempotency_keys::table.find((principal, key)))
        .set((
            idempotency_keys::response_status.eq(Some(status)),
            idempotency_keys::response_body.eq(Some(body)),
            idempotency_keys::response_location.eq(location),
        ))
        .execute(conn)
}

/// Forgets a key whose request failed, so the client may retry with it.
pub fn release(conn: &mut AnyConnection, principal: &str, key: &str) -> QueryResult<usize> {
    diesel::delete(idempotency_keys::table.find((principal, key))).execute(conn)
}

/// Deletes records older than `cutoff` (keys are honoured for a limited window).
pub fn purge_before(conn: &mut AnyConnection, cutoff: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(cutoff)))
        .execute(conn)
}
