//! The node's place in the cluster: identity, heartbeat and placement. A single node
//! is a cluster of one and runs exactly this code. Hosting is a lease (`crate::lease`).

mod context;
pub mod drain;
pub mod events;

pub mod placement;

use crate::ids::NodeId;
use crate::store::Renewal;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Who this node is. `instance` is random per process, so a heartbeat can tell
/// whether another process has taken over the same node id.
#[derive(Debug, Clone)]
pub struct NodeIdentity {
    pub id: NodeId,
    pub name: String,
    pub url: String,
    pub instance: String,
}

pub use context::ClusterContext;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
const RENEW_EVERY: Duration = Duration::from_secs(1);
/// A renewal that takes longer than this counts as failed (the lease may still hold).
const RENEW_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a fenced node waits for its rooms to close before it cleans up anyway.
const ROOMS_CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Renews the lease every second (the heartbeat) and fences it at its deadline.
pub fn spawn_lease(state: ClusterContext) {
    let tasks = state.tasks.clone();
    let watchdog_state = state.clone();
    tasks.spawn(async move {
        watchdog_state
            .lease
            .watchdog(watchdog_state.shutdown.clone())
            .await
    });
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(RENEW_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = state.shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            renew_once(&state).await;
        }
    });
}

async fn renew_once(state: &ClusterContext) {
    let lease = &state.lease;
    let sent_at = tokio::time::Instant::now();
    let ready = state.is_ready();
    let renewal = tokio::time::timeout(
        RENEW_TIMEOUT,
        state
            .store
            .renew_lease(state.node.id, &state.node.instance, lease.epoch(), ready),
    )
    .await;
    match renewal {
        Ok(Ok(Renewal::Renewed)) => {
            if !lease.renewed(sent_at) {
                // Fenced, but no one took the rooms: clear what the closed connections
                // could not remove themselves, then serve again under the same epoch.
                recover(state, lease.epoch(), sent_at, false).await;
            }
        }
        Ok(Ok(Renewal::Lost)) => {
            lease.counters.losses.fetch_add(1, Ordering::Relaxed);
            lease.fence("this node was declared dead, or another process took its id");
            recover_after_loss(state).await;
        }
        Ok(Err(e)) => {
            lease.renewal_failed();
            tracing::warn!(error = %e, "lease renewal failed");
        }
        Err(_) => {
            lease.renewal_failed();
            tracing::warn!("lease renewal timed out");
        }
    }
}

/// Declared dead: every room is dropped before the node registers again, under a new
/// epoch, and clears its old rows.
async fn recover_after_loss(state: &ClusterContext) {
    wait_rooms_closed(state).await;
    let sent_at = tokio::time::Instant::now();
    let registered = state
        .store
        .register_node(
            state.node.id,
            state.node_name.as_deref(),
            &state.node.url,
            &state.node.instance,
            VERSION,
        )
        .await;
    match registered {
        Ok(epoch) => recover(state, epoch, sent_at, true).await,
        Err(e) => tracing::error!(error = %e, "cannot register this node again; still fenced"),
    }
}

async fn recover(state: &ClusterContext, epoch: i64, sent_at: tokio::time::Instant, lost: bool) {
    wait_rooms_closed(state).await;
    let store = &state.store;
    let cleaned = async {
        store.delete_node_connections(state.node.id).await?;
        if lost {
            store.delete_node_room_hosts(state.node.id).await?;
        }
        Ok::<_, sqlx::Error>(())
    };
    match tokio::time::timeout(RENEW_TIMEOUT, cleaned).await {
        Ok(Ok(())) => state.lease.unfence(epoch, sent_at),
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot clear this node's rows; still fenced"),
        Err(_) => tracing::warn!("clearing this node's rows timed out; still fenced"),
    }
}

async fn wait_rooms_closed(state: &ClusterContext) {
    let until = tokio::time::Instant::now() + ROOMS_CLOSE_WAIT;
    while !state.rooms.is_empty() && tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
