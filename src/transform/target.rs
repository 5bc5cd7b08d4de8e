//! Which part of a record an SMT works on: the key (`X$Key`) or the value (`X$Value`).

use crate::data::{Record, SchemaRef, Value};

/// The record part a `$Key`/`$Value` transformation operates on (Connect's
/// `operatingSchema`/`operatingValue`/`newRecord` trio).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    Key,
    Value,
}

impl Target {
    /// Both variants, keys first (the order they are registered in).
    pub const ALL: [Target; 2] = [Target::Key, Target::Value];

    /// Connect's nested class name: `Key` or `Value`.
    pub fn variant(self) -> &'static str {
        match self {
            Target::Key => "Key",
            Target::Value => "Value",
        }
    }

    /// The class name of the variant of `base` (`...InsertField` → `...InsertField$Value`).
    pub fn class(self, base: &str) -> String {
        format!("{base}${}", self.variant())
    }

    /// The schema of the operated-on part.
    pub fn schema(self, record: &Record) -> Option<&SchemaRef> {
        match self {
            Target::Key => record.key_schema.as_ref(),
            Target::Value => record.value_schema.as_ref(),
        }
    }

    /// The operated-on value.
    pub fn value(self, record: &Record) -> &Value {
        match self {
            Target::Key => &record.key,
            Target::Value => &record.value,
        }
    }

    /// Replaces the schema and value of the operated-on part.
    pub fn set(self, record: &mut Record, schema: Option<SchemaRef>, value: Value) {
        match self {
            Target::Key => {
                record.key_schema = schema;
                record.key = value;
            }
            Target::Value => {
                record.value_schema = schema;
                record.value = value;
            }
        }
    }

    /// Moves the schema and value out of the record (leaving no schema and null behind), for
    /// transformations that rebuild them.
    pub fn take(self, record: &mut Record) -> (Option<SchemaRef>, Value) {
        match self {
            Target::Key => (record.key_schema.take(), std::mem::take(&mut record.key)),
            Target::Value => (
                record.value_schema.take(),
                std::mem::take(&mut record.value),
            ),
        }
    }
}
