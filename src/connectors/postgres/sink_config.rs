//! The sink's configuration: the JDBC sink connector's keys, defaults and checks, plus
//! `delivery.guarantee` / `offsets.table.name` for offsets kept in the database.

use std::time::Duration;

use crate::config::{
    ConfigDef, ConfigInfo, ConfigKey, ConfigMap, ConfigType, Importance, Validator, Width,
};
use crate::errors::{ConnectError, Result};

use super::config::{
    connection_cross_check, db_timezone_key, define_connection_keys, quote_identifiers_key,
    quoting, ConnectionSettings,
};
use super::identifier::Quoting;

pub const INSERT_MODE: &str = "insert.mode";
pub const BATCH_SIZE: &str = "batch.size";
pub const DELETE_ENABLED: &str = "delete.enabled";
pub const TABLE_NAME_FORMAT: &str = "table.name.format";
pub const PK_MODE: &str = "pk.mode";
pub const PK_FIELDS: &str = "pk.fields";
pub const FIELDS_WHITELIST: &str = "fields.whitelist";
/// Accepted as a synonym of `fields.whitelist` (newer JDBC connector docs use it).
pub const FIELDS_INCLUDE: &str = "fields.include";
pub const AUTO_CREATE: &str = "auto.create";
pub const AUTO_EVOLVE: &str = "auto.evolve";
pub const MAX_RETRIES: &str = "max.retries";
pub const RETRY_BACKOFF_MS: &str = "retry.backoff.ms";
pub const DELIVERY_GUARANTEE: &str = "delivery.guarantee";
pub const OFFSETS_TABLE_NAME: &str = "offsets.table.name";

/// Default primary key column names for `pk.mode=kafka`.
pub const DEFAULT_KAFKA_PK_NAMES: [&str; 3] =
    ["__connect_topic", "__connect_partition", "__connect_offset"];

/// `insert.mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsertMode {
    Insert,
    Upsert,
    Update,
}

/// `pk.mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PkMode {
    None,
    Kafka,
    RecordKey,
    RecordValue,
}

/// `delivery.guarantee`: where the sink's progress is recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryGuarantee {
    /// Consumer group offsets, committed after the rows are written (the JDBC connector's).
    AtLeastOnce,
    /// Kafka offsets written to `offsets.table.name` in the same transaction as the rows;
    /// the task rewinds to them when partitions are assigned.
    ExactlyOnce,
}

const GROUP_CONNECTION: &str = "Connection";
const GROUP_WRITES: &str = "Writes";
const GROUP_DATA_MAPPING: &str = "Data Mapping";
const GROUP_DDL: &str = "DDL Support";
const GROUP_RETRIES: &str = "Retries";

/// The sink's config keys.
pub fn config_def() -> ConfigDef {
    define_connection_keys(ConfigDef::new(), GROUP_CONNECTION)
        .define(
            ConfigKey::new(INSERT_MODE, ConfigType::String)
                .default_value("insert")
                .validator(Validator::one_of_ignore_case(["insert", "upsert", "update"]))
                .importance(Importance::High)
                .doc("The insertion mode to use. Supported modes are: insert (standard SQL INSERT statements), upsert (INSERT .. ON CONFLICT .. DO UPDATE; needs a primary key), update (UPDATE statements).")
                .group(GROUP_WRITES, 1)
                .width(Width::Medium)
                .display_name("Insert Mode"),
        )
        .define(
            ConfigKey::new(BATCH_SIZE, ConfigType::Int)
                .default_value("3000")
                .validator(Validator::at_least(0.0))
                .importance(Importance::Medium)
                .doc("Specifies how many records to attempt to batch together for insertion into the destination table, when possible.")
                .group(GROUP_WRITES, 2)
                .width(Width::Short)
                .display_name("Batch Size"),
        )
        .define(
            ConfigKey::new(DELETE_ENABLED, ConfigType::Boolean)
                .default_value("false")
                .importance(Importance::Medium)
                .doc("Whether to treat null record values as deletes. Requires pk.mode to be record_key.")
                .group(GROUP_WRITES, 3)
                .width(Width::Short)
                .display_name("Enable deletes"),
        )
        .define(
            ConfigKey::new(DELIVERY_GUARANTEE, ConfigType::String)
                .default_value("at_least_once")
                .validator(Validator::one_of_ignore_case(["at_least_once", "exactly_once"]))
                .importance(Importance::Medium)
                .doc("at_least_once: progress is the consumer group's committed offsets, committed after rows are written, so a crash can write some records twice (harmless with upsert). exactly_once: each write transaction also records the Kafka offsets it covers in offsets.table.name, and the task rewinds to those offsets when it gets its partitions, so every record is applied exactly once, even in insert mode.")
                .group(GROUP_WRITES, 4)
                .width(Width::Medium)
                .display_name("Delivery guarantee"),
        )
        .define(
            ConfigKey::new(OFFSETS_TABLE_NAME, ConfigType::String)
                .default_value("connect_offsets")
                .validator(Validator::NonEmptyString)
                .importance(Importance::Low)
                .doc("The table that holds Kafka offsets when delivery.guarantee=exactly_once (created if missing): one row per connector, topic and partition.")
                .group(GROUP_WRITES, 5)
                .width(Width::Medium)
                .display_name("Offsets table"),
        )
        .define(
            ConfigKey::new(TABLE_NAME_FORMAT, ConfigType::String)
                .default_value("${topic}")
                .importance(Importance::Medium)
                .doc("A format string for the destination table name, which may contain '${topic}' as a placeholder for the originating topic name. For example, kafka_${topic} for the topic 'orders' will map to the table name 'kafka_orders'.")
                .group(GROUP_DATA_MAPPING, 1)
                .width(Width::Long)
                .display_name("Table Name Format"),
        )
        .define(
            ConfigKey::new(PK_MODE, ConfigType::String)
                .default_value("none")
                .validator(Validator::one_of_ignore_case(["none", "kafka", "record_key", "record_value"]))
                .importance(Importance::High)
                .doc("The primary key mode, also refer to pk.fields documentation for interplay. Supported modes are: none (no keys utilized), kafka (Kafka coordinates are used as the PK), record_key (field(s) from the record key are used, which may be a primitive or a struct), record_value (field(s) from the record value are used, which must be a struct).")
                .group(GROUP_DATA_MAPPING, 2)
                .width(Width::Medium)
                .display_name("Primary Key Mode"),
        )
        .define(
            ConfigKey::new(PK_FIELDS, ConfigType::List)
                .default_value("")
                .importance(Importance::Medium)
                .doc("List of comma-separated primary key field names. The runtime interpretation of this config depends on the pk.mode: none (ignored), kafka (must be a trio representing the Kafka coordinates, defaults to __connect_topic,__connect_partition,__connect_offset if empty), record_key (if empty, all fields from the key struct will be used, otherwise used to extract the desired fields - for primitive key only a single field name must be configured), record_value (if empty, all fields from the value struct will be used, otherwise used to extract the desired fields).")
                .group(GROUP_DATA_MAPPING, 3)
                .width(Width::Long)
                .display_name("Primary Key Fields"),
        )
        .define(
            ConfigKey::new(FIELDS_WHITELIST, ConfigType::List)
                .default_value("")
                .importance(Importance::Medium)
                .doc("List of comma-separated record value field names. If empty, all fields from the record value are utilized, otherwise used to filter to the desired fields. Note that pk.fields is applied independently in the context of which field(s) form the primary key columns in the destination database, while this configuration is applicable for the other columns.")
                .group(GROUP_DATA_MAPPING, 4)
                .width(Width::Long)
                .display_name("Fields Whitelist"),
        )
        .define(
            ConfigKey::new(FIELDS_INCLUDE, ConfigType::List)
                .default_value("")
                .importance(Importance::Low)
                .doc("A synonym of fields.whitelist; the two lists are combined.")
                .group(GROUP_DATA_MAPPING, 5)
                .width(Width::Long)
                .display_name("Fields Include"),
        )
        .define(db_timezone_key(GROUP_DATA_MAPPING, 6))
        .define(
            ConfigKey::new(AUTO_CREATE, ConfigType::Boolean)
                .default_value("false")
                .importance(Importance::Medium)
                .doc("Whether to automatically create the destination table based on record schema if it is found to be missing by issuing CREATE.")
                .group(GROUP_DDL, 1)
                .width(Width::Short)
                .display_name("Auto-Create"),
        )
        .define(
            ConfigKey::new(AUTO_EVOLVE, ConfigType::Boolean)
                .default_value("false")
                .importance(Importance::Medium)
                .doc("Whether to automatically add columns in the table schema when found to be missing relative to the record schema by issuing ALTER. Added columns are nullable.")
                .group(GROUP_DDL, 2)
                .width(Width::Short)
                .display_name("Auto-Evolve"),
        )
        .define(quote_identifiers_key(GROUP_DDL, 3))
        .define(
            ConfigKey::new(MAX_RETRIES, ConfigType::Int)
                .default_value("10")
                .validator(Validator::at_least(0.0))
                .importance(Importance::Medium)
                .doc("The maximum number of times to retry on errors before failing the task.")
                .group(GROUP_RETRIES, 1)
                .width(Width::Short)
                .display_name("Maximum Retries"),
        )
        .define(
            ConfigKey::new(RETRY_BACKOFF_MS, ConfigType::Int)
                .default_value("3000")
                .validator(Validator::at_least(0.0))
                .importance(Importance::Medium)
                .doc("The time in milliseconds to wait following an error before a retry attempt is made.")
                .group(GROUP_RETRIES, 2)
                .width(Width::Short)
                .display_name("Retry Backoff (millis)"),
        )
}

/// A parsed, checked sink config.
#[derive(Clone, Debug)]
pub struct SinkConfig {
    pub connection: ConnectionSettings,
    pub insert_mode: InsertMode,
    pub pk_mode: PkMode,
    pub pk_fields: Vec<String>,
    /// Value fields to write (empty: all); `fields.whitelist` and `fields.include` combined.
    pub fields_whitelist: Vec<String>,
    pub table_name_format: String,
    pub auto_create: bool,
    pub auto_evolve: bool,
    pub delete_enabled: bool,
    /// Rows per statement.
    pub batch_size: usize,
    pub max_retries: u32,
    pub retry_backoff: Duration,
    pub quoting: Quoting,
    pub delivery: DeliveryGuarantee,
    pub offsets_table: String,
}

impl SinkConfig {
    pub fn parse(config: &ConfigMap) -> Result<SinkConfig> {
        let parsed = config_def().parse(config)?;
        if let Some(problem) = cross_check(config).into_iter().next() {
            return Err(ConnectError::Config(problem.1));
        }
        let lower =
            |key: &str| -> Result<String> { Ok(parsed.string_value(key)?.to_ascii_lowercase()) };
        let insert_mode = match lower(INSERT_MODE)?.as_str() {
            "upsert" => InsertMode::Upsert,
            "update" => InsertMode::Update,
            _ => InsertMode::Insert,
        };
        let pk_mode = pk_mode_of(&lower(PK_MODE)?);
        let mut fields_whitelist = parsed.list(FIELDS_WHITELIST);
        for f in parsed.list(FIELDS_INCLUDE) {
            if !fields_whitelist.contains(&f) {
                fields_whitelist.push(f);
            }
        }
        let mut pk_fields = parsed.list(PK_FIELDS);
        if pk_mode == PkMode::Kafka && pk_fields.is_empty() {
            pk_fields = DEFAULT_KAFKA_PK_NAMES
                .iter()
                .map(|s| s.to_string())
                .collect();
        }
        Ok(SinkConfig {
            connection: ConnectionSettings::from_parsed(&parsed)?,
            insert_mode,
            pk_mode,
            pk_fields,
            fields_whitelist,
            table_name_format: parsed.string_value(TABLE_NAME_FORMAT)?.to_string(),
            auto_create: parsed.boolean_value(AUTO_CREATE)?,
            auto_evolve: parsed.boolean_value(AUTO_EVOLVE)?,
            delete_enabled: parsed.boolean_value(DELETE_ENABLED)?,
            batch_size: match parsed.int_value(BATCH_SIZE)? {
                n if n <= 0 => usize::MAX,
                n => n as usize,
            },
            max_retries: parsed.int_value(MAX_RETRIES)?.max(0) as u32,
            retry_backoff: Duration::from_millis(parsed.int_value(RETRY_BACKOFF_MS)?.max(0) as u64),
            quoting: quoting(&parsed)?,
            delivery: if lower(DELIVERY_GUARANTEE)? == "exactly_once" {
                DeliveryGuarantee::ExactlyOnce
            } else {
                DeliveryGuarantee::AtLeastOnce
            },
            offsets_table: parsed.string_value(OFFSETS_TABLE_NAME)?.to_string(),
        })
    }

    /// The destination table name for a topic.
    pub fn table_name(&self, topic: &str) -> String {
        self.table_name_format.replace("${topic}", topic)
    }
}

fn pk_mode_of(s: &str) -> PkMode {
    match s {
        "kafka" => PkMode::Kafka,
        "record_key" => PkMode::RecordKey,
        "record_value" => PkMode::RecordValue,
        _ => PkMode::None,
    }
}

/// Combinations of keys that cannot work, as (key to report on, message).
pub fn cross_check(config: &ConfigMap) -> Vec<(&'static str, String)> {
    // Unset keys read as the ConfigDef's defaults, the ones `parse` applies.
    let def = config_def();
    let get = |k: &str| {
        def.raw_or_default(config, k)
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default()
    };
    let pk_mode = pk_mode_of(&get(PK_MODE));
    let insert_mode = get(INSERT_MODE);
    let mut out = connection_cross_check(config);
    if get(DELETE_ENABLED) == "true" && pk_mode != PkMode::RecordKey {
        out.push((
            DELETE_ENABLED,
            "Primary key mode must be 'record_key' when delete support is enabled: set pk.mode=record_key or delete.enabled=false".to_string(),
        ));
    }
    if matches!(insert_mode.as_str(), "upsert" | "update") && pk_mode == PkMode::None {
        out.push((
            PK_MODE,
            format!("insert.mode={insert_mode} needs a primary key to match rows on, but pk.mode is none: set pk.mode to record_key, record_value or kafka (with pk.fields), or use insert.mode=insert"),
        ));
    }
    if pk_mode == PkMode::Kafka {
        let n = config
            .get(PK_FIELDS)
            .map(|v| crate::config::def::split_list(v).len())
            .unwrap_or(0);
        if n != 0 && n != 3 {
            out.push((
                PK_FIELDS,
                "pk.mode=kafka needs exactly three pk.fields (topic, partition and offset column names), or none for the defaults __connect_topic,__connect_partition,__connect_offset".to_string(),
            ));
        }
    }
    out
}

/// `ConfigDef` validation plus the cross-key checks, attached to the key to change.
pub fn validate(config: &ConfigMap) -> Vec<ConfigInfo> {
    let mut infos = config_def().validate(config);
    for (key, message) in cross_check(config) {
        if let Some(info) = infos.iter_mut().find(|i| i.value.name == key) {
            info.value.errors.push(message);
        }
    }
    infos
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::test_support::{defaults_spelt_out, map};

    #[test]
    fn an_unset_key_means_its_config_def_default() {
        let base = map(&[
            ("connection.url", "jdbc:postgresql://localhost:5432/mydb"),
            ("pk.mode", "record_key"),
        ]);
        let full = defaults_spelt_out(&config_def(), &base);
        assert!(full.len() > base.len() + 10);
        let implicit = SinkConfig::parse(&base).unwrap();
        let explicit = SinkConfig::parse(&full).unwrap();
        assert_eq!(format!("{implicit:?}"), format!("{explicit:?}"));
        assert_eq!(implicit.connection.timezone, explicit.connection.timezone);
        assert_eq!(implicit.connection.attempts, explicit.connection.attempts);
        assert_eq!(implicit.connection.backoff, explicit.connection.backoff);
        assert_eq!(cross_check(&base), cross_check(&full));
    }

    #[test]
    fn seed_config_parses_with_jdbc_defaults() {
        let c = SinkConfig::parse(&map(&[
            ("connection.url", "jdbc:postgresql://localhost:5432/mydb"),
            ("connection.user", "postgres"),
            ("connection.password", "secret"),
            ("insert.mode", "upsert"),
            ("pk.mode", "record_key"),
            ("pk.fields", "id"),
            ("auto.create", "true"),
        ]))
        .unwrap();
        assert_eq!(c.insert_mode, InsertMode::Upsert);
        assert_eq!(c.pk_mode, PkMode::RecordKey);
        assert_eq!(c.pk_fields, vec!["id"]);
        assert!(c.auto_create && !c.auto_evolve && !c.delete_enabled);
        assert_eq!(c.batch_size, 3000);
        assert_eq!(c.max_retries, 10);
        assert_eq!(c.retry_backoff, Duration::from_millis(3000));
        assert_eq!(c.connection.timezone, "UTC");
        assert_eq!(c.connection.pg.get_password(), Some(&b"secret"[..]));
        assert_eq!(c.table_name("orders"), "orders");
        assert_eq!(c.delivery, DeliveryGuarantee::AtLeastOnce);
    }

    #[test]
    fn conflicting_keys_name_both_keys() {
        let err = SinkConfig::parse(&map(&[
            ("connection.url", "jdbc:postgresql:db"),
            ("delete.enabled", "true"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("pk.mode=record_key") && err.contains("delete.enabled"),
            "{err}"
        );
        let infos = validate(&map(&[
            ("connection.url", "jdbc:sqlserver://x"),
            ("insert.mode", "upsert"),
        ]));
        let url = infos
            .iter()
            .find(|i| i.value.name == "connection.url")
            .unwrap();
        assert!(
            url.value.errors[0].contains("connection.url"),
            "{:?}",
            url.value.errors
        );
        let pk = infos.iter().find(|i| i.value.name == "pk.mode").unwrap();
        assert!(pk.value.errors[0].contains("insert.mode=upsert"));
    }
}
