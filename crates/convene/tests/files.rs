//! File areas (issue 10, item 1 and the file inputs of item 5): real nodes on port 0,
//! real multipart uploads over sockets, the bytes on a real storage (a local folder,
//! and S3 through moto), metadata in SQLite or PostgreSQL.

use crate::common;

use common::cluster::{Cluster, NodeProc};
use common::s3::{CREDENTIALS, start_moto};
use common::{Api, TestNode, eventually, test_settings};
use serde_json::{Value, json};
use std::path::Path;

const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
const PDF: &[u8] = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";

/// One part of a multipart body: `(field, Some(file name) or None, bytes)`.
type Part<'a> = (&'a str, Option<&'a [u8]>, &'a [u8]);

/// A multipart/form-data body made by hand, so that a test can send any file name.
fn multipart(parts: &[Part]) -> (String, Vec<u8>) {
    let boundary = "convene-test-boundary-7MA4YWxkTrZu0gW".to_string();
    let mut body = Vec::new();
    for (field, file, data) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        body.extend_from_slice(
            format!("Content-Disposition: form-data; name=\"{field}\"").as_bytes(),
        );
        if let Some(name) = file {
            body.extend_from_slice(b"; filename=\"");
            body.extend_from_slice(name);
            body.extend_from_slice(b"\"\r\nContent-Type: application/octet-stream");
        }
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (boundary, body)
}

async fn send_parts(api: &Api, path: &str, parts: &[Part<'_>]) -> (u16, Value) {
    let (boundary, body) = multipart(parts);
    let mut req = api
        .http
        .post(format!("{}{path}", api.base))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body);
    if let Some(sid) = &api.sid {
        req = req.bearer_auth(sid);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Uploads one file; its status and JSON.
async fn upload(api: &Api, path: &str, name: &str, data: &[u8]) -> (u16, Value) {
    send_parts(api, path, &[("file", Some(name.as_bytes()), data)]).await
}

async fn upload_ok(api: &Api, path: &str, name: &str, data: &[u8]) -> Value {
    let (status, body) = upload(api, path, name, data).await;
    assert_eq!(status, 201, "upload {name}: {body}");
    body
}

/// GET with headers; status, headers, bytes.
async fn fetch(
    api: &Api,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = api.http.get(format!("{}{path}", api.base));
    if let Some(sid) = &api.sid {
        req = req.bearer_auth(sid);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let h = res.headers().clone();
    (status, h, res.bytes().await.unwrap().to_vec())
}

fn header<'a>(h: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// Every file under `dir`, relative.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// The stored objects of the file areas (`<storage>/files/…`).
fn stored_objects(data: &Path) -> Vec<String> {
    let dir = data.join("files").join("files");
    if !dir.exists() {
        return Vec::new();
    }
    files_under(&dir)
}

/// A node on SQLite with the given file settings; the node and its data directory.
async fn node_with(
    max_file: Option<u64>,
    room_quota: Option<u64>,
    user_quota: Option<u64>,
) -> (TestNode, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path());
    settings.max_file_bytes = max_file;
    settings.room_quota_bytes = room_quota;
    settings.user_quota_bytes = user_quota;
    let node = TestNode::start(settings.resolve().unwrap()).await;
    (node, dir)
}

async fn signed_in(node: &TestNode, login: &str) -> Api {
    let mut api = node.client();
    api.login(login, &format!("{login}-password")).await;
    api
}

#[tokio::test]
async fn upload_list_rename_move_download_and_delete() {
    let (node, data) = node_with(None, None, None).await;
    let admin = node.admin().await;
    let room = admin.create_room("Class", 10).await;
    let files = format!("/api/v1/rooms/{room}/files");

    let text = b"0123456789 hello, files\n";
    let file = upload_ok(&admin, &files, "notes.txt", text).await;
    assert_eq!(file["name"], "notes.txt");
    assert_eq!(file["size"], text.len());
    assert_eq!(file["content_type"], "text/plain");
    assert_eq!(file["status"], "ready");
    assert_eq!(file["room"], room);
    let id = file["id"].as_i64().unwrap();

    // A folder, then rename and move the file into it.
    let folder = admin
        .post(
            &format!("/api/v1/rooms/{room}/folders"),
            json!({"name": "Week 1"}),
        )
        .await;
    let folder_id = folder["id"].as_i64().unwrap();
    let (status, moved) = admin
        .send(
            "PUT",
            &format!("/api/v1/files/{id}"),
            Some(json!({"name": "Notes week 1.txt", "folder": folder_id})),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["name"], "Notes week 1.txt");
    assert_eq!(moved["folder"], folder_id);
    let listing = admin.get(&files).await;
    assert_eq!(listing["files"].as_array().unwrap().len(), 1);
    assert_eq!(listing["folders"][0]["name"], "Week 1");
    assert_eq!(listing["used"], text.len());
    assert_eq!(listing["may_manage"], true);
    assert_eq!(listing["files_upload"], false);
    assert_eq!(
        admin.get(&format!("/api/v1/files/{id}")).await["folder"],
        folder_id
    );
    // Back to the top.
    let (status, top) = admin
        .send(
            "PUT",
            &format!("/api/v1/files/{id}"),
            Some(json!({"folder": null})),
        )
        .await;
    assert_eq!((status, top["folder"].clone()), (200, Value::Null));

    // The bytes, whole and in ranges.
    let url = file["url"].as_str().unwrap().to_string();
    assert_eq!(url, format!("/api/v1/rooms/{room}/files/{id}/content"));
    let (status, h, body) = fetch(&admin, &url, &[]).await;
    assert_eq!((status, body.as_slice()), (200, &text[..]));
    assert!(
        header(&h, "content-disposition").starts_with("attachment;"),
        "{h:?}"
    );
    assert!(
        header(&h, "content-disposition").contains("Notes%20week%201.txt"),
        "{h:?}"
    );
    assert_eq!(header(&h, "accept-ranges"), "bytes");
    assert_eq!(header(&h, "x-content-type-options"), "nosniff");
    let etag = header(&h, "etag").to_string();
    let (status, h, body) = fetch(&admin, &url, &[("range", "bytes=2-5")]).await;
    assert_eq!((status, body.as_slice()), (206, &b"2345"[..]));
    assert_eq!(
        header(&h, "content-range"),
        format!("bytes 2-5/{}", text.len())
    );
    let (status, _, body) = fetch(&admin, &url, &[("range", "bytes=-6")]).await;
    assert_eq!((status, body.as_slice()), (206, &b"files\n"[..]));
    let (status, h, _) = fetch(&admin, &url, &[("range", "bytes=1000-")]).await;
    assert_eq!(status, 416);
    assert_eq!(
        header(&h, "content-range"),
        format!("bytes */{}", text.len())
    );
    let (status, _, _) = fetch(&admin, &url, &[("if-none-match", &etag)]).await;
    assert_eq!(status, 304);
    // The same through the file's own address.
    let (status, _, body) = fetch(&admin, &format!("/api/v1/files/{id}/content"), &[]).await;
    assert_eq!((status, body.as_slice()), (200, &text[..]));

    // Several files in one request; into a folder given as a field.
    let folder_field = folder_id.to_string();
    let (status, many) = send_parts(
        &admin,
        &files,
        &[
            ("folder", None, folder_field.as_bytes()),
            ("file", Some(b"a.png"), PNG),
            ("file", Some(b"b.pdf"), PDF),
        ],
    )
    .await;
    assert_eq!(status, 201, "{many}");
    let many = many.as_array().unwrap();
    assert_eq!(many.len(), 2);
    assert_eq!(many[0]["content_type"], "image/png");
    assert_eq!(many[1]["content_type"], "application/pdf");
    assert!(many.iter().all(|f| f["folder"] == folder_id));
    // A PNG is shown inline.
    let (_, h, body) = fetch(&admin, many[0]["url"].as_str().unwrap(), &[]).await;
    assert_eq!(body, PNG);
    assert!(
        header(&h, "content-disposition").starts_with("inline;"),
        "{h:?}"
    );
    assert_eq!(header(&h, "content-type"), "image/png");
    // … unless asked for as a download.
    let (_, h, _) = fetch(
        &admin,
        &format!("{}?download=1", many[0]["url"].as_str().unwrap()),
        &[],
    )
    .await;
    assert!(
        header(&h, "content-disposition").starts_with("attachment;"),
        "{h:?}"
    );
    assert_eq!(stored_objects(data.path()).len(), 3);

    // Deleting the folder takes its files; deleting a file takes it; the bytes go too.
    let (status, _) = admin
        .send("DELETE", &format!("/api/v1/folders/{folder_id}"), None)
        .await;
    assert_eq!(status, 204);
    let listing = admin.get(&files).await;
    assert_eq!(listing["files"].as_array().unwrap().len(), 1, "{listing}");
    assert!(listing["folders"].as_array().unwrap().is_empty());
    let (status, _) = admin
        .send("DELETE", &format!("/api/v1/files/{id}"), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = admin
        .send("GET", &format!("/api/v1/files/{id}"), None)
        .await;
    assert_eq!(status, 404);
    let (status, _, _) = fetch(&admin, &url, &[]).await;
    assert_eq!(status, 404);
    eventually(5, || async {
        stored_objects(data.path()).is_empty().then_some(())
    })
    .await;
}

#[tokio::test]
async fn large_uploads_stream_past_the_body_limit() {
    let (node, data) = node_with(None, None, None).await;
    let admin = node.admin().await;
    // 3 MiB: three times `max_body_bytes`, in several storage parts.
    let big: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 251) as u8).collect();
    let file = upload_ok(&admin, "/api/v1/me/files", "big.bin", &big).await;
    assert_eq!(file["size"], big.len());
    assert_eq!(file["content_type"], "application/octet-stream");
    let (status, _, body) = fetch(&admin, file["url"].as_str().unwrap(), &[]).await;
    assert_eq!(status, 200);
    assert!(body == big, "the bytes come back as they went");
    let (status, _, body) = fetch(
        &admin,
        file["url"].as_str().unwrap(),
        &[("range", "bytes=2097150-2097153")],
    )
    .await;
    assert_eq!((status, body.as_slice()), (206, &big[2097150..2097154]));
    assert_eq!(stored_objects(data.path()).len(), 1);
}

#[tokio::test]
async fn who_may_do_what() {
    let (node, _data) = node_with(None, None, None).await;
    let admin = node.admin().await;
    admin.create_people(&["mona", "pat", "otto"]).await;
    let ids = admin.get("/api/v1/users").await;
    let id_of = |login: &str| {
        ids.as_array()
            .unwrap()
            .iter()
            .find(|u| u["login"] == login)
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let room = admin
        .post(
            "/api/v1/rooms",
            json!({"name": "Private class", "public": false,
                   "moderators": [id_of("mona")], "members": [id_of("pat")]}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let (mona, pat, otto) = (
        signed_in(&node, "mona").await,
        signed_in(&node, "pat").await,
        signed_in(&node, "otto").await,
    );
    let files = format!("/api/v1/rooms/{room}/files");

    // A moderator uploads; a participant may not (the room's `files_upload` is off).
    let slides = upload_ok(&mona, &files, "slides.pdf", PDF).await;
    let slides_id = slides["id"].as_i64().unwrap();
    let (status, body) = upload(&pat, &files, "mine.txt", b"hi").await;
    assert_eq!(status, 403, "{body}");
    // Everyone in the room lists and downloads.
    let listing = pat.get(&files).await;
    assert_eq!(listing["files"][0]["id"], slides_id);
    assert_eq!(listing["may_upload"], false);
    assert_eq!(listing["may_manage"], false);
    let (status, _, body) = fetch(&pat, slides["url"].as_str().unwrap(), &[]).await;
    assert_eq!((status, body.as_slice()), (200, PDF));
    // … but does not change the moderator's files.
    let path = format!("/api/v1/files/{slides_id}");
    let (status, _) = pat.send("PUT", &path, Some(json!({"name": "x.pdf"}))).await;
    assert_eq!(status, 403);
    let (status, _) = pat.send("DELETE", &path, None).await;
    assert_eq!(status, 403);
    let (status, _) = pat
        .send(
            "POST",
            &format!("/api/v1/rooms/{room}/folders"),
            Some(json!({"name": "f"})),
        )
        .await;
    assert_eq!(status, 403);
    let settings = format!("/api/v1/rooms/{room}/files/settings");
    let (status, _) = pat
        .send("PUT", &settings, Some(json!({"files_upload": true})))
        .await;
    assert_eq!(status, 403);

    // An outsider learns nothing: the room's files, a file, its bytes are all 404.
    for p in [
        files.clone(),
        path.clone(),
        format!("{path}/content"),
        slides["url"].as_str().unwrap().to_string(),
    ] {
        let (status, _) = otto.send("GET", &p, None).await;
        assert_eq!(status, 404, "GET {p}");
    }
    let (status, _) = otto.send("DELETE", &path, None).await;
    assert_eq!(status, 404);
    let (status, _) = upload(&otto, &files, "x.txt", b"x").await;
    assert_eq!(status, 404);
    // A file id of another room under this room's path: 404 as well.
    let other_room = admin.create_room("Other", 5).await;
    let elsewhere = upload_ok(
        &admin,
        &format!("/api/v1/rooms/{other_room}/files"),
        "e.txt",
        b"e",
    )
    .await;
    let (status, _) = pat
        .send(
            "GET",
            &format!("/api/v1/rooms/{room}/files/{}/content", elsewhere["id"]),
            None,
        )
        .await;
    assert_eq!(status, 404);

    // The moderator lets participants upload; they then manage what they uploaded.
    let (status, _) = mona
        .send("PUT", &settings, Some(json!({"files_upload": true})))
        .await;
    assert_eq!(status, 200);
    let mine = upload_ok(&pat, &files, "mine.txt", b"hi").await;
    let mine_path = format!("/api/v1/files/{}", mine["id"]);
    let (status, renamed) = pat
        .send("PUT", &mine_path, Some(json!({"name": "ours.txt"})))
        .await;
    assert_eq!((status, renamed["name"].as_str()), (200, Some("ours.txt")));
    let (status, _) = pat.send("DELETE", &path, None).await;
    assert_eq!(status, 403, "still not the moderator's file");
    let (status, _) = pat.send("DELETE", &mine_path, None).await;
    assert_eq!(status, 204);
    // Administrators manage any room's files.
    let (status, _) = admin
        .send("PUT", &path, Some(json!({"name": "Slides.pdf"})))
        .await;
    assert_eq!(status, 200);

    // The personal area is its owner's alone.
    let private = upload_ok(&pat, "/api/v1/me/files", "diary.txt", b"dear diary").await;
    assert_eq!(private["owner"], id_of("pat"));
    let private_path = format!("/api/v1/files/{}", private["id"]);
    for api in [&mona, &otto, &admin] {
        let (status, _) = api.send("GET", &private_path, None).await;
        assert_eq!(status, 404);
        let (status, _) = api
            .send("GET", &format!("{private_path}/content"), None)
            .await;
        assert_eq!(status, 404);
        let (status, _) = api
            .send("PUT", &private_path, Some(json!({"name": "x"})))
            .await;
        assert_eq!(status, 404);
        let (status, _) = api.send("DELETE", &private_path, None).await;
        assert_eq!(status, 404);
        let theirs = api.get("/api/v1/me/files").await;
        assert!(theirs["files"].as_array().unwrap().is_empty(), "{theirs}");
    }
    let (status, _, body) = fetch(&pat, &format!("{private_path}/content"), &[]).await;
    assert_eq!((status, body.as_slice()), (200, &b"dear diary"[..]));
    // Another area's folder cannot be used.
    let pat_folder = pat
        .post("/api/v1/me/folders", json!({"name": "Mine"}))
        .await;
    let (status, body) = send_parts(
        &mona,
        &files,
        &[
            ("folder", None, pat_folder["id"].to_string().as_bytes()),
            ("file", Some(b"x.txt"), b"x"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = mona
        .send("PUT", &path, Some(json!({"folder": pat_folder["id"]})))
        .await;
    assert_eq!(status, 400);
    let (status, _) = mona
        .send(
            "DELETE",
            &format!("/api/v1/folders/{}", pat_folder["id"]),
            None,
        )
        .await;
    assert_eq!(status, 404);
    // Signed out: 401.
    let (status, _) = node.client().send("GET", &files, None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn size_limits_and_quotas_are_clear_errors() {
    let (node, data) = node_with(Some(4096), Some(10_000), Some(5_000)).await;
    let admin = node.admin().await;
    let room = admin.create_room("Small", 5).await;
    let files = format!("/api/v1/rooms/{room}/files");
    let (status, body) = upload(&admin, &files, "big.bin", &[7u8; 5000]).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "file_too_large", "{body}");
    for i in 0..3 {
        upload_ok(&admin, &files, &format!("f{i}.bin"), &[1u8; 3000]).await;
    }
    let (status, body) = upload(&admin, &files, "f3.bin", &[1u8; 3000]).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "quota_exceeded", "{body}");
    // What still fits does.
    upload_ok(&admin, &files, "small.bin", &[1u8; 1000]).await;
    let (status, body) = upload(&admin, &files, "one-more.bin", &[1u8; 1]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("quota_exceeded"))
    );
    let listing = admin.get(&files).await;
    assert_eq!(listing["used"], 10_000);
    assert_eq!(listing["quota"], 10_000);
    assert_eq!(listing["max_file_bytes"], 4096);
    // Personal quota, apart from the room's.
    upload_ok(&admin, "/api/v1/me/files", "p1.bin", &[2u8; 3000]).await;
    let (status, body) = upload(&admin, "/api/v1/me/files", "p2.bin", &[2u8; 3000]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("quota_exceeded"))
    );
    // Several files in one request are all or nothing.
    let (status, _) = send_parts(
        &admin,
        "/api/v1/me/files",
        &[
            ("file", Some(b"ok.bin"), &[3u8; 1000]),
            ("file", Some(b"too-big.bin"), &[3u8; 4097]),
        ],
    )
    .await;
    assert_eq!(status, 413);
    assert_eq!(
        admin.get("/api/v1/me/files").await["files"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Nothing refused was kept: one object per file recorded.
    eventually(5, || async {
        (stored_objects(data.path()).len() == 5).then_some(())
    })
    .await;
}

#[tokio::test]
async fn bad_names_are_refused_and_nothing_is_written_outside() {
    let (node, data) = node_with(None, None, None).await;
    let admin = node.admin().await;
    let room = admin.create_room("Names", 5).await;
    let files = format!("/api/v1/rooms/{room}/files");
    let bad: &[&[u8]] = &[
        b"../x",
        b"../../escaped.txt",
        b"/etc/passwd",
        b"/tmp/absolute.txt",
        b"..",
        b".",
        b"a/b.txt",
        b"C:\\Windows\\evil.txt",
        b"nul\0byte.txt",
        b"bell\x07.txt",
        b"",
        b"   ",
    ];
    for name in bad {
        let (status, body) = send_parts(&admin, &files, &[("file", Some(name), b"payload")]).await;
        assert_eq!(status, 400, "{:?}: {body}", String::from_utf8_lossy(name));
    }
    let long = "x".repeat(300);
    let (status, _) = upload(&admin, &files, &long, b"payload").await;
    assert_eq!(status, 400);
    assert!(stored_objects(data.path()).is_empty());
    assert!(
        admin.get(&files).await["files"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Nothing was written anywhere but the database and the storage's own folders.
    for f in files_under(data.path()) {
        assert!(
            f.starts_with("convene.db") || f.starts_with("files/probes/"),
            "unexpected file {f}"
        );
    }
    for p in ["x", "escaped.txt", "files/x", "files/escaped.txt"] {
        assert!(!data.path().join(p).exists(), "{p}");
    }

    // Renames and folders are checked the same way.
    let ok = upload_ok(&admin, &files, "ok.txt", b"fine").await;
    let path = format!("/api/v1/files/{}", ok["id"]);
    for name in ["../y", "/abs", "a/b", "..", "x\u{0}y", "x\u{1b}[31m"] {
        let (status, _) = admin.send("PUT", &path, Some(json!({"name": name}))).await;
        assert_eq!(status, 400, "rename to {name:?}");
        let (status, _) = admin
            .send(
                "POST",
                &format!("/api/v1/rooms/{room}/folders"),
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(status, 400, "folder {name:?}");
    }
    assert_eq!(admin.get(&path).await["name"], "ok.txt");
    // A folder cannot move into itself.
    let a = admin
        .post(
            &format!("/api/v1/rooms/{room}/folders"),
            json!({"name": "A"}),
        )
        .await;
    let b = admin
        .post(
            &format!("/api/v1/rooms/{room}/folders"),
            json!({"name": "B", "parent": a["id"]}),
        )
        .await;
    let (status, _) = admin
        .send(
            "PUT",
            &format!("/api/v1/folders/{}", a["id"]),
            Some(json!({"parent": b["id"]})),
        )
        .await;
    assert_eq!(status, 400);
    // Unknown fields and a missing file are 400 too.
    let (status, _) = send_parts(&admin, &files, &[("other", None, b"x")]).await;
    assert_eq!(status, 400);
    let (status, _) = send_parts(&admin, &files, &[]).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn content_must_match_its_extension_and_markup_is_sandboxed() {
    let (node, data) = node_with(None, None, None).await;
    let admin = node.admin().await;
    let room = admin.create_room("Types", 5).await;
    let files = format!("/api/v1/rooms/{room}/files");
    for (name, content) in [
        ("photo.png", PDF),
        ("slides.pdf", &b"<html><script>alert(1)</script></html>"[..]),
        ("picture.jpg", &b"not a picture at all"[..]),
        ("notes.txt", PNG),
    ] {
        let (status, body) = upload(&admin, &files, name, content).await;
        assert_eq!(status, 415, "{name}: {body}");
        assert_eq!(body["error"]["code"], "content_mismatch");
    }
    assert!(stored_objects(data.path()).is_empty());

    let svg = b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>";
    let html = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>";
    for (name, content, kind) in [
        ("drawing.svg", &svg[..], "image/svg+xml"),
        ("page.html", &html[..], "text/html"),
        // Markup named .txt is stored as what it is.
        ("innocent.txt", &html[..], "text/html"),
    ] {
        let file = upload_ok(&admin, &files, name, content).await;
        assert_eq!(file["content_type"], kind, "{name}");
        let (status, h, body) = fetch(&admin, file["url"].as_str().unwrap(), &[]).await;
        assert_eq!((status, body.as_slice()), (200, content));
        assert!(
            header(&h, "content-disposition").starts_with("attachment;"),
            "{name}: {h:?}"
        );
        assert_eq!(header(&h, "content-security-policy"), "sandbox", "{name}");
        assert_eq!(header(&h, "x-content-type-options"), "nosniff", "{name}");
    }
    // An extension we do not know takes the sniffed type.
    let file = upload_ok(&admin, &files, "scan.unknownext", PNG).await;
    assert_eq!(file["content_type"], "image/png");
}

/// Uploads on one node, lists and downloads on the other, deletes there, and the first
/// node no longer has it.
async fn across_two_nodes(n1: &NodeProc, n2: &NodeProc, big: usize) {
    let admin1 = n1.admin().await;
    let room = admin1.create_room("Shared", 10).await;
    let files = format!("/api/v1/rooms/{room}/files");
    let content: Vec<u8> = (0..big).map(|i| (i % 253) as u8).collect();
    let file = upload_ok(&admin1, &files, "lecture.bin", &content).await;
    let pdf = upload_ok(&admin1, "/api/v1/me/files", "mine.pdf", PDF).await;

    let admin2 = n2.admin().await;
    let listing = admin2.get(&files).await;
    assert_eq!(listing["files"][0]["id"], file["id"], "{listing}");
    let url = file["url"].as_str().unwrap();
    let (status, _, body) = fetch(&admin2, url, &[]).await;
    assert_eq!(status, 200);
    assert!(body == content, "node 2 serves the bytes node 1 stored");
    let (status, _, body) = fetch(&admin2, url, &[("range", "bytes=100-199")]).await;
    assert_eq!((status, body.as_slice()), (206, &content[100..200]));
    let (status, _, body) = fetch(&admin2, pdf["url"].as_str().unwrap(), &[]).await;
    assert_eq!((status, body.as_slice()), (200, PDF));

    let (status, _) = admin2
        .send("DELETE", &format!("/api/v1/files/{}", file["id"]), None)
        .await;
    assert_eq!(status, 204);
    let (status, _, _) = fetch(&admin1, url, &[]).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_file_uploaded_on_one_node_is_served_by_another() {
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    across_two_nodes(cluster.node(1), cluster.node(2), 1 << 20).await;
    // The shared folder holds only the personal PDF now (the deleted file is purged).
    let objects = cluster.storage.path().join("files");
    eventually(10, || async {
        (files_under(&objects).len() == 1).then_some(())
    })
    .await;
}

#[tokio::test]
async fn files_on_s3_compatible_storage_across_two_nodes() {
    let Some((_moto, endpoint)) = start_moto().await else {
        return;
    };
    let Some(pg) = common::pg::server() else {
        return;
    };
    let db = pg.create_database("files_s3").await;
    let created = reqwest::Client::new()
        .put(format!("{endpoint}/convene-files"))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());
    let storage = format!("s3://convene-files/cluster?endpoint={endpoint}&region=us-east-1");
    let mut n1 = NodeProc::spawn(1, &db, Path::new(&storage), &CREDENTIALS);
    n1.wait_ready().await;
    let mut n2 = NodeProc::spawn(2, &db, Path::new(&storage), &CREDENTIALS);
    n2.wait_ready().await;
    // 12 MiB: a multipart upload of several 5 MiB parts.
    across_two_nodes(&n1, &n2, 12 << 20).await;
}
