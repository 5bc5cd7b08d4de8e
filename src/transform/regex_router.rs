//! `RegexRouter`: renames the topic when the whole topic matches a regular expression.
//!
//! ```properties
//! transforms=route
//! transforms.route.type=org.apache.kafka.connect.transforms.RegexRouter
//! transforms.route.regex=(.*)-(\\d+)
//! transforms.route.replacement=$1-archive
//! ```
//!
//! The replacement follows Java's `Matcher.replaceFirst`: `$n` and `${name}` insert groups,
//! `\` escapes the next character. Topics that do not match are left as they are. The regex
//! uses Rust's `regex` syntax, which matches Java's for everything but look-around and
//! back-references.

use super::config_keys::{full_match_regex, parse, valid_regex};
use super::Transformation;
use crate::config::{ConfigDef, ConfigKey, ConfigMap, ConfigType, Importance};
use crate::data::Record;
use crate::errors::{ConnectError, Result};

/// Connect's class name.
pub const CLASS: &str = "org.apache.kafka.connect.transforms.RegexRouter";

const REGEX: &str = "regex";
const REPLACEMENT: &str = "replacement";

/// A piece of a Java replacement string.
#[derive(Clone, Debug, PartialEq)]
enum Piece {
    Text(String),
    Group(usize),
    Named(String),
}

/// A Java `Matcher` replacement string, checked against the regex's groups.
#[derive(Clone, Debug, PartialEq)]
pub struct JavaReplacement {
    pieces: Vec<Piece>,
}

impl JavaReplacement {
    /// Parses `text` for `regex`; errors are Java's (`No group 3`, `Illegal group reference`).
    pub fn parse(text: &str, regex: &regex::Regex) -> Result<Self, String> {
        let groups = regex.captures_len() - 1;
        let chars: Vec<char> = text.chars().collect();
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '\\' => {
                    let escaped = chars
                        .get(i + 1)
                        .ok_or("character to be escaped is missing")?;
                    literal.push(*escaped);
                    i += 2;
                }
                '$' => {
                    if !literal.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut literal)));
                    }
                    i += 1;
                    match chars.get(i) {
                        Some('{') => {
                            let end = (i + 1..chars.len())
                                .find(|&j| chars[j] == '}')
                                .ok_or("named capturing group is missing trailing '}'")?;
                            let name: String = chars[i + 1..end].iter().collect();
                            if name.is_empty() {
                                return Err("named capturing group has 0 length name".into());
                            }
                            if !regex.capture_names().flatten().any(|n| n == name) {
                                return Err(format!("No group with name {{{name}}}"));
                            }
                            pieces.push(Piece::Named(name));
                            i = end + 1;
                        }
                        Some(c) if c.is_ascii_digit() => {
                            let mut group = c.to_digit(10).unwrap_or(0) as usize;
                            if group > groups {
                                return Err(format!("No group {group}"));
                            }
                            i += 1;
                            // Java takes further digits only while the group exists.
                            while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                                let next = group * 10 + d as usize;
                                if next > groups {
                                    break;
                                }
                                group = next;
                                i += 1;
                            }
                            pieces.push(Piece::Group(group));
                        }
                        _ => return Err("Illegal group reference".into()),
                    }
                }
                c => {
                    literal.push(c);
                    i += 1;
                }
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(JavaReplacement { pieces })
    }

    /// The replacement with groups of `caps` filled in (unmatched groups are empty).
    pub fn expand(&self, caps: &regex::Captures) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Group(n) => out.push_str(caps.get(*n).map(|m| m.as_str()).unwrap_or("")),
                Piece::Named(n) => out.push_str(caps.name(n).map(|m| m.as_str()).unwrap_or("")),
            }
        }
        out
    }
}

/// Renames topics that match a regex.
pub struct RegexRouter {
    regex: regex::Regex,
    replacement: JavaReplacement,
}

impl RegexRouter {
    pub fn config_def() -> ConfigDef {
        ConfigDef::new()
            .define(
                ConfigKey::new(REGEX, ConfigType::String)
                    .validator(valid_regex())
                    .importance(Importance::High)
                    .doc("Regular expression to use for matching."),
            )
            .define(
                ConfigKey::new(REPLACEMENT, ConfigType::String)
                    .importance(Importance::High)
                    .doc("Replacement string."),
            )
    }

    pub fn new(config: &ConfigMap) -> Result<Self> {
        let p = parse(&Self::config_def(), config)?;
        let pattern = p.string(REGEX).unwrap_or_default();
        let regex = full_match_regex(REGEX, pattern)?;
        // The replacement is taken as written: ConfigDef would trim it.
        let raw = config
            .get(REPLACEMENT)
            .map(String::as_str)
            .unwrap_or_default();
        let replacement = JavaReplacement::parse(raw, &regex).map_err(|why| {
            ConnectError::Config(format!(
                "Invalid value {raw} for configuration {REPLACEMENT}: {why}"
            ))
        })?;
        Ok(RegexRouter { regex, replacement })
    }
}

impl Transformation for RegexRouter {
    fn apply(&mut self, mut record: Record) -> Result<Option<Record>> {
        if let Some(caps) = self.regex.captures(&record.topic) {
            record.topic = self.replacement.expand(&caps);
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Value;
    use crate::transform::test_support::*;

    fn route(regex: &str, replacement: &str, topic: &str) -> String {
        let mut t =
            RegexRouter::new(&cfg(&[("regex", regex), ("replacement", replacement)])).unwrap();
        let mut r = value_record(None, Value::Null);
        r.topic = topic.to_string();
        t.apply(r).unwrap().unwrap().topic
    }

    #[test]
    fn routes_like_java_replace_first() {
        assert_eq!(
            route("(.*)-(\\d+)", "$1-archive", "orders-2024"),
            "orders-archive"
        );
        assert_eq!(route("(.*)", "prefix-$1", "t"), "prefix-t");
        assert_eq!(
            route("(?<base>[a-z]+)\\.raw", "${base}.clean", "users.raw"),
            "users.clean"
        );
        assert_eq!(
            route("(a)(b)", "$2$1$12", "ab"),
            "baa2",
            "$12 is group 1 then '2' when there is no group 12"
        );
        assert_eq!(route("(.*)", "\\$1", "t"), "$1");
        assert_eq!(
            route("x(y)?", "[$1]", "x"),
            "[]",
            "an unmatched group is empty"
        );
    }

    #[test]
    fn needs_a_full_match() {
        assert_eq!(route("orders", "x", "orders-2024"), "orders-2024");
        assert_eq!(route("orders|payments", "x", "payments"), "x");
    }

    #[test]
    fn bad_configs() {
        let msg = |pairs: &[(&str, &str)]| RegexRouter::new(&cfg(pairs)).err().unwrap().to_string();
        assert_eq!(
            msg(&[("regex", "a")]),
            "Missing required configuration \"replacement\" which has no default value."
        );
        assert!(msg(&[("regex", "(a"), ("replacement", "x")])
            .starts_with("Invalid value (a for configuration regex: Invalid regex:"));
        assert_eq!(
            msg(&[("regex", "(a)"), ("replacement", "$2")]),
            "Invalid value $2 for configuration replacement: No group 2"
        );
        assert_eq!(
            msg(&[("regex", "(a)"), ("replacement", "$x")]),
            "Invalid value $x for configuration replacement: Illegal group reference"
        );
    }
}
