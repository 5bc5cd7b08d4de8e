//! Source offsets in the offsets topic (`KafkaOffsetBackingStore`): key
//! `["<connector>",{partition}]`, value `{offset}`, a tombstone deletes. Every worker reads the
//! whole topic, so a task that moves finds the offsets its previous owner committed.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::RwLock;

use super::topic_log::{LogClients, LogRecord, TopicLog};
use crate::data::OffsetMap;
use crate::errors::Result;
use crate::runtime::offsets::{offset_key, OffsetTable};
use crate::runtime::OffsetStore;

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
