//! Single message transforms (SMTs) and predicates: the traits, and Kafka Connect's built-in
//! ones (`org.apache.kafka.connect.transforms.*`), for records with schemas and without.
//!
//! Each SMT lives in its own file with its `ConfigDef` and a constructor from its config (the
//! `transforms.<alias>.` prefix already removed) that fails with `ConnectError::Config`. SMTs
//! that Connect ships as `X$Key` and `X$Value` take a [`Target`].
//! [`builtin_transforms`] and [`builtin_predicates`] list them all, the one place to add a new
//! one (the plugin registry takes them from there); `docs/transforms.md` lists them for users.

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

use std::sync::Arc;

use crate::config::{ConfigDef, ConfigMap};
use crate::data::Record;
use crate::errors::Result;

/// Builds a transformation from its config (the `transforms.<alias>.` prefix removed).
pub type TransformFactory =
    Arc<dyn Fn(&ConfigMap) -> Result<Box<dyn Transformation>> + Send + Sync>;
/// Builds a predicate from its config (the `predicates.<alias>.` prefix removed).
pub type PredicateFactory = Arc<dyn Fn(&ConfigMap) -> Result<Box<dyn Predicate>> + Send + Sync>;

/// A built-in transformation or predicate class: its Kafka Connect class name, its config
/// definition and its constructor. The plugin registry adds the aliases and the version.
pub struct BuiltinClass<F> {
    pub class: String,
    pub config_def: ConfigDef,
    pub new: F,
}

/// `X$Key` and `X$Value` for an SMT built as `X::new(target, config)`.
macro_rules! keyed {
    ($out:expr, $module:ident :: $ty:ident) => {
        for target in Target::ALL {
            $out.push(BuiltinClass {
                class: target.class($module::CLASS),
                config_def: $ty::config_def(),
                new: Arc::new(move |cfg: &ConfigMap| {
                    Ok(Box::new($ty::new(target, cfg)?) as Box<dyn Transformation>)
                }) as TransformFactory,
            });
        }
    };
}

/// An SMT that has no key/value variants, built as `X::new(config)`.
macro_rules! plain {
    ($out:expr, $module:ident :: $ty:ident) => {
        $out.push(BuiltinClass {
            class: $module::CLASS.to_string(),
            config_def: $ty::config_def(),
            new: Arc::new(|cfg: &ConfigMap| Ok(Box::new($ty::new(cfg)?) as Box<dyn Transformation>))
                as TransformFactory,
        });
    };
}

/// A predicate built as `X::new(config)`.
macro_rules! predicate {
    ($class:expr, $ty:ident) => {
        BuiltinClass {
            class: $class.to_string(),
            config_def: $ty::config_def(),
            new: Arc::new(|cfg: &ConfigMap| Ok(Box::new($ty::new(cfg)?) as Box<dyn Predicate>))
                as PredicateFactory,
        }
    };
}

/// Kafka Connect's built-in transformations (`$Key`/`$Value` variants where Connect has
/// them), under their Connect class names.
pub fn builtin_transforms() -> Vec<BuiltinClass<TransformFactory>> {
    let mut out = Vec::new();
    keyed!(out, cast::Cast);
    plain!(out, drop_headers::DropHeaders);
    keyed!(out, extract_field::ExtractField);
    plain!(out, extract_new_record_state::ExtractNewRecordState);
    plain!(out, filter::Filter);
    keyed!(out, flatten::Flatten);
    keyed!(out, header_from::HeaderFrom);
    keyed!(out, hoist_field::HoistField);
    keyed!(out, insert_field::InsertField);
    plain!(out, insert_header::InsertHeader);
    keyed!(out, mask_field::MaskField);
    plain!(out, regex_router::RegexRouter);
    keyed!(out, replace_field::ReplaceField);
    keyed!(out, set_schema_metadata::SetSchemaMetadata);
    keyed!(out, timestamp_converter::TimestampConverter);
    plain!(out, timestamp_router::TimestampRouter);
    plain!(out, value_to_key::ValueToKey);
    out
}

/// Kafka Connect's built-in predicates, under their Connect class names.
pub fn builtin_predicates() -> Vec<BuiltinClass<PredicateFactory>> {
    vec![
        predicate!(predicates::TOPIC_NAME_MATCHES, TopicNameMatches),
        predicate!(predicates::HAS_HEADER_KEY, HasHeaderKey),
        predicate!(predicates::RECORD_IS_TOMBSTONE, RecordIsTombstone),
    ]
}

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
