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

    /// Sets the value unless one exists; returns the value that holds.
    pub async fn setting_or_insert(&self, key: &str, value: &str) -> sqlx::Result<String> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .execute(self.pool())
        .await?;
        Ok(self
            .setting(key)
            .await?
            .unwrap_or_else(|| value.to_string()))
    }
}
