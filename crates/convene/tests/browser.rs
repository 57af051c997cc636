//! The web UI in headless Chromium: two people sign in in two browsers, see the room
//! list, enter the same room, see each other and chat.

use crate::common;

use common::TestNode;
use common::browser::{Driver, enter_room, sign_in, wait_for, wait_for_text};
use fantoccini::Client;

async fn say(c: &Client, text: &str) {
    wait_for(c, "#chat-input")
        .await
        .send_keys(text)
        .await
        .unwrap();
    wait_for(c, "#chat-send").await.click().await.unwrap();
}

#[tokio::test]
async fn two_browsers_meet_in_a_room_and_chat() {
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    admin.create_people(&["ann", "ben"]).await;
    let room = admin.create_room("Biology", 30).await;
    admin.create_room("Geography", 30).await;

    let ann = driver.browser().await;
    let ben = driver.browser().await;

    // The wrong password is refused with a message.
    ann.goto(&format!("{}/login", node.url)).await.unwrap();
    wait_for(&ann, "#login-name")
        .await
        .send_keys("ann")
        .await
        .unwrap();
    wait_for(&ann, "#login-password")
        .await
        .send_keys("not-her-password")
        .await
        .unwrap();
    wait_for(&ann, "#login-submit").await.click().await.unwrap();
    wait_for_text(&ann, "#login-error", "login or password").await;

    sign_in(&ann, &node.url, "ann", "ann-password").await;
    wait_for_text(&ann, "#room-list", "Geography").await;
    let count = format!("#room-list [data-room-id=\"{room}\"] .participant-count");
    wait_for_text(&ann, &count, "0").await;
    enter_room(&ann, room).await;
    wait_for(&ann, "#participants li[data-login=\"ann\"]").await;

    // Ben sees Ann counted in the room list before entering.
    sign_in(&ben, &node.url, "ben", "ben-password").await;
    wait_for_text(&ben, &count, "1").await;
    enter_room(&ben, room).await;
    wait_for(&ben, "#participants li[data-login=\"ann\"]").await;
    wait_for(&ben, "#participants li[data-login=\"ben\"]").await;
    wait_for(&ann, "#participants li[data-login=\"ben\"]").await;

    say(&ben, "Hello Ann, can you see this?").await;
    wait_for_text(
        &ann,
        "#chat-messages .chat-message",
        "Hello Ann, can you see this?",
    )
    .await;
    say(&ann, "Yes, loud and clear").await;
    wait_for_text(&ben, "#chat-messages .chat-message", "Yes, loud and clear").await;

    // The server agrees: two connections in that room.
    let conns = admin.get("/api/v1/connections").await;
    assert_eq!(
        conns
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["room_id"] == room)
            .count(),
        2
    );

    ann.close().await.unwrap();
    ben.close().await.unwrap();
}
