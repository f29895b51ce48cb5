//! `idempotency_keys`: the first response to a POST carrying an `Idempotency-Key`, so a retry
//! gets the same answer instead of a second write.

use crate::db::types::UtcMicros;
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::idempotency_keys;

/// A stored key. `response_status` is `None` while the first request is still running.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(treat_none_as_default_value = false)]
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
    pub created_at: UtcMicros,
    /// The server instance running the first request, while it runs.
    pub owner: Option<String>,
    /// Until when the running request holds the key (wall clock), unless renewed.
    pub lease_until: Option<UtcMicros>,
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
    crate::by_key!(
        conn,
        idempotency_keys::table
            .find((principal, key))
            .select(IdempotencyRecord::as_select())
    )
}

/// Takes over a pending key whose lease lapsed (its request died with its server): `true` when
/// this caller now holds it. Only one of several concurrent retries wins.
pub fn take_over(
    conn: &mut AnyConnection,
    principal: &str,
    key: &str,
    owner: &str,
    now: UtcMicros,
    lease_until: UtcMicros,
) -> QueryResult<bool> {
    diesel::update(
        idempotency_keys::table
            .find((principal, key))
            .filter(idempotency_keys::response_status.is_null())
            .filter(
                idempotency_keys::lease_until
                    .lt(now)
                    .or(idempotency_keys::lease_until.is_null()),
            ),
    )
    .set((
        idempotency_keys::owner.eq(owner),
        idempotency_keys::lease_until.eq(lease_until),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Extends the lease of a key this owner holds; `false` when it no longer holds it.
pub fn renew(
    conn: &mut AnyConnection,
    principal: &str,
    key: &str,
    owner: &str,
    lease_until: UtcMicros,
) -> QueryResult<bool> {
    diesel::update(
        idempotency_keys::table
            .find((principal, key))
            .filter(idempotency_keys::owner.eq(owner))
            .filter(idempotency_keys::response_status.is_null()),
    )
    .set(idempotency_keys::lease_until.eq(lease_until))
    .execute(conn)
    .map(|n| n == 1)
}

/// Stores the response of the request `owner` ran (nothing if another took the key over).
pub fn complete(
    conn: &mut AnyConnection,
    principal: &str,
    key: &str,
    owner: &str,
    status: i32,
    body: &str,
    location: Option<&str>,
) -> QueryResult<usize> {
    diesel::update(
        idempotency_keys::table
            .find((principal, key))
            .filter(idempotency_keys::owner.eq(owner)),
    )
    .set((
        idempotency_keys::response_status.eq(Some(status)),
        idempotency_keys::response_body.eq(Some(body)),
        idempotency_keys::response_location.eq(location),
        idempotency_keys::owner.eq(None::<String>),
        idempotency_keys::lease_until.eq(None::<UtcMicros>),
    ))
    .execute(conn)
}

/// Forgets a key whose request (run by `owner`) failed, so the client may retry with it.
pub fn release(
    conn: &mut AnyConnection,
    principal: &str,
    key: &str,
    owner: &str,
) -> QueryResult<usize> {
    diesel::delete(
        idempotency_keys::table
            .find((principal, key))
            .filter(idempotency_keys::owner.eq(owner))
            .filter(idempotency_keys::response_status.is_null()),
    )
    .execute(conn)
}

/// Deletes records older than `cutoff` (keys are honoured for a limited window).
pub fn purge_before(conn: &mut AnyConnection, cutoff: UtcMicros) -> QueryResult<usize> {
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(cutoff)))
        .execute(conn)
}
