//! Pure domain types and rules: no HTTP, no database, no I/O, so they test without either.

pub mod case;
pub mod catalogue;
pub mod cchd;
pub mod due;
pub mod escalation;
pub mod hearing;
pub mod id_card;
pub mod ids;
pub mod infant;
pub mod interpretation;
pub mod job;
pub mod notification;
pub mod principal;
pub mod quality;
pub mod role;
pub mod validation;
pub mod worklist;

/// The wire name of a unit enum value as serde writes it (`Programme::Dbs` → `"DBS"`): the one
/// text form used in the database, the API and case keys.
pub fn wire_name<T: serde::Serialize>(v: T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
