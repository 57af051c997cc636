//! Login sessions: stored hashed, with an expiry on the database clock, so a session
//! made on one node is valid on every node.

use super::Store;
use super::users::UserRow;
use crate::ids::UserId;
use crate::secret;
use sqlx::Row;

/// The account behind a valid session.
#[derive(Debug, Clone)]
pub struct SessionUser {
    pub user: UserRow,
    /// `web` for a browser (cookie) session, `api` for a Bearer token.
    pub client: String,
}

impl Store {
    /// Starts a session and returns its secret id.
    pub async fn create_session(
        &self,
        user: UserId,
        client: &str,
        ttl_ms: i64,
    ) -> sqlx::Result<String> {
        let sid = secret::new_token();
        sqlx::query(&self.sql(
            "INSERT INTO sessions (token_hash, user_id, client, created_at, expires_at)
             VALUES ($1, $2, $3, NOW_MS, NOW_MS + $4)",
        ))
        .bind(secret::hash_token(&sid))
        .bind(user.0)
        .bind(client)
        .bind(ttl_ms)
        .execute(self.pool())
        .await?;
        Ok(sid)
    }

    /// The enabled account of an unexpired session.
    pub async fn session_user(&self, sid: &str) -> sqlx::Result<Option<SessionUser>> {
        if !secret::plausible_token(sid) {
            return Ok(None);
        }
        let row = sqlx::query(&self.sql(
            "SELECT u.id, s.client FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.expires_at > NOW_MS AND u.enabled = 1",
        ))
        .bind(secret::hash_token(sid))
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let client: String = row.try_get("client")?;
        Ok(self
            .user(UserId(row.try_get("id")?))
            .await?
            .map(|user| SessionUser { user, client }))
    }

    pub async fn delete_session(&self, sid: &str) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(secret::hash_token(sid))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Ends every session of an account (password change, disabling).
    pub async fn delete_user_sessions(&self, user: UserId) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user.0)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Ends every session of an account but the one with this id (a password change
    /// keeps the session that made it); returns how many ended.
    pub async fn delete_other_sessions(&self, user: UserId, keep_sid: &str) -> sqlx::Result<u64> {
        Ok(
            sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
                .bind(user.0)
                .bind(secret::hash_token(keep_sid))
                .execute(self.pool())
                .await?
                .rows_affected(),
        )
    }

    /// Removes expired sessions; returns how many.
    pub async fn purge_expired_sessions(&self) -> sqlx::Result<u64> {
        Ok(
            sqlx::query(&self.sql("DELETE FROM sessions WHERE expires_at <= NOW_MS"))
                .execute(self.pool())
                .await?
                .rows_affected(),
        )
    }
}
