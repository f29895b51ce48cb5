//! Finding an infant (`/infants?q=…`) and the infant's page (`/infants/{id}`): registration and
//! contacts (the mother's ID only masked), the screening status per programme with its next
//! step, every card with its interpretation (marker, value, limit, stratum: the why), hearing and
//! heart screens, and the infant's cases.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::auth::FieldError;
use super::{Chrome, Opt, render, see_other};
use crate::db;
use crate::db::models::admin::hospital;
use crate::db::models::follow_up::case::{self, CaseFilter};
use crate::domain::ids::{HospitalId, InfantId};
use crate::domain::principal::Scope;
use crate::domain::role::Action;
use crate::services::admin::catalogue::current;
use crate::services::screening::infants::{self as infants_svc, InfantPatch};
use crate::services::screening::search::{self, Hit, Query};
use crate::services::screening::summary::{
    self, ProgrammeStatus, ProgrammeSummary, ScreeningSummary,
};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::i18n::Tr;
use crate::web::session::Console;

/// A value's serde name (`not_yet_screened`, …), for message keys.
fn snake(v: impl Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// One search result.
#[derive(Debug, Clone)]
pub struct Row {
    /// The infant's page.
    pub href: String,
    /// `HOSPITALCODE-MRN`.
    pub reference: String,
    /// Birth, local time.
    pub born: String,
    /// The hospital.
    pub hospital: String,
    /// How it matched.
    pub matched: String,
}

#[derive(Template)]
#[template(path = "infants.html", config = "src/web/askama.toml")]
struct SearchPage {
    c: Chrome,
    q: String,
    born_from: String,
    born_to: String,
    hospitals: Vec<Opt>,
    searched: bool,
    rows: Vec<Row>,
}

/// The search form.
#[derive(Debug, Default, Deserialize)]
pub struct SearchForm {
    #[serde(default)]
    q: String,
    #[serde(default)]
    hospital: String,
    #[serde(default)]
    born_from: String,
    #[serde(default)]
    born_to: String,
}

/// `GET /infants`.
#[get("/infants")]
pub async fn search_page(
    c: Console,
    state: web::Data<AppState>,
    f: web::Query<SearchForm>,
) -> Result<HttpResponse, WebError> {
    c.require(Action::ReadPersonalData)?;
    let f = f.into_inner();
    let day = |s: &str| s.parse::<NaiveDate>().ok();
    let query = Query {
        text: Some(f.q.clone()).filter(|t| !t.trim().is_empty()),
        hospital: f.hospital.parse().ok().map(HospitalId),
        born_from: day(&f.born_from),
        born_to: day(&f.born_to),
    };
    let searched = query.text.is_some() || query.born_from.is_some() || query.born_to.is_some();
    let (p, now) = (c.session.principal.clone(), state.now());
    let key = state.id_hash_key.clone();
    let unrestricted = p.scope().hospital_filter().is_none();
    let (hits, hospitals) = db::run(&state.pool, move |conn| {
        let hits: Vec<Hit> = if searched {
            search::search(conn, &p, &query, &key.0, now)?
        } else {
            vec![]
        };
        let hospitals = hospital::list(conn, &Scope::unrestricted(), None)?;
        Ok((hits, hospitals))
    })
    .await?;
    let tr = c.tr;
    let code_of = |h: HospitalId| {
        hospitals
            .iter()
            .find(|x| x.id == h)
            .map(|x| (x.code.clone(), x.name.clone()))
            .unwrap_or_default()
    };
    let rows = hits
        .into_iter()
        .map(|h| {
            let (code, name) = code_of(h.infant.hospital_id);
            Row {
                href: format!("/infants/{}", h.infant.id),
                reference: crate::domain::infant::infant_ref(&code, &h.infant.mrn),
                born: tr.time(h.infant.birth_at.utc()),
                hospital: name,
                matched: tr.t(&format!("matched_{}", h.matched)),
            }
        })
        .collect();
    let page = SearchPage {
        c: Chrome::of(&c, "nav_infants", "/infants"),
        q: f.q,
        born_from: f.born_from,
        born_to: f.born_to,
        hospitals: if unrestricted {
            hospitals
                .iter()
                .map(|h| Opt {
                    value: h.id.to_string(),
                    label: format!("{} {}", h.code, h.name),
                    selected: f.hospital == h.id.to_string(),
                })
                .collect()
        } else {
            vec![]
        },
        searched,
        rows,
    };
    render(StatusCode::OK, &page)
}

/// A programme's line on the infant page.
#[derive(Debug, Clone)]
pub struct Programme {
    /// Its name.
    pub name: String,
    /// Where the infant stands.
    pub status: String,
    /// The guardian's latest decision, if any.
    pub consent: String,
    /// Needs action: positive, a repeat due, or missed.
    pub urgent: bool,
    /// The next step and its deadline.
    pub next: String,
}

/// One finding of a card.
#[derive(Debug, Clone)]
pub struct Finding {
    /// Condition, level and tier.
    pub condition: String,
    /// Each marker: value, comparator, cutoff, stratum.
    pub markers: Vec<String>,
}

/// A card on the infant page.
#[derive(Debug, Clone)]
pub struct Card {
    /// Barcode.
    pub barcode: String,
    /// Collected, local time, and age in hours.
    pub collected: String,
    /// Received and its quality.
    pub received: String,
    /// The interpretation's outcome.
    pub outcome: String,
    /// Why.
    pub findings: Vec<Finding>,
}

/// A case on the infant page.
#[derive(Debug, Clone)]
pub struct CaseLine {
    /// Its page.
    pub href: String,
    /// Programme and reason.
    pub what: String,
    /// State.
    pub state: String,
    /// Tier badge class and text.
    pub tier: String,
    /// Tier text.
    pub tier_label: String,
}

#[derive(Template)]
#[template(path = "infant.html", config = "src/web/askama.toml")]
struct InfantPage {
    c: Chrome,
    heading: String,
    id: String,
    facts: Vec<(String, String)>,
    may_edit: bool,
    mother_name: String,
    phones: String,
    address: String,
    sms_opt_out: bool,
    errors: Vec<FieldError>,
    programmes: Vec<Programme>,
    cards: Vec<Card>,
    hearing: Vec<String>,
    heart: Vec<String>,
    cases: Vec<CaseLine>,
    /// (the other record's page, what happened).
    merges: Vec<(String, String)>,
}

fn text(v: &serde_json::Value, k: &str) -> String {
    match &v[k] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "—".into(),
        // Whole numbers without a decimal point (a saturation of 98, not 98.0).
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

fn when(tr: Tr, v: &serde_json::Value, k: &str) -> String {
    v[k].as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| tr.time(t.with_timezone(&chrono::Utc)))
        .unwrap_or_default()
}

/// A hearing test as one line: when, stage and method, each ear.
fn hearing_line(tr: Tr, v: &serde_json::Value) -> String {
    tr.f(
        "hearing_line",
        &[
            ("at", &when(tr, v, "tested_at")),
            ("stage", &text(v, "stage")),
            ("method", &text(v, "method")),
            ("left", &text(v, "left")),
            ("right", &text(v, "right")),
        ],
    )
}

/// A heart screen as one line: when, both saturations, the murmur grade.
fn heart_line(tr: Tr, v: &serde_json::Value) -> String {
    tr.f(
        "heart_line",
        &[
            ("at", &when(tr, v, "measured_at")),
            ("right", &text(v, "right_hand_spo2")),
            ("foot", &text(v, "foot_spo2")),
            ("murmur", &text(v, "murmur_grade")),
        ],
    )
}

fn programme(tr: Tr, key: &str, s: &ProgrammeSummary) -> Programme {
    Programme {
        name: tr.t(&format!("programme_{key}")),
        status: tr.t(&format!("status_{}", snake(s.status))),
        urgent: matches!(
            s.status,
            ProgrammeStatus::Positive | ProgrammeStatus::NeedsRepeat | ProgrammeStatus::Missed
        ),
        consent: s
            .consent
            .map(|d| tr.t(&format!("decision_{}", d.as_str())))
            .unwrap_or_else(|| "—".into()),
        next: s
            .next_action
            .as_ref()
            .map(|n| {
                let action = tr.t(&format!("next_{}", n.action));
                match n.due_by {
                    Some(d) => format!("{action} ({})", tr.time(d)),
                    None => action,
                }
            })
            .unwrap_or_default(),
    }
}

fn cards(tr: Tr, s: &ScreeningSummary) -> Vec<Card> {
    s.cards
        .iter()
        .map(|k| Card {
            barcode: k.barcode.clone(),
            collected: format!(
                "{} ({} h)",
                tr.time(k.collected_at),
                k.age_at_collection_hours
            ),
            received: match k.received_at {
                Some(r) => format!("{} {}", tr.time(r), k.quality.clone().unwrap_or_default()),
                None => "—".into(),
            },
            outcome: k
                .interpretation
                .as_ref()
                .map(|i| {
                    let tier = i
                        .tier
                        .map(|t| format!(" · {}", t.as_str()))
                        .unwrap_or_default();
                    format!("{}{tier}", snake(i.outcome))
                })
                .unwrap_or_else(|| "—".into()),
            findings: k
                .interpretation
                .as_ref()
                .map(|i| {
                    i.suspected
                        .iter()
                        .map(|f| Finding {
                            condition: format!(
                                "{} · {}{}",
                                f.condition,
                                snake(f.level),
                                f.tier
                                    .map(|t| format!(" · {}", t.as_str()))
                                    .unwrap_or_default()
                            ),
                            markers: f
                                .markers
                                .iter()
                                .map(|m| {
                                    format!(
                                        "{} = {} ({} {}{}){}",
                                        m.marker,
                                        m.value.map_or_else(|| "—".into(), |v| v.to_string()),
                                        m.comparator,
                                        m.cutoff,
                                        m.stratum
                                            .as_ref()
                                            .map(|s| format!(", {s}"))
                                            .unwrap_or_default(),
                                        if m.computed { " *" } else { "" }
                                    )
                                })
                                .collect(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// `GET /infants/{id}`.
#[get("/infants/{id}")]
pub async fn infant_page(
    c: Console,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    c.require(Action::ReadPersonalData)?;
    let id = InfantId(id.parse().map_err(|_| WebError::NotFound)?);
    show(&c, &state, id, StatusCode::OK, vec![]).await
}

/// Renders the infant's page with `errors` (from a refused contact edit) and `status`.
async fn show(
    c: &Console,
    state: &AppState,
    id: InfantId,
    status: StatusCode,
    errors: Vec<FieldError>,
) -> Result<HttpResponse, WebError> {
    let (p, now) = (c.session.principal.clone(), state.now());
    let interp = current(&state.catalogues, now)?;
    let (infant, hospital, summary, cases, merges) = db::run(&state.pool, move |conn| {
        let scope = p.scope();
        let infant = crate::db::models::screening::infant::get(conn, &scope, id)?
            .ok_or(crate::error::AppError::NotFound { entity: "infant" })?;
        let s = summary::summary(conn, &interp, &scope, id, now)?;
        let h = hospital::get(conn, &Scope::unrestricted(), infant.hospital_id)?;
        let f = CaseFilter {
            infant_id: Some(id.to_string()),
            ..Default::default()
        };
        let cases = case::list(conn, &scope, &f, 50)?;
        let merges = crate::db::models::screening::merge::of_infant(conn, id)?;
        crate::services::admin::audit::read(conn, &p, "infant", id, now)?;
        Ok((infant, h, s, cases, merges))
    })
    .await?;
    let tr = c.tr;
    let code = hospital
        .as_ref()
        .map(|h| h.code.clone())
        .unwrap_or_default();
    let reference = crate::domain::infant::infant_ref(&code, &infant.mrn);
    let facts = vec![
        (
            tr.t("col_hospital"),
            hospital.map(|h| h.name).unwrap_or_default(),
        ),
        (tr.t("born"), tr.time(infant.birth_at.utc())),
        (tr.t("sex"), tr.t(&format!("sex_{}", infant.sex.as_str()))),
        (
            tr.t("gestation"),
            format!(
                "{}+{} · {} g",
                infant.gestational_age_weeks, infant.gestational_age_days, infant.birth_weight_g
            ),
        ),
        (
            tr.t("infant_status"),
            tr.t(&format!("infant_status_{}", infant.status.as_str())),
        ),
        (
            tr.t("id_document"),
            infant
                .mother_id_masked
                .clone()
                .unwrap_or_else(|| "—".into()),
        ),
    ];
    let page = InfantPage {
        c: Chrome::of(c, "infant_title", &format!("/infants/{id}")),
        heading: tr.f("infant_heading", &[("reference", &reference)]),
        id: id.to_string(),
        facts,
        may_edit: c.session.principal.role.may(Action::WriteInfants),
        mother_name: infant.mother_name.clone(),
        phones: infant.mother_phones.0.join(", "),
        address: infant.address.clone().unwrap_or_default(),
        sms_opt_out: infant.sms_opt_out,
        errors,
        programmes: vec![
            programme(tr, "DBS", &summary.dbs),
            programme(tr, "HEAR", &summary.hearing),
            programme(tr, "CCHD", &summary.cchd),
        ],
        cards: cards(tr, &summary),
        hearing: summary
            .hearing_tests
            .iter()
            .map(|v| hearing_line(tr, v))
            .collect(),
        heart: summary
            .cchd_measurements
            .iter()
            .map(|v| heart_line(tr, v))
            .collect(),
        merges: merges
            .iter()
            .map(|m| {
                let (key, other) = if m.kept_id == id {
                    ("merge_kept", m.merged_id)
                } else {
                    ("merge_merged", m.kept_id)
                };
                let undone = m
                    .undone_at
                    .map(|t| tr.f("merge_undone", &[("at", &tr.time(t.utc()))]))
                    .unwrap_or_default();
                (
                    format!("/infants/{other}"),
                    format!(
                        "{} {}",
                        tr.f(key, &[("at", &tr.time(m.merged_at.utc()))]),
                        undone
                    ),
                )
            })
            .collect(),
        cases: cases
            .into_iter()
            .map(|k| CaseLine {
                href: format!("/cases/{}", k.id),
                what: format!(
                    "{} · {}",
                    tr.t(&format!("programme_{}", k.programme.as_str())),
                    tr.t(&format!("reason_{}", k.reason.as_str()))
                ),
                state: tr.t(&format!("state_{}", k.state.as_str())),
                tier: k.tier.as_str().into(),
                tier_label: tr.t(&format!("tier_{}", k.tier.as_str())),
            })
            .collect(),
    };
    render(status, &page)
}

/// The contacts form of the infant page.
#[derive(Debug, Deserialize)]
pub struct ContactsForm {
    csrf: Option<String>,
    mother_name: String,
    /// Numbers separated by commas.
    phones: String,
    #[serde(default)]
    address: String,
    /// Present when ticked.
    sms_opt_out: Option<String>,
}

/// `POST /infants/{id}/contacts`: the mother's name, phones, address and SMS choice, checked as
/// the API checks them; a refused change writes nothing and shows why next to the fields.
#[post("/infants/{id}/contacts")]
pub async fn edit_contacts(
    req: HttpRequest,
    c: Console,
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<ContactsForm>,
) -> Result<HttpResponse, WebError> {
    c.authorize(&req, form.csrf.as_deref(), Action::WriteInfants)?;
    let id = InfantId(id.parse().map_err(|_| WebError::NotFound)?);
    let f = form.into_inner();
    let address = f.address.trim().to_string();
    let patch = InfantPatch {
        mother_name: Some(f.mother_name),
        mother_phones: Some(
            f.phones
                .split([',', '，', ';'])
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(String::from)
                .collect(),
        ),
        address: Some((!address.is_empty()).then_some(address)),
        sms_opt_out: Some(f.sms_opt_out.is_some()),
        ..Default::default()
    };
    let (p, now, key) = (
        c.session.principal.clone(),
        state.now(),
        state.id_hash_key.0.clone(),
    );
    let interp = current(&state.catalogues, now)?;
    let policy = crate::services::admin::policy::current(&state.policies, now)?;
    let done = db::run(&state.pool, move |conn| {
        let rules = crate::services::screening::cards::Rules {
            interp: &interp,
            policy: &policy,
            who: &p,
        };
        infants_svc::update(conn, &p, rules, id, patch, &key, now)
    })
    .await;
    match done {
        Ok(row) => {
            tracing::info!(infant.id = %row.id, "infant contacts updated in the console");
            Ok(see_other(&format!("/infants/{id}")))
        }
        Err(crate::error::AppError::Validation(errors)) => {
            let tr = c.tr;
            let errors = errors
                .0
                .into_iter()
                .flat_map(|(field, messages)| {
                    // `mother.phones[0]` → the phones field.
                    let id = if field.contains("phones") {
                        "phones"
                    } else if field.contains("name") {
                        "mother_name"
                    } else {
                        "address"
                    };
                    messages.into_iter().map(move |m| FieldError {
                        field: id.to_string(),
                        label: tr.t(id),
                        message: crate::web::field_messages::translate(tr, &m),
                    })
                })
                .collect();
            show(&c, &state, id, StatusCode::UNPROCESSABLE_ENTITY, errors).await
        }
        Err(e) => Err(e.into()),
    }
}
