//! Binary result values to Connect values, for the source.

use tokio_postgres::types::{FromSql, Type};

use crate::data::{decimal, SchemaType, Value};

use super::types::{Decoder, PG_EPOCH_DAYS, PG_EPOCH_MILLIS};

/// Microseconds between the Unix epoch and 2000-01-01.
pub const PG_EPOCH_MICROS: i64 = PG_EPOCH_MILLIS * 1000;

/// A column's raw binary value (`None` for SQL NULL), whatever its type.
pub struct Raw<'a>(pub Option<&'a [u8]>);

impl<'a> FromSql<'a> for Raw<'a> {
    fn from_sql(
        _ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(Some(raw)))
    }

    fn from_sql_null(_ty: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(None))
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }
}

fn fixed<const N: usize>(raw: &[u8]) -> Result<[u8; N], String> {
    raw.try_into()
        .map_err(|_| format!("expected {N} bytes, got {}", raw.len()))
}

/// A `timestamp`/`timestamptz` value as microseconds since the Unix epoch.
pub fn timestamp_micros(raw: &[u8]) -> Result<i64, String> {
    let v = i64::from_be_bytes(fixed(raw)?);
    if v == i64::MAX || v == i64::MIN {
        return Err("infinite timestamps cannot be represented".into());
    }
    Ok(v + PG_EPOCH_MICROS)
}

/// An integer column (int2/int4/int8) as i64, for incrementing offsets.
pub fn integer(raw: &[u8]) -> Result<i64, String> {
    Ok(match raw.len() {
        2 => i16::from_be_bytes(fixed(raw)?) as i64,
        4 => i32::from_be_bytes(fixed(raw)?) as i64,
        8 => i64::from_be_bytes(fixed(raw)?),
        _ => {
            let (unscaled, scale) = numeric(raw)?;
            if scale != 0 {
                return Err("the incrementing column must be an integer".into());
            }
            i64::try_from(unscaled).map_err(|_| "incrementing value out of range".to_string())?
        }
    })
}

/// A binary `numeric` as (unscaled, display scale).
pub fn numeric(raw: &[u8]) -> Result<(i128, i32), String> {
    if raw.len() < 8 {
        return Err("truncated numeric".into());
    }
    let word = |i: usize| u16::from_be_bytes([raw[i], raw[i + 1]]);
    let ndigits = word(0) as usize;
    let weight = word(2) as i16 as i32;
    let sign = word(4);
    let dscale = word(6) as i32;
    if sign == 0xC000 || sign == 0xD000 || sign == 0xF000 {
        return Err("NaN and infinite numerics cannot be represented".into());
    }
    if raw.len() < 8 + ndigits * 2 {
        return Err("truncated numeric".into());
    }
    let overflow = || "numeric value above 38 digits".to_string();
    let mut acc: i128 = 0;
    for i in 0..ndigits {
        let d = word(8 + i * 2) as i128;
        acc = acc
            .checked_mul(10_000)
            .and_then(|a| a.checked_add(d))
            .ok_or_else(overflow)?;
    }
    // acc × 10^-exp is the value.
    let exp = if ndigits == 0 {
        0
    } else {
        4 * (ndigits as i32 - 1 - weight)
    };
    let shift = dscale - exp;
    let unscaled = if shift >= 0 {
        acc.checked_mul(10i128.checked_pow(shift as u32).ok_or_else(overflow)?)
            .ok_or_else(overflow)?
    } else {
        acc / 10i128.checked_pow((-shift) as u32).ok_or_else(overflow)?
    };
    Ok((if sign == 0x4000 { -unscaled } else { unscaled }, dscale))
}

fn rescale(unscaled: i128, from: i32, to: i32) -> Result<i128, String> {
    let overflow = || "numeric value above 38 digits".to_string();
    if to >= from {
        unscaled
            .checked_mul(
                10i128
                    .checked_pow((to - from) as u32)
                    .ok_or_else(overflow)?,
            )
            .ok_or_else(overflow)
    } else {
        let div = 10i128
            .checked_pow((from - to) as u32)
            .ok_or_else(overflow)?;
        let (q, r) = (unscaled / div, unscaled % div);
        // Round half away from zero, as BigDecimal.setScale(HALF_UP) would.
        Ok(if r.abs() * 2 >= div {
            q + unscaled.signum()
        } else {
            q
        })
    }
}

/// Decodes one non-null value.
pub fn decode(decoder: Decoder, raw: &[u8]) -> Result<Value, String> {
    Ok(match decoder {
        Decoder::Bool => Value::Boolean(raw.first().is_some_and(|b| *b != 0)),
        Decoder::Int2 => Value::Int16(i16::from_be_bytes(fixed(raw)?)),
        Decoder::Int4 => Value::Int32(i32::from_be_bytes(fixed(raw)?)),
        Decoder::Int8 => Value::Int64(i64::from_be_bytes(fixed(raw)?)),
        Decoder::Oid => Value::Int64(u32::from_be_bytes(fixed(raw)?) as i64),
        Decoder::Float4 => Value::Float32(f32::from_be_bytes(fixed(raw)?)),
        Decoder::Float8 => Value::Float64(f64::from_be_bytes(fixed(raw)?)),
        Decoder::NumericDecimal(scale) => {
            let (unscaled, dscale) = numeric(raw)?;
            Value::Bytes(decimal::to_bytes(rescale(unscaled, dscale, scale)?))
        }
        Decoder::NumericInt(t) => {
            let (unscaled, dscale) = numeric(raw)?;
            let v = rescale(unscaled, dscale, 0)?;
            let out_of_range = || format!("{v} does not fit {}", t.connect_name());
            match t {
                SchemaType::Int8 => Value::Int8(i8::try_from(v).map_err(|_| out_of_range())?),
                SchemaType::Int16 => Value::Int16(i16::try_from(v).map_err(|_| out_of_range())?),
                SchemaType::Int32 => Value::Int32(i32::try_from(v).map_err(|_| out_of_range())?),
                _ => Value::Int64(i64::try_from(v).map_err(|_| out_of_range())?),
            }
        }
        Decoder::NumericFloat => {
            let (unscaled, dscale) = numeric(raw)?;
            Value::Float64(
                decimal::format_unscaled(unscaled, dscale)
                    .parse()
                    .map_err(|_| "bad numeric".to_string())?,
            )
        }
        Decoder::NumericText => {
            let (unscaled, dscale) = numeric(raw)?;
            Value::String(decimal::format_unscaled(unscaled, dscale))
        }
        Decoder::Text => Value::String(String::from_utf8_lossy(raw).into_owned()),
        Decoder::Jsonb => {
            Value::String(String::from_utf8_lossy(raw.get(1..).unwrap_or_default()).into_owned())
        }
        Decoder::Bytea => Value::Bytes(raw.to_vec()),
        Decoder::Uuid => {
            let b: [u8; 16] = fixed(raw)?;
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            Value::String(format!(
                "{}-{}-{}-{}-{}",
                &hex[0..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..32]
            ))
        }
        Decoder::Date => {
            let days = i32::from_be_bytes(fixed(raw)?);
            if days == i32::MAX || days == i32::MIN {
                return Err("infinite dates cannot be represented".into());
            }
            Value::Int32(days + PG_EPOCH_DAYS)
        }
        Decoder::Time => Value::Int32((i64::from_be_bytes(fixed(raw)?) / 1000) as i32),
        Decoder::Timestamp => Value::Int64(timestamp_micros(raw)?.div_euclid(1000)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    fn round_trip(unscaled: i128, scale: i32) -> (i128, i32) {
        let mut out = BytesMut::new();
        super::super::encode::write_numeric(unscaled, scale, &mut out).unwrap();
        numeric(&out).unwrap()
    }

    #[test]
    fn numeric_round_trips() {
        for (u, s) in [
            (12345, 2),
            (1, 4),
            (-100_000_000, 0),
            (0, 3),
            (-5, 1),
            (99_999_999_999_999_999, 9),
        ] {
            assert_eq!(round_trip(u, s), (u, s));
        }
        assert_eq!(rescale(125, 2, 1).unwrap(), 13);
        assert_eq!(rescale(-125, 2, 1).unwrap(), -13);
        assert_eq!(rescale(5, 0, 2).unwrap(), 500);
    }
}
