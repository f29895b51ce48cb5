//! The treatment-start target (e.g. congenital hypothyroidism treated within the first two
//! weeks of life) is the programme's key outcome: when it passes without a recorded treatment,
//! the birth hospital, the coordinators and the centre's on-call clinician are told once, and
//! the episode's timeline says so. Run in the same tick as the contact sweep; the episodes due
//! are a partial index, so a tick with nothing due costs one index probe.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::json;

use crate::db::AnyConnection;
use crate::db::models::admin::hospital;
use crate::db::models::follow_up::notification;
use crate::db::models::management::{episode, history};
use crate::db::models::screening::infant;
use crate::db::types::UtcMicros;
use crate::domain::ids::{EpisodeId, HospitalId, InfantId};
use crate::domain::notification::{Audience, Channel};
use crate::domain::principal::Principal;
use crate::error::{AppError, ErrorCode};
use crate::notify::outbox::{self, Outgoing};
use crate::services::follow_up::notices::NoticeContext;
use crate::services::management::episodes::event;

/// Escalates up to `limit` episodes whose treatment target passed at `now` (inside the
/// caller's transaction); returns (episodes escalated, notifications queued).
pub fn escalate_chunk(
    conn: &mut AnyConnection,
    ctx: &NoticeContext,
    tz: Tz,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<(usize, usize), AppError> {
    let at = UtcMicros::new(now);
    let due = episode::claim_treatment_overdue(conn, at, limit)?;
    if due.is_empty() {
        return Ok((0, 0));
    }
    let infant_ids: Vec<InfantId> = due.iter().map(|e| e.infant_id).collect();
    let hospital_ids: Vec<HospitalId> = due.iter().map(|e| e.hospital_id).collect();
    let infants = infant::get_many(conn, &infant_ids)?;
    let hospitals = hospital::get_many(conn, &hospital_ids)?;
    let who = Principal::job("management_treatment_targets");
    let local = |t: UtcMicros| t.utc().with_timezone(&tz).format("%Y-%m-%d").to_string();
    let r = &ctx.notify.recipients;
    let (mut rows, mut events, mut ids) = (vec![], vec![], Vec::<EpisodeId>::new());
    for e in &due {
        ids.push(e.id);
        let (Some(inf), Some(hosp)) = (infants.get(&e.infant_id), hospitals.get(&e.hospital_id))
        else {
            continue;
        };
        let target = e.treatment_due_at.unwrap_or(at);
        let vars = BTreeMap::from([
            ("episode_ref", e.id.to_string()[..8].to_string()),
            (
                "infant_ref",
                crate::domain::infant::infant_ref(&hosp.code, &inf.mrn),
            ),
            ("hospital", hosp.name.clone()),
            ("condition", e.condition_code.clone()),
            ("diagnosed", local(e.diagnosed_at)),
            ("target", local(target)),
        ]);
        let mut summary = Vec::new();
        for (role, to) in [
            (Audience::Hospital, hosp.emails()),
            (Audience::Coordinator, r.coordinator_emails.clone()),
            (Audience::OnCall, r.on_call_emails.clone()),
        ] {
            let o = Outgoing {
                dedup_base: format!("mgmt-treatment:{}", e.id),
                case_id: None,
                hospital_id: Some(e.hospital_id),
                template: "management_treatment_overdue",
                channel: Channel::Email,
                role,
                recipients: to,
                vars: vars.clone(),
                locale: ctx.notify.staff_locale.clone(),
                not_before: now,
            };
            let rs = outbox::rows(&ctx.templates, &o, now)?;
            summary.push(json!({"role": role, "channel": Channel::Email, "count": rs.len()}));
            rows.extend(rs);
        }
        events.push(event(
            e.id,
            "treatment_target_missed",
            json!({"target": target.utc(), "recipients": summary}),
            &who,
            now,
        ));
    }
    if episode::mark_treatment_escalated(conn, &ids, at)? != ids.len() {
        return Err(AppError::conflict(
            ErrorCode::RungAlreadyFired,
            None,
            "another sweep escalated this treatment target",
        ));
    }
    let queued = notification::enqueue_all(conn, &rows)?.len();
    history::insert_events(conn, &events)?;
    Ok((ids.len(), queued))
}
