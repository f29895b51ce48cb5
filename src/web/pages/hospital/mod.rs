//! The hospital view (`/hospital`), for maternity-hospital staff: their births this month with,
//! per programme, the screen done or its deadline (overdue ones marked); cards rejected as
//! unsatisfactory awaiting a new card; their infants' open cases and what the centre asks of
//! them; a link to their scorecard; and forms to register a birth and to record a hearing or a
//! heart screen for hospitals without an integrated system, checked by the same services as the
//! API (per-field errors, nothing written on refusal). Centre staff choose the hospital.

mod forms;

pub use forms::{record_hearing, record_heart, register_birth};

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, web};
use askama::Template;
use serde::Deserialize;

use super::auth::FieldError;
use super::{Chrome, Opt, render};
use crate::db;
use crate::db::models::admin::hospital;
use crate::db::types::UtcMicros;
use crate::domain::ids::HospitalId;
use crate::domain::role::Action;
use crate::error::AppError;
use crate::services::admin::catalogue;
use crate::services::screening::hospital_board::{self, Board};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::i18n::Tr;
use crate::web::session::Console;

/// One birth line.
#[derive(Debug, Clone)]
pub struct BirthRow {
    /// The infant's page.
    pub href: String,
    /// `HOSPITALCODE-MRN`.
    pub reference: String,
    /// Birth, local time.
    pub born: String,
    /// Per programme: the text and whether it is overdue.
    pub screens: Vec<(String, bool)>,
    /// Every screen done.
    pub complete: bool,
}

/// One open case line.
#[derive(Debug, Clone)]
pub struct CaseRow {
    /// The case's page.
    pub href: String,
    /// `HOSPITALCODE-MRN`.
    pub reference: String,
    /// Programme and reason.
    pub reason: String,
    /// State: what the centre is doing or asks.
    pub state: String,
    /// The next deadline and how long is left.
    pub due: String,
    /// Past it.
    pub overdue: bool,
}

/// Which form a refusal belongs to, with its errors.
#[derive(Debug, Clone, Default)]
pub struct Refusal {
    /// `register`, `hearing` or `heart`.
    pub form: String,
    /// The errors, linked to their fields.
    pub errors: Vec<FieldError>,
}

#[derive(Template)]
#[template(path = "hospital.html", config = "src/web/askama.toml")]
struct HospitalPage {
    c: Chrome,
    hospital: String,
    hospital_id: String,
    hospitals: Vec<Opt>,
    may_write: bool,
    births: Vec<BirthRow>,
    births_caption: String,
    recollect: Vec<CaseRow>,
    cases: Vec<CaseRow>,
    notice: Option<String>,
    refusal: Refusal,
    values: HashMap<String, String>,
    sexes: Vec<Opt>,
    today: String,
}

impl HospitalPage {
    /// A submitted value to show again (empty when none).
    fn val(&self, k: &str) -> String {
        self.values.get(k).cloned().unwrap_or_default()
    }
}

/// The hospital and the note after a successful form.
#[derive(Debug, Default, Deserialize)]
pub struct ViewQuery {
    hospital: Option<String>,
    done: Option<String>,
}

/// The hospital the page is for: a hospital user's own, else the one chosen.
fn chosen(c: &Console, asked: Option<&str>) -> Option<HospitalId> {
    c.session.principal.scope().hospital_filter().or_else(|| {
        asked
            .filter(|h| !h.trim().is_empty())
            .and_then(|h| h.parse().ok())
            .map(HospitalId)
    })
}

fn case_rows(
    tr: Tr,
    cases: &[crate::db::models::follow_up::case::Case],
    refs: &HashMap<crate::domain::ids::CaseId, String>,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<CaseRow> {
    cases
        .iter()
        .map(|k| {
            let due = k.next_due_at.map(UtcMicros::utc);
            let (text, overdue) = match due {
                Some(d) if d <= now => (
                    format!(
                        "{} — {}",
                        tr.time(d),
                        tr.f("overdue_by", &[("time", &tr.span(now - d))])
                    ),
                    true,
                ),
                Some(d) => (
                    format!(
                        "{} — {}",
                        tr.time(d),
                        tr.f("time_left", &[("time", &tr.span(d - now))])
                    ),
                    false,
                ),
                None => ("—".into(), false),
            };
            CaseRow {
                href: format!("/cases/{}", k.id),
                reference: refs.get(&k.id).cloned().unwrap_or_default(),
                reason: format!(
                    "{} · {}",
                    tr.t(&format!("programme_{}", k.programme.as_str())),
                    tr.t(&format!("reason_{}", k.reason.as_str()))
                ),
                state: tr.t(&format!("state_{}", k.state.as_str())),
                due: text,
                overdue,
            }
        })
        .collect()
}

/// Renders the view for `hospital` with a refusal or a notice.
pub(super) async fn show(
    c: &Console,
    state: &AppState,
    hospital_id: Option<HospitalId>,
    status: StatusCode,
    notice: Option<String>,
    refusal: Refusal,
    values: HashMap<String, String>,
) -> Result<HttpResponse, WebError> {
    let now = state.now();
    let tr = c.tr;
    let p = c.session.principal.clone();
    let interp = catalogue::current(&state.catalogues, now)?;
    let (board, hs, refs) = db::run(&state.pool, move |conn| {
        let hs = hospital::list(conn, &p.scope(), Some(true))?;
        let board = match hospital_id {
            Some(h) => {
                let scope = p.scope().narrowed_to(h);
                hospital_board::board(conn, interp.catalogue(), &p, &scope, now)?
            }
            None => Board::default(),
        };
        let ids: Vec<_> = board
            .recollect
            .iter()
            .chain(&board.cases)
            .map(|k| k.id)
            .collect();
        let refs = crate::db::models::follow_up::case::infant_refs(conn, &ids)?;
        Ok::<_, AppError>((board, hs, refs))
    })
    .await?;
    let code = |h: HospitalId| {
        hs.iter()
            .find(|x| x.id == h)
            .map(|x| x.code.clone())
            .unwrap_or_default()
    };
    let births: Vec<BirthRow> = board
        .births
        .iter()
        .map(|b| {
            let screens: Vec<(String, bool)> = b
                .screens
                .iter()
                .map(|(_, done, due)| {
                    if *done {
                        (tr.t("screen_done"), false)
                    } else if *due <= now {
                        (
                            tr.f("screen_overdue_since", &[("time", &tr.time(*due))]),
                            true,
                        )
                    } else {
                        (tr.f("screen_due_by", &[("time", &tr.time(*due))]), false)
                    }
                })
                .collect();
            BirthRow {
                href: format!("/infants/{}", b.infant.id),
                reference: crate::domain::infant::infant_ref(
                    &code(b.infant.hospital_id),
                    &b.infant.mrn,
                ),
                born: tr.time(b.infant.birth_at.utc()),
                complete: b.screens.iter().all(|s| s.1),
                screens,
            }
        })
        .collect();
    let missing = births.iter().filter(|b| !b.complete).count();
    let page = HospitalPage {
        c: Chrome::of(c, "hospital_title", "/hospital"),
        hospital: hospital_id
            .and_then(|h| hs.iter().find(|x| x.id == h).map(|x| x.name.clone()))
            .unwrap_or_default(),
        hospital_id: hospital_id.map(|h| h.to_string()).unwrap_or_default(),
        hospitals: hs
            .iter()
            .map(|h| Opt {
                value: h.id.to_string(),
                label: format!("{} {}", h.code, h.name),
                selected: hospital_id == Some(h.id),
            })
            .collect(),
        may_write: hospital_id.is_some() && c.session.principal.role.may(Action::WriteInfants),
        births_caption: tr.f(
            "births_caption",
            &[("n", &births.len()), ("missing", &missing)],
        ),
        births,
        recollect: case_rows(tr, &board.recollect, &refs, now),
        cases: case_rows(tr, &board.cases, &refs, now),
        notice,
        refusal,
        values,
        sexes: ["female", "male", "undetermined"]
            .iter()
            .map(|s| Opt {
                value: (*s).into(),
                label: tr.t(&format!("sex_{s}")),
                selected: false,
            })
            .collect(),
        today: tr.time(now).replace(' ', "T"),
    };
    render(status, &page)
}

/// `GET /hospital`.
#[get("/hospital")]
pub async fn hospital_page(
    c: Console,
    state: web::Data<AppState>,
    q: web::Query<ViewQuery>,
) -> Result<HttpResponse, WebError> {
    c.require(Action::ReadPersonalData)?;
    let h = chosen(&c, q.hospital.as_deref());
    let notice = match q.done.as_deref() {
        Some(d @ ("registered" | "hearing" | "heart")) => Some(c.tr.t(&format!("done_{d}"))),
        _ => None,
    };
    show(
        &c,
        &state,
        h,
        StatusCode::OK,
        notice,
        Refusal::default(),
        HashMap::new(),
    )
    .await
}
