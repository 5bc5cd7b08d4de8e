//! Statement text for the sink's set-based writes: each column arrives as one array
//! parameter and `UNNEST` turns the arrays back into rows, so a batch of any size is one
//! statement (and one prepared plan).

use super::identifier::{Quoting, TableId};
use super::types::Kind;

/// A column as a statement writes it: its name, the array element kind the values are sent
/// as, and the cast to the column's type when that kind is not the column's own.
#[derive(Clone, Debug, PartialEq)]
pub struct StatementColumn {
    pub name: String,
    pub kind: Kind,
    pub cast: Option<String>,
    pub key: bool,
}

fn unnest(columns: &[&StatementColumn]) -> String {
    let params: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("${}::{}[]", i + 1, c.kind.sql_name()))
        .collect();
    let aliases: Vec<String> = (0..columns.len()).map(|i| format!("c{i}")).collect();
    format!("UNNEST({}) AS v({})", params.join(", "), aliases.join(", "))
}

fn value_expr(i: usize, c: &StatementColumn) -> String {
    match &c.cast {
        Some(t) => format!("v.c{i}::{t}"),
        None => format!("v.c{i}"),
    }
}

fn idents(columns: &[&StatementColumn], quoting: Quoting) -> String {
    columns
        .iter()
        .map(|c| quoting.ident(&c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `INSERT INTO t (...) SELECT ... FROM UNNEST(...)`.
pub fn insert(table: &TableId, columns: &[StatementColumn], quoting: Quoting) -> String {
    let all: Vec<&StatementColumn> = columns.iter().collect();
    let exprs: Vec<String> = all
        .iter()
        .enumerate()
        .map(|(i, c)| value_expr(i, c))
        .collect();
    format!(
        "INSERT INTO {} ({}) SELECT {} FROM {}",
        table.sql(quoting),
        idents(&all, quoting),
        exprs.join(", "),
        unnest(&all)
    )
}

/// The insert with `ON CONFLICT (keys) DO UPDATE SET` every other column (or `DO NOTHING`
/// when every column is a key).
pub fn upsert(table: &TableId, columns: &[StatementColumn], quoting: Quoting) -> String {
    let keys: Vec<&StatementColumn> = columns.iter().filter(|c| c.key).collect();
    let others: Vec<String> = columns
        .iter()
        .filter(|c| !c.key)
        .map(|c| {
            let n = quoting.ident(&c.name);
            format!("{n}=EXCLUDED.{n}")
        })
        .collect();
    let action = if others.is_empty() {
        "DO NOTHING".to_string()
    } else {
        format!("DO UPDATE SET {}", others.join(", "))
    };
    format!(
        "{} ON CONFLICT ({}) {action}",
        insert(table, columns, quoting),
        idents(&keys, quoting)
    )
}

/// `UPDATE t SET ... FROM UNNEST(...) WHERE keys match`; `None` when there is nothing but
/// keys to set.
pub fn update(table: &TableId, columns: &[StatementColumn], quoting: Quoting) -> Option<String> {
    let all: Vec<&StatementColumn> = columns.iter().collect();
    let sets: Vec<String> = all
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.key)
        .map(|(i, c)| format!("{}={}", quoting.ident(&c.name), value_expr(i, c)))
        .collect();
    if sets.is_empty() {
        return None;
    }
    Some(format!(
        "UPDATE {} AS t SET {} FROM {} WHERE {}",
        table.sql(quoting),
        sets.join(", "),
        unnest(&all),
        key_match(&all, quoting)
    ))
}

/// `DELETE FROM t USING UNNEST(keys) WHERE keys match`; `columns` are the key columns.
pub fn delete(table: &TableId, keys: &[StatementColumn], quoting: Quoting) -> String {
    let all: Vec<&StatementColumn> = keys.iter().collect();
    format!(
        "DELETE FROM {} AS t USING {} WHERE {}",
        table.sql(quoting),
        unnest(&all),
        key_match(&all, quoting)
    )
}

fn key_match(columns: &[&StatementColumn], quoting: Quoting) -> String {
    columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.key)
        .map(|(i, c)| format!("t.{}={}", quoting.ident(&c.name), value_expr(i, c)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// `COPY t (...) FROM STDIN (FORMAT binary)`, for columns that need no cast.
pub fn copy_in(table: &TableId, columns: &[StatementColumn], quoting: Quoting) -> String {
    let all: Vec<&StatementColumn> = columns.iter().collect();
    format!(
        "COPY {} ({}) FROM STDIN (FORMAT binary)",
        table.sql(quoting),
        idents(&all, quoting)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols() -> Vec<StatementColumn> {
        vec![
            StatementColumn {
                name: "id".into(),
                kind: Kind::Int8,
                cast: None,
                key: true,
            },
            StatementColumn {
                name: "price".into(),
                kind: Kind::Numeric(2),
                cast: Some("numeric(10,2)".into()),
                key: false,
            },
        ]
    }

    #[test]
    fn statements() {
        let t = TableId::new(None, "orders");
        assert_eq!(
            upsert(&t, &cols(), Quoting::Always),
            "INSERT INTO \"orders\" (\"id\", \"price\") SELECT v.c0, v.c1::numeric(10,2) FROM UNNEST($1::int8[], $2::numeric[]) AS v(c0, c1) ON CONFLICT (\"id\") DO UPDATE SET \"price\"=EXCLUDED.\"price\""
        );
        assert_eq!(
            update(&t, &cols(), Quoting::Always).unwrap(),
            "UPDATE \"orders\" AS t SET \"price\"=v.c1::numeric(10,2) FROM UNNEST($1::int8[], $2::numeric[]) AS v(c0, c1) WHERE t.\"id\"=v.c0"
        );
        assert_eq!(
            delete(&t, &cols()[..1], Quoting::Always),
            "DELETE FROM \"orders\" AS t USING UNNEST($1::int8[]) AS v(c0) WHERE t.\"id\"=v.c0"
        );
        assert!(upsert(&t, &cols()[..1], Quoting::Always).ends_with("DO NOTHING"));
        assert_eq!(
            copy_in(&t, &cols(), Quoting::Never),
            "COPY orders (id, price) FROM STDIN (FORMAT binary)"
        );
    }
}
