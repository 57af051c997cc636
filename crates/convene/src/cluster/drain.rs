//! Draining a node: its participants are told, and at the deadline each room is
//! released and closed with 1001, so that clients enter again and are placed on
//! another node. Releasing before closing means no one re-enters the old node.
//!
//! The database decides whether the move still happens: at the deadline the task reads
//! the node's row, and does nothing if the node was activated again meanwhile (from the
//! API or the command line, on any node) or if a later drain replaced this one.

use super::ClusterContext;
use crate::ids::NodeId;
use crate::protocol::{CloseFrame, LeaveReason, ServerMsg, close};
use crate::store::Store;
use std::time::Duration;

/// The deadline of a drain when none is given (API and command line alike).
pub const DEFAULT_DEADLINE_SECS: u64 = 30;
/// The longest deadline accepted.
pub const MAX_DEADLINE_SECS: u64 = 3600;

/// How far before the recorded deadline the move may still start: the task wakes after
/// a sleep measured by this node's clock, the deadline is on the database clock.
const EARLY_MS: i64 = 1_000;

pub fn start(state: ClusterContext, deadline: Duration) {
    let tasks = state.tasks.clone();
    tasks.spawn(async move {
        tracing::info!(deadline_secs = deadline.as_secs(), "draining this node");
        let notice = ServerMsg::Draining {
            deadline_seconds: deadline.as_secs(),
        }
        .to_frame();
        for (_, room) in state.rooms.all_with_ids() {
            room.broadcast(notice.clone()).await;
        }
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = tokio::time::sleep(deadline) => {}
        }
        if !still_due(&state.store, state.node.id).await {
            return;
        }
        let rooms = state.rooms.all_with_ids();
        let count = rooms.len();
        for (id, room) in rooms {
            if let Err(e) = state.store.release_room_host(id, state.node.id).await {
                tracing::warn!(error = %e, room = %id, "cannot release room");
            }
            room.close_all(
                CloseFrame::new(
                    close::GOING_AWAY,
                    "this server is being drained; entering the room again",
                ),
                LeaveReason::Moved,
            )
            .await;
        }
        tracing::info!(rooms = count, "drained");
    });
}

/// Is the drain that woke up still wanted? Not if the node is active again, or no
/// drain is recorded (activation clears it), or the recorded deadline is later (a
/// newer drain, whose own task will act). If the database cannot say, the drain goes on.
pub async fn still_due(store: &Store, node: NodeId) -> bool {
    match store.server(node).await {
        Ok(Some(row)) if row.active => {
            tracing::info!("drain called off: this node was activated again");
            false
        }
        Ok(Some(row)) => match row.drain_remaining_ms {
            None => {
                tracing::info!("drain called off: no drain is recorded any more");
                false
            }
            Some(left) if left > EARLY_MS => {
                tracing::debug!(left_ms = left, "a later drain replaced this one");
                false
            }
            Some(_) => true,
        },
        Ok(None) => true,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read this node's state; draining as asked");
            true
        }
    }
}
