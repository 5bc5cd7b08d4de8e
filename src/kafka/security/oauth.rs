//! OAUTHBEARER tokens: OIDC client credentials (what Kafka's `OAuthBearerLoginCallbackHandler`
//! does with `sasl.oauthbearer.token.endpoint.url`, `clientId`, `clientSecret`, `scope`) and
//! Kafka's unsecured development tokens.
//!
//! librdkafka asks for tokens through a callback that receives only `sasl.oauthbearer.config`;
//! that value is a key into a process-wide table of logins ([`register`]), so the secret never
//! sits in librdkafka's config and every client with the same login shares one cached token.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use parking_lot::Mutex;

use super::OAuthLogin;
use crate::errors::{ConnectError, Result};

/// A token with its lifetime and principal, as SASL/OAUTHBEARER and librdkafka need them.
#[derive(Clone)]
pub struct OAuthToken {
    pub token: String,
    pub principal: String,
    /// Expiry, in milliseconds since the epoch.
    pub expires_at_ms: i64,
    issued_at_ms: i64,
}

impl std::fmt::Debug for OAuthToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthToken")
            .field("principal", &self.principal)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}

impl OAuthToken {
    /// Whether the token is past 80% of its life (Kafka's default refresh window factor).
    fn needs_refresh(&self, now_ms: i64) -> bool {
        let life = (self.expires_at_ms - self.issued_at_ms).max(0);
        now_ms >= self.issued_at_ms + life * 8 / 10
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Kafka's unsecured JWS (`alg: none`), for brokers that accept unsecured tokens.
pub fn unsecured_token(principal: &str, lifetime_seconds: u64) -> OAuthToken {
    let issued = now_ms();
    let expires = issued + (lifetime_seconds as i64) * 1000;
    let header = b64url(br#"{"alg":"none"}"#);
    let claims = serde_json::json!({"sub": principal, "iat": issued / 1000, "exp": expires / 1000});
    OAuthToken {
        token: format!("{header}.{}.", b64url(claims.to_string().as_bytes())),
        principal: principal.to_string(),
        expires_at_ms: expires,
        issued_at_ms: issued,
    }
}

/// Client-credentials tokens from one OIDC token endpoint, cached until 80% of their life.
pub struct OidcTokenSource {
    endpoint: String,
    client_id: String,
    client_secret: String,
    scope: Option<String>,
    cached: Mutex<Option<OAuthToken>>,
}

impl std::fmt::Debug for OidcTokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcTokenSource")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

type SourceKey = (String, String, String, Option<String>);
static SOURCES: LazyLock<Mutex<HashMap<SourceKey, Arc<OidcTokenSource>>>> =
    LazyLock::new(Default::default);

impl OidcTokenSource {
    /// The source for these credentials, shared by every client that uses them.
    pub fn shared(
        endpoint: &str,
        client_id: &str,
        client_secret: &str,
        scope: Option<String>,
    ) -> Result<Arc<OidcTokenSource>> {
        let url = reqwest::Url::parse(endpoint).map_err(|e| {
            ConnectError::Config(format!(
                "sasl.oauthbearer.token.endpoint.url: '{endpoint}' is not a URL: {e}"
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ConnectError::Config(format!(
                "sasl.oauthbearer.token.endpoint.url: '{endpoint}' is not an http(s) URL"
            )));
        }
        let key = (
            endpoint.to_string(),
            client_id.to_string(),
            client_secret.to_string(),
            scope.clone(),
        );
        Ok(SOURCES
            .lock()
            .entry(key)
            .or_insert_with(|| {
                Arc::new(OidcTokenSource {
                    endpoint: endpoint.to_string(),
                    client_id: client_id.to_string(),
                    client_secret: client_secret.to_string(),
                    scope,
                    cached: Mutex::new(None),
                })
            })
            .clone())
    }

    /// A valid token: the cached one, or a new one from the endpoint.
    pub async fn token(&self) -> Result<OAuthToken> {
        if let Some(t) = self.cached.lock().as_ref() {
            if !t.needs_refresh(now_ms()) {
                return Ok(t.clone());
            }
        }
        let token = self.fetch().await?;
        *self.cached.lock() = Some(token.clone());
        Ok(token)
    }

    /// [`token`](Self::token) for synchronous callers (librdkafka's refresh callback), on a
    /// thread of its own so that it works whether or not the caller runs inside tokio.
    pub fn token_blocking(self: &Arc<Self>) -> Result<OAuthToken> {
        let source = self.clone();
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| ConnectError::Other(format!("cannot start a runtime: {e}")))?
                .block_on(source.token())
        })
        .join()
        .map_err(|_| ConnectError::Other("the OAuth token request panicked".into()))?
    }

    async fn fetch(&self) -> Result<OAuthToken> {
        let failed = |why: String| {
            ConnectError::Kafka(format!(
                "cannot get an OAuth token from {} for client {}: {why}",
                self.endpoint, self.client_id
            ))
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| failed(e.to_string()))?;
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = &self.scope {
            form.push(("scope", scope));
        }
        let issued = now_ms();
        let response = client
            .post(&self.endpoint)
            .basic_auth(
                form_urlencoded::byte_serialize(self.client_id.as_bytes()).collect::<String>(),
                Some(
                    form_urlencoded::byte_serialize(self.client_secret.as_bytes())
                        .collect::<String>(),
                ),
            )
            .form(&form)
            .send()
            .await
            .map_err(|e| failed(e.to_string()))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| failed(e.to_string()))?;
        if !status.is_success() {
            let detail: String = body.chars().take(300).collect();
            return Err(failed(format!("HTTP {status}: {detail}")));
        }
        let json: serde_json::Value = serde_json::from_str(&body)
            .map_err(|e| failed(format!("the answer is not JSON: {e}")))?;
        let token = json
            .get("access_token")
            .and_then(|t| t.as_str())
            .ok_or_else(|| failed("the answer has no access_token".into()))?
            .to_string();
        let claims = jwt_claims(&token).map_err(failed)?;
        let principal = claims
            .get("sub")
            .and_then(|s| s.as_str())
            .ok_or_else(|| failed("the token has no sub claim".into()))?
            .to_string();
        let expires_at_ms = match claims.get("exp").and_then(|e| e.as_f64()) {
            Some(exp) => (exp * 1000.0) as i64,
            None => match json.get("expires_in").and_then(|e| e.as_i64()) {
                Some(secs) => issued + secs * 1000,
                None => return Err(failed("the token has no exp claim".into())),
            },
        };
        tracing::debug!(endpoint = %self.endpoint, %principal, "OAuth token fetched");
        Ok(OAuthToken {
            token,
            principal,
            expires_at_ms,
            issued_at_ms: issued,
        })
    }
}

/// The claims of a JWT (not verified: the broker does that).
fn jwt_claims(token: &str) -> std::result::Result<serde_json::Value, String> {
    let payload = token
        .split('.')
        .nth(1)
        .ok_or_else(|| "the access token is not a JWT".to_string())?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| format!("the access token's payload is not base64url: {e}"))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| format!("the access token's payload is not JSON: {e}"))
}

static LOGINS: LazyLock<Mutex<HashMap<String, OAuthLogin>>> = LazyLock::new(Default::default);

/// Registers `login` and returns the key to put in librdkafka's `sasl.oauthbearer.config`.
pub fn register(login: &OAuthLogin) -> String {
    let key = match login {
        OAuthLogin::Oidc(source) => format!("conveyor-oidc:{:p}", Arc::as_ptr(source)),
        OAuthLogin::Unsecured {
            principal,
            lifetime_seconds,
        } => format!("conveyor-unsecured:{lifetime_seconds}:{principal}"),
    };
    LOGINS.lock().insert(key.clone(), login.clone());
    key
}

/// A token for the login registered under `key` (librdkafka's refresh callback).
pub fn token_for(key: &str) -> Result<OAuthToken> {
    let login = LOGINS.lock().get(key).cloned().ok_or_else(|| {
        ConnectError::Config(
            "sasl.mechanism=OAUTHBEARER needs sasl.jaas.config with OAuthBearerLoginModule".into(),
        )
    })?;
    login.token_blocking()
}

/// Sets the OAUTHBEARER token of a client directly. librdkafka asks for tokens on its main
/// queue, which rdkafka's `AdminClient` never polls, so admin clients are given their token here
/// when they are created and before each request. The token is usually cached: only an expired
/// one costs a request to the token endpoint, made on a thread of its own.
pub fn set_token_directly<C: rdkafka::client::ClientContext>(
    client: &rdkafka::client::Client<C>,
    config: &rdkafka::ClientConfig,
) -> Result<()> {
    let Some(key) = config.get("sasl.oauthbearer.config") else {
        return Ok(());
    };
    let token = token_for(key)?;
    let to_c = |s: &str| {
        std::ffi::CString::new(s).map_err(|_| {
            ConnectError::Kafka("the OAuth token or principal contains a NUL byte".into())
        })
    };
    let (value, principal) = (to_c(&token.token)?, to_c(&token.principal)?);
    let mut errstr = [0 as std::ffi::c_char; 512];
    // SAFETY: the client pointer is live for the call, the strings are NUL-terminated and
    // outlive it, no extensions are passed, and errstr's size is given.
    let code = unsafe {
        rdkafka::bindings::rd_kafka_oauthbearer_set_token(
            client.native_ptr(),
            value.as_ptr(),
            token.expires_at_ms,
            principal.as_ptr(),
            std::ptr::null_mut(),
            0,
            errstr.as_mut_ptr(),
            errstr.len(),
        )
    };
    if code != rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        // SAFETY: librdkafka NUL-terminates errstr.
        let why = unsafe { std::ffi::CStr::from_ptr(errstr.as_ptr()) }.to_string_lossy();
        return Err(ConnectError::Kafka(format!(
            "cannot set the OAuth token: {why}"
        )));
    }
    Ok(())
}

impl OAuthLogin {
    pub async fn token(&self) -> Result<OAuthToken> {
        match self {
            OAuthLogin::Oidc(source) => source.token().await,
            OAuthLogin::Unsecured {
                principal,
                lifetime_seconds,
            } => Ok(unsecured_token(principal, *lifetime_seconds)),
        }
    }

    pub fn token_blocking(&self) -> Result<OAuthToken> {
        match self {
            OAuthLogin::Oidc(source) => source.token_blocking(),
            OAuthLogin::Unsecured {
                principal,
                lifetime_seconds,
            } => Ok(unsecured_token(principal, *lifetime_seconds)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsecured_tokens_carry_the_principal_and_lifetime() {
        let t = unsecured_token("admin", 60);
        let claims = jwt_claims(&t.token).unwrap();
        assert_eq!(claims["sub"], "admin");
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            60
        );
        assert!(t.token.ends_with('.'));
        assert!(!t.needs_refresh(t.issued_at_ms + 47_000));
        assert!(t.needs_refresh(t.issued_at_ms + 49_000));
    }

    #[test]
    fn sources_are_shared_per_credentials_and_urls_are_checked() {
        let a = OidcTokenSource::shared("http://idp/token", "id", "s", None).unwrap();
        let b = OidcTokenSource::shared("http://idp/token", "id", "s", None).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let c = OidcTokenSource::shared("http://idp/token", "id", "other", None).unwrap();
        assert!(!Arc::ptr_eq(&a, &c));
        let e = OidcTokenSource::shared("ftp://x", "id", "s", None).unwrap_err();
        assert!(e
            .to_string()
            .contains("sasl.oauthbearer.token.endpoint.url"));
        assert!(!format!("{a:?}").contains("\"s\""));
    }
}
