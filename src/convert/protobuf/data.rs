//! Protobuf messages as Connect structs, after Confluent's `ProtobufData`: a message is a
//! struct named by its full name, each field keeps its tag in `protobuf.field.tag`; 32-bit
//! integers are INT32, 64-bit and unsigned 32-bit INT64, enums strings (symbols in the
//! parameters), repeated fields arrays, map fields maps, `google.protobuf.Timestamp`
//! Timestamps, `confluent.type.Decimal` Decimals (precision and scale from the field's
//! `confluent.field_meta`), `google.type.Date` Dates, `google.type.TimeOfDay` Times, wrapper
//! types optional primitives, a `oneof` an optional struct of its members.
//! Message fields and fields with explicit presence (`optional`) are optional; other scalars
//! are required and read as their zero values when absent, as Protobuf does.

use std::collections::HashMap;

use prost_reflect::{
    Cardinality, DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, ReflectMessage,
    Value as PValue,
};

use super::schema::{
    DATE_TYPE, DECIMAL_PRECISION, DECIMAL_TYPE, PRECISION_PARAM, SCALE_PARAM, TAG, TIMESTAMP_TYPE,
    TIME_TYPE,
};
use crate::data::{
    decimal, logical, logical_schemas, Schema, SchemaBuilder, SchemaRef, SchemaType, Struct, Value,
};

pub const ENUM: &str = "io.confluent.connect.protobuf.Enum";
const TIMESTAMP: &str = TIMESTAMP_TYPE;
const MILLIS_PER_DAY: i64 = 86_400_000;

/// The `confluent.field_meta` parameters of a field (a Decimal's precision and scale).
fn field_meta(f: &FieldDescriptor) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let Some(ext) = f
        .parent_pool()
        .get_extension_by_name("confluent.field_meta")
    else {
        return out;
    };
    let options = f.options();
    if !options.has_extension(&ext) {
        return out;
    }
    if let PValue::Message(meta) = options.get_extension(&ext).as_ref() {
        if let Some(PValue::Map(params)) = meta.get_field_by_name("params").as_deref() {
            for (k, v) in params {
                if let (MapKey::String(k), PValue::String(v)) = (k, v) {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
    }
    out
}

/// Connect's Decimal for a `confluent.type.Decimal` field: the scale from the field's
/// metadata (0 without), the precision too when it says one.
fn decimal_schema(f: &FieldDescriptor) -> SchemaBuilder {
    let meta = field_meta(f);
    let scale = meta
        .get(SCALE_PARAM)
        .and_then(|s| s.parse::<i32>().ok())
        .unwrap_or(0);
    let mut b = logical_schemas::decimal(scale);
    if let Some(p) = meta
        .get(PRECISION_PARAM)
        .and_then(|p| p.parse::<i32>().ok())
    {
        b = b.parameter(DECIMAL_PRECISION, p.to_string());
    }
    b
}

fn scale_of(schema: &Schema) -> i32 {
    schema
        .parameters
        .get(logical::DECIMAL_SCALE)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn int_field(m: &DynamicMessage, name: &str) -> i64 {
    match m.get_field_by_name(name).as_deref() {
        Some(PValue::I32(i)) => i64::from(*i),
        Some(PValue::I64(i)) => *i,
        Some(PValue::U32(i)) => i64::from(*i),
        Some(PValue::U64(i)) => *i as i64,
        _ => 0,
    }
}

/// A `confluent.type.Decimal` as Decimal bytes at the schema's scale.
fn decimal_from_message(m: &DynamicMessage, scale: i32) -> Result<Value, String> {
    let bytes = match m.get_field_by_name("value").as_deref() {
        Some(PValue::Bytes(b)) => b.to_vec(),
        _ => Vec::new(),
    };
    let unscaled = decimal::from_bytes(&bytes)
        .ok_or_else(|| format!("a Decimal of {} bytes is wider than 38 digits", bytes.len()))?;
    let written_scale = int_field(m, "scale") as i32;
    if written_scale == scale {
        return Ok(Value::Bytes(bytes));
    }
    // The message carries its own scale; Connect's Decimal has the schema's.
    let rescaled = if written_scale < scale {
        10i128
            .checked_pow((scale - written_scale) as u32)
            .and_then(|f| unscaled.checked_mul(f))
    } else {
        10i128
            .checked_pow((written_scale - scale) as u32)
            .filter(|f| unscaled % f == 0)
            .map(|f| unscaled / f)
    };
    let rescaled = rescaled.ok_or_else(|| {
        format!(
            "the Decimal {} (scale {written_scale}) does not fit the schema's scale {scale}",
            decimal::format_unscaled(unscaled, written_scale)
        )
    })?;
    Ok(Value::Bytes(decimal::to_bytes(rescaled)))
}

/// A `google.type.Date` as days since the epoch.
fn date_from_message(m: &DynamicMessage) -> Result<Value, String> {
    let (y, mo, d) = (
        int_field(m, "year"),
        int_field(m, "month"),
        int_field(m, "day"),
    );
    let date = chrono::NaiveDate::from_ymd_opt(y as i32, mo as u32, d as u32)
        .ok_or_else(|| format!("{y:04}-{mo:02}-{d:02} is not a valid date"))?;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("the epoch is a date");
    let days = (date - epoch).num_days();
    Ok(Value::Int32(i32::try_from(days).map_err(|_| {
        format!("{date} is too far from the epoch for a Date")
    })?))
}

/// A `google.type.TimeOfDay` as milliseconds since midnight.
fn time_from_message(m: &DynamicMessage) -> Result<Value, String> {
    let (h, mi, s, n) = (
        int_field(m, "hours"),
        int_field(m, "minutes"),
        int_field(m, "seconds"),
        int_field(m, "nanos"),
    );
    if !(0..24).contains(&h)
        || !(0..60).contains(&mi)
        || !(0..60).contains(&s)
        || !(0..1_000_000_000).contains(&n)
    {
        return Err(format!(
            "{h:02}:{mi:02}:{s:02}.{n:09} is not a valid time of day"
        ));
    }
    Ok(Value::Int32(
        (h * 3_600_000 + mi * 60_000 + s * 1000 + n / 1_000_000) as i32,
    ))
}

/// The Connect schema of a message.
pub fn to_connect_schema(message: &MessageDescriptor) -> Result<SchemaRef, String> {
    message_schema(message, false, 0)
}

fn message_schema(
    message: &MessageDescriptor,
    optional: bool,
    depth: usize,
) -> Result<SchemaRef, String> {
    if depth > 32 {
        return Err(format!(
            "message {} nests too deeply (recursive messages have no Connect schema)",
            message.full_name()
        ));
    }
    let mut b = SchemaBuilder::struct_().name(message.full_name());
    let mut oneofs_done = Vec::new();
    for f in message.fields() {
        if let Some(oneof) = f.containing_oneof().filter(|o| !o.is_synthetic()) {
            if oneofs_done.contains(&oneof.name().to_string()) {
                continue;
            }
            oneofs_done.push(oneof.name().to_string());
            let mut ob = SchemaBuilder::struct_().name(oneof.full_name()).optional();
            for member in oneof.fields() {
                ob = ob.field(member.name(), field_schema(&member, true, depth)?);
            }
            b = b.field(oneof.name(), ob.build());
            continue;
        }
        b = b.field(f.name(), field_schema(&f, false, depth)?);
    }
    if optional {
        b = b.optional();
    }
    Ok(b.build())
}

fn with_tag(b: SchemaBuilder, f: &FieldDescriptor) -> SchemaBuilder {
    b.parameter(TAG, f.number().to_string())
}

fn field_schema(
    f: &FieldDescriptor,
    force_optional: bool,
    depth: usize,
) -> Result<SchemaRef, String> {
    if f.is_map() {
        let Kind::Message(entry) = f.kind() else {
            return Err(format!("map field {} without an entry message", f.name()));
        };
        let k = kind_schema(&entry.map_entry_key_field(), false, depth)?;
        let v = kind_schema(&entry.map_entry_value_field(), false, depth)?;
        return Ok(with_tag(SchemaBuilder::map(k, v), f).build());
    }
    if f.is_list() {
        let items = kind_schema(f, false, depth)?;
        return Ok(with_tag(SchemaBuilder::array(items), f).build());
    }
    let optional = force_optional
        || matches!(f.kind(), Kind::Message(_))
        || (f.supports_presence() && f.cardinality() == Cardinality::Optional);
    let s = kind_schema(f, optional, depth)?;
    let mut b = s.to_builder();
    b = with_tag(b, f);
    Ok(b.build())
}

fn kind_schema(f: &FieldDescriptor, optional: bool, depth: usize) -> Result<SchemaRef, String> {
    let b = match f.kind() {
        Kind::Double => SchemaBuilder::new(SchemaType::Float64),
        Kind::Float => SchemaBuilder::new(SchemaType::Float32),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => SchemaBuilder::new(SchemaType::Int32),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 | Kind::Uint32 | Kind::Fixed32 => {
            SchemaBuilder::new(SchemaType::Int64)
        }
        Kind::Uint64 | Kind::Fixed64 => SchemaBuilder::new(SchemaType::Int64),
        Kind::Bool => SchemaBuilder::new(SchemaType::Boolean),
        Kind::String => SchemaBuilder::new(SchemaType::String),
        Kind::Bytes => SchemaBuilder::new(SchemaType::Bytes),
        Kind::Enum(e) => {
            let mut b = SchemaBuilder::new(SchemaType::String).parameter(ENUM, e.full_name());
            for v in e.values() {
                b = b.parameter(format!("{ENUM}.{}", v.name()), v.number().to_string());
            }
            b
        }
        Kind::Message(m) => match m.full_name() {
            TIMESTAMP => logical_schemas::timestamp(),
            DECIMAL_TYPE => decimal_schema(f),
            DATE_TYPE => logical_schemas::date(),
            TIME_TYPE => logical_schemas::time(),
            "google.protobuf.StringValue" => SchemaBuilder::new(SchemaType::String),
            "google.protobuf.BytesValue" => SchemaBuilder::new(SchemaType::Bytes),
            "google.protobuf.BoolValue" => SchemaBuilder::new(SchemaType::Boolean),
            "google.protobuf.Int32Value" => SchemaBuilder::new(SchemaType::Int32),
            "google.protobuf.Int64Value"
            | "google.protobuf.UInt32Value"
            | "google.protobuf.UInt64Value" => SchemaBuilder::new(SchemaType::Int64),
            "google.protobuf.FloatValue" => SchemaBuilder::new(SchemaType::Float32),
            "google.protobuf.DoubleValue" => SchemaBuilder::new(SchemaType::Float64),
            _ => return message_schema(&m, optional, depth + 1),
        },
    };
    Ok(if optional { b.optional() } else { b }.build())
}

// ---------------------------------------------------------------- values: Protobuf -> Connect

/// A decoded message as a Connect struct of `schema` (from [`to_connect_schema`]).
pub fn to_connect_value(schema: &SchemaRef, message: &DynamicMessage) -> Result<Value, String> {
    let desc = message.descriptor();
    let mut s = Struct::new(schema.clone());
    for (i, field) in schema.fields.iter().enumerate() {
        let v = match desc.get_field_by_name(&field.name) {
            Some(f) if f.containing_oneof().is_none_or(|o| o.is_synthetic()) => {
                field_value(&field.schema, &f, message).map_err(|e| in_field(&field.name, e))?
            }
            _ => {
                // A oneof: the member that is set.
                let Some(oneof) = desc.oneofs().find(|o| o.name() == field.name) else {
                    continue;
                };
                let mut os = Struct::new(field.schema.clone());
                let mut any = false;
                for (j, member) in field.schema.fields.iter().enumerate() {
                    if let Some(f) = oneof.fields().find(|f| f.name() == member.name) {
                        if message.has_field(&f) {
                            any = true;
                            os.put_unchecked(
                                j,
                                single(&member.schema, &f, &message.get_field(&f)).map_err(
                                    |e| in_field(&format!("{}.{}", field.name, member.name), e),
                                )?,
                            );
                        }
                    }
                }
                if any {
                    Value::Struct(os)
                } else {
                    Value::Null
                }
            }
        };
        s.put_unchecked(i, v);
    }
    Ok(Value::Struct(s))
}

fn in_field(name: &str, e: String) -> String {
    match e.strip_prefix("field ") {
        Some(rest) => format!("field {name}.{rest}"),
        None => format!("field {name}: {e}"),
    }
}

fn field_value(
    schema: &SchemaRef,
    f: &FieldDescriptor,
    message: &DynamicMessage,
) -> Result<Value, String> {
    if schema.optional && !message.has_field(f) && !f.is_list() && !f.is_map() {
        return Ok(Value::Null);
    }
    single(schema, f, &message.get_field(f))
}

fn single(schema: &SchemaRef, f: &FieldDescriptor, v: &PValue) -> Result<Value, String> {
    Ok(match (schema.schema_type, v) {
        (SchemaType::Array, PValue::List(items)) => {
            let item_schema = schema.value_schema.as_ref().ok_or("array without items")?;
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(scalar(item_schema, item).map_err(|e| format!("[{i}]: {e}"))?);
            }
            Value::Array(out)
        }
        (SchemaType::Map, PValue::Map(entries)) => {
            let ks = schema.key_schema.as_ref().ok_or("map without keys")?;
            let vs = schema.value_schema.as_ref().ok_or("map without values")?;
            let mut out = Vec::with_capacity(entries.len());
            let mut sorted: Vec<_> = entries.iter().collect();
            sorted.sort_by(|a, b| a.0.cmp(b.0));
            for (k, v) in sorted {
                let key = match k {
                    MapKey::Bool(b) => PValue::Bool(*b),
                    MapKey::I32(i) => PValue::I32(*i),
                    MapKey::I64(i) => PValue::I64(*i),
                    MapKey::U32(i) => PValue::U32(*i),
                    MapKey::U64(i) => PValue::U64(*i),
                    MapKey::String(s) => PValue::String(s.clone()),
                };
                out.push((scalar(ks, &key)?, scalar(vs, v)?));
            }
            Value::Map(out)
        }
        _ => {
            let _ = f;
            scalar(schema, v)?
        }
    })
}

fn scalar(schema: &SchemaRef, v: &PValue) -> Result<Value, String> {
    let mismatch = || format!("{v:?} does not fit {}", schema.describe());
    Ok(match (schema.schema_type, v) {
        (SchemaType::Boolean, PValue::Bool(b)) => Value::Boolean(*b),
        (SchemaType::Int32, PValue::I32(i)) => Value::Int32(*i),
        (SchemaType::Int64, PValue::I64(i)) => Value::Int64(*i),
        (SchemaType::Int64, PValue::U32(i)) => Value::Int64(i64::from(*i)),
        (SchemaType::Int64, PValue::U64(i)) => Value::Int64(*i as i64),
        (SchemaType::Float32, PValue::F32(x)) => Value::Float32(*x),
        (SchemaType::Float64, PValue::F64(x)) => Value::Float64(*x),
        (SchemaType::String, PValue::String(s)) => Value::String(s.clone()),
        (SchemaType::Bytes, PValue::Bytes(b)) => Value::Bytes(b.to_vec()),
        (SchemaType::String, PValue::EnumNumber(n)) => {
            let number = n.to_string();
            let symbol = schema
                .parameters
                .iter()
                .find(|(k, v)| k.starts_with(&format!("{ENUM}.")) && **v == number)
                .map(|(k, _)| k[ENUM.len() + 1..].to_string());
            Value::String(symbol.unwrap_or(number))
        }
        (SchemaType::Int64, PValue::Message(m)) if schema.is_logical(logical::TIMESTAMP) => {
            let seconds = m
                .get_field_by_name("seconds")
                .and_then(|v| v.as_i64())
                .unwrap_or(0);
            let nanos = m
                .get_field_by_name("nanos")
                .and_then(|v| v.as_i32())
                .unwrap_or(0);
            Value::Int64(seconds * 1000 + i64::from(nanos) / 1_000_000)
        }
        (SchemaType::Bytes, PValue::Message(m))
            if schema.is_logical(logical::DECIMAL)
                && m.descriptor().full_name() == DECIMAL_TYPE =>
        {
            decimal_from_message(m, scale_of(schema))?
        }
        (SchemaType::Int32, PValue::Message(m))
            if schema.is_logical(logical::DATE) && m.descriptor().full_name() == DATE_TYPE =>
        {
            date_from_message(m)?
        }
        (SchemaType::Int32, PValue::Message(m))
            if schema.is_logical(logical::TIME) && m.descriptor().full_name() == TIME_TYPE =>
        {
            time_from_message(m)?
        }
        (SchemaType::Struct, PValue::Message(m)) => to_connect_value(schema, m)?,
        (_, PValue::Message(m)) if m.descriptor().full_name().starts_with("google.protobuf.") => {
            // A wrapper type: its `value`.
            let inner = m.get_field_by_name("value").ok_or_else(mismatch)?;
            scalar(schema, &inner)?
        }
        _ => return Err(mismatch()),
    })
}

// ---------------------------------------------------------------- values: Connect -> Protobuf

/// A Connect struct as a message of `desc`; fields are matched by name.
pub fn to_message(desc: &MessageDescriptor, value: &Value) -> Result<DynamicMessage, String> {
    let Value::Struct(s) = value else {
        return Err(format!(
            "a {} is not a struct for message {}",
            value.type_name(),
            desc.full_name()
        ));
    };
    let mut m = DynamicMessage::new(desc.clone());
    let schema = s.schema();
    for (field, v) in schema.fields.iter().zip(s.values()) {
        if v.is_null() {
            if !field.schema.optional && field.schema.default.is_none() {
                return Err(format!("field {}: null for a required field", field.name));
            }
            continue;
        }
        if let Some(f) = desc.get_field_by_name(&field.name) {
            let pv = to_pvalue(&f, &field.schema, v, true).map_err(|e| in_field(&field.name, e))?;
            m.set_field(&f, pv);
        } else if let Some(oneof) = desc.oneofs().find(|o| o.name() == field.name) {
            let Value::Struct(os) = v else {
                return Err(format!("field {}: a oneof is a struct", field.name));
            };
            for (member, mv) in os.schema().fields.iter().zip(os.values()) {
                if mv.is_null() {
                    continue;
                }
                if let Some(f) = oneof.fields().find(|f| f.name() == member.name) {
                    let pv = to_pvalue(&f, &member.schema, mv, true)
                        .map_err(|e| in_field(&format!("{}.{}", field.name, member.name), e))?;
                    m.set_field(&f, pv);
                }
            }
        } else {
            return Err(format!(
                "field {}: message {} has no such field",
                field.name,
                desc.full_name()
            ));
        }
    }
    Ok(m)
}

fn to_pvalue(
    f: &FieldDescriptor,
    schema: &Schema,
    v: &Value,
    whole: bool,
) -> Result<PValue, String> {
    if whole && f.is_map() {
        let Value::Map(entries) = v else {
            return Err(format!("a {} is not a map", v.type_name()));
        };
        let Kind::Message(entry) = f.kind() else {
            unreachable!("map fields have entries")
        };
        let (kf, vf) = (entry.map_entry_key_field(), entry.map_entry_value_field());
        let ks = schema.key_schema.as_deref().ok_or("map without keys")?;
        let vs = schema.value_schema.as_deref().ok_or("map without values")?;
        let mut out = HashMap::with_capacity(entries.len());
        for (k, val) in entries {
            let key = match to_pvalue(&kf, ks, k, false)? {
                PValue::Bool(b) => MapKey::Bool(b),
                PValue::I32(i) => MapKey::I32(i),
                PValue::I64(i) => MapKey::I64(i),
                PValue::U32(i) => MapKey::U32(i),
                PValue::U64(i) => MapKey::U64(i),
                PValue::String(s) => MapKey::String(s),
                other => return Err(format!("{other:?} cannot be a map key")),
            };
            out.insert(key, to_pvalue(&vf, vs, val, false)?);
        }
        return Ok(PValue::Map(out));
    }
    if whole && f.is_list() {
        let Value::Array(items) = v else {
            return Err(format!("a {} is not an array", v.type_name()));
        };
        let is = schema
            .value_schema
            .as_deref()
            .ok_or("array without items")?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            out.push(to_pvalue(f, is, item, false).map_err(|e| format!("[{i}]: {e}"))?);
        }
        return Ok(PValue::List(out));
    }
    let mismatch = || {
        format!(
            "a {} does not fit the Protobuf type {:?}",
            v.type_name(),
            f.kind()
        )
    };
    let int = || v.as_i64().ok_or_else(mismatch);
    Ok(match f.kind() {
        Kind::Double => PValue::F64(v.as_f64().ok_or_else(mismatch)?),
        Kind::Float => PValue::F32(v.as_f64().ok_or_else(mismatch)? as f32),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            PValue::I32(int()?.try_into().map_err(|_| mismatch())?)
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => PValue::I64(int()?),
        Kind::Uint32 | Kind::Fixed32 => PValue::U32(int()?.try_into().map_err(|_| mismatch())?),
        Kind::Uint64 | Kind::Fixed64 => PValue::U64(int()? as u64),
        Kind::Bool => match v {
            Value::Boolean(b) => PValue::Bool(*b),
            _ => return Err(mismatch()),
        },
        Kind::String => match v {
            Value::String(s) => PValue::String(s.clone()),
            Value::Bytes(b) if schema.is_logical(logical::DECIMAL) => {
                let scale = schema
                    .parameters
                    .get(logical::DECIMAL_SCALE)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                PValue::String(decimal::to_string(b, scale))
            }
            _ => return Err(mismatch()),
        },
        Kind::Bytes => match v {
            Value::Bytes(b) => PValue::Bytes(b.clone().into()),
            _ => return Err(mismatch()),
        },
        Kind::Enum(e) => match v {
            Value::String(s) => PValue::EnumNumber(
                e.get_value_by_name(s)
                    .map(|x| x.number())
                    .ok_or_else(|| format!("{s} is not a symbol of enum {}", e.full_name()))?,
            ),
            _ => PValue::EnumNumber(int()?.try_into().map_err(|_| mismatch())?),
        },
        Kind::Message(m) if m.full_name() == DECIMAL_TYPE => {
            let Value::Bytes(b) = v else {
                return Err(mismatch());
            };
            let unscaled = decimal::from_bytes(b)
                .ok_or_else(|| format!("a Decimal of {} bytes is wider than 38 digits", b.len()))?;
            let mut d = DynamicMessage::new(m.clone());
            d.set_field_by_name("value", PValue::Bytes(decimal::to_bytes(unscaled).into()));
            // As Java's BigDecimal.precision(): the digits of the unscaled value, 1 for zero.
            let precision = unscaled
                .unsigned_abs()
                .checked_ilog10()
                .map_or(1, |d| d + 1);
            d.set_field_by_name("precision", PValue::U32(precision));
            d.set_field_by_name("scale", PValue::I32(scale_of(schema)));
            PValue::Message(d)
        }
        Kind::Message(m) if m.full_name() == DATE_TYPE => {
            let days = int()?;
            let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("the epoch is a date");
            let date = epoch
                .checked_add_signed(chrono::TimeDelta::days(days))
                .ok_or_else(|| format!("{days} days from the epoch is not a date"))?;
            let mut d = DynamicMessage::new(m.clone());
            d.set_field_by_name("year", PValue::I32(chrono::Datelike::year(&date)));
            d.set_field_by_name("month", PValue::I32(chrono::Datelike::month(&date) as i32));
            d.set_field_by_name("day", PValue::I32(chrono::Datelike::day(&date) as i32));
            PValue::Message(d)
        }
        Kind::Message(m) if m.full_name() == TIME_TYPE => {
            let millis = int()?;
            if !(0..MILLIS_PER_DAY).contains(&millis) {
                return Err(
                    "Time values must use number of millis greater than 0 and less than 86400000"
                        .into(),
                );
            }
            let mut t = DynamicMessage::new(m.clone());
            t.set_field_by_name("hours", PValue::I32((millis / 3_600_000) as i32));
            t.set_field_by_name("minutes", PValue::I32((millis / 60_000 % 60) as i32));
            t.set_field_by_name("seconds", PValue::I32((millis / 1000 % 60) as i32));
            t.set_field_by_name("nanos", PValue::I32((millis % 1000 * 1_000_000) as i32));
            PValue::Message(t)
        }
        Kind::Message(m) if m.full_name() == TIMESTAMP => {
            let millis = int()?;
            let mut ts = DynamicMessage::new(m.clone());
            ts.set_field_by_name("seconds", PValue::I64(millis.div_euclid(1000)));
            ts.set_field_by_name(
                "nanos",
                PValue::I32((millis.rem_euclid(1000) * 1_000_000) as i32),
            );
            PValue::Message(ts)
        }
        Kind::Message(m)
            if m.full_name().starts_with("google.protobuf.")
                && m.full_name().ends_with("Value") =>
        {
            let inner = m.get_field_by_name("value").ok_or_else(mismatch)?;
            let mut w = DynamicMessage::new(m.clone());
            w.set_field(&inner, to_pvalue(&inner, schema, v, false)?);
            PValue::Message(w)
        }
        Kind::Message(m) => PValue::Message(to_message(&m, v)?),
    })
}
