//! An episode's page: facts, treatment, contacts with their status and measurements, the
//! timeline (the case's before it), and the action forms the user's role allows.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use askama::Template;
use chrono::{DateTime, Utc};

use super::super::cases::{Entry, detail_text};
use super::super::{Chrome, Opt, render};
use super::{condition_name, deadline};
use crate::db;
use crate::db::models::admin::{hospital, user};
use crate::db::models::management::episode::Episode;
use crate::db::models::screening::infant;
use crate::db::types::UtcMicros;
use crate::domain::ids::EpisodeId;
use crate::domain::management::plan::PlanSet;
use crate::domain::management::{EpisodeState, TreatmentKind, contact_status};
use crate::domain::role::Action;
use crate::error::AppError;
use crate::services::management::episodes::{self as svc, EpisodeRecord};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::i18n::Tr;
use crate::web::session::Console;

/// Pending contacts offered for recording at once (the soonest).
const RECORDABLE: usize = 3;

/// One contact as the episode's page lists it.
#[derive(Debug, Clone)]
pub struct ContactRow {
    /// `TFT #2`.
    pub label: String,
    /// Visit or test, in words.
    pub kind: String,
    /// Due day.
    pub due: String,
    /// Window, first to last day.
    pub window: String,
    /// `pending`, `overdue`, `done`, `done_late`, `cancelled` (the badge's class).
    pub status: String,
    /// The status in words.
    pub status_label: String,
    /// Recorded measurements with units; off-target ones marked.
    pub measurements: String,
    /// Any value off target.
    pub off_target: bool,
}

/// One measurement input of a contact's form.
#[derive(Debug, Clone)]
pub struct FieldInput {
    /// `TSH (mIU/L)`, with the target range when there is one.
    pub label: String,
    /// Form name: `m_<code>`.
    pub name: String,
    /// Element id (unique on the page).
    pub id: String,
}

/// A pending contact offered for recording.
#[derive(Debug, Clone)]
pub struct Recordable {
    /// Contact id.
    pub id: String,
    /// `TFT #2 — due 2027-03-01`.
    pub legend: String,
    /// Its measurements.
    pub fields: Vec<FieldInput>,
}

/// One treatment line.
#[derive(Debug, Clone)]
pub struct TreatmentRow {
    /// Start, local day.
    pub started: String,
    /// Coded type in words.
    pub kind: String,
    /// Regimen.
    pub regimen: String,
    /// Prescriber.
    pub prescriber: String,
}

#[derive(Template)]
#[template(path = "episode.html", config = "src/web/askama.toml")]
struct EpisodePage {
    c: Chrome,
    id: String,
    version: i32,
    heading: String,
    facts: Vec<(String, String)>,
    flags: i32,
    flags_text: String,
    open: bool,
    may_clinical: bool,
    may_manage: bool,
    contacts: Vec<ContactRow>,
    recordable: Vec<Recordable>,
    treatments: Vec<TreatmentRow>,
    treatment_kinds: Vec<Opt>,
    closures: Vec<Opt>,
    timeline: Vec<Entry>,
    error: Option<String>,
    today: String,
}

type Loaded = (EpisodeRecord, HashMap<String, String>, String, String);

async fn load(c: &Console, state: &AppState, id: EpisodeId) -> Result<Loaded, WebError> {
    let (p, now) = (c.session.principal.clone(), state.now());
    Ok(db::run(&state.pool, move |conn| {
        let r = svc::record(conn, &p, id, now)?;
        let names = user::display_names(&user::list(conn)?);
        let infant_ref = infant::refs(conn, &[r.episode.infant_id])?
            .remove(&r.episode.infant_id)
            .unwrap_or_default();
        let hospital = hospital::get_many(conn, &[r.episode.hospital_id])?
            .remove(&r.episode.hospital_id)
            .map(|h| h.name)
            .unwrap_or_default();
        Ok::<_, AppError>((r, names, infant_ref, hospital))
    })
    .await?)
}

fn day(tr: Tr, t: DateTime<Utc>) -> String {
    tr.time(t).chars().take(10).collect()
}

fn facts(
    tr: Tr,
    state: &AppState,
    e: &Episode,
    hospital: String,
    now: DateTime<Utc>,
) -> Vec<(String, String)> {
    let (due, left, _) = deadline(tr, e.next_due_at.map(UtcMicros::utc), now);
    let next = if due == "—" {
        due
    } else {
        format!("{due} — {left}")
    };
    let target = match (e.treatment_due_at, e.treatment_started_at) {
        (_, Some(s)) => tr.f("treatment_started_on", &[("day", &day(tr, s.utc()))]),
        (Some(d), None) => tr.f("treatment_by", &[("day", &day(tr, d.utc()))]),
        (None, None) => tr.t("no_treatment_target"),
    };
    let closed = match (&e.closure, e.closed_at) {
        (Some(cl), Some(at)) => format!(
            "{} · {}",
            day(tr, at.utc()),
            detail_text(&serde_json::to_value(&cl.0).unwrap_or_default())
        ),
        _ => "—".into(),
    };
    vec![
        (tr.t("next_deadline"), next),
        (
            tr.t("episode_state"),
            tr.t(&format!("episode_{}", e.state.as_str())),
        ),
        (
            tr.t("condition"),
            condition_name(tr, state, &e.condition_code),
        ),
        (tr.t("col_hospital"), hospital),
        (tr.t("diagnosed_on"), day(tr, e.diagnosed_at.utc())),
        (tr.t("treatment"), target),
        (
            tr.t("reported"),
            match (&e.report_reference, e.reported_at) {
                (Some(r), Some(at)) => format!("{} · {r}", day(tr, at.utc())),
                _ => tr.t("not_reported"),
            },
        ),
        (tr.t("closed"), closed),
        (
            tr.t("plan"),
            format!("{} · {} · {}", e.plan_code, e.plan_version, e.centre),
        ),
    ]
}

fn contact_rows(
    tr: Tr,
    set: Option<&PlanSet>,
    e: &Episode,
    r: &EpisodeRecord,
    now: DateTime<Utc>,
) -> (Vec<ContactRow>, Vec<Recordable>) {
    let plan = set.and_then(|s| s.plan(&e.plan_code));
    let mut rows = Vec::new();
    let mut recordable = Vec::new();
    for x in &r.contacts {
        let status = contact_status(
            x.done_at.map(UtcMicros::utc),
            x.cancelled_at.is_some(),
            x.window_end.utc(),
            now,
        );
        let spec = plan.and_then(|p| p.contacts.iter().find(|s| s.code == x.code));
        let unit = |code: &str| {
            spec.and_then(|s| s.fields.iter().find(|f| f.code == code))
                .map(|f| f.unit.clone())
                .unwrap_or_default()
        };
        let off: Vec<String> = x
            .off_target
            .as_ref()
            .map(|o| o.0.iter().map(|f| f.field.clone()).collect())
            .unwrap_or_default();
        let measurements = x
            .measurements
            .as_ref()
            .map(|m| {
                m.0.iter()
                    .map(|(k, v)| {
                        let mark = if off.contains(k) { " ⚠" } else { "" };
                        format!("{k} {v} {}{mark}", unit(k))
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        let label = format!("{} #{}", x.code, x.seq);
        rows.push(ContactRow {
            label: label.clone(),
            kind: tr.t(&format!("contact_kind_{}", x.kind.as_str())),
            due: day(tr, x.due_at.utc()),
            window: format!(
                "{} – {}",
                day(tr, x.window_start.utc()),
                day(tr, x.window_end.utc())
            ),
            status: status.into(),
            status_label: tr.t(&format!("contact_{status}")),
            measurements,
            off_target: !off.is_empty(),
        });
        if matches!(status, "pending" | "overdue") && recordable.len() < RECORDABLE {
            let fields = spec
                .map(|s| {
                    s.fields
                        .iter()
                        .map(|f| {
                            let range = match (f.low, f.high) {
                                (Some(l), Some(h)) => format!(", {} {l}–{h}", tr.t("target")),
                                (Some(l), None) => format!(", {} ≥ {l}", tr.t("target")),
                                (None, Some(h)) => format!(", {} ≤ {h}", tr.t("target")),
                                (None, None) => String::new(),
                            };
                            FieldInput {
                                label: format!("{} ({}{range})", f.code, f.unit),
                                name: format!("m_{}", f.code),
                                id: format!("m-{}-{}", x.id, f.code),
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            recordable.push(Recordable {
                id: x.id.to_string(),
                legend: format!(
                    "{label} — {}",
                    tr.f("due_on", &[("day", &day(tr, x.due_at.utc()))])
                ),
                fields,
            });
        }
    }
    (rows, recordable)
}

fn page(
    c: &Console,
    state: &AppState,
    (r, names, infant_ref, hospital): Loaded,
    error: Option<String>,
) -> EpisodePage {
    let tr = c.tr;
    let now = state.now();
    let e = &r.episode;
    let set = crate::services::management::plans::version(&state.plans, &e.plan_version).ok();
    let (contacts, recordable) = contact_rows(tr, set.as_deref(), e, &r, now);
    let who = |actor: &str| {
        names.get(actor).cloned().unwrap_or_else(|| {
            actor
                .strip_prefix("job:")
                .map_or_else(|| actor.to_string(), |j| tr.f("system_job", &[("job", &j)]))
        })
    };
    let mut timeline: Vec<(DateTime<Utc>, Entry)> = Vec::new();
    if let Some((_, events)) = &r.case {
        for ev in events {
            timeline.push((
                ev.at.utc(),
                Entry {
                    at: tr.time(ev.at.utc()),
                    who: who(&ev.actor),
                    what: format!(
                        "{} · {}",
                        tr.t("case_title"),
                        tr.t(&format!("entry_{}", ev.kind.as_str()))
                    ),
                    detail: detail_text(&ev.detail.0),
                },
            ));
        }
    }
    for ev in &r.events {
        let key = format!("mgmt_{}", ev.kind);
        let what = tr.t(&key);
        timeline.push((
            ev.at.utc(),
            Entry {
                at: tr.time(ev.at.utc()),
                who: who(&ev.actor),
                what: if what == key { ev.kind.clone() } else { what },
                detail: detail_text(&ev.detail.0),
            },
        ));
    }
    timeline.sort_by_key(|(at, _)| *at);
    let role = c.session.principal.role;
    EpisodePage {
        c: Chrome::of(
            c,
            "episode_title",
            &format!("/management/episodes/{}", e.id),
        ),
        id: e.id.to_string(),
        version: e.version,
        heading: tr.f(
            "episode_heading",
            &[
                ("infant", &infant_ref),
                ("condition", &condition_name(tr, state, &e.condition_code)),
            ],
        ),
        facts: facts(tr, state, e, hospital, now),
        flags: e.flags,
        flags_text: tr.f("flags_waiting", &[("n", &e.flags)]),
        open: e.state != EpisodeState::Closed,
        may_clinical: role.may(Action::RecordClinical),
        may_manage: role.may(Action::ManageEpisodes),
        contacts,
        recordable,
        treatments: r
            .treatments
            .iter()
            .map(|t| TreatmentRow {
                started: day(tr, t.started_at.utc()),
                kind: tr.t(&format!("treatment_{}", t.kind.as_str())),
                regimen: t.regimen.clone(),
                prescriber: t.prescriber.clone(),
            })
            .collect(),
        treatment_kinds: TreatmentKind::ALL
            .iter()
            .map(|k| Opt {
                value: k.as_str().into(),
                label: tr.t(&format!("treatment_{}", k.as_str())),
                selected: false,
            })
            .collect(),
        closures: CLOSURES
            .iter()
            .map(|k| Opt {
                value: (*k).into(),
                label: tr.t(&format!("closure_{k}")),
                selected: false,
            })
            .collect(),
        timeline: timeline.into_iter().map(|(_, x)| x).collect(),
        error,
        today: day(tr, now),
    }
}

const CLOSURES: [&str; 6] = [
    "horizon_reached",
    "transferred_out",
    "deceased",
    "declined",
    "lost_to_follow_up",
    "diagnosis_revised",
];

pub(super) fn episode_id(raw: &str) -> Result<EpisodeId, WebError> {
    raw.parse().map(EpisodeId).map_err(|_| WebError::NotFound)
}

/// `GET /management/episodes/{id}`.
#[get("/management/episodes/{id}")]
pub async fn episode_page(
    c: Console,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    c.require(Action::ReadPersonalData)?;
    let id = episode_id(&id)?;
    let loaded = load(&c, &state, id).await?;
    render(StatusCode::OK, &page(&c, &state, loaded, None))
}

pub(super) async fn refused(
    c: &Console,
    state: &AppState,
    id: EpisodeId,
    e: AppError,
) -> Result<HttpResponse, WebError> {
    let tr = c.tr;
    let (status, message) = super::super::refusal(tr, e, "stale_episode")?;
    let loaded = load(c, state, id).await?;
    render(status, &page(c, state, loaded, Some(message)))
}
