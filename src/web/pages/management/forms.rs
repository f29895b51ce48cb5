//! The episode's action forms: read into the service's actions (a form field the service names
//! in its errors keeps the API's name), checked against the role, applied at the form's version.

use std::collections::{BTreeMap, HashMap};

use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

use super::super::see_other;
use crate::db;
use crate::domain::ids::ContactId;
use crate::domain::management::{Closure, TreatmentKind};
use crate::domain::role::Action;
use crate::error::AppError;
use crate::services::management::episodes::{
    self as svc, ContactInput, EpisodeAction, TreatmentInput,
};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::session::Console;

use super::page::{episode_id, refused};

fn field<'a>(f: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    f.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
}

fn required(f: &HashMap<String, String>, name: &str, api_field: &str) -> Result<String, AppError> {
    field(f, name)
        .map(str::to_string)
        .ok_or_else(|| AppError::invalid(api_field, "is required"))
}

/// A `date` input (`2026-12-03`) as noon China Standard Time, or a `datetime-local` one.
fn when(
    f: &HashMap<String, String>,
    name: &str,
    api_field: &str,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, AppError> {
    let Some(s) = field(f, name) else {
        return Ok(now);
    };
    let cst = chrono::FixedOffset::east_opt(8 * 3600)
        .ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("offset")))?;
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M")
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(12, 0, 0))
        })
        .ok_or_else(|| AppError::invalid(api_field, "is not a date"))?;
    let t = cst
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| AppError::invalid(api_field, "is not a date"))?;
    // A day given for today means "now", not noon (which may lie ahead).
    let today = now.with_timezone(&cst).date_naive();
    Ok(if t > now && naive.date() == today {
        now
    } else {
        t
    })
}

fn treatment(f: &HashMap<String, String>, now: DateTime<Utc>) -> Result<TreatmentInput, AppError> {
    let kind = field(f, "kind")
        .and_then(TreatmentKind::parse)
        .ok_or_else(|| AppError::invalid("kind", "choose a treatment type"))?;
    Ok(TreatmentInput {
        kind,
        regimen: required(f, "regimen", "regimen")?,
        prescriber: required(f, "prescriber", "prescriber")?,
        started_at: when(f, "started_on", "started_at", now)?,
    })
}

fn closure(f: &HashMap<String, String>) -> Result<Closure, AppError> {
    let detail = |api: &str| required(f, "detail", api);
    Ok(match field(f, "reason").unwrap_or_default() {
        "horizon_reached" => Closure::HorizonReached,
        "transferred_out" => Closure::TransferredOut {
            receiving_centre: detail("closure.receiving_centre")?,
        },
        "deceased" => Closure::Deceased,
        "declined" => Closure::Declined {
            refusal_reference: detail("closure.refusal_reference")?,
        },
        "lost_to_follow_up" => Closure::LostToFollowUp {
            attempts: detail("closure.attempts")?,
        },
        "diagnosis_revised" => Closure::DiagnosisRevised {
            note: detail("closure.note")?,
        },
        _ => return Err(AppError::invalid("closure.reason", "choose a reason")),
    })
}

/// The action (and the permission it needs) a form names.
fn action(
    kind: &str,
    f: &HashMap<String, String>,
    now: DateTime<Utc>,
) -> Result<Option<(Action, EpisodeAction)>, AppError> {
    Ok(Some(match kind {
        "treatment" => (
            Action::RecordClinical,
            EpisodeAction::Treatment(treatment(f, now)?),
        ),
        "contact" => {
            let id: ContactId = field(f, "contact")
                .and_then(|s| s.parse().ok())
                .map(ContactId)
                .ok_or_else(|| AppError::invalid("contact", "choose a contact"))?;
            let mut measurements = BTreeMap::new();
            for (k, v) in f {
                let Some(code) = k.strip_prefix("m_") else {
                    continue;
                };
                let v = v.trim();
                if v.is_empty() {
                    continue;
                }
                let x: f64 = v
                    .parse()
                    .ok()
                    .filter(|x: &f64| x.is_finite())
                    .ok_or_else(|| {
                        AppError::invalid(format!("measurements.{code}"), "is not a number")
                    })?;
                measurements.insert(code.to_string(), x);
            }
            let needs = if measurements.is_empty() {
                Action::ManageEpisodes
            } else {
                Action::RecordClinical
            };
            (
                needs,
                EpisodeAction::Contact(
                    id,
                    ContactInput {
                        done_at: when(f, "done_on", "done_at", now)?,
                        measurements,
                        note: field(f, "note").map(str::to_string),
                        treatment: None,
                    },
                ),
            )
        }
        "report" => (
            Action::ManageEpisodes,
            EpisodeAction::Report {
                reference: required(f, "reference", "reference")?,
            },
        ),
        "acknowledge" => (Action::RecordClinical, EpisodeAction::AcknowledgeFlags),
        "close" => (Action::ManageEpisodes, EpisodeAction::Close(closure(f)?)),
        _ => return Ok(None),
    }))
}

/// `POST /management/episodes/{id}/{kind}`: one action at the version the form was read at.
#[post("/management/episodes/{id}/{kind}")]
pub async fn act(
    req: HttpRequest,
    c: Console,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: web::Form<HashMap<String, String>>,
) -> Result<HttpResponse, WebError> {
    let (id, kind) = path.into_inner();
    let f = form.into_inner();
    c.check_csrf(&req, f.get("csrf").map(String::as_str))?;
    c.require(Action::ReadPersonalData)?;
    let id = episode_id(&id)?;
    let now = state.now();
    let (needed, action) = match action(&kind, &f, now) {
        Ok(Some(a)) => a,
        Ok(None) => return Err(WebError::NotFound),
        Err(e) => return refused(&c, &state, id, e).await,
    };
    // A coordinator may record that a contact happened; measurements are the clinician's.
    let role = c.session.principal.role;
    if !(role.may(needed)
        || (kind == "contact"
            && needed == Action::ManageEpisodes
            && role.may(Action::RecordClinical)))
    {
        return Err(WebError::Forbidden);
    }
    let Some(version) = field(&f, "version").and_then(|v| v.parse::<i32>().ok()) else {
        return refused(&c, &state, id, AppError::PreconditionFailed).await;
    };
    let (p, plans) = (c.session.principal.clone(), state.plans.clone());
    let scope = p.scope();
    let done = db::run(&state.pool, move |conn| {
        svc::act(conn, &plans, &scope, id, version, action, &p, now)
    })
    .await;
    match done {
        Ok(e) => {
            tracing::info!(episode.id = %e.id, episode.state = %e.state, "episode updated in the console");
            Ok(see_other(&format!("/management/episodes/{id}")))
        }
        Err(e) => refused(&c, &state, id, e).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn days_are_china_noon_and_today_is_now() {
        let now: DateTime<Utc> = "2026-12-05T01:00:00Z".parse().unwrap();
        let past = when(&form(&[("d", "2026-12-03")]), "d", "done_at", now).unwrap();
        assert_eq!(past.to_rfc3339(), "2026-12-03T04:00:00+00:00");
        // 09:00 in Beijing: noon today lies ahead, so today means now.
        let today = when(&form(&[("d", "2026-12-05")]), "d", "done_at", now).unwrap();
        assert_eq!(today, now);
        assert_eq!(when(&form(&[]), "d", "done_at", now).unwrap(), now);
        assert!(when(&form(&[("d", "5 Dec")]), "d", "done_at", now).is_err());
    }

    #[test]
    fn a_closure_needs_the_detail_its_reason_names() {
        let e = closure(&form(&[("reason", "lost_to_follow_up")])).unwrap_err();
        assert!(format!("{e:?}").contains("closure.attempts"), "{e:?}");
        assert_eq!(
            closure(&form(&[("reason", "deceased")])).unwrap(),
            Closure::Deceased
        );
        assert!(closure(&form(&[("reason", "bored")])).is_err());
    }

    #[test]
    fn measurements_are_numbers_and_need_the_clinician() {
        let now = Utc::now();
        let f = form(&[
            ("contact", "0193a1b2-0000-7000-8000-000000000001"),
            ("m_TSH", "4.2"),
            ("m_FT4", ""),
        ]);
        let Ok(Some((needed, EpisodeAction::Contact(_, c)))) = action("contact", &f, now) else {
            panic!("not a contact");
        };
        assert_eq!(needed, Action::RecordClinical);
        assert_eq!(c.measurements.get("TSH"), Some(&4.2));
        assert!(!c.measurements.contains_key("FT4"));
        let bad = form(&[
            ("contact", "0193a1b2-0000-7000-8000-000000000001"),
            ("m_TSH", "high"),
        ]);
        assert!(action("contact", &bad, now).is_err());
        assert!(action("dance", &f, now).unwrap().is_none());
    }
}
