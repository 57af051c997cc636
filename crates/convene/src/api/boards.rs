//! The whiteboard as stored, readable on any node (the live boards are the room
//! actor's; what it stored is the same, since it sends nothing before storing it).

use super::Id;
use crate::auth::{Caller, policy};
use crate::error::{ApiError, ApiResult};
use crate::ids::RoomId;
use crate::node::AppState;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

/// `GET /api/v1/rooms/{id}/boards`: the boards as in a `boards` frame.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<Json<Value>> {
    let room = RoomId(id);
    state
        .store
        .room(room)
        .await?
        .filter(|r| policy::may_see_room(&caller, r))
        .ok_or_else(|| ApiError::not_found("room"))?;
    let log = state.store.board_log(room).await?;
    let boards = crate::boards::replay(&log);
    Ok(Json(json!({"seq": boards.seq, "boards": boards.boards})))
}
