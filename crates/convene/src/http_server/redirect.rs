//! `http_redirect_port`: a plain-HTTP listener that sends every request to HTTPS —
//! `301` to the same host on the HTTPS port (or to `public_url` when it is set).

use crate::public_url::normalise_host;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Where the redirects point.
struct Target {
    /// The HTTPS port of the node's listener.
    https_port: u16,
    /// `public_url` when it is an https:// URL: redirects go there, whatever the Host.
    public: Option<String>,
}

/// The router of the redirect listener.
pub fn redirect_app(https_port: u16, public_url: Option<&str>) -> Router {
    let target = Arc::new(Target {
        https_port,
        public: public_url
            .filter(|u| u.starts_with("https://"))
            .map(|u| u.trim_end_matches('/').to_string()),
    });
    Router::new().fallback(redirect).with_state(target)
}

async fn redirect(State(target): State<Arc<Target>>, req: Request) -> Response {
    let path = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let path = if path.starts_with('/') {
        path
    } else {
        "/".to_string()
    };
    let origin = match &target.public {
        Some(public) => public.clone(),
        None => {
            let host = req
                .headers()
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| normalise_host("http", v));
            let Some(host) = host else {
                return (
                    StatusCode::BAD_REQUEST,
                    "this port redirects to HTTPS; the request has no valid Host header\n",
                )
                    .into_response();
            };
            // The host without the port it came in on (IPv6 in brackets keeps its colons).
            let name = match host.rsplit_once(':') {
                Some((name, port)) if !port.contains(']') => name.to_string(),
                _ => host,
            };
            if target.https_port == 443 {
                format!("https://{name}")
            } else {
                format!("https://{name}:{}", target.https_port)
            }
        }
    };
    let location = format!("{origin}{path}");
    match HeaderValue::from_str(&location) {
        Ok(value) => (
            StatusCode::MOVED_PERMANENTLY,
            [(header::LOCATION, value)],
            format!("moved to {location}\n"),
        )
            .into_response(),
        Err(_) => (StatusCode::BAD_REQUEST, "bad request\n").into_response(),
    }
}
