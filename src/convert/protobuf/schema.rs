//! Protobuf schemas as the registry holds them — `.proto` text, or a base64
//! `FileDescriptorProto` as confluent-kafka's serializers register them — compiled (with
//! protox) into a descriptor pool, with their references as imports and the built-in files
//! (Google's well-known types, and the Confluent and `google.type` files of [`known`](super::known))
//! available; and `.proto` text written for a Connect schema.

use std::collections::HashMap;

use base64::Engine;
use prost::Message as _;
use prost_reflect::{DescriptorPool, FileDescriptor};
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};

use super::known;
use crate::data::{logical, Schema, SchemaType};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The name the registered schema itself gets when its text does not name it.
const MAIN_FILE: &str = "__registered_schema.proto";

/// A compiled schema: the pool and the registered file in it.
#[derive(Clone, Debug)]
pub struct ProtoSchema {
    pub pool: DescriptorPool,
    pub file: FileDescriptor,
}

/// A base64 `FileDescriptorProto`, when `text` is one.
fn as_descriptor(text: &str) -> Option<prost_types::FileDescriptorProto> {
    let t = text.trim();
    if t.is_empty() || t.contains(char::is_whitespace) || t.contains(';') {
        return None;
    }
    let bytes = B64.decode(t).ok()?;
    prost_types::FileDescriptorProto::decode(bytes.as_slice()).ok()
}

fn open(name: &str, text: &str) -> Result<File, String> {
    if as_descriptor(text).is_none() {
        return File::from_source(name, text).map_err(|e| e.to_string());
    }
    let mut bytes = B64.decode(text.trim()).map_err(|e| e.to_string())?;
    // Decoding keeps the last occurrence of a singular field, so appending the name renames
    // the file without re-encoding it through prost-types, which would drop extension options
    // such as a Decimal's `confluent.field_meta`.
    prost::encoding::string::encode(1, &name.to_string(), &mut bytes);
    File::decode_file_descriptor_proto(bytes.as_slice()).map_err(|e| e.to_string())
}

struct Sources(HashMap<String, String>);

impl FileResolver for Sources {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        match self.0.get(name) {
            Some(text) => open(name, text).map_err(|e| protox::Error::new(ParseText(e))),
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}

/// The Confluent and `google.type` files Confluent's serializers import without references.
struct KnownTypes;

impl FileResolver for KnownTypes {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        match super::known::source(name) {
            Some(text) => File::from_source(name, text),
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}

#[derive(Debug)]
struct ParseText(String);
impl std::fmt::Display for ParseText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for ParseText {}

/// Compiles a registered schema with its `(name, text)` references.
pub fn compile(text: &str, references: &[(String, String)]) -> Result<ProtoSchema, String> {
    let main = as_descriptor(text)
        .and_then(|fd| fd.name)
        .filter(|n| !n.is_empty() && !references.iter().any(|(r, _)| r == n))
        .unwrap_or_else(|| MAIN_FILE.to_string());
    let mut sources: HashMap<String, String> = references.iter().cloned().collect();
    sources.insert(main.clone(), text.to_string());
    let mut chain = ChainFileResolver::new();
    chain.add(Sources(sources));
    chain.add(KnownTypes);
    chain.add(GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(chain);
    compiler.include_imports(true);
    compiler.open_file(&main).map_err(|e| e.to_string())?;
    let pool = compiler.descriptor_pool();
    let file = pool
        .get_file_by_name(&main)
        .ok_or_else(|| "the schema file is missing after compiling".to_string())?;
    if file.messages().len() == 0 {
        return Err("the Protobuf schema defines no message".into());
    }
    Ok(ProtoSchema { pool, file })
}

/// The schema as a base64 `FileDescriptorProto` (`?format=serialized`).
pub fn serialized(text: &str, references: &[(String, String)]) -> Result<String, String> {
    if as_descriptor(text).is_some() {
        return Ok(text.trim().to_string());
    }
    let compiled = compile(text, references)?;
    // The descriptor's own encoding keeps extension options (prost-types would drop them).
    Ok(B64.encode(compiled.file.encode_to_vec()))
}

/// The message indexes of a message: its position in the file and in each enclosing message.
pub fn message_indexes(file: &FileDescriptor, full_name: &str) -> Option<Vec<i32>> {
    fn within(
        messages: &mut dyn Iterator<Item = prost_reflect::MessageDescriptor>,
        full_name: &str,
        path: &mut Vec<i32>,
    ) -> bool {
        for (i, m) in messages.enumerate() {
            path.push(i as i32);
            if m.full_name() == full_name || within(&mut m.child_messages(), full_name, path) {
                return true;
            }
            path.pop();
        }
        false
    }
    let mut path = Vec::new();
    within(&mut file.messages(), full_name, &mut path).then_some(path)
}

/// The message at `indexes` in `file`.
pub fn message_at(
    file: &FileDescriptor,
    indexes: &[i32],
) -> Option<prost_reflect::MessageDescriptor> {
    let mut current: Option<prost_reflect::MessageDescriptor> = None;
    for &i in indexes {
        let next = match &current {
            None => file.messages().nth(usize::try_from(i).ok()?),
            Some(m) => m.child_messages().nth(usize::try_from(i).ok()?),
        }?;
        current = Some(next);
    }
    current
}

// ---------------------------------------------------------------- Connect -> .proto

/// The Connect parameter that keeps a field's Protobuf tag (Confluent's `protobuf.field.tag`).
pub const TAG: &str = "protobuf.field.tag";
/// The package and message name of unnamed structs.
pub const DEFAULT_NAME: &str = "ConnectDefault";
/// The message a Connect Decimal is written as.
pub const DECIMAL_TYPE: &str = "confluent.type.Decimal";
/// The message a Connect Date is written as.
pub const DATE_TYPE: &str = "google.type.Date";
/// The message a Connect Time is written as.
pub const TIME_TYPE: &str = "google.type.TimeOfDay";
/// The message a Connect Timestamp is written as.
pub const TIMESTAMP_TYPE: &str = "google.protobuf.Timestamp";
/// The Connect parameter with a Decimal's precision.
pub const DECIMAL_PRECISION: &str = "connect.decimal.precision";
/// The `confluent.field_meta` parameters with a Decimal's precision and scale.
pub const PRECISION_PARAM: &str = "precision";
pub const SCALE_PARAM: &str = "scale";

/// `.proto` text for a Connect struct schema; the root message is the first in the file.
pub fn proto_text(schema: &Schema) -> Result<(String, String), String> {
    if schema.schema_type != SchemaType::Struct {
        return Err(format!(
            "a Protobuf schema needs a struct at the root, not {}",
            schema.describe()
        ));
    }
    let full = schema
        .name
        .clone()
        .unwrap_or_else(|| format!("{DEFAULT_NAME}1"));
    let (package, name) = match full.rsplit_once('.') {
        Some((p, n)) => (Some(p.to_string()), n.to_string()),
        None => (None, full.clone()),
    };
    let mut out = String::from("syntax = \"proto3\";\n");
    if let Some(p) = &package {
        out.push_str(&format!("package {p};\n"));
    }
    let mut body = String::new();
    let mut imports = Vec::new();
    message(schema, &name, 0, &mut body, &mut imports)?;
    imports.sort_unstable();
    for i in imports {
        out.push_str(&format!("import \"{i}\";\n"));
    }
    out.push('\n');
    out.push_str(&body);
    Ok((out, full))
}

fn ident(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) || s.is_empty() {
        s.insert(0, '_');
    }
    s
}

/// The Protobuf message a Connect logical type is written as (after Confluent's
/// `ProtobufData`), with the file it is imported from.
fn logical_message(schema: &Schema) -> Option<(&'static str, &'static str)> {
    let name = schema.name.as_deref()?;
    Some(match (schema.schema_type, name) {
        (SchemaType::Bytes, logical::DECIMAL) => (DECIMAL_TYPE, known::DECIMAL),
        (SchemaType::Int32, logical::DATE) => (DATE_TYPE, known::DATE),
        (SchemaType::Int32, logical::TIME) => (TIME_TYPE, known::TIME_OF_DAY),
        (SchemaType::Int64, logical::TIMESTAMP) => {
            (TIMESTAMP_TYPE, "google/protobuf/timestamp.proto")
        }
        _ => return None,
    })
}

fn import(imports: &mut Vec<&'static str>, file: &'static str) {
    if !imports.contains(&file) {
        imports.push(file);
    }
}

/// The field options that keep what the Protobuf type cannot say: a Decimal's precision and
/// scale in `confluent.field_meta`, as Confluent writes them.
fn field_options(schema: &Schema, imports: &mut Vec<&'static str>) -> String {
    if !schema.is_logical(logical::DECIMAL) {
        return String::new();
    }
    let params: Vec<String> = [
        (PRECISION_PARAM, DECIMAL_PRECISION),
        (SCALE_PARAM, logical::DECIMAL_SCALE),
    ]
    .iter()
    .filter_map(|(key, connect)| {
        let value = schema.parameters.get(*connect)?;
        Some(format!("{{ key: \"{key}\", value: \"{value}\" }}"))
    })
    .collect();
    if params.is_empty() {
        return String::new();
    }
    import(imports, known::META);
    format!(
        " [(confluent.field_meta) = {{ params: [{}] }}]",
        params.join(", ")
    )
}

fn message(
    schema: &Schema,
    name: &str,
    depth: usize,
    out: &mut String,
    imports: &mut Vec<&'static str>,
) -> Result<(), String> {
    let pad = "  ".repeat(depth);
    out.push_str(&format!("{pad}message {} {{\n", ident(name)));
    let mut used = std::collections::HashSet::new();
    for f in &schema.fields {
        let tag: u32 = f
            .schema
            .parameters
            .get(TAG)
            .and_then(|t| t.parse().ok())
            .unwrap_or(f.index as u32 + 1);
        if !used.insert(tag) {
            return Err(format!("field {}: tag {tag} is used twice", f.name));
        }
        let fname = ident(&f.name);
        let nested_name = |suffix: &str| {
            let mut n = ident(&f.name);
            if let Some(c) = n.get_mut(0..1) {
                c.make_ascii_uppercase();
            }
            format!("{n}{suffix}")
        };
        let (label, ty, options) = match f.schema.schema_type {
            SchemaType::Array => {
                let items = f
                    .schema
                    .value_schema
                    .as_deref()
                    .ok_or("array without items")?;
                let ty = field_type(items, &nested_name("Item"), depth, out, imports)
                    .map_err(|e| format!("field {}: {e}", f.name))?;
                ("repeated ", ty, field_options(items, imports))
            }
            SchemaType::Map => {
                let k = f.schema.key_schema.as_deref().ok_or("map without keys")?;
                let v = f
                    .schema
                    .value_schema
                    .as_deref()
                    .ok_or("map without values")?;
                let kt = match k.schema_type {
                    SchemaType::String => "string",
                    SchemaType::Int8 | SchemaType::Int16 | SchemaType::Int32 => "int32",
                    SchemaType::Int64 => "int64",
                    SchemaType::Boolean => "bool",
                    _ => {
                        return Err(format!(
                            "field {}: Protobuf map keys are strings, integers or booleans, not {}",
                            f.name,
                            k.describe()
                        ))
                    }
                };
                let vt = field_type(v, &nested_name("Value"), depth, out, imports)
                    .map_err(|e| format!("field {}: {e}", f.name))?;
                ("", format!("map<{kt}, {vt}>"), String::new())
            }
            SchemaType::Struct => (
                "",
                field_type(&f.schema, &nested_name(""), depth, out, imports)?,
                String::new(),
            ),
            _ => {
                let ty = field_type(&f.schema, "", depth, out, imports)
                    .map_err(|e| format!("field {}: {e}", f.name))?;
                // Explicit presence keeps a null apart from 0 or ""; message types (the
                // logical types) have it already.
                let optional = f.schema.optional && logical_message(&f.schema).is_none();
                (
                    if optional { "optional " } else { "" },
                    ty,
                    field_options(&f.schema, imports),
                )
            }
        };
        out.push_str(&format!("{pad}  {label}{ty} {fname} = {tag}{options};\n"));
    }
    out.push_str(&format!("{pad}}}\n"));
    Ok(())
}

fn field_type(
    schema: &Schema,
    nested: &str,
    depth: usize,
    out: &mut String,
    imports: &mut Vec<&'static str>,
) -> Result<String, String> {
    if let Some((message, file)) = logical_message(schema) {
        import(imports, file);
        return Ok(message.into());
    }
    Ok(match schema.schema_type {
        SchemaType::Int8 | SchemaType::Int16 | SchemaType::Int32 => "int32".into(),
        SchemaType::Int64 => "int64".into(),
        SchemaType::Float32 => "float".into(),
        SchemaType::Float64 => "double".into(),
        SchemaType::Boolean => "bool".into(),
        SchemaType::String => "string".into(),
        SchemaType::Bytes => "bytes".into(),
        SchemaType::Struct => {
            let mut nested_out = String::new();
            message(schema, nested, depth + 1, &mut nested_out, imports)?;
            // Nested messages go inside the enclosing message, before its closing brace:
            // written first, the enclosing message's text is completed after.
            out.push_str(&nested_out);
            ident(nested)
        }
        SchemaType::Array | SchemaType::Map => {
            return Err(format!(
                "{} inside a list or map has no Protobuf equivalent",
                schema.describe()
            ))
        }
    })
}
