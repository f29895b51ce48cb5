//! The console's languages: Simplified Chinese first, English second, one message file per
//! locale (`config/ui/*.toml`) compiled into the binary. The locale is the session's choice,
//! else the browser's `Accept-Language`, else zh-CN. Times are shown in China Standard Time.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Duration, FixedOffset, Offset, Utc};

/// The locales, default first, with their message files.
const FILES: [(&str, &str); 2] = [
    ("zh-CN", include_str!("../../config/ui/zh-CN.toml")),
    ("en", include_str!("../../config/ui/en.toml")),
];

/// The default locale.
pub const DEFAULT: &str = "zh-CN";

type Messages = HashMap<String, String>;

static CATALOGUES: LazyLock<HashMap<&'static str, Messages>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(locale, text)| {
            // A file that does not parse gives no messages; the unit test catches it first.
            let m: Messages = toml::from_str(text).unwrap_or_default();
            (*locale, m)
        })
        .collect()
});

/// The supported locale named `asked` (`en`, `en-US`, `zh`, `zh-CN`, …), if any.
pub fn supported(asked: &str) -> Option<&'static str> {
    let primary = asked.trim().split(['-', '_']).next()?.to_ascii_lowercase();
    match primary.as_str() {
        "zh" => Some("zh-CN"),
        "en" => Some("en"),
        _ => None,
    }
}

/// The first supported language of an `Accept-Language` header, by its order of preference.
pub fn from_accept_language(header: &str) -> Option<&'static str> {
    let mut ranked: Vec<(f32, &str)> = header
        .split(',')
        .filter_map(|part| {
            let mut it = part.split(';');
            let tag = it.next()?.trim();
            let q = it
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse().ok())
                .unwrap_or(1.0);
            Some((q, tag))
        })
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranked.into_iter().find_map(|(_, tag)| supported(tag))
}

/// The messages of one locale, as templates use them.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    /// `zh-CN` or `en` (also the page's `lang`).
    pub locale: &'static str,
}

impl Tr {
    /// The messages of `locale` (the default for an unsupported one).
    pub fn new(locale: &str) -> Self {
        Self {
            locale: supported(locale).unwrap_or(DEFAULT),
        }
    }

    /// The message `key`; the key itself when missing (the test keeps both files complete).
    pub fn t(&self, key: &str) -> String {
        CATALOGUES
            .get(self.locale)
            .and_then(|m| m.get(key))
            .cloned()
            .unwrap_or_else(|| key.to_string())
    }

    /// The message `key` with `{name}` placeholders filled.
    pub fn f(&self, key: &str, args: &[(&str, &dyn std::fmt::Display)]) -> String {
        let mut s = self.t(key);
        for (name, value) in args {
            s = s.replace(&format!("{{{name}}}"), &value.to_string());
        }
        s
    }

    /// An instant in China Standard Time, `2026-11-25 15:00`.
    pub fn time(&self, t: DateTime<Utc>) -> String {
        let cst = FixedOffset::east_opt(8 * 3600).unwrap_or(Utc.fix());
        t.with_timezone(&cst).format("%Y-%m-%d %H:%M").to_string()
    }

    /// A duration as hours and minutes, or days and hours past two days.
    pub fn span(&self, d: Duration) -> String {
        let minutes = d.num_minutes().abs();
        if minutes >= 48 * 60 {
            self.f(
                "days_hours",
                &[("d", &(minutes / 1440)), ("h", &(minutes % 1440 / 60))],
            )
        } else {
            self.f(
                "hours_minutes",
                &[("h", &(minutes / 60)), ("m", &(minutes % 60))],
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placeholders(s: &str) -> Vec<String> {
        let mut out: Vec<String> = s
            .split('{')
            .skip(1)
            .filter_map(|p| p.split_once('}').map(|(name, _)| name.to_string()))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn both_locales_have_the_same_keys_and_placeholders() {
        let parsed: Vec<(&str, Messages)> = FILES
            .iter()
            .map(|(l, text)| (*l, toml::from_str(text).unwrap()))
            .collect();
        let (_, zh) = &parsed[0];
        for (locale, other) in &parsed[1..] {
            let mut a: Vec<_> = zh.keys().collect();
            let mut b: Vec<_> = other.keys().collect();
            a.sort();
            b.sort();
            assert_eq!(a, b, "keys of zh-CN and {locale}");
            for (k, v) in zh {
                assert_eq!(
                    placeholders(v),
                    placeholders(&other[k]),
                    "placeholders of {k}"
                );
            }
        }
    }

    #[test]
    fn the_language_follows_the_browser_else_chinese() {
        assert_eq!(from_accept_language("en-US,en;q=0.9"), Some("en"));
        assert_eq!(
            from_accept_language("fr;q=0.9, en;q=0.5, zh-CN;q=0.8"),
            Some("zh-CN")
        );
        assert_eq!(from_accept_language("fr"), None);
        assert_eq!(Tr::new("de").locale, "zh-CN");
    }

    #[test]
    fn times_are_in_china_time_and_spans_read_well() {
        let en = Tr::new("en");
        let t = DateTime::parse_from_rfc3339("2026-11-25T07:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(en.time(t), "2026-11-25 15:00");
        // Non-breaking spaces: a span never wraps inside itself.
        assert_eq!(en.span(Duration::minutes(125)), "2\u{a0}h\u{a0}5\u{a0}min");
        assert_eq!(en.span(Duration::hours(-50)), "2\u{a0}d\u{a0}2\u{a0}h");
        assert_eq!(
            Tr::new("zh-CN").span(Duration::minutes(61)),
            "1\u{a0}小时\u{a0}1\u{a0}分"
        );
        assert_eq!(en.f("signed_in_as", &[("name", &"Li")]), "Signed in as Li");
    }
}
