//! Management plan-set versions: loaded from files at start, stored immutably, the one in force
//! chosen by day; an episode keeps the version it was opened under.

use std::path::Path;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

use crate::db::AnyConnection;
use crate::db::models::management::plan::{self, PlanSetRow};
use crate::db::types::UtcMicros;
use crate::domain::management::DEFAULT_PLANS_TOML;
use crate::domain::management::plan::PlanSet;
use crate::error::AppError;
use crate::services::admin::versions::{Versions, local_day, read_toml_files};

/// Shared store of every stored plan-set version.
pub type SharedPlans = Arc<RwLock<Versions<PlanSet>>>;

/// Reads every `*.toml` in `dir`, or the built-in set when it does not exist.
pub fn load_files(dir: &Path) -> anyhow::Result<Vec<PlanSet>> {
    match read_toml_files(dir)? {
        None => Ok(vec![PlanSet::from_toml(DEFAULT_PLANS_TOML)?]),
        Some(files) => files
            .iter()
            .map(|(f, text)| {
                PlanSet::from_toml(text).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))
            })
            .collect(),
    }
}

/// Stores new versions; a changed stored version is an error (publish a new id instead).
pub fn sync(conn: &mut AnyConnection, files: &[PlanSet], now: DateTime<Utc>) -> anyhow::Result<()> {
    for p in files {
        match plan::get(conn, &p.version)? {
            None => plan::insert(
                conn,
                &PlanSetRow {
                    version: p.version.clone(),
                    effective_from: p.effective_from,
                    content: serde_json::to_string(p)?,
                    published_by: "config".into(),
                    published_at: UtcMicros::new(now),
                },
            )?,
            Some(stored) if serde_json::from_str::<PlanSet>(&stored.content)? != *p => {
                anyhow::bail!(
                    "management plans {} differ from the stored version; give the edited file a new version id",
                    p.version
                )
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Loads every stored version.
pub fn load_store(conn: &mut AnyConnection) -> anyhow::Result<Versions<PlanSet>> {
    let mut store = Versions::default();
    for r in plan::list(conn)? {
        let p: PlanSet = serde_json::from_str(&r.content)?;
        store.insert(r.version, r.effective_from, r.published_at.utc(), p);
    }
    Ok(store)
}

/// The version in force at `now`.
pub fn current(store: &SharedPlans, now: DateTime<Utc>) -> Result<Arc<PlanSet>, AppError> {
    store
        .read()
        .map_err(|_| AppError::Unexpected(anyhow::anyhow!("plan store poisoned")))?
        .current(local_day(now))
        .ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("no management plan set is stored")))
}

/// A stored version by id.
pub fn version(store: &SharedPlans, id: &str) -> Result<Arc<PlanSet>, AppError> {
    store
        .read()
        .map_err(|_| AppError::Unexpected(anyhow::anyhow!("plan store poisoned")))?
        .get(id)
        .ok_or_else(|| {
            AppError::Unexpected(anyhow::anyhow!("management plans {id} are not stored"))
        })
}
