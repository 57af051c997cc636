//! The room's chat writer: stores messages one at a time, in order, off the room's
//! loop, and hands each result back to the room, which echoes a message only once it
//! is stored. A message the database could not take in time is reported to its
//! sender, never acknowledged and lost.

use crate::ids::{ConnectionId, RoomId, UserId};
use crate::rooms::RoomCmd;
use crate::store::{ChatRow, Store};
use std::time::Duration;
use tokio::sync::mpsc;

/// Messages waiting to be stored before senders are told to slow down.
const QUEUE: usize = 64;
/// How long one insert may take before the sender is told it failed.
const DEADLINE: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pending {
    pub from: ConnectionId,
    pub user: UserId,
    pub login: String,
    pub display_name: String,
    pub text: String,
}

/// The outcome of storing one message.
pub(crate) struct Stored {
    pub from: ConnectionId,
    pub row: Option<ChatRow>,
}

pub(super) struct ChatWriter {
    tx: mpsc::Sender<Pending>,
}

impl ChatWriter {
    /// Starts the writer; it stops when the room drops this value.
    pub(super) fn spawn(
        store: Store,
        room: RoomId,
        back: mpsc::WeakSender<RoomCmd>,
        tasks: &tokio_util::task::TaskTracker,
    ) -> ChatWriter {
        let (tx, mut rx) = mpsc::channel::<Pending>(QUEUE);
        tasks.spawn(async move {
            while let Some(p) = rx.recv().await {
                let insert = store.insert_chat(room, p.user, &p.login, &p.display_name, &p.text);
                let row = match tokio::time::timeout(DEADLINE, insert).await {
                    Ok(Ok(row)) => Some(row),
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, %room, "cannot store chat message");
                        None
                    }
                    Err(_) => {
                        tracing::warn!(%room, "storing a chat message timed out");
                        None
                    }
                };
                let Some(back) = back.upgrade() else { break };
                let stored = Stored { from: p.from, row };
                if back.send(RoomCmd::ChatStored(stored)).await.is_err() {
                    break;
                }
            }
        });
        ChatWriter { tx }
    }

    /// Queues a message; false if the queue is full (the database is slow or away).
    pub(super) fn submit(&self, p: Pending) -> bool {
        self.tx.try_send(p).is_ok()
    }
}
