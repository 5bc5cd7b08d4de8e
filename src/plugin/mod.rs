//! Plugin interfaces and the registry of built-in and Python plugins.

pub mod api;
pub mod builtin;
pub mod path_check;
pub mod registry;
pub mod suggest;

pub use crate::transform::{Predicate, Transformation};
pub use api::{
    Connector, ConnectorContext, ConnectorRequest, ConnectorTransactionBoundaries,
    ErrantRecordReporter, ExactlyOnceSupport, OffsetReader, SinkContextState, SinkTask,
    SinkTaskContext, SourceTask, SourceTaskContext, Task, TaskId, TransactionContext,
    TransactionRequest, TransactionRequests,
};
pub use registry::{
    default_aliases, ConnectorPlugin, ConverterPlugin, PluginInfo, PluginRegistry, PluginSource,
    PluginType, PredicatePlugin, TaskPlugin, TransformPlugin,
};

/// The version reported for built-in plugins and by `GET /`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
