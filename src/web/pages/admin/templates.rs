//! Notification preview: any message template rendered with example data in both languages,
//! as loaded, and a proposed change checked as at start-up and rendered before it is published
//! (templates are files in `notify.template_directory`; nothing is stored here).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use askama::Template;
use serde::Deserialize;

use crate::domain::role::Action;
use crate::services::admin::catalogue::condition_names;
use crate::services::admin::template_preview::{self as preview, spec};
use crate::state::AppState;
use crate::web::error::WebError;
use crate::web::pages::{Chrome, Opt, render};
use crate::web::session::Console;

/// One language's column.
#[derive(Debug, Clone)]
pub struct Column {
    /// `zh-CN` or `en`.
    pub locale: String,
    /// The language's name.
    pub language: String,
    /// Rendered subject (e-mails).
    pub subject: Option<String>,
    /// Rendered body.
    pub body: String,
    /// Why it does not render (a proposed text that fails the checks).
    pub error: Option<String>,
    /// The text in the edit form: subject.
    pub edit_subject: String,
    /// The text in the edit form: body.
    pub edit_body: String,
    /// This column shows a proposed change.
    pub proposed: bool,
}

#[derive(Template)]
#[template(path = "templates.html", config = "src/web/askama.toml")]
struct TemplatesPage {
    c: Chrome,
    names: Vec<Opt>,
    name: String,
    family: bool,
    vars: String,
    columns: Vec<Column>,
}

/// Which template.
#[derive(Debug, Default, Deserialize)]
pub struct Which {
    name: Option<String>,
}

/// A proposed change.
#[derive(Debug, Deserialize)]
pub struct Proposal {
    csrf: Option<String>,
    name: String,
    locale: String,
    #[serde(default)]
    subject: String,
    body: String,
}

const LOCALES: [(&str, &str); 2] = [("zh-CN", "中文"), ("en", "English")];

fn page(
    c: &Console,
    state: &AppState,
    name: &str,
    proposal: Option<&Proposal>,
) -> Result<TemplatesPage, WebError> {
    let s = spec(name).ok_or(WebError::NotFound)?;
    let templates = &state.notifier.templates;
    let names = condition_names(&state.catalogues);
    let columns = LOCALES
        .iter()
        .map(|(locale, language)| {
            let (subject, body) = templates.text(name, locale).unwrap_or_default();
            let mine = proposal.filter(|p| p.locale == *locale);
            let (rendered, edit_subject, edit_body) = match mine {
                Some(p) => {
                    let subj = Some(p.subject.trim()).filter(|x| !x.is_empty());
                    (
                        preview::proposed(s, locale, subj, &p.body, &names),
                        p.subject.clone(),
                        p.body.clone(),
                    )
                }
                None => (
                    preview::loaded(templates, s, locale),
                    subject.unwrap_or_default(),
                    body,
                ),
            };
            let (subject, body, error) = match rendered {
                Ok(r) => (r.subject, r.body, None),
                Err(e) => (None, String::new(), Some(e)),
            };
            Column {
                locale: (*locale).into(),
                language: (*language).into(),
                subject,
                body,
                error,
                edit_subject,
                edit_body,
                proposed: mine.is_some(),
            }
        })
        .collect();
    Ok(TemplatesPage {
        c: Chrome::of(c, "templates_title", "/admin/templates"),
        names: preview::names()
            .map(|x| Opt {
                value: x.into(),
                label: x.into(),
                selected: x == name,
            })
            .collect(),
        name: name.into(),
        family: preview::is_family(s),
        vars: s
            .vars
            .iter()
            .map(|v| format!("{{{{{v}}}}}"))
            .collect::<Vec<_>>()
            .join(" "),
        columns,
    })
}

/// `GET /admin/templates`.
#[get("/admin/templates")]
pub async fn templates_page(
    c: Console,
    state: web::Data<AppState>,
    q: web::Query<Which>,
) -> Result<HttpResponse, WebError> {
    c.require(Action::PublishCatalogue)?;
    let name = q
        .name
        .clone()
        .or_else(|| preview::names().next().map(str::to_string))
        .unwrap_or_default();
    render(StatusCode::OK, &page(&c, &state, &name, None)?)
}

/// `POST /admin/templates/preview`: a proposed text, checked and rendered; nothing is stored.
#[post("/admin/templates/preview")]
pub async fn preview_change(
    req: HttpRequest,
    c: Console,
    state: web::Data<AppState>,
    form: web::Form<Proposal>,
) -> Result<HttpResponse, WebError> {
    c.authorize(&req, form.csrf.as_deref(), Action::PublishCatalogue)?;
    let p = form.into_inner();
    if !LOCALES.iter().any(|(l, _)| *l == p.locale) {
        return Err(WebError::NotFound);
    }
    let pg = page(&c, &state, &p.name, Some(&p))?;
    let status = if pg.columns.iter().any(|x| x.error.is_some()) {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render(status, &pg)
}
