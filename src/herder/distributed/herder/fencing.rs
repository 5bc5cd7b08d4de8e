//! Zombie fencing for exactly-once source connectors (KIP-618), as Kafka Connect does it: before
//! a new generation of a connector's tasks starts, the group's leader fences out the
//! transactional producers of the previous generation, then writes the task-count record
//! (`tasks-fencing-<connector>`) to the config topic. A worker with such a task to start asks
//! for that round (Connect's preflight check), itself when it leads, else through the leader's
//! internal `PUT /connectors/{connector}/fence`; its tasks start once the record is read back.

use std::time::Duration;

use futures::future::FutureExt;

use super::DistributedHerder;
use crate::config::connector::ConnectorType;
use crate::errors::{ConnectError, Result};
use crate::herder::distributed::forward;
use crate::runtime::transactions::{fence_producers, transactional_id};

/// The longest wait between two attempts of a worker's fencing request.
const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(10);

impl DistributedHerder {
    /// Whether this worker led the group's last rebalance (it stays the leader during the next
    /// one, as in Connect).
    pub(super) fn is_leader(&self) -> bool {
        let g = self.group.read();
        !g.member_id.is_empty() && g.member_id == g.leader_id
    }

    /// The leader's round of zombie fencing for `name` (Connect's `fenceZombieSourceTasks`):
    /// one round per connector at a time, whoever asks.
    pub(super) async fn fence_zombies_as_leader(&self, name: &str) -> Result<()> {
        if !self.is_leader() {
            return Err(ConnectError::Conflict(
                "Only the leader may perform zombie fencing.".into(),
            ));
        }
        let config = self
            .configs
            .with(|s| s.connectors.get(name).cloned())
            .ok_or_else(|| ConnectError::NotFound(format!("Connector {name} not found")))?;
        if self.connector_type(&config) != Some(ConnectorType::Source) {
            return Err(ConnectError::BadRequest(format!(
                "Connector {name} is not a source connector"
            )));
        }
        let round = {
            let mut fencings = self.fencings.lock();
            if let Some(round) = fencings.get(name) {
                round.clone()
            } else {
                let Some(me) = self.me.upgrade() else {
                    return Err(ConnectError::Other("the herder is shutting down".into()));
                };
                let connector = name.to_string();
                let round = async move {
                    let result = me.fencing_round(&connector).await;
                    me.fencings.lock().remove(&connector);
                    result
                }
                .boxed()
                .shared();
                fencings.insert(name.to_string(), round.clone());
                // The round finishes (and writes its record) even if every caller goes away.
                tokio::spawn(round.clone());
                round
            }
        };
        round.await
    }

    /// Fences out the previous task generation of `name` when it needs it, then writes the
    /// task-count record of the current one.
    async fn fencing_round(&self, name: &str) -> Result<()> {
        self.configs.read_to_end().await.map_err(|e| {
            ConnectError::Kafka(format!(
                "Failed to read to end of config topic before performing zombie fencing: {e}"
            ))
        })?;
        let (pending, record, count, generation) = self.configs.with(|s| {
            (
                s.fencing_pending.contains(name),
                s.fenced_task_counts.get(name).copied(),
                s.task_count(name),
                s.task_generations.get(name).copied(),
            )
        });
        if !pending {
            tracing::debug!(connector = %name, "Skipping zombie fencing round for connector {name} as all old task generations have already been fenced out");
            return Ok(());
        }
        match record {
            // No task count record: no transactional producer was ever brought up for it.
            None => {
                tracing::debug!(connector = %name, "Skipping zombie fencing round but writing task count record for connector {name} as it is being brought up for the first time with exactly-once source support")
            }
            // The one new task's producer fences the one old task's when it starts.
            Some(1) if count == 1 => {
                tracing::debug!(connector = %name, "Skipping zombie fencing round but writing task count record for connector {name} as both the most recent and the current generation of task configs only contain one task")
            }
            Some(previous) => {
                let ids: Vec<String> = (0..previous as i32)
                    .map(|t| transactional_id(&self.settings.group_id, name, t))
                    .collect();
                tracing::info!(connector = %name, count = previous, "Fencing out {previous} task producers for source connector {name}");
                fence_producers(
                    &self.worker.config().bootstrap_servers,
                    &self.worker.config().producer,
                    ids,
                )
                .await?;
                tracing::info!(connector = %name, "Finished fencing out {previous} task producers for source connector {name}");
                self.configs.read_to_end().await.map_err(|e| {
                    ConnectError::Kafka(format!("Failed to read to end of config topic: {e}"))
                })?;
                let now = self.configs.with(|s| s.task_generations.get(name).copied());
                if now != generation {
                    return Err(ConnectError::Conflict(
                        "Fencing failed because new task configurations were generated for the connector".into(),
                    ));
                }
            }
        }
        self.configs.put_task_count(name, count).await
    }

    /// A round of zombie fencing for `name`, by the leader: here when this worker leads, else
    /// through the leader's `PUT /connectors/{name}/fence`.
    async fn fence_zombies_through_leader(&self, name: &str) -> Result<()> {
        if self.is_leader() {
            return self.fence_zombies_as_leader(name).await;
        }
        let group = self.stable_group().await?;
        if group.leader_id == group.member_id {
            return self.fence_zombies_as_leader(name).await;
        }
        tracing::debug!(connector = %name, leader = %group.leader_url, "Forwarding zombie fencing request for connector {name} to leader at {}", group.leader_url);
        forward::fence_zombies_on(&self.forwarder, &group.leader_url, name).await
    }

    /// The preflight check of `connector`'s exactly-once source tasks that wait here for the
    /// fencing of an earlier generation: asks the leader for the round, in the background and
    /// again after a failure while the fencing is still pending. The tasks start when the
    /// task-count record is read back from the config topic.
    pub(super) fn request_zombie_fencing(&self, connector: &str) {
        if !self.preflights.lock().insert(connector.to_string()) {
            return;
        }
        let Some(me) = self.me.upgrade() else {
            return;
        };
        let name = connector.to_string();
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(250);
            loop {
                tracing::debug!(connector = %name, "Performing preflight zombie check for connector {name}");
                let result = me.fence_zombies_through_leader(&name).await;
                let needed = me.configs.with(|s| {
                    s.fencing_pending.contains(&name) && s.connectors.contains_key(&name)
                });
                match result {
                    Ok(()) => break,
                    Err(e) if needed && !me.stop.is_cancelled() => {
                        tracing::warn!(connector = %name, error = %e, "Failed to perform round of zombie fencing for connector {name}; retrying in {} ms", backoff.as_millis());
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_RETRY_BACKOFF);
                    }
                    Err(e) => {
                        tracing::debug!(connector = %name, error = %e, "zombie fencing request failed and is no longer needed");
                        break;
                    }
                }
            }
            me.preflights.lock().remove(&name);
        });
    }
}
