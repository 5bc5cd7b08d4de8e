//! HTTP basic authentication, as Kafka Connect's `BasicAuthSecurityRestExtension` does it.
//!
//! Enabled by `rest.extension.classes=org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension`.
//! The users come from the `KafkaConnect` section of a JAAS login file, whose
//! `PropertyFileLoginModule` entries name a Java properties file of `user: password` lines:
//!
//! ```text
//! KafkaConnect {
//!   org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required
//!     file="/etc/connect/credentials.properties";
//! };
//! ```
//!
//! Connect finds the login file through the JVM system property
//! `java.security.auth.login.config`, which its users set in `KAFKA_OPTS`; Conveyor reads it
//! there too, and from the worker config key of the same name (which wins).
//!
//! What differs from Connect, on purpose: everything is read when the worker starts, and any
//! problem (an unknown extension class, no login file, no `KafkaConnect` section, a login
//! module other than `PropertyFileLoginModule`, an unreadable or empty credentials file) stops
//! the worker, where Connect would answer every request with 401 or, for an empty file, let
//! every request through. A refused request gets Connect's text in Connect's JSON error shape
//! with a `WWW-Authenticate` header. `GET /health` stays open.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;

use super::error::RestError;
use crate::config::jaas::{parse_jaas_file, LoginModule};
use crate::config::worker::{JAAS_LOGIN_CONFIG, REST_EXTENSION_CLASSES};
use crate::config::{parse_properties, WorkerConfig};
use crate::errors::{ConnectError, Result};

/// Kafka Connect's basic authentication extension.
pub const BASIC_AUTH_EXTENSION: &str =
    "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension";
/// The login module that reads a credentials file.
const PROPERTY_FILE_LOGIN_MODULE: &str =
    "org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule";
/// The JAAS section Connect's extension logs in with.
pub const LOGIN_SECTION: &str = "KafkaConnect";
/// What a refused request is told (Kafka Connect's `JaasBasicAuthFilter` text).
pub const UNAUTHORIZED_MESSAGE: &str = "User cannot access the resource.";
/// The challenge sent with a 401.
pub const CHALLENGE: &str = "Basic realm=\"Kafka Connect\", charset=\"UTF-8\"";
/// The JVM option that names the login file, as it appears in `KAFKA_OPTS`.
const JAAS_JVM_OPTION: &str = "-Djava.security.auth.login.config=";

/// A JAAS control flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flag {
    Required,
    Requisite,
    Sufficient,
    Optional,
}

/// One `PropertyFileLoginModule` entry: its flag and the users of its credentials file.
struct CredentialsFile {
    flag: Flag,
    users: BTreeMap<String, String>,
}

impl CredentialsFile {
    /// Connect's `PropertyFileLoginModule.login`: the password must equal the user's whole
    /// value in the file. Compared through digests, in constant time.
    fn accepts(&self, user: &str, password: &str) -> bool {
        let Some(expected) = self.users.get(user) else {
            return false;
        };
        openssl::memcmp::eq(
            &openssl::sha::sha256(expected.as_bytes()),
            &openssl::sha::sha256(password.as_bytes()),
        )
    }
}

/// The users that may call the REST API.
pub struct BasicAuth {
    modules: Vec<CredentialsFile>,
}

impl std::fmt::Debug for BasicAuth {
    // Passwords are never shown; user names are not needed either.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAuth")
            .field("modules", &self.modules.len())
            .finish()
    }
}

/// Where the login file's name came from, for messages.
fn origin_text(from_worker_config: bool) -> &'static str {
    if from_worker_config {
        "the worker config"
    } else {
        "KAFKA_OPTS"
    }
}

impl BasicAuth {
    /// Reads `rest.extension.classes` and, when it enables basic authentication, the login
    /// file (named by the worker config's `java.security.auth.login.config`, else by
    /// `-Djava.security.auth.login.config=` in `kafka_opts`) and its credentials files.
    /// None when no extension is configured. Every problem is an error: a security setting
    /// that cannot be honoured must not leave the API open.
    pub fn from_worker_config(
        config: &WorkerConfig,
        kafka_opts: Option<&str>,
    ) -> Result<Option<BasicAuth>> {
        let mut enabled = false;
        for class in &config.rest_extension_classes {
            let class = class.trim();
            if class == BASIC_AUTH_EXTENSION || class == "BasicAuthSecurityRestExtension" {
                enabled = true;
            } else {
                return Err(ConnectError::Config(format!(
                    "{REST_EXTENSION_CLASSES}: {class} is not a REST extension Conveyor provides \
                     (it cannot load Java classes); the one it provides is {BASIC_AUTH_EXTENSION}. \
                     Remove {class} from the setting"
                )));
            }
        }
        if !enabled {
            return Ok(None);
        }
        let (path, from_worker_config) = match &config.jaas_login_config {
            Some(path) => (path.clone(), true),
            None => match kafka_opts.and_then(jaas_file_from_jvm_options) {
                Some(path) => (path, false),
                None => {
                    return Err(ConnectError::Config(format!(
                    "{REST_EXTENSION_CLASSES} enables {BASIC_AUTH_EXTENSION}, but no JAAS login \
                         file is named: set {JAAS_LOGIN_CONFIG}=/path/to/jaas.conf in the worker \
                         config, or KAFKA_OPTS=\"{JAAS_JVM_OPTION}/path/to/jaas.conf\" in the \
                         environment, as for Kafka Connect"
                )))
                }
            },
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            ConnectError::Config(format!(
                "{JAAS_LOGIN_CONFIG}: cannot read the JAAS login file {path} (named in {}): {e}",
                origin_text(from_worker_config)
            ))
        })?;
        let auth = BasicAuth::from_jaas(&text, &path)?;
        tracing::info!(
            jaas_file = %path,
            named_in = origin_text(from_worker_config),
            "REST basic authentication is on"
        );
        Ok(Some(auth))
    }

    /// Reads the `KafkaConnect` section of a JAAS login file's text, `path` naming the file in
    /// errors, and the credentials files it names.
    pub fn from_jaas(text: &str, path: &str) -> Result<BasicAuth> {
        let fail = |message: String| {
            ConnectError::Config(format!("{JAAS_LOGIN_CONFIG}: {path}: {message}"))
        };
        let sections = parse_jaas_file(text).map_err(|e| fail(e.to_string()))?;
        let modules = sections.get(LOGIN_SECTION).ok_or_else(|| {
            fail(format!(
                "there is no {LOGIN_SECTION} section (found: {}); basic authentication logs in \
                 with `{LOGIN_SECTION} {{ {PROPERTY_FILE_LOGIN_MODULE} required file=\"...\"; }};`",
                if sections.is_empty() {
                    "none".to_string()
                } else {
                    sections.keys().cloned().collect::<Vec<_>>().join(", ")
                }
            ))
        })?;
        if modules.is_empty() {
            return Err(fail(format!(
                "the {LOGIN_SECTION} section has no login module"
            )));
        }
        let modules = modules
            .iter()
            .map(|m| credentials_module(m).map_err(fail))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(BasicAuth { modules })
    }

    /// The user an `Authorization` header authenticates, as JAAS combines the section's
    /// login modules by their flags; None when it is missing, malformed or wrong.
    pub fn authenticate(&self, authorization: Option<&HeaderValue>) -> Option<String> {
        let (user, password) = basic_credentials(authorization?.to_str().ok()?)?;
        // javax.security.auth.login.LoginContext's rules.
        let mut required_failed = false;
        let mut required_seen = false;
        let mut any_succeeded = false;
        for module in &self.modules {
            let ok = module.accepts(&user, &password);
            match module.flag {
                Flag::Required => {
                    required_seen = true;
                    required_failed |= !ok;
                }
                Flag::Requisite => {
                    required_seen = true;
                    if !ok {
                        return None;
                    }
                }
                Flag::Sufficient if ok && !required_failed => return Some(user),
                Flag::Sufficient | Flag::Optional => any_succeeded |= ok,
            }
        }
        let success = !required_failed && (required_seen || any_succeeded);
        success.then_some(user)
    }
}

fn credentials_module(module: &LoginModule) -> std::result::Result<CredentialsFile, String> {
    if module.class != PROPERTY_FILE_LOGIN_MODULE
        && module.simple_name() != "PropertyFileLoginModule"
    {
        return Err(format!(
            "the login module {} cannot run in Conveyor (it cannot load Java classes); use \
             {PROPERTY_FILE_LOGIN_MODULE} with a credentials file",
            module.class
        ));
    }
    let flag = match module.flag.as_str() {
        "required" => Flag::Required,
        "requisite" => Flag::Requisite,
        "sufficient" => Flag::Sufficient,
        _ => Flag::Optional,
    };
    let file = module
        .option("file")
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .ok_or_else(|| {
            format!(
                "{} needs the option file=\"/path/to/credentials.properties\"",
                module.class
            )
        })?;
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read the credentials file {file}: {e}"))?;
    let users = parse_properties(&text, file).map_err(|e| format!("bad credentials file: {e}"))?;
    if users.is_empty() {
        return Err(format!(
            "the credentials file {file} has no users (Kafka Connect would then let every \
             request through; Conveyor refuses to start). Add `user: password` lines"
        ));
    }
    Ok(CredentialsFile { flag, users })
}

/// User and password of an `Authorization: Basic base64(user:password)` header, read as
/// Connect's `BasicAuthCallBackHandler` does: the scheme is case-insensitive, the password is
/// everything after the first colon, and an empty user name is no credentials at all.
pub fn basic_credentials(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    // Java's decoder accepts the padding or its absence.
    let engine = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let decoded = engine.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8_lossy(&decoded);
    let (user, password) = decoded.split_once(':')?;
    if user.is_empty() {
        return None;
    }
    Some((user.to_string(), password.to_string()))
}

/// The login file named by `-Djava.security.auth.login.config=` in JVM options such as
/// `KAFKA_OPTS` (the last one wins, as in Java). A leading `=` (Java's "only this file") and
/// a `file:` URL prefix are accepted.
pub fn jaas_file_from_jvm_options(options: &str) -> Option<String> {
    let mut found = None;
    for word in split_options(options) {
        if let Some(value) = word.strip_prefix(JAAS_JVM_OPTION) {
            let value = value.strip_prefix('=').unwrap_or(value);
            let value = value
                .strip_prefix("file://")
                .or_else(|| value.strip_prefix("file:"))
                .unwrap_or(value);
            if !value.is_empty() {
                found = Some(value.to_string());
            }
        }
    }
    found
}

/// Splits a shell-like option string on whitespace, honouring single and double quotes.
fn split_options(options: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in options.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Requests that need no credentials: `GET /health`, so that load balancers and
/// orchestrators can probe the worker.
fn is_open(method: &Method, path: &str) -> bool {
    (method == Method::GET || method == Method::HEAD) && path == "/health"
}

/// The 401 answer: Connect's text in Connect's error shape, with a challenge.
pub fn unauthorized() -> Response {
    let mut response =
        RestError::new(StatusCode::UNAUTHORIZED, UNAUTHORIZED_MESSAGE).into_response();
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static(CHALLENGE));
    response
}

/// The middleware: lets authenticated requests (and open ones) through, answers the others
/// with 401.
pub async fn authenticate(
    State(auth): State<Arc<BasicAuth>>,
    request: Request,
    next: Next,
) -> Response {
    if is_open(request.method(), request.uri().path()) {
        return next.run(request).await;
    }
    match auth.authenticate(request.headers().get(AUTHORIZATION)) {
        Some(user) => {
            tracing::trace!(user = %user, "request authenticated");
            next.run(request).await
        }
        None => {
            // Debug, not warn: a mistyped password must not fill the log (Connect does the
            // same). The credentials themselves are never logged.
            tracing::debug!(method = %request.method(), path = %request.uri().path(), "request failed authentication");
            unauthorized()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::map;
    use crate::config::WorkerMode;

    fn header(user_password: &str) -> HeaderValue {
        let encoded = base64::engine::general_purpose::STANDARD.encode(user_password);
        HeaderValue::from_str(&format!("Basic {encoded}")).unwrap()
    }

    #[test]
    fn basic_credentials_are_read_as_connect_reads_them() {
        assert_eq!(
            basic_credentials("Basic YWxpY2U6czNjcjp0"),
            Some(("alice".into(), "s3cr:t".into()))
        );
        assert_eq!(
            basic_credentials("basic YWxpY2U6czNjcjp0"),
            Some(("alice".into(), "s3cr:t".into()))
        );
        // Unpadded base64 ("alice:pw").
        assert_eq!(
            basic_credentials("BASIC YWxpY2U6cHc"),
            Some(("alice".into(), "pw".into()))
        );
        assert_eq!(
            basic_credentials("Basic YWxpY2U6"),
            Some(("alice".into(), String::new()))
        );
        assert_eq!(basic_credentials("Bearer YWxpY2U6cHc="), None);
        assert_eq!(basic_credentials("Basic"), None);
        assert_eq!(basic_credentials("Basic !!!"), None);
        // No colon, or an empty user name: no credentials.
        assert_eq!(basic_credentials("Basic YWxpY2U="), None);
        assert_eq!(basic_credentials("Basic OnB3"), None);
    }

    #[test]
    fn jaas_file_from_kafka_opts() {
        let opts = "-Xmx1g -Djava.security.auth.login.config=/etc/connect/jaas.conf -Dfoo=bar";
        assert_eq!(
            jaas_file_from_jvm_options(opts).as_deref(),
            Some("/etc/connect/jaas.conf")
        );
        assert_eq!(
            jaas_file_from_jvm_options(
                "-Djava.security.auth.login.config=/a \"-Djava.security.auth.login.config==/my dir/j.conf\""
            )
            .as_deref(),
            Some("/my dir/j.conf")
        );
        assert_eq!(
            jaas_file_from_jvm_options("-Djava.security.auth.login.config=file:///etc/j.conf")
                .as_deref(),
            Some("/etc/j.conf")
        );
        assert_eq!(jaas_file_from_jvm_options("-Xmx1g"), None);
    }

    struct Files(tempfile::TempDir);

    impl Files {
        fn new() -> Files {
            Files(tempfile::tempdir().unwrap())
        }

        fn write(&self, name: &str, text: &str) -> String {
            let path = self.0.path().join(name);
            std::fs::write(&path, text).unwrap();
            path.display().to_string()
        }
    }

    fn jaas(modules: &[(&str, &str)]) -> String {
        let body: String = modules
            .iter()
            .map(|(flag, file)| format!("  {PROPERTY_FILE_LOGIN_MODULE} {flag} file=\"{file}\";\n"))
            .collect();
        format!("KafkaConnect {{\n{body}}};\n")
    }

    #[test]
    fn credentials_files_and_flags() {
        let files = Files::new();
        let admins = files.write(
            "admins.properties",
            "# admins\nadmin: admin-secret\nops=ops secret with spaces\n",
        );
        let readers = files.write("readers.properties", "reader: reader-secret\n");
        let auth = BasicAuth::from_jaas(&jaas(&[("required", &admins)]), "jaas.conf").unwrap();
        assert_eq!(
            auth.authenticate(Some(&header("admin:admin-secret")))
                .as_deref(),
            Some("admin")
        );
        assert_eq!(
            auth.authenticate(Some(&header("ops:ops secret with spaces")))
                .as_deref(),
            Some("ops")
        );
        assert_eq!(auth.authenticate(Some(&header("admin:wrong"))), None);
        assert_eq!(
            auth.authenticate(Some(&header("admin:admin-secret "))),
            None
        );
        assert_eq!(
            auth.authenticate(Some(&header("nobody:admin-secret"))),
            None
        );
        assert_eq!(auth.authenticate(None), None);
        assert!(!format!("{auth:?}").contains("secret"));

        // Either file: two sufficient modules.
        let either = BasicAuth::from_jaas(
            &jaas(&[("sufficient", &admins), ("sufficient", &readers)]),
            "jaas.conf",
        )
        .unwrap();
        assert!(either
            .authenticate(Some(&header("admin:admin-secret")))
            .is_some());
        assert!(either
            .authenticate(Some(&header("reader:reader-secret")))
            .is_some());
        assert!(either
            .authenticate(Some(&header("reader:admin-secret")))
            .is_none());
        // Both files: two required modules.
        let both = BasicAuth::from_jaas(
            &jaas(&[("required", &admins), ("required", &readers)]),
            "jaas.conf",
        )
        .unwrap();
        assert!(both
            .authenticate(Some(&header("admin:admin-secret")))
            .is_none());
        // A failed requisite module ends it even before a sufficient one.
        let requisite = BasicAuth::from_jaas(
            &jaas(&[("requisite", &readers), ("sufficient", &admins)]),
            "jaas.conf",
        )
        .unwrap();
        assert!(requisite
            .authenticate(Some(&header("admin:admin-secret")))
            .is_none());
        assert!(requisite
            .authenticate(Some(&header("reader:reader-secret")))
            .is_some());
    }

    #[test]
    fn unusable_login_files_are_errors_naming_the_setting() {
        let files = Files::new();
        let empty = files.write("empty.properties", "# nobody\n");
        let missing = files
            .0
            .path()
            .join("missing.properties")
            .display()
            .to_string();
        let cases = [
            (jaas(&[("required", &empty)]), "has no users"),
            (
                jaas(&[("required", &missing)]),
                "cannot read the credentials file",
            ),
            (
                "Other { x.Y required; };".to_string(),
                "there is no KafkaConnect section (found: Other)",
            ),
            (
                "KafkaConnect { com.example.LdapLoginModule required url=\"ldap://x\"; };"
                    .to_string(),
                "com.example.LdapLoginModule cannot run in Conveyor",
            ),
            (
                format!("KafkaConnect {{ {PROPERTY_FILE_LOGIN_MODULE} required; }};"),
                "needs the option file=",
            ),
            ("KafkaConnect { oops".to_string(), "jaas.conf: "),
        ];
        for (text, expected) in cases {
            let err = BasicAuth::from_jaas(&text, "jaas.conf")
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("java.security.auth.login.config: jaas.conf: "),
                "{err}"
            );
            assert!(err.contains(expected), "{err} should contain {expected}");
        }
    }

    #[test]
    fn worker_settings_enable_it_or_refuse_to_start() {
        let files = Files::new();
        let users = files.write("users.properties", "alice: alice-pw\n");
        let jaas_file = files.write("jaas.conf", &jaas(&[("required", &users)]));
        let worker = |pairs: &[(&str, &str)]| {
            let mut all = vec![("offset.storage.file.filename", "/tmp/o")];
            all.extend_from_slice(pairs);
            WorkerConfig::parse(&map(&all), WorkerMode::Standalone).unwrap()
        };
        let ext = ("rest.extension.classes", BASIC_AUTH_EXTENSION);
        let opts = format!("-Djava.security.auth.login.config={jaas_file}");
        assert!(BasicAuth::from_worker_config(&worker(&[]), Some(&opts))
            .unwrap()
            .is_none());
        let auth = BasicAuth::from_worker_config(&worker(&[ext]), Some(&opts))
            .unwrap()
            .unwrap();
        assert!(auth.authenticate(Some(&header("alice:alice-pw"))).is_some());
        let from_key = worker(&[ext, ("java.security.auth.login.config", &jaas_file)]);
        // The worker key wins over KAFKA_OPTS.
        let auth = BasicAuth::from_worker_config(
            &from_key,
            Some("-Djava.security.auth.login.config=/nope"),
        )
        .unwrap()
        .unwrap();
        assert!(auth.authenticate(Some(&header("alice:alice-pw"))).is_some());

        let err = BasicAuth::from_worker_config(&worker(&[ext]), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no JAAS login file is named"), "{err}");
        let err = BasicAuth::from_worker_config(
            &worker(&[ext]),
            Some("-Djava.security.auth.login.config=/nope/jaas.conf"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("java.security.auth.login.config: cannot read the JAAS login file /nope/jaas.conf (named in KAFKA_OPTS)"),
            "{err}"
        );
        let err = BasicAuth::from_worker_config(
            &worker(&[("rest.extension.classes", "com.example.MyExtension")]),
            Some(&opts),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("rest.extension.classes: com.example.MyExtension is not"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn the_middleware_challenges_and_keeps_health_open() {
        use axum::body::Body;
        use axum::routing::get;
        use tower_service::Service;

        let files = Files::new();
        let users = files.write("users.properties", "alice: alice-pw\n");
        let auth = Arc::new(BasicAuth::from_jaas(&jaas(&[("required", &users)]), "j").unwrap());
        let app = axum::Router::new()
            .route("/health", get(|| async { "ok" }))
            .route("/connectors", get(|| async { "[]" }))
            .layer(axum::middleware::from_fn_with_state(auth, authenticate));
        let call = |path: &str, authorization: Option<HeaderValue>| {
            let mut request = axum::http::Request::get(path);
            if let Some(a) = authorization {
                request = request.header(AUTHORIZATION, a);
            }
            // A Router is always ready.
            app.clone().call(request.body(Body::empty()).unwrap())
        };
        let response = call("/connectors", None).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[WWW_AUTHENTICATE], CHALLENGE);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error_code": 401, "message": UNAUTHORIZED_MESSAGE})
        );
        let wrong = call("/connectors", Some(header("alice:nope")))
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
        let right = call("/connectors", Some(header("alice:alice-pw")))
            .await
            .unwrap();
        assert_eq!(right.status(), StatusCode::OK);
        assert_eq!(
            call("/health", None).await.unwrap().status(),
            StatusCode::OK
        );
    }
}
