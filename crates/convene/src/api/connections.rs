//! Administration → Connections: every live participant of the cluster, with its node.

use crate::auth::Manager;
use crate::cluster::events::Event;
use crate::error::{ApiError, ApiResult};
use crate::ids::ConnectionId;
use crate::node::AppState;
use crate::time::rfc3339;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

/// `GET /api/v1/connections`: every live connection of the cluster, with its node.
pub async fn list(State(state): State<AppState>, _: Manager) -> ApiResult<Json<Vec<Value>>> {
    let rows = state.store.list_connections().await?;
    Ok(Json(
        rows.iter()
            .map(|c| {
                json!({
                    "id": c.id,
                    "user": {"id": c.user_id, "login": c.login},
                    "room_id": c.room_id,
                    "room_name": c.room_name,
                    "server": {"id": c.server_id, "name": c.server_name},
                    "since": rfc3339(c.since),
                    "remote_addr": c.remote_addr,
                    "user_agent": c.user_agent,
                })
            })
            .collect(),
    ))
}

/// `DELETE /api/v1/connections/{id}`: kicks the participant.
pub async fn kick(
    State(state): State<AppState>,
    Manager(caller): Manager,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::not_found("connection"));
    }
    let id = ConnectionId(id);
    let row = state
        .store
        .connection(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("connection"))?;
    if row.server_id == state.node.id {
        if let Some(room) = state.rooms.get(row.room_id) {
            room.kick(id.clone()).await;
        }
        // The connection task removes its row too; doing it here makes the list right at
        // once and clears a leftover row that has no live participant.
        state.store.delete_connection(&id).await?;
    } else {
        // Another node holds it: ask through the event table, then wait for its row to go.
        let event = Event::Kick {
            node: row.server_id,
            room: row.room_id,
            connection: id.clone(),
        };
        state.events.publish(&event).await?;
        let mut gone = false;
        for _ in 0..60 {
            if state.store.connection(&id).await?.is_none() {
                gone = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        if !gone {
            return Ok(StatusCode::ACCEPTED);
        }
    }
    tracing::info!(connection = %id, by = %caller.user.login, "connection kicked");
    Ok(StatusCode::NO_CONTENT)
}
