//! Loads what the management report needs (episodes open in the period with their infants'
//! births and their contacts, screen positives, overdue contacts) and computes it with
//! [`crate::domain::management::report`], for the whole scope and per hospital.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::AnyConnection;
use crate::db::models::management::report::{ReportRows, load};
use crate::domain::ids::HospitalId;
use crate::domain::management::ContactRung;
use crate::domain::management::report::{EpisodeFacts, Figures, figures};
use crate::domain::principal::Scope;
use crate::error::AppError;

/// One hospital's figures.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HospitalFigures {
    /// Hospital.
    pub hospital_id: HospitalId,
    /// Its name.
    pub hospital: String,
    /// District.
    pub district: Option<String>,
    /// Its figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// Overdue contacts of one hospital at one rung.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OverdueCount {
    /// Hospital.
    pub hospital_id: HospitalId,
    /// The highest rung fired so far (`none`, `M0`, `M1`, `M2`).
    pub rung_reached: String,
    /// Contacts past their window, not done.
    pub contacts: u64,
}

/// The report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ManagementReport {
    /// Whole scope.
    pub total: Figures,
    /// Per hospital.
    pub by_hospital: Vec<HospitalFigures>,
    /// Overdue contacts now, by hospital and rung reached.
    pub overdue_contacts: Vec<OverdueCount>,
}

/// Computes the report for `[start, end)` at `now`.
pub fn build(
    conn: &mut AnyConnection,
    scope: &Scope,
    hospital: Option<HospitalId>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<ManagementReport, AppError> {
    let scope = match hospital {
        Some(h) => scope.narrowed_to(h),
        None => *scope,
    };
    let ReportRows {
        facts,
        found_by,
        hospitals: hs,
        overdue: over,
    } = load(conn, &scope, start, end, now)?;
    let total = figures(&facts, found_by.len() as u64, start, end, now);
    let by_hospital = hs
        .into_iter()
        .filter_map(|(id, name, district)| {
            let key = id.to_string();
            let mine: Vec<EpisodeFacts> = facts
                .iter()
                .filter(|f| f.hospital == key)
                .cloned()
                .collect();
            let found = found_by.iter().filter(|h| **h == id).count() as u64;
            (found > 0 || !mine.is_empty()).then(|| HospitalFigures {
                hospital_id: id,
                hospital: name,
                district,
                figures: figures(&mine, found, start, end, now),
            })
        })
        .collect();
    let mut counts: BTreeMap<(HospitalId, &'static str), u64> = BTreeMap::new();
    for (h, next) in over {
        let reached = match next {
            Some(ContactRung::M0) => "none",
            Some(ContactRung::M1) => "M0",
            Some(ContactRung::M2) => "M1",
            None => "M2",
        };
        *counts.entry((h, reached)).or_default() += 1;
    }
    Ok(ManagementReport {
        total,
        by_hospital,
        overdue_contacts: counts
            .into_iter()
            .map(|((hospital_id, r), contacts)| OverdueCount {
                hospital_id,
                rung_reached: r.into(),
                contacts,
            })
            .collect(),
    })
}
