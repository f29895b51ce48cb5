//! The life of a kind of versioned configuration (due-time policies, management plan sets):
//! read from its directory's `*.toml` files at start (or the built-in default when the
//! directory does not exist), each version stored once and immutably (an edited file under a
//! stored id stops start-up), all stored versions loaded into a [`Versions`] set, and the one in
//! force chosen by day. A kind says how it is parsed, named and stored ([`Versioned`]); the
//! rest is here once.

use std::path::Path;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::db::AnyConnection;
use crate::db::types::UtcMicros;
use crate::error::AppError;
use crate::services::admin::versions::{Versions, local_day, read_toml_files};

/// The publisher of a version read from the configuration files at start.
pub const FROM_CONFIG: &str = "config";

/// A stored version as its table holds it (`content` is the version as JSON).
#[derive(Debug, Clone)]
pub struct StoredVersion {
    /// Version id.
    pub version: String,
    /// First day in force.
    pub effective_from: NaiveDate,
    /// The version as JSON.
    pub content: String,
    /// Who published it (`config` for files read at start).
    pub published_by: String,
    /// When.
    pub published_at: UtcMicros,
}

/// A kind of versioned configuration.
pub trait Versioned: Serialize + DeserializeOwned + PartialEq + Sized {
    /// What it is called in messages, e.g. `due policy`.
    const KIND: &'static str;
    /// The built-in file, used when the configured directory does not exist.
    const DEFAULT_TOML: &'static str;
    /// Parses and validates one file.
    fn parse(text: &str) -> anyhow::Result<Self>;
    /// Its version id.
    fn id(&self) -> &str;
    /// First day in force.
    fn effective_from(&self) -> NaiveDate;
    /// The stored version `id`, if any.
    fn stored(conn: &mut AnyConnection, id: &str) -> diesel::QueryResult<Option<StoredVersion>>;
    /// Stores a new version.
    fn store(conn: &mut AnyConnection, row: StoredVersion) -> diesel::QueryResult<()>;
    /// Every stored version.
    fn stored_all(conn: &mut AnyConnection) -> diesel::QueryResult<Vec<StoredVersion>>;
}

/// Implements the storage half of [`Versioned`] (`stored`, `store`, `stored_all`) over a table
/// module with `get`, `insert` and `list` and its row type, which has the five columns of
/// [`StoredVersion`]; and converts those rows. Used inside the kind's `impl Versioned`.
macro_rules! stored_in {
    ($module:ident, $row:ident) => {
        fn stored(
            conn: &mut $crate::db::AnyConnection,
            id: &str,
        ) -> diesel::QueryResult<Option<$crate::services::admin::versioned::StoredVersion>> {
            Ok(
                $module::get(conn, id)?.map(|r| {
                    $crate::services::admin::versioned::StoredVersion {
                        version: r.version,
                        effective_from: r.effective_from,
                        content: r.content,
                        published_by: r.published_by,
                        published_at: r.published_at,
                    }
                }),
            )
        }

        fn store(
            conn: &mut $crate::db::AnyConnection,
            r: $crate::services::admin::versioned::StoredVersion,
        ) -> diesel::QueryResult<()> {
            $module::insert(
                conn,
                &$row {
                    version: r.version,
                    effective_from: r.effective_from,
                    content: r.content,
                    published_by: r.published_by,
                    published_at: r.published_at,
                },
            )
        }

        fn stored_all(
            conn: &mut $crate::db::AnyConnection,
        ) -> diesel::QueryResult<Vec<$crate::services::admin::versioned::StoredVersion>> {
            Ok($module::list(conn)?
                .into_iter()
                .map(|r| $crate::services::admin::versioned::StoredVersion {
                    version: r.version,
                    effective_from: r.effective_from,
                    content: r.content,
                    published_by: r.published_by,
                    published_at: r.published_at,
                })
                .collect())
        }
    };
}
pub(crate) use stored_in;

/// Every version of a kind, shared by the server.
pub type Shared<T> = Arc<RwLock<Versions<T>>>;

/// Reads every `*.toml` in `dir` (a file that does not parse is named in the error), or the
/// built-in default when `dir` does not exist.
pub fn load_files<T: Versioned>(dir: &Path) -> anyhow::Result<Vec<T>> {
    match read_toml_files(dir)? {
        None => Ok(vec![T::parse(T::DEFAULT_TOML)?]),
        Some(files) => files
            .iter()
            .map(|(f, text)| T::parse(text).map_err(|e| anyhow::anyhow!("{}: {e}", f.display())))
            .collect(),
    }
}

/// Stores the versions not stored yet; a stored version whose file changed is an error (publish
/// a new id instead).
pub fn sync<T: Versioned>(
    conn: &mut AnyConnection,
    files: &[T],
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    for v in files {
        match T::stored(conn, v.id())? {
            None => T::store(
                conn,
                StoredVersion {
                    version: v.id().to_string(),
                    effective_from: v.effective_from(),
                    content: serde_json::to_string(v)?,
                    published_by: FROM_CONFIG.into(),
                    published_at: UtcMicros::new(now),
                },
            )?,
            Some(stored) if serde_json::from_str::<T>(&stored.content)? != *v => {
                anyhow::bail!(
                    "{} {} differs from the stored version; give the edited file a new version id",
                    T::KIND,
                    v.id()
                )
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Loads every stored version.
pub fn load_store<T: Versioned>(conn: &mut AnyConnection) -> anyhow::Result<Versions<T>> {
    let mut store = Versions::default();
    for r in T::stored_all(conn)? {
        let v: T = serde_json::from_str(&r.content)?;
        store.insert(r.version, r.effective_from, r.published_at.utc(), v);
    }
    Ok(store)
}

/// Reads the files of `dir`, stores the new ones and loads every stored version: start-up.
pub fn start<T: Versioned>(
    conn: &mut AnyConnection,
    dir: &Path,
    now: DateTime<Utc>,
) -> anyhow::Result<Shared<T>> {
    let files = load_files::<T>(dir)?;
    sync(conn, &files, now)?;
    Ok(Arc::new(RwLock::new(load_store(conn)?)))
}

/// Publishes a new version at run time (parsed and validated by [`Versioned::parse`]; the id
/// must be new): stored, then in force from its day in this server.
pub fn publish<T: Versioned>(
    conn: &mut AnyConnection,
    store: &Shared<T>,
    text: &str,
    by: &str,
    now: DateTime<Utc>,
) -> Result<String, AppError> {
    let v = T::parse(text).map_err(|e| AppError::invalid("file", e.to_string()))?;
    let id = v.id().to_string();
    if T::stored(conn, &id)?.is_some() {
        return Err(AppError::conflict(
            crate::error::ErrorCode::CatalogueVersionExists,
            Some("version"),
            format!("{} {id} is already published", T::KIND),
        ));
    }
    T::store(
        conn,
        StoredVersion {
            version: id.clone(),
            effective_from: v.effective_from(),
            content: serde_json::to_string(&v)
                .map_err(|e| AppError::Unexpected(anyhow::anyhow!("{e}")))?,
            published_by: by.into(),
            published_at: UtcMicros::new(now),
        },
    )?;
    let day = v.effective_from();
    store
        .write()
        .map_err(|_| poisoned::<T>())?
        .insert(id.clone(), day, now, v);
    Ok(id)
}

/// Every stored version's id, effective day and publication, newest in force first.
pub fn listing<T: Versioned>(conn: &mut AnyConnection) -> Result<Vec<StoredVersion>, AppError> {
    let mut all = T::stored_all(conn)?;
    all.sort_by(|a, b| {
        (b.effective_from, b.published_at.utc()).cmp(&(a.effective_from, a.published_at.utc()))
    });
    Ok(all)
}

fn poisoned<T: Versioned>() -> AppError {
    AppError::Unexpected(anyhow::anyhow!("{} store poisoned", T::KIND))
}

/// The version in force at `now`.
pub fn current<T: Versioned>(store: &Shared<T>, now: DateTime<Utc>) -> Result<Arc<T>, AppError> {
    store
        .read()
        .map_err(|_| poisoned::<T>())?
        .current(local_day(now))
        .ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("no {} is stored", T::KIND)))
}

/// A stored version by id.
pub fn version<T: Versioned>(store: &Shared<T>, id: &str) -> Result<Arc<T>, AppError> {
    store
        .read()
        .map_err(|_| poisoned::<T>())?
        .get(id)
        .ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("{} {id} is not stored", T::KIND)))
}
