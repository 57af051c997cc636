//! The waiting room through the API, on any node. The lobby lives in the room's task on
//! the room's node; there it is asked directly. Elsewhere the lobby's copy in the
//! database answers, and an admission or refusal travels to the room's node as an event
//! (as a kick does); the answer is 204 once the person has left the lobby, or 202 when
//! that node has not confirmed within a few seconds.

use super::Id;
use crate::auth::{Caller, policy};
use crate::cluster::events::Event;
use crate::error::{ApiError, ApiResult};
use crate::ids::{ConnectionId, RoomId, UserId};
use crate::node::AppState;
use crate::protocol::{UserView, WaiterView};
use crate::rooms::LobbyOutcome;
use crate::store::RoomRow;
use crate::time::rfc3339;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

/// Moderates the room through the API: an administrator (or webservice account), its
/// owner or moderators, or a guest of a moderator invitation to it.
fn may_moderate(caller: &Caller, room: &RoomRow) -> bool {
    policy::is_manager(caller)
        || policy::may_moderate(caller, room)
        || caller
            .guest
            .is_some_and(|g| g.room == room.id && g.moderator)
}

async fn visible_room(state: &AppState, caller: &Caller, id: i64) -> ApiResult<RoomRow> {
    let room = state
        .store
        .room(RoomId(id))
        .await?
        .ok_or_else(|| ApiError::not_found("room"))?;
    if !policy::may_see_room(caller, &room) {
        return Err(ApiError::not_found("room"));
    }
    Ok(room)
}

/// Who waits: from the live room when it lives here, else from the lobby's copy.
async fn waiting(state: &AppState, room: RoomId) -> ApiResult<Vec<WaiterView>> {
    if let Some(live) = state.rooms.get(room) {
        return Ok(live.lobby().await);
    }
    Ok(state
        .store
        .lobby(room)
        .await?
        .into_iter()
        .map(|r| WaiterView {
            id: r.entry.connection,
            user: UserView {
                id: r.entry.user,
                login: r.entry.login,
                display_name: r.entry.display_name,
            },
            guest: r.entry.guest,
            since: rfc3339(r.entry.since),
        })
        .collect())
}

/// `GET /api/v1/rooms/{id}/lobby`: whether the room has a waiting room and who waits in
/// it. Moderators see everyone; others see only their own connections that wait.
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<Json<Value>> {
    let room = visible_room(&state, &caller, id).await?;
    let mut list = waiting(&state, room.id).await?;
    let moderator = may_moderate(&caller, &room);
    if !moderator {
        let me: UserId = caller.user.id;
        list.retain(|w| w.user.id == me);
    }
    Ok(Json(json!({
        "room_id": room.id,
        "waiting_room": room.waiting_room,
        "moderator": moderator,
        "waiting": list,
    })))
}

/// `POST /api/v1/rooms/{id}/lobby/{participant}/admit`
pub async fn admit(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, participant)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    decide(state, caller, id, participant, true).await
}

/// `POST /api/v1/rooms/{id}/lobby/{participant}/refuse`
pub async fn refuse(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, participant)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    decide(state, caller, id, participant, false).await
}

async fn decide(
    state: AppState,
    caller: Caller,
    id: String,
    participant: String,
    admit: bool,
) -> ApiResult<StatusCode> {
    let id = id
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::not_found("room"))?;
    let room = visible_room(&state, &caller, id).await?;
    if !may_moderate(&caller, &room) {
        return Err(ApiError::forbidden(
            "only the room's moderators can admit or refuse people",
        ));
    }
    let not_waiting = || ApiError::not_found("waiting participant");
    if participant.is_empty()
        || participant.len() > 64
        || !participant.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(not_waiting());
    }
    let connection = ConnectionId(participant);
    let verb = if admit { "admitted" } else { "refused" };
    if let Some(live) = state.rooms.get(room.id) {
        return match live.decide(connection.clone(), admit).await {
            LobbyOutcome::Admitted | LobbyOutcome::Refused => {
                tracing::info!(room = %room.id, %connection, by = %caller.user.login, "{verb} from the lobby");
                Ok(StatusCode::NO_CONTENT)
            }
            LobbyOutcome::NotWaiting => Err(not_waiting()),
            LobbyOutcome::Full => Err(ApiError::conflict(
                "the room is full: someone has to leave before another can come in",
            )),
        };
    }
    // The room lives on another node: ask it there, then watch the lobby's copy.
    let Some(row) = state.store.lobby_entry(room.id, &connection).await? else {
        return Err(not_waiting());
    };
    let event = if admit {
        Event::Admit {
            node: row.server,
            room: room.id,
            connection: connection.clone(),
        }
    } else {
        Event::Refuse {
            node: row.server,
            room: room.id,
            connection: connection.clone(),
        }
    };
    state.events.publish(&event).await?;
    for _ in 0..60 {
        if state
            .store
            .lobby_entry(room.id, &connection)
            .await?
            .is_none()
        {
            tracing::info!(room = %room.id, %connection, by = %caller.user.login, "{verb} from the lobby (on node {})", row.server);
            return Ok(StatusCode::NO_CONTENT);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(StatusCode::ACCEPTED)
}
