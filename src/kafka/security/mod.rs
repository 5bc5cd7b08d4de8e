//! Security for every Kafka connection, from Kafka's Java client settings: `security.protocol`,
//! `ssl.*` (through [`crate::tls`]) and `sasl.*` with `sasl.jaas.config`. One parsed
//! [`KafkaSecurity`] feeds both librdkafka (translated to its own keys) and the group
//! membership connection (TLS and SASL done by [`sasl`] over OpenSSL), so both accept and
//! refuse the same configs with the same messages.
//!
//! A setting Conveyor cannot honour (GSSAPI, cipher suite lists, custom SSL engines) is an
//! error, never ignored: ignoring it could connect with less protection than configured.

pub mod oauth;
pub mod sasl;

use std::sync::Arc;

use rdkafka::ClientConfig;

use crate::config::jaas::{parse_jaas_entries, LoginModule};
use crate::config::ConfigMap;
use crate::errors::{ConnectError, Result};
use crate::kafka::group::BrokerConnection;
use crate::tls::TlsSettings;

pub use oauth::{OAuthToken, OidcTokenSource};

/// Kafka's `security.protocol`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

/// A SCRAM hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScramHash {
    Sha256,
    Sha512,
}

/// How to get an OAUTHBEARER token.
#[derive(Clone, Debug)]
pub enum OAuthLogin {
    /// OIDC client credentials against `sasl.oauthbearer.token.endpoint.url`.
    Oidc(Arc<OidcTokenSource>),
    /// Kafka's unsecured JWS for development brokers (`unsecuredLoginStringClaim_sub`).
    Unsecured {
        principal: String,
        lifetime_seconds: u64,
    },
}

/// The SASL mechanism with its credentials.
#[derive(Clone)]
pub enum SaslLogin {
    Plain {
        username: String,
        password: String,
    },
    Scram {
        hash: ScramHash,
        username: String,
        password: String,
    },
    OAuthBearer(OAuthLogin),
}

impl std::fmt::Debug for SaslLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SaslLogin::Plain { username, .. } => write!(f, "PLAIN(username={username})"),
            SaslLogin::Scram { hash, username, .. } => {
                write!(f, "SCRAM-{hash:?}(username={username})")
            }
            SaslLogin::OAuthBearer(login) => write!(f, "OAUTHBEARER({login:?})"),
        }
    }
}

impl SaslLogin {
    /// The mechanism name as Kafka spells it.
    pub fn mechanism(&self) -> &'static str {
        match self {
            SaslLogin::Plain { .. } => "PLAIN",
            SaslLogin::Scram {
                hash: ScramHash::Sha256,
                ..
            } => "SCRAM-SHA-256",
            SaslLogin::Scram {
                hash: ScramHash::Sha512,
                ..
            } => "SCRAM-SHA-512",
            SaslLogin::OAuthBearer(_) => "OAUTHBEARER",
        }
    }
}

/// Security settings of one Kafka client.
#[derive(Clone, Debug)]
pub struct KafkaSecurity {
    pub protocol: SecurityProtocol,
    /// Set when the protocol uses TLS.
    pub tls: Option<TlsSettings>,
    /// Set when the protocol uses SASL.
    pub sasl: Option<SaslLogin>,
}

impl Default for KafkaSecurity {
    fn default() -> Self {
        KafkaSecurity {
            protocol: SecurityProtocol::Plaintext,
            tls: None,
            sasl: None,
        }
    }
}

/// `ssl.*` keys that Conveyor reads (through [`TlsSettings`]) or that change nothing here.
const KNOWN_SSL_KEYS: &[&str] = &[
    "ssl.truststore.type",
    "ssl.truststore.location",
    "ssl.truststore.password",
    "ssl.truststore.certificates",
    "ssl.keystore.type",
    "ssl.keystore.location",
    "ssl.keystore.password",
    "ssl.keystore.key",
    "ssl.keystore.certificate.chain",
    "ssl.key.password",
    "ssl.endpoint.identification.algorithm",
    "ssl.enabled.protocols",
    // The SSLContext's protocol name; `ssl.enabled.protocols` decides the versions.
    "ssl.protocol",
    // JSSE factory algorithms: their defaults are what OpenSSL does anyway.
    "ssl.keymanager.algorithm",
    "ssl.trustmanager.algorithm",
    "ssl.secure.random.implementation",
];

/// `sasl.*` keys that only tune the Java login machinery (refresh windows, timeouts, the
/// callback handler Kafka needs for OIDC, claim names) and change nothing about what is sent.
const TUNING_SASL_KEYS: &[&str] = &[
    "sasl.login.callback.handler.class",
    "sasl.login.class",
    "sasl.login.refresh.window.factor",
    "sasl.login.refresh.window.jitter",
    "sasl.login.refresh.min.period.seconds",
    "sasl.login.refresh.buffer.seconds",
    "sasl.login.connect.timeout.ms",
    "sasl.login.read.timeout.ms",
    "sasl.login.retry.backoff.ms",
    "sasl.login.retry.backoff.max.ms",
    "sasl.oauthbearer.scope.claim.name",
    "sasl.oauthbearer.sub.claim.name",
    "sasl.oauthbearer.header.urlencode",
    "sasl.oauthbearer.jwks.endpoint.url",
    "sasl.oauthbearer.jwks.endpoint.refresh.ms",
    "sasl.oauthbearer.jwks.endpoint.retry.backoff.ms",
    "sasl.oauthbearer.jwks.endpoint.retry.backoff.max.ms",
    "sasl.oauthbearer.clock.skew.seconds",
    "sasl.oauthbearer.expected.audience",
    "sasl.oauthbearer.expected.issuer",
];

fn config_error(key: &str, message: impl std::fmt::Display) -> ConnectError {
    ConnectError::Config(format!("{key}: {message}"))
}

impl KafkaSecurity {
    /// Parses the security keys of a Java client config (other keys are ignored).
    pub fn from_config(config: &ConfigMap) -> Result<KafkaSecurity> {
        let get = |k: &str| config.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let protocol = match get("security.protocol")
            .unwrap_or("PLAINTEXT")
            .to_ascii_uppercase()
            .as_str()
        {
            "PLAINTEXT" => SecurityProtocol::Plaintext,
            "SSL" => SecurityProtocol::Ssl,
            "SASL_PLAINTEXT" => SecurityProtocol::SaslPlaintext,
            "SASL_SSL" => SecurityProtocol::SaslSsl,
            other => {
                return Err(config_error(
                    "security.protocol",
                    format!("'{other}' is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
                ))
            }
        };
        for (key, value) in config {
            if key.starts_with("ssl.") && !KNOWN_SSL_KEYS.contains(&key.as_str()) {
                if value.trim().is_empty() {
                    continue;
                }
                return Err(config_error(
                    key,
                    "is not supported by Conveyor (its Kafka clients use OpenSSL with its \
                     defaults for this); remove the setting",
                ));
            }
        }
        let tls = if protocol.uses_tls() {
            let tls = TlsSettings::from_config(config, "ssl.")?;
            if tls.min_version == openssl::ssl::SslVersion::TLS1_3 {
                return Err(config_error(
                    "ssl.enabled.protocols",
                    "TLSv1.3 alone cannot be enforced by Conveyor's Kafka clients (librdkafka \
                     offers TLSv1.2 and TLSv1.3); list TLSv1.2 too, or allow only TLSv1.3 on the \
                     broker's listener",
                ));
            }
            Some(tls)
        } else {
            None
        };
        let sasl = if protocol.uses_sasl() {
            Some(sasl_login(config)?)
        } else {
            None
        };
        Ok(KafkaSecurity {
            protocol,
            tls,
            sasl,
        })
    }

    /// Sets librdkafka's equivalents on `cfg`.
    pub fn apply_to(&self, cfg: &mut ClientConfig) {
        cfg.set("security.protocol", self.protocol.name());
        if let Some(tls) = &self.tls {
            match tls.trusted_pem() {
                Some(pem) => {
                    cfg.set("ssl.ca.pem", pem);
                }
                // librdkafka's bundled OpenSSL does not know the system's CA paths; `probe`
                // finds them. SSL_CERT_FILE/SSL_CERT_DIR, when set, are honoured by OpenSSL's
                // own defaults instead.
                None if std::env::var_os("SSL_CERT_FILE").is_none()
                    && std::env::var_os("SSL_CERT_DIR").is_none() =>
                {
                    cfg.set("ssl.ca.location", "probe");
                }
                None => {}
            }
            if let (Some(cert), Some(key)) = (tls.certificate_pem(), tls.key_pem()) {
                cfg.set("ssl.certificate.pem", cert);
                cfg.set("ssl.key.pem", key);
            }
            cfg.set(
                "ssl.endpoint.identification.algorithm",
                if tls.verify_hostname { "https" } else { "none" },
            );
        }
        if let Some(sasl) = &self.sasl {
            cfg.set("sasl.mechanisms", sasl.mechanism());
            match sasl {
                SaslLogin::Plain { username, password }
                | SaslLogin::Scram {
                    username, password, ..
                } => {
                    cfg.set("sasl.username", username);
                    cfg.set("sasl.password", password);
                }
                SaslLogin::OAuthBearer(login) => {
                    cfg.set("sasl.oauthbearer.config", oauth::register(login));
                }
            }
        }
    }
}

/// Logs in to a bootstrap broker with `security`, as Kafka Connect's worker does when it looks
/// up the cluster id at start: a refused certificate or login is an error (the worker should not
/// start), while a broker that cannot be reached only gets a warning (the clients will retry).
pub async fn check_login(
    bootstrap: &str,
    security: &KafkaSecurity,
    timeout: std::time::Duration,
) -> Result<()> {
    if security.tls.is_none() && security.sasl.is_none() {
        return Ok(());
    }
    for address in bootstrap
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        match BrokerConnection::connect(address, "conveyor-login-check", timeout, security).await {
            Ok(_) => return Ok(()),
            Err(e @ ConnectError::Config(_)) => return Err(e),
            Err(e) => tracing::warn!(broker = address, error = %e, "cannot reach the broker"),
        }
    }
    Ok(())
}

fn sasl_login(config: &ConfigMap) -> Result<SaslLogin> {
    let get = |k: &str| config.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    for (key, value) in config {
        let known = key == "sasl.mechanism"
            || key == "sasl.jaas.config"
            || key.starts_with("sasl.oauthbearer.token.endpoint.url")
            || key == "sasl.oauthbearer.scope"
            || key == "sasl.oauthbearer.client.credentials.client.id"
            || key == "sasl.oauthbearer.client.credentials.client.secret"
            || TUNING_SASL_KEYS.contains(&key.as_str());
        if key.starts_with("sasl.kerberos.") && !value.trim().is_empty() {
            return Err(config_error(
                key,
                "Kerberos (SASL/GSSAPI) is not supported by Conveyor; use PLAIN, SCRAM-SHA-256, \
                 SCRAM-SHA-512 or OAUTHBEARER",
            ));
        }
        if !known && key.starts_with("sasl.") && !key.starts_with("sasl.kerberos.") {
            if key == "sasl.client.callback.handler.class" && !value.trim().is_empty() {
                return Err(config_error(
                    key,
                    "custom Java callback handlers cannot run in Conveyor; remove the setting",
                ));
            }
            tracing::debug!(key, "SASL setting has no effect in Conveyor");
        }
    }
    let jaas = get("sasl.jaas.config")
        .map(|text| {
            parse_jaas_entries(text)
                .map_err(|e| config_error("sasl.jaas.config", format!("cannot be parsed: {e}")))
        })
        .transpose()?;
    let module: Option<&LoginModule> = match jaas.as_deref() {
        Some([one]) => Some(one),
        Some(_) => {
            return Err(config_error(
                "sasl.jaas.config",
                "must hold exactly one login module for a Kafka client",
            ))
        }
        None => None,
    };
    let mechanism = get("sasl.mechanism")
        .unwrap_or("GSSAPI")
        .to_ascii_uppercase();
    let expect_module = |expected: &str| -> Result<&LoginModule> {
        match module {
            Some(m) if m.simple_name() == expected => Ok(m),
            Some(m) => Err(config_error(
                "sasl.jaas.config",
                format!(
                    "uses {} but sasl.mechanism={mechanism} needs {expected}",
                    m.simple_name()
                ),
            )),
            None => Err(config_error(
                "sasl.jaas.config",
                format!("is required for sasl.mechanism={mechanism} ({expected})"),
            )),
        }
    };
    let option = |m: &LoginModule, name: &str| -> Result<String> {
        m.option(name).map(String::from).ok_or_else(|| {
            config_error(
                "sasl.jaas.config",
                format!("{} needs the option {name}", m.simple_name()),
            )
        })
    };
    match mechanism.as_str() {
        "PLAIN" => {
            let m = expect_module("PlainLoginModule")?;
            Ok(SaslLogin::Plain {
                username: option(m, "username")?,
                password: option(m, "password")?,
            })
        }
        "SCRAM-SHA-256" | "SCRAM-SHA-512" => {
            let m = expect_module("ScramLoginModule")?;
            Ok(SaslLogin::Scram {
                hash: if mechanism == "SCRAM-SHA-256" {
                    ScramHash::Sha256
                } else {
                    ScramHash::Sha512
                },
                username: option(m, "username")?,
                password: option(m, "password")?,
            })
        }
        "OAUTHBEARER" => {
            let m = expect_module("OAuthBearerLoginModule")?;
            let endpoint = get("sasl.oauthbearer.token.endpoint.url");
            match endpoint {
                Some(url) => {
                    let client_id = m
                        .option("clientId")
                        .or_else(|| get("sasl.oauthbearer.client.credentials.client.id"))
                        .ok_or_else(|| {
                            config_error(
                                "sasl.jaas.config",
                                "OAuthBearerLoginModule needs the option clientId for the \
                                 token endpoint",
                            )
                        })?;
                    let client_secret = m
                        .option("clientSecret")
                        .or_else(|| get("sasl.oauthbearer.client.credentials.client.secret"))
                        .ok_or_else(|| {
                            config_error(
                                "sasl.jaas.config",
                                "OAuthBearerLoginModule needs the option clientSecret for the \
                                 token endpoint",
                            )
                        })?;
                    let scope = m
                        .option("scope")
                        .or_else(|| get("sasl.oauthbearer.scope"))
                        .map(String::from);
                    Ok(SaslLogin::OAuthBearer(OAuthLogin::Oidc(
                        OidcTokenSource::shared(url, client_id, client_secret, scope)?,
                    )))
                }
                None => match m.option("unsecuredLoginStringClaim_sub") {
                    Some(principal) => Ok(SaslLogin::OAuthBearer(OAuthLogin::Unsecured {
                        principal: principal.to_string(),
                        lifetime_seconds: m
                            .option("unsecuredLoginLifetimeSeconds")
                            .and_then(|s| s.parse().ok())
                            .unwrap_or(3600),
                    })),
                    None => Err(config_error(
                        "sasl.oauthbearer.token.endpoint.url",
                        "is required for sasl.mechanism=OAUTHBEARER (OIDC client credentials), \
                         unless the JAAS config sets unsecuredLoginStringClaim_sub",
                    )),
                },
            }
        }
        "GSSAPI" => {
            let hint = match module {
                Some(m) if m.simple_name() != "Krb5LoginModule" => format!(
                    " (sasl.mechanism is not set, so it is Kafka's default GSSAPI; the JAAS \
                     config names {}: set sasl.mechanism accordingly)",
                    m.simple_name()
                ),
                _ => String::new(),
            };
            Err(config_error(
                "sasl.mechanism",
                format!(
                    "GSSAPI (Kerberos) is not supported by Conveyor; use PLAIN, SCRAM-SHA-256, \
                     SCRAM-SHA-512 or OAUTHBEARER{hint}"
                ),
            ))
        }
        other => Err(config_error(
            "sasl.mechanism",
            format!("'{other}' is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER"),
        )),
    }
}

#[cfg(test)]
mod tests;
