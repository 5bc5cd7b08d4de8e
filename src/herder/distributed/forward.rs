//! REST requests from one worker to another: writes forwarded to the leader, and task restarts
//! sent to the worker that runs the task (Kafka Connect's `RestClient`/`HerderRequestHandler`).
//!
//! Other workers are reached at the URL they advertise, `http://` or `https://`. HTTPS goes
//! over OpenSSL with the REST TLS settings (`listeners.https.ssl.*`, else the top-level
//! `ssl.*`): their truststore decides which workers are trusted, their keystore is presented
//! when a worker asks for a client certificate, and `endpoint.identification.algorithm`
//! (empty turns it off) decides whether the certificate must name the host, as Connect's
//! client does. The caller's `Authorization` header goes along, so requests forwarded inside
//! a cluster with basic authentication are authenticated as the original caller.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use openssl::ssl::SslConnector;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

use crate::config::ConfigMap;
use crate::errors::{ConnectError, Result};
use crate::plugin::TaskId;
use crate::tls::TlsSettings;

/// Marks a request that another worker forwarded, so it is never forwarded again.
pub const FORWARDED_HEADER: &str = "x-conveyor-forwarded";

/// Below the 90 s a Kafka Connect client waits for us.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(80);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

tokio::task_local! {
    /// The `Authorization` header of the REST request being served, for the requests this
    /// worker makes to other workers on the caller's behalf.
    static CALLER_AUTHORIZATION: Option<HeaderValue>;
}

/// Runs `f` (the handling of one REST request) with the caller's `Authorization` header at
/// hand for [`Forwarder::send`].
pub async fn with_caller_authorization<F: Future>(
    authorization: Option<HeaderValue>,
    f: F,
) -> F::Output {
    CALLER_AUTHORIZATION.scope(authorization, f).await
}

fn caller_authorization() -> Option<HeaderValue> {
    CALLER_AUTHORIZATION.try_with(Clone::clone).ok().flatten()
}

/// A request to another worker that got no HTTP answer: the cause, down to the root (refused
/// connection, TLS handshake failure and why, timeout).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ForwardError(String);

fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// An HTTP client for other workers (connections are kept alive between requests).
#[derive(Clone)]
pub struct Forwarder {
    client: Client<WorkerConnector, Full<Bytes>>,
}

impl Forwarder {
    /// A client whose HTTPS connections use `tls`; without it, HTTPS trusts the system's CA
    /// certificates and presents no client certificate.
    pub fn new(tls: Option<&TlsSettings>) -> Result<Forwarder> {
        let defaults;
        let tls = match tls {
            Some(t) => t,
            None => {
                defaults = TlsSettings::from_config(&ConfigMap::new(), "ssl.")?;
                &defaults
            }
        };
        let connector = WorkerConnector {
            tls: Arc::new(ClientTls {
                connector: tls.connector()?,
                verify_hostname: tls.verify_hostname,
            }),
        };
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_timer(TokioTimer::new())
            .build(connector);
        Ok(Forwarder { client })
    }

    /// Sends a request to `base_url` (`http://host:port` or `https://host:port`) and returns
    /// the status, the headers a client needs (content type, location) and the body. The
    /// `Authorization` header of `headers`, or else of the REST request being served, goes
    /// along.
    pub async fn send(
        &self,
        base_url: &str,
        method: Method,
        path_and_query: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> std::result::Result<(StatusCode, HeaderMap, Bytes), ForwardError> {
        let url = format!("{}{}", base_url.trim_end_matches('/'), path_and_query);
        let uri: Uri = url
            .parse()
            .map_err(|e| ForwardError(format!("bad URL {url}: {e}")))?;
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(FORWARDED_HEADER, "true")
            .header(ACCEPT, "application/json");
        if let Some(ct) = headers.get(CONTENT_TYPE) {
            request = request.header(CONTENT_TYPE, ct);
        }
        if let Some(auth) = headers
            .get(AUTHORIZATION)
            .cloned()
            .or_else(caller_authorization)
        {
            request = request.header(AUTHORIZATION, auth);
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| ForwardError(format!("cannot build the request to {url}: {e}")))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| ForwardError(describe(&e)))?;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| ForwardError(describe(&e)))?
                .to_bytes();
            Ok::<_, ForwardError>((parts, body))
        };
        let (parts, body) = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| {
                ForwardError(format!(
                    "{url} did not answer within {}s",
                    REQUEST_TIMEOUT.as_secs()
                ))
            })??;
        let mut out = HeaderMap::new();
        for name in [CONTENT_TYPE, LOCATION] {
            if let Some(v) = parts.headers.get(&name) {
                out.insert(name, v.clone());
            }
        }
        Ok((parts.status, out, body))
    }
}

struct ClientTls {
    connector: SslConnector,
    verify_hostname: bool,
}

/// Opens connections for the client: TCP, then TLS for `https://` URLs.
#[derive(Clone)]
struct WorkerConnector {
    tls: Arc<ClientTls>,
}

impl tower_service::Service<Uri> for WorkerConnector {
    type Response = WorkerStream;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<WorkerStream>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let tls = self.tls.clone();
        Box::pin(async move {
            let https = match uri.scheme_str() {
                Some("https") => true,
                Some("http") | None => false,
                Some(other) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!("unsupported scheme {other} in {uri}"),
                    ))
                }
            };
            let host = uri
                .host()
                .unwrap_or_default()
                .trim_matches(['[', ']'])
                .to_string();
            let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
            let tcp =
                tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host.as_str(), port)))
                    .await
                    .map_err(|_| {
                        std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            format!("connecting to {host}:{port} timed out"),
                        )
                    })??;
            let _ = tcp.set_nodelay(true);
            if !https {
                return Ok(WorkerStream::new(tcp));
            }
            let ssl = tls
                .connector
                .configure()
                .and_then(|c| c.verify_hostname(tls.verify_hostname).into_ssl(&host))
                .map_err(std::io::Error::other)?;
            let mut stream = SslStream::new(ssl, tcp).map_err(std::io::Error::other)?;
            if let Err(e) = Pin::new(&mut stream).connect().await {
                let verify = stream.ssl().verify_result();
                let why = if verify.as_raw() != 0 {
                    format!(
                        "{e}: the certificate of {host}:{port} was refused ({})",
                        verify.error_string()
                    )
                } else {
                    e.to_string()
                };
                return Err(std::io::Error::other(format!(
                    "TLS handshake with {host}:{port} failed: {why}"
                )));
            }
            Ok(WorkerStream::new(stream))
        })
    }
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// A connection to another worker, plain or TLS.
struct WorkerStream(TokioIo<Box<dyn Io>>);

impl WorkerStream {
    fn new(io: impl Io) -> Self {
        WorkerStream(TokioIo::new(Box::new(io)))
    }
}

impl Connection for WorkerStream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl hyper::rt::Read for WorkerStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for WorkerStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
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

/// `host:port` of a worker URL (`https://host:port/` → `host:port`): its `worker_id`.
pub fn worker_id_of(url: &str) -> &str {
    url.split_once("://")
        .map_or(url, |(_, rest)| rest)
        .trim_end_matches('/')
}

/// The scheme of a worker URL (`http` when it has none).
pub fn scheme_of(url: &str) -> &str {
    url.split_once("://").map_or("http", |(scheme, _)| scheme)
}

/// Asks the worker at `base_url` to restart a task it runs.
pub async fn restart_task_on(forwarder: &Forwarder, base_url: &str, id: &TaskId) -> Result<()> {
    let path = format!(
        "/connectors/{}/tasks/{}/restart",
        path_segment(&id.connector),
        id.task
    );
    let worker_id = worker_id_of(base_url);
    let (status, _, body) = forwarder
        .send(
            base_url,
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
    answer(status, &body)
}

/// Asks the leader at `base_url` for a round of zombie fencing of `connector`'s exactly-once
/// source tasks (Connect's internal `PUT /connectors/{connector}/fence`).
pub async fn fence_zombies_on(
    forwarder: &Forwarder,
    base_url: &str,
    connector: &str,
) -> Result<()> {
    let path = format!("/connectors/{}/fence", path_segment(connector));
    let (status, _, body) = forwarder
        .send(base_url, Method::PUT, &path, &HeaderMap::new(), Bytes::new())
        .await
        .map_err(|e| {
            ConnectError::Conflict(format!(
                "Request to leader to perform zombie fencing for connector {connector} failed: the leader at {base_url} did not answer ({e})"
            ))
        })?;
    answer(status, &body)
}

/// The outcome of a request to another worker: its error message as the matching error.
fn answer(status: StatusCode, body: &[u8]) -> Result<()> {
    if status.is_success() {
        return Ok(());
    }
    let message = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|j| j.get("message").and_then(|m| m.as_str()).map(String::from))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    Err(match status {
        StatusCode::NOT_FOUND => ConnectError::NotFound(message),
        StatusCode::CONFLICT => ConnectError::Conflict(message),
        StatusCode::BAD_REQUEST => ConnectError::BadRequest(message),
        _ => ConnectError::Other(message),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_urls() {
        assert_eq!(worker_id_of("https://w1:8443/"), "w1:8443");
        assert_eq!(worker_id_of("http://w1:8083"), "w1:8083");
        assert_eq!(worker_id_of("w1:8083"), "w1:8083");
        assert_eq!(scheme_of("https://w1:8443"), "https");
        assert_eq!(scheme_of("w1:8083"), "http");
        assert_eq!(path_segment("a b/c"), "a%20b%2Fc");
    }

    #[tokio::test]
    async fn the_callers_authorization_goes_along() {
        use axum::routing::get;
        let app = axum::Router::new().route(
            "/who",
            get(|headers: HeaderMap| async move {
                headers
                    .get(AUTHORIZATION)
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default()
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let forwarder = Forwarder::new(None).unwrap();
        let empty = HeaderMap::new();
        let send = || forwarder.send(&base, Method::GET, "/who", &empty, Bytes::new());
        let (status, _, body) = send().await.unwrap();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "");
        let caller = HeaderValue::from_static("Basic dTpw");
        let (_, _, body) = with_caller_authorization(Some(caller), send())
            .await
            .unwrap();
        assert_eq!(body, "Basic dTpw");
        // Nothing listening: the cause is in the error.
        let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dead = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let err = forwarder
            .send(&dead, Method::GET, "/", &HeaderMap::new(), Bytes::new())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.to_lowercase().contains("refused"), "{err}");
    }
}
