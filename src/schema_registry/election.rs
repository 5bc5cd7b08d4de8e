//! One writer per `_schemas` topic: registries on the same topic join a Kafka group
//! (`schema.registry.group.id`, protocol type `sr`, as Confluent's registries do); the group's
//! leader picks the writer among the eligible members (`leader.eligibility`) and every member
//! learns its URL. A registry that is not the writer forwards writes (registering, deleting,
//! changing configs and modes) to it, so ids are assigned in one place and every registry
//! agrees on them.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes as BodyBytes;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use parking_lot::RwLock;
use serde_json::json;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::config::RegistryConfig;
use super::types::RegistryError;
use crate::errors::Result;
use crate::kafka::group::{GroupMember, GroupSettings, HeartbeatOutcome};
use crate::kafka::security::KafkaSecurity;

/// The group protocol type Confluent's registries use.
const PROTOCOL_TYPE: &str = "sr";
const PROTOCOL: &str = "v0";
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(3);
/// How long a write waits for the first election.
const ELECTION_WAIT: Duration = Duration::from_secs(30);
/// Set on forwarded requests, so that a request is forwarded at most once.
const FORWARDED: &str = "x-conveyor-forwarded";

/// Who writes, as this registry last learnt it.
#[derive(Default)]
pub struct Leadership {
    leader: RwLock<Option<Leader>>,
    client: reqwest::Client,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leader {
    pub url: String,
    pub is_self: bool,
}

impl Leadership {
    /// The writer, when known.
    pub fn leader(&self) -> Option<Leader> {
        self.leader.read().clone()
    }

    fn set(&self, leader: Option<Leader>) {
        let mut current = self.leader.write();
        if *current != leader {
            tracing::info!(leader = ?leader, "schema registry leader");
        }
        *current = leader;
    }
}

/// Joins the group and keeps this registry's view of the leader up to date until `stop`.
pub fn spawn(
    config: &RegistryConfig,
    own_url: String,
    leadership: Arc<Leadership>,
    stop: CancellationToken,
) -> Result<JoinHandle<()>> {
    let settings = GroupSettings {
        bootstrap: config
            .bootstrap
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        group_id: config.group_id.clone(),
        protocol_type: PROTOCOL_TYPE.to_string(),
        client_id: format!("conveyor-schema-registry-{}", std::process::id()),
        session_timeout: Duration::from_secs(10),
        rebalance_timeout: Duration::from_secs(30),
        request_timeout: Duration::from_secs(30),
        security: KafkaSecurity::from_config(&config.admin)?,
    };
    let eligible = config.leader_eligibility;
    let topic = config.topic.clone();
    Ok(tokio::spawn(async move {
        let mut member = GroupMember::new(settings);
        let metadata = json!({"url": own_url, "eligible": eligible, "topic": topic}).to_string();
        loop {
            if stop.is_cancelled() {
                break;
            }
            let joined = tokio::select! {
                _ = stop.cancelled() => break,
                j = member.join(PROTOCOL, Bytes::from(metadata.clone())) => j,
            };
            let joined = match joined {
                Ok(j) => j,
                Err(e) => {
                    tracing::warn!(error = %e, "schema registry: joining the leader election group failed; retrying");
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(Duration::from_secs(2)) => continue,
                    }
                }
            };
            let assignments = if joined.is_leader() {
                joined
                    .members
                    .iter()
                    .map(|(id, m)| {
                        let writer = choose_writer(&joined.members, &topic_of(m));
                        (
                            id.clone(),
                            Bytes::from(json!({"leader": writer}).to_string()),
                        )
                    })
                    .collect()
            } else {
                Vec::new()
            };
            match member.sync(assignments).await {
                Ok(Some(assignment)) => {
                    let writer = serde_json::from_slice::<serde_json::Value>(&assignment)
                        .ok()
                        .and_then(|v| v["leader"].as_str().map(String::from));
                    leadership.set(writer.map(|url| Leader {
                        is_self: url == own_url,
                        url,
                    }));
                }
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "schema registry: the leader election round failed; retrying");
                    continue;
                }
            }
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(HEARTBEAT_INTERVAL) => {}
                }
                match member.heartbeat().await {
                    Ok(HeartbeatOutcome::Stable) => {}
                    Ok(HeartbeatOutcome::Rejoin) | Err(_) => break,
                }
            }
        }
        member.leave().await;
    }))
}

fn topic_of(metadata: &Bytes) -> String {
    serde_json::from_slice::<serde_json::Value>(metadata)
        .ok()
        .and_then(|m| m["topic"].as_str().map(String::from))
        .unwrap_or_default()
}

/// The eligible member on `topic` with the smallest URL (stable across rounds); none when no
/// member may write. Registries on other topics that share the group id are left out: each
/// topic gets a writer of its own.
fn choose_writer(members: &[(String, Bytes)], topic: &str) -> Option<String> {
    members
        .iter()
        .filter_map(|(_, m)| serde_json::from_slice::<serde_json::Value>(m).ok())
        .filter(|m| m["topic"].as_str().unwrap_or_default() == topic)
        .filter(|m| m["eligible"].as_bool().unwrap_or(true))
        .filter_map(|m| m["url"].as_str().map(String::from))
        .min()
}

/// Whether a request changes the registry (and so goes to the writer).
fn is_write(method: &Method, path: &str) -> bool {
    match *method {
        Method::PUT | Method::DELETE => true,
        // POST /subjects/{s}/versions registers; POST /subjects/{s} (lookup) and
        // /compatibility/... only read.
        Method::POST => {
            path.starts_with("/subjects/") && path.trim_end_matches('/').ends_with("/versions")
        }
        _ => false,
    }
}

/// Middleware: writes received by a registry that is not the writer go to the writer.
pub async fn forward_writes(
    State(leadership): State<Arc<Leadership>>,
    req: Request,
    next: Next,
) -> Response {
    if !is_write(req.method(), req.uri().path()) || req.headers().contains_key(FORWARDED) {
        return next.run(req).await;
    }
    // Until the first election round completes, writes wait for it rather than risk an id
    // that another registry assigns too.
    let deadline = tokio::time::Instant::now() + ELECTION_WAIT;
    let leader = loop {
        match leadership.leader() {
            Some(l) => break l,
            None if tokio::time::Instant::now() >= deadline => return RegistryError::new(
                500,
                50004,
                "Unknown leader: the schema registries on this topic have not elected a writer yet",
            )
            .into_response(),
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    if leader.is_self {
        return next.run(req).await;
    }
    let target = format!(
        "{}{}",
        leader.url.trim_end_matches('/'),
        req.uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let method = req.method().clone();
    let content_type = req.headers().get(header::CONTENT_TYPE).cloned();
    let body = match axum::body::to_bytes(req.into_body(), 16 * 1024 * 1024).await {
        Ok(b) => b,
        Err(e) => return forwarding_error(&leader.url, e).into_response(),
    };
    let mut request = leadership
        .client
        .request(method, &target)
        .header(FORWARDED, "1")
        .timeout(Duration::from_secs(60))
        .body(body.to_vec());
    if let Some(ct) = content_type {
        request = request.header(header::CONTENT_TYPE, ct);
    }
    match request.send().await {
        Ok(resp) => {
            let status = StatusCode::from_u16(resp.status().as_u16())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let ct = resp.headers().get(header::CONTENT_TYPE).cloned();
            let bytes: BodyBytes = resp.bytes().await.unwrap_or_default();
            let mut out = (status, bytes).into_response();
            if let Some(ct) = ct {
                out.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            out
        }
        Err(e) => forwarding_error(&leader.url, e).into_response(),
    }
}

/// Confluent's 50003: the write could not reach the leader.
fn forwarding_error(leader: &str, e: impl std::fmt::Display) -> RegistryError {
    RegistryError::new(
        500,
        50003,
        format!("Error while forwarding the request to the leader {leader}: {e}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_writer_choice() {
        assert!(is_write(&Method::POST, "/subjects/a/versions"));
        assert!(!is_write(&Method::POST, "/subjects/a"));
        assert!(!is_write(
            &Method::POST,
            "/compatibility/subjects/a/versions"
        ));
        assert!(is_write(&Method::PUT, "/config"));
        assert!(is_write(&Method::DELETE, "/subjects/a/versions/1"));
        assert!(!is_write(&Method::GET, "/subjects"));
        let m = |url: &str, eligible: bool, topic: &str| {
            (
                "m".to_string(),
                Bytes::from(json!({"url": url, "eligible": eligible, "topic": topic}).to_string()),
            )
        };
        let members = [
            m("http://b:1", true, "_schemas"),
            m("http://a:1", false, "_schemas"),
            m("http://c:1", true, "_schemas"),
            m("http://0:1", true, "_other"),
        ];
        assert_eq!(
            choose_writer(&members, "_schemas"),
            Some("http://b:1".into())
        );
        assert_eq!(choose_writer(&members, "_other"), Some("http://0:1".into()));
        assert_eq!(
            choose_writer(&[m("http://a:1", false, "_schemas")], "_schemas"),
            None
        );
    }
}
