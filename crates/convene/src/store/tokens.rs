//! Entry tokens: single use, short-lived, bound to user, room and node; stored hashed.

use super::Store;
use crate::ids::{NodeId, RoomId, UserId};
use crate::secret;
use sqlx::Row;

/// What a redeemed token grants.
#[derive(Debug, Clone, Copy)]
pub struct EntryGrant {
    pub user: UserId,
    pub room: RoomId,
}

impl Store {
    pub async fn create_entry_token(
        &self,
        user: UserId,
        room: RoomId,
        node: NodeId,
        ttl_ms: i64,
    ) -> sqlx::Result<String> {
        let token = secret::new_token();
        sqlx::query(&self.sql(
            "INSERT INTO entry_tokens (token_hash, user_id, room_id, server_id, expires_at)
             VALUES ($1, $2, $3, $4, NOW_MS + $5)",
        ))
        .bind(secret::hash_token(&token))
        .bind(user.0)
        .bind(room.0)
        .bind(node.0)
        .bind(ttl_ms)
        .execute(self.pool())
        .await?;
        Ok(token)
    }

    /// Uses up a token. The row is deleted whatever the outcome, so a token can never be
    /// tried twice; `None` when it is unknown, used, expired or made for another node.
    pub async fn redeem_entry_token(
        &self,
        token: &str,
        node: NodeId,
    ) -> sqlx::Result<Option<EntryGrant>> {
        if !secret::plausible_token(token) {
            return Ok(None);
        }
        let row = sqlx::query(&self.sql(
            "DELETE FROM entry_tokens WHERE token_hash = $1
             RETURNING user_id, room_id, server_id,
                       CAST(CASE WHEN expires_at > NOW_MS THEN 1 ELSE 0 END AS BIGINT) AS fresh",
        ))
        .bind(secret::hash_token(token))
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let fresh = row.try_get::<i64, _>("fresh")? != 0;
        let server: i64 = row.try_get("server_id")?;
        if !fresh || server != node.0 {
            return Ok(None);
        }
        Ok(Some(EntryGrant {
            user: UserId(row.try_get("user_id")?),
            room: RoomId(row.try_get("room_id")?),
        }))
    }

    pub async fn purge_expired_entry_tokens(&self) -> sqlx::Result<u64> {
        Ok(
            sqlx::query(&self.sql("DELETE FROM entry_tokens WHERE expires_at <= NOW_MS"))
                .execute(self.pool())
                .await?
                .rows_affected(),
        )
    }
}
