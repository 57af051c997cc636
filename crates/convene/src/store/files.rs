//! Files and folders: the metadata of what lies on the shared storage (the bytes are
//! `files::area`'s business). Each row belongs to one area, a room's or an account's.

use super::{Dialect, Store};
use crate::ids::{RoomId, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

/// Whose file area: a room's, or an account's personal one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Room(RoomId),
    User(UserId),
}

impl Scope {
    /// `(room_id, owner_id)` as stored.
    fn columns(self) -> (Option<i64>, Option<i64>) {
        match self {
            Scope::Room(r) => (Some(r.0), None),
            Scope::User(u) => (None, Some(u.0)),
        }
    }
    fn from_columns(room: Option<i64>, owner: Option<i64>) -> Option<Scope> {
        match (room, owner) {
            (Some(r), _) => Some(Scope::Room(RoomId(r))),
            (None, Some(u)) => Some(Scope::User(UserId(u))),
            (None, None) => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FileRow {
    pub id: i64,
    pub scope: Scope,
    pub folder: Option<i64>,
    pub name: String,
    pub size: i64,
    pub content_type: String,
    pub storage_key: String,
    pub sha256: String,
    /// `ready`, `converting` or `failed`.
    pub status: String,
    pub error: Option<String>,
    pub created_by: Option<UserId>,
    pub created_at: i64,
    pub updated_at: i64,
    /// A small PNG of the first page, made with the pages.
    pub thumbnail_key: Option<String>,
    /// How many pages the conversion made.
    pub page_count: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct FolderRow {
    pub id: i64,
    pub scope: Scope,
    pub parent: Option<i64>,
    pub name: String,
    pub created_by: Option<UserId>,
    pub created_at: i64,
}

/// A file whose bytes are stored, to be recorded.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub scope: Scope,
    pub folder: Option<i64>,
    pub name: String,
    pub size: i64,
    pub content_type: String,
    pub storage_key: String,
    pub sha256: String,
    pub created_by: UserId,
}

pub(super) const FILE_COLUMNS: &str = "id, room_id, owner_id, folder_id, name, size, content_type, \
     storage_key, sha256, status, error, created_by, created_at, updated_at, thumbnail_key, \
     page_count";

pub(super) fn file_from_row(r: &AnyRow) -> sqlx::Result<FileRow> {
    let scope = Scope::from_columns(r.try_get("room_id")?, r.try_get("owner_id")?)
        .ok_or(sqlx::Error::RowNotFound)?;
    Ok(FileRow {
        id: r.try_get("id")?,
        scope,
        folder: r.try_get("folder_id")?,
        name: r.try_get("name")?,
        size: r.try_get("size")?,
        content_type: r.try_get("content_type")?,
        storage_key: r.try_get("storage_key")?,
        sha256: r.try_get("sha256")?,
        status: r.try_get("status")?,
        error: r.try_get("error")?,
        created_by: r.try_get::<Option<i64>, _>("created_by")?.map(UserId),
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        thumbnail_key: r.try_get("thumbnail_key")?,
        page_count: r.try_get("page_count")?,
    })
}

fn folder_from_row(r: &AnyRow) -> sqlx::Result<FolderRow> {
    let scope = Scope::from_columns(r.try_get("room_id")?, r.try_get("owner_id")?)
        .ok_or(sqlx::Error::RowNotFound)?;
    Ok(FolderRow {
        id: r.try_get("id")?,
        scope,
        parent: r.try_get("parent_id")?,
        name: r.try_get("name")?,
        created_by: r.try_get::<Option<i64>, _>("created_by")?.map(UserId),
        created_at: r.try_get("created_at")?,
    })
}

/// What the result of a conditional insert was.
#[derive(Debug)]
pub enum Inserted {
    File(Box<FileRow>),
    /// The area's quota would be exceeded: the bytes in use.
    OverQuota(i64),
}

impl Store {
    pub async fn file(&self, id: i64) -> sqlx::Result<Option<FileRow>> {
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE id = $1 AND deleted_at IS NULL
               AND (room_id IS NOT NULL OR owner_id IS NOT NULL)"
        );
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(file_from_row).transpose()
    }

    pub async fn files_in(&self, scope: Scope) -> sqlx::Result<Vec<FileRow>> {
        let (room, owner) = scope.columns();
        let sql = format!(
            "SELECT {FILE_COLUMNS} FROM files
             WHERE deleted_at IS NULL AND (room_id = $1 OR (room_id IS NULL AND owner_id = $2))
             ORDER BY name, id"
        );
        let rows = sqlx::query(&sql)
            .bind(room.unwrap_or(0))
            .bind(owner.unwrap_or(0))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(file_from_row).collect()
    }

    pub async fn folders_in(&self, scope: Scope) -> sqlx::Result<Vec<FolderRow>> {
        let (room, owner) = scope.columns();
        let rows = sqlx::query(
            "SELECT id, room_id, owner_id, parent_id, name, created_by, created_at FROM folders
             WHERE room_id = $1 OR (room_id IS NULL AND owner_id = $2)
             ORDER BY name, id",
        )
        .bind(room.unwrap_or(0))
        .bind(owner.unwrap_or(0))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(folder_from_row).collect()
    }

    pub async fn folder(&self, id: i64) -> sqlx::Result<Option<FolderRow>> {
        let row = sqlx::query(
            "SELECT id, room_id, owner_id, parent_id, name, created_by, created_at FROM folders
             WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(folder_from_row).transpose()
    }

    /// Bytes the area's files take.
    pub async fn files_usage(&self, scope: Scope) -> sqlx::Result<i64> {
        let (room, owner) = scope.columns();
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) AS used FROM files
             WHERE deleted_at IS NULL AND (room_id = $1 OR (room_id IS NULL AND owner_id = $2))",
        )
        .bind(room.unwrap_or(0))
        .bind(owner.unwrap_or(0))
        .fetch_one(self.pool())
        .await?;
        row.try_get("used")
    }

    /// Records a stored file unless the area's quota (`0`: none) would be exceeded. On
    /// PostgreSQL the area's room or account row is locked first, so two uploads cannot
    /// both fit the last free bytes; on SQLite the one statement runs under the write lock.
    pub async fn insert_file(&self, file: &NewFile, quota: i64) -> sqlx::Result<Inserted> {
        let (room, owner) = file.scope.columns();
        let mut tx = self.pool().begin().await?;
        if self.dialect() == Dialect::Postgres {
            let lock = match file.scope {
                Scope::Room(_) => "SELECT id FROM rooms WHERE id = $1 FOR UPDATE",
                Scope::User(_) => "SELECT id FROM users WHERE id = $1 FOR UPDATE",
            };
            sqlx::query(lock)
                .bind(room.or(owner).unwrap_or(0))
                .execute(&mut *tx)
                .await?;
        }
        let sql = format!(
            "INSERT INTO files (room_id, owner_id, folder_id, name, size, content_type, storage_key,
                                sha256, status, created_by, created_at, updated_at)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, 'ready', $9, NOW_MS, NOW_MS
             WHERE $10 = 0 OR (SELECT COALESCE(SUM(size), 0) FROM files
                               WHERE deleted_at IS NULL
                                 AND (room_id = $11 OR (room_id IS NULL AND owner_id = $12)))
                              + $5 <= $10
             RETURNING {FILE_COLUMNS}"
        );
        let sql = sql.replace("NOW_MS", &self.sql("NOW_MS"));
        let row = sqlx::query(&sql)
            .bind(room)
            .bind(owner)
            .bind(file.folder)
            .bind(&file.name)
            .bind(file.size)
            .bind(&file.content_type)
            .bind(&file.storage_key)
            .bind(&file.sha256)
            .bind(file.created_by.0)
            .bind(quota)
            .bind(room.unwrap_or(0))
            .bind(owner.unwrap_or(0))
            .fetch_optional(&mut *tx)
            .await?;
        let result = match row {
            Some(row) => Inserted::File(Box::new(file_from_row(&row)?)),
            None => {
                let used: i64 = sqlx::query(
                    "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) AS used FROM files
                     WHERE deleted_at IS NULL
                       AND (room_id = $1 OR (room_id IS NULL AND owner_id = $2))",
                )
                .bind(room.unwrap_or(0))
                .bind(owner.unwrap_or(0))
                .fetch_one(&mut *tx)
                .await?
                .try_get("used")?;
                Inserted::OverQuota(used)
            }
        };
        tx.commit().await?;
        Ok(result)
    }

    /// Renames and/or moves a file (the folder already checked to be of its area).
    pub async fn update_file(
        &self,
        id: i64,
        name: &str,
        folder: Option<i64>,
    ) -> sqlx::Result<Option<FileRow>> {
        let sql = format!(
            "UPDATE files SET name = $2, folder_id = $3, updated_at = NOW_MS
             WHERE id = $1 AND deleted_at IS NULL
               AND (room_id IS NOT NULL OR owner_id IS NOT NULL)
             RETURNING {FILE_COLUMNS}"
        )
        .replace("NOW_MS", &self.sql("NOW_MS"));
        let row = sqlx::query(&sql)
            .bind(id)
            .bind(name)
            .bind(folder)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(file_from_row).transpose()
    }

    /// Marks a file deleted: gone for everyone; the purge removes its bytes and row.
    pub async fn delete_file(&self, id: i64) -> sqlx::Result<bool> {
        let done = sqlx::query(
            &self.sql("UPDATE files SET deleted_at = NOW_MS WHERE id = $1 AND deleted_at IS NULL"),
        )
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn create_folder(
        &self,
        scope: Scope,
        parent: Option<i64>,
        name: &str,
        by: UserId,
    ) -> sqlx::Result<FolderRow> {
        let (room, owner) = scope.columns();
        let row = sqlx::query(&self.sql(
            "INSERT INTO folders (room_id, owner_id, parent_id, name, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, NOW_MS)
             RETURNING id, room_id, owner_id, parent_id, name, created_by, created_at",
        ))
        .bind(room)
        .bind(owner)
        .bind(parent)
        .bind(name)
        .bind(by.0)
        .fetch_one(self.pool())
        .await?;
        folder_from_row(&row)
    }

    pub async fn update_folder(
        &self,
        id: i64,
        name: &str,
        parent: Option<i64>,
    ) -> sqlx::Result<Option<FolderRow>> {
        let row = sqlx::query(
            "UPDATE folders SET name = $2, parent_id = $3 WHERE id = $1
             RETURNING id, room_id, owner_id, parent_id, name, created_by, created_at",
        )
        .bind(id)
        .bind(name)
        .bind(parent)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(folder_from_row).transpose()
    }

    /// Deletes folders (a folder and all below it, as the caller collected them) and marks
    /// their files deleted, in one transaction.
    pub async fn delete_folders(&self, ids: &[i64]) -> sqlx::Result<u64> {
        let mut tx = self.pool().begin().await?;
        let mut files = 0;
        for id in ids {
            files += sqlx::query(&self.sql(
                "UPDATE files SET deleted_at = NOW_MS WHERE folder_id = $1 AND deleted_at IS NULL",
            ))
            .bind(*id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        // Deepest first is not needed: children go with their parent (ON DELETE CASCADE).
        for id in ids {
            sqlx::query("DELETE FROM folders WHERE id = $1")
                .bind(*id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(files)
    }

    /// Files whose bytes are to be removed: deleted ones, and those whose room or account
    /// is gone. `(id, storage key, thumbnail key)`.
    pub async fn files_to_purge(
        &self,
        limit: i64,
    ) -> sqlx::Result<Vec<(i64, String, Option<String>)>> {
        let rows = sqlx::query(
            "SELECT id, storage_key, thumbnail_key FROM files
             WHERE deleted_at IS NOT NULL OR (room_id IS NULL AND owner_id IS NULL)
             ORDER BY id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    r.try_get("storage_key")?,
                    r.try_get("thumbnail_key")?,
                ))
            })
            .collect()
    }

    /// Drops a purged file's row (its bytes are gone).
    pub async fn forget_file(&self, id: i64) -> sqlx::Result<()> {
        sqlx::query(
            "DELETE FROM files WHERE id = $1
               AND (deleted_at IS NOT NULL OR (room_id IS NULL AND owner_id IS NULL))",
        )
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// May participants (not only moderators) upload to the room's files?
    pub async fn room_files_upload(&self, room: RoomId) -> sqlx::Result<bool> {
        let row = sqlx::query("SELECT files_upload FROM rooms WHERE id = $1")
            .bind(room.0)
            .fetch_optional(self.pool())
            .await?;
        match row {
            Some(r) => Ok(super::flag(r.try_get("files_upload")?)),
            None => Ok(false),
        }
    }

    pub async fn set_room_files_upload(&self, room: RoomId, on: bool) -> sqlx::Result<bool> {
        let done = sqlx::query("UPDATE rooms SET files_upload = $2 WHERE id = $1")
            .bind(room.0)
            .bind(on as i64)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
