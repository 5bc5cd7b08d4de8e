//! REST listeners (Kafka Connect's `listeners`): `http://host:port` and `https://host:port`,
//! every one bound at start and served with the same API. HTTPS connections are accepted over
//! OpenSSL with the TLS settings that Kafka Connect's `SSLUtils` would pick: the
//! `listeners.https.ssl.*` keys when any `listeners.https.` key is set, else the top-level
//! `ssl.*` keys.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use openssl::ssl::{Ssl, SslAcceptor};
use tokio::net::{TcpListener, TcpStream};
use tokio_openssl::SslStream;

use crate::config::worker::LISTENERS_HTTPS_PREFIX;
use crate::config::WorkerConfig;
use crate::errors::{ConnectError, Result};
use crate::tls::TlsSettings;

/// A listener's protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

impl std::fmt::Display for Scheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of `listeners`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerUrl {
    pub scheme: Scheme,
    /// Empty when the listener binds every interface.
    pub host: String,
    pub port: u16,
}

/// Parses `http://host:port` or `https://host:port` (the host may be empty or a bracketed
/// IPv6 address), as Kafka Connect's `RestServer` reads `listeners`.
pub fn parse_listener(url: &str) -> Result<ListenerUrl> {
    let invalid = |why: &str| {
        ConnectError::Config(format!(
            "Invalid value {url} for configuration listeners: {why}"
        ))
    };
    let trimmed = url.trim();
    let (scheme, rest) = trimmed
        .split_once("://")
        .ok_or_else(|| invalid("expected http://host:port or https://host:port"))?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        _ => return Err(invalid("the protocol must be either \"http\" or \"https\"")),
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| invalid("expected http://host:port or https://host:port"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| invalid(&format!("{port} is not a port")))?;
    Ok(ListenerUrl {
        scheme,
        host: host.trim_matches(['[', ']']).to_string(),
        port,
    })
}

/// The TLS settings of the REST server (and of the client that forwards requests to other
/// workers), read under [`WorkerConfig::rest_ssl_prefix`]. Keys under that prefix that
/// Conveyor would not honour are refused by name rather than ignored.
pub fn https_settings(config: &WorkerConfig) -> Result<(TlsSettings, String)> {
    let prefix = config.rest_ssl_prefix();
    if prefix.starts_with(LISTENERS_HTTPS_PREFIX) {
        for key in config.raw.keys() {
            let Some(ssl_key) = key.strip_prefix(LISTENERS_HTTPS_PREFIX) else {
                continue;
            };
            let set = config.raw.get(key).is_some_and(|v| !v.trim().is_empty());
            if ssl_key.starts_with("ssl.")
                && set
                && !crate::kafka::security::is_supported_ssl_key(ssl_key)
            {
                return Err(ConnectError::Config(format!(
                    "{key}: is not supported by Conveyor's HTTPS listeners (OpenSSL with its \
                     defaults decides this); remove the setting"
                )));
            }
        }
    }
    let settings = TlsSettings::from_config(&config.raw, &prefix)?;
    Ok((settings, prefix))
}

/// A bound REST listener.
pub struct RestListener {
    pub scheme: Scheme,
    pub listener: TcpListener,
    pub local_addr: SocketAddr,
    /// The `host` of the `listeners` URL, empty when it binds every interface.
    pub configured_host: String,
    /// Set for HTTPS listeners.
    pub acceptor: Option<Arc<SslAcceptor>>,
}

impl RestListener {
    /// `scheme://address` where this listener can be reached from this machine.
    pub fn local_url(&self) -> String {
        format!("{}://{}", self.scheme, self.local_addr)
    }
}

/// Binds one listener, with a message that says what to do when the port is taken. An HTTPS
/// listener needs `acceptor`.
pub async fn bind(url: &ListenerUrl, acceptor: Option<Arc<SslAcceptor>>) -> Result<RestListener> {
    let bind_host = if url.host.is_empty() {
        "0.0.0.0".to_string()
    } else {
        url.host.clone()
    };
    let shown = format!("{}://{}:{}", url.scheme, url.host, url.port);
    let acceptor = match (url.scheme, acceptor) {
        (Scheme::Http, _) => None,
        (Scheme::Https, Some(a)) => Some(a),
        (Scheme::Https, None) => {
            return Err(ConnectError::Config(format!(
                "the HTTPS listener {shown} has no TLS settings"
            )))
        }
    };
    let listener = TcpListener::bind((bind_host.as_str(), url.port)).await.map_err(|e| {
        let port = url.port;
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            format!(" (another process, perhaps another worker, is using port {port}; stop it or set `listeners` in the worker config to a free port)")
        } else {
            String::new()
        };
        ConnectError::Io(format!("could not start the REST server on {shown} ({bind_host}:{port}): {e}{hint}"))
    })?;
    let local_addr = listener.local_addr()?;
    Ok(RestListener {
        scheme: url.scheme,
        listener,
        local_addr,
        configured_host: url.host.clone(),
        acceptor,
    })
}

/// Finishes the TLS handshake of an accepted connection, saying why when it fails (no client
/// certificate where one is required, an untrusted one, plain HTTP sent to an HTTPS port).
pub(crate) async fn handshake(
    acceptor: &SslAcceptor,
    tcp: TcpStream,
) -> std::result::Result<SslStream<TcpStream>, String> {
    let _ = tcp.set_nodelay(true);
    let ssl = Ssl::new(acceptor.context()).map_err(|e| e.to_string())?;
    let mut stream = SslStream::new(ssl, tcp).map_err(|e| e.to_string())?;
    Pin::new(&mut stream).accept().await.map_err(|e| {
        let verify = stream.ssl().verify_result();
        if verify.as_raw() != 0 {
            format!("{e} (client certificate: {})", verify.error_string())
        } else {
            e.to_string()
        }
    })?;
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::map;
    use crate::config::WorkerMode;

    #[test]
    fn listener_urls() {
        let http = parse_listener("http://:8083").unwrap();
        assert_eq!(
            http,
            ListenerUrl {
                scheme: Scheme::Http,
                host: String::new(),
                port: 8083
            }
        );
        let https = parse_listener(" HTTPS://127.0.0.1:8443/ ").unwrap();
        assert_eq!(https.scheme, Scheme::Https);
        assert_eq!(https.host, "127.0.0.1");
        assert_eq!(https.port, 8443);
        assert_eq!(parse_listener("https://[::1]:0").unwrap().host, "::1");
        for bad in ["8083", "ftp://:21", "http://host", "http://:99999"] {
            let err = parse_listener(bad).unwrap_err().to_string();
            assert!(err.contains("listeners") && err.contains(bad), "{err}");
        }
    }

    /// An HTTPS listener that requires client certificates, and the forwarding client
    /// talking to it with and without one.
    #[tokio::test]
    async fn https_with_required_client_certificates() {
        use crate::herder::distributed::forward::Forwarder;
        use crate::tls::{ClientAuth, Identity};
        use axum::http::{HeaderMap, Method, StatusCode};
        use openssl::ssl::SslVersion;
        use std::time::Duration;

        let (key, cert) = crate::tls::test_certs::self_signed("worker");
        let settings = |identity: bool, trusted: bool| TlsSettings {
            trusted: trusted.then(|| vec![cert.clone()]),
            identity: identity.then(|| Identity {
                key: key.clone(),
                chain: vec![cert.clone()],
            }),
            verify_hostname: true,
            min_version: SslVersion::TLS1_2,
            max_version: SslVersion::TLS1_3,
            client_auth: ClientAuth::Required,
        };
        let acceptor = Arc::new(settings(true, true).acceptor("ks").unwrap());
        let url = parse_listener("https://127.0.0.1:0").unwrap();
        let listener = bind(&url, Some(acceptor)).await.unwrap();
        let base = listener.local_url();
        assert!(base.starts_with("https://127.0.0.1:"), "{base}");
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
        let limits = super::super::server::ConnectionLimits::new(Duration::from_secs(30), 8);
        tokio::spawn(super::super::server::serve(
            listener,
            app,
            limits,
            std::future::pending(),
        ));

        let get = |tls: TlsSettings| {
            let base = base.clone();
            async move {
                Forwarder::new(Some(&tls))
                    .unwrap()
                    .send(
                        &base,
                        Method::GET,
                        "/",
                        &HeaderMap::new(),
                        Default::default(),
                    )
                    .await
            }
        };
        let (status, _, body) = get(settings(true, true)).await.unwrap();
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"hello"[..]));
        // No client certificate: the server ends the handshake.
        assert!(get(settings(false, true)).await.is_err());
        // A server certificate the client does not trust: refused, saying why.
        let err = get(settings(true, false)).await.unwrap_err().to_string();
        assert!(err.contains("TLS handshake with 127.0.0.1"), "{err}");
        assert!(
            err.contains("self-signed") || err.contains("self signed"),
            "{err}"
        );
        // Plain HTTP to the HTTPS port gets no answer.
        let plain = base.replace("https://", "http://");
        assert!(Forwarder::new(None)
            .unwrap()
            .send(
                &plain,
                Method::GET,
                "/",
                &HeaderMap::new(),
                Default::default()
            )
            .await
            .is_err());
    }

    #[test]
    fn unsupported_https_settings_are_refused_by_name() {
        let worker = |pairs: &[(&str, &str)]| {
            let mut all = vec![("offset.storage.file.filename", "/tmp/o")];
            all.extend_from_slice(pairs);
            WorkerConfig::parse(&map(&all), WorkerMode::Standalone).unwrap()
        };
        let err = https_settings(&worker(&[("listeners.https.ssl.cipher.suites", "X")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("listeners.https.ssl.cipher.suites:"),
            "{err}"
        );
        let (settings, prefix) =
            https_settings(&worker(&[("listeners.https.ssl.client.auth", "required")])).unwrap();
        assert_eq!(prefix, "listeners.https.ssl.");
        assert_eq!(settings.client_auth, crate::tls::ClientAuth::Required);
        // Without listeners.https. keys, the top-level ones apply (all or nothing).
        let (settings, prefix) =
            https_settings(&worker(&[("ssl.client.auth", "requested")])).unwrap();
        assert_eq!(prefix, "ssl.");
        assert_eq!(settings.client_auth, crate::tls::ClientAuth::Requested);
        let (settings, _) = https_settings(&worker(&[
            ("ssl.client.auth", "requested"),
            ("listeners.https.ssl.enabled.protocols", "TLSv1.3"),
        ]))
        .unwrap();
        assert_eq!(settings.client_auth, crate::tls::ClientAuth::None);
        let err = https_settings(&worker(&[(
            "listeners.https.ssl.keystore.location",
            "/nonexistent/keystore.p12",
        )]))
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("listeners.https.ssl.keystore.location:"),
            "{err}"
        );
    }
}
