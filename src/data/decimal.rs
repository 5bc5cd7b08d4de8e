//! The Decimal logical type's byte form: big-endian two's-complement unscaled value.
//! Values up to 38 digits (i128) are supported.

/// Minimal big-endian two's-complement bytes of `unscaled` (Java's `BigInteger.toByteArray`).
pub fn to_bytes(unscaled: i128) -> Vec<u8> {
    let bytes = unscaled.to_be_bytes();
    let mut start = 0;
    while start < bytes.len() - 1 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        let redundant = (b == 0x00 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0);
        if !redundant {
            break;
        }
        start += 1;
    }
    bytes[start..].to_vec()
}

/// The unscaled value of Decimal bytes; `None` when longer than 16 bytes.
pub fn from_bytes(bytes: &[u8]) -> Option<i128> {
    if bytes.is_empty() {
        return Some(0);
    }
    if bytes.len() > 16 {
        return None;
    }
    let fill = if bytes[0] & 0x80 != 0 { 0xff } else { 0x00 };
    let mut buf = [fill; 16];
    buf[16 - bytes.len()..].copy_from_slice(bytes);
    Some(i128::from_be_bytes(buf))
}

/// Renders Decimal bytes at `scale` as a plain decimal string (`123.45`).
pub fn to_string(bytes: &[u8], scale: i32) -> String {
    match from_bytes(bytes) {
        Some(v) => format_unscaled(v, scale),
        None => "NaN".to_string(),
    }
}

/// The sign and decimal digits of the unscaled value in Decimal bytes of any length.
fn unscaled_digits(bytes: &[u8]) -> (bool, String) {
    if let Some(v) = from_bytes(bytes) {
        return (v < 0, v.unsigned_abs().to_string());
    }
    let negative = bytes[0] & 0x80 != 0;
    let mut magnitude = bytes.to_vec();
    if negative {
        // Two's complement: invert, add one.
        for b in magnitude.iter_mut() {
            *b = !*b;
        }
        for b in magnitude.iter_mut().rev() {
            let (sum, carry) = b.overflowing_add(1);
            *b = sum;
            if !carry {
                break;
            }
        }
    }
    // Long division by 10^9, base 256, collecting nine digits at a time.
    const CHUNK: u64 = 1_000_000_000;
    let mut chunks = Vec::new();
    while magnitude.iter().any(|&b| b != 0) {
        let mut rem = 0u64;
        for b in magnitude.iter_mut() {
            let cur = (rem << 8) | *b as u64;
            *b = (cur / CHUNK) as u8;
            rem = cur % CHUNK;
        }
        chunks.push(rem);
    }
    let mut digits = chunks
        .pop()
        .map(|c| c.to_string())
        .unwrap_or_else(|| "0".into());
    for c in chunks.iter().rev() {
        digits.push_str(&format!("{c:09}"));
    }
    (negative, digits)
}

/// Decimal bytes at `scale` as Java's `BigDecimal.toString` writes them (what Kafka's
/// JsonConverter writes with `decimal.format=NUMERIC`, and what Connect prints): every
/// digit and the scale kept (`1.5600`), exponent form only when the scale is negative or
/// the number is below 10^-6 (`1E-10`, `1.23E+4`).
pub fn to_java_string(bytes: &[u8], scale: i32) -> String {
    let (negative, digits) = unscaled_digits(bytes);
    let sign = if negative { "-" } else { "" };
    let adjusted = digits.len() as i64 - 1 - scale as i64;
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    if scale > 0 && adjusted >= -6 {
        let scale = scale as usize;
        return if digits.len() > scale {
            let (int, frac) = digits.split_at(digits.len() - scale);
            format!("{sign}{int}.{frac}")
        } else {
            format!("{sign}0.{}{digits}", "0".repeat(scale - digits.len()))
        };
    }
    let (first, rest) = digits.split_at(1);
    let point = if rest.is_empty() { "" } else { "." };
    let plus = if adjusted > 0 { "+" } else { "" };
    format!("{sign}{first}{point}{rest}E{plus}{adjusted}")
}

/// Renders an unscaled value at `scale`.
pub fn format_unscaled(unscaled: i128, scale: i32) -> String {
    if scale <= 0 {
        let mut s = unscaled.to_string();
        for _ in 0..(-scale) {
            s.push('0');
        }
        return s;
    }
    let neg = unscaled < 0;
    let digits = unscaled.unsigned_abs().to_string();
    let scale = scale as usize;
    let padded = if digits.len() <= scale {
        format!("{}{}", "0".repeat(scale - digits.len() + 1), digits)
    } else {
        digits
    };
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{}{int}.{frac}", if neg { "-" } else { "" })
}

/// Parses decimal text (`-12.5`, `3e2`) to an unscaled value at `scale`, rounding half up.
pub fn parse_unscaled(text: &str, scale: i32) -> Option<i128> {
    let text = text.trim();
    let (mantissa, exp) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let neg = mantissa.starts_with('-');
    let mantissa = mantissa.trim_start_matches(['-', '+']);
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())
        || (int.is_empty() && frac.is_empty())
    {
        return None;
    }
    let digits: String = format!("{int}{frac}");
    let digit_scale = frac.len() as i32 - exp;
    let mut value: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    let shift = scale - digit_scale;
    if shift >= 0 {
        value = value.checked_mul(10i128.checked_pow(shift as u32)?)?;
    } else {
        let div = 10i128.checked_pow((-shift) as u32)?;
        let rem = value % div;
        value /= div;
        if rem * 2 >= div {
            value += 1;
        }
    }
    Some(if neg { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_match_java_big_integer() {
        assert_eq!(to_bytes(0), vec![0]);
        assert_eq!(to_bytes(127), vec![0x7f]);
        assert_eq!(to_bytes(128), vec![0x00, 0x80]);
        assert_eq!(to_bytes(-1), vec![0xff]);
        assert_eq!(to_bytes(-129), vec![0xff, 0x7f]);
        for v in [0, 1, -1, 12345, -98765432109876543210, i64::MAX as i128] {
            assert_eq!(from_bytes(&to_bytes(v)), Some(v));
        }
    }

    #[test]
    fn java_strings_keep_digits_and_scale() {
        let cases: [(i128, i32, &str); 10] = [
            (15600, 4, "1.5600"),
            (0, 2, "0.00"),
            (0, 10, "0E-10"),
            (-5, 3, "-0.005"),
            (1, 6, "0.000001"),
            (1, 7, "1E-7"),
            (123, -2, "1.23E+4"),
            (7, -1, "7E+1"),
            (-123456, 9, "-0.000123456"),
            (42, 0, "42"),
        ];
        for (unscaled, scale, want) in cases {
            assert_eq!(to_java_string(&to_bytes(unscaled), scale), want);
        }
        // Beyond 128 bits: 2^159 - 1 and -(2^159).
        let mut max = vec![0x7f];
        max.extend([0xff; 19]);
        assert_eq!(
            to_java_string(&max, 0),
            "730750818665451459101842416358141509827966271487"
        );
        let mut min = vec![0x80];
        min.extend([0x00; 19]);
        assert_eq!(
            to_java_string(&min, 3),
            "-730750818665451459101842416358141509827966271.488"
        );
    }

    #[test]
    fn text_round_trip() {
        assert_eq!(parse_unscaled("123.45", 2), Some(12345));
        assert_eq!(parse_unscaled("-0.5", 1), Some(-5));
        assert_eq!(parse_unscaled("1.005", 2), Some(101));
        assert_eq!(parse_unscaled("3e2", 0), Some(300));
        assert_eq!(parse_unscaled("abc", 0), None);
        assert_eq!(format_unscaled(12345, 2), "123.45");
        assert_eq!(format_unscaled(-5, 3), "-0.005");
        assert_eq!(format_unscaled(7, 0), "7");
    }
}
