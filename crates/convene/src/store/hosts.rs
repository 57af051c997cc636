//! Room → hosting node assignments (`room_hosts`): one row per room, inserted only
//! if absent, so nodes deciding at the same moment agree on one host.

use super::Store;
use crate::ids::{NodeId, RoomId};
use sqlx::Row;

impl Store {
    pub async fn room_host(&self, room: RoomId) -> sqlx::Result<Option<NodeId>> {
        Ok(
            sqlx::query("SELECT server_id FROM room_hosts WHERE room_id = $1")
                .bind(room.0)
                .fetch_optional(self.pool())
                .await?
                .map(|r| r.try_get::<i64, _>("server_id"))
                .transpose()?
                .map(NodeId),
        )
    }

    /// Assigns the room to `node` unless it already has a host; returns the host.
    pub async fn assign_room_host(&self, room: RoomId, node: NodeId) -> sqlx::Result<NodeId> {
        sqlx::query(&self.sql(
            "INSERT INTO room_hosts (room_id, server_id, assigned_at) VALUES ($1, $2, NOW_MS)
             ON CONFLICT (room_id) DO NOTHING",
        ))
        .bind(room.0)
        .bind(node.0)
        .execute(self.pool())
        .await?;
        Ok(self.room_host(room).await?.unwrap_or(node))
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

    /// Releases every room of a node (its own at start and stop, or a dead node's).
    pub async fn delete_node_room_hosts(&self, node: NodeId) -> sqlx::Result<u64> {
        Ok(sqlx::query("DELETE FROM room_hosts WHERE server_id = $1")
            .bind(node.0)
            .execute(self.pool())
            .await?
            .rows_affected())
    }
}

impl Store {
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
