//! Source offsets in the offsets topic (`KafkaOffsetBackingStore`): key
//! `["<connector>",{partition}]`, value `{offset}`, a tombstone deletes. Every worker reads the
//! whole topic, so a task that moves finds the offsets its previous owner committed.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::RwLock;

use super::topic_log::{LogClients, LogRecord, TopicLog};
use crate::config::ConfigMap;
use crate::data::OffsetMap;
use crate::errors::Result;
use crate::kafka::{Admin, TopicSpec};
use crate::runtime::offsets::{offset_key, OffsetTable};
use crate::runtime::{ConnectorOffsetTopics, OffsetStore};

/// The offsets topic, read into memory.
pub struct KafkaOffsetStore {
    table: Arc<RwLock<OffsetTable>>,
    log: TopicLog,
}

impl KafkaOffsetStore {
    pub fn start(clients: &LogClients<'_>, topic: &str) -> Result<KafkaOffsetStore> {
        let table = Arc::new(RwLock::new(OffsetTable::default()));
        let apply = {
            let table = table.clone();
            Box::new(move |r: LogRecord<'_>| table.write().apply_raw(r.key, r.value))
        };
        Ok(KafkaOffsetStore {
            log: TopicLog::start(clients, topic, apply)?,
            table,
        })
    }

    /// Waits until offsets written by any worker before now are visible.
    pub async fn read_to_end(&self, timeout: Duration) -> Result<()> {
        self.log.read_to_end(timeout).await
    }

    pub fn stop(&self) {
        self.log.stop();
    }
}

#[async_trait]
impl OffsetStore for KafkaOffsetStore {
    fn get(&self, connector: &str, partition: &OffsetMap) -> Option<OffsetMap> {
        self.table.read().get(connector, partition)
    }

    async fn put(
        &self,
        connector: &str,
        entries: Vec<(OffsetMap, Option<OffsetMap>)>,
    ) -> Result<()> {
        let sends = entries.iter().map(|(partition, offset)| {
            let key = String::from_utf8(offset_key(connector, partition)).unwrap_or_default();
            let value = offset
                .as_ref()
                .map(|o| serde_json::to_vec(o).unwrap_or_default());
            async move { self.log.send(&key, value.as_deref()).await }
        });
        for r in futures::future::join_all(sends).await {
            r?;
        }
        let mut t = self.table.write();
        for (p, o) in entries {
            t.set(connector, p, o);
        }
        Ok(())
    }

    fn connector_offsets(&self, connector: &str) -> Vec<(OffsetMap, OffsetMap)> {
        self.table.read().connector_offsets(connector)
    }

    async fn read_to_end(&self, timeout: Duration) -> Result<()> {
        self.log.read_to_end(timeout).await
    }
}

/// Connector-specific offsets topics (`offsets.storage.topic`), each read by the task that uses
/// it. A missing topic is created compacted, with the partitions and replication factor of the
/// worker's offsets topic, as Connect does.
pub struct KafkaConnectorOffsetTopics {
    pub bootstrap: String,
    /// The worker's admin client settings.
    pub admin: ConfigMap,
    pub consumer: ConfigMap,
    pub producer: ConfigMap,
    pub partitions: i32,
    pub replication_factor: i16,
}

#[async_trait]
impl ConnectorOffsetTopics for KafkaConnectorOffsetTopics {
    async fn open(&self, topic: &str) -> Result<Arc<dyn OffsetStore>> {
        let admin = Admin::new(&self.bootstrap, &self.admin)?;
        let spec = TopicSpec::new(topic, self.partitions, self.replication_factor)
            .config("cleanup.policy", "compact");
        if !admin.create_topics(&[spec]).await?.is_empty() {
            tracing::info!(topic = %topic, "created the connector's offsets topic");
        }
        let (bootstrap, consumer, producer, name) = (
            self.bootstrap.clone(),
            self.consumer.clone(),
            self.producer.clone(),
            topic.to_string(),
        );
        // Creating the reader fetches metadata, which blocks.
        let store = tokio::task::spawn_blocking(move || {
            let clients = LogClients {
                bootstrap: &bootstrap,
                consumer: &consumer,
                producer: &producer,
            };
            KafkaOffsetStore::start(&clients, &name)
        })
        .await
        .map_err(|e| {
            crate::errors::ConnectError::Other(format!("opening {topic} failed: {e}"))
        })??;
        store.read_to_end(Duration::from_secs(60)).await?;
        Ok(Arc::new(store))
    }
}
