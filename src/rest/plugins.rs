//! `/connector-plugins` resources (Kafka Connect's `ConnectorPluginsResource`).

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::body::JsonBody;
use super::connectors::{config_from_json, parse_body};
use super::error::{RestError, RestResult};
use super::{query_values, AppState};
use crate::config::connector::CONNECTOR_CLASS;
use crate::plugin::PluginType;

pub async fn list(State(s): State<AppState>, RawQuery(q): RawQuery) -> RestResult<Response> {
    let connectors_only = !query_values(q.as_deref(), "connectorsOnly")
        .iter()
        .any(|v| v.eq_ignore_ascii_case("false"));
    let plugins: Vec<_> = s
        .herder
        .plugins()
        .into_iter()
        .filter(|p| {
            !connectors_only || matches!(p.plugin_type, PluginType::Source | PluginType::Sink)
        })
        .collect();
    Ok(Json(plugins).into_response())
}

pub async fn config(State(s): State<AppState>, Path(plugin): Path<String>) -> RestResult<Response> {
    Ok(Json(s.herder.plugin_config(&plugin)?).into_response())
}

pub async fn validate(
    State(s): State<AppState>,
    Path(plugin): Path<String>,
    JsonBody(body): JsonBody,
) -> RestResult<Response> {
    let mut config = config_from_json(parse_body(&body)?)?;
    match config.get(CONNECTOR_CLASS) {
        Some(class) if !s.herder.same_connector_class(&plugin, class) && class != &plugin => {
            return Err(RestError::bad_request(format!(
                "Included connector type {class} does not match request type {plugin}"
            )));
        }
        Some(_) => {}
        None => {
            config.insert(CONNECTOR_CLASS.into(), plugin);
        }
    }
    Ok(Json(s.herder.validate_connector_config(&config).await?).into_response())
}
