//! `ReplaceField$Key` / `ReplaceField$Value`: drops, keeps and renames fields.
//!
//! ```properties
//! transforms=rename
//! transforms.rename.type=org.apache.kafka.connect.transforms.ReplaceField$Value
//! transforms.rename.exclude=password
//! transforms.rename.renames=id:user_id,ts:created_at
//! ```
//!
//! `exclude` wins over `include`; an empty `include` keeps every field. Null keys/values
//! pass through unchanged.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::config_keys::{parse, replace_null_with_default_key, REPLACE_NULL_WITH_DEFAULT};
use super::requirements::{require_map, require_struct};
use super::schema_util::{add_field, copy_schema_basics, field_value, put_field, SchemaCache};
use super::{Target, Transformation};
use crate::config::{
    ConfigDef, ConfigKey, ConfigMap, ConfigType, ConfigValue, Importance, Validator,
};
use crate::data::{Record, SchemaBuilder, SchemaRef, Struct, Value};
use crate::errors::Result;

/// Connect's class name, without the `$Key`/`$Value` suffix.
pub const CLASS: &str = "org.apache.kafka.connect.transforms.ReplaceField";

const EXCLUDE: &str = "exclude";
const INCLUDE: &str = "include";
const RENAMES: &str = "renames";
const PURPOSE: &str = "field replacement";

/// Parses `old:new` pairs; the error is Connect's `Invalid rename mapping: x`.
fn parse_renames(mappings: &[String]) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for mapping in mappings {
        // Java's `split(":")` drops trailing empty parts.
        let mut parts: Vec<&str> = mapping.split(':').collect();
        while parts.len() > 1 && parts.last() == Some(&"") {
            parts.pop();
        }
        if parts.len() != 2 {
            return Err(format!("Invalid rename mapping: {mapping}"));
        }
        out.insert(parts[0].to_string(), parts[1].to_string());
    }
    Ok(out)
}

/// Drops, keeps and renames fields of a struct or map.
pub struct ReplaceField {
    target: Target,
    exclude: HashSet<String>,
    include: HashSet<String>,
    renames: HashMap<String, String>,
    reverse_renames: HashMap<String, String>,
    replace_null_with_default: bool,
    schema_cache: SchemaCache,
}

impl ReplaceField {
    pub fn config_def() -> ConfigDef {
        ConfigDef::new()
            .define(
                ConfigKey::new(EXCLUDE, ConfigType::List)
                    .default_value("")
                    .importance(Importance::Medium)
                    .doc("Fields to exclude. This takes precedence over the fields to include."),
            )
            .define(
                ConfigKey::new(INCLUDE, ConfigType::List)
                    .default_value("")
                    .importance(Importance::Medium)
                    .doc("Fields to include. If specified, only these fields will be used."),
            )
            .define(
                ConfigKey::new(RENAMES, ConfigType::List)
                    .default_value("")
                    .validator(Validator::Custom(Arc::new(|v| match v {
                        ConfigValue::List(items) => parse_renames(items).map(|_| ()),
                        _ => Ok(()),
                    })))
                    .importance(Importance::Medium)
                    .doc("Field rename mappings."),
            )
            .define(replace_null_with_default_key())
    }

    pub fn new(target: Target, config: &ConfigMap) -> Result<Self> {
        let p = parse(&Self::config_def(), config)?;
        let renames =
            parse_renames(&p.list(RENAMES)).map_err(crate::errors::ConnectError::Config)?;
        let reverse_renames = renames
            .iter()
            .map(|(k, v)| (v.clone(), k.clone()))
            .collect();
        Ok(ReplaceField {
            target,
            exclude: p.list(EXCLUDE).into_iter().collect(),
            include: p.list(INCLUDE).into_iter().collect(),
            renames,
            reverse_renames,
            replace_null_with_default: p.boolean(REPLACE_NULL_WITH_DEFAULT).unwrap_or(true),
            schema_cache: SchemaCache::default(),
        })
    }
}

struct FieldFilter<'a> {
    exclude: &'a HashSet<String>,
    include: &'a HashSet<String>,
    renames: &'a HashMap<String, String>,
}

impl FieldFilter<'_> {
    fn keeps(&self, name: &str) -> bool {
        !self.exclude.contains(name) && (self.include.is_empty() || self.include.contains(name))
    }

    fn renamed<'n>(&'n self, name: &'n str) -> &'n str {
        self.renames.get(name).map(String::as_str).unwrap_or(name)
    }

    fn updated_schema(&self, schema: &SchemaRef) -> Result<SchemaRef> {
        let mut b = copy_schema_basics(schema, SchemaBuilder::struct_());
        for f in &schema.fields {
            if self.keeps(&f.name) {
                b = add_field(b, self.renamed(&f.name), f.schema.clone())?;
            }
        }
        Ok(b.build())
    }
}

impl Transformation for ReplaceField {
    fn apply(&mut self, mut record: Record) -> Result<Option<Record>> {
        let target = self.target;
        if target.value(&record).is_null() {
            return Ok(Some(record));
        }
        let filter = FieldFilter {
            exclude: &self.exclude,
            include: &self.include,
            renames: &self.renames,
        };
        match target.schema(&record) {
            None => {
                let entries = require_map(target.value(&record), PURPOSE)?;
                let updated: Vec<(Value, Value)> = entries
                    .iter()
                    .filter_map(|(k, v)| {
                        let name = k.as_str()?;
                        filter
                            .keeps(name)
                            .then(|| (Value::String(filter.renamed(name).to_string()), v.clone()))
                    })
                    .collect();
                target.set(&mut record, None, Value::Map(updated));
            }
            Some(_) => {
                let value = require_struct(target.value(&record), PURPOSE)?;
                let schema = value.schema().clone();
                let updated = self
                    .schema_cache
                    .get_or_build(&schema, || filter.updated_schema(&schema))?;
                let mut out = Struct::new(updated.clone());
                for f in &updated.fields {
                    let original = self
                        .reverse_renames
                        .get(&f.name)
                        .map(String::as_str)
                        .unwrap_or(&f.name);
                    put_field(
                        &mut out,
                        &f.name,
                        field_value(value, original, self.replace_null_with_default),
                    )?;
                }
                target.set(&mut record, Some(updated), Value::Struct(out));
            }
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Schema;
    use crate::transform::test_support::*;

    fn schema() -> SchemaRef {
        SchemaBuilder::struct_()
            .field("id", Schema::int64())
            .field("name", Schema::string())
            .field("password", Schema::optional_string())
            .build()
    }

    fn row() -> Value {
        let mut s = Struct::new(schema());
        s.put("id", Value::Int64(1)).unwrap();
        s.put("name", Value::from("ann")).unwrap();
        s.put("password", Value::from("hunter2")).unwrap();
        Value::Struct(s)
    }

    #[test]
    fn excludes_and_renames_with_schema() {
        let mut t = ReplaceField::new(
            Target::Value,
            &cfg(&[("exclude", "password"), ("renames", "id:user_id")]),
        )
        .unwrap();
        let r = t
            .apply(value_record(Some(schema()), row()))
            .unwrap()
            .unwrap();
        assert_eq!(
            envelope(r.value_schema.as_ref(), &r.value),
            r#"{"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"user_id"},{"type":"string","optional":false,"field":"name"}],"optional":false},"payload":{"user_id":1,"name":"ann"}}"#
        );
    }

    #[test]
    fn include_keeps_only_listed_fields_and_exclude_wins() {
        let mut t = ReplaceField::new(
            Target::Value,
            &cfg(&[("include", "id,password"), ("exclude", "password")]),
        )
        .unwrap();
        let r = t
            .apply(value_record(
                None,
                Value::string_map([
                    ("id", Value::Int64(1)),
                    ("name", Value::from("ann")),
                    ("password", Value::from("x")),
                ]),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(plain_json(&r.value), r#"{"id":1}"#);
    }

    #[test]
    fn key_variant_and_null_passthrough() {
        let mut t = ReplaceField::new(Target::Key, &cfg(&[("renames", "a:b")])).unwrap();
        let r = t
            .apply(sink_record(
                None,
                Value::string_map([("a", Value::Int32(1))]),
                None,
                Value::Null,
            ))
            .unwrap()
            .unwrap();
        assert_eq!(plain_json(&r.key), r#"{"b":1}"#);
        let tomb = value_record(Some(schema()), Value::Null);
        let mut tv = ReplaceField::new(Target::Value, &cfg(&[("exclude", "x")])).unwrap();
        assert_eq!(tv.apply(tomb.clone()).unwrap(), Some(tomb));
    }

    #[test]
    fn bad_renames_are_config_errors() {
        let err = ReplaceField::new(Target::Value, &cfg(&[("renames", "a:b,c")]))
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "Invalid value [a:b, c] for configuration renames: Invalid rename mapping: c"
        );
        assert!(ReplaceField::new(Target::Value, &cfg(&[("renames", "a:b:c")])).is_err());
    }

    #[test]
    fn renaming_onto_an_existing_field_fails() {
        let mut t = ReplaceField::new(Target::Value, &cfg(&[("renames", "id:name")])).unwrap();
        assert!(t.apply(value_record(Some(schema()), row())).is_err());
    }
}
