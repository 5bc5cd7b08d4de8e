//! `bootstrap.servers=embedded`: librdkafka's in-process mock cluster. For quickstarts,
//! notebooks and demos only: data lives in memory, is lost when the worker stops, and it
//! handles thousands (not millions) of records a second.

use std::sync::mpsc;
use std::thread::JoinHandle;

use rdkafka::mocking::MockCluster;

use crate::errors::{ConnectError, Result};

enum Command {
    CreateTopic {
        name: String,
        partitions: i32,
        reply: mpsc::Sender<Result<()>>,
    },
}

/// Creates topics on the embedded broker (its admin API cannot).
#[derive(Clone)]
pub struct EmbeddedTopics {
    commands: mpsc::Sender<Command>,
}

impl EmbeddedTopics {
    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<()> {
        let (reply, answer) = mpsc::channel();
        self.commands
            .send(Command::CreateTopic {
                name: name.to_string(),
                partitions: partitions.max(1),
                reply,
            })
            .map_err(|_| ConnectError::Kafka("the embedded broker has stopped".into()))?;
        answer
            .recv()
            .map_err(|_| ConnectError::Kafka("the embedded broker has stopped".into()))?
    }
}

/// A running mock cluster. It is not `Send`, so it lives on a thread of its own until this
/// handle is dropped.
pub struct EmbeddedBroker {
    bootstrap_servers: String,
    commands: Option<mpsc::Sender<Command>>,
    thread: Option<JoinHandle<()>>,
}

impl EmbeddedBroker {
    /// Starts a one-broker mock cluster.
    pub fn start() -> Result<EmbeddedBroker> {
        let (ready_tx, ready_rx) = mpsc::channel::<Result<String>>();
        let (command_tx, command_rx) = mpsc::channel::<Command>();
        let thread = std::thread::Builder::new()
            .name("embedded-broker".into())
            .spawn(move || match MockCluster::new(1) {
                Ok(cluster) => {
                    let _ = ready_tx.send(Ok(cluster.bootstrap_servers()));
                    // Runs until every sender (the broker handle and its topic handles) is gone.
                    while let Ok(cmd) = command_rx.recv() {
                        match cmd {
                            Command::CreateTopic {
                                name,
                                partitions,
                                reply,
                            } => {
                                let r = cluster.create_topic(&name, partitions, 1).map_err(|e| {
                                    ConnectError::Kafka(format!(
                                        "could not create topic {name}: {e}"
                                    ))
                                });
                                let _ = reply.send(r);
                            }
                        }
                    }
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
            commands: Some(command_tx),
            thread: Some(thread),
        })
    }

    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap_servers
    }

    /// A handle for creating topics; it keeps the broker running while it exists.
    pub fn topics(&self) -> Option<EmbeddedTopics> {
        self.commands
            .clone()
            .map(|commands| EmbeddedTopics { commands })
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        self.commands.take();
        if let Some(t) = self.thread.take() {
            // Other handles may still hold senders; do not wait for them forever.
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}
