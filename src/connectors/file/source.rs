use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;

use crate::config::{ConfigDef, ConfigKey, ConfigMap, ConfigType, Importance, Validator};
use crate::data::{OffsetMap, Record, Schema, SourcePartition, Value};
use crate::errors::{ConnectError, Result};
use crate::plugin::{Connector, ConnectorContext, SourceTask, SourceTaskContext};

const FILE: &str = "file";
const TOPIC: &str = "topic";
const BATCH_SIZE: &str = "batch.size";
/// Offset and partition field names, as Kafka Connect writes them.
const FILENAME_FIELD: &str = "filename";
const POSITION_FIELD: &str = "position";
/// How long an empty poll waits for the file to grow.
const EMPTY_POLL_WAIT: Duration = Duration::from_millis(200);

fn config_def() -> ConfigDef {
    ConfigDef::new()
        .define(
            ConfigKey::new(FILE, ConfigType::String)
                .default_null()
                .importance(Importance::High)
                .doc("Source filename. If not specified, the standard input will be used"),
        )
        .define(
            ConfigKey::new(TOPIC, ConfigType::String)
                .validator(Validator::NonEmptyString)
                .importance(Importance::High)
                .doc("The topic to publish data to"),
        )
        .define(
            ConfigKey::new(BATCH_SIZE, ConfigType::Int)
                .default_value("2000")
                .validator(Validator::at_least(1.0))
                .importance(Importance::Low)
                .doc("The maximum number of records the source task can read from the file each time it is polled"),
        )
}

/// Reads lines of a file (or stdin) into a topic.
#[derive(Default)]
pub struct FileStreamSourceConnector {
    config: ConfigMap,
}

#[async_trait]
impl Connector for FileStreamSourceConnector {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    fn validate(&self, config: &ConfigMap) -> Vec<crate::config::ConfigInfo> {
        let mut infos = config_def().validate(config);
        if let Some(topic) = config.get(TOPIC) {
            if topic.contains(',') {
                if let Some(i) = infos.iter_mut().find(|i| i.value.name == TOPIC) {
                    i.value.errors.push(
                        "'topic' in FileStreamSourceConnector configuration requires definition of a single topic"
                            .into(),
                    );
                }
            }
        }
        infos
    }

    async fn start(&mut self, config: ConfigMap, _ctx: ConnectorContext) -> Result<()> {
        let parsed = config_def().parse(&config)?;
        let mut task = ConfigMap::new();
        if let Some(f) = parsed.non_empty_string(FILE) {
            task.insert(FILE.into(), f.into());
        }
        task.insert(
            TOPIC.into(),
            parsed.string(TOPIC).unwrap_or_default().into(),
        );
        task.insert(
            BATCH_SIZE.into(),
            parsed.int(BATCH_SIZE).unwrap_or(2000).to_string(),
        );
        self.config = task;
        Ok(())
    }

    fn task_class(&self) -> String {
        super::SOURCE_TASK_CLASS.into()
    }

    async fn task_configs(&mut self, _max_tasks: usize) -> Result<Vec<ConfigMap>> {
        // One file, one reader: only a single task makes sense.
        Ok(vec![self.config.clone()])
    }

    async fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

enum Input {
    /// Not opened yet (the file may not exist yet).
    Pending,
    File(BufReader<File>),
    /// Lines from a thread that reads stdin, so that a blocked read never holds up `stop`.
    Stdin(tokio::sync::mpsc::Receiver<Vec<u8>>),
}

/// Reads stdin line by line on its own thread.
fn spawn_stdin_reader() -> tokio::sync::mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = tokio::sync::mpsc::channel(4096);
    std::thread::Builder::new()
        .name("file-source-stdin".into())
        .spawn(move || {
            let mut stdin = std::io::stdin().lock();
            loop {
                let mut line = Vec::new();
                match stdin.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if tx.blocking_send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        })
        .ok();
    rx
}

/// Reads complete lines, remembering the byte position after each.
pub struct FileStreamSourceTask {
    filename: Option<String>,
    topic: String,
    batch_size: usize,
    input: Input,
    /// Byte position after the last line returned.
    position: u64,
    /// A line read without its newline yet.
    partial: Vec<u8>,
    ctx: Option<SourceTaskContext>,
    warned_missing: bool,
    /// `{"filename": ...}`, shared by every record.
    partition: SourcePartition,
}

impl Default for FileStreamSourceTask {
    fn default() -> Self {
        FileStreamSourceTask {
            filename: None,
            topic: String::new(),
            batch_size: 2000,
            input: Input::Pending,
            position: 0,
            partial: Vec::new(),
            ctx: None,
            warned_missing: false,
            partition: SourcePartition::default(),
        }
    }
}

impl FileStreamSourceTask {
    fn source_partition(filename: Option<&str>) -> SourcePartition {
        let mut m = OffsetMap::new();
        if let Some(f) = filename {
            m.insert(FILENAME_FIELD.into(), json!(f));
        }
        SourcePartition::new(m)
    }

    fn open(&mut self) -> Result<bool> {
        let Some(name) = self.filename.clone() else {
            self.input = Input::Stdin(spawn_stdin_reader());
            return Ok(true);
        };
        let mut file = match File::open(&name) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !self.warned_missing {
                    tracing::warn!(file = %name, "Couldn't find file for FileStreamSourceTask, waiting for it to be created");
                    self.warned_missing = true;
                }
                return Ok(false);
            }
            Err(e) => {
                return Err(ConnectError::Io(format!(
                    "Error while trying to open file {name}: {e}"
                )))
            }
        };
        let ctx = self
            .ctx
            .as_ref()
            .ok_or_else(|| ConnectError::Other("task not started".into()))?;
        if let Some(offset) = ctx.offsets.offset(&self.partition)? {
            let pos = offset
                .get(POSITION_FIELD)
                .and_then(|p| p.as_u64())
                .ok_or_else(|| {
                    ConnectError::Data(format!("Offset position is the incorrect type: {offset:?}"))
                })?;
            let len = file.metadata()?.len();
            if pos > len {
                tracing::warn!(file = %name, position = pos, length = len, "stored offset is past the end of the file (truncated?); starting from the beginning");
            } else {
                tracing::debug!(file = %name, position = pos, "found previous offset, seeking");
                file.seek(SeekFrom::Start(pos))?;
                self.position = pos;
            }
        }
        self.input = Input::File(BufReader::with_capacity(256 * 1024, file));
        Ok(true)
    }

    /// Reads up to `batch_size` complete lines without blocking on a file.
    fn read_lines(&mut self) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        let now = chrono::Utc::now().timestamp_millis();
        loop {
            if out.len() >= self.batch_size {
                break;
            }
            // A complete line may already be buffered (stdin hands over whole lines).
            if self.partial.last() != Some(&b'\n') {
                match &mut self.input {
                    Input::File(r) => {
                        r.read_until(b'\n', &mut self.partial)?;
                    }
                    Input::Stdin(rx) => {
                        if let Ok(line) = rx.try_recv() {
                            self.partial.extend_from_slice(&line);
                        }
                    }
                    Input::Pending => {}
                }
            }
            if self.partial.last() != Some(&b'\n') {
                // End of input for now; a partial line stays buffered until its newline arrives.
                break;
            }
            self.position += self.partial.len() as u64;
            // Hand the line's buffer to the record instead of copying it; the next buffer
            // starts at this line's size, as lines tend to be alike.
            let capacity = self.partial.len();
            let mut line = std::mem::replace(&mut self.partial, Vec::with_capacity(capacity));
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let text = String::from_utf8(line)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
            let offset = if self.filename.is_some() {
                let mut o = OffsetMap::new();
                o.insert(POSITION_FIELD.into(), json!(self.position));
                o
            } else {
                OffsetMap::new()
            };
            let mut rec = Record::source(
                self.topic.clone(),
                self.partition.clone(),
                offset,
                Some(Schema::string()),
                Value::String(text),
            );
            rec.timestamp = Some(now);
            out.push(rec);
        }
        Ok(out)
    }
}

#[async_trait]
impl SourceTask for FileStreamSourceTask {
    async fn start(&mut self, config: ConfigMap, ctx: SourceTaskContext) -> Result<()> {
        let parsed = config_def().parse(&config)?;
        self.filename = parsed.non_empty_string(FILE).map(String::from);
        self.topic = parsed.string(TOPIC).unwrap_or_default().to_string();
        self.batch_size = parsed.int(BATCH_SIZE).unwrap_or(2000).max(1) as usize;
        self.partition = Self::source_partition(self.filename.as_deref());
        self.ctx = Some(ctx);
        Ok(())
    }

    async fn poll(&mut self) -> Result<Vec<Record>> {
        if matches!(self.input, Input::Pending) && !self.open()? {
            tokio::time::sleep(Duration::from_secs(1)).await;
            return Ok(Vec::new());
        }
        let records = self.read_lines()?;
        if records.is_empty() {
            match &mut self.input {
                Input::Stdin(rx) => {
                    // Wait for the next line (or end of input) rather than spinning.
                    if let Some(line) = rx.recv().await {
                        self.partial.extend_from_slice(&line);
                        if line.last() != Some(&b'\n') {
                            // stdin ended without a final newline: emit what there is.
                            self.partial.push(b'\n');
                        }
                    } else if !self.partial.is_empty() {
                        // stdin closed after a last line without a newline.
                        self.partial.push(b'\n');
                    } else {
                        tokio::time::sleep(EMPTY_POLL_WAIT).await;
                    }
                    return self.read_lines();
                }
                _ => tokio::time::sleep(EMPTY_POLL_WAIT).await,
            }
        }
        Ok(records)
    }

    async fn stop(&mut self) -> Result<()> {
        self.input = Input::Pending;
        Ok(())
    }
}
