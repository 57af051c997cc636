//! `room`: rooms made through the API are ordinary Convene rooms (types map to kinds), with
//! their external key and OpenMeetings-only fields in `om_rooms`.

use super::dto::{RoomIn, RoomRefused, kind_of, om_type, room_in, room_out, user_out};
use super::reply::{OmResult, failure, not_allowed, status_only, success, wrap};
use super::transport::{OmRequest, path_id};
use super::{Fail, kick_connections, room_changed, soap};
use crate::auth::{Caller, policy};
use crate::cluster::events::Event;
use crate::ids::RoomId;
use crate::node::AppState;
use crate::store::{RoomRow, RoomWrite};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::Value;

fn refused(r: RoomRefused) -> Fail {
    match r {
        RoomRefused::Unparsable => Fail::from(status_only(StatusCode::BAD_REQUEST)),
        RoomRefused::Invalid(message) => failure(&message),
    }
}

fn write_of(dto: &RoomIn, current: Option<&RoomRow>) -> RoomWrite {
    RoomWrite {
        name: dto.name.clone(),
        kind: dto.kind,
        capacity: dto.capacity,
        public: dto.public,
        comment: dto.comment.clone(),
        // Members and moderators (the people the LMS sent) stay as they are.
        members: current.map(|r| r.members.clone()).unwrap_or_default(),
        moderators: current.map(|r| r.moderators.clone()).unwrap_or_default(),
    }
}

async fn answer(state: &AppState, room: &RoomRow) -> OmResult {
    let meta = state.store.om_room_meta(room.id).await?;
    Ok(wrap("roomDTO", room_out(room, meta.as_ref())))
}

/// Updates room `id` from the DTO.
async fn update(state: &AppState, caller: &Caller, id: RoomId, dto: &RoomIn) -> OmResult {
    let Some(current) = state.store.room(id).await? else {
        return Err(failure("Not found"));
    };
    if !policy::may_edit_room(caller, &current) {
        return Err(not_allowed());
    }
    let closed = state
        .store
        .om_room_meta(id)
        .await?
        .is_some_and(|m| m.closed);
    if !state.store.om_set_room_meta(id, &dto.meta(closed)).await? {
        return Err(failure(
            "another room has this externalType, externalId and type",
        ));
    }
    let room = state
        .store
        .update_owned_room(id, &write_of(dto, Some(&current)), None)
        .await?
        .ok_or_else(|| failure("Not found"))?;
    room_changed(state, id).await?;
    tracing::info!(room = %id, by = %caller.user.login, "room updated through the openmeetings API");
    answer(state, &room).await
}

/// Creates a room from the DTO; one with the same external key and type that exists
/// already (made by a parallel request, or added twice) is updated instead.
async fn create(state: &AppState, caller: &Caller, dto: &RoomIn) -> OmResult {
    if !policy::may_create_room(caller) {
        return Err(not_allowed());
    }
    match state
        .store
        .om_create_room(&write_of(dto, None), &dto.meta(false))
        .await?
    {
        Some(id) => {
            tracing::info!(room = %id, by = %caller.user.login, "room created through the openmeetings API");
            let room = state
                .store
                .room(id)
                .await?
                .ok_or_else(|| failure("Not found"))?;
            answer(state, &room).await
        }
        None => {
            let (Some(t), Some(i)) = (&dto.external_type, &dto.external_id) else {
                return Err(failure("the room could not be created"));
            };
            let existing = state
                .store
                .om_room_by_external(t, i, Some(om_type(dto.kind)))
                .await?
                .ok_or_else(|| failure("the room could not be created"))?;
            update(state, caller, existing, dto).await
        }
    }
}

/// `POST room/` (form `room` = RoomDTO): creates, or with the `id` of a room updates it.
pub async fn add(State(state): State<AppState>, req: OmRequest) -> OmResult {
    let caller = soap(&state, &req).await?;
    let json = req
        .json("room", "roomDTO")?
        .ok_or_else(|| Fail::from(status_only(StatusCode::BAD_REQUEST)))?;
    let dto = room_in(&json).map_err(refused)?;
    match dto.id {
        Some(id) if state.store.room(RoomId(id)).await?.is_some() => {
            update(&state, &caller, RoomId(id), &dto).await
        }
        // An id Convene does not know (a room of the OpenMeetings server the platform used
        // before): made anew, and the platform keeps the id answered.
        _ => create(&state, &caller, &dto).await,
    }
}

/// A room the caller may see, or OpenMeetings' 500 ERROR.
async fn visible(state: &AppState, caller: &Caller, id: &str) -> Result<RoomRow, Fail> {
    let id = path_id(id)?;
    let room = state
        .store
        .room(RoomId(id))
        .await?
        .ok_or_else(|| failure("Not found"))?;
    if !policy::may_see_room(caller, &room) {
        return Err(not_allowed());
    }
    Ok(room)
}

/// `GET room/{id}`.
pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: OmRequest,
) -> OmResult {
    let caller = soap(&state, &req).await?;
    let room = visible(&state, &caller, &id).await?;
    answer(&state, &room).await
}

/// `DELETE room/{id}`: "Deleted", or "Not found" (200) for an unknown id.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: OmRequest,
) -> OmResult {
    let caller = soap(&state, &req).await?;
    let id = RoomId(path_id(&id)?);
    let Some(room) = state.store.room(id).await? else {
        return Ok(success("Not found"));
    };
    if !policy::may_delete_room(&caller, &room) {
        return Err(not_allowed());
    }
    // As the REST API does: the host closes the live room first.
    state
        .events
        .publish(&Event::RoomDeleted { room: id })
        .await?;
    for _ in 0..60 {
        if state.store.room_connections(id).await?.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    if !state.store.delete_room(id).await? {
        return Ok(success("Not found"));
    }
    tracing::info!(room = %id, by = %caller.user.login, "room deleted through the openmeetings API");
    Ok(success("Deleted"))
}

/// `GET room/{type}/{externaltype}/{externalid}[?room=RoomDTO]`: that room, made from
/// `room` if there is none (the external key and type from the path); 204 when there is
/// none and no `room`.
pub async fn external(
    State(state): State<AppState>,
    Path((kind, external_type, external_id)): Path<(String, String, String)>,
    req: OmRequest,
) -> OmResult {
    let caller = soap(&state, &req).await?;
    let Some(kind) = kind_of(&kind) else {
        return Err(Fail::from(status_only(StatusCode::NOT_FOUND)));
    };
    let (external_type, external_id) = (external_type.trim(), external_id.trim());
    if external_type.is_empty() || external_id.is_empty() {
        return Err(Fail::from(status_only(StatusCode::NOT_FOUND)));
    }
    let found = state
        .store
        .om_room_by_external(external_type, external_id, Some(om_type(kind)))
        .await?;
    if let Some(id) = found {
        let room = state
            .store
            .room(id)
            .await?
            .ok_or_else(|| failure("Not found"))?;
        if !policy::may_see_room(&caller, &room) {
            return Err(not_allowed());
        }
        return answer(&state, &room).await;
    }
    let Some(mut json) = req.json("room", "roomDTO")? else {
        return Ok(status_only(StatusCode::NO_CONTENT));
    };
    json["type"] = Value::String(om_type(kind).into());
    let mut dto = room_in(&json).map_err(refused)?;
    dto.id = None;
    dto.external_type = Some(external_type.chars().take(255).collect());
    dto.external_id = Some(external_id.chars().take(255).collect());
    create(&state, &caller, &dto).await
}

/// `GET room/count/{id}`: the room's connections, on every node.
pub async fn count(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: OmRequest,
) -> OmResult {
    let caller = soap(&state, &req).await?;
    let room = visible(&state, &caller, &id).await?;
    let n = state.store.room_connections(room.id).await?.len();
    Ok(success(n.to_string()))
}

/// `GET room/users/{id}`: one UserDTO per connection.
pub async fn users(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: OmRequest,
) -> OmResult {
    let caller = soap(&state, &req).await?;
    let room = visible(&state, &caller, &id).await?;
    let rows = state.store.room_connections(room.id).await?;
    let mut out = Vec::new();
    for row in &rows {
        if let Some(user) = state.store.user(row.user_id).await? {
            let profile = state.store.om_profile_of(user.id).await?;
            out.push(user_out(&user, profile.as_ref()));
        }
    }
    Ok(wrap("userDTO", Value::Array(out)))
}

/// `GET room/kick/{id}`: everyone out of the room.
pub async fn kick_all(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: OmRequest,
) -> OmResult {
    let caller = soap(&state, &req).await?;
    let room = visible(&state, &caller, &id).await?;
    let rows = state.store.room_connections(room.id).await?;
    kick_connections(&state, &rows).await?;
    tracing::info!(room = %room.id, n = rows.len(), by = %caller.user.login, "room emptied through the openmeetings API");
    Ok(success("Kicked"))
}

/// `GET room/kick/{id}/{externaltype}/{externalid}`: that person's connections in the room.
pub async fn kick_one(
    State(state): State<AppState>,
    Path((id, external_type, external_id)): Path<(String, String, String)>,
    req: OmRequest,
) -> OmResult {
    let caller = soap(&state, &req).await?;
    let room = visible(&state, &caller, &id).await?;
    let Some((user, _)) = state
        .store
        .om_external_user(&external_type, &external_id)
        .await?
    else {
        return Ok(success("Not kicked"));
    };
    let rows: Vec<_> = state
        .store
        .room_connections(room.id)
        .await?
        .into_iter()
        .filter(|c| c.user_id == user)
        .collect();
    let kicked = kick_connections(&state, &rows).await?;
    tracing::info!(room = %room.id, user = %user, n = rows.len(), by = %caller.user.login, "kicked through the openmeetings API");
    Ok(success(if kicked { "Kicked" } else { "Not kicked" }))
}

/// `GET room/public/{type}`: the public rooms of that type.
pub async fn public(
    State(state): State<AppState>,
    Path(kind): Path<String>,
    req: OmRequest,
) -> OmResult {
    let caller = soap(&state, &req).await?;
    let Some(kind) = kind_of(&kind) else {
        return Err(Fail::from(status_only(StatusCode::NOT_FOUND)));
    };
    let metas = state.store.om_room_metas().await?;
    let rooms: Vec<Value> = state
        .store
        .list_rooms()
        .await?
        .iter()
        .filter(|r| r.public && r.kind == kind && policy::may_see_room(&caller, r))
        .map(|r| room_out(r, metas.get(&r.id)))
        .collect();
    Ok(wrap("roomDTO", Value::Array(rooms)))
}

async fn set_closed(state: &AppState, req: &OmRequest, id: &str, closed: bool) -> OmResult {
    let caller = soap(state, req).await?;
    let room = visible(state, &caller, id).await?;
    if !policy::may_edit_room(&caller, &room) {
        return Err(not_allowed());
    }
    state.store.om_set_closed(room.id, closed).await?;
    if closed {
        let rows = state.store.room_connections(room.id).await?;
        kick_connections(state, &rows).await?;
    }
    tracing::info!(room = %room.id, closed, by = %caller.user.login, "room closed or opened through the openmeetings API");
    Ok(success(if closed { "Closed" } else { "Opened" }))
}

/// `GET room/close/{id}`: no one enters by hash any more; those inside are sent out.
pub async fn close(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: OmRequest,
) -> OmResult {
    set_closed(&state, &req, &id, true).await
}

/// `GET room/open/{id}`.
pub async fn open(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: OmRequest,
) -> OmResult {
    set_closed(&state, &req, &id, false).await
}

/// `POST room/hash?invite=InvitationDTO&sendmail=…`: a Convene invitation link to the room
/// (its token is the message; the entry is `BASE/hash?invitation=…`, which forwards to
/// `/invite/…`). `ONE_TIME` is a single-use link, `PERIOD` one valid until `validTo`,
/// `ENDLESS` one for 30 days (Convene's longest); no e-mail is sent.
pub async fn invitation(State(state): State<AppState>, req: OmRequest) -> OmResult {
    use crate::store::{InviteRole, NewInvitation};
    let caller = soap(&state, &req).await?;
    let dto = req
        .json("invite", "invitationDTO")?
        .ok_or_else(|| Fail::from(status_only(StatusCode::NOT_FOUND)))?;
    let room_id = super::transport::long(&dto, "roomId")
        .map_err(|_| Fail::from(status_only(StatusCode::NOT_FOUND)))?
        .ok_or_else(|| failure("roomId is not set"))?;
    let room = visible(&state, &caller, &room_id.to_string()).await?;
    if !policy::may_invite(&caller, &room) {
        return Err(not_allowed());
    }
    // The REST API's bounds (`api/invitations.rs`): 30 days at most, 500 open per room.
    let longest: i64 = 30 * 24 * 3600;
    if state.store.count_live_invitations(room.id).await? >= 500 {
        return Err(failure(
            "this room has 500 open invitations; revoke some first",
        ));
    }
    let valid = super::transport::text(&dto, "valid").unwrap_or_default();
    let (multi_use, secs) = match valid.trim().to_ascii_uppercase().as_str() {
        "PERIOD" => {
            let to = super::transport::text(&dto, "validTo").unwrap_or_default();
            let until = chrono::NaiveDateTime::parse_from_str(to.trim(), "%Y-%m-%d %H:%M:%S")
                .map_err(|_| failure("validTo must be a date-time like 2018-03-19 02:25:12"))?
                .and_utc()
                .timestamp();
            let left = until - chrono::Utc::now().timestamp();
            if left <= 0 {
                return Err(failure("validTo is in the past"));
            }
            (true, left.min(longest))
        }
        "ENDLESS" => (true, longest),
        _ => (false, longest),
    };
    let protected = super::transport::boolean(&dto, "passwordProtected").unwrap_or(false);
    let password_hash = if protected {
        let p = super::transport::text(&dto, "password").unwrap_or_default();
        if p.chars().count() < 4 || p.len() > crate::auth::password::MAX_PASSWORD_LEN {
            return Err(failure("the password must be 4 characters to 256 bytes"));
        }
        Some(
            crate::auth::password::hash(&state.hashing, p)
                .await
                .map_err(|_| failure("the server is busy; try again"))?,
        )
    } else {
        None
    };
    let (inv, token) = state
        .store
        .create_invitation(&NewInvitation {
            room: room.id,
            role: InviteRole::Participant,
            multi_use,
            password_hash: password_hash.as_deref(),
            created_by: caller.user.id,
            ttl_ms: secs * 1000,
        })
        .await?;
    tracing::info!(room = %room.id, invitation = inv.id, by = %caller.user.login, multi_use, "invitation created through the openmeetings API");
    Ok(success(token))
}
