//! `bootstrap.servers=embedded`: librdkafka's in-process mock cluster. For quickstarts,
//! notebooks and demos only: data lives in memory, is lost when the worker stops, and it
//! handles thousands (not millions) of records a second.

use std::sync::mpsc;
use std::thread::JoinHandle;

use rdkafka::mocking::MockCluster;

use crate::errors::{ConnectError, Result};

/// A running mock cluster. It is not `Send`, so it lives on a thread of its own until this
/// handle is dropped.
pub struct EmbeddedBroker {
    bootstrap_servers: String,
    shutdown: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EmbeddedBroker {
    /// Starts a one-broker mock cluster.
    pub fn start() -> Result<EmbeddedBroker> {
        let (ready_tx, ready_rx) = mpsc::channel::<Result<String>>();
        let (shutdown_tx, shutdown_rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("embedded-broker".into())
            .spawn(move || match MockCluster::new(1) {
                Ok(cluster) => {
                    let _ = ready_tx.send(Ok(cluster.bootstrap_servers()));
                    let _ = shutdown_rx.recv();
                    drop(cluster);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(ConnectError::Kafka(format!(
                        "could not start the embedded broker: {e}"
                    ))));
                }
            })
            .map_err(|e| {
                ConnectError::Other(format!("could not start the embedded broker thread: {e}"))
            })?;
        let bootstrap_servers = ready_rx
            .recv()
            .map_err(|_| ConnectError::Kafka("the embedded broker thread exited".into()))??;
        tracing::warn!(
            %bootstrap_servers,
            "using the embedded development broker (bootstrap.servers=embedded): data is kept in memory and lost when the worker stops; do not use it in production"
        );
        Ok(EmbeddedBroker {
            bootstrap_servers,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        })
    }

    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap_servers
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        self.shutdown.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
