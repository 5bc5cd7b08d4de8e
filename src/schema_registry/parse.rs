//! Parsing registered schemas by type, with their references resolved, and the text a schema
//! is stored and compared as.

use super::types::SchemaType;

/// A parsed schema, ready for compatibility checks.
#[derive(Clone, Debug)]
pub enum ParsedSchema {
    Avro(Box<apache_avro::Schema>),
    Json(serde_json::Value),
    Protobuf(super::protobuf::ProtoFile),
}

/// A schema's text and type with the texts of everything it references (depth first, each
/// with the name the referring schema uses).
#[derive(Clone, Debug)]
pub struct SchemaSource<'a> {
    pub schema_type: SchemaType,
    pub text: &'a str,
    /// `(name, schema text)` of every schema referenced, directly or not, dependencies first.
    pub references: Vec<(String, String)>,
}

/// The text a schema is stored and compared as: the given text with the whitespace between
/// JSON tokens removed (AVRO and JSON); Protobuf text is kept as given, trimmed.
pub fn stored_text(schema_type: SchemaType, text: &str) -> String {
    match schema_type {
        SchemaType::Protobuf => text.trim().to_string(),
        SchemaType::Avro | SchemaType::Json => compact_json(text),
    }
}

/// Removes whitespace outside JSON strings, keeping everything else (key order included).
pub fn compact_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// Parses a schema; the error says why it is invalid.
pub fn parse(source: &SchemaSource<'_>) -> Result<ParsedSchema, String> {
    match source.schema_type {
        SchemaType::Avro => parse_avro(source.text, &source.references).map(ParsedSchema::Avro),
        SchemaType::Json => parse_json(source.text).map(ParsedSchema::Json),
        SchemaType::Protobuf => {
            super::protobuf::parse(source.text, &source.references).map(ParsedSchema::Protobuf)
        }
    }
}

fn parse_avro(
    text: &str,
    references: &[(String, String)],
) -> Result<Box<apache_avro::Schema>, String> {
    let parse = |text: &str, refs: &[String]| {
        if refs.is_empty() {
            apache_avro::Schema::parse_str(text)
        } else {
            apache_avro::Schema::parse_str_with_list(text, refs).map(|(s, _)| s)
        }
    };
    let refs: Vec<String> = references.iter().map(|(_, t)| t.clone()).collect();
    parse(text, &refs).map_err(|e| format!("Invalid schema {text}: {}", avro_error_text(&e)))?;
    // Compatibility is decided on the encoding: logical types do not change it, and
    // apache-avro's check does not know them.
    let stripped: Vec<String> = refs.iter().map(|r| without_logical_types(r)).collect();
    parse(&without_logical_types(text), &stripped)
        .map(Box::new)
        .map_err(|e| format!("Invalid schema {text}: {}", avro_error_text(&e)))
}

/// The schema's JSON without `logicalType` attributes (their underlying types remain).
pub fn without_logical_types(text: &str) -> String {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.remove("logicalType");
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(mut v) => {
            strip(&mut v);
            v.to_string()
        }
        Err(_) => text.to_string(),
    }
}

/// An apache-avro error with its causes.
pub fn avro_error_text(e: &apache_avro::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

fn parse_json(text: &str) -> Result<serde_json::Value, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("Invalid schema {text}: {e}"))?;
    match &value {
        serde_json::Value::Object(_) | serde_json::Value::Bool(_) => Ok(value),
        _ => Err(format!(
            "Invalid schema {text}: a JSON Schema is an object or a boolean"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compacting_keeps_strings_and_order() {
        assert_eq!(
            compact_json("{ \"type\" : \"record\",\n \"doc\": \"a b\\\" c\" }"),
            "{\"type\":\"record\",\"doc\":\"a b\\\" c\"}"
        );
    }

    #[test]
    fn avro_with_references() {
        let address = r#"{"type":"record","name":"Address","namespace":"x","fields":[{"name":"city","type":"string"}]}"#;
        let user = r#"{"type":"record","name":"User","namespace":"x","fields":[{"name":"home","type":"Address"}]}"#;
        let source = SchemaSource {
            schema_type: SchemaType::Avro,
            text: user,
            references: vec![("x.Address".into(), address.into())],
        };
        assert!(parse(&source).is_ok());
        let alone = SchemaSource {
            references: vec![],
            ..source
        };
        assert!(parse(&alone).unwrap_err().contains("Invalid schema"));
    }
}
