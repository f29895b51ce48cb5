//! The layering of `docs/architecture.md`, checked: which top-level modules each folder of
//! `src/` may name (`crate::<module>`). Known exceptions are listed with their file and must
//! still exist, so the list only shrinks as they are removed. No dependencies: it reads the
//! sources as text.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Per folder of `src/`, the `crate::` modules its files may use.
const RULES: &[(&str, &[&str])] = &[
    ("domain", &["domain"]),
    // `with_conn!`, `scoped!` and `by_key!` are db's macros, exported at the crate root.
    (
        "db",
        &["db", "domain", "error", "with_conn", "scoped", "by_key"],
    ),
    (
        "services",
        &[
            "services", "db", "domain", "error", "config", "auth", "notify",
        ],
    ),
    ("notify", &["notify", "db", "domain", "error", "config"]),
    ("auth", &["auth", "db", "domain", "error", "config"]),
    (
        "jobs",
        &[
            "jobs", "services", "notify", "db", "domain", "error", "config", "state",
        ],
    ),
    (
        "api",
        &[
            "api",
            "auth",
            "services",
            "jobs",
            "db",
            "domain",
            "error",
            "config",
            "state",
            "telemetry",
            "notify",
        ],
    ),
    // The console is a second HTTP edge beside `api/`, with the same rules; it shares the API's
    // request ids (`api::observe`).
    (
        "web",
        &[
            "web", "api", "auth", "services", "db", "domain", "error", "config", "state",
        ],
    ),
];

/// Allowed exceptions to `RULES`, (file, module it names): none. Add one only with a reason.
const KNOWN_EXCEPTIONS: &[(&str, &str)] = &[];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The `crate::<module>` names a source text uses.
fn modules_named(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    out
}

#[test]
fn each_layer_names_only_the_layers_it_may() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rules: BTreeMap<&str, &[&str]> = RULES.iter().copied().collect();
    let mut seen_exceptions = BTreeSet::new();
    let mut violations = vec![];
    for (folder, allowed) in &rules {
        let mut files = vec![];
        rust_files(&root.join("src").join(folder), &mut files);
        assert!(!files.is_empty(), "src/{folder} has no sources");
        for f in files {
            let rel = f
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&f).unwrap();
            for m in modules_named(&text) {
                if allowed.contains(&m.as_str()) {
                    continue;
                }
                if KNOWN_EXCEPTIONS.contains(&(rel.as_str(), m.as_str())) {
                    seen_exceptions.insert((rel.clone(), m));
                    continue;
                }
                violations.push(format!(
                    "{rel} names crate::{m} (src/{folder} may name {allowed:?})"
                ));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layering broken:\n{}",
        violations.join("\n")
    );
    for (file, module) in KNOWN_EXCEPTIONS {
        assert!(
            seen_exceptions.contains(&(file.to_string(), module.to_string())),
            "{file} no longer names crate::{module}: remove it from KNOWN_EXCEPTIONS"
        );
    }
}

/// Text that may appear only under some folders of `src/`: the schema is named only by `db/`
/// (and the demo-data generator); dialect branches and time conversions stay in `db/`.
const CONFINED: &[(&str, &[&str])] = &[
    ("db::schema", &["src/db/", "src/demo_data.rs"]),
    ("Backend::", &["src/db/"]),
    ("now_micros(", &["src/db/"]),
    // SQL text is written in `db/` only; services and handlers call model functions.
    ("sql_query(", &["src/db/"]),
    // Handlers open no transaction: a use case is one service call that opens its own.
    (
        "write_transaction(",
        &["src/db/", "src/services/", "src/jobs/", "src/demo_data.rs"],
    ),
];

/// Known exceptions to `CONFINED`/`NOT_ABOVE_DB`, (file, text), each with its reason: none.
const CONFINED_EXCEPTIONS: &[(&str, &str)] = &[];

/// Text that may not appear in handlers, services, notifications or jobs: rows carry
/// `UtcMicros`, so the conversion to `DateTime<Utc>` is `.utc()`.
const NOT_ABOVE_DB: &[&str] = &[".and_utc()", "naive_utc()"];

#[test]
fn confined_text_stays_in_its_folder() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![];
    rust_files(&root.join("src"), &mut files);
    let mut violations = vec![];
    for f in files {
        let rel = f
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(&f).unwrap();
        for (needle, homes) in CONFINED {
            if text.contains(needle)
                && !homes.iter().any(|h| rel.starts_with(h))
                && !CONFINED_EXCEPTIONS.contains(&(rel.as_str(), needle))
            {
                violations.push(format!("{rel} contains `{needle}` (only {homes:?} may)"));
            }
        }
        let above_db = [
            "src/api/",
            "src/web/",
            "src/services/",
            "src/notify/",
            "src/jobs/",
        ]
        .iter()
        .any(|h| rel.starts_with(h));
        for needle in NOT_ABOVE_DB {
            if above_db
                && text.contains(needle)
                && !CONFINED_EXCEPTIONS.contains(&(rel.as_str(), needle))
            {
                violations.push(format!("{rel} contains `{needle}`"));
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn the_scan_finds_what_it_should() {
    let names = modules_named(
        "use crate::db::x; let y = crate::services::follow_up::cases::open(); // crate::",
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["db".to_string(), "services".to_string()]
    );
}

/// Every `ErrorCode` variant is produced somewhere (the `meaning` table and the enum itself do
/// not count), so the generated list of problem codes names no dead code.
#[test]
fn every_error_code_is_used() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let error_rs = std::fs::read_to_string(root.join("src/error.rs")).unwrap();
    let start = error_rs.find("text_enum!(ErrorCode {").unwrap();
    let block = &error_rs[start..start + error_rs[start..].find("});").unwrap()];
    let variants: Vec<&str> = block
        .lines()
        .skip(1)
        .filter_map(|l| l.trim().split(" = ").next())
        .filter(|v| !v.is_empty())
        .collect();
    assert!(variants.len() > 30, "{variants:?}");
    // Uses: every source file, with error.rs only from `impl AppError` on.
    let mut text = error_rs[error_rs.find("impl AppError {").unwrap()..].to_string();
    let mut files = vec![];
    rust_files(&root.join("src"), &mut files);
    for f in files.iter().filter(|f| !f.ends_with("error.rs")) {
        text.push_str(&std::fs::read_to_string(f).unwrap());
    }
    let unused: Vec<&&str> = variants
        .iter()
        .filter(|v| !text.contains(&format!("ErrorCode::{v}")))
        .collect();
    assert!(
        unused.is_empty(),
        "ErrorCode variants never produced: {unused:?}"
    );
}

/// Every `Insertable` row writes `None` as NULL (`treat_none_as_default_value = false`), so its
/// insert has one text and is prepared once per connection (see `src/db/models/mod.rs`).
#[test]
fn every_insertable_row_is_prepared_once() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![];
    rust_files(&root.join("src/db/models"), &mut files);
    let mut missing = vec![];
    let mut seen = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if line.contains("derive(") && line.contains("Insertable") {
                seen += 1;
                let attrs = lines[i + 1..]
                    .iter()
                    .take_while(|l| l.trim_start().starts_with("#["));
                if !attrs
                    .into_iter()
                    .any(|l| l.contains("treat_none_as_default_value = false"))
                {
                    missing.push(format!("{}:{}", f.display(), i + 1));
                }
            }
        }
    }
    assert!(seen > 20, "{seen}");
    assert!(
        missing.is_empty(),
        "rows written with DEFAULT for None: {missing:?}"
    );
}

/// The laboratory profile and MLLP settings the README shows are valid configuration.
#[test]
fn the_readme_hl7_examples_are_valid_settings() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let block = |header: &str| -> String {
        let start = readme.find(header).unwrap();
        let end = start + readme[start..].find("```").unwrap();
        readme[start..end].to_string()
    };
    #[derive(serde::Deserialize)]
    struct Doc {
        hl7: Hl7,
    }
    #[derive(serde::Deserialize)]
    struct Hl7 {
        labs: std::collections::BTreeMap<String, guthrie::config::LabProfile>,
    }
    let doc: Doc = toml::from_str(&block("[hl7.labs.ZJNBSC]")).unwrap();
    let lab = &doc.hl7.labs["ZJNBSC"];
    assert_eq!(lab.charset.as_deref(), Some("GB18030"));
    assert!(lab.units.contains_key("Phe mg/dL"));
    #[derive(serde::Deserialize)]
    struct Mllp {
        hl7: MllpHl7,
    }
    #[derive(serde::Deserialize)]
    struct MllpHl7 {
        mllp: guthrie::config::MllpSettings,
    }
    let with_frame = format!("{}max_frame_bytes = 1024\n", block("[hl7.mllp]\nbind"));
    let m: Mllp = toml::from_str(&with_frame).unwrap();
    assert!(!m.hl7.mllp.tls_client_ca.is_empty());
    assert!(m.hl7.mllp.networks().is_ok());
}
