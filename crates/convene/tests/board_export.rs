//! Exporting the whiteboard (issue 10, item 3) through a real node: what was drawn is
//! where it was drawn in the PNG's pixels and in the PDF's (rendered back by poppler),
//! a presentation's slides are under the ink, one PDF page a slide, and bad requests
//! get a clear 4xx.

use crate::common;

use common::documents::{libreoffice, odp, poppler, settled, upload};
use common::{Api, TestNode};
use image::{Rgba, RgbaImage};
use serde_json::{Value, json};

const RED: &str = "#e53935";
const BLUE: &str = "#1e40af";

fn fonts() -> bool {
    let dejavu = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
    common::require(
        "fonts-dejavu-core",
        std::fs::metadata(dejavu)
            .map(|_| ())
            .map_err(|e| format!("{dejavu}: {e} (install fonts-dejavu-core)")),
    )
}

/// GET as the caller; status, content type, disposition and body.
async fn fetch(api: &Api, path: &str) -> (u16, String, String, Vec<u8>) {
    let mut req = api.http.get(format!("{}{path}", api.base));
    if let Some(sid) = &api.sid {
        req = req.bearer_auth(sid);
    }
    let res = req.send().await.unwrap();
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let (ctype, disposition) = (header("content-type"), header("content-disposition"));
    let status = res.status().as_u16();
    (
        status,
        ctype,
        disposition,
        res.bytes().await.unwrap().to_vec(),
    )
}

fn png(bytes: &[u8]) -> RgbaImage {
    image::load_from_memory(bytes).unwrap().to_rgba8()
}

fn is_red(p: &Rgba<u8>) -> bool {
    p[0] > 180 && p[1] < 110 && p[2] < 110
}

fn is_blue(p: &Rgba<u8>) -> bool {
    p[2] > 120 && p[0] < 90 && p[1] < 110
}

fn is_white(p: &Rgba<u8>) -> bool {
    p[0] > 240 && p[1] > 240 && p[2] > 240
}

/// Pixels in the box (x0..x1, y0..y1) that pass `test`.
fn count(
    img: &RgbaImage,
    (x0, y0, x1, y1): (u32, u32, u32, u32),
    test: fn(&Rgba<u8>) -> bool,
) -> usize {
    let mut n = 0;
    for y in y0..y1.min(img.height()) {
        for x in x0..x1.min(img.width()) {
            n += usize::from(test(img.get_pixel(x, y)));
        }
    }
    n
}

/// A PDF's pages as poppler renders them at 96 dpi (one pixel a board unit).
fn pdf_pages(pdf: &[u8]) -> Vec<RgbaImage> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("export.pdf"), pdf).unwrap();
    let out = std::process::Command::new("pdftoppm")
        .args(["-r", "96", "-png"])
        .arg(dir.path().join("export.pdf"))
        .arg(dir.path().join("page"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pdftoppm: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| png(&std::fs::read(p).unwrap()))
        .collect()
}

fn drawing(page: u32) -> Value {
    json!({"type": "board", "op": {"kind": "put", "board": 1, "elements": [
        {"id": format!("frame-{page}"), "page": page, "tool": "rect", "color": RED, "width": 8,
         "points": [[100.0, 100.0], [300.0, 200.0]]},
        {"id": format!("line-{page}"), "page": page, "tool": "pen", "color": BLUE, "width": 10,
         "points": [[400.0, 400.0], [500.0, 400.0], [600.0, 400.0]]},
        {"id": format!("word-{page}"), "page": page, "tool": "text", "color": "#111111", "width": 1,
         "points": [[100.0, 600.0]], "text": "Export <b>me</b>", "size": 48},
    ]}})
}

#[tokio::test]
async fn a_board_exports_as_png_and_pdf_with_its_drawing_where_it_was() {
    if !poppler() || !fonts() {
        return;
    }
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    admin.create_people(&["wes"]).await;
    let room = admin.create_room("Exported", 10).await;
    let mut t = admin.join(room).await;
    t.expect("boards").await;
    t.send(drawing(0)).await;
    t.expect("board").await;

    let base = format!("/api/v1/rooms/{room}/boards/1/export");
    let (status, ctype, disposition, body) = fetch(&admin, &format!("{base}?format=png")).await;
    assert_eq!(
        (status, ctype.as_str()),
        (200, "image/png"),
        "{}",
        String::from_utf8_lossy(&body[..body.len().min(400)])
    );
    assert!(disposition.starts_with("attachment"), "{disposition}");
    let img = png(&body);
    assert_eq!(
        (img.width(), img.height()),
        (1600, 900),
        "a plain board's frame"
    );
    // The rectangle's left edge is red, its inside white (a frame, not filled).
    assert!(count(&img, (96, 120, 105, 180), is_red) > 200);
    assert_eq!(count(&img, (150, 130, 250, 170), is_red), 0);
    assert!(count(&img, (150, 130, 250, 170), is_white) > 3900);
    assert!(
        count(&img, (420, 395, 580, 405), is_blue) > 1200,
        "the stroke"
    );
    // The text is drawn as text (dark glyphs), markup and all, and nothing else is there.
    let glyphs = count(&img, (100, 600, 600, 660), |p| {
        p[0] < 80 && p[1] < 80 && p[2] < 80
    });
    assert!(glyphs > 500, "{glyphs} dark pixels of text");
    assert_eq!(count(&img, (700, 0, 1600, 900), |p| !is_white(p)), 0);

    let (_, _, _, body) = fetch(&admin, &format!("{base}?format=png&scale=2")).await;
    assert_eq!(png(&body).dimensions(), (3200, 1800));

    let (status, ctype, _, body) = fetch(&admin, &format!("{base}?format=pdf")).await;
    assert_eq!((status, ctype.as_str()), (200, "application/pdf"));
    let pages = pdf_pages(&body);
    assert_eq!(pages.len(), 1);
    let page = &pages[0];
    assert_eq!(page.dimensions(), (1600, 900));
    assert!(count(page, (96, 120, 105, 180), is_red) > 200);
    assert!(count(page, (420, 395, 580, 405), is_blue) > 1200);
    let glyphs = count(page, (100, 600, 600, 660), |p| {
        p[0] < 80 && p[1] < 80 && p[2] < 80
    });
    assert!(glyphs > 500, "{glyphs} dark pixels of text in the PDF");

    // Bad requests, each with a clear answer.
    for (query, want) in [
        ("format=gif", 400),
        ("format=png&page=0", 400),
        ("format=png&page=2", 400),
        ("format=png&page=all", 400),
        ("format=png&scale=9", 400),
        ("format=pdf&page=x", 400),
    ] {
        let (status, _, _, body) = fetch(&admin, &format!("{base}?{query}")).await;
        let error: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(status, want, "{query}: {error}");
        assert!(
            error["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    let (status, ..) = fetch(&admin, &format!("/api/v1/rooms/{room}/boards/9/export")).await;
    assert_eq!(status, 404, "no such board");
    // Someone who may not see a private room gets what a missing room gets.
    admin
        .send(
            "PUT",
            &format!("/api/v1/rooms/{room}"),
            Some(json!({"public": false})),
        )
        .await;
    let mut wes = node.client();
    wes.login("wes", "wes-password").await;
    let (status, ..) = fetch(&wes, &format!("{base}?format=png")).await;
    assert_eq!(status, 404);
    let (status, ..) = fetch(&node.client(), &format!("{base}?format=png")).await;
    assert_eq!(status, 401, "signed out");
    node.stop().await.unwrap();
}

/// A presentation on the board: each slide is a PDF page with the slide under the ink.
#[tokio::test]
async fn a_presentations_slides_export_as_one_pdf_page_each_with_their_ink() {
    if !libreoffice() || !fonts() {
        return;
    }
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let room = admin.create_room("Lesson", 10).await;
    let deck = upload(
        &admin,
        &format!("/api/v1/rooms/{room}/files"),
        "lesson.odp",
        &odp(3),
    )
    .await;
    let deck = deck["id"].as_i64().unwrap();
    let file = settled(&admin, deck, 120).await;
    assert_eq!(file["status"], "ready", "{file}");
    let mut t = admin.join(room).await;
    t.expect("boards").await;
    t.send(json!({"type": "board", "op": {"kind": "document", "board": 1, "file": deck}}))
        .await;
    let shown = t.expect("board").await;
    let slides = shown["op"]["pages"].as_array().unwrap().clone();
    assert_eq!(slides.len(), 3, "a page a slide: {shown}");
    let (w, h) = (
        slides[0]["width"].as_u64().unwrap() as u32,
        slides[0]["height"].as_u64().unwrap() as u32,
    );
    assert!(w > h, "a presentation is landscape: {w}x{h}");
    t.send(drawing(1)).await;
    t.expect("board").await;

    let base = format!("/api/v1/rooms/{room}/boards/1/export");
    let (status, _, disposition, body) =
        fetch(&admin, &format!("{base}?format=pdf&page=all")).await;
    assert_eq!(status, 200);
    assert!(disposition.contains("pdf"), "{disposition}");
    let pages = pdf_pages(&body);
    assert_eq!(pages.len(), 3, "one page a slide");
    for (i, page) in pages.iter().enumerate() {
        let (pw, ph) = page.dimensions();
        assert!(
            pw.abs_diff(w) <= 2 && ph.abs_diff(h) <= 2,
            "page {i}: {pw}x{ph}, slide {w}x{h}"
        );
        // The slide's own text is under the ink on every page.
        let dark = count(page, (0, 0, pw, ph), |p| {
            p[0] < 100 && p[1] < 100 && p[2] < 100
        });
        assert!(dark > 200, "page {i} shows its slide ({dark} dark pixels)");
        let ink = count(page, (96, 120, 105, 180), is_red);
        assert_eq!(ink > 200, i == 1, "ink only on slide 2 (page {i}: {ink})");
    }
    // One slide as PNG, at the slide's size.
    let (status, _, _, body) = fetch(&admin, &format!("{base}?format=png&page=2")).await;
    assert_eq!(status, 200);
    let img = png(&body);
    assert_eq!(img.dimensions(), (w, h));
    assert!(count(&img, (96, 120, 105, 180), is_red) > 200);
    assert!(count(&img, (420, 395, 580, 405), is_blue) > 1200);
    let (_, _, _, body) = fetch(&admin, &format!("{base}?format=png&page=1")).await;
    assert_eq!(
        count(&png(&body), (96, 120, 105, 180), is_red),
        0,
        "slide 1 has no ink"
    );
    let (status, ..) = fetch(&admin, &format!("{base}?format=png&page=4")).await;
    assert_eq!(status, 400, "past the last slide");
    node.stop().await.unwrap();
}
