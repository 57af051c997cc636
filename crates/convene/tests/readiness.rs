//! `/readyz` tells when a long-running task does not work, names it, and recovers
//! once its supervisor has restarted it; `/metrics` counts the restarts.

use crate::common;

use common::{TestNode, eventually};
use convene::health::Health;
use serde_json::{Value, json};
use std::time::Duration;

async fn readyz(node: &TestNode) -> (u16, Value) {
    let res = reqwest::get(format!("{}/readyz", node.url)).await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

async fn metrics(node: &TestNode) -> String {
    reqwest::get(format!("{}/metrics", node.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn health(node: &TestNode) -> Health {
    node.health.clone().expect("the node's health registry")
}

/// Polls `/readyz` until it answers 503 naming `component`; returns the body.
async fn unready_naming(node: &TestNode, component: &str) -> Value {
    eventually(10, || async {
        let (status, body) = readyz(node).await;
        (status == 503 && body["failed"] == json!([component])).then_some(body)
    })
    .await
}

async fn ready_again(node: &TestNode) {
    eventually(15, || async { (readyz(node).await.0 == 200).then_some(()) }).await;
}

#[tokio::test]
async fn a_healthy_node_is_ready_and_lists_its_tasks() {
    let node = TestNode::sqlite().await;
    let (status, body) = readyz(&node).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["failed"], json!([]));
    let names: Vec<&str> = body["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(
        names.contains(&"media") && names.contains(&"events"),
        "{body}"
    );
    let text = metrics(&node).await;
    assert!(
        text.contains("convene_task_restarts_total{task=\"events\"} 0"),
        "{text}"
    );
    assert!(text.contains("convene_task_up{task=\"media\"} 1"), "{text}");
}

/// Test hook: the event reader's task is aborted, as a crash would end it.
#[tokio::test]
async fn a_dead_event_reader_is_reported_restarted_and_catches_up() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let room = admin.create_room("Physics", 10).await;
    let mut p = admin.join(room).await;

    let events = health(&node).get("events").unwrap();
    assert!(events.kill_for_tests(Duration::from_secs(3)));
    let body = unready_naming(&node, "events").await;
    let report = body["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "events")
        .unwrap()
        .clone();
    assert_eq!(report["up"], false, "{report}");
    assert!(
        report["error"].as_str().unwrap().contains("aborted"),
        "{report}"
    );
    assert!(report["since"].as_str().is_some(), "{report}");

    // Published while nobody reads events: applied once the reader is back.
    admin
        .send(
            "PUT",
            &format!("/api/v1/rooms/{room}"),
            Some(json!({"name": "Physics 2"})),
        )
        .await;
    ready_again(&node).await;
    let updated = p.expect("room_updated").await;
    assert_eq!(updated["room"]["name"], "Physics 2");
    let text = metrics(&node).await;
    assert!(
        text.contains("convene_task_restarts_total{task=\"events\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("convene_task_up{task=\"events\"} 1"),
        "{text}"
    );
}

/// A real failure: the events cannot be read (their table is gone) until they can.
#[tokio::test]
async fn unreadable_events_make_the_node_unready_until_they_are_back() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::test_settings(dir.path()).resolve().unwrap();
    let url = config.database_url.clone();
    let node = TestNode::start(config).await;
    let db = sqlx::SqlitePool::connect(&url).await.unwrap();

    sqlx::query("ALTER TABLE events RENAME TO events_away")
        .execute(&db)
        .await
        .unwrap();
    let body = unready_naming(&node, "events").await;
    let error = body["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "events")
        .and_then(|c| c["error"].as_str())
        .unwrap()
        .to_string();
    assert!(error.contains("cannot read events"), "{error}");
    assert_eq!(body["database"], true, "only the events are unreadable");

    sqlx::query("ALTER TABLE events_away RENAME TO events")
        .execute(&db)
        .await
        .unwrap();
    ready_again(&node).await;
    // The reader had not died: nothing to restart.
    assert!(
        metrics(&node)
            .await
            .contains("convene_task_restarts_total{task=\"events\"} 0")
    );
}

/// Test hook: the media task is aborted; its restart tells participants to reconnect.
#[tokio::test]
async fn a_dead_media_task_is_restarted_and_participants_told() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let room = admin.create_room("Chemistry", 10).await;
    let mut p = admin.join(room).await;

    let media = health(&node).get("media").unwrap();
    assert!(media.kill_for_tests(Duration::from_secs(3)));
    unready_naming(&node, "media").await;
    ready_again(&node).await;
    let mut directions = Vec::new();
    while directions.len() < 2 {
        let closed = p.expect("media_closed").await;
        directions.push(closed["direction"].as_str().unwrap().to_string());
    }
    directions.sort();
    assert_eq!(directions, ["down", "up"]);
    assert!(
        metrics(&node)
            .await
            .contains("convene_task_restarts_total{task=\"media\"} 1")
    );
    // The room still works.
    p.send(json!({"type": "ping", "nonce": "n1"})).await;
    assert_eq!(p.expect("pong").await["nonce"], "n1");
}
