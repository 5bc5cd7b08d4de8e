//! The worker runtime: connector and task lifecycles, the source and sink task loops, offset
//! tracking and error handling.

pub mod converters;
pub mod dead_letter;
pub mod errors;
pub mod offsets;
pub mod peek;
pub mod shared_producer;
pub mod sink_task;
pub mod source_task;
pub mod state;
pub mod status;
pub mod supervise;
pub mod topic_creation;
pub mod transactions;
pub mod transform_chain;
pub mod worker;

pub use offsets::{
    ConnectorOffsetTopics, FileOffsetStore, LayeredOffsetStore, MemoryOffsetStore, OffsetStore,
};
pub use state::{State, TargetState};
pub use status::{Status, StatusListener};
pub use worker::{AbandonedWork, Worker, WorkerServices};
