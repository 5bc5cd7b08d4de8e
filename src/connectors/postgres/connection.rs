//! Opening connections (with `connection.attempts` / `connection.backoff.ms`), the session
//! set-up both connectors rely on, and what a PostgreSQL error means for a batch.

use tokio_postgres::{Client, NoTls};

use crate::errors::{ConnectError, Result};

use super::config::{ConnectionSettings, DB_TIMEZONE};
use super::identifier::literal;

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

async fn connect_once(settings: &ConnectionSettings) -> Result<PgClient> {
    let (client, connection) = settings.pg.connect(NoTls).await.map_err(|e| {
        ConnectError::Retriable(format!(
            "could not connect to PostgreSQL at {}: {}",
            settings.display,
            error_text(&e)
        ))
    })?;
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
