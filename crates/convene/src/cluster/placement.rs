//! Which node hosts a room: the seed's calculation, made atomic.
//!
//! A room already assigned to a live node stays there (even an inactive one: its
//! live rooms go on). Otherwise it goes to the live, active, ready node with the least
//! load — hosted capacity divided by weight, then fewer live participants, then the
//! lower id — through an insert-if-absent, so concurrent first entries agree.

use crate::ids::{NodeId, RoomId};
use crate::store::{ServerRow, ServerStats, Store};
use std::cmp::Ordering;
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum PlacementError {
    #[error("no conferencing server is available right now")]
    NoServer,
    /// The host's lease ran out, but this node may not yet judge it dead.
    #[error("the room's server is not answering; try again in a few seconds")]
    HostUnreachable,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Who asks: its id, and whether it may declare another node dead (see `crate::lease`).
#[derive(Debug, Clone, Copy)]
pub struct Judge {
    pub node: NodeId,
    pub may_judge: bool,
}

/// The node that hosts `room`, assigning one if needed. An assignment counts only under
/// its host's current epoch and while the host's lease holds; a host whose lease ran out
/// is declared dead first (by a judge that may), so it cannot come back and serve.
pub async fn host_for_room(
    store: &Store,
    room: RoomId,
    judge: Judge,
) -> Result<ServerRow, PlacementError> {
    for _ in 0..3 {
        if let Some(host) = store.room_host(room).await? {
            match store.server(host.node).await? {
                Some(server) if server.epoch == host.epoch && server.alive() => {
                    return Ok(server);
                }
                Some(server) if server.epoch == host.epoch => {
                    if !judge.may_judge {
                        return Err(PlacementError::HostUnreachable);
                    }
                    for (dead, connections) in store.declare_dead_nodes(judge.node).await? {
                        tracing::warn!(%dead, connections, "declared a node dead on entry to one of its rooms");
                    }
                    continue;
                }
                // Assigned under an epoch its host no longer has, or to a removed server.
                _ => store.release_stale_room_host(room, host).await?,
            }
        }
        let servers = store.list_servers().await?;
        let stats = store.server_stats().await?;
        let Some(best) = least_loaded(&servers, &stats) else {
            return Err(PlacementError::NoServer);
        };
        let epoch = servers
            .iter()
            .find(|s| s.id == best)
            .map(|s| s.epoch)
            .unwrap_or_default();
        let winner = store.assign_room_host(room, best, epoch).await?;
        if let Some(server) = servers
            .into_iter()
            .find(|s| s.id == winner.node && s.epoch == winner.epoch && s.alive())
        {
            return Ok(server);
        }
        // Another node won with a host we saw as dead a moment ago: look again.
    }
    Err(PlacementError::NoServer)
}

/// The live, active node with the least load.
pub fn least_loaded(servers: &[ServerRow], stats: &HashMap<NodeId, ServerStats>) -> Option<NodeId> {
    let load = |s: &ServerRow| {
        let st = stats.get(&s.id).copied().unwrap_or_default();
        let weight = if s.weight > 0.0 { s.weight } else { 1.0 };
        (st.hosted_capacity as f64 / weight, st.participants)
    };
    servers
        .iter()
        .filter(|s| s.placeable())
        .min_by(|a, b| {
            let (la, pa) = load(a);
            let (lb, pb) = load(b);
            la.partial_cmp(&lb)
                .unwrap_or(Ordering::Equal)
                .then(pa.cmp(&pb))
                .then(a.id.cmp(&b.id))
        })
        .map(|s| s.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(id: i64, weight: f64, active: bool, age: Option<i64>) -> ServerRow {
        ServerRow {
            id: NodeId(id),
            name: format!("n{id}"),
            url: String::new(),
            address: String::new(),
            http_port: 5080,
            protocol: "http".into(),
            base_path: String::new(),
            weight,
            comment: String::new(),
            active,
            version: String::new(),
            heartbeat_age_ms: age,
            drain_remaining_ms: None,
            storage_status: String::new(),
            epoch: 1,
            lease_left_ms: age.map(|a| crate::store::LEASE_MS - a),
            ready: true,
        }
    }

    fn stats(entries: &[(i64, i64, i64)]) -> HashMap<NodeId, ServerStats> {
        entries
            .iter()
            .map(|&(id, cap, parts)| {
                (
                    NodeId(id),
                    ServerStats {
                        rooms: 1,
                        participants: parts,
                        hosted_capacity: cap,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn lowest_capacity_over_weight_wins() {
        let servers = [
            server(1, 1.0, true, Some(10)),
            server(2, 1.0, true, Some(10)),
        ];
        assert_eq!(
            least_loaded(&servers, &stats(&[(1, 50, 0)])),
            Some(NodeId(2))
        );
        // Node 1 has twice the weight, so 50 there counts as 25 < 30.
        let servers = [
            server(1, 2.0, true, Some(10)),
            server(2, 1.0, true, Some(10)),
        ];
        assert_eq!(
            least_loaded(&servers, &stats(&[(1, 50, 0), (2, 30, 0)])),
            Some(NodeId(1))
        );
    }

    #[test]
    fn ties_go_to_fewer_participants_then_lower_id() {
        let servers = [
            server(2, 1.0, true, Some(10)),
            server(1, 1.0, true, Some(10)),
        ];
        assert_eq!(least_loaded(&servers, &HashMap::new()), Some(NodeId(1)));
        assert_eq!(
            least_loaded(&servers, &stats(&[(1, 10, 5), (2, 10, 1)])),
            Some(NodeId(2))
        );
    }

    #[test]
    fn dead_and_inactive_nodes_get_nothing() {
        let servers = [
            server(1, 1.0, false, Some(10)),
            server(2, 1.0, true, Some(60_000)),
            server(3, 1.0, true, None),
        ];
        assert_eq!(least_loaded(&servers, &HashMap::new()), None);
        let servers = [
            server(1, 1.0, false, Some(10)),
            server(4, 1.0, true, Some(100)),
        ];
        assert_eq!(least_loaded(&servers, &HashMap::new()), Some(NodeId(4)));
    }
}
