//! PostgreSQL sink and source connectors compatible with Confluent's JDBC connector: the same
//! class names (for `jdbc:postgresql:` URLs), configs, defaults, offsets and type mapping,
//! written natively on tokio-postgres with set-based batch writes. See `docs/postgres.md`.

mod config;
mod connection;
mod decode;
mod encode;
mod fields;
mod identifier;
mod querier;
mod sink;
mod sink_config;
mod source;
mod source_config;
mod sql;
mod table;
mod tls;
pub(crate) mod types;
mod writer;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use crate::config::connector::ConnectorType;
use crate::plugin::{default_aliases, ConnectorPlugin, PluginRegistry, Task, TaskPlugin, VERSION};

pub use connection::{connect, error_text, sqlstate, PgClient};
pub use sink::{PostgresSinkConnector, PostgresSinkTask};
pub use source::{PostgresSourceConnector, PostgresSourceTask};

/// Connection settings from discrete values, for the CDC source (`database.*` keys); the TLS
/// properties are libpq's (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`).
pub fn connect_settings<'a>(
    host: &str,
    port: u16,
    user: &str,
    password: Option<&str>,
    dbname: &str,
    sslmode: &'a str,
    tls: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
) -> crate::errors::Result<config::ConnectionSettings> {
    config::ConnectionSettings::from_parts(
        host,
        port,
        user,
        password,
        dbname,
        std::iter::once(("sslmode", Some(sslmode))).chain(tls),
    )
}

pub const SINK_CONNECTOR_CLASS: &str = "io.confluent.connect.jdbc.JdbcSinkConnector";
pub const SINK_TASK_CLASS: &str = "io.confluent.connect.jdbc.sink.JdbcSinkTask";
pub const SOURCE_CONNECTOR_CLASS: &str = "io.confluent.connect.jdbc.JdbcSourceConnector";
pub const SOURCE_TASK_CLASS: &str = "io.confluent.connect.jdbc.source.JdbcSourceTask";

fn aliases(class: &str, short: &str) -> Vec<String> {
    let mut out = default_aliases(class, "Connector");
    out.push(short.to_string());
    out.push(format!("{short}Connector"));
    out
}

/// Adds both connectors and their tasks to `reg`.
pub fn register(reg: &mut PluginRegistry) {
    reg.add_connector(ConnectorPlugin {
        class: SINK_CONNECTOR_CLASS.into(),
        aliases: aliases(SINK_CONNECTOR_CLASS, "PostgresSink"),
        version: VERSION.into(),
        connector_type: ConnectorType::Sink,
        new_connector: Arc::new(|| Ok(Box::new(PostgresSinkConnector::default()))),
    });
    reg.add_task(TaskPlugin {
        class: SINK_TASK_CLASS.into(),
        new_task: Arc::new(|| Ok(Task::Sink(Box::new(PostgresSinkTask::default())))),
    });
    reg.add_connector(ConnectorPlugin {
        class: SOURCE_CONNECTOR_CLASS.into(),
        aliases: aliases(SOURCE_CONNECTOR_CLASS, "PostgresSource"),
        version: VERSION.into(),
        connector_type: ConnectorType::Source,
        new_connector: Arc::new(|| Ok(Box::new(PostgresSourceConnector::default()))),
    });
    reg.add_task(TaskPlugin {
        class: SOURCE_TASK_CLASS.into(),
        new_task: Arc::new(|| Ok(Task::Source(Box::new(PostgresSourceTask::default())))),
    });
}
