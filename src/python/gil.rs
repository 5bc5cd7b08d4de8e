//! The one place Python-facing code waits for Rust work: the GIL is released while the work
//! runs, Ctrl-C (a pending Python signal) interrupts the wait, and errors become
//! `conveyor.errors` exceptions.

use std::future::Future;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use pyo3::prelude::*;
use tokio::runtime::Handle;

use super::errors::{to_py_err, ErrorClass};
use crate::errors::Result;

/// How often a waiting thread looks for pending signals (Ctrl-C in a notebook or a REPL).
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// Runs `work` on `rt` and waits for it with the GIL released, so that tasks running Python
/// plugins on other threads keep going. A Ctrl-C stops the wait (raising
/// `KeyboardInterrupt`) but not the work, which finishes in the background: stopping a
/// connector half-way would leave it in a state nobody asked for.
pub fn wait_detached<T, F>(py: Python<'_>, rt: &Handle, work: F) -> PyResult<T>
where
    T: Send + 'static,
    F: Future<Output = Result<T>> + Send + 'static,
{
    let (tx, rx) = mpsc::sync_channel(1);
    // Shared with the detached closure, which must be `Sync`.
    let rx = parking_lot::Mutex::new(rx);
    rt.spawn(async move {
        let _ = tx.send(work.await);
    });
    loop {
        match py.detach(|| rx.lock().recv_timeout(SIGNAL_CHECK)) {
            Ok(result) => return result.map_err(to_py_err),
            Err(RecvTimeoutError::Timeout) => py.check_signals()?,
            Err(RecvTimeoutError::Disconnected) => {
                return Err(ErrorClass::Connect.err(
                    py,
                    "the operation was abandoned: the worker's runtime stopped or the operation panicked",
                ))
            }
        }
    }
}
