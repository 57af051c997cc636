//! Events between nodes, through the outbox table. Every node (the publisher too)
//! reads every event in sequence order and applies what concerns it. PostgreSQL
//! `LISTEN/NOTIFY` and an in-process `Notify` are wake-ups only; a periodic poll and
//! the sequence number make a lost wake-up or a lost listening connection harmless.

use crate::ids::{ConnectionId, NodeId, RoomId, UserId};
use crate::server::AppState;
use crate::signal::protocol::{CloseFrame, LeaveReason, close};
use crate::store::{EVENT_CHANNEL, Store};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::Notify;

/// Poll even without a wake-up, in case one was lost.
const POLL_EVERY: Duration = Duration::from_secs(3);
const BATCH: i64 = 500;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// Kick one connection; only its node acts.
    Kick {
        node: NodeId,
        room: RoomId,
        connection: ConnectionId,
    },
    /// A room's definition changed; its host applies it live.
    RoomChanged { room: RoomId },
    /// A room was deleted; its host closes it.
    RoomDeleted { room: RoomId },
    /// A user was deleted or disabled; every node closes their connections.
    UserClosed { user: UserId, reason: String },
    /// A server was activated or deactivated.
    ServerChanged { server: NodeId, active: bool },
    /// A server must move its participants elsewhere by the deadline.
    Drain { server: NodeId, deadline_ms: i64 },
}

impl Event {
    fn kind(&self) -> &'static str {
        match self {
            Event::Kick { .. } => "kick",
            Event::RoomChanged { .. } => "room_changed",
            Event::RoomDeleted { .. } => "room_deleted",
            Event::UserClosed { .. } => "user_closed",
            Event::ServerChanged { .. } => "server_changed",
            Event::Drain { .. } => "drain",
        }
    }
}

/// Wakes this node's event reader.
#[derive(Default)]
pub struct EventBus {
    wake: Notify,
}

/// Appends an event for every node (through the database only).
pub async fn publish_with(store: &Store, event: &Event) -> sqlx::Result<i64> {
    let payload = serde_json::to_string(event).expect("events serialise");
    store.publish_event(event.kind(), &payload).await
}

/// Appends an event and wakes this node's reader at once.
pub async fn publish(state: &AppState, event: &Event) -> sqlx::Result<i64> {
    let seq = publish_with(&state.store, event).await?;
    state.events.wake.notify_one();
    Ok(seq)
}

/// Starts the reader from `from_seq` (events before it are history) and, on
/// PostgreSQL, the listener that wakes it.
pub fn spawn(state: AppState, from_seq: i64) {
    if state.config.database_url.starts_with("postgres") {
        spawn_pg_listener(state.clone());
    }
    let tasks = state.tasks.clone();
    tasks.spawn(async move {
        let mut last = from_seq;
        loop {
            tokio::select! {
                _ = state.shutdown.cancelled() => break,
                _ = state.events.wake.notified() => {}
                _ = tokio::time::sleep(POLL_EVERY) => {}
            }
            loop {
                let batch = match state.store.events_after(last, BATCH).await {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read events");
                        break;
                    }
                };
                let full = batch.len() as i64 == BATCH;
                for row in batch {
                    last = row.seq;
                    match serde_json::from_str::<Event>(&row.payload) {
                        Ok(event) => apply(&state, event).await,
                        Err(e) => tracing::warn!(seq = row.seq, kind = %row.kind, error = %e, "unreadable event skipped"),
                    }
                }
                if !full {
                    break;
                }
            }
        }
    });
}

fn spawn_pg_listener(state: AppState) {
    let tasks = state.tasks.clone();
    tasks.spawn(async move {
        loop {
            let listening = async {
                let mut listener =
                    sqlx::postgres::PgListener::connect(&state.config.database_url).await?;
                listener.listen(EVENT_CHANNEL).await?;
                // Catch up on whatever was published while we were not listening.
                state.events.wake.notify_one();
                loop {
                    listener.recv().await?;
                    state.events.wake.notify_one();
                }
                #[allow(unreachable_code)]
                Ok::<(), sqlx::Error>(())
            };
            tokio::select! {
                _ = state.shutdown.cancelled() => break,
                result = listening => {
                    if let Err(e) = result {
                        tracing::warn!(error = %e, "lost the event listening connection; reconnecting");
                    }
                }
            }
            tokio::select! {
                _ = state.shutdown.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    });
}

async fn apply(state: &AppState, event: Event) {
    tracing::debug!(?event, "event");
    match event {
        Event::Kick {
            node,
            room,
            connection,
        } if node == state.node.id => {
            if let Some(live) = state.rooms.get(room) {
                live.kick(connection.clone()).await;
            }
            let _ = state.store.delete_connection(&connection).await;
        }
        Event::Kick { .. } => {}
        Event::RoomChanged { room } => {
            if let Some(live) = state.rooms.get(room)
                && let Ok(Some(row)) = state.store.room(room).await
            {
                live.update(row).await;
            }
        }
        Event::RoomDeleted { room } => {
            if let Some(live) = state.rooms.get(room) {
                live.close_all(
                    CloseFrame::new(close::ACCESS_WITHDRAWN, "the room was deleted"),
                    LeaveReason::RoomDeleted,
                )
                .await;
            }
        }
        Event::UserClosed { user, reason } => {
            for live in state.rooms.all() {
                live.close_user(
                    user,
                    CloseFrame::new(close::ACCESS_WITHDRAWN, reason.clone()),
                )
                .await;
            }
        }
        Event::ServerChanged { server, active } if server == state.node.id => {
            // A drain under way is called off by its own task, which reads the node's
            // state at the deadline (activation may also come straight from the database).
            tracing::info!(
                active,
                "an administrator changed this node's state{}",
                if active {
                    "; a drain under way, if any, is called off"
                } else {
                    ""
                }
            );
        }
        Event::ServerChanged { .. } => {}
        Event::Drain {
            server,
            deadline_ms,
        } if server == state.node.id => {
            super::drain::start(
                state.clone(),
                Duration::from_millis(deadline_ms.max(0) as u64),
            );
        }
        Event::Drain { .. } => {}
    }
}
