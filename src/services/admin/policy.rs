//! Due-time policy versions ([`crate::services::admin::versioned`]): loaded from files at
//! start, stored immutably, the one in force chosen by day.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use crate::db::models::admin::policy::{self, DuePolicyRow};
use crate::domain::due::{DEFAULT_DUE_POLICY_TOML, DuePolicy};
use crate::error::AppError;
use crate::services::admin::versioned::{self, Shared, Versioned, stored_in};

/// Shared store of every stored policy version.
pub type SharedPolicies = Shared<DuePolicy>;

impl Versioned for DuePolicy {
    const KIND: &'static str = "due policy";
    const DEFAULT_TOML: &'static str = DEFAULT_DUE_POLICY_TOML;

    fn parse(text: &str) -> anyhow::Result<Self> {
        DuePolicy::from_toml(text).map_err(anyhow::Error::msg)
    }

    fn id(&self) -> &str {
        &self.version
    }

    fn effective_from(&self) -> NaiveDate {
        self.effective_from
    }

    stored_in!(policy, DuePolicyRow);
}

/// The version in force now.
pub fn current(store: &SharedPolicies, now: DateTime<Utc>) -> Result<Arc<DuePolicy>, AppError> {
    versioned::current(store, now)
}
