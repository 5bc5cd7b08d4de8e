//! `PostgresSource` (also `io.confluent.connect.jdbc.JdbcSourceConnector` for PostgreSQL
//! URLs): copies tables, or the result of a query, to topics as rows arrive, in the JDBC
//! source connector's modes and with its offsets, so that it resumes where it stopped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use parking_lot::Mutex;
use tokio::task::JoinHandle;

use crate::config::{ConfigDef, ConfigInfo, ConfigMap};
use crate::data::Record;
use crate::errors::{ConnectError, Result};
use crate::plugin::{Connector, ConnectorContext, SourceTask, SourceTaskContext};

use super::connection::{self, error_text, PgClient};
use super::identifier::TableId;
use super::querier::{QuerySource, TableQuerier};
use super::source_config::{self, SourceConfig, TASK_TABLES};

/// The longest a poll sleeps before returning an empty batch.
const MAX_IDLE_WAIT: Duration = Duration::from_millis(500);

/// The tables the config selects, in a stable order.
pub async fn list_tables(client: &PgClient, config: &SourceConfig) -> Result<Vec<TableId>> {
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind::text = ANY($1) \
               AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
               AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' \
               AND ($2::text IS NULL OR n.nspname LIKE $2) \
               AND has_table_privilege(c.oid, 'SELECT') \
             ORDER BY 1, 2",
            &[&config.relkinds, &config.schema_pattern],
        )
        .await
        .map_err(|e| {
            ConnectError::Retriable(format!("could not list tables: {}", error_text(&e)))
        })?;
    Ok(rows
        .iter()
        .map(|r| TableId::new(Some(r.get::<_, String>(0).as_str()), &r.get::<_, String>(1)))
        .filter(|t| config.selects(t))
        .collect())
}

/// Splits `items` into at most `groups` contiguous groups of near-equal size (Connect's
/// `ConnectorUtils.groupPartitions`).
pub fn group<T: Clone>(items: &[T], groups: usize) -> Vec<Vec<T>> {
    let groups = groups.min(items.len()).max(1);
    let per = items.len() / groups;
    let extra = items.len() % groups;
    let mut out = Vec::with_capacity(groups);
    let mut start = 0;
    for g in 0..groups {
        let size = per + usize::from(g < extra);
        out.push(items[start..start + size].to_vec());
        start += size;
    }
    out
}

/// The source connector: finds the tables and spreads them over tasks; watches for tables
/// that appear or disappear every `table.poll.interval.ms`.
#[derive(Default)]
pub struct PostgresSourceConnector {
    raw: ConfigMap,
    config: Option<Arc<SourceConfig>>,
    tables: Arc<Mutex<Vec<TableId>>>,
    monitor: Option<JoinHandle<()>>,
}

#[async_trait]
impl Connector for PostgresSourceConnector {
    fn config_def(&self) -> ConfigDef {
        source_config::config_def()
    }

    fn validate(&self, config: &ConfigMap) -> Vec<ConfigInfo> {
        source_config::validate(config)
    }

    async fn start(&mut self, config: ConfigMap, ctx: ConnectorContext) -> Result<()> {
        let parsed = Arc::new(SourceConfig::parse(&config)?);
        self.raw = config;
        if parsed.query.is_none() {
            let client = connection::connect(&parsed.connection).await?;
            let tables = list_tables(&client, &parsed).await?;
            tracing::info!(connector = %ctx.connector, tables = ?tables.iter().map(ToString::to_string).collect::<Vec<_>>(), "tables to copy");
            *self.tables.lock() = tables;
            if !parsed.table_poll_interval.is_zero() {
                self.monitor = Some(tokio::spawn(watch_tables(
                    parsed.clone(),
                    self.tables.clone(),
                    ctx,
                    client,
                )));
            }
        }
        self.config = Some(parsed);
        Ok(())
    }

    fn task_class(&self) -> String {
        super::SOURCE_TASK_CLASS.into()
    }

    async fn task_configs(&mut self, max_tasks: usize) -> Result<Vec<ConfigMap>> {
        let config = self
            .config
            .as_ref()
            .ok_or_else(|| ConnectError::Other("connector not started".into()))?;
        if config.query.is_some() {
            return Ok(vec![self.raw.clone()]);
        }
        let tables = self.tables.lock().clone();
        if tables.is_empty() {
            tracing::warn!("no tables match the configuration; no tasks will run");
            return Ok(Vec::new());
        }
        Ok(group(&tables, max_tasks)
            .into_iter()
            .map(|g| {
                let mut c = self.raw.clone();
                let list: Vec<String> = g.iter().map(TableId::quoted).collect();
                c.insert(TASK_TABLES.into(), list.join(","));
                c
            })
            .collect())
    }

    async fn stop(&mut self) -> Result<()> {
        if let Some(m) = self.monitor.take() {
            m.abort();
        }
        Ok(())
    }
}

/// Re-lists tables periodically and asks for new task configs when the list changes.
async fn watch_tables(
    config: Arc<SourceConfig>,
    tables: Arc<Mutex<Vec<TableId>>>,
    ctx: ConnectorContext,
    client: PgClient,
) {
    let mut client = Some(client);
    loop {
        tokio::time::sleep(config.table_poll_interval).await;
        if client.as_ref().is_none_or(PgClient::is_closed) {
            client = connection::connect(&config.connection).await.ok();
        }
        let Some(c) = client.as_ref() else {
            continue;
        };
        match list_tables(c, &config).await {
            Ok(found) => {
                let changed = *tables.lock() != found;
                if changed {
                    tracing::info!(connector = %ctx.connector, tables = found.len(), "the set of tables changed; reconfiguring tasks");
                    *tables.lock() = found;
                    ctx.request_task_reconfiguration();
                }
            }
            Err(e) => {
                tracing::warn!(connector = %ctx.connector, error = %e, "could not list tables");
                client = None;
            }
        }
    }
}

/// Reads its tables (or the query) in turn: each is queried every `poll.interval.ms`, and a
/// query's rows are returned `batch.max.rows` at a time until it is exhausted.
#[derive(Default)]
pub struct PostgresSourceTask {
    config: Option<Arc<SourceConfig>>,
    client: Option<PgClient>,
    queriers: Vec<TableQuerier>,
    /// The querier whose query is in progress.
    active: Option<usize>,
}

impl PostgresSourceTask {
    async fn client(&mut self) -> Result<&PgClient> {
        let config = self
            .config
            .clone()
            .ok_or_else(|| ConnectError::Other("task not started".into()))?;
        if self.client.as_ref().is_none_or(PgClient::is_closed) {
            self.client = None;
            for q in &mut self.queriers {
                q.invalidate();
            }
            self.active = None;
            self.client = Some(connection::connect(&config.connection).await?);
        }
        self.client
            .as_ref()
            .ok_or_else(|| ConnectError::Retriable("not connected".into()))
    }

    /// The querier to work on now, or how long until one is due.
    fn next_querier(&self, now: Instant) -> std::result::Result<usize, Duration> {
        if let Some(i) = self.active {
            return Ok(i);
        }
        let (i, q) = self
            .queriers
            .iter()
            .enumerate()
            .min_by_key(|(_, q)| q.next_due)
            .ok_or(MAX_IDLE_WAIT)?;
        if q.next_due <= now {
            Ok(i)
        } else {
            Err(q.next_due - now)
        }
    }

    async fn poll_querier(&mut self, i: usize) -> Result<Vec<Record>> {
        let max = self
            .config
            .as_ref()
            .map(|c| c.batch_max_rows)
            .unwrap_or(100);
        if !self.queriers[i].querying() {
            self.client().await?;
            let client = self
                .client
                .as_ref()
                .ok_or_else(|| ConnectError::Retriable("not connected".into()))?;
            self.queriers[i].start(client).await?;
            self.active = Some(i);
        }
        let (records, done) = self.queriers[i].next_records(max).await?;
        if done {
            self.queriers[i].reset(Instant::now());
            self.active = None;
        }
        Ok(records)
    }
}

#[async_trait]
impl SourceTask for PostgresSourceTask {
    async fn start(&mut self, config: ConfigMap, ctx: SourceTaskContext) -> Result<()> {
        let config = Arc::new(SourceConfig::parse(&config)?);
        let sources: Vec<QuerySource> = match &config.query {
            Some(q) => vec![QuerySource::Query(q.clone())],
            None => config
                .tables
                .iter()
                .cloned()
                .map(QuerySource::Table)
                .collect(),
        };
        if sources.is_empty() {
            return Err(ConnectError::Config(
                "Invalid configuration: each JdbcSourceTask must have at least one table assigned to it or one query specified".into(),
            ));
        }
        self.queriers = sources
            .into_iter()
            .map(|s| TableQuerier::new(s, config.clone()))
            .collect();
        for q in &mut self.queriers {
            q.load_offset(ctx.offsets.as_ref())?;
        }
        tracing::info!(task = %ctx.task_id, database = %config.connection.display, mode = ?config.mode, sources = self.queriers.len(), "PostgreSQL source task started");
        self.config = Some(config);
        Ok(())
    }

    async fn poll(&mut self) -> Result<Vec<Record>> {
        let now = Instant::now();
        let i = match self.next_querier(now) {
            Ok(i) => i,
            Err(wait) => {
                tokio::time::sleep(wait.min(MAX_IDLE_WAIT)).await;
                return Ok(Vec::new());
            }
        };
        match self.poll_querier(i).await {
            Ok(records) => Ok(records),
            Err(e) => {
                // Start over on a new connection after the poll interval, from the offset
                // of the last record returned.
                self.queriers[i].reset(Instant::now());
                self.active = None;
                if e.is_retriable() {
                    tracing::warn!(source = ?self.queriers[i].source, error = %e, "query failed; retrying after poll.interval.ms");
                    self.client = None;
                    for q in &mut self.queriers {
                        q.invalidate();
                    }
                }
                Err(e)
            }
        }
    }

    async fn stop(&mut self) -> Result<()> {
        self.active = None;
        for q in &mut self.queriers {
            q.invalidate();
        }
        self.client = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::group;

    #[test]
    fn groups_tables_like_connect() {
        assert_eq!(
            group(&[1, 2, 3, 4, 5], 3),
            vec![vec![1, 2], vec![3, 4], vec![5]]
        );
        assert_eq!(group(&[1, 2], 5), vec![vec![1], vec![2]]);
        assert_eq!(group::<i32>(&[], 2), vec![Vec::<i32>::new()]);
    }
}
