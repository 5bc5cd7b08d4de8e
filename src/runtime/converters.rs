//! The key, value and header converters of a connector: the connector's own settings when
//! it has them, the worker's otherwise.

use std::sync::Arc;

use crate::config::connector::ConnectorConfig;
use crate::config::{ConverterSpec, WorkerConfig};
use crate::convert::{Converter, HeaderConverter};
use crate::errors::{ConnectError, Result};
use crate::plugin::PluginRegistry;

/// A connector's converters, with their class names for error reports.
#[derive(Clone)]
pub struct ConverterSet {
    pub key: Arc<dyn Converter>,
    pub key_class: String,
    pub value: Arc<dyn Converter>,
    pub value_class: String,
    pub header: Arc<dyn HeaderConverter>,
    pub header_class: String,
}

fn converter(
    registry: &PluginRegistry,
    spec: &ConverterSpec,
    is_key: bool,
    key: &str,
) -> Result<(Arc<dyn Converter>, String)> {
    let plugin = registry
        .converter(&spec.class)
        .map_err(|e| e.context(key))?;
    let new = plugin.new.ok_or_else(|| {
        ConnectError::Config(format!(
            "Invalid value {} for configuration {key}: not a Converter",
            spec.class
        ))
    })?;
    Ok((
        new(&spec.config, is_key).map_err(|e| e.context(key))?,
        plugin.class,
    ))
}

impl ConverterSet {
    pub fn build(
        registry: &PluginRegistry,
        worker: &WorkerConfig,
        connector: &ConnectorConfig,
    ) -> Result<ConverterSet> {
        let key_spec = connector
            .key_converter
            .as_ref()
            .unwrap_or(&worker.key_converter);
        let value_spec = connector
            .value_converter
            .as_ref()
            .unwrap_or(&worker.value_converter);
        let header_spec = connector
            .header_converter
            .as_ref()
            .unwrap_or(&worker.header_converter);
        let (key, key_class) = converter(registry, key_spec, true, "key.converter")?;
        let (value, value_class) = converter(registry, value_spec, false, "value.converter")?;
        let plugin = registry
            .converter(&header_spec.class)
            .map_err(|e| e.context("header.converter"))?;
        let new_header = plugin.new_header.ok_or_else(|| {
            ConnectError::Config(format!(
                "Invalid value {} for configuration header.converter: not a HeaderConverter",
                header_spec.class
            ))
        })?;
        let header = new_header(&header_spec.config).map_err(|e| e.context("header.converter"))?;
        Ok(ConverterSet {
            key,
            key_class,
            value,
            value_class,
            header,
            header_class: plugin.class,
        })
    }
}
