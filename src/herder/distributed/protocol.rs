//! What workers tell each other through the group: each member's metadata in JoinGroup and
//! the leader's assignment in SyncGroup.
//!
//! Kafka Connect encodes these with its own binary schemas under the subprotocol names
//! `default`/`compatible`/`sessioned`. Conveyor uses JSON under its own subprotocol name, so a
//! Kafka Connect worker that joins a Conveyor group by mistake is refused by the broker
//! (INCONSISTENT_GROUP_PROTOCOL) instead of misreading the assignment.

use std::collections::BTreeSet;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::errors::{ConnectError, Result};
use crate::plugin::TaskId;

/// The group protocol type, as Kafka Connect's.
pub const PROTOCOL_TYPE: &str = "connect";
/// Conveyor's incremental cooperative subprotocol.
pub const PROTOCOL_NAME: &str = "conveyor-cooperative-v1";

/// A set of connectors and tasks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Work {
    pub connectors: BTreeSet<String>,
    pub tasks: BTreeSet<TaskId>,
}

impl Work {
    pub fn is_empty(&self) -> bool {
        self.connectors.is_empty() && self.tasks.is_empty()
    }

    pub fn len(&self) -> usize {
        self.connectors.len() + self.tasks.len()
    }

    pub fn contains_all(&self, other: &Work) -> bool {
        self.connectors.is_superset(&other.connectors) && self.tasks.is_superset(&other.tasks)
    }

    pub fn union(&self, other: &Work) -> Work {
        Work {
            connectors: self.connectors.union(&other.connectors).cloned().collect(),
            tasks: self.tasks.union(&other.tasks).cloned().collect(),
        }
    }

    pub fn minus(&self, other: &Work) -> Work {
        Work {
            connectors: self
                .connectors
                .difference(&other.connectors)
                .cloned()
                .collect(),
            tasks: self.tasks.difference(&other.tasks).cloned().collect(),
        }
    }

    pub fn intersect(&self, other: &Work) -> Work {
        Work {
            connectors: self
                .connectors
                .intersection(&other.connectors)
                .cloned()
                .collect(),
            tasks: self.tasks.intersection(&other.tasks).cloned().collect(),
        }
    }
}

impl std::fmt::Display for Work {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tasks: Vec<String> = self.tasks.iter().map(|t| t.to_string()).collect();
        write!(
            f,
            "connectors [{}], tasks [{}]",
            self.connectors
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            tasks.join(", ")
        )
    }
}

/// The three internal topics; every member of a group must use the same ones.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct InternalTopicNames {
    pub config: String,
    pub offset: String,
    pub status: String,
}

impl std::fmt::Display for InternalTopicNames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "config.storage.topic={}, offset.storage.topic={}, status.storage.topic={}",
            self.config, self.offset, self.status
        )
    }
}

/// A member's JoinGroup metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberMetadata {
    pub version: i16,
    /// This worker's REST URL (`http://host:port`), where others forward requests.
    pub url: String,
    /// The offset up to which this worker has read the config topic.
    pub config_offset: i64,
    /// What this worker runs now (incremental cooperative: it keeps running it).
    pub owned: Work,
    pub topics: InternalTopicNames,
    /// When this worker started (ms since the epoch); older workers win ties.
    #[serde(default)]
    pub started_ms: i64,
}

/// The leader's answer to one member.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    /// Set when this member cannot be part of the group (it should stop, saying why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub leader: String,
    pub leader_url: String,
    /// Members must have read the config topic up to here before acting on the assignment.
    pub config_offset: i64,
    /// Everything this member should run after this round.
    pub assigned: Work,
    /// What this member must stop now (it then rejoins so the work can move).
    pub revoked: Work,
    /// When non-zero, held-back work waits for a departed worker: rejoin after this long.
    #[serde(default)]
    pub delay_ms: u64,
}

pub fn encode<T: Serialize>(value: &T) -> Bytes {
    Bytes::from(serde_json::to_vec(value).expect("protocol types serialize"))
}

pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| ConnectError::Kafka(format!("cannot read a group member's {what}: {e}")))
}
