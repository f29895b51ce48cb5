//! Catalogue versions: loading the configured files at start, storing them, publishing new
//! versions, and choosing the version in force. Published versions are immutable, so every
//! stored interpretation can be reproduced under the version it names.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, FixedOffset, NaiveDate, Offset, Utc};

use crate::db::models::catalogue::{self, CatalogueVersion};
use crate::db::{AnyConnection, now_micros};
use crate::domain::catalogue::{Catalogue, DEFAULT_CATALOGUE_TOML};
use crate::domain::interpretation::Interpreter;
use crate::error::{AppError, is_unique_violation};

/// Reads every `*.toml` in `dir` (sorted by name), or the built-in default when the directory
/// does not exist. A file that does not parse or validate stops start-up, naming the file and entry.
pub fn load_files(dir: &Path) -> anyhow::Result<Vec<Catalogue>> {
    if !dir.is_dir() {
        return Ok(vec![
            Catalogue::from_toml(DEFAULT_CATALOGUE_TOML).map_err(anyhow::Error::msg)?,
        ]);
    }
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f)?;
            Catalogue::from_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))
        })
        .collect()
}

/// Stores configured versions not yet in the database. A stored version whose file has changed
/// is an error: edits must be published under a new version id.
pub fn sync(
    conn: &mut AnyConnection,
    files: &[Catalogue],
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    for c in files {
        match catalogue::get(conn, &c.version)? {
            None => catalogue::insert(conn, &row(c, "config", now)?)?,
            Some(stored) => {
                let stored: Catalogue = serde_json::from_str(&stored.content)?;
                if &stored != c {
                    anyhow::bail!(
                        "catalogue {} differs from the version stored in the database; \
                         published versions are immutable, give the edited file a new version id",
                        c.version
                    );
                }
            }
        }
    }
    Ok(())
}

fn row(c: &Catalogue, by: &str, now: DateTime<Utc>) -> anyhow::Result<CatalogueVersion> {
    Ok(CatalogueVersion {
        version: c.version.clone(),
        jurisdiction: c.jurisdiction.clone(),
        effective_from: c.effective_from,
        content: serde_json::to_string(c)?,
        published_by: by.to_string(),
        published_at: now_micros(now),
    })
}

/// Every stored version, prepared for interpretation.
#[derive(Debug, Default)]
pub struct CatalogueStore {
    versions: HashMap<String, (Arc<Interpreter>, DateTime<Utc>)>,
}

/// Shared, updatable store.
pub type SharedCatalogues = Arc<RwLock<CatalogueStore>>;

impl CatalogueStore {
    /// Loads all stored versions.
    pub fn load(conn: &mut AnyConnection) -> anyhow::Result<Self> {
        let mut store = Self::default();
        for r in catalogue::list(conn)? {
            let c: Catalogue = serde_json::from_str(&r.content)?;
            let interp = Interpreter::new(c).map_err(anyhow::Error::msg)?;
            store
                .versions
                .insert(r.version, (Arc::new(interp), r.published_at.and_utc()));
        }
        Ok(store)
    }

    /// A version by id.
    pub fn get(&self, version: &str) -> Option<Arc<Interpreter>> {
        self.versions.get(version).map(|(i, _)| i.clone())
    }

    /// The version in force on `day`: the latest `effective_from` not after it (ties: the later
    /// publication). Before any version takes effect, the earliest one.
    pub fn current(&self, day: NaiveDate) -> Option<Arc<Interpreter>> {
        let key =
            |(i, at): &&(Arc<Interpreter>, DateTime<Utc>)| (i.catalogue().effective_from, *at);
        self.versions
            .values()
            .filter(|(i, _)| i.catalogue().effective_from <= day)
            .max_by_key(key)
            .or_else(|| self.versions.values().min_by_key(key))
            .map(|(i, _)| i.clone())
    }

    fn add(&mut self, c: Catalogue, at: DateTime<Utc>) -> Result<(), String> {
        let version = c.version.clone();
        self.versions
            .insert(version, (Arc::new(Interpreter::new(c)?), at));
        Ok(())
    }
}

/// Reads the current version from the shared store.
pub fn current(store: &SharedCatalogues, now: DateTime<Utc>) -> Result<Arc<Interpreter>, AppError> {
    let day = now.with_timezone(&chrono_tz_shanghai()).date_naive();
    store
        .read()
        .map_err(|_| AppError::Unexpected(anyhow::anyhow!("catalogue store poisoned")))?
        .current(day)
        .ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("no catalogue version is stored")))
}

/// China Standard Time (UTC+8, no daylight saving): the calendar day catalogue versions take effect.
fn chrono_tz_shanghai() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or(Utc.fix())
}

/// Publishes a new version (validated; the id must be new).
pub fn publish(
    conn: &mut AnyConnection,
    store: &SharedCatalogues,
    c: Catalogue,
    by: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    c.validate()
        .map_err(|m| AppError::invalid("catalogue", m))?;
    catalogue::insert(conn, &row(&c, by, now)?).map_err(|e| {
        if is_unique_violation(&e) {
            AppError::conflict(
                "catalogue_version_exists",
                Some("version"),
                "this version id is already published",
            )
        } else {
            e.into()
        }
    })?;
    store
        .write()
        .map_err(|_| AppError::Unexpected(anyhow::anyhow!("catalogue store poisoned")))?
        .add(c, now)
        .map_err(|m| AppError::invalid("catalogue", m))
}
