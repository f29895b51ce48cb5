//! Keeping the quality facts tables (`quality_infant_facts`, `quality_card_facts`) whole: every
//! write refreshes its infant's facts (`db::models::quality::facts::touch`); this fills them when
//! they are missing at start-up and rebuilds them month by month (the weekly `quality_facts`
//! job), counting any that had drifted.

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};

use crate::db::models::quality::facts::{self as facts, Scope};
use crate::db::{AnyConnection, write_transaction};
use crate::error::AppError;

/// What a rebuild did.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Rebuilt {
    /// Months of births recomputed.
    pub months: usize,
    /// Infants whose kept facts differed from the recompute (and are now corrected).
    pub infants_corrected: i64,
}

/// Recomputes the facts of every infant, one month of births per transaction (the facts of a
/// month are replaced at once, so a report never sees a half-built month), counting the
/// infants whose kept facts had drifted.
pub fn rebuild_all(conn: &mut AnyConnection) -> Result<Rebuilt, AppError> {
    rebuild(conn, true)
}

/// Computes the facts of every infant without comparing them with what is kept (they are
/// missing, or the rows were loaded by SQL); returns the months of births.
pub fn fill_all(conn: &mut AnyConnection) -> Result<usize, AppError> {
    Ok(rebuild(conn, false)?.months)
}

fn rebuild(conn: &mut AnyConnection, counting: bool) -> Result<Rebuilt, AppError> {
    let mut out = Rebuilt::default();
    let Some((lo, hi)) = facts::birth_range(conn)? else {
        return Ok(out);
    };
    let mut from = month_start(lo);
    while from <= hi {
        let next = month_start(from + Duration::days(32));
        let scope = Scope::Born(from, next);
        out.infants_corrected += write_transaction(conn, |conn| {
            if counting {
                facts::refresh_counting(conn, &scope)
            } else {
                facts::refresh(conn, &scope).map(|()| 0)
            }
        })?;
        out.months += 1;
        from = next;
    }
    Ok(out)
}

/// Midnight UTC on the first of `t`'s month.
fn month_start(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(t.year(), t.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(t)
}

/// Fills the facts tables when some infant has none (first start after the tables were added).
pub fn ensure_built(conn: &mut AnyConnection) -> Result<(), AppError> {
    if facts::incomplete(conn)? {
        let t = std::time::Instant::now();
        let months = fill_all(conn)?;
        tracing::info!(
            months,
            seconds = t.elapsed().as_secs_f64(),
            "quality facts filled: some infants had none"
        );
    }
    Ok(())
}
