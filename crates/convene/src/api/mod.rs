//! REST/JSON API under `/api/v1`, described by `/api/openapi.json`. The web UI uses
//! the same API.

mod boards;
mod connections;
pub mod csrf;
mod extract;
mod files;
mod invitations;
mod lobby;
mod openapi;
mod pages;
mod recordings;
mod rooms;
mod servers;
mod session;
mod users;

#[doc(hidden)]
pub use extract::parse_clean;
pub use extract::{Id, JsonBody, OptionalJsonBody, WsUpgrade};

use crate::error::ApiError;
use crate::node::AppState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
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
        .route("/api/v1/me", get(session::me).put(session::update_me))
        .route("/api/v1/me/password", post(session::change_password))
        .route("/api/v1/people", get(users::people))
        .route("/api/v1/rooms", get(rooms::list).post(rooms::create))
        .route(
            "/api/v1/rooms/{id}",
            get(rooms::show).put(rooms::update).delete(rooms::delete),
        )
        .route("/api/v1/rooms/{id}/enter", post(rooms::enter))
        .route("/api/v1/rooms/{id}/participants", get(rooms::participants))
        .route(
            "/api/v1/rooms/{id}/invitations",
            get(invitations::list).post(invitations::create),
        )
        .route(
            "/api/v1/invitations/{id}",
            axum::routing::delete(invitations::revoke),
        )
        .route("/api/v1/invitations/check", post(invitations::check))
        .route("/api/v1/invitations/redeem", post(invitations::redeem))
        .route("/api/v1/rooms/{id}/lobby", get(lobby::show))
        .route(
            "/api/v1/rooms/{id}/lobby/{participant}/admit",
            post(lobby::admit),
        )
        .route(
            "/api/v1/rooms/{id}/lobby/{participant}/refuse",
            post(lobby::refuse),
        )
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
        // File areas; uploads stream past `max_body_bytes` (`files::is_upload`).
        .route(
            "/api/v1/rooms/{id}/files",
            get(files::room_list)
                .post(files::room_upload)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v1/rooms/{id}/boards", get(boards::list))
        // Recordings (`api/recordings.rs`).
        .route(
            "/api/v1/rooms/{id}/recordings",
            get(recordings::list).post(recordings::start),
        )
        .route(
            "/api/v1/recordings/{id}",
            get(recordings::show)
                .put(recordings::rename)
                .delete(recordings::delete),
        )
        .route(
            "/api/v1/rooms/{id}/recordings/settings",
            axum::routing::put(recordings::settings),
        )
        .route("/api/v1/recordings/{id}/stop", post(recordings::stop))
        .route("/api/v1/recordings/{id}/retry", post(recordings::retry))
        .route("/api/v1/recordings/{id}/media", get(recordings::media))
        .route(
            "/api/v1/recordings/{id}/thumbnail",
            get(recordings::thumbnail),
        )
        .route(
            "/api/v1/rooms/{id}/boards/{board}/export",
            get(boards::export),
        )
        .route(
            "/api/v1/rooms/{id}/files/{file}/content",
            get(files::room_content),
        )
        .route(
            "/api/v1/rooms/{id}/files/settings",
            axum::routing::put(files::room_settings),
        )
        .route(
            "/api/v1/rooms/{id}/folders",
            post(files::room_create_folder),
        )
        .route(
            "/api/v1/me/files",
            get(files::my_list)
                .post(files::my_upload)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v1/me/folders", post(files::my_create_folder))
        .route(
            "/api/v1/files/{id}",
            get(files::show).put(files::update).delete(files::delete),
        )
        .route("/api/v1/files/{id}/content", get(files::content))
        // A converted document's pages.
        .route("/api/v1/files/{id}/pages", get(pages::pages))
        .route("/api/v1/files/{id}/thumbnail", get(pages::thumbnail))
        .route(
            "/api/v1/rooms/{id}/files/{file}/thumbnail",
            get(pages::room_thumbnail),
        )
        .route("/api/v1/files/{id}/pages/{n}", get(pages::page_image))
        .route(
            "/api/v1/rooms/{id}/files/{file}/pages",
            get(pages::room_pages),
        )
        .route(
            "/api/v1/rooms/{id}/files/{file}/pages/{n}",
            get(pages::room_page_image),
        )
        .route(
            "/api/v1/folders/{id}",
            axum::routing::put(files::update_folder).delete(files::delete_folder),
        )
        .route("/room/{id}", get(rooms::room_page))
        .route("/invite/{token}", get(invitations::invite_page))
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

/// Every answer: no content sniffing. An answer to a signed-in caller's API request
/// is personal: no cache (a shared computer, a proxy) may keep it.
fn secure_headers(headers: &mut HeaderMap, with_session: bool) {
    use axum::http::{HeaderValue, header};
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if with_session && json {
        headers
            .entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
    }
}

/// The longest a request may take to produce its response head.
const REQUEST_DEADLINE: std::time::Duration = std::time::Duration::from_secs(6);

/// Counts and times every request by route template (not raw path, to bound labels).
pub async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    // Every request has a deadline: with the database unreachable (a partition hangs
    // rather than fails), the client hears 503 instead of waiting on a pool.
    let with_session = req
        .headers()
        .contains_key(axum::http::header::AUTHORIZATION)
        || req.headers().contains_key(axum::http::header::COOKIE);
    let deadline = if files::is_upload(&method, &route) {
        REQUEST_DEADLINE + state.config.upload_timeout
    } else {
        REQUEST_DEADLINE
    };
    let mut response = match tokio::time::timeout(deadline, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(%method, %route, "request timed out");
            crate::error::ApiError::unavailable(
                "the server could not answer in time (is the database reachable?); try again",
            )
            .into_response()
        }
    };
    state
        .metrics
        .observe_request(&method, &route, response.status().as_u16(), start.elapsed());
    secure_headers(response.headers_mut(), with_session);
    response
}
