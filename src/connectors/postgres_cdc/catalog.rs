//! What the events need from PostgreSQL's catalog: the captured tables, their columns (with
//! NOT NULL, which pgoutput does not send), primary keys, and the kinds of enum, array and
//! domain types.

use std::collections::HashMap;

use tokio_postgres::Client;

use crate::errors::{ConnectError, Result};

use super::config::CdcConfig;
use super::events::ColumnDef;
use super::types::{builtin_kind, Kind};

fn failed(what: &str, e: tokio_postgres::Error) -> ConnectError {
    ConnectError::Retriable(format!(
        "could not read {what} from PostgreSQL: {}",
        crate::connectors::postgres::error_text(&e)
    ))
}

/// A table: its OID, schema and name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableRef {
    pub oid: u32,
    pub schema: String,
    pub name: String,
}

impl TableRef {
    /// `"schema"."name"`, quoted for SQL.
    pub fn quoted(&self) -> String {
        format!("{}.{}", quote(&self.schema), quote(&self.name))
    }
}

/// An SQL identifier in double quotes.
pub fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// An SQL string literal.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The ordinary and partitioned tables the config captures, by schema and name.
pub async fn captured_tables(client: &Client, config: &CdcConfig) -> Result<Vec<TableRef>> {
    let rows = client
        .query(
            "SELECT c.oid, n.nspname::text, c.relname::text FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition \
               AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
               AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' \
             ORDER BY 2, 3",
            &[],
        )
        .await
        .map_err(|e| failed("the list of tables", e))?;
    Ok(rows
        .iter()
        .map(|r| TableRef {
            oid: r.get(0),
            schema: r.get(1),
            name: r.get(2),
        })
        .filter(|t| config.captures_table(&t.schema, &t.name))
        .collect())
}

/// Resolves type kinds, caching them per (OID, typmod).
#[derive(Default)]
pub struct TypeCache {
    kinds: HashMap<(u32, i32), Kind>,
}

impl TypeCache {
    /// The kind of type `oid` with modifier `typmod`.
    pub async fn kind(&mut self, client: &Client, oid: u32, typmod: i32) -> Result<Kind> {
        if let Some(k) = builtin_kind(oid, typmod) {
            return Ok(k);
        }
        if let Some(k) = self.kinds.get(&(oid, typmod)) {
            return Ok(k.clone());
        }
        let kind = Box::pin(self.lookup(client, oid, typmod)).await?;
        self.kinds.insert((oid, typmod), kind.clone());
        Ok(kind)
    }

    async fn lookup(&mut self, client: &Client, oid: u32, typmod: i32) -> Result<Kind> {
        let Some(row) = client
            .query_opt(
                "SELECT typtype::text, typcategory::text, typelem, typbasetype, typtypmod \
                 FROM pg_type WHERE oid = $1",
                &[&oid],
            )
            .await
            .map_err(|e| failed("a type", e))?
        else {
            return Ok(Kind::Other);
        };
        let typtype: String = row.get(0);
        let category: String = row.get(1);
        let elem: u32 = row.get(2);
        let base: u32 = row.get(3);
        let base_mod: i32 = row.get(4);
        Ok(match (typtype.as_str(), category.as_str()) {
            ("e", _) => {
                let labels = client
                    .query(
                        "SELECT enumlabel::text FROM pg_enum WHERE enumtypid = $1 ORDER BY enumsortorder",
                        &[&oid],
                    )
                    .await
                    .map_err(|e| failed("enum labels", e))?;
                Kind::Enum(labels.iter().map(|r| r.get(0)).collect())
            }
            ("d", _) => {
                self.kind(client, base, if typmod >= 0 { typmod } else { base_mod })
                    .await?
            }
            (_, "A") if elem != 0 => Kind::Array(Box::new(self.kind(client, elem, typmod).await?)),
            _ => Kind::Other,
        })
    }
}

/// The columns of table `oid` in tuple order (no dropped or generated columns) and its
/// primary key columns in key order.
pub async fn columns(
    client: &Client,
    types: &mut TypeCache,
    oid: u32,
) -> Result<(Vec<ColumnDef>, Vec<String>)> {
    let rows = client
        .query(
            "SELECT a.attname::text, a.atttypid, a.atttypmod, a.attnotnull FROM pg_attribute a \
             WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' \
             ORDER BY a.attnum",
            &[&oid],
        )
        .await
        .map_err(|e| failed("table columns", e))?;
    let mut cols = Vec::with_capacity(rows.len());
    for r in &rows {
        cols.push(ColumnDef {
            name: r.get(0),
            kind: types.kind(client, r.get(1), r.get(2)).await?,
            not_null: r.get(3),
        });
    }
    let pk = client
        .query(
            "SELECT a.attname::text FROM pg_index i \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
             WHERE i.indrelid = $1 AND i.indisprimary \
             ORDER BY array_position(i.indkey::int2[], a.attnum)",
            &[&oid],
        )
        .await
        .map_err(|e| failed("the primary key", e))?;
    Ok((cols, pk.iter().map(|r| r.get(0)).collect()))
}
