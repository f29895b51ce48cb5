//! Identity documents of the mother. The number itself is never stored or returned: Guthrie keeps
//! a keyed hash (so records can be matched) and a masked form (so staff can tell two apart).

use serde::{Deserialize, Serialize};

/// Kind of identity document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdDocumentType {
    /// 18-character PRC resident identity card (居民身份证), checksum verified.
    ResidentId,
    /// Passport of any country.
    Passport,
    /// Any other document (Hong Kong/Macao/Taiwan permits, residence permits, …).
    Other,
}

super::text_enum!(IdDocumentType {
    ResidentId = "resident_id",
    Passport = "passport",
    Other = "other",
});

/// Check-digit weights and characters of GB 11643-1999 (ISO 7064 MOD 11-2).
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: &[u8; 11] = b"10X98765432";

/// Normalises a document number (trim, remove spaces, upper-case) and checks it.
/// Returns the normalised number or a message for the client (which never repeats the number).
pub fn normalise(kind: IdDocumentType, raw: &str) -> Result<String, &'static str> {
    let n: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    match kind {
        IdDocumentType::ResidentId => {
            if resident_id_is_valid(&n) {
                Ok(n)
            } else {
                Err(
                    "is not a valid 18-character resident ID number (length, birth date or check digit)",
                )
            }
        }
        IdDocumentType::Passport | IdDocumentType::Other => {
            if (4..=32).contains(&n.len())
                && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                Ok(n)
            } else {
                Err("must be 4 to 32 letters, digits or hyphens")
            }
        }
    }
}

/// Validates the structure, embedded birth date and check digit of a resident ID number.
pub fn resident_id_is_valid(n: &str) -> bool {
    let b = n.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let date = &n[6..14];
    if chrono::NaiveDate::parse_from_str(date, "%Y%m%d").is_err() {
        return false;
    }
    let sum: u32 = b[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    CHECK_CHARS.get((sum % 11) as usize) == Some(&b[17])
}

/// The masked form shown in the API: the first 3 and last 4 characters of a resident ID
/// (`330***********123X`); the last 3 of other documents.
pub fn mask(kind: IdDocumentType, normalised: &str) -> String {
    let chars: Vec<char> = normalised.chars().collect();
    let (head, tail) = match kind {
        IdDocumentType::ResidentId => (3, 4),
        _ => (0, 3),
    };
    let n = chars.len();
    if n <= head + tail {
        return "*".repeat(n);
    }
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < head || i >= n - tail { *c } else { '*' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // A syntactically valid, made-up number (check digit computed by the rule above).
    const VALID: &str = "11010519491231002X";

    #[test]
    fn accepts_valid_checksum_and_normalises() {
        assert!(resident_id_is_valid(VALID));
        assert_eq!(
            normalise(IdDocumentType::ResidentId, " 11010519491231002x ").unwrap(),
            VALID
        );
    }

    #[test]
    fn rejects_bad_check_digit_date_or_length() {
        assert!(!resident_id_is_valid("110105194912310021"));
        assert!(!resident_id_is_valid("110105194913310028")); // month 13
        assert!(!resident_id_is_valid("11010519491231002"));
        assert!(normalise(IdDocumentType::ResidentId, "abc").is_err());
    }

    #[test]
    fn masks_all_but_the_edges() {
        assert_eq!(
            mask(IdDocumentType::ResidentId, VALID),
            "110***********002X"
        );
        assert_eq!(mask(IdDocumentType::Passport, "E12345678"), "******678");
        assert_eq!(mask(IdDocumentType::Other, "AB"), "**");
    }

    #[test]
    fn other_documents_need_plain_characters() {
        assert_eq!(
            normalise(IdDocumentType::Passport, "e 1234567").unwrap(),
            "E1234567"
        );
        assert!(normalise(IdDocumentType::Passport, "12;DROP").is_err());
    }
}
