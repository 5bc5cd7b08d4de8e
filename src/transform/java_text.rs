//! Text forms of values as Java prints them (`Double.toString`, `Float.toString`,
//! `Values.dateFormatFor`), for SMTs whose output Connect defines through Java's `toString`.

use chrono::DateTime;

const MILLIS_PER_DAY: i64 = 86_400_000;

/// Java's `Double.toString`.
pub fn double_to_string(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    // Rust's `{:e}` gives the shortest digits that round-trip, as Java (since JDK 19) does.
    java_layout(&format!("{v:e}"), v == 0.0, v.abs())
}

/// Java's `Float.toString`.
pub fn float_to_string(v: f32) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    java_layout(&format!("{v:e}"), v == 0.0, v.abs() as f64)
}

/// Lays out Rust's `d.ddde±x` shortest form the way Java does: plain decimal for
/// 10^-3 <= |v| < 10^7, otherwise `d.dddE±x`, always with a digit after the point.
fn java_layout(sci: &str, is_zero: bool, magnitude: f64) -> String {
    let (neg, sci) = match sci.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, sci),
    };
    let sign = if neg { "-" } else { "" };
    if is_zero {
        return format!("{sign}0.0");
    }
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    if (1e-3..1e7).contains(&magnitude) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            let (int, frac) = if digits.len() > int_len {
                (digits[..int_len].to_string(), digits[int_len..].to_string())
            } else {
                (
                    format!("{digits}{}", "0".repeat(int_len - digits.len())),
                    "0".to_string(),
                )
            };
            format!("{sign}{int}.{frac}")
        } else {
            format!("{sign}0.{}{digits}", "0".repeat((-exp - 1) as usize))
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        format!("{sign}{first}.{rest}E{exp}")
    }
}

/// Connect's `Values.dateFormatFor(date).format(date)` for epoch milliseconds: a time of day
/// (`HH:mm:ss.SSS'Z'`) below one day, a date (`yyyy-MM-dd`) on whole days, otherwise a
/// timestamp (`yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`), all in UTC.
pub fn iso_date_text(epoch_millis: i64) -> String {
    let Some(t) = DateTime::from_timestamp_millis(epoch_millis) else {
        return epoch_millis.to_string();
    };
    if epoch_millis < MILLIS_PER_DAY {
        t.format("%H:%M:%S%.3fZ").to_string()
    } else if epoch_millis % MILLIS_PER_DAY == 0 {
        t.format("%Y-%m-%d").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_like_java() {
        let cases = [
            (1.0, "1.0"),
            (-2.5, "-2.5"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1234567.0, "1234567.0"),
            (12345678.0, "1.2345678E7"),
            (1e10, "1.0E10"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (100.0, "100.0"),
            (2.71, "2.71"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (v, want) in cases {
            assert_eq!(double_to_string(v), want, "{v}");
        }
        assert_eq!(float_to_string(1.1f32), "1.1");
        assert_eq!(float_to_string(1e10f32), "1.0E10");
    }

    #[test]
    fn dates_use_connect_iso_forms() {
        assert_eq!(iso_date_text(0), "00:00:00.000Z");
        assert_eq!(iso_date_text(3_723_004), "01:02:03.004Z");
        assert_eq!(iso_date_text(19_723 * MILLIS_PER_DAY), "2024-01-01");
        assert_eq!(iso_date_text(1_704_067_200_123), "2024-01-01T00:00:00.123Z");
    }
}
