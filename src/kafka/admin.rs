//! Topic administration: create, list and describe topics.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::types::RDKafkaErrorCode;

use super::client_config::{build_client_config, ClientRole};
use super::context::LoggingContext;
use super::security::oauth::set_token_directly;
use crate::config::ConfigMap;
use crate::errors::{ConnectError, Result};

/// A topic to create.
#[derive(Clone, Debug)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    /// -1 = the broker's default.
    pub replication_factor: i16,
    pub configs: BTreeMap<String, String>,
}

impl TopicSpec {
    pub fn new(name: impl Into<String>, partitions: i32, replication_factor: i16) -> Self {
        TopicSpec {
            name: name.into(),
            partitions,
            replication_factor,
            configs: BTreeMap::new(),
        }
    }

    pub fn config(mut self, key: &str, value: &str) -> Self {
        self.configs.insert(key.to_string(), value.to_string());
        self
    }
}

/// An admin client for the worker.
pub struct Admin {
    client: AdminClient<LoggingContext>,
    config: rdkafka::ClientConfig,
    timeout: Duration,
}

impl Admin {
    pub fn new(bootstrap_servers: &str, worker_admin: &ConfigMap) -> Result<Admin> {
        let cfg = build_client_config(
            bootstrap_servers,
            ClientRole::Admin,
            &[],
            worker_admin,
            &ConfigMap::new(),
        )?;
        let client = cfg
            .create_with_context(LoggingContext::default())
            .map_err(|e| {
                ConnectError::Kafka(format!("could not create the Kafka admin client: {e}"))
            })?;
        let admin = Admin {
            client,
            config: cfg,
            timeout: Duration::from_secs(30),
        };
        admin.refresh_token()?;
        Ok(admin)
    }

    /// An error, with the reason the client cannot reach the brokers when it knows one (a
    /// refused login or certificate says more than the timeout it causes).
    fn error(&self, what: String) -> ConnectError {
        match self.client.inner().context().health.fatal_error() {
            Some(why) => ConnectError::Kafka(format!("{what}: {why}")),
            None => ConnectError::Kafka(what),
        }
    }

    /// Gives the client a current OAUTHBEARER token, when it uses one.
    fn refresh_token(&self) -> Result<()> {
        set_token_directly(self.client.inner(), &self.config)
    }

    /// The same client with a different request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Admin {
        self.timeout = timeout;
        self
    }

    /// Creates topics; ones that already exist are left alone. Returns the names created.
    pub async fn create_topics(&self, specs: &[TopicSpec]) -> Result<Vec<String>> {
        if specs.is_empty() {
            return Ok(Vec::new());
        }
        let new_topics: Vec<NewTopic> = specs
            .iter()
            .map(|s| {
                let rf = if s.replication_factor < 0 {
                    -1
                } else {
                    s.replication_factor as i32
                };
                let mut t = NewTopic::new(&s.name, s.partitions, TopicReplication::Fixed(rf));
                for (k, v) in &s.configs {
                    t = t.set(k, v);
                }
                t
            })
            .collect();
        let opts = AdminOptions::new()
            .operation_timeout(Some(self.timeout))
            .request_timeout(Some(self.timeout));
        self.refresh_token()?;
        let results = self
            .client
            .create_topics(&new_topics, &opts)
            .await
            .map_err(|e| self.error(format!("could not create topics: {e}")))?;
        let mut created = Vec::new();
        for r in results {
            match r {
                Ok(name) => created.push(name),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => {
                    return Err(self.error(format!("could not create topic {name}: {code}")))
                }
            }
        }
        Ok(created)
    }

    /// Topic configs (for example `cleanup.policy`), or `None` if the topic does not exist.
    pub async fn topic_config(&self, topic: &str) -> Result<Option<BTreeMap<String, String>>> {
        let opts = AdminOptions::new().request_timeout(Some(self.timeout));
        self.refresh_token()?;
        let results = self
            .client
            .describe_configs([&ResourceSpecifier::Topic(topic)], &opts)
            .await
            .map_err(|e| self.error(format!("could not describe topic {topic}: {e}")))?;
        match results.into_iter().next() {
            Some(Ok(resource)) => Ok(Some(
                resource
                    .entries
                    .into_iter()
                    .filter_map(|e| e.value.map(|v| (e.name, v)))
                    .collect(),
            )),
            Some(Err(RDKafkaErrorCode::UnknownTopicOrPartition)) | None => Ok(None),
            Some(Err(code)) => Err(self.error(format!("could not describe topic {topic}: {code}"))),
        }
    }

    /// Partition counts of every topic in the cluster.
    pub fn topics(&self) -> Result<BTreeMap<String, usize>> {
        self.refresh_token()?;
        let md = self
            .client
            .inner()
            .fetch_metadata(None, self.timeout)
            .map_err(|e| self.error(format!("could not list topics: {e}")))?;
        Ok(md
            .topics()
            .iter()
            .map(|t| (t.name().to_string(), t.partitions().len()))
            .collect())
    }
}
