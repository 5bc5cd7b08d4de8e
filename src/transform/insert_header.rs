//! `InsertHeader`: adds a header with a literal value to every record.
//!
//! ```properties
//! transforms=origin
//! transforms.origin.type=org.apache.kafka.connect.transforms.InsertHeader
//! transforms.origin.header=origin
//! transforms.origin.value.literal=conveyor
//! ```
//!
//! The literal is typed as Connect's `Values.parseString` would (`42` is an INT8, `true` a
//! BOOLEAN, anything else a STRING). Existing headers with the same name are kept.

use super::config_keys::parse;
use super::Transformation;
use crate::config::{ConfigDef, ConfigKey, ConfigMap, ConfigType, Importance};
use crate::convert::header::parse_header_text;
use crate::data::{Record, SchemaRef, Value};
use crate::errors::Result;

/// Connect's class name.
pub const CLASS: &str = "org.apache.kafka.connect.transforms.InsertHeader";

const HEADER: &str = "header";
const VALUE_LITERAL: &str = "value.literal";

/// Adds a fixed header.
pub struct InsertHeader {
    header: String,
    schema: Option<SchemaRef>,
    value: Value,
}

impl InsertHeader {
    pub fn config_def() -> ConfigDef {
        ConfigDef::new()
            .define(
                ConfigKey::new(HEADER, ConfigType::String)
                    .importance(Importance::High)
                    .doc("The name of the header."),
            )
            .define(
                ConfigKey::new(VALUE_LITERAL, ConfigType::String)
                    .importance(Importance::High)
                    .doc("The literal value that is to be set as the header value on all records."),
            )
    }

    pub fn new(config: &ConfigMap) -> Result<Self> {
        let p = parse(&Self::config_def(), config)?;
        let (schema, value) = parse_header_text(p.string(VALUE_LITERAL).unwrap_or_default());
        Ok(InsertHeader {
            header: p.string(HEADER).unwrap_or_default().to_string(),
            schema,
            value,
        })
    }
}

impl Transformation for InsertHeader {
    fn apply(&mut self, mut record: Record) -> Result<Option<Record>> {
        record
            .headers
            .push(self.header.clone(), self.schema.clone(), self.value.clone());
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Schema, SchemaType};
    use crate::transform::test_support::*;

    #[test]
    fn adds_a_typed_header_keeping_existing_ones() {
        let mut t = InsertHeader::new(&cfg(&[("header", "h"), ("value.literal", "42")])).unwrap();
        let mut r = value_record(None, Value::Null);
        r.headers
            .push("h", Some(Schema::string()), Value::from("old"));
        let r = t.apply(r).unwrap().unwrap();
        assert_eq!(r.headers.len(), 2);
        let h = r.headers.last_with_name("h").unwrap();
        assert_eq!(h.value, Value::Int8(42));
        assert_eq!(h.schema.as_ref().unwrap().schema_type, SchemaType::Int8);
        let mut t =
            InsertHeader::new(&cfg(&[("header", "o"), ("value.literal", "conveyor")])).unwrap();
        let r = t.apply(value_record(None, Value::Null)).unwrap().unwrap();
        assert_eq!(
            r.headers.last_with_name("o").unwrap().value,
            Value::from("conveyor")
        );
    }

    #[test]
    fn bad_configs() {
        assert_eq!(
            InsertHeader::new(&cfg(&[("header", "h")]))
                .err()
                .unwrap()
                .to_string(),
            "Missing required configuration \"value.literal\" which has no default value."
        );
        assert_eq!(
            InsertHeader::new(&cfg(&[("value.literal", "v")]))
                .err()
                .unwrap()
                .to_string(),
            "Missing required configuration \"header\" which has no default value."
        );
    }
}
