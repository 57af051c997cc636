//! The browser UI: static files from `crates/convene/web/`, embedded in the binary.
//!
//! `index.html` is the shell of a single-page application; the API layer serves it ([`shell`]) for every
//! page path (`/login`, `/rooms`, `/room/{id}`, `/admin/…`) and the JavaScript router picks the view from
//! `location.pathname`. Everything else (ES modules, CSS, icons) lives under `/assets/` ([`asset_routes`]).
//!
//! Assets are not fingerprinted, so they are served with `Cache-Control: no-cache` and a strong `ETag`
//! (a hash computed at compile time): browsers revalidate each load and get `304 Not Modified` until the
//! binary changes, and a node upgrade never mixes old and new modules.
//!
//! To add a file: put it under `web/` and list it in [`ASSETS`]; a test fails while a file is missing.

use axum::{
    Json, Router,
    extract::Path,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::json;

/// Cache policy of `/assets/*`: always revalidate with the ETag.
const ASSET_CACHE_CONTROL: &str = "no-cache";

/// Content Security Policy of the shell: no inline script, nothing from other origins except WebSocket
/// connections (a room may live on another node) and media streams for the coming video grid.
const SHELL_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
     media-src 'self' blob: mediastream:; connect-src 'self' ws: wss:; font-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The HTML shell.
const INDEX_HTML: &str = include_str!("../../web/index.html");

/// One embedded file.
struct Asset {
    /// Path below `/assets/`, e.g. `js/app.js`.
    path: &'static str,
    body: &'static [u8],
    /// FNV-1a hash of `body`, computed at compile time; the ETag.
    hash: u64,
}

/// FNV-1a, 64 bits: a cheap content hash usable in a `const`.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

macro_rules! asset {
    ($path:literal) => {
        Asset {
            path: $path,
            body: include_bytes!(concat!("../../web/", $path)),
            hash: fnv1a(include_bytes!(concat!("../../web/", $path))),
        }
    };
}

/// Every file served under `/assets/`. Hashing them all at compile time takes more
/// steps than rustc's default budget for one constant; it is bounded by their size.
#[allow(long_running_const_eval)]
const ASSETS: &[Asset] = &[
    asset!("app.css"),
    asset!("recordings.css"),
    asset!("favicon.svg"),
    asset!("js/app.js"),
    asset!("js/api.js"),
    asset!("js/board-model.js"),
    asset!("js/devices.js"),
    asset!("js/dom.js"),
    asset!("js/i18n.js"),
    asset!("js/i18n/de.js"),
    asset!("js/i18n/de-recordings.js"),
    asset!("js/i18n/en.js"),
    asset!("js/i18n/en-recordings.js"),
    asset!("js/linkify.js"),
    asset!("js/media.js"),
    asset!("js/media-parts.js"),
    asset!("js/protocol.js"),
    asset!("js/recording.js"),
    asset!("js/closes.js"),
    asset!("js/ui.js"),
    asset!("js/upload-queue.js"),
    asset!("js/views/admin.js"),
    asset!("js/views/admin-common.js"),
    asset!("js/views/admin-connections.js"),
    asset!("js/views/admin-rooms.js"),
    asset!("js/views/admin-servers.js"),
    asset!("js/views/admin-users.js"),
    asset!("js/views/device-check.js"),
    asset!("js/views/guest.js"),
    asset!("js/views/invite.js"),
    asset!("js/views/invite-dialog.js"),
    asset!("js/views/login.js"),
    asset!("js/views/page-viewer.js"),
    asset!("js/views/my-rooms.js"),
    asset!("js/views/profile.js"),
    asset!("js/views/room.js"),
    asset!("js/views/room-board.js"),
    asset!("js/views/room-board-render.js"),
    asset!("js/views/room-board-toolbar.js"),
    asset!("js/views/room-board-tools.js"),
    asset!("js/views/room-files.js"),
    asset!("js/views/room-media.js"),
    asset!("js/views/room-lobby.js"),
    asset!("js/views/room-parts.js"),
    asset!("js/views/room-recording.js"),
    asset!("js/views/room-recordings.js"),
    asset!("js/views/rooms.js"),
];

/// The content type of a file, from its extension.
fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "html" => "text/html; charset=utf-8",
        "json" => "application/json",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// Router serving the embedded assets under /assets/{file} (js, css, svg ...) with correct content-type
/// and a Cache-Control header.
pub fn asset_routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/assets/{*path}", get(serve_asset))
}

/// The HTML shell (index.html) as a response (text/html; charset=utf-8, Cache-Control: no-store).
pub fn shell() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, SHELL_CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::X_FRAME_OPTIONS, "DENY"),
            // Room URLs may carry a single-use entry token: never send them elsewhere.
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        INDEX_HTML,
    )
        .into_response()
}

async fn serve_asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    match find(&path) {
        Some(asset) => asset_response(asset, &headers),
        None => not_found(&path),
    }
}

fn asset_response(asset: &'static Asset, request: &HeaderMap) -> Response {
    let etag = format!("\"{:016x}\"", asset.hash);
    let etag_value = HeaderValue::from_str(&etag).expect("hex ETag is a valid header value");
    let common = [
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static(ASSET_CACHE_CONTROL),
        ),
        (header::ETAG, etag_value),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
    ];
    if if_none_match(request, &etag) {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        common,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(asset.path)),
        )],
        asset.body,
    )
        .into_response()
}

/// Whether `If-None-Match` lists `etag` (or `*`); weak validators compare equal too.
fn if_none_match(request: &HeaderMap, etag: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

fn not_found(path: &str) -> Response {
    let shown: String = path.chars().take(120).collect();
    (
        StatusCode::NOT_FOUND,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({
            "error": {"code": "not_found", "message": format!("There is no asset /assets/{shown}.")}
        })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::{Body, to_bytes};
    use axum::http::{Method, Request};
    use std::collections::BTreeSet;
    use tower::ServiceExt;

    fn text(asset: &Asset) -> &'static str {
        std::str::from_utf8(asset.body).expect("text assets are UTF-8")
    }

    /// Values of `attr="/assets/…"` in the shell.
    fn shell_asset_refs() -> Vec<String> {
        let mut refs = Vec::new();
        for attr in ["src=\"/assets/", "href=\"/assets/"] {
            let mut rest = INDEX_HTML;
            while let Some(at) = rest.find(attr) {
                rest = &rest[at + attr.len()..];
                let end = rest.find('"').expect("closing quote");
                refs.push(rest[..end].to_string());
            }
        }
        refs
    }

    /// Module specifiers of `import … from '…'`, `import '…'` and `import('…')` in a JS file.
    fn js_imports(source: &str) -> Vec<String> {
        let mut out = Vec::new();
        for marker in [
            "from '",
            "from \"",
            "import '",
            "import \"",
            "import('",
            "import(\"",
        ] {
            let quote = marker.chars().last().unwrap();
            let mut rest = source;
            while let Some(at) = rest.find(marker) {
                rest = &rest[at + marker.len()..];
                let end = rest.find(quote).expect("closing quote");
                out.push(rest[..end].to_string());
            }
        }
        out
    }

    /// Resolves a relative specifier against the directory of `from` (both below /assets/).
    fn resolve(from: &str, spec: &str) -> String {
        let mut parts: Vec<&str> = from.split('/').collect();
        parts.pop();
        for seg in spec.split('/') {
            match seg {
                "." => {}
                ".." => {
                    assert!(parts.pop().is_some(), "{spec} in {from} leaves /assets/");
                }
                s => parts.push(s),
            }
        }
        parts.join("/")
    }

    async fn get(uri: &str, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, Vec<u8>) {
        request(Method::GET, uri, headers).await
    }

    async fn request(
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut req = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = asset_routes::<()>()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        (status, headers, body)
    }

    #[test]
    fn every_asset_referenced_by_the_shell_is_embedded() {
        let refs = shell_asset_refs();
        assert!(
            refs.iter().any(|r| r == "js/app.js"),
            "the shell loads js/app.js: {refs:?}"
        );
        assert!(refs.iter().any(|r| r == "app.css"));
        for r in refs {
            assert!(
                find(&r).is_some(),
                "index.html references /assets/{r}, which is not embedded"
            );
        }
    }

    #[test]
    fn every_module_import_resolves_to_an_embedded_asset() {
        for asset in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
            for spec in js_imports(text(asset)) {
                assert!(
                    spec.starts_with("./") || spec.starts_with("../"),
                    "{}: import of {spec} must be relative (no bare specifiers, no URLs)",
                    asset.path
                );
                let target = resolve(asset.path, &spec);
                assert!(
                    find(&target).is_some(),
                    "{} imports {spec} → /assets/{target}, not embedded",
                    asset.path
                );
            }
        }
    }

    #[test]
    fn absolute_asset_paths_in_scripts_are_embedded() {
        for asset in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
            let mut rest = text(asset);
            while let Some(at) = rest.find("'/assets/") {
                rest = &rest[at + "'/assets/".len()..];
                let end = rest.find('\'').unwrap();
                assert!(
                    find(&rest[..end]).is_some(),
                    "{} refers to missing /assets/{}",
                    asset.path,
                    &rest[..end]
                );
            }
        }
    }

    #[test]
    fn every_file_in_the_web_directory_is_embedded() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        let mut on_disk = BTreeSet::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let rel = path
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                if path.is_dir() {
                    // Tests of the UI live beside it but are not served.
                    if rel != "tests" {
                        stack.push(path);
                    }
                } else if rel != "index.html" && rel != "README.md" {
                    on_disk.insert(rel);
                }
            }
        }
        let embedded: BTreeSet<String> = ASSETS.iter().map(|a| a.path.to_string()).collect();
        assert_eq!(on_disk, embedded, "web/ and ASSETS differ");
    }

    #[test]
    fn asset_paths_are_unique() {
        let paths: BTreeSet<&str> = ASSETS.iter().map(|a| a.path).collect();
        assert_eq!(paths.len(), ASSETS.len());
    }

    #[test]
    fn nothing_is_loaded_from_other_origins() {
        let mut files: Vec<(&str, &str)> = ASSETS.iter().map(|a| (a.path, text(a))).collect();
        files.push(("index.html", INDEX_HTML));
        for (path, body) in files {
            let stripped = body.replace("http://www.w3.org/2000/svg", "");
            for scheme in ["http://", "https://", "//fonts.", "@import url("] {
                assert!(
                    !stripped.contains(scheme),
                    "{path} contains {scheme}: the UI must work offline"
                );
            }
        }
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("js/app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("app.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("favicon.svg"), "image/svg+xml");
        assert_eq!(content_type("data.json"), "application/json");
        assert_eq!(content_type("README"), "application/octet-stream");
        for a in ASSETS {
            assert_ne!(
                content_type(a.path),
                "application/octet-stream",
                "{} has no known type",
                a.path
            );
        }
    }

    #[test]
    fn shell_has_the_required_hooks() {
        for hook in [
            "id=\"app\"",
            "id=\"logout\"",
            "id=\"app-header\"",
            "type=\"module\"",
        ] {
            assert!(INDEX_HTML.contains(hook), "index.html lacks {hook}");
        }
        assert!(
            !INDEX_HTML.contains("<script>"),
            "no inline scripts: the CSP forbids them"
        );
    }

    #[tokio::test]
    async fn serves_a_module_with_type_and_cache_headers() {
        let (status, headers, body) = get("/assets/js/app.js", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(headers[header::CACHE_CONTROL], ASSET_CACHE_CONTROL);
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(headers.contains_key(header::ETAG));
        assert_eq!(body, find("js/app.js").unwrap().body);

        let (status, headers, _) = get("/assets/app.css", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "text/css; charset=utf-8");
        let (_, headers, _) = get("/assets/favicon.svg", &[]).await;
        assert_eq!(headers[header::CONTENT_TYPE], "image/svg+xml");
    }

    #[tokio::test]
    async fn revalidation_with_the_etag_answers_304() {
        let (_, headers, _) = get("/assets/js/protocol.js", &[]).await;
        let etag = headers[header::ETAG].to_str().unwrap().to_string();
        let (status, headers, body) =
            get("/assets/js/protocol.js", &[("if-none-match", &etag)]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        assert!(body.is_empty());
        assert_eq!(headers[header::ETAG], etag.as_str());
        let weak = format!("\"other\", W/{etag}");
        let (status, _, _) = get("/assets/js/protocol.js", &[("if-none-match", &weak)]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        let (status, _, _) = get("/assets/js/protocol.js", &[("if-none-match", "\"stale\"")]).await;
        assert_eq!(status, StatusCode::OK);
    }

    #[test]
    fn different_files_have_different_etags() {
        let tags: BTreeSet<u64> = ASSETS.iter().map(|a| a.hash).collect();
        assert_eq!(tags.len(), ASSETS.len());
    }

    #[tokio::test]
    async fn head_answers_without_a_body() {
        let (status, headers, body) = request(Method::HEAD, "/assets/app.css", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "text/css; charset=utf-8");
        assert!(body.is_empty());
    }

    #[tokio::test]
    async fn unknown_assets_are_json_404s() {
        for uri in [
            "/assets/nope.js",
            "/assets/js/../../Cargo.toml",
            "/assets/index.html",
            "/assets/js/",
        ] {
            let (status, headers, body) = get(uri, &[]).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
            assert_eq!(headers[header::CONTENT_TYPE], "application/json", "{uri}");
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(v["error"]["code"], "not_found", "{uri}");
            assert!(
                v["error"]["message"].as_str().unwrap().contains("no asset"),
                "{uri}"
            );
        }
    }

    #[tokio::test]
    async fn shell_is_uncached_html() {
        let res = shell();
        assert_eq!(res.status(), StatusCode::OK);
        let h = res.headers();
        assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
        assert!(
            h[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("script-src 'self'")
        );
        let body = to_bytes(res.into_body(), usize::MAX).await.unwrap();
        let html = std::str::from_utf8(&body).unwrap();
        assert!(html.starts_with("<!doctype html>"));
        assert!(html.contains("src=\"/assets/js/app.js\""));
    }
}
