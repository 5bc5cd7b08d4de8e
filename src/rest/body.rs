//! Request bodies are JSON, as Kafka Connect's resources declare
//! (`@Consumes(MediaType.APPLICATION_JSON)`): a `Content-Type` that is not `application/json`
//! gets Jersey's 415, whatever the method, and so does a body sent without any
//! `Content-Type` to a resource that reads one. This also keeps web pages away: a browser
//! sends a cross-site "simple request" (no preflight) only as `text/plain`, form-encoded or
//! multipart, never as JSON.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::RestError;

/// The largest request body accepted (axum's default, made explicit): connector configs are
/// a few kilobytes.
pub const MAX_REQUEST_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The 413 answer, in Connect's error shape.
pub fn too_large() -> RestError {
    RestError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("Request body is larger than the limit of {MAX_REQUEST_BODY_BYTES} bytes"),
    )
}

/// Jersey's answer, as Connect's exception mapper shapes it.
fn unsupported() -> RestError {
    RestError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "HTTP 415 Unsupported Media Type",
    )
}

/// Whether a `Content-Type` is JSON: `application/json`, in any case, with any parameters
/// (`; charset=utf-8`). Wildcards and `+json` suffixes are not, as in Jersey.
fn is_json(content_type: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(content_type) else {
        return false;
    };
    let essence = text.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// The paths of Connect's JSON resources (`ConnectorsResource`, `ConnectorPluginsResource`,
/// `LoggingResource`); `/`, `/health` and `/metrics` take any `Content-Type`, as in Connect.
fn consumes_json(path: &str) -> bool {
    ["/connectors", "/connector-plugins", "/admin/loggers"]
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")))
}

/// Refuses a request to a JSON resource whose `Content-Type` is not JSON.
pub async fn require_json(req: Request, next: Next) -> Response {
    if consumes_json(req.uri().path()) {
        if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
            if !is_json(ct.as_bytes()) {
                return unsupported().into_response();
            }
        }
    }
    next.run(req).await
}

/// The body of a request to a resource that reads one. A body without a `Content-Type` is
/// refused with 415 (Jersey reads it as `application/octet-stream`, which no JSON resource
/// takes); an empty one reaches the handler, which says that a body is required.
pub struct JsonBody(pub Bytes);

fn has_content_type(headers: &HeaderMap) -> bool {
    headers.contains_key(header::CONTENT_TYPE)
}

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let typed = has_content_type(req.headers());
        if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
            if !is_json(ct.as_bytes()) {
                return Err(unsupported().into_response());
            }
        }
        let body = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large().into_response()
            } else {
                RestError::new(rejection.status(), rejection.body_text()).into_response()
            }
        })?;
        if !typed && !body.is_empty() {
            return Err(unsupported().into_response());
        }
        Ok(JsonBody(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types() {
        for ok in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            " application/json ;charset=UTF-8",
        ] {
            assert!(is_json(ok.as_bytes()), "{ok}");
        }
        for not in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/vnd.kafka+json",
            "*/*",
            "application/*",
            "text/json",
            "",
            "garbage",
        ] {
            assert!(!is_json(not.as_bytes()), "{not}");
        }
        assert!(!is_json(b"application/json\xff"));
    }

    #[test]
    fn which_paths_consume_json() {
        for p in [
            "/connectors",
            "/connectors/",
            "/connectors/x/config",
            "/connector-plugins/X/config/validate",
            "/admin/loggers/root",
        ] {
            assert!(consumes_json(p), "{p}");
        }
        for p in ["/", "/health", "/metrics", "/connectorsx", "/admin"] {
            assert!(!consumes_json(p), "{p}");
        }
    }
}
