//! Management plan-set versions ([`crate::services::admin::versioned`]): loaded from files at
//! start, stored immutably, the one in force chosen by day; an episode keeps the version it was
//! opened under.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use crate::db::models::management::plan::{self, PlanSetRow};
use crate::domain::management::DEFAULT_PLANS_TOML;
use crate::domain::management::plan::PlanSet;
use crate::error::AppError;
use crate::services::admin::versioned::{self, Shared, Versioned, stored_in};

/// Shared store of every stored plan-set version.
pub type SharedPlans = Shared<PlanSet>;

impl Versioned for PlanSet {
    const KIND: &'static str = "management plan set";
    const DEFAULT_TOML: &'static str = DEFAULT_PLANS_TOML;

    fn parse(text: &str) -> anyhow::Result<Self> {
        Ok(PlanSet::from_toml(text)?)
    }

    fn id(&self) -> &str {
        &self.version
    }

    fn effective_from(&self) -> NaiveDate {
        self.effective_from
    }

    stored_in!(plan, PlanSetRow);
}

/// The version in force at `now`.
pub fn current(store: &SharedPlans, now: DateTime<Utc>) -> Result<Arc<PlanSet>, AppError> {
    versioned::current(store, now)
}

/// A stored version by id.
pub fn version(store: &SharedPlans, id: &str) -> Result<Arc<PlanSet>, AppError> {
    versioned::version(store, id)
}
