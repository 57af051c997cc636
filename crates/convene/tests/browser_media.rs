//! Audio and video in headless Chromium with fake devices: two browsers in a room
//! decode each other's video and receive each other's audio, on one node and through
//! a two-node cluster; in a presentation room a plain participant cannot publish.

use crate::common;

use common::TestNode;
use common::browser::{
    Driver, enter_room, sign_in, stats, turn_on_camera_and_microphone, wait_for, wait_for_media,
    wait_for_text,
};
use std::time::Duration;

async fn two_people_see_and_hear_each_other(base: &str, room: i64, driver: &mut Driver) {
    let ann = driver.browser().await;
    let ben = driver.browser().await;
    sign_in(&ann, base, "ann", "ann-password").await;
    sign_in(&ben, base, "ben", "ben-password").await;
    enter_room(&ann, room).await;
    enter_room(&ben, room).await;
    turn_on_camera_and_microphone(&ann).await;
    turn_on_camera_and_microphone(&ben).await;
    let a = wait_for_media(&ann, "ann").await;
    let b = wait_for_media(&ben, "ben").await;
    println!("ann: {a}\nben: {b}");
    // The grid shows the other participant's video tile.
    wait_for(&ann, "#video-grid .video-tile[data-login=\"ben\"] video").await;
    wait_for(&ben, "#video-grid .video-tile[data-login=\"ann\"] video").await;
    ann.close().await.unwrap();
    ben.close().await.unwrap();
}

#[tokio::test]
async fn two_browsers_exchange_audio_and_video() {
    let _one_at_a_time = common::browser::media_turn().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    admin.create_people(&["ann", "ben"]).await;
    let room = admin.create_room("Video call", 10).await;
    two_people_see_and_hear_each_other(&node.url, room, &mut driver).await;
}

#[tokio::test]
async fn media_goes_to_the_rooms_node_in_a_cluster() {
    let _one_at_a_time = common::browser::media_turn().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let Some(cluster) = common::cluster::Cluster::start(2).await else {
        return;
    };
    let admin = cluster.node(1).admin().await;
    admin.create_people(&["ann", "ben"]).await;
    // Put the room on node 2 while both browsers sign in on node 1.
    admin
        .send(
            "PUT",
            "/api/v1/servers/1",
            Some(serde_json::json!({"active": false})),
        )
        .await;
    let room = admin.create_room("Remote call", 10).await;
    let enter = admin
        .post(
            &format!("/api/v1/rooms/{room}/enter"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(enter["server"]["id"], 2);
    admin
        .send(
            "PUT",
            "/api/v1/servers/1",
            Some(serde_json::json!({"active": true})),
        )
        .await;
    two_people_see_and_hear_each_other(&cluster.node(1).url, room, &mut driver).await;
    let conns = cluster
        .node(1)
        .admin()
        .await
        .get("/api/v1/connections")
        .await;
    assert!(
        conns
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["server"]["id"] == 2),
        "{conns}"
    );
}

#[tokio::test]
async fn a_plain_participant_cannot_publish_in_a_presentation() {
    let _one_at_a_time = common::browser::media_turn().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    admin.create_people(&["ann"]).await;
    let room = admin
        .post(
            "/api/v1/rooms",
            serde_json::json!({"name": "Lecture", "kind": "presentation", "capacity": 10}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let ann = driver.browser().await;
    sign_in(&ann, &node.url, "ann", "ann-password").await;
    enter_room(&ann, room).await;
    let camera = wait_for(&ann, "#toggle-camera").await;
    assert!(
        camera.attr("disabled").await.unwrap().is_some(),
        "the camera button is disabled"
    );
    wait_for_text(&ann, "#media", "only").await;
    // Even a page that tries anyway is refused by the server.
    let refused = ann
        .execute_async(
            "const done = arguments[arguments.length - 1];
             window.conveneMedia.forcePublish().then(r => done(String(r)), e => done('refused: ' + e));",
            vec![],
        )
        .await
        .unwrap();
    assert!(refused.as_str().unwrap().contains("refused"), "{refused}");
    ann.close().await.unwrap();
}

#[tokio::test]
async fn a_screen_share_reaches_the_other_participant() {
    let _one_at_a_time = common::browser::media_turn().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    admin.create_people(&["ann", "ben"]).await;
    let room = admin.create_room("Screens", 10).await;
    let ann = driver.browser().await;
    let ben = driver.browser().await;
    sign_in(&ann, &node.url, "ann", "ann-password").await;
    sign_in(&ben, &node.url, "ben", "ben-password").await;
    enter_room(&ann, room).await;
    enter_room(&ben, room).await;
    wait_for(&ann, "#toggle-screen")
        .await
        .click()
        .await
        .unwrap();
    wait_for(
        &ben,
        "#video-grid .video-tile[data-login=\"ann\"][data-label=\"screen\"] video",
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let s = stats(&ben).await;
        if s["videoFramesDecoded"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "ben decoded no screen frames: {s}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    ann.close().await.unwrap();
    ben.close().await.unwrap();
}
