//! A set of immutable, dated configuration versions (condition catalogues, due-time policies):
//! look one up by id, or find the one in force on a day.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDate, Offset, Utc};

#[derive(Debug)]
struct Entry<T> {
    value: Arc<T>,
    effective_from: NaiveDate,
    published_at: DateTime<Utc>,
}

/// Versions by id.
#[derive(Debug)]
pub struct Versions<T> {
    items: HashMap<String, Entry<T>>,
}

impl<T> Default for Versions<T> {
    fn default() -> Self {
        Self {
            items: HashMap::new(),
        }
    }
}

impl<T> Versions<T> {
    /// Adds (or replaces) a version.
    pub fn insert(
        &mut self,
        version: String,
        effective_from: NaiveDate,
        published_at: DateTime<Utc>,
        value: T,
    ) {
        self.items.insert(
            version,
            Entry {
                value: Arc::new(value),
                effective_from,
                published_at,
            },
        );
    }

    /// Every version.
    pub fn all(&self) -> Vec<Arc<T>> {
        self.items.values().map(|e| e.value.clone()).collect()
    }

    /// One version by id.
    pub fn get(&self, version: &str) -> Option<Arc<T>> {
        self.items.get(version).map(|e| e.value.clone())
    }

    /// The version in force on `day`: the latest `effective_from` not after it (ties: the later
    /// publication). Before any version takes effect, the earliest one.
    pub fn current(&self, day: NaiveDate) -> Option<Arc<T>> {
        let key = |e: &&Entry<T>| (e.effective_from, e.published_at);
        self.items
            .values()
            .filter(|e| e.effective_from <= day)
            .max_by_key(key)
            .or_else(|| self.items.values().min_by_key(key))
            .map(|e| e.value.clone())
    }
}

/// The `*.toml` files of `dir`, sorted by name, with their text; `None` when `dir` does not exist.
pub fn read_toml_files(
    dir: &std::path::Path,
) -> anyhow::Result<Option<Vec<(std::path::PathBuf, String)>>> {
    if !dir.is_dir() {
        return Ok(None);
    }
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|f| Ok((f.clone(), std::fs::read_to_string(&f)?)))
        .collect::<anyhow::Result<Vec<_>>>()
        .map(Some)
}

/// The calendar day in China Standard Time (UTC+8, no daylight saving), on which versions take effect.
pub fn local_day(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap_or(Utc.fix()))
        .date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_latest_effective_version_wins() {
        let mut v = Versions::default();
        let t = Utc::now();
        v.insert("a".into(), d("2023-01-01"), t, 1);
        v.insert("b".into(), d("2026-06-01"), t, 2);
        v.insert(
            "c".into(),
            d("2026-06-01"),
            t + chrono::Duration::seconds(1),
            3,
        );
        assert_eq!(*v.current(d("2026-01-01")).unwrap(), 1);
        assert_eq!(
            *v.current(d("2026-06-01")).unwrap(),
            3,
            "tie: the later publication"
        );
        assert_eq!(
            *v.current(d("2020-01-01")).unwrap(),
            1,
            "before all: the earliest"
        );
        assert_eq!(*v.get("b").unwrap(), 2);
        assert!(
            Versions::<i32>::default()
                .current(d("2026-01-01"))
                .is_none()
        );
    }
}
