//! The services' field messages and conflict details (English, as the API gives them) in the
//! console's language: each
//! message form is matched against a pattern (`{}` stands for a value the message carries, as
//! `200` and `7000 g` in `must be between 200 and 7000 g`) and shown as its text in
//! `config/ui/*.toml` with the values filled in (`{0}`, `{1}`). A message no pattern knows is
//! shown as it came.

use super::i18n::Tr;

/// Message patterns and their text's key, the more specific before the more general.
const PATTERNS: &[(&str, &str)] = &[
    ("must not be in the future", "msg_not_in_future"),
    ("must not be in the past", "msg_not_in_past"),
    ("must not be before the birth", "msg_not_before_birth"),
    ("must not be before collection", "msg_not_before_collection"),
    (
        "must not be before the card's receipt",
        "msg_not_before_receipt",
    ),
    ("must not be before tested_at", "msg_not_before_tested"),
    (
        "must be between the birth and now",
        "msg_between_birth_and_now",
    ),
    (
        "must be between 1 and plurality",
        "msg_between_one_and_plurality",
    ),
    ("must be between {} and {}", "msg_between"),
    ("must be at most {} characters", "msg_at_most_chars"),
    ("must be 1–{} characters", "msg_one_to_chars"),
    ("must be 1 to {} characters", "msg_one_to_chars"),
    (
        "must be acceptable or one of {}",
        "msg_acceptable_or_one_of",
    ),
    ("must be one of {}", "msg_one_of"),
    ("is required", "msg_required"),
    (
        "is required for screening-centre users",
        "msg_required_centre",
    ),
    ("is required for this reason", "msg_required_reason"),
    (
        "is required with status_changed_at or status_note",
        "msg_required_with_status",
    ),
    ("no such hospital", "msg_no_hospital"),
    ("hospital is inactive", "msg_hospital_inactive"),
    ("is not an active hospital", "msg_not_active_hospital"),
    ("may hold only letters, digits, - and _", "msg_code_chars"),
    ("is not an e-mail address", "msg_not_email"),
    ("must not be empty", "msg_not_empty"),
    (
        "must be 7 to 15 digits, optionally starting with +",
        "msg_phone_digits",
    ),
    (
        "is not a valid 18-character resident ID number (length, birth date or check digit)",
        "msg_resident_id",
    ),
    ("must be within the last {} days", "msg_within_days"),
    ("at most {} phone numbers", "msg_at_most_phones"),
    ("at most 10 addresses", "msg_at_most_addresses"),
    (
        "no earlier card of this infant has this barcode",
        "msg_no_earlier_card",
    ),
    ("must differ from the kept infant", "msg_differ_from_kept"),
    ("must be a non-negative number", "msg_non_negative"),
    ("must be a number ≥ 0", "msg_non_negative"),
    ("choose one", "msg_choose_one"),
    ("at least one value is required", "msg_at_least_one_value"),
    (
        "must be 4 to 32 letters, digits or hyphens",
        "msg_code_4_32",
    ),
    (
        "must be 3 to 64 lower-case letters, digits, '.', '-' or '_'",
        "msg_username_chars",
    ),
    (
        "the outcome needs a reason or condition",
        "msg_outcome_needs_reason",
    ),
    ("must not name a condition", "msg_no_condition"),
    // Conflicts a form can meet (`pages::refusal`).
    (
        "an infant with this MRN is already registered at this hospital: {}",
        "msg_mrn_taken",
    ),
    (
        "an infant with this mother, birth time and birth order is already registered: {}",
        "msg_same_birth",
    ),
    (
        "a card with this barcode is registered",
        "msg_barcode_taken",
    ),
    (
        "a hospital with this code exists",
        "msg_hospital_code_taken",
    ),
    ("this username is taken", "msg_username_taken"),
    ("the case is resolved; reopen it first", "msg_case_resolved"),
    ("the case changed concurrently; retry", "msg_case_changed"),
    ("the episode is closed", "msg_episode_closed"),
    ("this merge was already undone", "msg_merge_undone"),
    ("one of the records is already merged", "msg_already_merged"),
    (
        "the notification changed meanwhile; reload it",
        "msg_notification_changed",
    ),
    ("status cannot change from {} to {}", "msg_status_change"),
    (
        "this contact is recorded or cancelled already",
        "msg_contact_done",
    ),
];

/// The values `message` carries where `pattern` has `{}`, when it has the pattern's form.
fn matches<'a>(pattern: &str, message: &'a str) -> Option<Vec<&'a str>> {
    let mut parts = pattern.split("{}");
    let first = parts.next().unwrap_or_default();
    let mut rest = message.strip_prefix(first)?;
    let mut values = Vec::new();
    let tail: Vec<&str> = parts.collect();
    for (i, literal) in tail.iter().enumerate() {
        let at = if i + 1 == tail.len() && literal.is_empty() {
            rest.len()
        } else if i + 1 == tail.len() {
            rest.strip_suffix(literal).map(str::len)?
        } else {
            rest.find(literal)?
        };
        values.push(&rest[..at]);
        rest = &rest[at + literal.len()..];
    }
    (rest.is_empty() && values.iter().all(|v| !v.is_empty())).then_some(values)
}

/// `message` in `tr`'s language (English: as it came).
pub fn translate(tr: Tr, message: &str) -> String {
    if tr.locale == "en" {
        return message.to_string();
    }
    for (pattern, key) in PATTERNS {
        if let Some(values) = matches(pattern, message) {
            let mut text = tr.t(key);
            for (i, v) in values.iter().enumerate() {
                text = text.replace(&format!("{{{i}}}"), v);
            }
            return text;
        }
    }
    message.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_message_reads_in_chinese_with_its_values_and_an_unknown_one_as_it_came() {
        let zh = Tr::new("zh-CN");
        assert_eq!(
            translate(zh, "must be between 200 and 7000 g"),
            "须在 200 至 7000 g 之间"
        );
        assert_eq!(
            translate(zh, "must be between 1 and plurality"),
            "须在 1 与胎数之间"
        );
        assert_eq!(translate(zh, "is required"), "必须填写");
        assert_eq!(
            translate(zh, "must be at most 64 characters"),
            "不能超过 64 个字符"
        );
        assert_eq!(
            translate(zh, "must be one of breast, formula"),
            "须为以下之一：breast, formula"
        );
        assert_eq!(translate(zh, "something new"), "something new");
        assert_eq!(
            translate(zh, "status cannot change from open to resolved"),
            "状态不能从 open 改为 resolved"
        );
        assert_eq!(
            translate(zh, "is required for hospital_staff"),
            "is required for hospital_staff"
        );
        let en = Tr::new("en");
        assert_eq!(
            translate(en, "must be between 200 and 7000 g"),
            "must be between 200 and 7000 g"
        );
        assert_eq!(
            translate(en, "must be 1–64 characters"),
            "must be 1–64 characters"
        );
    }

    /// Every `.rs` file's text under `dir`.
    fn sources(dir: &std::path::Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push_str(&std::fs::read_to_string(&path).unwrap());
            }
        }
    }

    #[test]
    fn every_pattern_is_a_message_the_code_still_gives() {
        let mut code = String::new();
        sources(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut code,
        );
        for (pattern, _) in PATTERNS {
            // The longest fixed piece, as the code spells it (its values are `{name}` there).
            let piece = pattern
                .split("{}")
                .max_by_key(|p| p.len())
                .unwrap_or_default();
            assert!(
                code.matches(piece).count() > 1,
                "no message in src/ has the form {pattern:?} any more"
            );
        }
    }

    #[test]
    fn every_pattern_has_a_text_in_both_languages() {
        for (_, key) in PATTERNS {
            for locale in ["zh-CN", "en"] {
                assert_ne!(Tr::new(locale).t(key), *key, "{locale} lacks {key}");
            }
        }
    }
}
