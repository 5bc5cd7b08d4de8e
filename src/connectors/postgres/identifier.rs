//! SQL identifiers: table ids parsed from `schema.table` text, and quoting as the JDBC
//! connector's `quote.sql.identifiers` asks.

use std::fmt;

/// `quote.sql.identifiers`: `always` quotes every identifier (names keep their case), `never`
/// writes them bare (PostgreSQL folds them to lower case).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quoting {
    Always,
    Never,
}

impl Quoting {
    /// Parses the config value (case-insensitive).
    pub fn parse(s: &str) -> Option<Quoting> {
        match s.trim().to_ascii_lowercase().as_str() {
            "always" => Some(Quoting::Always),
            "never" => Some(Quoting::Never),
            _ => None,
        }
    }

    /// `name` as it appears in SQL text.
    pub fn ident(self, name: &str) -> String {
        match self {
            Quoting::Always => quote(name),
            Quoting::Never => name.to_string(),
        }
    }

    /// The name PostgreSQL stores for `name` written this way (unquoted names fold to lower
    /// case), used to match record fields with existing columns.
    pub fn stored_name(self, name: &str) -> String {
        match self {
            Quoting::Always => name.to_string(),
            Quoting::Never => name.to_lowercase(),
        }
    }
}

/// Double-quotes an identifier, doubling embedded quotes.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Single-quotes a string literal for SQL text.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A table, optionally schema-qualified.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableId {
    pub schema: Option<String>,
    pub name: String,
}

impl TableId {
    pub fn new(schema: Option<&str>, name: &str) -> Self {
        TableId {
            schema: schema.map(String::from),
            name: name.to_string(),
        }
    }

    /// Parses `table`, `schema.table` or `db.schema.table` (the database part is ignored: a
    /// connection only sees its own database). Double-quoted parts may contain dots.
    pub fn parse(text: &str) -> Option<TableId> {
        let parts = split_outside_quotes(text, '.');
        let parts: Vec<String> = parts.iter().map(|p| unquote(p.trim())).collect();
        if parts.iter().any(String::is_empty) {
            return None;
        }
        match parts.as_slice() {
            [name] => Some(TableId::new(None, name)),
            [schema, name] | [_, schema, name] => Some(TableId::new(Some(schema), name)),
            _ => None,
        }
    }

    /// The table as SQL text, quoted per `quoting`.
    pub fn sql(&self, quoting: Quoting) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", quoting.ident(s), quoting.ident(&self.name)),
            None => quoting.ident(&self.name),
        }
    }

    /// Always-quoted text, for task configs and `to_regclass`.
    pub fn quoted(&self) -> String {
        self.sql(Quoting::Always)
    }
}

impl fmt::Display for TableId {
    /// Unquoted `schema.table`, as the JDBC connector names tables in offsets and logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{s}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Splits on `sep` where it is not inside double quotes.
pub fn split_outside_quotes(text: &str, sep: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    for c in text.chars() {
        if c == '"' {
            in_quotes = !in_quotes;
        }
        if c == sep && !in_quotes {
            out.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    out.push(current);
    out
}

/// Removes surrounding double quotes and un-doubles embedded ones.
fn unquote(part: &str) -> String {
    if part.len() >= 2 && part.starts_with('"') && part.ends_with('"') {
        part[1..part.len() - 1].replace("\"\"", "\"")
    } else {
        part.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_quotes_table_ids() {
        assert_eq!(TableId::parse("orders"), Some(TableId::new(None, "orders")));
        let t = TableId::parse("\"my.schema\".\"Or\"\"ders\"").unwrap();
        assert_eq!(t, TableId::new(Some("my.schema"), "Or\"ders"));
        assert_eq!(t.quoted(), "\"my.schema\".\"Or\"\"ders\"");
        assert_eq!(TableId::parse(t.quoted().as_str()), Some(t));
        assert_eq!(
            TableId::parse("db.public.orders"),
            Some(TableId::new(Some("public"), "orders"))
        );
        assert_eq!(TableId::parse("a..b"), None);
        assert_eq!(
            TableId::new(Some("public"), "orders").to_string(),
            "public.orders"
        );
        assert_eq!(
            TableId::new(None, "Orders").sql(Quoting::Never),
            "Orders".to_string()
        );
    }

    #[test]
    fn splits_lists_outside_quotes() {
        assert_eq!(
            split_outside_quotes("\"a,b\".c,d", ','),
            vec!["\"a,b\".c".to_string(), "d".to_string()]
        );
    }
}
