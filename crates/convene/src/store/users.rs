//! Accounts.

use super::{Store, flag};
use crate::ids::UserId;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, in the web UI and the API.
    Admin,
    /// Enters rooms; moderates those they moderate.
    User,
    /// An integration: the API with a Bearer token only, never the web UI.
    Webservice,
    /// Between user and admin: creates rooms and runs (edits, moderates, invites to)
    /// the rooms they own; sees nothing of users, servers or others' private rooms.
    Organiser,
    /// Came in through an invitation: one room, nothing else.
    Guest,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
            Role::Webservice => "webservice",
            Role::Organiser => "organiser",
            Role::Guest => "guest",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "user" => Some(Role::User),
            "webservice" => Some(Role::Webservice),
            "organiser" => Some(Role::Organiser),
            "guest" => Some(Role::Guest),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct UserRow {
    pub id: UserId,
    pub login: String,
    pub role: Role,
    pub display_name: String,
    pub enabled: bool,
    pub created_at: i64,
    /// The interface language the account chose; `None`: the browser's.
    pub language: Option<String>,
}

/// The columns [`from_row`] reads.
const USER_COLUMNS: &str = "id, login, role, display_name, enabled, created_at, language";

fn from_row(r: &AnyRow) -> sqlx::Result<UserRow> {
    let role: String = r.try_get("role")?;
    Ok(UserRow {
        id: UserId(r.try_get("id")?),
        login: r.try_get("login")?,
        role: Role::parse(&role).unwrap_or(Role::User),
        display_name: r.try_get("display_name")?,
        enabled: flag(r.try_get("enabled")?),
        created_at: r.try_get("created_at")?,
        language: r.try_get("language")?,
    })
}

/// Why a change to an account was not made.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("no such account")]
    NotFound,
    /// The change would leave no enabled administrator.
    #[error("this is the last enabled administrator")]
    LastAdmin,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Key of the PostgreSQL advisory lock taken by changes that could remove the last
/// administrator ("convena" in ASCII; the migrations and the janitor use others).
const ADMIN_GUARD_LOCK: i64 = 0x0063_6f6e_7665_6e61;

/// Why a guarded statement changed no row: the account is missing, or it is the last admin.
async fn not_changed(tx: &mut sqlx::Transaction<'_, sqlx::Any>, id: UserId) -> AccountError {
    match sqlx::query("SELECT 1 AS one FROM users WHERE id = $1")
        .bind(id.0)
        .fetch_optional(&mut **tx)
        .await
    {
        Ok(Some(_)) => AccountError::LastAdmin,
        Ok(None) => AccountError::NotFound,
        Err(e) => AccountError::Db(e),
    }
}

/// Is this error a unique-key violation (a duplicate login, say)?
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

impl Store {
    pub async fn count_users(&self) -> sqlx::Result<i64> {
        sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(self.pool())
            .await?
            .try_get("n")
    }

    /// Creates an account; `Ok(None)` when the login is taken (in any case: `Tom.B` when
    /// `tom.b` exists).
    pub async fn create_user(
        &self,
        login: &str,
        password_hash: &str,
        role: Role,
        display_name: &str,
    ) -> sqlx::Result<Option<UserRow>> {
        let res = sqlx::query(&self.sql(
            "INSERT INTO users (login, password_hash, role, display_name, enabled, created_at)
             VALUES ($1, $2, $3, $4, 1, NOW_MS)
             RETURNING id, login, role, display_name, enabled, created_at, language",
        ))
        .bind(login)
        .bind(password_hash)
        .bind(role.as_str())
        .bind(display_name)
        .fetch_one(self.pool())
        .await;
        match res {
            Ok(row) => Ok(Some(from_row(&row)?)),
            Err(e) if is_unique_violation(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn user(&self, id: UserId) -> sqlx::Result<Option<UserRow>> {
        sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id.0)
            .fetch_optional(self.pool())
            .await?
            .map(|r| from_row(&r))
            .transpose()
    }

    /// The account and its password hash, for a login (matched without regard to case:
    /// logins are unique in lower case, see migration 5).
    pub async fn user_with_hash(&self, login: &str) -> sqlx::Result<Option<(UserRow, String)>> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, password_hash FROM users WHERE lower(login) = lower($1)"
        ))
        .bind(login)
        .fetch_optional(self.pool())
        .await?;
        match row {
            Some(r) => Ok(Some((from_row(&r)?, r.try_get("password_hash")?))),
            None => Ok(None),
        }
    }

    /// The account with this login, in any case.
    pub async fn user_by_login(&self, login: &str) -> sqlx::Result<Option<UserRow>> {
        Ok(self.user_with_hash(login).await?.map(|(user, _)| user))
    }

    /// Sets what an account may change about itself: its display name (stored trimmed by
    /// the caller) and its language (`Some(None)` clears it). `Ok(None)`: no such account.
    pub async fn update_profile(
        &self,
        id: UserId,
        display_name: Option<&str>,
        language: Option<Option<&str>>,
    ) -> sqlx::Result<Option<UserRow>> {
        let mut tx = self.pool().begin().await?;
        if let Some(name) = display_name {
            sqlx::query("UPDATE users SET display_name = $1 WHERE id = $2")
                .bind(name)
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(language) = language {
            sqlx::query("UPDATE users SET language = $1 WHERE id = $2")
                .bind(language)
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.user(id).await
    }

    pub async fn list_users(&self) -> sqlx::Result<Vec<UserRow>> {
        sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY lower(login), id"
        ))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(from_row)
        .collect()
    }

    /// Updates the given fields, all or none. Refused with [`AccountError::LastAdmin`]
    /// when the change would leave no enabled administrator (see [`Store::delete_user`]).
    pub async fn update_user(
        &self,
        id: UserId,
        role: Option<Role>,
        display_name: Option<&str>,
        enabled: Option<bool>,
        password_hash: Option<&str>,
    ) -> Result<UserRow, AccountError> {
        let mut tx = self.pool().begin().await?;
        if role.is_some() || enabled.is_some() {
            self.lock_admin_guard(&mut tx).await?;
        }
        // The guarded write comes first: on SQLite it takes the write lock at once, and
        // it tells whether the account exists.
        let res = sqlx::query(
            "UPDATE users SET role = COALESCE($2, role), enabled = COALESCE($3, enabled)
             WHERE id = $1
               AND (role <> 'admin' OR enabled = 0
                    OR (COALESCE($2, role) = 'admin' AND COALESCE($3, enabled) = 1)
                    OR EXISTS (SELECT 1 FROM users o
                               WHERE o.id <> $1 AND o.role = 'admin' AND o.enabled = 1))",
        )
        .bind(id.0)
        .bind(role.map(Role::as_str))
        .bind(enabled.map(i64::from))
        .execute(&mut *tx)
        .await?;
        if res.rows_affected() == 0 {
            return Err(not_changed(&mut tx, id).await);
        }
        if let Some(name) = display_name {
            sqlx::query("UPDATE users SET display_name = $1 WHERE id = $2")
                .bind(name)
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(hash) = password_hash {
            sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                .bind(hash)
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.user(id).await?.ok_or(AccountError::NotFound)
    }

    /// Deletes an account (its sessions, memberships and connections go with it), unless
    /// it is the last enabled administrator ([`AccountError::LastAdmin`]).
    ///
    /// The rule "at least one enabled administrator stays" is part of the statement, not a
    /// check before it, so two concurrent changes cannot both pass it; on PostgreSQL a
    /// transaction lock also serialises them (a row count in one transaction does not see
    /// the other's uncommitted change).
    pub async fn delete_user(&self, id: UserId) -> Result<(), AccountError> {
        let mut tx = self.pool().begin().await?;
        self.lock_admin_guard(&mut tx).await?;
        let res = sqlx::query(
            "DELETE FROM users
             WHERE id = $1
               AND (role <> 'admin' OR enabled = 0
                    OR EXISTS (SELECT 1 FROM users o
                               WHERE o.id <> $1 AND o.role = 'admin' AND o.enabled = 1))",
        )
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
        if res.rows_affected() == 0 {
            return Err(not_changed(&mut tx, id).await);
        }
        tx.commit().await?;
        Ok(())
    }

    /// Is this account the only enabled administrator? (For a quick refusal before work
    /// that precedes the change; the change itself is guarded again.)
    pub async fn is_last_enabled_admin(&self, id: UserId) -> sqlx::Result<bool> {
        Ok(sqlx::query(
            "SELECT 1 AS one FROM users
             WHERE id = $1 AND role = 'admin' AND enabled = 1
               AND NOT EXISTS (SELECT 1 FROM users o
                               WHERE o.id <> $1 AND o.role = 'admin' AND o.enabled = 1)",
        )
        .bind(id.0)
        .fetch_optional(self.pool())
        .await?
        .is_some())
    }

    /// On PostgreSQL, serialises the changes that could remove the last administrator.
    async fn lock_admin_guard(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    ) -> sqlx::Result<()> {
        if self.dialect() == super::Dialect::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(ADMIN_GUARD_LOCK)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Logins of existing users among `ids`, to validate a room's member list.
    pub async fn existing_user_ids(&self, ids: &[UserId]) -> sqlx::Result<Vec<UserId>> {
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            if self.user(*id).await?.is_some() {
                found.push(*id);
            }
        }
        Ok(found)
    }
}
