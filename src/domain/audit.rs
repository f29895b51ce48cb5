//! What an audit entry records.

use serde::{Deserialize, Serialize};

/// The kind of access or change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// An entity was created.
    Create,
    /// An entity was changed.
    Update,
    /// Personal data was read (one entity, or a list naming every id returned).
    Read,
}

super::text_enum!(AuditAction {
    Create = "create",
    Update = "update",
    Read = "read",
});
