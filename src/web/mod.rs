//! The staff console: server-rendered pages over the same services as the JSON API. Templates
//! are askama files compiled into the binary (`templates/`, a missing field fails the build);
//! htmx 2.0.11 and the stylesheet are vendored (`static/`), so nothing but `cargo` builds it.
//! Pages work without JavaScript (forms post, then redirect); htmx only refreshes the worklist
//! counters. Browsers authenticate with a session cookie (`session`), never a token, and the
//! JSON API never accepts that cookie. Every page carries a strict CSP (`headers`).

pub mod assets;
pub mod charts;
pub mod error;
pub mod field_messages;
pub mod headers;
pub mod i18n;
pub mod multipart;
pub mod pages;
pub mod session;

use actix_web::middleware::from_fn;
use actix_web::web;

/// Registers the console: the static files, then every page behind the session middleware.
/// Register it after the API, so its catch-all scope sees only what the API left.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/static")
            .wrap(from_fn(headers::secure))
            .service(assets::asset_in_scope),
    )
    .service(
        web::scope("")
            .wrap(from_fn(session::load))
            .wrap(from_fn(headers::secure))
            .service(pages::auth::home)
            .service(pages::auth::login_page)
            .service(pages::auth::login)
            .service(pages::auth::logout)
            .service(pages::auth::language)
            .service(pages::auth::password_page)
            .service(pages::auth::change_password)
            .service(pages::worklists::worklist_tabs)
            .service(pages::worklists::worklist)
            .service(pages::cases::case_page)
            .service(pages::cases::act)
            .service(pages::cases::assign)
            .service(pages::cases::contact)
            .service(pages::infants::search_page)
            .service(pages::infants::infant_page)
            .service(pages::infants::edit_contacts)
            .service(pages::admin::accounts::users_page)
            .service(pages::admin::accounts::clients_page)
            .service(pages::admin::accounts::create_user)
            .service(pages::admin::accounts::user_action)
            .service(pages::admin::accounts::create_client)
            .service(pages::admin::accounts::client_action)
            .service(pages::admin::catalogue::catalogue_page)
            .service(pages::admin::catalogue::publish)
            .service(pages::admin::catalogue::policies_page)
            .service(pages::admin::catalogue::publish_policy)
            .service(pages::admin::operations::jobs_page)
            .service(pages::admin::operations::run_job)
            .service(pages::admin::operations::audit_page)
            .service(pages::admin::hospitals::hospitals_page)
            .service(pages::admin::hospitals::create_hospital)
            .service(pages::admin::hospitals::update_hospital)
            .service(pages::admin::merges::merges_page)
            .service(pages::admin::merges::undo)
            .service(pages::admin::templates::templates_page)
            .service(pages::admin::templates::preview_change)
            .service(pages::hospital::hospital_page)
            .service(pages::hospital::register_birth)
            .service(pages::hospital::record_hearing)
            .service(pages::hospital::record_heart)
            .service(pages::quality::dashboard_page)
            .service(pages::quality::export)
            .service(pages::quality::scorecard_page)
            .service(pages::quality::members_page)
            .service(pages::management::worklist)
            .service(pages::management::episode_page)
            .service(pages::management::act)
            .service(pages::lists::missed)
            .service(pages::lists::failed)
            .service(pages::lists::retry)
            .default_service(web::to(pages::not_found)),
    );
}
