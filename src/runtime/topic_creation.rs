//! Creating the topics source connectors write to, through the Admin API, before the first
//! record (KIP-158). Without `topic.creation.default.*` settings, topics are created with the
//! broker's defaults (-1/-1), which is what auto-creation on produce would do, but explicit:
//! some brokers (tansu) do not let consumer groups join topics that a produce auto-created.

use std::collections::HashSet;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::config::ConfigMap;
use crate::kafka::{Admin, EmbeddedTopics, TopicSpec};

/// Per-worker cache of topics known to exist.
pub struct TopicCreator {
    bootstrap: String,
    admin_config: ConfigMap,
    /// Partitions for topics created without `topic.creation.default.partitions`.
    default_partitions: i32,
    known: Mutex<HashSet<String>>,
    admin: Mutex<Option<Arc<Admin>>>,
    /// The embedded broker creates topics through its own API.
    embedded: Option<EmbeddedTopics>,
}

impl TopicCreator {
    pub fn new(
        bootstrap: String,
        admin_config: ConfigMap,
        default_partitions: i32,
        embedded: Option<EmbeddedTopics>,
    ) -> Self {
        TopicCreator {
            bootstrap,
            admin_config,
            default_partitions,
            known: Mutex::new(HashSet::new()),
            admin: Mutex::new(None),
            embedded,
        }
    }

    /// Whether `topic` still needs an ensure call (cheap; checked per new topic per task).
    pub fn is_known(&self, topic: &str) -> bool {
        self.known.lock().contains(topic)
    }

    /// Creates `topic` with `partitions` on the embedded broker when the worker runs on one,
    /// and says whether it did (`false`: there is no embedded broker, use the Admin API).
    /// The embedded broker's admin API cannot create topics: a CreateTopics request there
    /// only waits out its timeout, and producing then auto-creates the topic with the mock
    /// cluster's default of 4 partitions.
    pub fn ensure_on_embedded(&self, topic: &str, partitions: i32) -> bool {
        let Some(embedded) = &self.embedded else {
            return false;
        };
        if self.is_known(topic) {
            return true;
        }
        if let Err(e) = embedded.create_topic(topic, partitions.max(1)) {
            tracing::warn!(%topic, error = %e, "could not create topic on the embedded broker");
        }
        self.known.lock().insert(topic.to_string());
        true
    }

    /// Creates `topic` if it does not exist, with the connector's `topic.creation.default.*`
    /// settings or the broker's defaults. Failures are logged: producing still auto-creates.
    pub async fn ensure(&self, topic: &str, connector: &ConfigMap) {
        if self.is_known(topic) {
            return;
        }
        let partitions = connector
            .get("topic.creation.default.partitions")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(self.default_partitions);
        let rf = connector
            .get("topic.creation.default.replication.factor")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(-1i16);
        if self.ensure_on_embedded(topic, partitions) {
            return;
        }
        let mut spec = TopicSpec::new(topic, partitions, rf);
        for (k, v) in crate::config::def::with_prefix(connector, "topic.creation.default.") {
            if k != "partitions" && k != "replication.factor" && k != "include" && k != "exclude" {
                spec = spec.config(&k, &v);
            }
        }
        let admin = {
            let mut slot = self.admin.lock();
            match &*slot {
                Some(a) => Some(a.clone()),
                None => match Admin::new(&self.bootstrap, &self.admin_config) {
                    Ok(a) => {
                        // A task waits for this before its first record: do not wait long
                        // when the brokers are away (producing auto-creates the topic anyway).
                        let a = a.with_timeout(std::time::Duration::from_secs(10));
                        let a = Arc::new(a);
                        *slot = Some(a.clone());
                        Some(a)
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot create topics: no admin client");
                        None
                    }
                },
            }
        };
        if let Some(admin) = admin {
            match admin.create_topics(&[spec]).await {
                Ok(created) => {
                    if !created.is_empty() {
                        tracing::info!(%topic, partitions, replication_factor = rf, "created topic");
                    }
                    self.known.lock().insert(topic.to_string());
                }
                Err(e) => {
                    tracing::warn!(%topic, error = %e, "could not create topic; relying on the broker to auto-create it")
                }
            }
        }
    }

    /// Drops the admin client once no task needs it: an idle worker should not keep its
    /// threads and buffers (four threads with librdkafka). The next new topic makes one again.
    pub fn release_admin(&self) {
        let Some(admin) = self.admin.lock().take() else {
            return;
        };
        // Dropping a librdkafka client joins its threads: not on an async worker thread.
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn_blocking(move || drop(admin))),
            Err(_) => drop(admin),
        }
    }
}
