//! Configuration: properties files, `ConfigDef`, worker and connector configs.

pub mod connector;
pub mod def;
pub mod jaas;
pub mod properties;
pub mod provider;
pub mod worker;

/// A raw config: string keys to string values, ordered so that REST output is stable.
pub type ConfigMap = std::collections::BTreeMap<String, String>;

/// Whether a key names a secret by its name alone, whatever plugin or client reads it: JAAS
/// configs (they carry passwords), passwords, client secrets, inline private keys and basic
/// auth credentials, also under prefixes (`producer.override.sasl.jaas.config`). Such values
/// are `[hidden]` in REST responses and never logged.
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.ends_with("sasl.jaas.config")
        || key == "password"
        || key.ends_with(".password")
        || key.ends_with("client.secret")
        || key.ends_with("ssl.keystore.key")
        || key.ends_with("ssl.key.pem")
        || key.ends_with("basic.auth.user.info")
}

pub use def::{
    ConfigDef, ConfigErrors, ConfigInfo, ConfigKey, ConfigKeyInfo, ConfigType, ConfigValue,
    ConfigValueInfo, DefaultValue, Importance, ParsedConfig, Validator, Width, HIDDEN,
};
pub use properties::{parse_properties, read_properties_file, PropertiesError};
pub use worker::{ConverterSpec, WorkerConfig, WorkerMode};

/// Helpers for unit tests across the crate.
#[cfg(test)]
pub(crate) mod test_support {
    use super::ConfigMap;

    /// A config map from `(key, value)` pairs.
    pub(crate) fn map(pairs: &[(&str, &str)]) -> ConfigMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}
