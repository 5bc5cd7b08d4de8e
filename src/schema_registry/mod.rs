//! A Confluent-compatible Schema Registry inside Conveyor.
//!
//! Schemas live in a compacted `_schemas` topic in Confluent's key and value formats
//! ([`store`]), so a Confluent registry pointed at the same topic reads them; the REST API
//! ([`rest`]) answers Confluent's clients with the same paths, shapes and `error_code` values.
//! `conveyor schema-registry registry.properties` runs one alone; a worker serves one too when
//! `schema.registry.listeners` is set.

pub mod client;
pub mod compatibility;
pub mod config;
pub mod election;
pub mod formats;
pub mod json_schema;
pub mod parse;
pub mod protobuf;
pub mod rest;
pub mod server;
pub mod service;
pub mod store;
pub mod types;

pub use config::RegistryConfig;
pub use server::RegistryServer;
pub use service::{Registry, RegistrySettings, SchemaRequest};
pub use types::{Compatibility, Mode, Reference, RegistryError, SchemaType};
