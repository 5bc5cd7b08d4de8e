//! Reading and changing a sink connector's consumer group offsets (`connect-<name>`), for
//! `GET/PATCH/DELETE /connectors/{c}/offsets`.

use std::time::Duration;

use rdkafka::admin::AdminOptions;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use super::client_config::{build_client_config, ClientRole};
use super::context::LoggingContext;
use crate::config::ConfigMap;
use crate::data::TopicPartition;
use crate::errors::{ConnectError, Result};

const TIMEOUT: Duration = Duration::from_secs(15);

fn group_consumer(
    bootstrap: &str,
    worker_consumer: &ConfigMap,
    group: &str,
) -> Result<BaseConsumer<LoggingContext>> {
    build_client_config(
        bootstrap,
        ClientRole::Consumer,
        &[("group.id", group), ("enable.auto.commit", "false")],
        worker_consumer,
        &ConfigMap::new(),
    )?
    .create_with_context(LoggingContext::default())
    .map_err(|e| {
        ConnectError::Kafka(format!(
            "could not create a consumer for group {group}: {e}"
        ))
    })
}

/// Committed offsets of `group` for every partition of `topics` that has one.
pub fn committed_offsets(
    bootstrap: &str,
    worker_consumer: &ConfigMap,
    group: &str,
    topics: &[String],
) -> Result<Vec<(TopicPartition, i64)>> {
    if topics.is_empty() {
        return Ok(Vec::new());
    }
    let consumer = group_consumer(bootstrap, worker_consumer, group)?;
    let mut tpl = TopicPartitionList::new();
    for topic in topics {
        let md = consumer.fetch_metadata(Some(topic), TIMEOUT).map_err(|e| {
            ConnectError::Kafka(format!("could not read metadata of topic {topic}: {e}"))
        })?;
        for t in md.topics() {
            for p in t.partitions() {
                tpl.add_partition(t.name(), p.id());
            }
        }
    }
    if tpl.count() == 0 {
        return Ok(Vec::new());
    }
    let committed = consumer.committed_offsets(tpl, TIMEOUT).map_err(|e| {
        ConnectError::Kafka(format!(
            "could not read committed offsets of group {group}: {e}"
        ))
    })?;
    let mut out: Vec<(TopicPartition, i64)> = committed
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some((TopicPartition::new(e.topic(), e.partition()), o)),
            _ => None,
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Topics of the cluster whose names match `regex` in full.
pub fn matching_topics(
    bootstrap: &str,
    worker_consumer: &ConfigMap,
    regex: &str,
) -> Result<Vec<String>> {
    let re = regex::Regex::new(&format!("^(?:{regex})$"))
        .map_err(|e| ConnectError::Config(e.to_string()))?;
    let consumer = group_consumer(bootstrap, worker_consumer, "conveyor-metadata")?;
    let md = consumer
        .fetch_metadata(None, TIMEOUT)
        .map_err(|e| ConnectError::Kafka(format!("could not list topics: {e}")))?;
    Ok(md
        .topics()
        .iter()
        .map(|t| t.name().to_string())
        .filter(|n| re.is_match(n))
        .collect())
}

/// Commits `offsets` for `group` (which must have no active members).
pub fn alter_offsets(
    bootstrap: &str,
    worker_consumer: &ConfigMap,
    group: &str,
    offsets: &[(TopicPartition, i64)],
) -> Result<()> {
    let consumer = group_consumer(bootstrap, worker_consumer, group)?;
    let mut tpl = TopicPartitionList::new();
    for (tp, o) in offsets {
        tpl.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(*o))
            .map_err(|e| ConnectError::Kafka(e.to_string()))?;
    }
    consumer.commit(&tpl, CommitMode::Sync).map_err(|e| {
        ConnectError::Kafka(format!("could not alter the offsets of group {group}: {e}"))
    })
}

/// Deletes `group` and with it all of its committed offsets.
pub async fn delete_group(bootstrap: &str, worker_admin: &ConfigMap, group: &str) -> Result<()> {
    let config = build_client_config(
        bootstrap,
        ClientRole::Admin,
        &[],
        worker_admin,
        &ConfigMap::new(),
    )?;
    let admin: rdkafka::admin::AdminClient<LoggingContext> = config
        .create_with_context(LoggingContext::default())
        .map_err(|e| ConnectError::Kafka(format!("could not create the admin client: {e}")))?;
    super::security::oauth::set_token_directly(admin.inner(), &config)?;
    let results = admin
        .delete_groups(
            &[group],
            &AdminOptions::new().request_timeout(Some(TIMEOUT)),
        )
        .await
        .map_err(|e| ConnectError::Kafka(format!("could not delete group {group}: {e}")))?;
    for r in results {
        match r {
            Ok(_) | Err((_, rdkafka::types::RDKafkaErrorCode::GroupIdNotFound)) => {}
            Err((g, code)) => {
                return Err(ConnectError::Kafka(format!(
                    "could not delete group {g}: {code}"
                )))
            }
        }
    }
    Ok(())
}
