//! The OpenMeetings-compatible web-service API, so that integrations written for Apache
//! OpenMeetings (the Moodle plugin, om-hosting's clients, in-house ones) work unchanged:
//! `{prefix}/services/…` (REST/JSON in OpenMeetings' shapes) and the browser's entry page
//! `{prefix}/hash?secure=…`. What is supported and what differs: `docs/openmeetings-api.md`.
//!
//! Everything maps onto Convene's own concepts: a `user/login` sid is an ordinary API
//! session (the webservice role's rights, never more); rooms are ordinary rooms; an
//! external person is an ordinary `user` account, made a member (or moderator) of the room
//! its hash is for; the hash page sends the browser to the room's node before it spends the
//! hash, like `POST /api/v1/rooms/{id}/enter` does with its entry tokens.

mod dto;
mod hash;
mod listings;
mod reply;
mod room;
mod transport;
mod user;

use crate::auth::{Caller, Via};
use crate::cluster::events::Event;
use crate::config::Config;
use crate::ids::RoomId;
use crate::node::AppState;
use crate::store::{ConnectionRow, Role};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use reply::{Fail, not_allowed, status_only};
use transport::OmRequest;

/// The API's routes under the configured prefix (`openmeetings_prefix`).
pub fn router(config: &Config) -> Router<AppState> {
    let services = Router::new()
        .route("/info/version", get(listings::version))
        .route("/info/health", get(listings::health))
        .route("/error/{key}/{lang}", get(listings::error_label))
        .route("/user/login", get(user::login).post(user::login))
        .route("/user/hash", post(user::hash))
        .route("/user", get(user::list).post(user::add))
        .route("/user/", get(user::list).post(user::add))
        .route("/user/{id}", axum::routing::delete(user::delete))
        .route(
            "/user/{externaltype}/{externalid}",
            axum::routing::delete(user::delete_external),
        )
        .route("/room", post(room::add))
        .route("/room/", post(room::add))
        .route("/room/{id}", get(room::show).delete(room::delete))
        .route(
            "/room/{type}/{externaltype}/{externalid}",
            get(room::external),
        )
        .route("/room/hash", post(room::invitation))
        .route("/room/count/{id}", get(room::count))
        .route("/room/users/{id}", get(room::users))
        .route("/room/kick/{id}", get(room::kick_all))
        .route(
            "/room/kick/{id}/{externaltype}/{externalid}",
            get(room::kick_one),
        )
        .route("/room/public/{type}", get(room::public))
        .route("/room/close/{id}", get(room::close))
        .route("/room/open/{id}", get(room::open))
        .route(
            "/file/{externaltype}",
            get(listings::files_by_type).delete(listings::file_delete),
        )
        .route("/file/room/{id}", get(listings::room_files))
        .route("/file", post(listings::file_upload))
        .route("/file/", post(listings::file_upload))
        .route(
            "/record/{externaltype}",
            get(listings::records_by_type).delete(listings::record_delete),
        )
        .route(
            "/record/{externaltype}/{externalid}",
            get(listings::records_of_user),
        )
        .route("/record/room/{id}", get(listings::records_of_room))
        .route("/wb/resetwb/{id}", get(listings::reset_whiteboards))
        .route("/group", get(listings::groups))
        .route("/group/", get(listings::groups))
        .method_not_allowed_fallback(|| async { status_only(StatusCode::METHOD_NOT_ALLOWED) });
    let prefix = config.openmeetings_prefix.as_str();
    Router::new()
        .nest(&format!("{prefix}/services"), services)
        .route(&format!("{prefix}/hash"), get(hash::page))
        .method_not_allowed_fallback(|| async { status_only(StatusCode::METHOD_NOT_ALLOWED) })
}

/// `frame_ancestors`: when origins are configured (an LMS embedding Convene's pages in an
/// iframe), the pages' `frame-ancestors 'none'` becomes that list and `X-Frame-Options`
/// goes. Without the setting nothing changes.
pub async fn frame_policy(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let allowed = &state.config.frame_ancestors;
    if allowed.is_empty() {
        return response;
    }
    let headers = response.headers_mut();
    let csp = headers
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.contains("frame-ancestors 'none'"))
        .map(|v| {
            v.replace(
                "frame-ancestors 'none'",
                &format!("frame-ancestors {}", allowed.join(" ")),
            )
        });
    if let Some(csp) = csp.and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
        headers.remove(header::X_FRAME_OPTIONS);
    }
    response
}

/// The caller of a protected call: the session of the `sid` query parameter, of an account
/// with the web-service right (a webservice account, or an administrator). It acts as an
/// API (Bearer) session does, with the rights of its role and no more.
pub async fn soap(state: &AppState, req: &OmRequest) -> Result<Caller, Fail> {
    let Some(sid) = req.sid() else {
        return Err(not_allowed());
    };
    let Some(session) = state.store.session_user(sid).await? else {
        return Err(not_allowed());
    };
    if !matches!(session.user.role, Role::Webservice | Role::Admin) {
        return Err(not_allowed());
    }
    Ok(Caller {
        user: session.user,
        sid: sid.to_string(),
        via: Via::Bearer,
        guest: None,
    })
}

/// Closes these connections of a room, on whichever node holds them (as Administration →
/// Connections does); true when there was at least one.
async fn kick_connections(state: &AppState, rows: &[ConnectionRow]) -> Result<bool, Fail> {
    for row in rows {
        if row.server_id == state.node.id {
            if let Some(room) = state.rooms.get(row.room_id) {
                room.kick(row.id.clone()).await;
            }
            state.store.delete_connection(&row.id).await?;
        } else {
            state
                .events
                .publish(&Event::Kick {
                    node: row.server_id,
                    room: row.room_id,
                    connection: row.id.clone(),
                })
                .await?;
        }
    }
    Ok(!rows.is_empty())
}

/// Tells the room's host that its definition changed.
async fn room_changed(state: &AppState, room: RoomId) -> Result<(), Fail> {
    state.events.publish(&Event::RoomChanged { room }).await?;
    Ok(())
}
