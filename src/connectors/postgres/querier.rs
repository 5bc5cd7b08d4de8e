//! One table (or the custom query) a source task reads: the query for its mode, the offset
//! it has reached (the JDBC connector's `TimestampIncrementingOffset`), and the rows of the
//! query in progress, streamed `batch.max.rows` at a time across polls.

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::json;
use tokio_postgres::types::{Kind as TypeKind, ToSql};
use tokio_postgres::RowStream;

use crate::data::{OffsetMap, Record, SchemaBuilder, SchemaRef, Struct, Value};
use crate::errors::{ConnectError, Result};
use crate::plugin::OffsetReader;

use super::connection::{error_text, PgClient};
use super::decode::{decode, integer, timestamp_micros, Raw};
use super::identifier::{quote, Quoting, TableId};
use super::source_config::{Mode, SourceConfig, TIMESTAMP_INITIAL_CURRENT};
use super::table;
use super::types::{Decoder, PgType};

/// Offset and partition keys, as the JDBC source connector writes them.
pub const TABLE_KEY: &str = "table";
pub const QUERY_KEY: &str = "query";
pub const QUERY_VALUE: &str = "query";
pub const PROTOCOL_KEY: &str = "protocol";
pub const PROTOCOL_V1: &str = "1";
pub const INCREMENTING_FIELD: &str = "incrementing";
pub const TIMESTAMP_FIELD: &str = "timestamp";
pub const TIMESTAMP_NANOS_FIELD: &str = "timestamp_nanos";

/// What a querier reads.
#[derive(Clone, Debug, PartialEq)]
pub enum QuerySource {
    Table(TableId),
    Query(String),
}

/// How far a querier has read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrackedOffset {
    /// Microseconds since the Unix epoch (wall clock for columns without a time zone).
    pub timestamp: Option<i64>,
    pub incrementing: Option<i64>,
}

impl TrackedOffset {
    /// Reads `{"timestamp": ms, "timestamp_nanos": n, "incrementing": i}` (a
    /// `java.sql.Timestamp`'s millis and nanos-of-second).
    pub fn from_map(map: &OffsetMap) -> TrackedOffset {
        let timestamp = map.get(TIMESTAMP_FIELD).and_then(|v| v.as_i64()).map(|ms| {
            let nanos = map.get(TIMESTAMP_NANOS_FIELD).and_then(|v| v.as_i64());
            match nanos {
                Some(n) => ms.div_euclid(1000) * 1_000_000 + n / 1000,
                None => ms * 1000,
            }
        });
        TrackedOffset {
            timestamp,
            incrementing: map.get(INCREMENTING_FIELD).and_then(|v| v.as_i64()),
        }
    }

    pub fn to_map(self) -> OffsetMap {
        let mut m = OffsetMap::new();
        if let Some(i) = self.incrementing {
            m.insert(INCREMENTING_FIELD.into(), json!(i));
        }
        if let Some(t) = self.timestamp {
            m.insert(TIMESTAMP_FIELD.into(), json!(t.div_euclid(1000)));
            m.insert(
                TIMESTAMP_NANOS_FIELD.into(),
                json!(t.rem_euclid(1_000_000) * 1000),
            );
        }
        m
    }
}

/// A prepared query: what each result column becomes.
struct Prepared {
    sql: String,
    /// (result column index, decoder) for each field of `schema`.
    fields: Vec<(usize, Decoder)>,
    schema: SchemaRef,
    timestamp_index: Option<usize>,
    incrementing_index: Option<usize>,
    /// The timestamp expression has no time zone: parameters are `timestamp`s.
    naive_timestamp: bool,
}

/// One table or query of a source task.
pub struct TableQuerier {
    pub source: QuerySource,
    config: Arc<SourceConfig>,
    topic: String,
    partition: OffsetMap,
    offset: TrackedOffset,
    prepared: Option<Prepared>,
    stream: Option<Pin<Box<RowStream>>>,
    /// When the next query may start.
    pub next_due: Instant,
    offsets_loaded: bool,
}

impl TableQuerier {
    pub fn new(source: QuerySource, config: Arc<SourceConfig>) -> Self {
        let (topic, partition) = match &source {
            QuerySource::Table(t) => {
                let mut p = OffsetMap::new();
                if config.mode == Mode::Bulk {
                    p.insert(TABLE_KEY.into(), json!(t.name));
                } else {
                    p.insert(PROTOCOL_KEY.into(), json!(PROTOCOL_V1));
                    p.insert(TABLE_KEY.into(), json!(t.to_string()));
                }
                (format!("{}{}", config.topic_prefix, t.name), p)
            }
            QuerySource::Query(_) => {
                let mut p = OffsetMap::new();
                p.insert(QUERY_KEY.into(), json!(QUERY_VALUE));
                (config.topic_prefix.clone(), p)
            }
        };
        TableQuerier {
            source,
            config,
            topic,
            partition,
            offset: TrackedOffset::default(),
            prepared: None,
            stream: None,
            next_due: Instant::now(),
            offsets_loaded: false,
        }
    }

    /// The partitions this querier's offsets may be stored under, newest protocol first.
    fn stored_partitions(&self) -> Vec<OffsetMap> {
        let mut out = vec![self.partition.clone()];
        if let QuerySource::Table(t) = &self.source {
            let mut v0 = OffsetMap::new();
            v0.insert(TABLE_KEY.into(), json!(t.name));
            if !out.contains(&v0) {
                out.push(v0);
            }
        }
        out
    }

    /// Loads the committed offset (once).
    pub fn load_offset(&mut self, reader: &dyn OffsetReader) -> Result<()> {
        if self.offsets_loaded || self.config.mode == Mode::Bulk {
            return Ok(());
        }
        for p in self.stored_partitions() {
            if let Some(o) = reader.offset(&p)? {
                self.offset = TrackedOffset::from_map(&o);
                tracing::info!(source = ?self.source, offset = ?o, "resuming from the stored offset");
                break;
            }
        }
        self.offsets_loaded = true;
        Ok(())
    }

    /// A query is in progress (rows remain to be read).
    pub fn querying(&self) -> bool {
        self.stream.is_some()
    }

    /// Drops the query in progress; the next one starts after `poll.interval.ms`.
    pub fn reset(&mut self, now: Instant) {
        self.stream = None;
        self.next_due = now + self.config.poll_interval;
    }

    /// Forgets prepared statements (after a reconnection).
    pub fn invalidate(&mut self) {
        self.prepared = None;
        self.stream = None;
    }

    fn sql_source(&self) -> String {
        match &self.source {
            QuerySource::Table(t) => t.sql(self.config.quoting),
            QuerySource::Query(q) => format!("({q}) AS conveyor_query"),
        }
    }

    /// Works out columns and SQL: column types from a prepared `SELECT *`, nullability from
    /// the catalog.
    async fn prepare(&mut self, client: &PgClient) -> Result<()> {
        let q = self.config.quoting;
        let from = self.sql_source();
        let probe = client
            .prepare(&format!("SELECT * FROM {from}"))
            .await
            .map_err(|e| pg_error("could not prepare the query", &e))?;
        let meta = match &self.source {
            QuerySource::Table(t) => table::describe(client, t)
                .await
                .map_err(|e| pg_error("could not describe the table", &e))?,
            QuerySource::Query(_) => None,
        };
        let mut select: Vec<String> = Vec::new();
        let mut fields: Vec<(usize, Decoder)> = Vec::new();
        let mut builder = SchemaBuilder::struct_();
        if let QuerySource::Table(t) = &self.source {
            builder = builder.name(t.name.clone());
        }
        let mut timestamp_types: Vec<PgType> = Vec::new();
        for column in probe.columns() {
            let category = matches!(column.type_().kind(), TypeKind::Array(_)).then_some('A');
            let pg_type = PgType::from_oid(column.type_().oid(), column.type_modifier(), category);
            let not_null = match (&meta, column.table_oid(), column.column_id()) {
                (Some(m), _, _) => m.column(column.name()).is_some_and(|c| c.not_null),
                (None, Some(oid), Some(attnum)) if oid != 0 => client
                    .query_opt(
                        "SELECT attnotnull FROM pg_attribute WHERE attrelid = $1 AND attnum = $2",
                        &[&oid, &attnum],
                    )
                    .await
                    .map_err(|e| pg_error("could not read column nullability", &e))?
                    .map(|r| r.get::<_, bool>(0))
                    .unwrap_or(false),
                _ => false,
            };
            if self
                .config
                .timestamp_columns
                .iter()
                .any(|c| c == column.name())
            {
                timestamp_types.push(pg_type.clone());
            }
            let ident = q.ident(column.name());
            let index = select.len();
            match Decoder::for_column(&pg_type, !not_null, self.config.numeric) {
                Some((decoder, schema)) => {
                    select.push(if pg_type == PgType::Timestamp {
                        // Wall-clock values are read in db.timezone, the session's zone.
                        format!("{ident}::timestamptz AS {ident}")
                    } else {
                        ident
                    });
                    fields.push((index, decoder));
                    builder = builder.field(column.name(), schema);
                }
                None => {
                    // Other types (arrays, inet, intervals, enums, ...) are read as text.
                    select.push(format!("{ident}::text AS {ident}"));
                    let (decoder, schema) =
                        Decoder::for_column(&PgType::Text, !not_null, self.config.numeric)
                            .ok_or_else(|| ConnectError::Other("text decoder".into()))?;
                    fields.push((index, decoder));
                    builder = builder.field(column.name(), schema);
                }
            }
        }
        let mode = self.config.mode;
        let incrementing = match (mode.uses_incrementing(), &self.config.incrementing_column, &meta) {
            (false, _, _) => None,
            (true, Some(c), _) => Some(c.clone()),
            (true, None, Some(m)) => Some(
                m.columns
                    .iter()
                    .find(|c| c.auto_increment)
                    .map(|c| c.name.clone())
                    .ok_or_else(|| ConnectError::Config(format!(
                        "No auto-incrementing column found in table {}: set incrementing.column.name", m.id
                    )))?,
            ),
            (true, None, None) => {
                return Err(ConnectError::Config("incrementing.column.name must be set with a query".into()))
            }
        };
        for c in incrementing
            .iter()
            .chain(self.config.timestamp_columns.iter())
        {
            if !probe.columns().iter().any(|col| col.name() == c) {
                return Err(ConnectError::Config(format!(
                    "Column {c} not found in {}",
                    match &self.source {
                        QuerySource::Table(t) => t.to_string(),
                        QuerySource::Query(_) => "the query results".to_string(),
                    }
                )));
            }
        }
        if let (Some(m), true) = (&meta, self.config.validate_non_null) {
            if let Some(inc) = &incrementing {
                if !m.column(inc).is_some_and(|c| c.not_null) {
                    return Err(ConnectError::Config(format!(
                        "Cannot make incremental queries using incrementing column {inc} on {} because this column is nullable.",
                        m.id
                    )));
                }
            }
            if mode.uses_timestamp()
                && !self
                    .config
                    .timestamp_columns
                    .iter()
                    .any(|c| m.column(c).is_some_and(|c| c.not_null))
            {
                return Err(ConnectError::Config(format!(
                    "Cannot make incremental queries using timestamp columns {:?} on {} because all of these columns are nullable.",
                    self.config.timestamp_columns, m.id
                )));
            }
        }
        let naive = timestamp_types
            .iter()
            .all(|t| matches!(t, PgType::Timestamp | PgType::Date));
        let SourceSql {
            sql,
            timestamp_index,
            incrementing_index,
        } = source_sql(&SourceQuery {
            mode,
            from: &from,
            select,
            timestamp_columns: &self.config.timestamp_columns,
            incrementing: incrementing.as_deref(),
            naive_timestamps: naive,
            delay: self.config.delay,
            suffix: &self.config.query_suffix,
            quoting: q,
        });
        tracing::debug!(source = ?self.source, sql = %sql, "prepared source query");
        self.prepared = Some(Prepared {
            sql,
            fields,
            schema: builder.build(),
            timestamp_index,
            incrementing_index,
            naive_timestamp: naive,
        });
        Ok(())
    }

    /// Starts the next query from the tracked offset.
    pub async fn start(&mut self, client: &PgClient) -> Result<()> {
        if self.prepared.is_none() {
            self.prepare(client).await?;
        }
        let Some(prepared) = &self.prepared else {
            return Ok(());
        };
        let mode = self.config.mode;
        if mode.uses_timestamp() && self.offset.timestamp.is_none() {
            self.offset.timestamp = Some(match self.config.timestamp_initial {
                Some(TIMESTAMP_INITIAL_CURRENT) => {
                    let now = if prepared.naive_timestamp {
                        "LOCALTIMESTAMP"
                    } else {
                        "CURRENT_TIMESTAMP"
                    };
                    let row = client
                        .query_one(&format!("SELECT {now}"), &[])
                        .await
                        .map_err(|e| pg_error("could not read the database time", &e))?;
                    let raw: Raw<'_> = row.get(0);
                    timestamp_micros(raw.0.unwrap_or_default()).map_err(ConnectError::Data)?
                }
                Some(ms) => ms * 1000,
                None => 0,
            });
        }
        let ts = self.offset.timestamp.unwrap_or(0);
        let inc = self.offset.incrementing.unwrap_or(-1);
        let params: Vec<&(dyn ToSql + Sync)> = match mode {
            Mode::Bulk => vec![],
            Mode::Incrementing => vec![&inc],
            Mode::Timestamp => vec![&ts],
            Mode::TimestampIncrementing => vec![&ts, &inc],
        };
        let stream = client
            .query_raw(prepared.sql.as_str(), params)
            .await
            .map_err(|e| pg_error("the source query failed", &e))?;
        self.stream = Some(Box::pin(stream));
        Ok(())
    }

    /// Up to `max` records of the query in progress; `done` when it has no more rows.
    pub async fn next_records(&mut self, max: usize) -> Result<(Vec<Record>, bool)> {
        let (Some(stream), Some(prepared)) = (self.stream.as_mut(), self.prepared.as_ref()) else {
            return Ok((Vec::new(), true));
        };
        let mut out = Vec::new();
        while out.len() < max {
            let Some(row) = stream.next().await else {
                return Ok((out, true));
            };
            let row = row.map_err(|e| pg_error("reading query results failed", &e))?;
            let mut value = Struct::new(prepared.schema.clone());
            for (field, (index, decoder)) in prepared.fields.iter().enumerate() {
                let raw: Raw<'_> = row
                    .try_get(*index)
                    .map_err(|e| pg_error("reading a column failed", &e))?;
                let v = match raw.0 {
                    None => Value::Null,
                    Some(bytes) => decode(*decoder, bytes).map_err(|why| {
                        ConnectError::Data(format!(
                            "column {}: {why}",
                            quote(&prepared.schema.fields[field].name)
                        ))
                    })?,
                };
                value.put_unchecked(field, v);
            }
            if let Some(i) = prepared.timestamp_index {
                let raw: Raw<'_> = row
                    .try_get(i)
                    .map_err(|e| pg_error("reading the timestamp failed", &e))?;
                if let Some(bytes) = raw.0 {
                    self.offset.timestamp =
                        Some(timestamp_micros(bytes).map_err(ConnectError::Data)?);
                }
            }
            if let Some(i) = prepared.incrementing_index {
                let raw: Raw<'_> = row
                    .try_get(i)
                    .map_err(|e| pg_error("reading the incrementing column failed", &e))?;
                if let Some(bytes) = raw.0 {
                    self.offset.incrementing = Some(integer(bytes).map_err(ConnectError::Data)?);
                }
            }
            let offset = if self.config.mode == Mode::Bulk {
                OffsetMap::new()
            } else {
                self.offset.to_map()
            };
            out.push(Record::source(
                self.topic.clone(),
                self.partition.clone(),
                offset,
                Some(prepared.schema.clone()),
                Value::Struct(value),
            ));
        }
        Ok((out, false))
    }
}

/// What a source query is built from: the columns read (already as select expressions), and
/// how the mode picks up where the last query stopped.
struct SourceQuery<'a> {
    mode: Mode,
    /// The table, or the user's query as a subquery.
    from: &'a str,
    select: Vec<String>,
    timestamp_columns: &'a [String],
    incrementing: Option<&'a str>,
    /// Whether every timestamp column is without a time zone (`timestamp`, `date`), so the
    /// offset is compared as a wall-clock value.
    naive_timestamps: bool,
    /// `timestamp.delay.interval.ms`.
    delay: Duration,
    /// `query.suffix`.
    suffix: &'a str,
    quoting: Quoting,
}

/// A source query's text, and where its offset columns are among the selected ones.
#[derive(Debug, PartialEq)]
struct SourceSql {
    sql: String,
    timestamp_index: Option<usize>,
    incrementing_index: Option<usize>,
}

/// The SQL a source task runs for each poll: `$1` is the timestamp offset in microseconds
/// since the epoch (or the incrementing offset in incrementing mode), `$2` the incrementing
/// offset in timestamp+incrementing mode. Pure, so the statement can be tested without a
/// database.
fn source_sql(query: &SourceQuery<'_>) -> SourceSql {
    let q = query.quoting;
    let mode = query.mode;
    let mut select = query.select.clone();
    let from = query.from;
    let ts_expr = match query.timestamp_columns {
        [] => String::new(),
        [one] => q.ident(one),
        many => format!(
            "COALESCE({})",
            many.iter()
                .map(|c| q.ident(c))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let ts_type = if query.naive_timestamps {
        "timestamp"
    } else {
        "timestamptz"
    };
    let ts_param = format!(
        "({} 'epoch' + $1::int8 * INTERVAL '1 microsecond')",
        ts_type.to_uppercase()
    );
    let upper = format!(
        "CURRENT_TIMESTAMP - INTERVAL '{} milliseconds'",
        query.delay.as_millis()
    );
    let mut timestamp_index = None;
    let mut incrementing_index = None;
    if mode.uses_timestamp() {
        timestamp_index = Some(select.len());
        select.push(format!(
            "({ts_expr})::{ts_type} AS conveyor_offset_timestamp"
        ));
    }
    let inc_ident = query.incrementing.map(|c| q.ident(c)).unwrap_or_default();
    if mode.uses_incrementing() {
        incrementing_index = Some(select.len());
        select.push(format!(
            "({inc_ident})::int8 AS conveyor_offset_incrementing"
        ));
    }
    let head = format!("SELECT {} FROM {from}", select.join(", "));
    let body = match mode {
        Mode::Bulk => head,
        Mode::Incrementing => format!("{head} WHERE {inc_ident} > $1::int8 ORDER BY {inc_ident} ASC"),
        Mode::Timestamp => format!(
            "{head} WHERE {ts_expr} > {ts_param} AND {ts_expr} < {upper} ORDER BY {ts_expr} ASC"
        ),
        Mode::TimestampIncrementing => format!(
            "{head} WHERE {ts_expr} < {upper} AND (({ts_expr} = {ts_param} AND {inc_ident} > $2::int8) OR {ts_expr} > {ts_param}) ORDER BY {ts_expr}, {inc_ident} ASC"
        ),
    };
    let sql = if query.suffix.is_empty() {
        body
    } else {
        format!("{body} {}", query.suffix)
    };
    SourceSql {
        sql,
        timestamp_index,
        incrementing_index,
    }
}

fn pg_error(what: &str, e: &tokio_postgres::Error) -> ConnectError {
    let text = format!("{what}: {}", error_text(e));
    // Bad SQL, missing columns or privileges will not fix themselves.
    if super::connection::sqlstate(e).is_some_and(|c| c.starts_with("42")) {
        ConnectError::Config(text)
    } else {
        ConnectError::Retriable(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_use_java_timestamp_millis_and_nanos() {
        let o = TrackedOffset {
            timestamp: Some(1_700_000_000_123_456),
            incrementing: Some(42),
        };
        let m = o.to_map();
        assert_eq!(m["timestamp"], json!(1_700_000_000_123i64));
        assert_eq!(m["timestamp_nanos"], json!(123_456_000));
        assert_eq!(m["incrementing"], json!(42));
        assert_eq!(TrackedOffset::from_map(&m), o);
    }

    fn query<'a>(mode: Mode, timestamps: &'a [String], naive: bool) -> SourceQuery<'a> {
        SourceQuery {
            mode,
            from: "\"public\".\"orders\"",
            select: vec!["\"id\"".into(), "\"at\"::timestamptz AS \"at\"".into()],
            timestamp_columns: timestamps,
            incrementing: Some("id"),
            naive_timestamps: naive,
            delay: Duration::from_millis(250),
            suffix: "",
            quoting: Quoting::Always,
        }
    }

    #[test]
    fn source_queries_per_mode() {
        let none: Vec<String> = Vec::new();
        let bulk = source_sql(&query(Mode::Bulk, &none, false));
        assert_eq!(
            bulk,
            SourceSql {
                sql: "SELECT \"id\", \"at\"::timestamptz AS \"at\" FROM \"public\".\"orders\""
                    .into(),
                timestamp_index: None,
                incrementing_index: None,
            }
        );

        let inc = source_sql(&query(Mode::Incrementing, &none, false));
        assert_eq!(
            inc.sql,
            "SELECT \"id\", \"at\"::timestamptz AS \"at\", (\"id\")::int8 AS conveyor_offset_incrementing FROM \"public\".\"orders\" WHERE \"id\" > $1::int8 ORDER BY \"id\" ASC"
        );
        assert_eq!(inc.incrementing_index, Some(2));

        let at = vec!["at".to_string()];
        let ts = source_sql(&query(Mode::Timestamp, &at, false));
        assert_eq!(
            ts.sql,
            "SELECT \"id\", \"at\"::timestamptz AS \"at\", (\"at\")::timestamptz AS conveyor_offset_timestamp FROM \"public\".\"orders\" WHERE \"at\" > (TIMESTAMPTZ 'epoch' + $1::int8 * INTERVAL '1 microsecond') AND \"at\" < CURRENT_TIMESTAMP - INTERVAL '250 milliseconds' ORDER BY \"at\" ASC"
        );
        assert_eq!((ts.timestamp_index, ts.incrementing_index), (Some(2), None));

        // Several timestamp columns: the first non-null one; wall-clock columns compare as
        // `timestamp`; the incrementing column breaks ties; the suffix goes last.
        let two = vec!["updated".to_string(), "created".to_string()];
        let mut both = query(Mode::TimestampIncrementing, &two, true);
        both.suffix = "LIMIT 10";
        let both = source_sql(&both);
        assert_eq!(
            both.sql,
            "SELECT \"id\", \"at\"::timestamptz AS \"at\", (COALESCE(\"updated\", \"created\"))::timestamp AS conveyor_offset_timestamp, (\"id\")::int8 AS conveyor_offset_incrementing FROM \"public\".\"orders\" WHERE COALESCE(\"updated\", \"created\") < CURRENT_TIMESTAMP - INTERVAL '250 milliseconds' AND ((COALESCE(\"updated\", \"created\") = (TIMESTAMP 'epoch' + $1::int8 * INTERVAL '1 microsecond') AND \"id\" > $2::int8) OR COALESCE(\"updated\", \"created\") > (TIMESTAMP 'epoch' + $1::int8 * INTERVAL '1 microsecond')) ORDER BY COALESCE(\"updated\", \"created\"), \"id\" ASC LIMIT 10"
        );
        assert_eq!(
            (both.timestamp_index, both.incrementing_index),
            (Some(2), Some(3))
        );
    }
}
