//! Document conversion (issue 10, item 2): real nodes, real poppler and LibreOffice
//! (skipped with a reason when missing, failing under `CONVENE_TEST_REQUIRE=all`), the
//! pages on the shared storage, one claimer per job across a PostgreSQL cluster.

use crate::common;

use common::cluster::{Cluster, NodeProc};
use common::{Api, TestNode, eventually, test_settings};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::documents::{libreoffice, odp, pdf, poppler, settled, upload};

async fn bytes(api: &Api, path: &str) -> (u16, String, Vec<u8>) {
    let res = api
        .http
        .get(format!("{}{path}", api.base))
        .bearer_auth(api.sid.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let kind = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, kind, res.bytes().await.unwrap().to_vec())
}

/// The files (not folders) below `dir`.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

fn png_size(b: &[u8]) -> (i64, i64) {
    assert!(b.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    let be = |s: &[u8]| u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as i64;
    (be(&b[16..20]), be(&b[20..24]))
}

/// A node on SQLite with `settings` changed by `tune`.
async fn node(tune: impl FnOnce(&mut convene::Settings)) -> (TestNode, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path());
    tune(&mut settings);
    (TestNode::start(settings.resolve().unwrap()).await, dir)
}

/// Every page listed is downloadable, a PNG of the listed size.
async fn check_pages(api: &Api, id: i64, count: usize) -> Vec<Value> {
    let pages = api.get(&format!("/api/v1/files/{id}/pages")).await;
    let pages = pages.as_array().unwrap().clone();
    assert_eq!(pages.len(), count, "{pages:?}");
    for (i, p) in pages.iter().enumerate() {
        assert_eq!(p["number"], i as i64 + 1);
        let (status, kind, png) = bytes(api, p["url"].as_str().unwrap()).await;
        assert_eq!((status, kind.as_str()), (200, "image/png"), "{p}");
        assert_eq!(
            png_size(&png),
            (p["width"].as_i64().unwrap(), p["height"].as_i64().unwrap())
        );
    }
    pages
}

#[tokio::test]
async fn a_pdf_becomes_one_png_per_page() {
    if !poppler() {
        return;
    }
    let (node, dir) = node(|s| s.conversion_dpi = Some(72)).await;
    let admin = node.admin().await;
    let room = admin.create_room("slides", 10).await;
    let started = Instant::now();
    let file = upload(
        &admin,
        &format!("/api/v1/rooms/{room}/files"),
        "deck.pdf",
        &pdf(3, 612, 792),
    )
    .await;
    assert_eq!(file["status"], "converting", "{file}");
    let id = file["id"].as_i64().unwrap();
    let done = settled(&admin, id, 30).await;
    eprintln!("3-page PDF converted in {:?}", started.elapsed());
    assert_eq!(done["status"], "ready", "{done}");
    let pages = check_pages(&admin, id, 3).await;
    // 8.5 × 11 inches at 72 dpi; room files' pages are at the room's URLs (guests' too).
    assert_eq!(
        (pages[0]["width"].as_i64(), pages[0]["height"].as_i64()),
        (Some(612), Some(792))
    );
    assert_eq!(
        pages[2]["url"],
        format!("/api/v1/rooms/{room}/files/{id}/pages/3")
    );
    let (status, _, png) = bytes(&admin, &format!("/api/v1/files/{id}/pages/2")).await;
    assert_eq!((status, png_size(&png)), (200, (612, 792)));
    let (status, _, _) = bytes(&admin, &format!("/api/v1/files/{id}/pages/4")).await;
    assert_eq!(status, 404);
    // Another room's id in the path is 404, as for the content.
    let (status, _, _) = bytes(
        &admin,
        &format!("/api/v1/rooms/{}/files/{id}/pages/1", room + 1),
    )
    .await;
    assert_eq!(status, 404);
    // An image is its own page; other files have none.
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x03\0\0\0\x02\x08\x06\0\0\0\x1f\x15\xc4\x89";
    let img = upload(&admin, "/api/v1/me/files", "dot.png", png).await;
    let img = settled(&admin, img["id"].as_i64().unwrap(), 10).await;
    assert_eq!(img["status"], "ready");
    let pages = admin
        .get(&format!("/api/v1/files/{}/pages", img["id"]))
        .await;
    assert_eq!(
        (pages[0]["width"].as_i64(), pages[0]["height"].as_i64()),
        (Some(3), Some(2))
    );
    let txt = upload(&admin, "/api/v1/me/files", "notes.txt", b"hello").await;
    assert_eq!(txt["status"], "ready");
    assert_eq!(
        admin
            .get(&format!("/api/v1/files/{}/pages", txt["id"]))
            .await,
        serde_json::json!([])
    );
    // Deleting the document removes its pages from the storage too.
    let pages_dir = dir.path().join("files").join("pages");
    assert_eq!(files_under(&pages_dir).len(), 3);
    let (status, _) = admin
        .send("DELETE", &format!("/api/v1/files/{id}"), None)
        .await;
    assert_eq!(status, 204);
    eventually(10, || async {
        let left = files_under(&pages_dir);
        left.is_empty().then_some(())
    })
    .await;
}

#[tokio::test]
async fn an_odp_becomes_slides() {
    if !libreoffice() {
        return;
    }
    let (node, _dir) = node(|s| s.conversion_dpi = Some(96)).await;
    let admin = node.admin().await;
    let deck = odp(2);
    let started = Instant::now();
    let file = upload(&admin, "/api/v1/me/files", "lesson.odp", &deck).await;
    assert_eq!(file["status"], "converting", "{file}");
    let id = file["id"].as_i64().unwrap();
    let done = settled(&admin, id, 60).await;
    eprintln!("2-slide .odp converted in {:?}", started.elapsed());
    assert_eq!(done["status"], "ready", "{done}");
    let pages = check_pages(&admin, id, 2).await;
    // A 16:9 slide: wider than high.
    assert!(
        pages[0]["width"].as_i64() > pages[0]["height"].as_i64(),
        "{pages:?}"
    );
}

#[tokio::test]
async fn progress_is_shown_while_converting() {
    if !poppler() {
        return;
    }
    let (node, _dir) = node(|s| s.conversion_dpi = Some(300)).await;
    let admin = node.admin().await;
    let file = upload(&admin, "/api/v1/me/files", "long.pdf", &pdf(30, 612, 792)).await;
    let id = file["id"].as_i64().unwrap();
    // Until it is ready: 409 `converting`, and at some point the count of pages done.
    let seen = eventually(60, || async {
        let (status, body) = admin
            .send("GET", &format!("/api/v1/files/{id}/pages"), None)
            .await;
        if status == 200 {
            panic!("converted before any progress was seen");
        }
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (409, Some("converting")),
            "{body}"
        );
        let done = body["pages_done"].as_i64().unwrap();
        (done > 0 && body["pages_total"] == 30).then_some(done)
    })
    .await;
    assert!(seen < 30);
    let done = settled(&admin, id, 60).await;
    assert_eq!(done["status"], "ready", "{done}");
    check_pages(&admin, id, 30).await;
}

#[tokio::test]
async fn a_corrupt_pdf_fails_with_a_reason_and_disturbs_nothing() {
    if !poppler() {
        return;
    }
    let (node, _dir) = node(|s| s.conversion_dpi = Some(36)).await;
    let admin = node.admin().await;
    let good = upload(&admin, "/api/v1/me/files", "good.pdf", &pdf(2, 200, 100)).await;
    let mut broken = pdf(2, 200, 100);
    broken.truncate(60);
    broken.extend_from_slice(&[0x42; 300]);
    let bad = upload(&admin, "/api/v1/me/files", "bad.pdf", &broken).await;
    let bad = settled(&admin, bad["id"].as_i64().unwrap(), 30).await;
    assert_eq!(bad["status"], "failed", "{bad}");
    let why = bad["error"].as_str().unwrap();
    assert!(why.contains("damaged"), "{why}");
    let (status, body) = admin
        .send("GET", &format!("/api/v1/files/{}/pages", bad["id"]), None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conversion_failed"))
    );
    // The original is still there, and the other document converted.
    let (status, _, content) = bytes(&admin, &format!("/api/v1/files/{}/content", bad["id"])).await;
    assert_eq!((status, content), (200, broken));
    let good = settled(&admin, good["id"].as_i64().unwrap(), 30).await;
    assert_eq!(good["status"], "ready", "{good}");
    check_pages(&admin, good["id"].as_i64().unwrap(), 2).await;
}

#[tokio::test]
async fn too_many_pages_fail_with_the_limit() {
    if !poppler() {
        return;
    }
    let (node, _dir) = node(|s| s.conversion_max_pages = Some(2)).await;
    let admin = node.admin().await;
    let file = upload(&admin, "/api/v1/me/files", "long.pdf", &pdf(3, 100, 100)).await;
    let file = settled(&admin, file["id"].as_i64().unwrap(), 30).await;
    assert_eq!(file["status"], "failed", "{file}");
    assert_eq!(
        file["error"],
        "the document has 3 pages; this server converts at most 2 (setting `conversion_max_pages`)"
    );
}

#[tokio::test]
async fn a_conversion_past_the_time_limit_is_stopped() {
    if !poppler() {
        return;
    }
    let (node, _dir) = node(|s| {
        s.conversion_timeout = Some(1);
        s.conversion_dpi = Some(600);
    })
    .await;
    let admin = node.admin().await;
    // 40 pages of 34 megapixels each: far more than a second's work.
    let file = upload(&admin, "/api/v1/me/files", "heavy.pdf", &pdf(40, 612, 792)).await;
    let started = Instant::now();
    let file = settled(&admin, file["id"].as_i64().unwrap(), 30).await;
    assert_eq!(file["status"], "failed", "{file}");
    assert!(
        file["error"]
            .as_str()
            .unwrap()
            .contains("longer than the limit of 1 s"),
        "{file}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    // No pdftoppm is left running.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ps = Command::new("pgrep")
        .args(["-f", "pdftoppm -png -r 600"])
        .output()
        .unwrap();
    assert!(
        ps.stdout.is_empty(),
        "left running: {}",
        String::from_utf8_lossy(&ps.stdout)
    );
}

#[tokio::test]
async fn a_stopping_node_kills_its_tools_and_gives_the_job_back() {
    if !poppler() {
        return;
    }
    let (node, dir) = node(|s| s.conversion_dpi = Some(599)).await;
    let admin = node.admin().await;
    let file = upload(&admin, "/api/v1/me/files", "heavy.pdf", &pdf(40, 612, 792)).await;
    let id = file["id"].as_i64().unwrap();
    let running = || {
        let ps = Command::new("pgrep")
            .args(["-f", "pdftoppm -png -r 599"])
            .output()
            .unwrap();
        !ps.stdout.is_empty()
    };
    eventually(20, || async { running().then_some(()) }).await;
    node.stop().await.unwrap();
    eventually(5, || async { (!running()).then_some(()) }).await;
    // The job waits for the next node to start.
    let url = format!("sqlite://{}/convene.db", dir.path().display());
    let store = convene::store::Store::open(&url).await.unwrap();
    let job = store.conversion_of(id).await.unwrap().unwrap();
    assert_eq!((job.state.as_str(), job.claimed_by), ("queued", None));
    assert_eq!(store.file(id).await.unwrap().unwrap().status, "converting");
}

#[tokio::test]
async fn a_node_without_libreoffice_converts_pdfs_and_says_what_it_cannot() {
    if !poppler() {
        return;
    }
    // A PATH with poppler only.
    let bin = tempfile::tempdir().unwrap();
    for program in ["pdftoppm", "pdfinfo", "kill"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {program}")])
            .output()
            .unwrap();
        let path = String::from_utf8_lossy(&found.stdout).trim().to_string();
        std::os::unix::fs::symlink(&path, bin.path().join(program)).unwrap();
    }
    let data = tempfile::tempdir().unwrap();
    let storage = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/db.sqlite?mode=rwc", data.path().display());
    let path = bin.path().to_str().unwrap().to_string();
    let mut n = NodeProc::spawn(1, &db, storage.path(), &[("PATH", &path)]);
    n.wait_ready().await;
    let admin = n.admin().await;
    let pdf_file = upload(&admin, "/api/v1/me/files", "a.pdf", &pdf(1, 100, 100)).await;
    let docx = upload(
        &admin,
        "/api/v1/me/files",
        "report.docx",
        b"PK\x03\x04 not really a document",
    )
    .await;
    let pdf_file = settled(&admin, pdf_file["id"].as_i64().unwrap(), 30).await;
    assert_eq!(pdf_file["status"], "ready", "{pdf_file}");
    let docx = settled(&admin, docx["id"].as_i64().unwrap(), 30).await;
    assert_eq!(docx["status"], "failed", "{docx}");
    assert_eq!(
        docx["error"],
        "this server cannot convert .docx files (LibreOffice is not installed)"
    );
    assert!(
        n.log_text().contains("soffice not found"),
        "{}",
        n.log_text()
    );
}

/// Jobs of the cluster in the database: (file, state, attempts, claimed_by).
async fn jobs(db_url: &str) -> Vec<(i64, String, i64, Option<i64>)> {
    use sqlx::{Connection, Row};
    let mut conn = sqlx::PgConnection::connect(db_url).await.unwrap();
    sqlx::query("SELECT file_id, state, attempts, claimed_by FROM conversions ORDER BY file_id")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

#[tokio::test]
async fn a_document_uploaded_on_one_node_is_converted_once_and_served_by_another() {
    if !poppler() {
        return;
    }
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    let a = cluster.node(1).admin().await;
    let b = a.on(&cluster.node(2).url);
    let room = a.create_room("class", 10).await;
    let mut ids = Vec::new();
    for i in 0..4 {
        let f = upload(
            &a,
            &format!("/api/v1/rooms/{room}/files"),
            &format!("d{i}.pdf"),
            &pdf(3, 300, 200),
        )
        .await;
        ids.push(f["id"].as_i64().unwrap());
    }
    for id in &ids {
        let done = settled(&b, *id, 60).await;
        assert_eq!(done["status"], "ready", "{done}\n{}", cluster.logs());
        check_pages(&b, *id, 3).await;
    }
    // One claim per job, and each job converted once in all the nodes' logs.
    let jobs = jobs(&cluster.db_url).await;
    assert_eq!(jobs.len(), 4);
    for (file, state, attempts, by) in &jobs {
        assert_eq!((state.as_str(), *attempts), ("done", 1), "file {file}");
        assert!(matches!(by, Some(1) | Some(2)));
    }
    let converted = cluster.logs().matches("document converted").count();
    assert_eq!(converted, 4, "{}", cluster.logs());
    assert!(Path::new(&cluster.storage.path().join("pages")).is_dir());
}

/// For `docs/benchmarks.md`: a 20-page PDF and a 20-slide presentation at the default
/// resolution (`cargo test --test suite conversions:: -- --ignored --nocapture`).
#[tokio::test]
#[ignore]
async fn conversion_timings() {
    if !libreoffice() {
        return;
    }
    let (node, _dir) = node(|_| {}).await;
    let admin = node.admin().await;
    let deck = odp(20);
    for (name, data) in [("a4.pdf", pdf(20, 595, 842)), ("deck.odp", deck)] {
        let started = Instant::now();
        let file = upload(&admin, "/api/v1/me/files", name, &data).await;
        let done = settled(&admin, file["id"].as_i64().unwrap(), 120).await;
        assert_eq!(done["status"], "ready", "{done}");
        let pages = admin
            .get(&format!("/api/v1/files/{}/pages", file["id"]))
            .await;
        eprintln!(
            "{name}: {} pages of {}x{} in {:?}",
            pages.as_array().unwrap().len(),
            pages[0]["width"],
            pages[0]["height"],
            started.elapsed()
        );
    }
}

/// Eight claimers on PostgreSQL racing for twenty jobs: each job is claimed exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_on_postgresql_take_each_job_once() {
    use convene::store::{Inserted, NewFile, Role, Scope, Store};
    let Some(pg) = common::pg::server() else {
        return;
    };
    let url = pg.create_database("claims").await;
    let store = Store::open(&url).await.unwrap();
    let owner = store
        .create_user("claimer", "x", Role::User, "C")
        .await
        .unwrap()
        .unwrap()
        .id;
    for i in 0..20 {
        let new = NewFile {
            scope: Scope::User(owner),
            folder: None,
            name: format!("{i}.pdf"),
            size: 1,
            content_type: "application/pdf".into(),
            storage_key: format!("files/{i}"),
            sha256: "00".into(),
            created_by: owner,
        };
        let Inserted::File(f) = store.insert_file(&new, 0).await.unwrap() else {
            panic!("inserted");
        };
        store.queue_conversion(f.id, "pdf").await.unwrap().unwrap();
    }
    let claimers: Vec<_> = (1..=8)
        .map(|node| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(c) = store.claim_conversion(node, 60_000, true, 0).await.unwrap() {
                    mine.push(c.file_id);
                }
                mine
            })
        })
        .collect();
    let mut all = Vec::new();
    for c in claimers {
        all.extend(c.await.unwrap());
    }
    all.sort();
    let before = all.len();
    all.dedup();
    assert_eq!((before, all.len()), (20, 20), "{all:?}");
}

/// The node converting a document is killed (`kill -9`): its claim lapses and the other
/// node converts the document; the dead claim's count fences it.
#[tokio::test]
async fn a_job_whose_node_died_is_converted_by_another() {
    if !poppler() {
        return;
    }
    let Some(mut cluster) = Cluster::start(0).await else {
        return;
    };
    let env = [("CONVENE_CONVERSION_DPI", "300")];
    cluster.add_node(1, &env).await;
    cluster.add_node(2, &env).await;
    let a = cluster.node(1).admin().await;
    let file = upload(&a, "/api/v1/me/files", "long.pdf", &pdf(30, 612, 792)).await;
    let id = file["id"].as_i64().unwrap();
    let db = cluster.db_url.clone();
    let claimer = eventually(30, || async {
        jobs(&db)
            .await
            .into_iter()
            .find(|j| j.0 == id && j.1 == "running")
            .and_then(|j| j.3)
    })
    .await;
    cluster.node_mut(claimer).kill9();
    let other = 3 - claimer;
    let api = a.on(&cluster.node(other).url);
    let started = Instant::now();
    let done = settled(&api, id, 150).await;
    eprintln!("taken over and converted in {:?}", started.elapsed());
    assert_eq!(done["status"], "ready", "{done}\n{}", cluster.logs());
    check_pages(&api, id, 30).await;
    let job = jobs(&db).await.into_iter().find(|j| j.0 == id).unwrap();
    assert_eq!(
        (job.1.as_str(), job.2, job.3),
        ("done", 2, Some(other)),
        "{job:?}"
    );
}

fn picture(bytes: &[u8]) -> image::RgbaImage {
    image::load_from_memory(bytes).unwrap().to_rgba8()
}

/// A document's and an image's first page made small, listed and served; none for
/// other files; gone from the storage with the file.
#[tokio::test]
async fn documents_and_images_get_a_thumbnail_of_their_first_page() {
    if !poppler() {
        return;
    }
    let (node, dir) = node(|s| s.conversion_dpi = Some(72)).await;
    let admin = node.admin().await;
    let room = admin.create_room("thumbs", 10).await;
    let file = upload(
        &admin,
        &format!("/api/v1/rooms/{room}/files"),
        "deck.pdf",
        &pdf(3, 612, 792),
    )
    .await;
    assert_eq!(file["thumbnail_url"], Value::Null, "none while converting");
    let id = file["id"].as_i64().unwrap();
    let done = settled(&admin, id, 30).await;
    assert_eq!(done["pages"], 3, "{done}");
    let url = format!("/api/v1/rooms/{room}/files/{id}/thumbnail");
    assert_eq!(done["thumbnail_url"], url.as_str());
    let listed = admin.get(&format!("/api/v1/rooms/{room}/files")).await;
    assert_eq!(listed["files"][0]["thumbnail_url"], url.as_str());
    let (status, kind, png) = bytes(&admin, &url).await;
    assert_eq!((status, kind.as_str()), (200, "image/png"));
    let thumb = picture(&png);
    // 612 × 792 points made 256 high, its shape kept.
    assert_eq!(thumb.dimensions(), (198, 256));
    // The page's blue square (50 points at 10, 10 from the bottom left) is in it.
    let blue = (0..40)
        .flat_map(|x| (200..256).map(move |y| (x, y)))
        .filter(|&(x, y)| {
            let p = thumb.get_pixel(x, y);
            p[2] > 150 && p[0] < 100 && p[1] < 100
        })
        .count();
    assert!(blue > 100, "{blue} blue pixels of the first page");
    let (status, _, again) = bytes(&admin, &format!("/api/v1/files/{id}/thumbnail")).await;
    assert_eq!(
        (status, again),
        (200, png),
        "the same by the file's own URL"
    );

    // An image's thumbnail is the image made small.
    let mut wide = std::io::Cursor::new(Vec::new());
    image::RgbImage::from_pixel(1200, 600, image::Rgb([200, 30, 30]))
        .write_to(&mut wide, image::ImageFormat::Png)
        .unwrap();
    let img = upload(&admin, "/api/v1/me/files", "wide.png", wide.get_ref()).await;
    let img = settled(&admin, img["id"].as_i64().unwrap(), 10).await;
    let url = img["thumbnail_url"].as_str().unwrap().to_string();
    assert_eq!(url, format!("/api/v1/files/{}/thumbnail", img["id"]));
    let (_, _, png) = bytes(&admin, &url).await;
    let thumb = picture(&png);
    assert_eq!(thumb.dimensions(), (256, 128));
    assert_eq!(thumb.get_pixel(128, 64)[0], 200);

    // A file that is no document has none.
    let txt = upload(&admin, "/api/v1/me/files", "notes.txt", b"hello").await;
    assert_eq!(txt["thumbnail_url"], Value::Null);
    assert_eq!(txt["pages"], Value::Null);
    let (status, _, _) = bytes(&admin, &format!("/api/v1/files/{}/thumbnail", txt["id"])).await;
    assert_eq!(status, 404);

    let thumbs = dir.path().join("files").join("thumbs");
    assert_eq!(files_under(&thumbs).len(), 2);
    let (status, _) = admin
        .send("DELETE", &format!("/api/v1/files/{id}"), None)
        .await;
    assert_eq!(status, 204);
    eventually(10, || async {
        (files_under(&thumbs).len() == 1).then_some(())
    })
    .await;
}

/// The converters run under `conversion_memory_limit`: a presentation that converts
/// under the default fails under a limit too small, and the reason names the setting.
#[tokio::test]
async fn converters_run_under_the_memory_limit() {
    if !libreoffice() {
        return;
    }
    let (node, _dir) = node(|s| s.conversion_memory_limit = Some(64)).await;
    let admin = node.admin().await;
    let file = upload(&admin, "/api/v1/me/files", "big.odp", &odp(1)).await;
    let done = settled(&admin, file["id"].as_i64().unwrap(), 60).await;
    assert_eq!(done["status"], "failed", "{done}");
    let why = done["error"].as_str().unwrap();
    assert!(
        why.contains("64 MiB") && why.contains("`conversion_memory_limit`"),
        "{why}"
    );
    // The node is fine, and converts what fits: a PDF.
    let small = upload(&admin, "/api/v1/me/files", "small.pdf", &pdf(1, 200, 200)).await;
    let small = settled(&admin, small["id"].as_i64().unwrap(), 30).await;
    assert_eq!(small["status"], "ready", "{small}");
    node.stop().await.unwrap();
}
