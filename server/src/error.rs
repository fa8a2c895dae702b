//! The API's error type. Every handler returns `Result<T>`; each variant is one HTTP outcome
//! with a JSON body of the form `{"error": {"code", "message", "field"}}`.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rekey_types::{ErrorBody, ErrorDetail};
use serde::de::DeserializeOwned;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request value is invalid; `field` names it.
    #[error("{message}")]
    Invalid {
        field: Option<String>,
        message: String,
    },
    #[error("not signed in")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{message}")]
    Conflict {
        field: Option<String>,
        message: String,
    },
    /// An update based on an older version of a record than the one stored.
    #[error(
        "this {record} was changed by someone else since you loaded it (it is now at version \
         {current_version}); reload it and make your change again"
    )]
    StaleVersion {
        record: &'static str,
        current_version: i64,
    },
    #[error("request body larger than {limit_mb} MB")]
    PayloadTooLarge { limit_mb: u64 },
    #[error("too many failed attempts; try again in {retry_after_secs} seconds")]
    TooManyRequests { retry_after_secs: u64 },
    /// Anything else. The cause is logged; the client sees a generic message.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn invalid(field: &str, message: impl Into<String>) -> Error {
        Error::Invalid {
            field: Some(field.to_string()),
            message: message.into(),
        }
    }

    pub fn conflict(field: &str, message: impl Into<String>) -> Error {
        Error::Conflict {
            field: Some(field.to_string()),
            message: message.into(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Error::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Unauthorized => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict { .. } | Error::StaleVersion { .. } => StatusCode::CONFLICT,
            Error::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Error::Invalid { .. } => "invalid",
            Error::Unauthorized => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::NotFound(_) => "not_found",
            Error::Conflict { .. } => "conflict",
            Error::StaleVersion { .. } => "stale_version",
            Error::PayloadTooLarge { .. } => "payload_too_large",
            Error::TooManyRequests { .. } => "too_many_requests",
            Error::Internal(_) => "internal",
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(error: sqlx::Error) -> Self {
        Error::Internal(error.into())
    }
}

/// Cause of a 500, kept in the response extensions so that the logging middleware logs it
/// once, with the request's span.
#[derive(Clone)]
pub struct InternalCause(pub std::sync::Arc<anyhow::Error>);

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let (message, field) = match &self {
            Error::Internal(_) => ("internal error; the server log has the cause".to_string(), None),
            Error::Invalid { field, message } | Error::Conflict { field, message } => {
                (message.clone(), field.clone())
            }
            Error::StaleVersion { .. } => (self.to_string(), Some("version".to_string())),
            other => (other.to_string(), None),
        };
        let current_version = match &self {
            Error::StaleVersion { current_version, .. } => Some(*current_version),
            _ => None,
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code().to_string(),
                message,
                field,
                current_version,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Error::TooManyRequests { retry_after_secs } = &self {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, (*retry_after_secs).into());
        }
        if let Error::PayloadTooLarge { .. } = &self {
            // The rest of the body is never read, so the connection cannot carry another
            // request.
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        if let Error::Internal(cause) = self {
            response
                .extensions_mut()
                .insert(InternalCause(std::sync::Arc::new(cause)));
        }
        response
    }
}

/// JSON body extractor whose errors name the offending field, in the API's error shape.
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = match axum::body::Bytes::from_request(request, state).await {
            Ok(bytes) => bytes,
            // JSON routes keep axum's default body limit of 2 MB; only uploads raise it.
            Err(rejection) if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(Error::PayloadTooLarge { limit_mb: 2 })
            }
            Err(rejection) => {
                return Err(Error::Invalid {
                    field: None,
                    message: rejection.body_text(),
                })
            }
        };
        parse_json(&bytes).map(Json)
    }
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Deserializes a JSON body, naming the field whose value is missing or of the wrong type.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize(&mut deserializer) {
        Ok(value) => Ok(value),
        Err(error) => {
            let path = error.path().to_string();
            let inner = error.into_inner();
            let field = field_of(&path, &inner);
            let message = match &field {
                Some(field) => format!("{field}: {}", describe_serde_error(&inner)),
                None => format!("invalid JSON body: {}", describe_serde_error(&inner)),
            };
            Err(Error::Invalid { field, message })
        }
    }
}

/// Finds the path of the invalid value. For a missing field serde reports the enclosing
/// object, so the field's own name is taken from the message. For an unknown field the path
/// already ends with its name.
fn field_of(path: &str, error: &serde_json::Error) -> Option<String> {
    let text = error.to_string();
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| text.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    match (path, named) {
        // serde_path_to_error writes `?` where a syntax error left no path.
        ("." | "?", Some(name)) => Some(name.to_string()),
        ("." | "?", None) => None,
        (path, Some(name)) if path == name || path.ends_with(&format!(".{name}")) => Some(path.to_string()),
        (path, Some(name)) => Some(format!("{path}.{name}")),
        (path, None) => Some(path.to_string()),
    }
}

/// serde's message without the trailing " at line 1 column 42", which means nothing to a
/// person filling in a form.
fn describe_serde_error(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(index) => text[..index].to_string(),
        None => text,
    }
}

/// Converts axum's own JSON rejection, for the few routes that use `axum::Json` directly.
impl From<JsonRejection> for Error {
    fn from(rejection: JsonRejection) -> Self {
        Error::Invalid {
            field: None,
            message: rejection.body_text(),
        }
    }
}
