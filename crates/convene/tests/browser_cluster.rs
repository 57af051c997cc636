//! The web UI in a cluster: a browser signed in on one node follows its room to the
//! node that hosts it, and follows it again, by itself, when that node is drained.

use crate::common;

use common::browser::{Driver, enter_room, sign_in, wait_for, wait_for_text};
use common::cluster::Cluster;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn the_room_page_follows_redirects_and_drains() {
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    let admin = cluster.node(1).admin().await;
    admin.create_people(&["ann"]).await;
    // The room goes to node 2 while the browser signs in on node 1.
    admin
        .send("PUT", "/api/v1/servers/1", Some(json!({"active": false})))
        .await;
    let room = admin.create_room("Travelling room", 10).await;
    assert_eq!(
        admin
            .post(&format!("/api/v1/rooms/{room}/enter"), json!({}))
            .await["server"]["id"],
        2
    );
    admin
        .send("PUT", "/api/v1/servers/1", Some(json!({"active": true})))
        .await;

    let ann = driver.browser().await;
    sign_in(&ann, &cluster.node(1).url, "ann", "ann-password").await;
    enter_room(&ann, room).await;
    let url = ann.current_url().await.unwrap();
    assert_eq!(
        url.port(),
        reqwest::Url::parse(&cluster.node(2).url).unwrap().port(),
        "redirected to node 2: {url}"
    );
    let where_is_ann = || async {
        let conns = admin.get("/api/v1/connections").await;
        conns
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["user"]["login"] == "ann")
            .map(|c| c["server"]["id"].as_i64().unwrap())
    };
    assert_eq!(where_is_ann().await, Some(2));

    // Drain node 2: the page shows the notice, then re-enters on node 1 by itself.
    admin
        .post("/api/v1/servers/2/drain", json!({"deadline_seconds": 2}))
        .await;
    wait_for_text(&ann, "#room", "drained").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if where_is_ann().await == Some(1) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the page did not move to node 1"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    wait_for(&ann, "#room[data-state=\"open\"]").await;
    ann.close().await.unwrap();
}
