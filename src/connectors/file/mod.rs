//! `FileStreamSource` and `FileStreamSink`: lines of a file to a topic and back (Kafka
//! Connect's `connect-file`), with the same class names, configs and offsets.

mod sink;
mod source;

use std::sync::Arc;

use crate::config::connector::ConnectorType;
use crate::plugin::{default_aliases, ConnectorPlugin, PluginRegistry, Task, TaskPlugin, VERSION};

pub use sink::{FileStreamSinkConnector, FileStreamSinkTask};
pub use source::{FileStreamSourceConnector, FileStreamSourceTask};

pub const SOURCE_CONNECTOR_CLASS: &str = "org.apache.kafka.connect.file.FileStreamSourceConnector";
pub const SOURCE_TASK_CLASS: &str = "org.apache.kafka.connect.file.FileStreamSourceTask";
pub const SINK_CONNECTOR_CLASS: &str = "org.apache.kafka.connect.file.FileStreamSinkConnector";
pub const SINK_TASK_CLASS: &str = "org.apache.kafka.connect.file.FileStreamSinkTask";

/// Adds both connectors and their tasks to `reg`.
pub fn register(reg: &mut PluginRegistry) {
    reg.add_connector(ConnectorPlugin {
        class: SOURCE_CONNECTOR_CLASS.into(),
        aliases: default_aliases(SOURCE_CONNECTOR_CLASS, "Connector"),
        version: VERSION.into(),
        connector_type: ConnectorType::Source,
        new_connector: Arc::new(|| Ok(Box::new(FileStreamSourceConnector::default()))),
    });
    reg.add_task(TaskPlugin {
        class: SOURCE_TASK_CLASS.into(),
        new_task: Arc::new(|| Ok(Task::Source(Box::new(FileStreamSourceTask::default())))),
    });
    reg.add_connector(ConnectorPlugin {
        class: SINK_CONNECTOR_CLASS.into(),
        aliases: default_aliases(SINK_CONNECTOR_CLASS, "Connector"),
        version: VERSION.into(),
        connector_type: ConnectorType::Sink,
        new_connector: Arc::new(|| Ok(Box::new(FileStreamSinkConnector::default()))),
    });
    reg.add_task(TaskPlugin {
        class: SINK_TASK_CLASS.into(),
        new_task: Arc::new(|| Ok(Task::Sink(Box::new(FileStreamSinkTask::default())))),
    });
}
