//! Comparing two versions of a configuration (catalogues, due policies) field by field: each is
//! flattened to `path → value` (arrays of objects with a `code` are keyed by it, so an inserted
//! condition does not shift the others), and the paths whose values differ are listed with the
//! old and the new value — what an administrator checks before and after publishing.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Where, e.g. `conditions[PKU].markers[Phe].cutoff`.
    pub path: String,
    /// The value in the first version (none: added).
    pub old: Option<String>,
    /// The value in the second version (none: removed).
    pub new: Option<String>,
}

fn key_of(item: &Value, index: usize) -> String {
    ["code", "analyte", "marker", "id", "name"]
        .iter()
        .find_map(|k| item.get(*k).and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| index.to_string())
}

fn walk(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                walk(&p, x, out);
            }
        }
        Value::Array(a) if a.iter().any(Value::is_object) => {
            for (i, x) in a.iter().enumerate() {
                walk(&format!("{prefix}[{}]", key_of(x, i)), x, out);
            }
        }
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(scalar).collect();
            out.insert(prefix.to_string(), format!("[{}]", items.join(", ")));
        }
        other => {
            out.insert(prefix.to_string(), scalar(other));
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

/// `path → value` of a serializable value.
pub fn flatten<T: Serialize>(v: &T) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Ok(j) = serde_json::to_value(v) {
        walk("", &j, &mut out);
    }
    out
}

/// The fields whose values differ between `a` and `b`, by path.
pub fn compare<T: Serialize>(a: &T, b: &T) -> Vec<Change> {
    let (fa, fb) = (flatten(a), flatten(b));
    let mut paths: Vec<&String> = fa.keys().chain(fb.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter_map(|p| {
            let (x, y) = (fa.get(p), fb.get(p));
            (x != y).then(|| Change {
                path: p.clone(),
                old: x.cloned(),
                new: y.cloned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changes_are_listed_by_path_and_keyed_lists_do_not_shift() {
        let a = json!({"version": "v1", "conditions": [
            {"code": "CH", "cutoff": 20.0, "alias": ["TSH"]},
            {"code": "PKU", "cutoff": 120.0}]});
        let b = json!({"version": "v2", "conditions": [
            {"code": "BIO", "cutoff": 1.0},
            {"code": "CH", "cutoff": 18.0, "alias": ["TSH"]},
            {"code": "PKU", "cutoff": 120.0}]});
        let c = compare(&a, &b);
        let paths: Vec<&str> = c.iter().map(|x| x.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "conditions[BIO].code",
                "conditions[BIO].cutoff",
                "conditions[CH].cutoff",
                "version"
            ]
        );
        let ch = &c[2];
        assert_eq!(
            (ch.old.as_deref(), ch.new.as_deref()),
            (Some("20.0"), Some("18.0"))
        );
        assert!(c[0].old.is_none());
        assert!(compare(&a, &a).is_empty());
    }
}
