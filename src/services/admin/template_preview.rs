//! Rendering a message template with example data, as it is loaded or as an administrator
//! proposes to change it, in any locale: the console's notification preview. A proposed text is
//! checked exactly as at start-up ([`check_template`]), so what previews cleanly will load.

use std::collections::BTreeMap;

use crate::notify::templates::{
    Audience, Rendered, SPECS, TemplateSpec, Templates, check_template, fill,
};

/// The names of every template the code sends.
pub fn names() -> impl Iterator<Item = &'static str> {
    SPECS.iter().map(|s| s.name)
}

/// Whether a template is a family SMS (no subject, no condition names).
pub fn is_family(spec: &TemplateSpec) -> bool {
    spec.audience == Audience::Family
}

/// The variables a template may use.
pub fn vars(spec: &TemplateSpec) -> &'static [&'static str] {
    spec.vars
}

/// The template named `name`, if the code sends it.
pub fn spec(name: &str) -> Option<&'static TemplateSpec> {
    SPECS.iter().find(|s| s.name == name)
}

/// An example value of a variable (invented: no real infant, family or phone).
fn example(var: &str, locale: &str) -> String {
    let zh = locale != "en";
    let pick = |a: &str, b: &str| if zh { a.to_string() } else { b.to_string() };
    match var {
        "infant_ref" => "ZJ001-000123".into(),
        "case_ref" | "episode_ref" => "0193a1b2".into(),
        "hospital" => pick("示例妇幼保健院", "Example Maternity Hospital"),
        "district" => pick("示例区", "Example District"),
        "due_date" | "date" | "window_end" | "target" | "diagnosed" => "2026-12-08".into(),
        "appointment" => "2026-12-08 09:30".into(),
        "place" => pick("省妇保新筛门诊", "the screening clinic"),
        "bring" => pick("母子健康手册", "the mother-and-child health handbook"),
        "centre_phone" => "0571-00000000".into(),
        "programme" => pick("遗传代谢病", "Metabolic (blood spot)"),
        "reason" => pick("阳性", "Positive"),
        "tier" => "T1".into(),
        "state" => pick("待联系", "Open"),
        "conditions" | "condition" => pick(
            "先天性甲状腺功能减低症 (CH)",
            "Congenital hypothyroidism (CH)",
        ),
        "opened_at" | "first_contact_due" | "recall_due" => "2026-12-01 10:00".into(),
        "rung" => "L1".into(),
        "open_count" => "3".into(),
        "overdue_count" | "count" => "1".into(),
        "case_lines" => "- 0193a1b2 ZJ001-000123 T1 2026-12-03 10:00".into(),
        "contact" => "CH TFT #1".into(),
        "period" => "2026-11".into(),
        "lines" => pick(
            "- 新筛率（遗传代谢病）: 98.5% (1970/2000, ≥98%)",
            "- Blood-spot screening coverage: 98.5% (1970/2000, ≥98%)",
        ),
        other => format!("<{other}>"),
    }
}

/// Example values for every variable a template may use.
pub fn example_vars(spec: &TemplateSpec, locale: &str) -> BTreeMap<&'static str, String> {
    spec.vars.iter().map(|v| (*v, example(v, locale))).collect()
}

/// The loaded template rendered with example data.
pub fn loaded(
    templates: &Templates,
    spec: &TemplateSpec,
    locale: &str,
) -> Result<Rendered, String> {
    templates.render(spec.name, locale, &example_vars(spec, locale))
}

/// A proposed text checked as at start-up, then rendered with example data.
pub fn proposed(
    spec: &TemplateSpec,
    locale: &str,
    subject: Option<&str>,
    body: &str,
    condition_names: &[String],
) -> Result<Rendered, String> {
    check_template(spec, subject, body, condition_names)?;
    let vars = example_vars(spec, locale);
    Ok(Rendered {
        subject: subject.map(|s| fill(spec.name, s, &vars)).transpose()?,
        body: fill(spec.name, body.trim(), &vars)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_loaded_template_previews_in_both_languages() {
        let t = Templates::load(std::path::Path::new("/nonexistent"), &[]).unwrap();
        for s in SPECS {
            for l in ["zh-CN", "en"] {
                let r = loaded(&t, s, l).unwrap();
                assert!(
                    !r.body.contains("{{") && !r.body.contains("<"),
                    "{} {l}",
                    s.name
                );
            }
        }
    }

    #[test]
    fn a_proposed_text_is_checked_as_at_start_up() {
        let s = spec("family_recall").unwrap();
        let names = vec!["苯丙酮尿症".to_string()];
        assert!(proposed(s, "zh-CN", None, "请于{{due_date}}到{{place}}", &names).is_ok());
        let e = proposed(s, "zh-CN", None, "疑似{{conditions}}", &names).unwrap_err();
        assert!(e.contains("not provided"), "{e}");
        let e = proposed(s, "zh-CN", None, "苯丙酮尿症复查", &names).unwrap_err();
        assert!(e.contains("must not name a condition"), "{e}");
        let e = proposed(s, "zh-CN", Some("x"), "hi", &names).unwrap_err();
        assert!(e.contains("no subject"), "{e}");
    }
}
