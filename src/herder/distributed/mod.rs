//! Distributed mode (Kafka Connect's distributed herder): workers with the same `group.id`
//! form a group through the broker, keep configs, offsets and statuses in compacted topics,
//! and share the connectors and tasks with an incremental cooperative assignment.

pub mod assignor;
pub mod config_store;
pub mod forward;
mod herder;
pub mod internal_topics;
pub mod offset_store;
pub mod protocol;
pub mod status_store;
pub mod topic_log;

pub use herder::{DistributedHerder, DistributedParts};
