//! The hospital view's forms: register a birth, record a hearing screen, record a heart
//! (pulse-oximetry) screen. Each goes through the API's service, so the checks and the
//! per-field messages are the API's; a refusal shows the page again with the errors linked to
//! their fields and the values kept, and writes nothing.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::{DateTime, FixedOffset, NaiveDateTime, Offset, TimeZone, Utc};

use super::{Refusal, chosen, show};
use crate::db;
use crate::db::models::screening::infant;
use crate::domain::cchd::CchdMeasurement;
use crate::domain::hearing::{EarResult, HearingMethod, HearingStage, HearingTest};
use crate::domain::ids::{HospitalId, InfantId};
use crate::domain::infant::{BirthFacts, Sex};
use crate::domain::role::Action;
use crate::domain::validation::FieldErrors;
use crate::error::AppError;
use crate::services::admin::{catalogue, policy};
use crate::services::screening::infants::{self as infants_svc, Registration};
use crate::services::screening::screens::{self as screens_svc, HearingInput};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::pages::auth::FieldError;
use crate::web::pages::see_other;
use crate::web::session::Console;

type Form = HashMap<String, String>;

fn text(f: &Form, k: &str) -> String {
    f.get(k).map(|s| s.trim().to_string()).unwrap_or_default()
}

fn int(f: &Form, k: &str, e: &mut FieldErrors) -> i64 {
    let v = text(f, k);
    v.parse().unwrap_or_else(|_| {
        e.add(k, "must be a whole number");
        0
    })
}

fn number(f: &Form, k: &str, e: &mut FieldErrors) -> f64 {
    let v = text(f, k);
    v.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .unwrap_or_else(|| {
            e.add(k, "must be a number");
            0.0
        })
}

/// A `datetime-local` value read in China Standard Time.
fn local(f: &Form, k: &str, e: &mut FieldErrors) -> DateTime<FixedOffset> {
    let cst = FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix());
    NaiveDateTime::parse_from_str(&text(f, k), "%Y-%m-%dT%H:%M")
        .ok()
        .and_then(|n| cst.from_local_datetime(&n).single())
        .unwrap_or_else(|| {
            e.add(k, "is not a date and time");
            Utc::now().with_timezone(&cst)
        })
}

/// The hospital a form is for, and the permission.
fn hospital_of(c: &Console, req: &HttpRequest, f: &Form) -> Result<HospitalId, WebError> {
    c.authorize(req, f.get("csrf").map(String::as_str), Action::WriteInfants)?;
    chosen(c, f.get("hospital").map(String::as_str)).ok_or(WebError::NotFound)
}

/// Shows the page again with `e` on the form `form` (field names prefixed with `prefix`).
async fn refused(
    c: &Console,
    state: &AppState,
    h: HospitalId,
    form: &str,
    prefix: &str,
    e: AppError,
    values: Form,
) -> Result<HttpResponse, WebError> {
    let AppError::Validation(errors) = e else {
        return Err(e.into());
    };
    let tr = c.tr;
    let list = errors
        .0
        .into_iter()
        .flat_map(|(field, messages)| {
            // `mother.phones[0]` → the phones field; `mother.name` → the name field.
            let field = field.trim_start_matches(prefix).to_string();
            let id = if field.contains("phones") {
                "mother_phones".to_string()
            } else if field == "mother.name" {
                "mother_name".to_string()
            } else {
                field.replace(['.', '[', ']'], "_")
            };
            let id = format!("{prefix}{id}");
            messages.into_iter().map(move |m| FieldError {
                label: tr.t(&format!("field_{}", id.trim_start_matches(prefix))),
                field: id.clone(),
                message: crate::web::field_messages::translate(tr, &m),
            })
        })
        .collect();
    show(
        c,
        state,
        Some(h),
        StatusCode::UNPROCESSABLE_ENTITY,
        None,
        Refusal {
            form: form.into(),
            errors: list,
        },
        values,
    )
    .await
}

/// `POST /hospital/births`: registers a birth.
#[post("/hospital/births")]
pub async fn register_birth(
    req: HttpRequest,
    c: Console,
    state: web::Data<AppState>,
    form: web::Form<Form>,
) -> Result<HttpResponse, WebError> {
    let f = form.into_inner();
    let h = hospital_of(&c, &req, &f)?;
    let mut e = FieldErrors::new();
    let sex = Sex::parse(&text(&f, "sex"));
    if sex.is_none() {
        e.add("sex", "choose one");
    }
    let birth = BirthFacts {
        mrn: text(&f, "mrn"),
        birth_at: local(&f, "birth_at", &mut e),
        gestational_age_weeks: int(&f, "gestational_age_weeks", &mut e),
        gestational_age_days: int(&f, "gestational_age_days", &mut e),
        birth_weight_g: int(&f, "birth_weight_g", &mut e),
        plurality: int(&f, "plurality", &mut e),
        birth_order: int(&f, "birth_order", &mut e),
    };
    let phones: Vec<String> = text(&f, "mother_phones")
        .split([',', '，', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if !e.is_empty() {
        return refused(&c, &state, h, "register", "", AppError::Validation(e), f).await;
    }
    let reg = Registration {
        hospital_id: Some(h),
        sex: sex.unwrap_or(Sex::Undetermined),
        birth,
        nicu_admitted: f.get("nicu_admitted").is_some_and(|v| v == "1"),
        mother_name: text(&f, "mother_name"),
        mother_phones: phones,
        mother_id: None,
        address: Some(text(&f, "address")).filter(|a| !a.is_empty()),
    };
    let (p, now, key) = (
        c.session.principal.clone(),
        state.now(),
        state.id_hash_key.0.clone(),
    );
    match db::run(&state.pool, move |conn| {
        infants_svc::register(conn, &p, reg, &key, now)
    })
    .await
    {
        Ok(row) => {
            tracing::info!(infant.id = %row.id, hospital.id = %h, "birth registered in the console");
            Ok(see_other(&format!(
                "/hospital?hospital={h}&done=registered"
            )))
        }
        Err(e) => refused(&c, &state, h, "register", "", e, f).await,
    }
}

/// The infant of `h` with the MRN in field `k`, or a field error.
async fn infant_by_mrn(
    c: &Console,
    state: &AppState,
    h: HospitalId,
    mrn: String,
    field: &str,
) -> Result<InfantId, AppError> {
    let scope = c.session.principal.scope();
    let found = db::run(&state.pool, move |conn| {
        Ok::<_, AppError>(infant::find_by_mrn(conn, &scope, h, &mrn)?)
    })
    .await?;
    found
        .map(|i| i.id)
        .ok_or_else(|| AppError::invalid(field, "no infant with this MRN at this hospital"))
}

/// `POST /hospital/hearing`: records a hearing screen.
#[post("/hospital/hearing")]
pub async fn record_hearing(
    req: HttpRequest,
    c: Console,
    state: web::Data<AppState>,
    form: web::Form<Form>,
) -> Result<HttpResponse, WebError> {
    let f = form.into_inner();
    let h = hospital_of(&c, &req, &f)?;
    let mut e = FieldErrors::new();
    let stage = HearingStage::parse(&text(&f, "h-stage"));
    let method = HearingMethod::parse(&text(&f, "h-method"));
    let left = EarResult::parse(&text(&f, "h-left"));
    let right = EarResult::parse(&text(&f, "h-right"));
    for (k, ok) in [
        ("stage", stage.is_some()),
        ("method", method.is_some()),
        ("left", left.is_some()),
        ("right", right.is_some()),
    ] {
        if !ok {
            e.add(k, "choose one");
        }
    }
    let tested_at = local(&f, "h-tested_at", &mut e).with_timezone(&Utc);
    let (Some(stage), Some(method), Some(left), Some(right), true) =
        (stage, method, left, right, e.is_empty())
    else {
        return refused(&c, &state, h, "hearing", "h-", AppError::Validation(e), f).await;
    };
    let id = match infant_by_mrn(&c, &state, h, text(&f, "h-mrn"), "mrn").await {
        Ok(id) => id,
        Err(e) => return refused(&c, &state, h, "hearing", "h-", e, f).await,
    };
    let input = HearingInput {
        test: HearingTest {
            stage,
            method,
            left,
            right,
            tested_at,
        },
        nicu_days: None,
        risk_factors: vec![],
    };
    let now = state.now();
    let interp = catalogue::current(&state.catalogues, now)?;
    let pol = policy::current(&state.policies, now)?;
    let p = c.session.principal.clone();
    match db::run(&state.pool, move |conn| {
        screens_svc::record_hearing(conn, interp.catalogue(), &pol, &p, &id, input, now)
    })
    .await
    {
        Ok(_) => {
            tracing::info!(infant.id = %id, "hearing test recorded in the console");
            Ok(see_other(&format!("/hospital?hospital={h}&done=hearing")))
        }
        Err(e) => refused(&c, &state, h, "hearing", "h-", e, f).await,
    }
}

/// `POST /hospital/heart`: records a pulse-oximetry screen.
#[post("/hospital/heart")]
pub async fn record_heart(
    req: HttpRequest,
    c: Console,
    state: web::Data<AppState>,
    form: web::Form<Form>,
) -> Result<HttpResponse, WebError> {
    let f = form.into_inner();
    let h = hospital_of(&c, &req, &f)?;
    let mut e = FieldErrors::new();
    let m = CchdMeasurement {
        measured_at: local(&f, "c-measured_at", &mut e).with_timezone(&Utc),
        right_hand_spo2: number(&f, "c-right_hand_spo2", &mut e),
        foot_spo2: number(&f, "c-foot_spo2", &mut e),
        murmur_grade: None,
        clinical_signs: vec![],
        auscultation: None,
    };
    if !e.is_empty() {
        return refused(&c, &state, h, "heart", "c-", AppError::Validation(e), f).await;
    }
    let id = match infant_by_mrn(&c, &state, h, text(&f, "c-mrn"), "mrn").await {
        Ok(id) => id,
        Err(e) => return refused(&c, &state, h, "heart", "c-", e, f).await,
    };
    let now = state.now();
    let interp = catalogue::current(&state.catalogues, now)?;
    let pol = policy::current(&state.policies, now)?;
    let p = c.session.principal.clone();
    match db::run(&state.pool, move |conn| {
        screens_svc::record_cchd(conn, interp.catalogue(), &pol, &p, &id, (None, m), now)
    })
    .await
    {
        Ok(_) => {
            tracing::info!(infant.id = %id, "heart screen recorded in the console");
            Ok(see_other(&format!("/hospital?hospital={h}&done=heart")))
        }
        Err(e) => refused(&c, &state, h, "heart", "c-", e, f).await,
    }
}
