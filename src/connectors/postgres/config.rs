//! Settings shared by the sink and the source: the connection (`connection.url`, user,
//! password, attempts, backoff), `db.timezone` and `quote.sql.identifiers`, with the JDBC
//! connector's names, defaults and documentation.

use std::sync::Arc;
use std::time::Duration;

use crate::config::{ConfigDef, ConfigKey, ConfigType, Importance, ParsedConfig, Validator, Width};
use crate::errors::{ConnectError, Result};

use super::identifier::Quoting;

pub const CONNECTION_URL: &str = "connection.url";
pub const CONNECTION_USER: &str = "connection.user";
pub const CONNECTION_PASSWORD: &str = "connection.password";
pub const CONNECTION_ATTEMPTS: &str = "connection.attempts";
pub const CONNECTION_BACKOFF_MS: &str = "connection.backoff.ms";
pub const DIALECT_NAME: &str = "dialect.name";
pub const DB_TIMEZONE: &str = "db.timezone";
pub const QUOTE_SQL_IDENTIFIERS: &str = "quote.sql.identifiers";

const JDBC_PREFIX: &str = "jdbc:postgresql:";
const DEFAULT_PORT: u16 = 5432;
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
    /// over `user`/`password` in the URL.
    pub fn from_parsed(parsed: &ParsedConfig) -> Result<Self> {
        let url = parsed.string(CONNECTION_URL).unwrap_or_default();
        let mut pg = parse_url(url).map_err(|e| {
            ConnectError::Config(format!(
                "Invalid value {url} for configuration {CONNECTION_URL}: {e}"
            ))
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
        let timezone = parsed.string(DB_TIMEZONE).unwrap_or("UTC").to_string();
        let display = display_of(&pg);
        Ok(ConnectionSettings {
            pg,
            attempts: parsed.int(CONNECTION_ATTEMPTS).unwrap_or(3).max(1) as u32,
            backoff: Duration::from_millis(
                parsed.long(CONNECTION_BACKOFF_MS).unwrap_or(10_000).max(0) as u64,
            ),
            timezone,
            display,
        })
    }
}

/// `quote.sql.identifiers` as parsed.
pub fn quoting(parsed: &ParsedConfig) -> Quoting {
    parsed
        .string(QUOTE_SQL_IDENTIFIERS)
        .and_then(Quoting::parse)
        .unwrap_or(Quoting::Always)
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

/// Parses a pgjdbc URL: `jdbc:postgresql://host[:port][,host[:port]...]/database?props`,
/// `jdbc:postgresql:database` or `jdbc:postgresql:/`. Recognised properties: `user`,
/// `password`, `sslmode` (only `disable`, `allow` and `prefer`: TLS is not supported yet),
/// `connectTimeout` (seconds), `ApplicationName`, `currentSchema` and `options`.
pub fn parse_url(url: &str) -> std::result::Result<tokio_postgres::Config, String> {
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
    let mut options: Vec<String> = Vec::new();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "user" => {
                pg.user(value.as_ref());
            }
            "password" => {
                pg.password(value.as_ref());
            }
            "sslmode" => match value.as_ref() {
                "disable" | "allow" | "prefer" => {}
                other => {
                    return Err(format!(
                        "sslmode={other} is not supported yet: TLS connections are not available; use sslmode=disable or prefer"
                    ))
                }
            },
            "ssl" if value.eq_ignore_ascii_case("true") => {
                return Err("ssl=true is not supported yet: TLS connections are not available".into())
            }
            "connectTimeout" => {
                let secs: u64 = value
                    .parse()
                    .map_err(|_| format!("connectTimeout must be a number of seconds, got {value}"))?;
                if secs > 0 {
                    pg.connect_timeout(Duration::from_secs(secs));
                }
            }
            "ApplicationName" | "applicationName" => {
                pg.application_name(value.as_ref());
            }
            "currentSchema" => options.push(format!("-c search_path={value}")),
            "options" => options.push(value.into_owned()),
            other => tracing::debug!(property = other, "ignoring an unsupported JDBC URL property"),
        }
    }
    if !options.is_empty() {
        pg.options(options.join(" "));
    }
    if pg.get_application_name().is_none() {
        pg.application_name("conveyor");
    }
    Ok(pg)
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_postgres::config::Host;

    #[test]
    fn parses_jdbc_postgres_urls() {
        let pg = parse_url("jdbc:postgresql://db.example:6543/orders?user=alice&password=s%3Dcret&currentSchema=sales").unwrap();
        assert_eq!(pg.get_hosts(), &[Host::Tcp("db.example".into())]);
        assert_eq!(pg.get_ports(), &[6543]);
        assert_eq!(pg.get_dbname(), Some("orders"));
        assert_eq!(pg.get_user(), Some("alice"));
        assert_eq!(pg.get_password(), Some(&b"s=cret"[..]));
        assert_eq!(pg.get_options(), Some("-c search_path=sales"));

        let pg = parse_url("jdbc:postgresql:mydb").unwrap();
        assert_eq!(pg.get_hosts(), &[Host::Tcp("localhost".into())]);
        assert_eq!(pg.get_ports(), &[5432]);
        assert_eq!(pg.get_dbname(), Some("mydb"));

        let pg = parse_url("jdbc:postgresql://h1,[::1]:5433/db").unwrap();
        assert_eq!(
            pg.get_hosts(),
            &[Host::Tcp("h1".into()), Host::Tcp("::1".into())]
        );
        assert_eq!(pg.get_ports(), &[5432, 5433]);
    }

    #[test]
    fn other_databases_are_a_clear_error_naming_the_url() {
        let err = parse_url("jdbc:mysql://localhost/db?password=x").unwrap_err();
        assert!(
            err.contains("'jdbc:mysql://localhost/db' is not supported"),
            "{err}"
        );
        assert!(err.contains("connection.url"), "{err}");
        assert!(!err.contains("password=x"));
        assert!(parse_url("jdbc:postgresql://h/db?sslmode=require").is_err());
    }
}
