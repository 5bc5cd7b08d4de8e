//! Field paths (KIP-821): `field.syntax.version=V1` names a top-level field; `V2` allows
//! dotted paths into nested structs and maps, with backticks around names that contain dots
//! (`` `foo.bar`.baz ``) and a backslash before a backtick that is part of a name.

use std::sync::Arc;

use crate::config::{ConfigKey, ConfigType, Importance, Validator};
use crate::data::{Field, Schema, Struct, Value};
use crate::errors::{ConnectError, Result};

/// `field.syntax.version`.
pub const FIELD_SYNTAX_VERSION: &str = "field.syntax.version";

/// How field names in an SMT config are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldSyntaxVersion {
    /// The whole string is one top-level field name.
    V1,
    /// Dotted paths into nested data.
    V2,
}

impl FieldSyntaxVersion {
    /// The `field.syntax.version` key (case-insensitive `V1`/`V2`, default `V1`).
    pub fn config_key() -> ConfigKey {
        ConfigKey::new(FIELD_SYNTAX_VERSION, ConfigType::String)
            .default_value("V1")
            .validator(Validator::one_of_ignore_case(["V1", "V2"]))
            .importance(Importance::High)
            .doc("Defines the version of the syntax to access fields. If set to `V1`, then the field paths are limited to access the elements at the root level of the struct or map. If set to `V2`, the syntax will support accessing nested elements. To access nested elements, dotted notation is used. If dots are already included in the field name, then backtick pairs can be used to wrap field names containing dots. E.g. to access the subfield `baz` from a field named \"foo.bar\" in a struct/map the following format can be used to access its elements: \"`foo.bar`.baz\".")
    }

    /// Parses a validated config value.
    pub fn from_name(name: &str) -> FieldSyntaxVersion {
        if name.trim().eq_ignore_ascii_case("V2") {
            FieldSyntaxVersion::V2
        } else {
            FieldSyntaxVersion::V1
        }
    }
}

/// A path to one field: one or more steps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SingleFieldPath {
    steps: Arc<[String]>,
}

impl SingleFieldPath {
    /// Parses `text` with the given syntax; V2 fails on an unclosed backtick.
    pub fn new(text: &str, version: FieldSyntaxVersion) -> Result<Self> {
        let steps = match version {
            FieldSyntaxVersion::V1 => vec![text.to_string()],
            FieldSyntaxVersion::V2 => parse_v2(text)?,
        };
        Ok(SingleFieldPath {
            steps: steps.into(),
        })
    }

    pub fn steps(&self) -> &[String] {
        &self.steps
    }

    fn split(&self) -> (&[String], &str) {
        let (last, parents) = self
            .steps
            .split_last()
            .map(|(l, p)| (l.as_str(), p))
            .unwrap_or(("", &[]));
        (parents, last)
    }

    /// The field at this path in a struct schema, or `None`.
    pub fn field_from<'a>(&self, schema: &'a Schema) -> Option<&'a Field> {
        let (parents, last) = self.split();
        let mut current = schema;
        for step in parents {
            current = &current.field(step)?.schema;
        }
        current.field(last)
    }

    /// The value at this path in a struct (nulls along the way give null).
    pub fn value_from_struct(&self, s: &Struct, replace_null_with_default: bool) -> Result<Value> {
        let (parents, last) = self.split();
        let mut current = s;
        for step in parents {
            match current.get(step) {
                None | Some(Value::Null) => return Ok(Value::Null),
                Some(Value::Struct(inner)) => current = inner,
                Some(other) => {
                    return Err(ConnectError::Data(format!(
                        "Only Struct objects supported for [nested field access], found: {}",
                        super::requirements::java_class_name(other)
                    )))
                }
            }
        }
        let v = if replace_null_with_default {
            current.get(last)
        } else {
            current.get_without_default(last)
        };
        Ok(v.cloned().unwrap_or(Value::Null))
    }

    /// The value at this path in a schemaless map (missing or null along the way give null).
    pub fn value_from_map(&self, map: &Value) -> Result<Value> {
        let (parents, last) = self.split();
        let mut current = map;
        for step in parents {
            match current.map_get(step) {
                None | Some(Value::Null) => return Ok(Value::Null),
                Some(inner @ Value::Map(_)) => current = inner,
                Some(other) => {
                    return Err(ConnectError::Data(format!(
                        "Only Map objects supported in absence of schema for [nested field access], found: {}",
                        super::requirements::java_class_name(other)
                    )))
                }
            }
        }
        Ok(current.map_get(last).cloned().unwrap_or(Value::Null))
    }
}

impl std::fmt::Display for SingleFieldPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.steps.join("."))
    }
}

fn incomplete_backtick(path: &str, at: usize) -> ConnectError {
    ConnectError::Config(format!(
        "Incomplete backtick pair in path: [{path}], consider adding a backslash before backtick at position {at} to escape it"
    ))
}

/// KIP-821's V2 syntax: steps separated by dots; a step that starts with a backtick runs to
/// the next backtick that is followed by a dot (or ends the path) and is not escaped.
fn parse_v2(path: &str) -> Result<Vec<String>> {
    let chars: Vec<char> = path.chars().collect();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '`' {
            let start = i;
            while i < chars.len() && chars[i] != '.' {
                i += 1;
            }
            steps.push(chars[start..i].iter().collect());
            if i < chars.len() {
                i += 1; // the dot
            }
            continue;
        }
        let opened_at = i;
        i += 1;
        let mut step = String::new();
        let mut start = i;
        loop {
            let Some(close) = (i..chars.len()).find(|&j| chars[j] == '`') else {
                return Err(incomplete_backtick(path, opened_at));
            };
            let escaped = close > 0 && chars[close - 1] == '\\';
            if close + 1 >= chars.len() {
                if escaped {
                    return Err(incomplete_backtick(path, opened_at));
                }
                step.extend(&chars[start..close]);
                steps.push(std::mem::take(&mut step));
                i = close + 1;
                break;
            }
            if chars[close + 1] != '.' {
                // A backtick inside the name: keep looking for the closing one.
                i = close + 1;
                continue;
            }
            if escaped {
                step.extend(&chars[start..close - 1]);
                step.push('`');
                i = close + 1;
                start = i;
                continue;
            }
            step.extend(&chars[start..close]);
            steps.push(std::mem::take(&mut step));
            i = close + 2;
            break;
        }
    }
    if path.ends_with('.') {
        steps.push(String::new());
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(p: &str) -> Vec<String> {
        SingleFieldPath::new(p, FieldSyntaxVersion::V2)
            .unwrap()
            .steps()
            .to_vec()
    }

    #[test]
    fn parses_v2_paths_like_kip_821() {
        assert_eq!(v2("foo"), ["foo"]);
        assert_eq!(v2("foo.bar.baz"), ["foo", "bar", "baz"]);
        assert_eq!(v2("`foo.bar`.baz"), ["foo.bar", "baz"]);
        assert_eq!(v2("`foo.bar`"), ["foo.bar"]);
        assert_eq!(v2("foo."), ["foo", ""]);
        assert_eq!(v2("`a`b`.c"), ["a`b", "c"]);
        assert_eq!(v2("`a\\`.b`.c"), ["a`.b", "c"]);
        let err = SingleFieldPath::new("`foo.bar", FieldSyntaxVersion::V2).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Incomplete backtick pair in path: [`foo.bar], consider adding a backslash before backtick at position 0 to escape it"
        );
        assert_eq!(
            SingleFieldPath::new("a.b", FieldSyntaxVersion::V1)
                .unwrap()
                .steps(),
            ["a.b"]
        );
    }
}
