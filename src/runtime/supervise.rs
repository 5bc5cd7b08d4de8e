//! Supervision of the worker's long-lived background tasks (the herder's event loop, group
//! membership, status writes). Tokio keeps a panic inside its task: without this, a herder
//! whose loop panicked leaves REST answering as if nothing happened. A supervised task that
//! panics raises the worker's [`FatalError`] instead, which `/health` reports (500) and the CLI
//! turns into a non-zero exit.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use parking_lot::Mutex;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Why the worker cannot go on, once raised. The first reason wins: later failures are often
/// consequences of the first.
#[derive(Debug, Default)]
pub struct FatalError {
    raised: CancellationToken,
    reason: Mutex<Option<String>>,
}

impl FatalError {
    pub fn new() -> FatalError {
        FatalError::default()
    }

    /// Marks the worker as unable to go on, logging `reason` at ERROR.
    pub fn raise(&self, reason: impl Into<String>) {
        let reason = reason.into();
        tracing::error!("{reason}");
        let mut slot = self.reason.lock();
        if slot.is_none() {
            *slot = Some(reason);
        }
        drop(slot);
        self.raised.cancel();
    }

    /// The reason, once raised.
    pub fn reason(&self) -> Option<String> {
        self.reason.lock().clone()
    }

    /// Resolves once raised, with the reason.
    pub async fn wait(&self) -> String {
        self.raised.cancelled().await;
        self.reason()
            .unwrap_or_else(|| "the worker stopped".to_string())
    }
}

/// Spawns `task` on the current runtime; if it panics, `fatal` is raised naming `what` (for
/// example "the herder's event loop") and the panic's message. A task that returns is not a
/// failure: the loops return when the worker shuts down.
pub fn spawn_supervised<F>(
    what: &'static str,
    fatal: std::sync::Arc<FatalError>,
    task: F,
) -> JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(panic) = AssertUnwindSafe(task).catch_unwind().await {
            fatal.raise(format!(
                "{what} panicked: {}; the worker cannot go on and must be restarted",
                panic_message(panic.as_ref())
            ));
        }
    })
}

/// The text of a panic payload (`panic!` with a literal or a formatted message).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn a_panicking_task_raises_the_fatal_error_with_its_message() {
        let fatal = Arc::new(FatalError::new());
        let handle = spawn_supervised("the herder's event loop", fatal.clone(), async {
            panic!("index out of bounds: the len is 0 but the index is 3");
        });
        handle.await.unwrap();
        let reason = tokio::time::timeout(Duration::from_secs(5), fatal.wait())
            .await
            .unwrap();
        assert_eq!(
            reason,
            "the herder's event loop panicked: index out of bounds: the len is 0 but the index \
             is 3; the worker cannot go on and must be restarted"
        );
    }

    #[tokio::test]
    async fn a_task_that_returns_is_not_a_failure_and_the_first_reason_wins() {
        let fatal = Arc::new(FatalError::new());
        spawn_supervised("a loop", fatal.clone(), async {})
            .await
            .unwrap();
        assert_eq!(fatal.reason(), None);
        fatal.raise("first");
        fatal.raise("second");
        assert_eq!(fatal.wait().await, "first");
    }
}
