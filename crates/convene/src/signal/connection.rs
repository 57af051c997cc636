//! One participant's connection once admitted: join the room, then a reader and a
//! writer (`writer.rs`) side by side, and one cleanup on every way out.
//!
//! The reader never writes and the writer never reads, so a peer that stops reading
//! stalls only the writer, whose deadline then ends the connection; meanwhile the
//! reader still sees the peer's pings, pongs and close.

use super::writer::{Finish, Writer, WriterEnd, close_message};
use crate::ids::ConnectionId;
use crate::node::AppState;
use crate::protocol::{ClientMsg, CloseFrame, LeaveReason, ServerMsg, close};
use crate::rooms::{JoinRefused, Joiner, RoomHandle};
use crate::store::{RoomRow, UserRow};
use axum::extract::ws::{Message, WebSocket};
use futures_util::stream::SplitStream;
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, timeout};

/// Frames queued for one connection before it counts as too slow.
const QUEUE: usize = 256;
/// The connection's own frames (error replies) waiting for the writer; more are dropped.
const CONTROL_QUEUE: usize = 16;
/// Malformed frames tolerated before the connection is closed.
const MAX_BAD_FRAMES: u32 = 20;
/// After the room's close frame is out, how long the peer may take to answer it.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// The least time a join is given (it waits on the database).
const JOIN_DEADLINE: Duration = Duration::from_secs(10);
/// How long a late join is awaited, to undo it, after its deadline passed.
const LATE_JOIN: Duration = Duration::from_secs(60);

pub(super) struct Admitted {
    pub user: UserRow,
    pub room: RoomRow,
    pub remote: String,
    pub user_agent: String,
}

pub(super) async fn run(state: AppState, socket: WebSocket, admitted: Admitted) {
    // Counted by the node's task tracker so that shutdown waits for the goodbye.
    let _tracked = state.tasks.token();
    let deadline = state.config.ws_timeout;
    let id = ConnectionId::random();
    let (mut sink, stream) = socket.split();
    let (frames_tx, frames) = mpsc::channel::<Arc<str>>(QUEUE);
    let (closer_tx, closer) = oneshot::channel::<CloseFrame>();
    let Admitted {
        user,
        room,
        remote,
        user_agent,
    } = admitted;
    let joiner = Joiner {
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

    // The join writes the connection row and reads the welcome's data first.
    let join_deadline = deadline.max(JOIN_DEADLINE);
    let handle = match join_in_time(&state, room, joiner, id.clone(), join_deadline).await {
        Ok(handle) => handle,
        Err(refused) => {
            state.metrics.ws_rejected.inc();
            let _ = timeout(deadline, sink.send(close_message(refused))).await;
            return;
        }
    };
    let seat = Seat::new(state.clone(), handle.clone(), id.clone());

    let reason = {
        let (control_tx, control) = mpsc::channel(CONTROL_QUEUE);
        let (finish_tx, finish) = oneshot::channel();
        let writer = Writer {
            sink,
            frames,
            control,
            closer,
            finish: Some(finish),
            deadline,
            ping_every: state.config.ws_ping_interval,
        }
        .run();
        let reader = read(&state, &handle, &id, stream, control_tx);
        tokio::pin!(writer, reader);
        tokio::select! {
            end = &mut writer => match end {
                WriterEnd::RoomClosed => {
                    // The room removed us already; let the peer answer the close.
                    let _ = timeout(CLOSE_GRACE.min(deadline), &mut reader).await;
                    LeaveReason::Kicked
                }
                WriterEnd::RoomStopped => LeaveReason::Error,
                WriterEnd::Stalled => {
                    tracing::info!(connection = %id, "the peer stopped reading; connection closed");
                    LeaveReason::Slow
                }
                WriterEnd::Broken | WriterEnd::Finished => LeaveReason::Left,
            },
            (reason, close) = &mut reader => {
                let _ = finish_tx.send(close.map_or(Finish::Now, Finish::Close));
                // Each write is bounded already (one under way, then the close).
                let _ = timeout(deadline * 2 + Duration::from_secs(1), &mut writer).await;
                reason
            }
        }
        // Both halves are dropped here: the TCP connection is shut.
    };
    seat.leave(reason).await;
}

/// Joins the room, asking the registry again if the room task was just retiring.
/// A join that misses the deadline is refused; if the room seats it later, it is
/// undone in the background.
async fn join_in_time(
    state: &AppState,
    room: RoomRow,
    joiner: Joiner,
    id: ConnectionId,
    deadline: Duration,
) -> Result<RoomHandle, CloseFrame> {
    let mut joining = tokio::spawn(join(state.clone(), room, joiner));
    let joined = match timeout(deadline, &mut joining).await {
        Ok(Ok(joined)) => joined,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "the join task failed");
            Err(JoinRefused::Failed)
        }
        Err(_) => {
            tracing::warn!(connection = %id, "the room did not answer the join in time");
            let state = state.clone();
            tokio::spawn(async move {
                if let Ok(Ok(Ok(handle))) = timeout(LATE_JOIN, joining).await {
                    Seat::new(state, handle, id).leave(LeaveReason::Error).await;
                }
            });
            Err(JoinRefused::Failed)
        }
    };
    joined.map_err(|refused| refused.close_frame())
}

async fn join(
    state: AppState,
    room: RoomRow,
    mut joiner: Joiner,
) -> Result<RoomHandle, JoinRefused> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let handle = state.rooms.open(room.clone());
        match handle.join(joiner).await {
            Ok(()) => return Ok(handle),
            Err(JoinRefused::Gone(back)) if attempts < 5 => joiner = *back,
            Err(refused) => return Err(refused),
        }
    }
}

/// Reads the peer's frames into the room until the connection should end; returns
/// why, and the close frame to send, if any.
async fn read(
    state: &AppState,
    handle: &RoomHandle,
    id: &ConnectionId,
    mut stream: SplitStream<WebSocket>,
    control: mpsc::Sender<Arc<str>>,
) -> (LeaveReason, Option<CloseFrame>) {
    let config = &state.config;
    let mut last_heard = Instant::now();
    let mut bad_frames = 0u32;
    // When the room turned out to be gone: its close (say 4010 when fenced) reaches
    // the writer through `closer`, so the reader waits for the writer to send it
    // rather than racing it with a close of its own.
    let mut room_gone: Option<Instant> = None;
    let room_stopped = || {
        (
            LeaveReason::Error,
            Some(CloseFrame::new(close::INTERNAL, "the room stopped")),
        )
    };
    loop {
        let incoming = tokio::select! {
            biased;
            _ = state.shutdown.cancelled() => {
                return (
                    LeaveReason::Shutdown,
                    Some(CloseFrame::new(close::GOING_AWAY, "the server is shutting down; enter the room again")),
                );
            }
            // Before the timer: time spent handing a frame to the room is not silence.
            incoming = stream.next() => incoming,
            _ = tokio::time::sleep_until(last_heard + config.ws_timeout) => {
                return (
                    LeaveReason::Timeout,
                    Some(CloseFrame::new(close::GOING_AWAY, "no response from your browser; connection timed out")),
                );
            }
            _ = tokio::time::sleep_until(room_gone.unwrap_or_else(Instant::now) + config.ws_timeout), if room_gone.is_some() => {
                return room_stopped();
            }
        };
        match incoming {
            Some(Ok(Message::Text(text))) => {
                last_heard = Instant::now();
                match serde_json::from_str::<ClientMsg>(text.as_str()) {
                    // The room's mailbox is bounded: a room that does not take the
                    // frame in time is as good as stopped for this connection.
                    Ok(_) if room_gone.is_some() => {}
                    Ok(msg) => {
                        match timeout(config.ws_timeout, handle.request(id.clone(), msg)).await {
                            Ok(true) => {}
                            Ok(false) => room_gone = Some(Instant::now()),
                            Err(_) => {
                                return (
                                    LeaveReason::Error,
                                    Some(CloseFrame::new(
                                        close::INTERNAL,
                                        "the room is not responding",
                                    )),
                                );
                            }
                        }
                    }
                    Err(e) => {
                        state.metrics.ws_bad_frames.inc();
                        bad_frames += 1;
                        if bad_frames > MAX_BAD_FRAMES {
                            return (
                                LeaveReason::Error,
                                Some(CloseFrame::new(close::POLICY, "too many malformed frames")),
                            );
                        }
                        let message = format!("malformed frame: {e}");
                        let frame = ServerMsg::Error {
                            code: crate::protocol::ErrorCode::BadRequest,
                            message: &message,
                        }
                        .to_frame();
                        // A full queue means the writer is stuck; its deadline acts.
                        let _ = control.try_send(frame);
                    }
                }
            }
            Some(Ok(Message::Binary(_))) => {
                state.metrics.ws_bad_frames.inc();
                return (
                    LeaveReason::Error,
                    Some(CloseFrame::new(
                        close::POLICY,
                        "binary frames are not accepted",
                    )),
                );
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => last_heard = Instant::now(),
            Some(Ok(Message::Close(_))) | None => return (LeaveReason::Left, None),
            Some(Err(e)) => {
                let text = e.to_string().to_lowercase();
                if text.contains("too long") || text.contains("size") {
                    state.metrics.ws_bad_frames.inc();
                    return (
                        LeaveReason::Error,
                        Some(CloseFrame::new(close::TOO_BIG, "frame too large")),
                    );
                }
                return (LeaveReason::Left, None);
            }
        }
    }
}

/// A seated participant: leaving the room and deleting the connection row happen
/// exactly once, through `leave`, or from `drop` if the connection task is cut short.
struct Seat {
    inner: Option<(AppState, RoomHandle, ConnectionId)>,
}

impl Seat {
    fn new(state: AppState, handle: RoomHandle, id: ConnectionId) -> Seat {
        state.metrics.ws_connections.inc();
        Seat {
            inner: Some((state, handle, id)),
        }
    }

    async fn leave(mut self, reason: LeaveReason) {
        if let Some((state, handle, id)) = self.inner.take() {
            cleanup(state, handle, id, reason).await;
        }
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        if let Some((state, handle, id)) = self.inner.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(cleanup(state, handle, id, LeaveReason::Error));
        }
    }
}

async fn cleanup(state: AppState, handle: RoomHandle, id: ConnectionId, reason: LeaveReason) {
    let deadline = state.config.ws_timeout;
    if timeout(deadline, handle.leave(id.clone(), reason))
        .await
        .is_err()
    {
        // It notices by itself: our queue is closed, so its next frame to us fails.
        tracing::warn!(connection = %id, "the room did not take the leave in time");
    }
    match timeout(deadline, state.store.delete_connection(&id)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, connection = %id, "cannot delete connection row"),
        Err(_) => tracing::warn!(connection = %id, "deleting the connection row timed out"),
    }
    state.metrics.ws_connections.dec();
}
