//! What the OpenMeetings-compatible API (`crate::openmeetings`) keeps beyond Convene's own
//! tables: people and rooms of an integration by their external key, and secure hashes.
//!
//! An external person is an ordinary `user` account without a password (it signs in only
//! through a hash), mapped by (externalType, externalId). A room made through the API is an
//! ordinary room, with a row in `om_rooms` for its external key and the OpenMeetings fields
//! Convene has no use for. A hash is 256 random bits stored as its SHA-256, spent by one
//! conditional statement, so two nodes racing on one hash cannot both sign it in.

use super::users::{Role, UserRow, is_unique_violation};
use super::{Store, flag};
use crate::ids::{RoomId, UserId};
use crate::secret;
use sqlx::Row;
use sqlx::any::AnyRow;
use std::collections::HashMap;

/// A person as the integration describes it (the ExternalUserDTO).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExternalProfile {
    pub external_type: String,
    pub external_id: String,
    pub login: String,
    pub firstname: String,
    pub lastname: String,
    pub email: String,
    pub picture_uri: String,
}

impl ExternalProfile {
    /// The name shown in rooms: first and last name, else the login, else the external id.
    pub fn display_name(&self) -> String {
        let full = format!("{} {}", self.firstname.trim(), self.lastname.trim());
        let full = full.trim();
        let name = if !full.is_empty() {
            full
        } else if !self.login.trim().is_empty() {
            self.login.trim()
        } else {
            self.external_id.trim()
        };
        name.chars().take(100).collect()
    }
}

/// What OpenMeetings knows of a room beyond Convene's definition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OmRoomMeta {
    pub external_type: Option<String>,
    pub external_id: Option<String>,
    /// `CONFERENCE`, `PRESENTATION` or `INTERVIEW`.
    pub om_type: String,
    pub closed: bool,
    /// The other RoomDTO fields as given, a JSON object.
    pub extra: String,
}

/// A stored hash.
#[derive(Debug, Clone)]
pub struct OmHash {
    pub room: Option<RoomId>,
    pub profile: ExternalProfile,
    pub moderator: bool,
    /// Unused and unexpired (database clock) when read.
    pub usable: bool,
}

/// A password hash that matches no password: external people sign in by hash only.
const NO_PASSWORD: &str = "!external";

/// Hashes are forgotten a day after they expired.
const HASH_KEEP_MS: i64 = 86_400_000;

fn meta_from_row(r: &AnyRow) -> sqlx::Result<OmRoomMeta> {
    Ok(OmRoomMeta {
        external_type: r.try_get("external_type")?,
        external_id: r.try_get("external_id")?,
        om_type: r.try_get("om_type")?,
        closed: flag(r.try_get("closed")?),
        extra: r.try_get("extra")?,
    })
}

fn profile_from_row(r: &AnyRow) -> sqlx::Result<ExternalProfile> {
    Ok(ExternalProfile {
        external_type: r.try_get("external_type")?,
        external_id: r.try_get("external_id")?,
        login: r.try_get("login")?,
        firstname: r.try_get("firstname")?,
        lastname: r.try_get("lastname")?,
        email: r.try_get("email")?,
        picture_uri: r.try_get("picture_uri")?,
    })
}

const PROFILE_COLUMNS: &str =
    "user_id, external_type, external_id, login, firstname, lastname, email, picture_uri";

fn hash_from_row(r: &AnyRow) -> sqlx::Result<OmHash> {
    let profile: String = r.try_get("profile")?;
    let p: serde_json::Value = serde_json::from_str(&profile).unwrap_or_default();
    let text = |k: &str| p[k].as_str().unwrap_or("").to_string();
    Ok(OmHash {
        room: r.try_get::<Option<i64>, _>("room_id")?.map(RoomId),
        profile: ExternalProfile {
            external_type: r.try_get("external_type")?,
            external_id: r.try_get("external_id")?,
            login: text("login"),
            firstname: text("firstname"),
            lastname: text("lastname"),
            email: text("email"),
            picture_uri: text("picture_uri"),
        },
        moderator: flag(r.try_get("moderator")?),
        usable: flag(r.try_get("usable")?),
    })
}

impl Store {
    /// The room with this external key (of this OpenMeetings type, if given): the oldest.
    pub async fn om_room_by_external(
        &self,
        external_type: &str,
        external_id: &str,
        om_type: Option<&str>,
    ) -> sqlx::Result<Option<RoomId>> {
        let row = sqlx::query(
            "SELECT room_id FROM om_rooms
             WHERE external_type = $1 AND external_id = $2 AND ($3 = '' OR om_type = $3)
             ORDER BY room_id LIMIT 1",
        )
        .bind(external_type)
        .bind(external_id)
        .bind(om_type.unwrap_or(""))
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| r.try_get("room_id").map(RoomId)).transpose()
    }

    pub async fn om_room_meta(&self, room: RoomId) -> sqlx::Result<Option<OmRoomMeta>> {
        sqlx::query(
            "SELECT external_type, external_id, om_type, closed, extra FROM om_rooms
             WHERE room_id = $1",
        )
        .bind(room.0)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(meta_from_row)
        .transpose()
    }

    /// Every room's OpenMeetings fields, by room.
    pub async fn om_room_metas(&self) -> sqlx::Result<HashMap<RoomId, OmRoomMeta>> {
        let mut out = HashMap::new();
        for r in sqlx::query(
            "SELECT room_id, external_type, external_id, om_type, closed, extra FROM om_rooms",
        )
        .fetch_all(self.pool())
        .await?
        {
            out.insert(RoomId(r.try_get("room_id")?), meta_from_row(&r)?);
        }
        Ok(out)
    }

    /// Creates a room (no owner, no members) with its OpenMeetings fields, in one
    /// transaction. `Ok(None)`: a room with the same external key and type exists (made
    /// meanwhile by a parallel request); nothing was created.
    pub async fn om_create_room(
        &self,
        room: &super::RoomWrite,
        meta: &OmRoomMeta,
    ) -> sqlx::Result<Option<RoomId>> {
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(&self.sql(
            "INSERT INTO rooms (name, kind, capacity, public, comment, created_at)
             VALUES ($1, $2, $3, $4, $5, NOW_MS) RETURNING id",
        ))
        .bind(&room.name)
        .bind(room.kind.as_str())
        .bind(room.capacity)
        .bind(room.public as i64)
        .bind(&room.comment)
        .fetch_one(&mut *tx)
        .await?;
        let id = RoomId(row.try_get("id")?);
        let inserted = sqlx::query(
            "INSERT INTO om_rooms (room_id, external_type, external_id, om_type, closed, extra)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING room_id",
        )
        .bind(id.0)
        .bind(meta.external_type.as_deref())
        .bind(meta.external_id.as_deref())
        .bind(&meta.om_type)
        .bind(meta.closed as i64)
        .bind(&meta.extra)
        .fetch_optional(&mut *tx)
        .await;
        match inserted {
            Ok(Some(_)) => {
                tx.commit().await?;
                Ok(Some(id))
            }
            Ok(None) => Ok(None),
            Err(e) if is_unique_violation(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes a room's OpenMeetings fields (an update through the API). `Ok(false)`: another
    /// room has this external key and type already.
    pub async fn om_set_room_meta(&self, room: RoomId, meta: &OmRoomMeta) -> sqlx::Result<bool> {
        let res = sqlx::query(
            "INSERT INTO om_rooms (room_id, external_type, external_id, om_type, closed, extra)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (room_id) DO UPDATE SET external_type = $2, external_id = $3,
                 om_type = $4, closed = $5, extra = $6",
        )
        .bind(room.0)
        .bind(meta.external_type.as_deref())
        .bind(meta.external_id.as_deref())
        .bind(&meta.om_type)
        .bind(meta.closed as i64)
        .bind(&meta.extra)
        .execute(self.pool())
        .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Opens or closes a room for hash sign-ins; false when the room has no such row.
    pub async fn om_set_closed(&self, room: RoomId, closed: bool) -> sqlx::Result<bool> {
        let kind = match self.room(room).await? {
            Some(r) => r.kind.as_str().to_ascii_uppercase(),
            None => return Ok(false),
        };
        sqlx::query(
            "INSERT INTO om_rooms (room_id, om_type, closed) VALUES ($1, $2, $3)
             ON CONFLICT (room_id) DO UPDATE SET closed = $3",
        )
        .bind(room.0)
        .bind(kind)
        .bind(closed as i64)
        .execute(self.pool())
        .await?;
        Ok(true)
    }

    /// The account of an external person, created (role `user`, no password) or updated
    /// from the profile.
    pub async fn om_upsert_external_user(&self, p: &ExternalProfile) -> sqlx::Result<UserRow> {
        for _ in 0..3 {
            if let Some((user, _)) = self
                .om_external_user(&p.external_type, &p.external_id)
                .await?
            {
                sqlx::query(
                    "UPDATE om_external_users SET login = $3, firstname = $4, lastname = $5,
                         email = $6, picture_uri = $7
                     WHERE external_type = $1 AND external_id = $2",
                )
                .bind(&p.external_type)
                .bind(&p.external_id)
                .bind(&p.login)
                .bind(&p.firstname)
                .bind(&p.lastname)
                .bind(&p.email)
                .bind(&p.picture_uri)
                .execute(self.pool())
                .await?;
                sqlx::query("UPDATE users SET display_name = $2 WHERE id = $1")
                    .bind(user.0)
                    .bind(p.display_name())
                    .execute(self.pool())
                    .await?;
                return self.user(user).await?.ok_or(sqlx::Error::RowNotFound);
            }
            let mut tx = self.pool().begin().await?;
            // A login of its own, never one a local account could hold by accident.
            let login = format!("om-{}", secret::random_hex(8));
            let user = sqlx::query(&self.sql(
                "INSERT INTO users (login, password_hash, role, display_name, enabled, created_at)
                 VALUES ($1, $2, $3, $4, 1, NOW_MS) RETURNING id",
            ))
            .bind(&login)
            .bind(NO_PASSWORD)
            .bind(Role::User.as_str())
            .bind(p.display_name())
            .fetch_one(&mut *tx)
            .await?;
            let user: i64 = user.try_get("id")?;
            let mapped = sqlx::query(
                "INSERT INTO om_external_users (external_type, external_id, user_id, login,
                     firstname, lastname, email, picture_uri)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING user_id",
            )
            .bind(&p.external_type)
            .bind(&p.external_id)
            .bind(user)
            .bind(&p.login)
            .bind(&p.firstname)
            .bind(&p.lastname)
            .bind(&p.email)
            .bind(&p.picture_uri)
            .fetch_optional(&mut *tx)
            .await;
            match mapped {
                Ok(Some(_)) => {
                    tx.commit().await?;
                    return self
                        .user(UserId(user))
                        .await?
                        .ok_or(sqlx::Error::RowNotFound);
                }
                // Made meanwhile by a parallel request: use that one.
                Ok(None) => continue,
                Err(e) if is_unique_violation(&e) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(sqlx::Error::RowNotFound)
    }

    /// Maps an existing account to an external person (`user` add with an external id).
    pub async fn om_map_external_user(
        &self,
        user: UserId,
        p: &ExternalProfile,
    ) -> sqlx::Result<()> {
        sqlx::query(
            "INSERT INTO om_external_users (external_type, external_id, user_id, login,
                 firstname, lastname, email, picture_uri)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        )
        .bind(&p.external_type)
        .bind(&p.external_id)
        .bind(user.0)
        .bind(&p.login)
        .bind(&p.firstname)
        .bind(&p.lastname)
        .bind(&p.email)
        .bind(&p.picture_uri)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The account and profile of an external person.
    pub async fn om_external_user(
        &self,
        external_type: &str,
        external_id: &str,
    ) -> sqlx::Result<Option<(UserId, ExternalProfile)>> {
        let row = sqlx::query(&format!(
            "SELECT {PROFILE_COLUMNS} FROM om_external_users
             WHERE external_type = $1 AND external_id = $2"
        ))
        .bind(external_type)
        .bind(external_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| Ok((UserId(r.try_get("user_id")?), profile_from_row(&r)?)))
            .transpose()
    }

    /// The profile of an account that is an external person.
    pub async fn om_profile_of(&self, user: UserId) -> sqlx::Result<Option<ExternalProfile>> {
        sqlx::query(&format!(
            "SELECT {PROFILE_COLUMNS} FROM om_external_users WHERE user_id = $1"
        ))
        .bind(user.0)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(profile_from_row)
        .transpose()
    }

    /// Every external person's profile, by account.
    pub async fn om_external_users(&self) -> sqlx::Result<HashMap<UserId, ExternalProfile>> {
        let mut out = HashMap::new();
        for r in sqlx::query(&format!("SELECT {PROFILE_COLUMNS} FROM om_external_users"))
            .fetch_all(self.pool())
            .await?
        {
            out.insert(UserId(r.try_get("user_id")?), profile_from_row(&r)?);
        }
        Ok(out)
    }

    /// Makes `user` a member of the room, a moderator of it or not as `moderator` says.
    /// True when that changed the room's definition.
    pub async fn om_grant_room(
        &self,
        room: RoomId,
        user: UserId,
        moderator: bool,
    ) -> sqlx::Result<bool> {
        let current =
            sqlx::query("SELECT moderator FROM room_members WHERE room_id = $1 AND user_id = $2")
                .bind(room.0)
                .bind(user.0)
                .fetch_optional(self.pool())
                .await?;
        match current {
            Some(r) if flag(r.try_get("moderator")?) == moderator => Ok(false),
            Some(_) => {
                sqlx::query(
                    "UPDATE room_members SET moderator = $3 WHERE room_id = $1 AND user_id = $2",
                )
                .bind(room.0)
                .bind(user.0)
                .bind(moderator as i64)
                .execute(self.pool())
                .await?;
                Ok(true)
            }
            None => {
                sqlx::query(
                    "INSERT INTO room_members (room_id, user_id, moderator) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING",
                )
                .bind(room.0)
                .bind(user.0)
                .bind(moderator as i64)
                .execute(self.pool())
                .await?;
                Ok(true)
            }
        }
    }

    /// Stores a new hash for `profile` in `room` (`None`: no room, say for a recording),
    /// valid for `ttl_ms`; returns the secret. Hashes expired for a day are forgotten.
    pub async fn om_create_hash(
        &self,
        room: Option<RoomId>,
        profile: &ExternalProfile,
        moderator: bool,
        created_by: UserId,
        ttl_ms: i64,
    ) -> sqlx::Result<String> {
        sqlx::query(&self.sql("DELETE FROM om_hashes WHERE expires_at < NOW_MS - $1"))
            .bind(HASH_KEEP_MS)
            .execute(self.pool())
            .await?;
        let token = secret::new_token();
        let stored = serde_json::json!({
            "login": profile.login,
            "firstname": profile.firstname,
            "lastname": profile.lastname,
            "email": profile.email,
            "picture_uri": profile.picture_uri,
        });
        sqlx::query(&self.sql(
            "INSERT INTO om_hashes (token_hash, room_id, external_type, external_id, profile,
                 moderator, created_by, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, NOW_MS, NOW_MS + $8)",
        ))
        .bind(secret::hash_token(&token))
        .bind(room.map(|r| r.0))
        .bind(&profile.external_type)
        .bind(&profile.external_id)
        .bind(stored.to_string())
        .bind(moderator as i64)
        .bind(created_by.0)
        .bind(ttl_ms)
        .execute(self.pool())
        .await?;
        Ok(token)
    }

    /// A hash as it stands, without spending it.
    pub async fn om_peek_hash(&self, token: &str) -> sqlx::Result<Option<OmHash>> {
        if !secret::plausible_token(token) {
            return Ok(None);
        }
        sqlx::query(&self.sql(
            "SELECT room_id, external_type, external_id, profile, moderator,
                    CAST(CASE WHEN used_at IS NULL AND expires_at > NOW_MS THEN 1 ELSE 0 END
                         AS BIGINT) AS usable
             FROM om_hashes WHERE token_hash = $1",
        ))
        .bind(secret::hash_token(token))
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(hash_from_row)
        .transpose()
    }

    /// Spends a hash: `None` unless it was unused and unexpired, in the same statement.
    pub async fn om_spend_hash(&self, token: &str) -> sqlx::Result<Option<OmHash>> {
        if !secret::plausible_token(token) {
            return Ok(None);
        }
        sqlx::query(&self.sql(
            "UPDATE om_hashes SET used_at = NOW_MS
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > NOW_MS
             RETURNING room_id, external_type, external_id, profile, moderator,
                       CAST(1 AS BIGINT) AS usable",
        ))
        .bind(secret::hash_token(token))
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(hash_from_row)
        .transpose()
    }
}
