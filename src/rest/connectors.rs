//! `/connectors` resources (Kafka Connect's `ConnectorsResource`).

use std::collections::BTreeMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value as Json_};

use super::body::JsonBody;
use super::error::{RestError, RestResult};
use super::{query_flag, query_values, AppState};
use crate::config::connector::NAME;
use crate::config::ConfigMap;
use crate::herder::{ConnectorOffsets, Created, RestartRequest};
use crate::plugin::TaskId;
use crate::runtime::TargetState;

/// Parses a JSON body with Connect-style 400s instead of axum's plain-text rejections.
pub(crate) fn parse_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> RestResult<T> {
    if body.is_empty() {
        return Err(RestError::bad_request("Request body is required"));
    }
    serde_json::from_slice(body)
        .map_err(|e| RestError::bad_request(format!("Invalid JSON in request body: {e}")))
}

/// Config values arrive as JSON; Connect stores them as strings.
pub(crate) fn config_from_json(value: Json_) -> RestResult<ConfigMap> {
    let Json_::Object(obj) = value else {
        return Err(RestError::bad_request(
            "Connector configuration must be a JSON object",
        ));
    };
    obj.into_iter()
        .map(|(k, v)| {
            let s = match v {
                Json_::String(s) => s,
                Json_::Null => {
                    return Err(RestError::bad_request(format!(
                        "Configuration value for {k} must not be null"
                    )))
                }
                other => other.to_string(),
            };
            Ok((k, s))
        })
        .collect()
}

fn name_mismatch(config_name: &str, url_name: &str) -> RestError {
    RestError::bad_request(format!(
        "Connector name configuration ({config_name}) doesn't match connector name in the URL ({url_name})"
    ))
}

pub async fn list(State(s): State<AppState>, RawQuery(q): RawQuery) -> RestResult<Response> {
    let expand = query_values(q.as_deref(), "expand");
    let names = s.herder.connectors().await;
    let want_status = expand.iter().any(|e| e == "status");
    let want_info = expand.iter().any(|e| e == "info");
    if !want_status && !want_info {
        return Ok(Json(names).into_response());
    }
    let mut out = BTreeMap::new();
    for name in names {
        let mut entry = serde_json::Map::new();
        if want_status {
            if let Ok(st) = s.herder.connector_status(&name).await {
                entry.insert(
                    "status".into(),
                    serde_json::to_value(st).unwrap_or_default(),
                );
            }
        }
        if want_info {
            if let Ok(info) = s.herder.connector_info(&name).await {
                entry.insert(
                    "info".into(),
                    serde_json::to_value(info).unwrap_or_default(),
                );
            }
        }
        out.insert(name, Json_::Object(entry));
    }
    Ok(Json(out).into_response())
}

#[derive(Deserialize)]
struct CreateRequest {
    name: Option<String>,
    config: Option<Json_>,
    initial_state: Option<String>,
}

pub async fn create(State(s): State<AppState>, JsonBody(body): JsonBody) -> RestResult<Response> {
    let req: CreateRequest = parse_body(&body)?;
    // Java's `String.trim()`, as Connect trims the name: every character up to U+0020 goes,
    // control characters included.
    let name = req
        .name
        .as_deref()
        .map(|n| n.trim_matches(|c: char| c <= ' '))
        .unwrap_or_default()
        .to_string();
    let mut config = match req.config {
        Some(c) => config_from_json(c)?,
        None => ConfigMap::new(),
    };
    if name.is_empty() {
        return Err(RestError::bad_request("Connector name is required"));
    }
    match config.get(NAME) {
        Some(n) if n != &name => return Err(name_mismatch(n, &name)),
        _ => {
            config.insert(NAME.into(), name.clone());
        }
    }
    let initial_state = match req.initial_state.as_deref() {
        None => None,
        Some(st) => Some(TargetState::parse(st).ok_or_else(|| {
            RestError::bad_request(format!(
                "Invalid initial state {st}; must be one of RUNNING, PAUSED, STOPPED"
            ))
        })?),
    };
    let (_, info) = s
        .herder
        .put_connector_config(&name, config, false, initial_state)
        .await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location(&name))],
        Json(info),
    )
        .into_response())
}

/// Where a connector is: `/connectors/{name}`, the name percent-encoded as one path segment
/// (`a/b` -> `/connectors/a%2Fb`), so that the header is always valid and names the connector.
/// Unreserved characters, sub-delimiters, `:` and `@` stay as they are, as Jersey's
/// `UriBuilder.path` leaves them; Jersey also keeps `/`, which would name another resource.
fn location(name: &str) -> String {
    use std::fmt::Write;
    let mut out = String::from("/connectors/");
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

pub async fn info(State(s): State<AppState>, Path(name): Path<String>) -> RestResult<Response> {
    Ok(Json(s.herder.connector_info(&name).await?).into_response())
}

pub async fn get_config(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> RestResult<Response> {
    Ok(Json(s.herder.connector_config(&name).await?).into_response())
}

pub async fn put_config(
    State(s): State<AppState>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody,
) -> RestResult<Response> {
    let mut config = config_from_json(parse_body(&body)?)?;
    match config.get(NAME) {
        Some(n) if n != &name => return Err(name_mismatch(n, &name)),
        _ => {
            config.insert(NAME.into(), name.clone());
        }
    }
    let (created, info) = s
        .herder
        .put_connector_config(&name, config, true, None)
        .await?;
    let status = match created {
        Created::Created => StatusCode::CREATED,
        Created::Updated => StatusCode::OK,
    };
    let mut resp = (status, Json(info)).into_response();
    if created == Created::Created {
        if let Ok(v) = location(&name).parse() {
            resp.headers_mut().insert(header::LOCATION, v);
        }
    }
    Ok(resp)
}

/// `PATCH /connectors/{c}/config` (KIP-477): merge, `null` removes a key.
pub async fn patch_config(
    State(s): State<AppState>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody,
) -> RestResult<Response> {
    let patch: Json_ = parse_body(&body)?;
    let Json_::Object(patch) = patch else {
        return Err(RestError::bad_request(
            "Connector configuration patch must be a JSON object",
        ));
    };
    let mut config = s.herder.connector_config(&name).await?;
    for (k, v) in patch {
        match v {
            Json_::Null => {
                config.remove(&k);
            }
            Json_::String(v) => {
                config.insert(k, v);
            }
            other => {
                config.insert(k, other.to_string());
            }
        }
    }
    if let Some(n) = config.get(NAME) {
        if n != &name {
            return Err(name_mismatch(n, &name));
        }
    }
    let (_, info) = s
        .herder
        .put_connector_config(&name, config, true, None)
        .await?;
    Ok(Json(info).into_response())
}

pub async fn status(State(s): State<AppState>, Path(name): Path<String>) -> RestResult<Response> {
    Ok(Json(s.herder.connector_status(&name).await?).into_response())
}

pub async fn tasks(State(s): State<AppState>, Path(name): Path<String>) -> RestResult<Response> {
    Ok(Json(s.herder.tasks(&name).await?).into_response())
}

/// Deprecated `GET /connectors/{c}/tasks-config` (KIP-661).
pub async fn tasks_config(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> RestResult<Response> {
    let tasks = s.herder.tasks(&name).await?;
    let out: BTreeMap<String, ConfigMap> = tasks
        .into_iter()
        .map(|t| (t.id.to_string(), t.config))
        .collect();
    Ok(Json(out).into_response())
}

fn task_id(name: String, task: &str) -> RestResult<TaskId> {
    task.parse::<i32>()
        .map(|t| TaskId::new(name.clone(), t))
        .map_err(|_| {
            RestError::new(
                StatusCode::NOT_FOUND,
                format!("Task {name}-{task} not found"),
            )
        })
}

pub async fn task_status(
    State(s): State<AppState>,
    Path((name, task)): Path<(String, String)>,
) -> RestResult<Response> {
    let id = task_id(name, &task)?;
    Ok(Json(s.herder.task_status(&id).await?).into_response())
}

/// `PUT /connectors/{name}/fence`: a worker asks the leader for a round of zombie fencing
/// (Connect's internal endpoint; writes reach the leader through `forward_writes`).
pub async fn fence_zombies(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> RestResult<Response> {
    s.herder.fence_zombies(&name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn restart_task(
    State(s): State<AppState>,
    Path((name, task)): Path<(String, String)>,
) -> RestResult<Response> {
    let id = task_id(name, &task)?;
    s.herder.restart_task(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn restart(
    State(s): State<AppState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> RestResult<Response> {
    let request = RestartRequest {
        include_tasks: query_flag(q.as_deref(), "includeTasks"),
        only_failed: query_flag(q.as_deref(), "onlyFailed"),
    };
    match s.herder.restart_connector(&name, request).await? {
        None => Ok(StatusCode::NO_CONTENT.into_response()),
        Some(state) => Ok((StatusCode::ACCEPTED, Json(state)).into_response()),
    }
}

pub async fn pause(State(s): State<AppState>, Path(name): Path<String>) -> RestResult<Response> {
    s.herder.pause_connector(&name).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn resume(State(s): State<AppState>, Path(name): Path<String>) -> RestResult<Response> {
    s.herder.resume_connector(&name).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

pub async fn stop(State(s): State<AppState>, Path(name): Path<String>) -> RestResult<Response> {
    s.herder.stop_connector(&name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn delete(State(s): State<AppState>, Path(name): Path<String>) -> RestResult<Response> {
    s.herder.delete_connector(&name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn get_offsets(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> RestResult<Response> {
    Ok(Json(s.herder.connector_offsets(&name).await?).into_response())
}

pub async fn patch_offsets(
    State(s): State<AppState>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody,
) -> RestResult<Response> {
    let offsets: ConnectorOffsets = parse_body(&body)?;
    let message = s.herder.alter_connector_offsets(&name, offsets).await?;
    Ok(Json(json!({ "message": message })).into_response())
}

pub async fn delete_offsets(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> RestResult<Response> {
    let message = s.herder.reset_connector_offsets(&name).await?;
    Ok(Json(json!({ "message": message })).into_response())
}

pub async fn topics(State(s): State<AppState>, Path(name): Path<String>) -> RestResult<Response> {
    if !s.topic_tracking {
        return Err(RestError::new(
            StatusCode::FORBIDDEN,
            "Topic tracking is disabled.",
        ));
    }
    let topics = s.herder.connector_topics(&name).await?;
    Ok(Json(json!({ name: { "topics": topics } })).into_response())
}

pub async fn reset_topics(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> RestResult<Response> {
    if !s.topic_tracking {
        return Err(RestError::new(
            StatusCode::FORBIDDEN,
            "Topic tracking is disabled.",
        ));
    }
    if !s.topic_tracking_reset {
        return Err(RestError::new(
            StatusCode::FORBIDDEN,
            "Topic tracking reset is disabled.",
        ));
    }
    s.herder.reset_connector_topics(&name).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_one_percent_encoded_segment() {
        assert_eq!(location("orders-sink_1.v2"), "/connectors/orders-sink_1.v2");
        assert_eq!(location("a/b"), "/connectors/a%2Fb");
        assert_eq!(location("p q?r#s%t"), "/connectors/p%20q%3Fr%23s%25t");
        assert_eq!(location("é[x]"), "/connectors/%C3%A9%5Bx%5D");
        assert_eq!(location("a+b=c:d@e"), "/connectors/a+b=c:d@e");
        let value: axum::http::HeaderValue = location("a\u{7f}\nb").parse().unwrap();
        assert_eq!(value, "/connectors/a%7F%0Ab");
    }
}
