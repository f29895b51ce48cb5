//! Catalogue versions: loading the configured files at start, storing them, publishing new
//! versions, and choosing the version in force. Published versions are immutable, so every
//! stored interpretation can be reproduced under the version it names.

use std::path::Path;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};

use crate::db::AnyConnection;
use crate::db::models::admin::catalogue::{self, CatalogueVersion};
use crate::db::types::UtcMicros;
use crate::domain::catalogue::{Catalogue, DEFAULT_CATALOGUE_TOML};
use crate::domain::interpretation::Interpreter;
use crate::error::{AppError, ErrorCode, is_unique_violation};
use crate::services::admin::versions::{Versions, local_day, read_toml_files};

/// Reads every `*.toml` in `dir` (sorted by name), or the built-in default when the directory
/// does not exist. A file that does not parse or validate stops start-up, naming the file and entry.
pub fn load_files(dir: &Path) -> anyhow::Result<Vec<Catalogue>> {
    match read_toml_files(dir)? {
        None => Ok(vec![
            Catalogue::from_toml(DEFAULT_CATALOGUE_TOML).map_err(anyhow::Error::msg)?,
        ]),
        Some(files) => files
            .iter()
            .map(|(f, text)| {
                Catalogue::from_toml(text).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))
            })
            .collect(),
    }
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
            None => catalogue::insert(conn, &row(c, super::versioned::FROM_CONFIG, now)?)?,
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
        published_at: UtcMicros::new(now),
    })
}

/// Every stored catalogue version, prepared for interpretation.
pub type CatalogueStore = Versions<Interpreter>;

/// Shared, updatable store.
pub type SharedCatalogues = Arc<RwLock<CatalogueStore>>;

/// Loads all stored versions.
pub fn load_store(conn: &mut AnyConnection) -> anyhow::Result<CatalogueStore> {
    let mut store = CatalogueStore::default();
    for r in catalogue::list(conn)? {
        let c: Catalogue = serde_json::from_str(&r.content)?;
        let interp = Interpreter::new(c).map_err(anyhow::Error::msg)?;
        store.insert(r.version, r.effective_from, r.published_at.utc(), interp);
    }
    Ok(store)
}

/// Every condition name (both languages) of every stored version, and each part of a name that
/// joins several with a slash (`苯丙酮尿症/高苯丙氨酸血症`): family messages must not contain any
/// of them.
pub fn condition_names(store: &SharedCatalogues) -> Vec<String> {
    let Ok(s) = store.read() else {
        return vec![];
    };
    let mut names: Vec<String> = s
        .all()
        .iter()
        .flat_map(|i| {
            i.catalogue()
                .conditions
                .iter()
                .flat_map(|c| [c.name_zh.clone(), c.name_en.clone()])
                .collect::<Vec<_>>()
        })
        .flat_map(|n| {
            let parts: Vec<String> = n
                .split(['/', '／'])
                .map(|p| p.trim().to_string())
                .filter(|p| p.chars().count() >= 3 && *p != n)
                .collect();
            std::iter::once(n).chain(parts)
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Reads the current version from the shared store.
pub fn current(store: &SharedCatalogues, now: DateTime<Utc>) -> Result<Arc<Interpreter>, AppError> {
    store
        .read()
        .map_err(|_| AppError::Unexpected(anyhow::anyhow!("catalogue store poisoned")))?
        .current(local_day(now))
        .ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("no catalogue version is stored")))
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
        .map_err(|m| AppError::invalid("catalogue", m.0))?;
    let (version, effective_from) = (c.version.clone(), c.effective_from);
    let stored = row(&c, by, now)?;
    let interp = Interpreter::new(c).map_err(|m| AppError::invalid("catalogue", m.0))?;
    catalogue::insert(conn, &stored).map_err(|e| {
        if is_unique_violation(&e) {
            AppError::conflict(
                ErrorCode::CatalogueVersionExists,
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
        .insert(version, effective_from, now, interp);
    Ok(())
}
