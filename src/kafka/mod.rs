//! Kafka clients: config assembly, the shared client context, topic administration and the
//! embedded development broker.

pub mod admin;
pub mod client_config;
pub mod context;
pub mod embedded;
pub mod group;
pub mod group_offsets;
pub mod lag;
pub mod security;

pub use admin::{Admin, TopicSpec};
pub use client_config::{build_client_config, ClientRole};
pub use context::{ClientHealth, LoggingContext};
pub use embedded::{EmbeddedBroker, EmbeddedTopics};
pub use lag::consumer_lag;
