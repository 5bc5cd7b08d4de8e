//! [`TlsSettings`]: key and trust material plus verification choices, read from a config map
//! under a prefix (`ssl.` for Kafka clients, `listeners.https.ssl.` for the REST server).

use std::path::Path;

use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{
    SslAcceptor, SslConnector, SslContextBuilder, SslMethod, SslVerifyMode, SslVersion,
};
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::X509;

use super::jks::{self, JksEntry};
use crate::config::ConfigMap;
use crate::errors::ConnectError;

/// A TLS setting that cannot be used: `setting` is the full key, `message` the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {message}")]
pub struct TlsError {
    pub setting: String,
    pub message: String,
}

impl TlsError {
    fn new(setting: impl Into<String>, message: impl Into<String>) -> Self {
        TlsError {
            setting: setting.into(),
            message: message.into(),
        }
    }
}

impl From<TlsError> for ConnectError {
    fn from(e: TlsError) -> Self {
        ConnectError::Config(e.to_string())
    }
}

/// A private key with its certificate chain (leaf first).
#[derive(Clone)]
pub struct Identity {
    pub key: PKey<Private>,
    pub chain: Vec<X509>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let subject = self
            .chain
            .first()
            .map(|c| format!("{:?}", c.subject_name()))
            .unwrap_or_default();
        f.debug_struct("Identity")
            .field("certificate", &subject)
            .field("key", &"[hidden]")
            .finish()
    }
}

/// Whether a TLS server asks its clients for certificates (Java's `ssl.client.auth`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    Requested,
    Required,
}

/// The TLS settings of one kind of connection.
#[derive(Clone, Debug)]
pub struct TlsSettings {
    /// Certificates to trust; None means the system's roots.
    pub trusted: Option<Vec<X509>>,
    /// This side's key and certificate (client certificate, or the server's own).
    pub identity: Option<Identity>,
    /// Whether a client checks that the server's certificate names the host it dialled.
    pub verify_hostname: bool,
    pub min_version: SslVersion,
    pub max_version: SslVersion,
    pub client_auth: ClientAuth,
}

/// Java's store types, as `ssl.keystore.type` / `ssl.truststore.type` name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StoreType {
    Jks,
    Pkcs12,
    Pem,
}

impl TlsSettings {
    /// Reads `<prefix>truststore.*`, `<prefix>keystore.*`, `<prefix>key.password`,
    /// `<prefix>endpoint.identification.algorithm`, `<prefix>enabled.protocols` and
    /// `<prefix>client.auth` from `config`, with Kafka's defaults. Stores are read now, so a
    /// missing file or a wrong password is reported before anything connects.
    pub fn from_config(config: &ConfigMap, prefix: &str) -> Result<TlsSettings, TlsError> {
        let settings = Settings { config, prefix };
        let (min_version, max_version) = settings.protocols()?;
        Ok(TlsSettings {
            trusted: settings.truststore()?,
            identity: settings.keystore()?,
            verify_hostname: settings
                .get("endpoint.identification.algorithm")
                .map(|v| !v.trim().is_empty())
                .unwrap_or(true),
            min_version,
            max_version,
            client_auth: match settings
                .get("client.auth")
                .map(|v| v.trim().to_ascii_lowercase())
                .as_deref()
            {
                None | Some("none") | Some("") => ClientAuth::None,
                Some("requested") => ClientAuth::Requested,
                Some("required") => ClientAuth::Required,
                Some(other) => {
                    return Err(TlsError::new(
                        settings.key("client.auth"),
                        format!("'{other}' is not one of required, requested, none"),
                    ))
                }
            },
        })
    }

    /// The trusted certificates as one PEM string (librdkafka's `ssl.ca.pem`).
    pub fn trusted_pem(&self) -> Option<String> {
        self.trusted.as_ref().map(|certs| certs_pem(certs))
    }

    /// The certificate chain as PEM (librdkafka's `ssl.certificate.pem`).
    pub fn certificate_pem(&self) -> Option<String> {
        self.identity.as_ref().map(|id| certs_pem(&id.chain))
    }

    /// The private key as unencrypted PKCS#8 PEM (librdkafka's `ssl.key.pem`); it stays in
    /// memory and is never logged.
    pub fn key_pem(&self) -> Option<String> {
        let id = self.identity.as_ref()?;
        id.key
            .private_key_to_pem_pkcs8()
            .ok()
            .map(|pem| String::from_utf8_lossy(&pem).into_owned())
    }

    /// An OpenSSL connector for client connections with these settings.
    pub fn connector(&self) -> Result<SslConnector, TlsError> {
        let mut builder = SslConnector::builder(SslMethod::tls_client()).map_err(openssl_error)?;
        self.configure(&mut builder).map_err(openssl_error)?;
        if let Some(id) = &self.identity {
            set_identity(&mut builder, id).map_err(openssl_error)?;
        }
        builder.set_verify(SslVerifyMode::PEER);
        Ok(builder.build())
    }

    /// An OpenSSL acceptor for a TLS server with these settings; it needs an identity, which
    /// `keystore_setting` names when it is missing.
    pub fn acceptor(&self, keystore_setting: &str) -> Result<SslAcceptor, TlsError> {
        let identity = self.identity.as_ref().ok_or_else(|| {
            TlsError::new(
                keystore_setting,
                "a TLS listener needs a keystore with the server's key and certificate",
            )
        })?;
        let mut builder =
            SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).map_err(openssl_error)?;
        self.configure(&mut builder).map_err(openssl_error)?;
        set_identity(&mut builder, identity).map_err(|e| {
            TlsError::new(
                keystore_setting,
                format!("the private key does not match the certificate: {e}"),
            )
        })?;
        match self.client_auth {
            ClientAuth::None => builder.set_verify(SslVerifyMode::NONE),
            ClientAuth::Requested => builder.set_verify(SslVerifyMode::PEER),
            ClientAuth::Required => {
                builder.set_verify(SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT)
            }
        }
        Ok(builder.build())
    }

    /// Protocol versions and the certificates that verify the peer.
    fn configure(&self, builder: &mut SslContextBuilder) -> Result<(), openssl::error::ErrorStack> {
        builder.set_min_proto_version(Some(self.min_version))?;
        builder.set_max_proto_version(Some(self.max_version))?;
        match &self.trusted {
            Some(certs) => {
                let mut store = X509StoreBuilder::new()?;
                for cert in certs {
                    store.add_cert(cert.clone())?;
                }
                builder.set_verify_cert_store(store.build())
            }
            None => system_roots(builder),
        }
    }
}

/// The system's CA certificates. The bundled OpenSSL's compiled-in directory does not exist on
/// users' machines: SSL_CERT_FILE/SSL_CERT_DIR are honoured when set, else the usual locations
/// are probed.
fn system_roots(builder: &mut SslContextBuilder) -> Result<(), openssl::error::ErrorStack> {
    builder.set_default_verify_paths()?;
    if !openssl_probe::has_ssl_cert_env_vars() {
        if let Some(file) = openssl_probe::probe().cert_file {
            builder.set_ca_file(file)?;
        }
    }
    Ok(())
}

fn openssl_error(e: openssl::error::ErrorStack) -> TlsError {
    TlsError::new("ssl", format!("OpenSSL refused the settings: {e}"))
}

fn set_identity(
    builder: &mut SslContextBuilder,
    id: &Identity,
) -> Result<(), openssl::error::ErrorStack> {
    builder.set_private_key(&id.key)?;
    builder.set_certificate(&id.chain[0])?;
    for extra in &id.chain[1..] {
        builder.add_extra_chain_cert(extra.clone())?;
    }
    builder.check_private_key()
}

fn certs_pem(certs: &[X509]) -> String {
    certs
        .iter()
        .filter_map(|c| c.to_pem().ok())
        .map(|pem| String::from_utf8_lossy(&pem).into_owned())
        .collect()
}

/// The settings under one prefix, with the reading and error-naming helpers.
struct Settings<'a> {
    config: &'a ConfigMap,
    prefix: &'a str,
}

impl Settings<'_> {
    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// A set, non-empty value.
    fn get(&self, name: &str) -> Option<&str> {
        self.config.get(&self.key(name)).map(|s| s.as_str())
    }

    fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    fn store_type(&self, name: &str) -> Result<StoreType, TlsError> {
        match self
            .non_empty(name)
            .unwrap_or("JKS")
            .to_ascii_uppercase()
            .as_str()
        {
            "JKS" => Ok(StoreType::Jks),
            "PKCS12" | "P12" | "PFX" => Ok(StoreType::Pkcs12),
            "PEM" => Ok(StoreType::Pem),
            other => Err(TlsError::new(
                self.key(name),
                format!("store type {other} is not supported; use JKS, PKCS12 or PEM"),
            )),
        }
    }

    fn read_file(&self, name: &str, path: &str) -> Result<Vec<u8>, TlsError> {
        std::fs::read(Path::new(path))
            .map_err(|e| TlsError::new(self.key(name), format!("cannot read {path}: {e}")))
    }

    fn protocols(&self) -> Result<(SslVersion, SslVersion), TlsError> {
        let Some(list) = self.non_empty("enabled.protocols") else {
            return Ok((SslVersion::TLS1_2, SslVersion::TLS1_3));
        };
        let mut versions = Vec::new();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            versions.push(match name {
                "TLSv1.3" => (3, SslVersion::TLS1_3),
                "TLSv1.2" => (2, SslVersion::TLS1_2),
                "TLSv1.1" | "TLSv1" | "SSLv3" => continue,
                other => {
                    return Err(TlsError::new(
                        self.key("enabled.protocols"),
                        format!("unknown protocol {other}; use TLSv1.2 and/or TLSv1.3"),
                    ))
                }
            });
        }
        let min = versions.iter().min_by_key(|(rank, _)| *rank);
        let max = versions.iter().max_by_key(|(rank, _)| *rank);
        match (min, max) {
            (Some(min), Some(max)) => Ok((min.1, max.1)),
            _ => Err(TlsError::new(
                self.key("enabled.protocols"),
                format!("'{list}' enables no protocol Conveyor can use: TLS before 1.2 is not supported; use TLSv1.2 and/or TLSv1.3"),
            )),
        }
    }

    fn truststore(&self) -> Result<Option<Vec<X509>>, TlsError> {
        let store_type = self.store_type("truststore.type")?;
        if let Some(pem) = self.non_empty("truststore.certificates") {
            if store_type != StoreType::Pem {
                return Err(TlsError::new(
                    self.key("truststore.certificates"),
                    format!(
                        "inline certificates need {}=PEM",
                        self.key("truststore.type")
                    ),
                ));
            }
            return parse_pem_certs(pem.as_bytes())
                .map(Some)
                .map_err(|m| TlsError::new(self.key("truststore.certificates"), m));
        }
        let Some(location) = self.non_empty("truststore.location") else {
            return Ok(None);
        };
        let bytes = self.read_file("truststore.location", location)?;
        let password = self.non_empty("truststore.password");
        let certs = match detect(&bytes, store_type) {
            StoreType::Pem => parse_pem_certs(&bytes).map_err(|m| {
                TlsError::new(self.key("truststore.location"), format!("{location}: {m}"))
            })?,
            StoreType::Jks => {
                let entries = jks::read(&bytes, password)
                    .map_err(|e| self.jks_error("truststore", location, e))?;
                let mut certs = Vec::new();
                for entry in entries {
                    let (alias, der) = match entry {
                        JksEntry::TrustedCert { alias, cert } => (alias, cert),
                        // Java trusts the chain of a key entry found in a truststore too.
                        JksEntry::PrivateKey { alias, chain, .. } => {
                            match chain.into_iter().next() {
                                Some(c) => (alias, c),
                                None => continue,
                            }
                        }
                    };
                    certs.push(X509::from_der(&der).map_err(|e| {
                        TlsError::new(
                            self.key("truststore.location"),
                            format!("{location}: bad certificate '{alias}': {e}"),
                        )
                    })?);
                }
                certs
            }
            StoreType::Pkcs12 => {
                let parsed = self.pkcs12("truststore", location, &bytes, password)?;
                let mut certs: Vec<X509> = parsed
                    .ca
                    .map(|s| s.into_iter().collect())
                    .unwrap_or_default();
                certs.extend(parsed.cert);
                certs
            }
        };
        if certs.is_empty() {
            return Err(TlsError::new(
                self.key("truststore.location"),
                format!("{location} holds no certificates"),
            ));
        }
        Ok(Some(certs))
    }

    fn keystore(&self) -> Result<Option<Identity>, TlsError> {
        let store_type = self.store_type("keystore.type")?;
        let key_password = self.non_empty("key.password");
        if let Some(chain) = self.non_empty("keystore.certificate.chain") {
            if store_type != StoreType::Pem {
                return Err(TlsError::new(
                    self.key("keystore.certificate.chain"),
                    format!("inline certificates need {}=PEM", self.key("keystore.type")),
                ));
            }
            let key = self.non_empty("keystore.key").ok_or_else(|| {
                TlsError::new(
                    self.key("keystore.key"),
                    format!(
                        "is required with {}",
                        self.key("keystore.certificate.chain")
                    ),
                )
            })?;
            let chain = parse_pem_certs(chain.as_bytes())
                .map_err(|m| TlsError::new(self.key("keystore.certificate.chain"), m))?;
            let key = self.pem_key("keystore.key", key.as_bytes(), key_password)?;
            return Ok(Some(Identity { key, chain }));
        }
        let Some(location) = self.non_empty("keystore.location") else {
            return Ok(None);
        };
        let bytes = self.read_file("keystore.location", location)?;
        let password = self.non_empty("keystore.password");
        let identity = match detect(&bytes, store_type) {
            StoreType::Pem => {
                let chain = parse_pem_certs(&bytes).map_err(|m| {
                    TlsError::new(self.key("keystore.location"), format!("{location}: {m}"))
                })?;
                let key = self.pem_key("keystore.location", &bytes, key_password)?;
                Identity { key, chain }
            }
            StoreType::Jks => {
                if password.is_none() {
                    return Err(TlsError::new(
                        self.key("keystore.password"),
                        format!("is required to read the keystore {location}"),
                    ));
                }
                let entries = jks::read(&bytes, password)
                    .map_err(|e| self.jks_error("keystore", location, e))?;
                let (alias, protected_key, chain) = entries
                    .into_iter()
                    .find_map(|e| match e {
                        JksEntry::PrivateKey {
                            alias,
                            protected_key,
                            chain,
                        } => Some((alias, protected_key, chain)),
                        JksEntry::TrustedCert { .. } => None,
                    })
                    .ok_or_else(|| {
                        TlsError::new(
                            self.key("keystore.location"),
                            format!("{location} holds no private key entry"),
                        )
                    })?;
                // Java's key manager unlocks keys with ssl.key.password, or the store password.
                let unlock = key_password.or(password).unwrap_or_default();
                let der = jks::decrypt_key(&alias, &protected_key, unlock).map_err(|e| {
                    TlsError::new(
                        self.key(if key_password.is_some() {
                            "key.password"
                        } else {
                            "keystore.password"
                        }),
                        format!("{location}: {e}"),
                    )
                })?;
                let key = PKey::private_key_from_pkcs8(&der).map_err(|e| {
                    TlsError::new(
                        self.key("keystore.location"),
                        format!("{location}: bad private key: {e}"),
                    )
                })?;
                let chain = chain
                    .iter()
                    .map(|der| X509::from_der(der))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| {
                        TlsError::new(
                            self.key("keystore.location"),
                            format!("{location}: bad certificate: {e}"),
                        )
                    })?;
                Identity { key, chain }
            }
            StoreType::Pkcs12 => {
                let parsed = self.pkcs12("keystore", location, &bytes, password)?;
                let (Some(key), Some(cert)) = (parsed.pkey, parsed.cert) else {
                    return Err(TlsError::new(
                        self.key("keystore.location"),
                        format!("{location} holds no private key entry"),
                    ));
                };
                let mut chain = vec![cert];
                chain.extend(
                    parsed
                        .ca
                        .map(|s| s.into_iter().collect::<Vec<_>>())
                        .unwrap_or_default(),
                );
                Identity { key, chain }
            }
        };
        if identity.chain.is_empty() {
            return Err(TlsError::new(
                self.key("keystore.location"),
                format!("{location} holds a key without a certificate"),
            ));
        }
        Ok(Some(identity))
    }

    fn pkcs12(
        &self,
        store: &str,
        location: &str,
        bytes: &[u8],
        password: Option<&str>,
    ) -> Result<openssl::pkcs12::ParsedPkcs12_2, TlsError> {
        let parsed = Pkcs12::from_der(bytes).map_err(|e| {
            TlsError::new(
                self.key(&format!("{store}.location")),
                format!("{location} is not a PKCS12 store: {e}"),
            )
        })?;
        parsed.parse2(password.unwrap_or("")).map_err(|e| {
            let message = if password.is_none() {
                format!("is required to read the PKCS12 {store} {location}")
            } else {
                format!("the password is incorrect for the {store} {location} ({e})")
            };
            TlsError::new(self.key(&format!("{store}.password")), message)
        })
    }

    fn jks_error(&self, store: &str, location: &str, e: jks::JksError) -> TlsError {
        match e {
            jks::JksError::WrongStorePassword => TlsError::new(
                self.key(&format!("{store}.password")),
                format!(
                    "the password is incorrect for the {store} {location} (integrity check failed)"
                ),
            ),
            other => TlsError::new(
                self.key(&format!("{store}.location")),
                format!("{location}: {other}"),
            ),
        }
    }

    fn pem_key(
        &self,
        name: &str,
        pem: &[u8],
        password: Option<&str>,
    ) -> Result<PKey<Private>, TlsError> {
        let encrypted =
            contains(pem, b"ENCRYPTED PRIVATE KEY") || contains(pem, b"Proc-Type: 4,ENCRYPTED");
        let key = match password {
            _ if !contains(pem, b"PRIVATE KEY") => {
                return Err(TlsError::new(self.key(name), "no PEM private key found"))
            }
            Some(password) if encrypted => {
                PKey::private_key_from_pem_passphrase(pem, password.as_bytes()).map_err(|_| {
                    TlsError::new(
                        self.key("key.password"),
                        "cannot decrypt the private key: the password is incorrect",
                    )
                })?
            }
            None if encrypted => {
                return Err(TlsError::new(
                    self.key("key.password"),
                    format!(
                        "is required: the private key in {} is encrypted",
                        self.key(name)
                    ),
                ))
            }
            _ => PKey::private_key_from_pem(pem)
                .map_err(|e| TlsError::new(self.key(name), format!("bad PEM private key: {e}")))?,
        };
        Ok(key)
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The store's real format: Java reads JKS and PKCS12 files under either type name, and a
/// PEM file is recognised by its text.
fn detect(bytes: &[u8], declared: StoreType) -> StoreType {
    if jks::is_jks(bytes) {
        StoreType::Jks
    } else if bytes.first() == Some(&0x30) {
        StoreType::Pkcs12
    } else if contains(bytes, b"-----BEGIN") {
        StoreType::Pem
    } else {
        declared
    }
}

fn parse_pem_certs(pem: &[u8]) -> Result<Vec<X509>, String> {
    let certs = X509::stack_from_pem(pem).map_err(|e| format!("bad PEM certificate: {e}"))?;
    if certs.is_empty() {
        return Err("no PEM certificate found".into());
    }
    Ok(certs)
}
