//! Config keys and validators that several SMTs share.

use std::sync::Arc;

use crate::config::{
    ConfigDef, ConfigKey, ConfigMap, ConfigType, ConfigValue, Importance, ParsedConfig, Validator,
};
use crate::errors::{ConnectError, Result};

/// `replace.null.with.default` (KIP-1040).
pub const REPLACE_NULL_WITH_DEFAULT: &str = "replace.null.with.default";

/// The `replace.null.with.default` key: whether null struct fields that have a default are
/// read as their default.
pub fn replace_null_with_default_key() -> ConfigKey {
    ConfigKey::new(REPLACE_NULL_WITH_DEFAULT, ConfigType::Boolean)
        .default_value("true")
        .importance(Importance::Medium)
        .doc("Whether to replace fields that have a default value and that are null to the default value. When set to true, the default value is used, otherwise null is used.")
}

/// Connect's `NonEmptyListValidator`.
pub fn non_empty_list() -> Validator {
    Validator::Custom(Arc::new(|v| match v {
        ConfigValue::List(items) if !items.is_empty() => Ok(()),
        _ => Err("Empty list".to_string()),
    }))
}

/// Checks that `pattern` compiles, with Connect's `RegexValidator` message.
pub fn check_regex(pattern: &str) -> Result<(), String> {
    regex::Regex::new(pattern)
        .map(|_| ())
        .map_err(|e| format!("Invalid regex: {e}"))
}

/// Connect's `RegexValidator`: the value must compile as a regular expression.
pub fn valid_regex() -> Validator {
    Validator::Custom(Arc::new(|v| match v {
        ConfigValue::String(s) => check_regex(s),
        _ => Ok(()),
    }))
}

/// Parses an SMT or predicate config against its definition, with Connect's messages.
pub fn parse(def: &ConfigDef, config: &ConfigMap) -> Result<ParsedConfig> {
    def.parse(config).map_err(ConnectError::from)
}

/// Compiles a Java-style regex so that it must match the whole input (`Matcher.matches()`).
pub fn full_match_regex(key: &str, pattern: &str) -> Result<regex::Regex> {
    regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
        ConnectError::Config(format!(
            "Invalid value {pattern} for configuration {key}: Invalid regex: {e}"
        ))
    })
}
