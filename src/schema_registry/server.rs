//! A running registry: its state read from the `_schemas` topic (compacted, one partition,
//! created when missing), its REST listeners, and how it stops.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::RwLock;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::config::RegistryConfig;
use super::election::{self, Leadership};
use super::service::{Registry, SchemaLog};
use super::store::{RegistryState, StoreKey};
use super::types::RegistryError;
use crate::errors::{ConnectError, Result};
use crate::herder::distributed::topic_log::{LogClients, TopicLog};
use crate::kafka::{Admin, TopicSpec};
use crate::rest::{self, RestListener, Scheme};

/// How long a write waits for the topic to be read back.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// The `_schemas` topic as the registry's log.
pub struct KafkaSchemaLog {
    log: TopicLog,
}

#[async_trait]
impl SchemaLog for KafkaSchemaLog {
    async fn append(&self, key: &StoreKey, value: Option<Vec<u8>>) -> Result<(), RegistryError> {
        self.log
            .send(&key.to_json(), value.as_deref())
            .await
            .map_err(|e| {
                RegistryError::store(format!(
                    "Error while writing to the Kafka store {}: {e}",
                    self.log.topic()
                ))
            })?;
        self.log.read_to_end(WRITE_TIMEOUT).await.map_err(|e| {
            RegistryError::timeout(format!(
                "Write to the Kafka store {} timed out while waiting for it to be read back: {e}",
                self.log.topic()
            ))
        })
    }

    async fn catch_up(&self) -> Result<(), RegistryError> {
        self.read_back().await
    }
}

impl KafkaSchemaLog {
    async fn read_back(&self) -> Result<(), RegistryError> {
        self.log.read_to_end(WRITE_TIMEOUT).await.map_err(|e| {
            RegistryError::timeout(format!(
                "Reading the Kafka store {} to its end timed out: {e}",
                self.log.topic()
            ))
        })
    }

    /// Creates the topic when missing (compacted, one partition), refuses one that could
    /// lose schemas, and reads it to the end into `state`.
    pub async fn start(
        config: &RegistryConfig,
        state: Arc<RwLock<RegistryState>>,
    ) -> Result<KafkaSchemaLog> {
        let admin = Admin::new(&config.bootstrap, &config.admin)?;
        let created = admin
            .create_topics(&[
                TopicSpec::new(config.topic.as_str(), 1, config.replication_factor)
                    .config("cleanup.policy", "compact"),
            ])
            .await?;
        if created.is_empty() {
            check_topic(&admin, &config.topic).await?;
        } else {
            tracing::info!(topic = %config.topic, "created the schemas topic");
        }
        let clients = LogClients {
            bootstrap: &config.bootstrap,
            consumer: &config.consumer,
            producer: &config.producer,
        };
        let apply_state = state.clone();
        let topic = config.topic.clone();
        let log = tokio::task::block_in_place(|| {
            TopicLog::start(
                &clients,
                &topic,
                Box::new(move |record| {
                    apply_state.write().apply(record.key, record.value);
                }),
            )
        })?;
        log.read_to_end(Duration::from_secs(60)).await?;
        tracing::info!(topic = %config.topic, records = state.read().applied, "read the schemas topic");
        Ok(KafkaSchemaLog { log })
    }

    pub fn stop(&self) {
        self.log.stop();
    }
}

/// Confluent's registry refuses a schemas topic that is not compacted or has more than one
/// partition (ids and versions rely on one ordered log that keeps every key's last value).
async fn check_topic(admin: &Admin, topic: &str) -> Result<()> {
    let partitions = admin.topics()?.get(topic).copied().unwrap_or(1);
    if partitions != 1 {
        return Err(ConnectError::Config(format!(
            "The schema registry topic {topic} should have only 1 partition but has {partitions}; use a topic with one partition (kafkastore.topic)"
        )));
    }
    for _ in 0..20 {
        match admin.topic_config(topic).await? {
            Some(c) => match c.get("cleanup.policy") {
                Some(policy) if policy.contains("compact") => return Ok(()),
                Some(policy) => {
                    return Err(ConnectError::Config(format!(
                        "The retention policy of the schema topic {topic} is incorrect. You must configure the topic to 'compact' cleanup policy to avoid Kafka deleting your schemas after a week. Refer to Kafka documentation for more details on cleanup policies (it is {policy})"
                    )))
                }
                None => tokio::time::sleep(Duration::from_millis(250)).await,
            },
            None => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
    Ok(())
}

/// A registry serving its REST API.
pub struct RegistryServer {
    pub registry: Arc<Registry>,
    /// `http://address` of every listener.
    pub urls: Vec<String>,
    pub addrs: Vec<SocketAddr>,
    log: Arc<KafkaSchemaLog>,
    stop: CancellationToken,
    servers: Vec<JoinHandle<()>>,
    /// The leader election (leaves the group on stop).
    election: JoinHandle<()>,
    /// Who writes, as this registry knows it.
    pub leadership: Arc<Leadership>,
}

impl RegistryServer {
    /// Binds the listeners first (a taken port fails at once), then reads the topic and
    /// serves.
    pub async fn start(config: RegistryConfig) -> Result<RegistryServer> {
        let mut listeners = Vec::new();
        for url in &config.listeners {
            let parsed = rest::parse_listener(url)?;
            if parsed.scheme != Scheme::Http {
                return Err(ConnectError::Config(format!(
                    "schema registry listener {url}: only http:// listeners are supported; put a TLS proxy in front for https"
                )));
            }
            listeners.push(
                rest::bind(&parsed, None)
                    .await
                    .map_err(|e| e.context("the schema registry cannot listen"))?,
            );
        }
        let state = Arc::new(RwLock::new(RegistryState::default()));
        let log = Arc::new(KafkaSchemaLog::start(&config, state.clone()).await?);
        let registry = Arc::new(Registry::new(
            state,
            log.clone() as Arc<dyn SchemaLog>,
            config.settings.clone(),
        ));
        let stop = CancellationToken::new();
        let urls: Vec<String> = listeners.iter().map(RestListener::local_url).collect();
        let addrs: Vec<SocketAddr> = listeners.iter().map(|l| l.local_addr).collect();
        let leadership = Arc::new(Leadership::default());
        let own_url = match (&config.host_name, addrs.first()) {
            (Some(host), Some(addr)) => format!("http://{host}:{}", addr.port()),
            (None, Some(addr)) if addr.ip().is_unspecified() => {
                format!("http://127.0.0.1:{}", addr.port())
            }
            _ => urls.first().cloned().unwrap_or_default(),
        };
        let election = election::spawn(&config, own_url, leadership.clone(), stop.clone())?;
        let servers = listeners
            .into_iter()
            .map(|l| {
                let app = super::rest::router(registry.clone()).layer(
                    axum::middleware::from_fn_with_state(
                        leadership.clone(),
                        election::forward_writes,
                    ),
                );
                let token = stop.clone();
                tracing::info!(url = %l.local_url(), topic = %config.topic, "schema registry listening");
                tokio::spawn(async move {
                    let served = axum::serve(l.listener, app)
                        .with_graceful_shutdown(async move { token.cancelled().await })
                        .await;
                    if let Err(e) = served {
                        tracing::error!(error = %e, "schema registry server failed");
                    }
                })
            })
            .collect();
        Ok(RegistryServer {
            registry,
            urls,
            addrs,
            log,
            stop,
            servers,
            election,
            leadership,
        })
    }

    /// Stops serving and reading.
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            futures::future::join_all(self.servers),
        )
        .await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.election).await;
        let log = self.log.clone();
        let _ = tokio::task::spawn_blocking(move || log.stop()).await;
    }
}
