//! Chat messages, kept so that a joining participant sees the recent history and so
//! that history survives the room moving to another node.

use super::Store;
use crate::ids::{RoomId, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone)]
pub struct ChatRow {
    pub id: i64,
    pub room_id: RoomId,
    pub user_id: Option<UserId>,
    pub login: String,
    pub display_name: String,
    pub body: String,
    pub sent_at: i64,
}

fn from_row(r: &AnyRow) -> sqlx::Result<ChatRow> {
    Ok(ChatRow {
        id: r.try_get("id")?,
        room_id: RoomId(r.try_get("room_id")?),
        user_id: r.try_get::<Option<i64>, _>("user_id")?.map(UserId),
        login: r.try_get("login")?,
        display_name: r.try_get("display_name")?,
        body: r.try_get("body")?,
        sent_at: r.try_get("sent_at")?,
    })
}

impl Store {
    pub async fn insert_chat(
        &self,
        room: RoomId,
        user: UserId,
        login: &str,
        display_name: &str,
        body: &str,
    ) -> sqlx::Result<ChatRow> {
        let row = sqlx::query(&self.sql(
            "INSERT INTO chat_messages (room_id, user_id, login, display_name, body, sent_at)
             VALUES ($1, $2, $3, $4, $5, NOW_MS)
             RETURNING id, room_id, user_id, login, display_name, body, sent_at",
        ))
        .bind(room.0)
        .bind(user.0)
        .bind(login)
        .bind(display_name)
        .bind(body)
        .fetch_one(self.pool())
        .await?;
        from_row(&row)
    }

    /// The last `limit` messages of a room, oldest first.
    pub async fn recent_chat(&self, room: RoomId, limit: u32) -> sqlx::Result<Vec<ChatRow>> {
        let mut rows: Vec<ChatRow> = sqlx::query(
            "SELECT id, room_id, user_id, login, display_name, body, sent_at FROM chat_messages
             WHERE room_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(room.0)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(from_row)
        .collect::<Result<_, _>>()?;
        rows.reverse();
        Ok(rows)
    }
}
