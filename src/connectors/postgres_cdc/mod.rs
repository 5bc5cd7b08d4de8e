//! Change data capture from PostgreSQL, event-compatible with Debezium's PostgreSQL connector
//! (`io.debezium.connector.postgresql.PostgresConnector`, also `PostgresCdcSource`): logical
//! replication with the built-in `pgoutput` plugin, an initial snapshot in the slot's
//! exported snapshot, Debezium's config names, event envelope, schemas and offsets.
//!
//! The replication protocol (CREATE_REPLICATION_SLOT, START_REPLICATION, CopyBoth, standby
//! status updates) comes from the `pgwire-replication` crate: tokio-postgres, which the rest
//! of the PostgreSQL connectors use, has no replication mode, and its maintained forks with
//! one are not published on crates.io. `pgwire-replication` is maintained, async on tokio,
//! gives explicit control of the acknowledged LSN (which is what "confirm only after the
//! offsets are committed" needs), and lets SQL run on the replication session before
//! streaming (which is how the slot's snapshot is exported). It decodes only Begin/Commit:
//! `pgoutput.rs` decodes the row messages. Catalog queries and the snapshot use the
//! PostgreSQL connectors' own tokio-postgres connection with their OpenSSL TLS set-up; the
//! replication connection uses the crate's rustls TLS with the same `database.sslmode`.

mod catalog;
mod config;
mod events;
mod pgoutput;
mod task;
mod types;

use std::sync::Arc;

use async_trait::async_trait;

use crate::config::connector::ConnectorType;
use crate::config::{ConfigDef, ConfigInfo, ConfigMap};
use crate::errors::{ConnectError, Result};
use crate::plugin::{
    default_aliases, Connector, ConnectorContext, ConnectorPlugin, PluginRegistry, Task,
    TaskPlugin, VERSION,
};

pub use config::CdcConfig;
pub use task::PostgresCdcTask;

pub const CONNECTOR_CLASS: &str = "io.debezium.connector.postgresql.PostgresConnector";
pub const TASK_CLASS: &str = "io.debezium.connector.postgresql.PostgresConnectorTask";

/// The connector: checks the config and runs its one task (one slot, one stream).
#[derive(Default)]
pub struct PostgresCdcConnector {
    raw: ConfigMap,
}

#[async_trait]
impl Connector for PostgresCdcConnector {
    fn config_def(&self) -> ConfigDef {
        config::config_def()
    }

    fn validate(&self, config: &ConfigMap) -> Vec<ConfigInfo> {
        config::validate(config)
    }

    async fn start(&mut self, config: ConfigMap, _ctx: ConnectorContext) -> Result<()> {
        CdcConfig::parse(&config)?;
        self.raw = config;
        Ok(())
    }

    fn task_class(&self) -> String {
        TASK_CLASS.into()
    }

    async fn task_configs(&mut self, max_tasks: usize) -> Result<Vec<ConfigMap>> {
        if max_tasks == 0 {
            return Err(ConnectError::Config("tasks.max must be at least 1".into()));
        }
        Ok(vec![self.raw.clone()])
    }

    async fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Adds the connector (with the alias `PostgresCdcSource`) and its task to `reg`.
pub fn register(reg: &mut PluginRegistry) {
    let mut aliases = default_aliases(CONNECTOR_CLASS, "Connector");
    aliases.push("PostgresCdcSource".into());
    aliases.push("PostgresCdcSourceConnector".into());
    reg.add_connector(ConnectorPlugin {
        class: CONNECTOR_CLASS.into(),
        aliases,
        version: VERSION.into(),
        connector_type: ConnectorType::Source,
        new_connector: Arc::new(|| Ok(Box::new(PostgresCdcConnector::default()))),
    });
    reg.add_task(TaskPlugin {
        class: TASK_CLASS.into(),
        new_task: Arc::new(|| Ok(Task::Source(Box::new(PostgresCdcTask::default())))),
    });
}
