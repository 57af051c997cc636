//! Rooms: definitions (admins), the room list with live counts, and entering.

use super::{Id, JsonBody};
use crate::auth::{Caller, Manager};
use crate::cluster::events::{Event, publish};
use crate::cluster::placement::{PlacementError, host_for_room};
use crate::error::{ApiError, ApiResult};
use crate::ids::{RoomId, UserId};
use crate::server::AppState;
use crate::store::{Role, RoomKind, RoomRow, RoomWrite};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

const MAX_CAPACITY: i64 = 10_000;

/// `POST` body: omitted fields take their defaults.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomBody {
    name: String,
    #[serde(default = "default_kind")]
    kind: String,
    #[serde(default = "default_capacity")]
    capacity: i64,
    #[serde(default = "default_public")]
    public: bool,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    moderators: Vec<i64>,
    #[serde(default)]
    members: Vec<i64>,
}

/// `PUT` body: a partial update, omitted (or `null`) fields keep their value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomPatch {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    capacity: Option<i64>,
    #[serde(default)]
    public: Option<bool>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    moderators: Option<Vec<i64>>,
    #[serde(default)]
    members: Option<Vec<i64>>,
}

fn default_kind() -> String {
    "conference".into()
}
fn default_capacity() -> i64 {
    25
}
fn default_public() -> bool {
    true
}

impl RoomPatch {
    /// The room's current definition with the given fields replaced.
    fn over(self, room: &RoomRow) -> RoomBody {
        let ids = |v: &[UserId]| v.iter().map(|u| u.0).collect::<Vec<_>>();
        RoomBody {
            name: self.name.unwrap_or_else(|| room.name.clone()),
            kind: self.kind.unwrap_or_else(|| room.kind.as_str().to_string()),
            capacity: self.capacity.unwrap_or(room.capacity),
            public: self.public.unwrap_or(room.public),
            comment: self.comment.unwrap_or_else(|| room.comment.clone()),
            moderators: self.moderators.unwrap_or_else(|| ids(&room.moderators)),
            members: self.members.unwrap_or_else(|| ids(&room.members)),
        }
    }
}

async fn validate(state: &AppState, body: RoomBody) -> ApiResult<RoomWrite> {
    let name = body.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request("name must be 1 to 100 characters"));
    }
    let kind = RoomKind::parse(&body.kind).ok_or_else(|| {
        ApiError::bad_request("kind must be conference, presentation or interview")
    })?;
    if !(1..=MAX_CAPACITY).contains(&body.capacity) {
        return Err(ApiError::bad_request(format!(
            "capacity must be between 1 and {MAX_CAPACITY}"
        )));
    }
    if body.comment.chars().count() > 2000 {
        return Err(ApiError::bad_request(
            "comment must be at most 2000 characters",
        ));
    }
    if body.moderators.len() + body.members.len() > 5000 {
        return Err(ApiError::bad_request("too many members"));
    }
    let to_ids = |v: &[i64]| v.iter().map(|i| UserId(*i)).collect::<Vec<_>>();
    let (moderators, members) = (to_ids(&body.moderators), to_ids(&body.members));
    let wanted: Vec<UserId> = moderators.iter().chain(members.iter()).copied().collect();
    let found = state.store.existing_user_ids(&wanted).await?;
    if let Some(missing) = wanted.iter().find(|id| !found.contains(id)) {
        return Err(ApiError::bad_request(format!(
            "user {missing} does not exist"
        )));
    }
    Ok(RoomWrite {
        name,
        kind,
        capacity: body.capacity,
        public: body.public,
        comment: body.comment,
        members,
        moderators,
    })
}

pub fn room_json(room: &RoomRow, participants: i64) -> Value {
    json!({
        "id": room.id,
        "name": room.name,
        "kind": room.kind,
        "capacity": room.capacity,
        "public": room.public,
        "comment": room.comment,
        "moderators": room.moderators,
        "members": room.members,
        "participants": participants,
        "created_at": crate::time::rfc3339(room.created_at),
    })
}

fn may_see(caller: &Caller, room: &RoomRow) -> bool {
    caller.user.role != Role::User || room.admits(caller.user.id)
}

async fn load(state: &AppState, id: i64) -> ApiResult<RoomRow> {
    state
        .store
        .room(RoomId(id))
        .await?
        .ok_or_else(|| ApiError::not_found("room"))
}

/// `GET /api/v1/rooms`: the rooms the caller may enter, with cluster-wide live counts.
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<Value>>> {
    let counts = state.store.participant_counts().await?;
    let rooms = state.store.list_rooms().await?;
    Ok(Json(
        rooms
            .iter()
            .filter(|r| may_see(&caller, r))
            .map(|r| room_json(r, counts.get(&r.id).copied().unwrap_or(0)))
            .collect(),
    ))
}

pub async fn create(
    State(state): State<AppState>,
    Manager(caller): Manager,
    JsonBody(body): JsonBody<RoomBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let write = validate(&state, body).await?;
    let room = state.store.create_room(&write).await?;
    tracing::info!(room = %room.id, by = %caller.user.login, "room created");
    Ok((StatusCode::CREATED, Json(room_json(&room, 0))))
}

pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<Json<Value>> {
    let room = load(&state, id).await?;
    if !may_see(&caller, &room) {
        return Err(ApiError::not_found("room"));
    }
    let count = state.store.room_connections(room.id).await?.len() as i64;
    Ok(Json(room_json(&room, count)))
}

pub async fn update(
    State(state): State<AppState>,
    Manager(caller): Manager,
    Id(id): Id,
    JsonBody(patch): JsonBody<RoomPatch>,
) -> ApiResult<Json<Value>> {
    let current = load(&state, id).await?;
    let write = validate(&state, patch.over(&current)).await?;
    let room = state
        .store
        .update_room(RoomId(id), &write)
        .await?
        .ok_or_else(|| ApiError::not_found("room"))?;
    // The host, on whichever node, applies the change live.
    publish(&state, &Event::RoomChanged { room: room.id }).await?;
    tracing::info!(room = %room.id, by = %caller.user.login, "room updated");
    let count = state.store.room_connections(room.id).await?.len() as i64;
    Ok(Json(room_json(&room, count)))
}

pub async fn delete(
    State(state): State<AppState>,
    Manager(caller): Manager,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let room = RoomId(id);
    if state.store.room(room).await?.is_none() {
        return Err(ApiError::not_found("room"));
    }
    // Close the live room first (on its host), then delete, so no chat write races the delete.
    publish(&state, &Event::RoomDeleted { room }).await?;
    wait_until_empty(&state, room).await;
    if !state.store.delete_room(room).await? {
        return Err(ApiError::not_found("room"));
    }
    tracing::info!(room = %room, by = %caller.user.login, "room deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Waits (briefly) until the room's participants are gone, wherever they are.
async fn wait_until_empty(state: &AppState, room: RoomId) {
    for _ in 0..60 {
        match state.store.room_connections(room).await {
            Ok(rows) if !rows.is_empty() => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await
            }
            _ => return,
        }
    }
}

/// `POST /api/v1/rooms/{id}/enter`: the hosting node and a single-use entry token.
pub async fn enter(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<Json<Value>> {
    let room = load(&state, id).await?;
    if !may_see(&caller, &room) {
        return Err(ApiError::forbidden("you are not a member of this room"));
    }
    let host = host_for_room(&state.store, room.id)
        .await
        .map_err(|e| match e {
            PlacementError::NoServer => ApiError::unavailable(e.to_string()),
            PlacementError::Db(e) => ApiError::from(e),
        })?;
    let ttl = state.config.entry_token_ttl;
    let token = state
        .store
        .create_entry_token(caller.user.id, room.id, host.id, ttl.as_millis() as i64)
        .await?;
    let ws_base = if let Some(rest) = host.url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else {
        format!("ws://{}", host.url.trim_start_matches("http://"))
    };
    Ok(Json(json!({
        "server": {"id": host.id, "name": host.name, "url": host.url},
        "token": token,
        "ws_url": format!("{ws_base}/ws?token={token}"),
        "room_url": format!("{}/room/{}?token={token}", host.url, room.id),
        "expires_in": ttl.as_secs(),
    })))
}

/// `GET /api/v1/rooms/{id}/participants`: who is in the room, on whichever node.
pub async fn participants(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<Json<Vec<Value>>> {
    let room = load(&state, id).await?;
    if !may_see(&caller, &room) {
        return Err(ApiError::not_found("room"));
    }
    let rows = state.store.room_connections(room.id).await?;
    Ok(Json(
        rows.iter()
            .map(|c| {
                json!({
                    "id": c.id,
                    "user": {"id": c.user_id, "login": c.login},
                    "server": {"id": c.server_id, "name": c.server_name},
                    "since": crate::time::rfc3339(c.since),
                })
            })
            .collect(),
    ))
}

#[derive(Deserialize)]
pub struct RoomPageQuery {
    token: Option<String>,
}

/// `GET /room/{id}[?token=…]`: the room page. With a token (a redirect from another
/// node), signs the browser in first, then drops the token from the address bar.
pub async fn room_page(
    State(state): State<AppState>,
    Id(id): Id,
    Query(query): Query<RoomPageQuery>,
) -> ApiResult<Response> {
    let Some(token) = query.token else {
        return Ok(crate::web::shell());
    };
    let target = format!("/room/{id}");
    let grant = state
        .store
        .redeem_entry_token(&token, state.node.id)
        .await?;
    let user = match grant {
        Some(g) if g.room.0 == id => state.store.user(g.user).await?,
        _ => None,
    };
    let Some(user) = user.filter(|u| u.enabled && u.role != Role::Webservice) else {
        tracing::info!(room = id, "refused room-page entry token");
        return Ok(Redirect::to(&format!("{target}?entry=refused")).into_response());
    };
    let ttl = state.config.session_ttl.as_millis() as i64;
    let sid = state.store.create_session(user.id, "web", ttl).await?;
    let mut response = Redirect::to(&target).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        super::session::session_cookie(&state, &sid),
    );
    Ok(response)
}
