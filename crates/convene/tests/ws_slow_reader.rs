//! A participant that stops reading its WebSocket is closed within `ws_timeout`: its
//! TCP connection shut, its row gone, the others told; a reading participant still
//! gets every frame in order, and a clean close when kicked.

use crate::common;

use common::{Api, TestNode, eventually};
use convene::Settings;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const WS_TIMEOUT: u64 = 3;

async fn node() -> (TestNode, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = Settings {
        ws_ping_interval: Some(1),
        ws_timeout: Some(WS_TIMEOUT),
        // These tests flood the chat on purpose: no rate limit in the way.
        chat_burst: Some(100_000),
        chat_per_second: Some(100_000),
        ..common::test_settings(dir.path())
    }
    .resolve()
    .unwrap();
    (TestNode::start(config).await, dir)
}

fn connection_ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_str().map(str::to_string))
        .collect()
}

async fn room_count(api: &Api, room: i64) -> i64 {
    let rooms = api.get("/api/v1/rooms").await;
    rooms
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == room)
        .and_then(|r| r["participants"].as_i64())
        .unwrap()
}

#[tokio::test]
async fn a_participant_that_stops_reading_is_closed_and_removed() {
    let (node, _dir) = node().await;
    let admin = node.admin().await;
    let room = admin.create_room("Flood", 10).await;

    // The slow participant: a receive buffer of a few KiB, then never read again.
    let enter = admin
        .post(&format!("/api/v1/rooms/{room}/enter"), json!({}))
        .await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(node.addr).await.unwrap();
    let (mut slow, _) = tokio_tungstenite::client_async(enter["ws_url"].as_str().unwrap(), tcp)
        .await
        .unwrap();
    let slow_id = loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), slow.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v["type"] == "welcome" {
                break v["you"]["id"].as_str().unwrap().to_string();
            }
        }
    };
    let (mut slow_tx, mut slow_rx) = slow.split();
    // It keeps talking (so the server never times it out for silence), but never reads.
    let keepalive = tokio::spawn(async move {
        loop {
            if slow_tx
                .send(Message::Ping(Vec::new().into()))
                .await
                .is_err()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });

    // The flooder reads everything it gets, and watches for the slow one's `left`.
    let flooder = admin.join(room).await;
    let (mut flood_tx, mut flood_rx) = flooder.socket.split();
    let echoed = Arc::new(AtomicUsize::new(0));
    let (left_tx, mut left) = mpsc::unbounded_channel::<Value>();
    let reading = {
        let echoed = echoed.clone();
        tokio::spawn(async move {
            while let Some(Ok(msg)) = flood_rx.next().await {
                let Message::Text(t) = msg else { continue };
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                match v["type"].as_str() {
                    Some("chat") => {
                        echoed.fetch_add(1, Ordering::Relaxed);
                    }
                    Some("left") => {
                        let _ = left_tx.send(v);
                    }
                    _ => {}
                }
            }
        })
    };
    assert_eq!(room_count(&admin, room).await, 2);

    let text = "x".repeat(1900);
    let started = tokio::time::Instant::now();
    let mut sent = 0usize;
    let left = loop {
        if let Ok(v) = left.try_recv() {
            break v;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no `left` for the slow participant after {sent} chat messages"
        );
        // A few messages in flight at most, so the flooder itself is never too slow.
        if sent - echoed.load(Ordering::Relaxed) < 32 {
            let frame = json!({"type": "chat", "text": format!("{sent} {text}")});
            flood_tx
                .send(Message::Text(frame.to_string().into()))
                .await
                .unwrap();
            sent += 1;
        } else {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    let left_at = tokio::time::Instant::now();
    assert_eq!(left["participant_id"], slow_id.as_str(), "{left}");
    assert_eq!(left["reason"], "slow", "{left}");

    // Within the write deadline (and a margin for a busy machine), the row is gone
    // and the room list counts one participant.
    let bound = WS_TIMEOUT + 4;
    eventually(bound, || async {
        let ids = connection_ids(&admin.get("/api/v1/connections").await);
        (!ids.contains(&slow_id)).then_some(())
    })
    .await;
    assert_eq!(room_count(&admin, room).await, 1);
    assert!(
        left_at.elapsed() < Duration::from_secs(bound),
        "{:?}",
        left_at.elapsed()
    );

    // The server shut the TCP connection: once drained, the socket ends.
    let drained = tokio::time::timeout(Duration::from_secs(15), async {
        let mut frames = 0usize;
        loop {
            match slow_rx.next().await {
                Some(Ok(_)) => frames += 1,
                Some(Err(_)) | None => return frames,
            }
        }
    })
    .await;
    assert!(
        drained.is_ok(),
        "the server did not close the slow connection"
    );
    keepalive.abort();

    // The flooder is unharmed.
    let mut flood_tx = flood_tx;
    flood_tx
        .send(Message::Text(
            json!({"type": "chat", "text": "still here"})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
    let before = echoed.load(Ordering::Relaxed);
    eventually(10, || async {
        (echoed.load(Ordering::Relaxed) > before).then_some(())
    })
    .await;
    reading.abort();
}

#[tokio::test]
async fn a_reading_participant_gets_every_frame_in_order_then_a_clean_kick() {
    let (node, _dir) = node().await;
    let admin = node.admin().await;
    admin.create_user("bea", "bea-password", "user").await;
    let room = admin.create_room("Order", 10).await;
    let mut bea = node.client();
    bea.login("bea", "bea-password").await;

    let mut moderator = admin.join(room).await;
    let mut b = bea.join(room).await;
    moderator.expect("joined").await;

    // Bea reads all along, keeping the chat texts and how the connection ended.
    let b_id = b.id.clone();
    let reading = tokio::spawn(async move {
        let mut texts = Vec::new();
        let closed = loop {
            match b.next().await {
                Ok(v) if v["type"] == "chat" => {
                    texts.push(v["message"]["text"].as_str().unwrap().to_string())
                }
                Ok(_) => {}
                Err(closed) => break closed,
            }
        };
        // After the close frame the server ends the connection.
        let end = tokio::time::timeout(Duration::from_secs(5), b.socket.next()).await;
        let ended = matches!(end, Ok(None) | Ok(Some(Err(_))));
        (texts, closed, ended)
    });

    const N: usize = 200;
    // A few messages ahead of their echoes: the room's chat writer has a short queue.
    let mut sent = 0;
    let mut echoes = 0;
    while echoes < N {
        while sent < N && sent - echoes < 8 {
            moderator
                .send(json!({"type": "chat", "text": format!("m{sent}")}))
                .await;
            sent += 1;
        }
        if moderator.expect("chat").await["message"]["participant_id"] == moderator.id.as_str() {
            echoes += 1;
        }
    }
    // Every message is stored and fanned out before the kick is sent.
    moderator
        .send(json!({"type": "kick", "participant_id": b_id}))
        .await;

    let (texts, closed, ended) = tokio::time::timeout(Duration::from_secs(20), reading)
        .await
        .expect("bea's connection closes")
        .unwrap();
    let expected: Vec<String> = (0..N).map(|i| format!("m{i}")).collect();
    assert_eq!(texts, expected, "every frame, in order, before the close");
    assert_eq!(closed.code, 4001, "{closed:?}");
    assert!(ended, "the connection ends after the close");

    let left = moderator.expect("left").await;
    assert_eq!(
        (left["participant_id"].as_str(), left["reason"].as_str()),
        (Some(b_id.as_str()), Some("kicked"))
    );
    eventually(5, || async {
        let ids = connection_ids(&admin.get("/api/v1/connections").await);
        (ids == vec![moderator.id.clone()]).then_some(())
    })
    .await;
}
