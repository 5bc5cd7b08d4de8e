//! The sink's batch writer. A batch of records becomes, per table and run of records that
//! share schemas, one `DELETE ... USING UNNEST` for tombstones and one set-based
//! `INSERT`/upsert/`UPDATE` (or a binary `COPY` for plain inserts), all in one transaction
//! with the Kafka offsets when `delivery.guarantee=exactly_once`.
//!
//! Duplicate keys in a batch resolve to the last record. A batch the database rejects for
//! its data (SQLSTATE classes 22 and 23) is written again a record at a time, each under a
//! savepoint, to find the bad records: they go to the errant record reporter, or fail the
//! task with PostgreSQL's error text when there is none. Other failures (a dropped
//! connection, a restarting server) are retried on a new connection `max.retries` times,
//! `retry.backoff.ms` apart.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::SinkExt;
use tokio_postgres::types::ToSql;
use tokio_postgres::Statement;

use crate::data::{Origin, Record, SchemaRef, TopicPartition, Value};
use crate::errors::{ConnectError, Result};
use crate::plugin::ErrantRecordReporter;

use super::connection::{self, classify, error_text, Failure, PgClient};
use super::encode::{write_cell, ColumnArray, CopyRows};
use super::fields::{plan_columns, record_op, ColumnPlan, Op, RunShape, ValueSource};
use super::identifier::{literal, quote, TableId};
use super::sink_config::{DeliveryGuarantee, InsertMode, SinkConfig};
use super::sql::{self, StatementColumn};
use super::table::{self, NewColumn, TableMeta};
use super::types::{ConnectType, Kind};

/// What a write did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteSummary {
    /// Rows inserted, upserted or updated (after duplicate keys were resolved).
    pub written: usize,
    /// Keys deleted.
    pub deleted: usize,
    /// Records handed to the errant record reporter.
    pub reported: usize,
}

/// Why an attempt failed.
#[derive(Debug)]
enum AttemptError {
    /// The database rejected a row's data: find which records, a row at a time.
    Data(String),
    /// Worth retrying on a new connection.
    Transient(String),
    /// Retrying cannot help.
    Fatal(ConnectError),
}

impl From<tokio_postgres::Error> for AttemptError {
    fn from(e: tokio_postgres::Error) -> Self {
        let text = error_text(&e);
        match classify(&e) {
            Failure::Data => AttemptError::Data(text),
            Failure::Transient => AttemptError::Transient(text),
        }
    }
}

/// A column bound to a table column: where values come from and how they are sent.
#[derive(Clone, Debug)]
struct BoundColumn {
    statement: StatementColumn,
    source: ValueSource,
    schema: Option<SchemaRef>,
}

/// A run of records for one table with the same columns.
struct PreparedRun {
    table: TableId,
    columns: Vec<BoundColumn>,
    /// Record indices whose keys are deleted (one per key).
    deletes: Vec<usize>,
    /// Record indices written, in order (duplicates resolved).
    writes: Vec<usize>,
    /// Binary COPY applies: plain inserts whose columns all take values as they are.
    copy: bool,
}

/// A batch ready to execute.
struct PreparedBatch {
    runs: Vec<PreparedRun>,
    /// Records that cannot be written, with why.
    bad: Vec<(usize, String)>,
    /// Next offset per partition covered by the batch (exactly-once mode).
    offsets: Vec<(TopicPartition, i64)>,
}

/// Writes batches of sink records to PostgreSQL. Owned by one task; moved into the tokio
/// task that runs a write and handed back when it is done.
pub struct BatchWriter {
    config: Arc<SinkConfig>,
    connector: String,
    reporter: Option<Arc<dyn ErrantRecordReporter>>,
    client: Option<PgClient>,
    tables: HashMap<TableId, TableMeta>,
    table_ids: HashMap<String, TableId>,
    statements: HashMap<String, Statement>,
    offsets_table: TableId,
    offsets_table_ready: bool,
    /// Exactly-once: the stored next offset per partition; earlier records are skipped.
    stored_offsets: HashMap<TopicPartition, i64>,
    utc: bool,
}

/// The consumer coordinates of a sink record (before any SMT changed them).
pub fn position(record: &Record) -> Option<(TopicPartition, i64)> {
    match &record.origin {
        Origin::Sink(p) => Some((
            TopicPartition::new(p.original_topic.clone(), p.original_partition),
            p.original_offset,
        )),
        Origin::Source { .. } => None,
    }
}

fn is_utc(tz: &str) -> bool {
    matches!(
        tz.trim().to_ascii_uppercase().as_str(),
        "UTC" | "ETC/UTC" | "GMT" | "ETC/GMT" | "Z" | "UCT" | "ZULU"
    )
}

impl BatchWriter {
    pub fn new(
        config: Arc<SinkConfig>,
        connector: impl Into<String>,
        reporter: Option<Arc<dyn ErrantRecordReporter>>,
    ) -> Result<Self> {
        let offsets_table = TableId::parse(&config.offsets_table).ok_or_else(|| {
            ConnectError::Config(format!(
                "Invalid value {} for configuration offsets.table.name: not a table name",
                config.offsets_table
            ))
        })?;
        let utc = is_utc(&config.connection.timezone);
        Ok(BatchWriter {
            config,
            connector: connector.into(),
            reporter,
            client: None,
            tables: HashMap::new(),
            table_ids: HashMap::new(),
            statements: HashMap::new(),
            offsets_table,
            offsets_table_ready: false,
            stored_offsets: HashMap::new(),
            utc,
        })
    }

    /// Connects (with `connection.attempts`) and, in exactly-once mode, creates the offsets
    /// table.
    pub async fn start(&mut self) -> Result<()> {
        let client = connection::connect(&self.config.connection).await?;
        self.client = Some(client);
        if self.config.delivery == DeliveryGuarantee::ExactlyOnce {
            self.ensure_offsets_table().await.map_err(|e| {
                ConnectError::Other(format!(
                    "could not create the offsets table: {}",
                    error_text(&e)
                ))
            })?;
        }
        Ok(())
    }

    /// Drops the connection and everything tied to it.
    fn reset(&mut self) {
        self.client = None;
        self.statements.clear();
        self.tables.clear();
    }

    /// Connects unless connected.
    async fn connect(&mut self) -> std::result::Result<(), AttemptError> {
        if self.client.as_ref().is_none_or(PgClient::is_closed) {
            self.reset();
            let mut settings = self.config.connection.clone();
            settings.attempts = 1;
            let c = connection::connect(&settings).await.map_err(|e| match e {
                ConnectError::Config(_) => AttemptError::Fatal(e),
                e => AttemptError::Transient(e.to_string()),
            })?;
            self.client = Some(c);
        }
        Ok(())
    }

    /// The connection (a dropped one fails the statement, and the retry reconnects).
    fn conn(&self) -> std::result::Result<&PgClient, AttemptError> {
        self.client
            .as_ref()
            .ok_or_else(|| AttemptError::Transient("not connected".into()))
    }

    async fn ensure_offsets_table(&mut self) -> std::result::Result<(), tokio_postgres::Error> {
        if self.offsets_table_ready {
            return Ok(());
        }
        let Some(client) = self.client.as_ref() else {
            return Ok(());
        };
        client
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {} (connector TEXT NOT NULL, topic TEXT NOT NULL, \"partition\" INT NOT NULL, next_offset BIGINT NOT NULL, PRIMARY KEY (connector, topic, \"partition\"))",
                self.offsets_table.quoted()
            ))
            .await?;
        self.offsets_table_ready = true;
        Ok(())
    }

    /// Exactly-once: the next offsets stored for `partitions`; records before them are
    /// skipped from now on.
    pub async fn load_offsets(
        &mut self,
        partitions: &[TopicPartition],
    ) -> Result<HashMap<TopicPartition, i64>> {
        let mut attempt = 0;
        loop {
            match self.try_load_offsets(partitions).await {
                Ok(found) => {
                    for p in partitions {
                        self.stored_offsets.remove(p);
                    }
                    self.stored_offsets.extend(found.clone());
                    return Ok(found);
                }
                Err(AttemptError::Fatal(e)) => return Err(e),
                Err(AttemptError::Data(text) | AttemptError::Transient(text)) => {
                    attempt += 1;
                    if attempt > self.config.max_retries {
                        return Err(ConnectError::Other(format!(
                            "could not read stored offsets from {} after {} retries: {text}",
                            self.offsets_table, self.config.max_retries
                        )));
                    }
                    self.reset();
                    tokio::time::sleep(self.config.retry_backoff).await;
                }
            }
        }
    }

    async fn try_load_offsets(
        &mut self,
        partitions: &[TopicPartition],
    ) -> std::result::Result<HashMap<TopicPartition, i64>, AttemptError> {
        self.connect().await?;
        self.ensure_offsets_table().await?;
        let client = self.conn()?;
        let rows = client
            .query(
                &format!(
                    "SELECT topic, \"partition\", next_offset FROM {} WHERE connector = $1",
                    self.offsets_table.quoted()
                ),
                &[&self.connector],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    TopicPartition::new(r.get::<_, String>(0), r.get(1)),
                    r.get(2),
                )
            })
            .filter(|(tp, _)| partitions.contains(tp))
            .collect())
    }

    /// Forgets partitions that were revoked.
    pub fn forget(&mut self, partitions: &[TopicPartition]) {
        for p in partitions {
            self.stored_offsets.remove(p);
        }
    }

    /// Writes `records`: retries transient failures, finds bad records when the batch is
    /// rejected for its data.
    pub async fn write(&mut self, records: &[Record]) -> Result<WriteSummary> {
        let mut attempt = 0u32;
        let mut one_by_one = false;
        loop {
            let result = self.attempt(records, one_by_one).await;
            match result {
                Ok(summary) => return Ok(summary),
                Err(AttemptError::Fatal(e)) => return Err(e),
                Err(AttemptError::Data(text)) if !one_by_one => {
                    tracing::info!(error = %text, records = records.len(), "batch rejected; writing its records one at a time to find the bad ones");
                    one_by_one = true;
                }
                Err(AttemptError::Data(text) | AttemptError::Transient(text)) => {
                    attempt += 1;
                    if attempt > self.config.max_retries {
                        return Err(ConnectError::Other(format!(
                            "writing {} records to PostgreSQL failed after {} retries: {text}",
                            records.len(),
                            self.config.max_retries
                        )));
                    }
                    tracing::warn!(
                        error = %text, attempt, max_retries = self.config.max_retries,
                        backoff_ms = self.config.retry_backoff.as_millis() as u64,
                        "write to PostgreSQL failed; reconnecting and retrying"
                    );
                    self.reset();
                    tokio::time::sleep(self.config.retry_backoff).await;
                    if self.config.delivery == DeliveryGuarantee::ExactlyOnce {
                        // The failed COMMIT may have gone through: skip what is stored.
                        let mut partitions: Vec<TopicPartition> = records
                            .iter()
                            .filter_map(|r| position(r).map(|p| p.0))
                            .collect();
                        partitions.dedup();
                        if let Ok(found) = self.try_load_offsets(&partitions).await {
                            for p in &partitions {
                                self.stored_offsets.remove(p);
                            }
                            self.stored_offsets.extend(found);
                        }
                    }
                }
            }
        }
    }

    async fn attempt(
        &mut self,
        records: &[Record],
        one_by_one: bool,
    ) -> std::result::Result<WriteSummary, AttemptError> {
        self.connect().await?;
        let started = std::time::Instant::now();
        let batch = self.prepare(records).await?;
        let prepared = started.elapsed();
        if !batch.bad.is_empty() && self.reporter.is_none() {
            let (i, why) = &batch.bad[0];
            return Err(AttemptError::Fatal(ConnectError::Data(format!(
                "{} (record at topic '{}', partition {}, offset {})",
                why,
                records[*i].topic,
                records[*i].kafka_partition.unwrap_or(-1),
                records[*i].kafka_offset().unwrap_or(-1)
            ))));
        }
        let summary = if one_by_one {
            self.execute_one_by_one(records, batch).await
        } else {
            self.execute(records, batch).await
        }?;
        tracing::debug!(
            connector = %self.connector, records = records.len(), written = summary.written, deleted = summary.deleted,
            reported = summary.reported, prepare_us = prepared.as_micros() as u64,
            total_us = started.elapsed().as_micros() as u64, "batch written"
        );
        Ok(summary)
    }

    fn table_id(&mut self, topic: &str) -> std::result::Result<TableId, String> {
        if let Some(t) = self.table_ids.get(topic) {
            return Ok(t.clone());
        }
        let name = self.config.table_name(topic);
        let id = TableId::parse(&name).ok_or_else(|| {
            format!("table.name.format gives '{name}' for topic '{topic}', which is not a valid table name")
        })?;
        self.table_ids.insert(topic.to_string(), id.clone());
        Ok(id)
    }

    /// Plans and encodes a batch; issues DDL for missing tables and columns.
    async fn prepare(
        &mut self,
        records: &[Record],
    ) -> std::result::Result<PreparedBatch, AttemptError> {
        let mut bad: Vec<(usize, String)> = Vec::new();
        let mut offsets: HashMap<TopicPartition, i64> = HashMap::new();
        let exactly_once = self.config.delivery == DeliveryGuarantee::ExactlyOnce;
        // Records grouped by table, in first-seen order; each group in record order.
        let mut groups: Vec<(TableId, Vec<(usize, Op)>)> = Vec::new();
        let mut group_of: HashMap<TableId, usize> = HashMap::new();
        // Most batches come from one topic: remember the last topic's group.
        let mut last_topic: Option<(&str, usize)> = None;
        for (i, r) in records.iter().enumerate() {
            if exactly_once || !self.stored_offsets.is_empty() {
                if let Some((tp, offset)) = position(r) {
                    if self
                        .stored_offsets
                        .get(&tp)
                        .is_some_and(|stored| offset < *stored)
                    {
                        continue;
                    }
                    let next = offsets.entry(tp).or_insert(offset + 1);
                    *next = (*next).max(offset + 1);
                }
            }
            let op = match record_op(&self.config, r) {
                Ok(op) => op,
                Err(why) => {
                    bad.push((i, why));
                    continue;
                }
            };
            let g = match last_topic {
                Some((topic, g)) if topic == r.topic => g,
                _ => {
                    let table = match self.table_id(&r.topic) {
                        Ok(t) => t,
                        Err(why) => {
                            bad.push((i, why));
                            continue;
                        }
                    };
                    let g = *group_of.entry(table.clone()).or_insert_with(|| {
                        groups.push((table, Vec::new()));
                        groups.len() - 1
                    });
                    last_topic = Some((r.topic.as_str(), g));
                    g
                }
            };
            groups[g].1.push((i, op));
        }
        let mut runs = Vec::new();
        for (table, members) in groups {
            // Runs: consecutive records that share schemas.
            let mut start = 0;
            while start < members.len() {
                let mut shape = RunShape::default();
                let mut end = start;
                while end < members.len() {
                    let (i, op) = members[end];
                    if !shape.admit(&records[i], op) {
                        break;
                    }
                    end += 1;
                }
                let run = &members[start..end];
                start = end;
                match self.prepare_run(&table, records, run, &mut bad).await {
                    Ok(Some(r)) => runs.push(r),
                    Ok(None) => {}
                    Err(AttemptError::Data(why)) => {
                        bad.extend(run.iter().map(|(i, _)| (*i, why.clone())));
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        let mut offsets: Vec<(TopicPartition, i64)> = offsets.into_iter().collect();
        offsets.sort();
        bad.sort_by_key(|(i, _)| *i);
        Ok(PreparedBatch { runs, bad, offsets })
    }

    /// Plans one run's columns against its table (creating or altering it), and picks the
    /// rows to delete and write. `Data` errors apply to every record of the run.
    async fn prepare_run(
        &mut self,
        table: &TableId,
        records: &[Record],
        run: &[(usize, Op)],
        bad: &mut Vec<(usize, String)>,
    ) -> std::result::Result<Option<PreparedRun>, AttemptError> {
        let refs: Vec<&Record> = run.iter().map(|(i, _)| &records[*i]).collect();
        let ops: Vec<Op> = run.iter().map(|(_, op)| *op).collect();
        let plans = plan_columns(&self.config, &refs, &ops).map_err(AttemptError::Data)?;
        let meta = self.ensure_table(table, &plans).await?;
        let columns = self.bind(&plans, &meta);
        let keys: Vec<usize> = (0..columns.len())
            .filter(|c| columns[*c].statement.key)
            .collect();
        let mut deletes = Vec::new();
        let mut writes = Vec::new();
        let has_deletes = ops.contains(&Op::Delete);
        if keys.is_empty() || (self.config.insert_mode == InsertMode::Insert && !has_deletes) {
            // Nothing to resolve: every record is a row.
            writes.extend(
                run.iter()
                    .filter(|(_, op)| *op == Op::Write)
                    .map(|(i, _)| *i),
            );
        } else {
            // Per distinct key (its encoded cells): the last write and the last delete.
            let mut slot_of: HashMap<Vec<u8>, usize> = HashMap::with_capacity(run.len());
            let mut slots: Vec<(Option<usize>, Option<usize>)> = Vec::with_capacity(run.len());
            let mut keyed: Vec<(usize, usize)> = Vec::with_capacity(run.len());
            let mut scratch = BytesMut::new();
            'records: for (i, op) in run {
                scratch.clear();
                for c in &keys {
                    let col = &columns[*c];
                    let value = col.source.get(&records[*i]);
                    if value.is_null() {
                        bad.push((
                            *i,
                            format!("the primary key column \"{}\" is null", col.statement.name),
                        ));
                        continue 'records;
                    }
                    if let Err(why) = write_cell(
                        col.statement.kind,
                        col.schema.as_ref(),
                        &value,
                        &mut scratch,
                    ) {
                        bad.push((*i, format!("column \"{}\": {why}", col.statement.name)));
                        continue 'records;
                    }
                }
                let slot = match slot_of.get(&scratch[..]) {
                    Some(s) => *s,
                    None => {
                        slots.push((None, None));
                        slot_of.insert(scratch.to_vec(), slots.len() - 1);
                        slots.len() - 1
                    }
                };
                match op {
                    Op::Delete => slots[slot].1 = Some(*i),
                    Op::Write => slots[slot].0 = Some(*i),
                }
                if *op == Op::Write {
                    keyed.push((*i, slot));
                }
            }
            let after_delete = |i: usize, slot: usize| slots[slot].1.is_none_or(|d| i > d);
            deletes.extend(slots.iter().filter_map(|(_, d)| *d));
            deletes.sort_unstable();
            match self.config.insert_mode {
                InsertMode::Insert => writes.extend(
                    keyed
                        .iter()
                        .filter(|(i, slot)| after_delete(*i, *slot))
                        .map(|(i, _)| *i),
                ),
                InsertMode::Upsert | InsertMode::Update => {
                    writes.extend(
                        slots
                            .iter()
                            .enumerate()
                            .filter_map(|(slot, (w, _))| w.filter(|w| after_delete(*w, slot))),
                    );
                    writes.sort_unstable();
                }
            }
        }
        if columns.is_empty() || (deletes.is_empty() && writes.is_empty()) {
            return Ok(None);
        }
        let copy = self.config.insert_mode == InsertMode::Insert
            && columns.iter().all(|c| c.statement.cast.is_none());
        Ok(Some(PreparedRun {
            table: table.clone(),
            columns,
            deletes,
            writes,
            copy,
        }))
    }

    /// The table's columns, after creating the table or adding missing columns as
    /// `auto.create` and `auto.evolve` allow.
    async fn ensure_table(
        &mut self,
        table: &TableId,
        plans: &[ColumnPlan],
    ) -> std::result::Result<TableMeta, AttemptError> {
        let quoting = self.config.quoting;
        let meta = match self.tables.get(table) {
            Some(m) => Some(m.clone()),
            None => {
                let client = self.conn()?;
                table::describe(client, table).await?
            }
        };
        let meta = match meta {
            Some(m) => m,
            None => {
                if !self.config.auto_create {
                    return Err(AttemptError::Data(format!(
                        "Table {} is missing and auto-creation is disabled",
                        quote(&table.to_string())
                    )));
                }
                let columns: Vec<NewColumn> = plans
                    .iter()
                    .filter_map(|p| new_column(p, !p.key && p.optional))
                    .collect();
                let pk: Vec<String> = plans
                    .iter()
                    .filter(|p| p.key)
                    .map(|p| p.name.clone())
                    .collect();
                if columns.is_empty() {
                    return Err(AttemptError::Data(format!(
                        "cannot create table {table}: the records have no fields"
                    )));
                }
                let ddl = table::create_table_sql(table, &columns, &pk, quoting);
                tracing::info!(table = %table, sql = %ddl, "creating table");
                let client = self.conn()?;
                client.batch_execute(&ddl).await.map_err(ddl_error)?;
                table::describe(client, table).await?.ok_or_else(|| {
                    AttemptError::Transient(format!(
                        "table {table} was created but cannot be found"
                    ))
                })?
            }
        };
        let missing: Vec<&ColumnPlan> = plans
            .iter()
            .filter(|p| p.connect.is_some() && meta.column(&p.name).is_none())
            .collect();
        let meta = if missing.is_empty() {
            meta
        } else {
            if !self.config.auto_evolve {
                let names: Vec<&str> = missing.iter().map(|p| p.name.as_str()).collect();
                return Err(AttemptError::Data(format!(
                    "Table {} is missing fields ({}) and auto-evolution is disabled",
                    quote(&table.to_string()),
                    names.join(", ")
                )));
            }
            let columns: Vec<NewColumn> =
                missing.iter().filter_map(|p| new_column(p, true)).collect();
            let ddl = table::add_columns_sql(table, &columns, quoting);
            tracing::info!(table = %table, sql = %ddl, "adding columns");
            // Statements prepared against the old columns are invalid now.
            self.statements.clear();
            let client = self.conn()?;
            client.batch_execute(&ddl).await.map_err(ddl_error)?;
            table::describe(client, table)
                .await?
                .ok_or_else(|| AttemptError::Transient(format!("table {table} disappeared")))?
        };
        self.tables.insert(table.clone(), meta.clone());
        Ok(meta)
    }

    /// Binds planned columns to the table's columns (skipping all-null schemaless columns the
    /// table does not have).
    fn bind(&self, plans: &[ColumnPlan], meta: &TableMeta) -> Vec<BoundColumn> {
        plans
            .iter()
            .filter_map(|p| {
                let column = meta.column(&p.name)?;
                let kind = match (&p.shapes, &p.connect) {
                    (Some(shapes), _) => Kind::choose_schemaless(shapes, &column.pg_type, self.utc),
                    (None, Some(connect)) => Kind::choose(connect, &column.pg_type, self.utc),
                    (None, None) => Kind::Text,
                };
                let cast = (!kind.is_native_for(&column.pg_type)).then(|| column.sql_type.clone());
                Some(BoundColumn {
                    statement: StatementColumn {
                        name: p.name.clone(),
                        kind,
                        cast,
                        key: p.key,
                    },
                    source: p.source.clone(),
                    schema: p.schema.clone(),
                })
            })
            .collect()
    }

    async fn statement(&mut self, sql: &str) -> std::result::Result<Statement, AttemptError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let client = self.conn()?;
        let s = client.prepare(sql).await?;
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    async fn begin(&mut self) -> std::result::Result<(), AttemptError> {
        self.conn()?.batch_execute("BEGIN").await?;
        Ok(())
    }

    async fn rollback(&mut self) {
        if let Some(c) = self.client.as_ref() {
            if let Err(e) = c.batch_execute("ROLLBACK").await {
                tracing::debug!(error = %error_text(&e), "rollback failed");
            }
        }
    }

    /// The batch in one transaction: deletes, then writes, then offsets.
    async fn execute(
        &mut self,
        records: &[Record],
        batch: PreparedBatch,
    ) -> std::result::Result<WriteSummary, AttemptError> {
        let mut summary = WriteSummary::default();
        let mut bad = batch.bad;
        self.begin().await?;
        let result: std::result::Result<(), AttemptError> = async {
            for run in &batch.runs {
                let chunk = self.config.batch_size.max(1);
                for rows in run.deletes.chunks(chunk) {
                    summary.deleted += self.delete(run, records, rows, &mut bad).await?;
                }
                for rows in run.writes.chunks(chunk) {
                    summary.written += self
                        .write_rows(run, records, rows, &mut bad, run.copy)
                        .await?;
                }
            }
            self.store_offsets(&batch.offsets).await?;
            summary.reported = self.report(records, &bad)?;
            self.conn()?.batch_execute("COMMIT").await?;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            self.rollback().await;
            return Err(e);
        }
        self.committed(&batch.offsets);
        Ok(summary)
    }

    /// The batch in one transaction, each record under its own savepoint: records the
    /// database rejects are reported (or fail the write when there is no reporter).
    async fn execute_one_by_one(
        &mut self,
        records: &[Record],
        batch: PreparedBatch,
    ) -> std::result::Result<WriteSummary, AttemptError> {
        let mut summary = WriteSummary::default();
        let mut bad = batch.bad;
        self.begin().await?;
        let result: std::result::Result<(), AttemptError> = async {
            for run in &batch.runs {
                for &i in &run.deletes {
                    summary.deleted += self
                        .savepointed(run, records, i, Op::Delete, &mut bad)
                        .await?;
                }
                for &i in &run.writes {
                    summary.written += self
                        .savepointed(run, records, i, Op::Write, &mut bad)
                        .await?;
                }
            }
            self.store_offsets(&batch.offsets).await?;
            summary.reported = self.report(records, &bad)?;
            self.conn()?.batch_execute("COMMIT").await?;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            self.rollback().await;
            return Err(e);
        }
        self.committed(&batch.offsets);
        Ok(summary)
    }

    async fn savepointed(
        &mut self,
        run: &PreparedRun,
        records: &[Record],
        i: usize,
        op: Op,
        bad: &mut Vec<(usize, String)>,
    ) -> std::result::Result<usize, AttemptError> {
        self.conn()?
            .batch_execute("SAVEPOINT conveyor_record")
            .await?;
        let result = match op {
            Op::Delete => self.delete(run, records, &[i], bad).await,
            Op::Write => self.write_rows(run, records, &[i], bad, false).await,
        };
        match result {
            Ok(n) => {
                self.conn()?
                    .batch_execute("RELEASE SAVEPOINT conveyor_record")
                    .await?;
                Ok(n)
            }
            Err(AttemptError::Data(text)) => {
                if self.reporter.is_none() {
                    let r = &records[i];
                    return Err(AttemptError::Fatal(ConnectError::Data(format!(
                        "{text} (record at topic '{}', partition {}, offset {})",
                        r.topic,
                        r.kafka_partition.unwrap_or(-1),
                        r.kafka_offset().unwrap_or(-1)
                    ))));
                }
                self.conn()?
                    .batch_execute("ROLLBACK TO SAVEPOINT conveyor_record")
                    .await?;
                bad.push((i, text));
                Ok(0)
            }
            Err(e) => Err(e),
        }
    }

    /// Encodes `rows` as one array per column; rows whose values cannot be encoded are
    /// added to `bad`. Returns the arrays and how many rows they hold.
    fn arrays(
        columns: &[&BoundColumn],
        records: &[Record],
        rows: &[usize],
        bad: &mut Vec<(usize, String)>,
    ) -> (Vec<ColumnArray>, usize) {
        let mut arrays: Vec<ColumnArray> = columns
            .iter()
            .map(|c| ColumnArray::new(c.statement.kind, c.schema.clone(), rows.len()))
            .collect();
        let mut count = 0;
        for &i in rows {
            let marks: Vec<_> = arrays.iter().map(ColumnArray::mark).collect();
            let mut failed = None;
            for (c, array) in columns.iter().zip(arrays.iter_mut()) {
                if let Err(why) = array.push(&c.source.get(&records[i])) {
                    failed = Some(format!("column \"{}\": {why}", c.statement.name));
                    break;
                }
            }
            match failed {
                Some(why) => {
                    for (array, mark) in arrays.iter_mut().zip(marks) {
                        array.rollback(mark);
                    }
                    bad.push((i, why));
                }
                None => count += 1,
            }
        }
        (arrays, count)
    }

    async fn run_arrays(
        &mut self,
        sql: &str,
        arrays: &[ColumnArray],
    ) -> std::result::Result<usize, AttemptError> {
        let statement = self.statement(sql).await?;
        let params: Vec<&(dyn ToSql + Sync)> =
            arrays.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
        let n = self.conn()?.execute(&statement, &params).await?;
        Ok(n as usize)
    }

    async fn delete(
        &mut self,
        run: &PreparedRun,
        records: &[Record],
        rows: &[usize],
        bad: &mut Vec<(usize, String)>,
    ) -> std::result::Result<usize, AttemptError> {
        let keys: Vec<&BoundColumn> = run.columns.iter().filter(|c| c.statement.key).collect();
        let (arrays, count) = Self::arrays(&keys, records, rows, bad);
        if count == 0 {
            return Ok(0);
        }
        let statements: Vec<StatementColumn> = keys.iter().map(|c| c.statement.clone()).collect();
        let sql = sql::delete(&run.table, &statements, self.config.quoting);
        self.run_arrays(&sql, &arrays).await
    }

    async fn write_rows(
        &mut self,
        run: &PreparedRun,
        records: &[Record],
        rows: &[usize],
        bad: &mut Vec<(usize, String)>,
        copy: bool,
    ) -> std::result::Result<usize, AttemptError> {
        let quoting = self.config.quoting;
        let statements: Vec<StatementColumn> =
            run.columns.iter().map(|c| c.statement.clone()).collect();
        if copy {
            let Some(data) = Self::copy_rows(&run.columns, records, rows, bad) else {
                return Ok(0);
            };
            let sql = sql::copy_in(&run.table, &statements, quoting);
            let client = self.conn()?;
            let sink = client.copy_in::<_, Bytes>(sql.as_str()).await?;
            futures::pin_mut!(sink);
            sink.send(data).await?;
            let n = sink.as_mut().finish().await?;
            return Ok(n as usize);
        }
        let sql = match self.config.insert_mode {
            InsertMode::Insert => sql::insert(&run.table, &statements, quoting),
            InsertMode::Upsert => sql::upsert(&run.table, &statements, quoting),
            InsertMode::Update => match sql::update(&run.table, &statements, quoting) {
                Some(s) => s,
                None => return Ok(0),
            },
        };
        let all: Vec<&BoundColumn> = run.columns.iter().collect();
        let (arrays, count) = Self::arrays(&all, records, rows, bad);
        if count == 0 {
            return Ok(0);
        }
        self.run_arrays(&sql, &arrays).await?;
        Ok(count)
    }

    fn copy_rows(
        columns: &[BoundColumn],
        records: &[Record],
        rows: &[usize],
        bad: &mut Vec<(usize, String)>,
    ) -> Option<Bytes> {
        let mut out = CopyRows::new(rows.len() * columns.len() * 12);
        for &i in rows {
            let mark = out.begin_row(columns.len());
            let mut failed = None;
            for c in columns {
                if let Err(why) = out.cell(
                    c.statement.kind,
                    c.schema.as_ref(),
                    &c.source.get(&records[i]),
                ) {
                    failed = Some(format!("column \"{}\": {why}", c.statement.name));
                    break;
                }
            }
            match failed {
                Some(why) => {
                    out.abandon_row(mark);
                    bad.push((i, why));
                }
                None => out.end_row(),
            }
        }
        (out.rows() > 0).then(|| out.finish())
    }

    async fn store_offsets(
        &mut self,
        offsets: &[(TopicPartition, i64)],
    ) -> std::result::Result<(), AttemptError> {
        if self.config.delivery != DeliveryGuarantee::ExactlyOnce || offsets.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO {} (connector, topic, \"partition\", next_offset) \
             SELECT $1::text, v.t, v.p, v.o FROM UNNEST($2::text[], $3::int4[], $4::int8[]) AS v(t, p, o) \
             ON CONFLICT (connector, topic, \"partition\") DO UPDATE SET next_offset = EXCLUDED.next_offset",
            self.offsets_table.quoted()
        );
        let statement = self.statement(&sql).await?;
        let topics: Vec<&str> = offsets.iter().map(|(tp, _)| tp.topic.as_str()).collect();
        let partitions: Vec<i32> = offsets.iter().map(|(tp, _)| tp.partition).collect();
        let next: Vec<i64> = offsets.iter().map(|(_, o)| *o).collect();
        let params: [&(dyn ToSql + Sync); 4] = [&self.connector, &topics, &partitions, &next];
        self.conn()?.execute(&statement, &params).await?;
        Ok(())
    }

    /// Records the offsets a committed transaction stored (exactly-once mode).
    fn committed(&mut self, offsets: &[(TopicPartition, i64)]) {
        if self.config.delivery == DeliveryGuarantee::ExactlyOnce {
            for (tp, o) in offsets {
                self.stored_offsets.insert(tp.clone(), *o);
            }
        }
    }

    /// Hands bad records to the reporter (before the transaction commits, so that a crash
    /// can only report a record twice, never lose it).
    fn report(
        &self,
        records: &[Record],
        bad: &[(usize, String)],
    ) -> std::result::Result<usize, AttemptError> {
        let Some(reporter) = &self.reporter else {
            return match bad.first() {
                Some((_, why)) => Err(AttemptError::Fatal(ConnectError::Data(why.clone()))),
                None => Ok(0),
            };
        };
        for (i, why) in bad {
            tracing::warn!(
                topic = %records[*i].topic, partition = records[*i].kafka_partition.unwrap_or(-1),
                offset = records[*i].kafka_offset().unwrap_or(-1), error = %why,
                "reporting a record PostgreSQL rejected"
            );
            reporter
                .report(&records[*i], &ConnectError::Data(why.clone()))
                .map_err(AttemptError::Fatal)?;
        }
        Ok(bad.len())
    }
}

/// DDL failures: a table or column created meanwhile by another task is fine on retry.
fn ddl_error(e: tokio_postgres::Error) -> AttemptError {
    AttemptError::Transient(format!("DDL failed: {}", error_text(&e)))
}

/// The column `auto.create`/`auto.evolve` adds for a planned column (none for a schemaless
/// column that only had nulls).
fn new_column(plan: &ColumnPlan, nullable: bool) -> Option<NewColumn> {
    let connect = plan.connect.as_ref()?;
    Some(NewColumn {
        name: plan.name.clone(),
        sql_type: connect.sql_type(),
        not_null: !nullable,
        default: plan
            .schema
            .as_ref()
            .and_then(|s| default_literal(connect, s.default.as_ref()?)),
    })
}

/// A schema default as a SQL literal, for the types whose literal is unambiguous.
fn default_literal(connect: &ConnectType, value: &Value) -> Option<String> {
    use ConnectType as C;
    match (connect, value) {
        (C::Int8 | C::Int16 | C::Int32 | C::Int64, v) => v.as_i64().map(|n| n.to_string()),
        (C::Float32 | C::Float64, v) => v.as_f64().filter(|f| f.is_finite()).map(|f| f.to_string()),
        (C::Boolean, Value::Boolean(b)) => Some(b.to_string().to_uppercase()),
        (C::String, Value::String(s)) => Some(literal(s)),
        _ => None,
    }
}
