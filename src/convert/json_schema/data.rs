//! The mapping between Connect schemas and JSON Schemas, as Confluent's `JsonSchemaData` does
//! it: integers and numbers carry `connect.type` (int8..int64, float32, float64, bytes, map),
//! struct fields `connect.index`, names are `title`s, docs `description`s, optional schemas
//! are `oneOf` with `{"type":"null"}`; `connect.version` and `connect.parameters` keep the
//! rest. Bytes are base64 strings; Decimals numbers; maps with non-string keys arrays of
//! `{"key":..,"value":..}` objects. Schemas written by other tools are read too: a property
//! not listed in `required` (in a schema without `connect.index`) is optional, `$ref`s to
//! `#/definitions`, `#/$defs` and to referenced schemas are followed.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{json, Map, Value as Json};

use crate::data::{decimal, logical, Schema, SchemaBuilder, SchemaRef, SchemaType, Struct, Value};

pub const NAMESPACE: &str = "io.confluent.connect.json";
pub const ONE_OF: &str = "io.confluent.connect.json.OneOf";
pub const ENUM: &str = "io.confluent.connect.json.Enum";
const CONNECT_TYPE: &str = "connect.type";
const CONNECT_VERSION: &str = "connect.version";
const CONNECT_PARAMETERS: &str = "connect.parameters";
const CONNECT_INDEX: &str = "connect.index";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

// ---------------------------------------------------------------- Connect -> JSON Schema

/// The JSON Schema for a Connect schema.
pub fn from_connect_schema(schema: &Schema) -> Json {
    raw(schema, None, false)
}

fn raw(schema: &Schema, index: Option<usize>, ignore_optional: bool) -> Json {
    let mut out = Map::new();
    let connect_type = |out: &mut Map<String, Json>, ty: &str, t: &str| {
        out.insert("type".into(), json!(ty));
        out.insert(CONNECT_TYPE.into(), json!(t));
    };
    match schema.schema_type {
        SchemaType::Int8 => connect_type(&mut out, "integer", "int8"),
        SchemaType::Int16 => connect_type(&mut out, "integer", "int16"),
        SchemaType::Int32 => connect_type(&mut out, "integer", "int32"),
        SchemaType::Int64 => connect_type(&mut out, "integer", "int64"),
        SchemaType::Float32 => connect_type(&mut out, "number", "float32"),
        SchemaType::Float64 => connect_type(&mut out, "number", "float64"),
        SchemaType::Boolean => {
            out.insert("type".into(), json!("boolean"));
        }
        SchemaType::String => {
            let symbols: Vec<&String> = schema
                .parameters
                .iter()
                .filter(|(k, _)| k.starts_with(&format!("{ENUM}.")))
                .map(|(_, v)| v)
                .collect();
            if schema.parameters.contains_key(ENUM) {
                out.insert("type".into(), json!("string"));
                out.insert("enum".into(), json!(symbols));
            } else {
                out.insert("type".into(), json!("string"));
            }
        }
        SchemaType::Bytes => {
            let ty = if schema.is_logical(logical::DECIMAL) {
                "number"
            } else {
                "string"
            };
            connect_type(&mut out, ty, "bytes");
        }
        SchemaType::Array => {
            out.insert("type".into(), json!("array"));
            if let Some(items) = &schema.value_schema {
                out.insert("items".into(), raw(items, None, false));
            }
        }
        SchemaType::Map => {
            let (Some(k), Some(v)) = (&schema.key_schema, &schema.value_schema) else {
                return json!({});
            };
            if k.schema_type == SchemaType::String && !k.optional {
                out.insert("type".into(), json!("object"));
                out.insert("additionalProperties".into(), raw(v, None, false));
            } else {
                out.insert("type".into(), json!("array"));
                out.insert(
                    "items".into(),
                    json!({"type": "object", "properties": {
                        "key": raw(k, Some(0), false),
                        "value": raw(v, Some(1), false),
                    }}),
                );
            }
            out.insert(CONNECT_TYPE.into(), json!("map"));
        }
        SchemaType::Struct => {
            if schema.name.as_deref() == Some(ONE_OF) {
                let mut options = Vec::new();
                if schema.optional {
                    options.push(json!({"type": "null"}));
                }
                for f in &schema.fields {
                    let mut member = (*f.schema).clone();
                    member.optional = false;
                    options.push(raw(&member, Some(f.index), true));
                }
                let mut combined = Map::new();
                combined.insert("oneOf".into(), Json::Array(options));
                if let Some(i) = index {
                    combined.insert(CONNECT_INDEX.into(), json!(i));
                }
                return Json::Object(combined);
            }
            out.insert("type".into(), json!("object"));
            let mut properties = Map::new();
            for f in &schema.fields {
                properties.insert(f.name.clone(), raw(&f.schema, Some(f.index), false));
            }
            out.insert("properties".into(), Json::Object(properties));
        }
    }
    if let Some(name) = &schema.name {
        out.insert("title".into(), json!(name));
    }
    if let Some(v) = schema.version {
        out.insert(CONNECT_VERSION.into(), json!(v));
    }
    if let Some(doc) = &schema.doc {
        out.insert("description".into(), json!(doc));
    }
    let parameters: Map<String, Json> = schema
        .parameters
        .iter()
        .filter(|(k, _)| !k.starts_with(NAMESPACE))
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    if !parameters.is_empty() {
        out.insert(CONNECT_PARAMETERS.into(), Json::Object(parameters));
    }
    if let Some(default) = &schema.default {
        if let Ok(d) = value_to_json(schema, default) {
            out.insert("default".into(), d);
        }
    }
    if schema.optional && !ignore_optional {
        let mut combined = Map::new();
        combined.insert("oneOf".into(), json!([{"type": "null"}, Json::Object(out)]));
        if let Some(i) = index {
            combined.insert(CONNECT_INDEX.into(), json!(i));
        }
        return Json::Object(combined);
    }
    if let Some(i) = index {
        out.insert(CONNECT_INDEX.into(), json!(i));
    }
    Json::Object(out)
}

// ---------------------------------------------------------------- JSON Schema -> Connect

/// Where `$ref`s point: the root schema (for `#/...`) and referenced schemas by name.
pub struct RefContext<'a> {
    pub root: &'a Json,
    pub references: &'a [(String, Json)],
}

/// The Connect schema for a JSON Schema.
pub fn to_connect_schema(ctx: &RefContext<'_>, schema: &Json) -> Result<SchemaRef, String> {
    to_connect(ctx, schema, false, 0)
}

fn resolve<'a>(ctx: &RefContext<'a>, reference: &str) -> Result<&'a Json, String> {
    let (document, pointer) = match reference.split_once('#') {
        Some(("", p)) => (ctx.root, p),
        Some((name, p)) => (find_reference(ctx, name)?, p),
        None => (find_reference(ctx, reference)?, ""),
    };
    if pointer.is_empty() {
        return Ok(document);
    }
    document
        .pointer(pointer)
        .ok_or_else(|| format!("$ref {reference} points nowhere"))
}

fn find_reference<'a>(ctx: &RefContext<'a>, name: &str) -> Result<&'a Json, String> {
    ctx.references
        .iter()
        .find(|(n, s)| n == name || s.get("$id").and_then(Json::as_str) == Some(name))
        .map(|(_, s)| s)
        .ok_or_else(|| format!("$ref {name} is neither in the schema nor among its references"))
}

fn is_null_schema(s: &Json) -> bool {
    s.get("type").and_then(Json::as_str) == Some("null")
}

fn to_connect(
    ctx: &RefContext<'_>,
    schema: &Json,
    force_optional: bool,
    depth: usize,
) -> Result<SchemaRef, String> {
    if depth > 64 {
        return Err("the schema nests too deeply (or its $refs loop)".into());
    }
    let Some(obj) = schema.as_object() else {
        return Err(format!(
            "{schema} has no type Kafka Connect can represent (a schema object with a \"type\" is needed)"
        ));
    };
    if let Some(r) = obj.get("$ref").and_then(Json::as_str) {
        return to_connect(ctx, resolve(ctx, r)?, force_optional, depth + 1);
    }
    let mut builder;
    if let Some(options) = obj
        .get("oneOf")
        .or_else(|| obj.get("anyOf"))
        .and_then(Json::as_array)
    {
        if options.len() == 2 && options.iter().any(is_null_schema) {
            let other = options.iter().find(|o| !is_null_schema(o)).unwrap();
            return to_connect(ctx, other, true, depth + 1);
        }
        builder = SchemaBuilder::struct_().name(ONE_OF);
        let mut i = 0;
        for option in options {
            if is_null_schema(option) {
                builder = builder.optional();
            } else {
                builder = builder.field(
                    format!("{ONE_OF}.field.{i}"),
                    to_connect(ctx, option, true, depth + 1)?,
                );
                i += 1;
            }
        }
    } else if let Some(all) = obj.get("allOf").and_then(Json::as_array) {
        // Confluent reads an allOf of a typed schema and constraints as the typed schema.
        let typed = all
            .iter()
            .find(|s| s.get("type").is_some() || s.get("$ref").is_some())
            .ok_or_else(|| format!("allOf without a typed schema: {schema}"))?;
        return to_connect(ctx, typed, force_optional, depth + 1);
    } else {
        let ty = match obj.get("type") {
            Some(Json::String(t)) => t.as_str(),
            Some(Json::Array(types)) => {
                let non_null: Vec<&str> = types
                    .iter()
                    .filter_map(Json::as_str)
                    .filter(|t| *t != "null")
                    .collect();
                if non_null.len() != 1 {
                    return Err(format!(
                        "a type list {} has no Kafka Connect equivalent",
                        Json::Array(types.clone())
                    ));
                }
                let mut single = obj.clone();
                single.insert("type".into(), json!(non_null[0]));
                let optional = types.len() > 1;
                return to_connect(
                    ctx,
                    &Json::Object(single),
                    force_optional || optional,
                    depth + 1,
                );
            }
            None if obj.contains_key("enum") => "string",
            None if obj.contains_key("properties") => "object",
            _ => {
                return Err(format!(
                    "{schema} has no type Kafka Connect can represent (a \"type\" is needed)"
                ))
            }
        };
        let connect_type = obj.get(CONNECT_TYPE).and_then(Json::as_str);
        builder = match ty {
            "boolean" => SchemaBuilder::new(SchemaType::Boolean),
            "integer" | "number" => match connect_type {
                Some("int8") => SchemaBuilder::new(SchemaType::Int8),
                Some("int16") => SchemaBuilder::new(SchemaType::Int16),
                Some("int32") => SchemaBuilder::new(SchemaType::Int32),
                Some("int64") => SchemaBuilder::new(SchemaType::Int64),
                Some("float32") => SchemaBuilder::new(SchemaType::Float32),
                Some("float64") => SchemaBuilder::new(SchemaType::Float64),
                Some("bytes") => SchemaBuilder::new(SchemaType::Bytes),
                Some(other) => return Err(format!("unsupported connect.type {other}")),
                None if ty == "integer" => SchemaBuilder::new(SchemaType::Int64),
                None => SchemaBuilder::new(SchemaType::Float64),
            },
            "string" if obj.contains_key("enum") => {
                let mut b = SchemaBuilder::new(SchemaType::String).parameter(ENUM, "");
                for symbol in obj["enum"].as_array().into_iter().flatten() {
                    let s = match symbol {
                        Json::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    b = b.parameter(format!("{ENUM}.{s}"), s);
                }
                b
            }
            "string" if connect_type == Some("bytes") => SchemaBuilder::new(SchemaType::Bytes),
            "string" => SchemaBuilder::new(SchemaType::String),
            "array" => {
                let items = obj
                    .get("items")
                    .ok_or("an array schema without \"items\" has no Kafka Connect equivalent")?;
                if connect_type == Some("map") {
                    let entry = match items.get("$ref").and_then(Json::as_str) {
                        Some(r) => resolve(ctx, r)?,
                        None => items,
                    };
                    let props = entry.get("properties");
                    let key = props
                        .and_then(|p| p.get("key"))
                        .ok_or("map entry without key")?;
                    let value = props
                        .and_then(|p| p.get("value"))
                        .ok_or("map entry without value")?;
                    SchemaBuilder::map(
                        to_connect(ctx, key, false, depth + 1)?,
                        to_connect(ctx, value, false, depth + 1)?,
                    )
                } else {
                    SchemaBuilder::array(to_connect(ctx, items, false, depth + 1)?)
                }
            }
            "object" => {
                let properties = obj.get("properties").and_then(Json::as_object);
                let additional = obj.get("additionalProperties").filter(|a| a.is_object());
                if connect_type == Some("map")
                    || (properties.is_none_or(|p| p.is_empty()) && additional.is_some())
                {
                    let values = match additional {
                        Some(a) => to_connect(ctx, a, false, depth + 1)?,
                        None => Schema::optional_string(),
                    };
                    SchemaBuilder::map(Schema::string(), values)
                } else {
                    struct_schema(ctx, obj, properties, depth)?
                }
            }
            "null" => return Err("a lone \"null\" type has no Kafka Connect equivalent".into()),
            other => return Err(format!("unknown JSON Schema type {other}")),
        };
    }
    if let Some(title) = obj.get("title").and_then(Json::as_str) {
        if builder.peek().name.is_none() {
            builder = builder.name(title);
        }
    }
    if let Some(v) = obj.get(CONNECT_VERSION).and_then(Json::as_i64) {
        builder = builder.version(v as i32);
    }
    if let Some(d) = obj.get("description").and_then(Json::as_str) {
        builder = builder.doc(d);
    }
    if let Some(params) = obj.get(CONNECT_PARAMETERS).and_then(Json::as_object) {
        for (k, v) in params {
            let v = v
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| v.to_string());
            builder = builder.parameter(k.clone(), v);
        }
    }
    if force_optional {
        builder = builder.optional();
    }
    if let Some(default) = obj.get("default") {
        let partial: SchemaRef = std::sync::Arc::new(builder.peek().clone());
        if let Ok(v) = json_to_value(&partial, default) {
            builder = builder.default_value(v);
        }
    }
    Ok(builder.build())
}

fn struct_schema(
    ctx: &RefContext<'_>,
    obj: &Map<String, Json>,
    properties: Option<&Map<String, Json>>,
    depth: usize,
) -> Result<SchemaBuilder, String> {
    let required: Vec<&str> = obj
        .get("required")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(Json::as_str)
        .collect();
    let mut ordered: BTreeMap<(i64, usize), (&String, &Json)> = BTreeMap::new();
    let mut connect_written = false;
    for (position, (name, s)) in properties.into_iter().flatten().enumerate() {
        let index = s.get(CONNECT_INDEX).and_then(Json::as_i64);
        connect_written |= index.is_some();
        ordered.insert((index.unwrap_or(position as i64), position), (name, s));
    }
    let mut builder = SchemaBuilder::struct_();
    for (name, s) in ordered.into_values() {
        // Confluent's own schemas say optional with oneOf-null; others with `required`.
        let optional = !connect_written && !required.contains(&name.as_str());
        let field =
            to_connect(ctx, s, optional, depth + 1).map_err(|e| format!("property {name}: {e}"))?;
        builder = builder.field(name.clone(), field);
    }
    Ok(builder)
}

// ---------------------------------------------------------------- values

/// A Connect value as JSON, by its schema; the error names the field.
pub fn value_to_json(schema: &Schema, value: &Value) -> Result<Json, String> {
    if value.is_null() {
        if let Some(d) = &schema.default {
            return value_to_json(schema, d);
        }
        if schema.optional {
            return Ok(Json::Null);
        }
        return Err("null for a required value without a default".into());
    }
    let mismatch = || {
        format!(
            "a {} where the schema says {}",
            value.type_name(),
            schema.describe()
        )
    };
    Ok(match (schema.schema_type, value) {
        (SchemaType::Bytes, Value::Bytes(b)) if schema.is_logical(logical::DECIMAL) => {
            let scale = schema
                .parameters
                .get(logical::DECIMAL_SCALE)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let text = decimal::to_string(b, scale);
            serde_json::from_str::<serde_json::Number>(&text)
                .map(Json::Number)
                .map_err(|_| format!("the decimal {text} is not a JSON number"))?
        }
        (SchemaType::Boolean, Value::Boolean(b)) => json!(b),
        (SchemaType::Int8, Value::Int8(v)) => json!(v),
        (SchemaType::Int16, Value::Int16(v)) => json!(v),
        (SchemaType::Int32, Value::Int32(v)) => json!(v),
        (SchemaType::Int64, Value::Int64(v)) => json!(v),
        (SchemaType::Float32, Value::Float32(v)) => finite(f64::from(*v))?,
        (SchemaType::Float64, Value::Float64(v)) => finite(*v)?,
        (SchemaType::String, Value::String(s)) => json!(s),
        (SchemaType::Bytes, Value::Bytes(b)) => json!(B64.encode(b)),
        (SchemaType::Array, Value::Array(items)) => {
            let item_schema = schema.value_schema.as_deref().ok_or_else(mismatch)?;
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(value_to_json(item_schema, item).map_err(|e| format!("[{i}]: {e}"))?);
            }
            Json::Array(out)
        }
        (SchemaType::Map, Value::Map(entries)) => {
            let (Some(ks), Some(vs)) = (&schema.key_schema, &schema.value_schema) else {
                return Err(mismatch());
            };
            if ks.schema_type == SchemaType::String && !ks.optional {
                let mut out = Map::new();
                for (k, v) in entries {
                    let key = k.as_str().ok_or_else(mismatch)?;
                    out.insert(
                        key.to_string(),
                        value_to_json(vs, v).map_err(|e| format!("[{key}]: {e}"))?,
                    );
                }
                Json::Object(out)
            } else {
                let mut out = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    out.push(json!({
                        "key": value_to_json(ks, k).map_err(|e| format!("key: {e}"))?,
                        "value": value_to_json(vs, v).map_err(|e| format!("value: {e}"))?,
                    }));
                }
                Json::Array(out)
            }
        }
        (SchemaType::Struct, Value::Struct(s)) => {
            if schema.name.as_deref() == Some(ONE_OF) {
                for (f, v) in schema.fields.iter().zip(s.values()) {
                    if !v.is_null() {
                        return value_to_json(&f.schema, v);
                    }
                }
                return Ok(Json::Null);
            }
            let mut out = Map::new();
            for (f, v) in schema.fields.iter().zip(s.values()) {
                out.insert(
                    f.name.clone(),
                    value_to_json(&f.schema, v).map_err(|e| field_error(&f.name, e))?,
                );
            }
            Json::Object(out)
        }
        _ => return Err(mismatch()),
    })
}

fn field_error(field: &str, e: String) -> String {
    if e.starts_with('[') || e.starts_with('.') {
        format!("field {field}{e}")
    } else if let Some(rest) = e.strip_prefix("field ") {
        format!("field {field}.{rest}")
    } else {
        format!("field {field}: {e}")
    }
}

fn finite(v: f64) -> Result<Json, String> {
    serde_json::Number::from_f64(v)
        .map(Json::Number)
        .ok_or_else(|| format!("{v} cannot be written in JSON"))
}

/// A JSON value as a Connect value of `schema`; the error names the field.
pub fn json_to_value(schema: &SchemaRef, json: &Json) -> Result<Value, String> {
    if json.is_null() {
        if let Some(d) = &schema.default {
            return Ok(d.clone());
        }
        if schema.optional {
            return Ok(Value::Null);
        }
        return Err(format!("null for the required {}", schema.describe()));
    }
    let mismatch = || format!("{json} is not a {}", schema.describe());
    let int = |json: &Json| json.as_i64().ok_or_else(mismatch);
    Ok(match schema.schema_type {
        SchemaType::Boolean => Value::Boolean(json.as_bool().ok_or_else(mismatch)?),
        SchemaType::Int8 => Value::Int8(int(json)?.try_into().map_err(|_| mismatch())?),
        SchemaType::Int16 => Value::Int16(int(json)?.try_into().map_err(|_| mismatch())?),
        SchemaType::Int32 => Value::Int32(int(json)?.try_into().map_err(|_| mismatch())?),
        SchemaType::Int64 => Value::Int64(int(json)?),
        SchemaType::Float32 => Value::Float32(json.as_f64().ok_or_else(mismatch)? as f32),
        SchemaType::Float64 => Value::Float64(json.as_f64().ok_or_else(mismatch)?),
        SchemaType::String => Value::String(json.as_str().ok_or_else(mismatch)?.to_string()),
        SchemaType::Bytes if schema.is_logical(logical::DECIMAL) => {
            let scale = schema
                .parameters
                .get(logical::DECIMAL_SCALE)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            match json {
                Json::Number(n) => Value::Bytes(decimal::to_bytes(
                    decimal::parse_unscaled(&n.to_string(), scale).ok_or_else(mismatch)?,
                )),
                Json::String(s) => Value::Bytes(B64.decode(s).map_err(|_| mismatch())?),
                _ => return Err(mismatch()),
            }
        }
        SchemaType::Bytes => Value::Bytes(
            B64.decode(json.as_str().ok_or_else(mismatch)?)
                .map_err(|e| format!("{json} is not base64 for bytes: {e}"))?,
        ),
        SchemaType::Array => {
            let items = json.as_array().ok_or_else(mismatch)?;
            let item_schema = schema.value_schema.as_ref().ok_or_else(mismatch)?;
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(json_to_value(item_schema, item).map_err(|e| format!("[{i}]: {e}"))?);
            }
            Value::Array(out)
        }
        SchemaType::Map => {
            let (Some(ks), Some(vs)) = (&schema.key_schema, &schema.value_schema) else {
                return Err(mismatch());
            };
            match json {
                Json::Object(m) => {
                    let mut out = Vec::with_capacity(m.len());
                    for (k, v) in m {
                        out.push((
                            Value::String(k.clone()),
                            json_to_value(vs, v).map_err(|e| format!("[{k}]: {e}"))?,
                        ));
                    }
                    Value::Map(out)
                }
                Json::Array(entries) => {
                    let mut out = Vec::with_capacity(entries.len());
                    for entry in entries {
                        let k = entry.get("key").unwrap_or(&Json::Null);
                        let v = entry.get("value").unwrap_or(&Json::Null);
                        out.push((
                            json_to_value(ks, k).map_err(|e| format!("key: {e}"))?,
                            json_to_value(vs, v).map_err(|e| format!("value: {e}"))?,
                        ));
                    }
                    Value::Map(out)
                }
                _ => return Err(mismatch()),
            }
        }
        SchemaType::Struct if schema.name.as_deref() == Some(ONE_OF) => {
            let schema_ref = schema.clone();
            for (i, f) in schema.fields.iter().enumerate() {
                if let Ok(v) = json_to_value(&f.schema, json) {
                    let mut s = Struct::new(schema_ref);
                    s.put_unchecked(i, v);
                    return Ok(Value::Struct(s));
                }
            }
            return Err(format!("{json} matches none of the oneOf schemas"));
        }
        SchemaType::Struct => {
            let obj = json.as_object().ok_or_else(mismatch)?;
            let mut s = Struct::new(schema.clone());
            for (i, f) in schema.fields.iter().enumerate() {
                let v = obj.get(&f.name).unwrap_or(&Json::Null);
                s.put_unchecked(
                    i,
                    json_to_value(&f.schema, v).map_err(|e| field_error(&f.name, e))?,
                );
            }
            Value::Struct(s)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::logical_schemas;

    fn ctx(root: &Json) -> RefContext<'_> {
        RefContext {
            root,
            references: &[],
        }
    }

    fn user() -> SchemaRef {
        SchemaBuilder::struct_()
            .name("com.example.User")
            .field("id", Schema::int32())
            .field("name", Schema::optional_string())
            .field("balance", logical_schemas::decimal(2).build())
            .field("tags", SchemaBuilder::array(Schema::string()).build())
            .field(
                "scores",
                SchemaBuilder::map(Schema::int32(), Schema::float64()).build(),
            )
            .field("blob", Schema::bytes())
            .build()
    }

    #[test]
    fn connect_schemas_round_trip() {
        let schema = user();
        let json = from_connect_schema(&schema);
        assert_eq!(json["title"], "com.example.User");
        assert_eq!(json["properties"]["id"]["connect.type"], "int32");
        assert_eq!(json["properties"]["name"]["oneOf"][0]["type"], "null");
        assert_eq!(json["properties"]["name"]["connect.index"], 1);
        assert_eq!(json["properties"]["scores"]["type"], "array");
        let back = to_connect_schema(&ctx(&json), &json).unwrap();
        assert_eq!(*back, *schema);
    }

    #[test]
    fn values_round_trip_and_errors_name_the_field() {
        let schema = user();
        let mut s = Struct::new(schema.clone());
        s.put("id", Value::Int32(7)).unwrap();
        s.put("balance", Value::Bytes(decimal::to_bytes(1234)))
            .unwrap();
        s.put("tags", Value::Array(vec!["a".into()])).unwrap();
        s.put(
            "scores",
            Value::Map(vec![(Value::Int32(1), Value::Float64(0.5))]),
        )
        .unwrap();
        s.put("blob", Value::Bytes(vec![1, 2])).unwrap();
        let value = Value::Struct(s);
        let json = value_to_json(&schema, &value).unwrap();
        assert_eq!(json["balance"].to_string(), "12.34");
        assert_eq!(json["blob"], "AQI=");
        assert_eq!(json["scores"], json!([{"key": 1, "value": 0.5}]));
        assert_eq!(json_to_value(&schema, &json).unwrap(), value);
        let mut bad = json.clone();
        bad["tags"] = json!(["a", 3]);
        let e = json_to_value(&schema, &bad).unwrap_err();
        assert_eq!(e, "field tags[1]: 3 is not a Schema{STRING}");
    }

    #[test]
    fn schemas_from_other_tools() {
        let json = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "title": "Order",
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "item": {"type": ["string", "null"]},
                "price": {"type": "number"},
                "address": {"$ref": "#/definitions/Address"},
                "kind": {"enum": ["a", "b"]},
            },
            "required": ["id", "price"],
            "definitions": {"Address": {"type": "object", "properties": {"city": {"type": "string"}}}}
        });
        let s = to_connect_schema(&ctx(&json), &json).unwrap();
        assert_eq!(s.name.as_deref(), Some("Order"));
        let field = |n: &str| s.field(n).unwrap().schema.clone();
        assert_eq!(field("id").schema_type, SchemaType::Int64);
        assert!(!field("id").optional);
        assert!(field("item").optional);
        assert_eq!(field("price").schema_type, SchemaType::Float64);
        assert_eq!(
            field("address").field("city").unwrap().schema.schema_type,
            SchemaType::String
        );
        assert!(field("address").optional);
        assert_eq!(
            field("kind")
                .parameters
                .get(&format!("{ENUM}.b"))
                .map(String::as_str),
            Some("b")
        );
        let v = json_to_value(&s, &json!({"id": 1, "price": 2.5})).unwrap();
        let Value::Struct(v) = v else { panic!() };
        assert_eq!(v.get("item"), Some(&Value::Null));
        assert!(json_to_value(&s, &json!({"price": 2.5}))
            .unwrap_err()
            .contains("field id"));
    }

    #[test]
    fn references_by_name() {
        let address = json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]});
        let root = json!({"type": "object", "properties": {"home": {"$ref": "address.json"}}, "required": ["home"]});
        let refs = vec![("address.json".to_string(), address)];
        let ctx = RefContext {
            root: &root,
            references: &refs,
        };
        let s = to_connect_schema(&ctx, &root).unwrap();
        let home = &s.field("home").unwrap().schema;
        assert_eq!(
            home.field("city").unwrap().schema.schema_type,
            SchemaType::String
        );
        let alone = RefContext {
            root: &root,
            references: &[],
        };
        assert!(to_connect_schema(&alone, &root)
            .unwrap_err()
            .contains("address.json"));
    }
}
