//! The copy of a room's lobby in the database, for the API on every node (`GET …/lobby`,
//! admitting from another node). The room hands over each new list without waiting
//! (a `watch` channel keeps only the newest); this task writes it, off the room's loop,
//! retrying while the database is away. Rows go with their connection, so the copy of a
//! node that died disappears with that node's connection rows.

use crate::ids::RoomId;
use crate::store::{LobbyEntry, Store};
use std::time::Duration;
use tokio::sync::watch;

/// How long one write may take.
const DEADLINE: Duration = Duration::from_secs(5);
/// Pause before writing again after a failure.
const RETRY: Duration = Duration::from_secs(1);

pub(super) struct LobbyMirror {
    tx: watch::Sender<Vec<LobbyEntry>>,
}

impl LobbyMirror {
    /// Starts the writer; when the room drops this value, the writer clears the room's
    /// copy and stops.
    pub(super) fn spawn(
        store: Store,
        room: RoomId,
        tasks: &tokio_util::task::TaskTracker,
    ) -> LobbyMirror {
        let (tx, mut rx) = watch::channel(Vec::new());
        tasks.spawn(async move {
            // What the database holds for this room, as far as we know.
            let mut stored: Vec<LobbyEntry> = Vec::new();
            let mut open = true;
            let mut retry = false;
            loop {
                if !retry {
                    open = open && rx.changed().await.is_ok();
                }
                retry = false;
                let wanted = if open {
                    rx.borrow_and_update().clone()
                } else {
                    Vec::new()
                };
                if wanted != stored {
                    match tokio::time::timeout(DEADLINE, store.replace_lobby(room, &wanted)).await {
                        Ok(Ok(())) => stored = wanted,
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, %room, "cannot store the lobby");
                            retry = true;
                        }
                        Err(_) => {
                            tracing::warn!(%room, "storing the lobby timed out");
                            retry = true;
                        }
                    }
                }
                if !open {
                    // The room has stopped; rows not cleared go with their connections.
                    break;
                }
                if retry {
                    tokio::select! {
                        _ = tokio::time::sleep(RETRY) => {}
                        changed = rx.changed() => open = changed.is_ok(),
                    }
                }
            }
        });
        LobbyMirror { tx }
    }

    /// The lobby now; written soon.
    pub(super) fn set(&self, entries: Vec<LobbyEntry>) {
        self.tx.send_replace(entries);
    }
}
