//! The live room actor: the I/O around the room's rules (`rules.rs`, `media.rs`). It
//! owns the channels to each participant's connection, feeds every input to the
//! state machine and carries out the effects: frames into each connection's bounded
//! queue (a full queue feeds back as "too slow"), closes, chat to its writer
//! (`chat.rs`), commands to the node's media service. It never awaits the database,
//! and serves only while the node's lease holds: when it is fenced, everyone is
//! closed with 4010 and enters again through placement.

mod access;
mod board;
mod board_io;
pub(crate) mod chat;
mod fuzzing;
mod limits;
mod lobby;
mod media;
mod mirror;
mod recording;
mod rules;
#[cfg(test)]
mod tests;

use super::{JoinRefused, Prepared, Registry, RoomCmd, RoomContext};
use crate::ids::{ConnectionId, UserId};
use crate::media::MediaCmd;
use crate::protocol::{CloseFrame, ErrorCode, ServerMsg};
use crate::store::{Role, RoomRow};
pub(crate) use board::{BoardWrite, DocumentRequest};
use board_io::{BoardWriter, Job};
use chat::ChatWriter;
#[doc(hidden)]
pub use fuzzing::fuzz_room;
pub use limits::{Budget, RateLimits};
pub use lobby::LobbyOutcome;
use mirror::LobbyMirror;
use rules::{Effect, MediaOp, NodeFacts, RoomState, Seat};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// How soon media commands the media task's full mailbox refused are offered again.
const MEDIA_RETRY: Duration = Duration::from_millis(20);
/// Media commands a room keeps for a media task that takes none before dropping them.
const MEDIA_BACKLOG: usize = 4096;

/// Everything the room needs to seat a new participant.
pub struct Joiner {
    pub id: ConnectionId,
    pub user: UserId,
    pub login: String,
    pub display_name: String,
    pub role: Role,
    pub remote_addr: String,
    pub user_agent: String,
    /// The connection's outgoing queue (bounded).
    pub frames: mpsc::Sender<Arc<str>>,
    /// Fired to make the connection close with a code and reason.
    pub closer: oneshot::Sender<CloseFrame>,
}

/// The actor's side of one participant.
struct Conn {
    frames: mpsc::Sender<Arc<str>>,
    closer: oneshot::Sender<CloseFrame>,
}

struct Room {
    ctx: Arc<RoomContext>,
    registry: Registry,
    rules: RoomState,
    conns: HashMap<ConnectionId, Conn>,
    empty_since: Option<Instant>,
    chat: ChatWriter,
    boards: BoardWriter,
    /// The lobby's copy in the database.
    lobby: LobbyMirror,
    /// Commands for the media service, sent after each input is handled.
    /// Media commands not yet taken by the media task, in order. The room never
    /// waits for the media task: a full mailbox leaves them here for the next turn.
    media_out: VecDeque<MediaCmd>,
    /// The room's own mailbox, for lookups that answer later.
    back: mpsc::WeakSender<RoomCmd>,
    /// The capture this node runs while the room is recorded (dropping it stops it).
    capture: Option<crate::recordings::capture::CaptureHandle>,
}

pub(super) fn spawn(
    ctx: Arc<RoomContext>,
    registry: Registry,
    room: RoomRow,
    back: mpsc::WeakSender<RoomCmd>,
    rx: mpsc::Receiver<RoomCmd>,
) {
    let tasks = ctx.tasks.clone();
    tasks.spawn(async move {
        ctx.metrics.live_rooms.inc();
        let id = room.id;
        let chat = ChatWriter::spawn(ctx.store.clone(), id, back.clone(), &ctx.tasks);
        let boards = BoardWriter::spawn(ctx.store.clone(), id, back.clone(), &ctx.tasks);
        board_io::load(ctx.store.clone(), id, back.clone(), &ctx.tasks);
        recording::look_up(ctx.store.clone(), id, true, back.clone(), &ctx.tasks);
        let lobby = LobbyMirror::spawn(ctx.store.clone(), id, &ctx.tasks);
        let node = NodeFacts {
            server: ctx.server.clone(),
            media: ctx.media.is_some(),
            ice_servers: ctx
                .media
                .as_ref()
                .map(|m| m.ice_servers.clone())
                .unwrap_or_default(),
            chat_history: ctx.chat_history as usize,
            limits: ctx.rate_limits,
        };
        let mut actor = Room {
            ctx: ctx.clone(),
            registry,
            rules: RoomState::new(room, node),
            conns: HashMap::new(),
            empty_since: Some(Instant::now()),
            chat,
            boards,
            back,
            lobby,
            media_out: VecDeque::new(),
            capture: None,
        };
        actor.run(rx).await;
        ctx.metrics.live_rooms.dec();
        tracing::debug!(room = %id, "room task stopped");
    });
}

impl Room {
    async fn run(&mut self, mut rx: mpsc::Receiver<RoomCmd>) {
        let mut grace = self.ctx.room_grace;
        let shutdown = self.ctx.shutdown.clone();
        let mut fences = self.ctx.lease.fences();
        fences.mark_unchanged();
        loop {
            let idle_deadline = self.empty_since.map(|t| t + grace);
            tokio::select! {
                // The node is stopping: connections are leaving; go as soon as the room is empty.
                _ = shutdown.cancelled(), if !grace.is_zero() => {
                    grace = Duration::ZERO;
                }
                Ok(()) = fences.changed(), if !self.rules.is_fenced() => {
                    self.rules.fence();
                    grace = Duration::ZERO;
                }
                cmd = rx.recv() => match cmd {
                    Some(cmd) => {
                        if !self.rules.is_fenced() && !self.ctx.lease.is_valid() {
                            // The deadline passed before the watchdog ran: fence now.
                            self.ctx.lease.fence("the lease ran out");
                            self.rules.fence();
                            grace = Duration::ZERO;
                        }
                        self.handle(cmd);
                    }
                    None => break,
                },
                _ = tokio::time::sleep(MEDIA_RETRY), if !self.media_out.is_empty() => {}
                _ = sleep_until_opt(idle_deadline) => {
                    if self.registry.retire(self.rules.room_id(), &rx) {
                        break;
                    }
                }
            }
            self.apply_effects();
            self.flush_media();
        }
        // The room ends: so does its recording (the capture writes what it holds).
        self.stop_capture();
        self.flush_media();
        // Refuse whatever slipped in before the registry forgot us; joiners retry.
        rx.close();
        while let Some(cmd) = rx.recv().await {
            if let RoomCmd::Join { joiner, reply, .. } = cmd {
                let _ = reply.send(Err(JoinRefused::Gone(Box::new(joiner))));
            }
        }
        if self.rules.is_empty() && !self.rules.is_fenced() {
            // A fenced room keeps its assignment: its node may well get the lease back.
            let release = self
                .ctx
                .store
                .release_room_host(self.rules.room_id(), self.ctx.server.id);
            // Bounded: placement treats an assignment of an empty room as harmless.
            let _ = tokio::time::timeout(Duration::from_secs(2), release).await;
        }
    }

    fn handle(&mut self, cmd: RoomCmd) {
        let rules = &mut self.rules;
        match cmd {
            RoomCmd::Join {
                joiner,
                prepared,
                reply,
            } => {
                let Prepared {
                    since,
                    history,
                    servers,
                    invited_moderator,
                } = prepared;
                let seat = Seat {
                    id: joiner.id.clone(),
                    user: joiner.user,
                    login: joiner.login,
                    display_name: joiner.display_name,
                    role: joiner.role,
                    since,
                    history,
                    servers,
                    invited_moderator,
                };
                let result = rules.join(seat);
                if result.is_ok() {
                    if rules.is_waiting(&joiner.id) {
                        tracing::info!(room = %rules.room_id(), connection = %joiner.id, user = %joiner.user, "waiting in the lobby");
                    } else {
                        tracing::info!(room = %rules.room_id(), connection = %joiner.id, user = %joiner.user, "participant joined");
                    }
                    self.conns.insert(
                        joiner.id,
                        Conn {
                            frames: joiner.frames,
                            closer: joiner.closer,
                        },
                    );
                }
                let _ = reply.send(result);
            }
            RoomCmd::ChatStored(stored) => {
                if stored.row.is_some() {
                    self.ctx.metrics.chat_messages.inc();
                }
                rules.chat_stored(stored.from, stored.row)
            }
            RoomCmd::BoardsLoaded(boards) => rules.boards_loaded(*boards),
            RoomCmd::BoardsStored { writes, stored } => rules.boards_stored(writes, stored),
            RoomCmd::DocumentLoaded { request, result } => rules.document_loaded(request, result),
            RoomCmd::Leave { id, reason } => rules.remove(&id, reason, None),
            RoomCmd::Request { from, msg, at } => rules.request(&from, msg, at),
            RoomCmd::Kick { id, reply } => {
                let _ = reply.send(rules.kick(&id));
            }
            RoomCmd::CloseUser { user, close } => rules.close_user(user, close),
            RoomCmd::SetRole { user, role } => rules.set_role(user, role),
            RoomCmd::Update(room) => rules.update(*room),
            RoomCmd::CloseAll { close, reason } => rules.close_all(close, reason),
            RoomCmd::Broadcast(frame) => rules.broadcast(frame),
            RoomCmd::Snapshot(reply) => {
                let _ = reply.send(rules.participants());
            }
            RoomCmd::Lobby(reply) => {
                let _ = reply.send(rules.waiters());
            }
            RoomCmd::RecordingChanged => recording::look_up(
                self.ctx.store.clone(),
                rules.room_id(),
                false,
                self.back.clone(),
                &self.ctx.tasks,
            ),
            RoomCmd::RecordingFound(found) => self.recording_found(found.map(|r| *r)),
            RoomCmd::RecordingEnded(id, why) => self.recording_ended(id, why),
            RoomCmd::Decide { id, admit, reply } => {
                let outcome = rules.decide(&id, admit, None);
                tracing::info!(room = %rules.room_id(), connection = %id, ?outcome, "lobby decision");
                let _ = reply.send(outcome);
            }
        }
    }

    /// Carries out the room's effects, feeding back queues that are full, until there
    /// are none left.
    fn apply_effects(&mut self) {
        loop {
            let effects = self.rules.take_effects();
            if effects.is_empty() {
                break;
            }
            for effect in effects {
                self.apply(effect);
            }
        }
        self.empty_since = match (self.rules.is_empty(), self.empty_since) {
            (true, None) => Some(Instant::now()),
            (true, since) => since,
            (false, _) => None,
        };
    }

    fn apply(&mut self, effect: Effect) {
        match effect {
            Effect::Send { to, frame } => {
                let full = self
                    .conns
                    .get(&to)
                    .is_some_and(|c| c.frames.try_send(frame).is_err());
                if full {
                    self.rules.too_slow(&to);
                }
            }
            Effect::Remove { id, close } => {
                if let Some(conn) = self.conns.remove(&id) {
                    tracing::info!(room = %self.rules.room_id(), connection = %id, "participant left");
                    if let Some(close) = close {
                        let _ = conn.closer.send(close);
                    }
                }
            }
            Effect::StoreChat(pending) => {
                let from = pending.from.clone();
                if !self.chat.submit(pending) {
                    self.rules.chat_refused(&from);
                }
            }
            Effect::Media(op) => {
                if let Some(cmd) = self.media_cmd(op) {
                    self.media_out.push_back(cmd);
                }
            }
            Effect::Lobby(entries) => self.lobby.set(entries),
            Effect::StoreBoard(write) => {
                if let Err(refused) = self.boards.submit(Job::Op(write)) {
                    self.rules.boards_stored(vec![refused], false);
                }
            }
            Effect::SnapshotBoards { seq, state } => {
                // A snapshot that finds the queue full waits for the next one.
                let _ = self.boards.submit(Job::Snapshot { seq, state });
            }
            Effect::LoadDocument(request) => board_io::load_document(
                self.ctx.store.clone(),
                self.rules.room_id(),
                request,
                self.back.clone(),
                &self.ctx.tasks,
            ),
        }
    }

    /// A media decision with the channels the media service needs attached.
    fn media_cmd(&self, op: MediaOp) -> Option<MediaCmd> {
        Some(match op {
            MediaOp::Join {
                participant,
                can_publish,
            } => MediaCmd::Join {
                room: self.rules.room_id(),
                frames: self.conns.get(&participant)?.frames.clone(),
                participant,
                can_publish,
            },
            MediaOp::Leave { participant } => MediaCmd::Leave { participant },
            MediaOp::Offer {
                participant,
                sdp,
                labels,
            } => {
                let frames = self.conns.get(&participant)?.frames.clone();
                let (reply, answer) = oneshot::channel::<Result<(), String>>();
                // The answer goes straight to the participant; only a refusal comes back.
                self.ctx.tasks.spawn(async move {
                    if let Ok(Err(why)) = answer.await {
                        let frame = ServerMsg::Error {
                            code: ErrorCode::BadRequest,
                            message: &why,
                        }
                        .to_frame();
                        let _ = frames.try_send(frame);
                    }
                });
                MediaCmd::Offer {
                    participant,
                    sdp,
                    labels,
                    reply,
                }
            }
            MediaOp::Answer { participant, sdp } => MediaCmd::Answer { participant, sdp },
            MediaOp::SetPublish {
                participant,
                allowed,
            } => MediaCmd::SetPublish {
                participant,
                allowed,
            },
            MediaOp::BlockAudio {
                participant,
                blocked,
            } => MediaCmd::BlockAudio {
                participant,
                blocked,
            },
            MediaOp::Layer {
                subscriber,
                publisher,
                low,
            } => MediaCmd::Layer {
                subscriber,
                publisher,
                low,
            },
        })
    }

    /// Sends the queued media commands (to the media task's bounded mailbox).
    /// Hands the pending media commands over, in order, as far as the media task's
    /// mailbox takes them; the rest wait for [`MEDIA_RETRY`].
    fn flush_media(&mut self) {
        let Some(media) = &self.ctx.media else {
            self.media_out.clear();
            return;
        };
        while let Some(cmd) = self.media_out.pop_front() {
            if let Err(cmd) = media.offer(cmd) {
                self.media_out.push_front(cmd);
                break;
            }
        }
        if self.media_out.len() > MEDIA_BACKLOG {
            // The media task has not taken anything for a long time: it is stuck, and its
            // supervisor reports it; the room goes on without media rather than grow.
            tracing::error!(room = %self.rules.room_id(), dropped = self.media_out.len(), "media task not taking commands; dropped");
            self.media_out.clear();
        }
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
