//! The whiteboard in two headless Chromiums (issue 10, items 3–4): each draws with
//! pointer events on the board's canvas and sees the other's stroke in its own
//! canvas's pixels; a watcher without the right sees the strokes and no tools, and
//! gets the tools the moment a moderator allows drawing; a page reloaded shows
//! the boards as they were.

use crate::common;

use common::TestNode;
use common::browser::{Driver, enter_room, sign_in, wait_for};
use fantoccini::Client;
use serde_json::{Value, json};
use std::time::Duration;

/// Draws a stroke with pointer events from (x0,y0) to (x1,y1) in CSS pixels of the
/// canvas, as a mouse drag does.
const DRAG: &str = r#"
const [x0, y0, x1, y1, type] = arguments;
const canvas = document.querySelector('canvas[data-testid="board-canvas"]');
const r = canvas.getBoundingClientRect();
const at = (x, y, kind, buttons) => canvas.dispatchEvent(new PointerEvent(kind, {
  pointerId: 7, pointerType: type, isPrimary: true, bubbles: true, cancelable: true,
  clientX: r.left + x, clientY: r.top + y, button: 0, buttons }));
at(x0, y0, 'pointerdown', 1);
for (let i = 1; i <= 20; i++) at(x0 + (x1 - x0) * i / 20, y0 + (y1 - y0) * i / 20, 'pointermove', 1);
at(x1, y1, 'pointerup', 0);
return true;
"#;

/// Counts the canvas's pixels near `color` (#rrggbb) in the box (CSS pixels).
const INK: &str = r#"
const [x0, y0, x1, y1, color] = arguments;
const canvas = document.querySelector('canvas[data-testid="board-canvas"]');
const dpr = canvas.width / canvas.getBoundingClientRect().width;
const data = canvas.getContext('2d').getImageData(x0 * dpr, y0 * dpr, (x1 - x0) * dpr, (y1 - y0) * dpr).data;
const want = [1, 3, 5].map((i) => parseInt(color.slice(i, i + 2), 16));
let n = 0;
for (let i = 0; i < data.length; i += 4) {
  if (want.every((c, k) => Math.abs(data[i + k] - c) < 40) && data[i + 3] > 200) n++;
}
return n;
"#;

async fn canvas_state(c: &Client) -> Value {
    c.execute(
        "const c = document.querySelector('canvas[data-testid=\"board-canvas\"]');
         return c ? {seq: Number(c.dataset.seq || 0), pending: c.dataset.pending} : null;",
        vec![],
    )
    .await
    .unwrap()
}

/// Waits until the canvas has drawn operation `seq` and nothing of its own is in flight.
async fn drawn(c: &Client, seq: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let s = canvas_state(c).await;
        if s["seq"].as_i64().unwrap_or(0) >= seq && s["pending"].as_str().unwrap_or("0") == "0" {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "canvas at {s}, want seq {seq}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn ink(c: &Client, area: [f64; 4], color: &str) -> i64 {
    let [x0, y0, x1, y1] = area;
    c.execute(
        INK,
        vec![json!(x0), json!(y0), json!(x1), json!(y1), json!(color)],
    )
    .await
    .unwrap()
    .as_i64()
    .unwrap()
}

async fn open_board(c: &Client) {
    wait_for(c, "#toggle-whiteboard")
        .await
        .click()
        .await
        .unwrap();
    wait_for(c, "canvas[data-testid=\"board-canvas\"]").await;
    // Let the layout settle (the canvas takes the stage's size).
    tokio::time::sleep(Duration::from_millis(300)).await;
}

async fn pick(c: &Client, css: &str) {
    wait_for(c, css).await.click().await.unwrap();
}

const BLUE: &str = "#1e88e5";
const RED: &str = "#e53935";
const LEFT: [f64; 4] = [90.0, 90.0, 310.0, 210.0];
const RIGHT: [f64; 4] = [340.0, 90.0, 560.0, 210.0];

#[tokio::test]
async fn two_browsers_draw_and_each_sees_the_others_strokes() {
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    admin.create_people(&["mia", "wes"]).await;
    let room = admin.create_room("Drawing class", 10).await;
    let users = admin.get("/api/v1/users").await;
    let mia = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["login"] == "mia")
        .unwrap()["id"]
        .clone();
    admin
        .send(
            "PUT",
            &format!("/api/v1/rooms/{room}"),
            Some(json!({"moderators": [mia]})),
        )
        .await;

    let a = driver.browser().await;
    sign_in(&a, &node.url, "admin", common::ADMIN_PASSWORD).await;
    enter_room(&a, room).await;
    open_board(&a).await;
    let b = driver.browser().await;
    sign_in(&b, &node.url, "mia", "mia-password").await;
    enter_room(&b, room).await;
    open_board(&b).await;

    // The colour swatches show their colours (the page's CSP refuses style attributes).
    let swatch = a
        .execute(
            "return getComputedStyle(document.querySelector('[data-color=\"#e53935\"]')).backgroundColor;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(swatch, "rgb(229, 57, 53)");

    // A draws blue on the left; B draws red on the right.
    pick(&a, "[data-tool=pen]").await;
    pick(&a, &format!("[data-color=\"{BLUE}\"]")).await;
    a.execute(
        DRAG,
        vec![
            json!(100),
            json!(100),
            json!(300),
            json!(200),
            json!("mouse"),
        ],
    )
    .await
    .unwrap();
    drawn(&a, 1).await;
    pick(&b, "[data-tool=pen]").await;
    pick(&b, &format!("[data-color=\"{RED}\"]")).await;
    b.execute(
        DRAG,
        vec![json!(350), json!(100), json!(550), json!(200), json!("pen")],
    )
    .await
    .unwrap();
    drawn(&b, 2).await;
    drawn(&a, 2).await;

    // Each canvas shows both strokes, in the same places, and no red where blue went.
    for (who, c) in [("A", &a), ("B", &b)] {
        let blue = ink(c, LEFT, BLUE).await;
        let red = ink(c, RIGHT, RED).await;
        assert!(blue > 100, "{who}: blue stroke pixels {blue}");
        assert!(red > 100, "{who}: red stroke pixels {red}");
        assert_eq!(ink(c, LEFT, RED).await, 0, "{who}: red on the left");
    }
    let (blue_a, blue_b) = (ink(&a, LEFT, BLUE).await, ink(&b, LEFT, BLUE).await);
    let ratio = blue_a as f64 / blue_b as f64;
    assert!(
        (0.8..1.25).contains(&ratio),
        "same stroke, {blue_a} vs {blue_b} pixels"
    );

    // A watcher: sees both, has no pen until a moderator allows drawing.
    let w = driver.browser().await;
    sign_in(&w, &node.url, "wes", "wes-password").await;
    enter_room(&w, room).await;
    open_board(&w).await;
    drawn(&w, 2).await;
    assert!(
        ink(&w, LEFT, BLUE).await > 100,
        "the watcher sees A's stroke"
    );
    assert!(
        ink(&w, RIGHT, RED).await > 100,
        "the watcher sees B's stroke"
    );
    let has_pen = || async {
        w.execute(
            "const p = document.querySelector('[data-tool=pen]'); return !!p && p.offsetParent !== null;",
            vec![],
        )
        .await
        .unwrap()
        .as_bool()
        .unwrap()
    };
    assert!(!has_pen().await, "a watcher has no pen");
    wait_for(&a, "button[data-action=grant_whiteboard]").await;
    a.execute(
        "const b = [...document.querySelectorAll('button[data-action=grant_whiteboard]')];
         b.forEach((x) => x.click()); return b.length;",
        vec![],
    )
    .await
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !has_pen().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the pen appears once allowed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Left and entered again from the room list: the boards come back as they were.
    a.goto(&node.url).await.unwrap();
    enter_room(&a, room).await;
    open_board(&a).await;
    drawn(&a, 2).await;
    assert!(ink(&a, LEFT, BLUE).await > 100, "after a reload");
    for c in [a, b, w] {
        c.close().await.unwrap();
    }
}
