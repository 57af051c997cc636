//! Rooms: definitions (admins, and organisers for the rooms they own), the room list with
//! live counts, and entering. Who may do what is `auth::policy`.

use super::{Id, JsonBody};
use crate::auth::Caller;
use crate::auth::policy;
use crate::cluster::events::Event;
use crate::cluster::placement::{Judge, PlacementError, host_for_room};
use crate::error::{ApiError, ApiResult};
use crate::ids::{RoomId, UserId};
use crate::node::AppState;
use crate::store::{Role, RoomKind, RoomRow, RoomWrite};
use axum::Json;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

const MAX_CAPACITY: i64 = 10_000;

/// `POST` body: omitted fields take their defaults; `public` by default unless members are
/// chosen (what the creator expects: a room without members is for everyone signed in).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomBody {
    name: String,
    #[serde(default = "default_kind")]
    kind: String,
    #[serde(default = "default_capacity")]
    capacity: i64,
    #[serde(default)]
    public: Option<bool>,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    moderators: Vec<i64>,
    #[serde(default)]
    members: Vec<i64>,
    /// Who runs the room (`null`: nobody); by default its creator. Only administrators
    /// choose another.
    #[serde(default, deserialize_with = "super::session::some_or_null")]
    owner: Option<Option<i64>>,
    /// People without a moderator right wait until a moderator admits them.
    #[serde(default)]
    waiting_room: bool,
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
    /// A user id, or `null` for no owner; only administrators change it.
    #[serde(default, deserialize_with = "super::session::some_or_null")]
    owner: Option<Option<i64>>,
    #[serde(default)]
    waiting_room: Option<bool>,
}

fn default_kind() -> String {
    "conference".into()
}
fn default_capacity() -> i64 {
    25
}

impl RoomPatch {
    /// The room's current definition with the given fields replaced.
    fn over(self, room: &RoomRow) -> RoomBody {
        let ids = |v: &[UserId]| v.iter().map(|u| u.0).collect::<Vec<_>>();
        RoomBody {
            name: self.name.unwrap_or_else(|| room.name.clone()),
            kind: self.kind.unwrap_or_else(|| room.kind.as_str().to_string()),
            capacity: self.capacity.unwrap_or(room.capacity),
            public: Some(self.public.unwrap_or(room.public)),
            comment: self.comment.unwrap_or_else(|| room.comment.clone()),
            moderators: self.moderators.unwrap_or_else(|| ids(&room.moderators)),
            members: self.members.unwrap_or_else(|| ids(&room.members)),
            // The owner is written apart (see `update`).
            owner: None,
            waiting_room: self.waiting_room.unwrap_or(room.waiting_room),
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
        public: body.public.unwrap_or(members.is_empty()),
        comment: body.comment,
        members,
        moderators,
    })
}

/// Checks that a room's owner may be one: an enabled account other than a guest.
async fn check_owner(state: &AppState, owner: UserId) -> ApiResult<()> {
    match state.store.user(owner).await? {
        Some(u) if u.role != Role::Guest => Ok(()),
        Some(_) => Err(ApiError::bad_request("a guest cannot own a room")),
        None => Err(ApiError::bad_request(format!(
            "owner: user {owner} does not exist"
        ))),
    }
}

fn not_owner() -> ApiError {
    ApiError::forbidden("only the room's owner or an administrator can change this room")
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
        "owner": room.owner,
        "waiting_room": room.waiting_room,
    })
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
            .filter(|r| policy::may_see_room(&caller, r))
            .map(|r| room_json(r, counts.get(&r.id).copied().unwrap_or(0)))
            .collect(),
    ))
}

/// `POST /api/v1/rooms`: organisers and administrators; the creator owns the room.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<RoomBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if !policy::may_create_room(&caller) {
        return Err(ApiError::forbidden(
            "only organisers and administrators can create rooms",
        ));
    }
    let owner = match body.owner {
        None => Some(caller.user.id),
        Some(owner) => owner.map(UserId),
    };
    if owner != Some(caller.user.id) {
        if !policy::may_set_owner(&caller) {
            return Err(ApiError::forbidden(
                "only administrators can create rooms owned by someone else",
            ));
        }
        if let Some(owner) = owner {
            check_owner(&state, owner).await?;
        }
    }
    let waiting_room = body.waiting_room;
    let write = validate(&state, body).await?;
    let mut room = state.store.create_owned_room(&write, owner).await?;
    if waiting_room {
        state.store.set_waiting_room(room.id, true).await?;
        room.waiting_room = true;
    }
    tracing::info!(room = %room.id, by = %caller.user.login, "room created");
    Ok((StatusCode::CREATED, Json(room_json(&room, 0))))
}

pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<Json<Value>> {
    let room = load(&state, id).await?;
    if !policy::may_see_room(&caller, &room) {
        return Err(ApiError::not_found("room"));
    }
    let count = state.store.room_connections(room.id).await?.len() as i64;
    Ok(Json(room_json(&room, count)))
}

/// A room the caller may change: 404 if it may not even see it, 403 if it may only see it.
async fn load_editable(state: &AppState, caller: &Caller, id: i64) -> ApiResult<RoomRow> {
    let room = load(state, id).await?;
    if !policy::may_see_room(caller, &room) {
        return Err(ApiError::not_found("room"));
    }
    if !policy::may_edit_room(caller, &room) {
        return Err(not_owner());
    }
    Ok(room)
}

pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    JsonBody(mut patch): JsonBody<RoomPatch>,
) -> ApiResult<Json<Value>> {
    let current = load_editable(&state, &caller, id).await?;
    // Unchanged (a form sends what it shows) is no change of owner.
    let owner = patch
        .owner
        .take()
        .map(|o| o.map(UserId))
        .filter(|o| *o != current.owner);
    if let Some(new_owner) = owner {
        if !policy::may_set_owner(&caller) {
            return Err(ApiError::forbidden(
                "only administrators can change a room's owner",
            ));
        }
        if let Some(user) = new_owner {
            check_owner(&state, user).await?;
        }
    }
    let waiting_room = patch.waiting_room.filter(|w| *w != current.waiting_room);
    let write = validate(&state, patch.over(&current)).await?;
    if let Some(on) = waiting_room {
        state.store.set_waiting_room(RoomId(id), on).await?;
    }
    let room = state
        .store
        .update_owned_room(RoomId(id), &write, owner)
        .await?
        .ok_or_else(|| ApiError::not_found("room"))?;
    // The host, on whichever node, applies the change live.
    state
        .events
        .publish(&Event::RoomChanged { room: room.id })
        .await?;
    tracing::info!(room = %room.id, by = %caller.user.login, "room updated");
    let count = state.store.room_connections(room.id).await?.len() as i64;
    Ok(Json(room_json(&room, count)))
}

pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let current = load(&state, id).await?;
    if !policy::may_see_room(&caller, &current) {
        return Err(ApiError::not_found("room"));
    }
    if !policy::may_delete_room(&caller, &current) {
        return Err(not_owner());
    }
    let room = current.id;
    // Close the live room first (on its host), then delete, so no chat write races the delete.
    state.events.publish(&Event::RoomDeleted { room }).await?;
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

/// How long placement may take before `enter` answers 503.
const PLACEMENT_DEADLINE: std::time::Duration = std::time::Duration::from_secs(4);

/// `POST /api/v1/rooms/{id}/enter`: the hosting node and a single-use entry token.
pub async fn enter(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: axum::http::HeaderMap,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<Json<Value>> {
    let room = load(&state, id).await?;
    if !policy::may_see_room(&caller, &room) {
        return Err(ApiError::forbidden("you are not a member of this room"));
    }
    let judge = Judge {
        node: state.node.id,
        may_judge: state.lease.may_judge(),
    };
    // Bounded: a node cut from the database answers 503 at once instead of hanging.
    let host = tokio::time::timeout(
        PLACEMENT_DEADLINE,
        host_for_room(&state.store, room.id, judge),
    )
    .await
    .map_err(|_| ApiError::unavailable("the database is not answering; try again".to_string()))?
    .map_err(|e| match e {
        PlacementError::NoServer | PlacementError::HostUnreachable => {
            ApiError::unavailable(e.to_string())
        }
        PlacementError::Db(e) => ApiError::from(e),
    })?;
    let origin = host_origin(&state, &host, &headers)?;
    let ttl = state.config.entry_token_ttl;
    let token = state
        .store
        .create_entry_token(caller.user.id, room.id, host.id, ttl.as_millis() as i64)
        .await?;
    let client = super::client_addr(&state, &headers, peer);
    state.url_warnings.check(&origin, &client);
    let ws_base = crate::public_url::websocket_origin(&origin);
    Ok(Json(json!({
        "server": {"id": host.id, "name": host.name, "url": origin},
        "token": token,
        "ws_url": format!("{ws_base}/ws?token={token}"),
        "room_url": format!("{origin}/room/{}?token={token}", room.id),
        "expires_in": ttl.as_secs(),
    })))
}

/// Where clients go for `host`: its URL in `servers`, except for this very node when
/// it has no `public_url` (a single node): then the origin the client itself used.
fn host_origin(
    state: &AppState,
    host: &crate::store::ServerRow,
    headers: &axum::http::HeaderMap,
) -> ApiResult<String> {
    if host.id == state.node.id && state.config.public_url.is_none() {
        crate::public_url::client_origin(&state.config, headers)
    } else {
        Ok(host.url.trim_end_matches('/').to_string())
    }
}

/// `GET /api/v1/rooms/{id}/participants`: who is in the room, on whichever node.
pub async fn participants(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<Json<Vec<Value>>> {
    let room = load(&state, id).await?;
    if !policy::may_see_room(&caller, &room) {
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
/// The user of the request's valid session cookie, if any.
async fn signed_in_user(
    state: &AppState,
    headers: &axum::http::HeaderMap,
) -> Result<Option<crate::ids::UserId>, ApiError> {
    let sid = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == crate::auth::COOKIE_NAME)
        .map(|(_, v)| v.to_string());
    let Some(sid) = sid else { return Ok(None) };
    Ok(state.store.session_user(&sid).await?.map(|s| s.user.id))
}

pub async fn room_page(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
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
    // A link never replaces the session of someone already signed in (login CSRF:
    // an attacker's link would sign the victim in as the attacker). The same person
    // simply goes on; someone else is told the link was for another account.
    if let Some(current) = signed_in_user(&state, &headers).await? {
        if current == user.id {
            return Ok(Redirect::to(&target).into_response());
        }
        tracing::info!(room = id, "room link of another account refused");
        return Ok(Redirect::to(&format!("{target}?entry=other_account")).into_response());
    }
    let ttl = state.config.session_ttl.as_millis() as i64;
    let sid = state.store.create_session(user.id, "web", ttl).await?;
    let mut response = Redirect::to(&target).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        super::session::session_cookie(&state, &sid),
    );
    Ok(response)
}
