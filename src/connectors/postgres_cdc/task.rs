//! The task: prepares the server (publication, slot), snapshots the captured tables in the
//! slot's exported snapshot when `snapshot.mode` asks for it, then streams pgoutput changes,
//! and confirms an LSN to the slot only once Conveyor has committed the offset that covers it.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::FutureExt;
use pgwire_replication::{Lsn, ReplicationClient, ReplicationConfig, ReplicationEvent, TlsConfig};
use serde_json::{json, Value as Json};
use tokio_postgres::SimpleQueryMessage;

use crate::config::ConfigMap;
use crate::connectors::postgres::{connect_settings, error_text, sqlstate, PgClient};
use crate::data::{OffsetMap, Record, SourcePartition, Value};
use crate::errors::{ConnectError, Result};
use crate::plugin::{SourceTask, SourceTaskContext};

use super::catalog::{self, literal, quote, TableRef, TypeCache};
use super::config::{AutocreateMode, CdcConfig, SnapshotMode};
use super::events::{self, SharedModel, SourceInfo, TableModel};
use super::pgoutput::{self, Message, TupleValue};

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_US: i64 = 946_684_800_000_000;
/// The cursor of a snapshot.
const CURSOR: &str = "conveyor_cdc_snapshot";
/// Session settings that make every value's text form the one `types::convert` reads, on the
/// SQL connection and on the replication connection alike.
const SESSION_SETTINGS: [(&str, &str); 4] = [
    ("TimeZone", "UTC"),
    ("DateStyle", "ISO"),
    ("IntervalStyle", "postgres"),
    ("bytea_output", "hex"),
];
/// Offset key (beyond Debezium's) with the number of events of the transaction at
/// `lsn_commit` already returned, so that a restart inside a transaction skips them.
const TX_EVENTS: &str = "conveyor_tx_events";

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

fn server_error(what: &str, e: &tokio_postgres::Error) -> ConnectError {
    let text = error_text(e);
    match sqlstate(e) {
        // insufficient_privilege, object_not_in_prerequisite_state, undefined_object: a
        // retry cannot help.
        Some("42501") | Some("55000") | Some("42704") => {
            ConnectError::Config(format!("{what}: {text}"))
        }
        _ => ConnectError::Retriable(format!("{what}: {text}")),
    }
}

/// Where a restart resumes: what the committed offset says.
#[derive(Clone, Debug, Default)]
struct Resume {
    /// Commit LSN of the transaction of the last committed event.
    lsn_commit: u64,
    /// Events of that transaction already returned; None: unknown (a Debezium offset).
    tx_events: Option<u64>,
}

/// A snapshot row not yet returned: it is held back until the next one shows whether it is
/// the last of its table or of the whole snapshot (`source.snapshot` says so).
struct HeldRow {
    model: SharedModel,
    tuple: Vec<TupleValue>,
    first: bool,
    first_in_table: bool,
}

struct Snapshot {
    tables: VecDeque<TableRef>,
    current: Option<SharedModel>,
    lsn: u64,
    tx_id: Option<i64>,
    ts_us: i64,
    held: Option<HeldRow>,
    emitted_any: bool,
    table_rows: u64,
}

struct TxState {
    xid: u32,
    final_lsn: u64,
    commit_us: i64,
    /// Events of this transaction seen so far (returned or skipped).
    events: u64,
}

struct Stream {
    repl: ReplicationClient,
    tx: Option<TxState>,
    /// Relation OID to model; None: a table that is not captured.
    models: HashMap<u32, Option<SharedModel>>,
    last_commit_lsn: u64,
    last_heartbeat: Instant,
}

enum Phase {
    Snapshot(Box<Snapshot>),
    Stream(Box<Stream>),
    /// `initial_only` after its snapshot: nothing more to do.
    Done,
}

/// `io.debezium.connector.postgresql.PostgresConnectorTask`.
#[derive(Default)]
pub struct PostgresCdcTask {
    config: Option<Arc<CdcConfig>>,
    ctx: Option<SourceTaskContext>,
    partition: Option<SourcePartition>,
    client: Option<PgClient>,
    types: TypeCache,
    phase: Option<Phase>,
    resume: Resume,
    /// The position of the last change returned by `poll`: where a new replication session
    /// resumes after the connection was lost (what was returned is on its way to Kafka).
    returned: Resume,
    /// The highest LSN confirmed to the slot.
    confirmed: u64,
}

impl PostgresCdcTask {
    fn config(&self) -> Result<Arc<CdcConfig>> {
        self.config
            .clone()
            .ok_or_else(|| ConnectError::Other("task not started".into()))
    }

    fn client(&self) -> Result<&PgClient> {
        self.client
            .as_ref()
            .ok_or_else(|| ConnectError::Retriable("not connected to PostgreSQL".into()))
    }

    fn replication_config(config: &CdcConfig) -> ReplicationConfig {
        let tls = match config.sslmode.as_str() {
            "disable" | "allow" => TlsConfig::disabled(),
            "prefer" => TlsConfig {
                mode: pgwire_replication::SslMode::Prefer,
                ..TlsConfig::default()
            },
            "require" => TlsConfig::require(),
            mode => {
                let ca = config.sslrootcert.clone().map(Into::into);
                let tls = if mode == "verify-ca" {
                    TlsConfig::verify_ca(ca)
                } else {
                    TlsConfig::verify_full(ca)
                };
                match (&config.sslcert, &config.sslkey) {
                    (Some(c), Some(k)) => tls.with_client_cert(c, k),
                    _ => tls,
                }
            }
        };
        let options = SESSION_SETTINGS
            .iter()
            .map(|(k, v)| format!("-c {k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        ReplicationConfig::new(
            config.hostname.clone(),
            config.user.clone(),
            config.password.clone().unwrap_or_default(),
            config.dbname.clone(),
            config.slot_name.clone(),
            config.publication_name.clone(),
        )
        .with_port(config.port)
        .with_tls(tls)
        .with_options(options)
        .with_application_name("conveyor-cdc")
        .with_status_interval(Duration::from_secs(1))
    }

    fn replication_error(config: &CdcConfig, e: pgwire_replication::PgWireError) -> ConnectError {
        let text = e.to_string();
        let at = format!(
            "replication connection to {} (slot {})",
            config.display(),
            config.slot_name
        );
        if text.contains("permission")
            || text.contains("must be superuser")
            || text.contains("replication role")
            || text.contains("pg_hba.conf")
        {
            ConnectError::Config(format!("{at}: {text}: the user {} needs the REPLICATION attribute (ALTER ROLE {} REPLICATION) and a pg_hba.conf entry for replication connections", config.user, config.user))
        } else if text.contains("does not exist")
            || text.contains("can no longer get changes")
            || text.contains("has been invalidated")
        {
            ConnectError::Config(format!("{at}: {text}"))
        } else {
            ConnectError::Retriable(format!("{at}: {text}"))
        }
    }

    /// The replication slot disappeared while the connector ran: the changes since its last
    /// confirmed position are lost to it, so the task cannot go on by itself.
    fn slot_dropped(config: &CdcConfig, lsn: u64, cause: &ConnectError) -> ConnectError {
        ConnectError::Config(format!(
            "The replication slot {} no longer exists in {}: it was dropped while the connector was running (last position {}), and the changes since are lost to it. Restart the connector with snapshot.mode=when_needed (or always) to take a new snapshot, or delete the connector's offsets ({cause})",
            config.slot_name,
            config.display(),
            Lsn::from_u64(lsn).to_pg_string(),
        ))
    }

    /// Checks `wal_level` and creates or updates the publication as
    /// `publication.autocreate.mode` says.
    async fn prepare_server(&self, config: &CdcConfig) -> Result<()> {
        let client = self.client()?;
        let rows = client
            .simple_query("SHOW wal_level")
            .await
            .map_err(|e| server_error("could not read wal_level", &e))?;
        let level = rows.iter().find_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).map(String::from),
            _ => None,
        });
        if level.as_deref() != Some("logical") {
            return Err(ConnectError::Config(format!(
                "PostgreSQL at {} has wal_level={}: change data capture needs wal_level=logical (ALTER SYSTEM SET wal_level = logical, then restart the server)",
                config.display(),
                level.unwrap_or_default()
            )));
        }
        let exists = client
            .query_opt(
                "SELECT 1 FROM pg_publication WHERE pubname = $1",
                &[&config.publication_name],
            )
            .await
            .map_err(|e| server_error("could not read publications", &e))?
            .is_some();
        let publication = quote(&config.publication_name);
        let filtered_tables = || async {
            let tables = catalog::captured_tables(client, config).await?;
            if tables.is_empty() {
                return Err(ConnectError::Config(format!(
                    "publication.autocreate.mode=filtered: no table in {} matches table.include.list/table.exclude.list",
                    config.display()
                )));
            }
            Ok(tables
                .iter()
                .map(TableRef::quoted)
                .collect::<Vec<_>>()
                .join(", "))
        };
        let sql = match (exists, config.autocreate) {
            (false, AutocreateMode::Disabled) => {
                return Err(ConnectError::Config(format!(
                    "The publication {} does not exist in {} and publication.autocreate.mode=disabled: create it (CREATE PUBLICATION {} FOR ALL TABLES) or choose another mode",
                    config.publication_name,
                    config.display(),
                    publication
                )))
            }
            (false, AutocreateMode::AllTables) => {
                format!("CREATE PUBLICATION {publication} FOR ALL TABLES")
            }
            (false, AutocreateMode::NoTables) => format!("CREATE PUBLICATION {publication}"),
            (false, AutocreateMode::Filtered) => {
                format!("CREATE PUBLICATION {publication} FOR TABLE {}", filtered_tables().await?)
            }
            (true, AutocreateMode::Filtered) => {
                format!("ALTER PUBLICATION {publication} SET TABLE {}", filtered_tables().await?)
            }
            (true, _) => return Ok(()),
        };
        tracing::info!(publication = %config.publication_name, sql = %sql, "preparing the publication");
        client.batch_execute(&sql).await.map_err(|e| {
            server_error(
                &format!(
                    "could not create or change the publication {} (publication.autocreate.mode needs the CREATE privilege on the database, and ownership of the tables or superuser for FOR ALL TABLES)",
                    config.publication_name
                ),
                &e,
            )
        })
    }

    /// The slot's database and plugin, when it exists.
    async fn slot(&self, config: &CdcConfig) -> Result<Option<(String, String)>> {
        let row = self
            .client()?
            .query_opt(
                "SELECT coalesce(plugin::text, ''), coalesce(database::text, '') FROM pg_replication_slots WHERE slot_name = $1",
                &[&config.slot_name],
            )
            .await
            .map_err(|e| server_error("could not read replication slots", &e))?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    /// Creates the slot on a replication connection, exporting its snapshot when `export`;
    /// returns (consistent point, snapshot name) and the session that keeps the snapshot
    /// alive until it has been imported.
    async fn create_slot(
        config: &CdcConfig,
        export: bool,
    ) -> Result<(u64, Option<String>, ReplicationClient)> {
        let mut repl = ReplicationClient::connect_gated(Self::replication_config(config))
            .await
            .map_err(|e| Self::replication_error(config, e))?;
        // The slot name is checked to be lower case letters, digits and underscores.
        let sql = format!(
            "CREATE_REPLICATION_SLOT {} LOGICAL pgoutput {}",
            config.slot_name,
            if export {
                "EXPORT_SNAPSHOT"
            } else {
                "NOEXPORT_SNAPSHOT"
            }
        );
        let rows = repl
            .simple_query(&sql)
            .await
            .map_err(|e| Self::replication_error(config, e))?;
        let row = rows.into_iter().next().ok_or_else(|| {
            ConnectError::Retriable("CREATE_REPLICATION_SLOT returned no row".into())
        })?;
        let text = |i: usize| {
            row.get(i)
                .and_then(|c| c.as_ref())
                .map(|b| String::from_utf8_lossy(b).into_owned())
        };
        let lsn = text(1)
            .and_then(|l| Lsn::parse(&l).ok())
            .map(|l| l.as_u64())
            .unwrap_or(0);
        tracing::info!(slot = %config.slot_name, consistent_point = %Lsn::from_u64(lsn).to_pg_string(), "created the replication slot");
        Ok((lsn, text(2), repl))
    }

    /// Starts a snapshot of the captured tables: in the slot's exported snapshot when there
    /// is one, else in a new REPEATABLE READ transaction (changes between the slot's position
    /// and that transaction then arrive twice: once in the snapshot, once streamed).
    async fn begin_snapshot(
        &mut self,
        config: &CdcConfig,
        exported: Option<(u64, String)>,
    ) -> Result<Snapshot> {
        let client = self.client()?;
        client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(|e| server_error("could not begin the snapshot transaction", &e))?;
        let lsn = match &exported {
            Some((lsn, name)) => {
                client
                    .batch_execute(&format!("SET TRANSACTION SNAPSHOT {}", literal(name)))
                    .await
                    .map_err(|e| server_error("could not import the slot's snapshot", &e))?;
                *lsn
            }
            None => {
                let row = client
                    .query_one("SELECT pg_current_wal_lsn()::text", &[])
                    .await
                    .map_err(|e| server_error("could not read the WAL position", &e))?;
                Lsn::parse(&row.get::<_, String>(0))
                    .map(|l| l.as_u64())
                    .unwrap_or(0)
            }
        };
        let tx_id: Option<i64> = client
            .query_one("SELECT txid_snapshot_xmin(txid_current_snapshot())", &[])
            .await
            .map_err(|e| server_error("could not read the snapshot's transaction id", &e))?
            .get(0);
        let tables = catalog::captured_tables(client, config).await?;
        tracing::info!(
            tables = ?tables.iter().map(|t| format!("{}.{}", t.schema, t.name)).collect::<Vec<_>>(),
            lsn = %Lsn::from_u64(lsn).to_pg_string(),
            exported = exported.is_some(),
            "snapshot started"
        );
        Ok(Snapshot {
            tables: tables.into(),
            current: None,
            lsn,
            tx_id,
            ts_us: now_us(),
            held: None,
            emitted_any: false,
            table_rows: 0,
        })
    }

    async fn start_stream(&mut self, config: &CdcConfig) -> Result<Stream> {
        // A session that just ended (a killed worker's) may hold the slot for a moment.
        let mut attempt = 0;
        let repl = loop {
            let started = async {
                let mut repl = ReplicationClient::connect(Self::replication_config(config)).await?;
                repl.wait_started().await?;
                Ok::<_, pgwire_replication::PgWireError>(repl)
            }
            .await;
            match started {
                Ok(r) => break r,
                Err(e) if attempt < 20 && e.to_string().contains("is active for PID") => {
                    attempt += 1;
                    tracing::info!(slot = %config.slot_name, error = %e, "the slot is still in use; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => {
                    let error = Self::replication_error(config, e);
                    // The slot was there when the task started (or it created it): gone now,
                    // it was dropped under the running connector.
                    if !error.is_retriable() && matches!(self.slot(config).await, Ok(None)) {
                        return Err(Self::slot_dropped(config, self.returned.lsn_commit, &error));
                    }
                    return Err(error);
                }
            }
        };
        tracing::info!(slot = %config.slot_name, publication = %config.publication_name, "streaming changes");
        Ok(Stream {
            repl,
            tx: None,
            models: HashMap::new(),
            last_commit_lsn: self.resume.lsn_commit,
            last_heartbeat: Instant::now(),
        })
    }

    async fn model_for(&mut self, config: &CdcConfig, table: &TableRef) -> Result<SharedModel> {
        let client = self
            .client
            .as_ref()
            .ok_or_else(|| ConnectError::Retriable("not connected to PostgreSQL".into()))?;
        let (columns, pk) = catalog::columns(client, &mut self.types, table.oid).await?;
        Ok(Arc::new(TableModel::new(
            config,
            table.oid,
            &table.schema,
            &table.name,
            columns,
            &pk,
        )))
    }

    fn record(
        &self,
        model: &TableModel,
        key: Value,
        value: Option<Value>,
        offset: OffsetMap,
    ) -> Result<Record> {
        let partition = self
            .partition
            .clone()
            .ok_or_else(|| ConnectError::Other("task not started".into()))?;
        let mut r = Record::source(
            model.topic.clone(),
            partition,
            offset,
            value.as_ref().map(|_| model.envelope_schema.clone()),
            value.unwrap_or(Value::Null),
        );
        if !key.is_null() {
            r.key_schema = model.key_schema.clone();
        }
        r.key = key;
        Ok(r)
    }

    fn snapshot_record(
        &self,
        snap: &Snapshot,
        held: HeldRow,
        last_in_table: bool,
        last: bool,
    ) -> Result<Record> {
        let config = self.config()?;
        let data = |e: String| ConnectError::Data(e);
        let marker = if last {
            "last"
        } else if held.first {
            "first"
        } else if last_in_table {
            "last_in_data_collection"
        } else if held.first_in_table {
            "first_in_data_collection"
        } else {
            "true"
        };
        let info = SourceInfo {
            ts_us: snap.ts_us,
            snapshot: Some(marker),
            tx_id: snap.tx_id,
            lsn: Some(snap.lsn as i64),
            sequence: None,
        };
        let model = &held.model;
        let after = model.row(&held.tuple, &config).map_err(data)?;
        let source = events::source(&config, model, &info).map_err(data)?;
        let value =
            events::envelope(model, Value::Null, after, source, "r", now_us()).map_err(data)?;
        let key = model.key_value(&held.tuple, &config).map_err(data)?;
        let offset = json!({
            "last_snapshot_record": last,
            "lsn": snap.lsn,
            "txId": snap.tx_id,
            "ts_usec": snap.ts_us,
            "snapshot": true,
        });
        let Json::Object(offset) = offset else {
            unreachable!()
        };
        self.record(model, key, Some(value), offset)
    }

    /// Up to `max.batch.size` snapshot records; switches to streaming when the snapshot ends.
    async fn poll_snapshot(&mut self, mut snap: Box<Snapshot>) -> Result<Vec<Record>> {
        let config = self.config()?;
        let mut out = Vec::new();
        while out.len() < config.max_batch_size {
            let model = match &snap.current {
                Some(m) => m.clone(),
                None => {
                    let Some(table) = snap.tables.pop_front() else {
                        // The end: the held row is the last one.
                        if let Some(h) = snap.held.take() {
                            out.push(self.snapshot_record(&snap, h, true, true)?);
                        }
                        self.client()?.batch_execute("COMMIT").await.map_err(|e| {
                            server_error("could not end the snapshot transaction", &e)
                        })?;
                        tracing::info!("snapshot completed");
                        self.phase = Some(if config.snapshot_mode == SnapshotMode::InitialOnly {
                            Phase::Done
                        } else {
                            Phase::Stream(Box::new(self.start_stream(&config).await?))
                        });
                        return Ok(out);
                    };
                    let model = self.model_for(&config, &table).await?;
                    let columns = model
                        .columns
                        .iter()
                        .map(|c| quote(&c.name))
                        .collect::<Vec<_>>()
                        .join(", ");
                    self.client()?
                        .batch_execute(&format!(
                            "DECLARE {CURSOR} NO SCROLL CURSOR FOR SELECT {columns} FROM {}",
                            table.quoted()
                        ))
                        .await
                        .map_err(|e| {
                            server_error(&format!("could not read {}", table.quoted()), &e)
                        })?;
                    snap.current = Some(model.clone());
                    snap.table_rows = 0;
                    model
                }
            };
            let want = config
                .snapshot_fetch_size
                .min(config.max_batch_size - out.len())
                .max(1);
            let messages = self
                .client()?
                .simple_query(&format!("FETCH FORWARD {want} FROM {CURSOR}"))
                .await
                .map_err(|e| {
                    server_error(
                        &format!("could not read {}.{}", model.schema, model.name),
                        &e,
                    )
                })?;
            let mut got = 0;
            for m in messages {
                let SimpleQueryMessage::Row(row) = m else {
                    continue;
                };
                got += 1;
                let tuple: Vec<TupleValue> = (0..row.len())
                    .map(|i| match row.get(i) {
                        Some(t) => TupleValue::Text(t.to_string()),
                        None => TupleValue::Null,
                    })
                    .collect();
                let first_in_table = snap.table_rows == 0;
                snap.table_rows += 1;
                let first = !snap.emitted_any;
                snap.emitted_any = true;
                let next = HeldRow {
                    model: model.clone(),
                    tuple,
                    first,
                    first_in_table,
                };
                if let Some(h) = snap.held.replace(next) {
                    let last_in_table = !Arc::ptr_eq(&h.model, &model);
                    out.push(self.snapshot_record(&snap, h, last_in_table, false)?);
                }
            }
            if got < want {
                self.client()?
                    .batch_execute(&format!("CLOSE {CURSOR}"))
                    .await
                    .map_err(|e| server_error("could not close the snapshot cursor", &e))?;
                tracing::info!(table = %format!("{}.{}", model.schema, model.name), rows = snap.table_rows, "table snapshot completed");
                snap.current = None;
            }
        }
        self.phase = Some(Phase::Snapshot(snap));
        Ok(out)
    }

    fn stream_offset(tx: &TxState, lsn: u64) -> OffsetMap {
        let Json::Object(o) = json!({
            "lsn_proc": lsn,
            "lsn_commit": tx.final_lsn,
            "lsn": lsn,
            "txId": tx.xid,
            "ts_usec": tx.commit_us,
            TX_EVENTS: tx.events,
        }) else {
            unreachable!()
        };
        o
    }

    /// The records of one change message.
    async fn change_records(
        &mut self,
        stream: &mut Stream,
        message: Message,
        lsn: u64,
    ) -> Result<Vec<Record>> {
        let config = self.config()?;
        let data = |e: String| ConnectError::Data(e);
        let relation_model = |stream: &Stream, oid: u32| -> Result<Option<SharedModel>> {
            match stream.models.get(&oid) {
                Some(m) => Ok(m.clone()),
                None => Err(ConnectError::Retriable(format!(
                    "a change of relation {oid} arrived before its Relation message"
                ))),
            }
        };
        let (relations, is_truncate): (Vec<u32>, bool) = match &message {
            Message::Insert { relation, .. }
            | Message::Update { relation, .. }
            | Message::Delete { relation, .. } => (vec![*relation], false),
            Message::Truncate { relations, .. } => (relations.clone(), true),
            _ => return Ok(Vec::new()),
        };
        let last_commit_lsn = stream.last_commit_lsn;
        let Some(tx) = stream.tx.as_mut() else {
            return Err(ConnectError::Retriable(
                "a change arrived outside a transaction".into(),
            ));
        };
        tx.events += 1;
        // Returned before a restart: the offset says so.
        if tx.final_lsn < self.resume.lsn_commit
            || (tx.final_lsn == self.resume.lsn_commit
                && self.resume.tx_events.is_some_and(|n| tx.events <= n))
        {
            return Ok(Vec::new());
        }
        let info = SourceInfo {
            ts_us: tx.commit_us,
            snapshot: None,
            tx_id: Some(tx.xid as i64),
            lsn: Some(lsn as i64),
            sequence: Some(format!("[\"{last_commit_lsn}\",\"{lsn}\"]")),
        };
        let offset = Self::stream_offset(tx, lsn);
        self.returned = Resume {
            lsn_commit: tx.final_lsn,
            tx_events: Some(tx.events),
        };
        let now = now_us();
        let mut out = Vec::new();
        if is_truncate {
            if config.skips("t") {
                return Ok(out);
            }
            for oid in relations {
                let Some(model) = relation_model(stream, oid)? else {
                    continue;
                };
                let source = events::source(&config, &model, &info).map_err(data)?;
                let value = events::envelope(&model, Value::Null, Value::Null, source, "t", now)
                    .map_err(data)?;
                out.push(self.record(&model, Value::Null, Some(value), offset.clone())?);
            }
            return Ok(out);
        }
        let Some(model) = relation_model(stream, relations[0])? else {
            return Ok(out);
        };
        let source = events::source(&config, &model, &info).map_err(data)?;
        let envelope = |before: Value, after: Value, op: &str| {
            events::envelope(&model, before, after, source.clone(), op, now).map_err(data)
        };
        let delete = |out: &mut Vec<Record>, old: &[TupleValue]| -> Result<()> {
            let key = model.key_value(old, &config).map_err(data)?;
            if !config.skips("d") {
                let before = model.row(old, &config).map_err(data)?;
                let value = envelope(before, Value::Null, "d")?;
                out.push(self.record(&model, key.clone(), Some(value), offset.clone())?);
                if config.tombstones_on_delete {
                    out.push(self.record(&model, key, None, offset.clone())?);
                }
            }
            Ok(())
        };
        match message {
            Message::Insert { new, .. } if !config.skips("c") => {
                let after = model.row(&new, &config).map_err(data)?;
                let key = model.key_value(&new, &config).map_err(data)?;
                out.push(self.record(
                    &model,
                    key,
                    Some(envelope(Value::Null, after, "c")?),
                    offset.clone(),
                )?);
            }
            Message::Update { old, new, .. } => {
                let key_changed = old
                    .as_ref()
                    .is_some_and(|o| !model.key.is_empty() && !model.same_key(o, &new));
                if key_changed {
                    // As Debezium: a delete (and tombstone) of the old key, a create of the new.
                    if let Some(o) = &old {
                        delete(&mut out, o)?;
                    }
                    if !config.skips("c") {
                        let after = model.row(&new, &config).map_err(data)?;
                        let key = model.key_value(&new, &config).map_err(data)?;
                        out.push(self.record(
                            &model,
                            key,
                            Some(envelope(Value::Null, after, "c")?),
                            offset.clone(),
                        )?);
                    }
                } else if !config.skips("u") {
                    let before = match (&old, model.columns.len()) {
                        // Only a full before-image (REPLICA IDENTITY FULL) is a before.
                        (Some(o), n)
                            if o.len() == n
                                && !o.iter().all(|v| *v == TupleValue::Null)
                                && model.full_identity =>
                        {
                            model.row(o, &config).map_err(data)?
                        }
                        _ => Value::Null,
                    };
                    let after = model.row(&new, &config).map_err(data)?;
                    let key = model.key_value(&new, &config).map_err(data)?;
                    out.push(self.record(
                        &model,
                        key,
                        Some(envelope(before, after, "u")?),
                        offset.clone(),
                    )?);
                }
            }
            Message::Delete { old, .. } => delete(&mut out, &old)?,
            _ => {}
        }
        Ok(out)
    }

    /// A heartbeat record (`__debezium-heartbeat.<topic.prefix>`) when
    /// `heartbeat.interval.ms` has passed, between transactions: its offset covers `lsn`, up
    /// to which everything was received, so the slot can release WAL even when the captured
    /// tables are idle.
    fn heartbeat(&mut self, stream: &mut Stream, lsn: u64) -> Result<Option<Record>> {
        let config = self.config()?;
        let Some(interval) = config.heartbeat_interval else {
            return Ok(None);
        };
        if stream.last_heartbeat.elapsed() < interval || lsn == 0 {
            return Ok(None);
        }
        stream.last_heartbeat = Instant::now();
        let partition = self
            .partition
            .clone()
            .ok_or_else(|| ConnectError::Other("task not started".into()))?;
        let now = now_us();
        let Json::Object(offset) = json!({
            "lsn_proc": lsn,
            "lsn_commit": lsn,
            "lsn": lsn,
            "ts_usec": now,
        }) else {
            unreachable!()
        };
        let (key, value) =
            events::heartbeat(&config.topic_prefix, now).map_err(ConnectError::Data)?;
        let mut r = Record::source(
            format!("__debezium-heartbeat.{}", config.topic_prefix),
            partition,
            offset,
            Some(events::heartbeat_value_schema()),
            value,
        );
        r.key_schema = Some(events::heartbeat_key_schema());
        r.key = key;
        self.returned = Resume {
            lsn_commit: lsn,
            tx_events: None,
        };
        Ok(Some(r))
    }

    async fn on_relation(&mut self, stream: &mut Stream, rel: pgoutput::Relation) -> Result<()> {
        let config = self.config()?;
        if !config.captures_table(&rel.schema, &rel.name) {
            stream.models.insert(rel.oid, None);
            return Ok(());
        }
        let client = self
            .client
            .as_ref()
            .ok_or_else(|| ConnectError::Retriable("not connected to PostgreSQL".into()))?;
        // NOT NULL and the primary key from the catalog; names, order and types from the
        // Relation message, which describes the rows that follow.
        let (catalog_columns, pk) = catalog::columns(client, &mut self.types, rel.oid).await?;
        let mut columns = Vec::with_capacity(rel.columns.len());
        for c in &rel.columns {
            let not_null = catalog_columns
                .iter()
                .find(|k| k.name == c.name)
                .is_some_and(|k| k.not_null);
            columns.push(events::ColumnDef {
                name: c.name.clone(),
                kind: self.types.kind(client, c.type_oid, c.type_modifier).await?,
                not_null,
            });
        }
        let mut model = TableModel::new(&config, rel.oid, &rel.schema, &rel.name, columns, &pk);
        model.full_identity = rel.replica_identity == b'f';
        tracing::debug!(table = %format!("{}.{}", rel.schema, rel.name), oid = model.oid, columns = model.columns.len(), "relation");
        stream.models.insert(rel.oid, Some(Arc::new(model)));
        Ok(())
    }

    async fn poll_stream(&mut self, mut stream: Box<Stream>) -> Result<Vec<Record>> {
        let config = self.config()?;
        let deadline = Instant::now() + config.poll_interval;
        let mut out = Vec::new();
        let result: Result<()> = async {
            while out.len() < config.max_batch_size {
                let received = if out.is_empty() {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match tokio::time::timeout(left, stream.repl.recv()).await {
                        Err(_) => break,
                        Ok(r) => r,
                    }
                } else {
                    // Records in hand go out as soon as nothing more is ready, as from
                    // Debezium's queue: holding them until `max.batch.size` or
                    // `poll.interval.ms` would leave the producer idle while PostgreSQL
                    // decodes the next transaction.
                    match stream.repl.recv().now_or_never() {
                        None => break,
                        Some(r) => r,
                    }
                };
                let event = match received {
                    Ok(Some(e)) => e,
                    Ok(None) => {
                        return Err(ConnectError::Retriable(
                            "the replication stream ended".into(),
                        ))
                    }
                    Err(e) => return Err(Self::replication_error(&config, e)),
                };
                match event {
                    ReplicationEvent::Begin {
                        final_lsn,
                        xid,
                        commit_time_micros,
                    } => {
                        stream.tx = Some(TxState {
                            xid,
                            final_lsn: final_lsn.as_u64(),
                            commit_us: commit_time_micros + PG_EPOCH_US,
                            events: 0,
                        });
                    }
                    ReplicationEvent::Commit { lsn, end_lsn, .. } => {
                        stream.tx = None;
                        stream.last_commit_lsn = lsn.as_u64();
                        out.extend(self.heartbeat(&mut stream, end_lsn.as_u64())?);
                    }
                    ReplicationEvent::KeepAlive { wal_end, .. } if stream.tx.is_none() => {
                        out.extend(self.heartbeat(&mut stream, wal_end.as_u64())?);
                    }
                    ReplicationEvent::XLogData {
                        wal_start, data, ..
                    } => {
                        let message = pgoutput::decode(&data)
                            .map_err(|e| ConnectError::Other(e.to_string()))?;
                        match message {
                            Message::Relation(rel) => self.on_relation(&mut stream, rel).await?,
                            m => {
                                let lsn = if wal_start.as_u64() != 0 {
                                    wal_start.as_u64()
                                } else {
                                    stream.tx.as_ref().map_or(0, |t| t.final_lsn)
                                };
                                let records = self.change_records(&mut stream, m, lsn).await?;
                                out.extend(records);
                            }
                        }
                    }
                    _ => {}
                }
            }
            Ok(())
        }
        .await;
        match result {
            Ok(()) => {
                self.phase = Some(Phase::Stream(stream));
                Ok(out)
            }
            Err(e) => {
                stream.repl.stop();
                if !e.is_retriable() || out.is_empty() {
                    return Err(e);
                }
                // The next poll opens a new session, which resumes after what is returned
                // here.
                tracing::warn!(error = %e, "the replication stream failed; reconnecting");
                Ok(out)
            }
        }
    }
}

/// A committed offset's LSN to confirm: the LSN of the last returned change (a transaction
/// that commits after it is sent again after a restart, and skipped by the offset).
fn confirmable_lsn(offset: &OffsetMap) -> Option<u64> {
    if offset
        .get("snapshot")
        .is_some_and(|s| s != &Json::Bool(false))
    {
        return None;
    }
    offset.get("lsn").and_then(Json::as_u64)
}

/// The SQL connection (catalog, publication, snapshot), with the session settings the value
/// conversion expects.
async fn connect_sql(config: &CdcConfig) -> Result<PgClient> {
    let settings = connect_settings(
        &config.hostname,
        config.port,
        &config.user,
        config.password.as_deref(),
        &config.dbname,
        &config.sslmode,
        [
            ("sslrootcert", config.sslrootcert.as_deref()),
            ("sslcert", config.sslcert.as_deref()),
            ("sslkey", config.sslkey.as_deref()),
        ],
    )?;
    let client = crate::connectors::postgres::connect(&settings).await?;
    for (k, v) in SESSION_SETTINGS {
        client
            .batch_execute(&format!("SET {k} = {}", literal(v)))
            .await
            .map_err(|e| server_error("could not set up the session", &e))?;
    }
    Ok(client)
}

#[async_trait]
impl SourceTask for PostgresCdcTask {
    async fn start(&mut self, raw: ConfigMap, ctx: SourceTaskContext) -> Result<()> {
        let config = Arc::new(CdcConfig::parse(&raw)?);
        let partition: SourcePartition = Arc::new(config.partition());
        let client = connect_sql(&config).await?;
        self.client = Some(client);
        self.config = Some(config.clone());
        self.partition = Some(partition.clone());
        self.prepare_server(&config).await?;

        let offset = ctx.offsets.offset(&partition)?;
        let snapshot_done = offset.as_ref().is_some_and(|o| {
            o.get("snapshot").is_none_or(|s| s == &Json::Bool(false))
                || o.get("last_snapshot_record") == Some(&Json::Bool(true))
        });
        if let Some(o) = offset.as_ref().filter(|_| snapshot_done) {
            if o.get("lsn_commit").is_some() {
                self.resume = Resume {
                    lsn_commit: o.get("lsn_commit").and_then(Json::as_u64).unwrap_or(0),
                    tx_events: o.get(TX_EVENTS).and_then(Json::as_u64),
                };
            }
        }
        let slot = self.slot(&config).await?;
        if let Some((plugin, database)) = &slot {
            if plugin != "pgoutput" || database != &config.dbname {
                return Err(ConnectError::Config(format!(
                    "The replication slot {} exists for plugin '{plugin}' and database '{database}', not pgoutput and {}: choose another slot.name or drop the slot",
                    config.slot_name, config.dbname
                )));
            }
        }
        let wants_snapshot = match config.snapshot_mode {
            SnapshotMode::Always => true,
            SnapshotMode::NoData => false,
            SnapshotMode::Initial | SnapshotMode::InitialOnly => !snapshot_done,
            SnapshotMode::WhenNeeded => !snapshot_done || slot.is_none(),
        };
        if slot.is_none() && offset.is_some() && !wants_snapshot {
            return Err(ConnectError::Config(format!(
                "The replication slot {} does not exist in {}, but the connector has offsets from it (lsn {}): it was dropped, and the changes since are lost to it. Use snapshot.mode=when_needed (or always) to take a new snapshot, or delete the connector's offsets",
                config.slot_name,
                config.display(),
                offset.as_ref().and_then(|o| o.get("lsn")).cloned().unwrap_or(Json::Null)
            )));
        }
        if config.snapshot_mode == SnapshotMode::InitialOnly && snapshot_done {
            tracing::info!(
                "snapshot.mode=initial_only and the snapshot is complete: nothing to do"
            );
            self.phase = Some(Phase::Done);
            return Ok(());
        }
        self.returned = self.resume.clone();
        self.ctx = Some(ctx);
        let phase = match (slot.is_some(), wants_snapshot) {
            (false, true) => {
                let (lsn, name, repl) = Self::create_slot(&config, true).await?;
                let name = name.ok_or_else(|| {
                    ConnectError::Retriable("CREATE_REPLICATION_SLOT exported no snapshot".into())
                })?;
                let snap = self.begin_snapshot(&config, Some((lsn, name))).await;
                // The snapshot is imported (or failed): the exporting session may end.
                drop(repl);
                Phase::Snapshot(Box::new(snap?))
            }
            (true, true) => Phase::Snapshot(Box::new(self.begin_snapshot(&config, None).await?)),
            (false, false) => {
                drop(Self::create_slot(&config, false).await?);
                Phase::Stream(Box::new(self.start_stream(&config).await?))
            }
            (true, false) => Phase::Stream(Box::new(self.start_stream(&config).await?)),
        };
        self.phase = Some(phase);
        tracing::info!(database = %config.display(), slot = %config.slot_name, "PostgreSQL CDC task started");
        Ok(())
    }

    async fn poll(&mut self) -> Result<Vec<Record>> {
        let config = self.config()?;
        match self.phase.take() {
            Some(Phase::Snapshot(s)) => self.poll_snapshot(s).await.map_err(|e| {
                // A snapshot is one transaction: it cannot resume on a new connection.
                ConnectError::Other(format!(
                    "the snapshot failed ({e}); the task must be restarted to take it again"
                ))
            }),
            Some(Phase::Stream(s)) => self.poll_stream(s).await,
            Some(Phase::Done) => {
                self.phase = Some(Phase::Done);
                tokio::time::sleep(config.poll_interval.max(Duration::from_millis(100))).await;
                Ok(Vec::new())
            }
            None => {
                // The replication session failed: open a new one after a pause.
                tokio::time::sleep(config.poll_interval.max(Duration::from_millis(500))).await;
                if self.client.as_ref().is_none_or(PgClient::is_closed) {
                    self.client = None;
                    self.client = Some(connect_sql(&config).await?);
                }
                self.resume = self.returned.clone();
                let stream = self.start_stream(&config).await?;
                self.phase = Some(Phase::Stream(Box::new(stream)));
                Ok(Vec::new())
            }
        }
    }

    async fn commit(&mut self) -> Result<()> {
        let (Some(ctx), Some(partition)) = (&self.ctx, &self.partition) else {
            return Ok(());
        };
        let Some(offset) = ctx.offsets.offset(partition)? else {
            return Ok(());
        };
        let Some(lsn) = confirmable_lsn(&offset) else {
            return Ok(());
        };
        if lsn > self.confirmed {
            if let Some(Phase::Stream(s)) = &self.phase {
                s.repl.update_applied_lsn(Lsn::from_u64(lsn));
                self.confirmed = lsn;
                tracing::debug!(lsn = %Lsn::from_u64(lsn).to_pg_string(), "confirmed to the slot");
            }
        }
        Ok(())
    }

    async fn stop(&mut self) -> Result<()> {
        if let Some(Phase::Stream(mut s)) = self.phase.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), s.repl.shutdown()).await;
        }
        if let (Some(config), Some(client)) = (&self.config, &self.client) {
            if config.slot_drop_on_stop {
                for _ in 0..10 {
                    match client
                        .execute("SELECT pg_drop_replication_slot($1)", &[&config.slot_name])
                        .await
                    {
                        Ok(_) => {
                            tracing::info!(slot = %config.slot_name, "dropped the replication slot (slot.drop.on.stop)");
                            break;
                        }
                        Err(e) => {
                            tracing::debug!(error = %error_text(&e), "could not drop the slot yet");
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                }
            }
        }
        self.client = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Json) -> OffsetMap {
        match v {
            Json::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn only_streaming_offsets_are_confirmed() {
        // A snapshot offset's LSN is the slot's own starting point: nothing to confirm.
        assert_eq!(
            confirmable_lsn(&map(
                json!({"snapshot": true, "lsn": 10, "last_snapshot_record": true})
            )),
            None
        );
        assert_eq!(
            confirmable_lsn(&map(json!({"lsn": 42, "lsn_commit": 50, "txId": 7}))),
            Some(42)
        );
        let tx = TxState {
            xid: 7,
            final_lsn: 50,
            commit_us: 1,
            events: 3,
        };
        let o = PostgresCdcTask::stream_offset(&tx, 42);
        assert_eq!(o["lsn"], json!(42));
        assert_eq!(o["lsn_commit"], json!(50));
        assert_eq!(o[TX_EVENTS], json!(3));
        assert_eq!(confirmable_lsn(&o), Some(42));
    }
}
