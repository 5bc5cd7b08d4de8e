//! Python plugins in the registry: a [`PluginSource`] that resolves `package.module:Class`,
//! `package.module.Class`, entry point names (groups `conveyor.connectors`,
//! `conveyor.transforms`, `conveyor.predicates`, `conveyor.converters`) and classes on
//! `plugin.path`, through `conveyor._plugins`.
//!
//! A wrong name (no such class, not a subclass of the right base) is a config error, so the
//! config is rejected with a message naming the class. A module that exists but fails to
//! import (a syntax error, a missing dependency) is different: the connector is still
//! created, and is FAILED with the Python traceback until the module is fixed and the
//! connector restarted, so that one broken plugin never stops a worker or other connectors.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use pyo3::prelude::*;

use super::config_def::PyConfigDef;
use super::connector::{ConnectorClass, PyConnector};
use super::converter::PyConverter;
use super::errors::{describe_exception, plugin_error, ErrorClass};
use super::instance::PluginInstance;
use super::sink_task::PySinkTask;
use super::source_task::PySourceTask;
use super::transform::{PyPredicate, PyTransformation};
use super::values::config_to_py;
use crate::config::connector::ConnectorType;
use crate::config::{ConfigDef, ConfigMap};
use crate::convert::{Converter, HeaderConverter};
use crate::errors::{ConnectError, Result};
use crate::plugin::{
    ConnectorPlugin, ConverterPlugin, PluginInfo, PluginSource, PluginType, PredicatePlugin, Task,
    TaskPlugin, TransformPlugin,
};

/// Kinds of plugin, as `conveyor._plugins` names them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Kind {
    Connector,
    Task,
    Transformation,
    Predicate,
    Converter,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Connector => "connector",
            Kind::Task => "task",
            Kind::Transformation => "transformation",
            Kind::Predicate => "predicate",
            Kind::Converter => "converter",
        }
    }
}

/// Why a name could not be loaded.
enum LoadError {
    /// The name is wrong (a config error).
    Config(ConnectError),
    /// The module failed to import or the class failed to set up.
    Import(ConnectError),
}

impl LoadError {
    fn into_error(self) -> ConnectError {
        match self {
            LoadError::Config(e) | LoadError::Import(e) => e,
        }
    }
}

#[derive(Clone)]
enum Loaded {
    Connector(ConnectorPlugin),
    Task(TaskPlugin),
    Transform(TransformPlugin),
    Predicate(PredicatePlugin),
    Converter(ConverterPlugin),
}

/// The Python plugin source. Successfully loaded plugins are cached by name, except classes
/// defined in `__main__` (a notebook can redefine them).
#[derive(Default)]
pub struct PythonPlugins {
    cache: RwLock<HashMap<(Kind, String), Loaded>>,
}

fn plugins_module(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    py.import("conveyor._plugins")
}

fn helper<'py, T: for<'a> FromPyObject<'a, 'py>>(
    py: Python<'py>,
    name: &str,
    cls: &Bound<'py, PyAny>,
) -> PyResult<T> {
    plugins_module(py)?
        .getattr(name)?
        .call1((cls,))?
        .extract()
        .map_err(Into::into)
}

/// The ConfigDef a class declares (`config_def = ConfigDef()...`).
fn class_config_def(cls: &Bound<'_, PyAny>, class_name: &str) -> Result<ConfigDef> {
    let def = cls
        .getattr("config_def")
        .and_then(|d| d.getattr("_native"))
        .ok()
        .and_then(|n| n.cast::<PyConfigDef>().ok().map(|d| d.get().def.clone()));
    def.ok_or_else(|| {
        ConnectError::Config(format!(
            "{class_name}.config_def must be a conveyor.ConfigDef"
        ))
    })
}

/// Creates an instance of `cls`, reporting `__init__` errors.
fn instantiate(
    py: Python<'_>,
    cls: &Py<PyAny>,
    class_name: &str,
    owner: &str,
) -> Result<Py<PyAny>> {
    cls.bind(py)
        .call0()
        .map(Bound::unbind)
        .map_err(|e| super::errors::from_py_err(py, e, &format!("{class_name}.__init__"), owner))
}

impl PythonPlugins {
    pub fn new() -> Self {
        Self::default()
    }

    /// Resolves `name` to a class; `Ok(None)` when it is not a Python plugin name.
    fn resolve(
        py: Python<'_>,
        kind: Kind,
        name: &str,
    ) -> std::result::Result<Option<Py<PyAny>>, LoadError> {
        let result = plugins_module(py)
            .and_then(|m| m.getattr("resolve"))
            .and_then(|f| f.call1((kind.name(), name)));
        match result {
            Ok(cls) if cls.is_none() => Ok(None),
            Ok(cls) => Ok(Some(cls.unbind())),
            Err(e) => {
                let is_config = ErrorClass::Config
                    .get(py)
                    .is_some_and(|c| e.is_instance(py, c.as_any()));
                if is_config {
                    Err(LoadError::Config(ConnectError::Config(
                        e.value(py).to_string(),
                    )))
                } else {
                    let message = format!(
                        "could not load the Python plugin {name}: {}",
                        describe_exception(py, &e)
                    );
                    Err(LoadError::Import(plugin_error(py, e, message)))
                }
            }
        }
    }

    fn cached(&self, kind: Kind, name: &str) -> Option<Loaded> {
        self.cache.read().get(&(kind, name.to_string())).cloned()
    }

    fn remember(&self, py: Python<'_>, kind: Kind, name: &str, cls: &Py<PyAny>, loaded: &Loaded) {
        let module: String = cls
            .bind(py)
            .getattr("__module__")
            .and_then(|m| m.extract())
            .unwrap_or_default();
        if module != "__main__" {
            self.cache
                .write()
                .insert((kind, name.to_string()), loaded.clone());
        }
    }

    /// Looks `name` up: cache, then Python. `build` turns a class into the registry entry.
    fn lookup(
        &self,
        kind: Kind,
        name: &str,
        build: impl FnOnce(Python<'_>, Py<PyAny>) -> Result<Loaded>,
    ) -> Option<std::result::Result<Loaded, LoadError>> {
        let name = name.trim();
        if let Some(hit) = self.cached(kind, name) {
            return Some(Ok(hit));
        }
        Python::attach(|py| match Self::resolve(py, kind, name) {
            Ok(None) => None,
            Err(e) => Some(Err(e)),
            Ok(Some(cls)) => match build(py, cls.clone_ref(py)) {
                Ok(loaded) => {
                    self.remember(py, kind, name, &cls, &loaded);
                    Some(Ok(loaded))
                }
                Err(e @ ConnectError::Config(_)) => Some(Err(LoadError::Config(e))),
                Err(e) => Some(Err(LoadError::Import(e))),
            },
        })
    }

    fn describe(
        py: Python<'_>,
        cls: &Bound<'_, PyAny>,
        name: &str,
    ) -> Result<(String, Vec<String>, String)> {
        let wrap =
            |e: PyErr| ConnectError::Config(format!("{name}: {}", describe_exception(py, &e)));
        let class_name: String = helper(py, "class_name", cls).map_err(wrap)?;
        let mut aliases: Vec<String> = helper(py, "aliases", cls).map_err(wrap)?;
        if name != class_name && !aliases.iter().any(|a| a == name) {
            aliases.push(name.to_string());
        }
        let version: String = helper(py, "version", cls).map_err(wrap)?;
        Ok((class_name, aliases, version))
    }

    fn build_connector(py: Python<'_>, cls: Py<PyAny>, name: &str) -> Result<Loaded> {
        let bound = cls.bind(py);
        let (class_name, aliases, version) = Self::describe(py, bound, name)?;
        let wrap = |e: PyErr| {
            ConnectError::Config(format!("{class_name}: {}", describe_exception(py, &e)))
        };
        let connector_type = match helper::<String>(py, "connector_type", bound)
            .map_err(wrap)?
            .as_str()
        {
            "sink" => ConnectorType::Sink,
            _ => ConnectorType::Source,
        };
        let task_class: String = helper(py, "task_class_name", bound).map_err(wrap)?;
        let validates = plugins_module(py)
            .and_then(|m| m.getattr("overrides"))
            .and_then(|f| f.call1((bound, "validate")))
            .and_then(|r| r.extract::<bool>())
            .unwrap_or(false);
        let info = Arc::new(ConnectorClass {
            config_def: class_config_def(bound, &class_name)?,
            class: Arc::new(cls),
            name: class_name.clone(),
            connector_type,
            task_class,
            validates,
        });
        Ok(Loaded::Connector(ConnectorPlugin {
            class: class_name,
            aliases,
            version,
            connector_type,
            new_connector: Arc::new(move || Ok(Box::new(PyConnector::new(info.clone())))),
        }))
    }

    /// A connector whose module does not import: it can be created, and fails to start with
    /// the import error. Its type cannot be read from the class, so it is `unknown`.
    fn broken_connector(name: &str, error: ConnectError) -> ConnectorPlugin {
        let connector_type = ConnectorType::Unknown;
        ConnectorPlugin {
            class: name.to_string(),
            aliases: Vec::new(),
            version: "unknown".into(),
            connector_type,
            new_connector: Arc::new(move || {
                Ok(Box::new(PyConnector::Broken {
                    error: error.clone(),
                }))
            }),
        }
    }

    fn build_task(py: Python<'_>, cls: Py<PyAny>, name: &str) -> Result<Loaded> {
        let bound = cls.bind(py);
        let class_name: String = helper(py, "class_name", bound)
            .map_err(|e| ConnectError::Config(format!("{name}: {e}")))?;
        let is_source = py
            .import("conveyor.task")
            .and_then(|m| m.getattr("SourceTask"))
            .and_then(|base| {
                bound
                    .cast::<pyo3::types::PyType>()
                    .map_err(PyErr::from)
                    .and_then(|t| t.is_subclass(&base))
            })
            .unwrap_or(false);
        let cls = Arc::new(cls);
        let owner = format!("task {class_name}");
        Ok(Loaded::Task(TaskPlugin {
            class: name.to_string(),
            new_task: Arc::new(move || {
                Python::attach(|py| {
                    let obj = instantiate(py, &cls, &class_name, &owner)?;
                    Ok(if is_source {
                        Task::Source(Box::new(PySourceTask::new(obj, &class_name)))
                    } else {
                        Task::Sink(Box::new(PySinkTask::new(obj, &class_name)))
                    })
                })
            }),
        }))
    }

    /// A configured instance of a transformation or predicate class: `config` is checked
    /// against its ConfigDef, set as `self.config`, and passed to `configure`.
    fn configured(
        py: Python<'_>,
        cls: &Py<PyAny>,
        class_name: &str,
        kind: &'static str,
        def: &ConfigDef,
        config: &ConfigMap,
    ) -> Result<PluginInstance> {
        def.parse(config).map_err(|e| {
            ConnectError::Config(format!(
                "invalid config for {class_name}: {}",
                e.0.join("; ")
            ))
        })?;
        let owner = format!("{} {class_name}", kind.to_ascii_lowercase());
        let obj = instantiate(py, cls, class_name, &owner)?;
        let mut inst = PluginInstance::new(obj, kind, owner);
        let cfg = config_to_py(py, config).map_err(|e| inst.error(py, "configure", e))?;
        let copy = cfg.copy().map_err(|e| inst.error(py, "configure", e))?;
        inst.set_attr(py, "config", copy)?;
        inst.call(py, "configure", (cfg,))?;
        Ok(inst)
    }

    fn build_transform(py: Python<'_>, cls: Py<PyAny>, name: &str) -> Result<Loaded> {
        let bound = cls.bind(py);
        let (class_name, aliases, version) = Self::describe(py, bound, name)?;
        let config_def = class_config_def(bound, &class_name)?;
        let batch = plugins_module(py)
            .and_then(|m| m.getattr("overrides"))
            .and_then(|f| f.call1((bound, "apply_batch")))
            .and_then(|r| r.extract::<bool>())
            .unwrap_or(false);
        let cls = Arc::new(cls);
        let def = config_def.clone();
        let label = class_name.clone();
        Ok(Loaded::Transform(TransformPlugin {
            class: class_name,
            aliases,
            version,
            config_def,
            new: Arc::new(move |config| {
                Python::attach(|py| {
                    let inst = Self::configured(py, &cls, &label, "Transformation", &def, config)?;
                    Ok(Box::new(PyTransformation::new(inst, batch))
                        as Box<dyn crate::transform::Transformation>)
                })
            }),
        }))
    }

    fn build_predicate(py: Python<'_>, cls: Py<PyAny>, name: &str) -> Result<Loaded> {
        let bound = cls.bind(py);
        let (class_name, aliases, version) = Self::describe(py, bound, name)?;
        let config_def = class_config_def(bound, &class_name)?;
        let cls = Arc::new(cls);
        let def = config_def.clone();
        let label = class_name.clone();
        Ok(Loaded::Predicate(PredicatePlugin {
            class: class_name,
            aliases,
            version,
            config_def,
            new: Arc::new(move |config| {
                Python::attach(|py| {
                    let inst = Self::configured(py, &cls, &label, "Predicate", &def, config)?;
                    Ok(Box::new(PyPredicate::new(inst)) as Box<dyn crate::transform::Predicate>)
                })
            }),
        }))
    }

    fn build_converter(py: Python<'_>, cls: Py<PyAny>, name: &str) -> Result<Loaded> {
        let bound = cls.bind(py);
        let (class_name, aliases, version) = Self::describe(py, bound, name)?;
        let overrides = |method: &str| {
            plugins_module(py)
                .and_then(|m| m.getattr("overrides"))
                .and_then(|f| f.call1((bound, method)))
                .and_then(|r| r.extract::<bool>())
                .unwrap_or(false)
        };
        let (data, headers) = (
            overrides("from_connect_data"),
            overrides("from_connect_header"),
        );
        let cls = Arc::new(cls);
        let make = {
            let cls = cls.clone();
            let class_name = class_name.clone();
            move |config: &ConfigMap, is_key: bool| -> Result<PyConverter> {
                Python::attach(|py| {
                    let owner = format!("converter {class_name}");
                    let obj = instantiate(py, &cls, &class_name, &owner)?;
                    let cfg = config_to_py(py, config).map_err(|e| {
                        super::errors::from_py_err(py, e, "Converter.configure", &owner)
                    })?;
                    obj.bind(py)
                        .call_method1("configure", (cfg, is_key))
                        .map_err(|e| {
                            super::errors::from_py_err(py, e, "Converter.configure", &owner)
                        })?;
                    Ok(PyConverter::new(obj, &class_name))
                })
            }
        };
        let make = Arc::new(make);
        let data_factory = make.clone();
        Ok(Loaded::Converter(ConverterPlugin {
            class: class_name,
            aliases,
            version,
            new: data.then(|| {
                Arc::new(move |config: &ConfigMap, is_key: bool| {
                    Ok(Arc::new(data_factory(config, is_key)?) as Arc<dyn Converter>)
                }) as crate::convert::ConverterFactory
            }),
            new_header: headers.then(|| {
                Arc::new(move |config: &ConfigMap| {
                    Ok(Arc::new(make(config, false)?) as Arc<dyn HeaderConverter>)
                }) as crate::convert::HeaderConverterFactory
            }),
        }))
    }
}

fn plugin_type(name: &str) -> Option<PluginType> {
    Some(match name {
        "source" => PluginType::Source,
        "sink" => PluginType::Sink,
        "converter" => PluginType::Converter,
        "header_converter" => PluginType::HeaderConverter,
        "transformation" => PluginType::Transformation,
        "predicate" => PluginType::Predicate,
        _ => return None,
    })
}

impl PythonPlugins {
    /// Looks up a plugin of one kind: `build` makes the registry entry from the class, `pick`
    /// takes it out of [`Loaded`] (`None` when the name is a plugin of another kind, which
    /// `what` names in the error).
    fn load<T>(
        &self,
        kind: Kind,
        name: &str,
        build: fn(Python<'_>, Py<PyAny>, &str) -> Result<Loaded>,
        pick: fn(Loaded) -> Option<T>,
        what: &str,
    ) -> Option<std::result::Result<T, LoadError>> {
        let owned = name.trim().to_string();
        let result = self.lookup(kind, name, |py, cls| build(py, cls, &owned))?;
        Some(result.and_then(|loaded| {
            pick(loaded).ok_or_else(|| {
                LoadError::Config(ConnectError::Other(format!("{name} is not a {what}")))
            })
        }))
    }
}

impl PluginSource for PythonPlugins {
    fn connector(&self, name: &str) -> Option<Result<ConnectorPlugin>> {
        let result = self.load(
            Kind::Connector,
            name,
            Self::build_connector,
            |l| match l {
                Loaded::Connector(p) => Some(p),
                _ => None,
            },
            "connector",
        )?;
        Some(match result {
            Ok(p) => Ok(p),
            Err(LoadError::Import(e)) => Ok(Self::broken_connector(name.trim(), e)),
            Err(e) => Err(e.into_error()),
        })
    }

    fn task(&self, name: &str) -> Option<Result<TaskPlugin>> {
        let pick = |l| match l {
            Loaded::Task(p) => Some(p),
            _ => None,
        };
        let result = self.load(Kind::Task, name, Self::build_task, pick, "task")?;
        Some(result.map_err(LoadError::into_error))
    }

    fn transform(&self, name: &str) -> Option<Result<TransformPlugin>> {
        let pick = |l| match l {
            Loaded::Transform(p) => Some(p),
            _ => None,
        };
        let kind = Kind::Transformation;
        let result = self.load(kind, name, Self::build_transform, pick, "transformation")?;
        Some(result.map_err(LoadError::into_error))
    }

    fn predicate(&self, name: &str) -> Option<Result<PredicatePlugin>> {
        let pick = |l| match l {
            Loaded::Predicate(p) => Some(p),
            _ => None,
        };
        let result = self.load(
            Kind::Predicate,
            name,
            Self::build_predicate,
            pick,
            "predicate",
        )?;
        Some(result.map_err(LoadError::into_error))
    }

    fn converter(&self, name: &str) -> Option<Result<ConverterPlugin>> {
        let pick = |l| match l {
            Loaded::Converter(p) => Some(p),
            _ => None,
        };
        let result = self.load(
            Kind::Converter,
            name,
            Self::build_converter,
            pick,
            "converter",
        )?;
        Some(result.map_err(LoadError::into_error))
    }

    fn list(&self) -> Vec<PluginInfo> {
        let mut out: Vec<PluginInfo> = Python::attach(|py| {
            let module = match plugins_module(py) {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot list Python plugins");
                    return Vec::new();
                }
            };
            let listing: Vec<(String, String, String, Vec<String>)> = module
                .getattr("listing")
                .and_then(|f| f.call0())
                .and_then(|l| l.extract())
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "cannot list Python plugins");
                    Vec::new()
                });
            let problems: Vec<String> = module
                .getattr("problems")
                .and_then(|f| f.call0())
                .and_then(|l| l.extract())
                .unwrap_or_default();
            for p in problems {
                tracing::warn!(problem = %p, "skipping a Python plugin that cannot be loaded");
            }
            listing
                .into_iter()
                .filter_map(|(class, ty, version, aliases)| {
                    Some(PluginInfo {
                        class,
                        plugin_type: plugin_type(&ty)?,
                        version,
                        aliases,
                    })
                })
                .collect()
        });
        for loaded in self.cache.read().values() {
            let info = match loaded {
                Loaded::Connector(c) => PluginType::of_connector(c.connector_type)
                    .map(|plugin_type| PluginInfo {
                        class: c.class.clone(),
                        plugin_type,
                        version: c.version.clone(),
                        aliases: Vec::new(),
                    })
                    .into_iter()
                    .collect(),
                Loaded::Transform(t) => vec![PluginInfo {
                    class: t.class.clone(),
                    plugin_type: PluginType::Transformation,
                    version: t.version.clone(),
                    aliases: Vec::new(),
                }],
                Loaded::Predicate(p) => vec![PluginInfo {
                    class: p.class.clone(),
                    plugin_type: PluginType::Predicate,
                    version: p.version.clone(),
                    aliases: Vec::new(),
                }],
                Loaded::Converter(c) => {
                    let mut v = Vec::new();
                    if c.new.is_some() {
                        v.push(PluginInfo {
                            class: c.class.clone(),
                            plugin_type: PluginType::Converter,
                            version: c.version.clone(),
                            aliases: Vec::new(),
                        });
                    }
                    if c.new_header.is_some() {
                        v.push(PluginInfo {
                            class: c.class.clone(),
                            plugin_type: PluginType::HeaderConverter,
                            version: c.version.clone(),
                            aliases: Vec::new(),
                        });
                    }
                    v
                }
                Loaded::Task(_) => Vec::new(),
            };
            for i in info {
                if !out
                    .iter()
                    .any(|o| o.class == i.class && o.plugin_type == i.plugin_type)
                {
                    out.push(i);
                }
            }
        }
        out
    }
}

/// Adds `plugin.path` directories to `sys.path` and registers Python plugins with
/// `registry`. With `bridge_logging`, Python `logging` goes to the worker log (for the
/// `conveyor` command; an application embedding a worker keeps its own logging).
pub fn install(
    registry: &crate::plugin::PluginRegistry,
    plugin_path: &[String],
    bridge_logging: bool,
) {
    let ok = Python::attach(|py| -> PyResult<()> {
        let m = plugins_module(py)?;
        m.getattr("add_plugin_path")?
            .call1((plugin_path.to_vec(),))?;
        if bridge_logging {
            m.getattr("install_log_bridge")?.call0()?;
        }
        Ok(())
    });
    if let Err(e) = ok {
        tracing::warn!(error = %e, "Python plugins are not available");
        return;
    }
    registry.add_source(Arc::new(PythonPlugins::new()));
}
