//! SQLite's timestamp text, written and read without chrono's format interpreter. Diesel stores
//! a `TIMESTAMP` in SQLite as `%F %T%.f` text (`2026-12-07 06:36:02.123456`) and reads it by
//! trying a list of formats in turn; both walk a format string for every value, and the
//! everyday writes bind dozens of timestamps per request (a card's 40 values carry two each):
//! chrono's formatting was 4.6 % of the SQLite writer thread's time. Here the common shape is
//! written and read directly, the same text to the byte (the unit tests compare with chrono);
//! anything else (a year outside 0–9999, a leap second, another stored shape) goes to chrono.

use std::fmt::Write;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// `at` as diesel writes it for SQLite (`%F %T%.f`): no fraction when it is zero, else 3, 6
/// or 9 digits, the fewest that hold it.
pub fn format(at: &NaiveDateTime) -> String {
    let (year, nanos) = (at.year(), at.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        return at.format("%F %T%.f").to_string();
    }
    let mut out = String::with_capacity(26);
    let _ = write!(
        out,
        "{year:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        at.month(),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    );
    let _ = match nanos {
        0 => Ok(()),
        n if n % 1_000_000 == 0 => write!(out, ".{:03}", n / 1_000_000),
        n if n % 1_000 == 0 => write!(out, ".{:06}", n / 1_000),
        n => write!(out, ".{n:09}"),
    };
    out
}

/// `YYYY-MM-DD HH:MM:SS` with an optional `.` and 1–9 fraction digits, the shape [`format`]
/// writes; `None` for any other text (the caller then asks chrono).
pub fn parse(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b' ' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let year = i32::try_from(num(0, 4)?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, num(5, 7)?, num(8, 10)?)?;
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            let n = num(20, b.len())?;
            n * 10u32.pow(9 - u32::try_from(digits.len()).ok()?)
        }
        _ => return None,
    };
    // Seconds up to 59 only: a leap second's text goes to chrono.
    if second > 59 {
        return None;
    }
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?;
    Some(NaiveDateTime::new(date, time))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    /// Byte for byte what chrono's `%F %T%.f` writes, and read back to the same instant, over
    /// every fraction shape and a spread of dates.
    #[test]
    fn writes_what_chrono_writes_and_reads_it_back() {
        let mut cases: Vec<NaiveDateTime> = [
            "2026-12-07 06:36:02",
            "2026-12-07 06:36:02.5",
            "2026-12-07 06:36:02.120",
            "2026-12-07 06:36:02.123456",
            "2026-12-07 06:36:02.000001",
            "2026-12-07 06:36:02.123456789",
            "0001-01-01 00:00:00",
            "9999-12-31 23:59:59.999999",
            "2024-02-29 12:00:00.010",
        ]
        .iter()
        .map(|s| at(s))
        .collect();
        // A walk over many instants: steps that are not round in any unit.
        let mut t = at("1999-03-04 05:06:07.000008");
        for _ in 0..5_000 {
            t += chrono::Duration::nanoseconds(7_654_321_987_013);
            cases.push(t);
            cases.push(t.with_nanosecond(t.nanosecond() / 1_000 * 1_000).unwrap());
            cases.push(
                t.with_nanosecond(t.nanosecond() / 1_000_000 * 1_000_000)
                    .unwrap(),
            );
        }
        for c in cases {
            let text = format(&c);
            assert_eq!(text, c.format("%F %T%.f").to_string());
            assert_eq!(parse(&text), Some(c), "{text}");
        }
    }

    /// Other text is left to chrono: the caller's fallback decides.
    #[test]
    fn other_shapes_are_not_read_here() {
        for text in [
            "2026-12-07T06:36:02",
            "2026-12-07 06:36",
            "2026-12-07 06:36:02.",
            "2026-12-07 06:36:02.1234567890",
            "2026-13-07 06:36:02",
            "2026-12-07 06:36:60",
            "2026-12-07 06:36:02Z",
            "+12026-12-07 06:36:02",
            "2459000.5",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
        // Outside the four-digit years chrono writes them.
        let far = NaiveDate::from_ymd_opt(12026, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        assert_eq!(format(&far), far.format("%F %T%.f").to_string());
    }
}
