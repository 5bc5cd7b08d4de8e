//! Configuration: properties files, `ConfigDef`, worker and connector configs.

pub mod connector;
pub mod def;
pub mod properties;
pub mod provider;
pub mod worker;

/// A raw config: string keys to string values, ordered so that REST output is stable.
pub type ConfigMap = std::collections::BTreeMap<String, String>;

pub use def::{
    ConfigDef, ConfigErrors, ConfigInfo, ConfigKey, ConfigKeyInfo, ConfigType, ConfigValue,
    ConfigValueInfo, DefaultValue, Importance, ParsedConfig, Validator, Width, HIDDEN,
};
pub use properties::{parse_properties, read_properties_file, PropertiesError};
pub use worker::{ConverterSpec, WorkerConfig, WorkerMode};
