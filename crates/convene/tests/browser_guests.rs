//! Guests in headless Chromium: an invitation link opened on the node that does not host
//! the room lands the guest on the room's node; a waiting room where a moderator admits
//! one guest and refuses another; a link that cannot be used says so.

use crate::common;

use common::TestNode;
use common::browser::{Driver, enter_room, pass_device_check, sign_in, wait_for, wait_for_text};
use common::cluster::Cluster;
use fantoccini::{Client, Locator};
use serde_json::json;
use std::time::Duration;

/// Opens an invitation link, gives a name, passes the device check.
async fn accept_invitation(c: &Client, url: &str, name: &str) {
    c.goto(url).await.unwrap();
    wait_for(c, "#invite-page[data-state=\"form\"] #invite-name")
        .await
        .send_keys(name)
        .await
        .unwrap();
    wait_for(c, "#invite-submit").await.click().await.unwrap();
    pass_device_check(c, false).await;
}

/// Clicks a moderator's button for the waiter shown as `name` in the lobby list.
async fn decide(c: &Client, name: &str, action: &str) {
    let xpath = format!(
        "//ul[@id='lobby-list']/li[.//span[contains(@class,'lobby-name') and normalize-space(.)='{name}']]//button[@data-action='{action}']"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        // The list is redrawn at each change: a button found just before may be gone.
        let last = match c.find(Locator::XPath(&xpath)).await {
            Ok(button) => match button.click().await {
                Ok(_) => return,
                Err(e) => e.to_string(),
            },
            Err(e) => e.to_string(),
        };
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {action} button for {name}: {last}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_guest_lands_on_the_rooms_node_through_an_invitation_opened_on_another() {
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    let admin = cluster.node(1).admin().await;
    // Node 1 takes no new rooms (it still serves pages and the API): the room goes to node 2.
    admin
        .send("PUT", "/api/v1/servers/1", Some(json!({"active": false})))
        .await;
    let room = admin
        .post(
            "/api/v1/rooms",
            json!({"name": "Open day", "public": false}),
        )
        .await["id"]
        .as_i64()
        .unwrap();

    let inv = admin
        .post(
            &format!("/api/v1/rooms/{room}/invitations"),
            json!({"role": "participant", "uses": "single", "expires_in": 600, "password": null}),
        )
        .await;
    let url = inv["url"].as_str().unwrap();
    assert!(url.starts_with(&cluster.node(1).url), "{url}");

    let guest = driver.browser().await;
    accept_invitation(&guest, url, "Gabi Gast").await;
    wait_for(&guest, "#room[data-state=\"open\"]").await;
    let at = guest.current_url().await.unwrap();
    assert_eq!(
        at.port(),
        reqwest::Url::parse(&cluster.node(2).url).unwrap().port(),
        "on node 2: {at}"
    );
    wait_for_text(&guest, "#participants li.is-you", "Gabi Gast").await;
    // Someone entering after the guest sees it, with its name and as a guest.
    let other = admin.join(room).await;
    assert_eq!(other.welcome["server"]["id"], 2);
    let seen = other.welcome["participants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["user"]["display_name"] == "Gabi Gast")
        .cloned()
        .expect("the guest is in the room");
    assert_eq!(seen["guest"], true);
    let conns = admin.get("/api/v1/connections").await;
    let row = conns
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["user"]["login"].as_str().unwrap().starts_with("guest-"))
        .expect("the guest's connection");
    assert_eq!(row["server"]["id"], 2);
    // A guest has no way to the rest of the UI: the rooms page says so.
    guest
        .goto(&format!("{}/rooms", cluster.node(2).url))
        .await
        .unwrap();
    wait_for(&guest, "#guest-only #guest-room-link").await;
    guest.close().await.unwrap();
}

#[tokio::test]
async fn a_moderator_admits_one_guest_and_refuses_another() {
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let mona = admin.create_user("mona", "mona-password", "user").await;
    let room = admin
        .post(
            "/api/v1/rooms",
            json!({"name": "Consultation", "public": true, "waiting_room": true, "moderators": [mona]}),
        )
        .await["id"]
        .as_i64()
        .unwrap();

    let moderator = driver.browser().await;
    sign_in(&moderator, &node.url, "mona", "mona-password").await;
    enter_room(&moderator, room).await;
    wait_for(&moderator, "#lobby-panel:not([hidden]) #lobby-empty").await;

    // The Invite dialog makes a link.
    wait_for(&moderator, "#open-invite:not([hidden])")
        .await
        .click()
        .await
        .unwrap();
    let uses = wait_for(&moderator, "#invite-uses").await;
    uses.select_by_value("multi").await.unwrap();
    wait_for(&moderator, "#invite-create")
        .await
        .click()
        .await
        .unwrap();
    wait_for(&moderator, "#invite-result:not([hidden])").await;
    let link = wait_for(&moderator, "#invite-link")
        .await
        .prop("value")
        .await
        .unwrap()
        .expect("the link");
    assert!(link.starts_with(&format!("{}/invite/", node.url)), "{link}");
    wait_for(
        &moderator,
        "#invitations-list li[data-status=\"active\"] .revoke-invitation",
    )
    .await;
    wait_for(&moderator, "#invite-close")
        .await
        .click()
        .await
        .unwrap();

    let greta = driver.browser().await;
    let hanno = driver.browser().await;
    accept_invitation(&greta, &link, "Greta").await;
    accept_invitation(&hanno, &link, "Hanno").await;
    for waiter in [&greta, &hanno] {
        wait_for(
            waiter,
            "#room[data-state=\"waiting\"] #waiting-room:not([hidden])",
        )
        .await;
    }
    wait_for_text(&moderator, "#lobby-list", "Greta").await;
    wait_for_text(&moderator, "#lobby-list", "Hanno").await;

    decide(&moderator, "Greta", "admit").await;
    wait_for(&greta, "#room[data-state=\"open\"]").await;
    wait_for(&greta, "#participants li[data-login=\"mona\"]").await;
    wait_for_text(&moderator, "#participants li .badge-guest", "Guest").await;

    decide(&moderator, "Hanno", "refuse").await;
    wait_for_text(&hanno, "#room-ended-title", "not let in").await;
    wait_for(&hanno, "#room[data-state=\"ended\"]").await;
    wait_for(&moderator, "#lobby-empty").await;
    // The server agrees: Greta in, Hanno gone.
    let lobby = admin.get(&format!("/api/v1/rooms/{room}/lobby")).await;
    assert_eq!(lobby["waiting"], json!([]));
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

    // A link that cannot be used says why.
    let stranger = driver.browser().await;
    stranger
        .goto(&format!("{}/invite/{}", node.url, "Q".repeat(43)))
        .await
        .unwrap();
    wait_for(
        &stranger,
        "#invite-refused[data-code=\"invitation_invalid\"]",
    )
    .await;
    wait_for_text(&stranger, "#invite-refused-title", "not valid").await;

    for c in [moderator, greta, hanno, stranger] {
        c.close().await.unwrap();
    }
}
