//! Schema migrations: one ordered list, applied at start, each in a transaction.
//! On PostgreSQL a transaction-scoped advisory lock keeps nodes that start together
//! from applying the same migration twice.

use super::{Dialect, Store};
use sqlx::Row;

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "core", include_str!("../../migrations/0001_core.sql")),
    (
        2,
        "cluster",
        include_str!("../../migrations/0002_cluster.sql"),
    ),
    (
        3,
        "leases",
        include_str!("../../migrations/0003_leases.sql"),
    ),
    (
        4,
        "invitations",
        include_str!("../../migrations/0004_invitations.sql"),
    ),
    (5, "roles", include_str!("../../migrations/0005_roles.sql")),
    (6, "files", include_str!("../../migrations/0006_files.sql")),
    (
        7,
        "conversions",
        include_str!("../../migrations/0007_conversions.sql"),
    ),
    (
        8,
        "boards",
        include_str!("../../migrations/0008_boards.sql"),
    ),
    (
        9,
        "thumbnails",
        include_str!("../../migrations/0009_thumbnails.sql"),
    ),
    (
        10,
        "openmeetings",
        include_str!("../../migrations/0010_openmeetings.sql"),
    ),
    (
        11,
        "recordings",
        include_str!("../../migrations/0011_recordings.sql"),
    ),
];

/// Key of the PostgreSQL advisory lock held while migrating ("convene" in ASCII).
const MIGRATION_LOCK: i64 = 0x0063_6f6e_7665_6e65;

/// Starts a transaction holding the migration lock.
async fn locked(store: &Store) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Any>> {
    let mut tx = store.pool.begin().await?;
    if store.dialect == Dialect::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await?;
    }
    Ok(tx)
}

pub(super) async fn apply(store: &Store) -> anyhow::Result<()> {
    let mut tx = locked(store).await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;

    for (version, name, text) in MIGRATIONS {
        let mut tx = locked(store).await?;
        let newest: Option<i64> = sqlx::query("SELECT MAX(version) AS v FROM schema_migrations")
            .fetch_one(&mut *tx)
            .await?
            .try_get("v")?;
        if let Some(newest) = newest
            && newest > latest_version()
        {
            anyhow::bail!(
                "the database schema (version {newest}) is newer than this binary; upgrade Convene"
            );
        }
        if newest.is_some_and(|n| n >= *version) {
            continue;
        }
        // Whole-line comments go first, so a ';' in a comment does not split a statement.
        let sql = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n")
            .replace("$ID_PK", store.dialect.id_pk());
        // One statement at a time: prepared statements work the same on both engines.
        for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            sqlx::query(statement)
                .execute(&mut *tx)
                .await
                .map_err(|e| anyhow::anyhow!("migration {version} ({name}) failed: {e}"))?;
        }
        sqlx::query(&store.sql(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, NOW_MS)",
        ))
        .bind(*version)
        .bind(*name)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(version, name, "applied database migration");
    }
    Ok(())
}

/// Latest schema version this binary knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map(|m| m.0).unwrap_or(0)
}
