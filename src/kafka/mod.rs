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

/// A consumed message's headers, copied out of librdkafka's buffer, in order.
pub fn copied_headers<M: rdkafka::Message>(message: &M) -> Vec<(String, Option<Vec<u8>>)> {
    use rdkafka::message::Headers;
    message
        .headers()
        .map(|hs| {
            hs.iter()
                .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                .collect()
        })
        .unwrap_or_default()
}
