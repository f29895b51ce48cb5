//! The console's static files, compiled into the binary: its stylesheet and htmx 2.0.11
//! (vendored from npm `htmx.org@2.0.11`, SHA-256 `d6fdc75f…b4000f717`, licence 0BSD). Their
//! names carry their version, so browsers may keep them for a year.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};

use super::error::WebError;

/// `(name, content type, bytes)`.
const FILES: [(&str, &str, &[u8]); 2] = [
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("static/app.css"),
    ),
    (
        "htmx-2.0.11.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("static/htmx-2.0.11.min.js"),
    ),
];

/// `GET /static/{name}`.
#[get("/{name}")]
pub async fn asset_in_scope(name: web::Path<String>) -> Result<HttpResponse, WebError> {
    let (_, kind, bytes) = FILES
        .iter()
        .find(|(n, _, _)| *n == name.as_str())
        .ok_or(WebError::NotFound)?;
    // The stylesheet's name does not carry a version: browsers check it again after a day.
    let cache = if name.as_str() == "app.css" {
        "public, max-age=86400"
    } else {
        "public, max-age=31536000, immutable"
    };
    Ok(HttpResponse::Ok()
        .content_type(*kind)
        .insert_header((header::CACHE_CONTROL, cache))
        .body(*bytes))
}
