//! `ApiJson<T>`: the JSON body extractor. Unlike actix's `Json`, it answers every problem as
//! problem+json naming the field: 415 for a non-JSON body, 413 over the size limit, 400 for
//! malformed JSON, unknown fields or wrong types, 422 for a missing required field.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::error::{AppError, ErrorCode};
use crate::state::AppState;

/// A deserialised JSON body. `BULK = true` selects `server.bulk_body_limit_bytes` (lab plates)
/// instead of `server.body_limit_bytes`.
#[derive(Debug)]
pub struct ApiJson<T, const BULK: bool = false>(pub T);

impl<T: DeserializeOwned + 'static, const BULK: bool> FromRequest for ApiJson<T, BULK> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map_or(256 * 1024, |s| {
                if BULK {
                    s.settings.server.bulk_body_limit_bytes
                } else {
                    s.settings.server.body_limit_bytes
                }
            });
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .is_some_and(|m| m == "application/json" || m.ends_with("+json"));
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if !is_json {
                return Err(AppError::UnsupportedMediaType);
            }
            if declared.is_some_and(|n| n > limit) {
                return Err(AppError::PayloadTooLarge { limit });
            }
            let body = read_limited(&mut payload, limit).await?;
            parse(&body).map(ApiJson)
        })
    }
}

/// Reads a whole body, refusing with 413 as soon as it passes `limit` bytes.
pub async fn read_limited(payload: &mut Payload, limit: usize) -> Result<web::Bytes, AppError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| AppError::BadRequest {
            code: ErrorCode::UnreadableBody,
            detail: format!("could not read the request body: {e}"),
            field: None,
        })?;
        if body.len() + chunk.len() > limit {
            return Err(AppError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Deserialises with the path of the offending field.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let msg = inner.to_string();
        // serde_json's message ends with " at line L column C"; the path says where instead.
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        let join = |name: &str| {
            if path == "." || path.is_empty() {
                name.to_string()
            } else {
                format!("{path}.{name}")
            }
        };
        if inner.is_syntax() || inner.is_eof() {
            return AppError::BadRequest {
                code: ErrorCode::MalformedJson,
                detail: format!("malformed JSON: {msg}"),
                field: None,
            };
        }
        if let Some(name) = quoted(&msg, "unknown field `") {
            // The path already ends at the unknown key.
            let field = if path.ends_with(name.as_str()) {
                path
            } else {
                join(&name)
            };
            return AppError::bad_field(ErrorCode::UnknownField, field, msg);
        }
        if let Some(name) = quoted(&msg, "missing field `") {
            return AppError::invalid(join(&name), "is required");
        }
        let field = if path == "." {
            "body".to_string()
        } else {
            path
        };
        AppError::bad_field(ErrorCode::InvalidType, field, msg)
    })
}

/// The text between `prefix` and the next backtick.
fn quoted(msg: &str, prefix: &str) -> Option<String> {
    let rest = &msg[msg.find(prefix)? + prefix.len()..];
    Some(rest[..rest.find('`')?].to_string())
}

/// Deserialises `null` as `Some(None)` and absence (with `#[serde(default)]`) as `None`, so a
/// PATCH can tell "clear this field" from "leave it".
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        phones: Vec<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        weight: i32,
        mother: Inner,
        #[serde(default, deserialize_with = "double_option")]
        address: Option<Option<String>>,
    }

    fn field_of(e: AppError) -> (String, String) {
        let p = e.problem();
        (p.code, p.errors.keys().next().cloned().unwrap_or_default())
    }

    #[test]
    fn names_the_offending_field() {
        let e = parse::<Body>(br#"{"weight":"x","mother":{"phones":[]}}"#).unwrap_err();
        assert_eq!(field_of(e), ("invalid_type".into(), "weight".into()));
        let e = parse::<Body>(br#"{"weight":1,"mother":{"phones":[1]}}"#).unwrap_err();
        assert_eq!(
            field_of(e),
            ("invalid_type".into(), "mother.phones[0]".into())
        );
        let e = parse::<Body>(br#"{"weight":1,"mother":{"phones":[],"x":1}}"#).unwrap_err();
        assert_eq!(field_of(e), ("unknown_field".into(), "mother.x".into()));
        let e = parse::<Body>(br#"{"mother":{"phones":[]}}"#).unwrap_err();
        assert_eq!(field_of(e), ("validation_failed".into(), "weight".into()));
        let e = parse::<Body>(br#"{"weight":1,"#).unwrap_err();
        assert_eq!(e.code(), "malformed_json");
    }

    #[test]
    fn null_and_absent_differ() {
        let b = parse::<Body>(br#"{"weight":1,"mother":{"phones":[]},"address":null}"#).unwrap();
        assert_eq!(b.address, Some(None));
        let b = parse::<Body>(br#"{"weight":1,"mother":{"phones":[]}}"#).unwrap();
        assert_eq!(b.address, None);
    }
}
