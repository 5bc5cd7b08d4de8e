//! Opening connections (with `connection.attempts` / `connection.backoff.ms`, TLS as
//! `sslmode` asks and PgJDBC's `loginTimeout`), the session set-up both connectors rely on,
//! and what a PostgreSQL error means for a batch.

use postgres_openssl::TlsStream;
use tokio_postgres::config::SslMode as WireSslMode;
use tokio_postgres::{Client, Connection, Socket};

use crate::errors::{ConnectError, Result};

use super::config::{ConnectionSettings, DB_TIMEZONE};
use super::identifier::literal;
use super::tls::{Rejection, SslMode, TlsSettings};

/// A client whose connection is driven by its own tokio task.
pub struct PgClient {
    pub client: Client,
    driver: tokio::task::JoinHandle<()>,
}

impl PgClient {
    /// True once the server or the network closed the connection.
    pub fn is_closed(&self) -> bool {
        self.client.is_closed() || self.driver.is_finished()
    }
}

impl Drop for PgClient {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

impl std::ops::Deref for PgClient {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

/// Connects, trying `connection.attempts` times `connection.backoff.ms` apart, and sets the
/// session time zone to `db.timezone`.
pub async fn connect(settings: &ConnectionSettings) -> Result<PgClient> {
    let mut attempt = 1;
    loop {
        match connect_once(settings).await {
            Ok(c) => return Ok(c),
            Err(e @ ConnectError::Config(_)) => return Err(e),
            Err(e) if attempt >= settings.attempts => return Err(e),
            Err(e) => {
                tracing::info!(
                    database = %settings.display, attempt, error = %e,
                    "unable to connect to the database; will retry"
                );
                attempt += 1;
                tokio::time::sleep(settings.backoff).await;
            }
        }
    }
}

type PgConnection = Connection<Socket, TlsStream<Socket>>;

/// Why opening a connection failed.
enum OpenError {
    /// Before any network traffic: a TLS file or setting is wrong.
    Setup(ConnectError),
    /// The server, the network or the TLS handshake said no; with the handshake's reason
    /// when it rejected the server's certificate.
    Server(tokio_postgres::Error, Option<Rejection>),
}

/// Opens a connection within `loginTimeout`: TLS as `sslmode` asks, with libpq's and
/// PgJDBC's fallbacks (`allow`: plaintext, then TLS if the server refused; `prefer`: TLS when
/// offered, then plaintext if the server refused the TLS connection's authentication). Modes
/// from `require` up never fall back to plaintext.
async fn open(settings: &ConnectionSettings) -> Result<(Client, PgConnection)> {
    let attempt = async {
        let refused =
            |e: &OpenError| matches!(e, OpenError::Server(e, None) if e.as_db_error().is_some());
        let result = match settings.tls.mode {
            SslMode::Disable => open_with(settings, WireSslMode::Disable).await,
            SslMode::Allow => match open_with(settings, WireSslMode::Disable).await {
                Err(e) if refused(&e) => open_with(settings, WireSslMode::Require).await,
                other => other,
            },
            SslMode::Prefer => match open_with(settings, WireSslMode::Prefer).await {
                Err(OpenError::Server(e, None)) if sqlstate(&e) == Some("28000") => {
                    open_with(settings, WireSslMode::Disable).await
                }
                other => other,
            },
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                open_with(settings, WireSslMode::Require).await
            }
        };
        result.map_err(|e| explain(settings, e))
    };
    match settings.login_timeout {
        None => attempt.await,
        Some(limit) => tokio::time::timeout(limit, attempt).await.unwrap_or_else(|_| {
            Err(ConnectError::Retriable(format!(
                "could not connect to PostgreSQL at {}: no answer within {} s (loginTimeout; the connection, TLS handshake and login must complete in that time)",
                settings.display,
                limit.as_secs_f64(),
            )))
        }),
    }
}

async fn open_with(
    settings: &ConnectionSettings,
    mode: WireSslMode,
) -> std::result::Result<(Client, PgConnection), OpenError> {
    let (tls, rejections) = match mode {
        WireSslMode::Disable => TlsSettings::plaintext_connector(),
        _ => settings.tls.connector(),
    }
    .map_err(OpenError::Setup)?;
    let mut pg = settings.pg.clone();
    pg.ssl_mode(mode);
    pg.connect(tls)
        .await
        .map_err(|e| OpenError::Server(e, rejections.take()))
}

/// The error a user sees: a rejected certificate or a server without TLS under a mode that
/// needs it are config errors (retrying cannot help); anything else may pass.
fn explain(settings: &ConnectionSettings, error: OpenError) -> ConnectError {
    let at = format!("could not connect to PostgreSQL at {}", settings.display);
    match error {
        OpenError::Setup(e) => e.context(at),
        OpenError::Server(_, Some(rejection)) => {
            ConnectError::Config(format!("{at}: {}", settings.tls.explain(&rejection)))
        }
        OpenError::Server(e, None) if is_no_tls(&e) => ConnectError::Config(format!(
            "{at}: {} needs an encrypted connection, but the server does not accept TLS (its ssl setting is off): turn ssl on in the server, or use sslmode=prefer to connect without TLS when the server has none",
            settings.tls.mode_shown()
        )),
        OpenError::Server(e, None) => ConnectError::Retriable(format!("{at}: {}", error_text(&e))),
    }
}

/// tokio-postgres's answer when the server declines the TLS request under `require`.
fn is_no_tls(e: &tokio_postgres::Error) -> bool {
    std::error::Error::source(e).is_some_and(|c| c.to_string() == "server does not support TLS")
}

async fn connect_once(settings: &ConnectionSettings) -> Result<PgClient> {
    let (client, connection) = open(settings).await?;
    let database = settings.display.clone();
    let driver = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(database = %database, error = %error_text(&e), "database connection ended");
        }
    });
    let pg = PgClient { client, driver };
    pg.batch_execute(&format!("SET TIME ZONE {}", literal(&settings.timezone)))
        .await
        .map_err(|e| match sqlstate(&e) {
            Some(code) if code.starts_with("22") => ConnectError::Config(format!(
                "Invalid value {} for configuration {DB_TIMEZONE}: {}",
                settings.timezone,
                error_text(&e)
            )),
            _ => ConnectError::Retriable(error_text(&e)),
        })?;
    Ok(pg)
}

/// The error's SQLSTATE, when the server sent one.
pub fn sqlstate(e: &tokio_postgres::Error) -> Option<&str> {
    e.as_db_error().map(|d| d.code().code())
}

/// The server's error text (`ERROR: ... DETAIL: ...`), or the client error with its cause.
pub fn error_text(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return db.to_string().replace('\n', " ");
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// What a failed statement says about the batch it was part of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// A row's data was rejected (SQLSTATE classes 22 and 23: bad values, NOT NULL, unique
    /// and check constraints): other rows of the batch may be fine.
    Data,
    /// Anything else (connection lost, server shutting down, serialization failure,
    /// missing table, ...): retried on a fresh connection.
    Transient,
}

pub fn classify(e: &tokio_postgres::Error) -> Failure {
    match sqlstate(e) {
        Some(code) if code.starts_with("22") || code.starts_with("23") => Failure::Data,
        _ => Failure::Transient,
    }
}
