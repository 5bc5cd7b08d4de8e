//! A table's columns as the catalog describes them, and the DDL `auto.create` and
//! `auto.evolve` issue.

use tokio_postgres::Client;

use super::identifier::{Quoting, TableId};
use super::types::PgType;

/// One column of an existing table.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnMeta {
    pub name: String,
    pub pg_type: PgType,
    /// `format_type` text (`numeric(10,2)`, `character varying(20)`), used in casts.
    pub sql_type: String,
    pub not_null: bool,
    pub has_default: bool,
    pub in_primary_key: bool,
    /// A `serial` or identity column (the source's auto-detected incrementing column).
    pub auto_increment: bool,
}

/// A table's catalog entry.
#[derive(Clone, Debug, PartialEq)]
pub struct TableMeta {
    pub id: TableId,
    pub columns: Vec<ColumnMeta>,
}

impl TableMeta {
    pub fn column(&self, name: &str) -> Option<&ColumnMeta> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Reads a table's columns; `None` when there is no such table (resolved with the session's
/// `search_path` when unqualified).
pub async fn describe(
    client: &Client,
    table: &TableId,
) -> Result<Option<TableMeta>, tokio_postgres::Error> {
    let Some(row) = client
        .query_opt(
            "SELECT c.oid, n.nspname::text, c.relname::text FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)",
            &[&table.quoted()],
        )
        .await?
    else {
        return Ok(None);
    };
    let oid: u32 = row.get(0);
    let id = TableId::new(
        Some(row.get::<_, String>(1).as_str()),
        &row.get::<_, String>(2),
    );
    let rows = client
        .query(
            "SELECT a.attname::text, a.atttypid, a.atttypmod, format_type(a.atttypid, a.atttypmod), \
                    a.attnotnull, a.atthasdef, t.typcategory::text, \
                    COALESCE(a.attnum = ANY(i.indkey), false), \
                    (a.attidentity <> '' OR COALESCE(pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%', false)) \
             FROM pg_attribute a \
             JOIN pg_type t ON t.oid = a.atttypid \
             LEFT JOIN pg_index i ON i.indrelid = a.attrelid AND i.indisprimary \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attnum",
            &[&oid],
        )
        .await?;
    let columns = rows
        .iter()
        .map(|r| {
            let category: String = r.get(6);
            ColumnMeta {
                name: r.get(0),
                pg_type: PgType::from_oid(r.get(1), r.get(2), category.chars().next()),
                sql_type: r.get(3),
                not_null: r.get(4),
                has_default: r.get(5),
                in_primary_key: r.get(7),
                auto_increment: r.get(8),
            }
        })
        .collect();
    Ok(Some(TableMeta { id, columns }))
}

/// A column `auto.create` or `auto.evolve` adds.
#[derive(Clone, Debug, PartialEq)]
pub struct NewColumn {
    pub name: String,
    pub sql_type: String,
    pub not_null: bool,
    /// A SQL literal.
    pub default: Option<String>,
}

impl NewColumn {
    fn spec(&self, quoting: Quoting) -> String {
        let mut s = format!("{} {}", quoting.ident(&self.name), self.sql_type);
        if let Some(d) = &self.default {
            s.push_str(" DEFAULT ");
            s.push_str(d);
        }
        s.push_str(if self.not_null { " NOT NULL" } else { " NULL" });
        s
    }
}

/// `CREATE TABLE` with a primary key on `primary_key` (none when empty). `IF NOT EXISTS`
/// lets several tasks race to create the same table.
pub fn create_table_sql(
    table: &TableId,
    columns: &[NewColumn],
    primary_key: &[String],
    quoting: Quoting,
) -> String {
    let mut parts: Vec<String> = columns.iter().map(|c| c.spec(quoting)).collect();
    if !primary_key.is_empty() {
        let keys: Vec<String> = primary_key.iter().map(|k| quoting.ident(k)).collect();
        parts.push(format!("PRIMARY KEY({})", keys.join(",")));
    }
    format!(
        "CREATE TABLE IF NOT EXISTS {} (\n{})",
        table.sql(quoting),
        parts.join(",\n")
    )
}

/// `ALTER TABLE ... ADD COLUMN IF NOT EXISTS ...` for every column.
pub fn add_columns_sql(table: &TableId, columns: &[NewColumn], quoting: Quoting) -> String {
    let adds: Vec<String> = columns
        .iter()
        .map(|c| format!("ADD COLUMN IF NOT EXISTS {}", c.spec(quoting)))
        .collect();
    format!("ALTER TABLE {} {}", table.sql(quoting), adds.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ddl_text() {
        let t = TableId::new(None, "orders");
        let cols = vec![
            NewColumn {
                name: "id".into(),
                sql_type: "BIGINT".into(),
                not_null: true,
                default: None,
            },
            NewColumn {
                name: "qty".into(),
                sql_type: "INT".into(),
                not_null: false,
                default: Some("1".into()),
            },
        ];
        assert_eq!(
            create_table_sql(&t, &cols, &["id".to_string()], Quoting::Always),
            "CREATE TABLE IF NOT EXISTS \"orders\" (\n\"id\" BIGINT NOT NULL,\n\"qty\" INT DEFAULT 1 NULL,\nPRIMARY KEY(\"id\"))"
        );
        assert_eq!(
            add_columns_sql(&t, &cols[1..], Quoting::Never),
            "ALTER TABLE orders ADD COLUMN IF NOT EXISTS qty INT DEFAULT 1 NULL"
        );
    }
}
