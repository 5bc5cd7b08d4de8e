//! Confluent Schema Registry's REST API over a [`Registry`]: the same paths, JSON shapes,
//! status codes and `error_code` values, so that Confluent's clients work unchanged.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value as Json};

use super::service::{Registry, SchemaRequest};
use super::store::Listing;
use super::types::{Compatibility, Mode, RegistryError, VersionSpec};

/// The content type Confluent's registry answers with.
pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

type Answer = Result<Response, RegistryError>;

impl IntoResponse for RegistryError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({"error_code": self.code, "message": self.message});
        (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
            body.to_string(),
        )
            .into_response()
    }
}

fn ok(body: Json) -> Answer {
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        body.to_string(),
    )
        .into_response())
}

/// Query parameters; booleans are read case-insensitively (Python clients send `True`).
struct Query(Vec<(String, String)>);

impl Query {
    fn new(raw: Option<String>) -> Query {
        Query(
            form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn flag(&self, keys: &[&str]) -> bool {
        keys.iter()
            .any(|k| self.get(k).is_some_and(|v| v.eq_ignore_ascii_case("true")))
    }

    fn int(&self, key: &str, default: i64) -> i64 {
        self.get(key)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(default)
    }

    /// `offset` and `limit` (negative: no limit) applied to a list.
    fn page<T>(&self, items: Vec<T>) -> Vec<T> {
        let offset = self.int("offset", 0).max(0) as usize;
        let limit = self.int("limit", -1);
        let it = items.into_iter().skip(offset);
        if limit < 0 {
            it.collect()
        } else {
            it.take(limit as usize).collect()
        }
    }
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, RegistryError> {
    serde_json::from_slice(body).map_err(|e| {
        RegistryError::new(
            400,
            400,
            format!("Unrecognized or invalid JSON in the request body: {e}"),
        )
    })
}

fn parse_id(text: &str) -> Result<i32, RegistryError> {
    text.trim()
        .parse()
        .map_err(|_| RegistryError::new(404, 404, "HTTP 404 Not Found"))
}

type Reg = State<Arc<Registry>>;

async fn root() -> Answer {
    ok(json!({}))
}

async fn schema_types() -> Answer {
    ok(json!(["JSON", "PROTOBUF", "AVRO"]))
}

async fn contexts() -> Answer {
    ok(json!(["."]))
}

async fn schema_by_id(State(r): Reg, Path(id): Path<String>, RawQuery(q): RawQuery) -> Answer {
    let id = parse_id(&id)?;
    let q = Query::new(q);
    let entry = r
        .read(|s| s.schema_by_id(id).cloned())
        .ok_or_else(|| RegistryError::schema_id_not_found(id))?;
    let mut out = json!({});
    if let Some(t) = entry.schema_type.field() {
        out["schemaType"] = json!(t);
    }
    if !entry.references.is_empty() {
        out["references"] = json!(entry.references);
    }
    out["schema"] = json!(super::formats::render(&r, &entry, q.get("format"))?);
    ok(out)
}

async fn schema_text_by_id(State(r): Reg, Path(id): Path<String>, RawQuery(q): RawQuery) -> Answer {
    let id = parse_id(&id)?;
    let q = Query::new(q);
    let entry = r
        .read(|s| s.schema_by_id(id).cloned())
        .ok_or_else(|| RegistryError::schema_id_not_found(id))?;
    let text = super::formats::render(&r, &entry, q.get("format"))?;
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        text,
    )
        .into_response())
}

async fn id_versions(State(r): Reg, Path(id): Path<String>, RawQuery(q): RawQuery) -> Answer {
    let id = parse_id(&id)?;
    let q = Query::new(q);
    let deleted = q.flag(&["deleted"]);
    let subject = q.get("subject").map(String::from);
    let usages = r.read(|s| {
        s.schema_by_id(id)
            .map(|_| s.usages(id, deleted))
            .ok_or_else(|| RegistryError::schema_id_not_found(id))
    })?;
    let list: Vec<Json> = usages
        .into_iter()
        .filter(|(s, _)| subject.as_ref().is_none_or(|wanted| wanted == s))
        .map(|(subject, version)| json!({"subject": subject, "version": version}))
        .collect();
    ok(json!(q.page(list)))
}

async fn id_subjects(State(r): Reg, Path(id): Path<String>, RawQuery(q): RawQuery) -> Answer {
    let id = parse_id(&id)?;
    let q = Query::new(q);
    let deleted = q.flag(&["deleted"]);
    let subject = q.get("subject").map(String::from);
    let usages = r.read(|s| {
        s.schema_by_id(id)
            .map(|_| s.usages(id, deleted))
            .ok_or_else(|| RegistryError::schema_id_not_found(id))
    })?;
    let mut subjects: Vec<String> = usages
        .into_iter()
        .map(|(s, _)| s)
        .filter(|s| subject.as_ref().is_none_or(|wanted| wanted == s))
        .collect();
    subjects.dedup();
    ok(json!(q.page(subjects)))
}

async fn list_schemas(State(r): Reg, RawQuery(q): RawQuery) -> Answer {
    let q = Query::new(q);
    let prefix = q.get("subjectPrefix").unwrap_or_default().to_string();
    let deleted = q.flag(&["deleted"]);
    let latest_only = q.flag(&["latestOnly"]);
    let list = r.read(|s| {
        let listing = if deleted {
            Listing::IncludeDeleted
        } else {
            Listing::Live
        };
        let mut out = Vec::new();
        for subject in s.subjects(&prefix, listing) {
            let mut versions = s.versions(&subject, listing);
            if latest_only {
                versions = versions.into_iter().next_back().into_iter().collect();
            }
            for v in versions {
                if let Ok(reg) = s.get(&subject, VersionSpec::Number(v), true) {
                    out.push(reg.to_json());
                }
            }
        }
        out
    });
    ok(json!(q.page(list)))
}

fn listing(q: &Query) -> Listing {
    if q.flag(&["deletedOnly", "deleted_only"]) {
        Listing::DeletedOnly
    } else if q.flag(&["deleted"]) {
        Listing::IncludeDeleted
    } else {
        Listing::Live
    }
}

async fn subjects(State(r): Reg, RawQuery(q): RawQuery) -> Answer {
    let q = Query::new(q);
    let prefix = q
        .get("subjectPrefix")
        .or_else(|| q.get("subject_prefix"))
        .unwrap_or_default()
        .to_string();
    let list = r.read(|s| s.subjects(&prefix, listing(&q)));
    ok(json!(q.page(list)))
}

async fn lookup(
    State(r): Reg,
    Path(subject): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Answer {
    let q = Query::new(q);
    let request: SchemaRequest = parse_body(&body)?;
    let found = r.lookup(&subject, &request, q.flag(&["deleted"]))?;
    ok(found.to_json())
}

async fn delete_subject(
    State(r): Reg,
    Path(subject): Path<String>,
    RawQuery(q): RawQuery,
) -> Answer {
    let q = Query::new(q);
    let versions = r.delete_subject(&subject, q.flag(&["permanent"])).await?;
    ok(json!(versions))
}

async fn versions(State(r): Reg, Path(subject): Path<String>, RawQuery(q): RawQuery) -> Answer {
    let q = Query::new(q);
    let listing = listing(&q);
    let (exists, versions) = r.read(|s| {
        (
            s.has_subject(&subject, listing != Listing::Live),
            s.versions(&subject, listing),
        )
    });
    if !exists {
        return Err(RegistryError::subject_not_found(&subject));
    }
    ok(json!(q.page(versions)))
}

async fn register(State(r): Reg, Path(subject): Path<String>, body: Bytes) -> Answer {
    let request: SchemaRequest = parse_body(&body)?;
    let id = r.register(&subject, &request).await?;
    ok(json!({"id": id}))
}

async fn version(
    State(r): Reg,
    Path((subject, version)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Answer {
    let q = Query::new(q);
    let spec = VersionSpec::parse(&version)?;
    let mut found = r.read(|s| s.get(&subject, spec, q.flag(&["deleted"])))?;
    if q.get("format").is_some() {
        let text = super::formats::render(&r, &found.schema, q.get("format"))?;
        found.schema.text = text.into();
    }
    ok(found.to_json())
}

async fn version_schema(
    State(r): Reg,
    Path((subject, version)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Answer {
    let q = Query::new(q);
    let spec = VersionSpec::parse(&version)?;
    let found = r.read(|s| s.get(&subject, spec, q.flag(&["deleted"])))?;
    let text = super::formats::render(&r, &found.schema, q.get("format"))?;
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        text,
    )
        .into_response())
}

async fn referenced_by(State(r): Reg, Path((subject, version)): Path<(String, String)>) -> Answer {
    let spec = VersionSpec::parse(&version)?;
    let found = r.read(|s| s.get(&subject, spec, true))?;
    ok(json!(r.read(|s| s.referenced_by(&subject, found.version))))
}

async fn delete_version(
    State(r): Reg,
    Path((subject, version)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Answer {
    let q = Query::new(q);
    let spec = VersionSpec::parse(&version)?;
    let deleted = r
        .delete_version(&subject, spec, q.flag(&["permanent"]))
        .await?;
    ok(json!(deleted))
}

fn compatibility_answer(messages: Vec<String>, verbose: bool) -> Answer {
    let mut out = json!({"is_compatible": messages.is_empty()});
    if verbose {
        out["messages"] = json!(messages);
    }
    ok(out)
}

async fn compatibility_with_version(
    State(r): Reg,
    Path((subject, version)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Answer {
    let q = Query::new(q);
    let spec = VersionSpec::parse(&version)?;
    let request: SchemaRequest = parse_body(&body)?;
    let verbose = q.flag(&["verbose"]);
    match r.test_compatibility(&subject, Some(spec), &request) {
        Ok(messages) => compatibility_answer(messages, verbose),
        Err(e) if verbose && e.code == 42201 => compatibility_answer(vec![e.message], true),
        Err(e) => Err(e),
    }
}

async fn compatibility_with_all(
    State(r): Reg,
    Path(subject): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Answer {
    let q = Query::new(q);
    let request: SchemaRequest = parse_body(&body)?;
    let verbose = q.flag(&["verbose"]);
    match r.test_compatibility(&subject, None, &request) {
        Ok(messages) => compatibility_answer(messages, verbose),
        Err(e) if verbose && e.code == 42201 => compatibility_answer(vec![e.message], true),
        Err(e) => Err(e),
    }
}

fn config_answer(level: Compatibility) -> Answer {
    ok(json!({"compatibilityLevel": level.as_str()}))
}

async fn get_global_config(State(r): Reg) -> Answer {
    config_answer(r.compatibility_of(None))
}

async fn get_subject_config(
    State(r): Reg,
    Path(subject): Path<String>,
    RawQuery(q): RawQuery,
) -> Answer {
    let q = Query::new(q);
    match r.read(|s| s.subject_compatibility(Some(&subject))) {
        Some(level) => config_answer(level),
        None if q.flag(&["defaultToGlobal"]) => config_answer(r.compatibility_of(None)),
        None => Err(RegistryError::subject_compatibility_not_configured(
            &subject,
        )),
    }
}

fn requested_level(body: &Bytes) -> Result<Compatibility, RegistryError> {
    let json: Json = parse_body(body)?;
    let text = json
        .get("compatibility")
        .or_else(|| json.get("compatibilityLevel"))
        .and_then(|v| v.as_str())
        .unwrap_or("");
    Compatibility::parse(text).ok_or_else(|| RegistryError::invalid_compatibility(text))
}

async fn put_global_config(State(r): Reg, body: Bytes) -> Answer {
    let level = requested_level(&body)?;
    r.set_compatibility(None, level).await?;
    ok(json!({"compatibility": level.as_str()}))
}

async fn put_subject_config(State(r): Reg, Path(subject): Path<String>, body: Bytes) -> Answer {
    let level = requested_level(&body)?;
    r.set_compatibility(Some(&subject), level).await?;
    ok(json!({"compatibility": level.as_str()}))
}

async fn delete_global_config(State(r): Reg) -> Answer {
    config_answer(r.delete_compatibility(None).await?)
}

async fn delete_subject_config(State(r): Reg, Path(subject): Path<String>) -> Answer {
    config_answer(r.delete_compatibility(Some(&subject)).await?)
}

fn mode_answer(mode: Mode) -> Answer {
    ok(json!({"mode": mode.as_str()}))
}

async fn get_global_mode(State(r): Reg) -> Answer {
    mode_answer(r.mode_of(None))
}

async fn get_subject_mode(
    State(r): Reg,
    Path(subject): Path<String>,
    RawQuery(q): RawQuery,
) -> Answer {
    let q = Query::new(q);
    match r.read(|s| s.subject_mode(Some(&subject))) {
        Some(mode) => mode_answer(mode),
        None if q.flag(&["defaultToGlobal"]) => mode_answer(r.mode_of(None)),
        None => Err(RegistryError::subject_mode_not_configured(&subject)),
    }
}

fn requested_mode(body: &Bytes) -> Result<Mode, RegistryError> {
    let json: Json = parse_body(body)?;
    let text = json.get("mode").and_then(|v| v.as_str()).unwrap_or("");
    Mode::parse(text).ok_or_else(|| RegistryError::invalid_mode(text))
}

async fn put_global_mode(State(r): Reg, RawQuery(q): RawQuery, body: Bytes) -> Answer {
    let q = Query::new(q);
    let mode = requested_mode(&body)?;
    r.set_mode(None, mode, q.flag(&["force"])).await?;
    mode_answer(mode)
}

async fn put_subject_mode(
    State(r): Reg,
    Path(subject): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Answer {
    let q = Query::new(q);
    let mode = requested_mode(&body)?;
    r.set_mode(Some(&subject), mode, q.flag(&["force"])).await?;
    mode_answer(mode)
}

async fn delete_global_mode(State(r): Reg) -> Answer {
    mode_answer(r.delete_mode(None).await?)
}

async fn delete_subject_mode(State(r): Reg, Path(subject): Path<String>) -> Answer {
    mode_answer(r.delete_mode(Some(&subject)).await?)
}

async fn not_found() -> RegistryError {
    RegistryError::new(404, 404, "HTTP 404 Not Found")
}

async fn method_not_allowed(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let resp = next.run(req).await;
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED {
        return RegistryError::new(405, 405, "HTTP 405 Method Not Allowed").into_response();
    }
    resp
}

/// The registry's routes, for a server of its own or merged into a worker's.
pub fn router(registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/schemas/types", get(schema_types))
        .route("/schemas", get(list_schemas))
        .route("/schemas/ids/{id}", get(schema_by_id))
        .route("/schemas/ids/{id}/schema", get(schema_text_by_id))
        .route("/schemas/ids/{id}/versions", get(id_versions))
        .route("/schemas/ids/{id}/subjects", get(id_subjects))
        .route("/subjects", get(subjects))
        .route("/subjects/{subject}", post(lookup).delete(delete_subject))
        .route("/subjects/{subject}/versions", get(versions).post(register))
        .route(
            "/subjects/{subject}/versions/{version}",
            get(version).delete(delete_version),
        )
        .route(
            "/subjects/{subject}/versions/{version}/schema",
            get(version_schema),
        )
        .route(
            "/subjects/{subject}/versions/{version}/referencedby",
            get(referenced_by),
        )
        .route(
            "/compatibility/subjects/{subject}/versions",
            post(compatibility_with_all),
        )
        .route(
            "/compatibility/subjects/{subject}/versions/{version}",
            post(compatibility_with_version),
        )
        .route(
            "/config",
            get(get_global_config)
                .put(put_global_config)
                .delete(delete_global_config),
        )
        .route(
            "/config/{subject}",
            get(get_subject_config)
                .put(put_subject_config)
                .delete(delete_subject_config),
        )
        .route(
            "/mode",
            get(get_global_mode)
                .put(put_global_mode)
                .delete(delete_global_mode),
        )
        .route(
            "/mode/{subject}",
            get(get_subject_mode)
                .put(put_subject_mode)
                .delete(delete_subject_mode),
        )
        .route("/contexts", get(contexts))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(method_not_allowed))
        .with_state(registry)
}
