//! Management plan-set versions ([`crate::services::admin::versioned`]): loaded from files at
//! start, stored immutably, the one in force chosen by day; an episode keeps the version it was
//! opened under.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use crate::db::AnyConnection;
use crate::db::models::management::plan::{self, PlanSetRow};
use crate::domain::management::DEFAULT_PLANS_TOML;
use crate::domain::management::plan::PlanSet;
use crate::error::AppError;
use crate::services::admin::versioned::{self, Shared, StoredVersion, Versioned};

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

    fn stored(conn: &mut AnyConnection, id: &str) -> diesel::QueryResult<Option<StoredVersion>> {
        Ok(plan::get(conn, id)?.map(Into::into))
    }

    fn store(conn: &mut AnyConnection, r: StoredVersion) -> diesel::QueryResult<()> {
        plan::insert(
            conn,
            &PlanSetRow {
                version: r.version,
                effective_from: r.effective_from,
                content: r.content,
                published_by: r.published_by,
                published_at: r.published_at,
            },
        )
    }

    fn stored_all(conn: &mut AnyConnection) -> diesel::QueryResult<Vec<StoredVersion>> {
        Ok(plan::list(conn)?.into_iter().map(Into::into).collect())
    }
}

impl From<PlanSetRow> for StoredVersion {
    fn from(r: PlanSetRow) -> Self {
        Self {
            version: r.version,
            effective_from: r.effective_from,
            content: r.content,
            published_by: r.published_by,
            published_at: r.published_at,
        }
    }
}

/// The version in force at `now`.
pub fn current(store: &SharedPlans, now: DateTime<Utc>) -> Result<Arc<PlanSet>, AppError> {
    versioned::current(store, now)
}

/// A stored version by id.
pub fn version(store: &SharedPlans, id: &str) -> Result<Arc<PlanSet>, AppError> {
    versioned::version(store, id)
}
