//! Java `.properties` files (worker and connector configs), read as UTF-8.

use std::collections::BTreeMap;
use std::path::Path;

use java_properties::{LineContent, PropertiesIter};

use super::ConfigMap;

/// A properties file that cannot be read, with the line at fault.
#[derive(Debug, thiserror::Error)]
pub enum PropertiesError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}, line {line}: {message}")]
    Malformed {
        path: String,
        line: usize,
        message: String,
    },
}

/// Reads a properties file into an ordered map. Later duplicates win, as in Java.
///
/// Unlike `java.util.Properties`, a line holding only a key (no `=`, `:` or whitespace
/// separator) is an error: it is almost always a typo, and Java would silently read it as an
/// empty value.
pub fn read_properties_file(path: &Path) -> Result<ConfigMap, PropertiesError> {
    let text = std::fs::read_to_string(path).map_err(|source| PropertiesError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse_properties(&text, &path.display().to_string())
}

/// Parses properties text; `origin` names the source in errors.
pub fn parse_properties(text: &str, origin: &str) -> Result<ConfigMap, PropertiesError> {
    let raw_lines: Vec<&str> = text.lines().collect();
    let mut out = BTreeMap::new();
    for line in PropertiesIter::new_with_encoding(text.as_bytes(), encoding_rs::UTF_8) {
        let line = line.map_err(|e| PropertiesError::Malformed {
            path: origin.to_string(),
            line: e.line_number().unwrap_or(0),
            message: e.to_string(),
        })?;
        let number = line.line_number();
        if let LineContent::KVPair(key, value) = line.consume_content() {
            if value.is_empty() {
                let raw = raw_lines
                    .get(number.saturating_sub(1))
                    .copied()
                    .unwrap_or("");
                if !has_separator(raw.trim_start()) {
                    return Err(PropertiesError::Malformed {
                        path: origin.to_string(),
                        line: number,
                        message: format!(
                            "`{}` has no value; expected `key=value` (write `{key}=` for an empty value)",
                            raw.trim()
                        ),
                    });
                }
            }
            out.insert(key, value);
        }
    }
    Ok(out)
}

/// True when the key on this line is followed by `=`, `:` or whitespace (Java's separators).
fn has_separator(line: &str) -> bool {
    let mut escaped = false;
    for c in line.chars() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '=' | ':' | ' ' | '\t' | '\x0c' => return true,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_java_syntax() {
        let text = "# comment\n! bang comment\nname = local-file-source\nconnector.class:FileStreamSource\n\
                    tasks.max 1\nfile=/tmp/a\\\n  b.txt\nempty=\nunicode=caf\\u00e9 \u{e9}\n";
        let m = parse_properties(text, "t").unwrap();
        assert_eq!(m["name"], "local-file-source");
        assert_eq!(m["connector.class"], "FileStreamSource");
        assert_eq!(m["tasks.max"], "1");
        assert_eq!(m["file"], "/tmp/ab.txt");
        assert_eq!(m["empty"], "");
        assert_eq!(m["unicode"], "café é");
    }

    #[test]
    fn key_without_value_is_an_error_naming_the_line() {
        let err = parse_properties("a=1\ntopic\n", "conn.properties").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("conn.properties, line 2"), "{msg}");
        assert!(msg.contains("`topic`"), "{msg}");
    }

    #[test]
    fn bad_unicode_escape_is_an_error() {
        let err = parse_properties("a=1\nb=\\uZZZZ\n", "x").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
