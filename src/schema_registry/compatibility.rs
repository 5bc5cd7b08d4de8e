//! Compatibility checks between a new schema and earlier versions of a subject, by level
//! (BACKWARD, FORWARD, FULL, their TRANSITIVE forms, NONE). Avro uses apache-avro's
//! reader/writer resolution check; JSON Schema and Protobuf have their own rules.

use super::parse::ParsedSchema;
use super::types::Compatibility;

/// An earlier version to check against.
pub struct Earlier<'a> {
    pub version: i32,
    pub text: &'a str,
    pub schema: &'a ParsedSchema,
}

/// Checks `new` against `earlier` (oldest first) at `level`; returns Confluent-style messages,
/// empty when compatible. Non-transitive levels check only the latest earlier version.
pub fn check(level: Compatibility, new: &ParsedSchema, earlier: &[Earlier<'_>]) -> Vec<String> {
    if level == Compatibility::None || earlier.is_empty() {
        return Vec::new();
    }
    let against: &[Earlier<'_>] = if level.transitive() {
        earlier
    } else {
        &earlier[earlier.len() - 1..]
    };
    let mut messages = Vec::new();
    // Newest first, as Confluent reports them.
    for old in against.iter().rev() {
        let mut problems = Vec::new();
        if level.backward() {
            problems.extend(can_read(old.schema, new));
        }
        if level.forward() {
            problems.extend(can_read(new, old.schema));
        }
        if !problems.is_empty() {
            messages.extend(problems);
            messages.push(format!("{{oldSchemaVersion: {}}}", old.version));
            messages.push(format!("{{oldSchema: '{}'}}", old.text));
            messages.push(format!("{{compatibility: '{}'}}", level.as_str()));
            break;
        }
    }
    messages
}

/// Why data written with `writer` cannot be read with `reader` (empty when it can).
pub fn can_read(writer: &ParsedSchema, reader: &ParsedSchema) -> Vec<String> {
    match (writer, reader) {
        (ParsedSchema::Avro(w), ParsedSchema::Avro(r)) => {
            match apache_avro::schema_compatibility::SchemaCompatibility::can_read(w, r) {
                Ok(()) => Vec::new(),
                Err(e) => vec![format!(
                    "{{errorType:'{}', description:'{}'}}",
                    avro_error_type(&e),
                    compatibility_text(&e)
                )],
            }
        }
        (ParsedSchema::Json(w), ParsedSchema::Json(r)) => super::json_schema::can_read(w, r),
        (ParsedSchema::Protobuf(w), ParsedSchema::Protobuf(r)) => {
            super::protobuf::can_read(w, r)
        }
        _ => vec!["{errorType:'TYPE_MISMATCH', description:'Incompatible because of different schema type'}".to_string()],
    }
}

/// The error and its causes, on one line.
fn compatibility_text(e: &apache_avro::error::CompatibilityError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text.replace('\'', "\"")
}

/// Confluent's name for the kind of Avro incompatibility.
fn avro_error_type(e: &apache_avro::error::CompatibilityError) -> &'static str {
    use apache_avro::error::CompatibilityError as C;
    match e {
        C::MissingDefaultValue(_) => "READER_FIELD_MISSING_DEFAULT_VALUE",
        C::MissingSymbols => "MISSING_ENUM_SYMBOLS",
        C::MissingUnionElements => "MISSING_UNION_BRANCH",
        C::FixedMismatch => "FIXED_SIZE_MISMATCH",
        C::NameMismatch { .. } => "NAME_MISMATCH",
        _ => "TYPE_MISMATCH",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema_registry::parse::{parse, SchemaSource};
    use crate::schema_registry::types::SchemaType;

    fn avro(text: &str) -> ParsedSchema {
        parse(&SchemaSource {
            schema_type: SchemaType::Avro,
            text,
            references: vec![],
        })
        .unwrap()
    }

    const V1: &str = r#"{"type":"record","name":"U","fields":[{"name":"id","type":"long"}]}"#;
    const V2_OPTIONAL: &str = r#"{"type":"record","name":"U","fields":[{"name":"id","type":"long"},{"name":"email","type":["null","string"],"default":null}]}"#;
    const V2_REQUIRED: &str = r#"{"type":"record","name":"U","fields":[{"name":"id","type":"long"},{"name":"email","type":"string"}]}"#;
    const V3_DROPPED: &str = r#"{"type":"record","name":"U","fields":[{"name":"email","type":["null","string"],"default":null}]}"#;

    fn run(level: Compatibility, new: &str, old: &[&str]) -> Vec<String> {
        let parsed: Vec<ParsedSchema> = old.iter().map(|t| avro(t)).collect();
        let earlier: Vec<Earlier<'_>> = parsed
            .iter()
            .zip(old)
            .enumerate()
            .map(|(i, (schema, text))| Earlier {
                version: i as i32 + 1,
                text,
                schema,
            })
            .collect();
        check(level, &avro(new), &earlier)
    }

    #[test]
    fn avro_levels() {
        use Compatibility::*;
        assert!(run(Backward, V2_OPTIONAL, &[V1]).is_empty());
        let msgs = run(Backward, V2_REQUIRED, &[V1]);
        assert!(
            msgs[0].contains("READER_FIELD_MISSING_DEFAULT_VALUE"),
            "{msgs:?}"
        );
        assert!(msgs.contains(&"{oldSchemaVersion: 1}".to_string()));
        assert!(msgs.contains(&"{compatibility: 'BACKWARD'}".to_string()));
        // Forward: old readers ignore the new field, a required field is fine.
        assert!(run(Forward, V2_REQUIRED, &[V1]).is_empty());
        assert!(run(Full, V2_OPTIONAL, &[V1]).is_empty());
        assert!(!run(Full, V2_REQUIRED, &[V1]).is_empty());
        assert!(run(None, V2_REQUIRED, &[V1]).is_empty());
        // V3 drops `id`: backward-compatible with V2 (the reader ignores it), not forward with
        // V1 whose readers need `id`; transitive levels look past the latest.
        assert!(run(Backward, V3_DROPPED, &[V1, V2_OPTIONAL]).is_empty());
        assert!(run(Forward, V3_DROPPED, &[V2_OPTIONAL]).len() > 1);
        assert!(!run(ForwardTransitive, V3_DROPPED, &[V1, V2_OPTIONAL]).is_empty());
    }

    #[test]
    fn transitive_levels_look_past_the_latest() {
        use Compatibility::*;
        let v1 = r#"{"type":"record","name":"U","fields":[{"name":"id","type":"long"}]}"#;
        let v2 = r#"{"type":"record","name":"U","fields":[{"name":"id","type":"long"},{"name":"n","type":"string","default":"x"}]}"#;
        let v3 = r#"{"type":"record","name":"U","fields":[{"name":"id","type":"long"},{"name":"n","type":"string"}]}"#;
        assert!(run(Backward, v3, &[v1, v2]).is_empty());
        let msgs = run(BackwardTransitive, v3, &[v1, v2]);
        assert!(
            msgs.contains(&"{oldSchemaVersion: 1}".to_string()),
            "{msgs:?}"
        );
        assert!(run(Full, v3, &[v1, v2]).is_empty());
        assert!(!run(FullTransitive, v3, &[v1, v2]).is_empty());
    }

    #[test]
    fn promotion_is_backward_compatible() {
        let int = r#"{"type":"record","name":"N","fields":[{"name":"n","type":"int"}]}"#;
        let long = r#"{"type":"record","name":"N","fields":[{"name":"n","type":"long"}]}"#;
        assert!(run(Compatibility::Backward, long, &[int]).is_empty());
        assert!(!run(Compatibility::Forward, long, &[int]).is_empty());
    }
}
