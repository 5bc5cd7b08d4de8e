//! The `conveyor` command line: `standalone`, `distributed`, `schema-registry`, `plugins`,
//! `version`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};

use crate::app::{StandaloneApp, StandaloneOptions};
use crate::config::{read_properties_file, ConfigMap, WorkerConfig, WorkerMode};
use crate::herder::Herder;
use crate::plugin::{PluginRegistry, PluginType};
use crate::runtime::AbandonedWork;

/// Conveyor: a Kafka Connect runtime with a Rust core and Python connectors.
#[derive(Parser, Debug)]
#[command(name = "conveyor", version = crate::plugin::VERSION, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a standalone worker (one process; source offsets in a local file).
    ///
    /// Takes the same files as Kafka Connect's connect-standalone.sh: a worker
    /// .properties file, then connector configs as .properties or .json files.
    Standalone {
        /// Worker config (.properties), with Kafka Connect's worker keys.
        worker: PathBuf,
        /// Connector configs (.properties, or .json as `{"name":..,"config":{..}}` or a flat map).
        connectors: Vec<PathBuf>,
        /// Keep connector configs and target states (paused, stopped) in this directory, so
        /// they survive a restart. Without it, configs live in memory as in Kafka Connect.
        #[arg(long)]
        config_dir: Option<PathBuf>,
    },
    /// Run a distributed worker that joins the Connect cluster named by `group.id`.
    Distributed {
        /// Worker config (.properties) with `group.id` and the three storage topics.
        worker: PathBuf,
    },
    /// Run a Confluent-compatible Schema Registry (schemas in a compacted Kafka topic).
    ///
    /// Takes a registry.properties with `bootstrap.servers` (or Confluent's
    /// `kafkastore.bootstrap.servers`), `listeners` (default http://0.0.0.0:8081) and the Kafka
    /// security settings.
    SchemaRegistry {
        /// Registry config (.properties).
        config: PathBuf,
    },
    /// List connector, converter, transformation and predicate plugins.
    Plugins {
        /// Print JSON (the `/connector-plugins?connectorsOnly=false` shape).
        #[arg(long)]
        json: bool,
        /// Extra directories to import Python plugins from (as `plugin.path`).
        #[arg(long = "plugin-path")]
        plugin_path: Vec<PathBuf>,
    },
    /// Print the version.
    Version,
}

/// Reads a connector config file (.properties or .json).
pub fn read_connector_file(path: &Path) -> anyhow::Result<ConfigMap> {
    let is_json = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if !is_json {
        return Ok(read_properties_file(path)?);
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", path.display()))?;
    let obj = json
        .as_object()
        .with_context(|| format!("{} must hold a JSON object", path.display()))?;
    let (config, name) = match (obj.get("config"), obj.get("name")) {
        (Some(serde_json::Value::Object(c)), name) => {
            (c.clone(), name.and_then(|n| n.as_str()).map(String::from))
        }
        _ => (obj.clone(), None),
    };
    let mut out = ConfigMap::new();
    for (k, v) in config {
        let v = match v {
            serde_json::Value::String(s) => s,
            serde_json::Value::Null => bail!("{}: the value of {k} is null", path.display()),
            other => other.to_string(),
        };
        out.insert(k, v);
    }
    if let Some(n) = name {
        match out.get("name") {
            Some(existing) if existing != &n => bail!(
                "{}: \"name\" is {n} but config.name is {existing}; make them match",
                path.display()
            ),
            _ => {
                out.insert("name".into(), n);
            }
        }
    }
    Ok(out)
}

fn load_worker_config(path: &Path, mode: WorkerMode) -> anyhow::Result<WorkerConfig> {
    let raw = read_properties_file(path)?;
    WorkerConfig::parse(&raw, mode).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Builds the plugin registry: built-ins, plus Python plugins when Python is available.
/// A `plugin.path` that others could put code in is refused first (see
/// [`crate::plugin::path_check`]).
pub fn plugin_registry(
    plugin_path: &[String],
    allow_world_writable: bool,
) -> anyhow::Result<PluginRegistry> {
    crate::plugin::path_check::check_plugin_path(plugin_path, allow_world_writable)?;
    let registry = crate::connectors::builtin_registry();
    crate::python::install_plugin_source(&registry, plugin_path);
    Ok(registry)
}

/// Waits for SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    tokio::select! {
        _ = async { if let Some(t) = term.as_mut() { t.recv().await; } else { std::future::pending::<()>().await } } => {},
        _ = async { if let Some(i) = int.as_mut() { i.recv().await; } else { std::future::pending::<()>().await } } => {},
    }
}

async fn run_standalone(
    worker: &Path,
    connectors: &[PathBuf],
    config_dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let worker_config = load_worker_config(worker, WorkerMode::Standalone)?;
    let mut configs = Vec::new();
    for c in connectors {
        configs.push(read_connector_file(c)?);
    }
    let registry = plugin_registry(
        &worker_config.plugin_path,
        worker_config.plugin_path_allow_world_writable,
    )?;
    let app = StandaloneApp::start(StandaloneOptions {
        worker: worker_config,
        connectors: configs,
        config_dir,
        registry,
    })
    .await?;
    let fatal = app.herder.fatal().clone();
    let result = tokio::select! {
        _ = shutdown_signal() => Ok(()),
        reason = fatal.wait() => Err(anyhow::anyhow!(reason)),
    };
    finish(app.shutdown().await, result)
}

/// Ends the CLI after the worker stopped: at once when work was abandoned, with code 1 when
/// the worker stopped because it could not go on.
fn finish(abandoned: AbandonedWork, result: anyhow::Result<()>) -> anyhow::Result<()> {
    if let Err(e) = &result {
        if !abandoned.is_empty() {
            eprintln!("conveyor: error: {e:#}");
        }
    }
    exit_now_if_abandoned(&abandoned, if result.is_ok() { 0 } else { 1 });
    result
}

/// Ends the process at once when work that did not stop in time may still run (a Python task
/// stuck in a loop, a connector stuck in `stop`), after saying what was abandoned. Returning
/// instead would wait for it forever (the async runtime waits for its blocking threads) or
/// crash while Python finalizes under a thread that still runs Python code. Offsets were
/// flushed for everything that did stop.
fn exit_now_if_abandoned(abandoned: &AbandonedWork, code: i32) {
    use std::io::Write;
    if abandoned.is_empty() {
        return;
    }
    if !abandoned.tasks.is_empty() {
        let ids: Vec<String> = abandoned.tasks.iter().map(|t| t.to_string()).collect();
        tracing::error!(
            "{} task(s) did not stop in time and were abandoned: {}",
            ids.len(),
            ids.join(", ")
        );
    }
    if !abandoned.connectors.is_empty() {
        tracing::error!(
            "{} connector(s) did not stop in time and were abandoned: {}",
            abandoned.connectors.len(),
            abandoned.connectors.join(", ")
        );
    }
    tracing::info!(code, "exiting without waiting for them");
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: _exit ends the process without running destructors or atexit handlers, which is
    // the point: nothing may wait for the abandoned threads.
    unsafe { libc::_exit(code) }
}

async fn run_distributed(worker: &Path) -> anyhow::Result<()> {
    let worker_config = load_worker_config(worker, WorkerMode::Distributed)?;
    let registry = plugin_registry(
        &worker_config.plugin_path,
        worker_config.plugin_path_allow_world_writable,
    )?;
    let app = crate::app::DistributedApp::start(worker_config, registry).await?;
    let herder = app.herder.clone();
    let result = tokio::select! {
        _ = shutdown_signal() => Ok(()),
        reason = herder.fatal_error() => Err(anyhow::anyhow!(reason)),
    };
    finish(app.shutdown().await, result)
}

async fn run_schema_registry(path: &Path) -> anyhow::Result<()> {
    let raw = read_properties_file(path)?;
    let config = crate::schema_registry::RegistryConfig::parse(&raw)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let server = crate::schema_registry::RegistryServer::start(config).await?;
    tracing::info!(urls = ?server.urls, "Conveyor schema registry started");
    shutdown_signal().await;
    server.shutdown().await;
    Ok(())
}

fn print_plugins(registry: &PluginRegistry, json: bool) -> anyhow::Result<()> {
    let plugins = registry.list();
    if json {
        println!("{}", serde_json::to_string_pretty(&plugins)?);
        return Ok(());
    }
    let mut current: Option<PluginType> = None;
    for p in plugins {
        if current != Some(p.plugin_type) {
            current = Some(p.plugin_type);
            println!(
                "{}:",
                serde_json::to_value(p.plugin_type)?
                    .as_str()
                    .unwrap_or_default()
            );
        }
        if p.aliases.is_empty() {
            println!("  {}  ({})", p.class, p.version);
        } else {
            println!(
                "  {}  ({})  also: {}",
                p.class,
                p.version,
                p.aliases.join(", ")
            );
        }
    }
    Ok(())
}

/// Runs the CLI with `args` (including the program name); returns the exit code.
pub fn run(args: Vec<String>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    crate::logging::init("info");
    let result = match cli.command {
        Command::Version => {
            println!("conveyor {}", crate::plugin::VERSION);
            Ok(())
        }
        Command::Plugins { json, plugin_path } => {
            let paths: Vec<String> = plugin_path
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            plugin_registry(&paths, false).and_then(|r| print_plugins(&r, json))
        }
        Command::Standalone {
            worker,
            connectors,
            config_dir,
        } => runtime().and_then(|rt| rt.block_on(run_standalone(&worker, &connectors, config_dir))),
        Command::Distributed { worker } => {
            runtime().and_then(|rt| rt.block_on(run_distributed(&worker)))
        }
        Command::SchemaRegistry { config } => {
            runtime().and_then(|rt| rt.block_on(run_schema_registry(&config)))
        }
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("conveyor: error: {e:#}");
            1
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("conveyor")
        .build()
        .context("could not start the async runtime")
}
