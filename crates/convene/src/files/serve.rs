//! Serving a stored file: range requests (one range; several are answered whole, as
//! RFC 9110 allows), conditional requests on the content hash, and the headers that
//! keep a file from running as part of our origin.

use super::{SharedStorage, area, kinds, names};
use crate::error::ApiError;
use crate::store::FileRow;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::ops::Range;

/// What a `Range` header asks of a file of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Wanted {
    All,
    Part(Range<u64>),
    /// 416.
    Unsatisfiable,
}

/// Parses `bytes=a-b`, `bytes=a-` and `bytes=-n`. Anything else (other units, several
/// ranges, nonsense) is the whole file.
pub fn wanted(range: Option<&str>, size: u64) -> Wanted {
    let Some(spec) = range.and_then(|r| r.trim().strip_prefix("bytes=")) else {
        return Wanted::All;
    };
    if spec.contains(',') {
        return Wanted::All;
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return Wanted::All;
    };
    let (start, end) = (start.trim(), end.trim());
    let parse = |s: &str| s.parse::<u64>().ok();
    match (start.is_empty(), end.is_empty()) {
        (true, true) => Wanted::All,
        // The last n bytes.
        (true, false) => match parse(end) {
            Some(0) => Wanted::Unsatisfiable,
            Some(_) if size == 0 => Wanted::Unsatisfiable,
            Some(n) => Wanted::Part(size.saturating_sub(n)..size),
            None => Wanted::All,
        },
        (false, _) => {
            let Some(first) = parse(start) else {
                return Wanted::All;
            };
            let last = if end.is_empty() {
                Some(size.saturating_sub(1))
            } else {
                parse(end)
            };
            match last {
                None => Wanted::All,
                Some(_) if first >= size => Wanted::Unsatisfiable,
                Some(last) if last < first => Wanted::All,
                Some(last) => Wanted::Part(first..last.min(size - 1) + 1),
            }
        }
    }
}

/// The answer to `GET …/content`: the bytes (or the asked range), with
/// `Content-Disposition` (inline only for raster images and PDF, unless `download`),
/// `Content-Security-Policy: sandbox` on everything but an inline PDF, and an ETag.
pub async fn respond(
    storage: &SharedStorage,
    file: &FileRow,
    request: &HeaderMap,
    download: bool,
) -> Result<Response, ApiError> {
    let what = Served {
        key: &file.storage_key,
        name: &file.name,
        content_type: &file.content_type,
        size: file.size.max(0) as u64,
        etag: format!("\"{}\"", file.sha256),
    };
    respond_with(storage, &what, request, download).await
}

/// What is served: a stored object, the name it is downloaded as, its type, size and ETag.
pub struct Served<'a> {
    pub key: &'a str,
    pub name: &'a str,
    pub content_type: &'a str,
    pub size: u64,
    pub etag: String,
}

/// An object the server made (a page, a thumbnail, a recording): it never changes under
/// its key, so the key's hash is its ETag; its size is asked of the storage (503 when
/// this node cannot read the storage now, as for files).
pub async fn respond_made(
    storage: &SharedStorage,
    key: &str,
    name: &str,
    content_type: &str,
    request: &HeaderMap,
    download: bool,
) -> Result<Response, ApiError> {
    use object_store::ObjectStoreExt;
    use sha2::{Digest, Sha256};
    let meta = storage
        .object_store()
        .head(&object_store::path::Path::from(key))
        .await
        .map_err(|e| {
            tracing::warn!(key, error = %e, "cannot read a stored object");
            ApiError::unavailable(
                "this cannot be read from the shared storage on this server right now",
            )
        })?;
    let what = Served {
        key,
        name,
        content_type,
        size: meta.size,
        etag: format!("\"{}\"", hex::encode(Sha256::digest(key.as_bytes()))),
    };
    respond_with(storage, &what, request, download).await
}

async fn respond_with(
    storage: &SharedStorage,
    file: &Served<'_>,
    request: &HeaderMap,
    download: bool,
) -> Result<Response, ApiError> {
    let size = file.size;
    let etag = file.etag.clone();
    let header_str = |name| {
        request
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if header_str(header::IF_NONE_MATCH)
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        r.headers_mut().insert(
            header::ETAG,
            HeaderValue::from_str(&etag).map_err(ApiError::internal)?,
        );
        return Ok(r);
    }
    // A range of another version is the whole file.
    let range_header = match header_str(header::IF_RANGE) {
        Some(v) if v.trim() != etag => None,
        _ => header_str(header::RANGE),
    };
    let wanted = wanted(range_header, size);
    let mut headers = HeaderMap::new();
    let (status, range) = match wanted {
        Wanted::Unsatisfiable => {
            let mut r = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range_not_satisfiable",
                format!("the file has {size} bytes"),
            )
            .into_response();
            r.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{size}")).map_err(ApiError::internal)?,
            );
            return Ok(r);
        }
        Wanted::All => (StatusCode::OK, 0..size),
        Wanted::Part(r) => {
            headers.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes {}-{}/{size}", r.start, r.end - 1))
                    .map_err(ApiError::internal)?,
            );
            (StatusCode::PARTIAL_CONTENT, r)
        }
    };
    let body = if range.is_empty() {
        Body::empty()
    } else {
        let ask = (status == StatusCode::PARTIAL_CONTENT).then(|| range.clone());
        match area::read(storage, file.key, ask).await {
            Ok(stream) => Body::from_stream(stream),
            Err(e) => {
                tracing::warn!(key = file.key, error = %e, "cannot read a file from the storage");
                return Err(ApiError::unavailable(
                    "this file cannot be read from the shared storage on this server right now",
                ));
            }
        }
    };
    let inline = !download && kinds::inline_ok(file.content_type);
    let disposition =
        names::content_disposition(if inline { "inline" } else { "attachment" }, file.name);
    let value = |s: &str| HeaderValue::from_str(s).map_err(ApiError::internal);
    headers.insert(header::CONTENT_TYPE, value(file.content_type)?);
    headers.insert(header::CONTENT_LENGTH, (range.end - range.start).into());
    headers.insert(header::CONTENT_DISPOSITION, value(&disposition)?);
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::ETAG, value(&etag)?);
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // A PDF viewer refuses to run in a sandbox; a PDF never runs as our page anyway.
    let csp = if inline && file.content_type == "application/pdf" {
        "default-src 'none'; object-src 'self'; style-src 'unsafe-inline'"
    } else {
        "sandbox"
    };
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    Ok((status, headers, body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let w = |r: &str| wanted(Some(r), 100);
        assert_eq!(wanted(None, 100), Wanted::All);
        assert_eq!(w("bytes=0-9"), Wanted::Part(0..10));
        assert_eq!(w("bytes=90-"), Wanted::Part(90..100));
        assert_eq!(w("bytes=-10"), Wanted::Part(90..100));
        assert_eq!(w("bytes=-1000"), Wanted::Part(0..100));
        assert_eq!(w("bytes=50-1000"), Wanted::Part(50..100));
        assert_eq!(w("bytes=100-"), Wanted::Unsatisfiable);
        assert_eq!(w("bytes=-0"), Wanted::Unsatisfiable);
        assert_eq!(w("bytes=5-1"), Wanted::All);
        assert_eq!(w("bytes=0-1,5-6"), Wanted::All);
        assert_eq!(w("items=0-1"), Wanted::All);
        assert_eq!(w("bytes=x-y"), Wanted::All);
        assert_eq!(wanted(Some("bytes=0-"), 0), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=-5"), 0), Wanted::Unsatisfiable);
    }
}
