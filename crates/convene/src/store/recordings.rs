//! Recordings: their rows through capture (on the room's node), processing (a claim
//! any node may take, fenced by `attempts`, as conversions are) and playback
//! (`recordings` does the work; migration 11 says what each status means).

use super::Store;
use crate::ids::{RoomId, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone)]
pub struct RecordingRow {
    pub id: i64,
    pub room: Option<RoomId>,
    pub name: String,
    /// `recording`, `stopping`, `processing`, `ready` or `failed`.
    pub status: String,
    pub storage_prefix: String,
    pub started_by: Option<UserId>,
    pub started_by_name: Option<String>,
    pub started_at: i64,
    pub stopped_at: Option<i64>,
    pub duration_ms: Option<i64>,
    pub size_bytes: Option<i64>,
    pub media_key: Option<String>,
    pub thumbnail_key: Option<String>,
    pub error: Option<String>,
    pub node: Option<i64>,
}

/// A processing job this node claimed.
#[derive(Debug, Clone)]
pub struct RecordingClaim {
    pub id: i64,
    /// This claim's number (the fencing token).
    pub attempt: i64,
}

const COLUMNS: &str = "id, room_id, name, status, storage_prefix, started_by, started_by_name, \
     started_at, stopped_at, duration_ms, size_bytes, media_key, thumbnail_key, error, node_id";

fn from_row(r: &AnyRow) -> sqlx::Result<RecordingRow> {
    Ok(RecordingRow {
        id: r.try_get("id")?,
        room: r.try_get::<Option<i64>, _>("room_id")?.map(RoomId),
        name: r.try_get("name")?,
        status: r.try_get("status")?,
        storage_prefix: r.try_get("storage_prefix")?,
        started_by: r.try_get::<Option<i64>, _>("started_by")?.map(UserId),
        started_by_name: r.try_get("started_by_name")?,
        started_at: r.try_get("started_at")?,
        stopped_at: r.try_get("stopped_at")?,
        duration_ms: r.try_get("duration_ms")?,
        size_bytes: r.try_get("size_bytes")?,
        media_key: r.try_get("media_key")?,
        thumbnail_key: r.try_get("thumbnail_key")?,
        error: r.try_get("error")?,
        node: r.try_get("node_id")?,
    })
}

/// A processing claim: the oldest recording waiting (`processing` and not claimed, or
/// its claim lapsed), or a capture whose node stopped writing (`$3` ms without a
/// heartbeat) — what it wrote is processed.
const CLAIM: &str = "UPDATE recordings
     SET status = 'processing', claimed_by = $1, claimed_until = NOW_MS + $2,
         attempts = attempts + 1, updated_at = NOW_MS,
         stopped_at = COALESCE(stopped_at, heartbeat_at)
     WHERE id = (SELECT id FROM recordings
                 WHERE deleted_at IS NULL AND (
                     (status = 'processing' AND (claimed_until IS NULL OR claimed_until < NOW_MS))
                     OR (status IN ('recording', 'stopping') AND heartbeat_at < NOW_MS - $3))
                 ORDER BY id LIMIT 1 LOCK_CLAUSE)
     RETURNING id, attempts";

/// Whether a room may be recorded, and whether it is by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingPolicy {
    Allowed,
    Forbidden,
    Automatic,
}

impl RecordingPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingPolicy::Allowed => "allowed",
            RecordingPolicy::Forbidden => "forbidden",
            RecordingPolicy::Automatic => "automatic",
        }
    }

    pub fn parse(s: &str) -> Option<RecordingPolicy> {
        match s {
            "allowed" => Some(RecordingPolicy::Allowed),
            "forbidden" => Some(RecordingPolicy::Forbidden),
            "automatic" => Some(RecordingPolicy::Automatic),
            _ => None,
        }
    }
}

impl Store {
    pub async fn room_recording_policy(&self, room: RoomId) -> sqlx::Result<RecordingPolicy> {
        let row = sqlx::query("SELECT recording FROM rooms WHERE id = $1")
            .bind(room.0)
            .fetch_optional(self.pool())
            .await?;
        let text: Option<String> = row.map(|r| r.try_get("recording")).transpose()?;
        Ok(text
            .as_deref()
            .and_then(RecordingPolicy::parse)
            .unwrap_or(RecordingPolicy::Allowed))
    }

    pub async fn set_room_recording_policy(
        &self,
        room: RoomId,
        policy: RecordingPolicy,
    ) -> sqlx::Result<bool> {
        let done = sqlx::query("UPDATE rooms SET recording = $2 WHERE id = $1")
            .bind(room.0)
            .bind(policy.as_str())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Starts a recording of `room` (its row; capture follows on the room's node). None
    /// when the room has one running already.
    pub async fn start_recording(
        &self,
        room: RoomId,
        name: &str,
        by: Option<(UserId, String)>,
        prefix: &str,
    ) -> sqlx::Result<Option<RecordingRow>> {
        let sql = format!(
            "INSERT INTO recordings (room_id, name, status, storage_prefix, started_by,
                 started_by_name, started_at, heartbeat_at, updated_at)
             VALUES ($1, $2, 'recording', $3, $4, $5, NOW_MS, NOW_MS, NOW_MS)
             RETURNING {COLUMNS}"
        );
        let sql = sql.replace("NOW_MS", &self.sql("NOW_MS"));
        let (user, user_name) = by.map_or((None, None), |(u, n)| (Some(u.0), Some(n)));
        match sqlx::query(&sql)
            .bind(room.0)
            .bind(name)
            .bind(prefix)
            .bind(user)
            .bind(user_name)
            .fetch_one(self.pool())
            .await
        {
            Ok(row) => Ok(Some(from_row(&row)?)),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The recording being captured in `room` now (`recording`), if any.
    pub async fn live_recording(&self, room: RoomId) -> sqlx::Result<Option<RecordingRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM recordings
             WHERE room_id = $1 AND status = 'recording' AND deleted_at IS NULL"
        );
        let row = sqlx::query(&sql)
            .bind(room.0)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    pub async fn recording(&self, id: i64) -> sqlx::Result<Option<RecordingRow>> {
        let sql = format!("SELECT {COLUMNS} FROM recordings WHERE id = $1 AND deleted_at IS NULL");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// A room's recordings, newest first.
    pub async fn room_recordings(&self, room: RoomId) -> sqlx::Result<Vec<RecordingRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM recordings WHERE room_id = $1 AND deleted_at IS NULL
             ORDER BY started_at DESC, id DESC"
        );
        let rows = sqlx::query(&sql)
            .bind(room.0)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// Every recording, newest first (for administrators).
    pub async fn all_recordings(&self, limit: i64) -> sqlx::Result<Vec<RecordingRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM recordings WHERE deleted_at IS NULL
             ORDER BY started_at DESC, id DESC LIMIT $1"
        );
        let rows = sqlx::query(&sql).bind(limit).fetch_all(self.pool()).await?;
        rows.iter().map(from_row).collect()
    }

    /// Asks the capture to stop: `recording` becomes `stopping`. False when it was not
    /// being recorded.
    pub async fn request_stop(&self, id: i64) -> sqlx::Result<bool> {
        let done = sqlx::query(&self.sql(
            "UPDATE recordings SET status = 'stopping', updated_at = NOW_MS
             WHERE id = $1 AND status = 'recording' AND deleted_at IS NULL",
        ))
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The capture on `node` wrote a segment: it is alive. Whether it should go on
    /// (false: stop was asked, or the recording is gone).
    pub async fn recording_heartbeat(&self, id: i64, node: i64) -> sqlx::Result<bool> {
        let row = sqlx::query(&self.sql(
            "UPDATE recordings SET heartbeat_at = NOW_MS, node_id = $2
             WHERE id = $1 AND status IN ('recording', 'stopping') RETURNING status",
        ))
        .bind(id)
        .bind(node)
        .fetch_optional(self.pool())
        .await?;
        Ok(row
            .map(|r| r.try_get::<String, _>("status"))
            .transpose()?
            .is_some_and(|s| s == "recording"))
    }

    /// The capture wrote all it had: the recording waits for processing.
    pub async fn capture_finished(&self, id: i64) -> sqlx::Result<()> {
        sqlx::query(&self.sql(
            "UPDATE recordings SET status = 'processing', stopped_at = NOW_MS,
                 heartbeat_at = NOW_MS, updated_at = NOW_MS
             WHERE id = $1 AND status IN ('recording', 'stopping')",
        ))
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn claim_recording(
        &self,
        node: i64,
        lease_ms: i64,
        stale_ms: i64,
    ) -> sqlx::Result<Option<RecordingClaim>> {
        let sql = self.claim_sql(CLAIM);
        let row = sqlx::query(&sql)
            .bind(node)
            .bind(lease_ms)
            .bind(stale_ms)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| {
            Ok(RecordingClaim {
                id: r.try_get("id")?,
                attempt: r.try_get("attempts")?,
            })
        })
        .transpose()
    }

    /// Renews a processing claim; false when it is no longer this one's.
    pub async fn recording_claim_renew(
        &self,
        claim: &RecordingClaim,
        lease_ms: i64,
    ) -> sqlx::Result<bool> {
        let done = sqlx::query(&self.sql(
            "UPDATE recordings SET claimed_until = NOW_MS + $3
             WHERE id = $1 AND attempts = $2 AND status = 'processing'",
        ))
        .bind(claim.id)
        .bind(claim.attempt)
        .bind(lease_ms)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The playable file is stored: `ready`. False when the claim was lost.
    pub async fn finish_recording(
        &self,
        claim: &RecordingClaim,
        media_key: &str,
        thumbnail_key: Option<&str>,
        duration_ms: i64,
        size: i64,
    ) -> sqlx::Result<bool> {
        let done = sqlx::query(&self.sql(
            "UPDATE recordings SET status = 'ready', media_key = $3, thumbnail_key = $4,
                 duration_ms = $5, size_bytes = $6, error = NULL, claimed_until = NULL,
                 updated_at = NOW_MS
             WHERE id = $1 AND attempts = $2 AND status = 'processing'",
        ))
        .bind(claim.id)
        .bind(claim.attempt)
        .bind(media_key)
        .bind(thumbnail_key)
        .bind(duration_ms)
        .bind(size)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn fail_recording(&self, claim: &RecordingClaim, error: &str) -> sqlx::Result<()> {
        sqlx::query(&self.sql(
            "UPDATE recordings SET status = 'failed', error = $3, claimed_until = NULL,
                 updated_at = NOW_MS
             WHERE id = $1 AND attempts = $2 AND status = 'processing'",
        ))
        .bind(claim.id)
        .bind(claim.attempt)
        .bind(error)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A failed recording is queued for processing again. False when it had not failed.
    pub async fn retry_recording(&self, id: i64) -> sqlx::Result<bool> {
        let done = sqlx::query(&self.sql(
            "UPDATE recordings SET status = 'processing', error = NULL, claimed_until = NULL,
                 attempts = 0, updated_at = NOW_MS
             WHERE id = $1 AND status = 'failed' AND deleted_at IS NULL",
        ))
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn rename_recording(&self, id: i64, name: &str) -> sqlx::Result<bool> {
        let done = sqlx::query(&self.sql(
            "UPDATE recordings SET name = $2, updated_at = NOW_MS
             WHERE id = $1 AND deleted_at IS NULL",
        ))
        .bind(id)
        .bind(name)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Marks a recording deleted (its bytes are removed by the caller). A capture that
    /// is running stops at its next heartbeat.
    pub async fn delete_recording(&self, id: i64) -> sqlx::Result<bool> {
        let done = sqlx::query(&self.sql(
            "UPDATE recordings SET deleted_at = NOW_MS, status = CASE
                 WHEN status IN ('recording', 'stopping') THEN 'failed' ELSE status END
             WHERE id = $1 AND deleted_at IS NULL",
        ))
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Marks deleted the finished recordings (`ready`, `failed`) started more than
    /// `age_ms` ago; their ids and prefixes, for their files to be removed.
    pub async fn expire_recordings(&self, age_ms: i64) -> sqlx::Result<Vec<(i64, String)>> {
        let rows = sqlx::query(&self.sql(
            "UPDATE recordings SET deleted_at = NOW_MS
             WHERE deleted_at IS NULL AND status IN ('ready', 'failed') AND started_at < NOW_MS - $1
             RETURNING id, storage_prefix",
        ))
        .bind(age_ms)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("storage_prefix")?)))
            .collect()
    }
}
