//! One connection to a broker speaking the Kafka wire protocol (size-prefixed frames,
//! request header, response header), with requests and responses encoded by `kafka-protocol`;
//! over TLS and authenticated with SASL when the worker's security settings ask for it.

use std::pin::Pin;
use std::time::Duration;

use bytes::{Buf, BufMut, BytesMut};
use kafka_protocol::messages::{RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::errors::{ConnectError, Result};
use crate::kafka::security::{sasl, KafkaSecurity};

/// Responses larger than this are refused (a group of thousands of workers stays far below).
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

fn protocol_error(what: &str, e: impl std::fmt::Display) -> ConnectError {
    ConnectError::Kafka(format!("{what}: {e}"))
}

/// A byte stream to a broker: plain TCP or TLS over TCP.
trait BrokerStream: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> BrokerStream for T {}

/// A broker connection that sends one request at a time.
pub struct BrokerConnection {
    stream: Box<dyn BrokerStream>,
    address: String,
    correlation_id: i32,
    client_id: StrBytes,
}

/// The TLS handshake, with the certificate check's own reason on failure.
async fn tls_handshake(
    tcp: TcpStream,
    address: &str,
    tls: &crate::tls::TlsSettings,
) -> Result<tokio_openssl::SslStream<TcpStream>> {
    let host = address
        .rsplit_once(':')
        .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']'))
        .unwrap_or(address);
    let ssl = tls
        .connector()?
        .configure()
        .and_then(|c| c.verify_hostname(tls.verify_hostname).into_ssl(host))
        .map_err(|e| ConnectError::Kafka(format!("cannot set up TLS for broker {address}: {e}")))?;
    let mut stream = tokio_openssl::SslStream::new(ssl, tcp)
        .map_err(|e| ConnectError::Kafka(format!("cannot set up TLS for broker {address}: {e}")))?;
    if let Err(e) = Pin::new(&mut stream).connect().await {
        let verify = stream.ssl().verify_result();
        let why = if verify != openssl::x509::X509VerifyResult::OK {
            format!(
                "the broker's certificate was refused: {}",
                verify.error_string()
            )
        } else {
            e.to_string()
        };
        // A refused certificate is a settings problem, not a network one: Config, so that
        // callers stop instead of retrying.
        return Err(ConnectError::Config(format!(
            "TLS handshake with broker {address} failed: {why}"
        )));
    }
    Ok(stream)
}

impl BrokerConnection {
    /// Connects to `address` (`host:port`), then does the TLS handshake and SASL
    /// authentication that `security` asks for.
    pub async fn connect(
        address: &str,
        client_id: &str,
        timeout: Duration,
        security: &KafkaSecurity,
    ) -> Result<Self> {
        let tcp = tokio::time::timeout(timeout, TcpStream::connect(address))
            .await
            .map_err(|_| ConnectError::Kafka(format!("timed out connecting to broker {address}")))?
            .map_err(|e| ConnectError::Kafka(format!("cannot connect to broker {address}: {e}")))?;
        tcp.set_nodelay(true).ok();
        let stream: Box<dyn BrokerStream> = match &security.tls {
            Some(tls) => Box::new(
                tokio::time::timeout(timeout, tls_handshake(tcp, address, tls))
                    .await
                    .map_err(|_| {
                        ConnectError::Kafka(format!(
                            "timed out in the TLS handshake with broker {address} (is its \
                             listener TLS? security.protocol={})",
                            security.protocol.name()
                        ))
                    })??,
            ),
            None => Box::new(tcp),
        };
        let mut conn = BrokerConnection {
            stream,
            address: address.to_string(),
            correlation_id: 0,
            client_id: StrBytes::from_string(client_id.to_string()),
        };
        if let Some(login) = &security.sasl {
            sasl::authenticate(&mut conn, login, timeout).await?;
        }
        Ok(conn)
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// Sends `request` at `version` and waits up to `timeout` for its response.
    pub async fn send<R: Request>(
        &mut self,
        request: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response> {
        self.correlation_id = self.correlation_id.wrapping_add(1);
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(self.client_id.clone()));
        let mut body = BytesMut::new();
        header
            .encode(&mut body, R::header_version(version))
            .map_err(|e| protocol_error("cannot encode request header", e))?;
        request
            .encode(&mut body, version)
            .map_err(|e| protocol_error("cannot encode request", e))?;
        let mut frame = BytesMut::with_capacity(body.len() + 4);
        frame.put_u32(body.len() as u32);
        frame.extend_from_slice(&body);

        let exchange = async {
            self.stream.write_all(&frame).await?;
            let size = self.stream.read_u32().await? as usize;
            if size > MAX_RESPONSE_BYTES {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("response of {size} bytes is too large"),
                ));
            }
            let mut buf = vec![0u8; size];
            self.stream.read_exact(&mut buf).await?;
            Ok(buf)
        };
        let buf = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| {
                ConnectError::Kafka(format!(
                    "broker {} did not answer within {} ms",
                    self.address,
                    timeout.as_millis()
                ))
            })?
            .map_err(|e| ConnectError::Kafka(format!("broker {}: {e}", self.address)))?;
        let mut buf = bytes::Bytes::from(buf);
        let response_header =
            ResponseHeader::decode(&mut buf, R::Response::header_version(version))
                .map_err(|e| protocol_error("cannot decode response header", e))?;
        if response_header.correlation_id != self.correlation_id {
            return Err(ConnectError::Kafka(format!(
                "broker {} answered request {} with correlation id {}",
                self.address, self.correlation_id, response_header.correlation_id
            )));
        }
        let response = R::Response::decode(&mut buf, version)
            .map_err(|e| protocol_error("cannot decode response", e))?;
        if buf.has_remaining() {
            tracing::debug!(
                remaining = buf.remaining(),
                "response had trailing bytes (newer fields?)"
            );
        }
        Ok(response)
    }
}
