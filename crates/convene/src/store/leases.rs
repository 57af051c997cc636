//! Hosting leases (see `docs/design.md`, "Leases and fencing"): renewal by the holder,
//! and the declaration of death by a judge, which bumps the epoch so that the dead node
//! cannot renew and must drop its rooms before it registers again.

use super::servers::LEASE_MS;
use super::{Dialect, Store};
use crate::ids::NodeId;
use sqlx::Row;

/// Key of the advisory lock that elects the one node clearing dead nodes' rows.
const JANITOR_LOCK: i64 = 0x0063_6f6e_7665_6e66;

/// What a renewal found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    /// The lease runs for another [`LEASE_MS`] from the database's now.
    Renewed,
    /// The epoch moved on (the node was declared dead) or another process holds the id.
    Lost,
}

impl Store {
    /// Renews this node's lease under `epoch` and writes its heartbeat and readiness.
    /// An expired lease may be renewed as long as its epoch is unchanged: no one can have
    /// taken its rooms without declaring the node dead first.
    pub async fn renew_lease(
        &self,
        id: NodeId,
        instance: &str,
        epoch: i64,
        ready: bool,
    ) -> sqlx::Result<Renewal> {
        let res = sqlx::query(&self.sql(
            "UPDATE servers SET heartbeat_at = NOW_MS, lease_until = NOW_MS + $4, ready = $5
             WHERE id = $1 AND instance = $2 AND lease_epoch = $3",
        ))
        .bind(id.0)
        .bind(instance)
        .bind(epoch)
        .bind(LEASE_MS)
        .bind(ready as i64)
        .execute(self.pool())
        .await?;
        Ok(if res.rows_affected() > 0 {
            Renewal::Renewed
        } else {
            Renewal::Lost
        })
    }

    /// Declares dead every other node whose lease expired and that still holds rooms or
    /// connections: bumps its epoch and removes those rows, so its rooms can be placed
    /// again. Call only as a judge that has itself renewed without a break for longer
    /// than a lease (so a database outage is not taken for everyone's death). One node
    /// judges at a time (a PostgreSQL advisory lock; SQLite has one node). Returns the
    /// nodes declared dead with the number of connection rows removed.
    pub async fn declare_dead_nodes(&self, judge: NodeId) -> sqlx::Result<Vec<(NodeId, u64)>> {
        let mut tx = self.pool().begin().await?;
        if self.dialect() == Dialect::Postgres {
            let got: bool = sqlx::query("SELECT pg_try_advisory_xact_lock($1) AS got")
                .bind(JANITOR_LOCK)
                .fetch_one(&mut *tx)
                .await?
                .try_get("got")?;
            if !got {
                return Ok(Vec::new());
            }
        }
        let dead: Vec<(i64, i64)> = sqlx::query(&self.sql(
            "SELECT id, lease_epoch FROM servers
             WHERE id <> $1 AND (lease_until IS NULL OR lease_until < NOW_MS)
               AND (EXISTS (SELECT 1 FROM connections c WHERE c.server_id = servers.id)
                    OR EXISTS (SELECT 1 FROM room_hosts h WHERE h.server_id = servers.id))",
        ))
        .bind(judge.0)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("lease_epoch")?)))
        .collect::<sqlx::Result<_>>()?;
        let mut cleared = Vec::new();
        for (id, epoch) in dead {
            // Conditional: a renewal that got in first keeps the node alive.
            let bumped = sqlx::query(&self.sql(
                "UPDATE servers SET lease_epoch = lease_epoch + 1, lease_until = NULL
                 WHERE id = $1 AND lease_epoch = $2
                   AND (lease_until IS NULL OR lease_until < NOW_MS)",
            ))
            .bind(id)
            .bind(epoch)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if bumped == 0 {
                continue;
            }
            let conns = sqlx::query("DELETE FROM connections WHERE server_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query("DELETE FROM room_hosts WHERE server_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            cleared.push((NodeId(id), conns));
        }
        tx.commit().await?;
        Ok(cleared)
    }
}
