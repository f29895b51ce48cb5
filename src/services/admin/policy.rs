//! Due-time policy versions: loaded from files at start, stored immutably, the one in force
//! chosen by day.

use std::path::Path;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

use crate::db::AnyConnection;
use crate::db::models::admin::policy::{self, DuePolicyRow};
use crate::db::types::UtcMicros;
use crate::domain::due::{DEFAULT_DUE_POLICY_TOML, DuePolicy};
use crate::error::AppError;
use crate::services::admin::versions::{Versions, local_day, read_toml_files};

/// Shared store of every stored policy version.
pub type SharedPolicies = Arc<RwLock<Versions<DuePolicy>>>;

/// Reads every `*.toml` in `dir`, or the built-in default when it does not exist.
pub fn load_files(dir: &Path) -> anyhow::Result<Vec<DuePolicy>> {
    match read_toml_files(dir)? {
        None => Ok(vec![
            DuePolicy::from_toml(DEFAULT_DUE_POLICY_TOML).map_err(anyhow::Error::msg)?,
        ]),
        Some(files) => files
            .iter()
            .map(|(f, text)| {
                DuePolicy::from_toml(text).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))
            })
            .collect(),
    }
}

/// Stores new versions; a changed stored version is an error (publish a new id instead).
pub fn sync(
    conn: &mut AnyConnection,
    files: &[DuePolicy],
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    for p in files {
        match policy::get(conn, &p.version)? {
            None => policy::insert(
                conn,
                &DuePolicyRow {
                    version: p.version.clone(),
                    effective_from: p.effective_from,
                    content: serde_json::to_string(p)?,
                    published_by: "config".into(),
                    published_at: UtcMicros::new(now),
                },
            )?,
            Some(stored) if serde_json::from_str::<DuePolicy>(&stored.content)? != *p => {
                anyhow::bail!(
                    "due policy {} differs from the stored version; give the edited file a new version id",
                    p.version
                )
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Loads every stored version.
pub fn load_store(conn: &mut AnyConnection) -> anyhow::Result<Versions<DuePolicy>> {
    let mut store = Versions::default();
    for r in policy::list(conn)? {
        let p: DuePolicy = serde_json::from_str(&r.content)?;
        store.insert(r.version, r.effective_from, r.published_at.utc(), p);
    }
    Ok(store)
}

/// The version in force now.
pub fn current(store: &SharedPolicies, now: DateTime<Utc>) -> Result<Arc<DuePolicy>, AppError> {
    store
        .read()
        .map_err(|_| AppError::Unexpected(anyhow::anyhow!("policy store poisoned")))?
        .current(local_day(now))
        .ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("no due policy is stored")))
}
