//! The registry client converters use: Confluent's REST API over HTTP(S), with several URLs
//! tried in turn (failover), basic authentication (`basic.auth.credentials.source` `USER_INFO`
//! with `basic.auth.user.info`, or `URL` with credentials in the URL) and TLS from
//! `schema.registry.ssl.*` (Java key and trust stores). `mock://scope` URLs name an in-memory
//! registry shared by every converter of the process with that scope, as Confluent's do.
//!
//! Converters are synchronous: each call runs on a small runtime of its own and the caller
//! waits for it, from any thread.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::{json, Value as Json};

use super::service::{Registry, RegistrySettings, SchemaRequest};
use super::types::{Reference, RegistryError, VersionSpec};
use crate::config::ConfigMap;
use crate::convert::confluent::{
    ClientResult, RegistryClient, RegistryClientError, RegistrySchema, RegistrySchemaType,
    SchemaReference, SubjectVersion,
};
use crate::errors::ConnectError;
use crate::tls::TlsSettings;

/// Runs the clients' requests, whoever calls.
static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("schema-registry-client")
        .enable_all()
        .build()
        .expect("a runtime for the schema registry client")
});

const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Makes a client from converter settings.
pub fn client_from_config(config: &ConfigMap) -> Result<Arc<dyn RegistryClient>, ConnectError> {
    let urls: Vec<String> = config
        .get("schema.registry.url")
        .map(|u| {
            u.split(',')
                .map(|s| s.trim().trim_end_matches('/').to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if urls.is_empty() {
        return Err(ConnectError::Config(
            "Missing required configuration \"schema.registry.url\" which has no default value"
                .into(),
        ));
    }
    if let Some(scope) = urls[0].strip_prefix("mock://") {
        return Ok(Arc::new(MockClient::scope(scope)));
    }
    Ok(Arc::new(HttpClient::new(urls, config)?))
}

/// A registry reached over HTTP(S).
pub struct HttpClient {
    urls: Vec<String>,
    /// The URL that answered last: tried first.
    current: AtomicUsize,
    credentials: Option<(String, String)>,
    client: reqwest::Client,
}

fn config_error(key: &str, why: impl std::fmt::Display) -> ConnectError {
    ConnectError::Config(format!("{key}: {why}"))
}

impl HttpClient {
    pub fn new(urls: Vec<String>, config: &ConfigMap) -> Result<HttpClient, ConnectError> {
        for u in &urls {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(config_error(
                    "schema.registry.url",
                    format!("'{u}' is not an http:// or https:// URL"),
                ));
            }
        }
        let source = config
            .get("basic.auth.credentials.source")
            .map(|s| s.trim().to_ascii_uppercase())
            .unwrap_or_else(|| "URL".into());
        let mut urls = urls;
        let credentials = match source.as_str() {
            "USER_INFO" => {
                let info = config
                    .get("basic.auth.user.info")
                    .or_else(|| config.get("schema.registry.basic.auth.user.info"))
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| {
                        config_error(
                            "basic.auth.user.info",
                            "basic.auth.credentials.source=USER_INFO needs basic.auth.user.info=<user>:<password>",
                        )
                    })?;
                let (user, password) = info.split_once(':').ok_or_else(|| {
                    config_error("basic.auth.user.info", "expected <user>:<password>")
                })?;
                Some((user.to_string(), password.to_string()))
            }
            "URL" => {
                // Credentials in the URLs (`http://user:password@host:8081`).
                let mut found = None;
                for u in urls.iter_mut() {
                    if let Ok(mut parsed) = reqwest::Url::parse(u) {
                        if !parsed.username().is_empty() {
                            let user = percent_decode(parsed.username());
                            let password = percent_decode(parsed.password().unwrap_or_default());
                            found = Some((user, password));
                            let _ = parsed.set_username("");
                            let _ = parsed.set_password(None);
                            *u = parsed.as_str().trim_end_matches('/').to_string();
                        }
                    }
                }
                found
            }
            other => {
                return Err(config_error(
                    "basic.auth.credentials.source",
                    format!("'{other}' is not supported by Conveyor; use USER_INFO or URL"),
                ))
            }
        };
        let mut builder = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(5));
        let uses_tls = urls.iter().any(|u| u.starts_with("https://"))
            || config.keys().any(|k| k.starts_with("schema.registry.ssl."));
        if uses_tls {
            let tls = TlsSettings::from_config(config, "schema.registry.ssl.")?;
            if let Some(certs) = &tls.trusted {
                builder = builder.tls_built_in_root_certs(false);
                for cert in certs {
                    let pem = cert
                        .to_pem()
                        .map_err(|e| config_error("schema.registry.ssl.truststore.location", e))?;
                    builder = builder.add_root_certificate(
                        reqwest::Certificate::from_pem(&pem).map_err(|e| {
                            config_error("schema.registry.ssl.truststore.location", e)
                        })?,
                    );
                }
            }
            if let (Some(chain), Some(key)) = (tls.certificate_pem(), tls.key_pem()) {
                builder = builder.identity(
                    reqwest::Identity::from_pkcs8_pem(chain.as_bytes(), key.as_bytes())
                        .map_err(|e| config_error("schema.registry.ssl.keystore.location", e))?,
                );
            }
            if !tls.verify_hostname {
                builder = builder.danger_accept_invalid_hostnames(true);
            }
        }
        let client = builder
            .build()
            .map_err(|e| ConnectError::Config(format!("cannot build the registry client: {e}")))?;
        Ok(HttpClient {
            urls,
            current: AtomicUsize::new(0),
            credentials,
            client,
        })
    }

    /// Sends a request to each URL in turn until one answers; 5xx answers and transport
    /// failures move on to the next one.
    fn call(&self, method: reqwest::Method, path: &str, body: Option<Json>) -> ClientResult<Json> {
        let n = self.urls.len();
        let start = self.current.load(Ordering::Relaxed) % n;
        let mut failures = Vec::new();
        for i in 0..n {
            let index = (start + i) % n;
            let url = format!("{}{path}", self.urls[index]);
            let mut request = self.client.request(method.clone(), &url).header(
                "Accept",
                "application/vnd.schemaregistry.v1+json, application/json",
            );
            if let Some((user, password)) = &self.credentials {
                request = request.basic_auth(user, Some(password));
            }
            if let Some(b) = &body {
                request = request
                    .header("Content-Type", "application/vnd.schemaregistry.v1+json")
                    .body(b.to_string());
            }
            let exchange = async move {
                let response = request.send().await?;
                let status = response.status();
                let text = response.text().await?;
                Ok::<_, reqwest::Error>((status, text))
            };
            let outcome = futures::executor::block_on(RUNTIME.spawn(exchange));
            match outcome {
                Ok(Ok((status, text))) if status.is_success() => {
                    self.current.store(index, Ordering::Relaxed);
                    return serde_json::from_str(&text).map_err(|e| RegistryClientError::Refused {
                        status: status.as_u16(),
                        code: -1,
                        message: format!(
                            "the registry at {url} answered with something other than JSON: {e}"
                        ),
                    });
                }
                Ok(Ok((status, text))) if status.is_server_error() => {
                    failures.push(format!("{url}: HTTP {status}: {}", error_message(&text)));
                }
                Ok(Ok((status, text))) => {
                    self.current.store(index, Ordering::Relaxed);
                    let json: Json = serde_json::from_str(&text).unwrap_or(Json::Null);
                    return Err(RegistryClientError::Refused {
                        status: status.as_u16(),
                        code: json
                            .get("error_code")
                            .and_then(|c| c.as_i64())
                            .unwrap_or(status.as_u16() as i64),
                        message: error_message(&text),
                    });
                }
                Ok(Err(e)) => failures.push(format!("{url}: {}", describe(&e))),
                Err(e) => failures.push(format!("{url}: {e}")),
            }
        }
        Err(RegistryClientError::Unavailable(failures.join("; ")))
    }
}

fn percent_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

fn error_message(body: &str) -> String {
    serde_json::from_str::<Json>(body)
        .ok()
        .and_then(|j| j.get("message").and_then(|m| m.as_str()).map(String::from))
        .unwrap_or_else(|| body.chars().take(300).collect())
}

/// A path segment, percent-encoded.
fn segment(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn request_body(schema: &RegistrySchema) -> Json {
    let mut body = json!({"schema": schema.text});
    if schema.schema_type != RegistrySchemaType::Avro {
        body["schemaType"] = json!(schema.schema_type.as_str());
    }
    if !schema.references.is_empty() {
        body["references"] = json!(schema.references);
    }
    body
}

fn schema_from_json(json: &Json) -> ClientResult<RegistrySchema> {
    let bad = |what: &str| RegistryClientError::Refused {
        status: 200,
        code: -1,
        message: format!("the registry's answer has no valid {what}"),
    };
    let text = json
        .get("schema")
        .and_then(|s| s.as_str())
        .ok_or_else(|| bad("schema"))?;
    let schema_type = RegistrySchemaType::parse(json.get("schemaType").and_then(|t| t.as_str()))
        .ok_or_else(|| bad("schemaType"))?;
    let references = match json.get("references") {
        None | Some(Json::Null) => Vec::new(),
        Some(r) => serde_json::from_value(r.clone()).map_err(|_| bad("references"))?,
    };
    Ok(RegistrySchema {
        schema_type,
        text: text.to_string(),
        references,
    })
}

fn version_from_json(json: &Json) -> ClientResult<SubjectVersion> {
    let int = |k: &str| json.get(k).and_then(|v| v.as_i64()).unwrap_or(0) as i32;
    Ok(SubjectVersion {
        subject: json
            .get("subject")
            .and_then(|s| s.as_str())
            .unwrap_or_default()
            .to_string(),
        version: int("version"),
        id: int("id"),
        schema: schema_from_json(json)?,
    })
}

impl RegistryClient for HttpClient {
    fn schema_by_id(&self, id: i32) -> ClientResult<RegistrySchema> {
        let json = self.call(reqwest::Method::GET, &format!("/schemas/ids/{id}"), None)?;
        schema_from_json(&json)
    }

    fn register(&self, subject: &str, schema: &RegistrySchema) -> ClientResult<i32> {
        let json = self.call(
            reqwest::Method::POST,
            &format!("/subjects/{}/versions", segment(subject)),
            Some(request_body(schema)),
        )?;
        json.get("id")
            .and_then(|i| i.as_i64())
            .map(|i| i as i32)
            .ok_or_else(|| RegistryClientError::Refused {
                status: 200,
                code: -1,
                message: "the registry's answer has no id".into(),
            })
    }

    fn lookup(&self, subject: &str, schema: &RegistrySchema) -> ClientResult<SubjectVersion> {
        let json = self.call(
            reqwest::Method::POST,
            &format!("/subjects/{}", segment(subject)),
            Some(request_body(schema)),
        )?;
        version_from_json(&json)
    }

    fn latest(&self, subject: &str) -> ClientResult<SubjectVersion> {
        let json = self.call(
            reqwest::Method::GET,
            &format!("/subjects/{}/versions/latest", segment(subject)),
            None,
        )?;
        version_from_json(&json)
    }

    fn version(&self, subject: &str, version: i32) -> ClientResult<SubjectVersion> {
        let json = self.call(
            reqwest::Method::GET,
            &format!("/subjects/{}/versions/{version}", segment(subject)),
            None,
        )?;
        version_from_json(&json)
    }
}

/// An in-memory registry (`mock://scope`): converters with the same scope share it.
pub struct MockClient {
    registry: Arc<Registry>,
}

static MOCK_SCOPES: LazyLock<Mutex<HashMap<String, Arc<Registry>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

impl MockClient {
    pub fn scope(scope: &str) -> MockClient {
        let registry = MOCK_SCOPES
            .lock()
            .entry(scope.to_string())
            .or_insert_with(|| Arc::new(Registry::in_memory(RegistrySettings::default())))
            .clone();
        MockClient { registry }
    }

    /// A client of its own registry.
    pub fn new(registry: Arc<Registry>) -> MockClient {
        MockClient { registry }
    }
}

fn refused(e: RegistryError) -> RegistryClientError {
    RegistryClientError::Refused {
        status: e.status,
        code: e.code as i64,
        message: e.message,
    }
}

fn to_request(schema: &RegistrySchema) -> SchemaRequest {
    SchemaRequest {
        schema: Some(schema.text.clone()),
        schema_type: Some(schema.schema_type.as_str().to_string()),
        references: Some(
            schema
                .references
                .iter()
                .map(|r| Reference {
                    name: r.name.clone(),
                    subject: r.subject.clone(),
                    version: r.version,
                })
                .collect(),
        ),
        id: None,
        version: None,
    }
}

fn to_version(r: super::store::Registered) -> SubjectVersion {
    SubjectVersion {
        subject: r.subject,
        version: r.version,
        id: r.id,
        schema: RegistrySchema {
            schema_type: RegistrySchemaType::parse(Some(r.schema.schema_type.as_str()))
                .unwrap_or(RegistrySchemaType::Avro),
            text: r.schema.text.to_string(),
            references: r
                .schema
                .references
                .into_iter()
                .map(|x| SchemaReference {
                    name: x.name,
                    subject: x.subject,
                    version: x.version,
                })
                .collect(),
        },
    }
}

impl RegistryClient for MockClient {
    fn schema_by_id(&self, id: i32) -> ClientResult<RegistrySchema> {
        let entry = self
            .registry
            .read(|s| s.schema_by_id(id).cloned())
            .ok_or_else(|| refused(RegistryError::schema_id_not_found(id)))?;
        Ok(RegistrySchema {
            schema_type: RegistrySchemaType::parse(Some(entry.schema_type.as_str()))
                .unwrap_or(RegistrySchemaType::Avro),
            text: entry.text.to_string(),
            references: entry
                .references
                .into_iter()
                .map(|x| SchemaReference {
                    name: x.name,
                    subject: x.subject,
                    version: x.version,
                })
                .collect(),
        })
    }

    fn register(&self, subject: &str, schema: &RegistrySchema) -> ClientResult<i32> {
        let registry = self.registry.clone();
        let subject = subject.to_string();
        let request = to_request(schema);
        futures::executor::block_on(
            RUNTIME.spawn(async move { registry.register(&subject, &request).await }),
        )
        .map_err(|e| RegistryClientError::Unavailable(e.to_string()))?
        .map_err(refused)
    }

    fn lookup(&self, subject: &str, schema: &RegistrySchema) -> ClientResult<SubjectVersion> {
        self.registry
            .lookup(subject, &to_request(schema), false)
            .map(to_version)
            .map_err(refused)
    }

    fn latest(&self, subject: &str) -> ClientResult<SubjectVersion> {
        self.registry
            .read(|s| s.get(subject, VersionSpec::Latest, false))
            .map(to_version)
            .map_err(refused)
    }

    fn version(&self, subject: &str, version: i32) -> ClientResult<SubjectVersion> {
        self.registry
            .read(|s| s.get(subject, VersionSpec::Number(version), true))
            .map(to_version)
            .map_err(refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> ConfigMap {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn credentials_from_settings_or_urls() {
        let c =
            HttpClient::new(vec!["http://u%40x:p%3Aw@r1:8081".into()], &ConfigMap::new()).unwrap();
        assert_eq!(c.credentials, Some(("u@x".into(), "p:w".into())));
        assert_eq!(c.urls, vec!["http://r1:8081"]);
        let c = HttpClient::new(
            vec!["http://r1:8081".into()],
            &config(&[
                ("basic.auth.credentials.source", "USER_INFO"),
                ("basic.auth.user.info", "alice:secret"),
            ]),
        )
        .unwrap();
        assert_eq!(c.credentials, Some(("alice".into(), "secret".into())));
        let e = HttpClient::new(
            vec!["http://r1:8081".into()],
            &config(&[("basic.auth.credentials.source", "SASL_INHERIT")]),
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("basic.auth.credentials.source"));
        assert!(HttpClient::new(vec!["r1:8081".into()], &ConfigMap::new()).is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fails_over_and_reports_an_unreachable_registry() {
        // One dead URL, then a live registry.
        let dead = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}", l.local_addr().unwrap())
        };
        let registry = Arc::new(Registry::in_memory(RegistrySettings::default()));
        let app = super::super::rest::router(registry);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let live = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let schema = RegistrySchema {
            schema_type: RegistrySchemaType::Avro,
            text: "\"string\"".into(),
            references: vec![],
        };
        let (dead2, live2) = (dead.clone(), live.clone());
        let (id, fetched, missing) = tokio::task::spawn_blocking(move || {
            let client = HttpClient::new(vec![dead2, live2], &ConfigMap::new()).unwrap();
            let id = client.register("t-value", &schema).unwrap();
            (
                id,
                client.schema_by_id(id).unwrap(),
                client.schema_by_id(99).unwrap_err(),
            )
        })
        .await
        .unwrap();
        assert_eq!(id, 1);
        assert_eq!(fetched.text, "\"string\"");
        assert_eq!(missing.code(), Some(40403));
        let down = tokio::task::spawn_blocking(move || {
            HttpClient::new(vec![dead], &ConfigMap::new())
                .unwrap()
                .schema_by_id(1)
                .unwrap_err()
        })
        .await
        .unwrap();
        assert!(
            matches!(down, RegistryClientError::Unavailable(_)),
            "{down}"
        );
        assert!(down.into_connect("fetching schema 1").is_retriable());
    }
}
