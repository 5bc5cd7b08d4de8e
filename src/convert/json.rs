//! `org.apache.kafka.connect.json.JsonConverter`: JSON with or without the
//! `{"schema":…,"payload":…}` envelope, byte-compatible with Kafka Connect's output.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use parking_lot::Mutex;
use serde::ser::{Error as _, SerializeMap, SerializeSeq};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value as Json;

use super::json_payload::PayloadSeed;
use super::{bool_setting, Converter, HeaderConverter, SchemaAndValue};
use crate::config::ConfigMap;
use crate::data::{logical, Header, Schema, SchemaBuilder, SchemaRef, SchemaType, Struct, Value};
use crate::errors::ConnectError;

/// How Decimal values are written (`decimal.format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecimalFormat {
    /// Base64 of the unscaled big-endian bytes (Connect's default).
    Base64,
    /// A JSON number.
    Numeric,
}

/// Parsed envelope schemas by their JSON text (`schemas.cache.size`): records of a topic
/// carry the same schema over and over, and parsing it dominates conversion otherwise.
#[derive(Debug, Default)]
struct SchemaCache {
    capacity: usize,
    last: Mutex<Option<(Box<str>, SchemaRef)>>,
    by_text: Mutex<HashMap<Box<str>, SchemaRef>>,
}

impl SchemaCache {
    fn new(capacity: usize) -> Self {
        SchemaCache {
            capacity,
            ..Default::default()
        }
    }

    fn get_or_parse(&self, text: &str) -> Result<SchemaRef, ConnectError> {
        if let Some((t, s)) = &*self.last.lock() {
            if &**t == text {
                return Ok(s.clone());
            }
        }
        let cached = self.by_text.lock().get(text).cloned();
        let schema = match cached {
            Some(s) => s,
            None => {
                let json: Json = serde_json::from_str(text)?;
                let schema = json_to_schema(&json)?;
                if self.capacity > 0 {
                    let mut map = self.by_text.lock();
                    if map.len() >= self.capacity {
                        map.clear();
                    }
                    map.insert(text.into(), schema.clone());
                }
                schema
            }
        };
        *self.last.lock() = Some((text.into(), schema.clone()));
        Ok(schema)
    }
}

/// Envelope schemas already written, by the schema's address: a source's records share a
/// few `SchemaRef`s, and writing a large schema again for each record (a change event's
/// envelope schema is most of its bytes) would dominate conversion. An entry holds its
/// schema, so the address cannot be reused by another schema while it is cached.
#[derive(Debug, Default)]
struct WrittenSchemas {
    capacity: usize,
    last: Mutex<Option<Written>>,
    by_address: Mutex<HashMap<usize, Written>>,
}

/// A schema and its JSON text.
type Written = (SchemaRef, Arc<[u8]>);

impl WrittenSchemas {
    fn new(capacity: usize) -> Self {
        WrittenSchemas {
            capacity,
            ..Default::default()
        }
    }

    fn get_or_write(
        &self,
        conv: &JsonConverter,
        schema: &SchemaRef,
    ) -> Result<Arc<[u8]>, serde_json::Error> {
        if let Some((s, text)) = &*self.last.lock() {
            if Arc::ptr_eq(s, schema) {
                return Ok(text.clone());
            }
        }
        let address = Arc::as_ptr(schema) as usize;
        let cached = self.by_address.lock().get(&address).map(|(_, t)| t.clone());
        let text = match cached {
            Some(t) => t,
            None => {
                let text: Arc<[u8]> = serde_json::to_vec(&JsonSchema { conv, schema })?.into();
                if self.capacity > 0 {
                    let mut map = self.by_address.lock();
                    if map.len() >= self.capacity {
                        map.clear();
                    }
                    map.insert(address, (schema.clone(), text.clone()));
                }
                text
            }
        };
        *self.last.lock() = Some((schema.clone(), text.clone()));
        Ok(text)
    }
}

/// The envelope, with schema and payload left as text until needed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvelope<'a> {
    #[serde(borrow)]
    schema: &'a RawValue,
    #[serde(borrow)]
    payload: &'a RawValue,
}

/// Kafka Connect's JsonConverter.
#[derive(Clone, Debug)]
pub struct JsonConverter {
    schemas_enable: bool,
    decimal_format: DecimalFormat,
    replace_null_with_default: bool,
    schema_cache: Arc<SchemaCache>,
    written_schemas: Arc<WrittenSchemas>,
}

/// Connect's default `schemas.cache.size`.
const DEFAULT_SCHEMA_CACHE_SIZE: usize = 1000;

impl Default for JsonConverter {
    fn default() -> Self {
        JsonConverter {
            schemas_enable: true,
            decimal_format: DecimalFormat::Base64,
            replace_null_with_default: true,
            schema_cache: Arc::new(SchemaCache::new(DEFAULT_SCHEMA_CACHE_SIZE)),
            written_schemas: Arc::new(WrittenSchemas::new(DEFAULT_SCHEMA_CACHE_SIZE)),
        }
    }
}

impl JsonConverter {
    /// Reads `schemas.enable`, `decimal.format` and `replace.null.with.default`.
    pub fn from_config(config: &ConfigMap) -> Result<Self, ConnectError> {
        let decimal_format = match config.get("decimal.format").map(|s| s.trim()) {
            None => DecimalFormat::Base64,
            Some(f) if f.eq_ignore_ascii_case("BASE64") => DecimalFormat::Base64,
            Some(f) if f.eq_ignore_ascii_case("NUMERIC") => DecimalFormat::Numeric,
            // Kafka's CaseInsensitiveValidString lists the values in its HashSet's order.
            Some(f) => {
                return Err(ConnectError::Config(format!(
                    "Invalid value {f} for configuration decimal.format: String must be one of (case insensitive): NUMERIC, BASE64"
                )))
            }
        };
        let cache_size = match config.get("schemas.cache.size") {
            None => DEFAULT_SCHEMA_CACHE_SIZE,
            Some(v) => v.trim().parse::<usize>().map_err(|_| {
                ConnectError::Config(format!(
                    "Invalid value {v} for configuration schemas.cache.size: Not a number of type INT"
                ))
            })?,
        };
        Ok(JsonConverter {
            schemas_enable: bool_setting(config, "schemas.enable", true)?,
            decimal_format,
            replace_null_with_default: bool_setting(config, "replace.null.with.default", true)?,
            schema_cache: Arc::new(SchemaCache::new(cache_size)),
            written_schemas: Arc::new(WrittenSchemas::new(cache_size)),
        })
    }

    /// A converter without the envelope (as internal topics use).
    pub fn schemaless() -> Self {
        JsonConverter {
            schemas_enable: false,
            ..Default::default()
        }
    }

    pub fn schemas_enabled(&self) -> bool {
        self.schemas_enable
    }

    /// Serializes to a writer (no allocation of an intermediate JSON tree).
    pub fn write(
        &self,
        out: &mut impl Write,
        schema: Option<&SchemaRef>,
        value: &Value,
    ) -> Result<(), ConnectError> {
        let payload = Payload {
            conv: self,
            schema: schema.map(|s| s.as_ref()),
            value,
        };
        let error = |e: serde_json::Error| {
            if e.is_io() {
                ConnectError::Io(e.to_string())
            } else {
                ConnectError::Data(format!("Converting Kafka Connect data to byte[] failed due to serialization error: {e}"))
            }
        };
        let io = |e: std::io::Error| ConnectError::Io(e.to_string());
        match (self.schemas_enable, schema) {
            // The same bytes as the Envelope's serialization, with the schema's text reused.
            (true, Some(s)) => {
                let text = self.written_schemas.get_or_write(self, s).map_err(error)?;
                out.write_all(b"{\"schema\":").map_err(io)?;
                out.write_all(&text).map_err(io)?;
                out.write_all(b",\"payload\":").map_err(io)?;
                serde_json::to_writer(&mut *out, &payload).map_err(error)?;
                out.write_all(b"}").map_err(io)
            }
            (true, None) => serde_json::to_writer(
                out,
                &Envelope {
                    schema: None,
                    payload,
                },
            )
            .map_err(error),
            (false, _) => serde_json::to_writer(out, &payload).map_err(error),
        }
    }

    /// The JSON for a schema, as it appears in the envelope.
    pub fn schema_to_json(&self, schema: &Schema) -> Json {
        serde_json::to_value(JsonSchema { conv: self, schema }).unwrap_or(Json::Null)
    }

    /// Converts already-parsed JSON to Connect data.
    pub fn json_to_connect(&self, json: Json) -> Result<SchemaAndValue, ConnectError> {
        if !self.schemas_enable {
            return Ok(SchemaAndValue::new(None, schemaless_to_connect(json)));
        }
        let Json::Object(mut obj) = json else {
            return Err(envelope_error());
        };
        if obj.len() != 2 || !obj.contains_key("schema") || !obj.contains_key("payload") {
            return Err(envelope_error());
        }
        let schema_json = obj.remove("schema").unwrap_or(Json::Null);
        let payload = obj.remove("payload").unwrap_or(Json::Null);
        if schema_json.is_null() {
            return Ok(SchemaAndValue::new(None, schemaless_to_connect(payload)));
        }
        let schema = json_to_schema(&schema_json)?;
        let value = self.to_connect_value(&schema, payload)?;
        Ok(SchemaAndValue::new(Some(schema), value))
    }

    /// Reads Kafka bytes as strict JSON.
    fn read(&self, data: &[u8]) -> Result<SchemaAndValue, ConnectError> {
        if self.schemas_enable {
            // Fast path: a well-formed envelope, its schema looked up by text.
            if let Ok(envelope) = serde_json::from_slice::<RawEnvelope>(data) {
                let schema = match envelope.schema.get() {
                    "null" => None,
                    text => Some(self.schema_cache.get_or_parse(text)?),
                };
                let value = self.read_payload(schema.as_ref(), envelope.payload.get())?;
                return Ok(SchemaAndValue::new(schema, value));
            }
        }
        // Everything else (schemaless data, or an error to report) goes through a full parse.
        let json: Json = match serde_json::from_slice(data) {
            Ok(json) => json,
            // Jackson reads nothing (no bytes, or only whitespace) as a missing node: a null
            // value without schemas, and no envelope with them.
            Err(_)
                if data
                    .iter()
                    .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) =>
            {
                if self.schemas_enable {
                    return Err(envelope_error());
                }
                return Ok(SchemaAndValue::default());
            }
            Err(e) => {
                return Err(ConnectError::Data(format!(
                    "Converting byte[] to Kafka Connect data failed due to serialization error: {e}"
                )))
            }
        };
        self.json_to_connect(json)
    }

    /// Reads payload text into a value, per the schema.
    fn read_payload(&self, schema: Option<&SchemaRef>, text: &str) -> Result<Value, ConnectError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let seed = PayloadSeed {
            schema,
            replace_null_with_default: self.replace_null_with_default,
        };
        serde::de::DeserializeSeed::deserialize(seed, &mut de)
            .map_err(|e| ConnectError::Data(e.to_string()))
    }

    fn to_connect_value(&self, schema: &SchemaRef, json: Json) -> Result<Value, ConnectError> {
        if json.is_null() {
            if let Some(d) = &schema.default {
                if self.replace_null_with_default {
                    return Ok(d.clone());
                }
            }
            if schema.optional {
                return Ok(Value::Null);
            }
            return Err(ConnectError::Data(format!(
                "Invalid null value for required {} field",
                schema.schema_type
            )));
        }
        let mismatch = |json: &Json| {
            ConnectError::Data(format!(
                "Invalid JSON for {} schema: {}",
                schema.schema_type,
                truncate(&json.to_string(), 100)
            ))
        };
        Ok(match schema.schema_type {
            SchemaType::Boolean => Value::Boolean(json.as_bool().ok_or_else(|| mismatch(&json))?),
            SchemaType::Int8 => Value::Int8(int_in_range(&json).ok_or_else(|| mismatch(&json))?),
            SchemaType::Int16 => Value::Int16(int_in_range(&json).ok_or_else(|| mismatch(&json))?),
            SchemaType::Int32 => Value::Int32(int_in_range(&json).ok_or_else(|| mismatch(&json))?),
            SchemaType::Int64 => Value::Int64(json.as_i64().ok_or_else(|| mismatch(&json))?),
            SchemaType::Float32 => {
                Value::Float32(json.as_f64().ok_or_else(|| mismatch(&json))? as f32)
            }
            SchemaType::Float64 => Value::Float64(json.as_f64().ok_or_else(|| mismatch(&json))?),
            SchemaType::String => match json {
                Json::String(s) => Value::String(s),
                other => return Err(mismatch(&other)),
            },
            SchemaType::Bytes => {
                if schema.is_logical(logical::DECIMAL) {
                    if let Some(n) = json.as_f64().filter(|_| json.is_number()) {
                        let scale = decimal_scale(schema);
                        return Ok(Value::Bytes(decimal_from_number(&json, n, scale)?));
                    }
                }
                match &json {
                    Json::String(s) => Value::Bytes(
                        BASE64
                            .decode(s)
                            .map_err(|e| ConnectError::Data(format!("Invalid bytes field: {e}")))?,
                    ),
                    other => return Err(mismatch(other)),
                }
            }
            SchemaType::Array => {
                let Json::Array(items) = json else {
                    return Err(mismatch(&json));
                };
                let item_schema = schema.value_schema.clone().ok_or_else(|| {
                    ConnectError::Data("Array schema did not specify the element type".into())
                })?;
                Value::Array(
                    items
                        .into_iter()
                        .map(|i| self.to_connect_value(&item_schema, i))
                        .collect::<Result<_, _>>()?,
                )
            }
            SchemaType::Map => {
                let ks = schema.key_schema.clone().ok_or_else(|| {
                    ConnectError::Data("Map schema did not specify the key type".into())
                })?;
                let vs = schema.value_schema.clone().ok_or_else(|| {
                    ConnectError::Data("Map schema did not specify the value type".into())
                })?;
                match json {
                    Json::Object(obj) if ks.schema_type == SchemaType::String => Value::Map(
                        obj.into_iter()
                            .map(|(k, v)| Ok((Value::String(k), self.to_connect_value(&vs, v)?)))
                            .collect::<Result<_, ConnectError>>()?,
                    ),
                    Json::Array(pairs) => Value::Map(
                        pairs
                            .into_iter()
                            .map(|pair| match pair {
                                Json::Array(mut kv) if kv.len() == 2 => {
                                    let v = kv.pop().unwrap_or(Json::Null);
                                    let k = kv.pop().unwrap_or(Json::Null);
                                    Ok((
                                        self.to_connect_value(&ks, k)?,
                                        self.to_connect_value(&vs, v)?,
                                    ))
                                }
                                other => Err(ConnectError::Data(format!(
                                    "Found invalid map entry instead of array tuple: {}",
                                    truncate(&other.to_string(), 100)
                                ))),
                            })
                            .collect::<Result<_, _>>()?,
                    ),
                    other => return Err(mismatch(&other)),
                }
            }
            SchemaType::Struct => {
                let Json::Object(mut obj) = json else {
                    return Err(mismatch(&json));
                };
                let mut s = Struct::new(schema.clone());
                for field in &schema.fields {
                    let v = obj.remove(&field.name).unwrap_or(Json::Null);
                    let v = self
                        .to_connect_value(&field.schema, v)
                        .map_err(|e| e.context(format!("field \"{}\"", field.name)))?;
                    s.put_unchecked(field.index, v);
                }
                Value::Struct(s)
            }
        })
    }
}

/// Kafka's JsonDeserializer enables Jackson's `ALLOW_LEADING_ZEROS_FOR_NUMBERS`: `0012` reads
/// as 12, `-007` as -7, `00.5` as 0.5. Returns the text without the redundant zeros, or
/// `None` when it has none (the caller tries this only after strict JSON failed).
fn without_leading_zeros(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len());
    let mut changed = false;
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            b'"' => {
                // A string, copied as is up to its closing quote.
                out.push(b'"');
                i += 1;
                while i < data.len() {
                    let b = data[i];
                    out.push(b);
                    i += 1;
                    if b == b'\\' {
                        if let Some(&escaped) = data.get(i) {
                            out.push(escaped);
                            i += 1;
                        }
                    } else if b == b'"' {
                        break;
                    }
                }
            }
            b'-' | b'0'..=b'9' => {
                if data[i] == b'-' {
                    out.push(b'-');
                    i += 1;
                }
                while data.get(i) == Some(&b'0') && data.get(i + 1).is_some_and(u8::is_ascii_digit)
                {
                    i += 1;
                    changed = true;
                }
                while let Some(&b) = data.get(i) {
                    if !matches!(b, b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-') {
                        break;
                    }
                    out.push(b);
                    i += 1;
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    changed.then_some(out)
}

/// Data read with `schemas.enable=true` that is not an envelope.
fn envelope_error() -> ConnectError {
    ConnectError::Data(
        "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not contain additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration."
            .to_string(),
    )
}

fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        s.to_string()
    } else {
        let mut end = n;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    }
}

fn int_in_range<T: TryFrom<i64>>(json: &Json) -> Option<T> {
    json.as_i64().and_then(|v| T::try_from(v).ok())
}

fn decimal_scale(schema: &Schema) -> i32 {
    schema
        .parameters
        .get(logical::DECIMAL_SCALE)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Unscaled big-endian two's-complement bytes of a JSON number at `scale`.
fn decimal_from_number(json: &Json, n: f64, scale: i32) -> Result<Vec<u8>, ConnectError> {
    let text = json.to_string();
    let unscaled = crate::data::decimal::parse_unscaled(&text, scale)
        .unwrap_or_else(|| (n * 10f64.powi(scale)).round() as i128);
    Ok(crate::data::decimal::to_bytes(unscaled))
}

impl Converter for JsonConverter {
    fn to_bytes(
        &self,
        _topic: &str,
        schema: Option<&SchemaRef>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConnectError> {
        if schema.is_none() && value.is_null() {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(64);
        self.write(&mut out, schema, value)?;
        Ok(Some(out))
    }

    fn to_connect(
        &self,
        _topic: &str,
        data: Option<&[u8]>,
    ) -> Result<SchemaAndValue, ConnectError> {
        let Some(data) = data else {
            return Ok(SchemaAndValue::default());
        };
        match self.read(data) {
            Err(e) => match without_leading_zeros(data) {
                Some(fixed) => self.read(&fixed),
                None => Err(e),
            },
            ok => ok,
        }
    }
}

impl HeaderConverter for JsonConverter {
    fn to_connect_header(
        &self,
        topic: &str,
        key: &str,
        data: Option<&[u8]>,
    ) -> Result<Header, ConnectError> {
        let sv = self.to_connect(topic, data)?;
        Ok(Header {
            key: key.to_string(),
            schema: sv.schema,
            value: sv.value,
        })
    }

    fn header_to_bytes(
        &self,
        topic: &str,
        header: &Header,
    ) -> Result<Option<Vec<u8>>, ConnectError> {
        self.to_bytes(topic, header.schema.as_ref(), &header.value)
    }
}

/// Schemaless JSON to Connect values: objects become string-keyed maps, integers INT64,
/// other numbers FLOAT64.
pub fn schemaless_to_connect(json: Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int64(i),
            None => Value::Float64(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::String(s),
        Json::Array(items) => Value::Array(items.into_iter().map(schemaless_to_connect).collect()),
        Json::Object(obj) => Value::Map(
            obj.into_iter()
                .map(|(k, v)| (Value::String(k), schemaless_to_connect(v)))
                .collect(),
        ),
    }
}

/// Parses a schema from its envelope JSON (Connect's `asConnectSchema`).
pub fn json_to_schema(json: &Json) -> Result<SchemaRef, ConnectError> {
    let obj = json.as_object().ok_or_else(|| {
        ConnectError::Data(format!(
            "Schema must be an object: {}",
            truncate(&json.to_string(), 100)
        ))
    })?;
    let type_name = obj
        .get("type")
        .and_then(Json::as_str)
        .ok_or_else(|| ConnectError::Data("Schema must contain 'type' field".into()))?;
    let schema_type = SchemaType::from_name(type_name)
        .ok_or_else(|| ConnectError::Data(format!("Unknown schema type: {type_name}")))?;
    let mut b = match schema_type {
        SchemaType::Struct => {
            let fields = obj.get("fields").and_then(Json::as_array).ok_or_else(|| {
                ConnectError::Data("Struct schema's \"fields\" argument is not an array.".into())
            })?;
            let mut b = SchemaBuilder::struct_();
            for f in fields {
                let name = f.get("field").and_then(Json::as_str).ok_or_else(|| {
                    ConnectError::Data("Struct schema's field name not specified properly".into())
                })?;
                b = b.field(name, json_to_schema(f)?);
            }
            b
        }
        SchemaType::Array => {
            let items = obj.get("items").ok_or_else(|| {
                ConnectError::Data("Array schema did not specify the element type".into())
            })?;
            SchemaBuilder::array(json_to_schema(items)?)
        }
        SchemaType::Map => {
            let keys = obj.get("keys").ok_or_else(|| {
                ConnectError::Data("Map schema did not specify the key type".into())
            })?;
            let values = obj.get("values").ok_or_else(|| {
                ConnectError::Data("Map schema did not specify the value type".into())
            })?;
            SchemaBuilder::map(json_to_schema(keys)?, json_to_schema(values)?)
        }
        t => SchemaBuilder::new(t),
    };
    if obj.get("optional").and_then(Json::as_bool).unwrap_or(false) {
        b = b.optional();
    }
    if let Some(name) = obj.get("name").and_then(Json::as_str) {
        b = b.name(name);
    }
    if let Some(v) = obj.get("version").and_then(Json::as_i64) {
        b = b.version(v as i32);
    }
    if let Some(doc) = obj.get("doc").and_then(Json::as_str) {
        b = b.doc(doc);
    }
    if let Some(params) = obj.get("parameters").and_then(Json::as_object) {
        for (k, v) in params {
            let v = v
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| v.to_string());
            b = b.parameter(k.clone(), v);
        }
    }
    if let Some(default) = obj.get("default").filter(|d| !d.is_null()) {
        let partial = b.clone().build();
        let value = JsonConverter::default()
            .to_connect_value(&partial, default.clone())
            .map_err(|e| e.context("Invalid default for schema"))?;
        b = b.default_value(value);
    }
    Ok(b.build())
}

struct Envelope<'a> {
    schema: Option<JsonSchema<'a>>,
    payload: Payload<'a>,
}

impl Serialize for Envelope<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("schema", &self.schema)?;
        m.serialize_entry("payload", &self.payload)?;
        m.end()
    }
}

/// A schema in Connect's JSON layout and key order.
struct JsonSchema<'a> {
    conv: &'a JsonConverter,
    schema: &'a Schema,
}

struct FieldSchema<'a> {
    conv: &'a JsonConverter,
    schema: &'a Schema,
    field: &'a str,
}

impl Serialize for JsonSchema<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        write_schema(self.conv, self.schema, None, s)
    }
}

impl Serialize for FieldSchema<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        write_schema(self.conv, self.schema, Some(self.field), s)
    }
}

fn write_schema<S: Serializer>(
    conv: &JsonConverter,
    schema: &Schema,
    field: Option<&str>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(None)?;
    m.serialize_entry("type", schema.schema_type.json_name())?;
    match schema.schema_type {
        SchemaType::Array => {
            let items = schema
                .value_schema
                .as_deref()
                .ok_or_else(|| S::Error::custom("array schema without item schema"))?;
            m.serialize_entry(
                "items",
                &JsonSchema {
                    conv,
                    schema: items,
                },
            )?;
        }
        SchemaType::Map => {
            let k = schema
                .key_schema
                .as_deref()
                .ok_or_else(|| S::Error::custom("map schema without key schema"))?;
            let v = schema
                .value_schema
                .as_deref()
                .ok_or_else(|| S::Error::custom("map schema without value schema"))?;
            m.serialize_entry("keys", &JsonSchema { conv, schema: k })?;
            m.serialize_entry("values", &JsonSchema { conv, schema: v })?;
        }
        SchemaType::Struct => {
            let fields: Vec<FieldSchema> = schema
                .fields
                .iter()
                .map(|f| FieldSchema {
                    conv,
                    schema: &f.schema,
                    field: &f.name,
                })
                .collect();
            m.serialize_entry("fields", &fields)?;
        }
        _ => {}
    }
    m.serialize_entry("optional", &schema.optional)?;
    if let Some(name) = &schema.name {
        m.serialize_entry("name", name)?;
    }
    if let Some(v) = schema.version {
        m.serialize_entry("version", &v)?;
    }
    if let Some(doc) = &schema.doc {
        m.serialize_entry("doc", doc)?;
    }
    if !schema.parameters.is_empty() {
        m.serialize_entry(
            "parameters",
            &schema.parameters as &BTreeMap<String, String>,
        )?;
    }
    if let Some(d) = &schema.default {
        m.serialize_entry(
            "default",
            &Payload {
                conv,
                schema: Some(schema),
                value: d,
            },
        )?;
    }
    if let Some(f) = field {
        m.serialize_entry("field", f)?;
    }
    m.end()
}

/// A value serialized per its schema (or schemaless), Connect's `convertToJson`.
struct Payload<'a> {
    conv: &'a JsonConverter,
    schema: Option<&'a Schema>,
    value: &'a Value,
}

impl Serialize for Payload<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let conv = self.conv;
        let Some(schema) = self.schema else {
            return write_schemaless(conv, self.value, s);
        };
        let value = self.value;
        if value.is_null() {
            if let (Some(d), true) = (&schema.default, conv.replace_null_with_default) {
                return Payload {
                    conv,
                    schema: Some(schema),
                    value: d,
                }
                .serialize(s);
            }
            if schema.optional {
                return s.serialize_unit();
            }
            return Err(S::Error::custom(
                "Conversion error: null value for field that is required and has no default value",
            ));
        }
        let mismatch = || {
            S::Error::custom(format!(
                "Invalid type for {}: {}",
                schema.schema_type,
                value.type_name()
            ))
        };
        match (schema.schema_type, value) {
            (SchemaType::Boolean, Value::Boolean(b)) => s.serialize_bool(*b),
            (SchemaType::Int8, Value::Int8(v)) => s.serialize_i8(*v),
            (SchemaType::Int16, Value::Int16(v)) => s.serialize_i16(*v),
            (SchemaType::Int32, Value::Int32(v)) => s.serialize_i32(*v),
            (SchemaType::Int64, Value::Int64(v)) => s.serialize_i64(*v),
            (SchemaType::Float32, Value::Float32(v)) => s.serialize_f32(finite(*v)?),
            (SchemaType::Float64, Value::Float64(v)) => s.serialize_f64(finite(*v)?),
            (SchemaType::String, Value::String(v)) => s.serialize_str(v),
            (SchemaType::Bytes, Value::Bytes(b)) => {
                if schema.is_logical(logical::DECIMAL)
                    && conv.decimal_format == DecimalFormat::Numeric
                {
                    // The exact digits and scale, as Jackson writes a BigDecimal: through
                    // an f64 they would lose digits, trailing zeros, or get an exponent.
                    let text = crate::data::decimal::to_java_string(b, decimal_scale(schema));
                    RawValue::from_string(text)
                        .map_err(S::Error::custom)?
                        .serialize(s)
                } else {
                    s.serialize_str(&BASE64.encode(b))
                }
            }
            (SchemaType::Array, Value::Array(items)) => {
                let item_schema = schema.value_schema.as_deref();
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for i in items {
                    seq.serialize_element(&Payload {
                        conv,
                        schema: item_schema,
                        value: i,
                    })?;
                }
                seq.end()
            }
            (SchemaType::Map, Value::Map(entries)) => {
                let ks = schema.key_schema.as_deref();
                let vs = schema.value_schema.as_deref();
                let string_keys = ks.is_some_and(|k| k.schema_type == SchemaType::String);
                if string_keys {
                    let mut m = s.serialize_map(Some(entries.len()))?;
                    for (k, v) in entries {
                        let k = k.as_str().ok_or_else(mismatch)?;
                        m.serialize_entry(
                            k,
                            &Payload {
                                conv,
                                schema: vs,
                                value: v,
                            },
                        )?;
                    }
                    m.end()
                } else {
                    let mut seq = s.serialize_seq(Some(entries.len()))?;
                    for (k, v) in entries {
                        seq.serialize_element(&(
                            Payload {
                                conv,
                                schema: ks,
                                value: k,
                            },
                            Payload {
                                conv,
                                schema: vs,
                                value: v,
                            },
                        ))?;
                    }
                    seq.end()
                }
            }
            (SchemaType::Struct, Value::Struct(st)) => {
                // The same schema object is by far the common case; comparing deeply for
                // every struct of every record showed in profiles.
                if !std::ptr::eq(st.schema().as_ref(), schema) && st.schema().as_ref() != schema {
                    return Err(S::Error::custom("Mismatching schema."));
                }
                let mut m = s.serialize_map(Some(schema.fields.len()))?;
                for f in &schema.fields {
                    m.serialize_entry(
                        &f.name,
                        &Payload {
                            conv,
                            schema: Some(&f.schema),
                            value: &st.values()[f.index],
                        },
                    )?;
                }
                m.end()
            }
            _ => Err(mismatch()),
        }
    }
}

/// NaN and the infinities have no JSON form: refused (a data error, under the connector's
/// error tolerance) rather than written as `null`, which serde_json would do silently.
/// Kafka's Jackson writes them as the strings "NaN" and "Infinity", which no JSON number
/// field reads back.
fn finite<F: Into<f64> + Copy, E: serde::ser::Error>(v: F) -> Result<F, E> {
    let f: f64 = v.into();
    if f.is_finite() {
        Ok(v)
    } else {
        Err(E::custom(format!(
            "{f} cannot be written as JSON: JSON numbers are finite"
        )))
    }
}

fn write_schemaless<S: Serializer>(
    conv: &JsonConverter,
    value: &Value,
    s: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Value::Null => s.serialize_unit(),
        Value::Boolean(b) => s.serialize_bool(*b),
        Value::Int8(v) => s.serialize_i8(*v),
        Value::Int16(v) => s.serialize_i16(*v),
        Value::Int32(v) => s.serialize_i32(*v),
        Value::Int64(v) => s.serialize_i64(*v),
        Value::Float32(v) => s.serialize_f32(finite(*v)?),
        Value::Float64(v) => s.serialize_f64(finite(*v)?),
        Value::String(v) => s.serialize_str(v),
        Value::Bytes(b) => s.serialize_str(&BASE64.encode(b)),
        Value::Array(items) => {
            let mut seq = s.serialize_seq(Some(items.len()))?;
            for i in items {
                seq.serialize_element(&Payload {
                    conv,
                    schema: None,
                    value: i,
                })?;
            }
            seq.end()
        }
        Value::Map(entries) => {
            if entries.iter().all(|(k, _)| matches!(k, Value::String(_))) {
                let mut m = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    m.serialize_entry(
                        k.as_str().unwrap_or_default(),
                        &Payload {
                            conv,
                            schema: None,
                            value: v,
                        },
                    )?;
                }
                m.end()
            } else {
                let mut seq = s.serialize_seq(Some(entries.len()))?;
                for (k, v) in entries {
                    seq.serialize_element(&(
                        Payload {
                            conv,
                            schema: None,
                            value: k,
                        },
                        Payload {
                            conv,
                            schema: None,
                            value: v,
                        },
                    ))?;
                }
                seq.end()
            }
        }
        // A struct carries its own schema, so it can be written even without an envelope.
        Value::Struct(st) => Payload {
            conv,
            schema: Some(st.schema()),
            value,
        }
        .serialize(s),
    }
}

/// The schema shared by every internal-topic converter.
pub fn internal_converter() -> Arc<JsonConverter> {
    Arc::new(JsonConverter::schemaless())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::logical_schemas;

    fn conv(schemas: bool) -> JsonConverter {
        let mut c = ConfigMap::new();
        c.insert("schemas.enable".into(), schemas.to_string());
        JsonConverter::from_config(&c).unwrap()
    }

    fn to_string(c: &JsonConverter, schema: Option<&SchemaRef>, v: &Value) -> String {
        String::from_utf8(c.to_bytes("t", schema, v).unwrap().unwrap()).unwrap()
    }

    #[test]
    fn string_with_envelope_matches_connect_bytes() {
        let out = to_string(&conv(true), Some(&Schema::string()), &"hello".into());
        assert_eq!(
            out,
            r#"{"schema":{"type":"string","optional":false},"payload":"hello"}"#
        );
        let back = conv(true).to_connect("t", Some(out.as_bytes())).unwrap();
        assert_eq!(back.schema.unwrap().schema_type, SchemaType::String);
        assert_eq!(back.value, Value::String("hello".into()));
    }

    #[test]
    fn struct_envelope_has_connect_key_order() {
        let schema = SchemaBuilder::struct_()
            .name("com.example.Order")
            .field("id", Schema::int32())
            .field("note", Schema::optional_string())
            .field("at", logical_schemas::timestamp().build())
            .build();
        let mut s = Struct::new(schema.clone());
        s.put("id", Value::Int32(42)).unwrap();
        s.put("at", Value::Int64(1_700_000_000_000)).unwrap();
        let out = to_string(&conv(true), Some(&schema), &Value::Struct(s.clone()));
        assert_eq!(
            out,
            concat!(
                r#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},"#,
                r#"{"type":"string","optional":true,"field":"note"},"#,
                r#"{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"field":"at"}],"#,
                r#""optional":false,"name":"com.example.Order"},"payload":{"id":42,"note":null,"at":1700000000000}}"#
            )
        );
        let back = conv(true).to_connect("t", Some(out.as_bytes())).unwrap();
        assert_eq!(back.schema.as_ref(), Some(&schema));
        assert_eq!(back.value, Value::Struct(s));
    }

    #[test]
    fn schemaless_round_trip_and_tombstones() {
        let c = conv(false);
        let v = c
            .to_connect("t", Some(br#"{"a":1,"b":[true,2.5,"x"],"c":null}"#))
            .unwrap();
        assert!(v.schema.is_none());
        assert_eq!(v.value.map_get("a"), Some(&Value::Int64(1)));
        let out = to_string(&c, None, &v.value);
        assert_eq!(out, r#"{"a":1,"b":[true,2.5,"x"],"c":null}"#);
        assert_eq!(c.to_bytes("t", None, &Value::Null).unwrap(), None);
        assert_eq!(
            conv(true).to_connect("t", None).unwrap(),
            SchemaAndValue::default()
        );
    }

    #[test]
    fn written_schemas_give_the_envelope_bytes() {
        let c = conv(true);
        let schema = SchemaBuilder::struct_()
            .name("r")
            .field("a", Schema::int32())
            .field("b", Schema::optional_string())
            .build();
        let mut st = Struct::new(schema.clone());
        st.put("a", Value::Int32(1)).unwrap();
        let value = Value::Struct(st);
        let expected = serde_json::to_vec(&Envelope {
            schema: Some(JsonSchema {
                conv: &c,
                schema: &schema,
            }),
            payload: Payload {
                conv: &c,
                schema: Some(&schema),
                value: &value,
            },
        })
        .unwrap();
        // The first write fills the cache, the second reads it.
        for _ in 0..2 {
            let bytes = c.to_bytes("t", Some(&schema), &value).unwrap().unwrap();
            assert_eq!(
                String::from_utf8(bytes).unwrap(),
                String::from_utf8(expected.clone()).unwrap()
            );
        }
        let other = Schema::optional_string();
        let bytes = c
            .to_bytes("t", Some(&other), &Value::String("x".into()))
            .unwrap()
            .unwrap();
        assert_eq!(
            bytes,
            br#"{"schema":{"type":"string","optional":true},"payload":"x"}"#
        );
    }

    #[test]
    fn envelope_schemas_are_parsed_once() {
        let c = conv(true);
        let a = c
            .to_connect(
                "t",
                Some(br#"{"schema":{"type":"int32","optional":false},"payload":1}"#),
            )
            .unwrap();
        let b = c
            .to_connect(
                "t",
                Some(br#"{"schema":{"type":"int32","optional":false},"payload":2}"#),
            )
            .unwrap();
        assert!(Arc::ptr_eq(
            a.schema.as_ref().unwrap(),
            b.schema.as_ref().unwrap()
        ));
        assert_eq!(b.value, Value::Int32(2));
        let none = c
            .to_connect("t", Some(br#"{"schema":null,"payload":{"k":true}}"#))
            .unwrap();
        assert!(none.schema.is_none());
        assert_eq!(none.value.map_get("k"), Some(&Value::Boolean(true)));
        let err = c
            .to_connect("t", Some(br#"{"schema":null,"payload":1,"extra":2}"#))
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("may not contain additional fields"),
            "{err}"
        );
    }

    #[test]
    fn envelope_is_required_when_schemas_enabled() {
        let err = conv(true).to_connect("t", Some(br#"{"a":1}"#)).unwrap_err();
        assert!(err.to_string().contains("schemas.enable=false"), "{err}");
        let err = conv(true).to_connect("t", Some(b"not json")).unwrap_err();
        assert!(matches!(err, ConnectError::Data(_)));
    }

    #[test]
    fn bytes_and_non_string_map_keys() {
        let schema = SchemaBuilder::map(Schema::int32(), Schema::bytes()).build();
        let v = Value::Map(vec![(Value::Int32(1), Value::Bytes(vec![0, 255]))]);
        let out = to_string(&conv(true), Some(&schema), &v);
        assert_eq!(
            out,
            r#"{"schema":{"type":"map","keys":{"type":"int32","optional":false},"values":{"type":"bytes","optional":false},"optional":false},"payload":[[1,"AP8="]]}"#
        );
        assert_eq!(
            conv(true)
                .to_connect("t", Some(out.as_bytes()))
                .unwrap()
                .value,
            v
        );
    }

    #[test]
    fn decimal_numeric_and_base64() {
        let schema = logical_schemas::decimal(2).build();
        let v = Value::Bytes(crate::data::decimal::to_bytes(12345));
        let b64 = to_string(&conv(true), Some(&schema), &v);
        assert!(b64.contains(r#""payload":"MDk=""#), "{b64}");
        let mut cfg = ConfigMap::new();
        cfg.insert("decimal.format".into(), "NUMERIC".into());
        let numeric = JsonConverter::from_config(&cfg).unwrap();
        let out = to_string(&numeric, Some(&schema), &v);
        assert!(out.ends_with(r#""payload":123.45}"#), "{out}");
        assert_eq!(
            numeric.to_connect("t", Some(out.as_bytes())).unwrap().value,
            v
        );
    }

    #[test]
    fn numeric_decimals_are_written_exactly_with_their_scale() {
        let mut cfg = ConfigMap::new();
        cfg.insert("decimal.format".into(), "NUMERIC".into());
        cfg.insert("schemas.enable".into(), "false".into());
        let numeric = JsonConverter::from_config(&cfg).unwrap();
        // Java's BigDecimal.toString, as Jackson writes a DecimalNode.
        let cases: [(i128, i32, &str); 8] = [
            (15600, 4, "1.5600"),
            (123456789123456789, 17, "1.23456789123456789"),
            (12345678901234567890123, 0, "12345678901234567890123"),
            (-5, 3, "-0.005"),
            (0, 2, "0.00"),
            (1, 10, "1E-10"),
            (123, -2, "1.23E+4"),
            (-12345678901234567890123, 5, "-123456789012345678.90123"),
        ];
        for (unscaled, scale, want) in cases {
            let schema = logical_schemas::decimal(scale).build();
            let v = Value::Bytes(crate::data::decimal::to_bytes(unscaled));
            assert_eq!(
                to_string(&numeric, Some(&schema), &v),
                want,
                "{unscaled}e-{scale}"
            );
            let back = numeric.read_payload(Some(&schema), want).unwrap();
            assert_eq!(back, v, "{want} read back");
        }
        // More digits than 128 bits hold are still written exactly.
        let schema = logical_schemas::decimal(2).build();
        let mut big = vec![0x7f];
        big.extend([0xff; 19]);
        let out = to_string(&numeric, Some(&schema), &Value::Bytes(big));
        assert_eq!(out, "7307508186654514591018424163581415098279662714.87");
    }

    #[test]
    fn an_empty_message_is_null_without_schemas_and_an_envelope_error_with_them() {
        for empty in [&b""[..], b" \r\n\t"] {
            assert_eq!(
                conv(false).to_connect("t", Some(empty)).unwrap(),
                SchemaAndValue::default()
            );
            let err = conv(true).to_connect("t", Some(empty)).unwrap_err();
            assert!(
                err.to_string().starts_with(
                    "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields"
                ),
                "{err}"
            );
        }
    }

    #[test]
    fn numbers_with_leading_zeros_are_read_as_kafka_reads_them() {
        let c = conv(true);
        let read = |schema: &str, payload: &str| {
            let text = format!(r#"{{ "schema": {{ "type": "{schema}" }}, "payload": {payload} }}"#);
            c.to_connect("t", Some(text.as_bytes())).unwrap().value
        };
        assert_eq!(read("int8", "0012"), Value::Int8(12));
        assert_eq!(read("int16", "000123"), Value::Int16(123));
        assert_eq!(read("int32", "000012345"), Value::Int32(12345));
        assert_eq!(read("int64", "00000123456789"), Value::Int64(123456789));
        assert_eq!(read("int64", "-0012"), Value::Int64(-12));
        assert_eq!(read("double", "00.5"), Value::Float64(0.5));
        assert_eq!(read("int32", "000"), Value::Int32(0));

        let v = conv(false)
            .to_connect(
                "t",
                Some(br#"{"a": 0012, "b": [-007, 0.25, 1e007], "c": "0012", "d": 0, "e\"0": 01}"#),
            )
            .unwrap()
            .value;
        assert_eq!(v.map_get("a"), Some(&Value::Int64(12)));
        assert_eq!(
            v.map_get("b"),
            Some(&Value::Array(vec![
                Value::Int64(-7),
                Value::Float64(0.25),
                Value::Float64(1e7)
            ]))
        );
        assert_eq!(v.map_get("c"), Some(&Value::String("0012".into())));
        assert_eq!(v.map_get("d"), Some(&Value::Int64(0)));
        assert_eq!(v.map_get("e\"0"), Some(&Value::Int64(1)));
        assert_eq!(
            conv(false).to_connect("t", Some(b"0012")).unwrap().value,
            Value::Int64(12)
        );
        // Only the leading zeros are forgiven: other malformed numbers still fail.
        assert!(conv(false).to_connect("t", Some(b"12.")).is_err());
        assert!(conv(false).to_connect("t", Some(b"+12")).is_err());
    }

    #[test]
    fn a_bad_decimal_format_is_refused_with_kafkas_message() {
        let mut cfg = ConfigMap::new();
        cfg.insert("decimal.format".into(), " Float ".into());
        let err = JsonConverter::from_config(&cfg).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid value Float for configuration decimal.format: String must be one of (case insensitive): NUMERIC, BASE64"
        );
    }

    #[test]
    fn required_null_is_an_error_and_defaults_apply() {
        let err = conv(true)
            .to_bytes("t", Some(&Schema::int32()), &Value::Null)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("null value for field that is required"),
            "{err}"
        );
        let with_default = SchemaBuilder::new(SchemaType::Int32)
            .default_value(Value::Int32(5))
            .build();
        assert_eq!(
            to_string(&conv(false), Some(&with_default), &Value::Null),
            "5"
        );
    }
}
