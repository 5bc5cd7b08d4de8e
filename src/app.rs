//! A standalone worker process, assembled: embedded broker (when asked for), worker, herder
//! and REST server. The CLI and the in-process Python `Worker` both run one of these.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::connector::NAME;
use crate::config::provider::ConfigProviders;
use crate::config::{ConfigMap, WorkerConfig};
use crate::errors::{ConnectError, Result};
use crate::herder::standalone::{ConfigDir, StandaloneHerder};
use crate::herder::status_store::MemoryStatusStore;
use crate::herder::Herder;
use crate::kafka::EmbeddedBroker;
use crate::plugin::PluginRegistry;
use crate::rest::{self, AppState};
use crate::runtime::{FileOffsetStore, MemoryOffsetStore, OffsetStore, Worker, WorkerServices};

/// How to start a standalone worker.
pub struct StandaloneOptions {
    pub worker: WorkerConfig,
    /// Connector configs to create (or replace) at start.
    pub connectors: Vec<ConfigMap>,
    pub config_dir: Option<PathBuf>,
    pub registry: PluginRegistry,
}

/// A running standalone worker.
pub struct StandaloneApp {
    pub herder: Arc<StandaloneHerder>,
    /// Where the REST API listens, when it does.
    pub rest_addr: Option<SocketAddr>,
    /// The brokers clients use (the embedded broker's address when embedded).
    pub bootstrap_servers: String,
    stop_rest: CancellationToken,
    server: Option<JoinHandle<Result<()>>>,
    embedded: Option<EmbeddedBroker>,
}

/// This machine's host name, for `worker_id` when nothing is advertised.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

impl StandaloneApp {
    /// Starts everything; fails fast (port in use, bad offset file, broken connector files).
    pub async fn start(opts: StandaloneOptions) -> Result<StandaloneApp> {
        let worker_config = Arc::new(opts.worker);
        for key in &worker_config.unknown_keys {
            tracing::warn!(key = %key, "unknown worker config key (ignored); check it for typos");
        }
        let rest = match worker_config.listeners.first() {
            Some(url) => Some(rest::bind(url).await?),
            None => None,
        };
        let embedded = if worker_config.uses_embedded_broker() {
            Some(EmbeddedBroker::start()?)
        } else {
            None
        };
        let bootstrap_servers = embedded
            .as_ref()
            .map(|b| b.bootstrap_servers().to_string())
            .unwrap_or_else(|| worker_config.bootstrap_servers.clone());
        let host = worker_config
            .rest_advertised_host_name
            .clone()
            .or_else(|| {
                rest.as_ref()
                    .map(|r| r.configured_host.clone())
                    .filter(|h| !h.is_empty())
            })
            .unwrap_or_else(host_name);
        let port = worker_config
            .rest_advertised_port
            .or(rest.as_ref().map(|r| r.local_addr.port()))
            .unwrap_or(8083);
        let worker_id = format!("{host}:{port}");
        let offsets: Arc<dyn OffsetStore> = match &worker_config.offset_storage_file {
            Some(path) => Arc::new(FileOffsetStore::open(path)?),
            None => Arc::new(MemoryOffsetStore::default()),
        };
        let statuses = Arc::new(MemoryStatusStore::new(worker_id.clone()));
        let (worker, requests) = Worker::new(
            WorkerServices {
                worker_id: worker_id.clone(),
                config: worker_config.clone(),
                bootstrap: bootstrap_servers.clone(),
                registry: Arc::new(opts.registry),
                offsets,
                status: statuses.clone(),
                embedded_topics: embedded.as_ref().and_then(EmbeddedBroker::topics),
                providers: Arc::new(ConfigProviders::from_worker_config(&worker_config.raw)?),
            },
            tokio::runtime::Handle::current(),
        );
        let config_dir = opts.config_dir.map(ConfigDir::open).transpose()?;
        let cluster_id = Arc::new(RwLock::new(None));
        let herder = StandaloneHerder::new(
            Arc::new(worker),
            statuses,
            requests,
            config_dir,
            cluster_id.clone(),
        );
        // Idle workers give memory back: see Worker::release_free_memory.
        tokio::spawn(async {
            let mut every = tokio::time::interval(Duration::from_secs(30));
            loop {
                every.tick().await;
                Worker::release_free_memory();
            }
        });
        tokio::spawn(fetch_cluster_id(
            bootstrap_servers.clone(),
            worker_config.admin.clone(),
            cluster_id,
        ));

        let stop_rest = CancellationToken::new();
        let mut rest_addr = None;
        let server = rest.map(|r| {
            rest_addr = Some(r.local_addr);
            tracing::info!(address = %r.local_addr, worker_id = %worker_id, "REST API listening");
            let state = AppState {
                herder: herder.clone() as Arc<dyn Herder>,
                topic_tracking: worker_config.topic_tracking_enable,
                topic_tracking_reset: worker_config.topic_tracking_allow_reset,
            };
            let token = stop_rest.clone();
            tokio::spawn(rest::serve(r.listener, state, async move {
                token.cancelled().await
            }))
        });

        let mut initial = Vec::new();
        for cfg in opts.connectors {
            let name = cfg
                .get(NAME)
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .ok_or_else(|| ConnectError::Config("a connector config has no `name`".into()))?;
            initial.push((name, cfg));
        }
        let app = StandaloneApp {
            herder: herder.clone(),
            rest_addr,
            bootstrap_servers,
            stop_rest,
            server,
            embedded,
        };
        if let Err(e) = herder.start(initial).await {
            app.shutdown().await;
            return Err(e);
        }
        tracing::info!("Conveyor standalone worker started");
        Ok(app)
    }

    /// Stops tasks gracefully (flushing offsets), then the REST server and the embedded broker.
    pub async fn shutdown(mut self) {
        tracing::info!("stopping the worker");
        self.herder.shutdown().await;
        self.stop_rest.cancel();
        if let Some(s) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), s).await;
        }
        if let Some(b) = self.embedded.take() {
            tokio::task::spawn_blocking(move || drop(b)).await.ok();
        }
        tracing::info!("worker stopped");
    }
}

async fn fetch_cluster_id(bootstrap: String, admin: ConfigMap, slot: Arc<RwLock<Option<String>>>) {
    let result = tokio::task::spawn_blocking(move || {
        let client: rdkafka::admin::AdminClient<crate::kafka::LoggingContext> =
            crate::kafka::build_client_config(
                &bootstrap,
                crate::kafka::ClientRole::Admin,
                &[],
                &admin,
                &ConfigMap::new(),
            )
            .create_with_context(crate::kafka::LoggingContext::default())
            .ok()?;
        client.inner().fetch_cluster_id(Duration::from_secs(30))
    })
    .await;
    if let Ok(Some(id)) = result {
        *slot.write() = Some(id);
    }
}
