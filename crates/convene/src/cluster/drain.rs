//! Draining a node: its participants are told, and at the deadline each room is
//! released and closed with 1001, so that clients enter again and are placed on
//! another node. Releasing before closing means no one re-enters the old node.

use crate::server::AppState;
use crate::signal::protocol::{CloseFrame, LeaveReason, ServerMsg, close};
use std::time::Duration;

pub fn start(state: AppState, deadline: Duration) {
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
