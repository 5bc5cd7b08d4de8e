//! The source's configuration: the JDBC source connector's keys, defaults and checks.

use std::time::Duration;

use crate::config::{
    ConfigDef, ConfigInfo, ConfigKey, ConfigMap, ConfigType, Importance, Validator, Width,
};
use crate::errors::{ConnectError, Result};

use super::config::{
    connection_cross_check, db_timezone_key, define_connection_keys, quote_identifiers_key,
    quoting, ConnectionSettings,
};
use super::identifier::{split_outside_quotes, Quoting, TableId};
use super::types::NumericMapping;

pub const TABLE_WHITELIST: &str = "table.whitelist";
pub const TABLE_BLACKLIST: &str = "table.blacklist";
pub const SCHEMA_PATTERN: &str = "schema.pattern";
pub const TABLE_TYPES: &str = "table.types";
pub const NUMERIC_MAPPING: &str = "numeric.mapping";
pub const NUMERIC_PRECISION_MAPPING: &str = "numeric.precision.mapping";
pub const MODE: &str = "mode";
pub const INCREMENTING_COLUMN_NAME: &str = "incrementing.column.name";
pub const TIMESTAMP_COLUMN_NAME: &str = "timestamp.column.name";
pub const TIMESTAMP_INITIAL: &str = "timestamp.initial";
pub const VALIDATE_NON_NULL: &str = "validate.non.null";
pub const QUERY: &str = "query";
pub const QUERY_SUFFIX: &str = "query.suffix";
pub const TIMESTAMP_DELAY_INTERVAL_MS: &str = "timestamp.delay.interval.ms";
pub const POLL_INTERVAL_MS: &str = "poll.interval.ms";
pub const BATCH_MAX_ROWS: &str = "batch.max.rows";
pub const TABLE_POLL_INTERVAL_MS: &str = "table.poll.interval.ms";
pub const TOPIC_PREFIX: &str = "topic.prefix";
/// Set by the connector in each task's config: the tables that task reads.
pub const TASK_TABLES: &str = "tables";

/// `timestamp.initial=-1`: start from the current time.
pub const TIMESTAMP_INITIAL_CURRENT: i64 = -1;

/// `mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Bulk,
    Incrementing,
    Timestamp,
    TimestampIncrementing,
}

impl Mode {
    pub fn uses_incrementing(self) -> bool {
        matches!(self, Mode::Incrementing | Mode::TimestampIncrementing)
    }

    pub fn uses_timestamp(self) -> bool {
        matches!(self, Mode::Timestamp | Mode::TimestampIncrementing)
    }
}

const GROUP_DATABASE: &str = "Database";
const GROUP_MODE: &str = "Mode";
const GROUP_CONNECTOR: &str = "Connector";

/// The source's config keys.
pub fn config_def() -> ConfigDef {
    define_connection_keys(ConfigDef::new(), GROUP_DATABASE)
        .define(
            ConfigKey::new(TABLE_WHITELIST, ConfigType::List)
                .default_value("")
                .importance(Importance::Medium)
                .doc("List of tables to include in copying. If specified, table.blacklist may not be set. Use a comma-separated list to specify multiple tables (for example, table.whitelist: \"User, Address, Email\").")
                .group(GROUP_DATABASE, 7)
                .width(Width::Long)
                .display_name("Table Whitelist"),
        )
        .define(
            ConfigKey::new(TABLE_BLACKLIST, ConfigType::List)
                .default_value("")
                .importance(Importance::Medium)
                .doc("List of tables to exclude from copying. If specified, table.whitelist may not be set. Use a comma-separated list to specify multiple tables.")
                .group(GROUP_DATABASE, 8)
                .width(Width::Long)
                .display_name("Table Blacklist"),
        )
        .define(
            ConfigKey::new(SCHEMA_PATTERN, ConfigType::String)
                .default_null()
                .importance(Importance::Medium)
                .doc("Schema pattern (SQL LIKE) to fetch table metadata from the database. null (the default) reads tables of every schema.")
                .group(GROUP_DATABASE, 9)
                .width(Width::Short)
                .display_name("Schema pattern"),
        )
        .define(
            ConfigKey::new(TABLE_TYPES, ConfigType::List)
                .default_value("TABLE")
                .validator(Validator::ListOf {
                    values: ["TABLE", "VIEW", "PARTITIONED TABLE", "MATERIALIZED VIEW", "FOREIGN TABLE"]
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                })
                .importance(Importance::Low)
                .doc("By default, the JDBC connector will only detect tables with type TABLE from the source Database. This config allows a command separated list of table types to extract (TABLE, VIEW, PARTITIONED TABLE, MATERIALIZED VIEW, FOREIGN TABLE).")
                .group(GROUP_DATABASE, 10)
                .width(Width::Short)
                .display_name("Table Types"),
        )
        .define(
            ConfigKey::new(NUMERIC_MAPPING, ConfigType::String)
                .default_null()
                .validator(Validator::one_of_ignore_case(["none", "precision_only", "best_fit"]))
                .importance(Importance::Low)
                .doc("Map NUMERIC values by precision and optionally scale to integral or decimal types. none: Decimal. precision_only: integral types when the scale is 0 and the precision fits (else Decimal). best_fit: like precision_only, and FLOAT64 when the scale is above 0.")
                .group(GROUP_DATABASE, 11)
                .width(Width::Short)
                .display_name("Map Numeric Values, Integral or Decimal, By Precision and Scale"),
        )
        .define(
            ConfigKey::new(NUMERIC_PRECISION_MAPPING, ConfigType::Boolean)
                .default_value("false")
                .importance(Importance::Low)
                .doc("Deprecated: numeric.mapping=precision_only.")
                .group(GROUP_DATABASE, 12)
                .width(Width::Short)
                .display_name("Map Numeric Values By Precision (deprecated)"),
        )
        .define(
            ConfigKey::new(MODE, ConfigType::String)
                .default_value("")
                .validator(Validator::one_of(["", "bulk", "timestamp", "incrementing", "timestamp+incrementing"]))
                .importance(Importance::High)
                .doc("The mode for updating a table each time it is polled. Options include: bulk (perform a bulk load of the entire table each time it is polled), incrementing (use a strictly incrementing column on each table to detect only new rows), timestamp (use a timestamp (or timestamp-like) column to detect new and modified rows), timestamp+incrementing (use two columns, a timestamp column that detects new and modified rows and a strictly incrementing column which provides a globally unique ID for updates so each row can be assigned a unique stream offset).")
                .group(GROUP_MODE, 1)
                .width(Width::Medium)
                .display_name("Table Loading Mode"),
        )
        .define(
            ConfigKey::new(INCREMENTING_COLUMN_NAME, ConfigType::String)
                .default_value("")
                .importance(Importance::Medium)
                .doc("The name of the strictly incrementing column to use to detect new rows. Any empty value indicates the column should be autodetected by looking for an auto-incrementing column. This column may not be nullable.")
                .group(GROUP_MODE, 2)
                .width(Width::Medium)
                .display_name("Incrementing Column Name"),
        )
        .define(
            ConfigKey::new(TIMESTAMP_COLUMN_NAME, ConfigType::List)
                .default_value("")
                .importance(Importance::Medium)
                .doc("Comma separated list of one or more timestamp columns to detect new or modified rows using the COALESCE SQL function. Rows whose first non-null timestamp value is greater than the largest previous timestamp value seen will be discovered with each poll. At least one column should not be nullable.")
                .group(GROUP_MODE, 3)
                .width(Width::Medium)
                .display_name("Timestamp Column Name"),
        )
        .define(
            ConfigKey::new(TIMESTAMP_INITIAL, ConfigType::Long)
                .default_null()
                .importance(Importance::Low)
                .doc("The epoch timestamp used for initial queries that use timestamp criteria. Use -1 to use the current time. If not specified, all data will be retrieved.")
                .group(GROUP_MODE, 4)
                .width(Width::Medium)
                .display_name("Unix time value of initial timestamp"),
        )
        .define(
            ConfigKey::new(VALIDATE_NON_NULL, ConfigType::Boolean)
                .default_value("true")
                .importance(Importance::Low)
                .doc("By default, the JDBC connector will validate that all incrementing and timestamp tables have NOT NULL set for the columns being used as their ID/timestamp. If the tables don't, JDBC connector will fail to start. Setting this to false will disable these checks.")
                .group(GROUP_MODE, 5)
                .width(Width::Short)
                .display_name("Validate Non Null"),
        )
        .define(
            ConfigKey::new(QUERY, ConfigType::String)
                .default_value("")
                .importance(Importance::Medium)
                .doc("If specified, the query to perform to select new or updated rows. Use this setting if you want to join tables, select subsets of columns in a table, or filter data. If used, this connector will only copy data using this query -- whole-table copying will be disabled. In incremental modes a WHERE clause is appended, so the query must not have one (wrap it in a subquery).")
                .group(GROUP_MODE, 6)
                .width(Width::Short)
                .display_name("Query"),
        )
        .define(quote_identifiers_key(GROUP_MODE, 7))
        .define(
            ConfigKey::new(QUERY_SUFFIX, ConfigType::String)
                .default_value("")
                .importance(Importance::Low)
                .doc("Suffix to append at the end of the generated query.")
                .group(GROUP_MODE, 8)
                .width(Width::Medium)
                .display_name("Query suffix"),
        )
        .define(
            ConfigKey::new(POLL_INTERVAL_MS, ConfigType::Int)
                .default_value("5000")
                .validator(Validator::at_least(0.0))
                .importance(Importance::High)
                .doc("Frequency in ms to poll for new data in each table.")
                .group(GROUP_CONNECTOR, 1)
                .width(Width::Short)
                .display_name("Poll Interval (ms)"),
        )
        .define(
            ConfigKey::new(BATCH_MAX_ROWS, ConfigType::Int)
                .default_value("100")
                .validator(Validator::at_least(1.0))
                .importance(Importance::Low)
                .doc("Maximum number of rows to include in a single batch when polling for new data. This setting can be used to limit the amount of data buffered internally in the connector.")
                .group(GROUP_CONNECTOR, 2)
                .width(Width::Short)
                .display_name("Max Rows Per Batch"),
        )
        .define(
            ConfigKey::new(TABLE_POLL_INTERVAL_MS, ConfigType::Long)
                .default_value("60000")
                .importance(Importance::Low)
                .doc("Frequency in ms to poll for new or removed tables, which may result in updated task configurations to start polling for data in added tables or stop polling for data in removed tables.")
                .group(GROUP_CONNECTOR, 3)
                .width(Width::Short)
                .display_name("Metadata Change Monitoring Interval (ms)"),
        )
        .define(
            ConfigKey::new(TOPIC_PREFIX, ConfigType::String)
                .importance(Importance::High)
                .doc("Prefix to prepend to table names to generate the name of the Kafka topic to publish data to, or in the case of a custom query, the full name of the topic to publish to.")
                .group(GROUP_CONNECTOR, 4)
                .width(Width::Medium)
                .display_name("Topic Prefix"),
        )
        .define(
            ConfigKey::new(TIMESTAMP_DELAY_INTERVAL_MS, ConfigType::Long)
                .default_value("0")
                .importance(Importance::High)
                .doc("How long to wait after a row with certain timestamp appears before we include it in the result. You may choose to add some delay to allow transactions with earlier timestamp to complete. The first execution will fetch all available records (i.e. starting at timestamp 0) until current time minus the delay. Every following execution will get data from the last time we fetched until current time minus the delay.")
                .group(GROUP_CONNECTOR, 5)
                .width(Width::Medium)
                .display_name("Delay Interval (ms)"),
        )
        .define(db_timezone_key(GROUP_CONNECTOR, 6))
}

/// A parsed, checked source config.
#[derive(Clone, Debug)]
pub struct SourceConfig {
    pub connection: ConnectionSettings,
    pub mode: Mode,
    pub whitelist: Vec<String>,
    pub blacklist: Vec<String>,
    pub schema_pattern: Option<String>,
    /// `pg_class.relkind` values for `table.types`.
    pub relkinds: Vec<String>,
    pub numeric: NumericMapping,
    pub incrementing_column: Option<String>,
    pub timestamp_columns: Vec<String>,
    /// `timestamp.initial` in milliseconds (or -1 for now).
    pub timestamp_initial: Option<i64>,
    pub validate_non_null: bool,
    pub query: Option<String>,
    pub query_suffix: String,
    pub quoting: Quoting,
    pub delay: Duration,
    pub poll_interval: Duration,
    pub batch_max_rows: usize,
    pub table_poll_interval: Duration,
    pub topic_prefix: String,
    /// The tables a task reads (task configs only).
    pub tables: Vec<TableId>,
}

/// Combinations of keys that cannot work, as (key to report on, message).
pub fn cross_check(config: &ConfigMap) -> Vec<(&'static str, String)> {
    let set = |k: &str| config.get(k).is_some_and(|v| !v.trim().is_empty());
    let mut out = connection_cross_check(config);
    let mode = config.get(MODE).map(|m| m.trim()).unwrap_or("");
    if mode.is_empty() {
        out.push((MODE, "Query mode must be specified: set mode to bulk, incrementing, timestamp or timestamp+incrementing".to_string()));
    }
    if set(TABLE_WHITELIST) && set(TABLE_BLACKLIST) {
        out.push((
            TABLE_BLACKLIST,
            "table.whitelist and table.blacklist are exclusive: set only one of them".to_string(),
        ));
    }
    if set(QUERY) && (set(TABLE_WHITELIST) || set(TABLE_BLACKLIST)) {
        out.push((QUERY, "query and table.whitelist/table.blacklist are exclusive: a query replaces whole-table copying, so remove the table lists or the query".to_string()));
    }
    if (mode == "timestamp" || mode == "timestamp+incrementing") && !set(TIMESTAMP_COLUMN_NAME) {
        out.push((
            TIMESTAMP_COLUMN_NAME,
            format!("mode={mode} needs timestamp.column.name"),
        ));
    }
    if (mode == "incrementing" || mode == "timestamp+incrementing")
        && set(QUERY)
        && !set(INCREMENTING_COLUMN_NAME)
    {
        out.push((INCREMENTING_COLUMN_NAME, format!("mode={mode} with a query needs incrementing.column.name (it cannot be detected from a query)")));
    }
    out
}

/// `ConfigDef` validation plus the cross-key checks.
pub fn validate(config: &ConfigMap) -> Vec<ConfigInfo> {
    let mut infos = config_def().validate(config);
    for (key, message) in cross_check(config) {
        if let Some(info) = infos.iter_mut().find(|i| i.value.name == key) {
            info.value.errors.push(message);
        }
    }
    infos
}

impl SourceConfig {
    pub fn parse(config: &ConfigMap) -> Result<SourceConfig> {
        let parsed = config_def().parse(config)?;
        if let Some((_, problem)) = cross_check(config).into_iter().next() {
            return Err(ConnectError::Config(problem));
        }
        let mode = match parsed.string_value(MODE)? {
            "incrementing" => Mode::Incrementing,
            "timestamp" => Mode::Timestamp,
            "timestamp+incrementing" => Mode::TimestampIncrementing,
            _ => Mode::Bulk,
        };
        let numeric = match parsed
            .string(NUMERIC_MAPPING)
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("best_fit") => NumericMapping::BestFit,
            Some("precision_only") => NumericMapping::PrecisionOnly,
            Some(_) => NumericMapping::None,
            None if parsed.boolean(NUMERIC_PRECISION_MAPPING) == Some(true) => {
                NumericMapping::PrecisionOnly
            }
            None => NumericMapping::None,
        };
        let relkinds = parsed
            .list(TABLE_TYPES)
            .iter()
            .map(|t| {
                match t.as_str() {
                    "VIEW" => "v",
                    "PARTITIONED TABLE" => "p",
                    "MATERIALIZED VIEW" => "m",
                    "FOREIGN TABLE" => "f",
                    _ => "r",
                }
                .to_string()
            })
            .collect();
        let tables = match config.get(TASK_TABLES) {
            Some(list) if !list.trim().is_empty() => split_outside_quotes(list, ',')
                .iter()
                .map(|t| {
                    TableId::parse(t.trim()).ok_or_else(|| {
                        ConnectError::Config(format!("Invalid table name '{t}' in task config"))
                    })
                })
                .collect::<Result<Vec<_>>>()?,
            _ => Vec::new(),
        };
        Ok(SourceConfig {
            connection: ConnectionSettings::from_parsed(&parsed)?,
            mode,
            whitelist: parsed.list(TABLE_WHITELIST),
            blacklist: parsed.list(TABLE_BLACKLIST),
            schema_pattern: parsed.string(SCHEMA_PATTERN).map(String::from),
            relkinds,
            numeric,
            incrementing_column: parsed
                .non_empty_string(INCREMENTING_COLUMN_NAME)
                .map(String::from),
            timestamp_columns: parsed.list(TIMESTAMP_COLUMN_NAME),
            timestamp_initial: parsed.long(TIMESTAMP_INITIAL),
            validate_non_null: parsed.boolean_value(VALIDATE_NON_NULL)?,
            query: parsed.non_empty_string(QUERY).map(String::from),
            query_suffix: parsed.string_value(QUERY_SUFFIX)?.to_string(),
            quoting: quoting(&parsed)?,
            delay: Duration::from_millis(
                parsed.long_value(TIMESTAMP_DELAY_INTERVAL_MS)?.max(0) as u64
            ),
            poll_interval: Duration::from_millis(parsed.int_value(POLL_INTERVAL_MS)?.max(0) as u64),
            batch_max_rows: parsed.int_value(BATCH_MAX_ROWS)?.max(1) as usize,
            table_poll_interval: Duration::from_millis(
                parsed.long_value(TABLE_POLL_INTERVAL_MS)?.max(0) as u64,
            ),
            topic_prefix: parsed.string_value(TOPIC_PREFIX)?.to_string(),
            tables,
        })
    }

    /// Whether the table lists select `table`: an entry names a table (`orders`) or a
    /// schema-qualified table (`public.orders`).
    pub fn selects(&self, table: &TableId) -> bool {
        let matches = |entry: &String| match TableId::parse(entry) {
            Some(e) if e.schema.is_some() => e == *table,
            Some(e) => e.name == table.name,
            None => false,
        };
        if !self.whitelist.is_empty() {
            return self.whitelist.iter().any(matches);
        }
        !self.blacklist.iter().any(matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::test_support::{defaults_spelt_out, map};

    #[test]
    fn an_unset_key_means_its_config_def_default() {
        let base = map(&[
            ("connection.url", "jdbc:postgresql://localhost/db"),
            ("mode", "incrementing"),
            ("topic.prefix", "pg-"),
        ]);
        let full = defaults_spelt_out(&config_def(), &base);
        assert!(full.len() > base.len() + 10);
        let implicit = SourceConfig::parse(&base).unwrap();
        let explicit = SourceConfig::parse(&full).unwrap();
        assert_eq!(format!("{implicit:?}"), format!("{explicit:?}"));
        assert_eq!(implicit.connection.timezone, explicit.connection.timezone);
        assert_eq!(implicit.connection.attempts, explicit.connection.attempts);
        assert_eq!(implicit.connection.backoff, explicit.connection.backoff);
        assert_eq!(cross_check(&base), cross_check(&full));
    }

    #[test]
    fn parses_and_checks() {
        let c = SourceConfig::parse(&map(&[
            ("connection.url", "jdbc:postgresql://localhost/db"),
            ("mode", "timestamp+incrementing"),
            ("timestamp.column.name", "updated_at"),
            ("incrementing.column.name", "id"),
            ("topic.prefix", "pg-"),
            ("table.whitelist", "orders, public.items"),
        ]))
        .unwrap();
        assert_eq!(c.mode, Mode::TimestampIncrementing);
        assert_eq!(c.poll_interval, Duration::from_millis(5000));
        assert_eq!(c.batch_max_rows, 100);
        assert!(c.selects(&TableId::new(Some("sales"), "orders")));
        assert!(c.selects(&TableId::new(Some("public"), "items")));
        assert!(!c.selects(&TableId::new(Some("sales"), "items")));

        let err = SourceConfig::parse(&map(&[
            ("connection.url", "jdbc:postgresql://localhost/db"),
            ("topic.prefix", "pg-"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("mode"), "{err}");
        let infos = validate(&map(&[
            ("connection.url", "jdbc:postgresql://localhost/db"),
            ("mode", "timestamp"),
            ("topic.prefix", "x"),
        ]));
        let ts = infos
            .iter()
            .find(|i| i.value.name == TIMESTAMP_COLUMN_NAME)
            .unwrap();
        assert_eq!(ts.value.errors.len(), 1);
    }
}
