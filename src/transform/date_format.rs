//! Java `SimpleDateFormat` patterns (TimestampConverter `format`, TimestampRouter
//! `timestamp.format`) translated to chrono format items, always in UTC as Connect sets them.
//!
//! Supported letters: `y` (`yy` = two-digit year), `M`/`L` (`M`, `MM`, `MMM`, `MMMM`), `d`,
//! `H`, `h`, `m`, `s`, `SSS` (milliseconds), `E`, `a`, `D`, `u`, `Z` (`+0000`), `X`/`XX`
//! (`Z` or `+0000`), `XXX` (`Z` or `+00:00`), `z` (format only), and `'quoted literals'`
//! (`''` is a quote). Other pattern letters are refused when the SMT is configured, rather
//! than producing wrong text at run time.

use chrono::format::{Fixed, Item, Parsed, StrftimeItems};
use chrono::{DateTime, NaiveDate, NaiveTime};

/// A compiled `SimpleDateFormat` pattern.
#[derive(Clone, Debug)]
pub struct JavaDateFormat {
    pattern: String,
    items: Vec<Item<'static>>,
}

impl JavaDateFormat {
    /// Translates a Java pattern; the error names the offending letter.
    pub fn new(pattern: &str) -> Result<Self, String> {
        Ok(JavaDateFormat {
            pattern: pattern.to_string(),
            items: translate(pattern)?,
        })
    }

    /// The Java pattern this was built from.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Formats epoch milliseconds in UTC.
    pub fn format_millis(&self, epoch_millis: i64) -> String {
        match DateTime::from_timestamp_millis(epoch_millis) {
            Some(t) => t.format_with_items(self.items.iter()).to_string(),
            None => epoch_millis.to_string(),
        }
    }

    /// Parses text to epoch milliseconds. As `DateFormat.parse` does, text after the pattern is
    /// ignored; fields the pattern lacks default to 1970-01-01 00:00:00.000 UTC.
    pub fn parse_millis(&self, text: &str) -> Option<i64> {
        let mut parsed = Parsed::new();
        chrono::format::parse_and_remainder(&mut parsed, text, self.items.iter()).ok()?;
        let date = resolve_date(&mut parsed)?;
        let time = resolve_time(&mut parsed)?;
        let offset_secs = parsed.offset().unwrap_or(0) as i64;
        let local = date.and_time(time).and_utc().timestamp_millis();
        Some(local - offset_secs * 1000)
    }
}

fn resolve_date(parsed: &mut Parsed) -> Option<NaiveDate> {
    if let Ok(d) = parsed.to_naive_date() {
        return Some(d);
    }
    if parsed.year().is_none() && parsed.year_mod_100().is_none() {
        parsed.set_year(1970).ok()?;
    }
    if parsed.ordinal().is_none() {
        if parsed.month().is_none() {
            parsed.set_month(1).ok()?;
        }
        if parsed.day().is_none() {
            parsed.set_day(1).ok()?;
        }
    }
    parsed.to_naive_date().ok()
}

fn resolve_time(parsed: &mut Parsed) -> Option<NaiveTime> {
    match (parsed.hour_div_12(), parsed.hour_mod_12()) {
        (None, None) => parsed.set_hour(0).ok()?,
        // A 12-hour clock without an AM/PM marker reads as AM, as in Java.
        (None, Some(_)) => parsed.set_ampm(false).ok()?,
        (Some(_), None) => parsed.set_hour12(12).ok()?,
        _ => {}
    }
    if parsed.minute().is_none() {
        parsed.set_minute(0).ok()?;
    }
    if parsed.second().is_none() {
        parsed.set_second(0).ok()?;
    }
    parsed.to_naive_time().ok()
}

/// The chrono items for one run of a pattern letter.
fn letter_items(letter: char, count: usize, pattern: &str) -> Result<Vec<Item<'static>>, String> {
    let spec: &'static str = match (letter, count) {
        ('y', 2) => "%y",
        ('y', _) => "%Y",
        ('M' | 'L', 1) => "%-m",
        ('M' | 'L', 2) => "%m",
        ('M' | 'L', 3) => "%b",
        ('M' | 'L', _) => "%B",
        ('d', 1) => "%-d",
        ('d', _) => "%d",
        ('H', 1) => "%-H",
        ('H', _) => "%H",
        ('h', 1) => "%-I",
        ('h', _) => "%I",
        ('m', 1) => "%-M",
        ('m', _) => "%M",
        ('s', 1) => "%-S",
        ('s', _) => "%S",
        ('S', 3) => "%3f",
        ('E', 1..=3) => "%a",
        ('E', _) => "%A",
        ('a', _) => "%p",
        ('D', 1) => "%-j",
        ('D', _) => "%j",
        ('u', _) => "%u",
        ('Z', _) => "%z",
        ('z', _) => "%Z",
        ('X', 1 | 2) => return Ok(vec![Item::Fixed(Fixed::TimezoneOffsetZ)]),
        ('X', 3) => return Ok(vec![Item::Fixed(Fixed::TimezoneOffsetColonZ)]),
        ('S', _) => {
            return Err(format!(
                "unsupported date format pattern \"{pattern}\": milliseconds must be written SSS"
            ))
        }
        _ => {
            return Err(format!(
                "unsupported pattern letter '{letter}' in date format pattern \"{pattern}\"; supported letters are y, M, L, d, H, h, m, s, SSS, E, a, D, u, Z, X, z and 'quoted text'"
            ))
        }
    };
    Ok(StrftimeItems::new(spec).collect())
}

/// Translates a Java pattern into chrono items.
fn translate(pattern: &str) -> Result<Vec<Item<'static>>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut items = Vec::new();
    let mut literal = String::new();
    let mut i = 0;
    let flush = |literal: &mut String, items: &mut Vec<Item<'static>>| {
        if !literal.is_empty() {
            items.push(Item::OwnedLiteral(std::mem::take(literal).into_boxed_str()));
        }
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            if chars.get(i + 1) == Some(&'\'') {
                literal.push('\'');
                i += 2;
                continue;
            }
            // A quoted section: up to the next lone quote; `''` inside is a quote.
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(format!(
                            "unterminated quote in date format pattern \"{pattern}\""
                        ))
                    }
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        literal.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        literal.push(ch);
                        i += 1;
                    }
                }
            }
        } else if c.is_ascii_alphabetic() {
            let start = i;
            while i < chars.len() && chars[i] == c {
                i += 1;
            }
            flush(&mut literal, &mut items);
            items.extend(letter_items(c, i - start, pattern)?);
        } else {
            literal.push(c);
            i += 1;
        }
    }
    flush(&mut literal, &mut items);
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2024-03-05T07:08:09.012Z
    const T: i64 = 1_709_622_489_012;

    fn fmt(p: &str) -> String {
        JavaDateFormat::new(p).unwrap().format_millis(T)
    }

    #[test]
    fn formats_common_letters() {
        assert_eq!(fmt("yyyyMMdd"), "20240305");
        assert_eq!(fmt("yyyy-MM-dd HH:mm:ss.SSS"), "2024-03-05 07:08:09.012");
        assert_eq!(fmt("yy/M/d H:m:s"), "24/3/5 7:8:9");
        assert_eq!(
            fmt("yyyy-MM-dd'T'HH:mm:ss.SSSZ"),
            "2024-03-05T07:08:09.012+0000"
        );
        assert_eq!(fmt("yyyy-MM-dd'T'HH:mm:ssX"), "2024-03-05T07:08:09Z");
        assert_eq!(fmt("yyyy-MM-dd'T'HH:mm:ssXXX"), "2024-03-05T07:08:09Z");
        assert_eq!(fmt("EEE, d MMM yyyy hh:mm a"), "Tue, 5 Mar 2024 07:08 AM");
        assert_eq!(fmt("EEEE MMMM"), "Tuesday March");
        assert_eq!(fmt("'week' u, 'day' DDD, ''yy''"), "week 2, day 065, '24'");
        assert_eq!(
            fmt("HH%mm"),
            "07%08",
            "a % is a literal, not a chrono directive"
        );
    }

    #[test]
    fn parses_with_defaults_and_offsets() {
        let f = JavaDateFormat::new("yyyy-MM-dd HH:mm:ss.SSS").unwrap();
        assert_eq!(f.parse_millis("2024-03-05 07:08:09.012"), Some(T));
        let f = JavaDateFormat::new("yyyyMMdd").unwrap();
        assert_eq!(f.parse_millis("20240305"), Some(1_709_596_800_000));
        let f = JavaDateFormat::new("HH:mm").unwrap();
        assert_eq!(f.parse_millis("01:30"), Some(5_400_000));
        let f = JavaDateFormat::new("yyyy-MM-dd'T'HH:mm:ssXXX").unwrap();
        assert_eq!(
            f.parse_millis("2024-03-05T09:08:09+02:00"),
            Some(T - 12),
            "the offset is applied"
        );
        assert_eq!(f.parse_millis("2024-03-05T07:08:09Z"), Some(T - 12));
        let f = JavaDateFormat::new("yyyy-MM-dd").unwrap();
        assert_eq!(
            f.parse_millis("2024-03-05 trailing"),
            Some(1_709_596_800_000),
            "text after the pattern is ignored, as DateFormat.parse does"
        );
        assert_eq!(f.parse_millis("05/03/2024"), None);
        let f = JavaDateFormat::new("hh:mm a").unwrap();
        assert_eq!(f.parse_millis("01:00 PM"), Some(13 * 3_600_000));
    }

    #[test]
    fn refuses_unsupported_patterns() {
        let err = JavaDateFormat::new("yyyy G").unwrap_err();
        assert!(err.contains("unsupported pattern letter 'G'"), "{err}");
        assert!(JavaDateFormat::new("ss.SS").is_err());
        assert!(JavaDateFormat::new("yyyy 'open").is_err());
    }
}
