//! The waiting room: moderators admit or refuse those who wait, over real WebSockets, on
//! one node and across a two-node cluster.

use crate::common;

use common::cluster::Cluster;
use common::invites::{code, connect, guest, invite, room_with, token};
use common::{TestNode, eventually};
use serde_json::json;

#[tokio::test]
async fn a_waiting_room_over_websockets() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let mo = admin.create_user("moe", "moe-password", "user").await;
    admin.create_people(&["sam"]).await;
    let room = room_with(&admin, "Consultation", true, vec![mo]).await;
    assert_eq!(
        admin.get(&format!("/api/v1/rooms/{room}")).await["waiting_room"],
        true
    );
    let mut moe = node.client();
    moe.login("moe", "moe-password").await;
    let mut m = connect(&moe, room).await;
    assert_eq!(m.expect("welcome").await["room"]["waiting_room"], true);
    assert_eq!(m.expect("lobby").await["waiting"], json!([]));

    let inv = invite(&moe, room, json!({"uses": "multi"})).await;
    let g1 = guest(&node.client(), &token(&inv), "Greta").await;
    let g2 = guest(&node.client(), &token(&inv), "Hanno").await;
    let mut w1 = connect(&g1, room).await;
    let waiting = w1.expect("waiting").await;
    let w1_id = waiting["participant_id"].as_str().unwrap().to_string();
    assert_eq!(
        m.expect("lobby").await["waiting"][0]["user"]["display_name"],
        "Greta"
    );
    let mut w2 = connect(&g2, room).await;
    let w2_id = w2.expect("waiting").await["participant_id"]
        .as_str()
        .unwrap()
        .to_string();
    let lobby = m.expect("lobby").await;
    assert_eq!(lobby["waiting"].as_array().unwrap().len(), 2, "{lobby}");
    assert_eq!(lobby["waiting"][1]["guest"], true);

    // A signed-in user without a moderator right waits too.
    let mut sam = node.client();
    sam.login("sam", "sam-password").await;
    let mut s = connect(&sam, room).await;
    let sam_id = s.expect("waiting").await["participant_id"]
        .as_str()
        .unwrap()
        .to_string();
    m.expect("lobby").await;

    // The API agrees, for moderators (everyone) and for a waiter (itself).
    let listed = moe.get(&format!("/api/v1/rooms/{room}/lobby")).await;
    let ids: Vec<_> = listed["waiting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, [w1_id.clone(), w2_id.clone(), sam_id.clone()]);
    let own = g2.get(&format!("/api/v1/rooms/{room}/lobby")).await;
    assert_eq!(own["waiting"].as_array().unwrap().len(), 1, "{own}");
    assert_eq!(own["waiting"][0]["id"], w2_id.as_str());
    // A waiter may not admit itself.
    let (status, _) = sam
        .send(
            "POST",
            &format!("/api/v1/rooms/{room}/lobby/{sam_id}/admit"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 403);

    // The moderator admits Greta (by frame): she gets `admitted`, then the welcome.
    m.send(json!({"type": "admit", "participant_id": w1_id}))
        .await;
    assert_eq!(w1.next().await.unwrap()["type"], "admitted");
    let welcome = w1.expect("welcome").await;
    assert_eq!(welcome["you"]["id"], w1_id.as_str());
    assert_eq!(welcome["participants"].as_array().unwrap().len(), 2);
    assert_eq!(
        m.expect("joined").await["participant"]["id"],
        w1_id.as_str()
    );

    // Hanno is refused (through the API): closed with 4002.
    let (status, out) = moe
        .send(
            "POST",
            &format!("/api/v1/rooms/{room}/lobby/{w2_id}/refuse"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 204, "{out}");
    let closed = w2.expect_close().await;
    assert_eq!(closed.code, 4002, "{closed:?}");
    assert!(closed.reason.contains("moderator"), "{closed:?}");
    // Sam is admitted through the API.
    let (status, _) = moe
        .send(
            "POST",
            &format!("/api/v1/rooms/{room}/lobby/{sam_id}/admit"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 204);
    s.expect("welcome").await;
    // Gone from the lobby: a second decision is a 404.
    let (status, out) = moe
        .send(
            "POST",
            &format!("/api/v1/rooms/{room}/lobby/{sam_id}/admit"),
            Some(json!({})),
        )
        .await;
    assert_eq!((status, code(&out)), (404, "not_found"));
    let listed = moe.get(&format!("/api/v1/rooms/{room}/lobby")).await;
    assert_eq!(listed["waiting"], json!([]));
}

#[tokio::test]
async fn admitting_on_another_node_of_a_cluster() {
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    let (n1, n2) = (cluster.node(1), cluster.node(2));
    let admin = n1.admin().await;
    // The room goes to node 2.
    admin
        .send("PUT", "/api/v1/servers/1", Some(json!({"active": false})))
        .await;
    let room = room_with(&admin, "Far room", true, vec![]).await;
    let enter = admin
        .post(&format!("/api/v1/rooms/{room}/enter"), json!({}))
        .await;
    assert_eq!(enter["server"]["id"], 2, "{enter}");
    admin
        .send("PUT", "/api/v1/servers/1", Some(json!({"active": true})))
        .await;

    // The guest redeems on node 1 and waits on node 2.
    let inv = invite(&admin, room, json!({"uses": "multi"})).await;
    let g = guest(&n1.api(), &token(&inv), "Traveller").await;
    let mut w = connect(&g, room).await;
    let id = w.expect("waiting").await["participant_id"]
        .as_str()
        .unwrap()
        .to_string();
    let g2 = guest(&n2.api(), &token(&inv), "Stranger").await;
    let mut w2 = connect(&g2, room).await;
    let id2 = w2.expect("waiting").await["participant_id"]
        .as_str()
        .unwrap()
        .to_string();

    // Node 1 sees the lobby (its copy in the database) and admits through node 2.
    let lobby = eventually(10, || async {
        let l = admin.get(&format!("/api/v1/rooms/{room}/lobby")).await;
        (l["waiting"].as_array().unwrap().len() == 2).then_some(l)
    })
    .await;
    assert_eq!(lobby["waiting"][0]["user"]["display_name"], "Traveller");
    let (status, out) = admin
        .send(
            "POST",
            &format!("/api/v1/rooms/{room}/lobby/{id}/admit"),
            Some(json!({})),
        )
        .await;
    assert!(
        status == 204 || status == 202,
        "{status} {out}\n{}",
        cluster.logs()
    );
    assert_eq!(w.next().await.unwrap()["type"], "admitted");
    let welcome = w.expect("welcome").await;
    assert_eq!(welcome["server"]["id"], 2);
    let (status, _) = admin
        .send(
            "POST",
            &format!("/api/v1/rooms/{room}/lobby/{id2}/refuse"),
            Some(json!({})),
        )
        .await;
    assert!(status == 204 || status == 202);
    assert_eq!(w2.expect_close().await.code, 4002);
    eventually(10, || async {
        let l = admin.get(&format!("/api/v1/rooms/{room}/lobby")).await;
        l["waiting"].as_array().unwrap().is_empty().then_some(())
    })
    .await;
    let (status, _) = admin
        .send(
            "POST",
            &format!("/api/v1/rooms/{room}/lobby/{id2}/admit"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 404);
}
