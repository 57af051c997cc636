//! Roles and self-service in headless Chromium: an organiser runs its own room (makes it
//! under My rooms, enters it as its moderator) and cannot open Users; a password changed on
//! the profile page ends the account's other sessions, live room included.

use crate::common;

use common::TestNode;
use common::browser::{Driver, enter_room, sign_in, wait_for, wait_for_text};
use fantoccini::{Client, Locator};
use serde_json::json;

async fn displayed(c: &Client, css: &str) -> bool {
    match c.find(Locator::Css(css)).await {
        Ok(e) => e.is_displayed().await.unwrap_or(false),
        Err(_) => false,
    }
}

async fn type_into(c: &Client, css: &str, text: &str) {
    let input = wait_for(c, css).await;
    input.clear().await.unwrap();
    input.send_keys(text).await.unwrap();
}

#[tokio::test]
async fn an_organiser_runs_its_own_room_and_cannot_open_users() {
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let olga = admin
        .create_user("olga", "olga-password", "organiser")
        .await;
    admin.create_people(&["ulla"]).await;
    let c = driver.browser().await;
    sign_in(&c, &node.url, "olga", "olga-password").await;
    assert!(
        !displayed(&c, "#nav-admin").await,
        "no Administration for organisers"
    );
    assert!(displayed(&c, "#nav-my-rooms").await);

    // My rooms: a new room, public unless members are chosen, owned by its maker.
    wait_for(&c, "#nav-my-rooms").await.click().await.unwrap();
    wait_for(&c, "#my-rooms #admin-rooms-table").await;
    wait_for(&c, "#room-create").await.click().await.unwrap();
    type_into(&c, "#room-form-name", "Class 7b").await;
    assert!(
        wait_for(&c, "#room-form-public")
            .await
            .is_selected()
            .await
            .unwrap(),
        "a new room is public by default"
    );
    assert!(
        !displayed(&c, "#room-form-owner").await,
        "organisers do not pick owners"
    );
    // The member picker lists people (from /api/v1/people, not the Users page).
    wait_for(&c, "#room-form-members input[data-login=\"ulla\"]").await;
    wait_for(&c, "#room-form-submit")
        .await
        .click()
        .await
        .unwrap();
    wait_for_text(&c, "#admin-rooms-table", "Class 7b").await;
    let rooms = admin.get("/api/v1/rooms").await;
    let room = rooms
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Class 7b")
        .expect("the room exists")
        .clone();
    assert_eq!(
        (room["owner"].as_i64(), room["public"].as_bool()),
        (Some(olga), Some(true))
    );
    let id = room["id"].as_i64().unwrap();

    // Someone else's room is not on My rooms.
    admin.create_room("Staff room", 10).await;
    c.refresh().await.unwrap();
    wait_for_text(&c, "#admin-rooms-table", "Class 7b").await;
    let table = wait_for(&c, "#admin-rooms-table")
        .await
        .text()
        .await
        .unwrap();
    assert!(!table.contains("Staff room"), "{table}");

    // Olga enters as the moderator of her room and can remove someone.
    c.goto(&format!("{}/rooms", node.url)).await.unwrap();
    enter_room(&c, id).await;
    wait_for(
        &c,
        "#participants li[data-login=\"olga\"][data-moderator=\"true\"]",
    )
    .await;
    let mut ulla = node.client();
    ulla.login("ulla", "ulla-password").await;
    let mut pupil = ulla.join(id).await;
    wait_for(
        &c,
        "#participants li[data-login=\"ulla\"] button[data-action=\"kick\"]",
    )
    .await
    .click()
    .await
    .unwrap();
    wait_for(&c, "#confirm-submit").await.click().await.unwrap();
    assert_eq!(pupil.expect_close().await.code, 4001);

    // Users is out of reach, in the UI as in the API.
    c.goto(&format!("{}/admin/users", node.url)).await.unwrap();
    wait_for(&c, "#forbidden").await;
    assert!(c.find(Locator::Css("#users-table")).await.is_err());
    c.close().await.unwrap();
}

#[tokio::test]
async fn a_password_change_on_the_profile_page_ends_the_other_sessions() {
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    admin.create_people(&["ann"]).await;
    let room = admin.create_room("Geography", 10).await;
    let here = driver.browser().await;
    let there = driver.browser().await;
    sign_in(&here, &node.url, "ann", "ann-password").await;
    sign_in(&there, &node.url, "ann", "ann-password").await;
    enter_room(&there, room).await;

    // The profile is reached from the name in the top bar.
    wait_for(&here, "#current-user")
        .await
        .click()
        .await
        .unwrap();
    wait_for(&here, "#profile-form").await;
    type_into(&here, "#profile-display-name", "Ann Smith").await;
    wait_for(&here, "#profile-save")
        .await
        .click()
        .await
        .unwrap();
    wait_for_text(&here, "#current-user-name", "Ann Smith").await;

    // A wrong current password is said so, and ends nothing.
    type_into(&here, "#profile-current-password", "not-my-password").await;
    type_into(&here, "#profile-new-password", "a-brand-new-password").await;
    type_into(&here, "#profile-new-password-again", "a-brand-new-password").await;
    wait_for(&here, "#password-save")
        .await
        .click()
        .await
        .unwrap();
    wait_for_text(&here, "#password-error", "wrong").await;
    assert!(
        wait_for(&there, "#room")
            .await
            .attr("data-state")
            .await
            .unwrap()
            .as_deref()
            == Some("open")
    );

    type_into(&here, "#profile-current-password", "ann-password").await;
    wait_for(&here, "#password-save")
        .await
        .click()
        .await
        .unwrap();
    wait_for_text(&here, "#toasts .toast-success", "1 other session").await;

    // The other browser's room connection ends, then its session: back to sign-in.
    wait_for(&there, "#room[data-state=\"ended\"]").await;
    there.goto(&format!("{}/rooms", node.url)).await.unwrap();
    wait_for(&there, "#login-form").await;
    // This browser stays signed in.
    here.goto(&format!("{}/rooms", node.url)).await.unwrap();
    wait_for(&here, "#room-list").await;
    // The change waited for the connection to go.
    let conns = admin.get("/api/v1/connections").await;
    assert!(
        conns
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["user"]["login"] != "ann"),
        "{conns}"
    );
    let (status, _) = node
        .client()
        .send(
            "POST",
            "/api/v1/login",
            Some(json!({"login": "ann", "password": "a-brand-new-password"})),
        )
        .await;
    assert_eq!(status, 200);
    here.close().await.unwrap();
    there.close().await.unwrap();
}
