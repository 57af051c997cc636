//! The whiteboard as stored, readable on any node (the live boards are the room
//! actor's; what it stored is the same, since it sends nothing before storing it), and
//! its export as PNG or PDF (`boards::export` draws it).

use super::Id;
use crate::auth::{Caller, policy};
use crate::boards::Board;
use crate::boards::export::{self, PageArt};
use crate::error::{ApiError, ApiResult};
use crate::ids::RoomId;
use crate::node::AppState;
use crate::store::PageRow;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

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

#[derive(Debug, Deserialize)]
pub struct ExportQuery {
    format: Option<String>,
    page: Option<String>,
    scale: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Png,
    Pdf,
}

/// What an export asks for: the format, the pages (0-based) and the PNG's scale.
fn export_request(q: &ExportQuery, board: &Board) -> ApiResult<(Format, Vec<u32>, f64)> {
    let format = match q.format.as_deref().unwrap_or("png") {
        "png" => Format::Png,
        "pdf" => Format::Pdf,
        other => {
            return Err(ApiError::bad_request(format!(
                "`format` is png or pdf, not {:?}",
                other.chars().take(20).collect::<String>()
            )));
        }
    };
    let count = board.page_count();
    let pages = match (q.page.as_deref(), format) {
        (None, Format::Png) => vec![board.page.min(count - 1)],
        (None | Some("all"), Format::Pdf) => (0..count).collect(),
        (Some("all"), Format::Png) => {
            return Err(ApiError::bad_request(
                "a PNG is one page; ask for format=pdf to have all pages",
            ));
        }
        (Some(n), _) => match n.parse::<u32>() {
            Ok(n) if (1..=count).contains(&n) => vec![n - 1],
            _ => {
                return Err(ApiError::bad_request(format!(
                    "`page` is a page number from 1 to {count}, or `all`"
                )));
            }
        },
    };
    let scale = match q.scale.as_deref() {
        None => 1.0,
        Some(s) => match s.parse::<f64>() {
            Ok(s) if (0.25..=4.0).contains(&s) => s,
            _ => return Err(ApiError::bad_request("`scale` is between 0.25 and 4")),
        },
    };
    if format == Format::Pdf && q.scale.is_some() {
        return Err(ApiError::bad_request(
            "`scale` is for PNG only (a PDF is vector)",
        ));
    }
    Ok((format, pages, scale))
}

/// `GET /api/v1/rooms/{id}/boards/{board}/export`: a page as PNG, or pages as one PDF,
/// drawn from the stored boards (so on any node) over the slides' images.
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, board)): Path<(String, String)>,
    Query(query): Query<ExportQuery>,
) -> ApiResult<Response> {
    let room = id
        .parse::<i64>()
        .ok()
        .filter(|i| *i > 0)
        .map(RoomId)
        .ok_or_else(|| ApiError::not_found("room"))?;
    let room_row = state.store.room(room).await?;
    room_row
        .filter(|r| policy::may_see_room(&caller, r))
        .ok_or_else(|| ApiError::not_found("room"))?;
    let board_id = board
        .parse::<u32>()
        .map_err(|_| ApiError::not_found("board"))?;
    let log = state.store.board_log(room).await?;
    let boards = crate::boards::replay(&log);
    let board = boards
        .get(board_id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("board"))?;
    let (format, pages, scale) = export_request(&query, &board)?;
    let slides = match &board.document {
        Some(d) => state.store.pages(d.file).await?,
        None => Vec::new(),
    };
    let _turn = state
        .exports
        .permit()
        .await
        .map_err(|e| ApiError::unavailable(e.to_string()))?;
    let board = Arc::new(board);
    // A page at a time: one slide's image in memory at once.
    let mut pdf = export::PdfBuilder::default();
    let mut png = Vec::new();
    for page in pages.iter().copied() {
        let image = slide_image(&state, &board, &slides, page).await?;
        let (node, board) = (state.clone(), board.clone());
        let step = tokio::task::spawn_blocking(move || {
            let fonts = node.exports.fonts();
            let svg = export::svg(&PageArt::of(&board, page, image.as_deref()));
            match format {
                Format::Png => export::png(&svg, &fonts, scale).map(|bytes| (pdf, bytes)),
                Format::Pdf => pdf.add(&svg, &fonts).map(|()| (pdf, Vec::new())),
            }
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| {
            tracing::warn!(room = room.0, board = board_id, error = %e, "whiteboard export failed");
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "export_failed",
                e.to_string(),
            )
        })?;
        (pdf, png) = step;
    }
    let bytes = match format {
        Format::Png => png,
        Format::Pdf => pdf.finish(),
    };
    let single = (pages.len() == 1).then(|| pages[0] + 1);
    let (ctype, ext) = match format {
        Format::Png => ("image/png", "png"),
        Format::Pdf => ("application/pdf", "pdf"),
    };
    let file_name = match single {
        Some(n) if board.pages.len() > 1 => format!("{} - page {n}.{ext}", board.name),
        _ => format!("{}.{ext}", board.name),
    };
    let headers = [
        (header::CONTENT_TYPE, ctype.to_string()),
        (
            header::CONTENT_DISPOSITION,
            crate::files::names::content_disposition("attachment", &file_name),
        ),
        (header::CACHE_CONTROL, "private, no-store".to_string()),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
    ];
    Ok((headers, bytes).into_response())
}

/// The image of the slide on `page`, read from the shared storage; None for a page
/// without one (a plain board, or a document deleted since it was shown).
async fn slide_image(
    state: &AppState,
    board: &Board,
    stored: &[PageRow],
    page: u32,
) -> ApiResult<Option<Vec<u8>>> {
    let Some(slide) = board.pages.get(page as usize) else {
        return Ok(None);
    };
    let Some(row) = stored.iter().find(|p| p.number == i64::from(slide.number)) else {
        return Ok(None);
    };
    state.storage.get(&row.storage_key).await.map(Some).map_err(|e| {
        tracing::warn!(page = slide.number, error = %format!("{e:#}"), "whiteboard export: cannot read a slide");
        ApiError::unavailable("a slide cannot be read from the shared storage on this server right now")
    })
}
