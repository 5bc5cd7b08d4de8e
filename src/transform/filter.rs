//! `Filter`: drops every record it is applied to. Use it with a predicate:
//!
//! ```properties
//! transforms=dropTombstones
//! transforms.dropTombstones.type=org.apache.kafka.connect.transforms.Filter
//! transforms.dropTombstones.predicate=isTombstone
//! predicates=isTombstone
//! predicates.isTombstone.type=org.apache.kafka.connect.transforms.predicates.RecordIsTombstone
//! ```
//!
//! With `negate=true` on the transform, the records that match the predicate are kept and the
//! others dropped.

use super::config_keys::parse;
use super::Transformation;
use crate::config::{ConfigDef, ConfigMap};
use crate::data::Record;
use crate::errors::Result;

/// Connect's class name.
pub const CLASS: &str = "org.apache.kafka.connect.transforms.Filter";

/// Drops records.
pub struct Filter;

impl Filter {
    pub fn config_def() -> ConfigDef {
        ConfigDef::new()
    }

    pub fn new(config: &ConfigMap) -> Result<Self> {
        parse(&Self::config_def(), config)?;
        Ok(Filter)
    }
}

impl Transformation for Filter {
    fn apply(&mut self, _record: Record) -> Result<Option<Record>> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Value;
    use crate::transform::test_support::*;

    #[test]
    fn drops_every_record_and_ignores_unknown_keys() {
        let mut f = Filter::new(&cfg(&[("anything", "x")])).unwrap();
        assert_eq!(f.apply(value_record(None, Value::from("v"))).unwrap(), None);
        assert!(Filter::config_def().is_empty());
    }
}
