//! Settings shared by the sink and the source: the connection (`connection.url`, user,
//! password, attempts, backoff, TLS), `db.timezone` and `quote.sql.identifiers`, with the JDBC
//! connector's names, defaults and documentation.
//!
//! PgJDBC connection properties come from the URL's query string or, as in the JDBC connector,
//! from any `connection.<property>` config that is not one of the connector's own keys.

use std::sync::Arc;
use std::time::Duration;

use crate::config::def::with_prefix;
use crate::config::{
    ConfigDef, ConfigKey, ConfigMap, ConfigType, Importance, ParsedConfig, Validator, Width,
};
use crate::errors::{ConnectError, Result};

use super::identifier::Quoting;
use super::tls::{Origin, PropertyError, SslMode, TlsSettings};

pub const CONNECTION_URL: &str = "connection.url";
pub const CONNECTION_USER: &str = "connection.user";
pub const CONNECTION_PASSWORD: &str = "connection.password";
pub const CONNECTION_ATTEMPTS: &str = "connection.attempts";
pub const CONNECTION_BACKOFF_MS: &str = "connection.backoff.ms";
pub const DIALECT_NAME: &str = "dialect.name";
pub const DB_TIMEZONE: &str = "db.timezone";
pub const QUOTE_SQL_IDENTIFIERS: &str = "quote.sql.identifiers";
pub const CONNECTION_SSLMODE: &str = "connection.sslmode";
pub const CONNECTION_SSLROOTCERT: &str = "connection.sslrootcert";
pub const CONNECTION_SSLCERT: &str = "connection.sslcert";
pub const CONNECTION_SSLKEY: &str = "connection.sslkey";
pub const CONNECTION_SSLPASSWORD: &str = "connection.sslpassword";

const JDBC_PREFIX: &str = "jdbc:postgresql:";
const DEFAULT_PORT: u16 = 5432;
/// `connection.<property>` configs are PgJDBC properties, except the connector's own keys.
const CONNECTION_PREFIX: &str = "connection.";
const OWN_CONNECTION_KEYS: [&str; 5] = [
    CONNECTION_URL,
    CONNECTION_USER,
    CONNECTION_PASSWORD,
    CONNECTION_ATTEMPTS,
    CONNECTION_BACKOFF_MS,
];
/// How long opening a connection (TCP, TLS, authentication) may take: the JDBC connector's
/// `DriverManager.setLoginTimeout(40)`. PgJDBC's `loginTimeout` property changes it.
const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(40);
/// Where the TLS keys go in their group: after the JDBC connector's own keys, whose orders
/// stay as the JDBC connector has them.
const TLS_ORDER: i32 = 101;
/// The only dialect there is; the JDBC connector's name for it is accepted.
const POSTGRES_DIALECT: &str = "PostgreSqlDatabaseDialect";

/// The connection keys, in the "Connection" group (sink) or "Database" group (source).
pub fn define_connection_keys(def: ConfigDef, group: &str) -> ConfigDef {
    def.define(
        ConfigKey::new(CONNECTION_URL, ConfigType::String)
            .validator(Validator::Custom(Arc::new(|v| match v {
                crate::config::ConfigValue::String(url) => parse_url(url).map(|_| ()),
                _ => Ok(()),
            })))
            .importance(Importance::High)
            .doc("JDBC connection URL of a PostgreSQL database, for example jdbc:postgresql://localhost:5432/mydb?user=me. Only jdbc:postgresql: URLs are supported.")
            .group(group, 1)
            .width(Width::Long)
            .display_name("JDBC URL"),
    )
    .define(
        ConfigKey::new(CONNECTION_USER, ConfigType::String)
            .default_null()
            .importance(Importance::High)
            .doc("JDBC connection user.")
            .group(group, 2)
            .width(Width::Medium)
            .display_name("JDBC User"),
    )
    .define(
        ConfigKey::new(CONNECTION_PASSWORD, ConfigType::Password)
            .default_null()
            .importance(Importance::High)
            .doc("JDBC connection password.")
            .group(group, 3)
            .width(Width::Medium)
            .display_name("JDBC Password"),
    )
    .define(
        ConfigKey::new(DIALECT_NAME, ConfigType::String)
            .default_value("")
            .validator(Validator::one_of(["", POSTGRES_DIALECT]))
            .importance(Importance::Low)
            .doc("The name of the database dialect. Only PostgreSqlDatabaseDialect is supported; empty picks it from the URL.")
            .group(group, 4)
            .width(Width::Long)
            .display_name("Database Dialect"),
    )
    .define(
        ConfigKey::new(CONNECTION_ATTEMPTS, ConfigType::Int)
            .default_value("3")
            .validator(Validator::at_least(1.0))
            .importance(Importance::Low)
            .doc("The maximum number of attempts to get a valid JDBC connection. The value must be a positive integer.")
            .group(group, 5)
            .width(Width::Short)
            .display_name("JDBC connection attempts"),
    )
    .define(
        ConfigKey::new(CONNECTION_BACKOFF_MS, ConfigType::Long)
            .default_value("10000")
            .importance(Importance::Low)
            .doc("The backoff time in milliseconds between connection attempts.")
            .group(group, 6)
            .width(Width::Short)
            .display_name("JDBC connection backoff in milliseconds"),
    )
    .define(
        ConfigKey::new(CONNECTION_SSLMODE, ConfigType::String)
            .default_null()
            .validator(Validator::one_of_ignore_case(SslMode::NAMES))
            .importance(Importance::Medium)
            .doc("TLS to the database, as PgJDBC's and libpq's sslmode (the same as sslmode in connection.url): disable; allow; prefer (the default: TLS when the server offers it, no certificate check); require (always TLS; the certificate is checked against sslrootcert only if that is set); verify-ca (TLS, the server's certificate chain checked against sslrootcert); verify-full (verify-ca and the host name in connection.url checked against the certificate).")
            .group(group, TLS_ORDER)
            .width(Width::Medium)
            .display_name("SSL mode"),
    )
    .define(
        ConfigKey::new(CONNECTION_SSLROOTCERT, ConfigType::String)
            .default_null()
            .importance(Importance::Medium)
            .doc("PEM file of the CA certificate(s) that signed the server's certificate, for sslmode verify-ca and verify-full (and require). 'system' trusts the operating system's CAs (needs verify-full). Default: ~/.postgresql/root.crt.")
            .group(group, TLS_ORDER + 1)
            .width(Width::Long)
            .display_name("SSL root certificate"),
    )
    .define(
        ConfigKey::new(CONNECTION_SSLCERT, ConfigType::String)
            .default_null()
            .importance(Importance::Low)
            .doc("PEM file of the client certificate, for servers that authenticate clients by certificate (pg_hba.conf 'cert'). Default: ~/.postgresql/postgresql.crt when it exists.")
            .group(group, TLS_ORDER + 2)
            .width(Width::Long)
            .display_name("SSL client certificate"),
    )
    .define(
        ConfigKey::new(CONNECTION_SSLKEY, ConfigType::String)
            .default_null()
            .importance(Importance::Low)
            .doc("The client certificate's private key: PEM, DER PKCS#8 (.pk8), or a PKCS#12 archive (.p12/.pfx) holding both key and certificate. Default: ~/.postgresql/postgresql.key.")
            .group(group, TLS_ORDER + 3)
            .width(Width::Long)
            .display_name("SSL client key"),
    )
    .define(
        ConfigKey::new(CONNECTION_SSLPASSWORD, ConfigType::Password)
            .default_null()
            .importance(Importance::Low)
            .doc("Password of an encrypted sslkey (or of the PKCS#12 archive).")
            .group(group, TLS_ORDER + 4)
            .width(Width::Medium)
            .display_name("SSL key password"),
    )
}

/// Clashes between a property in `connection.url` and the same one as a `connection.*`
/// config, attached to the config key when the connector defines it and to `connection.url`
/// otherwise (for `/config/validate`).
pub fn connection_cross_check(config: &ConfigMap) -> Vec<(&'static str, String)> {
    let Some(url) = config.get(CONNECTION_URL) else {
        return Vec::new();
    };
    let Ok(parsed) = parse_url(url) else {
        return Vec::new();
    };
    match driver_properties(&parsed, config) {
        Err(Clash { key, message }) => {
            let defined = [
                CONNECTION_SSLMODE,
                CONNECTION_SSLROOTCERT,
                CONNECTION_SSLCERT,
                CONNECTION_SSLKEY,
                CONNECTION_SSLPASSWORD,
            ];
            let key = defined
                .into_iter()
                .find(|k| *k == key)
                .unwrap_or(CONNECTION_URL);
            vec![(key, message)]
        }
        Ok(_) => Vec::new(),
    }
}

/// `db.timezone` in `group`.
pub fn db_timezone_key(group: &str, order: i32) -> ConfigKey {
    ConfigKey::new(DB_TIMEZONE, ConfigType::String)
        .default_value("UTC")
        .validator(Validator::NonEmptyString)
        .importance(Importance::Medium)
        .doc("Name of the timezone used for time-based values in columns without a time zone (TIMESTAMP): the connection's session time zone. Defaults to UTC.")
        .group(group, order)
        .width(Width::Medium)
        .display_name("DB time zone")
}

/// `quote.sql.identifiers` in `group`.
pub fn quote_identifiers_key(group: &str, order: i32) -> ConfigKey {
    ConfigKey::new(QUOTE_SQL_IDENTIFIERS, ConfigType::String)
        .default_value("always")
        .validator(Validator::one_of_ignore_case(["always", "never"]))
        .importance(Importance::Medium)
        .doc("When to quote table names, column names, and other identifiers in SQL statements. For backward compatibility, the default is 'always'.")
        .group(group, order)
        .width(Width::Medium)
        .display_name("Quote Identifiers")
}

/// Where and how to connect, with the retry policy for the initial connection.
#[derive(Clone)]
pub struct ConnectionSettings {
    pub pg: tokio_postgres::Config,
    /// `sslmode`, `sslrootcert`, ... (the mode given to `pg` is set per attempt).
    pub tls: TlsSettings,
    /// PgJDBC's `loginTimeout`: the longest one attempt to open a connection may take; None:
    /// no limit (`loginTimeout=0`).
    pub login_timeout: Option<Duration>,
    /// `connection.attempts`.
    pub attempts: u32,
    /// `connection.backoff.ms`.
    pub backoff: Duration,
    /// `db.timezone`, set as the session's `TimeZone`.
    pub timezone: String,
    /// `host:port/database`, for log lines and errors (never the password).
    pub display: String,
}

impl std::fmt::Debug for ConnectionSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ConnectionSettings({})", self.display)
    }
}

impl ConnectionSettings {
    /// Reads the connection keys; `connection.user`/`connection.password` take precedence
    /// over `user`/`password` in the URL. Other properties may be in the URL or be
    /// `connection.<property>` configs, but not both with different values. `parsed` comes
    /// from a ConfigDef with [`define_connection_keys`] and [`db_timezone_key`].
    pub fn from_parsed(parsed: &ParsedConfig) -> Result<Self> {
        let url = parsed.string_value(CONNECTION_URL)?;
        let invalid_url = |e: String| {
            ConnectError::Config(format!(
                "Invalid value {url} for configuration {CONNECTION_URL}: {e}"
            ))
        };
        let jdbc = parse_url(url).map_err(invalid_url)?;
        let properties = driver_properties(&jdbc, parsed.originals())
            .map_err(|c| ConnectError::Config(c.message))?;
        let Resolved {
            mut pg,
            tls,
            login_timeout,
        } = apply_properties(jdbc.pg, &properties).map_err(|e| match e.origin {
            Origin::Config => ConnectError::Config(format!(
                "Invalid value {} for configuration {CONNECTION_PREFIX}{}: {}",
                if e.name == "sslpassword" {
                    crate::config::HIDDEN
                } else {
                    properties
                        .iter()
                        .find(|p| p.name == e.name)
                        .map(|p| p.value.as_str())
                        .unwrap_or_default()
                },
                e.name,
                e.why
            )),
            _ => invalid_url(e.why),
        })?;
        if let Some(user) = parsed.non_empty_string(CONNECTION_USER) {
            pg.user(user);
        }
        if let Some(password) = parsed.string(CONNECTION_PASSWORD) {
            pg.password(password);
        }
        if pg.get_user().is_none() {
            pg.user("postgres");
        }
        let timezone = parsed.string_value(DB_TIMEZONE)?.to_string();
        let display = display_of(&pg);
        Ok(ConnectionSettings {
            pg,
            tls,
            login_timeout,
            attempts: parsed.int_value(CONNECTION_ATTEMPTS)?.max(1) as u32,
            backoff: Duration::from_millis(parsed.long_value(CONNECTION_BACKOFF_MS)?.max(0) as u64),
            timezone,
            display,
        })
    }
}

/// `quote.sql.identifiers` as parsed.
pub fn quoting(parsed: &ParsedConfig) -> Result<Quoting> {
    let raw = parsed.string_value(QUOTE_SQL_IDENTIFIERS)?;
    Quoting::parse(raw).ok_or_else(|| {
        ConnectError::Config(format!(
            "Invalid value {raw} for configuration {QUOTE_SQL_IDENTIFIERS}: must be always or never"
        ))
    })
}

fn display_of(pg: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = pg
        .get_hosts()
        .iter()
        .zip(
            pg.get_ports()
                .iter()
                .chain(std::iter::repeat(&DEFAULT_PORT)),
        )
        .map(|(h, p)| match h {
            tokio_postgres::config::Host::Tcp(h) => format!("{h}:{p}"),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    format!(
        "{}/{}",
        hosts.join(","),
        pg.get_dbname().unwrap_or_default()
    )
}

/// A parsed `jdbc:postgresql:` URL: hosts, ports and database in `pg`, the query string's
/// properties in order.
pub struct JdbcUrl {
    pub pg: tokio_postgres::Config,
    pub properties: Vec<(String, String)>,
}

/// Parses a pgjdbc URL: `jdbc:postgresql://host[:port][,host[:port]...]/database?props`,
/// `jdbc:postgresql:database` or `jdbc:postgresql:/`, checking the properties it gives.
pub fn parse_url(url: &str) -> std::result::Result<JdbcUrl, String> {
    let Some(rest) = url.trim().strip_prefix(JDBC_PREFIX) else {
        let shown = url.split('?').next().unwrap_or(url);
        return Err(format!(
            "'{shown}' is not supported: Conveyor's JDBC connectors write to and read from PostgreSQL only, so connection.url must start with {JDBC_PREFIX} (for example jdbc:postgresql://localhost:5432/mydb)"
        ));
    };
    let (location, query) = match rest.split_once('?') {
        Some((l, q)) => (l, q),
        None => (rest, ""),
    };
    let mut pg = tokio_postgres::Config::new();
    let database = if let Some(authority_path) = location.strip_prefix("//") {
        let (authority, path) = match authority_path.find('/') {
            Some(i) => (&authority_path[..i], &authority_path[i + 1..]),
            None => (authority_path, ""),
        };
        let authority = if authority.is_empty() {
            "localhost"
        } else {
            authority
        };
        for host_port in authority.split(',') {
            let (host, port) = split_host_port(host_port)?;
            pg.host(&host);
            pg.port(port);
        }
        path
    } else {
        pg.host("localhost");
        pg.port(DEFAULT_PORT);
        location.trim_start_matches('/')
    };
    if !database.is_empty() {
        pg.dbname(percent_decode(database));
    }
    let properties: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let parsed = JdbcUrl { pg, properties };
    // Check the URL's own properties now, so that `/config/validate` reports them.
    let url_only: Vec<Property> = parsed
        .properties
        .iter()
        .map(|(name, value)| Property::new(name, value, Origin::Url))
        .collect();
    apply_properties(parsed.pg.clone(), &url_only).map_err(|e| e.why)?;
    Ok(parsed)
}

/// A PgJDBC connection property and where it was given.
#[derive(Clone, Debug)]
struct Property {
    name: String,
    value: String,
    origin: Origin,
}

impl Property {
    fn new(name: &str, value: &str, origin: Origin) -> Property {
        Property {
            name: name.to_string(),
            value: value.to_string(),
            origin,
        }
    }

    /// `sslmode=require in connection.url` or `connection.sslmode=require` (passwords hidden).
    fn shown(&self) -> String {
        let value = if self.name.contains("password") {
            crate::config::HIDDEN
        } else {
            &self.value
        };
        match self.origin {
            Origin::Config => format!("{CONNECTION_PREFIX}{}={value}", self.name),
            _ => format!("{}={value} in {CONNECTION_URL}", self.name),
        }
    }
}

/// A property given in the URL and as a config with different values.
struct Clash {
    key: String,
    message: String,
}

/// The URL's properties, then the `connection.<property>` configs that are not the
/// connector's own keys (empty values count as not set). The same property in both places
/// must have the same value: PgJDBC would silently take the URL's.
fn driver_properties(
    url: &JdbcUrl,
    config: &ConfigMap,
) -> std::result::Result<Vec<Property>, Clash> {
    let mut out: Vec<Property> = url
        .properties
        .iter()
        .map(|(name, value)| Property::new(name, value, Origin::Url))
        .collect();
    for (name, value) in with_prefix(config, CONNECTION_PREFIX) {
        let key = format!("{CONNECTION_PREFIX}{name}");
        if OWN_CONNECTION_KEYS.contains(&key.as_str()) || value.trim().is_empty() {
            continue;
        }
        let given = Property::new(&name, value.trim(), Origin::Config);
        match out.iter().find(|p| p.name == name) {
            Some(in_url) if in_url.value == given.value => {}
            Some(in_url) => {
                return Err(Clash {
                    message: format!(
                        "{} and {} disagree: set {name} in one place only (remove {key}, or remove {name} from {CONNECTION_URL})",
                        given.shown(),
                        in_url.shown()
                    ),
                    key,
                })
            }
            None => out.push(given),
        }
    }
    Ok(out)
}

/// What the properties make of a connection.
struct Resolved {
    pg: tokio_postgres::Config,
    tls: TlsSettings,
    login_timeout: Option<Duration>,
}

/// Applies PgJDBC properties: `user`, `password`, `connectTimeout` and `loginTimeout`
/// (seconds), `ApplicationName`, `currentSchema`, `options`, and the TLS ones (`sslmode`,
/// `ssl`, `sslrootcert`, `sslcert`, `sslkey`, `sslpassword`, `sslfactory`). Others are ignored.
fn apply_properties(
    mut pg: tokio_postgres::Config,
    properties: &[Property],
) -> std::result::Result<Resolved, PropertyError> {
    let mut tls = TlsSettings::default();
    let mut login_timeout = Some(DEFAULT_LOGIN_TIMEOUT);
    let mut options: Vec<String> = Vec::new();
    for Property {
        name,
        value,
        origin,
    } in properties
    {
        let error = |why: String| PropertyError {
            name: name.clone(),
            origin: *origin,
            why,
        };
        if tls.set(name, value, *origin)? {
            continue;
        }
        match name.as_str() {
            "user" => {
                pg.user(value);
            }
            "password" => {
                pg.password(value);
            }
            "connectTimeout" => {
                let secs: u64 = value.trim().parse().map_err(|_| {
                    error(format!(
                        "connectTimeout must be a number of seconds, got {value}"
                    ))
                })?;
                if secs > 0 {
                    pg.connect_timeout(Duration::from_secs(secs));
                }
            }
            "loginTimeout" => {
                let secs: f64 = value
                    .trim()
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s >= 0.0)
                    .ok_or_else(|| {
                        error(format!(
                            "loginTimeout must be a number of seconds, got {value}"
                        ))
                    })?;
                login_timeout = (secs > 0.0).then(|| Duration::from_secs_f64(secs));
            }
            "ApplicationName" | "applicationName" => {
                pg.application_name(value);
            }
            "currentSchema" => options.push(format!("-c search_path={value}")),
            "options" => options.push(value.clone()),
            other => {
                tracing::debug!(
                    property = other,
                    "ignoring an unsupported JDBC connection property"
                )
            }
        }
    }
    if !options.is_empty() {
        pg.options(options.join(" "));
    }
    if pg.get_application_name().is_none() {
        pg.application_name("conveyor");
    }
    let tls = tls.finish()?;
    Ok(Resolved {
        pg,
        tls,
        login_timeout,
    })
}

fn split_host_port(text: &str) -> std::result::Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        // [ipv6]:port
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("invalid host '{text}'"))?;
        (host, after.strip_prefix(':'))
    } else {
        match text.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        }
    };
    let port = match port {
        Some(p) if !p.is_empty() => p
            .parse::<u16>()
            .map_err(|_| format!("invalid port '{p}' in '{text}'"))?,
        _ => DEFAULT_PORT,
    };
    let host = if host.is_empty() { "localhost" } else { host };
    Ok((host.to_string(), port))
}

fn percent_decode(text: &str) -> String {
    form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| text.to_string())
}

impl ConnectionSettings {
    /// Settings from discrete values (Debezium's `database.*` keys): TLS properties by their
    /// libpq names, one attempt per connect (the runtime restarts a failed task), session
    /// time zone UTC.
    pub fn from_parts<'a>(
        host: &str,
        port: u16,
        user: &str,
        password: Option<&str>,
        dbname: &str,
        tls_properties: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    ) -> Result<Self> {
        let mut pg = tokio_postgres::Config::new();
        pg.host(host)
            .port(port)
            .user(user)
            .dbname(dbname)
            .application_name("conveyor")
            .connect_timeout(DEFAULT_LOGIN_TIMEOUT);
        if let Some(p) = password {
            pg.password(p);
        }
        let mut tls = TlsSettings::default();
        for (name, value) in tls_properties {
            if let Some(v) = value {
                tls.set(name, v, Origin::Config).map_err(|e| {
                    ConnectError::Config(format!(
                        "Invalid value {v} for configuration database.{name}: {}",
                        e.why
                    ))
                })?;
            }
        }
        let tls = tls.finish().map_err(|e| {
            ConnectError::Config(format!(
                "Invalid configuration database.{}: {}",
                e.name, e.why
            ))
        })?;
        Ok(ConnectionSettings {
            pg,
            tls,
            login_timeout: Some(DEFAULT_LOGIN_TIMEOUT),
            attempts: 1,
            backoff: Duration::from_secs(1),
            timezone: "UTC".into(),
            display: format!("{host}:{port}/{dbname}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_postgres::config::Host;

    fn resolve(url: &str) -> Resolved {
        let jdbc = parse_url(url).unwrap();
        let props =
            driver_properties(&jdbc, &ConfigMap::new()).unwrap_or_else(|c| panic!("{}", c.message));
        apply_properties(jdbc.pg, &props).unwrap()
    }

    fn settings(pairs: &[(&str, &str)]) -> Result<ConnectionSettings> {
        let config: ConfigMap = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let def = define_connection_keys(ConfigDef::new(), "Connection")
            .define(db_timezone_key("Connection", 99));
        ConnectionSettings::from_parsed(&def.parse(&config)?)
    }

    #[test]
    fn parses_jdbc_postgres_urls() {
        let pg = resolve("jdbc:postgresql://db.example:6543/orders?user=alice&password=s%3Dcret&currentSchema=sales").pg;
        assert_eq!(pg.get_hosts(), &[Host::Tcp("db.example".into())]);
        assert_eq!(pg.get_ports(), &[6543]);
        assert_eq!(pg.get_dbname(), Some("orders"));
        assert_eq!(pg.get_user(), Some("alice"));
        assert_eq!(pg.get_password(), Some(&b"s=cret"[..]));
        assert_eq!(pg.get_options(), Some("-c search_path=sales"));

        let pg = resolve("jdbc:postgresql:mydb").pg;
        assert_eq!(pg.get_hosts(), &[Host::Tcp("localhost".into())]);
        assert_eq!(pg.get_ports(), &[5432]);
        assert_eq!(pg.get_dbname(), Some("mydb"));

        let pg = resolve("jdbc:postgresql://h1,[::1]:5433/db").pg;
        assert_eq!(
            pg.get_hosts(),
            &[Host::Tcp("h1".into()), Host::Tcp("::1".into())]
        );
        assert_eq!(pg.get_ports(), &[5432, 5433]);
    }

    #[test]
    fn other_databases_are_a_clear_error_naming_the_url() {
        let err = parse_url("jdbc:mysql://localhost/db?password=x")
            .err()
            .unwrap();
        assert!(
            err.contains("'jdbc:mysql://localhost/db' is not supported"),
            "{err}"
        );
        assert!(err.contains("connection.url"), "{err}");
        assert!(!err.contains("password=x"));
    }

    #[test]
    fn tls_settings_come_from_the_url_and_from_connection_configs() {
        let r = resolve("jdbc:postgresql://h/db");
        assert_eq!(r.tls.mode, SslMode::Prefer, "PgJDBC's default");
        assert_eq!(r.login_timeout, Some(DEFAULT_LOGIN_TIMEOUT));
        let r = resolve(
            "jdbc:postgresql://h/db?sslmode=verify-full&sslrootcert=/ca.pem&loginTimeout=2.5",
        );
        assert_eq!(r.tls.mode, SslMode::VerifyFull);
        assert_eq!(r.login_timeout, Some(Duration::from_millis(2500)));
        assert_eq!(
            resolve("jdbc:postgresql://h/db?loginTimeout=0").login_timeout,
            None
        );

        let s = settings(&[
            (CONNECTION_URL, "jdbc:postgresql://h/db"),
            (CONNECTION_SSLMODE, "require"),
            ("connection.loginTimeout", "5"),
        ])
        .unwrap();
        assert_eq!(s.tls.mode, SslMode::Require);
        assert_eq!(s.login_timeout, Some(Duration::from_secs(5)));
        assert!(s.tls.mode_shown().contains("connection.sslmode=require"));

        // The same value in both places is fine; different values name both.
        settings(&[
            (CONNECTION_URL, "jdbc:postgresql://h/db?sslmode=require"),
            (CONNECTION_SSLMODE, "require"),
        ])
        .unwrap();
        let pairs = [
            (CONNECTION_URL, "jdbc:postgresql://h/db?sslmode=verify-full"),
            (CONNECTION_SSLMODE, "require"),
        ];
        let err = settings(&pairs).unwrap_err().to_string();
        assert!(
            err.contains(
                "connection.sslmode=require and sslmode=verify-full in connection.url disagree"
            ),
            "{err}"
        );
        let config: ConfigMap = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(connection_cross_check(&config)[0].0, CONNECTION_SSLMODE);
    }

    #[test]
    fn bad_tls_values_name_the_setting() {
        let err = parse_url("jdbc:postgresql://h/db?sslmode=on")
            .err()
            .unwrap();
        assert!(err.contains("sslmode=on is not a mode"), "{err}");
        let err = settings(&[
            (CONNECTION_URL, "jdbc:postgresql://h/db"),
            (CONNECTION_SSLMODE, "on"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("Invalid value on for configuration connection.sslmode"),
            "{err}"
        );
        let err = settings(&[
            (CONNECTION_URL, "jdbc:postgresql://h/db"),
            ("connection.sslfactory", "com.example.TrustAll"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("configuration connection.sslfactory"), "{err}");
        let err = parse_url("jdbc:postgresql://h/db?loginTimeout=soon")
            .err()
            .unwrap();
        assert!(err.contains("loginTimeout"), "{err}");
    }
}
