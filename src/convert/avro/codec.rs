//! Avro's binary encoding, straight between bytes and Connect values: a [`Node`] tree is
//! compiled once per (Avro schema, Connect schema) pair and then walks each record, without
//! an intermediate Avro value.

use std::sync::Arc;

use serde_json::Value as Json;

use super::data::{json_to_value, map_entry, to_connect_schema_of, union_member_name, UNION};
use super::schema::{AvroSchema, AvroSchemas, AvroType, NamedKind};
use crate::data::{SchemaRef, SchemaType, Struct, Value};

/// How one Avro schema node is read into, or written from, one Connect value.
#[derive(Debug)]
pub enum Node {
    Null,
    Boolean,
    /// An Avro int read as Connect INT8 / INT16 / INT32.
    Int(IntWidth),
    Long,
    Float,
    Double,
    Bytes,
    Fixed(usize),
    String,
    Enum(Arc<[String]>),
    Array(Box<Node>),
    Map(Box<Node>),
    /// An array of key/value records: a Connect map with non-string keys.
    EntryArray(Box<Node>, Box<Node>),
    Record(Arc<RecordNode>),
    /// A union of null and one type: a Connect optional schema.
    Optional {
        null_index: i64,
        inner: Box<Node>,
    },
    /// Any other union: a Connect `io.confluent.connect.avro.Union` struct.
    Union(Arc<UnionNode>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntWidth {
    I8,
    I16,
    I32,
}

#[derive(Debug)]
pub struct RecordNode {
    pub schema: SchemaRef,
    pub fields: Vec<FieldNode>,
}

#[derive(Debug)]
pub struct FieldNode {
    pub name: String,
    pub node: Node,
    /// The Connect field; `None` when the Connect schema has no such field (writing with a
    /// registered schema that has more fields): the Avro default is written.
    pub connect_index: Option<usize>,
    pub default: Option<Value>,
}

#[derive(Debug)]
pub struct UnionNode {
    pub schema: SchemaRef,
    /// Per Avro branch: the node and the Connect field (None for null).
    pub branches: Vec<(Node, Option<usize>)>,
}

/// A failure, with where in the record it happened.
#[derive(Debug, Clone, PartialEq)]
pub struct CodecError {
    pub path: Vec<String>,
    pub message: String,
}

impl CodecError {
    fn new(message: impl Into<String>) -> Self {
        CodecError {
            path: Vec::new(),
            message: message.into(),
        }
    }

    fn at(mut self, name: &str) -> Self {
        self.path.push(name.to_string());
        self
    }

    /// `field a.b: message`, or the message alone at the top level.
    pub fn describe(&self) -> String {
        if self.path.is_empty() {
            return self.message.clone();
        }
        let path: Vec<&str> = self.path.iter().rev().map(String::as_str).collect();
        format!("field {}: {}", path.join("."), self.message)
    }
}

type CResult<T> = Result<T, CodecError>;

const MAX_DEPTH: usize = 64;

/// Compiles the node for `avro` read as (or written from) `connect`.
pub fn compile(
    schemas: &AvroSchemas,
    avro: &AvroSchema,
    connect: &SchemaRef,
) -> Result<Node, String> {
    compile_at(schemas, avro, connect, 0)
}

fn compile_at(
    schemas: &AvroSchemas,
    avro: &AvroSchema,
    connect: &SchemaRef,
    depth: usize,
) -> Result<Node, String> {
    if depth > MAX_DEPTH {
        return Err("the schema nests too deeply (recursive?)".into());
    }
    let mismatch = |what: &str| {
        Err(format!(
            "the Avro type {what} cannot hold Connect type {}",
            connect.schema_type
        ))
    };
    Ok(match &avro.ty {
        AvroType::Null => Node::Null,
        AvroType::Boolean => match connect.schema_type {
            SchemaType::Boolean => Node::Boolean,
            _ => return mismatch("boolean"),
        },
        AvroType::Int => match connect.schema_type {
            SchemaType::Int8 => Node::Int(IntWidth::I8),
            SchemaType::Int16 => Node::Int(IntWidth::I16),
            SchemaType::Int32 => Node::Int(IntWidth::I32),
            _ => return mismatch("int"),
        },
        AvroType::Long => match connect.schema_type {
            SchemaType::Int64 => Node::Long,
            _ => return mismatch("long"),
        },
        AvroType::Float => match connect.schema_type {
            SchemaType::Float32 => Node::Float,
            _ => return mismatch("float"),
        },
        AvroType::Double => match connect.schema_type {
            SchemaType::Float64 => Node::Double,
            _ => return mismatch("double"),
        },
        AvroType::Bytes => match connect.schema_type {
            SchemaType::Bytes => Node::Bytes,
            _ => return mismatch("bytes"),
        },
        AvroType::String => match connect.schema_type {
            SchemaType::String => Node::String,
            _ => return mismatch("string"),
        },
        AvroType::Array(items) => match connect.schema_type {
            SchemaType::Map if map_entry(schemas, items).is_some() => {
                let AvroType::Named(i) = items.ty else {
                    unreachable!()
                };
                let NamedKind::Record(fields) = &schemas.named(i).kind else {
                    unreachable!()
                };
                let ks = connect
                    .key_schema
                    .as_ref()
                    .ok_or("a map schema has no key schema")?;
                let vs = connect
                    .value_schema
                    .as_ref()
                    .ok_or("a map schema has no value schema")?;
                Node::EntryArray(
                    Box::new(compile_at(schemas, &fields[0].schema, ks, depth + 1)?),
                    Box::new(compile_at(schemas, &fields[1].schema, vs, depth + 1)?),
                )
            }
            SchemaType::Array => {
                let vs = connect
                    .value_schema
                    .as_ref()
                    .ok_or("an array schema has no item schema")?;
                Node::Array(Box::new(compile_at(schemas, items, vs, depth + 1)?))
            }
            _ => return mismatch("array"),
        },
        AvroType::Map(values) => match connect.schema_type {
            SchemaType::Map => {
                let vs = connect
                    .value_schema
                    .as_ref()
                    .ok_or("a map schema has no value schema")?;
                Node::Map(Box::new(compile_at(schemas, values, vs, depth + 1)?))
            }
            _ => return mismatch("map"),
        },
        AvroType::Union(branches) => {
            if connect.schema_type == SchemaType::Struct && connect.name.as_deref() == Some(UNION) {
                let mut out = Vec::new();
                for b in branches {
                    if b.ty == AvroType::Null {
                        out.push((Node::Null, None));
                        continue;
                    }
                    let name = union_member_name(schemas, b);
                    let field = connect.field(&name).ok_or_else(|| {
                        format!("the union struct has no field {name} for that branch")
                    })?;
                    out.push((
                        compile_at(schemas, b, &field.schema, depth + 1)?,
                        Some(field.index),
                    ));
                }
                Node::Union(Arc::new(UnionNode {
                    schema: connect.clone(),
                    branches: out,
                }))
            } else {
                let others: Vec<(usize, &AvroSchema)> = branches
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.ty != AvroType::Null)
                    .collect();
                let null_index = branches.iter().position(|b| b.ty == AvroType::Null);
                match (others.as_slice(), null_index) {
                    ([(_, one)], Some(n)) => Node::Optional {
                        null_index: n as i64,
                        inner: Box::new(compile_at(schemas, one, connect, depth + 1)?),
                    },
                    // A union of one type: index 0, then the value.
                    ([(_, one)], None) => Node::Optional {
                        null_index: -1,
                        inner: Box::new(compile_at(schemas, one, connect, depth + 1)?),
                    },
                    _ => {
                        return Err(format!(
                            "an Avro union of {} types needs a Connect {UNION} struct",
                            branches.len()
                        ))
                    }
                }
            }
        }
        AvroType::Named(i) => {
            let named = schemas.named(*i);
            match &named.kind {
                NamedKind::Fixed(size) => match connect.schema_type {
                    SchemaType::Bytes => Node::Fixed(*size),
                    _ => return mismatch("fixed"),
                },
                NamedKind::Enum { symbols, .. } => match connect.schema_type {
                    SchemaType::String => Node::Enum(symbols.clone().into()),
                    _ => return mismatch("enum"),
                },
                NamedKind::Record(fields) => {
                    if connect.schema_type != SchemaType::Struct {
                        return mismatch(&format!("record {}", named.full_name));
                    }
                    let mut out = Vec::with_capacity(fields.len());
                    for f in fields {
                        let (connect_index, node, default) = match connect.field(&f.name) {
                            Some(cf) => (
                                Some(cf.index),
                                compile_at(schemas, &f.schema, &cf.schema, depth + 1)
                                    .map_err(|e| format!("field {}: {e}", f.name))?,
                                None,
                            ),
                            None => {
                                let fs = to_connect_schema_of(schemas, &f.schema)?;
                                let default = f.default.as_ref().and_then(|d| default_for(&fs, d));
                                if default.is_none() {
                                    return Err(format!(
                                        "the registered schema has a field {} with no default that the record's schema does not have",
                                        f.name
                                    ));
                                }
                                (
                                    None,
                                    compile_at(schemas, &f.schema, &fs, depth + 1)?,
                                    default,
                                )
                            }
                        };
                        out.push(FieldNode {
                            name: f.name.clone(),
                            node,
                            connect_index,
                            default,
                        });
                    }
                    Node::Record(Arc::new(RecordNode {
                        schema: connect.clone(),
                        fields: out,
                    }))
                }
            }
        }
    })
}

/// A field default as a value to write (null defaults of optional fields included).
fn default_for(schema: &SchemaRef, json: &Json) -> Option<Value> {
    if json.is_null() {
        return schema.optional.then_some(Value::Null);
    }
    json_to_value(schema, json)
}

impl Node {
    // ------------------------------------------------------------ decoding

    pub fn decode(&self, buf: &mut &[u8]) -> CResult<Value> {
        Ok(match self {
            Node::Null => Value::Null,
            Node::Boolean => match take(buf, 1)?[0] {
                0 => Value::Boolean(false),
                1 => Value::Boolean(true),
                b => return Err(CodecError::new(format!("invalid boolean byte {b}"))),
            },
            Node::Int(width) => {
                let v = read_long(buf)?;
                match width {
                    IntWidth::I8 => Value::Int8(
                        i8::try_from(v)
                            .map_err(|_| CodecError::new(format!("{v} does not fit an int8")))?,
                    ),
                    IntWidth::I16 => Value::Int16(
                        i16::try_from(v)
                            .map_err(|_| CodecError::new(format!("{v} does not fit an int16")))?,
                    ),
                    IntWidth::I32 => Value::Int32(
                        i32::try_from(v)
                            .map_err(|_| CodecError::new(format!("{v} does not fit an int")))?,
                    ),
                }
            }
            Node::Long => Value::Int64(read_long(buf)?),
            Node::Float => Value::Float32(f32::from_le_bytes(
                take(buf, 4)?.try_into().unwrap_or_default(),
            )),
            Node::Double => Value::Float64(f64::from_le_bytes(
                take(buf, 8)?.try_into().unwrap_or_default(),
            )),
            Node::Bytes => {
                let n = read_len(buf)?;
                Value::Bytes(take(buf, n)?.to_vec())
            }
            Node::Fixed(n) => Value::Bytes(take(buf, *n)?.to_vec()),
            Node::String => {
                let n = read_len(buf)?;
                let bytes = take(buf, n)?;
                Value::String(
                    std::str::from_utf8(bytes)
                        .map_err(|e| CodecError::new(format!("a string is not UTF-8: {e}")))?
                        .to_string(),
                )
            }
            Node::Enum(symbols) => {
                let i = read_long(buf)?;
                Value::String(
                    usize::try_from(i)
                        .ok()
                        .and_then(|i| symbols.get(i))
                        .ok_or_else(|| CodecError::new(format!("enum index {i} out of range")))?
                        .clone(),
                )
            }
            Node::Array(items) => {
                let mut out = Vec::new();
                read_blocks(buf, |buf| {
                    out.push(items.decode(buf)?);
                    Ok(())
                })?;
                Value::Array(out)
            }
            Node::Map(values) => {
                let mut out = Vec::new();
                read_blocks(buf, |buf| {
                    let n = read_len(buf)?;
                    let key = std::str::from_utf8(take(buf, n)?)
                        .map_err(|e| CodecError::new(format!("a map key is not UTF-8: {e}")))?
                        .to_string();
                    let v = values.decode(buf).map_err(|e| e.at(&key))?;
                    out.push((Value::String(key), v));
                    Ok(())
                })?;
                Value::Map(out)
            }
            Node::EntryArray(k, v) => {
                let mut out = Vec::new();
                read_blocks(buf, |buf| {
                    let key = k.decode(buf).map_err(|e| e.at("key"))?;
                    let value = v.decode(buf).map_err(|e| e.at("value"))?;
                    out.push((key, value));
                    Ok(())
                })?;
                Value::Map(out)
            }
            Node::Record(r) => {
                let mut s = Struct::new(r.schema.clone());
                for f in &r.fields {
                    let v = f.node.decode(buf).map_err(|e| e.at(&f.name))?;
                    if let Some(i) = f.connect_index {
                        s.put_unchecked(i, v);
                    }
                }
                Value::Struct(s)
            }
            Node::Optional { null_index, inner } => {
                let i = read_long(buf)?;
                if i == *null_index {
                    Value::Null
                } else if (0..=1).contains(&i) || *null_index < 0 {
                    inner.decode(buf)?
                } else {
                    return Err(CodecError::new(format!("union index {i} out of range")));
                }
            }
            Node::Union(u) => {
                let i = read_long(buf)?;
                let (node, field) = usize::try_from(i)
                    .ok()
                    .and_then(|i| u.branches.get(i))
                    .ok_or_else(|| CodecError::new(format!("union index {i} out of range")))?;
                match field {
                    None => Value::Null,
                    Some(f) => {
                        let v = node.decode(buf)?;
                        let mut s = Struct::new(u.schema.clone());
                        s.put_unchecked(*f, v);
                        Value::Struct(s)
                    }
                }
            }
        })
    }

    // ------------------------------------------------------------ encoding

    pub fn encode(&self, value: &Value, out: &mut Vec<u8>) -> CResult<()> {
        let wrong = |expected: &str| {
            Err(CodecError::new(format!(
                "expected {expected}, got {}",
                if value.is_null() {
                    "null (the field is not optional)".to_string()
                } else {
                    value.type_name().to_string()
                }
            )))
        };
        match self {
            Node::Null => {
                if !value.is_null() {
                    return wrong("null");
                }
            }
            Node::Boolean => match value {
                Value::Boolean(b) => out.push(*b as u8),
                _ => return wrong("a boolean"),
            },
            Node::Int(_) => match value.as_i64() {
                Some(v) if i32::try_from(v).is_ok() => write_long(v, out),
                _ => return wrong("an int"),
            },
            Node::Long => match value.as_i64() {
                Some(v) => write_long(v, out),
                None => return wrong("a long"),
            },
            Node::Float => match value {
                Value::Float32(v) => out.extend_from_slice(&v.to_le_bytes()),
                Value::Float64(v) => out.extend_from_slice(&(*v as f32).to_le_bytes()),
                _ => return wrong("a float"),
            },
            Node::Double => match value {
                Value::Float64(v) => out.extend_from_slice(&v.to_le_bytes()),
                Value::Float32(v) => out.extend_from_slice(&(*v as f64).to_le_bytes()),
                _ => return wrong("a double"),
            },
            Node::Bytes => match value {
                Value::Bytes(b) => {
                    write_long(b.len() as i64, out);
                    out.extend_from_slice(b);
                }
                _ => return wrong("bytes"),
            },
            Node::Fixed(n) => match value {
                Value::Bytes(b) if b.len() == *n => out.extend_from_slice(b),
                Value::Bytes(b) => {
                    return Err(CodecError::new(format!(
                        "a fixed of {n} bytes cannot hold {} bytes",
                        b.len()
                    )))
                }
                _ => return wrong("bytes"),
            },
            Node::String => match value {
                Value::String(s) => {
                    write_long(s.len() as i64, out);
                    out.extend_from_slice(s.as_bytes());
                }
                _ => return wrong("a string"),
            },
            Node::Enum(symbols) => match value {
                Value::String(s) => match symbols.iter().position(|x| x == s) {
                    Some(i) => write_long(i as i64, out),
                    None => {
                        return Err(CodecError::new(format!(
                            "{s} is not one of the enum's symbols {symbols:?}"
                        )))
                    }
                },
                _ => return wrong("a string (enum symbol)"),
            },
            Node::Array(items) => match value {
                Value::Array(values) => {
                    if !values.is_empty() {
                        write_long(values.len() as i64, out);
                        for (i, v) in values.iter().enumerate() {
                            items.encode(v, out).map_err(|e| e.at(&i.to_string()))?;
                        }
                    }
                    out.push(0);
                }
                _ => return wrong("an array"),
            },
            Node::Map(values) => match value {
                Value::Map(entries) => {
                    if !entries.is_empty() {
                        write_long(entries.len() as i64, out);
                        for (k, v) in entries {
                            let key = k.as_str().ok_or_else(|| {
                                CodecError::new("a map with string keys has a non-string key")
                            })?;
                            write_long(key.len() as i64, out);
                            out.extend_from_slice(key.as_bytes());
                            values.encode(v, out).map_err(|e| e.at(key))?;
                        }
                    }
                    out.push(0);
                }
                _ => return wrong("a map"),
            },
            Node::EntryArray(k, v) => match value {
                Value::Map(entries) => {
                    if !entries.is_empty() {
                        write_long(entries.len() as i64, out);
                        for (key, val) in entries {
                            k.encode(key, out).map_err(|e| e.at("key"))?;
                            v.encode(val, out).map_err(|e| e.at("value"))?;
                        }
                    }
                    out.push(0);
                }
                _ => return wrong("a map"),
            },
            Node::Record(r) => match value {
                Value::Struct(s) => {
                    let values = s.values();
                    let fields = &s.schema().fields;
                    for f in &r.fields {
                        match f.connect_index {
                            Some(i) => {
                                let v = values.get(i).unwrap_or(&Value::Null);
                                let v = match (
                                    v,
                                    fields.get(i).and_then(|cf| cf.schema.default.as_ref()),
                                ) {
                                    (Value::Null, Some(d)) => d,
                                    _ => v,
                                };
                                f.node.encode(v, out).map_err(|e| e.at(&f.name))?;
                            }
                            None => f
                                .node
                                .encode(f.default.as_ref().unwrap_or(&Value::Null), out)
                                .map_err(|e| e.at(&f.name))?,
                        }
                    }
                }
                _ => return wrong("a struct"),
            },
            Node::Optional { null_index, inner } => {
                if value.is_null() {
                    if *null_index < 0 {
                        return wrong("a value");
                    }
                    write_long(*null_index, out);
                } else {
                    write_long(if *null_index == 0 { 1 } else { 0 }, out);
                    inner.encode(value, out)?;
                }
            }
            Node::Union(u) => match value {
                Value::Null => match u.branches.iter().position(|(_, f)| f.is_none()) {
                    Some(i) => write_long(i as i64, out),
                    None => return wrong("a value for the union"),
                },
                Value::Struct(s) => {
                    let set = s.values().iter().position(|v| !v.is_null());
                    let branch = u
                        .branches
                        .iter()
                        .position(|(_, f)| f.is_some() && *f == set);
                    match (set, branch) {
                        (Some(f), Some(b)) => {
                            write_long(b as i64, out);
                            u.branches[b].0.encode(&s.values()[f], out)?;
                        }
                        (None, _) => match u.branches.iter().position(|(_, f)| f.is_none()) {
                            Some(i) => write_long(i as i64, out),
                            None => return wrong("a union with one branch set"),
                        },
                        _ => return wrong("a union struct matching the schema"),
                    }
                }
                _ => return wrong("a union struct"),
            },
        }
        Ok(())
    }
}

fn take<'a>(buf: &mut &'a [u8], n: usize) -> CResult<&'a [u8]> {
    if buf.len() < n {
        return Err(CodecError::new(format!(
            "the data ends early: {n} bytes needed, {} left",
            buf.len()
        )));
    }
    let (head, tail) = buf.split_at(n);
    *buf = tail;
    Ok(head)
}

/// A zig-zag varint.
pub fn read_long(buf: &mut &[u8]) -> CResult<i64> {
    let mut value: u64 = 0;
    let mut shift = 0;
    loop {
        let Some((&b, rest)) = buf.split_first() else {
            return Err(CodecError::new("the data ends inside a number"));
        };
        *buf = rest;
        if shift >= 64 {
            return Err(CodecError::new("a number is longer than 10 bytes"));
        }
        value |= ((b & 0x7f) as u64) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    Ok((value >> 1) as i64 ^ -((value & 1) as i64))
}

fn read_len(buf: &mut &[u8]) -> CResult<usize> {
    let n = read_long(buf)?;
    usize::try_from(n).map_err(|_| CodecError::new(format!("negative length {n}")))
}

/// Reads array or map blocks, calling `item` for each item.
fn read_blocks(buf: &mut &[u8], mut item: impl FnMut(&mut &[u8]) -> CResult<()>) -> CResult<()> {
    loop {
        let mut count = read_long(buf)?;
        if count == 0 {
            return Ok(());
        }
        if count < 0 {
            count = -count;
            read_long(buf)?;
        }
        if count as usize > buf.len() + 1 {
            return Err(CodecError::new(format!(
                "a block claims {count} items but only {} bytes are left",
                buf.len()
            )));
        }
        for _ in 0..count {
            item(buf)?;
        }
    }
}

/// Writes a zig-zag varint.
pub fn write_long(v: i64, out: &mut Vec<u8>) {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::avro::data::{from_connect_schema, to_connect_schema};
    use crate::convert::avro::schema::parse;
    use crate::data::{logical_schemas, Schema, SchemaBuilder};

    #[test]
    fn varints_match_the_spec() {
        for (v, bytes) in [
            (0i64, vec![0u8]),
            (-1, vec![1]),
            (1, vec![2]),
            (-64, vec![0x7f]),
            (64, vec![0x80, 0x01]),
        ] {
            let mut out = Vec::new();
            write_long(v, &mut out);
            assert_eq!(out, bytes);
            assert_eq!(read_long(&mut &bytes[..]).unwrap(), v);
        }
        for v in [i64::MIN, i64::MAX, 123456789] {
            let mut out = Vec::new();
            write_long(v, &mut out);
            assert_eq!(read_long(&mut &out[..]).unwrap(), v);
        }
    }

    fn node_for(connect: &SchemaRef) -> Node {
        let avro = parse(&from_connect_schema(connect).unwrap().to_string(), &[]).unwrap();
        compile(&avro, &avro.root, connect).unwrap()
    }

    #[test]
    fn connect_values_round_trip() {
        let address = SchemaBuilder::struct_()
            .name("x.Address")
            .field("city", Schema::string())
            .build();
        let schema = SchemaBuilder::struct_()
            .name("x.User")
            .field("id", Schema::int64())
            .field("small", Schema::int8())
            .field("ok", Schema::boolean())
            .field("score", Schema::float64())
            .field("email", Schema::optional_string())
            .field("price", logical_schemas::decimal(2).build())
            .field("born", logical_schemas::date().build())
            .field("tags", SchemaBuilder::array(Schema::string()).build())
            .field(
                "counts",
                SchemaBuilder::map(Schema::int32(), Schema::int64()).build(),
            )
            .field(
                "attrs",
                SchemaBuilder::map(Schema::string(), Schema::optional_string()).build(),
            )
            .field("home", address.clone())
            .field(
                "level",
                SchemaBuilder::new(SchemaType::Int32)
                    .optional()
                    .default_value(Value::Int32(5))
                    .build(),
            )
            .build();
        let mut home = Struct::new(address);
        home.put("city", "Oslo".into()).unwrap();
        let mut s = Struct::new(schema.clone());
        s.put("id", Value::Int64(-42)).unwrap();
        s.put("small", Value::Int8(-3)).unwrap();
        s.put("ok", Value::Boolean(true)).unwrap();
        s.put("score", Value::Float64(2.5)).unwrap();
        s.put("price", Value::Bytes(crate::data::decimal::to_bytes(12345)))
            .unwrap();
        s.put("born", Value::Int32(19000)).unwrap();
        s.put("tags", Value::Array(vec!["a".into(), "b".into()]))
            .unwrap();
        s.put(
            "counts",
            Value::Map(vec![(Value::Int32(1), Value::Int64(10))]),
        )
        .unwrap();
        s.put(
            "attrs",
            Value::Map(vec![(Value::String("k".into()), Value::Null)]),
        )
        .unwrap();
        s.put("home", Value::Struct(home)).unwrap();
        let value = Value::Struct(s);
        let node = node_for(&schema);
        let mut bytes = Vec::new();
        node.encode(&value, &mut bytes).unwrap();
        // Decode with the Connect schema read back from the Avro schema.
        let avro = parse(&from_connect_schema(&schema).unwrap().to_string(), &[]).unwrap();
        let back_schema = to_connect_schema(&avro).unwrap();
        assert_eq!(back_schema, schema);
        let decoder = compile(&avro, &avro.root, &back_schema).unwrap();
        let mut buf = &bytes[..];
        let decoded = decoder.decode(&mut buf).unwrap();
        assert!(buf.is_empty());
        // The null `level` was written as its default.
        let Value::Struct(d) = &decoded else { panic!() };
        assert_eq!(d.get_without_default("level"), Some(&Value::Int32(5)));
        let Value::Struct(orig) = &value else {
            panic!()
        };
        for f in [
            "id", "small", "price", "tags", "counts", "attrs", "home", "email",
        ] {
            assert_eq!(d.get(f), orig.get(f), "{f}");
        }
    }

    #[test]
    fn errors_name_the_field() {
        let schema = SchemaBuilder::struct_()
            .name("x.R")
            .field(
                "inner",
                SchemaBuilder::struct_()
                    .name("x.I")
                    .field("n", Schema::int32())
                    .build(),
            )
            .build();
        let node = node_for(&schema);
        let inner = Struct::new(schema.field("inner").unwrap().schema.clone());
        let mut s = Struct::new(schema.clone());
        s.put_unchecked(0, Value::Struct(inner));
        let e = node.encode(&Value::Struct(s), &mut Vec::new()).unwrap_err();
        assert_eq!(
            e.describe(),
            "field inner.n: expected an int, got null (the field is not optional)"
        );
        // Truncated data.
        let e = node.decode(&mut &[0x80u8][..]).unwrap_err();
        assert!(
            e.describe().starts_with("field inner.n:"),
            "{}",
            e.describe()
        );
    }

    #[test]
    fn unions_and_enums_from_other_writers() {
        let avro = parse(
            r#"{"type":"record","name":"R","fields":[
                {"name":"either","type":["null","int","string"]},
                {"name":"kind","type":{"type":"enum","name":"K","symbols":["A","B"]}}
            ]}"#,
            &[],
        )
        .unwrap();
        let connect = to_connect_schema(&avro).unwrap();
        let node = compile(&avro, &avro.root, &connect).unwrap();
        // either = "hi" (branch 2), kind = B (1)
        let bytes = [4u8, 4, b'h', b'i', 2];
        let v = node.decode(&mut &bytes[..]).unwrap();
        let Value::Struct(s) = &v else { panic!() };
        let Value::Struct(either) = s.get("either").unwrap() else {
            panic!()
        };
        assert_eq!(either.get("string"), Some(&Value::String("hi".into())));
        assert_eq!(s.get("kind"), Some(&Value::String("B".into())));
        let mut out = Vec::new();
        node.encode(&v, &mut out).unwrap();
        assert_eq!(out, bytes);
    }
}
