//! TLS to PostgreSQL, with libpq's and PgJDBC's settings: `sslmode`, `sslrootcert`, `sslcert`,
//! `sslkey` and `sslpassword` (and PgJDBC's `ssl` and `sslfactory`), from the JDBC URL or as
//! `connection.*` connector configs. OpenSSL is built into Conveyor (the `vendored` feature), so
//! a `pip install` needs no system OpenSSL.
//!
//! What each mode checks:
//!
//! | sslmode | encrypted | certificate chain | host name |
//! |---|---|---|---|
//! | `disable` | no | - | - |
//! | `allow` | only if the server insists | no | no |
//! | `prefer` (default) | if the server offers TLS | no | no |
//! | `require` | yes | only if `sslrootcert` is set (as libpq) | no |
//! | `verify-ca` | yes | yes | no |
//! | `verify-full` | yes | yes | yes |

use std::cell::Cell;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openssl::error::ErrorStack;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{SslConnector, SslFiletype, SslMethod, SslVerifyMode};
use openssl::x509::store::{X509Lookup, X509Store, X509StoreBuilder};
use openssl::x509::{X509NameRef, X509Ref, X509StoreContextRef, X509};
use parking_lot::Mutex;
use postgres_openssl::MakeTlsConnector;

use crate::errors::{ConnectError, Result};

/// OpenSSL's `X509_V_ERR_HOSTNAME_MISMATCH` and `X509_V_ERR_IP_ADDRESS_MISMATCH`
/// (`x509_vfy.h`): the certificate does not name the host connected to.
const HOSTNAME_MISMATCH: i32 = 62;
const IP_ADDRESS_MISMATCH: i32 = 64;
/// The chain does not lead to a trusted CA (`X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT`,
/// `..._DEPTH_ZERO_SELF_SIGNED_CERT`, `..._SELF_SIGNED_CERT_IN_CHAIN`,
/// `..._UNABLE_TO_GET_ISSUER_CERT_LOCALLY`, `..._UNABLE_TO_VERIFY_LEAF_SIGNATURE`).
const ISSUER_MISSING: i32 = 2;
const SELF_SIGNED_LEAF: i32 = 18;
const SELF_SIGNED_IN_CHAIN: i32 = 19;
const ISSUER_MISSING_LOCALLY: i32 = 20;
const LEAF_SIGNATURE_UNVERIFIABLE: i32 = 21;

/// `sslrootcert=system`: the operating system's trusted CAs (libpq 16's spelling).
pub const SYSTEM_ROOTS: &str = "system";

/// PgJDBC's SSL factories that have a meaning here.
const LIBPQ_FACTORY: &str = "org.postgresql.ssl.LibPQFactory";
const NON_VALIDATING_FACTORY: &str = "org.postgresql.ssl.NonValidatingFactory";
const DEFAULT_JAVA_FACTORY: &str = "org.postgresql.ssl.DefaultJavaSSLFactory";

/// libpq's `sslmode`, which PgJDBC shares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    /// The default of libpq and PgJDBC (without `ssl=true`).
    #[default]
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub const NAMES: [&'static str; 6] = [
        "disable",
        "allow",
        "prefer",
        "require",
        "verify-ca",
        "verify-full",
    ];

    /// Parses a value, ignoring case as PgJDBC does.
    pub fn parse(text: &str) -> Option<SslMode> {
        Some(match text.trim().to_ascii_lowercase().as_str() {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// Where a connection property was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// In `connection.url`'s query string.
    Url,
    /// As the connector config `connection.<name>`.
    Config,
    /// Not given: libpq's default file under `~/.postgresql`.
    Default,
}

/// One TLS setting with where it came from, so that errors can name it as the user wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    pub name: &'static str,
    pub value: String,
    pub origin: Origin,
}

impl Setting {
    fn given(name: &'static str, value: &str, origin: Origin) -> Setting {
        Setting {
            name,
            value: value.to_string(),
            origin,
        }
    }

    /// A file setting's path.
    fn path(&self) -> &Path {
        Path::new(&self.value)
    }

    fn is_explicit(&self) -> bool {
        self.origin != Origin::Default
    }

    /// A config error about this setting's value: "Invalid value V for configuration K: why".
    fn invalid(&self, why: impl fmt::Display) -> ConnectError {
        ConnectError::Config(match self.origin {
            Origin::Url => format!(
                "Invalid value {} for {} in connection.url: {why}",
                self.value, self.name
            ),
            Origin::Config => format!(
                "Invalid value {} for configuration connection.{}: {why}",
                self.value, self.name
            ),
            Origin::Default => format!(
                "{} is not set, so its default {} is used: {why}",
                self.name, self.value
            ),
        })
    }
}

impl fmt::Display for Setting {
    /// `sslmode=verify-full in connection.url`, `connection.sslmode=verify-full` or
    /// `sslrootcert (default /root/.postgresql/root.crt)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.origin {
            Origin::Url => write!(f, "{}={} in connection.url", self.name, self.value),
            Origin::Config => write!(f, "connection.{}={}", self.name, self.value),
            Origin::Default => write!(f, "{} (default {})", self.name, self.value),
        }
    }
}

/// PgJDBC's `sslfactory`: how the server's certificate is trusted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Factory {
    /// libpq's rules (PgJDBC's default `LibPQFactory`).
    #[default]
    LibPq,
    /// `NonValidatingFactory`: any certificate chain is accepted (the host name is still
    /// checked with `verify-full`, as PgJDBC does).
    NonValidating,
    /// `DefaultJavaSSLFactory`: the chain is checked against the system's CAs.
    SystemRoots,
}

/// The TLS settings of a connection, collected property by property with [`TlsSettings::set`]
/// and completed by [`TlsSettings::finish`].
#[derive(Clone, Debug, Default)]
pub struct TlsSettings {
    pub mode: SslMode,
    /// What chose the mode (`sslmode` or PgJDBC's `ssl`); None: the default, `prefer`.
    mode_setting: Option<Setting>,
    ssl: Option<Setting>,
    root_cert: Option<Setting>,
    cert: Option<Setting>,
    key: Option<Setting>,
    /// `sslpassword`: never shown.
    password: Option<String>,
    factory: Option<Setting>,
}

/// An invalid TLS property value: the property, where it was given, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropertyError {
    pub name: String,
    pub origin: Origin,
    pub why: String,
}

impl TlsSettings {
    /// Takes the connection property `name` if it is a TLS one; false if it is not.
    pub fn set(
        &mut self,
        name: &str,
        value: &str,
        origin: Origin,
    ) -> std::result::Result<bool, PropertyError> {
        let error = |why: String| PropertyError {
            name: name.to_string(),
            origin,
            why,
        };
        match name {
            "sslmode" => {
                if SslMode::parse(value).is_none() {
                    return Err(error(format!(
                        "sslmode={value} is not a mode: use one of {}",
                        SslMode::NAMES.join(", ")
                    )));
                }
                self.mode_setting = Some(Setting::given("sslmode", value, origin));
            }
            "ssl" => {
                // PgJDBC: `ssl` or `ssl=true` without sslmode means verify-full.
                if !(value.is_empty()
                    || value.eq_ignore_ascii_case("true")
                    || value.eq_ignore_ascii_case("false"))
                {
                    return Err(error(format!("ssl={value} must be true or false")));
                }
                self.ssl = Some(Setting::given("ssl", value, origin));
            }
            "sslrootcert" => self.root_cert = Some(Setting::given("sslrootcert", value, origin)),
            "sslcert" => self.cert = Some(Setting::given("sslcert", value, origin)),
            "sslkey" => self.key = Some(Setting::given("sslkey", value, origin)),
            "sslpassword" => {
                if value.contains('\0') {
                    return Err(error("sslpassword may not contain a NUL character".into()));
                }
                self.password = Some(value.to_string());
            }
            "sslfactory" => {
                if ![LIBPQ_FACTORY, NON_VALIDATING_FACTORY, DEFAULT_JAVA_FACTORY].contains(&value) {
                    return Err(error(format!(
                        "sslfactory={value} is not supported: Conveyor has no Java SSL factories; use {NON_VALIDATING_FACTORY} (no certificate chain check), {DEFAULT_JAVA_FACTORY} (the system's CAs) or leave it out and use sslmode with sslrootcert"
                    )));
                }
                self.factory = Some(Setting::given("sslfactory", value, origin));
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Settles the mode once every property is in: `sslmode` if given; else `ssl=true` means
    /// `verify-full` (PgJDBC) and `sslrootcert=system` means `verify-full` (libpq); else
    /// `prefer`.
    pub fn finish(mut self) -> std::result::Result<TlsSettings, PropertyError> {
        if self.mode_setting.is_none() {
            let ssl_on = self
                .ssl
                .as_ref()
                .is_some_and(|s| !s.value.eq_ignore_ascii_case("false"));
            let system = self
                .root_cert
                .as_ref()
                .is_some_and(|r| r.value == SYSTEM_ROOTS);
            if ssl_on {
                self.mode_setting = self.ssl.clone();
                self.mode = SslMode::VerifyFull;
            } else if system {
                self.mode_setting = self.root_cert.clone();
                self.mode = SslMode::VerifyFull;
            }
        } else if let Some(m) = &self.mode_setting {
            self.mode = SslMode::parse(&m.value).unwrap_or_default();
        }
        if let Some(root) = &self.root_cert {
            if root.value == SYSTEM_ROOTS && self.mode != SslMode::VerifyFull {
                return Err(PropertyError {
                    name: "sslrootcert".into(),
                    origin: root.origin,
                    why: format!(
                        "sslrootcert=system trusts any certificate a public CA issued, so it needs sslmode=verify-full (the host name check), not {}",
                        self.mode.name()
                    ),
                });
            }
        }
        Ok(self)
    }

    /// How messages name the mode: `sslmode=verify-full in connection.url`, or
    /// `sslmode=prefer (the default)`.
    pub fn mode_shown(&self) -> String {
        match &self.mode_setting {
            Some(s) if s.name == "ssl" => {
                format!("{s} (which PgJDBC reads as sslmode=verify-full)")
            }
            Some(s) if s.name == "sslrootcert" => {
                format!("{s} (which implies sslmode=verify-full, as in libpq)")
            }
            Some(s) => s.to_string(),
            None => format!("sslmode={} (the default)", self.mode.name()),
        }
    }

    fn factory(&self) -> Factory {
        match self.factory.as_ref().map(|f| f.value.as_str()) {
            Some(NON_VALIDATING_FACTORY) => Factory::NonValidating,
            Some(DEFAULT_JAVA_FACTORY) => Factory::SystemRoots,
            _ => Factory::LibPq,
        }
    }

    /// What the handshake checks.
    fn checks(&self) -> Checks {
        let factory = self.factory();
        let explicit_root = self.root_cert.as_ref().is_some_and(Setting::is_explicit);
        let chain = match factory {
            Factory::NonValidating => false,
            Factory::SystemRoots => self.mode != SslMode::Disable,
            Factory::LibPq => {
                matches!(self.mode, SslMode::VerifyCa | SslMode::VerifyFull)
                    || (self.mode == SslMode::Require && explicit_root)
            }
        };
        Checks {
            chain,
            host: self.mode == SslMode::VerifyFull,
        }
    }

    /// A connector for one connection attempt, with the files read now (so that renewed
    /// certificates are picked up on reconnect), and the slot in which the handshake leaves
    /// why it rejected the server's certificate.
    pub fn connector(&self) -> Result<(MakeTlsConnector, Rejections)> {
        let checks = self.checks();
        let mut builder =
            SslConnector::builder(SslMethod::tls_client()).map_err(|e| setup_error(&e))?;
        // Trust only what the settings name: never the build's default CA directory.
        let store = if checks.chain {
            self.trust_store()?
        } else {
            X509StoreBuilder::new()
                .map_err(|e| setup_error(&e))?
                .build()
        };
        builder.set_cert_store(store);
        builder.set_verify(SslVerifyMode::NONE);
        if let Some(identity) = self.client_identity()? {
            builder
                .set_certificate(&identity.cert)
                .map_err(|e| setup_error(&e))?;
            for c in identity.chain {
                builder
                    .add_extra_chain_cert(c)
                    .map_err(|e| setup_error(&e))?;
            }
            // OpenSSL 3 refuses a key that does not match the certificate already when it
            // is set; older versions only in the check.
            if builder.set_private_key(&identity.key).is_err()
                || builder.check_private_key().is_err()
            {
                return Err(identity.key_setting.invalid(format!(
                    "the private key does not belong to the client certificate {}",
                    identity.cert_setting
                )));
            }
        }
        let mut connector = MakeTlsConnector::new(builder.build());
        let rejections = Rejections::default();
        let slot = rejections.clone();
        connector.set_callback(move |config, domain| {
            config.set_verify_hostname(checks.host);
            if checks.chain || checks.host {
                let slot = slot.clone();
                let host = domain.to_string();
                let chain = checks.chain;
                config.set_verify_callback(SslVerifyMode::PEER, move |ok, ctx| {
                    if ok {
                        return true;
                    }
                    let code = ctx.error().as_raw();
                    let name_mismatch = code == HOSTNAME_MISMATCH || code == IP_ADDRESS_MISMATCH;
                    if !chain && !name_mismatch {
                        // NonValidatingFactory: any chain goes, only the name counts.
                        return true;
                    }
                    slot.record(Rejection::new(&host, ctx));
                    false
                });
            }
            Ok(())
        });
        Ok((connector, rejections))
    }

    /// A connector for connections without TLS (`sslmode=disable`, the first try of `allow`):
    /// tokio-postgres wants one all the same, and no file is read for it.
    pub fn plaintext_connector() -> Result<(MakeTlsConnector, Rejections)> {
        let builder =
            SslConnector::builder(SslMethod::tls_client()).map_err(|e| setup_error(&e))?;
        Ok((
            MakeTlsConnector::new(builder.build()),
            Rejections::default(),
        ))
    }

    /// The CAs to check the server's certificate against.
    fn trust_store(&self) -> Result<X509Store> {
        let root = match &self.root_cert {
            Some(r) if r.value == SYSTEM_ROOTS => None,
            _ if self.factory() == Factory::SystemRoots => None,
            Some(r) => Some(r.clone()),
            None => {
                let default = home_file("root.crt");
                match default.as_ref().filter(|p| p.exists()) {
                    Some(p) => Some(Setting::given(
                        "sslrootcert",
                        &p.display().to_string(),
                        Origin::Default,
                    )),
                    None => {
                        return Err(ConnectError::Config(format!(
                            "{} checks the server's certificate against a CA, but sslrootcert is not set{}: set sslrootcert (in connection.url, or as connection.sslrootcert) to the PEM file of the CA that signed the server's certificate, sslrootcert=system to trust the system's CAs, or use sslmode=require to encrypt without checking the certificate",
                            self.mode_shown(),
                            default
                                .map(|p| format!(" and its default {} does not exist", p.display()))
                                .unwrap_or_default()
                        )))
                    }
                }
            }
        };
        let mut store = X509StoreBuilder::new().map_err(|e| setup_error(&e))?;
        match root {
            Some(root) => {
                for cert in read_certificates(&root)? {
                    store.add_cert(cert).map_err(|e| setup_error(&e))?;
                }
            }
            None => add_system_roots(&mut store)?,
        }
        Ok(store.build())
    }

    /// The client certificate and key, when there is one (`sslcert`/`sslkey`, or libpq's
    /// `~/.postgresql/postgresql.crt` and `.key` when they exist, or a PKCS#12 `sslkey` as
    /// PgJDBC reads it).
    fn client_identity(&self) -> Result<Option<Identity>> {
        if let Some(key) = self.key.as_ref().filter(|k| is_pkcs12(k.path())) {
            return self.pkcs12_identity(key).map(Some);
        }
        let cert = match &self.cert {
            Some(c) => c.clone(),
            None => match home_file("postgresql.crt").filter(|p| p.exists()) {
                Some(p) => Setting::given("sslcert", &p.display().to_string(), Origin::Default),
                None => {
                    if let Some(key) = &self.key {
                        return Err(key.invalid(
                            "a client key needs its certificate: set sslcert (in connection.url, or as connection.sslcert) to the client certificate's PEM file",
                        ));
                    }
                    return Ok(None);
                }
            },
        };
        let key = match &self.key {
            Some(k) => k.clone(),
            None => {
                let default = home_file("postgresql.key");
                match default.as_ref().filter(|p| p.exists()) {
                    Some(p) => Setting::given("sslkey", &p.display().to_string(), Origin::Default),
                    None => {
                        return Err(cert.invalid(format!(
                            "a client certificate needs its private key: set sslkey (in connection.url, or as connection.sslkey){}",
                            default
                                .map(|p| format!("; its default {} does not exist", p.display()))
                                .unwrap_or_default()
                        )))
                    }
                }
            }
        };
        let mut certs = read_certificates(&cert)?;
        let leaf = certs.remove(0);
        let private_key = read_private_key(&key, self.password.as_deref())?;
        Ok(Some(Identity {
            cert: leaf,
            chain: certs,
            key: private_key,
            cert_setting: cert,
            key_setting: key,
        }))
    }

    fn pkcs12_identity(&self, key: &Setting) -> Result<Identity> {
        let bytes = read_file(key)?;
        let archive = Pkcs12::from_der(&bytes)
            .map_err(|_| key.invalid("the file is not a PKCS#12 archive (.p12/.pfx)"))?;
        let parsed = archive
            .parse2(self.password.as_deref().unwrap_or(""))
            .map_err(|_| {
                key.invalid(match self.password {
                    Some(_) => "the PKCS#12 archive cannot be opened with sslpassword (wrong password?)",
                    None => "the PKCS#12 archive is protected by a password: set sslpassword (in connection.url, or as connection.sslpassword)",
                })
            })?;
        let (Some(private_key), Some(cert)) = (parsed.pkey, parsed.cert) else {
            return Err(
                key.invalid("the PKCS#12 archive holds no private key with its certificate")
            );
        };
        Ok(Identity {
            cert,
            chain: parsed
                .ca
                .map(|s| s.into_iter().collect())
                .unwrap_or_default(),
            key: private_key,
            cert_setting: key.clone(),
            key_setting: key.clone(),
        })
    }

    /// Explains a rejected server certificate: which host, what was wrong, which settings asked
    /// for the check, and what to change.
    pub fn explain(&self, rejection: &Rejection) -> String {
        let checks = self.checks();
        if rejection.is_name_mismatch() {
            return format!(
                "the server's TLS certificate does not name the host {} (it is for {}): {} checks that the host in connection.url is one the certificate names. Connect with one of those names, or use sslmode=verify-ca to check the certificate chain only",
                rejection.host,
                if rejection.names.is_empty() {
                    "no host names".to_string()
                } else {
                    rejection.names.join(", ")
                },
                self.mode_shown()
            );
        }
        let against = match (&self.root_cert, self.factory()) {
            (Some(r), _) if r.value == SYSTEM_ROOTS => "the system's trusted CAs".to_string(),
            (_, Factory::SystemRoots) => format!(
                "the system's trusted CAs ({})",
                self.factory
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            ),
            (Some(r), _) => r.to_string(),
            (None, _) => match home_file("root.crt") {
                Some(p) => format!("sslrootcert (default {})", p.display()),
                None => "sslrootcert".to_string(),
            },
        };
        let detail = match rejection.code {
            // The chain ends at a CA that is not trusted: name it.
            SELF_SIGNED_LEAF | SELF_SIGNED_IN_CHAIN => format!(
                "the server's chain ends at {}, which is not among the CAs of {against}",
                rejection.subject
            ),
            ISSUER_MISSING | ISSUER_MISSING_LOCALLY | LEAF_SIGNATURE_UNVERIFIABLE => format!(
                "{} is issued by {}, which is not among the CAs of {against}",
                rejection.subject, rejection.issuer
            ),
            _ => format!(
                "certificate {}subject {}, issued by {}; checked against {against}",
                if rejection.depth > 0 {
                    format!("{} up the chain, ", rejection.depth)
                } else {
                    String::new()
                },
                rejection.subject,
                rejection.issuer
            ),
        };
        let fix = if self.mode == SslMode::Require {
            "Set sslrootcert to the CA that signed the server's certificate, or leave sslrootcert out to encrypt without checking the certificate (with sslmode=require, sslrootcert turns the check on, as in libpq)"
        } else {
            "Set sslrootcert to the CA that signed the server's certificate, or use sslmode=require to encrypt without checking it"
        };
        format!(
            "the TLS certificate of the server at {} failed verification: {} ({detail}). It was checked because of {}{}. {fix}",
            rejection.host,
            rejection.reason,
            self.mode_shown(),
            if checks.host {
                ""
            } else {
                " (the host name is not checked)"
            },
        )
    }
}

/// What the handshake verifies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Checks {
    /// The server's certificate chain against the trusted CAs.
    chain: bool,
    /// The host name against the certificate (`verify-full`).
    host: bool,
}

/// A client certificate with its key.
struct Identity {
    cert: X509,
    chain: Vec<X509>,
    key: PKey<Private>,
    cert_setting: Setting,
    key_setting: Setting,
}

/// Why the handshake rejected the server's certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The host name connected to (from connection.url).
    pub host: String,
    /// OpenSSL's verification error code and text (`unable to get local issuer certificate`).
    pub code: i32,
    pub reason: String,
    /// 0: the server's own certificate; 1 and up: a CA above it.
    pub depth: u32,
    pub subject: String,
    pub issuer: String,
    /// The DNS names and IP addresses the server's certificate is for.
    pub names: Vec<String>,
}

impl Rejection {
    fn new(host: &str, ctx: &X509StoreContextRef) -> Rejection {
        let error = ctx.error();
        let cert = ctx.current_cert();
        Rejection {
            host: host.to_string(),
            code: error.as_raw(),
            reason: error.error_string().to_string(),
            depth: ctx.error_depth(),
            subject: cert
                .map(|c| name_text(c.subject_name()))
                .unwrap_or_default(),
            issuer: cert.map(|c| name_text(c.issuer_name())).unwrap_or_default(),
            names: cert.map(certificate_names).unwrap_or_default(),
        }
    }

    pub fn is_name_mismatch(&self) -> bool {
        self.code == HOSTNAME_MISMATCH || self.code == IP_ADDRESS_MISMATCH
    }
}

/// Where a connection attempt's handshake leaves its [`Rejection`].
#[derive(Clone, Debug, Default)]
pub struct Rejections(Arc<Mutex<Option<Rejection>>>);

impl Rejections {
    fn record(&self, rejection: Rejection) {
        self.0.lock().get_or_insert(rejection);
    }

    /// The first rejection of the attempt, if any.
    pub fn take(&self) -> Option<Rejection> {
        self.0.lock().take()
    }
}

/// `CN=..., O=...`, most specific first.
fn name_text(name: &X509NameRef) -> String {
    let parts: Vec<String> = name
        .entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e.data().to_string().unwrap_or_else(|_| "?".into());
            format!("{key}={value}")
        })
        .collect();
    parts.into_iter().rev().collect::<Vec<_>>().join(", ")
}

/// The subject alternative names (DNS names and IP addresses), or the common name when there
/// are none.
fn certificate_names(cert: &X509Ref) -> Vec<String> {
    let mut names = Vec::new();
    if let Some(alt) = cert.subject_alt_names() {
        for n in &alt {
            if let Some(dns) = n.dnsname() {
                names.push(dns.to_string());
            } else if let Some(ip) = n.ipaddress() {
                let addr = match ip.len() {
                    4 => <[u8; 4]>::try_from(ip)
                        .ok()
                        .map(|b| std::net::IpAddr::from(b).to_string()),
                    16 => <[u8; 16]>::try_from(ip)
                        .ok()
                        .map(|b| std::net::IpAddr::from(b).to_string()),
                    _ => None,
                };
                names.extend(addr);
            }
        }
    }
    if names.is_empty() {
        for e in cert
            .subject_name()
            .entries_by_nid(openssl::nid::Nid::COMMONNAME)
        {
            if let Ok(cn) = e.data().to_string() {
                names.push(cn);
            }
        }
    }
    names
}

/// `~/.postgresql/<name>`, libpq's (and PgJDBC's) default location.
fn home_file(name: &str) -> Option<PathBuf> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    Some(PathBuf::from(home).join(".postgresql").join(name))
}

fn is_pkcs12(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("p12") || e.eq_ignore_ascii_case("pfx"))
}

fn read_file(setting: &Setting) -> Result<Vec<u8>> {
    std::fs::read(setting.path())
        .map_err(|e| setting.invalid(format!("the file cannot be read ({})", io_reason(&e))))
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "it does not exist".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Every certificate in a PEM file (a bundle), or the one in a DER file.
fn read_certificates(setting: &Setting) -> Result<Vec<X509>> {
    let bytes = read_file(setting)?;
    let certs = match X509::stack_from_pem(&bytes) {
        Ok(certs) if !certs.is_empty() => certs,
        _ => match X509::from_der(&bytes) {
            Ok(cert) => vec![cert],
            Err(_) => {
                return Err(setting.invalid(
                    "the file holds no certificate: it must be a PEM file with -----BEGIN CERTIFICATE----- blocks, or a DER certificate",
                ))
            }
        },
    };
    Ok(certs)
}

/// A private key in PEM (PKCS#8 or the traditional forms, encrypted or not) or DER (PKCS#8, as
/// PgJDBC's `.pk8`, or traditional). Never asks a terminal for a password.
fn read_private_key(setting: &Setting, password: Option<&str>) -> Result<PKey<Private>> {
    let bytes = read_file(setting)?;
    let asked = Cell::new(false);
    let answer = |buf: &mut [u8]| -> std::result::Result<usize, ErrorStack> {
        asked.set(true);
        let p = password.unwrap_or("").as_bytes();
        if p.len() > buf.len() {
            return Ok(0);
        }
        buf[..p.len()].copy_from_slice(p);
        Ok(p.len())
    };
    let key = if bytes.windows(10).any(|w| w == b"-----BEGIN") {
        PKey::private_key_from_pem_callback(&bytes, answer)
    } else {
        PKey::private_key_from_pkcs8_callback(&bytes, answer)
            .or_else(|_| PKey::private_key_from_der(&bytes))
    };
    key.map_err(|_| {
        setting.invalid(match (asked.get(), password) {
            (true, None) => "the private key is encrypted: set sslpassword (in connection.url, or as connection.sslpassword) to its password",
            (true, Some(_)) => "the private key cannot be decrypted with sslpassword (wrong password?)",
            (false, _) => "the file holds no private key: it must be a PEM key (-----BEGIN PRIVATE KEY-----, RSA or EC), a DER PKCS#8 key (.pk8) or a PKCS#12 archive (.p12/.pfx)",
        })
    })
}

/// The system's CAs: `SSL_CERT_FILE`/`SSL_CERT_DIR`, or the distribution's bundle (found the
/// way other Rust programs find it, since the built-in OpenSSL knows no system paths).
fn add_system_roots(store: &mut X509StoreBuilder) -> Result<()> {
    let probe = openssl_probe::probe();
    let mut found = 0;
    if let Some(file) = &probe.cert_file {
        if let Ok(bytes) = std::fs::read(file) {
            for cert in X509::stack_from_pem(&bytes).unwrap_or_default() {
                if store.add_cert(cert).is_ok() {
                    found += 1;
                }
            }
        }
    }
    if let Some(dir) = probe.cert_dir.as_ref().and_then(|d| d.to_str()) {
        let lookup = store
            .add_lookup(X509Lookup::hash_dir())
            .map_err(|e| setup_error(&e))?;
        if lookup.add_dir(dir, SslFiletype::PEM).is_ok() {
            found += 1;
        }
    }
    if found == 0 {
        return Err(ConnectError::Config(
            "sslrootcert=system: no system CA certificates were found (looked at SSL_CERT_FILE, SSL_CERT_DIR and the usual places such as /etc/ssl/certs): install the ca-certificates package, or set sslrootcert to a CA file".into(),
        ));
    }
    Ok(())
}

fn setup_error(e: &ErrorStack) -> ConnectError {
    ConnectError::Other(format!("could not set up TLS: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(props: &[(&str, &str)]) -> std::result::Result<TlsSettings, PropertyError> {
        let mut tls = TlsSettings::default();
        for (k, v) in props {
            assert!(tls.set(k, v, Origin::Url)?, "{k} is a TLS property");
        }
        tls.finish()
    }

    #[test]
    fn the_mode_follows_pgjdbc() {
        assert_eq!(settings(&[]).unwrap().mode, SslMode::Prefer);
        assert_eq!(
            settings(&[("sslmode", "VERIFY-CA")]).unwrap().mode,
            SslMode::VerifyCa
        );
        assert_eq!(
            settings(&[("ssl", "true")]).unwrap().mode,
            SslMode::VerifyFull
        );
        assert_eq!(settings(&[("ssl", "")]).unwrap().mode, SslMode::VerifyFull);
        assert_eq!(settings(&[("ssl", "false")]).unwrap().mode, SslMode::Prefer);
        assert_eq!(
            settings(&[("ssl", "true"), ("sslmode", "require")])
                .unwrap()
                .mode,
            SslMode::Require
        );
        assert_eq!(
            settings(&[("sslrootcert", "system")]).unwrap().mode,
            SslMode::VerifyFull
        );
        let err = settings(&[("sslrootcert", "system"), ("sslmode", "require")]).unwrap_err();
        assert!(err.why.contains("verify-full"), "{err:?}");
        let err = settings(&[("sslmode", "on")]).unwrap_err();
        assert_eq!(err.name, "sslmode");
        assert!(err
            .why
            .contains("disable, allow, prefer, require, verify-ca, verify-full"));
        let err = settings(&[("sslfactory", "com.example.Mine")]).unwrap_err();
        assert!(err.why.contains("not supported"), "{err:?}");
    }

    #[test]
    fn checks_per_mode_and_factory() {
        let checks = |props: &[(&str, &str)]| settings(props).unwrap().checks();
        let none = Checks {
            chain: false,
            host: false,
        };
        assert_eq!(checks(&[]), none);
        assert_eq!(checks(&[("sslmode", "require")]), none);
        assert_eq!(
            checks(&[("sslmode", "require"), ("sslrootcert", "/ca.pem")]),
            Checks {
                chain: true,
                host: false
            }
        );
        assert_eq!(
            checks(&[("sslmode", "prefer"), ("sslrootcert", "/ca.pem")]),
            none
        );
        assert_eq!(
            checks(&[("sslmode", "verify-ca")]),
            Checks {
                chain: true,
                host: false
            }
        );
        assert_eq!(
            checks(&[("sslmode", "verify-full")]),
            Checks {
                chain: true,
                host: true
            }
        );
        assert_eq!(
            checks(&[("ssl", "true"), ("sslfactory", NON_VALIDATING_FACTORY)]),
            Checks {
                chain: false,
                host: true
            }
        );
        assert_eq!(
            checks(&[
                ("sslmode", "require"),
                ("sslfactory", NON_VALIDATING_FACTORY)
            ]),
            none
        );
    }

    #[test]
    fn settings_are_shown_as_written() {
        let s = Setting::given("sslrootcert", "/x/ca.pem", Origin::Config);
        assert_eq!(s.to_string(), "connection.sslrootcert=/x/ca.pem");
        let ConnectError::Config(m) = s.invalid("why") else {
            panic!("a config error")
        };
        assert_eq!(
            m,
            "Invalid value /x/ca.pem for configuration connection.sslrootcert: why"
        );
        let s = Setting::given("sslmode", "require", Origin::Url);
        assert_eq!(s.to_string(), "sslmode=require in connection.url");
    }
}
