//! Events between nodes, through the outbox table. Every node (the publisher too)
//! reads every event in sequence order and applies what concerns it. PostgreSQL
//! `LISTEN/NOTIFY` and an in-process `Notify` are wake-ups only; a periodic poll and
//! the sequence number make a lost wake-up or a lost listening connection harmless.

use super::ClusterContext;
use crate::health::Component;
use crate::ids::{ConnectionId, NodeId, RoomId, UserId};
use crate::protocol::{CloseFrame, LeaveReason, close};
use crate::store::{EVENT_CHANNEL, Store};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
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
    /// A room's recording started or stopped; its host looks it up.
    RecordingChanged { room: RoomId },
    /// A user was deleted or disabled; every node closes their connections.
    UserClosed { user: UserId, reason: String },
    /// An account's role changed; every node applies it to the account's connections.
    RoleChanged {
        user: UserId,
        role: crate::store::Role,
    },
    /// A server was activated or deactivated.
    ServerChanged { server: NodeId, active: bool },
    /// A server must move its participants elsewhere by the deadline.
    Drain { server: NodeId, deadline_ms: i64 },
    /// Let someone waiting in a room's lobby in; only the node holding the connection acts.
    Admit {
        node: NodeId,
        room: RoomId,
        connection: ConnectionId,
    },
    /// Send someone waiting in a room's lobby away; only the node holding it acts.
    Refuse {
        node: NodeId,
        room: RoomId,
        connection: ConnectionId,
    },
}

impl Event {
    fn kind(&self) -> &'static str {
        match self {
            Event::Kick { .. } => "kick",
            Event::RoomChanged { .. } => "room_changed",
            Event::RoomDeleted { .. } => "room_deleted",
            Event::RecordingChanged { .. } => "recording_changed",
            Event::UserClosed { .. } => "user_closed",
            Event::RoleChanged { .. } => "role_changed",
            Event::ServerChanged { .. } => "server_changed",
            Event::Drain { .. } => "drain",
            Event::Admit { .. } => "admit",
            Event::Refuse { .. } => "refuse",
        }
    }
}

/// Publishes events and wakes this node's event reader.
pub struct EventBus {
    store: Store,
    wake: Notify,
}

impl EventBus {
    pub fn new(store: Store) -> EventBus {
        EventBus {
            store,
            wake: Notify::new(),
        }
    }

    /// Appends an event for every node and wakes this node's reader at once.
    pub async fn publish(&self, event: &Event) -> sqlx::Result<i64> {
        let seq = publish_with(&self.store, event).await?;
        self.wake.notify_one();
        Ok(seq)
    }
}

/// Appends an event for every node (through the database only).
pub async fn publish_with(store: &Store, event: &Event) -> sqlx::Result<i64> {
    let payload = serde_json::to_string(event).expect("events serialise");
    store.publish_event(event.kind(), &payload).await
}

/// Starts the reader from `from_seq` (events before it are history) and, on
/// PostgreSQL, the listener that wakes it; each under a supervisor that restarts it
/// if it dies, and reports it in the node's health (`events`, `event_listener`).
pub fn spawn(state: ClusterContext, from_seq: i64) {
    let tasks = state.tasks.clone();
    if state.database_url.starts_with("postgres") {
        let listener = state.clone();
        state.health.supervise(
            "event_listener",
            &tasks,
            state.shutdown.clone(),
            move |health| listen(listener.clone(), health),
        );
    }
    // Where the reader is, kept across restarts: a restarted reader goes on from there.
    let last = Arc::new(AtomicI64::new(from_seq));
    let reader = state.clone();
    state
        .health
        .supervise("events", &tasks, state.shutdown.clone(), move |health| {
            read(reader.clone(), last.clone(), health)
        });
}

/// Reads and applies events until shutdown; down in the node's health while the
/// events cannot be read.
async fn read(
    state: ClusterContext,
    last: Arc<AtomicI64>,
    health: Component,
) -> anyhow::Result<()> {
    // At once: a restarted reader catches up on what was published while it was dead.
    let mut wait = false;
    loop {
        if wait {
            tokio::select! {
                _ = state.shutdown.cancelled() => return Ok(()),
                _ = state.events.wake.notified() => {}
                _ = tokio::time::sleep(POLL_EVERY) => {}
            }
        }
        wait = true;
        loop {
            let from = last.load(Ordering::Acquire);
            let batch = match state.store.events_after(from, BATCH).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read events");
                    health.down(format!("cannot read events: {e}"));
                    break;
                }
            };
            health.up();
            let full = batch.len() as i64 == BATCH;
            for row in batch {
                // Moved past before applying: an event whose handling kills the task
                // is not applied again by its successor.
                last.store(row.seq, Ordering::Release);
                match serde_json::from_str::<Event>(&row.payload) {
                    Ok(event) => apply(&state, event).await,
                    Err(e) => {
                        tracing::warn!(seq = row.seq, kind = %row.kind, error = %e, "unreadable event skipped")
                    }
                }
            }
            if !full {
                break;
            }
        }
    }
}

/// Wakes the reader on each notification; down in the node's health while it has no
/// listening connection (the reader still polls meanwhile).
async fn listen(state: ClusterContext, health: Component) -> anyhow::Result<()> {
    loop {
        let listening = async {
            let mut listener = sqlx::postgres::PgListener::connect(&state.database_url).await?;
            listener.listen(EVENT_CHANNEL).await?;
            health.up();
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
            _ = state.shutdown.cancelled() => return Ok(()),
            result = listening => {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "lost the event listening connection; reconnecting");
                    health.down(format!("no event listening connection: {e}"));
                }
            }
        }
        tokio::select! {
            _ = state.shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

async fn apply(state: &ClusterContext, event: Event) {
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
        Event::RecordingChanged { room } => {
            if let Some(live) = state.rooms.get(room) {
                live.recording_changed().await;
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
        Event::RoleChanged { user, role } => {
            for live in state.rooms.all() {
                live.set_role(user, role).await;
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
        Event::Admit {
            node,
            room,
            connection,
        } if node == state.node.id => {
            if let Some(live) = state.rooms.get(room) {
                live.decide(connection, true).await;
            }
        }
        Event::Refuse {
            node,
            room,
            connection,
        } if node == state.node.id => {
            if let Some(live) = state.rooms.get(room) {
                live.decide(connection, false).await;
            }
        }
        Event::Admit { .. } | Event::Refuse { .. } => {}
    }
}
