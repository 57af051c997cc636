//! The participant's WebSocket: entry by token, then a loop that reads frames into
//! the room, writes the room's frames out, pings, and times out a silent peer.

pub mod protocol;

use crate::ids::ConnectionId;
use crate::rooms::{JoinRefused, Joiner};
use crate::server::AppState;
use crate::store::{RoomRow, UserRow};
use axum::extract::ws::{CloseFrame as WsClose, Message, WebSocket};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use protocol::{ClientMsg, CloseFrame, LeaveReason, ServerMsg, close};
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Frames queued for one connection before it counts as too slow.
const QUEUE: usize = 256;
/// Initial read and write buffer of a WebSocket connection.
const WS_BUFFER: usize = 4 * 1024;
/// Malformed frames tolerated before the connection is closed.
const MAX_BAD_FRAMES: u32 = 20;

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
        Some(token) => admit(&state, token).await,
        None => Err((
            close::BAD_TOKEN,
            "no entry token; call POST /api/v1/rooms/{id}/enter first".to_string(),
        )),
    };
    match admitted {
        Ok((user, room)) => upgrade.on_upgrade(move |socket| {
            run_connection(state, socket, user, room, remote, user_agent)
        }),
        Err((code, reason)) => {
            state.metrics.ws_rejected.inc();
            upgrade.on_upgrade(move |mut socket| async move {
                let _ = socket
                    .send(Message::Close(Some(WsClose {
                        code,
                        reason: reason.into(),
                    })))
                    .await;
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
            if user.role != crate::store::Role::Admin && !room.admits(user.id) {
                return Err((
                    close::ACCESS_WITHDRAWN,
                    "you are not a member of this room".into(),
                ));
            }
            match state.store.room_host(room.id).await {
                Ok(Some(host)) if host == state.node.id => Ok((user, room)),
                _ => Err((
                    close::ROOM_MOVED,
                    "the room is now hosted on another server; enter it again".into(),
                )),
            }
        }
        _ => Err(refused()),
    }
}

async fn run_connection(
    state: AppState,
    socket: WebSocket,
    user: UserRow,
    room: RoomRow,
    remote: String,
    user_agent: String,
) {
    // Counted by the node's task tracker so that shutdown waits for the goodbye.
    let _tracked = state.tasks.token();
    let id = ConnectionId::random();
    let (mut sink, mut stream) = socket.split();
    let (frames_tx, mut frames) = mpsc::channel::<Arc<str>>(QUEUE);
    let (closer_tx, mut closer) = oneshot::channel::<CloseFrame>();

    // Join, asking the registry again if the room task was just retiring.
    let mut joiner = Joiner {
        id: id.clone(),
        user: user.id,
        login: user.login.clone(),
        display_name: user.display_name.clone(),
        role: user.role,
        remote_addr: remote,
        user_agent,
        frames: frames_tx,
        closer: closer_tx,
    };
    let mut attempts = 0;
    let (handle, joined) = loop {
        attempts += 1;
        let h = state.rooms.open(&state, room.clone());
        match h.join(joiner).await {
            Err(JoinRefused::Gone(back)) if attempts < 5 => joiner = *back,
            other => break (h, other),
        }
    };
    if let Err(refused) = joined {
        state.metrics.ws_rejected.inc();
        let (code, reason) = match refused {
            JoinRefused::Full => (close::ROOM_FULL, "the room is full"),
            JoinRefused::Gone(_) | JoinRefused::Failed => {
                (close::INTERNAL, "the room could not be entered; try again")
            }
        };
        let _ = sink
            .send(Message::Close(Some(WsClose {
                code,
                reason: reason.into(),
            })))
            .await;
        return;
    }

    state.metrics.ws_connections.inc();
    let config = &state.config;
    let mut ping = tokio::time::interval(config.ws_ping_interval);
    ping.reset();
    let mut last_heard = Instant::now();
    let mut bad_frames = 0u32;
    let shutdown = state.shutdown.clone();

    let (reason, close_frame): (LeaveReason, Option<CloseFrame>) = loop {
        tokio::select! {
            biased;
            decided = &mut closer => match decided {
                // The room already removed us and told the others why.
                Ok(close_frame) => break (LeaveReason::Kicked, Some(close_frame)),
                Err(_) => break (LeaveReason::Error, Some(CloseFrame::new(close::INTERNAL, "the room stopped"))),
            },
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    last_heard = Instant::now();
                    match serde_json::from_str::<ClientMsg>(text.as_str()) {
                        Ok(msg) => {
                            if !handle.request(id.clone(), msg).await {
                                break (LeaveReason::Error, Some(CloseFrame::new(close::INTERNAL, "the room stopped")));
                            }
                        }
                        Err(e) => {
                            state.metrics.ws_bad_frames.inc();
                            bad_frames += 1;
                            if bad_frames > MAX_BAD_FRAMES {
                                break (LeaveReason::Error, Some(CloseFrame::new(close::POLICY, "too many malformed frames")));
                            }
                            let message = format!("malformed frame: {e}");
                            let frame = ServerMsg::Error { code: "bad_request", message: &message }.to_frame();
                            if sink.send(Message::Text(frame.as_ref().into())).await.is_err() {
                                break (LeaveReason::Error, None);
                            }
                        }
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    state.metrics.ws_bad_frames.inc();
                    break (LeaveReason::Error, Some(CloseFrame::new(close::POLICY, "binary frames are not accepted")));
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => last_heard = Instant::now(),
                Some(Ok(Message::Close(_))) | None => break (LeaveReason::Left, None),
                Some(Err(e)) => {
                    let too_big = e.to_string().to_lowercase().contains("too long")
                        || e.to_string().to_lowercase().contains("size");
                    if too_big {
                        state.metrics.ws_bad_frames.inc();
                        break (LeaveReason::Error, Some(CloseFrame::new(close::TOO_BIG, "frame too large")));
                    }
                    break (LeaveReason::Left, None);
                }
            },
            frame = frames.recv() => match frame {
                Some(frame) => {
                    if sink.send(Message::Text(frame.as_ref().into())).await.is_err() {
                        break (LeaveReason::Left, None);
                    }
                }
                // The room dropped our queue: it closed us (the reason is in `closer`) or died.
                None => match closer.try_recv() {
                    Ok(close_frame) => break (LeaveReason::Kicked, Some(close_frame)),
                    Err(_) => break (LeaveReason::Error, Some(CloseFrame::new(close::INTERNAL, "the room stopped"))),
                },
            },
            _ = ping.tick() => {
                if last_heard.elapsed() >= config.ws_timeout {
                    break (LeaveReason::Timeout, Some(CloseFrame::new(close::GOING_AWAY, "no response from your browser; connection timed out")));
                }
                if sink.send(Message::Ping(Vec::new().into())).await.is_err() {
                    break (LeaveReason::Left, None);
                }
            }
            _ = shutdown.cancelled() => {
                break (LeaveReason::Shutdown, Some(CloseFrame::new(close::GOING_AWAY, "the server is shutting down; enter the room again")));
            }
        }
    };

    handle.leave(id.clone(), reason).await;
    if let Some(c) = close_frame {
        let _ = sink
            .send(Message::Close(Some(WsClose {
                code: c.code,
                reason: c.reason.into(),
            })))
            .await;
    } else {
        let _ = sink.close().await;
    }
    if let Err(e) = state.store.delete_connection(&id).await {
        tracing::warn!(error = %e, connection = %id, "cannot delete connection row");
    }
    state.metrics.ws_connections.dec();
}
