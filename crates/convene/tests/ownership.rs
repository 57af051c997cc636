//! Who owns a room and what that gives (issue 8's organiser role), through the API and
//! live in the room. Real node, real HTTP and WebSocket.

use crate::common;

use common::TestNode;
use serde_json::{Value, json};

/// Ownership in detail: the creator owns, only administrators hand rooms on, the owner
/// moderates its room live, and a deleted owner leaves the room without one.
#[tokio::test]
async fn organisers_own_the_rooms_they_make() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let olga_id = admin
        .create_user("olga", "olga-password", "organiser")
        .await;
    let otto_id = admin
        .create_user("otto", "otto-password", "organiser")
        .await;
    let ulla_id = admin.create_user("ulla", "ulla-password", "user").await;
    let mut olga = node.client();
    olga.login("olga", "olga-password").await;
    let mut otto = node.client();
    otto.login("otto", "otto-password").await;

    // What the creator expects: public unless members are chosen; owned by the creator.
    let open = olga
        .post("/api/v1/rooms", json!({"name": "Maths 7b"}))
        .await;
    assert_eq!(
        (open["owner"].as_i64(), open["public"].as_bool()),
        (Some(olga_id), Some(true))
    );
    let closed = olga
        .post(
            "/api/v1/rooms",
            json!({"name": "Staff", "members": [ulla_id]}),
        )
        .await;
    assert_eq!(closed["public"], false, "members chosen: members only");
    let (open, closed) = (open["id"].as_i64().unwrap(), closed["id"].as_i64().unwrap());
    let by_admin = admin.post("/api/v1/rooms", json!({"name": "Hall"})).await;
    assert_eq!(by_admin["owner"], admin.get("/api/v1/me").await["id"]);
    let nobodys = admin
        .post("/api/v1/rooms", json!({"name": "Foyer", "owner": null}))
        .await;
    assert_eq!(nobodys["owner"], Value::Null);
    let (status, _) = olga
        .send(
            "POST",
            "/api/v1/rooms",
            Some(json!({"name": "x", "owner": null})),
        )
        .await;
    assert_eq!(status, 403, "an organiser's rooms are its own");

    // Only administrators name or change an owner.
    let (status, body) = olga
        .send(
            "POST",
            "/api/v1/rooms",
            Some(json!({"name": "x", "owner": otto_id})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    for bad in [
        json!({"name": "x", "owner": 999_999}),
        json!({"name": "x", "owner": "olga"}),
    ] {
        let (status, body) = admin.send("POST", "/api/v1/rooms", Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad} → {body}");
    }
    let (status, _) = olga
        .send(
            "PUT",
            &format!("/api/v1/rooms/{closed}"),
            Some(json!({"owner": otto_id})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, body) = olga
        .send(
            "PUT",
            &format!("/api/v1/rooms/{closed}"),
            Some(json!({"owner": olga_id, "comment": "unchanged owner"})),
        )
        .await;
    assert_eq!(
        (status, body["comment"].as_str()),
        (200, Some("unchanged owner"))
    );
    let handed = admin
        .send(
            "PUT",
            &format!("/api/v1/rooms/{open}"),
            Some(json!({"owner": otto_id})),
        )
        .await;
    assert_eq!((handed.0, handed.1["owner"].as_i64()), (200, Some(otto_id)));
    let (status, _) = olga
        .send(
            "PUT",
            &format!("/api/v1/rooms/{open}"),
            Some(json!({"comment": "mine?"})),
        )
        .await;
    assert_eq!(
        status, 403,
        "the former owner sees the public room but edits it no more"
    );
    let (status, _) = otto
        .send(
            "PUT",
            &format!("/api/v1/rooms/{open}"),
            Some(json!({"comment": "mine"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        otto.send("GET", &format!("/api/v1/rooms/{closed}"), None)
            .await
            .0,
        404
    );

    // Accounts are made with the four roles an administrator gives; guests only come
    // from invitations.
    let (status, body) = admin
        .send(
            "POST",
            "/api/v1/users",
            Some(json!({"login": "gus", "password": "gus-password", "role": "guest"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = admin
        .send(
            "PUT",
            &format!("/api/v1/users/{ulla_id}"),
            Some(json!({"role": "guest"})),
        )
        .await;
    assert_eq!(status, 400);

    // The directory an organiser picks members from: who, not what.
    let people = olga.get("/api/v1/people").await;
    let ulla = people
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["login"] == "ulla")
        .expect("ulla is listed");
    assert_eq!(
        ulla.as_object().unwrap().len(),
        3,
        "id, login, display name: {ulla}"
    );

    // The owner is a moderator of its room, live.
    let p = olga.join(closed).await;
    assert_eq!(p.welcome["you"]["moderator"], true);
    drop(p);

    // A deleted owner leaves the room without one; it goes on.
    assert_eq!(
        admin
            .send("DELETE", &format!("/api/v1/users/{otto_id}"), None)
            .await
            .0,
        204
    );
    assert_eq!(
        admin.get(&format!("/api/v1/rooms/{open}")).await["owner"],
        Value::Null
    );
}
