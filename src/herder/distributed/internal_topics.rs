//! Creates the internal topics when missing and refuses to run on ones that would lose data
//! (Kafka Connect's `TopicAdmin` checks in `KafkaBasedLog`).

use crate::config::worker::DistributedSettings;
use crate::errors::{ConnectError, Result};
use crate::kafka::{Admin, TopicSpec};

use super::protocol::InternalTopicNames;

/// Creates missing internal topics (compacted) and checks existing ones.
/// A topic's configs. Right after a topic appears, Apache Kafka can answer with no configs at
/// all; that answer is retried for a few seconds before it is believed.
async fn described_config(
    admin: &Admin,
    topic: &str,
) -> Result<Option<std::collections::BTreeMap<String, String>>> {
    let mut attempts = 0;
    loop {
        let config = admin.topic_config(topic).await?;
        match config {
            Some(c) if !c.contains_key("cleanup.policy") && attempts < 20 => {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            }
            other => return Ok(other),
        }
    }
}

pub async fn ensure(admin: &Admin, s: &DistributedSettings) -> Result<InternalTopicNames> {
    let specs = [
        (
            "config.storage.topic",
            &s.config_topic,
            1,
            s.config_replication_factor,
        ),
        (
            "offset.storage.topic",
            &s.offset_topic,
            s.offset_partitions,
            s.offset_replication_factor,
        ),
        (
            "status.storage.topic",
            &s.status_topic,
            s.status_partitions,
            s.status_replication_factor,
        ),
    ];
    let names: Vec<&String> = specs.iter().map(|(_, t, _, _)| *t).collect();
    if names[0] == names[1] || names[0] == names[2] || names[1] == names[2] {
        return Err(ConnectError::Config(format!(
            "config.storage.topic, offset.storage.topic and status.storage.topic must be three different topics (got {}, {}, {})",
            names[0], names[1], names[2]
        )));
    }
    let created = admin
        .create_topics(
            &specs
                .iter()
                .map(|(_, topic, partitions, rf)| {
                    TopicSpec::new(topic.as_str(), *partitions, *rf)
                        .config("cleanup.policy", "compact")
                })
                .collect::<Vec<_>>(),
        )
        .await?;
    for t in &created {
        tracing::info!(topic = %t, "created internal topic");
    }
    let partitions = admin.topics()?;
    for (setting, topic, _, _) in &specs {
        if *setting == "config.storage.topic" {
            match partitions.get(topic.as_str()) {
                Some(1) | None => {}
                Some(n) => {
                    return Err(ConnectError::Config(format!(
                        "Topic '{topic}' supplied via the '{setting}' property is required to have a single partition in order to guarantee consistency of connector configurations, but found {n} partitions."
                    )))
                }
            }
        }
        // A topic this worker just created is compact: it asked for that. Describing it now
        // could meet a broker that does not know its configs yet.
        if created.contains(topic) {
            continue;
        }
        match described_config(admin, topic).await {
            Ok(Some(config)) => {
                let policy = config.get("cleanup.policy").cloned().unwrap_or_default();
                if !policy.split(',').any(|p| p.trim() == "compact") {
                    return Err(ConnectError::Config(format!(
                        "Topic '{topic}' supplied via the '{setting}' property is required to have 'cleanup.policy=compact' to guarantee consistency and durability of source connector offsets, connector configurations and statuses, but found the topic currently has 'cleanup.policy={policy}'. Continuing would likely result in eventually losing data and problems restarting this Connect cluster in the future. Change the '{setting}' property in the worker configuration to use a topic with 'cleanup.policy=compact', or change the topic's cleanup policy."
                    )));
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(topic = %topic, error = %e, "could not check the internal topic's cleanup.policy")
            }
        }
    }
    Ok(InternalTopicNames {
        config: s.config_topic.clone(),
        offset: s.offset_topic.clone(),
        status: s.status_topic.clone(),
    })
}
