//! Single message transforms (SMTs) and predicates: the traits, and the built-in ones.

use crate::data::Record;
use crate::errors::Result;

/// A single message transform (Connect's `Transformation`).
pub trait Transformation: Send {
    /// The transformed record, or `None` to drop it.
    fn apply(&mut self, record: Record) -> Result<Option<Record>>;

    /// Applies to a batch; Python transforms override this to cross the FFI boundary once.
    fn apply_batch(&mut self, records: Vec<Record>) -> Vec<Result<Option<Record>>> {
        records.into_iter().map(|r| self.apply(r)).collect()
    }

    fn close(&mut self) {}
}

/// A condition for applying a transformation (Connect's `Predicate`).
pub trait Predicate: Send {
    fn test(&mut self, record: &Record) -> Result<bool>;

    fn close(&mut self) {}
}
