//! Failed-login bookkeeping, per account and per address, shared by all nodes.

use super::Store;
use sqlx::Row;

impl Store {
    /// Counts an attempt under `key` before its password is checked, unless the key is
    /// throttled: after `limit` attempts, the next must come at least 2^(n − limit)
    /// seconds (at most 5 minutes) after the one before. Decided in one statement, so
    /// parallel attempts cannot all slip past the limit. Returns the milliseconds still
    /// to wait when throttled (the attempt is then not counted).
    pub async fn reserve_login_attempt(&self, key: &str, limit: i64) -> sqlx::Result<Option<i64>> {
        let inserted = sqlx::query(&self.sql(
            "INSERT INTO login_failures (key, failures, last_at) VALUES ($1, 1, NOW_MS)
             ON CONFLICT (key) DO NOTHING",
        ))
        .bind(key)
        .execute(self.pool())
        .await?
        .rows_affected();
        if inserted > 0 {
            return Ok(None);
        }
        let counted = sqlx::query(&self.sql(
            "UPDATE login_failures SET failures = failures + 1, last_at = NOW_MS
             WHERE key = $1 AND (failures < $2 OR NOW_MS - last_at >= WAIT_MS)",
        ))
        .bind(key)
        .bind(limit)
        .execute(self.pool())
        .await?
        .rows_affected();
        if counted > 0 {
            return Ok(None);
        }
        let row = sqlx::query(&self.sql(
            "SELECT WAIT_MS - (NOW_MS - last_at) AS remaining FROM login_failures WHERE key = $1",
        ))
        .bind(key)
        .bind(limit)
        .fetch_optional(self.pool())
        .await?;
        Ok(match row {
            Some(r) => Some(r.try_get::<i64, _>("remaining")?.max(1)),
            // Cleared meanwhile by a success: let this attempt go.
            None => None,
        })
    }

    /// Milliseconds still to wait under `key` after `limit` failures, without counting.
    pub async fn login_wait(&self, key: &str, limit: i64) -> sqlx::Result<Option<i64>> {
        let row = sqlx::query(&self.sql(
            "SELECT WAIT_MS - (NOW_MS - last_at) AS remaining FROM login_failures
             WHERE key = $1 AND failures >= $2",
        ))
        .bind(key)
        .bind(limit)
        .fetch_optional(self.pool())
        .await?;
        Ok(match row {
            Some(r) => Some(r.try_get::<i64, _>("remaining")?).filter(|ms| *ms > 0),
            None => None,
        })
    }

    /// Counts a failure under `key`.
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
