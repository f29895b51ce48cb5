//! What the collector records about a blood-spot specimen besides its time.

use serde::{Deserialize, Serialize};

/// The infant's feeding when the card was collected (protein intake matters for PKU and the
/// amino-acid disorders).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Feeding {
    /// Breast milk only.
    Breast,
    /// Formula only.
    Formula,
    /// Breast milk and formula.
    Mixed,
    /// Parenteral nutrition.
    Parenteral,
    /// Not yet fed.
    None,
}

super::text_enum!(Feeding {
    Breast = "breast",
    Formula = "formula",
    Mixed = "mixed",
    Parenteral = "parenteral",
    None = "none",
});
