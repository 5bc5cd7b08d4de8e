//! Source offsets: where each source connector's partitions are up to. Keys and values use
//! Kafka Connect's bytes (`["<connector>",{partition}]` → `{offset}`), so the same entries can
//! live in a file (standalone) or a compacted topic (distributed).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::RwLock;
use serde_json::Value as Json;

use crate::data::OffsetMap;
use crate::errors::{ConnectError, Result};
use crate::plugin::OffsetReader;

/// The key bytes of a source partition: `["<connector>",{partition}]`, keys sorted.
pub fn offset_key(connector: &str, partition: &OffsetMap) -> Vec<u8> {
    serde_json::to_vec(&Json::Array(vec![
        Json::String(connector.to_string()),
        Json::Object(partition.clone()),
    ]))
    .unwrap_or_default()
}

/// Parses key bytes; `None` if they are not `["<connector>",{...}]`.
pub fn parse_offset_key(bytes: &[u8]) -> Option<(String, OffsetMap)> {
    match serde_json::from_slice::<Json>(bytes).ok()? {
        Json::Array(mut items) if items.len() == 2 => {
            let partition = match items.pop()? {
                Json::Object(m) => m,
                _ => return None,
            };
            let connector = items.pop()?.as_str()?.to_string();
            Some((connector, partition))
        }
        _ => None,
    }
}

/// Canonical text of a partition map, used as an index key (object keys are sorted).
pub fn partition_id(partition: &OffsetMap) -> String {
    serde_json::to_string(partition).unwrap_or_default()
}

/// In-memory offsets: connector → partition id → (partition, offset).
#[derive(Debug, Default, Clone)]
pub struct OffsetTable {
    entries: HashMap<String, HashMap<String, (OffsetMap, OffsetMap)>>,
}

impl OffsetTable {
    pub fn get(&self, connector: &str, partition: &OffsetMap) -> Option<OffsetMap> {
        self.entries
            .get(connector)?
            .get(&partition_id(partition))
            .map(|(_, o)| o.clone())
    }

    /// Sets (or with `None`, removes) an offset.
    pub fn set(&mut self, connector: &str, partition: OffsetMap, offset: Option<OffsetMap>) {
        let id = partition_id(&partition);
        match offset {
            Some(o) => {
                self.entries
                    .entry(connector.to_string())
                    .or_default()
                    .insert(id, (partition, o));
            }
            None => {
                if let Some(m) = self.entries.get_mut(connector) {
                    m.remove(&id);
                }
            }
        }
    }

    /// Applies a raw key/value pair as read from a file or topic; unparseable keys are skipped.
    pub fn apply_raw(&mut self, key: &[u8], value: Option<&[u8]>) {
        let Some((connector, partition)) = parse_offset_key(key) else {
            tracing::warn!(key = %String::from_utf8_lossy(key), "ignoring an offset whose key is not [\"connector\",{{...}}]");
            return;
        };
        let offset = match value {
            None => None,
            Some(v) => match serde_json::from_slice::<Json>(v) {
                Ok(Json::Object(m)) => Some(m),
                Ok(Json::Null) => None,
                _ => {
                    tracing::warn!(%connector, "ignoring an offset value that is not a JSON object");
                    return;
                }
            },
        };
        self.set(&connector, partition, offset);
    }

    pub fn connector_offsets(&self, connector: &str) -> Vec<(OffsetMap, OffsetMap)> {
        let mut out: Vec<_> = self
            .entries
            .get(connector)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        out.sort_by_key(|(p, _)| partition_id(p));
        out
    }

    fn iter(&self) -> impl Iterator<Item = (&String, &OffsetMap, &OffsetMap)> {
        self.entries
            .iter()
            .flat_map(|(c, m)| m.values().map(move |(p, o)| (c, p, o)))
    }
}

/// Where source offsets are kept.
/// The connector-specific offsets topic (`offsets.storage.topic`) of a source connector: set,
/// on a distributed worker, and not the worker's own offsets topic. As in Kafka Connect
/// (`Worker.offsetStoreForRegularSourceTask` and its exactly-once twin), it holds the
/// connector's offsets whether or not exactly-once support is enabled; standalone workers
/// do not permit one and keep their offsets file.
pub fn connector_offsets_topic(
    worker: &crate::config::WorkerConfig,
    connector: &crate::config::ConfigMap,
) -> Option<String> {
    let global = &worker.distributed.as_ref()?.offset_topic;
    connector
        .get(crate::config::connector::OFFSETS_STORAGE_TOPIC)
        .map(|t| t.trim())
        .filter(|t| !t.is_empty() && *t != global)
        .map(str::to_string)
}

#[async_trait]
pub trait OffsetStore: Send + Sync {
    /// The committed offset of a source partition.
    fn get(&self, connector: &str, partition: &OffsetMap) -> Option<OffsetMap>;

    /// Writes offsets durably; a `None` offset deletes the partition's entry.
    async fn put(
        &self,
        connector: &str,
        entries: Vec<(OffsetMap, Option<OffsetMap>)>,
    ) -> Result<()>;

    /// Every partition and offset a connector has committed.
    fn connector_offsets(&self, connector: &str) -> Vec<(OffsetMap, OffsetMap)>;

    /// Waits until offsets committed anywhere before now are visible here (a topic-backed
    /// store reads its topic to the end); the default has nothing to wait for.
    async fn read_to_end(&self, _timeout: std::time::Duration) -> Result<()> {
        Ok(())
    }
}

/// Opens connector-specific offsets topics (`offsets.storage.topic`), in distributed mode.
#[async_trait]
pub trait ConnectorOffsetTopics: Send + Sync {
    /// A store that reads `topic` (created, compacted, when missing) into memory; it stops
    /// reading when dropped.
    async fn open(&self, topic: &str) -> Result<Arc<dyn OffsetStore>>;
}

/// A source connector's offsets with a connector-specific offsets topic (Connect's
/// `ConnectorOffsetBackingStore`): reads look in the connector's store first, then in the
/// worker's; writes go to the connector's store.
pub struct LayeredOffsetStore {
    pub connector: Arc<dyn OffsetStore>,
    pub worker: Arc<dyn OffsetStore>,
}

#[async_trait]
impl OffsetStore for LayeredOffsetStore {
    fn get(&self, connector: &str, partition: &OffsetMap) -> Option<OffsetMap> {
        self.connector
            .get(connector, partition)
            .or_else(|| self.worker.get(connector, partition))
    }

    /// Kafka Connect's order (`ConnectorOffsetBackingStore.set`, KAFKA-15018): tombstones go
    /// to the worker's store first, so a reset offset cannot show through from there again;
    /// then every entry to the connector's store; then a copy of the other offsets to the
    /// worker's, whose failure is only logged (the connector's store is the one read first).
    async fn put(
        &self,
        connector: &str,
        entries: Vec<(OffsetMap, Option<OffsetMap>)>,
    ) -> Result<()> {
        let (tombstones, offsets): (Vec<_>, Vec<_>) =
            entries.iter().cloned().partition(|(_, o)| o.is_none());
        if !tombstones.is_empty() {
            self.worker.put(connector, tombstones).await?;
        }
        self.connector.put(connector, entries).await?;
        if !offsets.is_empty() {
            if let Err(e) = self.worker.put(connector, offsets).await {
                tracing::warn!(error = %e, "failed to write offsets to the worker's offsets topic (secondary store)");
            }
        }
        Ok(())
    }

    fn connector_offsets(&self, connector: &str) -> Vec<(OffsetMap, OffsetMap)> {
        let mut merged: HashMap<String, (OffsetMap, OffsetMap)> = self
            .worker
            .connector_offsets(connector)
            .into_iter()
            .map(|(p, o)| (partition_id(&p), (p, o)))
            .collect();
        for (p, o) in self.connector.connector_offsets(connector) {
            merged.insert(partition_id(&p), (p, o));
        }
        merged.into_values().collect()
    }

    async fn read_to_end(&self, timeout: std::time::Duration) -> Result<()> {
        self.connector.read_to_end(timeout).await?;
        self.worker.read_to_end(timeout).await
    }
}

/// Offsets in memory only (tests, and workers that need no persistence).
#[derive(Default)]
pub struct MemoryOffsetStore {
    table: RwLock<OffsetTable>,
}

#[async_trait]
impl OffsetStore for MemoryOffsetStore {
    fn get(&self, connector: &str, partition: &OffsetMap) -> Option<OffsetMap> {
        self.table.read().get(connector, partition)
    }

    async fn put(
        &self,
        connector: &str,
        entries: Vec<(OffsetMap, Option<OffsetMap>)>,
    ) -> Result<()> {
        let mut t = self.table.write();
        for (p, o) in entries {
            t.set(connector, p, o);
        }
        Ok(())
    }

    fn connector_offsets(&self, connector: &str) -> Vec<(OffsetMap, OffsetMap)> {
        self.table.read().connector_offsets(connector)
    }
}

/// Standalone offsets: `offset.storage.file.filename`, rewritten atomically on each commit.
///
/// Kafka Connect writes a Java-serialized `HashMap`; Conveyor writes JSON with the same key
/// and value bytes (as strings), which people and tools can read.
pub struct FileOffsetStore {
    path: PathBuf,
    table: RwLock<OffsetTable>,
    write_lock: tokio::sync::Mutex<()>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct OffsetFile {
    format: String,
    offsets: Vec<OffsetEntry>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct OffsetEntry {
    key: String,
    value: String,
}

const FILE_FORMAT: &str = "conveyor-offsets-v1";

impl FileOffsetStore {
    /// Opens (or prepares to create) the offset file.
    pub fn open(path: impl AsRef<Path>) -> Result<FileOffsetStore> {
        let path = path.as_ref().to_path_buf();
        let mut table = OffsetTable::default();
        match std::fs::read(&path) {
            Ok(bytes) if bytes.is_empty() => {}
            Ok(bytes) => {
                let file: OffsetFile = serde_json::from_slice(&bytes).map_err(|e| {
                    ConnectError::Config(format!(
                        "offset.storage.file.filename {} is not a Conveyor offset file ({e}); move it aside or point the setting at a new file",
                        path.display()
                    ))
                })?;
                for e in file.offsets {
                    table.apply_raw(e.key.as_bytes(), Some(e.value.as_bytes()));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(ConnectError::Io(format!(
                    "cannot read offset file {}: {e}",
                    path.display()
                )));
            }
        }
        Ok(FileOffsetStore {
            path,
            table: RwLock::new(table),
            write_lock: tokio::sync::Mutex::new(()),
        })
    }

    fn snapshot(&self) -> OffsetFile {
        let t = self.table.read();
        let mut offsets: Vec<OffsetEntry> = t
            .iter()
            .map(|(c, p, o)| OffsetEntry {
                key: String::from_utf8_lossy(&offset_key(c, p)).into_owned(),
                value: serde_json::to_string(o).unwrap_or_default(),
            })
            .collect();
        offsets.sort_by(|a, b| a.key.cmp(&b.key));
        OffsetFile {
            format: FILE_FORMAT.into(),
            offsets,
        }
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

#[async_trait]
impl OffsetStore for FileOffsetStore {
    fn get(&self, connector: &str, partition: &OffsetMap) -> Option<OffsetMap> {
        self.table.read().get(connector, partition)
    }

    async fn put(
        &self,
        connector: &str,
        entries: Vec<(OffsetMap, Option<OffsetMap>)>,
    ) -> Result<()> {
        let _guard = self.write_lock.lock().await;
        {
            let mut t = self.table.write();
            for (p, o) in entries {
                t.set(connector, p, o);
            }
        }
        let bytes = serde_json::to_vec_pretty(&self.snapshot())?;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
            .await
            .map_err(|e| ConnectError::Other(format!("offset writer panicked: {e}")))?
            .map_err(|e| {
                ConnectError::Io(format!(
                    "cannot write offset file {}: {e}",
                    self.path.display()
                ))
            })
    }

    fn connector_offsets(&self, connector: &str) -> Vec<(OffsetMap, OffsetMap)> {
        self.table.read().connector_offsets(connector)
    }
}

/// A connector's view of the offset store (what a task's `offset_storage_reader` reads).
pub struct ConnectorOffsetReader {
    pub store: Arc<dyn OffsetStore>,
    pub connector: String,
}

impl OffsetReader for ConnectorOffsetReader {
    fn offset(&self, partition: &OffsetMap) -> Result<Option<OffsetMap>> {
        Ok(self.store.get(&self.connector, partition))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Json) -> OffsetMap {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn key_bytes_match_connect() {
        let key = offset_key(
            "local-file-source",
            &map(json!({"filename": "/tmp/test.txt"})),
        );
        assert_eq!(
            String::from_utf8(key.clone()).unwrap(),
            r#"["local-file-source",{"filename":"/tmp/test.txt"}]"#
        );
        let (c, p) = parse_offset_key(&key).unwrap();
        assert_eq!(c, "local-file-source");
        assert_eq!(p, map(json!({"filename": "/tmp/test.txt"})));
        // Key order in stored bytes does not matter for lookups.
        let mut t = OffsetTable::default();
        t.apply_raw(br#"["c",{"b":1,"a":2}]"#, Some(br#"{"position":5}"#));
        assert_eq!(
            t.get("c", &map(json!({"a": 2, "b": 1}))),
            Some(map(json!({"position": 5})))
        );
        t.apply_raw(br#"["c",{"a":2,"b":1}]"#, None);
        assert_eq!(t.get("c", &map(json!({"a": 2, "b": 1}))), None);
    }

    #[tokio::test]
    async fn file_store_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("offsets.json");
        let store = FileOffsetStore::open(&path).unwrap();
        let p = map(json!({"filename": "a"}));
        store
            .put("src", vec![(p.clone(), Some(map(json!({"position": 42}))))])
            .await
            .unwrap();
        let reopened = FileOffsetStore::open(&path).unwrap();
        assert_eq!(reopened.get("src", &p), Some(map(json!({"position": 42}))));
        assert_eq!(reopened.connector_offsets("src").len(), 1);
        assert!(reopened.connector_offsets("other").is_empty());
    }

    #[test]
    fn corrupt_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("offsets.json");
        std::fs::write(&path, b"\xac\xed\x00\x05java").unwrap();
        let err = FileOffsetStore::open(&path).err().unwrap();
        assert!(
            err.to_string().contains("not a Conveyor offset file"),
            "{err}"
        );
    }
}

#[cfg(test)]
mod layered_tests {
    use super::*;

    fn map(v: Json) -> OffsetMap {
        v.as_object().cloned().unwrap()
    }

    #[tokio::test]
    async fn the_connector_store_comes_first() {
        let worker = Arc::new(MemoryOffsetStore::default());
        let connector = Arc::new(MemoryOffsetStore::default());
        let (a, b) = (
            map(serde_json::json!({"p": "a"})),
            map(serde_json::json!({"p": "b"})),
        );
        worker
            .put(
                "c",
                vec![
                    (a.clone(), Some(map(serde_json::json!({"n": 1})))),
                    (b.clone(), Some(map(serde_json::json!({"n": 2})))),
                ],
            )
            .await
            .unwrap();
        let layered = LayeredOffsetStore {
            connector: connector.clone(),
            worker: worker.clone(),
        };
        layered
            .put(
                "c",
                vec![(a.clone(), Some(map(serde_json::json!({"n": 10}))))],
            )
            .await
            .unwrap();
        assert_eq!(
            layered.get("c", &a),
            Some(map(serde_json::json!({"n": 10})))
        );
        assert_eq!(layered.get("c", &b), Some(map(serde_json::json!({"n": 2}))));
        assert_eq!(
            worker.get("c", &a),
            Some(map(serde_json::json!({"n": 10}))),
            "a copy goes to the worker's store, as Connect writes one"
        );
        let mut all = layered.connector_offsets("c");
        all.sort_by_key(|(p, _)| partition_id(p));
        assert_eq!(
            all,
            vec![
                (a, map(serde_json::json!({"n": 10}))),
                (b, map(serde_json::json!({"n": 2})))
            ]
        );
    }

    #[tokio::test]
    async fn a_tombstone_clears_both_stores() {
        let worker = Arc::new(MemoryOffsetStore::default());
        let connector = Arc::new(MemoryOffsetStore::default());
        let a = map(serde_json::json!({"p": "a"}));
        // Written before the connector had its own topic.
        worker
            .put(
                "c",
                vec![(a.clone(), Some(map(serde_json::json!({"n": 1}))))],
            )
            .await
            .unwrap();
        let layered = LayeredOffsetStore {
            connector: connector.clone(),
            worker: worker.clone(),
        };
        layered
            .put(
                "c",
                vec![(a.clone(), Some(map(serde_json::json!({"n": 2}))))],
            )
            .await
            .unwrap();
        layered.put("c", vec![(a.clone(), None)]).await.unwrap();
        assert_eq!(connector.get("c", &a), None);
        assert_eq!(
            worker.get("c", &a),
            None,
            "the worker's offset would show through"
        );
        assert_eq!(layered.get("c", &a), None);
    }
}
