//! The group membership client for the `connect` protocol (Kafka Connect's
//! `WorkerGroupMember`), over the `kafka-protocol` crate. rdkafka stays the data path: it
//! only speaks the consumer protocol.

pub(crate) mod connection;
mod member;

pub use connection::BrokerConnection;
pub use member::{GroupMember, GroupSettings, HeartbeatOutcome, JoinedGroup, KeepAlive};
