//! The in-process worker (`conveyor.Worker`): a standalone worker ([`StandaloneApp`]) on its
//! own async runtime threads, so that it keeps running between notebook cells. Its methods
//! mirror the REST API and answer with the same JSON shapes, as Python dicts; every call
//! releases the GIL while the worker does the work.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use pyo3::prelude::*;
use serde::Serialize;
use tokio::runtime::Runtime;

use crate::app::{StandaloneApp, StandaloneOptions};
use crate::config::{ConfigMap, WorkerConfig, WorkerMode};
use crate::errors::{ConnectError, Result};
use crate::herder::standalone::StandaloneHerder;
use crate::herder::{ConnectorOffsets, Herder, RestartRequest};
use crate::plugin::{PluginType, TaskId};
use crate::python::errors::{config_error, ErrorClass};
use crate::python::gil::wait_detached;
use crate::python::values::{config_from_py, json_to_py, py_to_json, Path};
use crate::runtime::TargetState;

struct Running {
    rt: Runtime,
    app: StandaloneApp,
}

/// A standalone worker running in this process.
#[pyclass(frozen, module = "conveyor._native", name = "Worker")]
pub struct PyWorker {
    running: Mutex<Option<Running>>,
    bootstrap_servers: String,
    rest_url: Option<String>,
    /// The URL of the schema registry this worker serves for `schema.registry.url=embedded`.
    schema_registry_url: Option<String>,
}

/// `schema.registry.url=embedded`: the worker serves a schema registry on a free local port
/// (on its own brokers), and every `...schema.registry.url=embedded` setting, the worker's
/// converters' included, points at it. Returns that URL.
fn embed_schema_registry(
    raw: &mut crate::config::ConfigMap,
    connectors: &mut [crate::config::ConfigMap],
) -> std::io::Result<Option<String>> {
    let is_embedded = |v: &String| v.trim().eq_ignore_ascii_case("embedded");
    let wanted = raw
        .iter()
        .chain(connectors.iter().flatten())
        .any(|(k, v)| k.ends_with("schema.registry.url") && is_embedded(v));
    if !wanted {
        return Ok(None);
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let url = format!("http://127.0.0.1:{port}");
    raw.insert("schema.registry.listeners".into(), url.clone());
    if raw.get("schema.registry.url").is_some_and(is_embedded) {
        raw.remove("schema.registry.url");
        for prefix in ["key.converter.", "value.converter."] {
            raw.entry(format!("{prefix}schema.registry.url"))
                .or_insert_with(|| url.clone());
        }
    }
    for config in std::iter::once(raw).chain(connectors.iter_mut()) {
        point_at_embedded(config, &url);
    }
    Ok(Some(url))
}

fn point_at_embedded(config: &mut crate::config::ConfigMap, url: &str) {
    for (k, v) in config.iter_mut() {
        if k.ends_with("schema.registry.url") && v.trim().eq_ignore_ascii_case("embedded") {
            *v = url.to_string();
        }
    }
}

/// A connector config's `embedded` registry URLs, pointed at the worker's registry.
fn with_embedded_registry(
    py: Python<'_>,
    mut config: crate::config::ConfigMap,
    url: Option<&str>,
) -> PyResult<crate::config::ConfigMap> {
    match url {
        Some(url) => point_at_embedded(&mut config, url),
        None => {
            if let Some((k, _)) = config.iter().find(|(k, v)| {
                k.ends_with("schema.registry.url") && v.trim().eq_ignore_ascii_case("embedded")
            }) {
                return Err(config_error(
                    py,
                    format!(
                        "{k}=embedded needs a worker started with schema.registry.url=embedded"
                    ),
                ));
            }
        }
    }
    Ok(config)
}

fn to_py_json<T: Serialize>(py: Python<'_>, value: &T) -> PyResult<Py<PyAny>> {
    let json = serde_json::to_value(value)
        .map_err(|e| ErrorClass::Connect.err(py, format!("cannot encode the answer: {e}")))?;
    Ok(json_to_py(py, &json)?.unbind())
}

fn target_state(name: Option<&str>) -> PyResult<Option<TargetState>> {
    Ok(match name.map(|s| s.to_ascii_uppercase()) {
        None => None,
        Some(s) if s == "RUNNING" => Some(TargetState::Started),
        Some(s) if s == "PAUSED" => Some(TargetState::Paused),
        Some(s) if s == "STOPPED" => Some(TargetState::Stopped),
        Some(s) => {
            return Err(pyo3::exceptions::PyValueError::new_err(format!(
                "initial_state must be \"RUNNING\", \"PAUSED\" or \"STOPPED\", got '{s}'"
            )))
        }
    })
}

impl PyWorker {
    /// The herder and the runtime handle, or an error if the worker is closed.
    fn herder(&self, py: Python<'_>) -> PyResult<(Arc<StandaloneHerder>, tokio::runtime::Handle)> {
        match &*self.running.lock() {
            Some(r) => Ok((r.app.herder.clone(), r.rt.handle().clone())),
            None => Err(ErrorClass::Connect.err(py, "the worker is closed")),
        }
    }

    /// Runs a herder call with the GIL released and converts the answer to Python.
    fn call<T, F, Fut>(&self, py: Python<'_>, f: F) -> PyResult<Py<PyAny>>
    where
        T: Serialize + Send + 'static,
        F: FnOnce(Arc<StandaloneHerder>) -> Fut,
        Fut: std::future::Future<Output = Result<T>> + Send + 'static,
    {
        let (herder, rt) = self.herder(py)?;
        let answer = wait_detached(py, &rt, f(herder))?;
        to_py_json(py, &answer)
    }

    fn shutdown(&self) {
        let running = self.running.lock().take();
        if let Some(Running { rt, app }) = running {
            let abandoned = rt.block_on(app.shutdown());
            if !abandoned.is_empty() {
                tracing::warn!(
                    tasks = ?abandoned.tasks,
                    connectors = ?abandoned.connectors,
                    "stopped the worker with work that did not stop in time still running in \
                     this process"
                );
            }
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

#[pymethods]
impl PyWorker {
    /// Starts a worker with a worker config (Kafka Connect keys, as strings) and connector
    /// configs to create at start.
    #[new]
    #[pyo3(signature = (config, connectors=None, log_level="WARN"))]
    fn new(
        py: Python<'_>,
        config: &Bound<'_, PyAny>,
        connectors: Option<&Bound<'_, PyAny>>,
        log_level: &str,
    ) -> PyResult<Self> {
        let mut raw = config_from_py(config, "worker config")?;
        let mut initial = Vec::new();
        if let Some(list) = connectors.filter(|c| !c.is_none()) {
            for (i, c) in list.try_iter()?.enumerate() {
                initial.push(config_from_py(&c?, &format!("connector config {i}"))?);
            }
        }
        let schema_registry_url = embed_schema_registry(&mut raw, &mut initial).map_err(|e| {
            ErrorClass::Connect.err(
                py,
                format!("cannot pick a port for the schema registry: {e}"),
            )
        })?;
        let worker = WorkerConfig::parse(&raw, WorkerMode::Standalone)
            .map_err(|e| config_error(py, e.0.join("; ")))?;
        crate::logging::init(log_level);
        crate::plugin::path_check::check_plugin_path(
            &worker.plugin_path,
            worker.plugin_path_allow_world_writable,
        )
        .map_err(|e| config_error(py, e.to_string()))?;
        let registry = crate::connectors::builtin_registry();
        crate::python::plugins::install(&registry, &worker.plugin_path, false);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("conveyor-worker")
            .build()
            .map_err(|e| {
                ErrorClass::Connect.err(py, format!("cannot start the worker runtime: {e}"))
            })?;
        let app = wait_detached(py, rt.handle(), async move {
            StandaloneApp::start(StandaloneOptions {
                worker,
                connectors: initial,
                config_dir: None,
                registry,
            })
            .await
        });
        let app = match app {
            Ok(app) => app,
            Err(e) => {
                py.detach(|| rt.shutdown_timeout(Duration::from_secs(5)));
                return Err(e);
            }
        };
        let bootstrap_servers = app.bootstrap_servers.clone();
        let rest_url = app.rest_url.clone();
        Ok(PyWorker {
            running: Mutex::new(Some(Running { rt, app })),
            bootstrap_servers,
            rest_url,
            schema_registry_url,
        })
    }

    /// The URL of the schema registry the worker serves (`schema.registry.url=embedded`).
    #[getter]
    fn schema_registry_url(&self) -> Option<&str> {
        self.schema_registry_url.as_deref()
    }

    /// The brokers clients use (the embedded broker's real address when embedded).
    #[getter]
    fn bootstrap_servers(&self) -> &str {
        &self.bootstrap_servers
    }

    /// The REST API's base URL, when `listeners` is set.
    #[getter]
    fn rest_url(&self) -> Option<&str> {
        self.rest_url.as_deref()
    }

    /// This worker's id (`host:port`).
    #[getter]
    fn worker_id(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.herder(py)?.0.worker_id())
    }

    #[getter]
    fn closed(&self) -> bool {
        self.running.lock().is_none()
    }

    #[pyo3(signature = (name, config, initial_state=None))]
    fn create_connector(
        &self,
        py: Python<'_>,
        name: String,
        config: &Bound<'_, PyAny>,
        initial_state: Option<&str>,
    ) -> PyResult<Py<PyAny>> {
        let config = config_from_py(config, "connector config")?;
        let config = with_embedded_registry(py, config, self.schema_registry_url.as_deref())?;
        let initial = target_state(initial_state)?;
        self.call(py, move |h| async move {
            let name = name.trim().to_string();
            if let Some(n) = config.get(crate::config::connector::NAME) {
                if n.trim() != name {
                    return Err(ConnectError::BadRequest(format!(
                        "Connector name configuration ({n}) doesn't match connector name ({name})"
                    )));
                }
            }
            h.put_connector_config(&name, config, false, initial)
                .await
                .map(|(_, info)| info)
        })
    }

    fn update_connector(
        &self,
        py: Python<'_>,
        name: String,
        config: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let config = config_from_py(config, "connector config")?;
        let config = with_embedded_registry(py, config, self.schema_registry_url.as_deref())?;
        self.call(py, move |h| async move {
            h.put_connector_config(&name, config, true, None)
                .await
                .map(|(_, info)| info)
        })
    }

    fn connectors(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.call(py, |h| async move { Ok(h.connectors().await) })
    }

    fn connector(&self, py: Python<'_>, name: String) -> PyResult<Py<PyAny>> {
        self.call(py, move |h| async move { h.connector_info(&name).await })
    }

    fn config(&self, py: Python<'_>, name: String) -> PyResult<Py<PyAny>> {
        self.call(py, move |h| async move { h.connector_config(&name).await })
    }

    fn status(&self, py: Python<'_>, name: String) -> PyResult<Py<PyAny>> {
        self.call(py, move |h| async move { h.connector_status(&name).await })
    }

    fn task_status(&self, py: Python<'_>, name: String, task: i32) -> PyResult<Py<PyAny>> {
        self.call(py, move |h| async move {
            h.task_status(&TaskId::new(name, task)).await
        })
    }

    fn tasks(&self, py: Python<'_>, name: String) -> PyResult<Py<PyAny>> {
        self.call(py, move |h| async move { h.tasks(&name).await })
    }

    fn pause(&self, py: Python<'_>, name: String) -> PyResult<()> {
        self.call(py, move |h| async move { h.pause_connector(&name).await })
            .map(drop)
    }

    fn resume(&self, py: Python<'_>, name: String) -> PyResult<()> {
        self.call(py, move |h| async move { h.resume_connector(&name).await })
            .map(drop)
    }

    fn stop(&self, py: Python<'_>, name: String) -> PyResult<()> {
        self.call(py, move |h| async move { h.stop_connector(&name).await })
            .map(drop)
    }

    #[pyo3(signature = (name, include_tasks=false, only_failed=false))]
    fn restart(
        &self,
        py: Python<'_>,
        name: String,
        include_tasks: bool,
        only_failed: bool,
    ) -> PyResult<Py<PyAny>> {
        self.call(py, move |h| async move {
            h.restart_connector(
                &name,
                RestartRequest {
                    include_tasks,
                    only_failed,
                },
            )
            .await
        })
    }

    fn restart_task(&self, py: Python<'_>, name: String, task: i32) -> PyResult<()> {
        self.call(py, move |h| async move {
            h.restart_task(&TaskId::new(name, task)).await
        })
        .map(drop)
    }

    fn delete(&self, py: Python<'_>, name: String) -> PyResult<()> {
        self.call(py, move |h| async move { h.delete_connector(&name).await })
            .map(drop)
    }

    fn offsets(&self, py: Python<'_>, name: String) -> PyResult<Py<PyAny>> {
        self.call(py, move |h| async move { h.connector_offsets(&name).await })
    }

    fn alter_offsets(
        &self,
        py: Python<'_>,
        name: String,
        offsets: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let json = py_to_json(offsets, &Path::Root("offsets"))?;
        let offsets: ConnectorOffsets = serde_json::from_value(json).map_err(|e| {
            ErrorClass::BadRequest.err(py, format!("offsets must look like {{\"offsets\": [{{\"partition\": {{...}}, \"offset\": {{...}}}}]}}: {e}"))
        })?;
        self.call(py, move |h| async move {
            h.alter_connector_offsets(&name, offsets).await
        })
    }

    fn reset_offsets(&self, py: Python<'_>, name: String) -> PyResult<Py<PyAny>> {
        self.call(py, move |h| async move {
            h.reset_connector_offsets(&name).await
        })
    }

    fn validate(&self, py: Python<'_>, config: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let config: ConfigMap = config_from_py(config, "connector config")?;
        self.call(py, move |h| async move {
            h.validate_connector_config(&config).await
        })
    }

    #[pyo3(signature = (connectors_only=true))]
    fn plugins(&self, py: Python<'_>, connectors_only: bool) -> PyResult<Py<PyAny>> {
        self.call(py, move |h| async move {
            Ok(h.plugins()
                .into_iter()
                .filter(|p| {
                    !connectors_only
                        || matches!(p.plugin_type, PluginType::Source | PluginType::Sink)
                })
                .collect::<Vec<_>>())
        })
    }

    fn plugin_config(&self, py: Python<'_>, plugin: String) -> PyResult<Py<PyAny>> {
        self.call(py, move |h| async move { h.plugin_config(&plugin) })
    }

    /// Stops every connector (flushing offsets) and the worker; idempotent.
    fn close(&self, py: Python<'_>) {
        py.detach(|| self.shutdown());
    }
}

impl Drop for PyWorker {
    fn drop(&mut self) {
        if self.running.lock().is_some() {
            // Tasks may be waiting for the GIL: release it while they stop.
            Python::attach(|py| py.detach(|| self.shutdown()));
        }
    }
}
