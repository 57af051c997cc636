//! `info`, `error`, and the listings integrations read: `file`, `record`, `group`, `wb`.
//! Convene has no recordings yet and no files of an external type: those lists are empty,
//! in the right wrapping.

use super::reply::{OmResult, failure, soft_error, success, wrap};
use super::transport::{OmRequest, path_id};
use super::{Fail, soap};
use crate::auth::policy;
use crate::ids::RoomId;
use crate::node::AppState;
use crate::store::{FileRow, Scope};
use axum::extract::{Path, State};
use serde_json::{Value, json};

/// The OpenMeetings version whose API this one follows (three parts: the Moodle plugin
/// splits it on `.` and `-`).
pub const OM_VERSION: &str = "9.1.0";

/// `GET info/version`.
pub async fn version() -> OmResult {
    Ok(wrap(
        "info",
        json!({
            "version": OM_VERSION,
            "revision": format!("convene-{}", env!("CARGO_PKG_VERSION")),
            "buildDate": "",
        }),
    ))
}

/// `GET info/health`.
pub async fn health(State(state): State<AppState>) -> OmResult {
    let db = state.store.ping().await;
    Ok(wrap(
        "health",
        json!({"inited": true, "installed": true, "dbOk": db}),
    ))
}

/// `GET error/{key}/{lang}`: Convene has no OpenMeetings label texts; the key itself.
pub async fn error_label(Path((key, _lang)): Path<(String, String)>) -> OmResult {
    let key: String = key.chars().take(100).collect();
    Ok(success(key))
}

fn file_type(f: &FileRow) -> &'static str {
    let ct = f.content_type.as_str();
    if ct.starts_with("image/") {
        "IMAGE"
    } else if ct.starts_with("video/") {
        "VIDEO"
    } else {
        "PRESENTATION"
    }
}

fn file_item(f: &FileRow) -> Value {
    let (room, owner) = match f.scope {
        Scope::Room(r) => (Some(r.0), None),
        Scope::User(u) => (None, Some(u.0)),
    };
    let mut v = json!({
        "id": f.id,
        "name": f.name,
        "size": f.size,
        "hash": f.sha256,
        "type": file_type(f),
    });
    if let Some(r) = room {
        v["roomId"] = json!(r);
    }
    if let Some(o) = owner {
        v["ownerId"] = json!(o);
    }
    if let Some(p) = f.folder {
        v["parentId"] = json!(p);
    }
    v
}

/// `GET file/{externaltype}`: files of that external type; Convene's files have none.
pub async fn files_by_type(
    State(state): State<AppState>,
    Path(_external_type): Path<String>,
    req: OmRequest,
) -> OmResult {
    soap(&state, &req).await?;
    Ok(wrap("fileItemDTO", json!([])))
}

/// `DELETE file/{id}`: OpenMeetings' "Bad id" (200 ERROR) for what Convene does not list.
pub async fn file_delete(
    State(state): State<AppState>,
    Path(_id): Path<String>,
    req: OmRequest,
) -> OmResult {
    soap(&state, &req).await?;
    Ok(soft_error("Bad id"))
}

/// `POST file/`: not supported (the room's files are uploaded in Convene's UI or REST API).
pub async fn file_upload(State(state): State<AppState>, req: OmRequest) -> OmResult {
    soap(&state, &req).await?;
    Err(failure("file upload through this API is not supported"))
}

/// `GET file/room/{id}`: the room's files (a FileExplorerObject; the caller, a web-service
/// account, has no home of its own).
pub async fn room_files(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: OmRequest,
) -> OmResult {
    let caller = soap(&state, &req).await?;
    let id = RoomId(path_id(&id)?);
    let room = state
        .store
        .room(id)
        .await?
        .ok_or_else(|| failure("Not found"))?;
    if !policy::may_see_room(&caller, &room) {
        return Err(super::reply::not_allowed());
    }
    let files = state.store.files_in(Scope::Room(id)).await?;
    let size: i64 = files.iter().map(|f| f.size).sum();
    Ok(wrap(
        "fileExplorerObject",
        json!({
            "userHome": [],
            "userHomeSize": 0,
            "roomHome": files.iter().map(file_item).collect::<Vec<_>>(),
            "roomHomeSize": size,
        }),
    ))
}

async fn no_recordings(state: &AppState, req: &OmRequest) -> OmResult {
    soap(state, req).await?;
    Ok(wrap("recordingDTO", json!([])))
}

/// `GET record/{externaltype}`.
pub async fn records_by_type(
    State(state): State<AppState>,
    Path(_t): Path<String>,
    req: OmRequest,
) -> OmResult {
    no_recordings(&state, &req).await
}

/// `GET record/{externaltype}/{externalid}`.
pub async fn records_of_user(
    State(state): State<AppState>,
    Path(_k): Path<(String, String)>,
    req: OmRequest,
) -> OmResult {
    no_recordings(&state, &req).await
}

/// `GET record/room/{id}`.
pub async fn records_of_room(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: OmRequest,
) -> OmResult {
    path_id(&id)?;
    no_recordings(&state, &req).await
}

/// `DELETE record/{id}`: there is no such recording.
pub async fn record_delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: OmRequest,
) -> OmResult {
    soap(&state, &req).await?;
    path_id(&id)?;
    Err(failure("Not found"))
}

/// `GET wb/resetwb/{id}`: not supported (boards are cleared by a moderator in the room).
pub async fn reset_whiteboards(
    State(state): State<AppState>,
    Path(id): Path<String>,
    req: OmRequest,
) -> OmResult {
    soap(&state, &req).await?;
    path_id(&id)?;
    Ok(soft_error(
        "resetting whiteboards through this API is not supported",
    ))
}

/// `GET group/`: Convene has no groups.
pub async fn groups(
    State(state): State<AppState>,
    req: OmRequest,
) -> Result<axum::response::Response, Fail> {
    soap(&state, &req).await?;
    Ok(wrap("groupDTO", json!([])))
}
