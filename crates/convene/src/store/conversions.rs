//! Document conversion jobs and the pages they made (`files::convert` does the work).
//!
//! A job is claimed by one node at a time: on PostgreSQL the candidate row is locked
//! with `FOR UPDATE SKIP LOCKED` inside the claiming `UPDATE`, so two nodes polling at
//! once take different jobs (or one takes it and the other none); on SQLite the one
//! statement runs under the database's write lock. A claim is a lease on the database
//! clock: a node that died lets it lapse and the job is claimed again. `attempts` is the
//! claim's fencing token: only the current claim may record progress or finish.

use super::files::{FILE_COLUMNS, file_from_row};
use super::{FileRow, Store};
use sqlx::Row;

/// A job this node claimed.
#[derive(Debug, Clone)]
pub struct Claim {
    pub job: i64,
    pub file_id: i64,
    /// `pdf`, `image` or `office`.
    pub kind: String,
    /// This claim's number (the fencing token).
    pub attempt: i64,
}

/// One converted page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRow {
    pub number: i64,
    pub width: i64,
    pub height: i64,
    pub storage_key: String,
}

/// Where a file's conversion stands.
#[derive(Debug, Clone)]
pub struct Progress {
    pub state: String,
    pub pages_done: i64,
    pub pages_total: Option<i64>,
    pub attempts: i64,
    pub claimed_by: Option<i64>,
    pub error: Option<String>,
}

/// The claim: the oldest job that is queued, or running under a lapsed lease. Office
/// jobs are taken by a node without LibreOffice (`$3` = 0) only once they have waited
/// `$4` ms, so that a node with it gets them first.
const CLAIM: &str = "UPDATE conversions
     SET state = 'running', claimed_by = $1, claimed_until = NOW_MS + $2,
         attempts = attempts + 1, updated_at = NOW_MS
     WHERE id = (SELECT id FROM conversions
                 WHERE (state = 'queued' OR (state = 'running' AND claimed_until < NOW_MS))
                   AND (kind <> 'office' OR $3 = 1 OR created_at < NOW_MS - $4)
                 ORDER BY id LIMIT 1 LOCK_CLAUSE)
     RETURNING id, file_id, kind, attempts";

impl Store {
    /// Marks a stored file `converting` and queues its conversion, in one transaction.
    /// None when the file is gone.
    pub async fn queue_conversion(&self, file: i64, kind: &str) -> sqlx::Result<Option<FileRow>> {
        let mut tx = self.pool().begin().await?;
        let sql = format!(
            "UPDATE files SET status = 'converting', error = NULL, updated_at = NOW_MS
             WHERE id = $1 AND deleted_at IS NULL RETURNING {FILE_COLUMNS}"
        )
        .replace("NOW_MS", &self.sql("NOW_MS"));
        let Some(row) = sqlx::query(&sql)
            .bind(file)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let row = file_from_row(&row)?;
        sqlx::query(&self.sql(
            "INSERT INTO conversions (file_id, kind, created_at, updated_at)
             VALUES ($1, $2, NOW_MS, NOW_MS)",
        ))
        .bind(file)
        .bind(kind)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(row))
    }

    /// Claims one job for `node` for `lease_ms`, or None when there is none to take.
    pub async fn claim_conversion(
        &self,
        node: i64,
        lease_ms: i64,
        office: bool,
        office_wait_ms: i64,
    ) -> sqlx::Result<Option<Claim>> {
        let sql = self.claim_sql(CLAIM);
        let row = sqlx::query(&sql)
            .bind(node)
            .bind(lease_ms)
            .bind(office as i64)
            .bind(office_wait_ms)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| {
            Ok(Claim {
                job: r.try_get("id")?,
                file_id: r.try_get("file_id")?,
                kind: r.try_get("kind")?,
                attempt: r.try_get("attempts")?,
            })
        })
        .transpose()
    }

    /// Records progress and renews the claim's lease; false when the claim is no longer
    /// this one's (it lapsed and another node took the job, or the job is gone).
    pub async fn conversion_progress(
        &self,
        claim: &Claim,
        done: i64,
        total: Option<i64>,
        lease_ms: i64,
    ) -> sqlx::Result<bool> {
        let done = sqlx::query(&self.sql(
            "UPDATE conversions
             SET pages_done = $3, pages_total = COALESCE($4, pages_total),
                 claimed_until = NOW_MS + $5, updated_at = NOW_MS
             WHERE id = $1 AND attempts = $2 AND state = 'running'",
        ))
        .bind(claim.job)
        .bind(claim.attempt)
        .bind(done)
        .bind(total)
        .bind(lease_ms)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Finishes the claim: the pages are recorded and the file is `ready`. False (and
    /// nothing recorded) when the claim is no longer this one's or the file was deleted:
    /// the caller removes the pages it stored. The file's row is updated under its lock,
    /// so a deletion either comes first (no pages recorded) or after (its purge finds them).
    pub async fn finish_conversion(
        &self,
        claim: &Claim,
        pages: &[PageRow],
        thumbnail: Option<&str>,
    ) -> sqlx::Result<bool> {
        let mut tx = self.pool().begin().await?;
        let won = sqlx::query(&self.sql(
            "UPDATE conversions
             SET state = 'done', pages_done = $3, pages_total = $3, error = NULL,
                 claimed_until = NULL, updated_at = NOW_MS
             WHERE id = $1 AND attempts = $2 AND state = 'running'",
        ))
        .bind(claim.job)
        .bind(claim.attempt)
        .bind(pages.len() as i64)
        .execute(&mut *tx)
        .await?;
        if won.rows_affected() == 0 {
            return Ok(false);
        }
        // A file deleted meanwhile keeps no pages (its purge may have looked already).
        let live = sqlx::query(&self.sql(
            "UPDATE files SET status = 'ready', error = NULL, updated_at = NOW_MS,
                 thumbnail_key = $2, page_count = $3
             WHERE id = $1 AND deleted_at IS NULL",
        ))
        .bind(claim.file_id)
        .bind(thumbnail)
        .bind(pages.len() as i64)
        .execute(&mut *tx)
        .await?;
        if live.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM file_pages WHERE file_id = $1")
            .bind(claim.file_id)
            .execute(&mut *tx)
            .await?;
        for page in pages {
            sqlx::query(
                "INSERT INTO file_pages (file_id, number, width, height, storage_key)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(claim.file_id)
            .bind(page.number)
            .bind(page.width)
            .bind(page.height)
            .bind(&page.storage_key)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Fails the claim with a reason people read; the file is `failed` with it.
    pub async fn fail_conversion(&self, claim: &Claim, error: &str) -> sqlx::Result<bool> {
        let mut tx = self.pool().begin().await?;
        let won = sqlx::query(&self.sql(
            "UPDATE conversions SET state = 'failed', error = $3, claimed_until = NULL,
                 updated_at = NOW_MS
             WHERE id = $1 AND attempts = $2 AND state = 'running'",
        ))
        .bind(claim.job)
        .bind(claim.attempt)
        .bind(error)
        .execute(&mut *tx)
        .await?;
        if won.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(&self.sql(
            "UPDATE files SET status = 'failed', error = $2, updated_at = NOW_MS WHERE id = $1",
        ))
        .bind(claim.file_id)
        .bind(error)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Gives a claim back (the node is stopping): the job is queued for any node.
    pub async fn release_conversion(&self, claim: &Claim) -> sqlx::Result<()> {
        sqlx::query(&self.sql(
            "UPDATE conversions SET state = 'queued', claimed_by = NULL, claimed_until = NULL,
                 updated_at = NOW_MS
             WHERE id = $1 AND attempts = $2 AND state = 'running'",
        ))
        .bind(claim.job)
        .bind(claim.attempt)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn conversion_of(&self, file: i64) -> sqlx::Result<Option<Progress>> {
        let row = sqlx::query(
            "SELECT state, pages_done, pages_total, attempts, claimed_by, error
             FROM conversions WHERE file_id = $1",
        )
        .bind(file)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(Progress {
                state: r.try_get("state")?,
                pages_done: r.try_get("pages_done")?,
                pages_total: r.try_get("pages_total")?,
                attempts: r.try_get("attempts")?,
                claimed_by: r.try_get("claimed_by")?,
                error: r.try_get("error")?,
            })
        })
        .transpose()
    }

    /// A file's pages, in order.
    pub async fn pages(&self, file: i64) -> sqlx::Result<Vec<PageRow>> {
        let rows = sqlx::query(
            "SELECT number, width, height, storage_key FROM file_pages
             WHERE file_id = $1 ORDER BY number",
        )
        .bind(file)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PageRow {
                    number: r.try_get("number")?,
                    width: r.try_get("width")?,
                    height: r.try_get("height")?,
                    storage_key: r.try_get("storage_key")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Inserted, NewFile, Scope};

    async fn store_with_file(dir: &std::path::Path) -> (Store, i64) {
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.display());
        let store = Store::open(&url).await.unwrap();
        let owner = store
            .create_user("u", "x", crate::store::Role::User, "U")
            .await
            .unwrap()
            .unwrap()
            .id;
        let new = NewFile {
            scope: Scope::User(owner),
            folder: None,
            name: "a.pdf".into(),
            size: 1,
            content_type: "application/pdf".into(),
            storage_key: "files/x".into(),
            sha256: "00".into(),
            created_by: owner,
        };
        let Inserted::File(file) = store.insert_file(&new, 0).await.unwrap() else {
            panic!("inserted");
        };
        (store, file.id)
    }

    #[tokio::test]
    async fn one_claimer_and_a_lapsed_claim_is_taken_again() {
        let dir = tempfile::tempdir().unwrap();
        let (store, file) = store_with_file(dir.path()).await;
        let queued = store.queue_conversion(file, "pdf").await.unwrap().unwrap();
        assert_eq!(queued.status, "converting");
        let first = store
            .claim_conversion(1, 60_000, true, 0)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((first.file_id, first.attempt), (file, 1));
        assert!(
            store
                .claim_conversion(2, 60_000, true, 0)
                .await
                .unwrap()
                .is_none()
        );
        // The first claimer "dies": its lease lapses and node 2 takes the job.
        assert!(
            store
                .conversion_progress(&first, 0, Some(3), -1)
                .await
                .unwrap()
        );
        let second = store
            .claim_conversion(2, 60_000, true, 0)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(second.attempt, 2);
        // The stale claim can neither report nor finish.
        assert!(
            !store
                .conversion_progress(&first, 1, None, 60_000)
                .await
                .unwrap()
        );
        let page = PageRow {
            number: 1,
            width: 10,
            height: 20,
            storage_key: "pages/x/1.png".into(),
        };
        assert!(
            !store
                .finish_conversion(&first, std::slice::from_ref(&page), None)
                .await
                .unwrap()
        );
        assert!(
            store
                .finish_conversion(&second, std::slice::from_ref(&page), None)
                .await
                .unwrap()
        );
        assert_eq!(store.pages(file).await.unwrap(), vec![page]);
        assert_eq!(store.file(file).await.unwrap().unwrap().status, "ready");
        let progress = store.conversion_of(file).await.unwrap().unwrap();
        assert_eq!(
            (progress.state.as_str(), progress.claimed_by),
            ("done", Some(2))
        );
        assert!(!store.fail_conversion(&second, "late").await.unwrap());
    }

    #[tokio::test]
    async fn office_jobs_wait_for_a_node_with_libreoffice() {
        let dir = tempfile::tempdir().unwrap();
        let (store, file) = store_with_file(dir.path()).await;
        store
            .queue_conversion(file, "office")
            .await
            .unwrap()
            .unwrap();
        assert!(
            store
                .claim_conversion(1, 60_000, false, 60_000)
                .await
                .unwrap()
                .is_none()
        );
        let claim = store
            .claim_conversion(1, 60_000, false, -1)
            .await
            .unwrap()
            .unwrap();
        assert!(
            store
                .fail_conversion(&claim, "no LibreOffice")
                .await
                .unwrap()
        );
        let f = store.file(file).await.unwrap().unwrap();
        assert_eq!(
            (f.status.as_str(), f.error.as_deref()),
            ("failed", Some("no LibreOffice"))
        );
    }
}
