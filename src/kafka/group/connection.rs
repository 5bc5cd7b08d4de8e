//! One TCP connection to a broker speaking the Kafka wire protocol (size-prefixed frames,
//! request header, response header), with requests and responses encoded by `kafka-protocol`.

use std::time::Duration;

use bytes::{Buf, BufMut, BytesMut};
use kafka_protocol::messages::{RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::errors::{ConnectError, Result};

/// Responses larger than this are refused (a group of thousands of workers stays far below).
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

fn protocol_error(what: &str, e: impl std::fmt::Display) -> ConnectError {
    ConnectError::Kafka(format!("{what}: {e}"))
}

/// A broker connection that sends one request at a time.
pub struct BrokerConnection {
    stream: TcpStream,
    address: String,
    correlation_id: i32,
    client_id: StrBytes,
}

impl BrokerConnection {
    /// Connects to `address` (`host:port`).
    pub async fn connect(address: &str, client_id: &str, timeout: Duration) -> Result<Self> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(address))
            .await
            .map_err(|_| ConnectError::Kafka(format!("timed out connecting to broker {address}")))?
            .map_err(|e| ConnectError::Kafka(format!("cannot connect to broker {address}: {e}")))?;
        stream.set_nodelay(true).ok();
        Ok(BrokerConnection {
            stream,
            address: address.to_string(),
            correlation_id: 0,
            client_id: StrBytes::from_string(client_id.to_string()),
        })
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
