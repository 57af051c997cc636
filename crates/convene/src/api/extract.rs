//! Extractors whose rejections are the API's JSON errors instead of axum's plain text.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

/// A JSON body; a malformed one is a 400, a wrong content type a 415, too large a 413.
/// A string holding NUL or another control character (other than tab and line
/// breaks) is a 400 too, whatever the field: such text has no business in a name, a
/// comment or a password, and PostgreSQL refuses NUL in text.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(unsupported_media_type());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(bytes_error)?;
        parse_clean(&bytes).map(JsonBody)
    }
}

/// Parses JSON, refusing control characters in any string or key. (Public for the fuzz
/// targets in `fuzz/` only.)
#[doc(hidden)]
pub fn parse_clean<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = match axum::Json::from_bytes(bytes) {
        Ok(axum::Json(v)) => v,
        Err(rejection) => return Err(json_error(rejection)),
    };
    if let Some(path) = control_character_at(&value) {
        return Err(ApiError::bad_request(format!(
            "{path} contains a control character (such as NUL), which is not accepted"
        )));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request(format!("invalid request: {e}")))
}

/// Where a string with a forbidden control character is (a JSON path), if anywhere.
pub fn control_character_at(value: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    fn bad(s: &str) -> bool {
        s.chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    }
    match value {
        Value::String(s) if bad(s) => Some("the value".into()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| control_character_at(v).map(|p| format!("item {i} of {p}"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if bad(k) {
                return Some("a field name".into());
            }
            control_character_at(v).map(|_| format!("field `{k}`"))
        }),
        _ => None,
    }
}

/// An optional JSON body: an empty body (with or without a content type) is
/// `T::default()`; anything else is read like [`JsonBody`].
pub struct OptionalJsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = is_json(req.headers());
        let bytes = Bytes::from_request(req, state).await.map_err(bytes_error)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJsonBody(T::default()));
        }
        if !json {
            return Err(unsupported_media_type());
        }
        parse_clean(&bytes).map(OptionalJsonBody)
    }
}

/// `application/json` or `application/…+json`, as axum's `Json` accepts.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn unsupported_media_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "send JSON with Content-Type: application/json",
    )
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        "the request body is too large",
    )
}

fn bytes_error(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        ApiError::bad_request(rejection.body_text())
    }
}

fn json_error(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => unsupported_media_type(),
        JsonRejection::BytesRejection(b) => bytes_error(b),
        JsonRejection::JsonDataError(e) => ApiError::bad_request(e.body_text()),
        JsonRejection::JsonSyntaxError(e) => ApiError::bad_request(e.body_text()),
        other => ApiError::bad_request(other.body_text()),
    }
}

/// A WebSocket upgrade whose rejection (a request that is not a WebSocket handshake)
/// is the API's JSON error with axum's status (400, 405 or 426) instead of plain text.
/// For `signal::ws_handler`, in place of `WebSocketUpgrade`.
pub struct WsUpgrade(pub WebSocketUpgrade);

impl<S: Send + Sync> FromRequestParts<S> for WsUpgrade {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        WebSocketUpgrade::from_request_parts(parts, state)
            .await
            .map(WsUpgrade)
            .map_err(|rejection| {
                let status = rejection.status();
                let code = match status {
                    StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
                    StatusCode::UPGRADE_REQUIRED => "upgrade_required",
                    _ => "bad_request",
                };
                ApiError::new(
                    status,
                    code,
                    format!(
                        "this address takes a WebSocket handshake: {}",
                        rejection.body_text()
                    ),
                )
            })
    }
}

/// A numeric id in the path; anything else is a 404 (no such resource).
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw): Path<String> = Path::from_request_parts(parts, state)
            .await
            .map_err(|e: PathRejection| ApiError::bad_request(e.body_text()))?;
        raw.parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(Id)
            .ok_or_else(|| ApiError::not_found("resource"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_found_wherever_they_are() {
        let v = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
        assert_eq!(control_character_at(&v(r#"{"a": "ok\n\ttab"}"#)), None);
        assert_eq!(
            control_character_at(&v(r#"{"login": "admin\u0000"}"#)).as_deref(),
            Some("field `login`")
        );
        assert!(control_character_at(&v(r#"{"m": [1, "x\u001b[31m"]}"#)).is_some());
        assert!(control_character_at(&v(r#"{"k\u0007": 1}"#)).is_some());
        assert!(control_character_at(&v(r#"{"c1": "\u0085"}"#)).is_some());
    }
    use axum::Router;
    use axum::body::Body;
    use axum::routing::{get, post};
    use tower::ServiceExt;

    async fn call(app: Router, req: axum::http::Request<Body>) -> (StatusCode, serde_json::Value) {
        let res = app.oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or_default())
    }

    #[tokio::test]
    async fn a_plain_request_to_a_websocket_route_gets_a_json_error() {
        let app = Router::new().route("/ws", get(|_: WsUpgrade| async { "upgraded" }));
        let req = axum::http::Request::get("/ws").body(Body::empty()).unwrap();
        let (status, body) = call(app, req).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "bad_request");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("WebSocket"),
            "{body}"
        );
    }

    #[derive(serde::Deserialize, Default)]
    #[serde(deny_unknown_fields)]
    struct Opts {
        #[serde(default)]
        n: u64,
    }

    #[tokio::test]
    async fn optional_json_bodies() {
        let app = Router::new().route(
            "/x",
            post(|OptionalJsonBody(o): OptionalJsonBody<Opts>| async move { o.n.to_string() }),
        );
        let send = |body: &'static str, ctype: Option<&'static str>| {
            let mut req = axum::http::Request::post("/x");
            if let Some(c) = ctype {
                req = req.header("content-type", c);
            }
            app.clone().oneshot(req.body(Body::from(body)).unwrap())
        };
        let text = |res: axum::response::Response| async {
            let status = res.status();
            let b = axum::body::to_bytes(res.into_body(), 1024).await.unwrap();
            (status, String::from_utf8(b.to_vec()).unwrap())
        };
        assert_eq!(
            text(send("", None).await.unwrap()).await,
            (StatusCode::OK, "0".into())
        );
        assert_eq!(
            text(send(" ", Some("application/json")).await.unwrap()).await,
            (StatusCode::OK, "0".into())
        );
        assert_eq!(
            text(
                send(r#"{"n": 7}"#, Some("application/json; charset=utf-8"))
                    .await
                    .unwrap()
            )
            .await,
            (StatusCode::OK, "7".into())
        );
        let (status, _) = text(send(r#"{"n": 7}"#, Some("text/plain")).await.unwrap()).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let (status, _) = text(send(r#"{"m": 7}"#, Some("application/json")).await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, _) = text(send("{", Some("application/json")).await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}
