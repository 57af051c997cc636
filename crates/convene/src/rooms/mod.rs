//! Live rooms of this node: one task (actor) per room owns its state; connections
//! and the API talk to it through its mailbox. The room task never waits on the
//! database: what a join needs from it is fetched in the joining connection's task
//! (`prepare`), and chat is stored by a writer task of the room's (`live/chat.rs`).

mod live;

#[doc(hidden)]
pub use live::fuzz_room;
pub use live::{Budget, Joiner, LobbyOutcome, RateLimits};

use crate::ids::{ConnectionId, NodeId, RoomId, UserId};
use crate::lease::Lease;
use crate::media::MediaHandle;
use crate::metrics::Metrics;
use crate::protocol::{
    ChatView, ClientMsg, CloseFrame, LeaveReason, NodeLink, ParticipantView, ServerRef, WaiterView,
};
use crate::store::{NewConnection, RoomRow, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long a join may wait on the database before it is refused.
const JOIN_DB_DEADLINE: Duration = Duration::from_secs(5);

/// Messages a room's mailbox holds at most; senders wait when it is full.
const MAILBOX: usize = 1024;

pub(crate) enum RoomCmd {
    Join {
        joiner: Joiner,
        prepared: Prepared,
        reply: oneshot::Sender<Result<(), JoinRefused>>,
    },
    /// The room's chat writer stored (or failed to store) a message.
    ChatStored(live::chat::Stored),
    /// The boards as stored, read when the room started.
    BoardsLoaded(Box<crate::boards::Boards>),
    /// The board writer stored (or failed to store) these operations.
    BoardsStored {
        writes: Vec<live::BoardWrite>,
        stored: bool,
    },
    /// A `document` operation's file and pages were looked up.
    DocumentLoaded {
        request: live::DocumentRequest,
        result: Result<(String, Vec<crate::boards::model::Slide>), String>,
    },
    Leave {
        id: ConnectionId,
        reason: LeaveReason,
    },
    Request {
        from: ConnectionId,
        msg: ClientMsg,
        /// When the frame was read: the rate limits count by it.
        at: std::time::Instant,
    },
    Kick {
        id: ConnectionId,
        reply: oneshot::Sender<bool>,
    },
    CloseUser {
        user: UserId,
        close: CloseFrame,
    },
    SetRole {
        user: UserId,
        role: crate::store::Role,
    },
    Update(Box<RoomRow>),
    CloseAll {
        close: CloseFrame,
        reason: LeaveReason,
    },
    Snapshot(oneshot::Sender<Vec<ParticipantView>>),
    Broadcast(Arc<str>),
    /// Who waits in the lobby.
    Lobby(oneshot::Sender<Vec<WaiterView>>),
    /// Admit (or refuse) someone waiting in the lobby.
    Decide {
        id: ConnectionId,
        admit: bool,
        reply: oneshot::Sender<LobbyOutcome>,
    },
    /// The room's recording may have started or stopped: look it up.
    RecordingChanged,
    /// What the lookup found (a `recording` row, or none).
    RecordingFound(Option<Box<crate::store::RecordingRow>>),
    /// This node's capture of that recording ended (why, when it stopped by itself).
    RecordingEnded(i64, Option<String>),
}

pub enum JoinRefused {
    /// The room holds `capacity` participants already.
    Full,
    /// The room's lobby holds as many people as it may.
    LobbyFull,
    /// A guest whose invitation is for another room, or has ended.
    NotInvited,
    /// This node's lease does not hold: the client should enter again (and be placed).
    Moved,
    /// The database did not answer in time.
    Unavailable,
    /// The room task stopped meanwhile; ask the registry again with the joiner back.
    Gone(Box<Joiner>),
    /// The database refused the connection row, or the room task failed.
    Failed,
}

impl JoinRefused {
    /// The close a refused joiner's WebSocket gets: the one mapping of refusals to codes.
    pub fn close_frame(&self) -> CloseFrame {
        use crate::protocol::close;
        match self {
            JoinRefused::Full => CloseFrame::new(close::ROOM_FULL, "the room is full"),
            JoinRefused::LobbyFull => CloseFrame::new(
                close::ROOM_FULL,
                "the waiting room is full; try again later",
            ),
            JoinRefused::NotInvited => CloseFrame::new(
                close::ACCESS_WITHDRAWN,
                "your invitation is for another room, or has ended",
            ),
            JoinRefused::Moved => CloseFrame::new(
                close::ROOM_MOVED,
                "the room is now hosted on another server; enter it again",
            ),
            JoinRefused::Unavailable => CloseFrame::new(
                close::INTERNAL,
                "the database is not reachable; try again shortly",
            ),
            JoinRefused::Gone(_) | JoinRefused::Failed => {
                CloseFrame::new(close::INTERNAL, "the room could not be entered; try again")
            }
        }
    }
}

/// What the room needs from the database to seat a joiner, fetched in the joiner's
/// own task so the room's loop never waits for it.
pub(crate) struct Prepared {
    /// When the connection row was written (database clock).
    since: i64,
    history: Vec<ChatView>,
    servers: Vec<NodeLink>,
    /// A guest of a moderator invitation: a moderator while here.
    invited_moderator: bool,
}

/// What a room handle needs to prepare a join.
struct JoinEnv {
    store: Store,
    node: NodeId,
    room: RoomId,
    chat_history: u32,
}

/// A way to reach one live room.
#[derive(Clone)]
pub struct RoomHandle {
    tx: mpsc::Sender<RoomCmd>,
    env: Arc<JoinEnv>,
}

impl RoomHandle {
    /// Writes the connection row, reads recent chat and the servers, then asks the room
    /// for a seat; a refused joiner's row is removed again.
    pub async fn join(&self, joiner: Joiner) -> Result<(), JoinRefused> {
        let prepared = match tokio::time::timeout(JOIN_DB_DEADLINE, self.prepare(&joiner)).await {
            Ok(Ok(Some(p))) => p,
            // Nothing was written: nothing to undo.
            Ok(Ok(None)) => return Err(JoinRefused::NotInvited),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, room = %self.env.room, "cannot prepare a join");
                return Err(JoinRefused::Unavailable);
            }
            Err(_) => return Err(JoinRefused::Unavailable),
        };
        let id = joiner.id.clone();
        let (reply, rx) = oneshot::channel();
        let result = match self
            .tx
            .send(RoomCmd::Join {
                joiner,
                prepared,
                reply,
            })
            .await
        {
            Err(mpsc::error::SendError(RoomCmd::Join { joiner, .. })) => {
                Err(JoinRefused::Gone(Box::new(joiner)))
            }
            Err(_) => Err(JoinRefused::Failed),
            Ok(()) => rx.await.unwrap_or(Err(JoinRefused::Failed)),
        };
        if result.is_err() {
            let store = self.env.store.clone();
            let removed = tokio::time::timeout(JOIN_DB_DEADLINE, store.delete_connection(&id));
            if !matches!(removed.await, Ok(Ok(()))) {
                tracing::warn!(connection = %id, "cannot remove the row of a refused join");
            }
        }
        result
    }

    /// `None` for a guest not (or no longer) invited to this room.
    async fn prepare(&self, j: &Joiner) -> sqlx::Result<Option<Prepared>> {
        let env = &self.env;
        // A guest's rights come from its invitation, which binds it to one room.
        let invited_moderator = if j.role == crate::store::Role::Guest {
            match env.store.guest_grant(j.user).await? {
                Some(grant) if grant.room == env.room => grant.moderator,
                _ => return Ok(None),
            }
        } else {
            false
        };
        let since = env
            .store
            .insert_connection(&NewConnection {
                id: &j.id,
                user: j.user,
                room: env.room,
                server: env.node,
                remote_addr: &j.remote_addr,
                user_agent: &j.user_agent,
            })
            .await?;
        let history = env
            .store
            .recent_chat(env.room, env.chat_history)
            .await?
            .iter()
            .map(|r| ChatView::from_row(r, None))
            .collect();
        let servers = env
            .store
            .list_servers()
            .await?
            .into_iter()
            .filter(|s| s.alive() && s.active)
            .map(|s| NodeLink {
                id: s.id,
                name: s.name,
                url: s.url,
            })
            .collect();
        Ok(Some(Prepared {
            since,
            history,
            servers,
            invited_moderator,
        }))
    }
    pub async fn leave(&self, id: ConnectionId, reason: LeaveReason) {
        let _ = self.tx.send(RoomCmd::Leave { id, reason }).await;
    }
    /// False when the room is gone. The frame counts against the sender's rate limits
    /// as of now, when it was read (not when the room gets to it).
    pub async fn request(&self, from: ConnectionId, msg: ClientMsg) -> bool {
        let at = tokio::time::Instant::now().into_std();
        self.tx
            .send(RoomCmd::Request { from, msg, at })
            .await
            .is_ok()
    }
    /// True if the participant was here and is now kicked.
    pub async fn kick(&self, id: ConnectionId) -> bool {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(RoomCmd::Kick { id, reply }).await.is_err() {
            return false;
        }
        rx.await.unwrap_or(false)
    }
    pub async fn close_user(&self, user: UserId, close: CloseFrame) {
        let _ = self.tx.send(RoomCmd::CloseUser { user, close }).await;
    }
    /// An account's role changed: its connections here keep only what the role allows.
    pub async fn set_role(&self, user: UserId, role: crate::store::Role) {
        let _ = self.tx.send(RoomCmd::SetRole { user, role }).await;
    }
    pub async fn update(&self, room: RoomRow) {
        let _ = self.tx.send(RoomCmd::Update(Box::new(room))).await;
    }
    /// The room's recording may have changed in the database.
    pub async fn recording_changed(&self) {
        let _ = self.tx.send(RoomCmd::RecordingChanged).await;
    }
    pub async fn close_all(&self, close: CloseFrame, reason: LeaveReason) {
        let _ = self.tx.send(RoomCmd::CloseAll { close, reason }).await;
    }
    /// Sends a ready-made frame to everyone in the room.
    pub async fn broadcast(&self, frame: Arc<str>) {
        let _ = self.tx.send(RoomCmd::Broadcast(frame)).await;
    }
    pub async fn participants(&self) -> Vec<ParticipantView> {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(RoomCmd::Snapshot(reply)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }
    /// Who waits in the lobby (empty when the room is gone).
    pub async fn lobby(&self) -> Vec<WaiterView> {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(RoomCmd::Lobby(reply)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }
    /// Admits (or refuses) someone waiting in the lobby.
    pub async fn decide(&self, id: ConnectionId, admit: bool) -> LobbyOutcome {
        let (reply, rx) = oneshot::channel();
        if self
            .tx
            .send(RoomCmd::Decide { id, admit, reply })
            .await
            .is_err()
        {
            return LobbyOutcome::NotWaiting;
        }
        rx.await.unwrap_or(LobbyOutcome::NotWaiting)
    }
}

/// What a room needs from its node: narrow handles, not the whole node.
pub struct RoomContext {
    pub store: Store,
    pub server: ServerRef,
    /// How long an empty room stays live (and assigned here).
    pub room_grace: Duration,
    pub chat_history: u32,
    /// Each participant's chat and frame budgets.
    pub rate_limits: RateLimits,
    pub media: Option<MediaHandle>,
    /// The shared storage, for recordings.
    pub storage: crate::files::SharedStorage,
    pub lease: Arc<Lease>,
    pub metrics: Arc<Metrics>,
    pub shutdown: CancellationToken,
    pub tasks: TaskTracker,
}

/// The registry of this node's live rooms (clones share it).
#[derive(Clone)]
pub struct LiveRooms {
    /// Held only to look up, insert or remove; never across an await.
    map: Arc<Mutex<HashMap<RoomId, RoomHandle>>>,
    ctx: Arc<RoomContext>,
}

impl LiveRooms {
    pub fn new(ctx: RoomContext) -> LiveRooms {
        LiveRooms {
            map: Arc::default(),
            ctx: Arc::new(ctx),
        }
    }

    /// The live room, started if it is not running.
    pub fn open(&self, room: RoomRow) -> RoomHandle {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = map.get(&room.id)
            && !h.tx.is_closed()
        {
            return h.clone();
        }
        let (tx, rx) = mpsc::channel(MAILBOX);
        let handle = RoomHandle {
            env: Arc::new(JoinEnv {
                store: self.ctx.store.clone(),
                node: self.ctx.server.id,
                room: room.id,
                chat_history: self.ctx.chat_history,
            }),
            tx,
        };
        map.insert(room.id, handle.clone());
        let registry = Registry(self.map.clone());
        live::spawn(self.ctx.clone(), registry, room, handle.tx.downgrade(), rx);
        handle
    }

    pub fn get(&self, id: RoomId) -> Option<RoomHandle> {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }

    pub fn all(&self) -> Vec<RoomHandle> {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    pub fn all_with_ids(&self) -> Vec<(RoomId, RoomHandle)> {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(id, h)| (*id, h.clone()))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The room tasks' view of the registry: enough to take themselves out of it.
struct Registry(Arc<Mutex<HashMap<RoomId, RoomHandle>>>);

impl Registry {
    /// Removes a room that decided to stop, unless a message arrived for it meanwhile.
    /// Decided under the registry lock, so no new sender can get the handle after.
    fn retire(&self, id: RoomId, rx: &mpsc::Receiver<RoomCmd>) -> bool {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if !rx.is_empty() {
            return false;
        }
        map.remove(&id);
        true
    }
}
