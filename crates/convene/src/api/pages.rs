//! A converted document's pages (`docs/files.md`, "Documents"): the list, each page's
//! image and the thumbnail. The same access as the file's content: whoever may download
//! the file may see its pages; a room's guests through the room's form of the routes.

use super::Id;
use super::files::{content_url, file_and_area};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::files::serve;
use crate::ids::RoomId;
use crate::node::AppState;
use crate::store::{FileRow, Scope};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

fn not_found(what: &str) -> ApiError {
    ApiError::not_found(what)
}

fn positive(s: &str) -> Option<i64> {
    s.parse::<i64>().ok().filter(|i| *i > 0)
}

/// The file by `/api/v1/files/{id}`, or by `/api/v1/rooms/{id}/files/{file}` (then it
/// must be that room's).
async fn file_for(
    state: &AppState,
    caller: &Caller,
    room: Option<&str>,
    id: i64,
) -> ApiResult<FileRow> {
    let (file, _) = file_and_area(state, caller, id).await?;
    if let Some(room) = room
        && positive(room).map(|r| Scope::Room(RoomId(r))) != Some(file.scope)
    {
        return Err(not_found("file"));
    }
    Ok(file)
}

/// 409 while the document is converted (with its progress) or when it failed.
async fn not_ready(state: &AppState, file: &FileRow) -> ApiResult<Response> {
    let progress = state.store.conversion_of(file.id).await?;
    let (done, total) = progress
        .as_ref()
        .map(|p| (p.pages_done, p.pages_total))
        .unwrap_or((0, None));
    let (code, message) = if file.status == "failed" {
        (
            "conversion_failed",
            format!(
                "the document could not be converted: {}",
                file.error.as_deref().unwrap_or("no reason recorded")
            ),
        )
    } else {
        let at = match total {
            Some(t) => format!("{done} of {t} pages done"),
            None => "waiting to start".to_string(),
        };
        (
            "converting",
            format!("the document is being converted ({at}); ask again shortly"),
        )
    };
    let body = json!({
        "error": {"code": code, "message": message},
        "status": file.status,
        "pages_done": done,
        "pages_total": total,
    });
    let mut r = (StatusCode::CONFLICT, Json(body)).into_response();
    if file.status != "failed" {
        r.headers_mut()
            .insert(axum::http::header::RETRY_AFTER, 1.into());
    }
    Ok(r)
}

async fn list(state: &AppState, file: &FileRow) -> ApiResult<Response> {
    if file.status != "ready" {
        return not_ready(state, file).await;
    }
    // `…/content` becomes `…/pages/N`.
    let base = content_url(file);
    let base = base.strip_suffix("/content").unwrap_or(&base).to_string();
    let pages: Vec<Value> = state
        .store
        .pages(file.id)
        .await?
        .iter()
        .map(|p| {
            json!({
                "number": p.number,
                "width": p.width,
                "height": p.height,
                "url": format!("{base}/pages/{}", p.number),
            })
        })
        .collect();
    Ok(Json(Value::Array(pages)).into_response())
}

async fn page(
    state: &AppState,
    file: &FileRow,
    number: &str,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    if file.status != "ready" {
        return not_ready(state, file).await;
    }
    let number = positive(number).ok_or_else(|| not_found("page"))?;
    let page = state
        .store
        .pages(file.id)
        .await?
        .into_iter()
        .find(|p| p.number == number)
        .ok_or_else(|| not_found("page"))?;
    if page.storage_key == file.storage_key {
        // An image is its own page.
        return serve::respond(&state.storage, file, headers, false).await;
    }
    stored_png(
        state,
        file,
        page.storage_key,
        &format!("page {number}"),
        headers,
    )
    .await
}

/// A PNG we made for `file` (a page, the thumbnail), served as a file of its own.
async fn stored_png(
    state: &AppState,
    file: &FileRow,
    key: String,
    what: &str,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let stem = file
        .name
        .rsplit_once('.')
        .map(|(s, _)| s)
        .unwrap_or(&file.name);
    let name = format!("{stem} - {what}.png");
    serve::respond_made(&state.storage, &key, &name, "image/png", headers, false).await
}

async fn thumbnail_of(
    state: &AppState,
    file: &FileRow,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    match (&file.thumbnail_key, file.status.as_str()) {
        (Some(key), "ready") => stored_png(state, file, key.clone(), "thumbnail", headers).await,
        _ => Err(not_found("thumbnail")),
    }
}

/// `GET /api/v1/files/{id}/thumbnail`
pub async fn thumbnail(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let file = file_for(&state, &caller, None, id).await?;
    thumbnail_of(&state, &file, &headers).await
}

/// `GET /api/v1/rooms/{id}/files/{file}/thumbnail` (what a guest of the room may call)
pub async fn room_thumbnail(
    State(state): State<AppState>,
    caller: Caller,
    Path((room, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = positive(&id).ok_or_else(|| not_found("file"))?;
    let file = file_for(&state, &caller, Some(&room), id).await?;
    thumbnail_of(&state, &file, &headers).await
}

/// `GET /api/v1/files/{id}/pages`
pub async fn pages(
    State(state): State<AppState>,
    caller: Caller,
    Id(id): Id,
) -> ApiResult<Response> {
    let file = file_for(&state, &caller, None, id).await?;
    list(&state, &file).await
}

/// `GET /api/v1/files/{id}/pages/{n}`
pub async fn page_image(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, n)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = positive(&id).ok_or_else(|| not_found("file"))?;
    let file = file_for(&state, &caller, None, id).await?;
    page(&state, &file, &n, &headers).await
}

/// `GET /api/v1/rooms/{id}/files/{file}/pages` (what a guest of the room may call)
pub async fn room_pages(
    State(state): State<AppState>,
    caller: Caller,
    Path((room, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id = positive(&id).ok_or_else(|| not_found("file"))?;
    let file = file_for(&state, &caller, Some(&room), id).await?;
    list(&state, &file).await
}

/// `GET /api/v1/rooms/{id}/files/{file}/pages/{n}`
pub async fn room_page_image(
    State(state): State<AppState>,
    caller: Caller,
    Path((room, id, n)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = positive(&id).ok_or_else(|| not_found("file"))?;
    let file = file_for(&state, &caller, Some(&room), id).await?;
    page(&state, &file, &n, &headers).await
}
