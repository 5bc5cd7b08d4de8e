//! Serving REST connections within limits, as Kafka Connect's Jetty does: a connection that
//! does not send a complete request head in time (silent, idle after a response, or sending
//! its headers byte by byte) is closed after `rest.idle.timeout.ms`, and at most
//! `rest.max.connections` are open at once across all listeners; one more is closed as soon
//! as it is accepted. Without these, a client holding sockets open exhausts the worker's file
//! descriptors, and then the Kafka clients fail too.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use openssl::ssl::SslAcceptor;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tokio_openssl::SslStream;

use super::listener::{handshake, RestListener};
use crate::config::WorkerConfig;

/// How long a client has at most to finish the TLS handshake (less when the idle timeout is
/// shorter).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest request head accepted (request line and headers); a larger one gets 431.
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Refused connections are logged at most this often.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// The REST server's connection limits, shared by every listener of a worker.
#[derive(Clone)]
pub struct ConnectionLimits {
    idle_timeout: Duration,
    max_connections: usize,
    slots: Arc<Semaphore>,
    refusals: Arc<Mutex<RefusalLog>>,
}

impl ConnectionLimits {
    pub fn new(idle_timeout: Duration, max_connections: usize) -> ConnectionLimits {
        ConnectionLimits {
            idle_timeout,
            max_connections,
            slots: Arc::new(Semaphore::new(max_connections)),
            refusals: Arc::default(),
        }
    }

    /// `rest.idle.timeout.ms` and `rest.max.connections`.
    pub fn from_config(config: &WorkerConfig) -> ConnectionLimits {
        Self::new(config.rest_idle_timeout, config.rest_max_connections)
    }

    /// A slot for a connection just accepted, or `None` (logged) when all are taken.
    fn admit(&self, peer: SocketAddr) -> Option<OwnedSemaphorePermit> {
        match self.slots.clone().try_acquire_owned() {
            Ok(slot) => Some(slot),
            Err(_) => {
                self.refusals.lock().note(peer, self.max_connections);
                None
            }
        }
    }
}

/// Counts refused connections and logs them once in a while, not once each.
#[derive(Default)]
struct RefusalLog {
    since_last: u64,
    last: Option<Instant>,
}

impl RefusalLog {
    fn note(&mut self, peer: SocketAddr, max: usize) {
        self.since_last += 1;
        if self
            .last
            .is_none_or(|t| t.elapsed() >= REFUSAL_LOG_INTERVAL)
        {
            tracing::warn!(
                refused = self.since_last,
                last_peer = %peer,
                "REST connections refused: {max} are open already (rest.max.connections)"
            );
            self.since_last = 0;
            self.last = Some(Instant::now());
        }
    }
}

/// An accepted connection, plain or TLS.
enum RestStream {
    Plain(TcpStream),
    Tls(Box<SslStream<TcpStream>>),
}

impl AsyncRead for RestStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            RestStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            RestStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for RestStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            RestStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            RestStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            RestStream::Plain(s) => Pin::new(s).poll_flush(cx),
            RestStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            RestStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            RestStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A connection ready to serve, with the slot it holds until it closes.
struct Admitted {
    stream: RestStream,
    peer: SocketAddr,
    _slot: OwnedSemaphorePermit,
}

/// Accepts connections, admits them within the limits and hands them over, after the TLS
/// handshake for an HTTPS listener. Handshakes run in their own tasks, so a slow or silent
/// client holds up nobody else. Ends when the server stops (`to_serve` is closed).
async fn accept_loop(
    tcp: TcpListener,
    acceptor: Option<Arc<SslAcceptor>>,
    limits: ConnectionLimits,
    to_serve: mpsc::Sender<Admitted>,
) {
    loop {
        let (stream, peer) = tokio::select! {
            accepted = tcp.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: the connection waits in the
                    // backlog; try again shortly rather than spin.
                    tracing::debug!(error = %e, "accepting a REST connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = to_serve.closed() => return,
        };
        let Some(slot) = limits.admit(peer) else {
            drop(stream);
            continue;
        };
        match &acceptor {
            None => {
                let _ = stream.set_nodelay(true);
                let admitted = Admitted {
                    stream: RestStream::Plain(stream),
                    peer,
                    _slot: slot,
                };
                if to_serve.send(admitted).await.is_err() {
                    return;
                }
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let to_serve = to_serve.clone();
                let timeout = limits.idle_timeout.min(HANDSHAKE_TIMEOUT);
                tokio::spawn(async move {
                    match tokio::time::timeout(timeout, handshake(&acceptor, stream)).await {
                        Ok(Ok(tls)) => {
                            let admitted = Admitted {
                                stream: RestStream::Tls(Box::new(tls)),
                                peer,
                                _slot: slot,
                            };
                            let _ = to_serve.send(admitted).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(peer = %peer, error = %e, "TLS handshake with a REST client failed")
                        }
                        Err(_) => {
                            tracing::debug!(peer = %peer, "TLS handshake with a REST client timed out")
                        }
                    }
                });
            }
        }
    }
}

/// Serves HTTP/1.1 on one connection until it closes, the client is idle for too long, or the
/// server stops (then the request in progress finishes first).
async fn serve_connection(
    admitted: Admitted,
    app: Router,
    idle_timeout: Duration,
    mut stopping: watch::Receiver<bool>,
) {
    let Admitted {
        stream,
        peer,
        _slot,
    } = admitted;
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(idle_timeout)
        .max_header_size(MAX_HEADER_BYTES)
        .keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
    tokio::pin!(connection);
    let served = tokio::select! {
        served = connection.as_mut() => served,
        () = async { drop(stopping.wait_for(|stop| *stop).await) } => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = served {
        tracing::debug!(peer = %peer, error = %e, "REST connection closed");
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` resolves; then stops
/// accepting and lets the requests in progress finish.
pub async fn serve(
    listener: RestListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let (to_serve, mut admitted) = mpsc::channel(64);
    let accepting = tokio::spawn(accept_loop(
        listener.listener,
        listener.acceptor,
        limits.clone(),
        to_serve,
    ));
    let (stop, stopping) = watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            next = admitted.recv() => match next {
                Some(a) => {
                    connections.spawn(serve_connection(a, app.clone(), limits.idle_timeout, stopping.clone()));
                }
                None => break,
            },
            // Finished connections are reaped as they go.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = &mut shutdown => break,
        }
    }
    accepting.abort();
    drop(admitted);
    let _ = stop.send(true);
    while connections.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest::listener::{bind, parse_listener};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn server(idle: Duration, max: usize) -> SocketAddr {
        let listener = bind(&parse_listener("http://127.0.0.1:0").unwrap(), None)
            .await
            .unwrap();
        let addr = listener.local_addr;
        let app = Router::new().route("/", axum::routing::get(|| async { "hello" }));
        tokio::spawn(serve(
            listener,
            app,
            ConnectionLimits::new(idle, max),
            std::future::pending(),
        ));
        addr
    }

    /// Reads until the peer closes; true when it did within `within`.
    async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
        let mut buf = [0u8; 1024];
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
                Err(_) => return false,
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => continue,
            }
        }
    }

    #[tokio::test]
    async fn idle_and_slow_connections_are_closed_after_the_timeout() {
        let addr = server(Duration::from_millis(300), 16).await;
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let mut slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let mut kept = TcpStream::connect(addr).await.unwrap();
        kept.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        while !answer.ends_with(b"hello") {
            let mut buf = [0u8; 1024];
            let n = kept.read(&mut buf).await.unwrap();
            answer.extend_from_slice(&buf[..n]);
        }
        for s in [&mut silent, &mut slow, &mut kept] {
            assert!(closed_within(s, Duration::from_secs(5)).await);
        }
    }

    #[tokio::test]
    async fn connections_beyond_the_cap_are_closed_at_once_and_slots_come_back() {
        let addr = server(Duration::from_millis(500), 2).await;
        let mut held = vec![
            TcpStream::connect(addr).await.unwrap(),
            TcpStream::connect(addr).await.unwrap(),
        ];
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut extra = TcpStream::connect(addr).await.unwrap();
        assert!(closed_within(&mut extra, Duration::from_millis(200)).await);
        for s in &mut held {
            assert!(closed_within(s, Duration::from_secs(5)).await);
        }
        // The slots are free again.
        let mut fresh = TcpStream::connect(addr).await.unwrap();
        fresh
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        fresh.read_to_end(&mut answer).await.unwrap();
        assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
    }
}
