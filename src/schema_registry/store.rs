//! What the registry knows, rebuilt from the `_schemas` topic: its records in Confluent's key
//! and value formats, and the state they add up to.
//!
//! Keys are JSON with Confluent's field order: `{"keytype":"SCHEMA","subject":s,"version":v,
//! "magic":1}`, `{"keytype":"CONFIG","subject":s|null,"magic":0}`, `{"keytype":"MODE",...}`,
//! `{"keytype":"DELETE_SUBJECT",...}`, `{"keytype":"CLEAR_SUBJECT",...}`; a null subject is
//! the registry-wide setting. Values: `{"subject","version","id","schemaType"?,"references"?,
//! "schema","deleted"}` for schemas (schemaType absent for AVRO), `{"compatibilityLevel"}` for
//! configs, `{"mode"}` for modes; a tombstone deletes the key.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::types::{Compatibility, Mode, Reference, RegistryError, SchemaType, VersionSpec};

/// A key of the `_schemas` topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreKey {
    Schema {
        subject: String,
        version: i32,
    },
    Config {
        subject: Option<String>,
    },
    Mode {
        subject: Option<String>,
    },
    DeleteSubject {
        subject: String,
    },
    ClearSubject {
        subject: String,
    },
    /// NOOP and key types this registry does not use.
    Other,
}

impl StoreKey {
    /// The key's bytes, as Confluent's registry writes them.
    pub fn to_json(&self) -> String {
        let subject_key = |keytype: &str, subject: Option<&str>| {
            // serde_json's maps sort keys; Confluent's order is fixed by hand.
            format!(
                "{{\"keytype\":\"{keytype}\",\"subject\":{},\"magic\":0}}",
                serde_json::to_string(&subject).unwrap_or_else(|_| "null".into())
            )
        };
        match self {
            StoreKey::Schema { subject, version } => format!(
                "{{\"keytype\":\"SCHEMA\",\"subject\":{},\"version\":{version},\"magic\":1}}",
                serde_json::to_string(subject).unwrap_or_default()
            ),
            StoreKey::Config { subject } => subject_key("CONFIG", subject.as_deref()),
            StoreKey::Mode { subject } => subject_key("MODE", subject.as_deref()),
            StoreKey::DeleteSubject { subject } => subject_key("DELETE_SUBJECT", Some(subject)),
            StoreKey::ClearSubject { subject } => subject_key("CLEAR_SUBJECT", Some(subject)),
            StoreKey::Other => "{\"keytype\":\"NOOP\",\"magic\":0}".into(),
        }
    }

    pub fn parse(bytes: &[u8]) -> Option<StoreKey> {
        #[derive(Deserialize)]
        struct Raw {
            keytype: String,
            subject: Option<String>,
            version: Option<i32>,
        }
        let raw: Raw = serde_json::from_slice(bytes).ok()?;
        Some(match raw.keytype.as_str() {
            "SCHEMA" => StoreKey::Schema {
                subject: raw.subject?,
                version: raw.version?,
            },
            "CONFIG" => StoreKey::Config {
                subject: raw.subject,
            },
            "MODE" => StoreKey::Mode {
                subject: raw.subject,
            },
            "DELETE_SUBJECT" => StoreKey::DeleteSubject {
                subject: raw.subject?,
            },
            "CLEAR_SUBJECT" => StoreKey::ClearSubject {
                subject: raw.subject?,
            },
            _ => StoreKey::Other,
        })
    }
}

/// A schema record's value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SchemaValue {
    pub subject: String,
    pub version: i32,
    pub id: i32,
    #[serde(
        rename = "schemaType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub schema_type: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    pub schema: String,
    #[serde(default)]
    pub deleted: bool,
}

/// One registered version of a subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version {
    pub id: i32,
    pub deleted: bool,
}

/// A schema by id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaEntry {
    pub schema_type: SchemaType,
    pub text: Arc<str>,
    pub references: Vec<Reference>,
}

/// What identifies a schema's content: the same content always gets the same id.
type ContentKey = (SchemaType, Arc<str>, Vec<Reference>);

/// A subject's version with its schema, as the REST API shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Registered {
    pub subject: String,
    pub version: i32,
    pub id: i32,
    pub schema: SchemaEntry,
    pub deleted: bool,
}

impl Registered {
    /// `{"subject","version","id","schemaType"?,"references"?,"schema"}`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut out = json!({
            "subject": self.subject,
            "version": self.version,
            "id": self.id,
        });
        if let Some(t) = self.schema.schema_type.field() {
            out["schemaType"] = json!(t);
        }
        if !self.schema.references.is_empty() {
            out["references"] = json!(self.schema.references);
        }
        out["schema"] = json!(&*self.schema.text);
        out
    }
}

/// Which versions a listing shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listing {
    Live,
    IncludeDeleted,
    DeletedOnly,
}

/// The registry's state: subjects, schemas by id, configs and modes.
#[derive(Debug, Default)]
pub struct RegistryState {
    subjects: BTreeMap<String, BTreeMap<i32, Version>>,
    schemas: BTreeMap<i32, SchemaEntry>,
    by_content: HashMap<ContentKey, i32>,
    configs: HashMap<Option<String>, Compatibility>,
    modes: HashMap<Option<String>, Mode>,
    max_id: i32,
    /// Records applied, for tests and diagnostics.
    pub applied: u64,
}

impl RegistryState {
    /// Applies one record of the topic; records it cannot read are skipped with a warning.
    pub fn apply(&mut self, key: &[u8], value: Option<&[u8]>) {
        self.applied += 1;
        let Some(key) = StoreKey::parse(key) else {
            tracing::warn!(key = %String::from_utf8_lossy(key), "skipping a _schemas record with an unknown key");
            return;
        };
        match (key, value) {
            (StoreKey::Schema { subject, version }, Some(v)) => {
                match serde_json::from_slice::<SchemaValue>(v) {
                    Ok(sv) => self.put_schema(&subject, version, sv),
                    Err(e) => {
                        tracing::warn!(subject = %subject, version, error = %e, "skipping an unreadable schema record")
                    }
                }
            }
            (StoreKey::Schema { subject, version }, None) => self.remove_version(&subject, version),
            (StoreKey::Config { subject }, Some(v)) => {
                let level = serde_json::from_slice::<serde_json::Value>(v)
                    .ok()
                    .and_then(|j| {
                        j.get("compatibilityLevel")
                            .and_then(|l| l.as_str())
                            .and_then(Compatibility::parse)
                    });
                match level {
                    Some(level) => {
                        self.configs.insert(subject, level);
                    }
                    None => {
                        self.configs.remove(&subject);
                    }
                }
            }
            (StoreKey::Config { subject }, None) => {
                self.configs.remove(&subject);
            }
            (StoreKey::Mode { subject }, Some(v)) => {
                let mode = serde_json::from_slice::<serde_json::Value>(v)
                    .ok()
                    .and_then(|j| j.get("mode").and_then(|m| m.as_str()).and_then(Mode::parse));
                if let Some(mode) = mode {
                    self.modes.insert(subject, mode);
                }
            }
            (StoreKey::Mode { subject }, None) => {
                self.modes.remove(&subject);
            }
            (StoreKey::DeleteSubject { subject }, Some(v)) => {
                // Every version up to the one named is soft-deleted.
                let upto = serde_json::from_slice::<serde_json::Value>(v)
                    .ok()
                    .and_then(|j| j.get("version").and_then(|n| n.as_i64()))
                    .unwrap_or(i64::MAX);
                if let Some(versions) = self.subjects.get_mut(&subject) {
                    for (n, v) in versions.iter_mut() {
                        if (*n as i64) <= upto {
                            v.deleted = true;
                        }
                    }
                }
            }
            (StoreKey::ClearSubject { subject }, Some(_)) => {
                let deleted: Vec<i32> = self
                    .subjects
                    .get(&subject)
                    .map(|vs| {
                        vs.iter()
                            .filter(|(_, v)| v.deleted)
                            .map(|(n, _)| *n)
                            .collect()
                    })
                    .unwrap_or_default();
                for n in deleted {
                    self.remove_version(&subject, n);
                }
            }
            _ => {}
        }
    }

    fn put_schema(&mut self, subject: &str, version: i32, sv: SchemaValue) {
        let schema_type = sv
            .schema_type
            .as_deref()
            .and_then(SchemaType::parse)
            .unwrap_or_default();
        self.max_id = self.max_id.max(sv.id);
        let entry = self
            .schemas
            .entry(sv.id)
            .or_insert_with(|| SchemaEntry {
                schema_type,
                text: Arc::from(sv.schema.as_str()),
                references: sv.references.clone(),
            })
            .clone();
        self.by_content
            .entry((entry.schema_type, entry.text, entry.references))
            .or_insert(sv.id);
        self.subjects
            .entry(subject.to_string())
            .or_default()
            .insert(
                version,
                Version {
                    id: sv.id,
                    deleted: sv.deleted,
                },
            );
    }

    fn remove_version(&mut self, subject: &str, version: i32) {
        let Some(versions) = self.subjects.get_mut(subject) else {
            return;
        };
        let Some(removed) = versions.remove(&version) else {
            return;
        };
        if versions.is_empty() {
            self.subjects.remove(subject);
        }
        let still_used = self
            .subjects
            .values()
            .any(|vs| vs.values().any(|v| v.id == removed.id));
        if !still_used {
            if let Some(entry) = self.schemas.remove(&removed.id) {
                self.by_content
                    .remove(&(entry.schema_type, entry.text, entry.references));
            }
        }
    }

    /// The highest id ever seen (the next new schema gets one more).
    pub fn max_id(&self) -> i32 {
        self.max_id
    }

    /// Subject names, sorted.
    pub fn subjects(&self, prefix: &str, listing: Listing) -> Vec<String> {
        self.subjects
            .iter()
            .filter(|(s, _)| s.starts_with(prefix))
            .filter(|(_, vs)| {
                let live = vs.values().any(|v| !v.deleted);
                match listing {
                    Listing::Live => live,
                    Listing::IncludeDeleted => true,
                    Listing::DeletedOnly => !live,
                }
            })
            .map(|(s, _)| s.clone())
            .collect()
    }

    /// Whether the subject has versions (live ones, unless `include_deleted`).
    pub fn has_subject(&self, subject: &str, include_deleted: bool) -> bool {
        self.subjects
            .get(subject)
            .is_some_and(|vs| include_deleted || vs.values().any(|v| !v.deleted))
    }

    /// The subject's version numbers.
    pub fn versions(&self, subject: &str, listing: Listing) -> Vec<i32> {
        self.subjects
            .get(subject)
            .map(|vs| {
                vs.iter()
                    .filter(|(_, v)| match listing {
                        Listing::Live => !v.deleted,
                        Listing::IncludeDeleted => true,
                        Listing::DeletedOnly => v.deleted,
                    })
                    .map(|(n, _)| *n)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The raw versions of a subject, deleted ones included.
    pub fn subject_versions(&self, subject: &str) -> Option<&BTreeMap<i32, Version>> {
        self.subjects.get(subject)
    }

    /// One version of a subject; 40401 or 40402 when missing.
    pub fn get(
        &self,
        subject: &str,
        version: VersionSpec,
        include_deleted: bool,
    ) -> Result<Registered, RegistryError> {
        let versions = self
            .subjects
            .get(subject)
            .filter(|vs| include_deleted || vs.values().any(|v| !v.deleted))
            .ok_or_else(|| RegistryError::subject_not_found(subject))?;
        let found = match version {
            VersionSpec::Latest => versions
                .iter()
                .rev()
                .find(|(_, v)| include_deleted || !v.deleted),
            VersionSpec::Number(n) => versions
                .get_key_value(&n)
                .filter(|(_, v)| include_deleted || !v.deleted),
        };
        let (number, v) = found.ok_or_else(|| match version {
            VersionSpec::Number(n) => RegistryError::version_not_found(n),
            VersionSpec::Latest => RegistryError::subject_not_found(subject),
        })?;
        let schema = self
            .schemas
            .get(&v.id)
            .cloned()
            .ok_or_else(|| RegistryError::schema_id_not_found(v.id))?;
        Ok(Registered {
            subject: subject.to_string(),
            version: *number,
            id: v.id,
            schema,
            deleted: v.deleted,
        })
    }

    pub fn schema_by_id(&self, id: i32) -> Option<&SchemaEntry> {
        self.schemas.get(&id)
    }

    /// The id a schema with this content has, if it was ever registered.
    pub fn id_of(&self, key: &ContentKeyRef<'_>) -> Option<i32> {
        self.by_content
            .get(&(key.0, Arc::from(key.1), key.2.to_vec()))
            .copied()
    }

    /// `(subject, version)` pairs that use schema `id`.
    pub fn usages(&self, id: i32, include_deleted: bool) -> Vec<(String, i32)> {
        let mut out = Vec::new();
        for (subject, versions) in &self.subjects {
            for (n, v) in versions {
                if v.id == id && (include_deleted || !v.deleted) {
                    out.push((subject.clone(), *n));
                }
            }
        }
        out
    }

    /// Ids of schemas that reference `subject` version `version`.
    pub fn referenced_by(&self, subject: &str, version: i32) -> Vec<i32> {
        let mut ids: Vec<i32> = self
            .schemas
            .iter()
            .filter(|(id, e)| {
                e.references
                    .iter()
                    .any(|r| r.subject == subject && r.version == version)
                    && !self.usages(**id, false).is_empty()
            })
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    }

    /// The subject's own compatibility level, if it has one.
    pub fn subject_compatibility(&self, subject: Option<&str>) -> Option<Compatibility> {
        self.configs.get(&subject.map(String::from)).copied()
    }

    /// The subject's own mode, if it has one.
    pub fn subject_mode(&self, subject: Option<&str>) -> Option<Mode> {
        self.modes.get(&subject.map(String::from)).copied()
    }

    /// The texts of everything `references` names, dependencies first, each with the name
    /// the referring schema uses; 42201 when one is missing.
    pub fn resolve_references(
        &self,
        references: &[Reference],
    ) -> Result<Vec<(String, String)>, RegistryError> {
        let mut out = Vec::new();
        let mut seen = Vec::new();
        self.resolve_into(references, &mut out, &mut seen, 0)?;
        Ok(out)
    }

    fn resolve_into(
        &self,
        references: &[Reference],
        out: &mut Vec<(String, String)>,
        seen: &mut Vec<(String, i32)>,
        depth: usize,
    ) -> Result<(), RegistryError> {
        if depth > 32 {
            return Err(RegistryError::invalid_schema(
                "Invalid schema: references nest more than 32 levels deep",
            ));
        }
        for r in references {
            let key = (r.subject.clone(), r.version);
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let version = if r.version < 0 {
                VersionSpec::Latest
            } else {
                VersionSpec::Number(r.version)
            };
            let target = self.get(&r.subject, version, true).map_err(|_| {
                RegistryError::invalid_schema(format!(
                    "Invalid schema: reference {} to subject {} version {} was not found",
                    r.name, r.subject, r.version
                ))
            })?;
            self.resolve_into(&target.schema.references, out, seen, depth + 1)?;
            out.push((r.name.clone(), target.schema.text.to_string()));
        }
        Ok(())
    }
}

/// A borrowed [`ContentKey`].
pub type ContentKeyRef<'a> = (SchemaType, &'a str, &'a [Reference]);

#[cfg(test)]
mod tests {
    use super::*;

    fn schema_record(subject: &str, version: i32, id: i32, text: &str, deleted: bool) -> Vec<u8> {
        serde_json::to_vec(&SchemaValue {
            subject: subject.into(),
            version,
            id,
            schema_type: None,
            references: vec![],
            schema: text.into(),
            deleted,
        })
        .unwrap()
    }

    #[test]
    fn keys_have_confluents_bytes() {
        assert_eq!(
            StoreKey::Schema {
                subject: "t-value".into(),
                version: 2
            }
            .to_json(),
            r#"{"keytype":"SCHEMA","subject":"t-value","version":2,"magic":1}"#
        );
        assert_eq!(
            StoreKey::Config { subject: None }.to_json(),
            r#"{"keytype":"CONFIG","subject":null,"magic":0}"#
        );
        for key in [
            StoreKey::Schema {
                subject: "a".into(),
                version: 1,
            },
            StoreKey::Config {
                subject: Some("a".into()),
            },
            StoreKey::Mode { subject: None },
            StoreKey::DeleteSubject {
                subject: "a".into(),
            },
        ] {
            assert_eq!(StoreKey::parse(key.to_json().as_bytes()), Some(key));
        }
        assert_eq!(
            StoreKey::parse(br#"{"keytype":"NOOP","magic":0}"#),
            Some(StoreKey::Other)
        );
    }

    #[test]
    fn schema_values_match_confluents_shape() {
        let v: serde_json::Value =
            serde_json::from_slice(&schema_record("s", 1, 7, "\"string\"", false)).unwrap();
        assert_eq!(
            v,
            json!({"subject":"s","version":1,"id":7,"schema":"\"string\"","deleted":false})
        );
        // Confluent's own records, with fields this registry does not use.
        let theirs = br#"{"subject":"s","version":1,"id":3,"md5":"abc","schemaType":"PROTOBUF","schema":"syntax = \"proto3\";","deleted":false}"#;
        let parsed: SchemaValue = serde_json::from_slice(theirs).unwrap();
        assert_eq!(parsed.schema_type.as_deref(), Some("PROTOBUF"));
    }

    #[test]
    fn state_follows_the_records() {
        let mut s = RegistryState::default();
        let key = |v| {
            StoreKey::Schema {
                subject: "s".into(),
                version: v,
            }
            .to_json()
        };
        s.apply(
            key(1).as_bytes(),
            Some(&schema_record("s", 1, 1, "\"string\"", false)),
        );
        s.apply(
            key(2).as_bytes(),
            Some(&schema_record("s", 2, 2, "\"long\"", false)),
        );
        assert_eq!(s.versions("s", Listing::Live), vec![1, 2]);
        assert_eq!(s.get("s", VersionSpec::Latest, false).unwrap().id, 2);
        assert_eq!(s.max_id(), 2);
        assert_eq!(
            s.id_of(&(SchemaType::Avro, "\"long\"", &[])),
            Some(2),
            "content index"
        );
        // Soft delete version 2, then the subject; hard delete removes the versions.
        s.apply(
            key(2).as_bytes(),
            Some(&schema_record("s", 2, 2, "\"long\"", true)),
        );
        assert_eq!(s.get("s", VersionSpec::Latest, false).unwrap().version, 1);
        assert_eq!(
            s.get("s", VersionSpec::Number(2), false).unwrap_err().code,
            40402
        );
        s.apply(
            StoreKey::DeleteSubject {
                subject: "s".into(),
            }
            .to_json()
            .as_bytes(),
            Some(br#"{"subject":"s","version":2}"#),
        );
        assert!(s.subjects("", Listing::Live).is_empty());
        assert_eq!(s.subjects("", Listing::DeletedOnly), vec!["s"]);
        assert_eq!(
            s.get("s", VersionSpec::Latest, false).unwrap_err().code,
            40401
        );
        s.apply(key(1).as_bytes(), None);
        s.apply(key(2).as_bytes(), None);
        assert!(s.subjects("", Listing::IncludeDeleted).is_empty());
        assert!(s.schema_by_id(1).is_none());
        // Configs and modes, per subject and global.
        s.apply(
            StoreKey::Config { subject: None }.to_json().as_bytes(),
            Some(br#"{"compatibilityLevel":"FULL"}"#),
        );
        assert_eq!(s.subject_compatibility(None), Some(Compatibility::Full));
        s.apply(
            StoreKey::Mode {
                subject: Some("s".into()),
            }
            .to_json()
            .as_bytes(),
            Some(br#"{"subject":"s","mode":"READONLY"}"#),
        );
        assert_eq!(s.subject_mode(Some("s")), Some(Mode::ReadOnly));
    }
}
