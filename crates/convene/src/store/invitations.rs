//! Invitations to a room, the guests they let in, and the copy of each room's lobby.
//!
//! An invitation's token is 256 random bits, stored as its SHA-256 (as sessions and entry
//! tokens are). Expiry is on the database clock. A single-use invitation is used up by one
//! conditional statement (`uses` from 0 to 1), so two redemptions racing on two nodes
//! cannot both pass. A guest is an account (role `guest`) with a row in `guests` binding it
//! to the invitation's room until the invitation's expiry.

use super::users::{Role, UserRow, is_unique_violation};
use super::{Store, flag};
use crate::ids::{ConnectionId, NodeId, RoomId, UserId};
use crate::secret;
use sqlx::Row;
use sqlx::any::AnyRow;

/// What an invitation makes of its guests in the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteRole {
    Participant,
    /// A moderator of the room while in it (not one of the room's moderators).
    Moderator,
}

impl InviteRole {
    pub fn as_str(self) -> &'static str {
        match self {
            InviteRole::Participant => "participant",
            InviteRole::Moderator => "moderator",
        }
    }
    pub fn parse(s: &str) -> Option<InviteRole> {
        match s {
            "participant" => Some(InviteRole::Participant),
            "moderator" => Some(InviteRole::Moderator),
            _ => None,
        }
    }
}

/// Where an invitation stands, on the database clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InviteStatus {
    Active,
    Expired,
    Revoked,
    /// A single-use invitation that was redeemed.
    Used,
}

impl InviteStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InviteStatus::Active => "active",
            InviteStatus::Expired => "expired",
            InviteStatus::Revoked => "revoked",
            InviteStatus::Used => "used",
        }
    }
}

#[derive(Debug, Clone)]
pub struct InvitationRow {
    pub id: i64,
    pub room: RoomId,
    pub role: InviteRole,
    pub multi_use: bool,
    /// Argon2id; `None` when the invitation has no password.
    pub password_hash: Option<String>,
    pub created_by: Option<UserId>,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub uses: i64,
    pub last_used_at: Option<i64>,
    /// Expired by the database clock when read.
    pub expired: bool,
}

impl InvitationRow {
    pub fn status(&self) -> InviteStatus {
        if self.revoked_at.is_some() {
            InviteStatus::Revoked
        } else if self.expired {
            InviteStatus::Expired
        } else if !self.multi_use && self.uses > 0 {
            InviteStatus::Used
        } else {
            InviteStatus::Active
        }
    }
}

/// What an invitation is made with (validated by the API).
pub struct NewInvitation<'a> {
    pub room: RoomId,
    pub role: InviteRole,
    pub multi_use: bool,
    pub password_hash: Option<&'a str>,
    pub created_by: UserId,
    pub ttl_ms: i64,
}

/// What a guest account may do: its room, until when, and whether it moderates there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestGrant {
    pub room: RoomId,
    pub invitation: i64,
    pub moderator: bool,
    pub expires_at: i64,
}

/// A redemption that went through: the new guest account and its session.
#[derive(Debug, Clone)]
pub struct Redeemed {
    pub user: UserRow,
    pub sid: String,
    pub grant: GuestGrant,
}

/// One person waiting in a room's lobby (the copy the API reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LobbyEntry {
    pub connection: ConnectionId,
    pub user: UserId,
    pub login: String,
    pub display_name: String,
    pub guest: bool,
    /// When the connection was made (database clock, ms).
    pub since: i64,
}

/// A lobby entry with the node holding its connection.
#[derive(Debug, Clone)]
pub struct LobbyRow {
    pub entry: LobbyEntry,
    pub server: NodeId,
}

/// A password hash that matches no password: guests never sign in with one.
const NO_PASSWORD: &str = "!guest";

const COLUMNS: &str = "id, room_id, role, multi_use, password_hash, created_by, created_at, \
     expires_at, revoked_at, uses, last_used_at, \
     CAST(CASE WHEN expires_at > NOW_MS THEN 0 ELSE 1 END AS BIGINT) AS expired";

fn from_row(r: &AnyRow) -> sqlx::Result<InvitationRow> {
    let role: String = r.try_get("role")?;
    Ok(InvitationRow {
        id: r.try_get("id")?,
        room: RoomId(r.try_get("room_id")?),
        role: InviteRole::parse(&role).unwrap_or(InviteRole::Participant),
        multi_use: flag(r.try_get("multi_use")?),
        password_hash: r.try_get("password_hash")?,
        created_by: r.try_get::<Option<i64>, _>("created_by")?.map(UserId),
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        revoked_at: r.try_get("revoked_at")?,
        uses: r.try_get("uses")?,
        last_used_at: r.try_get("last_used_at")?,
        expired: flag(r.try_get("expired")?),
    })
}

fn lobby_from_row(r: &AnyRow) -> sqlx::Result<LobbyRow> {
    Ok(LobbyRow {
        entry: LobbyEntry {
            connection: ConnectionId(r.try_get("connection_id")?),
            user: UserId(r.try_get("user_id")?),
            login: r.try_get("login")?,
            display_name: r.try_get("display_name")?,
            guest: flag(r.try_get("guest")?),
            since: r.try_get("since")?,
        },
        server: NodeId(r.try_get("server_id")?),
    })
}

impl Store {
    /// Makes an invitation; returns it and its token (shown once, never stored).
    pub async fn create_invitation(
        &self,
        new: &NewInvitation<'_>,
    ) -> sqlx::Result<(InvitationRow, String)> {
        let token = secret::new_token();
        let row = sqlx::query(&self.sql(sql_insert()))
            .bind(secret::hash_token(&token))
            .bind(new.room.0)
            .bind(new.role.as_str())
            .bind(new.multi_use as i64)
            .bind(new.password_hash)
            .bind(new.created_by.0)
            .bind(new.ttl_ms)
            .fetch_one(self.pool())
            .await?;
        Ok((from_row(&row)?, token))
    }

    pub async fn invitation(&self, id: i64) -> sqlx::Result<Option<InvitationRow>> {
        let row = sqlx::query(&self.sql(sql_by_id()))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The invitation a token belongs to, whatever its state; `None` for an unknown token.
    pub async fn invitation_by_token(&self, token: &str) -> sqlx::Result<Option<InvitationRow>> {
        if !secret::plausible_token(token) {
            return Ok(None);
        }
        let row = sqlx::query(&self.sql(sql_by_token()))
            .bind(secret::hash_token(token))
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// A room's invitations, newest first.
    pub async fn room_invitations(&self, room: RoomId) -> sqlx::Result<Vec<InvitationRow>> {
        sqlx::query(&self.sql(sql_by_room()))
            .bind(room.0)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(from_row)
            .collect()
    }

    /// Invitations of the room that can still be redeemed or are not yet expired.
    pub async fn count_live_invitations(&self, room: RoomId) -> sqlx::Result<i64> {
        sqlx::query(&self.sql(
            "SELECT COUNT(*) AS n FROM invitations
             WHERE room_id = $1 AND revoked_at IS NULL AND expires_at > NOW_MS",
        ))
        .bind(room.0)
        .fetch_one(self.pool())
        .await?
        .try_get("n")
    }

    /// Revokes an invitation and deletes the guests it let in (their sessions, connection
    /// rows and entry tokens go with them); returns those guests, whose live connections
    /// the caller closes. `None` when there is no such invitation.
    pub async fn revoke_invitation(&self, id: i64) -> sqlx::Result<Option<Vec<UserId>>> {
        let mut tx = self.pool().begin().await?;
        let res =
            sqlx::query(&self.sql(
                "UPDATE invitations SET revoked_at = COALESCE(revoked_at, NOW_MS) WHERE id = $1",
            ))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if res.rows_affected() == 0 {
            return Ok(None);
        }
        let guests = sqlx::query(
            "DELETE FROM users WHERE role = 'guest'
               AND id IN (SELECT user_id FROM guests WHERE invitation_id = $1)
             RETURNING id",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get("id").map(UserId))
        .collect::<sqlx::Result<Vec<_>>>()?;
        tx.commit().await?;
        Ok(Some(guests))
    }

    /// Redeems an invitation for a new guest called `display_name` with the login `login`:
    /// in one transaction, counts the use (refused unless the invitation is active, and for
    /// a single-use one unless it is unused, in the same statement), creates the guest and a
    /// session ending no later than the invitation. `Ok(None)`: the invitation is no longer
    /// active (re-read it to say why), or the login was taken.
    pub async fn redeem_invitation(
        &self,
        id: i64,
        login: &str,
        display_name: &str,
        client: &str,
        session_ttl_ms: i64,
    ) -> sqlx::Result<Option<Redeemed>> {
        let mut tx = self.pool().begin().await?;
        let used = sqlx::query(&self.sql(
            "UPDATE invitations SET uses = uses + 1, last_used_at = NOW_MS
             WHERE id = $1 AND revoked_at IS NULL AND expires_at > NOW_MS
               AND (multi_use = 1 OR uses = 0)
             RETURNING room_id, role, expires_at",
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(used) = used else { return Ok(None) };
        let room = RoomId(used.try_get("room_id")?);
        let role: String = used.try_get("role")?;
        let expires_at: i64 = used.try_get("expires_at")?;
        let moderator = InviteRole::parse(&role) == Some(InviteRole::Moderator);
        // Any unique key (the login, or its lower-case form): no row, and no aborted
        // transaction on PostgreSQL.
        let user = sqlx::query(&self.sql(
            "INSERT INTO users (login, password_hash, role, display_name, enabled, created_at)
             VALUES ($1, $2, $3, $4, 1, NOW_MS)
             ON CONFLICT DO NOTHING
             RETURNING id",
        ))
        .bind(login)
        .bind(NO_PASSWORD)
        .bind(Role::Guest.as_str())
        .bind(display_name)
        .fetch_optional(&mut *tx)
        .await;
        let user = match user {
            Ok(Some(row)) => UserId(row.try_get("id")?),
            Ok(None) => return Ok(None),
            Err(e) if is_unique_violation(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        sqlx::query(
            "INSERT INTO guests (user_id, invitation_id, room_id, moderator, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user.0)
        .bind(id)
        .bind(room.0)
        .bind(moderator as i64)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        let sid = secret::new_token();
        sqlx::query(&self.sql(
            "INSERT INTO sessions (token_hash, user_id, client, created_at, expires_at)
             VALUES ($1, $2, $3, NOW_MS,
                     CASE WHEN NOW_MS + $4 < $5 THEN NOW_MS + $4 ELSE $5 END)",
        ))
        .bind(secret::hash_token(&sid))
        .bind(user.0)
        .bind(client)
        .bind(session_ttl_ms)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let Some(user) = self.user(user).await? else {
            return Err(sqlx::Error::RowNotFound);
        };
        Ok(Some(Redeemed {
            user,
            sid,
            grant: GuestGrant {
                room,
                invitation: id,
                moderator,
                expires_at,
            },
        }))
    }

    /// What a guest account may still do: `None` once its invitation expired or was
    /// revoked (or for an account that is not a guest).
    pub async fn guest_grant(&self, user: UserId) -> sqlx::Result<Option<GuestGrant>> {
        let row = sqlx::query(&self.sql(
            "SELECT g.room_id, g.invitation_id, g.moderator, g.expires_at
             FROM guests g JOIN invitations i ON i.id = g.invitation_id
             WHERE g.user_id = $1 AND g.expires_at > NOW_MS AND i.revoked_at IS NULL",
        ))
        .bind(user.0)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(GuestGrant {
            room: RoomId(row.try_get("room_id")?),
            invitation: row.try_get("invitation_id")?,
            moderator: flag(row.try_get("moderator")?),
            expires_at: row.try_get("expires_at")?,
        }))
    }

    /// Deletes the guests whose invitation has ended (expired, or gone with its room),
    /// with their sessions and connection rows; returns them, so their live connections
    /// can be closed.
    pub async fn purge_expired_guests(&self) -> sqlx::Result<Vec<UserId>> {
        sqlx::query(&self.sql(
            "DELETE FROM users WHERE role = 'guest'
               AND NOT EXISTS (SELECT 1 FROM guests g
                               WHERE g.user_id = users.id AND g.expires_at > NOW_MS)
             RETURNING id",
        ))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| r.try_get("id").map(UserId))
        .collect()
    }

    /// Forgets invitations that expired more than `age_ms` ago (until then they are listed,
    /// and their links answer "expired" rather than "not valid").
    pub async fn purge_old_invitations(&self, age_ms: i64) -> sqlx::Result<u64> {
        Ok(sqlx::query(&self.sql(
            "DELETE FROM invitations WHERE expires_at < NOW_MS - $1
               AND NOT EXISTS (SELECT 1 FROM guests g WHERE g.invitation_id = invitations.id)",
        ))
        .bind(age_ms)
        .execute(self.pool())
        .await?
        .rows_affected())
    }

    /// Replaces the copy of a room's lobby (written by the room's node only).
    pub async fn replace_lobby(&self, room: RoomId, entries: &[LobbyEntry]) -> sqlx::Result<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM lobby WHERE room_id = $1")
            .bind(room.0)
            .execute(&mut *tx)
            .await?;
        for e in entries {
            // A connection that is gone meanwhile has no row to refer to: skipped.
            sqlx::query(
                "INSERT INTO lobby (connection_id, room_id, user_id, login, display_name, guest, since)
                 SELECT $1, $2, $3, $4, $5, $6, $7
                 WHERE EXISTS (SELECT 1 FROM connections WHERE id = $1)",
            )
            .bind(&e.connection.0)
            .bind(room.0)
            .bind(e.user.0)
            .bind(&e.login)
            .bind(&e.display_name)
            .bind(e.guest as i64)
            .bind(e.since)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    /// Who waits in the room's lobby, longest first, with the node of each connection.
    pub async fn lobby(&self, room: RoomId) -> sqlx::Result<Vec<LobbyRow>> {
        sqlx::query(
            "SELECT l.connection_id, l.user_id, l.login, l.display_name, l.guest, l.since,
                    c.server_id
             FROM lobby l JOIN connections c ON c.id = l.connection_id
             WHERE l.room_id = $1 ORDER BY l.since, l.connection_id",
        )
        .bind(room.0)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(lobby_from_row)
        .collect()
    }

    /// One waiting connection of the room, if it waits.
    pub async fn lobby_entry(
        &self,
        room: RoomId,
        connection: &ConnectionId,
    ) -> sqlx::Result<Option<LobbyRow>> {
        sqlx::query(
            "SELECT l.connection_id, l.user_id, l.login, l.display_name, l.guest, l.since,
                    c.server_id
             FROM lobby l JOIN connections c ON c.id = l.connection_id
             WHERE l.room_id = $1 AND l.connection_id = $2",
        )
        .bind(room.0)
        .bind(&connection.0)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(lobby_from_row)
        .transpose()
    }
}

/// The statements that return invitations, built once (they embed [`COLUMNS`]).
fn sql_insert() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "INSERT INTO invitations (token_hash, room_id, role, multi_use, password_hash,
                                      created_by, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, NOW_MS, NOW_MS + $7)
             RETURNING {COLUMNS}"
        )
    })
}
fn sql_by_id() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| format!("SELECT {COLUMNS} FROM invitations WHERE id = $1"))
}
fn sql_by_token() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| format!("SELECT {COLUMNS} FROM invitations WHERE token_hash = $1"))
}
fn sql_by_room() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        format!("SELECT {COLUMNS} FROM invitations WHERE room_id = $1 ORDER BY id DESC")
    })
}
