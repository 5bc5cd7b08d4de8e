//! `DropHeaders`: removes every header with one of the given names.
//!
//! ```properties
//! transforms=clean
//! transforms.clean.type=org.apache.kafka.connect.transforms.DropHeaders
//! transforms.clean.headers=x-debug,x-internal
//! ```

use std::collections::HashSet;

use super::config_keys::{non_empty_list, parse};
use super::Transformation;
use crate::config::{ConfigDef, ConfigKey, ConfigMap, ConfigType, Importance};
use crate::data::Record;
use crate::errors::Result;

/// Connect's class name.
pub const CLASS: &str = "org.apache.kafka.connect.transforms.DropHeaders";

const HEADERS: &str = "headers";

/// Removes named headers.
pub struct DropHeaders {
    headers: HashSet<String>,
}

impl DropHeaders {
    pub fn config_def() -> ConfigDef {
        ConfigDef::new().define(
            ConfigKey::new(HEADERS, ConfigType::List)
                .validator(non_empty_list())
                .importance(Importance::High)
                .doc("The name of the headers to be removed."),
        )
    }

    pub fn new(config: &ConfigMap) -> Result<Self> {
        let p = parse(&Self::config_def(), config)?;
        Ok(DropHeaders {
            headers: p.list(HEADERS).into_iter().collect(),
        })
    }
}

impl Transformation for DropHeaders {
    fn apply(&mut self, mut record: Record) -> Result<Option<Record>> {
        record.headers.0.retain(|h| !self.headers.contains(&h.key));
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Value;
    use crate::transform::test_support::*;

    #[test]
    fn drops_all_headers_with_listed_names() {
        let mut t = DropHeaders::new(&cfg(&[("headers", "a,b")])).unwrap();
        let mut r = value_record(None, Value::Null);
        for k in ["a", "keep", "a", "b"] {
            r.headers.push(k, None, Value::from(k));
        }
        let r = t.apply(r).unwrap().unwrap();
        let keys: Vec<&str> = r.headers.iter().map(|h| h.key.as_str()).collect();
        assert_eq!(keys, ["keep"]);
    }

    #[test]
    fn bad_configs() {
        assert_eq!(
            DropHeaders::new(&cfg(&[])).err().unwrap().to_string(),
            "Missing required configuration \"headers\" which has no default value."
        );
        assert_eq!(
            DropHeaders::new(&cfg(&[("headers", "")]))
                .err()
                .unwrap()
                .to_string(),
            "Invalid value [] for configuration headers: Empty list"
        );
    }
}
