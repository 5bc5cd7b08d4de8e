use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};

use async_trait::async_trait;

use crate::config::{ConfigDef, ConfigKey, ConfigMap, ConfigType, Importance};
use crate::data::{Record, TopicPartition};
use crate::errors::{ConnectError, Result};
use crate::plugin::{Connector, ConnectorContext, SinkTask, SinkTaskContext};
use crate::transform::java_text::value_to_java_string;

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

/// Appends one line per record: the value as Kafka Connect's task prints it (Java's
/// `toString`: `{some_key=0}`, `Struct{a=1,b=x}`, `[1, 2]`, `null`).
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
            // Kafka's task prints `record.value()`: Java's `toString` of the value.
            match &r.value {
                crate::data::Value::String(s) => out.write_all(s.as_bytes())?,
                v => {
                    out.write_all(value_to_java_string(r.value_schema.as_deref(), v).as_bytes())?
                }
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use parking_lot::Mutex;

    use super::*;
    use crate::data::{decimal, logical_schemas, Schema, SchemaBuilder, SchemaRef, Struct, Value};
    use crate::plugin::TaskId;
    use crate::transform::test_support::value_record;

    /// The lines a FileStreamSink task writes for `values`.
    fn written(values: Vec<(Option<SchemaRef>, Value)>) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let mut config = ConfigMap::new();
        config.insert(FILE.into(), path.to_string_lossy().into_owned());
        let ctx = SinkTaskContext::new(
            TaskId {
                connector: "file".into(),
                task: 0,
            },
            Arc::new(Mutex::new(Default::default())),
            None,
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut task = FileStreamSinkTask::default();
        rt.block_on(async {
            task.start(config, ctx).await.unwrap();
            let records = values
                .into_iter()
                .map(|(schema, value)| value_record(schema, value))
                .collect();
            task.put(records).await.unwrap();
            task.stop().await.unwrap();
        });
        std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(String::from)
            .collect()
    }

    #[test]
    fn values_are_written_as_kafka_connect_prints_them() {
        let inner = SchemaBuilder::struct_().field("a", Schema::int32()).build();
        let mut inner_value = Struct::new(inner.clone());
        inner_value.put("a", Value::Int32(1)).unwrap();
        let schema = SchemaBuilder::struct_()
            .field("a", Schema::int32())
            .field("note", Schema::optional_string())
            .field("b", Schema::string())
            .field(
                "m",
                SchemaBuilder::map(Schema::string(), Schema::string()).build(),
            )
            .field("l", SchemaBuilder::array(inner).build())
            .field("price", logical_schemas::decimal(4).build())
            .field("ok", Schema::boolean())
            .field("f", Schema::float32())
            .build();
        let mut row = Struct::new(schema.clone());
        row.put("a", Value::Int32(1)).unwrap();
        row.put("b", Value::from("x")).unwrap();
        row.put("m", Value::string_map([("k", Value::from("v"))]))
            .unwrap();
        row.put("l", Value::Array(vec![Value::Struct(inner_value)]))
            .unwrap();
        row.put("price", Value::Bytes(decimal::to_bytes(15600)))
            .unwrap();
        row.put("ok", Value::Boolean(true)).unwrap();
        row.put("f", Value::Float32(1.1)).unwrap();
        let lines = written(vec![
            (None, Value::from("plain text")),
            // Kafka Connect's quickstart: JsonConverter without schemas into FileStreamSink.
            (None, Value::string_map([("some_key", Value::Int64(0))])),
            // A HashMap: Java's iteration order, not the JSON's.
            (
                None,
                Value::string_map([
                    ("b", Value::Int64(1)),
                    ("a", Value::Float64(2.0)),
                    ("c", Value::Array(vec![Value::Int64(1), Value::Int64(2)])),
                    ("d", Value::Null),
                    ("e", Value::Map(vec![])),
                ]),
            ),
            (None, Value::Array(vec![Value::Int64(1), Value::Int64(2)])),
            (None, Value::Array(vec![])),
            (None, Value::Null),
            (Some(schema), Value::Struct(row)),
            (None, Value::Float64(1.0)),
            (None, Value::Float64(1e10)),
            (None, Value::Float64(0.0001)),
            (Some(Schema::float32()), Value::Float32(3.5)),
            (None, Value::Boolean(false)),
            (Some(Schema::int8()), Value::Int8(-5)),
            (Some(Schema::bytes()), Value::Bytes(vec![1, 2, 3])),
            (
                Some(logical_schemas::decimal(10).build()),
                Value::Bytes(decimal::to_bytes(1)),
            ),
            (
                Some(SchemaBuilder::map(Schema::int32(), Schema::string()).build()),
                Value::Map(vec![
                    (Value::Int32(2), Value::from("x")),
                    (Value::Int32(1), Value::from("y")),
                ]),
            ),
        ]);
        assert_eq!(
            lines,
            [
                "plain text",
                "{some_key=0}",
                "{a=2.0, b=1, c=[1, 2], d=null, e={}}",
                "[1, 2]",
                "[]",
                "null",
                "Struct{a=1,b=x,m={k=v},l=[Struct{a=1}],price=1.5600,ok=true,f=1.1}",
                "1.0",
                "1.0E10",
                "1.0E-4",
                "3.5",
                "false",
                "-5",
                // byte[].toString(): Java prints an identity hash; Conveyor a content hash.
                "[B@7861",
                "1E-10",
                "{1=y, 2=x}",
            ]
        );
    }

    #[test]
    fn dates_are_written_as_java_util_date_prints_them() {
        let lines = written(vec![
            (
                Some(logical_schemas::timestamp().build()),
                Value::Int64(1_709_622_489_012),
            ),
            (Some(logical_schemas::date().build()), Value::Int32(19_723)),
            (
                Some(logical_schemas::time().build()),
                Value::Int32(3_723_004),
            ),
        ]);
        // `EEE MMM dd HH:mm:ss zzz yyyy` in the local time zone.
        let years = ["2024", "2024", "1970"];
        assert_eq!(lines.len(), 3, "{lines:?}");
        for (line, year) in lines.iter().zip(years) {
            let parts: Vec<&str> = line.split(' ').collect();
            assert_eq!(parts.len(), 6, "{line}");
            assert!(
                ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].contains(&parts[0]),
                "{line}"
            );
            assert!(
                [
                    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                    "Dec"
                ]
                .contains(&parts[1]),
                "{line}"
            );
            assert_eq!(parts[2].len(), 2, "{line}");
            assert_eq!(parts[3].len(), 8, "{line}");
            assert!(!parts[4].is_empty(), "{line}");
            assert!(
                parts[5] == year
                    || parts[5]
                        .parse::<i32>()
                        .is_ok_and(|y| y.abs_diff(year.parse().unwrap()) <= 1),
                "{line}"
            );
        }
    }
}
