//! Failed-login bookkeeping, per account and per address, shared by all nodes.

use super::Store;
use sqlx::Row;

#[derive(Debug, Clone, Copy)]
pub struct ThrottleState {
    pub failures: i64,
    /// Milliseconds since the last failure, by the database clock.
    pub since_last_ms: i64,
}

impl Store {
    pub async fn throttle_state(&self, key: &str) -> sqlx::Result<Option<ThrottleState>> {
        let row =
            sqlx::query(&self.sql(
                "SELECT failures, NOW_MS - last_at AS since FROM login_failures WHERE key = $1",
            ))
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| {
            Ok(ThrottleState {
                failures: r.try_get("failures")?,
                since_last_ms: r.try_get("since")?,
            })
        })
        .transpose()
    }

    pub async fn record_login_failure(&self, key: &str) -> sqlx::Result<()> {
        sqlx::query(&self.sql(
            "INSERT INTO login_failures (key, failures, last_at) VALUES ($1, 1, NOW_MS)
             ON CONFLICT (key) DO UPDATE SET failures = login_failures.failures + 1, last_at = NOW_MS",
        ))
        .bind(key)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn clear_login_failures(&self, key: &str) -> sqlx::Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE key = $1")
            .bind(key)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Forgets failures older than a day.
    pub async fn purge_login_failures(&self) -> sqlx::Result<u64> {
        Ok(
            sqlx::query(&self.sql("DELETE FROM login_failures WHERE last_at < NOW_MS - 86400000"))
                .execute(self.pool())
                .await?
                .rows_affected(),
        )
    }
}
