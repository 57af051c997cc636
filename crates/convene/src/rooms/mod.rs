//! Live rooms of this node: one task (actor) per room owns its state; connections
//! and the API talk to it through its mailbox.

mod live;

pub use live::Joiner;

use crate::ids::{ConnectionId, RoomId, UserId};
use crate::server::AppState;
use crate::signal::protocol::{ClientMsg, CloseFrame, LeaveReason, ParticipantView};
use crate::store::RoomRow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

/// Messages a room's mailbox holds at most; senders wait when it is full.
const MAILBOX: usize = 1024;

pub(crate) enum RoomCmd {
    Join {
        joiner: Joiner,
        reply: oneshot::Sender<Result<(), JoinRefused>>,
    },
    Leave {
        id: ConnectionId,
        reason: LeaveReason,
    },
    Request {
        from: ConnectionId,
        msg: ClientMsg,
    },
    Kick {
        id: ConnectionId,
        reply: oneshot::Sender<bool>,
    },
    CloseUser {
        user: UserId,
        close: CloseFrame,
    },
    Update(Box<RoomRow>),
    CloseAll {
        close: CloseFrame,
        reason: LeaveReason,
    },
    Snapshot(oneshot::Sender<Vec<ParticipantView>>),
    Broadcast(Arc<str>),
}

pub enum JoinRefused {
    /// The room holds `capacity` participants already.
    Full,
    /// The room task stopped meanwhile; ask the registry again with the joiner back.
    Gone(Box<Joiner>),
    /// The database refused the connection row, or the room task failed.
    Failed,
}

/// A way to reach one live room.
#[derive(Clone)]
pub struct RoomHandle {
    tx: mpsc::Sender<RoomCmd>,
}

impl RoomHandle {
    pub async fn join(&self, joiner: Joiner) -> Result<(), JoinRefused> {
        let (reply, rx) = oneshot::channel();
        if let Err(mpsc::error::SendError(cmd)) =
            self.tx.send(RoomCmd::Join { joiner, reply }).await
        {
            return match cmd {
                RoomCmd::Join { joiner, .. } => Err(JoinRefused::Gone(Box::new(joiner))),
                _ => Err(JoinRefused::Failed),
            };
        }
        rx.await.unwrap_or(Err(JoinRefused::Failed))
    }
    pub async fn leave(&self, id: ConnectionId, reason: LeaveReason) {
        let _ = self.tx.send(RoomCmd::Leave { id, reason }).await;
    }
    /// False when the room is gone.
    pub async fn request(&self, from: ConnectionId, msg: ClientMsg) -> bool {
        self.tx.send(RoomCmd::Request { from, msg }).await.is_ok()
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
    pub async fn update(&self, room: RoomRow) {
        let _ = self.tx.send(RoomCmd::Update(Box::new(room))).await;
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
}

/// The registry of this node's live rooms.
#[derive(Default)]
pub struct LiveRooms {
    /// Held only to look up, insert or remove; never across an await.
    map: Mutex<HashMap<RoomId, RoomHandle>>,
}

impl LiveRooms {
    /// The live room, started if it is not running.
    pub fn open(&self, state: &AppState, room: RoomRow) -> RoomHandle {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = map.get(&room.id)
            && !h.tx.is_closed()
        {
            return h.clone();
        }
        let (tx, rx) = mpsc::channel(MAILBOX);
        let handle = RoomHandle { tx };
        map.insert(room.id, handle.clone());
        live::spawn(state.clone(), room, rx);
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

    /// Removes a room that decided to stop, unless a message arrived for it meanwhile.
    /// Decided under the registry lock, so no new sender can get the handle after.
    fn retire(&self, id: RoomId, rx: &mpsc::Receiver<RoomCmd>) -> bool {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if !rx.is_empty() {
            return false;
        }
        map.remove(&id);
        true
    }
}
