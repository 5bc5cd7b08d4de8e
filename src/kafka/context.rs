//! The librdkafka client context every Conveyor client uses: librdkafka logs go to
//! `tracing`, and the latest client error is kept so a task's status can say why it is not
//! making progress (for example, while the brokers are unreachable).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

/// The most recent client-level error (transport, authentication, all brokers down), and the
/// first one that retrying cannot fix (authentication refused, TLS handshake failed).
#[derive(Debug, Default)]
pub struct ClientHealth {
    last_error: Mutex<Option<(String, Instant)>>,
    /// Set with `last_error`, so that `clear` on the hot path is one atomic load.
    has_error: AtomicBool,
    fatal: Mutex<Option<String>>,
    has_fatal: AtomicBool,
}

impl ClientHealth {
    /// The error that makes this client useless (wrong credentials, a certificate that is
    /// refused): the task or worker using it should fail with this text rather than retry.
    pub fn fatal_error(&self) -> Option<String> {
        if !self.has_fatal.load(Ordering::Acquire) {
            return None;
        }
        self.fatal.lock().clone()
    }

    fn record_fatal(&self, message: String) {
        let mut fatal = self.fatal.lock();
        if fatal.is_none() {
            *fatal = Some(message);
            self.has_fatal.store(true, Ordering::Release);
        }
    }

    pub fn record_error(&self, message: String) {
        *self.last_error.lock() = Some((message, Instant::now()));
        self.has_error.store(true, Ordering::Release);
    }

    /// Forgets the last error (called when the client makes progress again).
    pub fn clear(&self) {
        if self.has_error.swap(false, Ordering::AcqRel) {
            *self.last_error.lock() = None;
        }
    }

    /// The last error, if it happened within `window`.
    pub fn recent_error(&self, window: std::time::Duration) -> Option<String> {
        self.last_error
            .lock()
            .as_ref()
            .filter(|(_, at)| at.elapsed() <= window)
            .map(|(m, _)| m.clone())
    }
}

/// Client context shared by producers, consumers and admin clients.
#[derive(Clone, Default)]
pub struct LoggingContext {
    pub health: Arc<ClientHealth>,
}

impl LoggingContext {
    pub fn new(health: Arc<ClientHealth>) -> Self {
        LoggingContext { health }
    }
}

/// A token for librdkafka's OAUTHBEARER refresh callback: `sasl.oauthbearer.config` holds the
/// key under which [`crate::kafka::security`] registered the login.
pub fn oauth_token_for(
    oauthbearer_config: Option<&str>,
) -> Result<rdkafka::client::OAuthToken, Box<dyn std::error::Error>> {
    let key = oauthbearer_config.unwrap_or_default();
    let token = crate::kafka::security::oauth::token_for(key).map_err(|e| {
        tracing::warn!(error = %e, "OAuth token refresh failed");
        Box::new(e) as Box<dyn std::error::Error>
    })?;
    Ok(rdkafka::client::OAuthToken {
        token: token.token,
        principal_name: token.principal,
        lifetime_ms: token.expires_at_ms,
    })
}

impl ClientContext for LoggingContext {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn generate_oauth_token(
        &self,
        oauthbearer_config: Option<&str>,
    ) -> Result<rdkafka::client::OAuthToken, Box<dyn std::error::Error>> {
        oauth_token_for(oauthbearer_config)
    }

    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                tracing::error!(target: "librdkafka", facility = fac, "{message}")
            }
            RDKafkaLogLevel::Warning => {
                tracing::warn!(target: "librdkafka", facility = fac, "{message}")
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", facility = fac, "{message}")
            }
            RDKafkaLogLevel::Debug => {
                tracing::debug!(target: "librdkafka", facility = fac, "{message}")
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let message = format!("{error}: {reason}");
        let repeated = self
            .health
            .recent_error(Duration::from_secs(60))
            .is_some_and(|m| m == message);
        if repeated {
            // librdkafka repeats the same error every second while brokers are away.
            tracing::debug!(target: "librdkafka", %error, "{reason}");
        } else {
            tracing::warn!(target: "librdkafka", %error, "{reason}");
        }
        // Kafka's Java clients treat these as fatal (SaslAuthenticationException,
        // SslAuthenticationException): librdkafka would retry them forever.
        if matches!(
            error.rdkafka_error_code(),
            Some(RDKafkaErrorCode::Authentication | RDKafkaErrorCode::SSL)
        ) {
            self.health.record_fatal(format!(
                "{reason} (check security.protocol and the ssl.*/sasl.* settings)"
            ));
        }
        // "All brokers down" says less than the transport error before it (which names the
        // broker): keep that one while it is recent.
        let all_down = matches!(
            error.rdkafka_error_code(),
            Some(RDKafkaErrorCode::AllBrokersDown)
        );
        if all_down && self.health.recent_error(Duration::from_secs(30)).is_some() {
            return;
        }
        self.health.record_error(message);
    }
}

impl rdkafka::consumer::ConsumerContext for LoggingContext {}

/// Implements `ClientContext` for a context type by delegating to its `LoggingContext` field,
/// for contexts that add producer or consumer callbacks.
#[macro_export]
macro_rules! delegate_client_context {
    ($ty:ty, $field:ident) => {
        impl rdkafka::client::ClientContext for $ty {
            const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

            fn generate_oauth_token(
                &self,
                oauthbearer_config: Option<&str>,
            ) -> Result<rdkafka::client::OAuthToken, Box<dyn std::error::Error>> {
                $crate::kafka::context::oauth_token_for(oauthbearer_config)
            }

            fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, message: &str) {
                rdkafka::client::ClientContext::log(&self.$field, level, fac, message)
            }

            fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
                rdkafka::client::ClientContext::error(&self.$field, error, reason)
            }
        }
    };
}
