//! A case's page: its header (urgency, state, deadlines, the catalogue and policy versions that
//! set them), its timeline, the actions allowed in its state now, the contact-attempt form,
//! assignment, and its notifications with their delivery status. Every action form carries the
//! case version it was rendered from; a stale one is refused with "someone else changed this
//! case — reload" (the API's 412), and nothing is written.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::Deserialize;

use super::{Chrome, Opt, render, see_other};
use crate::db;
use crate::db::models::admin::user;
use crate::domain::case::{CaseEvent, CaseOutcome, CaseState, EventKind, allowed};
use crate::domain::contact::{AttemptOutcome, Channel};
use crate::domain::ids::{CaseId, UserId};
use crate::domain::role::Action;
use crate::error::AppError;
use crate::services::follow_up::cases::{self as svc, CaseAction, CaseRecord};
use crate::services::follow_up::contacts::{self, AttemptInput};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::session::Console;

/// One timeline line.
#[derive(Debug, Clone)]
pub struct Entry {
    /// When, local time.
    pub at: String,
    /// Who (a name, or the system).
    pub who: String,
    /// What happened.
    pub what: String,
    /// Details (note, outcome, recipients…).
    pub detail: String,
}

/// A notification as the page lists it.
#[derive(Debug, Clone)]
pub struct Notice {
    /// When it was queued.
    pub at: String,
    /// Its template.
    pub template: String,
    /// E-mail or SMS, and to whom.
    pub channel: String,
    /// Delivery status.
    pub status: String,
}

#[derive(Template)]
#[template(path = "case.html", config = "src/web/askama.toml")]
struct CasePage {
    c: Chrome,
    id: String,
    version: i32,
    heading: String,
    tier: String,
    tier_label: String,
    facts: Vec<(String, String)>,
    timeline: Vec<Entry>,
    actions: Vec<String>,
    outcomes: Vec<Opt>,
    conditions: Vec<Opt>,
    may_work: bool,
    may_contact: bool,
    channels: Vec<Opt>,
    attempt_outcomes: Vec<Opt>,
    colleagues: Vec<Opt>,
    notices: Vec<Notice>,
    error: Option<String>,
}

fn kind_name(k: EventKind) -> &'static str {
    match k {
        EventKind::ContactFamily => "contact_family",
        EventKind::ScheduleRecall => "schedule_recall",
        EventKind::RecordRecheck => "record_recheck",
        EventKind::StartWorkup => "start_workup",
        EventKind::Resolve => "resolve",
        EventKind::Reopen => "reopen",
    }
}

const OUTCOMES: [&str; 8] = [
    "confirmed",
    "ruled_out",
    "carrier",
    "declined",
    "deceased",
    "moved_out",
    "diagnosed_elsewhere",
    "lost_to_follow_up",
];

/// A JSON detail as short `key: value` text (nulls left out, nested objects flattened).
pub(crate) fn detail_text(v: &serde_json::Value) -> String {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Null => {}
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, x, out);
                }
            }
            serde_json::Value::String(s) => out.push(format!("{prefix}: {s}")),
            other => out.push(format!("{prefix}: {other}")),
        }
    }
    let mut out = vec![];
    walk("", v, &mut out);
    out.join("; ")
}

/// A case's record, the display names of the users who acted on it, the colleagues it may be
/// assigned to, and its infant's reference.
type Loaded = (CaseRecord, HashMap<String, String>, Vec<Opt>, String);

async fn load(c: &Console, state: &AppState, id: CaseId) -> Result<Loaded, WebError> {
    let (p, now) = (c.session.principal.clone(), state.now());
    Ok(db::run(&state.pool, move |conn| {
        let record = svc::record(conn, &p, id, now)?;
        let users = user::list(conn)?;
        let names = user::display_names(&users);
        let colleagues = users
            .iter()
            .filter(|u| svc::may_hold_case(u, record.case.hospital_id))
            .map(|u| Opt {
                value: u.id.to_string(),
                label: u.display_name.clone(),
                selected: record.case.assignee == Some(u.id),
            })
            .collect();
        let infant_ref = crate::db::models::follow_up::case::infant_refs(conn, &[record.case.id])?
            .remove(&record.case.id)
            .unwrap_or_default();
        Ok((record, names, colleagues, infant_ref))
    })
    .await?)
}

fn page(
    c: &Console,
    state: &AppState,
    (r, names, colleagues, infant_ref): Loaded,
    error: Option<String>,
) -> CasePage {
    let tr = c.tr;
    let k = &r.case;
    let catalogue = crate::services::admin::catalogue::current(&state.catalogues, state.now()).ok();
    let name_of = |code: &str| super::condition_label(tr, state, code);
    let who = |actor: &str| {
        names.get(actor).cloned().unwrap_or_else(|| {
            actor
                .strip_prefix("job:")
                .map_or_else(|| actor.to_string(), |j| tr.f("system_job", &[("job", &j)]))
        })
    };
    let state_label = |s: CaseState| tr.t(&format!("state_{}", s.as_str()));
    let now = state.now();
    // The deadline that matters now, first: when, and how long is left (or how long overdue).
    let next = match k.next_due_at.map(|d| d.utc()) {
        Some(d) if d <= now => format!(
            "{} — {}",
            tr.time(d),
            tr.f("overdue_by", &[("time", &tr.span(now - d))])
        ),
        Some(d) => format!(
            "{} — {}",
            tr.time(d),
            tr.f("time_left", &[("time", &tr.span(d - now))])
        ),
        None => "—".into(),
    };
    let facts = vec![
        (tr.t("next_deadline"), next),
        (tr.t("case_state"), state_label(k.state)),
        (
            tr.t("reason"),
            format!(
                "{} · {}",
                tr.t(&format!("programme_{}", k.programme.as_str())),
                tr.t(&format!("reason_{}", k.reason.as_str()))
            ),
        ),
        (
            tr.t("suspected"),
            k.suspected
                .0
                .iter()
                .map(|x| name_of(x))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (
            tr.t("first_contact_due"),
            tr.time(k.first_contact_due_at.utc()),
        ),
        (tr.t("recall_due"), tr.time(k.recall_due_at.utc())),
        (
            tr.t("appointment"),
            match (&k.appointment_at, &k.appointment_place) {
                (None, None) => "—".into(),
                (a, p) => format!(
                    "{} {}",
                    a.map(|a| tr.time(a.utc())).unwrap_or_default(),
                    p.clone().unwrap_or_default()
                ),
            },
        ),
        (
            tr.t("col_assignee"),
            k.assignee
                .map(|a| who(&format!("user:{a}")))
                .unwrap_or_else(|| tr.t("unassigned")),
        ),
        (
            tr.t("versions"),
            format!("{} · {}", k.catalogue_version, k.policy_version),
        ),
    ];
    let mut timeline: Vec<(DateTime<Utc>, Entry)> = r
        .events
        .iter()
        .map(|e| {
            let mut what = tr.t(&format!("entry_{}", e.kind.as_str()));
            if let (Some(f), Some(t)) = (e.from_state, e.to_state) {
                what = format!("{what}: {} → {}", state_label(f), state_label(t));
            }
            (
                e.at.utc(),
                Entry {
                    at: tr.time(e.at.utc()),
                    who: who(&e.actor),
                    what,
                    detail: detail_text(&e.detail.0),
                },
            )
        })
        .collect();
    for x in &r.escalations {
        timeline.push((
            x.fired_at.utc(),
            Entry {
                at: tr.time(x.fired_at.utc()),
                who: tr.t("system"),
                what: tr.f("escalation_rung", &[("rung", &x.rung.as_str())]),
                detail: x
                    .recipients
                    .0
                    .iter()
                    .map(detail_text)
                    .collect::<Vec<_>>()
                    .join(" | "),
            },
        ));
    }
    timeline.sort_by_key(|(at, _)| *at);
    let role = c.session.principal.role;
    let mut conditions: Vec<Opt> = k
        .suspected
        .0
        .iter()
        .map(|code| Opt {
            value: code.clone(),
            label: name_of(code),
            selected: false,
        })
        .collect();
    if let Some(cat) = &catalogue {
        for x in cat
            .catalogue()
            .conditions
            .iter()
            .filter(|x| x.programme == k.programme)
        {
            if !conditions.iter().any(|o| o.value == x.code) {
                conditions.push(Opt {
                    value: x.code.clone(),
                    label: name_of(&x.code),
                    selected: false,
                });
            }
        }
    }
    CasePage {
        c: Chrome::of(c, "case_title", &format!("/cases/{}", k.id)),
        id: k.id.to_string(),
        version: k.version,
        heading: tr.f("case_heading", &[("infant", &infant_ref)]),
        tier: k.tier.as_str().into(),
        tier_label: tr.t(&format!("tier_{}", k.tier.as_str())),
        facts,
        timeline: timeline.into_iter().map(|(_, e)| e).collect(),
        actions: if role.may(Action::WorkCases) {
            allowed(k.state)
                .into_iter()
                .map(|e| kind_name(e).to_string())
                .collect()
        } else {
            vec![]
        },
        outcomes: OUTCOMES
            .iter()
            .map(|o| Opt {
                value: o.to_string(),
                label: tr.t(&format!("outcome_{o}")),
                selected: false,
            })
            .collect(),
        conditions,
        may_work: role.may(Action::WorkCases),
        may_contact: role.may(Action::RecordContactAttempts),
        channels: Channel::ALL
            .iter()
            .map(|x| Opt {
                value: x.as_str().into(),
                label: tr.t(&format!("channel_{}", x.as_str())),
                selected: false,
            })
            .collect(),
        attempt_outcomes: AttemptOutcome::ALL
            .iter()
            .map(|x| Opt {
                value: x.as_str().into(),
                label: tr.t(&format!("attempt_{}", x.as_str())),
                selected: false,
            })
            .collect(),
        colleagues,
        notices: r
            .notifications
            .iter()
            .map(|n| Notice {
                at: tr.time(n.created_at.utc()),
                template: n.template.clone(),
                channel: format!(
                    "{} → {}",
                    tr.t(&format!("channel_{}", n.channel.as_str())),
                    tr.t(&format!("audience_{}", n.recipient_role.as_str()))
                ),
                status: tr.t(&format!("delivery_{}", n.status.as_str())),
            })
            .collect(),
        error,
    }
}

fn case_id(raw: &str) -> Result<CaseId, WebError> {
    raw.parse().map(CaseId).map_err(|_| WebError::NotFound)
}

/// `GET /cases/{id}`.
#[get("/cases/{id}")]
pub async fn case_page(
    c: Console,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    c.require(Action::ReadPersonalData)?;
    let id = case_id(&id)?;
    let loaded = load(&c, &state, id).await?;
    render(StatusCode::OK, &page(&c, &state, loaded, None))
}

/// Shows the case again with `e` explained (nothing was written).
async fn refused(
    c: &Console,
    state: &AppState,
    id: CaseId,
    e: AppError,
) -> Result<HttpResponse, WebError> {
    let tr = c.tr;
    let (status, message) = match e {
        AppError::NotFound { entity: "assignee" } => {
            (StatusCode::UNPROCESSABLE_ENTITY, tr.t("unknown_assignee"))
        }
        e => super::refusal(tr, e, "stale_case")?,
    };
    let loaded = load(c, state, id).await?;
    render(status, &page(c, state, loaded, Some(message)))
}

/// The action form.
#[derive(Debug, Deserialize)]
pub struct ActForm {
    csrf: Option<String>,
    version: i32,
    kind: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    appointment_at: String,
    #[serde(default)]
    place: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    condition: String,
    #[serde(default)]
    reason: String,
}

fn opt(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// A `datetime-local` value (`2026-12-03T10:00`) read in China Standard Time.
fn local_time(s: &str) -> Result<Option<DateTime<Utc>>, AppError> {
    let Some(s) = opt(s) else { return Ok(None) };
    let naive = NaiveDateTime::parse_from_str(&s, "%Y-%m-%dT%H:%M")
        .map_err(|_| AppError::invalid("transition.appointment_at", "is not a date and time"))?;
    let cst = chrono::FixedOffset::east_opt(8 * 3600)
        .ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("offset")))?;
    Ok(cst
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc)))
}

fn event(f: &ActForm) -> Result<Option<CaseEvent>, AppError> {
    let required =
        |v: &str, field: &str| opt(v).ok_or_else(|| AppError::invalid(field, "is required"));
    Ok(Some(match f.kind.as_str() {
        "note" => return Ok(None),
        "contact_family" => CaseEvent::ContactFamily,
        "schedule_recall" => CaseEvent::ScheduleRecall {
            appointment_at: local_time(&f.appointment_at)?,
            place: opt(&f.place),
        },
        "record_recheck" => CaseEvent::RecordRecheck {
            reference: opt(&f.reference),
        },
        "start_workup" => CaseEvent::StartWorkup,
        "reopen" => CaseEvent::Reopen {
            reason: required(&f.reason, "transition.reason")?,
        },
        "resolve" => CaseEvent::Resolve {
            outcome: match f.outcome.as_str() {
                "confirmed" => CaseOutcome::Confirmed {
                    condition: required(&f.condition, "transition.outcome.condition")?,
                },
                "ruled_out" => CaseOutcome::RuledOut,
                "carrier" => CaseOutcome::Carrier,
                "declined" => CaseOutcome::Declined,
                "deceased" => CaseOutcome::Deceased,
                "moved_out" => CaseOutcome::MovedOut,
                "diagnosed_elsewhere" => CaseOutcome::DiagnosedElsewhere,
                "lost_to_follow_up" => CaseOutcome::LostToFollowUp {
                    reason: required(&f.reason, "transition.outcome.reason")?,
                },
                _ => return Err(AppError::invalid("transition.outcome", "choose an outcome")),
            },
        },
        _ => return Err(AppError::invalid("transition", "unknown action")),
    }))
}

/// `POST /cases/{id}/act`: a transition (or a note alone) at the version the form was read at.
#[post("/cases/{id}/act")]
pub async fn act(
    req: HttpRequest,
    c: Console,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<ActForm>,
) -> Result<HttpResponse, WebError> {
    c.authorize(&req, form.csrf.as_deref(), Action::WorkCases)?;
    let id = case_id(&id)?;
    let f = form.into_inner();
    let parsed = event(&f).and_then(|e| {
        let note = opt(&f.note);
        if e.is_none() && note.is_none() {
            return Err(AppError::invalid("note", "is required"));
        }
        Ok(CaseAction {
            expected_version: f.version,
            event: e,
            note,
            assignee: None,
        })
    });
    let action = match parsed {
        Ok(a) => a,
        Err(e) => return refused(&c, &state, id, e).await,
    };
    apply(&c, &state, id, action).await
}

async fn apply(
    c: &Console,
    state: &AppState,
    id: CaseId,
    action: CaseAction,
) -> Result<HttpResponse, WebError> {
    let (p, now) = (c.session.principal.clone(), state.now());
    let plans = crate::services::management::plans::current(&state.plans, now)?;
    let centre = state.settings.management.centre.clone();
    let scope = p.scope();
    let done = db::run(&state.pool, move |conn| {
        svc::act(
            conn,
            &scope,
            id,
            action,
            &svc::Management {
                plans: &plans,
                centre: &centre,
            },
            &p,
            now,
        )
    })
    .await;
    match done {
        Ok(k) => {
            tracing::info!(case.id = %k.id, case.state = %k.state, "case updated in the console");
            Ok(see_other(&format!("/cases/{id}")))
        }
        Err(e) => refused(c, state, id, e).await,
    }
}

/// The assignment form.
#[derive(Debug, Deserialize)]
pub struct AssignForm {
    csrf: Option<String>,
    version: i32,
    /// A user id, or empty to unassign.
    assignee: String,
}

/// `POST /cases/{id}/assign`.
#[post("/cases/{id}/assign")]
pub async fn assign(
    req: HttpRequest,
    c: Console,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<AssignForm>,
) -> Result<HttpResponse, WebError> {
    c.authorize(&req, form.csrf.as_deref(), Action::WorkCases)?;
    let id = case_id(&id)?;
    let assignee = match opt(&form.assignee) {
        None => None,
        Some(a) => match a.parse::<uuid::Uuid>() {
            Ok(u) => Some(UserId(u)),
            Err(_) => {
                return refused(&c, &state, id, AppError::NotFound { entity: "assignee" }).await;
            }
        },
    };
    let action = CaseAction {
        expected_version: form.version,
        event: None,
        note: None,
        assignee: Some(assignee),
    };
    apply(&c, &state, id, action).await
}

/// The contact-attempt form.
#[derive(Debug, Deserialize)]
pub struct ContactForm {
    csrf: Option<String>,
    channel: String,
    outcome: String,
    #[serde(default)]
    note: String,
}

/// `POST /cases/{id}/contact`: a contact attempt (reaching the family moves an open case on).
#[post("/cases/{id}/contact")]
pub async fn contact(
    req: HttpRequest,
    c: Console,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<ContactForm>,
) -> Result<HttpResponse, WebError> {
    c.authorize(&req, form.csrf.as_deref(), Action::RecordContactAttempts)?;
    let id = case_id(&id)?;
    let f = form.into_inner();
    let (p, now) = (c.session.principal.clone(), state.now());
    let input = AttemptInput {
        channel: f.channel,
        outcome: f.outcome,
        contacted_by: None,
        attempted_at: now,
        note: opt(&f.note),
    };
    let scope = p.scope();
    let done = db::run(&state.pool, move |conn| {
        contacts::record_attempt(conn, &scope, id, input, &p, now)
    })
    .await;
    match done {
        Ok(_) => Ok(see_other(&format!("/cases/{id}"))),
        Err(e) => refused(&c, &state, id, e).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_read_as_short_text() {
        let v = serde_json::json!({"event": {"kind": "resolve", "outcome": {"outcome": "ruled_out"}}, "note": null});
        assert_eq!(
            detail_text(&v),
            "event.kind: resolve; event.outcome.outcome: ruled_out"
        );
    }

    #[test]
    fn appointment_times_are_china_time() {
        let t = local_time("2026-12-03T10:00").unwrap().unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-03T02:00:00+00:00");
        assert!(local_time("").unwrap().is_none());
        assert!(local_time("tomorrow").is_err());
    }
}
