//! Conveyor: a Kafka Connect runtime with a Rust core and Python connectors.
//!
//! The crate is both the Python extension `conveyor._native` and a Rust library. Layers, from
//! the bottom: [`data`] ← [`convert`]/[`transform`] ← [`plugin`] ← [`connectors`]/[`python`]
//! ← [`runtime`] ← [`herder`] ← [`rest`]/[`cli`]/[`python_api`] (the Python-facing entry
//! points: the extension module, the console script, the in-process `Worker`, `peek` and the
//! testing harness). [`python`] holds only the plugin adapters, below [`runtime`].

pub mod app;
pub mod cli;
pub mod config;
pub mod connectors;
pub mod convert;
pub mod data;
pub mod errors;
pub mod herder;
pub mod java;
pub mod kafka;
pub mod logging;
pub mod metrics;
pub mod plugin;
pub mod python;
pub mod python_api;
pub mod rest;
pub mod runtime;
pub mod schema_registry;
pub mod tls;
pub mod transform;

pub use errors::{ConnectError, Result};

/// mimalloc for Rust allocations: task threads allocate and free many small buffers, which
/// glibc's per-thread arenas turn into fragmented, never-returned memory.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
