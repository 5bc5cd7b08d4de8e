//! Registration of the built-in converters, transformations and predicates.

use std::sync::Arc;

use super::registry::{default_aliases, ConverterPlugin, PluginRegistry};
use super::VERSION;
use crate::convert::{
    ByteArrayConverter, Converter, HeaderConverter, JsonConverter, NumberConverter,
    SimpleHeaderConverter, StringConverter,
};
use crate::data::SchemaType;

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

/// Adds the built-in transformations and predicates.
pub fn register_transforms(_reg: &mut PluginRegistry) {}
