//! File areas over REST (`docs/files.md`): each room's files and folders, and each
//! account's personal ones. Who may do what:
//!
//! | who | room area | personal area |
//! | --- | --- | --- |
//! | moderators of the room, administrators | everything | — |
//! | others allowed into the room (guests too) | list, download; upload when the room's `files_upload` is on (not guests); rename and delete what they uploaded | — |
//! | the account itself | — | everything |
//!
//! Anyone else gets 404 for the area and for each of its files and folders, as if they
//! did not exist.

use super::{Id, JsonBody};
use crate::auth::{Caller, policy};
use crate::error::{ApiError, ApiResult};
use crate::files::area::{self, StoreError};
use crate::files::kinds::{self, Verdict};
use crate::files::{convert, names, serve};
use crate::http_server::BodyDeadline;
use crate::ids::RoomId;
use crate::node::AppState;
use crate::store::{FileRow, FolderRow, Inserted, NewFile, Role, Scope};
use axum::Json;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

/// Most folders in one area, and how deep they nest.
const MAX_FOLDERS: usize = 1000;
const MAX_DEPTH: usize = 16;

/// The routes that take uploads: their request deadline is `upload_timeout` (see `observe`).
pub fn is_upload(method: &str, route: &str) -> bool {
    method == "POST" && matches!(route, "/api/v1/rooms/{id}/files" | "/api/v1/me/files")
}

/// One file area as the caller may use it.
pub(super) struct Area {
    scope: Scope,
    /// Rename, move and delete anything, make folders, change the settings.
    manage: bool,
    upload: bool,
    /// The room's `files_upload` (rooms only).
    files_upload: Option<bool>,
    quota: u64,
}

fn not_found(what: &str) -> ApiError {
    ApiError::not_found(what)
}

/// The area, if the caller may see it at all (else 404).
async fn open_area(state: &AppState, caller: &Caller, scope: Scope) -> ApiResult<Area> {
    match scope {
        Scope::Room(id) => {
            let room = state
                .store
                .room(id)
                .await?
                .filter(|r| policy::may_see_room(caller, r))
                .ok_or_else(|| not_found("room"))?;
            let manage = caller.user.role != Role::Guest
                && (policy::is_manager(caller) || policy::may_moderate(caller, &room));
            let files_upload = state.store.room_files_upload(id).await?;
            Ok(Area {
                scope,
                manage,
                upload: manage || (files_upload && caller.user.role != Role::Guest),
                files_upload: Some(files_upload),
                quota: state.config.room_quota_bytes,
            })
        }
        Scope::User(id) if id == caller.user.id && caller.user.role != Role::Guest => Ok(Area {
            scope,
            manage: true,
            upload: true,
            files_upload: None,
            quota: state.config.user_quota_bytes,
        }),
        Scope::User(_) => Err(not_found("file area")),
    }
}

/// A file and the caller's area, or 404 whether it does not exist or is not the caller's to see.
pub(super) async fn file_and_area(
    state: &AppState,
    caller: &Caller,
    id: i64,
) -> ApiResult<(FileRow, Area)> {
    let file = state
        .store
        .file(id)
        .await?
        .ok_or_else(|| not_found("file"))?;
    let area = open_area(state, caller, file.scope).await.map_err(|e| {
        if e.status == StatusCode::NOT_FOUND {
            not_found("file")
        } else {
            e
        }
    })?;
    Ok((file, area))
}

async fn folder_and_area(
    state: &AppState,
    caller: &Caller,
    id: i64,
) -> ApiResult<(FolderRow, Area)> {
    let folder = state
        .store
        .folder(id)
        .await?
        .ok_or_else(|| not_found("folder"))?;
    let area = open_area(state, caller, folder.scope).await.map_err(|e| {
        if e.status == StatusCode::NOT_FOUND {
            not_found("folder")
        } else {
            e
        }
    })?;
    Ok((folder, area))
}

pub(super) fn content_url(file: &FileRow) -> String {
    match file.scope {
        Scope::Room(room) => format!("/api/v1/rooms/{room}/files/{}/content", file.id),
        Scope::User(_) => format!("/api/v1/files/{}/content", file.id),
    }
}

fn thumbnail_url(file: &FileRow) -> String {
    let content = content_url(file);
    let base = content.strip_suffix("/content").unwrap_or(&content);
    format!("{base}/thumbnail")
}

pub fn file_json(file: &FileRow) -> Value {
    let (room, owner) = match file.scope {
        Scope::Room(r) => (Some(r), None),
        Scope::User(u) => (None, Some(u)),
    };
    json!({
        "id": file.id,
        "name": file.name,
        "size": file.size,
        "content_type": file.content_type,
        "status": file.status,
        "error": file.error,
        "folder": file.folder,
        "room": room,
        "owner": owner,
        "created_by": file.created_by,
        "created_at": crate::time::rfc3339(file.created_at),
        "updated_at": crate::time::rfc3339(file.updated_at),
        "sha256": file.sha256,
        "url": content_url(file),
        "thumbnail_url": file
            .thumbnail_key
            .as_ref()
            .filter(|_| file.status == "ready")
            .map(|_| thumbnail_url(file)),
        "pages": file.page_count.filter(|_| file.status == "ready"),
    })
}

fn folder_json(folder: &FolderRow) -> Value {
    json!({
        "id": folder.id,
        "name": folder.name,
        "parent": folder.parent,
        "created_by": folder.created_by,
        "created_at": crate::time::rfc3339(folder.created_at),
    })
}

async fn listing(state: &AppState, area: &Area) -> ApiResult<Json<Value>> {
    let files = state.store.files_in(area.scope).await?;
    let folders = state.store.folders_in(area.scope).await?;
    let used: i64 = files.iter().map(|f| f.size).sum();
    let mut out = json!({
        "files": files.iter().map(file_json).collect::<Vec<_>>(),
        "folders": folders.iter().map(folder_json).collect::<Vec<_>>(),
        "used": used,
        "quota": (area.quota > 0).then_some(area.quota),
        "max_file_bytes": state.config.max_file_bytes,
        "may_upload": area.upload,
        "may_manage": area.manage,
    });
    if let Some(on) = area.files_upload {
        out["files_upload"] = on.into();
    }
    Ok(Json(out))
}

/// `GET /api/v1/rooms/{id}/files`
pub async fn room_list(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<Json<Value>> {
    let area = open_area(&state, &caller, Scope::Room(RoomId(id))).await?;
    listing(&state, &area).await
}

/// `GET /api/v1/me/files`
pub async fn my_list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let area = open_area(&state, &caller, Scope::User(caller.user.id)).await?;
    listing(&state, &area).await
}

#[derive(Deserialize, Default)]
pub struct UploadQuery {
    folder: Option<i64>,
}

/// `POST /api/v1/rooms/{id}/files` (multipart)
pub async fn room_upload(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Query(query): Query<UploadQuery>,
    deadline: Option<Extension<BodyDeadline>>,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    let scope = Scope::Room(RoomId(id));
    upload(&state, &caller, scope, query, deadline, multipart).await
}

/// `POST /api/v1/me/files` (multipart)
pub async fn my_upload(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<UploadQuery>,
    deadline: Option<Extension<BodyDeadline>>,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    let scope = Scope::User(caller.user.id);
    upload(&state, &caller, scope, query, deadline, multipart).await
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "file_too_large",
        format!("the file is larger than the limit of {limit} bytes (setting `max_file_bytes`)"),
    )
}

fn over_quota(quota: u64, used: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "quota_exceeded",
        format!(
            "the file does not fit: this file area may hold {quota} bytes and holds {used}; delete files first"
        ),
    )
}

/// Reads what is left of a refused request (a bounded amount, briefly), so that the
/// client is still sending when it gets the answer instead of a reset connection.
async fn drain(multipart: &mut Multipart) {
    let mut left: usize = 16 << 20;
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        while let Ok(Some(mut field)) = multipart.next_field().await {
            while let Ok(Some(chunk)) = field.chunk().await {
                left = left.saturating_sub(chunk.len());
                if left == 0 {
                    return;
                }
            }
        }
    })
    .await;
}

async fn upload(
    state: &AppState,
    caller: &Caller,
    scope: Scope,
    query: UploadQuery,
    deadline: Option<Extension<BodyDeadline>>,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    let area = open_area(state, caller, scope).await?;
    if !area.upload {
        if let Ok(mut multipart) = multipart {
            drain(&mut multipart).await;
        }
        return Err(ApiError::forbidden(
            "only the room's moderators may upload files here (the room's `files_upload` is off)",
        ));
    }
    let mut multipart = multipart.map_err(|e| {
        ApiError::bad_request(format!(
            "send the files as multipart/form-data in fields named `file` ({})",
            e.body_text()
        ))
    })?;
    if let Some(Extension(deadline)) = deadline {
        deadline.extend(state.config.upload_timeout);
    }
    let mut created: Vec<FileRow> = Vec::new();
    let result = receive(
        state,
        caller,
        &area,
        query.folder,
        &mut multipart,
        &mut created,
    )
    .await;
    match result {
        Ok(()) if created.is_empty() => Err(ApiError::bad_request(
            "no file: send it in a multipart field named `file`",
        )),
        Ok(()) => {
            let body = if created.len() == 1 {
                file_json(&created[0])
            } else {
                Value::Array(created.iter().map(file_json).collect())
            };
            Ok((StatusCode::CREATED, Json(body)).into_response())
        }
        Err(e) => {
            // All or nothing: the files this request stored before the error go again.
            for file in &created {
                state.store.delete_file(file.id).await?;
            }
            if !created.is_empty() {
                area::purge_soon(&state.tasks, state.store.clone(), state.storage.clone());
            }
            drain(&mut multipart).await;
            Err(e)
        }
    }
}

/// Stores each `file` field of the request (in order), recording each as it is complete.
async fn receive(
    state: &AppState,
    caller: &Caller,
    area: &Area,
    mut folder: Option<i64>,
    multipart: &mut Multipart,
    created: &mut Vec<FileRow>,
) -> ApiResult<()> {
    if let Some(f) = folder {
        check_folder(state, area.scope, f).await?;
    }
    let max_file = state.config.max_file_bytes;
    loop {
        let field = multipart
            .next_field()
            .await
            .map_err(|e| ApiError::bad_request(format!("malformed upload: {}", e.body_text())))?;
        let Some(mut field) = field else {
            return Ok(());
        };
        match field.name() {
            Some("folder") => {
                let mut text = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(|e| {
                    ApiError::bad_request(format!("malformed upload: {}", e.body_text()))
                })? {
                    text.extend_from_slice(&chunk);
                    if text.len() > 32 {
                        return Err(ApiError::bad_request("`folder` must be a folder id"));
                    }
                }
                let text = String::from_utf8_lossy(&text).trim().to_string();
                folder = if text.is_empty() {
                    None
                } else {
                    let id = text
                        .parse::<i64>()
                        .map_err(|_| ApiError::bad_request("`folder` must be a folder id"))?;
                    check_folder(state, area.scope, id).await?;
                    Some(id)
                };
            }
            Some("file") => {
                let raw = field.file_name().unwrap_or("").to_string();
                let name = names::check_name(&raw)
                    .map_err(|why| ApiError::bad_request(format!("file name refused: {why}")))?;
                let used = state.store.files_usage(area.scope).await?.max(0) as u64;
                if area.quota > 0 && used >= area.quota {
                    return Err(over_quota(area.quota, used));
                }
                let room_left = if area.quota > 0 {
                    area.quota - used
                } else {
                    u64::MAX
                };
                let cap = max_file.min(room_left);
                let stored = match area::store_stream(&state.storage, &mut field, cap).await {
                    Ok(stored) => stored,
                    Err(StoreError::OverCap) if cap == max_file => return Err(too_large(max_file)),
                    Err(StoreError::OverCap) => return Err(over_quota(area.quota, used)),
                    Err(StoreError::Body(why)) => {
                        return Err(ApiError::bad_request(format!("the upload failed: {why}")));
                    }
                    Err(StoreError::Storage(e)) => {
                        tracing::warn!(error = %format!("{e:#}"), "cannot write an upload to the storage");
                        return Err(ApiError::unavailable(
                            "the shared storage cannot take the file right now; try again",
                        ));
                    }
                };
                let ext = names::extension(&name);
                let content_type = match kinds::classify(ext.as_deref(), &stored.head) {
                    Verdict::Accept(t) => t,
                    Verdict::Mismatch(claimed, found) => {
                        state.storage.delete(&stored.key).await?;
                        return Err(ApiError::new(
                            StatusCode::UNSUPPORTED_MEDIA_TYPE,
                            "content_mismatch",
                            format!(
                                "{name}: the content is {found}, not the {claimed} its extension says; \
                                 rename the file or upload the right one"
                            ),
                        ));
                    }
                };
                let new = NewFile {
                    scope: area.scope,
                    folder,
                    name,
                    size: stored.size as i64,
                    content_type,
                    storage_key: stored.key.clone(),
                    sha256: stored.sha256,
                    created_by: caller.user.id,
                };
                let inserted = state.store.insert_file(&new, area.quota as i64).await;
                match inserted {
                    Ok(Inserted::File(file)) => {
                        tracing::info!(file = file.id, size = file.size, by = %caller.user.login, "file uploaded");
                        // A document is converted into pages in the background.
                        created.push(convert::enqueue(&state.store, *file).await?);
                    }
                    Ok(Inserted::OverQuota(used)) => {
                        state.storage.delete(&stored.key).await?;
                        return Err(over_quota(area.quota, used.max(0) as u64));
                    }
                    Err(e) => {
                        state.storage.delete(&stored.key).await?;
                        return Err(e.into());
                    }
                }
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown field {:?}: send `file` (one or more) and optionally `folder`",
                    other.unwrap_or("")
                )));
            }
        }
    }
}

/// The folder exists in this area (the same answer whether it exists elsewhere or not).
async fn check_folder(state: &AppState, scope: Scope, id: i64) -> ApiResult<FolderRow> {
    state
        .store
        .folder(id)
        .await?
        .filter(|f| f.scope == scope)
        .ok_or_else(|| ApiError::bad_request(format!("folder {id} is not in this file area")))
}

/// `PUT /api/v1/files/{id}` body; omitted fields stay, `"folder": null` is the top.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePatch {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "super::session::some_or_null")]
    folder: Option<Option<i64>>,
}

/// May change (rename, move, delete) this file: a manager of the area, or its uploader.
fn may_change(caller: &Caller, area: &Area, file: &FileRow) -> bool {
    area.manage || (file.created_by == Some(caller.user.id) && caller.user.role != Role::Guest)
}

/// `GET /api/v1/files/{id}`
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<Json<Value>> {
    let (file, _) = file_and_area(&state, &caller, id).await?;
    Ok(Json(file_json(&file)))
}

/// `PUT /api/v1/files/{id}`: rename and/or move.
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    JsonBody(patch): JsonBody<FilePatch>,
) -> ApiResult<Json<Value>> {
    let (file, area) = file_and_area(&state, &caller, id).await?;
    if !may_change(&caller, &area, &file) {
        return Err(ApiError::forbidden(
            "only the room's moderators (and the file's uploader) may change this file",
        ));
    }
    let name = match patch.name {
        Some(n) => names::check_name(&n)
            .map_err(|why| ApiError::bad_request(format!("name refused: {why}")))?,
        None => file.name.clone(),
    };
    let folder = match patch.folder {
        Some(Some(f)) => Some(check_folder(&state, file.scope, f).await?.id),
        Some(None) => None,
        None => file.folder,
    };
    let file = state
        .store
        .update_file(id, &name, folder)
        .await?
        .ok_or_else(|| not_found("file"))?;
    Ok(Json(file_json(&file)))
}

/// `DELETE /api/v1/files/{id}`
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let (file, area) = file_and_area(&state, &caller, id).await?;
    if !may_change(&caller, &area, &file) {
        return Err(ApiError::forbidden(
            "only the room's moderators (and the file's uploader) may delete this file",
        ));
    }
    if !state.store.delete_file(id).await? {
        return Err(not_found("file"));
    }
    tracing::info!(file = id, by = %caller.user.login, "file deleted");
    area::purge_soon(&state.tasks, state.store.clone(), state.storage.clone());
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default)]
pub struct ContentQuery {
    /// `1`: always as an attachment.
    #[serde(default)]
    download: Option<String>,
}

/// `GET /api/v1/files/{id}/content`
pub async fn content(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    Query(query): Query<ContentQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (file, _) = file_and_area(&state, &caller, id).await?;
    let download = query.download.is_some_and(|d| d != "0" && d != "false");
    serve::respond(&state.storage, &file, &headers, download).await
}

/// `GET /api/v1/rooms/{id}/files/{file}/content`: the same, by the room (what a guest,
/// bound to its room, may call).
pub async fn room_content(
    State(state): State<AppState>,
    caller: Caller,
    Path((room, file)): Path<(String, String)>,
    Query(query): Query<ContentQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let parse = |s: &str| s.parse::<i64>().ok().filter(|i| *i > 0);
    let (Some(room), Some(id)) = (parse(&room), parse(&file)) else {
        return Err(not_found("file"));
    };
    let (file, _) = file_and_area(&state, &caller, id).await?;
    if file.scope != Scope::Room(RoomId(room)) {
        return Err(not_found("file"));
    }
    let download = query.download.is_some_and(|d| d != "0" && d != "false");
    serve::respond(&state.storage, &file, &headers, download).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsBody {
    files_upload: bool,
}

/// `PUT /api/v1/rooms/{id}/files/settings`: moderators decide whether participants upload.
pub async fn room_settings(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    JsonBody(body): JsonBody<SettingsBody>,
) -> ApiResult<Json<Value>> {
    let room = RoomId(id);
    let area = open_area(&state, &caller, Scope::Room(room)).await?;
    if !area.manage {
        return Err(ApiError::forbidden(
            "only the room's moderators may change this",
        ));
    }
    state
        .store
        .set_room_files_upload(room, body.files_upload)
        .await?;
    Ok(Json(json!({"files_upload": body.files_upload})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewFolder {
    name: String,
    #[serde(default)]
    parent: Option<i64>,
}

/// `POST /api/v1/rooms/{id}/folders`
pub async fn room_create_folder(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    JsonBody(body): JsonBody<NewFolder>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    create_folder(&state, &caller, Scope::Room(RoomId(id)), body).await
}

/// `POST /api/v1/me/folders`
pub async fn my_create_folder(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewFolder>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let scope = Scope::User(caller.user.id);
    create_folder(&state, &caller, scope, body).await
}

async fn create_folder(
    state: &AppState,
    caller: &Caller,
    scope: Scope,
    body: NewFolder,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let area = open_area(state, caller, scope).await?;
    if !area.manage {
        return Err(ApiError::forbidden(
            "only the room's moderators may make folders",
        ));
    }
    let name = names::check_name(&body.name)
        .map_err(|why| ApiError::bad_request(format!("folder name refused: {why}")))?;
    let all = state.store.folders_in(scope).await?;
    if all.len() >= MAX_FOLDERS {
        return Err(ApiError::conflict(format!(
            "a file area holds at most {MAX_FOLDERS} folders"
        )));
    }
    if let Some(parent) = body.parent {
        check_folder(state, scope, parent).await?;
        if depth(&all, parent) >= MAX_DEPTH {
            return Err(ApiError::bad_request(format!(
                "folders nest at most {MAX_DEPTH} deep"
            )));
        }
    }
    let folder = state
        .store
        .create_folder(scope, body.parent, &name, caller.user.id)
        .await?;
    Ok((StatusCode::CREATED, Json(folder_json(&folder))))
}

/// How many folders up from `id` to the top (1 for a top folder).
fn depth(all: &[FolderRow], id: i64) -> usize {
    let mut at = Some(id);
    let mut n = 0;
    while let Some(current) = at {
        n += 1;
        if n > MAX_FOLDERS {
            break;
        }
        at = all.iter().find(|f| f.id == current).and_then(|f| f.parent);
    }
    n
}

/// `id` and every folder below it.
fn subtree(all: &[FolderRow], id: i64) -> Vec<i64> {
    let mut out = vec![id];
    let mut i = 0;
    while i < out.len() && out.len() <= MAX_FOLDERS {
        let parent = out[i];
        out.extend(
            all.iter()
                .filter(|f| f.parent == Some(parent))
                .map(|f| f.id),
        );
        i += 1;
    }
    out
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FolderPatch {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, deserialize_with = "super::session::some_or_null")]
    parent: Option<Option<i64>>,
}

/// `PUT /api/v1/folders/{id}`: rename and/or move.
pub async fn update_folder(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    JsonBody(patch): JsonBody<FolderPatch>,
) -> ApiResult<Json<Value>> {
    let (folder, area) = folder_and_area(&state, &caller, id).await?;
    if !area.manage {
        return Err(ApiError::forbidden(
            "only the room's moderators may change folders",
        ));
    }
    let name = match patch.name {
        Some(n) => names::check_name(&n)
            .map_err(|why| ApiError::bad_request(format!("folder name refused: {why}")))?,
        None => folder.name.clone(),
    };
    let parent = match patch.parent {
        Some(Some(p)) => {
            check_folder(&state, folder.scope, p).await?;
            let all = state.store.folders_in(folder.scope).await?;
            let below = subtree(&all, id);
            if below.contains(&p) {
                return Err(ApiError::bad_request("a folder cannot move into itself"));
            }
            if depth(&all, p) + 1 > MAX_DEPTH {
                return Err(ApiError::bad_request(format!(
                    "folders nest at most {MAX_DEPTH} deep"
                )));
            }
            Some(p)
        }
        Some(None) => None,
        None => folder.parent,
    };
    let folder = state
        .store
        .update_folder(id, &name, parent)
        .await?
        .ok_or_else(|| not_found("folder"))?;
    Ok(Json(folder_json(&folder)))
}

/// `DELETE /api/v1/folders/{id}`: the folder, the folders in it, and all their files.
pub async fn delete_folder(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    let (folder, area) = folder_and_area(&state, &caller, id).await?;
    if !area.manage {
        return Err(ApiError::forbidden(
            "only the room's moderators may delete folders",
        ));
    }
    let all = state.store.folders_in(folder.scope).await?;
    let ids = subtree(&all, id);
    let files = state.store.delete_folders(&ids).await?;
    tracing::info!(folder = id, folders = ids.len(), files, by = %caller.user.login, "folder deleted");
    area::purge_soon(&state.tasks, state.store.clone(), state.storage.clone());
    Ok(StatusCode::NO_CONTENT)
}
