//! The connector's configuration: Debezium's PostgreSQL connector names, defaults and
//! allowed values. A Debezium option that Conveyor does not implement, or a misspelt one in
//! Debezium's namespaces, is a validation error rather than silently ignored.

use std::time::Duration;

use regex::Regex;

use crate::config::{
    ConfigDef, ConfigInfo, ConfigKey, ConfigMap, ConfigType, ConfigValueInfo, Importance, Validator,
};
use crate::errors::{ConnectError, Result};

use super::types::{DecimalMode, Modes, TimePrecision};

pub const HOSTNAME: &str = "database.hostname";
pub const PORT: &str = "database.port";
pub const USER: &str = "database.user";
pub const PASSWORD: &str = "database.password";
pub const DBNAME: &str = "database.dbname";
pub const SSLMODE: &str = "database.sslmode";
pub const SSLROOTCERT: &str = "database.sslrootcert";
pub const SSLCERT: &str = "database.sslcert";
pub const SSLKEY: &str = "database.sslkey";
pub const TOPIC_PREFIX: &str = "topic.prefix";
pub const PLUGIN_NAME: &str = "plugin.name";
pub const SLOT_NAME: &str = "slot.name";
pub const SLOT_DROP_ON_STOP: &str = "slot.drop.on.stop";
pub const PUBLICATION_NAME: &str = "publication.name";
pub const PUBLICATION_AUTOCREATE_MODE: &str = "publication.autocreate.mode";
pub const TABLE_INCLUDE_LIST: &str = "table.include.list";
pub const TABLE_EXCLUDE_LIST: &str = "table.exclude.list";
pub const COLUMN_INCLUDE_LIST: &str = "column.include.list";
pub const COLUMN_EXCLUDE_LIST: &str = "column.exclude.list";
pub const SNAPSHOT_MODE: &str = "snapshot.mode";
pub const SNAPSHOT_FETCH_SIZE: &str = "snapshot.fetch.size";
pub const DECIMAL_HANDLING_MODE: &str = "decimal.handling.mode";
pub const TIME_PRECISION_MODE: &str = "time.precision.mode";
pub const TOMBSTONES_ON_DELETE: &str = "tombstones.on.delete";
pub const SKIPPED_OPERATIONS: &str = "skipped.operations";
pub const HEARTBEAT_INTERVAL_MS: &str = "heartbeat.interval.ms";
pub const MAX_BATCH_SIZE: &str = "max.batch.size";
pub const MAX_QUEUE_SIZE: &str = "max.queue.size";
pub const POLL_INTERVAL_MS: &str = "poll.interval.ms";

/// Namespaces of Debezium's options: a key in one of them that is not defined here is
/// refused, so that a typo or an unsupported Debezium feature is not silently ignored.
const DEBEZIUM_PREFIXES: &[&str] = &[
    "database.",
    "snapshot.",
    "slot.",
    "publication.",
    "table.",
    "column.",
    "schema.",
    "message.",
    "signal.",
    "incremental.",
    "heartbeat.",
    "decimal.",
    "time.",
    "binary.",
    "interval.",
    "hstore.",
    "money.",
    "tombstones.",
    "skipped.",
    "provide.",
    "include.",
    "event.",
    "plugin.",
    "max.",
    "poll.",
    "flush.",
    "status.",
    "xmin.",
    "unavailable.",
    "field.",
    "datatype.",
    "converters",
    "notification.",
    "custom.",
    "read.",
    "retriable.",
    "errors.max.retries",
    "offset.",
    "lsn.",
    "internal.",
];

/// `snapshot.mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotMode {
    Initial,
    NoData,
    Always,
    InitialOnly,
    WhenNeeded,
}

/// `publication.autocreate.mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutocreateMode {
    AllTables,
    Filtered,
    NoTables,
    Disabled,
}

/// The parsed configuration.
#[derive(Clone, Debug)]
pub struct CdcConfig {
    pub hostname: String,
    pub port: u16,
    pub user: String,
    pub password: Option<String>,
    pub dbname: String,
    pub sslmode: String,
    pub sslrootcert: Option<String>,
    pub sslcert: Option<String>,
    pub sslkey: Option<String>,
    pub topic_prefix: String,
    pub slot_name: String,
    pub slot_drop_on_stop: bool,
    pub publication_name: String,
    pub autocreate: AutocreateMode,
    pub table_include: Vec<Regex>,
    pub table_exclude: Vec<Regex>,
    pub column_include: Vec<Regex>,
    pub column_exclude: Vec<Regex>,
    pub snapshot_mode: SnapshotMode,
    pub snapshot_fetch_size: usize,
    pub modes: Modes,
    pub tombstones_on_delete: bool,
    /// `skipped.operations`: ops (`c`, `u`, `d`, `t`) not emitted.
    pub skipped_operations: Vec<String>,
    pub heartbeat_interval: Option<Duration>,
    pub max_batch_size: usize,
    pub poll_interval: Duration,
}

fn key(name: &str, t: ConfigType, doc: &str) -> ConfigKey {
    ConfigKey::new(name, t)
        .importance(Importance::High)
        .doc(doc)
}

/// The connector's keys, with Debezium's defaults.
pub fn config_def() -> ConfigDef {
    let one_of = |v: &[&str]| Validator::one_of(v.iter().map(|s| s.to_string()));
    ConfigDef::new()
        .define(key(HOSTNAME, ConfigType::String, "Resolvable hostname or IP address of the database server."))
        .define(key(PORT, ConfigType::Int, "Port of the database server.").default_value("5432"))
        .define(key(USER, ConfigType::String, "Name of the database user to be used when connecting to the database."))
        .define(key(PASSWORD, ConfigType::Password, "Password of the database user to be used when connecting to the database.").default_null())
        .define(key(DBNAME, ConfigType::String, "The name of the database from which the connector should capture changes."))
        .define(key(SSLMODE, ConfigType::String, "Whether to use an encrypted connection to the PostgreSQL server: disable, allow, prefer, require, verify-ca or verify-full.")
            .default_value("prefer")
            .validator(one_of(&["disable", "allow", "prefer", "require", "verify-ca", "verify-full"])))
        .define(key(SSLROOTCERT, ConfigType::String, "File with the root certificate(s) against which the server is validated.").default_null())
        .define(key(SSLCERT, ConfigType::String, "File with the client's SSL certificate.").default_null())
        .define(key(SSLKEY, ConfigType::String, "File with the client's SSL private key.").default_null())
        .define(key(TOPIC_PREFIX, ConfigType::String, "Topic prefix that identifies and provides a namespace for the PostgreSQL database server; the prefix of every topic and of the Connect schema names."))
        .define(key(PLUGIN_NAME, ConfigType::String, "The logical decoding plugin installed on the server. Conveyor supports pgoutput, PostgreSQL's built-in plugin.")
            .default_value("pgoutput")
            .validator(one_of(&["pgoutput"])))
        .define(key(SLOT_NAME, ConfigType::String, "The name of the PostgreSQL logical decoding slot that streams changes to this connector.").default_value("debezium"))
        .define(key(SLOT_DROP_ON_STOP, ConfigType::Boolean, "Whether to drop the logical replication slot when the connector stops.").default_value("false"))
        .define(key(PUBLICATION_NAME, ConfigType::String, "The name of the PostgreSQL publication created for streaming changes when using pgoutput.").default_value("dbz_publication"))
        .define(key(PUBLICATION_AUTOCREATE_MODE, ConfigType::String, "all_tables: create the publication FOR ALL TABLES if it does not exist; filtered: create or alter it FOR the included tables; no_tables: create it without tables; disabled: the publication must exist.")
            .default_value("all_tables")
            .validator(one_of(&["all_tables", "filtered", "no_tables", "disabled"])))
        .define(key(TABLE_INCLUDE_LIST, ConfigType::List, "Regular expressions matching fully-qualified names (schema.table) of the tables to capture.").default_null())
        .define(key(TABLE_EXCLUDE_LIST, ConfigType::List, "Regular expressions matching fully-qualified names (schema.table) of the tables not to capture.").default_null())
        .define(key(COLUMN_INCLUDE_LIST, ConfigType::List, "Regular expressions matching fully-qualified column names (schema.table.column) to include in change events.").default_null())
        .define(key(COLUMN_EXCLUDE_LIST, ConfigType::List, "Regular expressions matching fully-qualified column names (schema.table.column) to leave out of change events.").default_null())
        .define(key(SNAPSHOT_MODE, ConfigType::String, "initial: snapshot when there are no offsets, then stream; no_data (never): stream only; always: snapshot at every start; initial_only: snapshot, then stop streaming; when_needed: snapshot when offsets are missing or no longer available.")
            .default_value("initial")
            .validator(one_of(&["initial", "no_data", "never", "always", "initial_only", "when_needed"])))
        .define(key(SNAPSHOT_FETCH_SIZE, ConfigType::Int, "Rows read from a table at a time during a snapshot (a server-side cursor).").default_value("10240").validator(Validator::at_least(1.0)))
        .define(key(DECIMAL_HANDLING_MODE, ConfigType::String, "precise: java.math.BigDecimal (Connect Decimal); double; string.")
            .default_value("precise")
            .validator(one_of(&["precise", "double", "string"])))
        .define(key(TIME_PRECISION_MODE, ConfigType::String, "adaptive, adaptive_time_microseconds or connect.")
            .default_value("adaptive")
            .validator(one_of(&["adaptive", "adaptive_time_microseconds", "connect"])))
        .define(key(TOMBSTONES_ON_DELETE, ConfigType::Boolean, "Whether a delete event is followed by a tombstone (a null value for the same key).").default_value("true"))
        .define(key(SKIPPED_OPERATIONS, ConfigType::List, "Operations not emitted: c (insert), u (update), d (delete), t (truncate), or none.")
            .default_value("t"))
        .define(key(HEARTBEAT_INTERVAL_MS, ConfigType::Int, "Interval in milliseconds between heartbeat records on __debezium-heartbeat.<topic.prefix>; 0 disables them.").default_value("0").validator(Validator::at_least(0.0)))
        .define(key(MAX_BATCH_SIZE, ConfigType::Int, "Maximum size of each batch of events returned by one poll.").default_value("2048").validator(Validator::at_least(1.0)))
        .define(key(MAX_QUEUE_SIZE, ConfigType::Int, "Accepted for compatibility: Conveyor has no event queue between the database and the task.").default_value("8192").validator(Validator::at_least(1.0)))
        .define(key(POLL_INTERVAL_MS, ConfigType::Long, "How long a poll waits for new change events when there are none.").default_value("500").validator(Validator::at_least(0.0)))
}

fn regexes(list: &[String], key: &str) -> std::result::Result<Vec<Regex>, String> {
    list.iter()
        .map(|p| {
            Regex::new(&format!("^(?:{p})$")).map_err(|e| {
                format!("Invalid value {p} for configuration {key}: not a regular expression: {e}")
            })
        })
        .collect()
}

/// Problems `ConfigDef` cannot see: unknown keys in Debezium's namespaces, `tasks.max`, the
/// exclusive include/exclude lists, bad regular expressions. (key, message) pairs.
pub fn cross_check(config: &ConfigMap) -> Vec<(String, String)> {
    let def = config_def();
    let mut out = Vec::new();
    for k in config.keys() {
        if def.key(k).is_some() {
            continue;
        }
        if k == "database.server.name" {
            out.push((k.clone(), "database.server.name was replaced by topic.prefix in Debezium 2.0: set topic.prefix instead".into()));
        } else if DEBEZIUM_PREFIXES.iter().any(|p| k.starts_with(p)) {
            out.push((
                k.clone(),
                format!("{k} is not a configuration of the PostgreSQL CDC connector: it is misspelt, or a Debezium option that Conveyor does not support (see the README's list)"),
            ));
        }
    }
    if let Some(t) = config.get("tasks.max") {
        if t.trim().parse::<i64>().is_ok_and(|n| n > 1) {
            out.push(("tasks.max".into(), format!("Invalid value {t} for configuration tasks.max: the PostgreSQL connector reads one replication slot and runs exactly 1 task")));
        }
    }
    let set = |k: &str| config.get(k).is_some_and(|v| !v.trim().is_empty());
    if set(TABLE_INCLUDE_LIST) && set(TABLE_EXCLUDE_LIST) {
        out.push((
            TABLE_EXCLUDE_LIST.into(),
            "table.include.list and table.exclude.list are exclusive: set only one of them".into(),
        ));
    }
    if set(COLUMN_INCLUDE_LIST) && set(COLUMN_EXCLUDE_LIST) {
        out.push((
            COLUMN_EXCLUDE_LIST.into(),
            "column.include.list and column.exclude.list are exclusive: set only one of them"
                .into(),
        ));
    }
    for k in [
        TABLE_INCLUDE_LIST,
        TABLE_EXCLUDE_LIST,
        COLUMN_INCLUDE_LIST,
        COLUMN_EXCLUDE_LIST,
    ] {
        if let Some(v) = config.get(k) {
            if let Err(e) = regexes(&crate::config::def::split_list(v), k) {
                out.push((k.into(), e));
            }
        }
    }
    if let Some(ops) = config.get(SKIPPED_OPERATIONS) {
        for op in crate::config::def::split_list(ops) {
            if !["c", "u", "d", "t", "none"].contains(&op.as_str()) {
                out.push((SKIPPED_OPERATIONS.into(), format!("Invalid value {op} for configuration skipped.operations: use c, u, d, t or none")));
            }
        }
    }
    out
}

/// `ConfigDef` validation plus [`cross_check`]; an unknown key gets an entry of its own.
pub fn validate(config: &ConfigMap) -> Vec<ConfigInfo> {
    let mut infos = config_def().validate(config);
    for (k, message) in cross_check(config) {
        match infos.iter_mut().find(|i| i.value.name == k) {
            Some(info) => info.value.errors.push(message),
            None => infos.push(ConfigInfo {
                definition: ConfigKey::new(k.clone(), ConfigType::String)
                    .default_null()
                    .importance(Importance::Low)
                    .doc("Not a configuration of this connector.")
                    .info(),
                value: ConfigValueInfo {
                    name: k.clone(),
                    value: config.get(&k).cloned(),
                    recommended_values: Vec::new(),
                    errors: vec![message],
                    visible: true,
                },
            }),
        }
    }
    infos
}

impl CdcConfig {
    /// Parses and checks `config`; every problem at once in one config error.
    pub fn parse(config: &ConfigMap) -> Result<CdcConfig> {
        let parsed = config_def().parse(config)?;
        let problems: Vec<String> = cross_check(config).into_iter().map(|(_, m)| m).collect();
        if !problems.is_empty() {
            return Err(ConnectError::Config(problems.join("; ")));
        }
        let s = |k: &str| parsed.string(k).unwrap_or_default().to_string();
        let opt = |k: &str| parsed.non_empty_string(k).map(String::from);
        let list = |k: &str| regexes(&parsed.list(k), k).map_err(ConnectError::Config);
        let port = parsed.int_value(PORT)?;
        let port = u16::try_from(port).map_err(|_| {
            ConnectError::Config(format!(
                "Invalid value {port} for configuration {PORT}: not a TCP port"
            ))
        })?;
        for k in [
            HOSTNAME,
            USER,
            DBNAME,
            TOPIC_PREFIX,
            SLOT_NAME,
            PUBLICATION_NAME,
        ] {
            if s(k).trim().is_empty() {
                return Err(ConnectError::Config(format!(
                    "Invalid value for configuration {k}: must not be empty"
                )));
            }
        }
        let slot = s(SLOT_NAME);
        if !slot
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(ConnectError::Config(format!("Invalid value {slot} for configuration {SLOT_NAME}: a replication slot name may contain only lower case letters, numbers and the underscore")));
        }
        Ok(CdcConfig {
            hostname: s(HOSTNAME),
            port,
            user: s(USER),
            password: opt(PASSWORD),
            dbname: s(DBNAME),
            sslmode: s(SSLMODE),
            sslrootcert: opt(SSLROOTCERT),
            sslcert: opt(SSLCERT),
            sslkey: opt(SSLKEY),
            topic_prefix: s(TOPIC_PREFIX),
            slot_name: slot,
            slot_drop_on_stop: parsed.boolean_value(SLOT_DROP_ON_STOP)?,
            publication_name: s(PUBLICATION_NAME),
            autocreate: match s(PUBLICATION_AUTOCREATE_MODE).as_str() {
                "filtered" => AutocreateMode::Filtered,
                "no_tables" => AutocreateMode::NoTables,
                "disabled" => AutocreateMode::Disabled,
                _ => AutocreateMode::AllTables,
            },
            table_include: list(TABLE_INCLUDE_LIST)?,
            table_exclude: list(TABLE_EXCLUDE_LIST)?,
            column_include: list(COLUMN_INCLUDE_LIST)?,
            column_exclude: list(COLUMN_EXCLUDE_LIST)?,
            snapshot_mode: match s(SNAPSHOT_MODE).as_str() {
                "no_data" | "never" => SnapshotMode::NoData,
                "always" => SnapshotMode::Always,
                "initial_only" => SnapshotMode::InitialOnly,
                "when_needed" => SnapshotMode::WhenNeeded,
                _ => SnapshotMode::Initial,
            },
            snapshot_fetch_size: parsed.int_value(SNAPSHOT_FETCH_SIZE)?.max(1) as usize,
            modes: Modes {
                decimal: match s(DECIMAL_HANDLING_MODE).as_str() {
                    "double" => DecimalMode::Double,
                    "string" => DecimalMode::String,
                    _ => DecimalMode::Precise,
                },
                time: match s(TIME_PRECISION_MODE).as_str() {
                    "adaptive_time_microseconds" => TimePrecision::AdaptiveTimeMicroseconds,
                    "connect" => TimePrecision::Connect,
                    _ => TimePrecision::Adaptive,
                },
            },
            tombstones_on_delete: parsed.boolean_value(TOMBSTONES_ON_DELETE)?,
            skipped_operations: parsed
                .list(SKIPPED_OPERATIONS)
                .into_iter()
                .filter(|o| o != "none")
                .collect(),
            heartbeat_interval: match parsed.int_value(HEARTBEAT_INTERVAL_MS)? {
                0 => None,
                ms => Some(Duration::from_millis(ms as u64)),
            },
            max_batch_size: parsed.int_value(MAX_BATCH_SIZE)?.max(1) as usize,
            poll_interval: Duration::from_millis(parsed.long_value(POLL_INTERVAL_MS)?.max(0) as u64),
        })
    }

    /// Whether `schema.table` is captured.
    pub fn captures_table(&self, schema: &str, table: &str) -> bool {
        let name = format!("{schema}.{table}");
        if !self.table_include.is_empty() {
            return self.table_include.iter().any(|r| r.is_match(&name));
        }
        !self.table_exclude.iter().any(|r| r.is_match(&name))
    }

    /// Whether `schema.table.column` is in the events.
    pub fn captures_column(&self, schema: &str, table: &str, column: &str) -> bool {
        let name = format!("{schema}.{table}.{column}");
        if !self.column_include.is_empty() {
            return self.column_include.iter().any(|r| r.is_match(&name));
        }
        !self.column_exclude.iter().any(|r| r.is_match(&name))
    }

    /// Whether events of operation `op` are skipped.
    pub fn skips(&self, op: &str) -> bool {
        self.skipped_operations.iter().any(|o| o == op)
    }

    /// The source partition, as Debezium's: `{"server": <topic.prefix>}`.
    pub fn partition(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert("server".into(), self.topic_prefix.clone().into());
        m
    }

    /// `host:port/dbname`, for logs and errors.
    pub fn display(&self) -> String {
        format!("{}:{}/{}", self.hostname, self.port, self.dbname)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::{defaults_spelt_out, map};

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("database.hostname", "localhost"),
            ("database.user", "postgres"),
            ("database.dbname", "db"),
            ("topic.prefix", "srv"),
        ]
    }

    #[test]
    fn parses_debezium_defaults() {
        let c = CdcConfig::parse(&map(&base())).unwrap();
        assert_eq!(c.port, 5432);
        assert_eq!(c.slot_name, "debezium");
        assert_eq!(c.publication_name, "dbz_publication");
        assert_eq!(c.snapshot_mode, SnapshotMode::Initial);
        assert_eq!(c.autocreate, AutocreateMode::AllTables);
        assert!(c.tombstones_on_delete);
        assert!(c.skips("t") && !c.skips("c"));
        assert_eq!(c.max_batch_size, 2048);
        assert!(c.captures_table("public", "x"));
    }

    #[test]
    fn an_unset_key_means_its_config_def_default() {
        let implicit = map(&base());
        let explicit = defaults_spelt_out(&config_def(), &implicit);
        assert!(explicit.len() > implicit.len() + 10);
        assert_eq!(
            format!("{:?}", CdcConfig::parse(&implicit).unwrap()),
            format!("{:?}", CdcConfig::parse(&explicit).unwrap())
        );
    }

    #[test]
    fn table_and_column_lists_are_anchored_regexes() {
        let mut m = base();
        m.push(("table.include.list", "public\\.ord.*,inv\\.items"));
        m.push(("column.exclude.list", "public\\.orders\\.secret"));
        let c = CdcConfig::parse(&map(&m)).unwrap();
        assert!(c.captures_table("public", "orders"));
        assert!(c.captures_table("inv", "items"));
        assert!(!c.captures_table("inv", "items2"));
        assert!(!c.captures_table("xpublic", "orders"));
        assert!(!c.captures_column("public", "orders", "secret"));
        assert!(c.captures_column("public", "orders", "id"));
    }

    #[test]
    fn unknown_and_unsupported_values_are_named() {
        let mut m = base();
        m.push(("plugin.name", "decoderbufs"));
        let err = CdcConfig::parse(&map(&m)).unwrap_err().to_string();
        assert!(
            err.contains("plugin.name") && err.contains("pgoutput"),
            "{err}"
        );

        let mut m = base();
        m.push(("snapshot.mod", "initial"));
        let err = CdcConfig::parse(&map(&m)).unwrap_err().to_string();
        assert!(err.contains("snapshot.mod is not a configuration"), "{err}");
        let infos = validate(&map(&m));
        let info = infos
            .iter()
            .find(|i| i.value.name == "snapshot.mod")
            .unwrap();
        assert_eq!(info.value.errors.len(), 1);

        let mut m = base();
        m.push(("database.server.name", "x"));
        assert!(CdcConfig::parse(&map(&m))
            .unwrap_err()
            .to_string()
            .contains("topic.prefix"));

        let mut m = base();
        m.push(("snapshot.mode", "custom"));
        assert!(CdcConfig::parse(&map(&m))
            .unwrap_err()
            .to_string()
            .contains("snapshot.mode"));

        let mut m = base();
        m.push(("table.include.list", "a("));
        assert!(CdcConfig::parse(&map(&m))
            .unwrap_err()
            .to_string()
            .contains("regular expression"));

        let mut m = base();
        m.push(("tasks.max", "2"));
        assert!(CdcConfig::parse(&map(&m))
            .unwrap_err()
            .to_string()
            .contains("exactly 1 task"));

        let mut m = base();
        m.retain(|(k, _)| *k != "topic.prefix");
        assert!(CdcConfig::parse(&map(&m))
            .unwrap_err()
            .to_string()
            .contains("topic.prefix"));
    }
}
