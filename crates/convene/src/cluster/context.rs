//! What the cluster's background work needs of the node, and nothing more: the lease
//! renewal, the event reader, drains and the maintenance jobs take this handle, not
//! the whole node, so `cluster` does not depend on `node` (which depends on it).

use super::NodeIdentity;
use super::events::EventBus;
use crate::files::SharedStorage;
use crate::health::Health;
use crate::lease::Lease;
use crate::rooms::LiveRooms;
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Cheap to clone: every field is a handle.
#[derive(Clone)]
pub struct ClusterContext {
    pub store: Store,
    pub node: NodeIdentity,
    /// The `node_name` setting, written into the row when the node registers again.
    pub node_name: Option<String>,
    /// For the PostgreSQL listening connection of the event reader.
    pub database_url: String,
    pub rooms: LiveRooms,
    pub lease: Arc<Lease>,
    pub health: Health,
    pub events: Arc<EventBus>,
    pub storage: SharedStorage,
    /// Finished recordings older than this are deleted (None: kept).
    pub recording_retention: Option<Duration>,
    /// How often expired rows are purged.
    pub cleanup_interval: Duration,
    /// How long an empty room keeps its place.
    pub room_grace: Duration,
    /// The SFU started (a node without it takes no new rooms).
    pub media_running: bool,
    pub shutdown: CancellationToken,
    pub tasks: TaskTracker,
}

impl ClusterContext {
    /// Every part of the node works (written into its row with each lease renewal, so
    /// placement skips a node that could not serve a new room).
    pub fn is_ready(&self) -> bool {
        self.media_running && self.health.ready() && !self.shutdown.is_cancelled()
    }
}
