//! Administration → Servers: the nodes, their status and load; adding, editing,
//! activating, deactivating and draining them.

use super::{Id, JsonBody, OptionalJsonBody};
use crate::auth::Manager;
use crate::cluster::drain::{DEFAULT_DEADLINE_SECS, MAX_DEADLINE_SECS};
use crate::cluster::events::Event;
use crate::error::{ApiError, ApiResult};
use crate::ids::NodeId;
use crate::node::AppState;
use crate::store::{NODE_IDS, ServerRow, ServerStats, ServerWrite};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

pub fn server_json(s: &ServerRow, st: ServerStats, this_node: NodeId) -> Value {
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
        "drain_remaining_ms": s.drain_remaining_ms,
        "rooms": st.rooms,
        "participants": st.participants,
        "version": s.version,
        "storage": s.storage_status,
        "this_node": s.id == this_node,
    })
}

/// `GET /api/v1/servers`: every node with its status and load.
pub async fn list(State(state): State<AppState>, _: Manager) -> ApiResult<Json<Vec<Value>>> {
    let servers = state.store.list_servers().await?;
    let stats = state.store.server_stats().await?;
    Ok(Json(
        servers
            .iter()
            .map(|s| {
                server_json(
                    s,
                    stats.get(&s.id).copied().unwrap_or_default(),
                    state.node.id,
                )
            })
            .collect(),
    ))
}

/// The seed's fields plus weight and comment. All optional on update.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ServerBody {
    id: Option<i64>,
    name: Option<String>,
    address: Option<String>,
    http_port: Option<i64>,
    protocol: Option<String>,
    base_path: Option<String>,
    weight: Option<f64>,
    comment: Option<String>,
    active: Option<bool>,
}

/// Applies `body` over `base`, checking every field (the rule the command line uses too).
fn merge(base: ServerWrite, body: ServerBody) -> ApiResult<ServerWrite> {
    ServerWrite {
        name: body.name.unwrap_or(base.name),
        address: body.address.unwrap_or(base.address),
        http_port: body.http_port.unwrap_or(base.http_port),
        protocol: body.protocol.unwrap_or(base.protocol),
        base_path: body.base_path.unwrap_or(base.base_path),
        weight: body.weight.unwrap_or(base.weight),
        comment: body.comment.unwrap_or(base.comment),
        active: body.active.unwrap_or(base.active),
    }
    .checked()
    .map_err(ApiError::bad_request)
}

fn write_of(s: &ServerRow) -> ServerWrite {
    ServerWrite {
        name: s.name.clone(),
        address: s.address.clone(),
        http_port: s.http_port,
        protocol: s.protocol.clone(),
        base_path: s.base_path.clone(),
        weight: s.weight,
        comment: s.comment.clone(),
        active: s.active,
    }
}

async fn answer(state: &AppState, row: &ServerRow) -> ApiResult<Json<Value>> {
    let stats = state.store.server_stats().await?;
    Ok(Json(server_json(
        row,
        stats.get(&row.id).copied().unwrap_or_default(),
        state.node.id,
    )))
}

/// `POST /api/v1/servers`: adds a server before its node runs.
pub async fn create(
    State(state): State<AppState>,
    Manager(caller): Manager,
    JsonBody(body): JsonBody<ServerBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let id = body
        .id
        .filter(|id| NODE_IDS.contains(id))
        .ok_or_else(|| ApiError::bad_request("id must be given, between 1 and 1000000"))?;
    let base = ServerWrite {
        name: format!("node-{id}"),
        address: String::new(),
        http_port: 5080,
        protocol: "http".into(),
        base_path: String::new(),
        weight: 1.0,
        comment: String::new(),
        active: true,
    };
    let write = merge(base, body)?;
    let row = state
        .store
        .add_server(NodeId(id), &write)
        .await?
        .ok_or_else(|| ApiError::conflict(format!("server {id} exists")))?;
    tracing::info!(server = id, by = %caller.user.login, "server added");
    Ok((StatusCode::CREATED, answer(&state, &row).await?))
}

/// `GET /api/v1/servers/{id}`
pub async fn show(State(state): State<AppState>, _: Manager, Id(id): Id) -> ApiResult<Json<Value>> {
    let row = state
        .store
        .server(NodeId(id))
        .await?
        .ok_or_else(|| ApiError::not_found("server"))?;
    answer(&state, &row).await
}

/// `PUT /api/v1/servers/{id}`: edits, activates (`{"active": true}`) or deactivates.
pub async fn update(
    State(state): State<AppState>,
    Manager(caller): Manager,
    Id(id): Id,
    JsonBody(body): JsonBody<ServerBody>,
) -> ApiResult<Json<Value>> {
    if body.id.is_some_and(|b| b != id) {
        return Err(ApiError::bad_request("a server's id cannot change"));
    }
    let current = state
        .store
        .server(NodeId(id))
        .await?
        .ok_or_else(|| ApiError::not_found("server"))?;
    let write = merge(write_of(&current), body)?;
    let row = state
        .store
        .update_server(NodeId(id), &write)
        .await?
        .ok_or_else(|| ApiError::not_found("server"))?;
    if row.active != current.active {
        state
            .events
            .publish(&Event::ServerChanged {
                server: row.id,
                active: row.active,
            })
            .await?;
    }
    tracing::info!(server = id, active = row.active, by = %caller.user.login, "server updated");
    answer(&state, &row).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrainBody {
    #[serde(default = "default_deadline")]
    deadline_seconds: u64,
}

impl Default for DrainBody {
    fn default() -> Self {
        DrainBody {
            deadline_seconds: DEFAULT_DEADLINE_SECS,
        }
    }
}

fn default_deadline() -> u64 {
    DEFAULT_DEADLINE_SECS
}

/// `POST /api/v1/servers/{id}/drain`: no new rooms; at the deadline its participants
/// are moved to other nodes. The body is optional (an empty one means the defaults).
pub async fn drain(
    State(state): State<AppState>,
    Manager(caller): Manager,
    Id(id): Id,
    OptionalJsonBody(body): OptionalJsonBody<DrainBody>,
) -> ApiResult<Json<Value>> {
    if body.deadline_seconds > MAX_DEADLINE_SECS {
        return Err(ApiError::bad_request(format!(
            "deadline_seconds must be at most {MAX_DEADLINE_SECS}"
        )));
    }
    let deadline_ms = body.deadline_seconds as i64 * 1000;
    if !state.store.start_drain(NodeId(id), deadline_ms).await? {
        return Err(ApiError::not_found("server"));
    }
    state
        .events
        .publish(&Event::Drain {
            server: NodeId(id),
            deadline_ms,
        })
        .await?;
    tracing::info!(server = id, deadline_seconds = body.deadline_seconds, by = %caller.user.login, "server drain started");
    let row = state
        .store
        .server(NodeId(id))
        .await?
        .ok_or_else(|| ApiError::not_found("server"))?;
    answer(&state, &row).await
}
