//! A Python `conveyor.SourceConnector`/`SinkConnector` as a Rust [`Connector`].
//!
//! The herder calls connectors from the async runtime, so the Python calls of `start`,
//! `task_configs` and `stop` run on a blocking thread (`spawn_blocking`) and never stall the
//! runtime's worker threads. The Python object is created in `start`: building a
//! `PyConnector` (done for every validation and REST read) runs no user code.

use std::sync::Arc;

use async_trait::async_trait;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use super::contexts::PyConnectorContext;
use super::instance::PluginInstance;
use super::source_task::type_name;
use super::values::{config_from_py, config_to_py};
use crate::config::connector::ConnectorType;
use crate::config::{ConfigDef, ConfigInfo, ConfigMap};
use crate::errors::{ConnectError, Result};
use crate::plugin::{Connector, ConnectorContext};

/// What the registry knows about a Python connector class.
pub struct ConnectorClass {
    pub class: Arc<Py<PyAny>>,
    /// `package.module.Class`.
    pub name: String,
    pub connector_type: ConnectorType,
    pub config_def: ConfigDef,
    /// The `task.class` of its tasks.
    pub task_class: String,
    /// The class overrides `validate`.
    pub validates: bool,
}

pub enum PyConnector {
    Ready {
        class: Arc<ConnectorClass>,
        instance: Option<PluginInstance>,
    },
    /// The module could not be imported: starting fails with the import error (so the
    /// connector is FAILED with the traceback; restarting it tries the import again).
    Broken { error: ConnectError },
}

impl PyConnector {
    /// Calls a preflight method (`exactly_once_support`, `can_define_transaction_boundaries`)
    /// on a fresh instance with `config`; the answer lower-cased (`"supported"`), `None` for
    /// None or a class without the method.
    fn ask(&self, method: &str, config: &ConfigMap) -> Result<Option<String>> {
        let PyConnector::Ready { class, .. } = self else {
            return Ok(None);
        };
        Python::attach(|py| -> PyResult<Option<String>> {
            let obj = class.class.bind(py).call0()?;
            if !obj.hasattr(method)? {
                return Ok(None);
            }
            let cfg = config_to_py(py, config)?;
            obj.setattr("config", cfg.copy()?)?;
            let answer = obj.call_method1(method, (cfg,))?;
            if answer.is_none() {
                return Ok(None);
            }
            // An enum member (`ExactlyOnceSupport.SUPPORTED`) or its value as a string.
            let text = match answer.getattr("value") {
                Ok(v) => v.str()?.to_string(),
                Err(_) => answer.str()?.to_string(),
            };
            Ok(Some(text.trim().to_ascii_lowercase()))
        })
        .map_err(|e| {
            let message = Python::attach(|py| super::errors::describe_exception(py, &e));
            ConnectError::Other(format!(
                "error calling `{method}` of {}: {message}",
                class.name
            ))
        })
    }

    pub fn new(class: Arc<ConnectorClass>) -> Self {
        PyConnector::Ready {
            class,
            instance: None,
        }
    }

    /// Runs `f` with the instance on a blocking thread when there is an async runtime, and
    /// in place otherwise.
    async fn with_instance<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut PluginInstance) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (instance, name) = match self {
            PyConnector::Ready { instance, class } => (instance, class.name.clone()),
            PyConnector::Broken { error } => return Err(error.clone()),
        };
        let Some(mut inst) = instance.take() else {
            return Err(ConnectError::Other(format!(
                "connector {name} is not started"
            )));
        };
        let (inst, result) = match tokio::runtime::Handle::try_current() {
            Ok(rt) => rt
                .spawn_blocking(move || {
                    let r = f(&mut inst);
                    (inst, r)
                })
                .await
                .map_err(|e| ConnectError::Other(format!("connector {name} call panicked: {e}")))?,
            Err(_) => {
                let r = f(&mut inst);
                (inst, r)
            }
        };
        *instance = Some(inst);
        result
    }
}

#[async_trait]
impl Connector for PyConnector {
    fn config_def(&self) -> ConfigDef {
        match self {
            PyConnector::Ready { class, .. } => class.config_def.clone(),
            PyConnector::Broken { .. } => ConfigDef::new(),
        }
    }

    fn validate(&self, config: &ConfigMap) -> Vec<ConfigInfo> {
        let PyConnector::Ready { class, .. } = self else {
            return Vec::new();
        };
        let mut infos = class.config_def.validate(config);
        if !class.validates {
            return infos;
        }
        // The class checks more than its ConfigDef: its answer replaces the ConfigDef's errors.
        let errors = Python::attach(|py| -> PyResult<Vec<(String, Vec<String>)>> {
            let obj = class.class.bind(py).call0()?;
            let cfg = config_to_py(py, config)?;
            obj.setattr("config", cfg.copy()?)?;
            let result = obj.call_method1("validate", (cfg,))?;
            let dict = result.cast::<PyDict>().map_err(|_| {
                pyo3::exceptions::PyTypeError::new_err(format!(
                    "validate() must return a dict of key to list of errors, got {}",
                    type_name(&result)
                ))
            })?;
            dict.iter()
                .map(|(k, v)| Ok((k.extract()?, v.extract()?)))
                .collect()
        });
        match errors {
            Ok(errors) => {
                for info in &mut infos {
                    info.value.errors.clear();
                }
                for (key, errs) in errors {
                    if errs.is_empty() {
                        continue;
                    }
                    match infos.iter_mut().find(|i| i.value.name == key) {
                        Some(info) => info.value.errors = errs,
                        None => infos.push(extra_key_info(&key, config, errs)),
                    }
                }
            }
            Err(e) => {
                let message = Python::attach(|py| super::errors::describe_exception(py, &e));
                infos.push(extra_key_info(
                    crate::config::connector::CONNECTOR_CLASS,
                    config,
                    vec![format!(
                        "error calling `Connector.validate` of {}: {message}",
                        class.name
                    )],
                ));
            }
        }
        infos
    }

    fn exactly_once_support(
        &self,
        config: &ConfigMap,
    ) -> Result<Option<crate::plugin::ExactlyOnceSupport>> {
        use crate::plugin::ExactlyOnceSupport;
        Ok(match self.ask("exactly_once_support", config)?.as_deref() {
            None => None,
            Some("supported") => Some(ExactlyOnceSupport::Supported),
            Some(_) => Some(ExactlyOnceSupport::Unsupported),
        })
    }

    fn can_define_transaction_boundaries(
        &self,
        config: &ConfigMap,
    ) -> Result<crate::plugin::ConnectorTransactionBoundaries> {
        use crate::plugin::ConnectorTransactionBoundaries;
        Ok(
            match self
                .ask("can_define_transaction_boundaries", config)?
                .as_deref()
            {
                Some("supported") => ConnectorTransactionBoundaries::Supported,
                _ => ConnectorTransactionBoundaries::Unsupported,
            },
        )
    }

    async fn start(&mut self, config: ConfigMap, ctx: ConnectorContext) -> Result<()> {
        let class = match self {
            PyConnector::Ready { class, .. } => class.clone(),
            PyConnector::Broken { error } => return Err(error.clone()),
        };
        let owner = format!("connector {}", ctx.connector);
        let created = Python::attach(|py| {
            class
                .class
                .bind(py)
                .call0()
                .map(|o| PluginInstance::new(o.unbind(), "Connector", owner.clone()))
                .map_err(|e| {
                    super::errors::from_py_err(py, e, &format!("{}.__init__", class.name), &owner)
                })
        })?;
        if let PyConnector::Ready { instance, .. } = self {
            *instance = Some(created);
        }
        self.with_instance(move |inst| {
            Python::attach(|py| {
                let cfg = config_to_py(py, &config).map_err(|e| inst.error(py, "start", e))?;
                inst.set_attr(
                    py,
                    "config",
                    cfg.copy().map_err(|e| inst.error(py, "start", e))?,
                )?;
                inst.set_attr(py, "context", PyConnectorContext { inner: ctx })?;
                inst.call(py, "start", (cfg,)).map(drop)
            })
        })
        .await
    }

    fn task_class(&self) -> String {
        match self {
            PyConnector::Ready { class, .. } => class.task_class.clone(),
            PyConnector::Broken { .. } => String::new(),
        }
    }

    async fn task_configs(&mut self, max_tasks: usize) -> Result<Vec<ConfigMap>> {
        self.with_instance(move |inst| {
            Python::attach(|py| {
                let result = inst.call(py, "task_configs", (max_tasks,))?;
                let list = result.cast::<PyList>().map_err(|_| {
                    inst.misuse(
                        "task_configs",
                        format!(
                            "task_configs() must return a list of dicts, got {}",
                            type_name(&result)
                        ),
                    )
                })?;
                list.iter()
                    .enumerate()
                    .map(|(i, item)| {
                        config_from_py(&item, &format!("task config {i}"))
                            .map_err(|e| inst.error(py, "task_configs", e))
                    })
                    .collect()
            })
        })
        .await
    }

    async fn stop(&mut self) -> Result<()> {
        if matches!(
            self,
            PyConnector::Ready { instance: None, .. } | PyConnector::Broken { .. }
        ) {
            return Ok(());
        }
        self.with_instance(|inst| {
            Python::attach(|py| {
                let r = inst.call(py, "stop", ()).map(drop);
                inst.close_loop(py);
                r
            })
        })
        .await
    }
}

/// A `/config/validate` entry for a key the ConfigDef does not define.
fn extra_key_info(key: &str, config: &ConfigMap, errors: Vec<String>) -> ConfigInfo {
    let mut info = crate::config::ConfigKey::new(key, crate::config::ConfigType::String)
        .default_null()
        .info();
    info.required = false;
    ConfigInfo {
        definition: info,
        value: crate::config::ConfigValueInfo {
            name: key.to_string(),
            value: config.get(key).cloned(),
            recommended_values: Vec::new(),
            errors,
            visible: true,
        },
    }
}
