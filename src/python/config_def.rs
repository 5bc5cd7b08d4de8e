//! The native half of `conveyor.ConfigDef`: the Rust [`ConfigDef`] that validates configs
//! with Kafka Connect's error texts and drives `/connector-plugins/{p}/config` and
//! `/config/validate`. The Python class (`conveyor.config.ConfigDef`) normalizes arguments
//! and holds one of these.

use std::sync::Arc;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use super::errors::config_error;
use super::values::{config_from_py, json_to_py};
use crate::config::{
    ConfigDef, ConfigKey, ConfigType, ConfigValue, DefaultValue, Importance, Validator, Width,
};

/// An immutable set of config keys; `define` returns a new one.
#[pyclass(frozen, module = "conveyor._native", name = "ConfigDef")]
#[derive(Clone, Default)]
pub struct PyConfigDef {
    pub def: ConfigDef,
}

fn importance(name: &str) -> PyResult<Importance> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "high" => Importance::High,
        "medium" => Importance::Medium,
        "low" => Importance::Low,
        _ => {
            return Err(PyValueError::new_err(format!(
                "importance must be \"high\", \"medium\" or \"low\", got '{name}'"
            )))
        }
    })
}

fn width(name: &str) -> PyResult<Width> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "none" => Width::None,
        "short" => Width::Short,
        "medium" => Width::Medium,
        "long" => Width::Long,
        _ => {
            return Err(PyValueError::new_err(format!(
                "width must be \"none\", \"short\", \"medium\" or \"long\", got '{name}'"
            )))
        }
    })
}

/// A typed config value as Python (`PASSWORD` values in clear: the plugin needs them).
pub fn config_value_to_py<'py>(py: Python<'py>, v: &ConfigValue) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        ConfigValue::Null => py.None().into_bound(py),
        ConfigValue::Boolean(b) => b.into_pyobject(py)?.to_owned().into_any(),
        ConfigValue::String(s) | ConfigValue::Class(s) | ConfigValue::Password(s) => {
            s.into_pyobject(py)?.into_any()
        }
        ConfigValue::Int(i) => i.into_pyobject(py)?.into_any(),
        ConfigValue::Short(i) => i.into_pyobject(py)?.into_any(),
        ConfigValue::Long(i) => i.into_pyobject(py)?.into_any(),
        ConfigValue::Double(f) => f.into_pyobject(py)?.into_any(),
        ConfigValue::List(items) => PyList::new(py, items)?.into_any(),
    })
}

/// A validator from its Python description: `("range", min, max)`, `("one_of", values,
/// case_insensitive)`, `("non_empty",)`, `("list_of", values)` or `("custom", callable)`.
/// A custom callable gets the parsed value and raises (any exception; its text is the
/// message) or returns `None`.
fn validator(spec: &Bound<'_, PyTuple>) -> PyResult<Validator> {
    let kind: String = spec.get_item(0)?.extract()?;
    Ok(match kind.as_str() {
        "range" => Validator::Range {
            min: spec.get_item(1)?.extract()?,
            max: spec.get_item(2)?.extract()?,
        },
        "one_of" => Validator::OneOf {
            values: spec.get_item(1)?.extract()?,
            case_insensitive: spec.get_item(2)?.extract()?,
        },
        "non_empty" => Validator::NonEmptyString,
        "list_of" => Validator::ListOf {
            values: spec.get_item(1)?.extract()?,
        },
        "custom" => {
            let f = Arc::new(spec.get_item(1)?.unbind());
            Validator::Custom(Arc::new(move |value: &ConfigValue| {
                Python::attach(|py| {
                    let arg = config_value_to_py(py, value).map_err(|e| e.to_string())?;
                    match f.bind(py).call1((arg,)) {
                        Ok(_) => Ok(()),
                        Err(e) => Err(e
                            .value(py)
                            .str()
                            .map(|s| s.to_string())
                            .unwrap_or_else(|_| "invalid value".into())),
                    }
                })
            }))
        }
        other => {
            return Err(PyTypeError::new_err(format!(
                "unknown validator kind '{other}'"
            )))
        }
    })
}

#[pymethods]
impl PyConfigDef {
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// A copy with one more key (see `conveyor.ConfigDef.define` for the arguments).
    #[pyo3(signature = (name, type_name, default, default_is_null, validator_spec, importance_name, doc, group, order, width_name, display_name, dependents, recommended))]
    #[allow(clippy::too_many_arguments)]
    fn define(
        &self,
        name: String,
        type_name: &str,
        default: Option<String>,
        default_is_null: bool,
        validator_spec: Option<&Bound<'_, PyTuple>>,
        importance_name: &str,
        doc: String,
        group: Option<String>,
        order: i32,
        width_name: &str,
        display_name: Option<String>,
        dependents: Vec<String>,
        recommended: Vec<String>,
    ) -> PyResult<Self> {
        let config_type = ConfigType::from_name(type_name)
            .ok_or_else(|| PyValueError::new_err(format!("unknown config type '{type_name}'")))?;
        let mut key = ConfigKey::new(name, config_type)
            .importance(importance(importance_name)?)
            .doc(doc)
            .width(width(width_name)?);
        key.default = match (default, default_is_null) {
            (Some(d), _) => DefaultValue::Value(d),
            (None, true) => DefaultValue::Null,
            (None, false) => DefaultValue::Required,
        };
        if let DefaultValue::Value(d) = &key.default {
            key.parse_value(d)
                .map_err(|e| PyValueError::new_err(format!("the default does not parse: {e}")))?;
        }
        if let Some(spec) = validator_spec {
            key = key.validator(validator(spec)?);
        }
        if let Some(g) = group {
            key = key.group(g, order);
        }
        if let Some(d) = display_name {
            key = key.display_name(d);
        }
        key.dependents = dependents;
        if !recommended.is_empty() {
            key.recommended_values = recommended;
        }
        let mut def = self.def.clone();
        def.add(key);
        Ok(PyConfigDef { def })
    }

    /// Typed values of every defined key; raises `ConfigError` listing every problem.
    fn parse<'py>(&self, config: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
        let py = config.py();
        let raw = config_from_py(config, "config")?;
        let parsed = self
            .def
            .parse(&raw)
            .map_err(|e| config_error(py, e.0.join("; ")))?;
        let out = PyDict::new(py);
        for key in self.def.keys() {
            if let Some(v) = parsed.get(&key.name) {
                out.set_item(&key.name, config_value_to_py(py, v)?)?;
            }
        }
        Ok(out)
    }

    /// Errors by key (only keys with errors), with Kafka Connect's texts.
    fn validate<'py>(&self, config: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyDict>> {
        let py = config.py();
        let raw = config_from_py(config, "config")?;
        let out = PyDict::new(py);
        for info in self.def.validate(&raw) {
            if !info.value.errors.is_empty() {
                out.set_item(&info.value.name, &info.value.errors)?;
            }
        }
        Ok(out)
    }

    /// Key names in definition order.
    fn names(&self) -> Vec<String> {
        self.def.keys().iter().map(|k| k.name.clone()).collect()
    }

    /// Groups in first-definition order.
    fn groups(&self) -> Vec<String> {
        self.def.groups()
    }

    /// The keys as REST's `ConfigKeyInfo` dicts.
    fn describe<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let infos: Vec<_> = self.def.keys().iter().map(|k| k.info()).collect();
        let json = serde_json::to_value(infos).map_err(|e| PyValueError::new_err(e.to_string()))?;
        json_to_py(py, &json)
    }

    fn __len__(&self) -> usize {
        self.def.keys().len()
    }

    fn __contains__(&self, name: &str) -> bool {
        self.def.key(name).is_some()
    }
}
