//! REST requests from one worker to another: writes forwarded to the leader, and task restarts
//! sent to the worker that runs the task (Kafka Connect's `RestClient`/`HerderRequestHandler`).

use std::sync::OnceLock;
use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode};
use bytes::Bytes;

use crate::errors::{ConnectError, Result};
use crate::plugin::TaskId;

/// Marks a request that another worker forwarded, so it is never forwarded again.
pub const FORWARDED_HEADER: &str = "x-conveyor-forwarded";

/// A shared HTTP client (connections to other workers are kept alive between requests).
#[derive(Clone)]
pub struct Forwarder {
    client: reqwest::Client,
}

impl Default for Forwarder {
    fn default() -> Self {
        Self::new()
    }
}

impl Forwarder {
    pub fn new() -> Self {
        static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
        let client = CLIENT
            .get_or_init(|| {
                reqwest::Client::builder()
                    // Below the 90 s a Kafka Connect client waits for us.
                    .timeout(Duration::from_secs(80))
                    .connect_timeout(Duration::from_secs(5))
                    .pool_idle_timeout(Duration::from_secs(30))
                    .build()
                    .expect("an HTTP client without TLS builds")
            })
            .clone();
        Forwarder { client }
    }

    /// Sends a request to `base_url` (`http://host:port`) and returns the status, the headers
    /// a client needs (content type, location) and the body.
    pub async fn send(
        &self,
        base_url: &str,
        method: Method,
        path_and_query: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> std::result::Result<(StatusCode, HeaderMap, Bytes), reqwest::Error> {
        let url = format!("{}{}", base_url.trim_end_matches('/'), path_and_query);
        let mut request = self
            .client
            .request(method, url)
            .header(FORWARDED_HEADER, "true")
            .body(body);
        if let Some(ct) = headers.get(axum::http::header::CONTENT_TYPE) {
            request = request.header(axum::http::header::CONTENT_TYPE, ct);
        }
        let response = request.send().await?;
        let status = response.status();
        let mut out = HeaderMap::new();
        for name in [
            axum::http::header::CONTENT_TYPE,
            axum::http::header::LOCATION,
        ] {
            if let Some(v) = response.headers().get(&name) {
                out.insert(name, v.clone());
            }
        }
        let body = response.bytes().await?;
        Ok((status, out, body))
    }
}

/// Percent-encodes a URL path segment.
pub fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Asks the worker `worker_id` (`host:port`) to restart a task it runs.
pub async fn restart_task_on(forwarder: &Forwarder, worker_id: &str, id: &TaskId) -> Result<()> {
    let path = format!(
        "/connectors/{}/tasks/{}/restart",
        path_segment(&id.connector),
        id.task
    );
    let (status, _, body) = forwarder
        .send(
            &format!("http://{worker_id}"),
            Method::POST,
            &path,
            &HeaderMap::new(),
            Bytes::new(),
        )
        .await
        .map_err(|e| {
            ConnectError::Conflict(format!(
                "Cannot restart task {id}: worker {worker_id} that runs it did not answer ({e})"
            ))
        })?;
    if status.is_success() {
        return Ok(());
    }
    let message = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|j| j.get("message").and_then(|m| m.as_str()).map(String::from))
        .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
    Err(match status {
        StatusCode::NOT_FOUND => ConnectError::NotFound(message),
        StatusCode::CONFLICT => ConnectError::Conflict(message),
        _ => ConnectError::Other(message),
    })
}
