//! Live rooms end to end: real WebSocket clients on a real node.

use crate::common;

use common::ws::Participant;
use common::{TestNode, eventually};
use convene::Settings;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

/// A node, an admin, two users with sessions, and a public room.
async fn setup(capacity: i64) -> (TestNode, common::Api, common::Api, common::Api, i64) {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    admin.create_user("ann", "ann-password", "user").await;
    admin.create_user("ben", "ben-password", "user").await;
    let room = admin.create_room("Physics", capacity).await;
    let mut ann = node.client();
    ann.login("ann", "ann-password").await;
    let mut ben = node.client();
    ben.login("ben", "ben-password").await;
    (node, admin, ann, ben, room)
}

#[tokio::test]
async fn two_participants_see_each_other_and_chat() {
    let (node, admin, ann, ben, room) = setup(10).await;
    let enter = ann
        .post(&format!("/api/v1/rooms/{room}/enter"), json!({}))
        .await;
    assert_eq!(enter["server"]["id"], 1);
    assert_eq!(enter["server"]["url"], node.url);
    assert!(
        enter["ws_url"]
            .as_str()
            .unwrap()
            .starts_with("ws://localhost:")
    );
    assert!(
        enter["room_url"]
            .as_str()
            .unwrap()
            .contains(&format!("/room/{room}?token="))
    );

    let mut a = Participant::connect(enter["ws_url"].as_str().unwrap()).await;
    let welcome = a.expect("welcome").await;
    assert_eq!(welcome["you"]["user"]["login"], "ann");
    assert_eq!(welcome["participants"].as_array().unwrap().len(), 1);
    assert_eq!(welcome["room"]["name"], "Physics");
    a.id = welcome["you"]["id"].as_str().unwrap().to_string();

    // The room list counts ann before ben enters.
    let rooms = ben.get("/api/v1/rooms").await;
    assert_eq!(rooms[0]["participants"], 1);

    let mut b = ben.join(room).await;
    let logins: Vec<_> = b.welcome["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["user"]["login"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(logins, ["ann", "ben"]);
    let joined = a.expect("joined").await;
    assert_eq!(joined["participant"]["user"]["login"], "ben");

    b.send(json!({"type": "chat", "text": "  Hello, Ann!  "}))
        .await;
    let msg = a.expect("chat").await;
    assert_eq!(msg["message"]["text"], "Hello, Ann!");
    assert_eq!(msg["message"]["user"]["login"], "ben");
    assert_eq!(msg["message"]["participant_id"], b.id.as_str());
    assert!(msg["message"]["sent_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        b.expect("chat").await["message"]["text"],
        "Hello, Ann!",
        "echoed to the sender"
    );

    // Connections: both rows, with this node as their server; counts in the room list.
    let conns = admin.get("/api/v1/connections").await;
    assert_eq!(conns.as_array().unwrap().len(), 2);
    for c in conns.as_array().unwrap() {
        assert_eq!(
            (c["server"]["id"].as_i64(), c["room_id"].as_i64()),
            (Some(1), Some(room))
        );
        assert_eq!(c["remote_addr"], "127.0.0.1");
    }
    assert_eq!(
        ann.get(&format!("/api/v1/rooms/{room}/participants"))
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(ann.get("/api/v1/rooms").await[0]["participants"], 2);

    // A third participant gets the history on joining.
    admin
        .post(&format!("/api/v1/rooms/{room}/enter"), json!({}))
        .await;
    let c = admin.join(room).await;
    let history = c.welcome["history"].as_array().unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["text"], "Hello, Ann!");

    // Leaving removes the row and tells the others.
    b.socket.close(None).await.unwrap();
    let left = a.expect("left").await;
    assert_eq!(
        (left["participant_id"].as_str(), left["reason"].as_str()),
        (Some(b.id.as_str()), Some("left"))
    );
    eventually(5, || async {
        (admin
            .get("/api/v1/connections")
            .await
            .as_array()
            .unwrap()
            .len()
            == 2)
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn entry_tokens_are_single_use() {
    let (_node, _admin, ann, _ben, room) = setup(10).await;
    let enter = ann
        .post(&format!("/api/v1/rooms/{room}/enter"), json!({}))
        .await;
    let url = enter["ws_url"].as_str().unwrap();
    let mut first = Participant::connect(url).await;
    first.expect("welcome").await;
    let mut replay = Participant::connect(url).await;
    let closed = replay.expect_close().await;
    assert_eq!(closed.code, 4401);
    assert!(closed.reason.contains("already used"), "{closed:?}");
    let base = url.split('?').next().unwrap();
    let mut forged = Participant::connect(&format!(
        "{base}?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    ))
    .await;
    assert_eq!(forged.expect_close().await.code, 4401);
    let mut none = Participant::connect(base).await;
    assert_eq!(none.expect_close().await.code, 4401);
}

#[tokio::test]
async fn hands_and_moderation() {
    let (_node, admin, ann, ben, room) = setup(10).await;
    let mut a = ann.join(room).await;
    let mut b = ben.join(room).await;
    let mut m = admin.join(room).await;
    assert_eq!(
        m.welcome["you"]["moderator"], true,
        "admins moderate every room"
    );
    assert_eq!(a.welcome["you"]["moderator"], false);

    // Raising a hand is seen by everyone.
    b.send(json!({"type": "hand", "raised": true})).await;
    assert_eq!(b.expect("hand").await["raised"], true);
    let hand = a.expect("hand").await;
    assert_eq!(
        (hand["participant_id"].as_str(), hand["raised"].as_bool()),
        (Some(b.id.as_str()), Some(true))
    );

    // A participant may not moderate.
    a.send(json!({"type": "kick", "participant_id": b.id}))
        .await;
    let err = a.expect("error").await;
    assert_eq!(err["code"], "forbidden");

    // A moderator lowers hands, asks to mute, grants moderator rights.
    m.send(json!({"type": "lower_hand", "participant_id": b.id}))
        .await;
    assert_eq!(b.expect("hand").await["raised"], false);
    m.send(json!({"type": "ask_mute", "participant_id": a.id}))
        .await;
    let ask = a.expect("mute_requested").await;
    assert_eq!(ask["by"]["user"]["login"], "admin");
    m.send(json!({"type": "grant_moderator", "participant_id": a.id}))
        .await;
    let granted = b.expect("moderator").await;
    assert_eq!(
        (
            granted["participant_id"].as_str(),
            granted["moderator"].as_bool()
        ),
        (Some(a.id.as_str()), Some(true))
    );

    // The new moderator kicks ben, whose connection closes with 4001.
    a.send(json!({"type": "kick", "participant_id": b.id}))
        .await;
    let closed = b.expect_close().await;
    assert_eq!(closed.code, 4001);
    let left = m.expect("left").await;
    assert_eq!(left["reason"], "kicked");

    // Revoked, ann can no longer kick.
    m.send(json!({"type": "revoke_moderator", "participant_id": a.id}))
        .await;
    a.expect("moderator").await;
    a.send(json!({"type": "kick", "participant_id": m.id}))
        .await;
    assert_eq!(a.expect("error").await["code"], "forbidden");
    // An admin's moderator right cannot be revoked.
    m.send(json!({"type": "grant_moderator", "participant_id": a.id}))
        .await;
    a.expect("moderator").await;
    a.send(json!({"type": "revoke_moderator", "participant_id": m.id}))
        .await;
    assert_eq!(a.expect("error").await["code"], "forbidden");
}

#[tokio::test]
async fn capacity_is_enforced() {
    let (_node, _admin, ann, ben, room) = setup(1).await;
    let _a = ann.join(room).await;
    let enter = ben
        .post(&format!("/api/v1/rooms/{room}/enter"), json!({}))
        .await;
    let mut b = Participant::connect(enter["ws_url"].as_str().unwrap()).await;
    let closed = b.expect_close().await;
    assert_eq!(
        (closed.code, closed.reason.as_str()),
        (4009, "the room is full")
    );
}

#[tokio::test]
async fn malformed_frames_get_errors_then_a_close() {
    let (_node, _admin, ann, _ben, room) = setup(10).await;
    let mut a = ann.join(room).await;
    a.send_raw(Message::Text("{not json".into())).await;
    assert_eq!(a.expect("error").await["code"], "bad_request");
    a.send(json!({"type": "chat"})).await;
    assert_eq!(a.expect("error").await["code"], "bad_request");
    a.send(json!({"type": "chat", "text": "x".repeat(2001)}))
        .await;
    let err = a.expect("error").await;
    assert!(err["message"].as_str().unwrap().contains("2000"));
    a.send(json!({"type": "ping", "nonce": "n1"})).await;
    assert_eq!(a.expect("pong").await["nonce"], "n1");
    a.send_raw(Message::Binary(vec![1, 2, 3].into())).await;
    assert_eq!(a.expect_close().await.code, 1008);

    let mut b = ann.join(room).await;
    b.send_raw(Message::Text("x".repeat(70_000).into())).await;
    assert_eq!(b.expect_close().await.code, 1009);
}

/// The attack of issue 9: ~400 chat messages of 2 KB from one participant at once.
#[tokio::test]
async fn a_chat_flood_is_refused_then_closed_and_the_others_are_unharmed() {
    use futures_util::SinkExt;
    let (_node, _admin, ann, ben, room) = setup(10).await;
    let mut a = ann.join(room).await;
    let mut b = ben.join(room).await;
    a.expect("joined").await;
    let text = "x".repeat(1990);
    for i in 0..400 {
        let frame = json!({"type": "chat", "text": format!("{i:03} {text}")});
        if a.socket
            .send(Message::Text(frame.to_string().into()))
            .await
            .is_err()
        {
            break;
        }
    }
    // The flooder: a few echoes, `rate_limited` errors, then 1008 with a reason.
    let mut limited = 0;
    let closed = loop {
        match a.next().await {
            Ok(v) if v["type"] == "error" => {
                assert_eq!(v["code"], "rate_limited", "{v}");
                limited += 1;
            }
            Ok(_) => {}
            Err(closed) => break closed,
        }
    };
    assert_eq!(closed.code, 1008, "{closed:?}");
    assert!(closed.reason.contains("too fast"), "{closed:?}");
    assert!((20..=40).contains(&limited), "{limited} refusals");

    // The other: only the burst's messages, and the flooder leaving.
    let mut from_ann = 0;
    let mut left = None;
    b.send(json!({"type": "chat", "text": "still here"})).await;
    loop {
        let v = b.next().await.expect("ben stays connected");
        match v["type"].as_str() {
            Some("chat") if v["message"]["text"] == "still here" => break,
            Some("chat") => from_ann += 1,
            Some("left") => left = Some(v),
            _ => {}
        }
    }
    assert!(
        (10..=12).contains(&from_ann),
        "{from_ann} of ann's messages"
    );
    let left = match left {
        Some(left) => left,
        None => b.expect("left").await,
    };
    assert_eq!(
        (left["participant_id"].as_str(), left["reason"].as_str()),
        (Some(a.id.as_str()), Some("error"))
    );
    // The flooder may enter again, with a fresh budget.
    let mut again = ann.join(room).await;
    again.send(json!({"type": "chat", "text": "sorry"})).await;
    assert_eq!(again.expect("chat").await["message"]["text"], "sorry");
}

#[tokio::test]
async fn admin_kicks_through_the_api_and_closes_deleted_rooms_and_users() {
    let (_node, admin, ann, ben, room) = setup(10).await;
    let mut a = ann.join(room).await;
    let mut b = ben.join(room).await;
    assert_eq!(
        admin
            .send("DELETE", &format!("/api/v1/connections/{}", a.id), None)
            .await
            .0,
        204
    );
    assert_eq!(a.expect_close().await.code, 4001);
    assert_eq!(b.expect("left").await["participant_id"], a.id.as_str());
    assert_eq!(
        admin
            .get("/api/v1/connections")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        admin
            .send("DELETE", "/api/v1/connections/abcdef", None)
            .await
            .0,
        404
    );
    assert_eq!(
        admin
            .send("DELETE", "/api/v1/connections/'%20OR%201=1", None)
            .await
            .0,
        404
    );

    // Disabling ben closes his connection.
    let ben_id = b.welcome["you"]["user"]["id"].as_i64().unwrap();
    admin
        .send(
            "PUT",
            &format!("/api/v1/users/{ben_id}"),
            Some(json!({"enabled": false})),
        )
        .await;
    let closed = b.expect_close().await;
    assert_eq!(
        (closed.code, closed.reason.as_str()),
        (4003, "your account was disabled")
    );

    // Deleting the room closes everyone in it.
    let mut a = ann.join(room).await;
    assert_eq!(
        admin
            .send("DELETE", &format!("/api/v1/rooms/{room}"), None)
            .await
            .0,
        204
    );
    assert_eq!(a.expect_close().await.code, 4003);
    assert!(
        admin
            .get("/api/v1/connections")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn room_edits_reach_live_participants() {
    let (_node, admin, ann, _ben, room) = setup(10).await;
    let mut a = ann.join(room).await;
    admin
        .send(
            "PUT",
            &format!("/api/v1/rooms/{room}"),
            Some(json!({"name": "Physics 2", "capacity": 30})),
        )
        .await;
    let updated = a.expect("room_updated").await;
    assert_eq!(
        (
            updated["room"]["name"].as_str(),
            updated["room"]["capacity"].as_i64()
        ),
        (Some("Physics 2"), Some(30))
    );
}

#[tokio::test]
async fn a_silent_connection_times_out_and_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let config = Settings {
        ws_ping_interval: Some(1),
        ws_timeout: Some(2),
        ..common::test_settings(dir.path())
    }
    .resolve()
    .unwrap();
    let node = TestNode::start(config).await;
    let admin = node.admin().await;
    let room = admin.create_room("Quiet", 5).await;
    let mut watcher = admin.join(room).await;
    // This client never reads again, so it never answers the server's pings.
    let silent = admin.join(room).await;
    watcher.expect("joined").await;
    // The watcher keeps reading (and so answering pings); the silent one is dropped.
    let left = watcher.expect("left").await;
    assert_eq!(
        (left["participant_id"].as_str(), left["reason"].as_str()),
        (Some(silent.id.as_str()), Some("timeout"))
    );
    // Its connection row goes as its task ends, just after the room let it go.
    eventually(5, || async {
        let rows = admin.get("/api/v1/connections").await;
        (rows.as_array().unwrap().len() == 1).then_some(())
    })
    .await;
    drop(silent);
}

#[tokio::test]
async fn graceful_shutdown_tells_clients_and_removes_rows() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::test_settings(dir.path()).resolve().unwrap();
    let db = config.database_url.clone();
    let node = TestNode::start(config).await;
    let admin = node.admin().await;
    let room = admin.create_room("Last lesson", 5).await;
    let mut p = admin.join(room).await;
    let stopping = std::time::Instant::now();
    let stop = tokio::spawn(node.stop());
    let closed = p.expect_close().await;
    assert_eq!(closed.code, 1001);
    assert!(closed.reason.contains("shutting down"));
    stop.await.unwrap().unwrap();
    // Rooms end with their last participant instead of waiting out the drain timeout (10 s).
    assert!(
        stopping.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        stopping.elapsed()
    );
    let store = convene::store::Store::open(&db).await.unwrap();
    assert!(store.list_connections().await.unwrap().is_empty());
    let servers = store.list_servers().await.unwrap();
    assert_eq!(
        servers[0].heartbeat_age_ms, None,
        "the node is marked stopped"
    );
}

/// The same live flow with PostgreSQL as the database.
#[tokio::test]
async fn live_room_on_postgres() {
    let Some(pg) = common::pg::server() else {
        return;
    };
    let url = pg.create_database("live").await;
    let dir = tempfile::tempdir().unwrap();
    let config = Settings {
        database_url: Some(url),
        ..common::test_settings(dir.path())
    }
    .resolve()
    .unwrap();
    let node = TestNode::start(config).await;
    let admin = node.admin().await;
    admin.create_user("ann", "ann-password", "user").await;
    let room = admin.create_room("Chemistry", 10).await;
    let mut ann = node.client();
    ann.login("ann", "ann-password").await;
    let mut a = ann.join(room).await;
    let mut m = admin.join(room).await;
    assert_eq!(
        a.expect("joined").await["participant"]["user"]["login"],
        "admin"
    );
    m.send(json!({"type": "chat", "text": "on postgres"})).await;
    assert_eq!(a.expect("chat").await["message"]["text"], "on postgres");
    assert_eq!(ann.get("/api/v1/rooms").await[0]["participants"], 2);
    let conns = admin.get("/api/v1/connections").await;
    assert_eq!(conns.as_array().unwrap().len(), 2);
    assert_eq!(
        admin
            .send("DELETE", &format!("/api/v1/connections/{}", a.id), None)
            .await
            .0,
        204
    );
    assert_eq!(a.expect_close().await.code, 4001);
    node.stop().await.unwrap();
}

/// An empty room is released after the grace period: its node no longer counts it.
#[tokio::test]
async fn an_empty_room_is_released_after_the_grace_period() {
    let (_node, admin, ann, _ben, room) = setup(10).await;
    let mut a = ann.join(room).await;
    let rooms_hosted = || async {
        admin.get("/api/v1/servers").await[0]["rooms"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(rooms_hosted().await, 1);
    a.socket.close(None).await.unwrap();
    // The test nodes' grace is 1 s; the room goes shortly after.
    common::eventually(10, || async { (rooms_hosted().await == 0).then_some(()) }).await;
}
