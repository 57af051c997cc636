//! One row per live WebSocket, whichever node holds it: what Administration →
//! Connections lists and what the room list counts.

use super::Store;
use crate::ids::{ConnectionId, NodeId, RoomId, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone)]
pub struct NewConnection<'a> {
    pub id: &'a ConnectionId,
    pub user: UserId,
    pub room: RoomId,
    pub server: NodeId,
    pub remote_addr: &'a str,
    pub user_agent: &'a str,
}

#[derive(Debug, Clone)]
pub struct ConnectionRow {
    pub id: ConnectionId,
    pub user_id: UserId,
    pub login: String,
    pub room_id: RoomId,
    pub room_name: String,
    pub server_id: NodeId,
    pub server_name: String,
    pub since: i64,
    pub remote_addr: String,
    pub user_agent: String,
}

fn from_row(r: &AnyRow) -> sqlx::Result<ConnectionRow> {
    Ok(ConnectionRow {
        id: ConnectionId(r.try_get("id")?),
        user_id: UserId(r.try_get("user_id")?),
        login: r.try_get("login")?,
        room_id: RoomId(r.try_get("room_id")?),
        room_name: r.try_get("room_name")?,
        server_id: NodeId(r.try_get("server_id")?),
        server_name: r.try_get("server_name")?,
        since: r.try_get("since")?,
        remote_addr: r.try_get("remote_addr")?,
        user_agent: r.try_get("user_agent")?,
    })
}

const SELECT: &str = "SELECT c.id, c.user_id, u.login, c.room_id, r.name AS room_name, c.server_id,
        s.name AS server_name, c.since, c.remote_addr, c.user_agent
    FROM connections c JOIN users u ON u.id = c.user_id JOIN rooms r ON r.id = c.room_id
    JOIN servers s ON s.id = c.server_id";

impl Store {
    /// Records a live connection; returns its start time (database clock).
    pub async fn insert_connection(&self, c: &NewConnection<'_>) -> sqlx::Result<i64> {
        let row = sqlx::query(&self.sql(
            "INSERT INTO connections (id, user_id, room_id, server_id, since, remote_addr, user_agent)
             VALUES ($1, $2, $3, $4, NOW_MS, $5, $6) RETURNING since",
        ))
        .bind(&c.id.0)
        .bind(c.user.0)
        .bind(c.room.0)
        .bind(c.server.0)
        .bind(c.remote_addr)
        .bind(c.user_agent)
        .fetch_one(self.pool())
        .await?;
        row.try_get("since")
    }

    pub async fn delete_connection(&self, id: &ConnectionId) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM connections WHERE id = $1")
            .bind(&id.0)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Removes every connection row of a node (its own at start and stop, or a dead one's).
    pub async fn delete_node_connections(&self, node: NodeId) -> sqlx::Result<u64> {
        Ok(sqlx::query("DELETE FROM connections WHERE server_id = $1")
            .bind(node.0)
            .execute(self.pool())
            .await?
            .rows_affected())
    }

    pub async fn list_connections(&self) -> sqlx::Result<Vec<ConnectionRow>> {
        sqlx::query(&format!("{SELECT} ORDER BY c.since, c.id"))
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(from_row)
            .collect()
    }

    pub async fn connection(&self, id: &ConnectionId) -> sqlx::Result<Option<ConnectionRow>> {
        sqlx::query(&format!("{SELECT} WHERE c.id = $1"))
            .bind(&id.0)
            .fetch_optional(self.pool())
            .await?
            .map(|r| from_row(&r))
            .transpose()
    }

    pub async fn room_connections(&self, room: RoomId) -> sqlx::Result<Vec<ConnectionRow>> {
        sqlx::query(&format!(
            "{SELECT} WHERE c.room_id = $1 ORDER BY c.since, c.id"
        ))
        .bind(room.0)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(from_row)
        .collect()
    }

    /// Live participants per room, over the whole cluster.
    pub async fn participant_counts(&self) -> sqlx::Result<std::collections::HashMap<RoomId, i64>> {
        sqlx::query("SELECT room_id, COUNT(*) AS n FROM connections GROUP BY room_id")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Ok((RoomId(r.try_get("room_id")?), r.try_get("n")?)))
            .collect()
    }
}
