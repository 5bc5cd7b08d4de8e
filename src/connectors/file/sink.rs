use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};

use async_trait::async_trait;

use crate::config::{ConfigDef, ConfigKey, ConfigMap, ConfigType, Importance};
use crate::convert::primitive::value_to_text;
use crate::data::{Record, TopicPartition};
use crate::errors::{ConnectError, Result};
use crate::plugin::{Connector, ConnectorContext, SinkTask, SinkTaskContext};

const FILE: &str = "file";

fn config_def() -> ConfigDef {
    ConfigDef::new().define(
        ConfigKey::new(FILE, ConfigType::String)
            .default_null()
            .importance(Importance::High)
            .doc("Destination filename. If not specified, the standard output will be used"),
    )
}

/// Writes each record's value as a line of a file (or stdout).
#[derive(Default)]
pub struct FileStreamSinkConnector {
    config: ConfigMap,
}

#[async_trait]
impl Connector for FileStreamSinkConnector {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    async fn start(&mut self, config: ConfigMap, _ctx: ConnectorContext) -> Result<()> {
        config_def().parse(&config)?;
        self.config = config;
        Ok(())
    }

    fn task_class(&self) -> String {
        super::SINK_TASK_CLASS.into()
    }

    async fn task_configs(&mut self, max_tasks: usize) -> Result<Vec<ConfigMap>> {
        Ok(vec![self.config.clone(); max_tasks])
    }

    async fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

enum Output {
    File(BufWriter<File>),
    Stdout(std::io::Stdout),
}

impl Output {
    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Output::File(w) => w,
            Output::Stdout(w) => w,
        }
    }
}

/// Appends one line per record, the value's text form (`null` for a null value).
#[derive(Default)]
pub struct FileStreamSinkTask {
    filename: Option<String>,
    output: Option<Output>,
}

#[async_trait]
impl SinkTask for FileStreamSinkTask {
    async fn start(&mut self, config: ConfigMap, _ctx: SinkTaskContext) -> Result<()> {
        let parsed = config_def().parse(&config)?;
        self.filename = parsed.non_empty_string(FILE).map(String::from);
        self.output = Some(match &self.filename {
            Some(name) => {
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(name)
                    .map_err(|e| {
                        ConnectError::Io(format!(
                            "Couldn't find or create file '{name}' for FileStreamSinkTask: {e}"
                        ))
                    })?;
                Output::File(BufWriter::with_capacity(256 * 1024, file))
            }
            None => Output::Stdout(std::io::stdout()),
        });
        Ok(())
    }

    async fn put(&mut self, records: Vec<Record>) -> Result<()> {
        let out = self
            .output
            .as_mut()
            .ok_or_else(|| ConnectError::Other("task not started".into()))?
            .writer();
        for r in &records {
            match &r.value {
                crate::data::Value::String(s) => out.write_all(s.as_bytes())?,
                v => out.write_all(value_to_text(v).as_deref().unwrap_or("null").as_bytes())?,
            }
            out.write_all(b"\n")?;
        }
        // Hand each batch to the OS so readers (`tail -f`) see lines as they arrive; the
        // buffer only saves a system call per line.
        out.flush()?;
        Ok(())
    }

    async fn flush(&mut self, _offsets: &HashMap<TopicPartition, i64>) -> Result<()> {
        if let Some(out) = self.output.as_mut() {
            out.writer().flush()?;
        }
        Ok(())
    }

    async fn stop(&mut self) -> Result<()> {
        if let Some(mut out) = self.output.take() {
            out.writer().flush()?;
        }
        Ok(())
    }
}
