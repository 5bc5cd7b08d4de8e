//! The mapping between Connect schemas and Avro schemas, as Confluent's `AvroData` does it:
//! `connect.name`, `connect.version`, `connect.doc`, `connect.parameters`, `connect.default`
//! and `connect.type` (int8, int16) keep what Avro cannot say; logical types (Decimal with
//! precision and scale, Date, Time, Timestamp) map to Avro's; optional schemas are unions
//! with null (null first, or second when there is a non-null default); maps with non-string
//! keys are arrays of `io.confluent.connect.avro.MapEntry` records; unnamed structs are
//! `io.confluent.connect.avro.ConnectDefault`, `ConnectDefault2`, ...

use std::collections::HashMap;

use serde_json::{json, Map, Value as Json};

use super::schema::{AvroSchema, AvroSchemas, AvroType, NamedKind};
use crate::data::{logical, Schema, SchemaBuilder, SchemaRef, SchemaType, Struct, Value};

pub const NAMESPACE: &str = "io.confluent.connect.avro";
pub const DEFAULT_SCHEMA_NAME: &str = "ConnectDefault";
pub const MAP_ENTRY: &str = "MapEntry";
pub const UNION: &str = "io.confluent.connect.avro.Union";
pub const ENUM: &str = "io.confluent.connect.avro.Enum";
const CONNECT_NAME: &str = "connect.name";
const CONNECT_DOC: &str = "connect.doc";
const CONNECT_VERSION: &str = "connect.version";
const CONNECT_DEFAULT: &str = "connect.default";
const CONNECT_PARAMETERS: &str = "connect.parameters";
const CONNECT_TYPE: &str = "connect.type";
const CONNECT_INTERNAL_TYPE: &str = "connect.internal.type";
pub const DECIMAL_PRECISION: &str = "connect.decimal.precision";
const FIXED_SIZE: &str = "connect.fixed.size";
/// Confluent's precision for a Decimal without `connect.decimal.precision`.
const DEFAULT_PRECISION: i64 = 64;

// ---------------------------------------------------------------- Connect -> Avro

/// The Avro schema (JSON) for a Connect schema.
pub fn from_connect_schema(schema: &Schema) -> Result<Json, String> {
    let mut ctx = FromConnect::default();
    ctx.schema(schema, false)
}

#[derive(Default)]
struct FromConnect {
    default_names: usize,
    /// Named types already written, by full name: later uses are by name.
    defined: HashMap<String, Schema>,
}

fn split_name(name: &str) -> (Option<&str>, &str) {
    match name.rsplit_once('.') {
        Some((ns, n)) => (Some(ns), n),
        None => (None, name),
    }
}

impl FromConnect {
    fn name_or_default(&mut self, name: Option<&str>) -> (Option<String>, String) {
        match name {
            Some(n) => {
                let (ns, simple) = split_name(n);
                (ns.map(String::from), simple.to_string())
            }
            None => {
                self.default_names += 1;
                let suffix = if self.default_names > 1 {
                    self.default_names.to_string()
                } else {
                    String::new()
                };
                (
                    Some(NAMESPACE.to_string()),
                    format!("{DEFAULT_SCHEMA_NAME}{suffix}"),
                )
            }
        }
    }

    /// A named type's JSON, or its name when it was written before.
    fn named(
        &mut self,
        schema: &Schema,
        namespace: Option<String>,
        name: String,
        body: impl FnOnce(&mut Self) -> Result<Map<String, Json>, String>,
    ) -> Result<Json, String> {
        let full = match &namespace {
            Some(ns) => format!("{ns}.{name}"),
            None => name.clone(),
        };
        if let Some(previous) = self.defined.get(&full) {
            let mut mine = schema.clone();
            mine.optional = false;
            if *previous == mine {
                return Ok(json!(full));
            }
            return Err(format!(
                "two different schemas are both named {full}; Avro needs distinct names"
            ));
        }
        let mut plain = schema.clone();
        plain.optional = false;
        self.defined.insert(full, plain);
        let mut obj = body(self)?;
        obj.insert("name".into(), json!(name));
        if let Some(ns) = namespace {
            obj.insert("namespace".into(), json!(ns));
        }
        Ok(Json::Object(obj))
    }

    fn schema(&mut self, schema: &Schema, ignore_optional: bool) -> Result<Json, String> {
        let mut connect_type = None;
        let base = match schema.schema_type {
            SchemaType::Int8 => {
                connect_type = Some("int8");
                json!({"type": "int"})
            }
            SchemaType::Int16 => {
                connect_type = Some("int16");
                json!({"type": "int"})
            }
            SchemaType::Int32 => json!({"type": "int"}),
            SchemaType::Int64 => json!({"type": "long"}),
            SchemaType::Float32 => json!({"type": "float"}),
            SchemaType::Float64 => json!({"type": "double"}),
            SchemaType::Boolean => json!({"type": "boolean"}),
            SchemaType::String => json!({"type": "string"}),
            SchemaType::Bytes => {
                let fixed = schema
                    .parameters
                    .get(FIXED_SIZE)
                    .and_then(|s| s.parse::<u64>().ok());
                let mut base = match fixed {
                    Some(size) => {
                        let (ns, name) = self.name_or_default(schema.name.as_deref());
                        self.named(schema, ns, name, |_| {
                            Ok(json!({"type": "fixed", "size": size})
                                .as_object()
                                .cloned()
                                .unwrap_or_default())
                        })?
                    }
                    None => json!({"type": "bytes"}),
                };
                if schema.is_logical(logical::DECIMAL) {
                    let scale: i64 = schema
                        .parameters
                        .get(logical::DECIMAL_SCALE)
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    let precision: i64 = schema
                        .parameters
                        .get(DECIMAL_PRECISION)
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(DEFAULT_PRECISION);
                    if let Some(obj) = base.as_object_mut() {
                        obj.insert("scale".into(), json!(scale));
                        obj.insert("precision".into(), json!(precision));
                        if scale >= 0 && scale <= precision {
                            obj.insert("logicalType".into(), json!("decimal"));
                        }
                    }
                }
                base
            }
            SchemaType::Array => {
                let items = schema
                    .value_schema
                    .as_ref()
                    .ok_or("an array schema has no item schema")?;
                json!({"type": "array", "items": self.schema(items, false)?})
            }
            SchemaType::Map => {
                let keys = schema
                    .key_schema
                    .as_ref()
                    .ok_or("a map schema has no key schema")?;
                let values = schema
                    .value_schema
                    .as_ref()
                    .ok_or("a map schema has no value schema")?;
                if keys.schema_type == SchemaType::String && !keys.optional {
                    json!({"type": "map", "values": self.schema(values, false)?})
                } else {
                    let (ns, name, internal) = match &schema.name {
                        None => (Some(NAMESPACE.to_string()), MAP_ENTRY.to_string(), false),
                        Some(n) => {
                            let (ns, name) = self.name_or_default(Some(n));
                            (ns, name, true)
                        }
                    };
                    let entry = self.named(schema, ns, name, |ctx| {
                        let mut obj = Map::new();
                        obj.insert("type".into(), json!("record"));
                        obj.insert(
                            "fields".into(),
                            json!([
                                ctx.field("key", keys, None)?,
                                ctx.field("value", values, None)?
                            ]),
                        );
                        if internal {
                            obj.insert(CONNECT_INTERNAL_TYPE.into(), json!(MAP_ENTRY));
                        }
                        Ok(obj)
                    })?;
                    json!({"type": "array", "items": entry})
                }
            }
            SchemaType::Struct => {
                if schema.name.as_deref() == Some(UNION) {
                    let mut branches = Vec::new();
                    if schema.optional {
                        branches.push(json!("null"));
                    }
                    for f in &schema.fields {
                        let mut inner = (*f.schema).clone();
                        inner.optional = false;
                        branches.push(self.schema(&inner, true)?);
                    }
                    return Ok(Json::Array(branches));
                }
                let (ns, name) = self.name_or_default(schema.name.as_deref());
                let doc = schema
                    .parameters
                    .get("io.confluent.connect.avro.record.doc")
                    .cloned();
                self.named(schema, ns, name, |ctx| {
                    let mut obj = Map::new();
                    obj.insert("type".into(), json!("record"));
                    if let Some(d) = doc {
                        obj.insert("doc".into(), json!(d));
                    }
                    let mut fields = Vec::new();
                    for f in &schema.fields {
                        let doc = schema
                            .parameters
                            .get(&format!("io.confluent.connect.avro.field.doc.{}", f.name))
                            .map(String::as_str);
                        fields.push(ctx.field(&f.name, &f.schema, doc)?);
                    }
                    obj.insert("fields".into(), Json::Array(fields));
                    Ok(obj)
                })?
            }
        };
        // A name for a named type means it was written before: nothing to add.
        let mut base = base;
        if let Some(obj) = base.as_object_mut() {
            if let Some(doc) = &schema.doc {
                obj.insert(CONNECT_DOC.into(), json!(doc));
            }
            if let Some(v) = schema.version {
                obj.insert(CONNECT_VERSION.into(), json!(v));
            }
            if !schema.parameters.is_empty() {
                obj.insert(CONNECT_PARAMETERS.into(), json!(schema.parameters));
            }
            if let Some(d) = &schema.default {
                obj.insert(CONNECT_DEFAULT.into(), default_to_json(schema, d)?);
            }
            if let Some(n) = &schema.name {
                obj.insert(CONNECT_NAME.into(), json!(n));
            }
            if let Some(t) = connect_type {
                obj.insert(CONNECT_TYPE.into(), json!(t));
            }
            match schema.name.as_deref() {
                Some(logical::TIME) => {
                    obj.insert("logicalType".into(), json!("time-millis"));
                }
                Some(logical::TIMESTAMP) => {
                    obj.insert("logicalType".into(), json!("timestamp-millis"));
                }
                Some(logical::DATE) => {
                    obj.insert("logicalType".into(), json!("date"));
                }
                _ => {}
            }
            // A lone primitive type is written as its name.
            if obj.len() == 1 {
                if let Some(t) = obj.get("type").and_then(|t| t.as_str()) {
                    base = json!(t);
                }
            }
        }
        if ignore_optional || !schema.optional {
            return Ok(base);
        }
        Ok(if schema.default.is_some() {
            json!([base, "null"])
        } else {
            json!(["null", base])
        })
    }

    fn field(&mut self, name: &str, schema: &Schema, doc: Option<&str>) -> Result<Json, String> {
        let mut obj = Map::new();
        obj.insert("name".into(), json!(name));
        obj.insert("type".into(), self.schema(schema, false)?);
        if let Some(d) = doc {
            obj.insert("doc".into(), json!(d));
        }
        match &schema.default {
            Some(d) => {
                obj.insert("default".into(), default_to_json(schema, d)?);
            }
            None if schema.optional => {
                obj.insert("default".into(), Json::Null);
            }
            None => {}
        }
        Ok(Json::Object(obj))
    }
}

/// Avro's JSON form of a default value (bytes as ISO-8859-1 strings).
pub fn default_to_json(schema: &Schema, value: &Value) -> Result<Json, String> {
    Ok(match value {
        Value::Null => Json::Null,
        Value::Boolean(b) => json!(b),
        Value::Int8(v) => json!(v),
        Value::Int16(v) => json!(v),
        Value::Int32(v) => json!(v),
        Value::Int64(v) => json!(v),
        Value::Float32(v) => json!(v),
        Value::Float64(v) => json!(v),
        Value::String(s) => json!(s),
        Value::Bytes(b) => json!(b.iter().map(|c| *c as char).collect::<String>()),
        Value::Array(items) => {
            let item_schema = schema.value_schema.as_deref();
            Json::Array(
                items
                    .iter()
                    .map(|i| match item_schema {
                        Some(s) => default_to_json(s, i),
                        None => Ok(Json::Null),
                    })
                    .collect::<Result<_, _>>()?,
            )
        }
        Value::Map(entries) => {
            let vs = schema.value_schema.as_deref();
            let ks = schema.key_schema.as_deref();
            if ks.is_some_and(|k| k.schema_type == SchemaType::String) {
                let mut m = Map::new();
                for (k, v) in entries {
                    let v = match vs {
                        Some(s) => default_to_json(s, v)?,
                        None => Json::Null,
                    };
                    m.insert(k.as_str().unwrap_or_default().to_string(), v);
                }
                Json::Object(m)
            } else {
                let mut out = Vec::new();
                for (k, v) in entries {
                    out.push(json!({
                        "key": ks.map(|s| default_to_json(s, k)).transpose()?,
                        "value": vs.map(|s| default_to_json(s, v)).transpose()?,
                    }));
                }
                Json::Array(out)
            }
        }
        Value::Struct(s) => {
            let mut m = Map::new();
            for f in &s.schema().fields {
                let v = s.get_without_default(&f.name).cloned().unwrap_or_default();
                m.insert(f.name.clone(), default_to_json(&f.schema, &v)?);
            }
            Json::Object(m)
        }
    })
}

// ---------------------------------------------------------------- Avro -> Connect

/// The Connect schema for an Avro schema.
pub fn to_connect_schema(schemas: &AvroSchemas) -> Result<SchemaRef, String> {
    let mut ctx = ToConnect {
        schemas,
        visiting: Vec::new(),
        cache: HashMap::new(),
    };
    ctx.schema(&schemas.root, false, None)
}

/// The Connect schema for one node of a parsed Avro schema.
pub fn to_connect_schema_of(schemas: &AvroSchemas, node: &AvroSchema) -> Result<SchemaRef, String> {
    let mut ctx = ToConnect {
        schemas,
        visiting: Vec::new(),
        cache: HashMap::new(),
    };
    ctx.schema(node, false, None)
}

struct ToConnect<'a> {
    schemas: &'a AvroSchemas,
    visiting: Vec<usize>,
    /// Required schemas of named types, converted once.
    cache: HashMap<usize, SchemaRef>,
}

/// The name Confluent gives a union branch's field.
pub fn union_member_name(schemas: &AvroSchemas, s: &AvroSchema) -> String {
    match &s.ty {
        AvroType::Null => "null".into(),
        AvroType::Boolean => "boolean".into(),
        AvroType::Int => "int".into(),
        AvroType::Long => "long".into(),
        AvroType::Float => "float".into(),
        AvroType::Double => "double".into(),
        AvroType::Bytes => "bytes".into(),
        AvroType::String => "string".into(),
        AvroType::Array(_) => "array".into(),
        AvroType::Map(_) => "map".into(),
        AvroType::Union(_) => "union".into(),
        AvroType::Named(i) => schemas.named(*i).simple_name().to_string(),
    }
}

/// Whether an array's items are Connect map entries (`MapEntry` records with key and value).
pub fn map_entry(schemas: &AvroSchemas, items: &AvroSchema) -> Option<(usize, usize)> {
    let AvroType::Named(i) = items.ty else {
        return None;
    };
    let named = schemas.named(i);
    let is_entry = named.full_name == format!("{NAMESPACE}.{MAP_ENTRY}")
        || named
            .props
            .get(CONNECT_INTERNAL_TYPE)
            .and_then(|v| v.as_str())
            == Some(MAP_ENTRY);
    let NamedKind::Record(fields) = &named.kind else {
        return None;
    };
    if !is_entry || fields.len() != 2 || fields[0].name != "key" || fields[1].name != "value" {
        return None;
    }
    Some((0, 1))
}

impl ToConnect<'_> {
    fn schema(
        &mut self,
        s: &AvroSchema,
        optional: bool,
        default: Option<&Json>,
    ) -> Result<SchemaRef, String> {
        let builder = match &s.ty {
            AvroType::Union(branches) => return self.union(branches, optional, default),
            AvroType::Null => {
                return Err("a null schema has no Connect equivalent outside a union".into())
            }
            AvroType::Boolean => SchemaBuilder::new(SchemaType::Boolean),
            AvroType::Int => match (s.prop_str(CONNECT_TYPE), s.logical_type()) {
                (Some("int8"), _) => SchemaBuilder::new(SchemaType::Int8),
                (Some("int16"), _) => SchemaBuilder::new(SchemaType::Int16),
                (_, Some("date")) => crate::data::logical_schemas::date(),
                (_, Some("time-millis")) => crate::data::logical_schemas::time(),
                _ => SchemaBuilder::new(SchemaType::Int32),
            },
            AvroType::Long => match s.logical_type() {
                Some("timestamp-millis") => crate::data::logical_schemas::timestamp(),
                _ => SchemaBuilder::new(SchemaType::Int64),
            },
            AvroType::Float => SchemaBuilder::new(SchemaType::Float32),
            AvroType::Double => SchemaBuilder::new(SchemaType::Float64),
            AvroType::String => SchemaBuilder::new(SchemaType::String),
            AvroType::Bytes => decimal_or(s, SchemaBuilder::new(SchemaType::Bytes)),
            AvroType::Array(items) => match map_entry(self.schemas, items) {
                Some(_) => {
                    let AvroType::Named(i) = items.ty else {
                        unreachable!()
                    };
                    let NamedKind::Record(fields) = &self.schemas.named(i).kind else {
                        unreachable!()
                    };
                    let k = self.field_schema(&fields[0].schema, fields[0].default.as_ref())?;
                    let v = self.field_schema(&fields[1].schema, fields[1].default.as_ref())?;
                    let mut b = SchemaBuilder::map(k, v);
                    let named = self.schemas.named(i);
                    if named.props.get(CONNECT_INTERNAL_TYPE).is_some() {
                        b = b.name(named.full_name.clone());
                    }
                    b
                }
                None => SchemaBuilder::array(self.schema(items, false, None)?),
            },
            AvroType::Map(values) => {
                SchemaBuilder::map(Schema::string(), self.schema(values, false, None)?)
            }
            AvroType::Named(i) => return self.named(*i, s, optional, default),
        };
        Ok(finish(builder, &s.props, optional, default, s))
    }

    fn field_schema(
        &mut self,
        s: &AvroSchema,
        default: Option<&Json>,
    ) -> Result<SchemaRef, String> {
        self.schema(s, false, default)
    }

    fn named(
        &mut self,
        index: usize,
        reference: &AvroSchema,
        optional: bool,
        default: Option<&Json>,
    ) -> Result<SchemaRef, String> {
        let named = self.schemas.named(index).clone();
        if !optional && default.is_none() && reference.props.is_empty() {
            if let Some(s) = self.cache.get(&index) {
                return Ok(s.clone());
            }
        }
        if self.visiting.contains(&index) {
            return Err(format!(
                "the Avro schema {} is recursive; Connect schemas cannot be",
                named.full_name
            ));
        }
        self.visiting.push(index);
        let builder = match &named.kind {
            NamedKind::Record(fields) => {
                let mut b = SchemaBuilder::struct_().name(named.full_name.clone());
                if let Some(doc) = &named.doc {
                    b = b.doc(doc.clone());
                }
                for f in fields {
                    let fs = self.field_schema(&f.schema, f.default.as_ref())?;
                    b = b.field(f.name.clone(), fs);
                }
                b
            }
            NamedKind::Enum { symbols, .. } => {
                let mut b = SchemaBuilder::new(SchemaType::String)
                    .name(named.full_name.clone())
                    .parameter(ENUM, named.full_name.clone());
                for sym in symbols {
                    b = b.parameter(format!("{ENUM}.{sym}"), sym.clone());
                }
                b
            }
            NamedKind::Fixed(size) => {
                let probe = AvroSchema {
                    ty: AvroType::Bytes,
                    props: named.props.clone(),
                };
                let b = decimal_or(
                    &probe,
                    SchemaBuilder::new(SchemaType::Bytes)
                        .name(named.full_name.clone())
                        .parameter(FIXED_SIZE, size.to_string()),
                );
                if b.clone().build().is_logical(logical::DECIMAL) {
                    b.parameter(FIXED_SIZE, size.to_string())
                } else {
                    b
                }
            }
        };
        self.visiting.pop();
        let mut props = named.props.clone();
        props.extend(reference.props.clone());
        let out = finish(builder, &props, optional, default, reference);
        if !optional && default.is_none() && reference.props.is_empty() {
            self.cache.insert(index, out.clone());
        }
        Ok(out)
    }

    fn union(
        &mut self,
        branches: &[AvroSchema],
        optional: bool,
        default: Option<&Json>,
    ) -> Result<SchemaRef, String> {
        let has_null = branches.iter().any(|b| b.ty == AvroType::Null);
        let others: Vec<&AvroSchema> = branches.iter().filter(|b| b.ty != AvroType::Null).collect();
        match others.as_slice() {
            [] => Err("a union of null alone has no Connect equivalent".into()),
            [one] => {
                let default = default.filter(|d| !d.is_null());
                self.schema(one, optional || has_null, default)
            }
            many => {
                let mut b = SchemaBuilder::struct_().name(UNION);
                for branch in many {
                    let name = union_member_name(self.schemas, branch);
                    let fs = self.schema(branch, true, None)?;
                    b = b.field(name, fs);
                }
                if optional || has_null {
                    b = b.optional();
                }
                Ok(b.build())
            }
        }
    }
}

/// A Decimal when the schema says `logicalType: decimal` (or Connect's own name), else `b`.
fn decimal_or(s: &AvroSchema, b: SchemaBuilder) -> SchemaBuilder {
    let decimal =
        s.logical_type() == Some("decimal") || s.prop_str(CONNECT_NAME) == Some(logical::DECIMAL);
    if !decimal {
        return b;
    }
    let scale = s.props.get("scale").and_then(|v| v.as_i64()).unwrap_or(0);
    let d = crate::data::logical_schemas::decimal(scale as i32);
    // Confluent's default precision is left implicit, so Connect schemas round-trip.
    match s.props.get("precision").and_then(|v| v.as_i64()) {
        Some(p) if p != DEFAULT_PRECISION => d.parameter(DECIMAL_PRECISION, p.to_string()),
        _ => d,
    }
}

/// Applies `connect.*` attributes, optionality and a default.
fn finish(
    mut b: SchemaBuilder,
    props: &Map<String, Json>,
    optional: bool,
    default: Option<&Json>,
    _at: &AvroSchema,
) -> SchemaRef {
    if let Some(n) = props.get(CONNECT_NAME).and_then(|v| v.as_str()) {
        b = b.name(n);
    }
    if let Some(v) = props.get(CONNECT_VERSION).and_then(|v| v.as_i64()) {
        b = b.version(v as i32);
    }
    if let Some(d) = props.get(CONNECT_DOC).and_then(|v| v.as_str()) {
        b = b.doc(d);
    }
    if let Some(Json::Object(params)) = props.get(CONNECT_PARAMETERS) {
        for (k, v) in params {
            if let Some(v) = v.as_str() {
                b = b.parameter(k.clone(), v.to_string());
            }
        }
    }
    if optional {
        b = b.optional();
    }
    let default = default.or_else(|| props.get(CONNECT_DEFAULT));
    if let Some(d) = default.filter(|d| !d.is_null()) {
        let probe = b.clone().build();
        if let Some(v) = json_to_value(&probe, d) {
            b = b.default_value(v);
        }
    }
    b.build()
}

/// A default value (Avro's JSON form) as a Connect value of `schema`, when it fits.
pub fn json_to_value(schema: &Schema, json: &Json) -> Option<Value> {
    if json.is_null() {
        return Some(Value::Null);
    }
    Some(match schema.schema_type {
        SchemaType::Boolean => Value::Boolean(json.as_bool()?),
        SchemaType::Int8 => Value::Int8(i8::try_from(json.as_i64()?).ok()?),
        SchemaType::Int16 => Value::Int16(i16::try_from(json.as_i64()?).ok()?),
        SchemaType::Int32 => Value::Int32(i32::try_from(json.as_i64()?).ok()?),
        SchemaType::Int64 => Value::Int64(json.as_i64()?),
        SchemaType::Float32 => Value::Float32(json.as_f64()? as f32),
        SchemaType::Float64 => Value::Float64(json.as_f64()?),
        SchemaType::String => Value::String(json.as_str()?.to_string()),
        SchemaType::Bytes => match json {
            Json::String(s) => Value::Bytes(s.chars().map(|c| c as u32 as u8).collect()),
            _ => return None,
        },
        SchemaType::Array => {
            let items = schema.value_schema.as_deref()?;
            Value::Array(
                json.as_array()?
                    .iter()
                    .map(|i| json_to_value(items, i))
                    .collect::<Option<_>>()?,
            )
        }
        SchemaType::Map => {
            let ks = schema.key_schema.as_deref()?;
            let vs = schema.value_schema.as_deref()?;
            match json {
                Json::Object(m) => Value::Map(
                    m.iter()
                        .map(|(k, v)| Some((Value::String(k.clone()), json_to_value(vs, v)?)))
                        .collect::<Option<_>>()?,
                ),
                Json::Array(entries) => Value::Map(
                    entries
                        .iter()
                        .map(|e| {
                            Some((
                                json_to_value(ks, e.get("key")?)?,
                                json_to_value(vs, e.get("value")?)?,
                            ))
                        })
                        .collect::<Option<_>>()?,
                ),
                _ => return None,
            }
        }
        SchemaType::Struct => {
            let obj = json.as_object()?;
            let mut plain = schema.clone();
            plain.default = None;
            let mut st = Struct::new(std::sync::Arc::new(plain));
            for f in &schema.fields {
                let v = match obj.get(&f.name) {
                    Some(j) => json_to_value(&f.schema, j)?,
                    None => Value::Null,
                };
                st.put_unchecked(f.index, v);
            }
            Value::Struct(st)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::avro::schema::parse;
    use crate::data::logical_schemas;

    fn round_trip(schema: &SchemaRef) -> (Json, SchemaRef) {
        let avro = from_connect_schema(schema).unwrap();
        let parsed = parse(&avro.to_string(), &[]).unwrap();
        (avro, to_connect_schema(&parsed).unwrap())
    }

    #[test]
    fn primitives_keep_their_connect_types() {
        for s in [
            Schema::int8(),
            Schema::int16(),
            Schema::int32(),
            Schema::int64(),
            Schema::float32(),
            Schema::float64(),
            Schema::boolean(),
            Schema::string(),
            Schema::bytes(),
            Schema::optional_string(),
        ] {
            let (_, back) = round_trip(&s);
            assert_eq!(back, s, "{s:?}");
        }
        assert_eq!(from_connect_schema(&Schema::int32()).unwrap(), json!("int"));
        assert_eq!(
            from_connect_schema(&Schema::int8()).unwrap(),
            json!({"type":"int","connect.type":"int8"})
        );
        assert_eq!(
            from_connect_schema(&Schema::optional_string()).unwrap(),
            json!(["null", "string"])
        );
    }

    #[test]
    fn logical_types_and_decimals() {
        let dec = logical_schemas::decimal(2)
            .parameter(DECIMAL_PRECISION, "10")
            .build();
        let avro = from_connect_schema(&dec).unwrap();
        assert_eq!(avro["logicalType"], "decimal");
        assert_eq!(avro["precision"], 10);
        assert_eq!(avro["scale"], 2);
        assert_eq!(avro["connect.name"], logical::DECIMAL);
        let (_, back) = round_trip(&dec);
        assert_eq!(back, dec);
        // A plain Avro decimal (from another tool) becomes a Connect Decimal.
        let theirs = parse(
            r#"{"type":"bytes","logicalType":"decimal","precision":5,"scale":3}"#,
            &[],
        )
        .unwrap();
        let c = to_connect_schema(&theirs).unwrap();
        assert!(c.is_logical(logical::DECIMAL));
        assert_eq!(c.parameters["scale"], "3");
        assert_eq!(c.parameters[DECIMAL_PRECISION], "5");
        for s in [
            logical_schemas::date().build(),
            logical_schemas::time().build(),
            logical_schemas::timestamp().optional().build(),
        ] {
            let (_, back) = round_trip(&s);
            assert_eq!(back, s);
        }
        let ts = parse(r#"{"type":"long","logicalType":"timestamp-millis"}"#, &[]).unwrap();
        assert!(to_connect_schema(&ts)
            .unwrap()
            .is_logical(logical::TIMESTAMP));
    }

    #[test]
    fn structs_optional_fields_defaults_and_names() {
        let address = SchemaBuilder::struct_()
            .name("com.example.Address")
            .field("city", Schema::string())
            .build();
        let s = SchemaBuilder::struct_()
            .name("com.example.User")
            .version(3)
            .doc("a user")
            .field("id", Schema::int64())
            .field("email", Schema::optional_string())
            .field(
                "level",
                SchemaBuilder::new(SchemaType::Int32)
                    .optional()
                    .default_value(Value::Int32(5))
                    .build(),
            )
            .field("home", address.clone())
            .field("work", {
                let mut a = (*address).clone();
                a.optional = true;
                std::sync::Arc::new(a)
            })
            .build();
        let (avro, back) = round_trip(&s);
        assert_eq!(avro["name"], "User");
        assert_eq!(avro["namespace"], "com.example");
        assert_eq!(avro["connect.version"], 3);
        assert_eq!(avro["connect.doc"], "a user");
        assert_eq!(avro["connect.name"], "com.example.User");
        let fields = avro["fields"].as_array().unwrap();
        assert_eq!(fields[1]["type"], json!(["null", "string"]));
        assert_eq!(fields[1]["default"], Json::Null);
        // Confluent keeps the Connect default in the type too.
        assert_eq!(
            fields[2]["type"],
            json!([{"type": "int", "connect.default": 5}, "null"])
        );
        assert_eq!(fields[2]["default"], 5);
        // The second use of Address is by name.
        assert_eq!(fields[4]["type"], json!(["null", "com.example.Address"]));
        assert_eq!(back, s);
    }

    #[test]
    fn unnamed_structs_and_non_string_map_keys() {
        let inner = SchemaBuilder::struct_().field("a", Schema::int32()).build();
        let outer = SchemaBuilder::struct_()
            .field("inner", inner)
            .field(
                "counts",
                SchemaBuilder::map(Schema::int32(), Schema::string()).build(),
            )
            .field(
                "tags",
                SchemaBuilder::map(Schema::string(), Schema::int64()).build(),
            )
            .build();
        let avro = from_connect_schema(&outer).unwrap();
        assert_eq!(avro["name"], "ConnectDefault");
        assert_eq!(avro["namespace"], NAMESPACE);
        assert_eq!(avro["fields"][0]["type"]["name"], "ConnectDefault2");
        assert_eq!(avro["fields"][1]["type"]["type"], "array");
        assert_eq!(avro["fields"][1]["type"]["items"]["name"], MAP_ENTRY);
        assert_eq!(avro["fields"][2]["type"]["type"], "map");
        let back = to_connect_schema(&parse(&avro.to_string(), &[]).unwrap()).unwrap();
        let counts = &back.field("counts").unwrap().schema;
        assert_eq!(counts.schema_type, SchemaType::Map);
        assert_eq!(
            counts.key_schema.as_ref().unwrap().schema_type,
            SchemaType::Int32
        );
    }

    #[test]
    fn avro_only_types() {
        let s = parse(
            r#"{"type":"record","name":"R","fields":[
                {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["A","B"]}},
                {"name":"hash","type":{"type":"fixed","name":"Hash","size":4}},
                {"name":"either","type":["null","int","string"],"default":null},
                {"name":"self","type":["null","R"],"default":null}
            ]}"#,
            &[],
        )
        .unwrap();
        let e = to_connect_schema(&s).unwrap_err();
        assert!(e.contains("recursive"), "{e}");
        let s = parse(
            r#"{"type":"record","name":"R","fields":[
                {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["A","B"]}},
                {"name":"hash","type":{"type":"fixed","name":"Hash","size":4}},
                {"name":"either","type":["null","int","string"],"default":null}
            ]}"#,
            &[],
        )
        .unwrap();
        let c = to_connect_schema(&s).unwrap();
        let kind = &c.field("kind").unwrap().schema;
        assert_eq!(kind.schema_type, SchemaType::String);
        assert_eq!(kind.parameters[&format!("{ENUM}.B")], "B");
        let hash = &c.field("hash").unwrap().schema;
        assert_eq!(hash.parameters[FIXED_SIZE], "4");
        let either = &c.field("either").unwrap().schema;
        assert_eq!(either.name.as_deref(), Some(UNION));
        assert!(either.optional);
        assert_eq!(either.fields.len(), 2);
        assert_eq!(either.fields[1].name, "string");
        // Back to Avro: a union and a fixed again.
        let avro = from_connect_schema(&c).unwrap();
        assert_eq!(avro["fields"][2]["type"], json!(["null", "int", "string"]));
        assert_eq!(avro["fields"][1]["type"]["type"], "fixed");
    }
}
