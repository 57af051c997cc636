//! The whiteboard over real sockets and a real database (issue 10, item 3): who may
//! draw and how the right changes live, operations stored before everyone gets them
//! in one order, bad operations refused without disturbing anyone, and the boards as
//! they were for a late joiner, after a restart (snapshot plus log) and after the
//! room's node was killed and the room re-placed.

use crate::common;

use common::cluster::Cluster;
use common::documents::{pdf, poppler, settled, upload};
use common::ws::Participant;
use common::{Api, TestNode, test_settings};
use serde_json::{Value, json};
use std::time::Duration;

fn stroke(id: &str, x: f64) -> Value {
    json!({"id": id, "tool": "pen", "color": "#1E88E5", "width": 4,
           "points": [[x, 10.0], [x + 5.0, 15.0], [x + 9.0, 12.0]]})
}

fn put(elements: Vec<Value>) -> Value {
    json!({"type": "board", "op": {"kind": "put", "board": 1, "elements": elements}})
}

/// The ids of board 1's elements in a `boards` frame, in drawing order.
fn ids(boards: &Value) -> Vec<String> {
    boards["boards"][0]["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

/// Skips frames until an `error`; its code.
async fn error_code(p: &mut Participant) -> String {
    p.expect("error").await["code"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn signed_in(node: &Api, login: &str) -> Api {
    let mut api = node.on(&node.base);
    api.login(login, &format!("{login}-password")).await;
    api
}

#[tokio::test]
async fn drawing_is_shared_in_one_order_and_the_right_changes_live() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    admin.create_people(&["una"]).await;
    let room = admin.create_room("Art", 10).await;
    let una_api = signed_in(&node.client(), "una").await;

    let mut teacher = admin.join(room).await;
    assert_eq!(
        teacher.welcome["you"]["can_draw"], true,
        "a moderator draws"
    );
    let boards = teacher.expect("boards").await;
    assert_eq!(boards["boards"][0]["name"], "Board 1");
    let mut una = una_api.join(room).await;
    assert_eq!(una.welcome["you"]["can_draw"], false);
    una.expect("boards").await;

    // Watching only: refused, and nothing reaches the teacher.
    una.send(put(vec![stroke("u-1", 0.0)])).await;
    assert_eq!(error_code(&mut una).await, "forbidden");

    teacher
        .send(json!({"type": "grant_whiteboard", "participant_id": una.id}))
        .await;
    let granted = una.expect("whiteboard").await;
    assert_eq!(
        (
            granted["participant_id"].as_str(),
            granted["can_draw"].as_bool()
        ),
        (Some(una.id.as_str()), Some(true))
    );
    assert_eq!(granted["by"], teacher.id.as_str());

    // Both draw; both get every operation, with the same numbers in the same order.
    una.send(put(vec![stroke("u-1", 0.0)])).await;
    teacher.send(put(vec![stroke("t-1", 50.0)])).await;
    let mut seen = Vec::new();
    for p in [&mut teacher, &mut una] {
        let a = p.expect("board").await;
        let b = p.expect("board").await;
        seen.push(vec![
            (
                a["seq"].as_i64().unwrap(),
                a["op"]["elements"][0]["id"].clone(),
            ),
            (
                b["seq"].as_i64().unwrap(),
                b["op"]["elements"][0]["id"].clone(),
            ),
        ]);
    }
    assert_eq!(seen[0], seen[1], "one order for everyone");
    assert!(seen[0][0].0 < seen[0][1].0);
    // Colours are normalised as stored.
    una.send(put(vec![stroke("u-2", 100.0)])).await;
    let echo = una.expect("board").await;
    assert_eq!(echo["op"]["elements"][0]["color"], "#1e88e5");
    assert_eq!(echo["by"], una.id.as_str());

    // Bad operations: each refused with a reason, the connection stays, nothing applied.
    let bad = [
        put(vec![
            json!({"id": "x", "tool": "pen", "color": "#000000", "width": 4, "points": [[1e12, 0]]}),
        ]),
        put(vec![
            json!({"id": "x", "tool": "text", "color": "#000000", "width": 1, "points": [[0, 0]], "text": "a\u{0}b", "size": 12}),
        ]),
        put(vec![
            json!({"id": "<img src=x>", "tool": "pen", "color": "#000000", "width": 4, "points": [[0, 0]]}),
        ]),
        put(vec![
            json!({"id": "x", "tool": "pen", "color": "url(javascript:1)", "width": 4, "points": [[0, 0]]}),
        ]),
        json!({"type": "board", "op": {"kind": "put", "board": 99, "elements": [stroke("x", 0.0)]}}),
        json!({"type": "board", "op": {"kind": "clear", "board": 1, "page": 7}}),
        json!({"type": "board", "op": {"kind": "remove_board", "board": 1}}),
        json!({"type": "board", "op": {"kind": "script", "board": 1}}),
        put((0..501).map(|i| stroke(&format!("m{i}"), 0.0)).collect()),
    ];
    for frame in &bad {
        una.send(frame.clone()).await;
        let code = error_code(&mut una).await;
        assert!(
            code == "bad_request" || code == "not_found",
            "{frame}: {code}"
        );
    }

    // Boards: add one (the node picks its id), rename it; a late joiner sees it all.
    teacher
        .send(json!({"type": "board", "op": {"kind": "add_board", "name": "Sketches"}}))
        .await;
    let added = una.expect("board").await;
    assert_eq!(added["op"]["board"], 2);
    una.send(json!({"type": "board", "op": {"kind": "erase", "board": 1, "ids": ["t-1"]}}))
        .await;
    una.expect("board").await;

    // The right belongs to the account while the room is live: a second window of
    // hers can draw from its welcome on.
    let mut una2 = una_api.join(room).await;
    assert_eq!(
        una2.welcome["you"]["can_draw"], true,
        "granted survives a reconnect"
    );
    una2.expect("boards").await;

    // The right withdrawn: refused again at once, in both windows.
    teacher
        .send(json!({"type": "revoke_whiteboard", "participant_id": una.id}))
        .await;
    assert_eq!(una.expect("whiteboard").await["can_draw"], false);
    una.send(put(vec![stroke("u-3", 0.0)])).await;
    assert_eq!(error_code(&mut una).await, "forbidden");
    assert_eq!(una2.expect("whiteboard").await["can_draw"], false);
    una2.send(put(vec![stroke("u-4", 0.0)])).await;
    assert_eq!(error_code(&mut una2).await, "forbidden");

    let late = admin.join(room).await;
    let mut late = late;
    let boards = late.expect("boards").await;
    assert_eq!(ids(&boards), ["u-1", "u-2"], "t-1 was erased");
    assert_eq!(boards["boards"][1]["name"], "Sketches");
    // The laser is relayed to the others only, and never stored.
    teacher
        .send(json!({"type": "board_live", "board": 1, "pointer": {"x": 5, "y": 6}}))
        .await;
    let laser = una.expect("board_live").await;
    assert_eq!(laser["pointer"], json!({"x": 5.0, "y": 6.0}));
    assert_eq!(laser["participant_id"], teacher.id.as_str());
    node.stop().await.unwrap();
}

/// More operations than a snapshot holds, then a restart: the boards come back from
/// the snapshot plus the operations after it.
#[tokio::test]
async fn boards_come_back_after_a_restart_from_snapshot_and_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = test_settings(dir.path());
    settings.frame_burst = Some(2000);
    settings.frame_per_second = Some(2000);
    let node = TestNode::start(settings.clone().resolve().unwrap()).await;
    let admin = node.admin().await;
    let room = admin.create_room("Long lesson", 10).await;
    let mut t = admin.join(room).await;
    t.expect("boards").await;
    // 520 operations: a snapshot at 500, 20 more in the log; then erase a few.
    // In rounds, reading the echoes, as a client that keeps up does.
    for round in 0..13 {
        for i in round * 40..(round + 1) * 40 {
            t.send(put(vec![stroke(&format!("s{i}"), i as f64)])).await;
        }
        for _ in 0..40 {
            t.expect("board").await;
        }
    }
    t.send(json!({"type": "board", "op": {"kind": "erase", "board": 1, "ids": ["s0", "s519"]}}))
        .await;
    assert_eq!(t.expect("board").await["seq"], 521);
    drop(t);
    node.stop().await.unwrap();
    // What is stored: a snapshot once 500 operations were applied (operations are
    // stored in batches, so at 500 or a little later), the operations after it.
    let url = format!("sqlite://{}/convene.db", dir.path().display());
    let store = convene::store::Store::open(&url).await.unwrap();
    let log = store.board_log(convene::ids::RoomId(room)).await.unwrap();
    let snapshot = log.snapshot.as_ref().expect("a snapshot").0;
    assert!((500..=521).contains(&snapshot), "snapshot at {snapshot}");
    let after: Vec<i64> = log.ops.iter().map(|o| o.0).collect();
    assert_eq!(after, ((snapshot + 1)..=521).collect::<Vec<_>>());
    drop(store);

    let node = TestNode::start(settings.resolve().unwrap()).await;
    let admin = node.admin().await;
    let mut t = admin.join(room).await;
    let boards = t.expect("boards").await;
    let expected: Vec<String> = (1..519).map(|i| format!("s{i}")).collect();
    assert_eq!(ids(&boards), expected);
    assert_eq!(boards["seq"], 521);
    // Numbering goes on after what was stored.
    t.send(put(vec![stroke("after", 0.0)])).await;
    assert_eq!(t.expect("board").await["seq"], 522);
    node.stop().await.unwrap();
}

/// The room's node killed: the room is placed on the other node, which shows the
/// boards as they were.
#[tokio::test]
async fn a_room_re_placed_after_kill_9_restores_its_boards() {
    let Some(mut cluster) = Cluster::start(2).await else {
        return;
    };
    let admin = cluster.node(1).admin().await;
    let room = admin.create_room("Resilient board", 10).await;
    let mut t = admin.join(room).await;
    t.expect("boards").await;
    t.send(put(vec![stroke("before-1", 0.0), stroke("before-2", 20.0)]))
        .await;
    t.expect("board").await;
    let host = t.welcome["server"]["id"].as_i64().unwrap();
    let survivor = cluster.nodes.iter().find(|n| n.id != host).unwrap().id;
    let admin = admin.on(&cluster.node(survivor).url.clone());
    cluster.node_mut(host).kill9();
    // What was stored is readable on the survivor at once, before the room moves.
    let stored = admin.get(&format!("/api/v1/rooms/{room}/boards")).await;
    assert_eq!(ids(&stored), ["before-1", "before-2"]);
    let boards = tokio::time::timeout(Duration::from_secs(20), async {
        let (w, mut p) = common::enter_until_welcome(&admin, room).await;
        assert_eq!(w["server"]["id"], survivor);
        p.expect("boards").await
    })
    .await
    .expect("re-placed within 20 s");
    assert_eq!(ids(&boards), ["before-1", "before-2"]);
}

/// A converted PDF put on a board: its pages become the slides, everyone gets them,
/// the presenter's page change is shared and stored; files of other rooms are refused.
#[tokio::test]
async fn a_document_becomes_the_boards_slides_and_its_page_is_followed() {
    if !poppler() {
        return;
    }
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    admin.create_people(&["vic"]).await;
    let room = admin.create_room("Slides", 10).await;
    let other = admin.create_room("Elsewhere", 10).await;
    let deck = upload(
        &admin,
        &format!("/api/v1/rooms/{room}/files"),
        "deck.pdf",
        &pdf(3, 400, 300),
    )
    .await;
    let foreign = upload(
        &admin,
        &format!("/api/v1/rooms/{other}/files"),
        "other.pdf",
        &pdf(1, 400, 300),
    )
    .await;
    let (deck, foreign) = (
        deck["id"].as_i64().unwrap(),
        foreign["id"].as_i64().unwrap(),
    );
    assert_eq!(settled(&admin, deck, 60).await["status"], "ready");
    assert_eq!(settled(&admin, foreign, 60).await["status"], "ready");

    let mut t = admin.join(room).await;
    t.expect("boards").await;
    let vic = signed_in(&node.client(), "vic").await;
    let mut v = vic.join(room).await;
    v.expect("boards").await;

    t.send(json!({"type": "board", "op": {"kind": "document", "board": 1, "file": foreign}}))
        .await;
    assert_eq!(
        error_code(&mut t).await,
        "bad_request",
        "another room's file"
    );
    t.send(json!({"type": "board", "op": {"kind": "document", "board": 1, "file": deck}}))
        .await;
    let shown = v.expect("board").await;
    assert_eq!(shown["op"]["kind"], "document");
    assert_eq!(shown["op"]["name"], "deck.pdf");
    let pages = shown["op"]["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 3);
    // The slides' size in pixels, as converted: the page's 4:3.
    let (w, h) = (
        pages[0]["width"].as_i64().unwrap(),
        pages[0]["height"].as_i64().unwrap(),
    );
    assert!((w * 3 - h * 4).abs() <= 4, "{w}x{h}");
    // The slide images are where the participant can fetch them.
    let url = pages[1]["url"].as_str().unwrap();
    let res = vic
        .http
        .get(format!("{}{url}", vic.base))
        .bearer_auth(vic.sid.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");

    t.send(json!({"type": "board", "op": {"kind": "page", "board": 1, "page": 2}}))
        .await;
    let turned = v.expect("board").await;
    assert_eq!(
        (turned["op"]["kind"].as_str(), turned["op"]["page"].as_i64()),
        (Some("page"), Some(2))
    );
    t.send(json!({"type": "board", "op": {"kind": "page", "board": 1, "page": 3}}))
        .await;
    assert_eq!(
        error_code(&mut t).await,
        "bad_request",
        "past the last page"
    );
    // Ink on slide 3 is allowed now; on slide 4 it is not.
    let mut on_three = stroke("ink-3", 10.0);
    on_three["page"] = json!(2);
    t.send(put(vec![on_three])).await;
    t.expect("board").await;

    let stored = vic.get(&format!("/api/v1/rooms/{room}/boards")).await;
    let board = &stored["boards"][0];
    assert_eq!(board["page"], 2);
    assert_eq!(board["document"]["file"], deck);
    assert_eq!(board["pages"].as_array().unwrap().len(), 3);
    assert_eq!(board["elements"][0]["page"], 2);
    node.stop().await.unwrap();
}

/// The cluster case: a file uploaded through one node is presented in a room hosted by
/// the other; its slides and the board's export come through either node.
#[tokio::test]
async fn a_file_uploaded_on_one_node_is_presented_in_a_room_hosted_by_the_other() {
    if !poppler() {
        return;
    }
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    let admin = cluster.node(1).admin().await;
    let room = admin.create_room("Shared deck", 10).await;
    let mut t = admin.join(room).await;
    t.expect("boards").await;
    let host = t.welcome["server"]["id"].as_i64().unwrap();
    let other = cluster.nodes.iter().find(|n| n.id != host).unwrap();
    let uploader = admin.on(&other.url);
    let deck = upload(
        &uploader,
        &format!("/api/v1/rooms/{room}/files"),
        "deck.pdf",
        &pdf(2, 400, 300),
    )
    .await;
    let deck = deck["id"].as_i64().unwrap();
    assert_eq!(settled(&uploader, deck, 60).await["status"], "ready");
    t.send(json!({"type": "board", "op": {"kind": "document", "board": 1, "file": deck}}))
        .await;
    let shown = t.expect("board").await;
    let pages = shown["op"]["pages"].as_array().unwrap().clone();
    assert_eq!(pages.len(), 2, "{shown}");
    t.send(put(vec![stroke("on-slide", 30.0)])).await;
    t.expect("board").await;
    for node in &cluster.nodes {
        let api = admin.on(&node.url);
        for page in &pages {
            let url = page["url"].as_str().unwrap();
            let res = api
                .http
                .get(format!("{}{url}", api.base))
                .bearer_auth(api.sid.as_deref().unwrap())
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "{url} through node {}", node.id);
        }
        let res = api
            .http
            .get(format!(
                "{}/api/v1/rooms/{room}/boards/1/export?format=pdf",
                api.base
            ))
            .bearer_auth(api.sid.as_deref().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "export through node {}", node.id);
        let body = res.bytes().await.unwrap();
        assert!(body.starts_with(b"%PDF-"));
        let pages = body.windows(10).filter(|w| w == b"/Type /Pag").count();
        assert!(
            pages >= 2,
            "two slides, two pages (through node {})",
            node.id
        );
    }
}
