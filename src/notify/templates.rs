//! Message templates: one TOML file per locale (`zh-CN.toml`, `en.toml`) in
//! `notify.template_directory`, checked at start-up. Each template may use only the variables its
//! message provides, so a message can never go out with a blank where a value belongs; family
//! SMS may not use staff variables (condition names) nor contain a condition's name.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;

/// Built-in templates, used when the directory does not exist.
const BUILT_IN: [(&str, &str); 2] = [
    ("zh-CN", include_str!("../../config/templates/zh-CN.toml")),
    ("en", include_str!("../../config/templates/en.toml")),
];

/// Who reads a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The family (SMS): no diagnosis, no names.
    Family,
    /// Staff and institutions (e-mail).
    Staff,
}

/// Variables of family messages.
pub const FAMILY_VARS: &[&str] = &[
    "infant_ref",
    "hospital",
    "due_date",
    "appointment",
    "place",
    "bring",
    "centre_phone",
];

/// Variables of staff messages about one case.
pub const CASE_VARS: &[&str] = &[
    "case_ref",
    "infant_ref",
    "hospital",
    "district",
    "programme",
    "reason",
    "tier",
    "state",
    "conditions",
    "opened_at",
    "first_contact_due",
    "recall_due",
    "rung",
];

/// Variables of the hospital digest.
pub const DIGEST_VARS: &[&str] = &[
    "hospital",
    "date",
    "open_count",
    "overdue_count",
    "case_lines",
];

/// Variables of the one e-mail that carries a sweep's notices to one recipient.
pub const SUMMARY_VARS: &[&str] = &["count", "case_lines"];

/// Variables of staff messages about a management contact (no family names, no phones).
pub const MANAGEMENT_VARS: &[&str] = &[
    "episode_ref",
    "infant_ref",
    "hospital",
    "district",
    "condition",
    "contact",
    "due_date",
    "window_end",
    "rung",
];

/// Variables of the missed treatment-start target (staff).
pub const TREATMENT_VARS: &[&str] = &[
    "episode_ref",
    "infant_ref",
    "hospital",
    "condition",
    "diagnosed",
    "target",
];

/// Variables of the monthly quality scorecard.
pub const SCORECARD_VARS: &[&str] = &["hospital", "period", "lines"];

/// A template the code sends, with its audience and variables.
#[derive(Debug, Clone, Copy)]
pub struct TemplateSpec {
    /// Name (the TOML table).
    pub name: &'static str,
    /// Who reads the message: a family, a hospital contact or centre staff.
    pub audience: Audience,
    /// Variables it may use.
    pub vars: &'static [&'static str],
}

/// Every template the code uses.
pub const SPECS: &[TemplateSpec] = &[
    TemplateSpec {
        name: "family_recall",
        audience: Audience::Family,
        vars: FAMILY_VARS,
    },
    TemplateSpec {
        name: "family_visit_reminder",
        audience: Audience::Family,
        vars: FAMILY_VARS,
    },
    TemplateSpec {
        name: "family_overdue",
        audience: Audience::Family,
        vars: FAMILY_VARS,
    },
    TemplateSpec {
        name: "case_opened",
        audience: Audience::Staff,
        vars: CASE_VARS,
    },
    TemplateSpec {
        name: "first_contact_overdue",
        audience: Audience::Staff,
        vars: CASE_VARS,
    },
    TemplateSpec {
        name: "recall_overdue",
        audience: Audience::Staff,
        vars: CASE_VARS,
    },
    TemplateSpec {
        name: "home_visit_request",
        audience: Audience::Staff,
        vars: CASE_VARS,
    },
    TemplateSpec {
        name: "lost_to_follow_up_risk",
        audience: Audience::Staff,
        vars: CASE_VARS,
    },
    TemplateSpec {
        name: "management_contact_due",
        audience: Audience::Family,
        vars: FAMILY_VARS,
    },
    TemplateSpec {
        name: "management_contact_overdue",
        audience: Audience::Staff,
        vars: MANAGEMENT_VARS,
    },
    TemplateSpec {
        name: "management_home_visit",
        audience: Audience::Staff,
        vars: MANAGEMENT_VARS,
    },
    TemplateSpec {
        name: "management_treatment_overdue",
        audience: Audience::Staff,
        vars: TREATMENT_VARS,
    },
    TemplateSpec {
        name: "escalation_summary",
        audience: Audience::Staff,
        vars: SUMMARY_VARS,
    },
    TemplateSpec {
        name: "hospital_digest",
        audience: Audience::Staff,
        vars: DIGEST_VARS,
    },
    TemplateSpec {
        name: "quality_scorecard",
        audience: Audience::Staff,
        vars: SCORECARD_VARS,
    },
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTemplate {
    subject: Option<String>,
    body: String,
}

#[derive(Debug, Deserialize)]
struct RawFile {
    bring: BTreeMap<String, String>,
    #[serde(flatten)]
    templates: BTreeMap<String, RawTemplate>,
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// E-mail subject (staff messages).
    pub subject: Option<String>,
    /// The rendered message text.
    pub body: String,
}

/// The checked templates of every locale.
#[derive(Debug, Clone, Default)]
pub struct Templates {
    by_locale: HashMap<String, BTreeMap<String, RawTemplate>>,
    bring: HashMap<String, BTreeMap<String, String>>,
}

/// The `{{name}}` placeholders of a text, or an error for an unclosed one.
fn placeholders(text: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        let after = &rest[i + 2..];
        let j = after
            .find("}}")
            .ok_or_else(|| "an unclosed {{ placeholder".to_string())?;
        out.push(after[..j].trim());
        rest = &after[j + 2..];
    }
    Ok(out)
}

/// Checks one template's text against its message: only the variables the message provides,
/// no subject and no condition name in a family SMS, a subject on a staff e-mail.
pub fn check_template(
    spec: &TemplateSpec,
    subject: Option<&str>,
    body: &str,
    condition_names: &[String],
) -> Result<(), String> {
    for text in subject.into_iter().chain(std::iter::once(body)) {
        for var in placeholders(text)? {
            if !spec.vars.contains(&var) {
                return Err(format!(
                    "variable {{{{{var}}}}} is not provided to this message (available: {})",
                    spec.vars.join(", ")
                ));
            }
        }
    }
    match spec.audience {
        Audience::Family => {
            if subject.is_some() {
                return Err("an SMS has no subject".into());
            }
            if let Some(n) = condition_names
                .iter()
                .find(|n| n.chars().count() >= 3 && body.contains(n.as_str()))
            {
                return Err(format!("family messages must not name a condition ({n})"));
            }
        }
        Audience::Staff => {
            if subject.is_none_or(|s| s.trim().is_empty()) {
                return Err("an e-mail needs a subject".into());
            }
        }
    }
    Ok(())
}

/// `text` with every `{{name}}` replaced by its value; a placeholder without one is an error.
pub fn fill(name: &str, text: &str, vars: &BTreeMap<&str, String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let j = after.find("}}").ok_or("unclosed placeholder")?;
        let var = after[..j].trim();
        let value = vars
            .get(var)
            .ok_or_else(|| format!("template {name}: no value for {{{{{var}}}}}"))?;
        out.push_str(value);
        rest = &after[j + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

impl Templates {
    /// Loads `<locale>.toml` files from `dir`, or the built-in ones when it does not exist, and
    /// checks them. `condition_names` are the catalogue's condition names (every language), which
    /// family messages must not contain.
    pub fn load(dir: &Path, condition_names: &[String]) -> anyhow::Result<Self> {
        let mut files: Vec<(String, String)> = Vec::new();
        if dir.is_dir() {
            let mut paths: Vec<_> = std::fs::read_dir(dir)?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            paths.sort();
            for p in paths {
                let locale = p
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                files.push((locale, std::fs::read_to_string(&p)?));
            }
        } else {
            files = BUILT_IN
                .iter()
                .map(|(l, t)| (l.to_string(), t.to_string()))
                .collect();
        }
        Self::from_texts(&files, condition_names).map_err(anyhow::Error::msg)
    }

    /// Parses and checks `(locale, toml)` pairs.
    pub fn from_texts(
        files: &[(String, String)],
        condition_names: &[String],
    ) -> Result<Self, String> {
        let mut t = Templates::default();
        for (locale, text) in files {
            let raw: RawFile =
                toml::from_str(text).map_err(|e| format!("templates {locale}.toml: {e}"))?;
            for name in raw.templates.keys() {
                if !SPECS.iter().any(|s| s.name == name) {
                    return Err(format!(
                        "templates {locale}.toml: unknown template [{name}]"
                    ));
                }
            }
            for spec in SPECS {
                let tpl = raw.templates.get(spec.name).ok_or_else(|| {
                    format!(
                        "templates {locale}.toml: template [{}] is missing",
                        spec.name
                    )
                })?;
                check_template(spec, tpl.subject.as_deref(), &tpl.body, condition_names)
                    .map_err(|e| format!("templates {locale}.toml [{}]: {e}", spec.name))?;
            }
            for prog in ["DBS", "HEAR", "CCHD"] {
                if !raw.bring.contains_key(prog) {
                    return Err(format!("templates {locale}.toml: [bring] has no {prog}"));
                }
            }
            t.by_locale.insert(locale.clone(), raw.templates);
            t.bring.insert(locale.clone(), raw.bring);
        }
        Ok(t)
    }

    /// Whether a locale has templates.
    pub fn has_locale(&self, locale: &str) -> bool {
        self.by_locale.contains_key(locale)
    }

    /// A template's text as loaded: (subject, body).
    pub fn text(&self, name: &str, locale: &str) -> Option<(Option<String>, String)> {
        self.by_locale
            .get(locale)
            .and_then(|m| m.get(name))
            .map(|t| (t.subject.clone(), t.body.clone()))
    }

    /// What a family should bring for a programme, in `locale`.
    pub fn bring(&self, locale: &str, programme: &str) -> String {
        self.bring
            .get(locale)
            .and_then(|b| b.get(programme))
            .cloned()
            .unwrap_or_default()
    }

    /// Renders template `name` in `locale` with `vars`. Every placeholder must have a value.
    pub fn render(
        &self,
        name: &str,
        locale: &str,
        vars: &BTreeMap<&str, String>,
    ) -> Result<Rendered, String> {
        let tpl = self
            .by_locale
            .get(locale)
            .and_then(|m| m.get(name))
            .ok_or_else(|| format!("no template {name} in locale {locale}"))?;
        let fill = |text: &str| fill(name, text, vars);
        Ok(Rendered {
            subject: tpl.subject.as_deref().map(fill).transpose()?,
            body: fill(tpl.body.trim())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built_in() -> Vec<(String, String)> {
        BUILT_IN
            .iter()
            .map(|(l, t)| (l.to_string(), t.to_string()))
            .collect()
    }

    #[test]
    fn shipped_templates_load_in_both_locales() {
        let t = Templates::from_texts(&built_in(), &["苯丙酮尿症".into()]).unwrap();
        assert!(t.has_locale("zh-CN") && t.has_locale("en"));
        let vars: BTreeMap<&str, String> =
            FAMILY_VARS.iter().map(|v| (*v, format!("<{v}>"))).collect();
        let r = t.render("family_recall", "en", &vars).unwrap();
        assert!(r.subject.is_none());
        assert!(r.body.contains("<infant_ref>") && r.body.contains("<due_date>"));
        assert!(!r.body.contains("{{"));
    }

    #[test]
    fn an_unknown_variable_stops_loading_naming_it() {
        let mut files = built_in();
        files[1].1 = files[1].1.replace("{{due_date}}", "{{due_dat}}");
        let err = Templates::from_texts(&files, &[]).unwrap_err();
        assert!(err.contains("en.toml") && err.contains("due_dat"), "{err}");
    }

    #[test]
    fn family_sms_may_not_use_condition_variables_or_names() {
        let mut files = built_in();
        files[0].1 = files[0]
            .1
            .replace("需要复查，", "需要复查（{{conditions}}），");
        let err = Templates::from_texts(&files, &[]).unwrap_err();
        assert!(err.contains("conditions"), "{err}");
        let mut files = built_in();
        files[0].1 = files[0].1.replace("需要复查，", "疑似苯丙酮尿症，");
        let err = Templates::from_texts(&files, &["苯丙酮尿症".into()]).unwrap_err();
        assert!(err.contains("must not name a condition"), "{err}");
    }

    #[test]
    fn missing_template_or_subject_is_an_error() {
        let mut files = built_in();
        files[1].1 = files[1]
            .1
            .replace("[hospital_digest]", "[hospital_digest_old]");
        assert!(Templates::from_texts(&files, &[]).is_err());
        let files = vec![(
            "en".to_string(),
            built_in()[1]
                .1
                .replace("subject = \"[{{tier}}] Recall overdue {{case_ref}}\"\n", ""),
        )];
        let err = Templates::from_texts(&files, &[]).unwrap_err();
        assert!(err.contains("needs a subject"), "{err}");
    }

    #[test]
    fn rendering_without_a_value_fails_rather_than_leaving_a_blank() {
        let t = Templates::from_texts(&built_in(), &[]).unwrap();
        let err = t
            .render("family_overdue", "zh-CN", &BTreeMap::new())
            .unwrap_err();
        assert!(err.contains("infant_ref"), "{err}");
    }
}
