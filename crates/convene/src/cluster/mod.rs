//! The node's place in the cluster: identity, heartbeat and placement. A single node
//! is a cluster of one and runs exactly this code.

pub mod drain;
pub mod events;
pub mod placement;

use crate::ids::NodeId;
use crate::server::AppState;
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

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

/// Writes the heartbeat every second until shutdown.
pub fn spawn_heartbeat(state: AppState) {
    let shutdown = state.shutdown.clone();
    let tasks = state.tasks.clone();
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            match state
                .store
                .heartbeat(state.node.id, &state.node.instance)
                .await
            {
                Ok(true) => {}
                Ok(false) => tracing::error!(
                    node = %state.node.id,
                    "another process has registered this node id; check --node-id"
                ),
                Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
            }
        }
    });
}
