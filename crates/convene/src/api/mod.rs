//! REST/JSON API under `/api/v1`, described by `/api/openapi.json`. The web UI uses
//! the same API.

mod connections;
mod extract;
mod openapi;
mod rooms;
mod servers;
mod session;
mod users;

pub use extract::{Id, JsonBody, OptionalJsonBody, WsUpgrade};

use crate::error::ApiError;
use crate::server::AppState;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::net::SocketAddr;
use std::time::Instant;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/openapi.json", get(openapi::document))
        .route("/api/v1/login", post(session::login))
        .route("/api/v1/logout", post(session::logout))
        .route("/api/v1/me", get(session::me))
        .route("/api/v1/rooms", get(rooms::list).post(rooms::create))
        .route(
            "/api/v1/rooms/{id}",
            get(rooms::show).put(rooms::update).delete(rooms::delete),
        )
        .route("/api/v1/rooms/{id}/enter", post(rooms::enter))
        .route("/api/v1/rooms/{id}/participants", get(rooms::participants))
        .route("/api/v1/users", get(users::list).post(users::create))
        .route(
            "/api/v1/users/{id}",
            get(users::show).put(users::update).delete(users::delete),
        )
        .route("/api/v1/servers", get(servers::list).post(servers::create))
        .route(
            "/api/v1/servers/{id}",
            get(servers::show).put(servers::update),
        )
        .route("/api/v1/servers/{id}/drain", post(servers::drain))
        .route("/api/v1/connections", get(connections::list))
        .route(
            "/api/v1/connections/{id}",
            axum::routing::delete(connections::kick),
        )
        .route("/room/{id}", get(rooms::room_page))
        // Applies to the routes above only; the node's router adds it for its own routes.
        .method_not_allowed_fallback(method_not_allowed)
}

/// A wrong method on a known path: 405 with the JSON error (axum adds `Allow`).
pub async fn method_not_allowed() -> impl IntoResponse {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this method is not allowed here; the Allow header lists those that are",
    )
}

/// The client's address: the socket peer, or the first X-Forwarded-For hop when the
/// node is configured to sit behind a trusted reverse proxy.
pub fn client_addr(state: &AppState, headers: &HeaderMap, peer: SocketAddr) -> String {
    if state.config.trust_forwarded_for
        && let Some(forwarded) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| v.parse::<std::net::IpAddr>().is_ok())
    {
        return forwarded.to_string();
    }
    peer.ip().to_string()
}

/// Counts and times every request by route template (not raw path, to bound labels).
pub async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(req).await;
    state
        .metrics
        .observe_request(&method, &route, response.status().as_u16(), start.elapsed());
    response
}
