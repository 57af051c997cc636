//! Room → hosting node assignments (`room_hosts`): one row per room, inserted only
//! if absent, so nodes deciding at the same moment agree on one host. Each row carries
//! the epoch of its host's lease when it was assigned; it is valid only under that epoch.

use super::Store;
use crate::ids::{NodeId, RoomId};
use sqlx::Row;

/// A room's assignment as the database holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomHost {
    pub node: NodeId,
    /// The host's epoch when the room was assigned.
    pub epoch: i64,
}

impl Store {
    pub async fn room_host(&self, room: RoomId) -> sqlx::Result<Option<RoomHost>> {
        sqlx::query("SELECT server_id, epoch FROM room_hosts WHERE room_id = $1")
            .bind(room.0)
            .fetch_optional(self.pool())
            .await?
            .map(|r| {
                Ok(RoomHost {
                    node: NodeId(r.try_get("server_id")?),
                    epoch: r.try_get("epoch")?,
                })
            })
            .transpose()
    }

    /// Assigns the room to `node` under its `epoch` unless it already has a host;
    /// returns the host.
    pub async fn assign_room_host(
        &self,
        room: RoomId,
        node: NodeId,
        epoch: i64,
    ) -> sqlx::Result<RoomHost> {
        sqlx::query(&self.sql(
            "INSERT INTO room_hosts (room_id, server_id, epoch, assigned_at)
             VALUES ($1, $2, $3, NOW_MS)
             ON CONFLICT (room_id) DO NOTHING",
        ))
        .bind(room.0)
        .bind(node.0)
        .bind(epoch)
        .execute(self.pool())
        .await?;
        Ok(self
            .room_host(room)
            .await?
            .unwrap_or(RoomHost { node, epoch }))
    }

    /// Releases a room, only if `node` still hosts it.
    pub async fn release_room_host(&self, room: RoomId, node: NodeId) -> sqlx::Result<bool> {
        let res = sqlx::query("DELETE FROM room_hosts WHERE room_id = $1 AND server_id = $2")
            .bind(room.0)
            .bind(node.0)
            .execute(self.pool())
            .await?;
        Ok(res.rows_affected() > 0)
    }

    /// Removes an assignment made under an epoch its host no longer has.
    pub async fn release_stale_room_host(&self, room: RoomId, stale: RoomHost) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM room_hosts WHERE room_id = $1 AND server_id = $2 AND epoch = $3")
            .bind(room.0)
            .bind(stale.node.0)
            .bind(stale.epoch)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Releases every room of a node (its own at start and stop, or a dead node's).
    pub async fn delete_node_room_hosts(&self, node: NodeId) -> sqlx::Result<u64> {
        Ok(sqlx::query("DELETE FROM room_hosts WHERE server_id = $1")
            .bind(node.0)
            .execute(self.pool())
            .await?
            .rows_affected())
    }

    /// Rooms assigned to `node` for longer than `min_age_ms`.
    pub async fn node_room_hosts(
        &self,
        node: NodeId,
        min_age_ms: i64,
    ) -> sqlx::Result<Vec<RoomId>> {
        sqlx::query(&self.sql(
            "SELECT room_id FROM room_hosts WHERE server_id = $1 AND assigned_at < NOW_MS - $2",
        ))
        .bind(node.0)
        .bind(min_age_ms)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| Ok(RoomId(r.try_get("room_id")?)))
        .collect()
    }
}
