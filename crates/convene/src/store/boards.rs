//! The whiteboard's log and snapshots (see migration 0008). The store keeps the
//! operations and snapshots as JSON text; what they mean is `boards::model`'s.

use super::Store;
use crate::ids::RoomId;
use sqlx::Row;

/// An operation to store: its number in the room, the JSON, who made it.
#[derive(Debug, Clone)]
pub struct StoredOp {
    pub seq: i64,
    pub op: String,
    pub by_user: Option<i64>,
}

/// The stored boards of a room: the snapshot (seq and JSON) if any, and the
/// operations after it, in order.
#[derive(Debug, Clone, Default)]
pub struct BoardLog {
    pub snapshot: Option<(i64, String)>,
    pub ops: Vec<(i64, String)>,
}

impl Store {
    /// Stores operations of one room, all or none (in one transaction, in order).
    pub async fn insert_board_ops(&self, room: RoomId, ops: &[StoredOp]) -> sqlx::Result<()> {
        let mut tx = self.pool().begin().await?;
        let sql = self.sql(
            "INSERT INTO board_ops (room_id, seq, op, by_user, created_at)
             VALUES ($1, $2, $3, $4, NOW_MS)",
        );
        for op in ops {
            sqlx::query(&sql)
                .bind(room.0)
                .bind(op.seq)
                .bind(&op.op)
                .bind(op.by_user)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }

    /// Replaces the room's snapshot with the boards as of `seq` and drops the
    /// operations it holds. An older snapshot never replaces a newer one.
    pub async fn save_board_snapshot(
        &self,
        room: RoomId,
        seq: i64,
        state: &str,
    ) -> sqlx::Result<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(&self.sql(
            "INSERT INTO board_snapshots (room_id, seq, state, created_at)
             VALUES ($1, $2, $3, NOW_MS)
             ON CONFLICT (room_id) DO UPDATE
               SET seq = excluded.seq, state = excluded.state, created_at = excluded.created_at
               WHERE board_snapshots.seq < excluded.seq",
        ))
        .bind(room.0)
        .bind(seq)
        .bind(state)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM board_ops WHERE room_id = $1 AND seq <= $2")
            .bind(room.0)
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    /// The room's snapshot and the operations after it, read in one transaction so
    /// that a snapshot written meanwhile cannot hide operations.
    pub async fn board_log(&self, room: RoomId) -> sqlx::Result<BoardLog> {
        let mut tx = self.pool().begin().await?;
        let snapshot = sqlx::query("SELECT seq, state FROM board_snapshots WHERE room_id = $1")
            .bind(room.0)
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| Ok::<_, sqlx::Error>((r.try_get::<i64, _>(0)?, r.try_get::<String, _>(1)?)))
            .transpose()?;
        let after = snapshot.as_ref().map_or(0, |(seq, _)| *seq);
        let ops = sqlx::query(
            "SELECT seq, op FROM board_ops WHERE room_id = $1 AND seq > $2 ORDER BY seq",
        )
        .bind(room.0)
        .bind(after)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| Ok((r.try_get::<i64, _>(0)?, r.try_get::<String, _>(1)?)))
        .collect::<sqlx::Result<Vec<_>>>()?;
        tx.commit().await?;
        Ok(BoardLog { snapshot, ops })
    }
}
