//! The management contact sweep: for every pending follow-up contact whose next rung is due
//! (an indexed column), fire each due rung once — the family's SMS reminder before the due day
//! (M0), the hospital and the coordinators once the window has closed (M1), the district MCH
//! institution for a home visit later (M2) — record it on the episode's timeline and schedule
//! the next. Recording the contact clears its schedule, so the ladder stops there.
//!
//! As in the case sweep, a chunk is claimed in one statement (rows another server's sweep holds
//! are skipped), its notices written with one multi-row insert, and each rung recorded under a
//! unique (contact, rung) key in the same transaction, so a rung can never fire twice.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::json;

use crate::db::models::admin::hospital;
use crate::db::models::follow_up::notification;
use crate::db::models::management::contact::{self, ContactEscalation, DueContact};
use crate::db::models::management::history;
use crate::db::models::screening::infant;
use crate::db::types::{Json, UtcMicros};
use crate::db::{AnyConnection, DbPool, write_transaction};
use crate::domain::catalogue::Programme;
use crate::domain::ids::{ContactId, HospitalId, InfantId};
use crate::domain::infant::InfantStatus;
use crate::domain::management::ContactRung;
use crate::domain::management::plan::PlanSet;
use crate::domain::notification::{Audience, Channel};
use crate::domain::principal::Principal;
use crate::error::{AppError, ErrorCode};
use crate::notify::outbox::{self, Outgoing, after_quiet_hours};
use crate::services::follow_up::notices::NoticeContext;
use crate::services::management::episodes::event;
use crate::services::management::treatment_targets;

/// What a sweep did.
#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
pub struct ContactSweepReport {
    /// Episodes whose treatment-start target passed without treatment, escalated now.
    pub treatment_targets_missed: usize,
    /// Contacts looked at.
    pub contacts: usize,
    /// Rungs fired.
    pub rungs_fired: usize,
    /// Notifications queued.
    pub notifications_queued: usize,
    /// Chunks that failed (logged, retried next run).
    pub errors: usize,
}

/// Sweeps at `now` in chunks of `limit` until none is due or `max_batches` are done.
pub fn sweep(
    pool: &DbPool,
    ctx: &NoticeContext,
    now: DateTime<Utc>,
    limit: i64,
    max_batches: usize,
) -> Result<ContactSweepReport, AppError> {
    let mut conn = pool
        .get()
        .map_err(|e| AppError::Unavailable(e.to_string()))?;
    let tz: Tz = crate::services::admin::policy::current(&ctx.policies, now)?
        .tz()
        .unwrap_or(chrono_tz::Asia::Shanghai);
    let mut report = ContactSweepReport::default();
    for _ in 0..max_batches {
        let outcome = write_transaction(&mut conn, |c| {
            treatment_targets::escalate_chunk(c, ctx, tz, now, limit)
        });
        match outcome {
            Ok((n, queued)) => {
                report.treatment_targets_missed += n;
                report.notifications_queued += queued;
                if n < usize::try_from(limit).unwrap_or(usize::MAX) {
                    break;
                }
            }
            Err(e) => {
                report.errors += 1;
                tracing::error!(error.code = e.code(), error = %e, "management treatment-target chunk failed");
                break;
            }
        }
    }
    for _ in 0..max_batches {
        let mut n = 0;
        let outcome = write_transaction(&mut conn, |c| -> Result<(usize, usize), AppError> {
            let due = contact::claim_due(c, UtcMicros::new(now), limit)?;
            n = due.len();
            escalate(c, ctx, tz, &due, now)
        });
        match outcome {
            Ok((rungs, queued)) => {
                report.contacts += n;
                report.rungs_fired += rungs;
                report.notifications_queued += queued;
            }
            Err(e) => {
                report.errors += 1;
                tracing::error!(error.code = e.code(), error = %e, "management contact sweep chunk failed");
                break;
            }
        }
        if n < usize::try_from(limit).unwrap_or(usize::MAX) {
            break;
        }
    }
    Ok(report)
}

fn plans_of(ctx: &NoticeContext, version: &str) -> Result<Arc<PlanSet>, AppError> {
    crate::services::management::plans::version(&ctx.plans, version)
}

fn programme_of(condition: &str) -> Programme {
    match condition {
        "HL" | "HL-RISK" => Programme::Hear,
        "CCHD" => Programme::Cchd,
        _ => Programme::Dbs,
    }
}

fn escalate(
    conn: &mut AnyConnection,
    ctx: &NoticeContext,
    tz: Tz,
    due: &[DueContact],
    now: DateTime<Utc>,
) -> Result<(usize, usize), AppError> {
    if due.is_empty() {
        return Ok((0, 0));
    }
    let who = Principal::job("management_contacts");
    let ids: Vec<ContactId> = due.iter().map(|d| d.contact.id).collect();
    let mut fired: HashMap<ContactId, Vec<ContactRung>> = HashMap::new();
    for (id, r) in contact::fired(conn, &ids)? {
        fired.entry(id).or_default().push(r);
    }
    let infant_ids: Vec<InfantId> = due.iter().map(|d| d.infant_id).collect();
    let hospital_ids: Vec<HospitalId> = due.iter().map(|d| d.hospital_id).collect();
    let infants = infant::get_many(conn, &infant_ids)?;
    let hospitals = hospital::get_many(conn, &hospital_ids)?;
    let (mut rows, mut escalations, mut events, mut schedule) = (vec![], vec![], vec![], vec![]);
    let at = UtcMicros::new(now);
    let local = |t: UtcMicros| t.utc().with_timezone(&tz).format("%Y-%m-%d").to_string();
    for d in due {
        let c = &d.contact;
        let set = plans_of(ctx, &d.plan_version)?;
        let ladder = &set.escalation;
        let mut done = fired.remove(&c.id).unwrap_or_default();
        let (due_at, end) = (c.due_at.utc(), c.window_end.utc());
        let (Some(inf), Some(hosp)) = (infants.get(&d.infant_id), hospitals.get(&d.hospital_id))
        else {
            schedule.push((c.id, None));
            continue;
        };
        let infant_ref = crate::domain::infant::infant_ref(&hosp.code, &inf.mrn);
        let contact_name = set.plan(&d.plan_code).map_or_else(
            || c.code.clone(),
            |p| format!("{} {} #{}", p.name, c.code, c.seq),
        );
        for rung in ladder.due(&done, due_at, end, now) {
            let base = format!("mgmt:{}:{}", c.id, rung.as_str());
            let staff_vars = || {
                std::collections::BTreeMap::from([
                    ("episode_ref", c.episode_id.to_string()[..8].to_string()),
                    ("infant_ref", infant_ref.clone()),
                    ("hospital", hosp.name.clone()),
                    (
                        "district",
                        hosp.district.clone().unwrap_or_else(|| "—".into()),
                    ),
                    ("condition", d.condition_code.clone()),
                    ("contact", contact_name.clone()),
                    ("due_date", local(c.due_at)),
                    ("window_end", local(c.window_end)),
                    ("rung", rung.as_str().to_string()),
                ])
            };
            let r = &ctx.notify.recipients;
            let staff_locale = ctx.notify.staff_locale.clone();
            let mut outs: Vec<Outgoing> = Vec::new();
            match rung {
                ContactRung::M0 => {
                    let reachable = inf.status == InfantStatus::Active
                        && inf.merged_into.is_none()
                        && !inf.sms_opt_out;
                    if reachable {
                        let locale = ctx.notify.family_locale.clone();
                        let p = |s: &str| NaiveTime::parse_from_str(s, "%H:%M").ok();
                        let send_at = match (
                            p(&ctx.notify.quiet_hours_start),
                            p(&ctx.notify.quiet_hours_end),
                        ) {
                            (Some(s), Some(e)) => after_quiet_hours(now, tz, s, e),
                            _ => now,
                        };
                        outs.push(Outgoing {
                            dedup_base: base.clone(),
                            case_id: None,
                            hospital_id: Some(d.hospital_id),
                            template: "management_contact_due",
                            channel: Channel::Sms,
                            role: Audience::Family,
                            recipients: inf.phones(),
                            vars: std::collections::BTreeMap::from([
                                ("infant_ref", infant_ref.clone()),
                                ("hospital", hosp.name.clone()),
                                ("due_date", local(c.due_at)),
                                ("appointment", "—".to_string()),
                                ("place", hosp.name.clone()),
                                (
                                    "bring",
                                    ctx.templates
                                        .bring(&locale, programme_of(&d.condition_code).as_str()),
                                ),
                                ("centre_phone", ctx.notify.centre_phone.clone()),
                            ]),
                            locale,
                            not_before: send_at,
                        });
                    }
                }
                ContactRung::M1 => {
                    for (role, to) in [
                        (Audience::Hospital, hosp.emails()),
                        (Audience::Coordinator, r.coordinator_emails.clone()),
                    ] {
                        outs.push(Outgoing {
                            dedup_base: base.clone(),
                            case_id: None,
                            hospital_id: Some(d.hospital_id),
                            template: "management_contact_overdue",
                            channel: Channel::Email,
                            role,
                            recipients: to,
                            vars: staff_vars(),
                            locale: staff_locale.clone(),
                            not_before: now,
                        });
                    }
                }
                ContactRung::M2 => {
                    let district = hosp.district.as_deref();
                    let to = district
                        .and_then(|x| r.districts.iter().find(|y| y.district == x))
                        .or_else(|| r.districts.iter().find(|y| y.district == "*"))
                        .map(|x| x.mch_emails.clone())
                        .unwrap_or_default();
                    outs.push(Outgoing {
                        dedup_base: base.clone(),
                        case_id: None,
                        hospital_id: Some(d.hospital_id),
                        template: "management_home_visit",
                        channel: Channel::Email,
                        role: Audience::DistrictMch,
                        recipients: to,
                        vars: staff_vars(),
                        locale: staff_locale.clone(),
                        not_before: now,
                    });
                }
            }
            let mut summary = Vec::new();
            for o in &outs {
                let rs = outbox::rows(&ctx.templates, o, now)?;
                summary.push(json!({"role": o.role, "channel": o.channel, "count": rs.len()}));
                rows.extend(rs);
            }
            escalations.push(ContactEscalation {
                contact_id: c.id,
                rung,
                fired_at: at,
                recipients: Json(summary.clone()),
            });
            events.push(event(
                c.episode_id,
                "contact_escalated",
                json!({"contact_id": c.id, "code": c.code, "seq": c.seq, "rung": rung, "recipients": summary}),
                &who,
                now,
            ));
            done.push(rung);
        }
        schedule.push((
            c.id,
            ladder
                .next(&done, due_at, end, now)
                .map(|(r, t)| (r, UtcMicros::new(t))),
        ));
    }
    let queued = notification::enqueue_all(conn, &rows)?.len();
    if contact::record_escalations(conn, &escalations)? != escalations.len() {
        return Err(AppError::conflict(
            ErrorCode::RungAlreadyFired,
            None,
            "another sweep escalated this contact",
        ));
    }
    history::insert_events(conn, &events)?;
    for (id, next) in schedule {
        contact::set_next_rung(conn, id, next)?;
    }
    Ok((escalations.len(), queued))
}
