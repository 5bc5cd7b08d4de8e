//! Schema, struct and schemaless-map helpers shared by the SMTs (Connect's `SchemaUtil` and
//! `SchemaUpdateCache`).

use std::collections::VecDeque;
use std::sync::Arc;

use crate::data::{SchemaBuilder, SchemaRef, Struct, Value};
use crate::errors::{ConnectError, Result};

/// Copies name, version, doc and parameters of `source` onto `builder` (Connect's
/// `SchemaUtil.copySchemaBasics`; optionality and default are left to the caller).
pub fn copy_schema_basics(source: &SchemaRef, builder: SchemaBuilder) -> SchemaBuilder {
    let mut b = builder
        .set_name(source.name.clone())
        .set_version(source.version);
    if let Some(doc) = &source.doc {
        b = b.doc(doc.clone());
    }
    for (k, v) in &source.parameters {
        b = b.parameter(k.clone(), v.clone());
    }
    b
}

/// The value of a struct field, with the field's default applied to nulls when
/// `replace_null_with_default` is set (the `replace.null.with.default` SMT setting).
pub fn field_value(s: &Struct, name: &str, replace_null_with_default: bool) -> Value {
    let v = if replace_null_with_default {
        s.get(name)
    } else {
        s.get_without_default(name)
    };
    v.cloned().unwrap_or(Value::Null)
}

/// Sets a struct field, turning a schema mismatch into a `DataException`.
pub fn put_field(s: &mut Struct, name: &str, value: Value) -> Result<()> {
    s.put(name, value).map(|_| ()).map_err(ConnectError::Data)
}

/// Adds a field to a struct builder, refusing duplicates as Connect's `SchemaBuilder.field`
/// does.
pub fn add_field(builder: SchemaBuilder, name: &str, schema: SchemaRef) -> Result<SchemaBuilder> {
    let probe = builder.clone().build();
    if probe.field(name).is_some() {
        return Err(ConnectError::Data(format!(
            "Cannot create field because of field name duplication {name}"
        )));
    }
    Ok(builder.field(name, schema))
}

/// Sets `key` in schemaless map entries: replaces the value in place when the key exists
/// (as `HashMap.put` does), appends otherwise.
pub fn map_put(entries: &mut Vec<(Value, Value)>, key: &str, value: Value) {
    match entries.iter_mut().find(|(k, _)| k.as_str() == Some(key)) {
        Some(entry) => entry.1 = value,
        None => entries.push((Value::String(key.to_string()), value)),
    }
}

/// A small cache from input schema to derived schema, so that an SMT builds each output
/// schema once per distinct input schema (Connect keeps an LRU of 16).
#[derive(Debug)]
pub struct SchemaCache {
    entries: VecDeque<(SchemaRef, SchemaRef)>,
    capacity: usize,
}

impl Default for SchemaCache {
    fn default() -> Self {
        SchemaCache::new(16)
    }
}

impl SchemaCache {
    pub fn new(capacity: usize) -> Self {
        SchemaCache {
            entries: VecDeque::with_capacity(capacity),
            capacity: capacity.max(1),
        }
    }

    /// The cached schema derived from `key`, building (and caching) it on a miss.
    pub fn get_or_build(
        &mut self,
        key: &SchemaRef,
        build: impl FnOnce() -> Result<SchemaRef>,
    ) -> Result<SchemaRef> {
        // Pointer equality is the common hit (converters hand out shared schemas); structural
        // equality catches equal schemas built separately.
        if let Some(pos) = self
            .entries
            .iter()
            .position(|(k, _)| Arc::ptr_eq(k, key) || **k == **key)
        {
            if pos != 0 {
                if let Some(entry) = self.entries.remove(pos) {
                    self.entries.push_front(entry);
                }
            }
            if let Some((_, v)) = self.entries.front() {
                return Ok(v.clone());
            }
        }
        let built = build()?;
        if self.entries.len() == self.capacity {
            self.entries.pop_back();
        }
        self.entries.push_front((key.clone(), built.clone()));
        Ok(built)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Schema, SchemaType};

    #[test]
    fn cache_builds_once_per_schema_and_evicts_oldest() {
        let mut cache = SchemaCache::new(2);
        let a = SchemaBuilder::struct_().field("a", Schema::int32()).build();
        let a_again = SchemaBuilder::struct_().field("a", Schema::int32()).build();
        let b = SchemaBuilder::struct_().field("b", Schema::int32()).build();
        let c = SchemaBuilder::struct_().field("c", Schema::int32()).build();
        let mut builds = 0;
        for s in [&a, &a_again, &a] {
            cache
                .get_or_build(s, || {
                    builds += 1;
                    Ok(Schema::string())
                })
                .unwrap();
        }
        assert_eq!(builds, 1);
        cache.get_or_build(&b, || Ok(Schema::string())).unwrap();
        cache.get_or_build(&c, || Ok(Schema::string())).unwrap();
        assert_eq!(cache.len(), 2);
        let mut rebuilt = false;
        cache
            .get_or_build(&a, || {
                rebuilt = true;
                Ok(Schema::string())
            })
            .unwrap();
        assert!(
            rebuilt,
            "a was the least recently used and must have been evicted"
        );
    }

    #[test]
    fn basics_are_copied_and_duplicates_refused() {
        let src = SchemaBuilder::new(SchemaType::Int64)
            .name("n")
            .version(3)
            .doc("d")
            .parameter("p", "v")
            .optional()
            .build();
        let copied = copy_schema_basics(&src, SchemaBuilder::struct_()).build();
        assert_eq!(copied.name.as_deref(), Some("n"));
        assert_eq!(copied.version, Some(3));
        assert_eq!(copied.doc.as_deref(), Some("d"));
        assert_eq!(copied.parameters.get("p").map(String::as_str), Some("v"));
        assert!(!copied.optional);
        let b = SchemaBuilder::struct_().field("x", Schema::int8());
        let err = add_field(b, "x", Schema::int8()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Cannot create field because of field name duplication x"
        );
    }
}
