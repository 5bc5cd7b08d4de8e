//! SASL authentication on a connection Conveyor speaks the Kafka protocol on itself (the group
//! membership connection): SaslHandshake, then SaslAuthenticate frames carrying PLAIN, SCRAM
//! (RFC 5802 with SHA-256/512) or OAUTHBEARER (RFC 7628) messages.

use base64::Engine;
use kafka_protocol::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};
use kafka_protocol::protocol::StrBytes;
use openssl::hash::{hash, MessageDigest};
use openssl::pkey::PKey;
use openssl::sign::Signer;

use super::{SaslLogin, ScramHash};
use crate::errors::{ConnectError, Result};
use crate::kafka::group::connection::BrokerConnection;

const HANDSHAKE_VERSION: i16 = 1;
const AUTHENTICATE_VERSION: i16 = 2;
const UNSUPPORTED_SASL_MECHANISM: i16 = 33;

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// Authenticates `conn` with `login`; the error carries the broker's message.
pub async fn authenticate(
    conn: &mut BrokerConnection,
    login: &SaslLogin,
    timeout: std::time::Duration,
) -> Result<()> {
    let mechanism = login.mechanism();
    let handshake = conn
        .send(
            &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism)),
            HANDSHAKE_VERSION,
            timeout,
        )
        .await?;
    if handshake.error_code == UNSUPPORTED_SASL_MECHANISM {
        let enabled: Vec<&str> = handshake.mechanisms.iter().map(|m| m.as_str()).collect();
        return Err(ConnectError::Config(format!(
            "broker {} does not accept SASL mechanism {mechanism} (sasl.mechanism); it enables: {}",
            conn.address(),
            enabled.join(", ")
        )));
    }
    if handshake.error_code != 0 {
        return Err(ConnectError::Kafka(format!(
            "SASL handshake with broker {} failed with error {}",
            conn.address(),
            handshake.error_code
        )));
    }
    match login {
        SaslLogin::Plain { username, password } => {
            let message = format!("\0{username}\0{password}");
            exchange(conn, message.into_bytes(), timeout).await?;
        }
        SaslLogin::Scram {
            hash,
            username,
            password,
        } => scram(conn, *hash, username, password, timeout).await?,
        SaslLogin::OAuthBearer(source) => {
            let token = source.token().await?;
            let message = format!("n,,\x01auth=Bearer {}\x01\x01", token.token);
            let challenge = exchange(conn, message.into_bytes(), timeout).await?;
            if !challenge.is_empty() {
                // The broker explains a rejected token in a challenge, then wants a bare %x01
                // before it fails the exchange (RFC 7628, section 3.2.3).
                let why = String::from_utf8_lossy(&challenge).into_owned();
                let _ = exchange(conn, vec![1], timeout).await;
                return Err(authentication_failed(conn, &why));
            }
        }
    }
    Ok(())
}

/// A refused login is a settings problem: Config, so that callers stop instead of retrying.
fn authentication_failed(conn: &BrokerConnection, why: &str) -> ConnectError {
    ConnectError::Config(format!(
        "authentication with broker {} failed: {why}",
        conn.address()
    ))
}

/// One SaslAuthenticate round trip; returns the server's bytes.
async fn exchange(
    conn: &mut BrokerConnection,
    bytes: Vec<u8>,
    timeout: std::time::Duration,
) -> Result<Vec<u8>> {
    let response = conn
        .send(
            &SaslAuthenticateRequest::default().with_auth_bytes(bytes.into()),
            AUTHENTICATE_VERSION,
            timeout,
        )
        .await?;
    if response.error_code != 0 {
        let message = response
            .error_message
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_else(|| format!("error {}", response.error_code));
        return Err(authentication_failed(conn, &message));
    }
    Ok(response.auth_bytes.to_vec())
}

/// `saslname` escaping of RFC 5802.
fn scram_name(username: &str) -> String {
    username.replace('=', "=3D").replace(',', "=2C")
}

fn digest(hash: ScramHash) -> MessageDigest {
    match hash {
        ScramHash::Sha256 => MessageDigest::sha256(),
        ScramHash::Sha512 => MessageDigest::sha512(),
    }
}

fn hmac(hash: ScramHash, key: &[u8], data: &[u8]) -> Result<Vec<u8>> {
    let key = PKey::hmac(key).map_err(crypto_error)?;
    let mut signer = Signer::new(digest(hash), &key).map_err(crypto_error)?;
    signer.update(data).map_err(crypto_error)?;
    signer.sign_to_vec().map_err(crypto_error)
}

fn crypto_error(e: openssl::error::ErrorStack) -> ConnectError {
    ConnectError::Other(format!("SCRAM computation failed: {e}"))
}

/// The client side of SCRAM: what to send after the server's first message, and the server
/// signature its final message must carry.
pub(crate) struct ScramClient {
    hash: ScramHash,
    password: String,
    nonce: String,
    client_first_bare: String,
}

impl ScramClient {
    pub(crate) fn new(hash: ScramHash, username: &str, password: &str, nonce: String) -> Self {
        ScramClient {
            hash,
            password: password.to_string(),
            client_first_bare: format!("n={},r={nonce}", scram_name(username)),
            nonce,
        }
    }

    pub(crate) fn client_first(&self) -> String {
        format!("n,,{}", self.client_first_bare)
    }

    /// The client-final message and the expected server signature.
    pub(crate) fn client_final(&self, server_first: &str) -> Result<(String, Vec<u8>)> {
        let bad =
            |why: &str| ConnectError::Kafka(format!("unexpected SCRAM server message ({why})"));
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for part in server_first.split(',') {
            match part.split_once('=') {
                Some(("r", v)) => nonce = Some(v),
                Some(("s", v)) => salt = Some(b64().decode(v).map_err(|_| bad("salt"))?),
                Some(("i", v)) => {
                    iterations = Some(v.parse::<usize>().map_err(|_| bad("iterations"))?)
                }
                Some(("e", v)) => {
                    return Err(ConnectError::Kafka(format!(
                        "SCRAM authentication failed: {v}"
                    )))
                }
                _ => {}
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return Err(bad("missing nonce, salt or iteration count"));
        };
        if !nonce.starts_with(&self.nonce) || iterations == 0 {
            return Err(bad("nonce or iteration count"));
        }
        let md = digest(self.hash);
        let mut salted = vec![0u8; md.size()];
        openssl::pkcs5::pbkdf2_hmac(self.password.as_bytes(), &salt, iterations, md, &mut salted)
            .map_err(crypto_error)?;
        let client_key = hmac(self.hash, &salted, b"Client Key")?;
        let stored_key = hash(md, &client_key).map_err(crypto_error)?;
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let client_signature = hmac(self.hash, &stored_key, auth_message.as_bytes())?;
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = hmac(self.hash, &salted, b"Server Key")?;
        let server_signature = hmac(self.hash, &server_key, auth_message.as_bytes())?;
        Ok((
            format!("{without_proof},p={}", b64().encode(proof)),
            server_signature,
        ))
    }
}

async fn scram(
    conn: &mut BrokerConnection,
    hash: ScramHash,
    username: &str,
    password: &str,
    timeout: std::time::Duration,
) -> Result<()> {
    let nonce = b64().encode(rand::random::<[u8; 24]>());
    let client = ScramClient::new(hash, username, password, nonce);
    let server_first = exchange(conn, client.client_first().into_bytes(), timeout).await?;
    let server_first = String::from_utf8_lossy(&server_first).into_owned();
    let (client_final, expected) = client.client_final(&server_first)?;
    let server_final = exchange(conn, client_final.into_bytes(), timeout).await?;
    let server_final = String::from_utf8_lossy(&server_final).into_owned();
    match server_final.split_once('=') {
        Some(("v", sig)) if b64().decode(sig).ok().as_deref() == Some(expected.as_slice()) => {
            Ok(())
        }
        Some(("e", why)) => Err(authentication_failed(conn, why)),
        _ => Err(authentication_failed(
            conn,
            "the server's SCRAM signature does not match (is this the right broker?)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677's SCRAM-SHA-256 example exchange.
    #[test]
    fn scram_sha256_matches_the_rfc_example() {
        let client = ScramClient::new(
            ScramHash::Sha256,
            "user",
            "pencil",
            "rOprNGfwEbeRWgbNEkqO".into(),
        );
        assert_eq!(client.client_first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let (final_message, server_signature) = client
            .client_final(
                "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            )
            .unwrap();
        assert_eq!(
            final_message,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert_eq!(
            b64().encode(server_signature),
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
    }

    #[test]
    fn scram_refuses_a_nonce_it_did_not_start() {
        let client = ScramClient::new(ScramHash::Sha512, "a,b=c", "p", "abc".into());
        assert_eq!(client.client_first(), "n,,n=a=2Cb=3Dc,r=abc");
        assert!(client.client_final("r=xyz,s=AAAA,i=4096").is_err());
        let e = client.client_final("e=invalid-proof").err().unwrap();
        assert!(e.to_string().contains("invalid-proof"));
    }
}
