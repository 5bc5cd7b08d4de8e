//! The Connect data model: schemas, values, structs, headers and records.

pub mod decimal;
pub mod record;
pub mod schema;
pub mod value;

pub use record::{
    Header, Headers, KafkaPosition, OffsetMap, Origin, Record, SourcePartition, TimestampType,
    TopicPartition,
};
pub use schema::{logical, logical_schemas, Field, Schema, SchemaBuilder, SchemaRef, SchemaType};
pub use value::{Struct, Value};
