//! Conveyor-only JSON resources under `/conveyor/`, which the console reads and Kafka Connect
//! does not have: the cluster's workers, task metrics as JSON (this worker's, or the whole
//! cluster's gathered from every worker) and the last records of a topic.

use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::error::{RestError, RestResult};
use super::{query_values, AppState};
use crate::config::ConfigMap;
use crate::herder::distributed::forward::FORWARDED_HEADER;
use crate::herder::WorkerInfo;
use crate::runtime::peek::{Decoder, Window};

/// How long a worker waits for another one's answer on the console's behalf.
const PEER_TIMEOUT: Duration = Duration::from_secs(3);
/// The most records one peek returns.
pub const MAX_PEEK_RECORDS: usize = 500;
/// How long a peek reads by default, and at most.
const PEEK_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_PEEK_TIMEOUT: Duration = Duration::from_secs(30);

fn first(query: Option<&str>, key: &str) -> Option<String> {
    query_values(query, key).into_iter().next()
}

/// The leader's URL when this worker is a follower; None when it leads, runs standalone, or
/// the cluster is rebalancing (then this worker answers with what it knows).
async fn leader(s: &AppState) -> Option<String> {
    tokio::time::timeout(PEER_TIMEOUT, s.herder.leader_url())
        .await
        .ok()
        .and_then(|r| r.ok())
        .flatten()
}

/// GETs `path` from another worker (with the caller's credentials) and parses its JSON.
async fn get_from(
    s: &AppState,
    base: &str,
    path: &str,
    headers: &HeaderMap,
) -> Result<Value, String> {
    let sent = tokio::time::timeout(
        PEER_TIMEOUT,
        s.forwarder
            .send(base, Method::GET, path, headers, Default::default()),
    )
    .await
    .map_err(|_| format!("no answer within {} s", PEER_TIMEOUT.as_secs()))?
    .map_err(|e| e.to_string())?;
    let (status, _, body) = sent;
    if !status.is_success() {
        return Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)));
    }
    serde_json::from_slice(&body).map_err(|e| format!("unreadable answer: {e}"))
}

/// The workers: those of the leader's last rebalance (asked of the leader when this worker
/// follows), or this worker alone.
async fn known_workers(s: &AppState, headers: &HeaderMap) -> (Vec<WorkerInfo>, Option<String>) {
    // A request from another worker is answered with what this one knows, never passed on:
    // two workers that each take the other for the leader (mid-rebalance) must not ask each
    // other in a circle.
    if headers.contains_key(FORWARDED_HEADER) {
        return (s.herder.workers(), None);
    }
    let leader = leader(s).await;
    if let Some(leader) = &leader {
        if let Ok(v) = get_from(s, leader, "/conveyor/workers", headers).await {
            if let Ok(workers) = serde_json::from_value::<Vec<WorkerInfo>>(v["workers"].clone()) {
                return (workers, Some(leader.clone()));
            }
        }
    }
    (s.herder.workers(), leader)
}

/// `GET /conveyor/workers`: `{"worker_id": this worker, "leader_url": ..., "workers": [...]}`.
pub async fn workers(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let (workers, leader_url) = known_workers(&s, &headers).await;
    Json(json!({
        "worker_id": s.herder.worker_id(),
        "leader_url": leader_url,
        "workers": workers,
    }))
    .into_response()
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// `GET /conveyor/metrics`: this worker's task counters, or with `?scope=cluster` every
/// worker's, each asked in turn; a worker that does not answer is listed with its error.
pub async fn metrics(
    State(s): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let me = s.herder.worker_id();
    let local = json!({
        "worker_id": me,
        "ok": true,
        "tasks": crate::metrics::metrics().snapshot(),
    });
    if first(q.as_deref(), "scope").as_deref() != Some("cluster") {
        return Json(json!({"time_ms": now_ms(), "workers": [local]})).into_response();
    }
    let (workers, _) = known_workers(&s, &headers).await;
    let asks = workers.into_iter().map(|w| {
        let (s, headers, local, me) = (&s, &headers, &local, &me);
        async move {
            match &w.url {
                Some(url) if w.worker_id != **me => {
                    match get_from(s, url, "/conveyor/metrics", headers).await {
                        Ok(v) => v["workers"][0].clone(),
                        Err(e) => {
                            json!({"worker_id": w.worker_id, "ok": false, "error": e, "tasks": []})
                        }
                    }
                }
                _ => local.clone(),
            }
        }
    });
    let mut answers = futures::future::join_all(asks).await;
    if !answers.iter().any(|a| a["worker_id"] == json!(me)) {
        answers.push(local);
    }
    Json(json!({"time_ms": now_ms(), "workers": answers})).into_response()
}

/// `GET /conveyor/peek?topic=T`: the last records of a topic, decoded for display.
///
/// - `n`: how many (default 20, at most [`MAX_PEEK_RECORDS`]); `from=start` reads the
///   first ones instead.
/// - `key.converter`, `value.converter`: a converter class or alias, or `auto` (the
///   default: JSON, else text, else bytes); `converter.<key>=<value>` configures them (for
///   example `converter.schemas.enable=false`).
/// - `timeout.ms`: how long to read (default 5 s, at most 30 s).
pub async fn peek(State(s): State<AppState>, RawQuery(q): RawQuery) -> RestResult<Response> {
    let q = q.as_deref();
    let topic = first(q, "topic")
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| RestError::bad_request("the query parameter `topic` is required"))?;
    if s.herder.internal_topics().contains(&topic) {
        return Err(RestError::new(
            StatusCode::FORBIDDEN,
            format!(
                "{topic} is one of this Connect cluster's internal topics; the console does not \
                 show them (the config topic holds connector secrets in clear)"
            ),
        ));
    }
    let n = match first(q, "n") {
        None => 20,
        Some(v) => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PEEK_RECORDS).contains(n))
            .ok_or_else(|| {
                RestError::bad_request(format!(
                    "n must be a number from 1 to {MAX_PEEK_RECORDS}, not {v}"
                ))
            })?,
    };
    let window = match first(q, "from").as_deref() {
        None | Some("end") => Window::Last(n),
        Some("start") => Window::First(n),
        Some(other) => {
            return Err(RestError::bad_request(format!(
                "from must be `start` or `end`, not {other}"
            )))
        }
    };
    let timeout = match first(q, "timeout.ms") {
        None => PEEK_TIMEOUT,
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map(Duration::from_millis)
            .map_err(|_| RestError::bad_request(format!("timeout.ms must be a number, not {v}")))?
            .min(MAX_PEEK_TIMEOUT),
    };
    let converter_config: ConfigMap = form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .filter_map(|(k, v)| {
            k.strip_prefix("converter.")
                .map(|k| (k.to_string(), v.into_owned()))
        })
        .collect();
    let registry = s.herder.registry();
    let key = Decoder::from_name(
        registry,
        first(q, "key.converter").as_deref(),
        &converter_config,
        true,
    )?;
    let value = Decoder::from_name(
        registry,
        first(q, "value.converter").as_deref(),
        &converter_config,
        false,
    )?;
    let kafka = s.kafka.clone();
    let read_topic = topic.clone();
    let records = tokio::task::spawn_blocking(move || {
        let raw = crate::runtime::peek::fetch(
            &kafka.bootstrap,
            &read_topic,
            window,
            timeout,
            &kafka.consumer,
        )?;
        Ok::<_, crate::errors::ConnectError>(
            raw.iter()
                .map(|m| crate::runtime::peek::to_display_json(m, &key, &value))
                .collect::<Vec<_>>(),
        )
    })
    .await
    .map_err(|e| RestError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(Json(json!({"topic": topic, "records": records})).into_response())
}
