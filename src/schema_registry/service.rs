//! The registry's operations over its state and its log (the `_schemas` topic, or memory):
//! reads come from the state; writes are checked against it, appended to the log, and answered
//! once the state has applied them.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::{Mutex, RwLock};
use serde::Deserialize;
use serde_json::json;

use super::compatibility::{self, Earlier};
use super::parse::{self, ParsedSchema, SchemaSource};
use super::store::{Listing, Registered, RegistryState, SchemaValue, StoreKey};
use super::types::{Compatibility, Mode, Reference, RegistryError, SchemaType, VersionSpec};

/// Where records go: appended, then applied to the state by whoever reads the log.
#[async_trait]
pub trait SchemaLog: Send + Sync {
    /// Appends a record and returns once the state has applied it.
    async fn append(&self, key: &StoreKey, value: Option<Vec<u8>>) -> Result<(), RegistryError>;

    /// Returns once the state has applied everything written so far (by any registry), so
    /// that a newly elected writer picks ids after the last one written.
    async fn catch_up(&self) -> Result<(), RegistryError> {
        Ok(())
    }
}

/// A log in memory: records are applied at once (tests, `mock://` registries).
pub struct MemoryLog {
    state: Arc<RwLock<RegistryState>>,
}

#[async_trait]
impl SchemaLog for MemoryLog {
    async fn append(&self, key: &StoreKey, value: Option<Vec<u8>>) -> Result<(), RegistryError> {
        self.state
            .write()
            .apply(key.to_json().as_bytes(), value.as_deref());
        Ok(())
    }
}

/// A registration or compatibility request body (Confluent's `RegisterSchemaRequest`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaRequest {
    pub schema: Option<String>,
    pub schema_type: Option<String>,
    #[serde(default)]
    pub references: Option<Vec<Reference>>,
    pub id: Option<i32>,
    pub version: Option<i32>,
}

/// Registry-wide defaults (`schema.compatibility.level`, `mode.mutability`).
#[derive(Clone, Debug)]
pub struct RegistrySettings {
    pub default_compatibility: Compatibility,
    /// Whether `/mode` may be changed.
    pub mode_mutability: bool,
}

impl Default for RegistrySettings {
    fn default() -> Self {
        RegistrySettings {
            default_compatibility: Compatibility::Backward,
            mode_mutability: true,
        }
    }
}

/// A schema from a request, checked and parsed.
struct Candidate {
    schema_type: SchemaType,
    text: String,
    references: Vec<Reference>,
    parsed: ParsedSchema,
}

/// The registry.
pub struct Registry {
    state: Arc<RwLock<RegistryState>>,
    log: Arc<dyn SchemaLog>,
    /// One write at a time in this process (ids and versions are picked from the state).
    writes: tokio::sync::Mutex<()>,
    settings: RegistrySettings,
    parsed: Mutex<HashMap<i32, Arc<ParsedSchema>>>,
}

impl Registry {
    pub fn new(
        state: Arc<RwLock<RegistryState>>,
        log: Arc<dyn SchemaLog>,
        settings: RegistrySettings,
    ) -> Registry {
        Registry {
            state,
            log,
            writes: tokio::sync::Mutex::new(()),
            settings,
            parsed: Mutex::new(HashMap::new()),
        }
    }

    /// A registry that keeps everything in memory.
    pub fn in_memory(settings: RegistrySettings) -> Registry {
        let state = Arc::new(RwLock::new(RegistryState::default()));
        let log = Arc::new(MemoryLog {
            state: state.clone(),
        });
        Registry::new(state, log, settings)
    }

    /// Reads the state.
    pub fn read<T>(&self, f: impl FnOnce(&RegistryState) -> T) -> T {
        f(&self.state.read())
    }

    pub fn settings(&self) -> &RegistrySettings {
        &self.settings
    }

    /// The compatibility level that applies to `subject` (its own, else the global one).
    pub fn compatibility_of(&self, subject: Option<&str>) -> Compatibility {
        let state = self.state.read();
        subject
            .and_then(|s| state.subject_compatibility(Some(s)))
            .or_else(|| state.subject_compatibility(None))
            .unwrap_or(self.settings.default_compatibility)
    }

    /// The mode that applies to `subject`.
    pub fn mode_of(&self, subject: Option<&str>) -> Mode {
        let state = self.state.read();
        subject
            .and_then(|s| state.subject_mode(Some(s)))
            .or_else(|| state.subject_mode(None))
            .unwrap_or(Mode::ReadWrite)
    }

    fn parsed_by_id(&self, id: i32) -> Result<Arc<ParsedSchema>, RegistryError> {
        if let Some(p) = self.parsed.lock().get(&id) {
            return Ok(p.clone());
        }
        let (entry, references) = {
            let state = self.state.read();
            let entry = state
                .schema_by_id(id)
                .cloned()
                .ok_or_else(|| RegistryError::schema_id_not_found(id))?;
            let refs = state.resolve_references(&entry.references)?;
            (entry, refs)
        };
        let parsed = parse::parse(&SchemaSource {
            schema_type: entry.schema_type,
            text: &entry.text,
            references,
        })
        .map_err(RegistryError::invalid_schema)?;
        let parsed = Arc::new(parsed);
        self.parsed.lock().insert(id, parsed.clone());
        Ok(parsed)
    }

    /// Checks and parses the schema of a request.
    fn candidate(&self, request: &SchemaRequest) -> Result<Candidate, RegistryError> {
        let schema_type = match request.schema_type.as_deref() {
            None => SchemaType::Avro,
            Some(t) => SchemaType::parse(t)
                .ok_or_else(|| RegistryError::invalid_schema(format!("Invalid schema type {t}")))?,
        };
        let raw = request
            .schema
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| RegistryError::invalid_schema("Empty schema"))?;
        let references = request.references.clone().unwrap_or_default();
        let resolved = self.state.read().resolve_references(&references)?;
        let parsed = parse::parse(&SchemaSource {
            schema_type,
            text: raw,
            references: resolved,
        })
        .map_err(RegistryError::invalid_schema)?;
        Ok(Candidate {
            schema_type,
            text: parse::stored_text(schema_type, raw),
            references,
            parsed,
        })
    }

    /// Messages saying why `candidate` is incompatible with `subject`'s live versions.
    fn incompatibilities(
        &self,
        subject: &str,
        candidate: &Candidate,
        only: Option<i32>,
        level: Compatibility,
    ) -> Result<Vec<String>, RegistryError> {
        let versions: Vec<(i32, i32, String)> = {
            let state = self.state.read();
            let Some(all) = state.subject_versions(subject) else {
                return Ok(Vec::new());
            };
            all.iter()
                .filter(|(n, v)| !v.deleted && only.is_none_or(|o| o == **n))
                .map(|(n, v)| {
                    let text = state
                        .schema_by_id(v.id)
                        .map(|e| e.text.to_string())
                        .unwrap_or_default();
                    (*n, v.id, text)
                })
                .collect()
        };
        let parsed: Vec<Arc<ParsedSchema>> = versions
            .iter()
            .map(|(_, id, _)| self.parsed_by_id(*id))
            .collect::<Result<_, _>>()?;
        let earlier: Vec<Earlier<'_>> = versions
            .iter()
            .zip(&parsed)
            .map(|((n, _, text), p)| Earlier {
                version: *n,
                text,
                schema: p,
            })
            .collect();
        Ok(compatibility::check(level, &candidate.parsed, &earlier))
    }

    /// `POST /subjects/{s}/versions`: the schema's id, registering it when it is new.
    pub async fn register(
        &self,
        subject: &str,
        request: &SchemaRequest,
    ) -> Result<i32, RegistryError> {
        check_subject(subject)?;
        let mode = self.mode_of(Some(subject));
        if mode.read_only() {
            return Err(RegistryError::not_permitted(format!(
                "Subject {subject} is in read-only mode"
            )));
        }
        let candidate = self.candidate(request)?;
        let _write = self.writes.lock().await;
        self.log.catch_up().await?;
        let (existing_live, content_id, max_id, next_version) = {
            let state = self.state.read();
            let content_id = state.id_of(&(
                candidate.schema_type,
                &candidate.text,
                &candidate.references,
            ));
            let versions = state.subject_versions(subject);
            let existing_live = content_id.and_then(|id| {
                versions.and_then(|vs| {
                    vs.iter()
                        .find(|(_, v)| v.id == id && !v.deleted)
                        .map(|(_, v)| v.id)
                })
            });
            let next_version = versions
                .and_then(|vs| vs.keys().next_back().copied())
                .unwrap_or(0)
                + 1;
            (existing_live, content_id, state.max_id(), next_version)
        };
        if let Some(id) = existing_live {
            if request.id.is_none_or(|wanted| wanted == id) {
                return Ok(id);
            }
        }
        let id = match (request.id, content_id) {
            (Some(wanted), Some(known)) if wanted != known => {
                return Err(RegistryError::id_does_not_match(format!(
                    "Schema already registered with id {known} instead of input id {wanted}"
                )))
            }
            (Some(wanted), _) => {
                if mode != Mode::Import {
                    return Err(RegistryError::not_permitted(format!(
                        "Subject {subject} is not in import mode: a schema id can only be given in IMPORT mode"
                    )));
                }
                if let Some(other) = self.read(|s| s.schema_by_id(wanted).cloned()) {
                    if &*other.text != candidate.text.as_str()
                        || other.schema_type != candidate.schema_type
                    {
                        return Err(RegistryError::id_does_not_match(format!(
                            "Overwrite new schema with id {wanted} is not permitted: another schema has that id"
                        )));
                    }
                }
                wanted
            }
            (None, Some(known)) => known,
            (None, None) => max_id + 1,
        };
        if mode != Mode::Import {
            let level = self.compatibility_of(Some(subject));
            let problems = self.incompatibilities(subject, &candidate, None, level)?;
            if !problems.is_empty() {
                return Err(RegistryError::incompatible(subject, &problems));
            }
        }
        let version = match request.version {
            Some(v) if mode == Mode::Import && v >= 1 => v,
            _ => next_version,
        };
        let value = SchemaValue {
            subject: subject.to_string(),
            version,
            id,
            schema_type: candidate.schema_type.field().map(String::from),
            references: candidate.references.clone(),
            schema: candidate.text.clone(),
            deleted: false,
        };
        self.write_schema(&value).await?;
        tracing::info!(subject, version, id, schema_type = %candidate.schema_type, "registered a schema");
        Ok(id)
    }

    async fn write_schema(&self, value: &SchemaValue) -> Result<(), RegistryError> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| RegistryError::store(format!("cannot encode a schema record: {e}")))?;
        self.log
            .append(
                &StoreKey::Schema {
                    subject: value.subject.clone(),
                    version: value.version,
                },
                Some(bytes),
            )
            .await
    }

    /// `POST /subjects/{s}`: the version of `subject` that has this schema.
    pub fn lookup(
        &self,
        subject: &str,
        request: &SchemaRequest,
        include_deleted: bool,
    ) -> Result<Registered, RegistryError> {
        if !self.read(|s| s.has_subject(subject, include_deleted)) {
            return Err(RegistryError::subject_not_found(subject));
        }
        let candidate = self.candidate(request)?;
        let state = self.state.read();
        let id = state
            .id_of(&(
                candidate.schema_type,
                &candidate.text,
                &candidate.references,
            ))
            .ok_or_else(RegistryError::schema_not_found)?;
        let versions = state
            .subject_versions(subject)
            .ok_or_else(|| RegistryError::subject_not_found(subject))?;
        let (number, _) = versions
            .iter()
            .rev()
            .find(|(_, v)| v.id == id && (include_deleted || !v.deleted))
            .ok_or_else(RegistryError::schema_not_found)?;
        state.get(subject, VersionSpec::Number(*number), true)
    }

    /// `POST /compatibility/subjects/{s}/versions[/{v}]`: whether the schema is compatible
    /// with one version (`Some`), or with the versions the subject's level names (`None`),
    /// and why not.
    pub fn test_compatibility(
        &self,
        subject: &str,
        version: Option<VersionSpec>,
        request: &SchemaRequest,
    ) -> Result<Vec<String>, RegistryError> {
        let only = match version {
            None => None,
            Some(spec) => match self.read(|s| s.get(subject, spec, false)) {
                Ok(r) => Some(r.version),
                Err(_) if spec == VersionSpec::Latest => return Ok(Vec::new()),
                Err(e) if e.code == 40401 => {
                    let VersionSpec::Number(n) = spec else {
                        return Err(e);
                    };
                    return Err(RegistryError::version_not_found(n));
                }
                Err(e) => return Err(e),
            },
        };
        let candidate = self.candidate(request)?;
        let level = self.compatibility_of(Some(subject));
        self.incompatibilities(subject, &candidate, only, level)
    }

    fn check_writable(&self, subject: Option<&str>) -> Result<(), RegistryError> {
        if self.mode_of(subject).read_only() {
            return Err(RegistryError::not_permitted(match subject {
                Some(s) => format!("Subject {s} is in read-only mode"),
                None => "The registry is in read-only mode".to_string(),
            }));
        }
        Ok(())
    }

    /// `DELETE /subjects/{s}/versions/{v}`: the version deleted.
    pub async fn delete_version(
        &self,
        subject: &str,
        spec: VersionSpec,
        permanent: bool,
    ) -> Result<i32, RegistryError> {
        self.check_writable(Some(subject))?;
        let _write = self.writes.lock().await;
        let registered = match spec {
            // `latest` is the latest live version (or, to delete permanently, any).
            VersionSpec::Latest => self.read(|s| s.get(subject, spec, permanent))?,
            VersionSpec::Number(_) => self.read(|s| s.get(subject, spec, true))?,
        };
        let number = registered.version;
        if !self.read(|s| s.referenced_by(subject, number)).is_empty() {
            return Err(RegistryError::reference_exists(&format!(
                "{{subject={subject},version={number}}}"
            )));
        }
        let key = StoreKey::Schema {
            subject: subject.to_string(),
            version: number,
        };
        if permanent {
            if !registered.deleted {
                return Err(RegistryError::version_not_soft_deleted(subject, number));
            }
            self.log.append(&key, None).await?;
        } else {
            if registered.deleted {
                return Err(RegistryError::version_soft_deleted(subject, number));
            }
            self.write_schema(&SchemaValue {
                subject: subject.to_string(),
                version: number,
                id: registered.id,
                schema_type: registered.schema.schema_type.field().map(String::from),
                references: registered.schema.references.clone(),
                schema: registered.schema.text.to_string(),
                deleted: true,
            })
            .await?;
        }
        Ok(number)
    }

    /// `DELETE /subjects/{s}`: the versions deleted.
    pub async fn delete_subject(
        &self,
        subject: &str,
        permanent: bool,
    ) -> Result<Vec<i32>, RegistryError> {
        self.check_writable(Some(subject))?;
        let _write = self.writes.lock().await;
        let (all, live) = self.read(|s| {
            (
                s.versions(subject, Listing::IncludeDeleted),
                s.versions(subject, Listing::Live),
            )
        });
        if all.is_empty() {
            return Err(RegistryError::subject_not_found(subject));
        }
        for n in &all {
            if !self.read(|s| s.referenced_by(subject, *n)).is_empty() {
                return Err(RegistryError::reference_exists(&format!(
                    "{{subject={subject},version={n}}}"
                )));
            }
        }
        if permanent {
            if !live.is_empty() {
                return Err(RegistryError::subject_not_soft_deleted(subject));
            }
            for n in &all {
                let key = StoreKey::Schema {
                    subject: subject.to_string(),
                    version: *n,
                };
                self.log.append(&key, None).await?;
            }
            return Ok(all);
        }
        if live.is_empty() {
            return Err(RegistryError::subject_soft_deleted(subject));
        }
        for n in &live {
            let r = self.read(|s| s.get(subject, VersionSpec::Number(*n), true))?;
            self.write_schema(&SchemaValue {
                subject: subject.to_string(),
                version: *n,
                id: r.id,
                schema_type: r.schema.schema_type.field().map(String::from),
                references: r.schema.references.clone(),
                schema: r.schema.text.to_string(),
                deleted: true,
            })
            .await?;
        }
        let latest = *all.last().unwrap_or(&0);
        self.log
            .append(
                &StoreKey::DeleteSubject {
                    subject: subject.to_string(),
                },
                Some(
                    serde_json::to_vec(&json!({"subject": subject, "version": latest}))
                        .unwrap_or_default(),
                ),
            )
            .await?;
        Ok(live)
    }

    /// `PUT /config[/{s}]`.
    pub async fn set_compatibility(
        &self,
        subject: Option<&str>,
        level: Compatibility,
    ) -> Result<(), RegistryError> {
        if let Some(s) = subject {
            check_subject(s)?;
        }
        self.check_writable(subject)?;
        let mut value = json!({"compatibilityLevel": level.as_str()});
        if let Some(s) = subject {
            value["subject"] = json!(s);
        }
        self.log
            .append(
                &StoreKey::Config {
                    subject: subject.map(String::from),
                },
                Some(serde_json::to_vec(&value).unwrap_or_default()),
            )
            .await
    }

    /// `DELETE /config[/{s}]`: the level that was set.
    pub async fn delete_compatibility(
        &self,
        subject: Option<&str>,
    ) -> Result<Compatibility, RegistryError> {
        self.check_writable(subject)?;
        let old = match (self.read(|s| s.subject_compatibility(subject)), subject) {
            (Some(l), _) => l,
            (None, Some(s)) => return Err(RegistryError::subject_compatibility_not_configured(s)),
            (None, None) => self.settings.default_compatibility,
        };
        self.log
            .append(
                &StoreKey::Config {
                    subject: subject.map(String::from),
                },
                None,
            )
            .await?;
        Ok(old)
    }

    /// `PUT /mode[/{s}]`.
    pub async fn set_mode(
        &self,
        subject: Option<&str>,
        mode: Mode,
        force: bool,
    ) -> Result<(), RegistryError> {
        if !self.settings.mode_mutability {
            return Err(RegistryError::not_permitted("Mode changes are not allowed"));
        }
        if let Some(s) = subject {
            check_subject(s)?;
        }
        if mode == Mode::Import && !force {
            let has_schemas = match subject {
                Some(s) => self.read(|st| st.has_subject(s, true)),
                None => self.read(|st| !st.subjects("", Listing::IncludeDeleted).is_empty()),
            };
            if has_schemas {
                return Err(RegistryError::not_permitted(
                    "Cannot import since found existing subjects",
                ));
            }
        }
        let mut value = json!({"mode": mode.as_str()});
        if let Some(s) = subject {
            value["subject"] = json!(s);
        }
        self.log
            .append(
                &StoreKey::Mode {
                    subject: subject.map(String::from),
                },
                Some(serde_json::to_vec(&value).unwrap_or_default()),
            )
            .await
    }

    /// `DELETE /mode[/{s}]`: the mode that was set.
    pub async fn delete_mode(&self, subject: Option<&str>) -> Result<Mode, RegistryError> {
        let old = match (self.read(|s| s.subject_mode(subject)), subject) {
            (Some(m), _) => m,
            (None, Some(s)) => return Err(RegistryError::subject_mode_not_configured(s)),
            (None, None) => Mode::ReadWrite,
        };
        self.log
            .append(
                &StoreKey::Mode {
                    subject: subject.map(String::from),
                },
                None,
            )
            .await?;
        Ok(old)
    }
}

/// Subjects are non-empty and have no control characters (42208).
fn check_subject(subject: &str) -> Result<(), RegistryError> {
    if subject.trim().is_empty() || subject.chars().any(char::is_control) {
        return Err(RegistryError::invalid_subject(subject));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn avro(text: &str) -> SchemaRequest {
        SchemaRequest {
            schema: Some(text.into()),
            ..Default::default()
        }
    }

    const V1: &str = r#"{"type":"record","name":"U","fields":[{"name":"id","type":"long"}]}"#;
    const V2: &str = r#"{"type": "record", "name": "U", "fields": [{"name": "id", "type": "long"}, {"name": "email", "type": ["null", "string"], "default": null}]}"#;
    const BAD: &str = r#"{"type":"record","name":"U","fields":[{"name":"id","type":"string"}]}"#;

    #[tokio::test]
    async fn register_reuses_ids_and_checks_compatibility() {
        let r = Registry::in_memory(RegistrySettings::default());
        assert_eq!(r.register("a-value", &avro(V1)).await.unwrap(), 1);
        // Same schema again (other whitespace): same id, no new version.
        let spaced = V1.replace(',', ", ");
        assert_eq!(r.register("a-value", &avro(&spaced)).await.unwrap(), 1);
        assert_eq!(r.read(|s| s.versions("a-value", Listing::Live)), vec![1]);
        // Same schema under another subject: same id.
        assert_eq!(r.register("b-value", &avro(V1)).await.unwrap(), 1);
        assert_eq!(r.register("a-value", &avro(V2)).await.unwrap(), 2);
        let e = r.register("a-value", &avro(BAD)).await.unwrap_err();
        assert_eq!((e.status, e.code), (409, 409), "{e}");
        assert!(e.message.contains("oldSchemaVersion: 2"), "{e}");
        let e = r.register("a-value", &avro("{nope")).await.unwrap_err();
        assert_eq!(e.code, 42201);
        let e = r
            .register(
                "a-value",
                &SchemaRequest {
                    schema_type: Some("XML".into()),
                    ..avro(V1)
                },
            )
            .await
            .unwrap_err();
        assert_eq!(e.code, 42201);
        // NONE lets anything through.
        r.set_compatibility(Some("a-value"), Compatibility::None)
            .await
            .unwrap();
        assert_eq!(r.register("a-value", &avro(BAD)).await.unwrap(), 3);
        let found = r.lookup("a-value", &avro(V2), false).unwrap();
        assert_eq!((found.version, found.id), (2, 2));
        assert_eq!(
            r.lookup("a-value", &avro(r#""string""#), false)
                .unwrap_err()
                .code,
            40403
        );
        assert_eq!(r.lookup("zz", &avro(V1), false).unwrap_err().code, 40401);
    }

    #[tokio::test]
    async fn deletes_soft_then_permanent() {
        let r = Registry::in_memory(RegistrySettings::default());
        r.register("s", &avro(V1)).await.unwrap();
        r.register("s", &avro(V2)).await.unwrap();
        let e = r
            .delete_version("s", VersionSpec::Number(2), true)
            .await
            .unwrap_err();
        assert_eq!(e.code, 40407);
        assert_eq!(
            r.delete_version("s", VersionSpec::Latest, false)
                .await
                .unwrap(),
            2
        );
        let e = r
            .delete_version("s", VersionSpec::Number(2), false)
            .await
            .unwrap_err();
        assert_eq!(e.code, 40406);
        assert_eq!(
            r.delete_version("s", VersionSpec::Number(2), true)
                .await
                .unwrap(),
            2
        );
        assert_eq!(r.delete_subject("s", true).await.unwrap_err().code, 40405);
        assert_eq!(r.delete_subject("s", false).await.unwrap(), vec![1]);
        assert_eq!(r.delete_subject("s", false).await.unwrap_err().code, 40404);
        assert_eq!(r.delete_subject("s", true).await.unwrap(), vec![1]);
        assert_eq!(r.delete_subject("s", false).await.unwrap_err().code, 40401);
        // The id of a deleted schema is not reused.
        assert_eq!(r.register("s", &avro(BAD)).await.unwrap(), 3);
    }

    #[tokio::test]
    async fn modes_and_configs() {
        let r = Registry::in_memory(RegistrySettings::default());
        r.register("s", &avro(V1)).await.unwrap();
        assert_eq!(
            r.set_mode(None, Mode::Import, false)
                .await
                .unwrap_err()
                .code,
            42205
        );
        r.set_mode(Some("s"), Mode::ReadOnly, false).await.unwrap();
        assert_eq!(r.register("s", &avro(V2)).await.unwrap_err().code, 42205);
        assert_eq!(r.delete_mode(Some("s")).await.unwrap(), Mode::ReadOnly);
        assert_eq!(r.delete_mode(Some("s")).await.unwrap_err().code, 40409);
        assert_eq!(
            r.delete_compatibility(Some("s")).await.unwrap_err().code,
            40408
        );
        r.set_compatibility(None, Compatibility::Full)
            .await
            .unwrap();
        assert_eq!(r.compatibility_of(Some("s")), Compatibility::Full);
        // Import mode takes ids and versions as given.
        r.set_mode(Some("imp"), Mode::Import, false).await.unwrap();
        let id = r
            .register(
                "imp",
                &SchemaRequest {
                    id: Some(100),
                    version: Some(7),
                    ..avro(BAD)
                },
            )
            .await
            .unwrap();
        assert_eq!(id, 100);
        assert_eq!(r.read(|s| s.versions("imp", Listing::Live)), vec![7]);
        assert_eq!(
            r.register(
                "x",
                &SchemaRequest {
                    id: Some(5),
                    ..avro(V2)
                }
            )
            .await
            .unwrap_err()
            .code,
            42205
        );
    }

    #[tokio::test]
    async fn compatibility_endpoint_semantics() {
        let r = Registry::in_memory(RegistrySettings::default());
        assert!(r
            .test_compatibility("none", Some(VersionSpec::Latest), &avro(V1))
            .unwrap()
            .is_empty());
        assert_eq!(
            r.test_compatibility("none", Some(VersionSpec::Number(3)), &avro(V1))
                .unwrap_err()
                .code,
            40402
        );
        r.register("s", &avro(V1)).await.unwrap();
        assert!(r
            .test_compatibility("s", Some(VersionSpec::Latest), &avro(V2))
            .unwrap()
            .is_empty());
        assert!(!r
            .test_compatibility("s", None, &avro(BAD))
            .unwrap()
            .is_empty());
    }
}
