//! Field-level validation errors, collected so a client sees every problem at once.

use std::collections::BTreeMap;

/// Messages per field path (e.g. `birth_weight_g`, `mother.phones[1]`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldErrors(pub BTreeMap<String, Vec<String>>);

impl FieldErrors {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a message against a field.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_default().push(message.into());
    }

    /// A single-field error.
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new();
        e.add(field, message);
        e
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when empty, otherwise `Err(self)`.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }

    /// Checks that a trimmed text is present and at most `max` characters; returns it trimmed.
    pub fn text(&mut self, field: &str, value: &str, max: usize) -> String {
        let v = value.trim();
        if v.is_empty() {
            self.add(field, "must not be empty");
        } else if v.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
        }
        v.to_string()
    }

    /// Checks that `value` lies in `min..=max`.
    pub fn range(&mut self, field: &str, value: i64, min: i64, max: i64, unit: &str) {
        if value < min || value > max {
            self.add(field, format!("must be between {min} and {max}{unit}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_per_field() {
        let mut e = FieldErrors::new();
        assert_eq!(e.text("name", "  Li  ", 10), "Li");
        e.text("mrn", "   ", 10);
        e.range("weight", 100, 200, 7000, " g");
        e.range("weeks", 30, 20, 45, "");
        assert_eq!(e.0.len(), 2);
        assert_eq!(e.0["weight"], vec!["must be between 200 and 7000 g"]);
        assert!(e.into_result().is_err());
    }
}
