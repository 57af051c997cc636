//! Answers in OpenMeetings' shapes: one object whose single key is the DTO's root name
//! (`{"serviceResult": …}`, `{"roomDTO": […]}`), and its error statuses (reference §2).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A call that failed: the response to send.
#[derive(Debug)]
pub struct Fail(pub Box<Response>);

impl From<Response> for Fail {
    fn from(r: Response) -> Fail {
        Fail(Box::new(r))
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        *self.0
    }
}

pub type OmResult = Result<Response, Fail>;

impl From<sqlx::Error> for Fail {
    fn from(e: sqlx::Error) -> Fail {
        let api = crate::error::ApiError::from(e);
        let status = if api.status == StatusCode::SERVICE_UNAVAILABLE {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            tracing::warn!(error = %api.message, "openmeetings API: database error");
            StatusCode::INTERNAL_SERVER_ERROR
        };
        Fail::from(result(
            status,
            "ERROR",
            "internal error; the server log has details",
        ))
    }
}

/// The value wrapped in its root name, 200.
pub fn wrap(root: &str, value: Value) -> Response {
    let mut map = serde_json::Map::new();
    map.insert(root.to_string(), value);
    json_response(StatusCode::OK, Value::Object(map))
}

fn json_response(status: StatusCode, body: Value) -> Response {
    let mut r = (status, axum::Json(body)).into_response();
    // Answers to a session's calls are personal: no cache keeps them.
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A ServiceResult.
pub fn result(status: StatusCode, kind: &str, message: &str) -> Response {
    json_response(
        status,
        json!({"serviceResult": {"message": message, "type": kind}}),
    )
}

/// 200 SUCCESS with the message.
pub fn success(message: impl AsRef<str>) -> Response {
    result(StatusCode::OK, "SUCCESS", message.as_ref())
}

/// A failure inside a call: 500 ERROR with the message.
pub fn failure(message: &str) -> Fail {
    Fail::from(result(StatusCode::INTERNAL_SERVER_ERROR, "ERROR", message))
}

/// A failure OpenMeetings answers with 200 and type ERROR.
pub fn soft_error(message: &str) -> Response {
    result(StatusCode::OK, "ERROR", message)
}

/// Missing, unknown or expired sid, or a caller without the right: 500 `error.notallowed`
/// with the `exception` header.
pub fn not_allowed() -> Fail {
    let mut r = result(
        StatusCode::INTERNAL_SERVER_ERROR,
        "ERROR",
        "error.notallowed",
    );
    r.headers_mut()
        .insert("exception", HeaderValue::from_static("error.notallowed"));
    Fail::from(r)
}

/// A status with an empty body (400 bad form JSON, 404 bad path, 204 nothing, 405).
pub fn status_only(status: StatusCode) -> Response {
    status.into_response()
}
