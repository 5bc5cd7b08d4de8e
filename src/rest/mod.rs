//! The Kafka Connect REST API over a [`Herder`], with `/health`; handlers only translate
//! HTTP to herder calls. Listeners are HTTP or HTTPS ([`listener`]); basic authentication
//! ([`auth`]) guards every path but `/health` when Kafka Connect's extension is configured.
//! The web console ([`console`], at `/ui/`) and its Conveyor-only resources ([`conveyor`],
//! under `/conveyor/`) are served by the same router, behind the same listeners and auth.

pub mod auth;
mod body;
mod connectors;
pub mod console;
mod conveyor;
pub mod error;
pub mod listener;
mod plugins;
pub mod server;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::herder::distributed::forward::{self, Forwarder};
use crate::herder::Herder;
use crate::logging;
use auth::BasicAuth;
use body::JsonBody;
use error::{RestError, RestResult};
pub use listener::{bind, https_settings, parse_listener, ListenerUrl, RestListener, Scheme};
pub use server::ConnectionLimits;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    pub herder: Arc<dyn Herder>,
    pub topic_tracking: bool,
    pub topic_tracking_reset: bool,
    /// Basic authentication, when `rest.extension.classes` turns it on.
    pub auth: Option<Arc<BasicAuth>>,
    /// The client for requests forwarded to the leader.
    pub forwarder: Forwarder,
    /// How the console's peek reaches Kafka.
    pub kafka: Arc<KafkaAccess>,
}

/// The brokers and the worker's consumer settings (security included), for reads the REST
/// API makes itself (the console's peek).
#[derive(Clone, Debug, Default)]
pub struct KafkaAccess {
    pub bootstrap: String,
    pub consumer: crate::config::ConfigMap,
}

/// Values of a repeated query parameter.
pub(crate) fn query_values(query: Option<&str>, key: &str) -> Vec<String> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .collect()
}

/// A boolean query parameter (absent = false).
pub(crate) fn query_flag(query: Option<&str>, key: &str) -> bool {
    query_values(query, key)
        .iter()
        .any(|v| v.eq_ignore_ascii_case("true"))
}

/// `GET /`: Connect's server info; a browser (asking for HTML) is sent to the console.
async fn root(State(s): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    if console::wants_html(&headers) {
        return axum::response::Redirect::to(console::UI_PATH).into_response();
    }
    Json(json!({
        "version": crate::plugin::VERSION,
        "commit": option_env!("CONVEYOR_COMMIT").unwrap_or("unknown"),
        "kafka_cluster_id": s.herder.kafka_cluster_id(),
    }))
    .into_response()
}

async fn health(State(s): State<AppState>) -> Response {
    if let Some(reason) = s.herder.fatal().reason() {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"status": "unhealthy", "message": reason})),
        )
            .into_response();
    }
    if !s.herder.is_ready() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "starting", "message": "Worker is still starting up."})),
        )
            .into_response();
    }
    match tokio::time::timeout(Duration::from_secs(10), s.herder.connectors()).await {
        Ok(_) => Json(json!({"status": "healthy", "message": "Worker has completed startup and is ready to handle requests."})).into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"status": "unhealthy", "message": "Worker was unable to handle this request and may be unable to handle other requests."})),
        )
            .into_response(),
    }
}

async fn prometheus_metrics() -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::metrics().encode(),
    )
        .into_response()
}

async fn loggers() -> Response {
    Json(logging::levels()).into_response()
}

async fn logger(Path(name): Path<String>) -> Response {
    Json(logging::level(&name)).into_response()
}

#[derive(Deserialize)]
struct LevelRequest {
    level: Option<String>,
}

async fn set_logger(Path(name): Path<String>, JsonBody(body): JsonBody) -> RestResult<Response> {
    let req: LevelRequest = connectors::parse_body(&body)?;
    let level = req
        .level
        .ok_or_else(|| RestError::bad_request("The request body must specify a log level."))?;
    Ok(Json(logging::set_level(&name, &level)?).into_response())
}

async fn not_found() -> RestError {
    RestError::new(StatusCode::NOT_FOUND, "HTTP 404 Not Found")
}

/// Kafka Connect answers a request that takes longer than this with a 500.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(90);

async fn connect_responses(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let Ok(resp) = tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await else {
        return RestError::new(StatusCode::INTERNAL_SERVER_ERROR, "Request timed out")
            .into_response();
    };
    let status = resp.status();
    if status == StatusCode::METHOD_NOT_ALLOWED {
        return RestError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "HTTP 405 Method Not Allowed",
        )
        .into_response();
    }
    if (status.is_client_error() || status.is_server_error()) && !is_json(&resp) {
        return connect_error_shape(resp).await;
    }
    resp
}

fn is_json(resp: &Response) -> bool {
    resp.headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// An error that axum answered in plain text (a body over the limit, a path that is not
/// valid UTF-8, ...) in Connect's `{"error_code": N, "message": "..."}` shape.
async fn connect_error_shape(resp: Response) -> Response {
    let status = resp.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return body::too_large().into_response();
    }
    let text = axum::body::to_bytes(resp.into_body(), 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = if text.is_empty() {
        format!(
            "HTTP {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or_default()
        )
    } else {
        text
    };
    RestError::new(status, message).into_response()
}

/// Writes to a worker that is not the leader go to the leader (Kafka Connect forwards them
/// too). While the cluster rebalances, or when the leader is lost mid-request, the request
/// waits and is retried here instead of failing with 409 as in Kafka Connect.
async fn forward_writes(
    State(s): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use crate::herder::distributed::forward::FORWARDED_HEADER;
    let read_only = matches!(
        *req.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    if read_only
        || !req.uri().path().starts_with("/connectors")
        || req.headers().contains_key(FORWARDED_HEADER)
    {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, body::MAX_REQUEST_BODY_BYTES).await {
        Ok(b) => b,
        Err(e) if is_length_limit(&e) => return body::too_large().into_response(),
        Err(e) => {
            return RestError::bad_request(format!("cannot read the request body: {e}"))
                .into_response()
        }
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| parts.uri.path().to_string());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(75);
    let forwarder = &s.forwarder;
    loop {
        let leader = match s.herder.leader_url().await {
            Ok(l) => l,
            Err(e) => return RestError::from(e).into_response(),
        };
        let Some(leader) = leader else {
            let req = axum::extract::Request::from_parts(parts, axum::body::Body::from(body));
            return next.run(req).await;
        };
        tracing::debug!(leader = %leader, method = %parts.method, path = %path_and_query, "forwarding the request to the leader");
        match forwarder
            .send(
                &leader,
                parts.method.clone(),
                &path_and_query,
                &parts.headers,
                body.clone(),
            )
            .await
        {
            Ok((status, headers, body)) => return (status, headers, body).into_response(),
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(leader = %leader, error = %e, "could not forward a request to the leader; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => {
                return RestError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("Error trying to forward REST request: {e}"),
                )
                .into_response()
            }
        }
    }
}

/// Refuses a write that a browser sends on behalf of another site (cross-site request forgery):
/// once a browser holds a user's basic-auth credentials for the console, any page it opens
/// could otherwise POST to `/connectors` with them. Browsers name the page's origin in
/// `Origin` (and `Sec-Fetch-Site`) on such requests; API clients and other workers send
/// neither, so they are not affected.
async fn same_origin_writes(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if !is_cross_site_write(&req) {
        return next.run(req).await;
    }
    tracing::debug!(method = %req.method(), path = %req.uri().path(), "refused a cross-site write from a browser");
    RestError::new(
        StatusCode::FORBIDDEN,
        "Cross-site requests that change the cluster are refused: send the request from the \
         console on this worker, or from a client that is not a browser",
    )
    .into_response()
}

fn is_cross_site_write(req: &axum::extract::Request) -> bool {
    use axum::http::{header, Method};
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    let headers = req.headers();
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // Browsers that send it say where the request comes from, whatever proxy sits between
    // (a page cannot set it).
    match text("sec-fetch-site") {
        Some("same-origin") | Some("none") => return false,
        Some(_) => return true,
        None => {}
    }
    let Some(origin) = text(header::ORIGIN.as_str()) else {
        return false;
    };
    // `Origin: scheme://host[:port]` must name the host the request was sent to.
    let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or("null");
    let host = text(header::HOST.as_str())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    host.is_none_or(|h| !h.eq_ignore_ascii_case(origin_host))
}

/// Whether reading a body failed because it is over the limit.
fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// Keeps the caller's `Authorization` header at hand for the requests this worker makes to
/// others on the caller's behalf (task restarts sent to the worker that runs the task).
async fn caller_credentials(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let authorization = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .cloned();
    forward::with_caller_authorization(authorization, next.run(req)).await
}

/// The router, for embedding and tests.
pub fn router(state: AppState) -> Router {
    use connectors as c;
    let auth = state.auth.clone();
    let router = Router::new()
        .route("/", get(root))
        .route("/health", get(health))
        .route("/metrics", get(prometheus_metrics))
        .route("/connectors", get(c::list).post(c::create))
        .route("/connectors/", get(c::list).post(c::create))
        .route("/connectors/{name}", get(c::info).delete(c::delete))
        .route(
            "/connectors/{name}/config",
            get(c::get_config).put(c::put_config).patch(c::patch_config),
        )
        .route("/connectors/{name}/status", get(c::status))
        .route("/connectors/{name}/tasks", get(c::tasks))
        .route("/connectors/{name}/tasks-config", get(c::tasks_config))
        .route(
            "/connectors/{name}/tasks/{task}/status",
            get(c::task_status),
        )
        .route(
            "/connectors/{name}/tasks/{task}/restart",
            post(c::restart_task),
        )
        .route("/connectors/{name}/restart", post(c::restart))
        .route("/connectors/{name}/pause", put(c::pause))
        .route("/connectors/{name}/resume", put(c::resume))
        .route("/connectors/{name}/stop", put(c::stop))
        .route("/connectors/{name}/fence", put(c::fence_zombies))
        .route(
            "/connectors/{name}/offsets",
            get(c::get_offsets)
                .patch(c::patch_offsets)
                .delete(c::delete_offsets),
        )
        .route("/connectors/{name}/topics", get(c::topics))
        .route("/connectors/{name}/topics/reset", put(c::reset_topics))
        .route("/connector-plugins", get(plugins::list))
        .route("/connector-plugins/", get(plugins::list))
        .route("/connector-plugins/{plugin}/config", get(plugins::config))
        .route(
            "/connector-plugins/{plugin}/config/validate",
            put(plugins::validate),
        )
        .route("/admin/loggers", get(loggers))
        .route("/admin/loggers/", get(loggers))
        .route("/admin/loggers/{name}", get(logger).put(set_logger))
        .route("/ui", get(console::redirect))
        .route("/ui/", get(console::index))
        .route("/ui/{*path}", get(console::file))
        .route("/conveyor/workers", get(conveyor::workers))
        .route("/conveyor/metrics", get(conveyor::metrics))
        .route("/conveyor/peek", get(conveyor::peek))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(
            body::MAX_REQUEST_BODY_BYTES,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            forward_writes,
        ))
        // Before forwarding: a body that is not JSON never leaves this worker.
        .layer(axum::middleware::from_fn(body::require_json))
        .layer(axum::middleware::from_fn(caller_credentials))
        .layer(axum::middleware::from_fn(same_origin_writes))
        .layer(axum::middleware::from_fn(connect_responses));
    // Outermost: nothing runs, and nothing is forwarded, for a caller without credentials.
    let router = match auth {
        Some(auth) => router.layer(axum::middleware::from_fn_with_state(
            auth,
            auth::authenticate,
        )),
        None => router,
    };
    router.with_state(state)
}

/// Serves the API on `listener` within `limits` until `shutdown` resolves.
pub async fn serve(
    listener: RestListener,
    state: AppState,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    server::serve(listener, router(state), limits, shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, headers: &[(&str, &str)]) -> axum::extract::Request {
        let mut b = axum::http::Request::builder()
            .method(method)
            .uri("/connectors");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn writes_from_other_sites_are_refused_and_api_clients_are_not() {
        let host = ("host", "127.0.0.1:8083");
        // curl, scripts, other workers: no Origin.
        assert!(!is_cross_site_write(&request("POST", &[host])));
        // The console itself.
        assert!(!is_cross_site_write(&request(
            "POST",
            &[
                host,
                ("origin", "http://127.0.0.1:8083"),
                ("sec-fetch-site", "same-origin")
            ]
        )));
        // The console behind a proxy that rewrites Host: the browser still says same-origin.
        assert!(!is_cross_site_write(&request(
            "POST",
            &[
                host,
                ("origin", "https://connect.example.com"),
                ("sec-fetch-site", "same-origin")
            ]
        )));
        // Another site's page.
        assert!(is_cross_site_write(&request(
            "POST",
            &[host, ("origin", "https://evil.example")]
        )));
        assert!(is_cross_site_write(&request(
            "DELETE",
            &[host, ("origin", "null")]
        )));
        assert!(is_cross_site_write(&request(
            "POST",
            &[host, ("sec-fetch-site", "cross-site")]
        )));
        // Reads are never refused.
        assert!(!is_cross_site_write(&request(
            "GET",
            &[host, ("origin", "https://evil.example")]
        )));
    }

    #[tokio::test]
    async fn health_says_why_when_the_worker_cannot_go_on() {
        use crate::herder::standalone::StandaloneHerder;
        use crate::herder::status_store::MemoryStatusStore;
        use tower_service::Service;

        let statuses = Arc::new(MemoryStatusStore::new("127.0.0.1:8083"));
        let (worker, requests) =
            crate::runtime::worker::test_support::worker("10", statuses.clone());
        let herder = StandaloneHerder::new(
            Arc::new(worker),
            statuses,
            requests,
            None,
            Default::default(),
        );
        herder.start(Vec::new()).await.unwrap();
        let app = router(AppState {
            herder: herder.clone(),
            topic_tracking: true,
            topic_tracking_reset: true,
            auth: None,
            forwarder: Forwarder::new(None).unwrap(),
            kafka: Default::default(),
        });
        let health = || async {
            let response = app
                .clone()
                .call(
                    axum::http::Request::get("/health")
                        .body(axum::body::Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .unwrap();
            (
                status,
                serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
            )
        };
        assert_eq!(health().await.0, StatusCode::OK);

        herder
            .fatal()
            .raise("the herder's event loop panicked: boom");
        let (status, body) = health().await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            body,
            json!({"status": "unhealthy", "message": "the herder's event loop panicked: boom"})
        );
    }

    #[test]
    fn query_parameters() {
        assert_eq!(
            query_values(Some("expand=status&expand=info"), "expand"),
            vec!["status", "info"]
        );
        assert!(query_flag(
            Some("includeTasks=true&onlyFailed=false"),
            "includeTasks"
        ));
        assert!(!query_flag(
            Some("includeTasks=true&onlyFailed=false"),
            "onlyFailed"
        ));
    }
}
