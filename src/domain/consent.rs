//! A guardian's decision about a screening programme; the latest per programme is in force.

use serde::{Deserialize, Serialize};

/// Consent or refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The guardian agreed to the screen.
    Consent,
    /// The guardian refused it (informed refusal, signed).
    Refusal,
}

super::text_enum!(Decision {
    Consent = "consent",
    Refusal = "refusal",
});
