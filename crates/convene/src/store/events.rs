//! The event outbox: the only way nodes tell each other something. Rows are JSON,
//! read in sequence order; PostgreSQL `NOTIFY` merely wakes the readers.

use super::{Dialect, Store};
use sqlx::Row;

/// The PostgreSQL channel nodes LISTEN on.
pub const CHANNEL: &str = "convene_events";

#[derive(Debug, Clone)]
pub struct EventRow {
    pub seq: i64,
    pub kind: String,
    pub payload: String,
}

impl Store {
    /// Appends an event and wakes the other nodes.
    pub async fn publish_event(&self, kind: &str, payload: &str) -> sqlx::Result<i64> {
        let row = sqlx::query(&self.sql(
            "INSERT INTO events (kind, payload, created_at) VALUES ($1, $2, NOW_MS) RETURNING seq",
        ))
        .bind(kind)
        .bind(payload)
        .fetch_one(self.pool())
        .await?;
        let seq: i64 = row.try_get("seq")?;
        if self.dialect() == Dialect::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(seq.to_string())
                .execute(self.pool())
                .await?;
        }
        Ok(seq)
    }

    pub async fn events_after(&self, seq: i64, limit: i64) -> sqlx::Result<Vec<EventRow>> {
        sqlx::query("SELECT seq, kind, payload FROM events WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(seq)
            .bind(limit)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| {
                Ok(EventRow {
                    seq: r.try_get("seq")?,
                    kind: r.try_get("kind")?,
                    payload: r.try_get("payload")?,
                })
            })
            .collect()
    }

    /// The newest sequence number (0 when there is none).
    pub async fn last_event_seq(&self) -> sqlx::Result<i64> {
        let row = sqlx::query("SELECT MAX(seq) AS seq FROM events")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get::<Option<i64>, _>("seq")?.unwrap_or(0))
    }

    /// Forgets events older than `age_ms`: every live node has long applied them.
    pub async fn purge_events(&self, age_ms: i64) -> sqlx::Result<u64> {
        Ok(
            sqlx::query(&self.sql("DELETE FROM events WHERE created_at < NOW_MS - $1"))
                .bind(age_ms)
                .execute(self.pool())
                .await?
                .rows_affected(),
        )
    }
}
