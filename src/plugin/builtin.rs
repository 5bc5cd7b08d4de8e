//! Registration of the built-in converters, transformations and predicates.

use std::sync::Arc;

use super::registry::{
    default_aliases, ConverterPlugin, PluginRegistry, PredicateFactory, PredicatePlugin,
    TransformFactory, TransformPlugin,
};
use super::VERSION;
use crate::config::ConfigDef;
use crate::convert::{
    ByteArrayConverter, Converter, HeaderConverter, JsonConverter, NumberConverter,
    SimpleHeaderConverter, StringConverter,
};
use crate::data::SchemaType;
use crate::transform::{self, predicates, Predicate, Target, Transformation};

fn converter_plugin(
    class: &str,
    new: Option<crate::convert::ConverterFactory>,
    new_header: Option<crate::convert::HeaderConverterFactory>,
) -> ConverterPlugin {
    ConverterPlugin {
        class: class.to_string(),
        aliases: default_aliases(class, "Converter"),
        version: VERSION.to_string(),
        new,
        new_header,
    }
}

/// Adds the built-in converters and header converters.
pub fn register_converters(reg: &mut PluginRegistry) {
    reg.add_converter(converter_plugin(
        "org.apache.kafka.connect.json.JsonConverter",
        Some(Arc::new(|cfg, _| {
            Ok(Arc::new(JsonConverter::from_config(cfg)?) as Arc<dyn Converter>)
        })),
        Some(Arc::new(|cfg| {
            Ok(Arc::new(JsonConverter::from_config(cfg)?) as Arc<dyn HeaderConverter>)
        })),
    ));
    reg.add_converter(converter_plugin(
        "org.apache.kafka.connect.storage.StringConverter",
        Some(Arc::new(|cfg, _| {
            Ok(Arc::new(StringConverter::from_config(cfg)?) as Arc<dyn Converter>)
        })),
        Some(Arc::new(|cfg| {
            Ok(Arc::new(StringConverter::from_config(cfg)?) as Arc<dyn HeaderConverter>)
        })),
    ));
    reg.add_converter(converter_plugin(
        "org.apache.kafka.connect.converters.ByteArrayConverter",
        Some(Arc::new(|_, _| {
            Ok(Arc::new(ByteArrayConverter) as Arc<dyn Converter>)
        })),
        Some(Arc::new(|_| {
            Ok(Arc::new(ByteArrayConverter) as Arc<dyn HeaderConverter>)
        })),
    ));
    reg.add_converter(converter_plugin(
        "org.apache.kafka.connect.storage.SimpleHeaderConverter",
        None,
        Some(Arc::new(|_| {
            Ok(Arc::new(SimpleHeaderConverter) as Arc<dyn HeaderConverter>)
        })),
    ));
    reg.add_converter(converter_plugin(
        crate::convert::avro::CLASS,
        Some(Arc::new(|cfg, is_key| {
            let client = crate::schema_registry::client::client_from_config(cfg)?;
            Ok(Arc::new(crate::convert::avro::AvroConverter::new(
                client, cfg, is_key,
            )?) as Arc<dyn Converter>)
        })),
        None,
    ));
    reg.add_converter(converter_plugin(
        crate::convert::protobuf::CLASS,
        Some(Arc::new(|cfg, is_key| {
            let client = crate::schema_registry::client::client_from_config(cfg)?;
            Ok(Arc::new(crate::convert::protobuf::ProtobufConverter::new(
                client, cfg, is_key,
            )?) as Arc<dyn Converter>)
        })),
        None,
    ));
    reg.add_converter(converter_plugin(
        crate::convert::json_schema::CLASS,
        Some(Arc::new(|cfg, is_key| {
            let client = crate::schema_registry::client::client_from_config(cfg)?;
            Ok(
                Arc::new(crate::convert::json_schema::JsonSchemaConverter::new(
                    client, cfg, is_key,
                )?) as Arc<dyn Converter>,
            )
        })),
        None,
    ));
    for (class, ty) in [
        (
            "org.apache.kafka.connect.converters.ShortConverter",
            SchemaType::Int16,
        ),
        (
            "org.apache.kafka.connect.converters.IntegerConverter",
            SchemaType::Int32,
        ),
        (
            "org.apache.kafka.connect.converters.LongConverter",
            SchemaType::Int64,
        ),
        (
            "org.apache.kafka.connect.converters.FloatConverter",
            SchemaType::Float32,
        ),
        (
            "org.apache.kafka.connect.converters.DoubleConverter",
            SchemaType::Float64,
        ),
        (
            "org.apache.kafka.connect.converters.BooleanConverter",
            SchemaType::Boolean,
        ),
    ] {
        reg.add_converter(converter_plugin(
            class,
            Some(Arc::new(move |_, _| {
                Ok(Arc::new(NumberConverter::new(ty)) as Arc<dyn Converter>)
            })),
            None,
        ));
    }
}

fn aliases(class: &str) -> Vec<String> {
    let mut out = default_aliases(class, "");
    out.dedup();
    out
}

fn transform_plugin(
    class: String,
    config_def: ConfigDef,
    new: TransformFactory,
) -> TransformPlugin {
    TransformPlugin {
        aliases: aliases(&class),
        class,
        version: VERSION.to_string(),
        config_def,
        new,
    }
}

fn predicate_plugin(class: &str, config_def: ConfigDef, new: PredicateFactory) -> PredicatePlugin {
    PredicatePlugin {
        aliases: aliases(class),
        class: class.to_string(),
        version: VERSION.to_string(),
        config_def,
        new,
    }
}

/// Registers `X$Key` and `X$Value` for an SMT built as `X::new(target, config)`.
macro_rules! keyed_transform {
    ($reg:expr, $module:ident :: $ty:ident) => {
        for target in Target::ALL {
            $reg.add_transform(transform_plugin(
                target.class(transform::$module::CLASS),
                transform::$ty::config_def(),
                Arc::new(move |cfg| {
                    Ok(Box::new(transform::$ty::new(target, cfg)?) as Box<dyn Transformation>)
                }),
            ));
        }
    };
}

/// Registers an SMT that has no key/value variants, built as `X::new(config)`.
macro_rules! plain_transform {
    ($reg:expr, $module:ident :: $ty:ident) => {
        $reg.add_transform(transform_plugin(
            transform::$module::CLASS.to_string(),
            transform::$ty::config_def(),
            Arc::new(|cfg| Ok(Box::new(transform::$ty::new(cfg)?) as Box<dyn Transformation>)),
        ));
    };
}

/// Registers a predicate built as `X::new(config)`.
macro_rules! predicate {
    ($reg:expr, $class:expr, $ty:ident) => {
        $reg.add_predicate(predicate_plugin(
            $class,
            transform::$ty::config_def(),
            Arc::new(|cfg| Ok(Box::new(transform::$ty::new(cfg)?) as Box<dyn Predicate>)),
        ));
    };
}

/// Adds Kafka Connect's built-in transformations (`$Key`/`$Value` variants where Connect has
/// them) and predicates, under their Connect class names and simple-name aliases.
pub fn register_transforms(reg: &mut PluginRegistry) {
    keyed_transform!(reg, cast::Cast);
    plain_transform!(reg, drop_headers::DropHeaders);
    keyed_transform!(reg, extract_field::ExtractField);
    plain_transform!(reg, extract_new_record_state::ExtractNewRecordState);
    plain_transform!(reg, filter::Filter);
    keyed_transform!(reg, flatten::Flatten);
    keyed_transform!(reg, header_from::HeaderFrom);
    keyed_transform!(reg, hoist_field::HoistField);
    keyed_transform!(reg, insert_field::InsertField);
    plain_transform!(reg, insert_header::InsertHeader);
    keyed_transform!(reg, mask_field::MaskField);
    plain_transform!(reg, regex_router::RegexRouter);
    keyed_transform!(reg, replace_field::ReplaceField);
    keyed_transform!(reg, set_schema_metadata::SetSchemaMetadata);
    keyed_transform!(reg, timestamp_converter::TimestampConverter);
    plain_transform!(reg, timestamp_router::TimestampRouter);
    plain_transform!(reg, value_to_key::ValueToKey);

    predicate!(reg, predicates::TOPIC_NAME_MATCHES, TopicNameMatches);
    predicate!(reg, predicates::HAS_HEADER_KEY, HasHeaderKey);
    predicate!(reg, predicates::RECORD_IS_TOMBSTONE, RecordIsTombstone);
}

#[cfg(test)]
mod tests {
    use super::*;
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
