//! PostgreSQL's binary formats for the sink's hot path: one value as a length-prefixed cell,
//! a column of cells as an array parameter ([`ColumnArray`], for `UNNEST`), and rows of
//! cells as a binary COPY stream ([`CopyRows`]).

use bytes::{BufMut, Bytes, BytesMut};
use tokio_postgres::types::{IsNull, ToSql, Type};

use crate::convert::primitive::value_to_text;
use crate::convert::JsonConverter;
use crate::data::{decimal, logical, SchemaRef, Value};

use super::types::{Kind, PG_EPOCH_DAYS, PG_EPOCH_MILLIS};

/// Writes `value` as one cell: an `i32` byte length then the value in `kind`'s binary
/// format, or `-1` for null. `schema` is the field's schema, used for nested values' JSON and
/// array items. On error nothing is written.
pub fn write_cell(
    kind: Kind,
    schema: Option<&SchemaRef>,
    value: &Value,
    out: &mut BytesMut,
) -> Result<(), String> {
    if value.is_null() {
        out.put_i32(-1);
        return Ok(());
    }
    let start = out.len();
    out.put_i32(0);
    if let Err(e) = write_payload(kind, schema, value, out) {
        out.truncate(start);
        return Err(e);
    }
    let len = out.len() - start - 4;
    let len = i32::try_from(len).map_err(|_| "value is larger than 2 GiB".to_string())?;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

fn mismatch(kind: Kind, value: &Value) -> String {
    format!(
        "a {} value cannot be written as PostgreSQL {}",
        value.type_name(),
        kind.sql_name()
    )
}

fn int_of(kind: Kind, value: &Value) -> Result<i64, String> {
    value.as_i64().ok_or_else(|| mismatch(kind, value))
}

fn out_of_range(value: i64, kind: Kind) -> String {
    format!("{value} is out of range for type {}", kind.sql_name())
}

fn write_payload(
    kind: Kind,
    schema: Option<&SchemaRef>,
    value: &Value,
    out: &mut BytesMut,
) -> Result<(), String> {
    match kind {
        Kind::Bool => match value {
            Value::Boolean(b) => out.put_u8(*b as u8),
            _ => return Err(mismatch(kind, value)),
        },
        Kind::Int2 => {
            let v = int_of(kind, value)?;
            out.put_i16(i16::try_from(v).map_err(|_| out_of_range(v, kind))?);
        }
        Kind::Int4 => {
            let v = int_of(kind, value)?;
            out.put_i32(i32::try_from(v).map_err(|_| out_of_range(v, kind))?);
        }
        Kind::Int8 => out.put_i64(int_of(kind, value)?),
        Kind::Float4 => out.put_f32(value.as_f64().ok_or_else(|| mismatch(kind, value))? as f32),
        Kind::Float8 => out.put_f64(value.as_f64().ok_or_else(|| mismatch(kind, value))?),
        Kind::Numeric(scale) => {
            let (unscaled, scale) = match value {
                Value::Bytes(b) => (
                    decimal::from_bytes(b)
                        .ok_or("decimal values above 38 digits are not supported")?,
                    scale,
                ),
                v => (int_of(kind, v)? as i128, 0),
            };
            write_numeric(unscaled, scale, out)?;
        }
        Kind::Text => match value {
            Value::String(s) => out.put_slice(s.as_bytes()),
            Value::Bytes(b) => {
                out.put_slice(b"\\x");
                for byte in b {
                    out.put_slice(format!("{byte:02x}").as_bytes());
                }
            }
            Value::Array(_) | Value::Map(_) | Value::Struct(_) => write_json(schema, value, out)?,
            v => out.put_slice(value_to_text(v).unwrap_or_default().as_bytes()),
        },
        Kind::Bytea => match value {
            Value::Bytes(b) => out.put_slice(b),
            Value::String(s) => out.put_slice(s.as_bytes()),
            _ => return Err(mismatch(kind, value)),
        },
        Kind::Date => {
            let days = int_of(kind, value)?;
            let pg = days - PG_EPOCH_DAYS as i64;
            out.put_i32(i32::try_from(pg).map_err(|_| out_of_range(days, kind))?);
        }
        Kind::Time => out.put_i64(int_of(kind, value)? * 1000),
        Kind::Timestamp | Kind::Timestamptz => {
            let ms = int_of(kind, value)?;
            let micros = ms
                .checked_sub(PG_EPOCH_MILLIS)
                .and_then(|m| m.checked_mul(1000))
                .ok_or_else(|| out_of_range(ms, kind))?;
            out.put_i64(micros);
        }
        Kind::Jsonb => {
            out.put_u8(1);
            write_json(schema, value, out)?;
        }
        Kind::Uuid => match value {
            Value::String(s) => out.put_slice(&parse_uuid(s)?),
            _ => return Err(mismatch(kind, value)),
        },
        Kind::ArrayLiteral => {
            let item_schema = schema.and_then(|s| s.value_schema.as_ref());
            let mut text = String::new();
            array_literal(value, item_schema, &mut text)?;
            out.put_slice(text.as_bytes());
        }
    }
    Ok(())
}

fn write_json(schema: Option<&SchemaRef>, value: &Value, out: &mut BytesMut) -> Result<(), String> {
    let schema = match value {
        Value::Struct(s) => Some(s.schema()),
        _ => schema,
    };
    JsonConverter::schemaless()
        .write(&mut out.writer(), schema, value)
        .map_err(|e| e.to_string())
}

fn parse_uuid(text: &str) -> Result<[u8; 16], String> {
    let hex: Vec<u8> = text
        .bytes()
        .filter(|b| !matches!(b, b'-' | b'{' | b'}'))
        .collect();
    let invalid = || format!("invalid input syntax for type uuid: \"{text}\"");
    if hex.len() != 32 {
        return Err(invalid());
    }
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).map_err(|_| invalid())?;
        out[i] = u8::from_str_radix(s, 16).map_err(|_| invalid())?;
    }
    Ok(out)
}

/// A Connect array as PostgreSQL array text (`{"a","b"}`, `{{1,2},{3,4}}`).
fn array_literal(
    value: &Value,
    item_schema: Option<&SchemaRef>,
    out: &mut String,
) -> Result<(), String> {
    let Value::Array(items) = value else {
        return Err(mismatch(Kind::ArrayLiteral, value));
    };
    out.push('{');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match item {
            Value::Null => out.push_str("NULL"),
            Value::Array(_) => {
                array_literal(item, item_schema.and_then(|s| s.value_schema.as_ref()), out)?
            }
            _ => {
                let text = item_text(item, item_schema);
                out.push('"');
                for c in text.chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
            }
        }
    }
    out.push('}');
    Ok(())
}

/// The text PostgreSQL parses an array item from, honouring logical types.
fn item_text(item: &Value, schema: Option<&SchemaRef>) -> String {
    let logical_name = schema.and_then(|s| s.name.as_deref());
    match (logical_name, item) {
        (Some(logical::DECIMAL), Value::Bytes(b)) => {
            let scale = schema
                .and_then(|s| s.parameters.get(logical::DECIMAL_SCALE))
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            decimal::to_string(b, scale)
        }
        (Some(logical::DATE), v) => v
            .as_i64()
            .and_then(|d| chrono::DateTime::from_timestamp(d * 86_400, 0))
            .map(|d| d.date_naive().to_string())
            .unwrap_or_default(),
        (Some(logical::TIME), v) => v
            .as_i64()
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|d| d.time().to_string())
            .unwrap_or_default(),
        (Some(logical::TIMESTAMP), v) => v
            .as_i64()
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|d| d.to_rfc3339())
            .unwrap_or_default(),
        (_, Value::Bytes(b)) => {
            let mut s = String::from("\\x");
            for byte in b {
                s.push_str(&format!("{byte:02x}"));
            }
            s
        }
        (_, v) => value_to_text(v).unwrap_or_default(),
    }
}

/// Writes `unscaled × 10^-scale` in the binary `numeric` format: digit count, weight, sign
/// and display scale, then base-10000 digits.
pub fn write_numeric(unscaled: i128, scale: i32, out: &mut BytesMut) -> Result<(), String> {
    let (mut unscaled, scale) = if scale < 0 {
        let factor = 10i128
            .checked_pow((-scale) as u32)
            .ok_or("decimal scale out of range")?;
        (
            unscaled
                .checked_mul(factor)
                .ok_or("decimal value out of range")?,
            0usize,
        )
    } else {
        (unscaled, scale as usize)
    };
    let negative = unscaled < 0;
    if negative {
        unscaled = unscaled.checked_neg().ok_or("decimal value out of range")?;
    }
    let digits = unscaled.to_string();
    let (int_part, frac_part) = if digits.len() > scale {
        (
            digits[..digits.len() - scale].to_string(),
            digits[digits.len() - scale..].to_string(),
        )
    } else {
        (
            String::from("0"),
            format!("{}{digits}", "0".repeat(scale - digits.len())),
        )
    };
    let int_pad = (4 - int_part.len() % 4) % 4;
    let int_text = format!("{}{int_part}", "0".repeat(int_pad));
    let frac_pad = (4 - frac_part.len() % 4) % 4;
    let frac_text = format!("{frac_part}{}", "0".repeat(frac_pad));
    let group = |s: &str| -> Vec<i16> {
        s.as_bytes()
            .chunks(4)
            .map(|c| c.iter().fold(0i16, |acc, d| acc * 10 + (d - b'0') as i16))
            .collect()
    };
    let int_groups = group(&int_text);
    let mut groups = int_groups.clone();
    groups.extend(group(&frac_text));
    let mut weight = int_groups.len() as i32 - 1;
    let leading = groups.iter().take_while(|g| **g == 0).count();
    groups.drain(..leading);
    weight -= leading as i32;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    out.put_i16(groups.len() as i16);
    out.put_i16(weight as i16);
    out.put_u16(if negative && !groups.is_empty() {
        0x4000
    } else {
        0
    });
    out.put_u16(scale as u16);
    for g in groups {
        out.put_i16(g);
    }
    Ok(())
}

/// One column of a batch as a one-dimensional binary array parameter, built a cell at a
/// time.
#[derive(Debug)]
pub struct ColumnArray {
    kind: Kind,
    schema: Option<SchemaRef>,
    count: i32,
    nulls: i32,
    data: BytesMut,
}

/// A position in a [`ColumnArray`] to roll back to.
#[derive(Clone, Copy, Debug)]
pub struct ArrayMark {
    len: usize,
    count: i32,
    nulls: i32,
}

impl ColumnArray {
    pub fn new(kind: Kind, schema: Option<SchemaRef>, rows: usize) -> Self {
        ColumnArray {
            kind,
            schema,
            count: 0,
            nulls: 0,
            data: BytesMut::with_capacity(rows * 12),
        }
    }

    pub fn push(&mut self, value: &Value) -> Result<(), String> {
        write_cell(self.kind, self.schema.as_ref(), value, &mut self.data)?;
        self.count += 1;
        if value.is_null() {
            self.nulls += 1;
        }
        Ok(())
    }

    pub fn mark(&self) -> ArrayMark {
        ArrayMark {
            len: self.data.len(),
            count: self.count,
            nulls: self.nulls,
        }
    }

    pub fn rollback(&mut self, mark: ArrayMark) {
        self.data.truncate(mark.len);
        self.count = mark.count;
        self.nulls = mark.nulls;
    }
}

impl ToSql for ColumnArray {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.put_i32(1);
        out.put_i32((self.nulls > 0) as i32);
        out.put_u32(self.kind.element_oid());
        out.put_i32(self.count);
        out.put_i32(1);
        out.put_slice(&self.data);
        Ok(IsNull::No)
    }

    fn accepts(_ty: &Type) -> bool {
        // The statement casts each parameter to the array type this column was built for.
        true
    }

    tokio_postgres::types::to_sql_checked!();
}

/// Rows in the binary COPY format.
pub struct CopyRows {
    data: BytesMut,
    rows: usize,
}

impl CopyRows {
    pub fn new(capacity: usize) -> Self {
        let mut data = BytesMut::with_capacity(capacity + 19);
        data.put_slice(b"PGCOPY\n\xff\r\n\0");
        data.put_i32(0);
        data.put_i32(0);
        CopyRows { data, rows: 0 }
    }

    /// Starts a row of `columns` cells; write them with [`CopyRows::cell`].
    pub fn begin_row(&mut self, columns: usize) -> usize {
        let mark = self.data.len();
        self.data.put_i16(columns as i16);
        mark
    }

    pub fn cell(
        &mut self,
        kind: Kind,
        schema: Option<&SchemaRef>,
        value: &Value,
    ) -> Result<(), String> {
        write_cell(kind, schema, value, &mut self.data)
    }

    pub fn end_row(&mut self) {
        self.rows += 1;
    }

    /// Drops a row begun at `mark`.
    pub fn abandon_row(&mut self, mark: usize) {
        self.data.truncate(mark);
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The complete stream, with its trailer.
    pub fn finish(mut self) -> Bytes {
        self.data.put_i16(-1);
        self.data.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(unscaled: i128, scale: i32) -> Vec<i16> {
        let mut out = BytesMut::new();
        write_numeric(unscaled, scale, &mut out).unwrap();
        out.chunks(2)
            .map(|c| i16::from_be_bytes([c[0], c[1]]))
            .collect()
    }

    #[test]
    fn numeric_binary_format() {
        // ndigits, weight, sign, dscale, digits...
        assert_eq!(numeric(12345, 2), vec![2, 0, 0, 2, 123, 4500]);
        assert_eq!(numeric(1, 4), vec![1, -1, 0, 4, 1]);
        assert_eq!(numeric(-100_000_000, 0), vec![1, 2, 0x4000, 0, 1]);
        assert_eq!(numeric(0, 3), vec![0, 0, 0, 3]);
        assert_eq!(numeric(5, -2), vec![1, 0, 0, 0, 500]);
    }

    #[test]
    fn cells_are_length_prefixed_and_checked() {
        let mut out = BytesMut::new();
        write_cell(Kind::Int4, None, &Value::Int64(7), &mut out).unwrap();
        assert_eq!(&out[..], &[0, 0, 0, 4, 0, 0, 0, 7]);
        let before = out.len();
        assert!(write_cell(Kind::Int2, None, &Value::Int64(70_000), &mut out).is_err());
        assert_eq!(out.len(), before);
        out.clear();
        write_cell(Kind::Text, None, &Value::Null, &mut out).unwrap();
        assert_eq!(&out[..], &(-1i32).to_be_bytes());
        out.clear();
        write_cell(Kind::Date, None, &Value::Int32(10_958), &mut out).unwrap();
        assert_eq!(&out[4..], &1i32.to_be_bytes());
    }

    #[test]
    fn array_literals_quote_items() {
        let mut s = String::new();
        array_literal(
            &Value::Array(vec![
                Value::String("a\"b".into()),
                Value::Null,
                Value::Int32(3),
            ]),
            None,
            &mut s,
        )
        .unwrap();
        assert_eq!(s, r#"{"a\"b",NULL,"3"}"#);
    }

    #[test]
    fn uuid_text_parses() {
        assert_eq!(
            parse_uuid("123e4567-e89b-12d3-a456-426614174000").unwrap()[..2],
            [0x12, 0x3e]
        );
        assert!(parse_uuid("nope").is_err());
    }
}
