//! `instance_secrets`: keys generated once per installation when configuration does not supply
//! them (development only; production must configure them, see `config.rs`).

use crate::db::types::UtcMicros;
use diesel::prelude::*;

use crate::db::schema::instance_secrets;
use crate::db::{AnyConnection, write_transaction};

/// Returns the secret `name`, creating it with `generate()` on first use. Safe when two
/// processes start at once: the loser of the insert race reads the winner's value.
pub fn get_or_create(
    conn: &mut AnyConnection,
    name: &str,
    now: UtcMicros,
    generate: impl FnOnce() -> String,
) -> QueryResult<String> {
    let found = write_transaction(conn, |c| {
        let existing: Option<String> = instance_secrets::table
            .find(name)
            .select(instance_secrets::value)
            .first(c)
            .optional()?;
        if let Some(v) = existing {
            return Ok(v);
        }
        let value = generate();
        diesel::insert_into(instance_secrets::table)
            .values((
                instance_secrets::name.eq(name),
                instance_secrets::value.eq(&value),
                instance_secrets::created_at.eq(now),
            ))
            .execute(c)?;
        Ok(value)
    });
    match found {
        Err(e) if crate::error::is_unique_violation(&e) => instance_secrets::table
            .find(name)
            .select(instance_secrets::value)
            .first(conn),
        other => other,
    }
}
