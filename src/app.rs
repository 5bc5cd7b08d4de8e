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
use crate::config::worker::{
    is_kafka_security_key, LISTENERS_HTTPS_PREFIX, REST_ADVERTISED_LISTENER,
};
use crate::config::{ConfigMap, WorkerConfig};
use crate::errors::{ConnectError, Result};
use crate::herder::distributed::forward::Forwarder;
use crate::herder::distributed::{DistributedHerder, DistributedParts};
use crate::herder::standalone::{ConfigDir, StandaloneHerder};
use crate::herder::status_store::MemoryStatusStore;
use crate::herder::Herder;
use crate::kafka::security::{check_login, KafkaSecurity};
use crate::kafka::EmbeddedBroker;
use crate::plugin::PluginRegistry;
use crate::rest::auth::BasicAuth;
use crate::rest::{self, AppState, KafkaAccess, RestListener, Scheme};
use crate::runtime::supervise::spawn_supervised;
use crate::runtime::{
    AbandonedWork, FileOffsetStore, MemoryOffsetStore, OffsetStore, Worker, WorkerServices,
};
use crate::schema_registry::{RegistryConfig, RegistryServer};

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
    /// Where the REST API listens (the first listener), when it does.
    pub rest_addr: Option<SocketAddr>,
    /// `http://` or `https://` and [`Self::rest_addr`].
    pub rest_url: Option<String>,
    /// The brokers clients use (the embedded broker's address when embedded).
    pub bootstrap_servers: String,
    /// The schema registry this worker serves (`schema.registry.listeners`), if any.
    pub schema_registry: Option<RegistryServer>,
    rest: Option<RestServer>,
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

/// Where other workers reach this one: its advertised URL (`http://host:port` or
/// `https://host:port`) and its `worker_id` (`host:port`), as Kafka Connect's
/// `RestServer.advertisedUrl` picks them. The scheme is `rest.advertised.listener`, else
/// `http` when there is an `http://` listener, else `https`; host and port are
/// `rest.advertised.*`, else the first listener of that scheme's, else this machine's host
/// name (and 8083). Without any listener or advertised address, the `worker_id` is
/// `host (no REST listener)`.
fn advertised(config: &WorkerConfig, listeners: &[RestListener]) -> Result<(String, String)> {
    let scheme = match config.rest_advertised_listener.as_deref() {
        Some("https") => Scheme::Https,
        Some(_) => Scheme::Http,
        None if listeners.iter().any(|l| l.scheme == Scheme::Http) => Scheme::Http,
        None if !listeners.is_empty() => Scheme::Https,
        None => Scheme::Http,
    };
    let listener = listeners.iter().find(|l| l.scheme == scheme);
    if listener.is_none() && !listeners.is_empty() && config.rest_advertised_port.is_none() {
        return Err(ConnectError::Config(format!(
            "{REST_ADVERTISED_LISTENER}={scheme}, but `listeners` has no {scheme}:// listener: \
             add one, or set rest.advertised.host.name and rest.advertised.port to the address \
             that serves {scheme} for this worker (a proxy in front of it)"
        )));
    }
    let host = config
        .rest_advertised_host_name
        .clone()
        .or_else(|| {
            listener
                .map(|r| r.configured_host.clone())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(host_name);
    let port = config
        .rest_advertised_port
        .or(listener.map(|r| r.local_addr.port()))
        .unwrap_or(8083);
    if listeners.is_empty()
        && config.rest_advertised_host_name.is_none()
        && config.rest_advertised_port.is_none()
    {
        // No REST listener (an in-process `conveyor.Worker`, or `listeners=` left empty):
        // `host:8083` would name an address nothing answers on.
        return Ok((
            format!("{scheme}://{host}:{port}"),
            format!("{host} (no REST listener)"),
        ));
    }
    let url_host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.clone()
    };
    Ok((
        format!("{scheme}://{url_host}:{port}"),
        format!("{host}:{port}"),
    ))
}

/// The REST side of a worker, made before anything else starts, so that a listener that
/// cannot be bound, an unusable keystore or truststore, an unknown REST extension or an
/// unreadable JAAS file stops the worker at once with the setting's name. A security setting
/// that cannot be honoured never leaves the API open.
struct RestSetup {
    listeners: Vec<RestListener>,
    auth: Option<Arc<BasicAuth>>,
    forwarder: Forwarder,
}

impl RestSetup {
    async fn prepare(config: &WorkerConfig) -> Result<RestSetup> {
        let urls = config
            .listeners
            .iter()
            .map(|u| rest::parse_listener(u))
            .collect::<Result<Vec<_>>>()?;
        let https_listener = urls.iter().any(|u| u.scheme == Scheme::Https);
        // The client that forwards to other workers needs them too when they advertise https.
        let tls = if https_listener
            || config.rest_advertised_listener.as_deref() == Some("https")
            || config.rest_ssl_prefix().starts_with(LISTENERS_HTTPS_PREFIX)
        {
            Some(rest::https_settings(config)?)
        } else {
            None
        };
        let acceptor = match &tls {
            Some((settings, prefix)) if https_listener => Some(Arc::new(
                settings.acceptor(&format!("{prefix}keystore.location"))?,
            )),
            _ => None,
        };
        let kafka_opts = std::env::var("KAFKA_OPTS").ok();
        let auth = BasicAuth::from_worker_config(config, kafka_opts.as_deref())?.map(Arc::new);
        let forwarder = Forwarder::new(tls.as_ref().map(|(settings, _)| settings))?;
        let mut listeners = Vec::new();
        for url in &urls {
            listeners.push(rest::bind(url, acceptor.clone()).await?);
        }
        Ok(RestSetup {
            listeners,
            auth,
            forwarder,
        })
    }
}

/// The running REST servers, one per listener.
struct RestServer {
    stop: CancellationToken,
    servers: Vec<JoinHandle<()>>,
}

impl RestServer {
    /// Stops accepting requests and waits (a few seconds at most) for the servers to finish.
    async fn stop(self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            futures::future::join_all(self.servers),
        )
        .await;
    }
}

/// Memory release and the cluster id lookup, in the background.
fn spawn_background_chores(
    bootstrap: &str,
    config: &WorkerConfig,
    cluster_id: Arc<RwLock<Option<String>>>,
) {
    // Idle workers give memory back: see Worker::release_free_memory.
    tokio::spawn(async {
        let mut every = tokio::time::interval(Duration::from_secs(30));
        loop {
            every.tick().await;
            Worker::release_free_memory();
        }
    });
    tokio::spawn(fetch_cluster_id(
        bootstrap.to_string(),
        config.admin.clone(),
        cluster_id,
    ));
}

/// Serves the REST API on every listener until stopped.
fn serve_rest(
    setup: RestSetup,
    herder: Arc<dyn Herder>,
    config: &WorkerConfig,
    worker_id: &str,
    bootstrap: &str,
) -> RestServer {
    let stop = CancellationToken::new();
    let state = AppState {
        herder,
        topic_tracking: config.topic_tracking_enable,
        topic_tracking_reset: config.topic_tracking_allow_reset,
        auth: setup.auth,
        forwarder: setup.forwarder,
        kafka: Arc::new(KafkaAccess {
            bootstrap: bootstrap.to_string(),
            consumer: config.consumer.clone(),
        }),
    };
    // One set of limits for all listeners: the cap is on the worker's sockets.
    let limits = rest::ConnectionLimits::from_config(config);
    let servers = setup
        .listeners
        .into_iter()
        .map(|listener| {
            tracing::info!(
                url = %listener.local_url(),
                worker_id = %worker_id,
                basic_auth = state.auth.is_some(),
                "REST API listening"
            );
            let token = stop.clone();
            spawn_supervised(
                "the REST server",
                state.herder.fatal().clone(),
                rest::serve(listener, state.clone(), limits.clone(), async move {
                    token.cancelled().await
                }),
            )
        })
        .collect();
    RestServer { stop, servers }
}

/// Starts the schema registry a worker serves when `schema.registry.listeners` is set, on the
/// worker's brokers and client settings.
async fn start_schema_registry(
    config: &WorkerConfig,
    bootstrap: &str,
) -> Result<Option<RegistryServer>> {
    let Some(mut registry) = RegistryConfig::from_worker(config)? else {
        return Ok(None);
    };
    registry.bootstrap = bootstrap.to_string();
    let server = RegistryServer::start(registry).await?;
    tracing::info!(urls = ?server.urls, "schema registry started on this worker");
    Ok(Some(server))
}

/// How long the start-up login check waits for a broker.
const LOGIN_CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads the worker's Kafka security settings, top-level and per client, so that a store that
/// cannot be read, a wrong store password or a mechanism Conveyor cannot honour stops the
/// worker at start with the setting's name, rather than failing each client later.
fn check_kafka_security(config: &WorkerConfig) -> Result<KafkaSecurity> {
    let security = KafkaSecurity::from_config(&config.security)?;
    for (prefix, map) in [
        ("producer.", &config.producer),
        ("consumer.", &config.consumer),
        ("admin.", &config.admin),
    ] {
        let overridden = map
            .keys()
            .any(|k| config.raw.contains_key(&format!("{prefix}{k}")) && is_kafka_security_key(k));
        if overridden {
            KafkaSecurity::from_config(map)
                .map_err(|e| e.context(format!("in the {prefix}* settings")))?;
        }
    }
    Ok(security)
}

impl StandaloneApp {
    /// Starts everything; fails fast (port in use, bad offset file, broken connector files).
    pub async fn start(opts: StandaloneOptions) -> Result<StandaloneApp> {
        let worker_config = Arc::new(opts.worker);
        for key in &worker_config.unknown_keys {
            tracing::warn!(key = %key, "unknown worker config key (ignored); check it for typos");
        }
        let security = check_kafka_security(&worker_config)?;
        let rest = RestSetup::prepare(&worker_config).await?;
        let embedded = if worker_config.uses_embedded_broker() {
            Some(EmbeddedBroker::start()?)
        } else {
            None
        };
        let bootstrap_servers = embedded
            .as_ref()
            .map(|b| b.bootstrap_servers().to_string())
            .unwrap_or_else(|| worker_config.bootstrap_servers.clone());
        if embedded.is_none() {
            check_login(&bootstrap_servers, &security, LOGIN_CHECK_TIMEOUT).await?;
        }
        let schema_registry = start_schema_registry(&worker_config, &bootstrap_servers).await?;
        let (_, worker_id) = advertised(&worker_config, &rest.listeners)?;
        let rest_addr = rest.listeners.first().map(|l| l.local_addr);
        let rest_url = rest.listeners.first().map(RestListener::local_url);
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
                offset_topics: None,
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
        spawn_background_chores(&bootstrap_servers, &worker_config, cluster_id);

        let rest = serve_rest(
            rest,
            herder.clone() as Arc<dyn Herder>,
            &worker_config,
            &worker_id,
            &bootstrap_servers,
        );

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
            rest_url,
            bootstrap_servers,
            schema_registry,
            rest: Some(rest),
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
    /// Returns what did not stop in time and may still run.
    pub async fn shutdown(mut self) -> AbandonedWork {
        tracing::info!("stopping the worker");
        self.herder.shutdown().await;
        let abandoned = self.herder.worker().abandoned();
        if let Some(rest) = self.rest.take() {
            rest.stop().await;
        }
        if let Some(registry) = self.schema_registry.take() {
            registry.shutdown().await;
        }
        if let Some(b) = self.embedded.take() {
            tokio::task::spawn_blocking(move || drop(b)).await.ok();
        }
        tracing::info!("worker stopped");
        abandoned
    }
}

async fn fetch_cluster_id(bootstrap: String, admin: ConfigMap, slot: Arc<RwLock<Option<String>>>) {
    let result = tokio::task::spawn_blocking(move || {
        let config = crate::kafka::build_client_config(
            &bootstrap,
            crate::kafka::ClientRole::Admin,
            &[],
            &admin,
            &ConfigMap::new(),
        )
        .ok()?;
        let client: rdkafka::admin::AdminClient<crate::kafka::LoggingContext> = config
            .create_with_context(crate::kafka::LoggingContext::default())
            .ok()?;
        crate::kafka::security::oauth::set_token_directly(client.inner(), &config).ok()?;
        client.inner().fetch_cluster_id(Duration::from_secs(30))
    })
    .await;
    if let Ok(Some(id)) = result {
        *slot.write() = Some(id);
    }
}

/// A running distributed worker.
pub struct DistributedApp {
    pub herder: Arc<DistributedHerder>,
    pub rest_addr: Option<SocketAddr>,
    /// The schema registry this worker serves (`schema.registry.listeners`), if any.
    pub schema_registry: Option<RegistryServer>,
    rest: Option<RestServer>,
}

impl DistributedApp {
    /// Creates or checks the internal topics, reads them, and joins the group.
    pub async fn start(worker: WorkerConfig, registry: PluginRegistry) -> Result<DistributedApp> {
        use crate::herder::distributed::config_store::ConfigStore;
        use crate::herder::distributed::internal_topics;
        use crate::herder::distributed::offset_store::{
            KafkaConnectorOffsetTopics, KafkaOffsetStore,
        };
        use crate::herder::distributed::status_store::KafkaStatusStore;
        use crate::herder::distributed::topic_log::LogClients;

        let worker_config = Arc::new(worker);
        for key in &worker_config.unknown_keys {
            tracing::warn!(key = %key, "unknown worker config key (ignored); check it for typos");
        }
        let settings = worker_config.distributed.clone().ok_or_else(|| {
            ConnectError::Config("the worker config is not a distributed worker config".into())
        })?;
        let security = check_kafka_security(&worker_config)?;
        if worker_config.uses_embedded_broker() {
            return Err(ConnectError::Config(
                "bootstrap.servers=embedded is for standalone workers only: distributed workers share state through a Kafka cluster that all of them reach".into(),
            ));
        }
        if worker_config.listeners.is_empty() {
            return Err(ConnectError::Config(
                "listeners is empty: distributed workers need a REST listener (other workers forward requests to it)".into(),
            ));
        }
        let rest = RestSetup::prepare(&worker_config).await?;
        let (url, worker_id) = advertised(&worker_config, &rest.listeners)?;
        let rest_addr = rest.listeners.first().map(|l| l.local_addr);
        let bootstrap = worker_config.bootstrap_servers.clone();
        check_login(&bootstrap, &security, LOGIN_CHECK_TIMEOUT).await?;
        let admin = crate::kafka::Admin::new(&bootstrap, &worker_config.admin)?;
        let topics = internal_topics::ensure(&admin, &settings).await?;
        let schema_registry = start_schema_registry(&worker_config, &bootstrap).await?;

        let clients = LogClients {
            bootstrap: &bootstrap,
            consumer: &worker_config.consumer,
            producer: &worker_config.producer,
        };
        let (restarts_tx, restarts) = tokio::sync::mpsc::unbounded_channel();
        let memory = Arc::new(MemoryStatusStore::new(worker_id.clone()));
        // Creating clients fetches metadata, which blocks.
        let (configs, offsets, statuses) = tokio::task::block_in_place(|| {
            Ok::<_, ConnectError>((
                Arc::new(ConfigStore::start(&clients, &topics.config, restarts_tx)?),
                Arc::new(KafkaOffsetStore::start(&clients, &topics.offset)?),
                Arc::new(KafkaStatusStore::start(
                    &clients,
                    &topics.status,
                    &worker_id,
                    memory,
                )?),
            ))
        })?;
        configs.read_to_end().await?;
        offsets.read_to_end(Duration::from_secs(60)).await?;
        statuses.read_to_end().await?;
        tracing::info!(
            connectors = configs.with(|s| s.connectors.len()),
            "read the internal topics"
        );

        let (worker, requests) = Worker::new(
            WorkerServices {
                worker_id: worker_id.clone(),
                config: worker_config.clone(),
                bootstrap: bootstrap.clone(),
                registry: Arc::new(registry),
                offsets: offsets.clone(),
                status: statuses.clone(),
                embedded_topics: None,
                providers: Arc::new(ConfigProviders::from_worker_config(&worker_config.raw)?),
                offset_topics: Some(Arc::new(KafkaConnectorOffsetTopics {
                    bootstrap: bootstrap.clone(),
                    admin: worker_config.admin.clone(),
                    consumer: worker_config.consumer.clone(),
                    producer: worker_config.producer.clone(),
                    partitions: settings.offset_partitions,
                    replication_factor: settings.offset_replication_factor,
                })),
            },
            tokio::runtime::Handle::current(),
        );
        let cluster_id = Arc::new(RwLock::new(None));
        spawn_background_chores(&bootstrap, &worker_config, cluster_id.clone());
        let herder = DistributedHerder::start(
            DistributedParts {
                worker: Arc::new(worker),
                settings,
                bootstrap,
                security,
                url,
                forwarder: rest.forwarder.clone(),
                topics,
                configs,
                offsets,
                statuses,
                cluster_id,
            },
            requests,
            restarts,
        );
        let rest = serve_rest(
            rest,
            herder.clone() as Arc<dyn Herder>,
            &worker_config,
            &worker_id,
            &worker_config.bootstrap_servers,
        );
        tracing::info!(group = %worker_config.distributed.as_ref().map(|d| d.group_id.as_str()).unwrap_or_default(), "Conveyor distributed worker started");
        Ok(DistributedApp {
            herder,
            rest_addr,
            schema_registry,
            rest: Some(rest),
        })
    }

    /// Stops tasks (flushing offsets), leaves the group, then stops the REST server. Returns
    /// what did not stop in time and may still run.
    pub async fn shutdown(mut self) -> AbandonedWork {
        tracing::info!("stopping the worker");
        self.herder.shutdown().await;
        let abandoned = self.herder.worker().abandoned();
        if let Some(rest) = self.rest.take() {
            rest.stop().await;
        }
        if let Some(registry) = self.schema_registry.take() {
            registry.shutdown().await;
        }
        tracing::info!("worker stopped");
        abandoned
    }
}
