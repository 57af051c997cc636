//! The node: everything one Convene process owns, passed explicitly (there is no
//! global state, so a test can run three nodes in one process). `server::run` builds
//! it; the modules at the edges (api, signal, ops) are handed it whole, the core
//! (rooms, lease, store, cluster) gets narrow handles.

use crate::cluster::events::EventBus;
use crate::cluster::{ClusterContext, NodeIdentity};
use crate::config::Config;
use crate::files::SharedStorage;
use crate::media::MediaHandle;
use crate::metrics::Metrics;
use crate::rooms::LiveRooms;
use crate::store::Store;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Everything one node owns. Passed explicitly; there is no global state.
pub struct Node {
    pub config: Config,
    pub store: Store,
    pub node: NodeIdentity,
    pub rooms: LiveRooms,
    pub metrics: Arc<Metrics>,
    pub events: Arc<EventBus>,
    pub storage: SharedStorage,
    /// The threads that hash passwords (bounded memory and CPU).
    pub hashing: crate::auth::password::HashPool,
    /// The SFU of the rooms this node hosts; None only if it could not start.
    pub media: Option<MediaHandle>,
    /// The long-running tasks (media, event reader) and whether they work.
    pub health: crate::health::Health,
    /// Cancelled when the node starts shutting down.
    pub shutdown: CancellationToken,
    /// Room tasks, connections and jobs, awaited at shutdown.
    pub tasks: TaskTracker,
    /// This node's hosting lease: rooms are served only while it holds.
    pub lease: Arc<crate::lease::Lease>,
    /// Handed-out URLs that name this machine only, already warned about.
    pub url_warnings: crate::public_url::UnreachableWarnings,
    /// Fonts and turns for whiteboard exports.
    pub exports: crate::boards::export::Exporter,
    /// The narrow handle of the cluster's background work (lease, events, jobs).
    pub cluster: ClusterContext,
}

impl Node {
    /// Every part of the node works (written into its row with each lease renewal, so
    /// placement skips a node that could not serve a new room).
    pub fn is_ready(&self) -> bool {
        self.cluster.is_ready()
    }
}

pub type AppState = Arc<Node>;

/// The narrow handle the sign-in extractors take (`auth::Caller`, `auth::Manager`).
impl axum::extract::FromRef<AppState> for Store {
    fn from_ref(state: &AppState) -> Store {
        state.store.clone()
    }
}
