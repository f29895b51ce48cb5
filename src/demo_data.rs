//! Synthetic data for benchmarks and demonstrations (`guthrie generate`): hospitals, infants and
//! open follow-up cases written in large batches. Never run it against a production database:
//! the command refuses when the database already holds infants.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

use crate::db::models::admin::hospital::Hospital;
use crate::db::models::follow_up::case::Case;
use crate::db::models::screening::infant::Infant;
use crate::db::schema::{cases, hospitals, infants};
use crate::db::types::{Json, UtcMicros};
use crate::db::{AnyConnection, write_transaction};
use crate::domain::case::{CaseState, Reason};
use crate::domain::catalogue::{Programme, Tier};
use crate::domain::ids::{CaseId, HospitalId, InfantId};
use crate::domain::infant::{InfantStatus, Sex};
use crate::with_conn;

/// Rows per INSERT (26 columns × 1,000 stays under both backends' bind limits).
const BATCH: usize = 1000;

/// What was generated.
#[derive(Debug, Clone, Copy)]
pub struct Generated {
    /// How many hospitals.
    pub hospitals: usize,
    /// How many infants.
    pub infants: usize,
    /// Open cases (a tenth of them overdue).
    pub open_cases: usize,
}

fn hospital(i: usize, t: UtcMicros) -> Hospital {
    Hospital {
        id: HospitalId::new(),
        code: format!("GEN{i:03}"),
        name: format!("Generated hospital {i}"),
        district: None,
        contact_emails: Json(vec![]),
        active: true,
        created_at: t,
        updated_at: t,
        cchd_protocol: None,
    }
}

fn infant(i: usize, hospital_id: HospitalId, birth: UtcMicros, t: UtcMicros) -> Infant {
    Infant {
        id: InfantId::new(),
        hospital_id,
        mrn: format!("G{i:08}"),
        sex: if i.is_multiple_of(2) {
            Sex::Female
        } else {
            Sex::Male
        },
        birth_at: birth,
        birth_utc_offset_minutes: 480,
        gestational_age_weeks: 39,
        gestational_age_days: (i % 7) as i32,
        birth_weight_g: 2500 + (i % 2000) as i32,
        plurality: 1,
        birth_order: 1,
        nicu_admitted: i.is_multiple_of(50),
        mother_name: format!("母亲{i}"),
        mother_phones: Json(vec!["13800000000".into()]),
        mother_id_type: None,
        mother_id_hash: None,
        mother_id_masked: None,
        address: None,
        status: InfantStatus::Active,
        status_changed_at: None,
        status_note: None,
        created_by: "generator".into(),
        created_at: t,
        updated_at: t,
        contact_problem: false,
        merged_into: None,
        sms_opt_out: false,
        nicu_days: None,
    }
}

fn open_case(n: usize, inf: &Infant, now: DateTime<Utc>, t: UtcMicros) -> Case {
    // A tenth overdue, the rest due over the next two weeks; tiers spread T0–T3.
    let due = if n.is_multiple_of(10) {
        now - Duration::hours(1 + (n % 72) as i64)
    } else {
        now + Duration::minutes((n % 20_000) as i64)
    };
    let tier = [Tier::T0, Tier::T1, Tier::T2, Tier::T3][n % 4];
    Case {
        id: CaseId::new(),
        infant_id: inf.id,
        hospital_id: inf.hospital_id,
        programme: Programme::Dbs,
        reason: Reason::Positive,
        state: CaseState::Open,
        tier,
        suspected: Json(vec!["PKU".into()]),
        catalogue_version: "zj-2023".into(),
        policy_version: "due-2026".into(),
        first_contact_due_at: UtcMicros::new(due - Duration::hours(4)),
        recall_due_at: UtcMicros::new(due),
        assignee: None,
        outcome: None,
        open_key: Some(crate::domain::case::open_key(
            inf.id,
            Programme::Dbs,
            Reason::Positive,
        )),
        version: 1,
        opened_at: t,
        updated_at: t,
        resolved_at: None,
        contact_problem: n.is_multiple_of(25),
        appointment_at: None,
        appointment_place: None,
        next_rung: None,
        next_rung_at: None,
        next_due_at: None,
    }
}

/// Writes `n_hospitals` hospitals, `n_infants` infants (born over the last year) and
/// `n_cases` open cases on distinct infants. Refuses a database that already has infants.
pub fn generate(
    conn: &mut AnyConnection,
    n_hospitals: usize,
    n_infants: usize,
    n_cases: usize,
    now: DateTime<Utc>,
) -> anyhow::Result<Generated> {
    let existing: i64 = infants::table.count().get_result(conn)?;
    if existing > 0 {
        anyhow::bail!(
            "the database already holds {existing} infants; generate only into an empty database"
        );
    }
    let t = UtcMicros::new(now);
    let hs: Vec<Hospital> = (0..n_hospitals.max(1)).map(|i| hospital(i, t)).collect();
    with_conn!(conn, |c| diesel::insert_into(hospitals::table)
        .values(&hs)
        .execute(c))?;
    let mut made_cases = 0;
    for start in (0..n_infants).step_by(BATCH) {
        let batch: Vec<Infant> = (start..(start + BATCH).min(n_infants))
            .map(|i| {
                let birth = UtcMicros::new(now - Duration::minutes((i % 525_600) as i64));
                infant(i, hs[i % hs.len()].id, birth, t)
            })
            .collect();
        let case_batch: Vec<Case> = batch
            .iter()
            .enumerate()
            .filter(|(k, _)| start + k < n_cases)
            .map(|(k, inf)| open_case(start + k, inf, now, t))
            .collect();
        made_cases += case_batch.len();
        write_transaction(conn, |conn| -> anyhow::Result<()> {
            with_conn!(conn, |c| diesel::insert_into(infants::table)
                .values(&batch)
                .execute(c))?;
            if !case_batch.is_empty() {
                with_conn!(conn, |c| diesel::insert_into(cases::table)
                    .values(&case_batch)
                    .execute(c))?;
                crate::db::models::follow_up::case::fill_next_due(conn)?;
            }
            Ok(())
        })?;
    }
    // Rows written here bypass the model functions that keep the quality facts and the phone
    // index.
    crate::services::quality::facts::fill_all(conn)?;
    crate::db::models::screening::phones::fill_all(conn)?;
    // Statistics and (PostgreSQL) a vacuum after the bulk update of `next_due_at`, as a live
    // database would have.
    crate::db::settle(conn)?;
    Ok(Generated {
        hospitals: hs.len(),
        infants: n_infants,
        open_cases: made_cases,
    })
}

/// Opens `n` management episodes (conditions in turn: CH, PKU, HL, CCHD, MMA) for the first
/// `n` generated infants, under `plans`, diagnosed at 10 days of life and treated two days later
/// (when that is past), with every contact of their plan scheduled from birth: contacts whose
/// window closed over a month ago are done, the rest pending with their first rung. Returns the
/// contacts written.
pub fn generate_episodes(
    conn: &mut AnyConnection,
    plans: &crate::domain::management::plan::PlanSet,
    n: usize,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    use crate::db::models::management::contact::Contact;
    use crate::db::models::management::episode::{Episode, open_key};
    use crate::db::schema::{management_contacts, management_episodes};
    use crate::domain::ids::{ContactId, EpisodeId};
    use crate::domain::management::plan::{Anchor, Anchors};
    use crate::domain::management::{ContactRung, EpisodeState, Origin};
    let rows: Vec<(InfantId, HospitalId, UtcMicros)> = infants::table
        .order(infants::id.asc())
        .limit(i64::try_from(n)?)
        .select((infants::id, infants::hospital_id, infants::birth_at))
        .load(conn)?;
    let t = UtcMicros::new(now);
    let mut written = 0;
    for chunk in rows.chunks(200) {
        let (mut eps, mut cs) = (Vec::new(), Vec::new());
        for (k, (infant, hospital, birth)) in chunk.iter().enumerate() {
            let condition = ["CH", "PKU", "HL", "CCHD", "MMA"][k % 5];
            let Some(plan) = plans.plan_for(condition, None) else {
                continue;
            };
            let birth = birth.utc();
            let diagnosis = (birth + Duration::days(10)).min(now);
            let treated = Some(diagnosis + Duration::days(2)).filter(|x| *x <= now);
            let a = Anchors {
                birth,
                diagnosis,
                treatment: treated.filter(|_| plan.treatment_target.is_some()),
            };
            let id = EpisodeId::new();
            eps.push(Episode {
                id,
                infant_id: *infant,
                hospital_id: *hospital,
                case_id: None,
                origin: Origin::Referral,
                condition_code: condition.into(),
                plan_version: plans.version.clone(),
                plan_code: plan.code.clone(),
                state: if a.treatment.is_some() {
                    EpisodeState::UnderFollowUp
                } else {
                    EpisodeState::Registered
                },
                open_key: Some(open_key(*infant, condition)),
                centre: "generated".into(),
                diagnosed_at: UtcMicros::new(diagnosis),
                treatment_due_at: plan.treatment_due(&a).map(UtcMicros::new),
                treatment_started_at: a.treatment.map(UtcMicros::new),
                next_due_at: None,
                flags: 0,
                reported_at: None,
                report_reference: None,
                close_reason: None,
                closure: None,
                closed_at: None,
                version: 1,
                created_by: "generate".into(),
                created_at: UtcMicros::new(diagnosis),
                updated_at: t,
                // A past target without treatment was escalated when it passed.
                treatment_escalated_at: plan
                    .treatment_due(&a)
                    .filter(|d| a.treatment.is_none() && UtcMicros::new(*d) < t)
                    .map(|_| t),
            });
            let l = &plans.escalation;
            for o in plan.schedule(
                &a,
                &[Anchor::Birth, Anchor::Diagnosis, Anchor::Treatment],
                birth,
            ) {
                let done = o.window_end < now - Duration::days(30);
                let r = if now <= o.window_end {
                    ContactRung::M0
                } else {
                    ContactRung::M1
                };
                cs.push(Contact {
                    id: ContactId::new(),
                    episode_id: id,
                    code: o.code,
                    kind: o.kind,
                    seq: o.seq,
                    due_at: UtcMicros::new(o.due_at),
                    window_start: UtcMicros::new(o.window_start),
                    window_end: UtcMicros::new(o.window_end),
                    done_at: done.then(|| UtcMicros::new(o.due_at)),
                    measurements: None,
                    off_target: None,
                    note: None,
                    recorded_by: None,
                    cancelled_at: None,
                    next_rung: (!done).then_some(r),
                    next_rung_at: (!done).then(|| UtcMicros::new(l.at(r, o.due_at, o.window_end))),
                    created_at: t,
                });
            }
        }
        written += cs.len();
        write_transaction(conn, |conn| -> anyhow::Result<()> {
            with_conn!(conn, |c| diesel::insert_into(management_episodes::table)
                .values(&eps)
                .execute(c))?;
            for part in cs.chunks(BATCH / 2) {
                with_conn!(conn, |c| diesel::insert_into(management_contacts::table)
                    .values(part)
                    .execute(c))?;
            }
            Ok(())
        })?;
    }
    crate::db::models::management::episode::fill_next_due(conn)?;
    crate::db::settle(conn)?;
    Ok(written)
}
