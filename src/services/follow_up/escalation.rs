//! The escalation sweep: for every open case whose next rung is due (an indexed column, so the
//! sweep reads only those cases), fire each due rung once — queue its notices, record it with
//! its recipients on the case timeline — and schedule the next one.
//!
//! The work is set-wise, a chunk of cases per transaction: the chunk is claimed in one statement
//! (row locks another server's sweep skips), loaded in three queries and written with multi-row
//! inserts and one schedule update. A rung is recorded under a unique (case, rung) key in the
//! same transaction as its notices, so two sweeps can never both fire it; should a chunk fail
//! (a lost race, a case that cannot be processed), it is rolled back and redone one case at a
//! time, so a failing case is logged and skipped alone.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use crate::config::RecipientSettings;
use crate::db::models::admin::user::{self, User};
use crate::db::models::follow_up::notification::{self, Escalation};
use crate::db::models::follow_up::sweep;
use crate::db::types::{Json, UtcMicros};
use crate::db::{AnyConnection, DbPool, write_transaction};
use crate::domain::case::{CaseState, EntryKind};
use crate::domain::escalation::{CaseTimes, Rung};
use crate::domain::ids::{CaseId, NotificationId, UserId};
use crate::domain::notification::{Audience, Channel};
use crate::domain::principal::Principal;
use crate::error::{AppError, ErrorCode};
use crate::notify::outbox::{self, Outgoing};
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

/// How long a sweep's staff e-mails are held for combining. The sweep releases or combines
/// them when it ends; if it dies first, they go out one by one after this.
pub const COMBINE_HOLD_SECS: i64 = 300;

/// Connections a PostgreSQL sweep works on at once: the claims skip each other's locked rows,
/// so the chunks are disjoint, and the application's CPU time overlaps the database's.
pub const WORKERS: usize = 2;

/// Runs the sweep at `now`: chunks of at most `limit` due cases, claimed and escalated on up to
/// `workers` pooled connections at once (give 1 on SQLite, which has one writer; see
/// `db::sql::writers`), until none is left or `max_batches` chunks are done; then combines the
/// staff e-mails it queued.
pub fn sweep(
    pool: &DbPool,
    ctx: &NoticeContext,
    now: DateTime<Utc>,
    limit: i64,
    max_batches: usize,
    workers: usize,
) -> Result<SweepReport, AppError> {
    let mut conn = pool
        .get()
        .map_err(|e| AppError::Unavailable(e.to_string()))?;
    let workers = workers.max(1);
    let failed = Mutex::new(Vec::new());
    let batches = max_batches.div_ceil(workers);
    let mut report = std::thread::scope(|scope| {
        // Extra connections only when the pool has them idle: a busy pool means a smaller
        // sweep, never a stalled one.
        let helpers: Vec<_> = (1..workers)
            .filter_map(|_| pool.try_get())
            .map(|mut c| {
                let failed = &failed;
                scope.spawn(move || chunks(&mut c, ctx, now, limit, batches, failed))
            })
            .collect();
        let mut report = chunks(&mut conn, ctx, now, limit, batches, &failed);
        for h in helpers {
            match h.join() {
                Ok(r) => report.merge(r),
                Err(_) => report.errors += 1,
            }
        }
        report
    });
    // One e-mail per staff recipient per sweep.
    let held_until = now + chrono::Duration::seconds(COMBINE_HOLD_SECS);
    report.staff_emails = write_transaction(&mut conn, |c| {
        crate::notify::outbox::combine_staff_emails(c, &ctx.templates, now, held_until)
    })?;
    Ok(report)
}

/// One worker's share of a sweep: claims and escalates chunks until none is due (leaving out the
/// cases that failed in this sweep) or `max_batches` are done.
fn chunks(
    conn: &mut AnyConnection,
    ctx: &NoticeContext,
    now: DateTime<Utc>,
    limit: i64,
    max_batches: usize,
    failed: &Mutex<Vec<CaseId>>,
) -> SweepReport {
    let who = Principal::job("escalation");
    let at = UtcMicros::new(now);
    let mut report = SweepReport::default();
    for _ in 0..max_batches {
        let skip = failed.lock().map(|f| f.clone()).unwrap_or_default();
        let mut claimed: Vec<CaseId> = Vec::new();
        let outcome = write_transaction(conn, |c| -> Result<Fired, AppError> {
            claimed = sweep::claim_due(c, at, limit, &skip)?;
            escalate(c, ctx, &claimed, &who, now)
        });
        if claimed.is_empty() {
            if let Err(e) = outcome {
                report.errors += 1;
                tracing::error!(error.code = e.code(), error = %e, "claiming due escalations failed");
            }
            break;
        }
        match outcome {
            Ok(f) => {
                report.cases += claimed.len();
                report.add(f);
            }
            Err(e) => {
                // Counted as each is redone: another worker may claim some of them first.
                tracing::warn!(
                    error.code = e.code(),
                    cases = claimed.len(),
                    "an escalation chunk was rolled back; redoing it case by case"
                );
                for id in claimed {
                    one_case(conn, ctx, id, &who, now, &mut report, failed);
                }
            }
        }
    }
    report
}

/// Escalates one case in its own transaction (after its chunk failed): counted in the report's
/// cases when this worker claimed it (a failed chunk's cases are not: another worker may have
/// claimed and counted some of them meanwhile); a lost race is counted, a failure logged and the
/// case left out of the rest of the sweep.
fn one_case(
    conn: &mut AnyConnection,
    ctx: &NoticeContext,
    id: CaseId,
    who: &Principal,
    now: DateTime<Utc>,
    report: &mut SweepReport,
    failed: &Mutex<Vec<CaseId>>,
) {
    let mut claimed = false;
    let outcome = write_transaction(conn, |c| -> Result<Fired, AppError> {
        if !sweep::claim_case(c, id, UtcMicros::new(now))? {
            return Ok(Fired::default());
        }
        claimed = true;
        escalate(c, ctx, &[id], who, now)
    });
    if claimed {
        report.cases += 1;
    }
    match outcome {
        Ok(f) => report.add(f),
        Err(e) if e.error_code() == ErrorCode::RungAlreadyFired => {
            report.lost_races += 1;
            tracing::debug!(case.id = %id, "another server escalated this case first");
        }
        Err(e) => {
            report.errors += 1;
            tracing::error!(case.id = %id, error.code = e.code(), error = %e, "escalation failed for a case");
            if let Ok(mut f) = failed.lock() {
                f.push(id);
            }
        }
    }
}

/// Rungs fired and notifications queued by a chunk.
#[derive(Debug, Default)]
struct Fired {
    rungs: usize,
    queued: usize,
}

impl SweepReport {
    fn add(&mut self, f: Fired) {
        self.rungs_fired += f.rungs;
        self.notifications_queued += f.queued;
    }

    fn merge(&mut self, o: SweepReport) {
        self.cases += o.cases;
        self.rungs_fired += o.rungs_fired;
        self.notifications_queued += o.notifications_queued;
        self.errors += o.errors;
        self.lost_races += o.lost_races;
    }
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
    ctx: &NoticeContext,
    f: &CaseFacts,
    users: &HashMap<UserId, User>,
    rung: Rung,
    pages_on_call: bool,
) -> Vec<Notice> {
    let r = &ctx.notify.recipients;
    let district = district_contacts(r, f.hospital.district.as_deref());
    match rung {
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
            let assignee_email = f
                .case
                .assignee
                .and_then(|a| users.get(&a))
                .filter(|u| crate::services::follow_up::cases::may_hold_case(u, f.case.hospital_id))
                .and_then(|u| u.email.clone());
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
    }
}

/// One group of a rung's notices: whom, on which channel, and the rows written for them.
struct Group {
    role: Audience,
    channel: Channel,
    ids: Vec<NotificationId>,
}

/// A rung about to fire: its notices and what its timeline entry says.
struct Firing {
    case_id: CaseId,
    rung: Rung,
    groups: Vec<Group>,
    missing: Vec<Audience>,
    due_at: DateTime<Utc>,
}

/// Fires the due rungs of the claimed cases `ids` and schedules their next: notices rendered
/// in memory, then written with multi-row inserts, the rungs recorded, the timeline appended
/// and the schedule updated in one statement each. Fails with `RungAlreadyFired` when another
/// sweep recorded one of the rungs first (the caller's transaction then undoes the chunk).
fn escalate(
    conn: &mut AnyConnection,
    ctx: &NoticeContext,
    ids: &[CaseId],
    who: &Principal,
    now: DateTime<Utc>,
) -> Result<Fired, AppError> {
    if ids.is_empty() {
        return Ok(Fired::default());
    }
    let facts = notices::load_many(conn, ctx, ids, now)?;
    let mut fired: HashMap<CaseId, Vec<Rung>> = HashMap::new();
    for (case_id, rung) in sweep::fired_rungs(conn, ids)? {
        fired.entry(case_id).or_default().push(rung);
    }
    let assignees: Vec<UserId> = facts.iter().filter_map(|f| f.case.assignee).collect();
    let users: HashMap<UserId, User> = if assignees.is_empty() {
        HashMap::new()
    } else {
        user::get_many(conn, &assignees)?
            .into_iter()
            .map(|u| (u.id, u))
            .collect()
    };
    let staff_locale = ctx.notify.staff_locale.clone();
    let (mut rows, mut firings, mut schedule) = (Vec::new(), Vec::new(), Vec::new());
    for f in &facts {
        let case_id = f.case.id;
        if f.case.open_key.is_none() || f.case.state == CaseState::Resolved {
            schedule.push((case_id, None));
            continue;
        }
        let ladder = &f.policy.escalation;
        let mut done = fired.remove(&case_id).unwrap_or_default();
        let times = CaseTimes {
            tier: f.tier,
            opened_at: f.case.opened_at.utc(),
            first_contact_due_at: f.case.first_contact_due_at.utc(),
            recall_due_at: f.case.recall_due_at.utc(),
            contacted: f.case.state != CaseState::Open,
        };
        for rung in ladder.due(&done, &times, now) {
            let base = format!("esc:{case_id}:{}", rung.as_str());
            let mut firing = Firing {
                case_id,
                rung,
                groups: Vec::new(),
                missing: Vec::new(),
                due_at: ladder.at(rung, &times),
            };
            let mut add = |o: &Outgoing, firing: &mut Firing| -> Result<(), AppError> {
                let r = outbox::rows(&ctx.templates, o, now)?;
                firing.groups.push(Group {
                    role: o.role,
                    channel: o.channel,
                    ids: r.iter().map(|n| n.id).collect(),
                });
                rows.extend(r);
                Ok(())
            };
            if rung == Rung::L0 {
                match notices::family_sms(conn, ctx, f, "family_recall", base.clone(), who, now)? {
                    Some(o) => add(&o, &mut firing)?,
                    None => firing.groups.push(Group {
                        role: Audience::Family,
                        channel: Channel::Sms,
                        ids: vec![],
                    }),
                }
            }
            for n in staff_notices(ctx, f, &users, rung, ladder.pages_on_call(f.tier)) {
                if n.recipients.is_empty() {
                    firing.missing.push(n.role);
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
                add(&o, &mut firing)?;
            }
            firings.push(firing);
            done.push(rung);
        }
        schedule.push((
            case_id,
            ladder
                .next(&done, &times)
                .map(|(r, t)| (r, UtcMicros::new(t))),
        ));
    }

    let queued: HashSet<NotificationId> = notification::enqueue_all(conn, &rows)?
        .into_iter()
        .collect();
    let at = UtcMicros::new(now);
    let mut escalations = Vec::with_capacity(firings.len());
    let mut events = Vec::with_capacity(firings.len());
    for x in &firings {
        let summary: Vec<serde_json::Value> = x
            .groups
            .iter()
            .map(|g| {
                let count = g.ids.iter().filter(|id| queued.contains(id)).count();
                json!({"role": g.role, "channel": g.channel, "count": count})
            })
            .collect();
        if !x.missing.is_empty() {
            tracing::warn!(case.id = %x.case_id, rung = x.rung.as_str(), roles = ?x.missing, "escalation rung has recipients with no address configured");
        }
        let mut detail = json!({"rung": x.rung.as_str(), "recipients": summary,
                                "unconfigured": x.missing, "due_at": x.due_at});
        if x.rung == Rung::L4 {
            detail["proposed_outcome"] = json!("lost_to_follow_up");
        }
        escalations.push(Escalation {
            case_id: x.case_id,
            rung: x.rung,
            fired_at: at,
            recipients: Json(summary),
        });
        events.push(event(
            x.case_id,
            EntryKind::Escalation,
            None,
            None,
            detail,
            &who.key(),
            now,
        ));
    }
    if sweep::record_escalations(conn, &escalations)?.len() != escalations.len() {
        // Another sweep fired one first: undo everything this chunk queued.
        return Err(AppError::conflict(
            ErrorCode::RungAlreadyFired,
            None,
            "another sweep escalated this case",
        ));
    }
    sweep::insert_events(conn, &events)?;
    sweep::set_next_rungs(conn, &schedule)?;
    Ok(Fired {
        rungs: firings.len(),
        queued: queued.len(),
    })
}
