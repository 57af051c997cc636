//! Losing access or a right takes effect on live connections at once (issue 9): a
//! member removed from a private room, a room made private, a moderator removed, an
//! administrator demoted, a password changed, an account deleted.

use crate::common;

use common::{Api, TestNode};
use serde_json::json;

async fn person(node: &TestNode, admin: &Api, login: &str, role: &str) -> (Api, i64) {
    let id = admin
        .create_user(login, &format!("{login}-password"), role)
        .await;
    let mut api = node.client();
    api.login(login, &format!("{login}-password")).await;
    (api, id)
}

async fn edit_room(admin: &Api, room: i64, body: serde_json::Value) {
    let (status, out) = admin
        .send("PUT", &format!("/api/v1/rooms/{room}"), Some(body))
        .await;
    assert_eq!(status, 200, "{out}");
}

#[tokio::test]
async fn access_withdrawn_from_a_room_closes_the_connection_with_4003() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let (ann, ann_id) = person(&node, &admin, "ann", "user").await;
    let (bob, bob_id) = person(&node, &admin, "bob", "user").await;
    let (cat, _) = person(&node, &admin, "cat", "user").await;
    let room = admin.create_room("Staff room", 10).await;

    let mut a = ann.join(room).await;
    let mut b = bob.join(room).await;
    let mut c = cat.join(room).await;
    a.expect("joined").await;
    a.expect("joined").await;
    // Made private for ann and bob: cat, who is neither, is closed.
    edit_room(
        &admin,
        room,
        json!({"public": false, "members": [ann_id, bob_id]}),
    )
    .await;
    let closed = c.expect_close().await;
    assert_eq!(closed.code, 4003, "{closed:?}");
    let left = a.expect("left").await;
    assert_eq!(left["participant_id"], c.id.as_str());
    // ... and stays out.
    let (status, _) = cat
        .send(
            "POST",
            &format!("/api/v1/rooms/{room}/enter"),
            Some(json!({})),
        )
        .await;
    assert!(
        status == 403 || status == 404,
        "cat entered again: {status}"
    );

    // Bob removed from the members: closed; ann, still a member, keeps chatting.
    edit_room(&admin, room, json!({"members": [ann_id]})).await;
    assert_eq!(b.expect_close().await.code, 4003);
    a.send(json!({"type": "chat", "text": "still here"})).await;
    assert_eq!(a.expect("chat").await["message"]["text"], "still here");
}

#[tokio::test]
async fn a_moderator_removed_and_an_admin_demoted_lose_their_rights_live() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let (mod_api, mod_id) = person(&node, &admin, "mia", "user").await;
    let (boss, boss_id) = person(&node, &admin, "boss", "admin").await;
    let (pupil, _) = person(&node, &admin, "pip", "user").await;
    let room = admin.create_room("Class", 10).await;
    edit_room(&admin, room, json!({"moderators": [mod_id]})).await;

    let mut m = mod_api.join(room).await;
    assert_eq!(m.welcome["you"]["moderator"], true);
    let mut boss_ws = boss.join(room).await;
    assert_eq!(boss_ws.welcome["you"]["moderator"], true);
    let mut p = pupil.join(room).await;

    // The moderator is taken off the room: everyone hears it, and a kick is refused.
    edit_room(&admin, room, json!({"moderators": []})).await;
    let change = p.expect("moderator").await;
    assert_eq!(change["participant_id"], m.id.as_str());
    assert_eq!(change["moderator"], false);
    m.send(json!({"type": "kick", "participant_id": p.id}))
        .await;
    assert_eq!(m.expect("error").await["code"], "forbidden");

    // The administrator is made a plain user: no longer a moderator here.
    let (status, out) = admin
        .send(
            "PUT",
            &format!("/api/v1/users/{boss_id}"),
            Some(json!({"role": "user"})),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let change = p.expect("moderator").await;
    assert_eq!(change["participant_id"], boss_ws.id.as_str());
    assert_eq!(change["moderator"], false);
    boss_ws
        .send(json!({"type": "kick", "participant_id": p.id}))
        .await;
    assert_eq!(boss_ws.expect("error").await["code"], "forbidden");
    // The pupil is still there: a ping is answered.
    p.send(json!({"type": "ping", "nonce": "n"})).await;
    assert_eq!(p.expect("pong").await["nonce"], "n");
}

#[tokio::test]
async fn a_demoted_admin_in_a_private_room_is_closed() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let (boss, boss_id) = person(&node, &admin, "boss", "admin").await;
    let room = admin.create_room("Board", 10).await;
    edit_room(&admin, room, json!({"public": false, "members": []})).await;
    let mut b = boss.join(room).await;
    admin
        .send(
            "PUT",
            &format!("/api/v1/users/{boss_id}"),
            Some(json!({"role": "user"})),
        )
        .await;
    assert_eq!(b.expect_close().await.code, 4003);
}

#[tokio::test]
async fn a_password_change_or_a_deleted_account_closes_live_connections() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let (ann, ann_id) = person(&node, &admin, "ann", "user").await;
    let (bob, bob_id) = person(&node, &admin, "bob", "user").await;
    let room = admin.create_room("Hall", 10).await;
    let mut a = ann.join(room).await;
    let mut b = bob.join(room).await;

    admin
        .send(
            "PUT",
            &format!("/api/v1/users/{ann_id}"),
            Some(json!({"password": "a-brand-new-password"})),
        )
        .await;
    assert_eq!(a.expect_close().await.code, 4003);
    // Her session went with the old password.
    let (status, _) = ann.send("GET", "/api/v1/me", None).await;
    assert_eq!(status, 401);

    let (status, _) = admin
        .send("DELETE", &format!("/api/v1/users/{bob_id}"), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(b.expect_close().await.code, 4003);
    let (status, _) = bob.send("GET", "/api/v1/me", None).await;
    assert_eq!(status, 401);
}
