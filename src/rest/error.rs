//! REST errors: Kafka Connect's `{"error_code": N, "message": "..."}` with its status codes.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::errors::ConnectError;

/// Connect's `ErrorMessage`.
#[derive(Debug, Serialize)]
pub struct ErrorMessage {
    pub error_code: u16,
    pub message: String,
}

/// An error answered as Connect would.
#[derive(Debug)]
pub struct RestError {
    pub status: StatusCode,
    pub message: String,
}

impl RestError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        RestError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<ConnectError> for RestError {
    fn from(e: ConnectError) -> Self {
        let status = match &e {
            ConnectError::NotFound(_) => StatusCode::NOT_FOUND,
            ConnectError::AlreadyExists(_) | ConnectError::Conflict(_) => StatusCode::CONFLICT,
            ConnectError::BadRequest(_) | ConnectError::Config(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        RestError {
            status,
            message: e.to_string(),
        }
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorMessage {
                error_code: self.status.as_u16(),
                message: self.message,
            }),
        )
            .into_response()
    }
}

pub type RestResult<T> = Result<T, RestError>;
