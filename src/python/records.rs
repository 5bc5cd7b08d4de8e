//! `conveyor.SourceRecord` and `conveyor.SinkRecord`: immutable records that wrap the Rust
//! [`Record`] without copying it. Key, value and headers become Python objects on first
//! access (and are cached), so a sink that only counts records, or a transformation that
//! looks at the topic, never pays for decoding values. `replace(**changes)` returns a new
//! record, converting only what changed.

use std::sync::Arc;

use pyo3::basic::CompareOp;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyInt, PyList, PyString, PyTuple};

use super::values::{
    json_to_py, offset_map_arg, schema_arg, schema_to_py, short_repr, to_py, to_value_and_schema,
    type_name, Path,
};
use crate::data::{
    Header, Headers, KafkaPosition, OffsetMap, Origin, Record, SchemaRef, TimestampType, Value,
};

/// Python views of a record's parts, made on first access.
struct Views {
    key: PyOnceLock<Py<PyAny>>,
    value: PyOnceLock<Py<PyAny>>,
    headers: PyOnceLock<Py<PyAny>>,
}

impl Default for Views {
    fn default() -> Self {
        Views {
            key: PyOnceLock::new(),
            value: PyOnceLock::new(),
            headers: PyOnceLock::new(),
        }
    }
}

impl Views {
    fn key<'py>(&self, py: Python<'py>, r: &Record) -> PyResult<Bound<'py, PyAny>> {
        self.key
            .get_or_try_init(py, || {
                to_py(py, &r.key, r.key_schema.as_ref()).map(Bound::unbind)
            })
            .map(|o| o.bind(py).clone())
    }

    fn value<'py>(&self, py: Python<'py>, r: &Record) -> PyResult<Bound<'py, PyAny>> {
        self.value
            .get_or_try_init(py, || {
                to_py(py, &r.value, r.value_schema.as_ref()).map(Bound::unbind)
            })
            .map(|o| o.bind(py).clone())
    }

    fn headers<'py>(&self, py: Python<'py>, r: &Record) -> PyResult<Bound<'py, PyAny>> {
        self.headers
            .get_or_try_init(py, || {
                let items = r
                    .headers
                    .iter()
                    .map(|h| {
                        Ok(PyTuple::new(
                            py,
                            [
                                PyString::new(py, &h.key).into_any(),
                                to_py(py, &h.value, h.schema.as_ref())?,
                            ],
                        )?
                        .into_any())
                    })
                    .collect::<PyResult<Vec<_>>>()?;
                Ok::<_, PyErr>(PyTuple::new(py, items)?.into_any().unbind())
            })
            .map(|o| o.bind(py).clone())
    }

    /// Views of `r` that stay valid for a record that kept these parts.
    fn carry(&self, py: Python<'_>, key: bool, value: bool, headers: bool) -> Views {
        let copy = |cell: &PyOnceLock<Py<PyAny>>, keep: bool| {
            let out = PyOnceLock::new();
            if keep {
                if let Some(v) = cell.get(py) {
                    let _ = out.set(py, v.clone_ref(py));
                }
            }
            out
        };
        Views {
            key: copy(&self.key, key),
            value: copy(&self.value, value),
            headers: copy(&self.headers, headers),
        }
    }
}

/// A record a source task produces (Kafka Connect's `SourceRecord`). Immutable: use
/// `replace(...)` for a changed copy.
///
/// Arguments:
///     topic: The topic to write to (a str; it comes first: `SourceRecord("orders", {"id": 1})`).
///     value: The value: plain Python data, a `Struct`, or `None`.
///     key: The key, likewise (keyword only, as every argument after `value`).
///     key_schema: The key's schema; without one the key is schemaless (a `Struct` brings
///         its own).
///     value_schema: The value's schema, likewise.
///     source_partition: The connector's own partition, a dict of JSON values
///         (`{"table": "users"}`).
///     source_offset: The position in it (`{"id": 42}`), committed once Kafka acknowledged
///         the record.
///     kafka_partition: The Kafka partition (an int); `None` lets the producer choose by key.
///     timestamp: Epoch milliseconds or a `datetime`; `None` lets the producer set it.
///     headers: A dict, or `(key, value)` pairs (keys may repeat).
///
/// Raises:
///     TypeError: An argument has the wrong type; the message names the argument.
///     DataError: A key, value or header does not fit its schema or cannot be converted;
///         the message names the field (`value.address.zip: ...`).
///
/// Records compare equal (`==`) when every attribute is equal; they have no order, so `<`
/// raises `TypeError` as it does for dicts.
#[pyclass(frozen, module = "conveyor", name = "SourceRecord")]
pub struct PySourceRecord {
    pub record: Arc<Record>,
    views: Views,
}

/// A record a sink task receives (Kafka Connect's `SinkRecord`). Immutable: use
/// `replace(...)` for a changed copy. Key, value and headers are decoded to Python on first
/// access.
///
/// Arguments:
///     topic: The topic (a str).
///     partition: The Kafka partition (an int).
///     offset: The Kafka offset (an int).
///     value: The value: plain Python data, a `Struct`, or `None`.
///     key: The key, likewise (keyword only, as every argument after `value`).
///     key_schema: The key's schema (`None`: schemaless).
///     value_schema: The value's schema.
///     timestamp: Epoch milliseconds or a `datetime`.
///     timestamp_type: `"CreateTime"` (the default), `"LogAppendTime"` or `"NoTimestampType"`.
///     headers: A dict, or `(key, value)` pairs.
///
/// Raises:
///     TypeError: An argument has the wrong type; the message names the argument.
///     DataError: A key, value or header does not fit its schema.
///
/// Records compare equal (`==`) when every attribute is equal; they have no order, so `<`
/// raises `TypeError` as it does for dicts.
#[pyclass(frozen, module = "conveyor", name = "SinkRecord")]
pub struct PySinkRecord {
    pub record: Arc<Record>,
    views: Views,
}

/// The Python record for a Rust one: a `SinkRecord` for consumed records, a `SourceRecord`
/// otherwise.
pub fn record_to_py(py: Python<'_>, record: Record) -> PyResult<Bound<'_, PyAny>> {
    let record = Arc::new(record);
    if record.is_sink() {
        Ok(Bound::new(
            py,
            PySinkRecord {
                record,
                views: Views::default(),
            },
        )?
        .into_any())
    } else {
        Ok(Bound::new(
            py,
            PySourceRecord {
                record,
                views: Views::default(),
            },
        )?
        .into_any())
    }
}

/// The Rust record inside a `SourceRecord` or `SinkRecord`, or `None` for anything else.
pub fn record_from_py(obj: &Bound<'_, PyAny>) -> Option<Arc<Record>> {
    if let Ok(r) = obj.cast_exact::<PySinkRecord>() {
        return Some(r.get().record.clone());
    }
    if let Ok(r) = obj.cast_exact::<PySourceRecord>() {
        return Some(r.get().record.clone());
    }
    None
}

/// The record out of an `Arc` without copying when nothing else holds it.
pub fn unwrap_record(record: Arc<Record>) -> Record {
    Arc::try_unwrap(record).unwrap_or_else(|shared| (*shared).clone())
}

fn timestamp_arg(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<i64>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) if o.is_instance_of::<PyInt>() => Ok(Some(o.extract()?)),
        Some(o) => {
            let py = o.py();
            let to_ms = py.import("conveyor._convert")?.getattr("timestamp_to_ms")?;
            let datetime = py.import("datetime")?.getattr("datetime")?;
            if o.is_instance(&datetime)? {
                Ok(Some(to_ms.call1((o,))?.extract()?))
            } else {
                Err(PyTypeError::new_err(
                    "timestamp must be epoch milliseconds (int), a datetime, or None",
                ))
            }
        }
    }
}

fn headers_arg(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Headers> {
    let mut out = Headers::new();
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(out);
    };
    let root = Path::Root("headers");
    let mut push = |k: &Bound<'_, PyAny>, v: &Bound<'_, PyAny>| -> PyResult<()> {
        let key: String = k
            .extract()
            .map_err(|_| PyTypeError::new_err("header keys must be str"))?;
        let (schema, value) = to_value_and_schema(v, None, &Path::Key(&root, k))?;
        out.0.push(Header { key, schema, value });
        Ok(())
    };
    if let Ok(d) = obj.cast::<PyDict>() {
        for (k, v) in d.iter() {
            push(&k, &v)?;
        }
        return Ok(out);
    }
    for item in obj.try_iter().map_err(|_| {
        PyTypeError::new_err("headers must be a dict or a list of (key, value) pairs")
    })? {
        let item = item?;
        let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract().map_err(|_| {
            PyTypeError::new_err("headers must be a dict or a list of (key, value) pairs")
        })?;
        push(&k, &v)?;
    }
    Ok(out)
}

/// Converts a key or value argument with its schema argument. `schema` is the explicit
/// schema argument when one was passed (`Some(None)` is an explicit `None`).
fn part_arg(
    obj: &Bound<'_, PyAny>,
    schema: Option<&Bound<'_, PyAny>>,
    fallback_schema: Option<&SchemaRef>,
    what: &str,
) -> PyResult<(Option<SchemaRef>, Value)> {
    let schema = match schema {
        Some(s) => schema_arg(Some(s), &format!("{what}_schema"))?,
        None => fallback_schema.cloned(),
    };
    to_value_and_schema(obj, schema.as_ref(), &Path::Root(what)).map_err(|e| {
        if fallback_schema.is_some() && schema.as_ref() == fallback_schema {
            let py = obj.py();
            let msg = e.value(py).to_string();
            super::errors::data_error(
                py,
                format!(
                    "{msg} (the record keeps its {what}_schema unless you pass a new {what}_schema=..., or {what}_schema=None for schemaless data)"
                ),
            )
        } else {
            e
        }
    })
}

/// The parts both record kinds share, parsed from constructor arguments.
struct CommonArgs {
    key_schema: Option<SchemaRef>,
    key: Value,
    value_schema: Option<SchemaRef>,
    value: Value,
    timestamp: Option<i64>,
    headers: Headers,
}

#[allow(clippy::too_many_arguments)]
fn common_args(
    key: Option<&Bound<'_, PyAny>>,
    key_schema: Option<&Bound<'_, PyAny>>,
    value: Option<&Bound<'_, PyAny>>,
    value_schema: Option<&Bound<'_, PyAny>>,
    timestamp: Option<&Bound<'_, PyAny>>,
    headers: Option<&Bound<'_, PyAny>>,
    py: Python<'_>,
) -> PyResult<CommonArgs> {
    let none = py.None().into_bound(py);
    let (key_schema, key) = part_arg(key.unwrap_or(&none), key_schema, None, "key")?;
    let (value_schema, value) = part_arg(value.unwrap_or(&none), value_schema, None, "value")?;
    Ok(CommonArgs {
        key_schema,
        key,
        value_schema,
        value,
        timestamp: timestamp_arg(timestamp)?,
        headers: headers_arg(headers)?,
    })
}

/// Applies the `replace(**changes)` keys both kinds share; returns which parts changed
/// (key, value, headers) or an error for an unknown or misplaced key.
fn apply_common_changes(
    py: Python<'_>,
    record: &mut Record,
    views: &Views,
    changes: &Bound<'_, PyDict>,
    allowed: &[&str],
    class: &str,
) -> PyResult<(bool, bool, bool)> {
    for (k, _) in changes.iter() {
        let name: String = k.extract()?;
        if !allowed.contains(&name.as_str()) {
            return Err(PyTypeError::new_err(format!(
                "{class}.replace() got an unexpected keyword argument '{name}'; it accepts {}",
                allowed.join(", ")
            )));
        }
    }
    let get = |name: &str| changes.get_item(name);
    if let Some(t) = get("topic")? {
        record.topic = t
            .extract()
            .map_err(|_| PyTypeError::new_err("topic must be a str"))?;
    }
    let mut changed = (false, false, false);
    let key_schema = get("key_schema")?;
    let key = get("key")?;
    if key.is_some() || key_schema.is_some() {
        let obj = match key {
            Some(k) => k,
            None => views.key(py, record)?,
        };
        let fallback = if key_schema.is_some() {
            None
        } else {
            record.key_schema.as_ref()
        };
        let (s, v) = part_arg(&obj, key_schema.as_ref(), fallback, "key")?;
        record.key_schema = s;
        record.key = v;
        changed.0 = true;
    }
    let value_schema = get("value_schema")?;
    let value = get("value")?;
    if value.is_some() || value_schema.is_some() {
        let obj = match value {
            Some(v) => v,
            None => views.value(py, record)?,
        };
        let fallback = if value_schema.is_some() {
            None
        } else {
            record.value_schema.as_ref()
        };
        let (s, v) = part_arg(&obj, value_schema.as_ref(), fallback, "value")?;
        record.value_schema = s;
        record.value = v;
        changed.1 = true;
    }
    if let Some(t) = get("timestamp")? {
        record.timestamp = timestamp_arg(Some(&t))?;
    }
    if let Some(h) = get("headers")? {
        record.headers = headers_arg(Some(&h))?;
        changed.2 = true;
    }
    Ok(changed)
}

fn repr_of(obj: PyResult<Bound<'_, PyAny>>) -> String {
    obj.and_then(|o| o.repr().map(|r| r.to_string()))
        .unwrap_or_else(|_| "?".into())
}

/// Argument `name` of `Class(...)` as `T`, or a `TypeError` that names the argument and
/// says what it should be (PyO3's own message does not name it).
fn arg<'py, T: for<'a> FromPyObject<'a, 'py>>(
    obj: &Bound<'py, PyAny>,
    class: &str,
    name: &str,
    expected: &str,
) -> PyResult<T> {
    obj.extract::<T>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{class}(): argument '{name}' must be {expected}, got {} {}",
            type_name(obj),
            short_repr(obj)
        ))
    })
}

fn rich_eq(
    a: &Record,
    other: Option<Arc<Record>>,
    op: CompareOp,
    py: Python<'_>,
) -> PyResult<Py<PyAny>> {
    let Some(b) = other else {
        return Ok(py.NotImplemented());
    };
    let equal = *a == *b;
    match op {
        CompareOp::Eq => Ok(equal.into_pyobject(py)?.to_owned().into_any().unbind()),
        CompareOp::Ne => Ok((!equal).into_pyobject(py)?.to_owned().into_any().unbind()),
        _ => Ok(py.NotImplemented()),
    }
}

const SOURCE_CHANGES: &[&str] = &[
    "topic",
    "kafka_partition",
    "key",
    "key_schema",
    "value",
    "value_schema",
    "timestamp",
    "headers",
    "source_partition",
    "source_offset",
];

const SINK_CHANGES: &[&str] = &[
    "topic",
    "partition",
    "key",
    "key_schema",
    "value",
    "value_schema",
    "timestamp",
    "headers",
];

#[pymethods]
impl PySourceRecord {
    #[new]
    #[pyo3(signature = (topic, value=None, *, key=None, key_schema=None, value_schema=None, source_partition=None, source_offset=None, kafka_partition=None, timestamp=None, headers=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        topic: &Bound<'_, PyAny>,
        value: Option<&Bound<'_, PyAny>>,
        key: Option<&Bound<'_, PyAny>>,
        key_schema: Option<&Bound<'_, PyAny>>,
        value_schema: Option<&Bound<'_, PyAny>>,
        source_partition: Option<&Bound<'_, PyAny>>,
        source_offset: Option<&Bound<'_, PyAny>>,
        kafka_partition: Option<&Bound<'_, PyAny>>,
        timestamp: Option<&Bound<'_, PyAny>>,
        headers: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let topic: String = arg(
            topic,
            "SourceRecord",
            "topic",
            "a str (the topic comes first: SourceRecord(\"orders\", {\"id\": 1}))",
        )?;
        let kafka_partition: Option<i32> = match kafka_partition.filter(|p| !p.is_none()) {
            Some(p) => Some(arg(p, "SourceRecord", "kafka_partition", "an int or None")?),
            None => None,
        };
        let c = common_args(key, key_schema, value, value_schema, timestamp, headers, py)?;
        let partition = offset_map_arg(source_partition, &Path::Root("source_partition"))?;
        let offset = offset_map_arg(source_offset, &Path::Root("source_offset"))?;
        Ok(PySourceRecord {
            record: Arc::new(Record {
                topic,
                kafka_partition,
                key_schema: c.key_schema,
                key: c.key,
                value_schema: c.value_schema,
                value: c.value,
                timestamp: c.timestamp,
                headers: c.headers,
                origin: Origin::Source {
                    partition: partition.into(),
                    offset,
                },
            }),
            views: Views::default(),
        })
    }

    /// The topic to write to.
    #[getter]
    fn topic(&self) -> &str {
        &self.record.topic
    }

    /// The Kafka partition to write to; `None` lets the producer's partitioner choose.
    #[getter]
    fn kafka_partition(&self) -> Option<i32> {
        self.record.kafka_partition
    }

    /// The key as Python data, converted on first access.
    #[getter]
    fn key<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.views.key(py, &self.record)
    }

    /// The key's `Schema`, or `None` when the key is schemaless.
    #[getter]
    fn key_schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        schema_to_py(py, self.record.key_schema.as_ref())
    }

    /// The value as Python data, converted on first access.
    #[getter]
    fn value<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.views.value(py, &self.record)
    }

    /// The value's `Schema`, or `None` when the value is schemaless.
    #[getter]
    fn value_schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        schema_to_py(py, self.record.value_schema.as_ref())
    }

    /// Epoch milliseconds, or `None` (the producer sets the time).
    #[getter]
    fn timestamp(&self) -> Option<i64> {
        self.record.timestamp
    }

    /// `(key, value)` pairs, in order; keys may repeat.
    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.views.headers(py, &self.record)
    }

    /// The connector's own partition (Connect's `sourcePartition`).
    #[getter]
    fn source_partition<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &self.record.origin {
            Origin::Source { partition, .. } => {
                json_to_py(py, &serde_json::Value::Object((**partition).clone()))
            }
            Origin::Sink(_) => Ok(PyDict::new(py).into_any()),
        }
    }

    /// The connector's position in its partition (Connect's `sourceOffset`).
    #[getter]
    fn source_offset<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &self.record.origin {
            Origin::Source { offset, .. } => {
                json_to_py(py, &serde_json::Value::Object(offset.clone()))
            }
            Origin::Sink(_) => Ok(PyDict::new(py).into_any()),
        }
    }

    /// A copy with some attributes changed, as `dataclasses.replace`.
    #[pyo3(signature = (**changes))]
    fn replace(&self, py: Python<'_>, changes: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let Some(changes) = changes.filter(|c| !c.is_empty()) else {
            return Ok(PySourceRecord {
                record: self.record.clone(),
                views: self.views.carry(py, true, true, true),
            });
        };
        let mut record = (*self.record).clone();
        let (k, v, h) = apply_common_changes(
            py,
            &mut record,
            &self.views,
            changes,
            SOURCE_CHANGES,
            "SourceRecord",
        )?;
        if let Some(p) = changes.get_item("kafka_partition")? {
            record.kafka_partition = p.extract()?;
        }
        if let Origin::Source { partition, offset } = &mut record.origin {
            if let Some(p) = changes.get_item("source_partition")? {
                *partition = offset_map_arg(Some(&p), &Path::Root("source_partition"))?.into();
            }
            if let Some(o) = changes.get_item("source_offset")? {
                *offset = offset_map_arg(Some(&o), &Path::Root("source_offset"))?;
            }
        }
        Ok(PySourceRecord {
            record: Arc::new(record),
            views: self.views.carry(py, !k, !v, !h),
        })
    }

    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp) -> PyResult<Py<PyAny>> {
        let py = other.py();
        let other = other
            .cast::<PySourceRecord>()
            .ok()
            .map(|o| o.get().record.clone());
        rich_eq(&self.record, other, op, py)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let partition = repr_of(self.source_partition(py));
        let offset = repr_of(self.source_offset(py));
        format!(
            "SourceRecord(topic={}, kafka_partition={}, key={}, value={}, source_partition={partition}, source_offset={offset})",
            repr_of(Ok(PyString::new(py, &self.record.topic).into_any())),
            self.record
                .kafka_partition
                .map(|p| p.to_string())
                .unwrap_or_else(|| "None".into()),
            repr_of(self.key(py)),
            repr_of(self.value(py)),
        )
    }
}

fn timestamp_type_arg(name: &str) -> PyResult<TimestampType> {
    Ok(match name {
        "CreateTime" => TimestampType::CreateTime,
        "LogAppendTime" => TimestampType::LogAppendTime,
        "NoTimestampType" => TimestampType::NoTimestampType,
        other => {
            return Err(PyTypeError::new_err(format!(
                "timestamp_type must be \"CreateTime\", \"LogAppendTime\" or \"NoTimestampType\", got '{other}'"
            )))
        }
    })
}

#[pymethods]
impl PySinkRecord {
    #[new]
    #[pyo3(signature = (topic, partition, offset, value=None, *, key=None, key_schema=None, value_schema=None, timestamp=None, timestamp_type="CreateTime", headers=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        topic: &Bound<'_, PyAny>,
        partition: &Bound<'_, PyAny>,
        offset: &Bound<'_, PyAny>,
        value: Option<&Bound<'_, PyAny>>,
        key: Option<&Bound<'_, PyAny>>,
        key_schema: Option<&Bound<'_, PyAny>>,
        value_schema: Option<&Bound<'_, PyAny>>,
        timestamp: Option<&Bound<'_, PyAny>>,
        timestamp_type: &str,
        headers: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let topic: String = arg(topic, "SinkRecord", "topic", "a str")?;
        let partition: i32 = arg(partition, "SinkRecord", "partition", "an int")?;
        let offset: i64 = arg(offset, "SinkRecord", "offset", "an int")?;
        let c = common_args(key, key_schema, value, value_schema, timestamp, headers, py)?;
        let timestamp_type = if c.timestamp.is_none() {
            TimestampType::NoTimestampType
        } else {
            timestamp_type_arg(timestamp_type)?
        };
        Ok(PySinkRecord {
            record: Arc::new(Record {
                topic: topic.clone(),
                kafka_partition: Some(partition),
                key_schema: c.key_schema,
                key: c.key,
                value_schema: c.value_schema,
                value: c.value,
                timestamp: c.timestamp,
                headers: c.headers,
                origin: Origin::Sink(KafkaPosition {
                    offset,
                    timestamp_type,
                    original_topic: topic,
                    original_partition: partition,
                    original_offset: offset,
                }),
            }),
            views: Views::default(),
        })
    }

    /// The topic (after any transformation; see `original_topic`).
    #[getter]
    fn topic(&self) -> &str {
        &self.record.topic
    }

    /// The Kafka partition.
    #[getter]
    fn partition(&self) -> i32 {
        self.record.kafka_partition.unwrap_or(-1)
    }

    /// The Kafka offset.
    #[getter]
    fn offset(&self) -> i64 {
        self.record.kafka_offset().unwrap_or(-1)
    }

    /// The key as Python data, decoded on first access.
    #[getter]
    fn key<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.views.key(py, &self.record)
    }

    /// The key's `Schema`, or `None` when the key is schemaless.
    #[getter]
    fn key_schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        schema_to_py(py, self.record.key_schema.as_ref())
    }

    /// The value as Python data, decoded on first access.
    #[getter]
    fn value<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.views.value(py, &self.record)
    }

    /// The value's `Schema`, or `None` when the value is schemaless.
    #[getter]
    fn value_schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        schema_to_py(py, self.record.value_schema.as_ref())
    }

    /// Epoch milliseconds, or `None`.
    #[getter]
    fn timestamp(&self) -> Option<i64> {
        self.record.timestamp
    }

    /// `"CreateTime"`, `"LogAppendTime"` or `"NoTimestampType"`.
    #[getter]
    fn timestamp_type(&self) -> &'static str {
        match &self.record.origin {
            Origin::Sink(p) => p.timestamp_type.connect_name(),
            Origin::Source { .. } => TimestampType::NoTimestampType.connect_name(),
        }
    }

    /// `(key, value)` pairs, in order; keys may repeat.
    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.views.headers(py, &self.record)
    }

    /// The topic before any transformation changed it (KIP-793).
    #[getter]
    fn original_topic(&self) -> &str {
        match &self.record.origin {
            Origin::Sink(p) => &p.original_topic,
            Origin::Source { .. } => &self.record.topic,
        }
    }

    /// The partition before any transformation changed it.
    #[getter]
    fn original_partition(&self) -> i32 {
        match &self.record.origin {
            Origin::Sink(p) => p.original_partition,
            Origin::Source { .. } => self.partition(),
        }
    }

    /// The offset before any transformation changed it.
    #[getter]
    fn original_offset(&self) -> i64 {
        match &self.record.origin {
            Origin::Sink(p) => p.original_offset,
            Origin::Source { .. } => -1,
        }
    }

    /// A copy with some attributes changed, as `dataclasses.replace`. The Kafka offset and
    /// the original coordinates never change.
    #[pyo3(signature = (**changes))]
    fn replace(&self, py: Python<'_>, changes: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let Some(changes) = changes.filter(|c| !c.is_empty()) else {
            return Ok(PySinkRecord {
                record: self.record.clone(),
                views: self.views.carry(py, true, true, true),
            });
        };
        let mut record = (*self.record).clone();
        let (k, v, h) = apply_common_changes(
            py,
            &mut record,
            &self.views,
            changes,
            SINK_CHANGES,
            "SinkRecord",
        )?;
        if let Some(p) = changes.get_item("partition")? {
            record.kafka_partition = Some(p.extract()?);
        }
        Ok(PySinkRecord {
            record: Arc::new(record),
            views: self.views.carry(py, !k, !v, !h),
        })
    }

    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp) -> PyResult<Py<PyAny>> {
        let py = other.py();
        let other = other
            .cast::<PySinkRecord>()
            .ok()
            .map(|o| o.get().record.clone());
        rich_eq(&self.record, other, op, py)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "SinkRecord(topic={}, partition={}, offset={}, key={}, value={})",
            repr_of(Ok(PyString::new(py, &self.record.topic).into_any())),
            self.partition(),
            self.offset(),
            repr_of(self.key(py)),
            repr_of(self.value(py)),
        )
    }
}

/// A list of Python records from Rust records (one FFI crossing per batch).
pub fn records_to_py(py: Python<'_>, records: Vec<Record>) -> PyResult<Bound<'_, PyList>> {
    let items = records
        .into_iter()
        .map(|r| record_to_py(py, r))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}

/// Source partition/offset maps for Python (used by contexts).
pub fn offset_map_to_py<'py>(py: Python<'py>, map: &OffsetMap) -> PyResult<Bound<'py, PyAny>> {
    json_to_py(py, &serde_json::Value::Object(map.clone()))
}
