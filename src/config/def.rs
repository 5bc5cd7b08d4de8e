//! `ConfigDef`: typed, documented, validated configuration keys (Kafka Connect's
//! `org.apache.kafka.common.config.ConfigDef`). It parses raw string maps into typed values,
//! produces Connect's error texts, and drives `/connector-plugins/{p}/config` and
//! `/config/validate`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use super::ConfigMap;

/// The mask shown instead of a PASSWORD value, everywhere.
pub const HIDDEN: &str = "[hidden]";

/// Type of a config key, with Connect's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ConfigType {
    Boolean,
    String,
    Int,
    Short,
    Long,
    Double,
    List,
    Class,
    Password,
}

impl ConfigType {
    pub fn name(self) -> &'static str {
        match self {
            ConfigType::Boolean => "BOOLEAN",
            ConfigType::String => "STRING",
            ConfigType::Int => "INT",
            ConfigType::Short => "SHORT",
            ConfigType::Long => "LONG",
            ConfigType::Double => "DOUBLE",
            ConfigType::List => "LIST",
            ConfigType::Class => "CLASS",
            ConfigType::Password => "PASSWORD",
        }
    }

    /// Parses `"STRING"`, `"string"`, `"int"`, ...
    pub fn from_name(name: &str) -> Option<ConfigType> {
        Some(match name.to_ascii_uppercase().as_str() {
            "BOOLEAN" | "BOOL" => ConfigType::Boolean,
            "STRING" | "STR" => ConfigType::String,
            "INT" => ConfigType::Int,
            "SHORT" => ConfigType::Short,
            "LONG" => ConfigType::Long,
            "DOUBLE" | "FLOAT" => ConfigType::Double,
            "LIST" => ConfigType::List,
            "CLASS" => ConfigType::Class,
            "PASSWORD" => ConfigType::Password,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Importance {
    High,
    Medium,
    Low,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Width {
    None,
    Short,
    Medium,
    Long,
}

/// The default of a key: none (the key is required), Java `null`, or a value written as the
/// user would write it in a properties file.
#[derive(Clone, Debug, PartialEq)]
pub enum DefaultValue {
    Required,
    Null,
    Value(String),
}

/// A typed config value.
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigValue {
    Null,
    Boolean(bool),
    String(String),
    Int(i32),
    Short(i16),
    Long(i64),
    Double(f64),
    List(Vec<String>),
    Class(String),
    Password(String),
}

impl ConfigValue {
    /// Connect's `ConfigDef.convertToString`; passwords render as `[hidden]`.
    pub fn to_display_string(&self) -> Option<String> {
        Some(match self {
            ConfigValue::Null => return None,
            ConfigValue::Boolean(b) => b.to_string(),
            ConfigValue::String(s) | ConfigValue::Class(s) => s.clone(),
            ConfigValue::Int(v) => v.to_string(),
            ConfigValue::Short(v) => v.to_string(),
            ConfigValue::Long(v) => v.to_string(),
            ConfigValue::Double(v) => v.to_string(),
            ConfigValue::List(v) => v.join(","),
            ConfigValue::Password(_) => HIDDEN.to_string(),
        })
    }

    fn as_f64(&self) -> Option<f64> {
        match *self {
            ConfigValue::Int(v) => Some(v as f64),
            ConfigValue::Short(v) => Some(v as f64),
            ConfigValue::Long(v) => Some(v as f64),
            ConfigValue::Double(v) => Some(v),
            _ => None,
        }
    }
}

/// A custom check: returns the message after `Invalid value X for configuration Y: `.
pub type ValidatorFn = Arc<dyn Fn(&ConfigValue) -> Result<(), String> + Send + Sync>;

/// A check run on a parsed value. Messages match Connect's validators.
#[derive(Clone)]
pub enum Validator {
    /// `Range.atLeast`, `Range.between`.
    Range { min: Option<f64>, max: Option<f64> },
    /// `ValidString.in` / `CaseInsensitiveValidString.in`.
    OneOf {
        values: Vec<String>,
        case_insensitive: bool,
    },
    /// `NonEmptyString`: null passes, "" does not.
    NonEmptyString,
    /// `NonEmptyStringWithoutControlChars` (connector names): no ISO control characters.
    NonEmptyStringWithoutControlChars,
    /// Each list element must be one of `values` (`ValidList.in`).
    ListOf { values: Vec<String> },
    /// Any other check; returns the message after `Invalid value X for configuration Y: `.
    Custom(ValidatorFn),
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Validator::Range { min, max } => write!(f, "Range({min:?}, {max:?})"),
            Validator::OneOf { values, .. } => write!(f, "OneOf({values:?})"),
            Validator::NonEmptyString => f.write_str("NonEmptyString"),
            Validator::NonEmptyStringWithoutControlChars => {
                f.write_str("NonEmptyStringWithoutControlChars")
            }
            Validator::ListOf { values } => write!(f, "ListOf({values:?})"),
            Validator::Custom(_) => f.write_str("Custom"),
        }
    }
}

impl Validator {
    pub fn at_least(min: f64) -> Self {
        Validator::Range {
            min: Some(min),
            max: None,
        }
    }

    pub fn between(min: f64, max: f64) -> Self {
        Validator::Range {
            min: Some(min),
            max: Some(max),
        }
    }

    pub fn one_of<I: IntoIterator<Item = S>, S: Into<String>>(values: I) -> Self {
        Validator::OneOf {
            values: values.into_iter().map(Into::into).collect(),
            case_insensitive: false,
        }
    }

    pub fn one_of_ignore_case<I: IntoIterator<Item = S>, S: Into<String>>(values: I) -> Self {
        Validator::OneOf {
            values: values.into_iter().map(Into::into).collect(),
            case_insensitive: true,
        }
    }

    /// Checks a parsed value: `Err((shown, why))` for Connect's "Invalid value {shown} for
    /// configuration {name}: {why}", where `shown` replaces the value when the validator
    /// names a part of it (a list element).
    fn check(&self, value: &ConfigValue) -> Result<(), (Option<String>, String)> {
        let why = |why: String| (None, why);
        if matches!(value, ConfigValue::Null) {
            return match self {
                Validator::Custom(f) => f(value).map_err(why),
                _ => Ok(()),
            };
        }
        match self {
            Validator::Range { min, max } => {
                let n = value.as_f64().unwrap_or(0.0);
                if let Some(min) = min {
                    if n < *min {
                        return Err(why(format!("Value must be at least {}", fmt_number(*min))));
                    }
                }
                if let Some(max) = max {
                    if n > *max {
                        return Err(why(format!(
                            "Value must be no more than {}",
                            fmt_number(*max)
                        )));
                    }
                }
                Ok(())
            }
            Validator::OneOf {
                values,
                case_insensitive,
            } => {
                let s = value.to_display_string().unwrap_or_default();
                let ok = values.iter().any(|v| {
                    if *case_insensitive {
                        v.eq_ignore_ascii_case(&s)
                    } else {
                        *v == s
                    }
                });
                if ok {
                    Ok(())
                } else if *case_insensitive {
                    Err(why(format!(
                        "String must be one of (case insensitive): {}",
                        case_insensitive_listing(values)
                    )))
                } else {
                    Err(why(format!("String must be one of: {}", values.join(", "))))
                }
            }
            Validator::NonEmptyString => match value {
                ConfigValue::String(s) if s.is_empty() => {
                    Err(why("String must be non-empty".into()))
                }
                _ => Ok(()),
            },
            Validator::NonEmptyStringWithoutControlChars => match value {
                ConfigValue::String(s) if s.is_empty() => {
                    Err(why("String may not be empty".into()))
                }
                ConfigValue::String(s) => check_no_control_chars(s).map_err(why),
                _ => Ok(()),
            },
            // Connect checks each element with `ValidString` and names the element.
            Validator::ListOf { values } => match value {
                ConfigValue::List(items) => match items.iter().find(|i| !values.contains(i)) {
                    Some(item) => Err((
                        Some(item.clone()),
                        format!("String must be one of: {}", values.join(", ")),
                    )),
                    None => Ok(()),
                },
                _ => Ok(()),
            },
            Validator::Custom(f) => f(value).map_err(why),
        }
    }
}

/// Connect's `CaseInsensitiveValidString` lists its values upper-cased, in the order of the
/// `HashSet` that holds them.
fn case_insensitive_listing(values: &[String]) -> String {
    let mut upper: Vec<String> = Vec::with_capacity(values.len());
    for v in values {
        let v = v.to_uppercase();
        if !upper.contains(&v) {
            upper.push(v);
        }
    }
    let hashes: Vec<i32> = upper.iter().map(|v| crate::java::string_hash(v)).collect();
    crate::java::hash_map_order(&hashes)
        .into_iter()
        .map(|i| upper[i].as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Connect's `NonEmptyStringWithoutControlChars` check: the text after `Invalid value X for
/// configuration Y: ` naming every ISO control character (U+0000-U+001F, U+007F-U+009F) by
/// its code, or `Ok` when there is none.
pub fn check_no_control_chars(s: &str) -> Result<(), String> {
    let found: Vec<String> = s
        .chars()
        .filter(|c| c.is_control())
        .map(|c| u32::from(c).to_string())
        .collect();
    if found.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "String may not contain control sequences but had the following ASCII chars: {}",
            found.join(", ")
        ))
    }
}

fn fmt_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e18 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

/// One documented config key.
#[derive(Clone, Debug)]
pub struct ConfigKey {
    pub name: String,
    pub config_type: ConfigType,
    pub default: DefaultValue,
    pub validator: Option<Validator>,
    pub importance: Importance,
    pub documentation: String,
    pub group: Option<String>,
    pub order_in_group: i32,
    pub width: Width,
    pub display_name: Option<String>,
    pub dependents: Vec<String>,
    /// Values offered by `/config/validate` (Connect's `Recommender.validValues`).
    pub recommended_values: Vec<String>,
}

impl ConfigKey {
    /// A required key with MEDIUM importance and no documentation; refine with the setters.
    pub fn new(name: impl Into<String>, config_type: ConfigType) -> Self {
        ConfigKey {
            name: name.into(),
            config_type,
            default: DefaultValue::Required,
            validator: None,
            importance: Importance::Medium,
            documentation: String::new(),
            group: None,
            order_in_group: -1,
            width: Width::None,
            display_name: None,
            dependents: Vec::new(),
            recommended_values: Vec::new(),
        }
    }

    pub fn default_value(mut self, value: impl Into<String>) -> Self {
        self.default = DefaultValue::Value(value.into());
        self
    }

    pub fn default_null(mut self) -> Self {
        self.default = DefaultValue::Null;
        self
    }

    pub fn validator(mut self, validator: Validator) -> Self {
        if let Validator::OneOf { values, .. } = &validator {
            self.recommended_values = values.clone();
        }
        self.validator = Some(validator);
        self
    }

    pub fn importance(mut self, importance: Importance) -> Self {
        self.importance = importance;
        self
    }

    pub fn doc(mut self, doc: impl Into<String>) -> Self {
        self.documentation = doc.into();
        self
    }

    pub fn group(mut self, group: impl Into<String>, order: i32) -> Self {
        self.group = Some(group.into());
        self.order_in_group = order;
        self
    }

    pub fn width(mut self, width: Width) -> Self {
        self.width = width;
        self
    }

    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }

    pub fn is_required(&self) -> bool {
        self.default == DefaultValue::Required
    }

    /// Parses a raw value to this key's type, with Connect's error text on failure.
    pub fn parse_value(&self, raw: &str) -> Result<ConfigValue, String> {
        let shown = if self.config_type == ConfigType::Password || super::is_secret_key(&self.name)
        {
            HIDDEN
        } else {
            raw
        };
        let invalid = |why: &str| {
            format!(
                "Invalid value {shown} for configuration {}: {why}",
                self.name
            )
        };
        let trimmed = raw.trim();
        Ok(match self.config_type {
            ConfigType::Boolean => match trimmed.to_ascii_lowercase().as_str() {
                "true" => ConfigValue::Boolean(true),
                "false" => ConfigValue::Boolean(false),
                _ => return Err(invalid("Expected value to be either true or false")),
            },
            ConfigType::String => ConfigValue::String(trimmed.to_string()),
            ConfigType::Password => ConfigValue::Password(raw.to_string()),
            ConfigType::Class => ConfigValue::Class(trimmed.to_string()),
            ConfigType::Int => ConfigValue::Int(
                trimmed
                    .parse()
                    .map_err(|_| invalid("Not a number of type INT"))?,
            ),
            ConfigType::Short => ConfigValue::Short(
                trimmed
                    .parse()
                    .map_err(|_| invalid("Not a number of type SHORT"))?,
            ),
            ConfigType::Long => ConfigValue::Long(
                trimmed
                    .parse()
                    .map_err(|_| invalid("Not a number of type LONG"))?,
            ),
            ConfigType::Double => ConfigValue::Double(
                trimmed
                    .parse()
                    .map_err(|_| invalid("Not a number of type DOUBLE"))?,
            ),
            ConfigType::List => ConfigValue::List(split_list(trimmed)),
        })
    }

    /// Parses and validates `raw` (or the default when absent).
    fn resolve(&self, raw: Option<&str>) -> Result<ConfigValue, String> {
        let value = match (raw, &self.default) {
            (Some(raw), _) => self.parse_value(raw)?,
            (None, DefaultValue::Value(d)) => self.parse_value(d)?,
            (None, DefaultValue::Null) => ConfigValue::Null,
            (None, DefaultValue::Required) => {
                return Err(format!(
                    "Missing required configuration \"{}\" which has no default value.",
                    self.name
                ))
            }
        };
        if let Some(v) = &self.validator {
            v.check(&value).map_err(|(part, why)| {
                // Connect shows the parsed value as Java prints it.
                let shown = match (&value, raw) {
                    (ConfigValue::Password(_), _) => HIDDEN.to_string(),
                    _ if super::is_secret_key(&self.name) => HIDDEN.to_string(),
                    (_, _) if part.is_some() => part.unwrap_or_default(),
                    (ConfigValue::List(items), _) => format!("[{}]", items.join(", ")),
                    (_, Some(raw)) => raw.trim().to_string(),
                    _ => value.to_display_string().unwrap_or_else(|| "null".into()),
                };
                format!(
                    "Invalid value {shown} for configuration {}: {why}",
                    self.name
                )
            })?;
        }
        Ok(value)
    }

    /// The REST `ConfigKeyInfo` shape.
    pub fn info(&self) -> ConfigKeyInfo {
        ConfigKeyInfo {
            name: self.name.clone(),
            config_type: self.config_type.name().to_string(),
            required: self.is_required(),
            default_value: match &self.default {
                DefaultValue::Value(v) if self.config_type == ConfigType::Password => {
                    Some(if v.is_empty() {
                        v.clone()
                    } else {
                        HIDDEN.into()
                    })
                }
                DefaultValue::Value(v) => Some(v.clone()),
                _ => None,
            },
            importance: self.importance,
            documentation: self.documentation.clone(),
            group: self.group.clone(),
            order: self.order_in_group,
            width: self.width,
            display_name: self
                .display_name
                .clone()
                .unwrap_or_else(|| self.name.clone()),
            dependents: self.dependents.clone(),
        }
    }
}

/// Splits a Connect LIST value: comma separated, trimmed, empty string = empty list.
pub fn split_list(raw: &str) -> Vec<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Vec::new();
    }
    raw.split(',').map(|s| s.trim().to_string()).collect()
}

/// REST `ConfigKeyInfo`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ConfigKeyInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub config_type: String,
    pub required: bool,
    pub default_value: Option<String>,
    pub importance: Importance,
    pub documentation: String,
    pub group: Option<String>,
    pub order: i32,
    pub width: Width,
    pub display_name: String,
    pub dependents: Vec<String>,
}

/// REST `ConfigValueInfo`: the outcome of validating one key.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ConfigValueInfo {
    pub name: String,
    pub value: Option<String>,
    pub recommended_values: Vec<String>,
    pub errors: Vec<String>,
    pub visible: bool,
}

/// REST `ConfigInfo`: a key's definition next to its validated value.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ConfigInfo {
    pub definition: ConfigKeyInfo,
    pub value: ConfigValueInfo,
}

/// An ordered set of config keys.
#[derive(Clone, Debug, Default)]
pub struct ConfigDef {
    keys: Vec<ConfigKey>,
    index: HashMap<String, usize>,
}

impl ConfigDef {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key; a key defined twice replaces the earlier definition.
    pub fn define(mut self, key: ConfigKey) -> Self {
        self.add(key);
        self
    }

    pub fn add(&mut self, key: ConfigKey) {
        if let Some(&i) = self.index.get(&key.name) {
            self.keys[i] = key;
        } else {
            self.index.insert(key.name.clone(), self.keys.len());
            self.keys.push(key);
        }
    }

    /// Adds every key of `other`, keeping ours where both define one.
    pub fn merge(&mut self, other: &ConfigDef) {
        for k in &other.keys {
            if !self.index.contains_key(&k.name) {
                self.add(k.clone());
            }
        }
    }

    /// A copy of `other` with each key renamed `prefix + name` (for `transforms.X.*`).
    pub fn embed(&mut self, prefix: &str, group: &str, order_start: i32, other: &ConfigDef) {
        for (i, k) in other.keys.iter().enumerate() {
            let mut k = k.clone();
            k.name = format!("{prefix}{}", k.name);
            k.group = Some(group.to_string());
            k.order_in_group = order_start + i as i32;
            self.add(k);
        }
    }

    pub fn keys(&self) -> &[ConfigKey] {
        &self.keys
    }

    pub fn key(&self, name: &str) -> Option<&ConfigKey> {
        self.index.get(name).map(|&i| &self.keys[i])
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Groups in first-definition order.
    pub fn groups(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for k in &self.keys {
            if let Some(g) = &k.group {
                if !out.contains(g) {
                    out.push(g.clone());
                }
            }
        }
        out
    }

    /// Parses every defined key; fails with all errors at once.
    pub fn parse(&self, props: &ConfigMap) -> Result<ParsedConfig, ConfigErrors> {
        let mut values = BTreeMap::new();
        let mut errors = Vec::new();
        for key in &self.keys {
            match key.resolve(props.get(&key.name).map(String::as_str)) {
                Ok(v) => {
                    values.insert(key.name.clone(), v);
                }
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(ParsedConfig {
                values,
                originals: props.clone(),
            })
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// Validates every defined key for `/config/validate`.
    pub fn validate(&self, props: &ConfigMap) -> Vec<ConfigInfo> {
        self.keys
            .iter()
            .map(|key| {
                let raw = props.get(&key.name).map(String::as_str);
                let (value, errors) = match key.resolve(raw) {
                    Ok(v) => (v.to_display_string(), vec![]),
                    Err(e) => (
                        raw.map(|r| {
                            if key.config_type == ConfigType::Password {
                                HIDDEN.to_string()
                            } else {
                                r.to_string()
                            }
                        }),
                        vec![e],
                    ),
                };
                ConfigInfo {
                    definition: key.info(),
                    value: ConfigValueInfo {
                        name: key.name.clone(),
                        value,
                        recommended_values: key.recommended_values.clone(),
                        errors,
                        visible: true,
                    },
                }
            })
            .collect()
    }

    /// The value of `name` in `props`, or else its default here: for cross-key checks on a
    /// raw map, so that they assume the same default as [`ConfigDef::parse`]. `None` when the
    /// key is unset and has no default (or is not defined).
    pub fn raw_or_default<'a>(&'a self, props: &'a ConfigMap, name: &str) -> Option<&'a str> {
        props
            .get(name)
            .map(String::as_str)
            .or_else(|| match &self.key(name)?.default {
                DefaultValue::Value(d) => Some(d.as_str()),
                _ => None,
            })
    }

    /// Names of PASSWORD keys, for masking.
    pub fn password_keys(&self) -> impl Iterator<Item = &str> {
        self.keys
            .iter()
            .filter(|k| k.config_type == ConfigType::Password)
            .map(|k| k.name.as_str())
    }
}

/// All the errors found while parsing a config.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", .0.join("; "))]
pub struct ConfigErrors(pub Vec<String>);

/// A parsed config: typed values for defined keys, plus the raw map for everything else.
#[derive(Clone, Debug, Default)]
pub struct ParsedConfig {
    values: BTreeMap<String, ConfigValue>,
    originals: ConfigMap,
}

impl ParsedConfig {
    pub fn get(&self, name: &str) -> Option<&ConfigValue> {
        self.values.get(name)
    }

    pub fn string(&self, name: &str) -> Option<&str> {
        match self.values.get(name)? {
            ConfigValue::String(s) | ConfigValue::Class(s) | ConfigValue::Password(s) => Some(s),
            _ => None,
        }
    }

    /// A string that is set and non-empty.
    pub fn non_empty_string(&self, name: &str) -> Option<&str> {
        self.string(name).filter(|s| !s.is_empty())
    }

    pub fn int(&self, name: &str) -> Option<i32> {
        match self.values.get(name)? {
            ConfigValue::Int(v) => Some(*v),
            ConfigValue::Short(v) => Some(*v as i32),
            _ => None,
        }
    }

    pub fn long(&self, name: &str) -> Option<i64> {
        match self.values.get(name)? {
            ConfigValue::Long(v) => Some(*v),
            ConfigValue::Int(v) => Some(*v as i64),
            ConfigValue::Short(v) => Some(*v as i64),
            _ => None,
        }
    }

    pub fn double(&self, name: &str) -> Option<f64> {
        self.values.get(name)?.as_f64()
    }

    pub fn boolean(&self, name: &str) -> Option<bool> {
        match self.values.get(name)? {
            ConfigValue::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    pub fn list(&self, name: &str) -> Vec<String> {
        match self.values.get(name) {
            Some(ConfigValue::List(v)) => v.clone(),
            _ => Vec::new(),
        }
    }

    /// The value of a key that is required or has a default, so [`ConfigDef::parse`] always
    /// gives it one: the single source of a default is the `ConfigDef`, never a fallback in
    /// the code reading it. An error (naming the key) means the key is not defined, is
    /// defined with a null default, or has another type: a bug in the caller, not the config.
    fn defined<T>(name: &str, what: &str, value: Option<T>) -> Result<T, ConfigErrors> {
        value.ok_or_else(|| {
            ConfigErrors(vec![format!(
                "Configuration \"{name}\" has no {what} value: it is not defined with a default"
            )])
        })
    }

    /// A STRING (or CLASS, PASSWORD) key that is required or has a default.
    pub fn string_value(&self, name: &str) -> Result<&str, ConfigErrors> {
        Self::defined(name, "string", self.string(name))
    }

    /// An INT (or SHORT) key that is required or has a default.
    pub fn int_value(&self, name: &str) -> Result<i32, ConfigErrors> {
        Self::defined(name, "int", self.int(name))
    }

    /// A LONG (or INT, SHORT) key that is required or has a default.
    pub fn long_value(&self, name: &str) -> Result<i64, ConfigErrors> {
        Self::defined(name, "long", self.long(name))
    }

    /// A BOOLEAN key that is required or has a default.
    pub fn boolean_value(&self, name: &str) -> Result<bool, ConfigErrors> {
        Self::defined(name, "boolean", self.boolean(name))
    }

    /// The raw map this was parsed from.
    pub fn originals(&self) -> &ConfigMap {
        &self.originals
    }

    /// Raw entries whose key starts with `prefix`, with the prefix removed.
    pub fn originals_with_prefix(&self, prefix: &str) -> ConfigMap {
        with_prefix(&self.originals, prefix)
    }
}

/// Entries of `map` whose key starts with `prefix`, with the prefix removed.
pub fn with_prefix(map: &ConfigMap, prefix: &str) -> ConfigMap {
    map.range(prefix.to_string()..)
        .take_while(|(k, _)| k.starts_with(prefix))
        .map(|(k, v)| (k[prefix.len()..].to_string(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> ConfigDef {
        ConfigDef::new()
            .define(
                ConfigKey::new("file", ConfigType::String)
                    .importance(Importance::High)
                    .doc("the file"),
            )
            .define(
                ConfigKey::new("tasks.max", ConfigType::Int)
                    .default_value("1")
                    .validator(Validator::at_least(1.0)),
            )
            .define(
                ConfigKey::new("mode", ConfigType::String)
                    .default_value("bulk")
                    .validator(Validator::one_of(["bulk", "incrementing"])),
            )
            .define(ConfigKey::new("secret", ConfigType::Password).default_value(""))
            .define(ConfigKey::new("topics", ConfigType::List).default_value(""))
    }

    use crate::config::test_support::map;

    #[test]
    fn defaults_come_from_the_definition_alone() {
        let d = def();
        let parsed = d.parse(&map(&[("file", "/tmp/x")])).unwrap();
        assert_eq!(parsed.int_value("tasks.max").unwrap(), 1);
        assert_eq!(parsed.string_value("mode").unwrap(), "bulk");
        assert_eq!(parsed.string_value("file").unwrap(), "/tmp/x");
        // A key the definition does not have is the reader's bug, and says which key.
        let err = parsed.int_value("batch.size").unwrap_err();
        assert!(err.to_string().contains("batch.size"), "{err}");
        // The wrong type is one too.
        assert!(parsed.boolean_value("tasks.max").is_err());

        let raw = map(&[("mode", "incrementing")]);
        assert_eq!(d.raw_or_default(&raw, "mode"), Some("incrementing"));
        assert_eq!(d.raw_or_default(&raw, "tasks.max"), Some("1"));
        assert_eq!(d.raw_or_default(&raw, "file"), None);
        assert_eq!(d.raw_or_default(&raw, "undefined"), None);
    }

    #[test]
    fn parse_reports_every_error_with_connect_texts() {
        let err = def()
            .parse(&map(&[("tasks.max", "0"), ("mode", "x")]))
            .unwrap_err();
        assert_eq!(
            err.0,
            vec![
                "Missing required configuration \"file\" which has no default value.",
                "Invalid value 0 for configuration tasks.max: Value must be at least 1",
                "Invalid value x for configuration mode: String must be one of: bulk, incrementing",
            ]
        );
        let err = def()
            .parse(&map(&[("file", "a"), ("tasks.max", "two")]))
            .unwrap_err();
        assert_eq!(
            err.0,
            vec!["Invalid value two for configuration tasks.max: Not a number of type INT"]
        );
    }

    #[test]
    fn validator_messages_use_kafka_wording() {
        let def = ConfigDef::new()
            .define(
                ConfigKey::new("name", ConfigType::String)
                    .default_null()
                    .validator(Validator::NonEmptyString),
            )
            .define(
                ConfigKey::new("modes", ConfigType::List)
                    .default_value("a")
                    .validator(Validator::ListOf {
                        values: vec!["a".into(), "b".into()],
                    }),
            )
            .define(
                ConfigKey::new("protocol", ConfigType::String)
                    .default_value("eager")
                    .validator(Validator::one_of_ignore_case([
                        "eager",
                        "compatible",
                        "sessioned",
                    ])),
            )
            .define(
                ConfigKey::new("policy", ConfigType::String)
                    .default_value("bidirectional")
                    .validator(Validator::one_of_ignore_case([
                        "bidirectional",
                        "upgrade",
                        "downgrade",
                        "disabled",
                    ])),
            )
            .define(
                ConfigKey::new("size", ConfigType::Int)
                    .default_value("5")
                    .validator(Validator::between(1.0, 10.0)),
            )
            .define(
                ConfigKey::new("fields", ConfigType::List)
                    .default_value("x")
                    .validator(Validator::Custom(Arc::new(|v| match v {
                        ConfigValue::List(items) if items.len() == 1 => Ok(()),
                        _ => Err("Wrong size".into()),
                    }))),
            );
        let err = def
            .parse(&map(&[
                ("name", ""),
                ("modes", "a, c"),
                ("protocol", "x"),
                ("policy", "foobar"),
                ("size", "11"),
                ("fields", " a , b "),
            ]))
            .unwrap_err();
        assert_eq!(
            err.0,
            vec![
                "Invalid value  for configuration name: String must be non-empty",
                "Invalid value c for configuration modes: String must be one of: a, b",
                // Kafka lists the upper-cased values in its HashSet's order.
                "Invalid value x for configuration protocol: String must be one of (case insensitive): EAGER, COMPATIBLE, SESSIONED",
                "Invalid value foobar for configuration policy: String must be one of (case insensitive): DISABLED, DOWNGRADE, UPGRADE, BIDIRECTIONAL",
                "Invalid value 11 for configuration size: Value must be no more than 10",
                // A list is shown as Java prints it.
                "Invalid value [a, b] for configuration fields: Wrong size",
            ]
        );
        // Kafka's NonEmptyString lets null through.
        assert!(def.parse(&map(&[])).is_ok());
    }

    #[test]
    fn parse_applies_defaults_and_types() {
        let p = def()
            .parse(&map(&[("file", " /tmp/x "), ("topics", "a, b,c")]))
            .unwrap();
        assert_eq!(p.string("file"), Some("/tmp/x"));
        assert_eq!(p.int("tasks.max"), Some(1));
        assert_eq!(p.list("topics"), vec!["a", "b", "c"]);
        assert_eq!(p.string("secret"), Some(""));
    }

    #[test]
    fn validate_masks_passwords_and_lists_errors() {
        let infos = def().validate(&map(&[("secret", "hunter2"), ("tasks.max", "-1")]));
        let secret = infos.iter().find(|i| i.value.name == "secret").unwrap();
        assert_eq!(secret.value.value.as_deref(), Some(HIDDEN));
        let tasks = infos.iter().find(|i| i.value.name == "tasks.max").unwrap();
        assert_eq!(tasks.value.errors.len(), 1);
        assert_eq!(tasks.definition.default_value.as_deref(), Some("1"));
        let file = infos.iter().find(|i| i.value.name == "file").unwrap();
        assert!(file.definition.required);
        assert_eq!(file.value.value, None);
    }

    #[test]
    fn with_prefix_strips() {
        let m = map(&[
            ("producer.acks", "all"),
            ("producer.linger.ms", "5"),
            ("producers", "x"),
        ]);
        assert_eq!(
            with_prefix(&m, "producer."),
            map(&[("acks", "all"), ("linger.ms", "5")])
        );
    }
}
