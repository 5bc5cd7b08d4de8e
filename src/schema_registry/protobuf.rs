//! Protobuf schemas in the registry: `.proto` text, or a base64 `FileDescriptorProto` as
//! confluent-kafka's serializers send it, compiled with protox (references as imports).

use std::sync::Arc;

use prost_reflect::{Kind, MessageDescriptor};

use crate::convert::protobuf::schema::{compile, ProtoSchema};

/// A Protobuf schema as registered, compiled.
#[derive(Clone, Debug)]
pub struct ProtoFile {
    pub text: String,
    pub compiled: Arc<ProtoSchema>,
}

/// Compiles the schema; the error says why it is invalid.
pub fn parse(text: &str, references: &[(String, String)]) -> Result<ProtoFile, String> {
    if text.trim().is_empty() {
        return Err("Invalid schema: empty Protobuf schema".into());
    }
    let compiled = compile(text, references).map_err(|e| format!("Invalid schema {text}: {e}"))?;
    Ok(ProtoFile {
        text: text.to_string(),
        compiled: Arc::new(compiled),
    })
}

/// Why data written with `writer` cannot be read with `reader` (empty when it can): messages
/// removed, and fields whose tag now has a wire-incompatible type (Confluent's
/// MESSAGE_REMOVED and FIELD_KIND_CHANGED / FIELD_SCALAR_KIND_CHANGED).
pub fn can_read(writer: &ProtoFile, reader: &ProtoFile) -> Vec<String> {
    let mut out = Vec::new();
    for wm in writer.compiled.file.messages() {
        compare(&wm, reader, &mut out, 0);
    }
    out
}

fn wire_class(kind: &Kind) -> &'static str {
    match kind {
        Kind::Int32 | Kind::Int64 | Kind::Uint32 | Kind::Uint64 | Kind::Bool | Kind::Enum(_) => {
            "varint"
        }
        Kind::Sint32 | Kind::Sint64 => "zigzag",
        Kind::Fixed32 | Kind::Sfixed32 | Kind::Float => "fixed32",
        Kind::Fixed64 | Kind::Sfixed64 | Kind::Double => "fixed64",
        Kind::String | Kind::Bytes => "length-delimited",
        Kind::Message(_) => "message",
    }
}

fn compare(wm: &MessageDescriptor, reader: &ProtoFile, out: &mut Vec<String>, depth: usize) {
    if depth > 32 {
        return;
    }
    let Some(rm) = reader.compiled.pool.get_message_by_name(wm.full_name()) else {
        out.push(format!(
            "{{errorType:'MESSAGE_REMOVED', description:'The new schema removes the message {}'}}",
            wm.full_name()
        ));
        return;
    };
    for wf in wm.fields() {
        let Some(rf) = rm.get_field(wf.number()) else {
            continue;
        };
        let (wk, rk) = (wf.kind(), rf.kind());
        if wire_class(&wk) != wire_class(&rk) || wf.is_list() != rf.is_list() {
            out.push(format!(
                "{{errorType:'FIELD_KIND_CHANGED', description:'The new schema changes the type of field {} (tag {}) of {}'}}",
                wf.name(),
                wf.number(),
                wm.full_name()
            ));
        }
    }
    for child in wm.child_messages() {
        if !child.is_map_entry() {
            compare(&child, reader, out, depth + 1);
        }
    }
}

/// The schema as a base64 `FileDescriptorProto`.
pub fn serialized(text: &str, references: &[(String, String)]) -> Result<String, String> {
    crate::convert::protobuf::schema::serialized(text, references)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_and_checks_compatibility() {
        let v1 = parse(
            "syntax = \"proto3\"; package p; message A { int32 x = 1; }",
            &[],
        )
        .unwrap();
        let v2 = parse(
            "syntax = \"proto3\"; package p; message A { int32 x = 1; string y = 2; }",
            &[],
        )
        .unwrap();
        assert!(can_read(&v1, &v2).is_empty());
        let bad = parse(
            "syntax = \"proto3\"; package p; message A { string x = 1; }",
            &[],
        )
        .unwrap();
        assert!(can_read(&v1, &bad)[0].contains("FIELD_KIND_CHANGED"));
        let other = parse("syntax = \"proto3\"; package q; message B { }", &[]).unwrap();
        assert!(can_read(&v1, &other)[0].contains("MESSAGE_REMOVED"));
        assert!(parse("message {", &[])
            .unwrap_err()
            .contains("Invalid schema"));
        // Serialized and back.
        let b64 = serialized(&v1.text, &[]).unwrap();
        let again = parse(&b64, &[]).unwrap();
        assert!(can_read(&v1, &again).is_empty());
    }

    #[test]
    fn references_are_imports() {
        let address = "syntax = \"proto3\"; package p; message Address { string city = 1; }";
        let user = "syntax = \"proto3\"; package p; import \"p/address.proto\"; import \"google/protobuf/timestamp.proto\"; message User { Address home = 1; google.protobuf.Timestamp at = 2; }";
        let refs = vec![("p/address.proto".to_string(), address.to_string())];
        let parsed = parse(user, &refs).unwrap();
        let home = parsed.compiled.pool.get_message_by_name("p.User").unwrap();
        assert_eq!(home.fields().count(), 2);
        let e = parse(user, &[]).unwrap_err();
        assert!(e.contains("p/address.proto"), "{e}");
    }

    #[test]
    fn confluent_and_google_types_are_built_in() {
        // Imported by name without references, as Confluent's serializers register them.
        let text = "syntax = \"proto3\"; package p; import \"confluent/meta.proto\"; import \"confluent/type/decimal.proto\"; import \"google/type/date.proto\"; import \"google/type/timeofday.proto\"; message A { confluent.type.Decimal d = 1 [(confluent.field_meta).params = { key: \"scale\", value: \"2\" }]; google.type.Date day = 2; google.type.TimeOfDay at = 3; }";
        let parsed = parse(text, &[]).unwrap();
        let a = parsed.compiled.pool.get_message_by_name("p.A").unwrap();
        let kinds: Vec<String> = a
            .fields()
            .map(|f| match f.kind() {
                Kind::Message(m) => m.full_name().to_string(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "confluent.type.Decimal",
                "google.type.Date",
                "google.type.TimeOfDay"
            ]
        );
        // A file that is neither registered nor built in is still missing.
        let e = parse(
            "syntax = \"proto3\"; import \"p/missing.proto\"; message A { int32 x = 1; }",
            &[],
        )
        .unwrap_err();
        assert!(e.contains("p/missing.proto"), "{e}");
    }
}
