//! Cluster-wide settings (key → value).

use super::Store;
use sqlx::Row;

impl Store {
    pub async fn setting(&self, key: &str) -> sqlx::Result<Option<String>> {
        sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(self.pool())
            .await?
            .map(|r| r.try_get("value"))
            .transpose()
    }

    /// Sets the value unless one exists (insert-if-absent, so of concurrent callers
    /// exactly one wins). Returns the value that holds and whether it is this caller's.
    pub async fn setting_or_insert(&self, key: &str, value: &str) -> sqlx::Result<(String, bool)> {
        loop {
            let inserted = sqlx::query(
                "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            )
            .bind(key)
            .bind(value)
            .execute(self.pool())
            .await?
            .rows_affected()
                > 0;
            if inserted {
                return Ok((value.to_string(), true));
            }
            // Otherwise another value holds, unless it was deleted meanwhile: then again.
            if let Some(held) = self.setting(key).await? {
                return Ok((held, false));
            }
        }
    }

    /// Deletes the setting if it still holds `value`; true if it did.
    pub async fn delete_setting_if(&self, key: &str, value: &str) -> sqlx::Result<bool> {
        Ok(
            sqlx::query("DELETE FROM settings WHERE key = $1 AND value = $2")
                .bind(key)
                .bind(value)
                .execute(self.pool())
                .await?
                .rows_affected()
                > 0,
        )
    }
}
