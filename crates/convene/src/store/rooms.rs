//! Room definitions, their members and moderators.

use super::{Store, flag};
use crate::ids::{RoomId, UserId};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoomKind {
    /// Everyone may speak and show video.
    Conference,
    /// Moderators and presenters publish; the others watch.
    Presentation,
    /// At most two publishers.
    Interview,
}

impl RoomKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomKind::Conference => "conference",
            RoomKind::Presentation => "presentation",
            RoomKind::Interview => "interview",
        }
    }
    pub fn parse(s: &str) -> Option<RoomKind> {
        match s {
            "conference" => Some(RoomKind::Conference),
            "presentation" => Some(RoomKind::Presentation),
            "interview" => Some(RoomKind::Interview),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RoomRow {
    pub id: RoomId,
    pub name: String,
    pub kind: RoomKind,
    pub capacity: i64,
    pub public: bool,
    pub comment: String,
    /// Users allowed in a private room (moderators are always allowed).
    pub members: Vec<UserId>,
    pub moderators: Vec<UserId>,
    pub created_at: i64,
    /// The account that runs the room (its creator unless an administrator changed it): a
    /// moderator of it, and, when an organiser, the one who edits it. See `auth::policy`.
    pub owner: Option<UserId>,
    /// People without a moderator right wait in the lobby until a moderator admits them.
    pub waiting_room: bool,
}

/// What an admin writes when creating or editing a room (already validated).
#[derive(Debug, Clone)]
pub struct RoomWrite {
    pub name: String,
    pub kind: RoomKind,
    pub capacity: i64,
    pub public: bool,
    pub comment: String,
    pub members: Vec<UserId>,
    pub moderators: Vec<UserId>,
}

impl RoomRow {
    /// A moderator of this room: named one, or its owner.
    pub fn is_moderator(&self, user: UserId) -> bool {
        self.owner == Some(user) || self.moderators.contains(&user)
    }
    /// May this (non-admin) user enter?
    pub fn admits(&self, user: UserId) -> bool {
        self.public || self.members.contains(&user) || self.is_moderator(user)
    }
}

fn from_row(r: &AnyRow) -> sqlx::Result<RoomRow> {
    let kind: String = r.try_get("kind")?;
    Ok(RoomRow {
        id: RoomId(r.try_get("id")?),
        name: r.try_get("name")?,
        kind: RoomKind::parse(&kind).unwrap_or(RoomKind::Conference),
        capacity: r.try_get("capacity")?,
        public: flag(r.try_get("public")?),
        comment: r.try_get("comment")?,
        members: Vec::new(),
        moderators: Vec::new(),
        created_at: r.try_get("created_at")?,
        owner: r.try_get::<Option<i64>, _>("owner_id")?.map(UserId),
        waiting_room: flag(r.try_get("waiting_room")?),
    })
}

impl Store {
    /// Creates a room without an owner.
    pub async fn create_room(&self, room: &RoomWrite) -> sqlx::Result<RoomRow> {
        self.create_owned_room(room, None).await
    }

    /// Creates a room run by `owner` (its creator).
    pub async fn create_owned_room(
        &self,
        room: &RoomWrite,
        owner: Option<UserId>,
    ) -> sqlx::Result<RoomRow> {
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(&self.sql(
            "INSERT INTO rooms (name, kind, capacity, public, comment, created_at, owner_id)
             VALUES ($1, $2, $3, $4, $5, NOW_MS, $6)
             RETURNING id, name, kind, capacity, public, comment, created_at, owner_id,
                       waiting_room",
        ))
        .bind(&room.name)
        .bind(room.kind.as_str())
        .bind(room.capacity)
        .bind(room.public as i64)
        .bind(&room.comment)
        .bind(owner.map(|u| u.0))
        .fetch_one(&mut *tx)
        .await?;
        let id = RoomId(row.try_get("id")?);
        write_members(&mut tx, id, room).await?;
        tx.commit().await?;
        // Deleted again in between (by another request): an error, not a panic.
        self.room(id).await?.ok_or(sqlx::Error::RowNotFound)
    }

    pub async fn room(&self, id: RoomId) -> sqlx::Result<Option<RoomRow>> {
        let row = sqlx::query(
            "SELECT id, name, kind, capacity, public, comment, created_at, owner_id, waiting_room
             FROM rooms WHERE id = $1",
        )
        .bind(id.0)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut room = from_row(&row)?;
        for m in sqlx::query("SELECT user_id, moderator FROM room_members WHERE room_id = $1")
            .bind(id.0)
            .fetch_all(self.pool())
            .await?
        {
            let user = UserId(m.try_get("user_id")?);
            if flag(m.try_get("moderator")?) {
                room.moderators.push(user);
            } else {
                room.members.push(user);
            }
        }
        room.members.sort();
        room.moderators.sort();
        Ok(Some(room))
    }

    pub async fn list_rooms(&self) -> sqlx::Result<Vec<RoomRow>> {
        let mut rooms: Vec<RoomRow> = sqlx::query(
            "SELECT id, name, kind, capacity, public, comment, created_at, owner_id, waiting_room
             FROM rooms ORDER BY name, id",
        )
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(from_row)
        .collect::<Result<_, _>>()?;
        let members = sqlx::query("SELECT room_id, user_id, moderator FROM room_members")
            .fetch_all(self.pool())
            .await?;
        let index: std::collections::HashMap<i64, usize> =
            rooms.iter().enumerate().map(|(i, r)| (r.id.0, i)).collect();
        for m in members {
            let room_id: i64 = m.try_get("room_id")?;
            if let Some(&i) = index.get(&room_id) {
                let user = UserId(m.try_get("user_id")?);
                if flag(m.try_get("moderator")?) {
                    rooms[i].moderators.push(user);
                } else {
                    rooms[i].members.push(user);
                }
            }
        }
        for room in &mut rooms {
            room.members.sort();
            room.moderators.sort();
        }
        Ok(rooms)
    }

    /// Replaces a room's definition (not its owner); `Ok(None)` when it does not exist.
    pub async fn update_room(&self, id: RoomId, room: &RoomWrite) -> sqlx::Result<Option<RoomRow>> {
        self.update_owned_room(id, room, None).await
    }

    /// Replaces a room's definition, and with `Some(owner)` its owner too (`Some(None)`:
    /// no owner); `Ok(None)` when it does not exist.
    pub async fn update_owned_room(
        &self,
        id: RoomId,
        room: &RoomWrite,
        owner: Option<Option<UserId>>,
    ) -> sqlx::Result<Option<RoomRow>> {
        let mut tx = self.pool().begin().await?;
        let res = sqlx::query(
            "UPDATE rooms SET name = $1, kind = $2, capacity = $3, public = $4, comment = $5
             WHERE id = $6",
        )
        .bind(&room.name)
        .bind(room.kind.as_str())
        .bind(room.capacity)
        .bind(room.public as i64)
        .bind(&room.comment)
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
        if res.rows_affected() == 0 {
            return Ok(None);
        }
        if let Some(owner) = owner {
            sqlx::query("UPDATE rooms SET owner_id = $1 WHERE id = $2")
                .bind(owner.map(|u| u.0))
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM room_members WHERE room_id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await?;
        write_members(&mut tx, id, room).await?;
        tx.commit().await?;
        self.room(id).await
    }

    /// Turns the room's waiting room on or off; false when the room does not exist.
    pub async fn set_waiting_room(&self, id: RoomId, on: bool) -> sqlx::Result<bool> {
        let res = sqlx::query("UPDATE rooms SET waiting_room = $1 WHERE id = $2")
            .bind(on as i64)
            .bind(id.0)
            .execute(self.pool())
            .await?;
        Ok(res.rows_affected() > 0)
    }

    pub async fn delete_room(&self, id: RoomId) -> sqlx::Result<bool> {
        let res = sqlx::query("DELETE FROM rooms WHERE id = $1")
            .bind(id.0)
            .execute(self.pool())
            .await?;
        Ok(res.rows_affected() > 0)
    }
}

async fn write_members(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    id: RoomId,
    room: &RoomWrite,
) -> sqlx::Result<()> {
    let mut seen = std::collections::HashSet::new();
    let entries = room
        .moderators
        .iter()
        .map(|u| (*u, true))
        .chain(room.members.iter().map(|u| (*u, false)));
    for (user, moderator) in entries {
        if !seen.insert(user) {
            continue;
        }
        sqlx::query("INSERT INTO room_members (room_id, user_id, moderator) VALUES ($1, $2, $3)")
            .bind(id.0)
            .bind(user.0)
            .bind(moderator as i64)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
