//! Recordings (`docs/recordings.md`): started and stopped in the database (the room's
//! node captures while it says so), listed, played back with range requests, renamed,
//! deleted and processed again on any node. Access follows the room's: whoever may
//! see the room sees and plays its recordings; its moderators (and administrators)
//! start, stop and manage them.

use super::{Id, JsonBody};
use crate::auth::{Caller, policy};
use crate::cluster::events::Event;
use crate::error::{ApiError, ApiResult};
use crate::files::serve;
use crate::ids::RoomId;
use crate::node::AppState;
use crate::store::{RecordingPolicy, RecordingRow, RoomRow};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

const MAX_NAME_CHARS: usize = 200;

fn recording_json(r: &RecordingRow, may_manage: bool) -> Value {
    let ready = r.status == "ready";
    json!({
        "id": r.id,
        "room_id": r.room.map(|r| r.0),
        "name": r.name,
        "status": r.status,
        "error": r.error,
        "started_at": crate::time::rfc3339(r.started_at),
        "stopped_at": r.stopped_at.map(crate::time::rfc3339),
        "duration_seconds": r.duration_ms.filter(|_| ready).map(|ms| ms as f64 / 1000.0),
        "size_bytes": r.size_bytes.filter(|_| ready),
        "started_by": r.started_by.map(|u| json!({"id": u, "name": r.started_by_name})),
        "media_url": ready.then(|| format!("/api/v1/recordings/{}/media", r.id)),
        "thumbnail_url": (ready && r.thumbnail_key.is_some())
            .then(|| format!("/api/v1/recordings/{}/thumbnail", r.id)),
        "may_manage": may_manage,
    })
}

async fn visible_room(state: &AppState, caller: &Caller, room: RoomId) -> ApiResult<RoomRow> {
    if caller.guest.is_some() {
        return Err(ApiError::not_found("room"));
    }
    state
        .store
        .room(room)
        .await?
        .filter(|r| policy::may_see_room(caller, r))
        .ok_or_else(|| ApiError::not_found("room"))
}

/// The recording and whether the caller may manage it; 404 for what they may not see.
async fn recording_for(
    state: &AppState,
    caller: &Caller,
    id: i64,
) -> ApiResult<(RecordingRow, bool)> {
    let rec = state
        .store
        .recording(id)
        .await?
        .ok_or_else(|| ApiError::not_found("recording"))?;
    let manage = match rec.room {
        Some(room) => {
            let room = visible_room(state, caller, room).await?;
            policy::may_moderate(caller, &room)
        }
        // Its room was deleted: administrators only.
        None if caller.is_admin() => true,
        None => return Err(ApiError::not_found("recording")),
    };
    Ok((rec, manage))
}

fn must_manage(manage: bool) -> ApiResult<()> {
    if manage {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only the room's moderators may start, stop or change its recordings",
        ))
    }
}

async fn changed(state: &AppState, room: Option<RoomId>) {
    if let Some(room) = room
        && let Err(e) = state
            .events
            .publish(&Event::RecordingChanged { room })
            .await
    {
        tracing::warn!(%room, error = %e, "cannot tell the room's node about its recording");
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Start {
    name: Option<String>,
}

fn check_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(ApiError::bad_request(format!(
            "a recording's name has 1 to {MAX_NAME_CHARS} characters and no control characters"
        )));
    }
    Ok(name.to_string())
}

/// `POST /api/v1/rooms/{id}/recordings`
pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    JsonBody(body): JsonBody<Start>,
) -> ApiResult<Response> {
    let room = visible_room(&state, &caller, RoomId(id)).await?;
    must_manage(policy::may_moderate(&caller, &room))?;
    if state.store.room_recording_policy(room.id).await? == RecordingPolicy::Forbidden {
        return Err(ApiError::forbidden(
            "recording is forbidden in this room (its recording setting)",
        ));
    }
    if state.store.room_host(room.id).await?.is_none() {
        return Err(ApiError::conflict(
            "nobody is in the room: a recording starts in a live room",
        ));
    }
    let name = match body.name {
        Some(n) => check_name(&n)?,
        None => format!(
            "{} — {}",
            room.name,
            chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
        ),
    };
    let by = Some((caller.user.id, caller.user.display_name.clone()));
    let Some(rec) = state
        .store
        .start_recording(room.id, &name, by, &crate::recordings::new_prefix())
        .await?
    else {
        return Err(ApiError::conflict("the room is being recorded already"));
    };
    tracing::info!(room = %room.id, recording = rec.id, user = %caller.user.id, "recording started");
    changed(&state, rec.room).await;
    Ok((StatusCode::CREATED, Json(recording_json(&rec, true))).into_response())
}

/// `POST /api/v1/recordings/{id}/stop`
pub async fn stop(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    JsonBody(_): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let (rec, manage) = recording_for(&state, &caller, id).await?;
    must_manage(manage)?;
    if !state.store.request_stop(rec.id).await? {
        return Err(ApiError::conflict("this recording is not running"));
    }
    tracing::info!(recording = rec.id, user = %caller.user.id, "recording stop asked");
    changed(&state, rec.room).await;
    let rec = state.store.recording(id).await?.unwrap_or(rec);
    Ok(Json(recording_json(&rec, manage)))
}

/// `GET /api/v1/rooms/{id}/recordings`
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<Json<Value>> {
    let room = visible_room(&state, &caller, RoomId(id)).await?;
    let manage = policy::may_moderate(&caller, &room);
    let all = state.store.room_recordings(room.id).await?;
    let setting = state.store.room_recording_policy(room.id).await?;
    Ok(Json(json!({
        "recordings": all.iter().map(|r| recording_json(r, manage)).collect::<Vec<_>>(),
        "policy": setting.as_str(),
        "may_manage": manage,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    policy: String,
}

/// `PUT /api/v1/rooms/{id}/recordings/settings`: `allowed`, `forbidden` or `automatic`.
pub async fn settings(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    JsonBody(body): JsonBody<Settings>,
) -> ApiResult<Json<Value>> {
    let room = visible_room(&state, &caller, RoomId(id)).await?;
    if !policy::may_edit_room(&caller, &room) {
        return Err(ApiError::forbidden(
            "only who may edit the room changes its recording setting",
        ));
    }
    let setting = RecordingPolicy::parse(&body.policy).ok_or_else(|| {
        ApiError::bad_request("`policy` is `allowed`, `forbidden` or `automatic`")
    })?;
    state
        .store
        .set_room_recording_policy(room.id, setting)
        .await?;
    Ok(Json(json!({"policy": setting.as_str()})))
}

/// `GET /api/v1/recordings/{id}`
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<Json<Value>> {
    let (rec, manage) = recording_for(&state, &caller, id).await?;
    Ok(Json(recording_json(&rec, manage)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    name: String,
}

/// `PUT /api/v1/recordings/{id}`
pub async fn rename(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    JsonBody(body): JsonBody<Rename>,
) -> ApiResult<Json<Value>> {
    let (rec, manage) = recording_for(&state, &caller, id).await?;
    must_manage(manage)?;
    state
        .store
        .rename_recording(rec.id, &check_name(&body.name)?)
        .await?;
    let rec = state
        .store
        .recording(id)
        .await?
        .ok_or_else(|| ApiError::not_found("recording"))?;
    Ok(Json(recording_json(&rec, manage)))
}

/// `DELETE /api/v1/recordings/{id}`: gone at once; its bytes are removed after.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let (rec, manage) = recording_for(&state, &caller, id).await?;
    must_manage(manage)?;
    state.store.delete_recording(rec.id).await?;
    changed(&state, rec.room).await;
    let (storage, prefix) = (state.storage.clone(), rec.storage_prefix.clone());
    state.tasks.spawn(async move {
        crate::recordings::remove_files(&storage, &prefix).await;
    });
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/recordings/{id}/retry`
pub async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    JsonBody(_): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let (rec, manage) = recording_for(&state, &caller, id).await?;
    must_manage(manage)?;
    if !state.store.retry_recording(rec.id).await? {
        return Err(ApiError::conflict(
            "only a failed recording is processed again",
        ));
    }
    let rec = state.store.recording(id).await?.unwrap_or(rec);
    Ok(Json(recording_json(&rec, manage)))
}

#[derive(Debug, Deserialize)]
pub struct MediaQuery {
    download: Option<String>,
}

/// `GET /api/v1/recordings/{id}/media`: the WebM, with range requests.
pub async fn media(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Query(q): Query<MediaQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (rec, _) = recording_for(&state, &caller, id).await?;
    let Some(key) = rec.media_key.clone().filter(|_| rec.status == "ready") else {
        return Err(ApiError::conflict(format!(
            "the recording is not ready (it is {})",
            rec.status
        )));
    };
    let name = format!("{}.webm", rec.name);
    let download = q.download.is_some_and(|d| d != "0");
    serve::respond_made(
        &state.storage,
        &key,
        &name,
        "video/webm",
        &headers,
        download,
    )
    .await
}

/// `GET /api/v1/recordings/{id}/thumbnail`
pub async fn thumbnail(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (rec, _) = recording_for(&state, &caller, id).await?;
    let Some(key) = rec.thumbnail_key.clone().filter(|_| rec.status == "ready") else {
        return Err(ApiError::not_found("thumbnail"));
    };
    let name = format!("{} - thumbnail.png", rec.name);
    serve::respond_made(&state.storage, &key, &name, "image/png", &headers, false).await
}
