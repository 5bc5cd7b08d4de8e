//! Adds the built-in converters, transformations and predicates, which their own modules list
//! ([`crate::convert::builtins`], [`crate::transform::builtin_transforms`],
//! [`crate::transform::builtin_predicates`]), under their Kafka Connect class names and
//! simple-name aliases.

use super::registry::{
    default_aliases, ConverterPlugin, PluginRegistry, PredicatePlugin, TransformPlugin,
};
use super::VERSION;
use crate::convert::RegistryClientFactory;
use crate::transform;

/// Adds the built-in converters and header converters; the registry-backed ones get their
/// schema registry client from `registry_client`.
pub fn register_converters(reg: &mut PluginRegistry, registry_client: RegistryClientFactory) {
    for c in crate::convert::builtins(registry_client) {
        reg.add_converter(ConverterPlugin {
            class: c.class.to_string(),
            aliases: default_aliases(c.class, "Converter"),
            version: VERSION.to_string(),
            new: c.new,
            new_header: c.new_header,
        });
    }
}

fn aliases(class: &str) -> Vec<String> {
    let mut out = default_aliases(class, "");
    out.dedup();
    out
}

/// Adds Kafka Connect's built-in transformations (`$Key`/`$Value` variants where Connect has
/// them) and predicates.
pub fn register_transforms(reg: &mut PluginRegistry) {
    for t in transform::builtin_transforms() {
        reg.add_transform(TransformPlugin {
            aliases: aliases(&t.class),
            class: t.class,
            version: VERSION.to_string(),
            config_def: t.config_def,
            new: t.new,
        });
    }
    for p in transform::builtin_predicates() {
        reg.add_predicate(PredicatePlugin {
            aliases: aliases(&p.class),
            class: p.class,
            version: VERSION.to_string(),
            config_def: p.config_def,
            new: p.new,
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::ConfigDef;
    use crate::config::ConfigMap;
    use crate::data::{Headers, OffsetMap, Record, Value};

    fn registry() -> PluginRegistry {
        let mut reg = PluginRegistry::new();
        register_transforms(&mut reg);
        reg
    }

    #[test]
    fn registers_every_connect_smt_and_predicate() {
        let reg = registry();
        let keyed = [
            "Cast",
            "ExtractField",
            "Flatten",
            "HeaderFrom",
            "HoistField",
            "InsertField",
            "MaskField",
            "ReplaceField",
            "SetSchemaMetadata",
            "TimestampConverter",
        ];
        for name in keyed {
            for variant in ["Key", "Value"] {
                let class = format!("org.apache.kafka.connect.transforms.{name}${variant}");
                let plugin = reg.transform(&class).unwrap();
                assert_eq!(plugin.class, class);
                assert!(!plugin.config_def.is_empty() || name == "Filter");
                let alias = format!("{name}${variant}");
                assert_eq!(reg.transform(&alias).unwrap().class, class);
            }
        }
        for name in [
            "DropHeaders",
            "Filter",
            "InsertHeader",
            "RegexRouter",
            "TimestampRouter",
            "ValueToKey",
        ] {
            let class = format!("org.apache.kafka.connect.transforms.{name}");
            assert_eq!(reg.transform(&class).unwrap().class, class);
            assert_eq!(reg.transform(name).unwrap().class, class);
        }
        for name in ["TopicNameMatches", "HasHeaderKey", "RecordIsTombstone"] {
            let class = format!("org.apache.kafka.connect.transforms.predicates.{name}");
            assert_eq!(reg.predicate(&class).unwrap().class, class);
            assert_eq!(reg.predicate(name).unwrap().class, class);
        }
        let listed = reg
            .list()
            .into_iter()
            .filter(|p| {
                matches!(
                    p.plugin_type,
                    super::super::PluginType::Transformation | super::super::PluginType::Predicate
                )
            })
            .count();
        // Debezium's ExtractNewRecordState, for the PostgreSQL CDC topics.
        let debezium = "io.debezium.transforms.ExtractNewRecordState";
        assert_eq!(reg.transform(debezium).unwrap().class, debezium);
        assert_eq!(
            reg.transform("ExtractNewRecordState").unwrap().class,
            debezium
        );
        assert_eq!(listed, 10 * 2 + 6 + 3 + 1);
    }

    #[test]
    fn factories_build_working_instances_and_report_config_errors() {
        let reg = registry();
        let cfg: ConfigMap = [("static.field", "s"), ("static.value", "v")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut t = (reg.transform("InsertField$Value").unwrap().new)(&cfg).unwrap();
        let record = Record::source(
            "t",
            OffsetMap::new(),
            OffsetMap::new(),
            None,
            Value::string_map([("a", Value::Int64(1))]),
        );
        let out = t.apply(record.clone()).unwrap().unwrap();
        assert_eq!(out.value.map_get("s"), Some(&Value::from("v")));

        let err = (reg
            .transform("org.apache.kafka.connect.transforms.Cast$Value")
            .unwrap()
            .new)(&ConfigMap::new())
        .err()
        .unwrap();
        assert!(matches!(err, crate::errors::ConnectError::Config(_)));

        let mut filter = (reg.transform("Filter").unwrap().new)(&ConfigMap::new()).unwrap();
        assert_eq!(filter.apply(record.clone()).unwrap(), None);

        let mut tomb =
            (reg.predicate("RecordIsTombstone").unwrap().new)(&ConfigMap::new()).unwrap();
        let mut r = record;
        r.headers = Headers::new();
        assert!(!tomb.test(&r).unwrap());
        r.value = Value::Null;
        assert!(tomb.test(&r).unwrap());
    }

    #[test]
    fn chain_applies_filter_with_predicates_and_negate() {
        use crate::runtime::transform_chain::TransformChain;
        let raw: ConfigMap = [
            ("transforms", "dropTombstones,onlyAudit,route"),
            ("transforms.dropTombstones.type", "Filter"),
            ("transforms.dropTombstones.predicate", "isTombstone"),
            (
                "transforms.onlyAudit.type",
                "org.apache.kafka.connect.transforms.Filter",
            ),
            ("transforms.onlyAudit.predicate", "isAudit"),
            ("transforms.onlyAudit.negate", "true"),
            ("transforms.route.type", "RegexRouter"),
            ("transforms.route.regex", "audit-(.*)"),
            ("transforms.route.replacement", "$1"),
            ("predicates", "isTombstone,isAudit"),
            ("predicates.isTombstone.type", "RecordIsTombstone"),
            ("predicates.isAudit.type", "TopicNameMatches"),
            ("predicates.isAudit.pattern", "audit-.*"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut reg = PluginRegistry::new();
        register_transforms(&mut reg);
        let mut chain = TransformChain::build(&raw, &reg).unwrap();
        let rec = |topic: &str, value: Value| {
            Record::source(topic, OffsetMap::new(), OffsetMap::new(), None, value)
        };
        let out = chain.apply(vec![
            rec("audit-users", Value::from("a")),
            rec("audit-users", Value::Null),
            rec("orders", Value::from("b")),
        ]);
        let kept: Vec<Option<String>> = out
            .into_iter()
            .map(|r| r.unwrap().map(|r| r.topic))
            .collect();
        assert_eq!(kept, [Some("users".to_string()), None, None]);
    }

    /// Counts batches and fails one chosen value, to see how the chain calls a predicate.
    struct BatchCountingPredicate {
        batches: Arc<parking_lot::Mutex<Vec<usize>>>,
    }

    impl crate::transform::Predicate for BatchCountingPredicate {
        fn test(&mut self, record: &Record) -> crate::errors::Result<bool> {
            match &record.value {
                Value::String(s) if s == "bad" => Err(crate::ConnectError::Other("bad".into())),
                Value::String(s) => Ok(s.starts_with('a')),
                _ => Ok(false),
            }
        }

        fn test_batch(&mut self, records: &[&Record]) -> Vec<crate::errors::Result<bool>> {
            self.batches.lock().push(records.len());
            records.iter().map(|r| self.test(r)).collect()
        }
    }

    #[test]
    fn a_predicate_sees_each_batch_once_and_its_failures_stay_with_their_record() {
        use crate::runtime::transform_chain::TransformChain;
        let batches = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let mut reg = PluginRegistry::new();
        register_transforms(&mut reg);
        let seen = batches.clone();
        reg.add_predicate(crate::plugin::PredicatePlugin {
            class: "StartsWithA".into(),
            aliases: Vec::new(),
            version: "test".into(),
            config_def: ConfigDef::new(),
            new: Arc::new(move |_| {
                Ok(Box::new(BatchCountingPredicate {
                    batches: seen.clone(),
                }))
            }),
        });
        let raw: ConfigMap = [
            ("transforms", "drop"),
            ("transforms.drop.type", "Filter"),
            ("transforms.drop.predicate", "a"),
            ("predicates", "a"),
            ("predicates.a.type", "StartsWithA"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut chain = TransformChain::build(&raw, &reg).unwrap();
        let rec = |v: &str| {
            Record::source(
                "t",
                OffsetMap::new(),
                OffsetMap::new(),
                None,
                Value::from(v),
            )
        };
        let out = chain.apply(vec![rec("apple"), rec("bad"), rec("berry"), rec("avocado")]);
        assert_eq!(*batches.lock(), vec![4]);
        assert!(matches!(out[0], Ok(None)));
        assert_eq!(out[1].as_ref().unwrap_err().class, "StartsWithA");
        assert_eq!(
            out[2].as_ref().unwrap().as_ref().map(|r| r.value.clone()),
            Some(Value::from("berry"))
        );
        assert!(matches!(out[3], Ok(None)));
    }
}
