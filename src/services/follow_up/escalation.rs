//! The escalation sweep: for every open case whose next rung is due (an indexed column, so the
//! sweep reads only those cases), fire each due rung once — queue its notices, record it with
//! its recipients on the case timeline — and schedule the next one. A rung is recorded under a
//! unique (case, rung) key in the same transaction as its notices, so two sweeps on two servers
//! can never both fire it; a failing case is logged and skipped.

use chrono::{DateTime, Utc};
use diesel::Connection;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;

use crate::config::RecipientSettings;
use crate::db::models::follow_up::case;
use crate::db::models::follow_up::notification::{self, Escalation};
use crate::db::types::{Json, UtcMicros};
use crate::db::{AnyConnection, write_transaction};
use crate::domain::case::{CaseState, EntryKind};
use crate::domain::escalation::{CaseTimes, Rung};
use crate::domain::ids::CaseId;
use crate::domain::notification::{Audience, Channel};
use crate::domain::principal::Principal;
use crate::error::{AppError, ErrorCode};
use crate::notify::outbox::{Outgoing, queue};
use crate::services::follow_up::cases::event;
use crate::services::follow_up::notices::{self, CaseFacts, NoticeContext};

/// What a sweep did.
#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
pub struct SweepReport {
    /// Cases looked at.
    pub cases: usize,
    /// Rungs fired.
    pub rungs_fired: usize,
    /// Notifications queued.
    pub notifications_queued: usize,
    /// Cases that failed (logged, retried next run).
    pub errors: usize,
    /// Cases another server escalated at the same moment (nothing was sent twice).
    pub lost_races: usize,
    /// Staff e-mails due after combining: one per recipient (listing its cases), or the case's
    /// own when it had one.
    pub staff_emails: usize,
}

/// Cases escalated per transaction.
const CHUNK: usize = 100;

/// How long a sweep's staff e-mails are held for combining. The sweep releases or combines
/// them when it ends; if it dies first, they go out one by one after this.
pub const COMBINE_HOLD_SECS: i64 = 300;

/// Open cases with a rung due at `now`, soonest first.
pub fn due_cases(
    conn: &mut AnyConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> QueryResult<Vec<CaseId>> {
    case::due_for_escalation(conn, UtcMicros::new(now), limit)
}

/// Runs the sweep at `now` over at most `limit` due cases per batch, until none is left or
/// `max_batches` batches are done.
pub fn sweep(
    conn: &mut AnyConnection,
    ctx: &NoticeContext,
    now: DateTime<Utc>,
    limit: i64,
    max_batches: usize,
) -> Result<SweepReport, AppError> {
    let who = Principal::job("escalation");
    let mut report = SweepReport::default();
    let mut failed: Vec<CaseId> = Vec::new();
    for _ in 0..max_batches {
        let ids: Vec<CaseId> = due_cases(conn, now, limit + failed.len() as i64)?
            .into_iter()
            .filter(|id| !failed.contains(id))
            .collect();
        if ids.is_empty() {
            break;
        }
        // A transaction per chunk of cases and a savepoint per case: a case that fails (or
        // that another server escalated first) rolls back alone; commits stay few.
        for chunk in ids.chunks(CHUNK) {
            let outcome = write_transaction(conn, |c| -> Result<(), AppError> {
                for id in chunk {
                    report.cases += 1;
                    match c.transaction(|c| escalate(c, ctx, *id, &who, now)) {
                        Ok((rungs, queued)) => {
                            report.rungs_fired += rungs;
                            report.notifications_queued += queued;
                        }
                        Err(e) if e.error_code() == ErrorCode::RungAlreadyFired => {
                            report.lost_races += 1;
                            tracing::debug!(case.id = %id, "another server escalated this case first");
                        }
                        Err(e) => {
                            report.errors += 1;
                            tracing::error!(case.id = %id, error.code = e.code(), error = %e, "escalation failed for a case");
                            failed.push(*id);
                        }
                    }
                }
                Ok(())
            });
            if let Err(e) = outcome {
                // The chunk was rolled back (e.g. a deadlock with another server): its cases
                // stay due and the next run takes them again.
                report.errors += chunk.len();
                tracing::error!(error.code = e.code(), error = %e, "an escalation chunk was rolled back");
                failed.extend(chunk.iter().cloned());
            }
        }
    }
    // One e-mail per staff recipient per sweep.
    let held_until = now + chrono::Duration::seconds(COMBINE_HOLD_SECS);
    report.staff_emails = write_transaction(conn, |c| {
        crate::notify::outbox::combine_staff_emails(c, &ctx.templates, now, held_until)
    })?;
    Ok(report)
}

/// The role, channel and addresses of one rung's notices.
struct Notice {
    role: Audience,
    template: &'static str,
    recipients: Vec<String>,
}

fn district_contacts<'a>(
    r: &'a RecipientSettings,
    district: Option<&str>,
) -> Option<&'a crate::config::DistrictContacts> {
    district
        .and_then(|d| r.districts.iter().find(|x| x.district == d))
        .or_else(|| r.districts.iter().find(|x| x.district == "*"))
}

fn staff_notices(
    conn: &mut AnyConnection,
    ctx: &NoticeContext,
    f: &CaseFacts,
    rung: Rung,
    pages_on_call: bool,
) -> Result<Vec<Notice>, AppError> {
    let r = &ctx.notify.recipients;
    let district = district_contacts(r, f.hospital.district.as_deref());
    Ok(match rung {
        Rung::L0 => {
            let mut v = vec![Notice {
                role: Audience::Hospital,
                template: "case_opened",
                recipients: f.hospital_emails(),
            }];
            if pages_on_call {
                v.push(Notice {
                    role: Audience::OnCall,
                    template: "case_opened",
                    recipients: r.on_call_emails.clone(),
                });
            }
            v
        }
        Rung::L1 => {
            // Only an assignee who may still hold the case is mailed (never another hospital's
            // staff, nor a deactivated account); otherwise the coordinators are.
            let assignee_email = match &f.case.assignee {
                Some(a) => crate::db::models::admin::user::get(conn, *a)?
                    .filter(|u| {
                        crate::services::follow_up::cases::may_hold_case(u, f.case.hospital_id)
                    })
                    .and_then(|u| u.email),
                None => None,
            };
            vec![
                Notice {
                    role: Audience::Hospital,
                    template: "first_contact_overdue",
                    recipients: f.hospital_emails(),
                },
                Notice {
                    role: Audience::Coordinator,
                    template: "first_contact_overdue",
                    recipients: assignee_email
                        .map_or_else(|| r.coordinator_emails.clone(), |m| vec![m]),
                },
            ]
        }
        Rung::L2 => vec![Notice {
            role: Audience::Supervisor,
            template: "recall_overdue",
            recipients: r.supervisor_emails.clone(),
        }],
        Rung::L3 => vec![Notice {
            role: Audience::DistrictMch,
            template: "home_visit_request",
            recipients: district.map(|d| d.mch_emails.clone()).unwrap_or_default(),
        }],
        Rung::L4 => vec![Notice {
            role: Audience::HealthBureau,
            template: "lost_to_follow_up_risk",
            recipients: district
                .map(|d| d.bureau_emails.clone())
                .unwrap_or_default(),
        }],
    })
}

/// Fires the due rungs of one case; returns (rungs fired, notifications queued).
fn escalate(
    conn: &mut AnyConnection,
    ctx: &NoticeContext,
    case_id: CaseId,
    who: &Principal,
    now: DateTime<Utc>,
) -> Result<(usize, usize), AppError> {
    let Some(f) = notices::load(conn, ctx, case_id, now)? else {
        return Ok((0, 0));
    };
    let clear = |conn: &mut AnyConnection, next: Option<(Rung, DateTime<Utc>)>| {
        case::set_next_rung(conn, case_id, next.map(|(r, t)| (r, UtcMicros::new(t))))
    };
    if f.case.open_key.is_none() || f.case.state == CaseState::Resolved {
        clear(conn, None)?;
        return Ok((0, 0));
    }
    let ladder = f.policy.escalation.clone();
    let mut fired: Vec<Rung> = notification::escalations_of(conn, case_id)?
        .iter()
        .map(|e| e.rung)
        .collect();
    let times = CaseTimes {
        tier: f.tier,
        opened_at: f.case.opened_at.utc(),
        first_contact_due_at: f.case.first_contact_due_at.utc(),
        recall_due_at: f.case.recall_due_at.utc(),
        contacted: f.case.state != CaseState::Open,
    };
    let (mut rungs, mut queued) = (0, 0);
    let staff_locale = ctx.notify.staff_locale.clone();
    for rung in ladder.due(&fired, &times, now) {
        let base = format!("esc:{case_id}:{}", rung.as_str());
        let mut summary = Vec::new();
        let mut missing = Vec::new();
        if rung == Rung::L0 {
            let n =
                notices::queue_family_sms(conn, ctx, &f, "family_recall", base.clone(), who, now)?;
            summary.push(json!({"role": "family", "channel": "sms", "count": n}));
            queued += n;
        }
        for n in staff_notices(conn, ctx, &f, rung, ladder.pages_on_call(f.tier))? {
            if n.recipients.is_empty() {
                missing.push(n.role);
                continue;
            }
            let o = Outgoing {
                dedup_base: base.clone(),
                case_id: Some(case_id),
                hospital_id: Some(f.case.hospital_id),
                template: n.template,
                channel: Channel::Email,
                role: n.role,
                recipients: n.recipients,
                vars: f.staff_vars(ctx, &staff_locale, rung.as_str()),
                locale: staff_locale.clone(),
                // Held for the sweep's end, which combines them per recipient.
                not_before: now + chrono::Duration::seconds(COMBINE_HOLD_SECS),
            };
            let k = queue(conn, &ctx.templates, &o, now)?;
            summary.push(json!({"role": n.role, "channel": Channel::Email, "count": k}));
            queued += k;
        }
        let recorded = notification::insert_escalation(
            conn,
            &Escalation {
                case_id,
                rung,
                fired_at: UtcMicros::new(now),
                recipients: Json(summary.clone()),
            },
        )?;
        if !recorded {
            // Another sweep fired it first: undo everything this one queued.
            return Err(AppError::conflict(
                ErrorCode::RungAlreadyFired,
                None,
                "another sweep escalated this case",
            ));
        }
        if !missing.is_empty() {
            tracing::warn!(case.id = %case_id, rung = rung.as_str(), roles = ?missing, "escalation rung has recipients with no address configured");
        }
        let mut detail = json!({"rung": rung.as_str(), "recipients": summary, "unconfigured": missing,
                                "due_at": ladder.at(rung, &times)});
        if rung == Rung::L4 {
            detail["proposed_outcome"] = json!("lost_to_follow_up");
        }
        case::insert_event(
            conn,
            &event(
                case_id,
                EntryKind::Escalation,
                None,
                None,
                detail,
                &who.key(),
                now,
            ),
        )?;
        fired.push(rung);
        rungs += 1;
    }
    clear(conn, ladder.next(&fired, &times))?;
    Ok((rungs, queued))
}
