//! Administration → Servers and Connections.

use crate::auth::{Caller, Manager};
use crate::error::{ApiError, ApiResult};
use crate::ids::ConnectionId;
use crate::server::AppState;
use crate::time::rfc3339;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

/// `GET /api/v1/servers`: every node with its status and load.
pub async fn servers(State(state): State<AppState>, _: Caller) -> ApiResult<Json<Vec<Value>>> {
    let servers = state.store.list_servers().await?;
    let stats = state.store.server_stats().await?;
    Ok(Json(
        servers
            .iter()
            .map(|s| {
                let st = stats.get(&s.id).copied().unwrap_or_default();
                json!({
                    "id": s.id,
                    "name": s.name,
                    "url": s.url,
                    "address": s.address,
                    "http_port": s.http_port,
                    "protocol": s.protocol,
                    "base_path": s.base_path,
                    "weight": s.weight,
                    "comment": s.comment,
                    "active": s.active,
                    "status": s.status(),
                    "heartbeat_age_ms": s.heartbeat_age_ms,
                    "rooms": st.rooms,
                    "participants": st.participants,
                    "version": s.version,
                    "this_node": s.id == state.node.id,
                })
            })
            .collect(),
    ))
}

/// `GET /api/v1/connections`: every live connection of the cluster, with its node.
pub async fn connections(State(state): State<AppState>, _: Manager) -> ApiResult<Json<Vec<Value>>> {
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
pub async fn kick_connection(
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
    if row.server_id != state.node.id {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "other_node",
            format!(
                "this connection lives on server {} ({}); kick it from there",
                row.server_name, row.server_id
            ),
        ));
    }
    if let Some(room) = state.rooms.get(row.room_id) {
        room.kick(id.clone()).await;
    }
    // The connection task removes its row too; doing it here makes the list right at once
    // and clears a leftover row that has no live participant.
    state.store.delete_connection(&id).await?;
    tracing::info!(connection = %id, by = %caller.user.login, "connection kicked");
    Ok(StatusCode::NO_CONTENT)
}
