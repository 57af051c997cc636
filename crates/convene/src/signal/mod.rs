//! The participant's WebSocket: entry by token (here), then the connection itself
//! (`connection.rs`): a reader into the room and a writer with a write deadline
//! (`writer.rs`), which pings and times out a silent or non-reading peer.

mod connection;
mod writer;

use crate::node::AppState;
use crate::protocol::{CloseFrame, close};
use crate::store::{RoomRow, UserRow};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use std::net::SocketAddr;

/// Initial read and write buffer of a WebSocket connection.
const WS_BUFFER: usize = 4 * 1024;

#[derive(Deserialize)]
pub struct WsQuery {
    token: Option<String>,
}

/// `GET /ws?token=…`
pub async fn ws_handler(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<WsQuery>,
    crate::api::WsUpgrade(upgrade): crate::api::WsUpgrade,
) -> Response {
    // The WebSocket library's default buffers are 128 KiB each, zero-filled and so
    // resident: most of a node's memory at a thousand participants. Frames here are
    // small JSON; the buffers grow on demand up to the message limit.
    let upgrade = upgrade
        .max_message_size(state.config.max_ws_message_bytes)
        .max_frame_size(state.config.max_ws_message_bytes)
        .read_buffer_size(WS_BUFFER)
        .write_buffer_size(WS_BUFFER);
    let remote = crate::api::client_addr(&state, &headers, peer);
    let user_agent: String = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(256)
        .collect();
    let admitted = match query.token.as_deref() {
        // The database may be slow or away: the entry is refused rather than left hanging.
        Some(token) => tokio::time::timeout(state.config.ws_timeout, admit(&state, token))
            .await
            .unwrap_or_else(|_| Err((close::INTERNAL, "server busy; try again".to_string()))),
        None => Err((
            close::BAD_TOKEN,
            "no entry token; call POST /api/v1/rooms/{id}/enter first".to_string(),
        )),
    };
    match admitted {
        Ok((user, room)) => upgrade.on_upgrade(move |socket| {
            let admitted = connection::Admitted {
                user,
                room,
                remote,
                user_agent,
            };
            connection::run(state, socket, admitted)
        }),
        Err((code, reason)) => {
            state.metrics.ws_rejected.inc();
            let deadline = state.config.ws_timeout;
            upgrade.on_upgrade(move |mut socket| async move {
                let close = writer::close_message(CloseFrame::new(code, reason));
                let _ = tokio::time::timeout(deadline, socket.send(close)).await;
            })
        }
    }
}

/// Redeems the entry token and re-checks that the user may still enter the room, and
/// that this node still hosts it (it may have been drained or released meanwhile).
async fn admit(state: &AppState, token: &str) -> Result<(UserRow, RoomRow), (u16, String)> {
    let refused = || {
        (
            close::BAD_TOKEN,
            "entry token invalid, expired, already used or for another server".to_string(),
        )
    };
    let grant = match state.store.redeem_entry_token(token, state.node.id).await {
        Ok(Some(grant)) => grant,
        Ok(None) => return Err(refused()),
        Err(e) => {
            tracing::error!(error = %e, "cannot redeem entry token");
            return Err((close::INTERNAL, "server error; try again".into()));
        }
    };
    let user = state.store.user(grant.user).await.ok().flatten();
    let room = state.store.room(grant.room).await.ok().flatten();
    match (user, room) {
        (Some(user), Some(room)) if user.enabled => {
            if !crate::auth::policy::may_be_in_room(user.role, user.id, &room) {
                return Err((
                    close::ACCESS_WITHDRAWN,
                    "you are not a member of this room".into(),
                ));
            }
            // Hosted here under this node's current epoch, and the lease holds.
            match state.store.room_host(room.id).await {
                Ok(Some(host))
                    if host.node == state.node.id
                        && host.epoch == state.lease.epoch()
                        && state.lease.is_valid() =>
                {
                    Ok((user, room))
                }
                _ => Err((
                    close::ROOM_MOVED,
                    "the room is now hosted on another server; enter it again".into(),
                )),
            }
        }
        _ => Err(refused()),
    }
}
