//! TLS from Kafka's Java settings (`ssl.truststore.*`, `ssl.keystore.*`, `ssl.key.password`,
//! `ssl.endpoint.identification.algorithm`, `ssl.enabled.protocols`, `ssl.client.auth`), for
//! every TLS connection Conveyor makes or accepts: librdkafka's clients (as PEM strings), the
//! group membership connection and the REST client (OpenSSL connectors), the REST server (an
//! OpenSSL acceptor).
//!
//! Stores in JKS, PKCS12 and PEM form are read here once, so every consumer sees the same
//! certificates and the same errors; an error names the setting and the cause.

mod jks;
mod settings;
#[cfg(test)]
pub(crate) mod test_certs;

pub use settings::{ClientAuth, Identity, TlsError, TlsSettings};
