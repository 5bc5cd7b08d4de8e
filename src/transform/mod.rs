//! Single message transforms (SMTs) and predicates: the traits, and Kafka Connect's built-in
//! ones (`org.apache.kafka.connect.transforms.*`), for records with schemas and without.
//!
//! Each SMT lives in its own file with its `ConfigDef` and a constructor from its config (the
//! `transforms.<alias>.` prefix already removed) that fails with `ConnectError::Config`. SMTs
//! that Connect ships as `X$Key` and `X$Value` take a [`Target`].
//! `plugin::builtin::register_transforms` registers them all; `docs/transforms.md` lists them.

mod config_keys;
pub mod date_format;
pub mod field_path;
pub mod java_text;
pub mod requirements;
pub mod schema_util;
pub mod target;

pub mod cast;
pub mod drop_headers;
pub mod extract_field;
pub mod extract_new_record_state;
pub mod filter;
pub mod flatten;
pub mod header_from;
pub mod hoist_field;
pub mod insert_field;
pub mod insert_header;
pub mod mask_field;
pub mod predicates;
pub mod regex_router;
pub mod replace_field;
pub mod set_schema_metadata;
pub mod timestamp_converter;
pub mod timestamp_router;
pub mod value_to_key;

#[cfg(test)]
pub(crate) mod test_support;

pub use cast::Cast;
pub use drop_headers::DropHeaders;
pub use extract_field::ExtractField;
pub use extract_new_record_state::ExtractNewRecordState;
pub use filter::Filter;
pub use flatten::Flatten;
pub use header_from::HeaderFrom;
pub use hoist_field::HoistField;
pub use insert_field::InsertField;
pub use insert_header::InsertHeader;
pub use mask_field::MaskField;
pub use predicates::{HasHeaderKey, RecordIsTombstone, TopicNameMatches};
pub use regex_router::RegexRouter;
pub use replace_field::ReplaceField;
pub use set_schema_metadata::SetSchemaMetadata;
pub use target::Target;
pub use timestamp_converter::TimestampConverter;
pub use timestamp_router::TimestampRouter;
pub use value_to_key::ValueToKey;

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

    /// Whether it reads a source record's `source_offset`. The source task loop hands the
    /// records' offsets to a chain only when a stage says so, and otherwise moves them out
    /// first, saving a copy per record. Kafka's SMTs never read it; Python ones may.
    fn reads_source_offset(&self) -> bool {
        false
    }

    fn close(&mut self) {}
}

/// A condition for applying a transformation (Connect's `Predicate`).
pub trait Predicate: Send {
    fn test(&mut self, record: &Record) -> Result<bool>;

    /// Tests a batch; Python predicates override this to cross the FFI boundary once.
    fn test_batch(&mut self, records: &[&Record]) -> Vec<Result<bool>> {
        records.iter().map(|r| self.test(r)).collect()
    }

    /// Whether it reads a source record's `source_offset` (see
    /// [`Transformation::reads_source_offset`]).
    fn reads_source_offset(&self) -> bool {
        false
    }

    fn close(&mut self) {}
}
