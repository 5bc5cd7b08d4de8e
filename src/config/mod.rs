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

/// Whether a key may hold a secret, judged by its name alone, for text that is shown without
/// knowing the plugin that defines it (an error message about a config with no connector
/// class): [`is_secret_key`], plus names that speak of tokens, credentials and private keys.
/// Errs on the side of hiding.
pub fn looks_secret_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    is_secret_key(key)
        || [
            "password",
            "passwd",
            "passphrase",
            "secret",
            "token",
            "credential",
            "jaas",
            "apikey",
            "api.key",
            "api_key",
            "private.key",
            "private_key",
            "user.info",
        ]
        .iter()
        .any(|word| lower.contains(word))
}

/// Name endings of the keys that decide where a secret is sent or how it is protected on the
/// way: URLs and endpoints, hosts, ports and addresses, users, bootstrap servers, and the
/// client settings that choose the protocol and whom to trust.
const DESTINATION_SUFFIXES: &[&str] = &[
    "url",
    "urls",
    "uri",
    "uris",
    "endpoint",
    "endpoints",
    "host",
    "hosts",
    "hostname",
    "server",
    "servers",
    "address",
    "addresses",
    "port",
    "user",
    "username",
    "user.name",
    "login",
    "principal",
    "security.protocol",
    "sasl.mechanism",
    "ssl.truststore.location",
    "ssl.truststore.certificates",
    "ssl.truststore.type",
    "ssl.endpoint.identification.algorithm",
];

/// Whether a key decides where a secret in the same config goes (see
/// [`DESTINATION_SUFFIXES`]): `connection.url`, `database.hostname`, `connection.user`,
/// `producer.override.bootstrap.servers`, `consumer.override.security.protocol`, ... A key
/// matches when it is one of those names or ends with one after a `.`, `_` or `-`.
pub fn is_destination_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    DESTINATION_SUFFIXES.iter().any(|suffix| {
        key == *suffix
            || key.strip_suffix(suffix).is_some_and(|head| {
                head.ends_with('.') || head.ends_with('_') || head.ends_with('-')
            })
    })
}

/// `{k=v, ...}` as Java prints a map, with the values of [`looks_secret_key`] keys and of
/// `secrets` shown as `[hidden]`: for messages and logs that quote a config.
pub fn display_masked(config: &ConfigMap, secrets: &[String]) -> String {
    let inner: Vec<String> = config
        .iter()
        .map(|(k, v)| {
            if looks_secret_key(k) || secrets.contains(k) {
                format!("{k}={HIDDEN}")
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    format!("{{{}}}", inner.join(", "))
}

pub use def::{
    ConfigDef, ConfigErrors, ConfigInfo, ConfigKey, ConfigKeyInfo, ConfigType, ConfigValue,
    ConfigValueInfo, DefaultValue, Importance, ParsedConfig, Validator, Width, HIDDEN,
};
pub use properties::{parse_properties, read_properties_file, PropertiesError};
pub use worker::{ConverterSpec, WorkerConfig, WorkerMode};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_keys() {
        for k in [
            "connection.url",
            "schema.registry.url",
            "database.hostname",
            "database.port",
            "connection.user",
            "database.user.name",
            "bootstrap.servers",
            "producer.override.bootstrap.servers",
            "consumer.override.security.protocol",
            "admin.override.sasl.mechanism",
            "producer.override.ssl.truststore.location",
            "sasl.oauthbearer.token.endpoint.url",
            "mongo_uri",
            "ldap-host",
        ] {
            assert!(is_destination_key(k), "{k}");
        }
        for k in [
            "topic",
            "tasks.max",
            "connection.password",
            "transforms.support",
            "report",
            "file",
            "errors.tolerance",
            "ssl.protocol.version",
        ] {
            assert!(!is_destination_key(k), "{k}");
        }
    }

    #[test]
    fn masked_display_hides_secrets_by_name_and_by_definition() {
        let config: ConfigMap = [
            ("connection.password", "p"),
            ("api.token", "t"),
            ("producer.override.sasl.jaas.config", "j"),
            ("custom.thing", "c"),
            ("topic", "x"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            display_masked(&config, &["custom.thing".to_string()]),
            "{api.token=[hidden], connection.password=[hidden], custom.thing=[hidden], \
             producer.override.sasl.jaas.config=[hidden], topic=x}"
        );
    }
}

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

    /// `base` plus every key `def` gives a default, set explicitly to that default: a parse
    /// of either must give the same config.
    pub(crate) fn defaults_spelt_out(def: &super::def::ConfigDef, base: &ConfigMap) -> ConfigMap {
        let mut out = base.clone();
        for key in def.keys() {
            if let super::def::DefaultValue::Value(d) = &key.default {
                out.entry(key.name.clone()).or_insert_with(|| d.clone());
            }
        }
        out
    }
}
