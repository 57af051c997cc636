//! Cluster mode with real processes: a throwaway PostgreSQL and two or three
//! `convene` nodes on loopback ports. The first test replays the seed's "Ensure
//! everything works as expected".

use crate::common;

use common::cluster::Cluster;
use common::ws::Participant;
use common::{Api, eventually};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, Instant};

async fn signed_in(node_api: Api, login: &str) -> Api {
    let mut api = node_api;
    api.login(login, &format!("{login}-password")).await;
    api
}

fn count_in(rooms: &Value, room: i64) -> i64 {
    rooms
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == room)
        .unwrap()["participants"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn seed_scenarios_on_two_nodes() {
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    let (n1, n2) = (cluster.node(1), cluster.node(2));
    let admin = n1.admin().await;
    admin.create_people(&["u1", "u2", "u3"]).await;
    let room_a = admin.create_room("Room A", 20).await;
    let room_b = admin.create_room("Room B", 20).await;

    // Administration → Servers on either node lists both nodes, up.
    let servers = n2.admin().await.get("/api/v1/servers").await;
    let up: Vec<_> = servers
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "up")
        .map(|s| s["id"].as_i64().unwrap())
        .collect();
    assert_eq!(up, [1, 2], "{servers}");
    assert!(
        servers
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["storage"] == "ok"),
        "{servers}"
    );

    // Scenario 1: two users log in on the same node and go to the same room.
    let u1 = signed_in(n1.api(), "u1").await;
    let u2 = signed_in(n1.api(), "u2").await;
    assert_eq!(count_in(&u1.get("/api/v1/rooms").await, room_a), 0);
    let enter1 = u1
        .post(&format!("/api/v1/rooms/{room_a}/enter"), json!({}))
        .await;
    let host_a = enter1["server"]["id"].as_i64().unwrap();
    let mut p1 = Participant::connect(enter1["ws_url"].as_str().unwrap()).await;
    assert_eq!(p1.expect("welcome").await["server"]["id"], host_a);
    // The room list shows the right count before u2 enters, on both nodes.
    assert_eq!(count_in(&u2.get("/api/v1/rooms").await, room_a), 1);
    assert_eq!(
        count_in(&n2.admin().await.get("/api/v1/rooms").await, room_a),
        1
    );
    let enter2 = u2
        .post(&format!("/api/v1/rooms/{room_a}/enter"), json!({}))
        .await;
    assert_eq!(
        enter2["server"]["id"], host_a,
        "the same room is on the same node"
    );
    let mut p2 = Participant::connect(enter2["ws_url"].as_str().unwrap()).await;
    let welcome2 = p2.expect("welcome").await;
    assert_eq!(
        welcome2["participants"].as_array().unwrap().len(),
        2,
        "both in the same room"
    );
    assert_eq!(
        p1.expect("joined").await["participant"]["user"]["login"],
        "u2"
    );

    // Scenario 2: a user on the other node enters a different room: the other node hosts it.
    let u3 = signed_in(n2.api(), "u3").await;
    let enter3 = u3
        .post(&format!("/api/v1/rooms/{room_b}/enter"), json!({}))
        .await;
    let host_b = enter3["server"]["id"].as_i64().unwrap();
    assert_ne!(host_b, host_a, "two rooms on two nodes go one to each node");
    let mut p3 = Participant::connect(enter3["ws_url"].as_str().unwrap()).await;
    p3.expect("welcome").await;

    // Administration → Connections, from either node, shows where everyone is.
    for node in [n1, n2] {
        let conns = node.admin().await.get("/api/v1/connections").await;
        let seen: HashSet<(String, i64)> = conns
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["user"]["login"].as_str().unwrap().to_string(),
                    c["server"]["id"].as_i64().unwrap(),
                )
            })
            .collect();
        let want: HashSet<(String, i64)> = [
            ("u1".into(), host_a),
            ("u2".into(), host_a),
            ("u3".into(), host_b),
        ]
        .into();
        assert_eq!(seen, want, "connections seen from node {}", node.id);
    }
    let servers = n1.admin().await.get("/api/v1/servers").await;
    for s in servers.as_array().unwrap() {
        let expected = if s["id"] == host_a { 2 } else { 1 };
        assert_eq!(
            (s["rooms"].as_i64(), s["participants"].as_i64()),
            (Some(1), Some(expected)),
            "{s}"
        );
    }

    // A session made on one node is valid on the other.
    let mut on_n2 = u1.on(&n2.url);
    assert_eq!(on_n2.get("/api/v1/me").await["login"], "u1");
    on_n2.sid = Some("x".repeat(43));
    assert_eq!(on_n2.send("GET", "/api/v1/me", None).await.0, 401);

    // Tokens: a replay is refused; so is a token presented to a node it was not made for.
    let mut replay = Participant::connect(enter1["ws_url"].as_str().unwrap()).await;
    assert_eq!(replay.expect_close().await.code, 4401);
    let fresh = u1
        .post(&format!("/api/v1/rooms/{room_a}/enter"), json!({}))
        .await;
    let other = cluster.nodes.iter().find(|n| n.id != host_a).unwrap();
    let token = fresh["token"].as_str().unwrap();
    let mut foreign = Participant::connect(&format!(
        "{}/ws?token={token}",
        other.url.replace("http", "ws")
    ))
    .await;
    assert_eq!(foreign.expect_close().await.code, 4401);
    // The browser redirect: the room page on the hosting node signs u2 in from a token.
    let enter = u2
        .post(&format!("/api/v1/rooms/{room_a}/enter"), json!({}))
        .await;
    assert!(
        enter["room_url"]
            .as_str()
            .unwrap()
            .starts_with(&cluster.nodes.iter().find(|n| n.id == host_a).unwrap().url)
    );
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = browser
        .get(enter["room_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(
        res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("convene_sid=")
    );
    drop((p1, p2, p3));
}

/// Many users entering a new room at the same moment through different nodes never
/// split it over two nodes.
#[tokio::test]
async fn simultaneous_first_entries_never_split_a_room() {
    let Some(cluster) = Cluster::start(3).await else {
        return;
    };
    let admin = cluster.node(1).admin().await;
    let apis: Vec<Api> = cluster.nodes.iter().map(|n| admin.on(&n.url)).collect();
    let mut hosts_used = HashSet::new();
    for round in 0..50 {
        let room = admin.create_room(&format!("Race {round}"), 10).await;
        let mut handles = Vec::new();
        for api in apis.iter().chain(apis.iter()) {
            let api = api.clone();
            handles.push(tokio::spawn(async move {
                api.post(&format!("/api/v1/rooms/{room}/enter"), json!({}))
                    .await["server"]["id"]
                    .as_i64()
                    .unwrap()
            }));
        }
        let mut hosts = HashSet::new();
        for h in handles {
            hosts.insert(h.await.unwrap());
        }
        assert_eq!(
            hosts.len(),
            1,
            "round {round}: room {room} split over {hosts:?}"
        );
        hosts_used.extend(hosts);
    }
    assert_eq!(
        hosts_used.len(),
        3,
        "new rooms spread over all nodes: {hosts_used:?}"
    );
}

/// Admin actions on one node reach participants held by another node.
#[tokio::test]
async fn kicks_edits_and_closures_cross_nodes() {
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    let admin = cluster.node(1).admin().await;
    admin.create_people(&["kim", "lee"]).await;
    let room = admin.create_room("Staff room", 20).await;
    let kim = signed_in(cluster.node(1).api(), "kim").await;
    let lee = signed_in(cluster.node(1).api(), "lee").await;
    let mut k = kim.join(room).await;
    let mut l = lee.join(room).await;
    let host = k.welcome["server"]["id"].as_i64().unwrap();
    let other = cluster.nodes.iter().find(|n| n.id != host).unwrap();
    let remote_admin = other.admin().await;

    // An edit made on the other node is applied live by the host.
    remote_admin
        .send(
            "PUT",
            &format!("/api/v1/rooms/{room}"),
            Some(json!({"name": "Staff room 2"})),
        )
        .await;
    assert_eq!(
        k.expect("room_updated").await["room"]["name"],
        "Staff room 2"
    );

    // Rights follow live across nodes: kim is made a moderator of the room, then an
    // administrator (a moderator still when taken off the room's moderators), then a
    // plain user again, which ends the right; each change made on the other node.
    let kim_id = k.welcome["you"]["user"]["id"].as_i64().unwrap();
    let edits = [
        (
            format!("/api/v1/rooms/{room}"),
            json!({"moderators": [kim_id]}),
        ),
        (format!("/api/v1/users/{kim_id}"), json!({"role": "admin"})),
        (format!("/api/v1/rooms/{room}"), json!({"moderators": []})),
        (format!("/api/v1/users/{kim_id}"), json!({"role": "user"})),
    ];
    for (path, body) in edits {
        let (status, out) = remote_admin.send("PUT", &path, Some(body)).await;
        assert_eq!(status, 200, "{path}: {out}");
    }
    assert_eq!(k.expect("moderator").await["moderator"], true);
    assert_eq!(k.expect("moderator").await["moderator"], false);
    k.send(json!({"type": "kick", "participant_id": l.id}))
        .await;
    assert_eq!(k.expect("error").await["code"], "forbidden");

    // A kick from the other node's Connections page.
    let (status, _) = remote_admin
        .send("DELETE", &format!("/api/v1/connections/{}", k.id), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(k.expect_close().await.code, 4001);
    assert_eq!(l.expect("left").await["reason"], "kicked");

    // Disabling a user on the other node closes their connection on the host.
    let lee_id = l.welcome["you"]["user"]["id"].as_i64().unwrap();
    remote_admin
        .send(
            "PUT",
            &format!("/api/v1/users/{lee_id}"),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(l.expect_close().await.code, 4003);

    // Deleting the room on the other node closes it on the host.
    let mut k = kim.join(room).await;
    assert_eq!(
        remote_admin
            .send("DELETE", &format!("/api/v1/rooms/{room}"), None)
            .await
            .0,
        204
    );
    assert_eq!(k.expect_close().await.code, 4003);
}

/// A node that lost its LISTEN connection reconnects and catches up from its last
/// sequence number.
#[tokio::test]
async fn events_survive_a_lost_listening_connection() {
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    let admin = cluster.node(1).admin().await;
    admin.create_people(&["max"]).await;
    let room = admin.create_room("Lab", 20).await;
    let max = signed_in(cluster.node(1).api(), "max").await;
    let mut m = max.join(room).await;
    let host = m.welcome["server"]["id"].as_i64().unwrap();
    let other = cluster.nodes.iter().find(|n| n.id != host).unwrap();

    // Cut every LISTEN connection from the database side.
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&cluster.db_url).await.unwrap();
    let cut = sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query ILIKE 'LISTEN%' AND pid <> pg_backend_pid()")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert!(cut.len() >= 2, "each node listens");
    let (status, _) = other
        .admin()
        .await
        .send("DELETE", &format!("/api/v1/connections/{}", m.id), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(m.expect_close().await.code, 4001);
}

/// Deactivation stops new rooms; a drain moves a node's participants elsewhere, with
/// the chat history intact.
#[tokio::test]
async fn deactivate_and_drain() {
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    let admin = cluster.node(1).admin().await;
    admin.create_people(&["nia"]).await;
    let nia = signed_in(cluster.node(1).api(), "nia").await;

    // Node 2 inactive: new rooms all go to node 1.
    let s = admin
        .send("PUT", "/api/v1/servers/2", Some(json!({"active": false})))
        .await;
    assert_eq!((s.0, s.1["status"].as_str()), (200, Some("inactive")));
    for i in 0..3 {
        let room = admin.create_room(&format!("Only one {i}"), 10).await;
        let e = nia
            .post(&format!("/api/v1/rooms/{room}/enter"), json!({}))
            .await;
        assert_eq!(e["server"]["id"], 1);
    }
    // Node 1 inactive, node 2 active again: the next room goes to node 2.
    admin
        .send("PUT", "/api/v1/servers/2", Some(json!({"active": true})))
        .await;
    admin
        .send("PUT", "/api/v1/servers/1", Some(json!({"active": false})))
        .await;
    let room = admin.create_room("Moving", 10).await;
    let mut p = nia.join(room).await;
    assert_eq!(p.welcome["server"]["id"], 2);
    p.send(json!({"type": "chat", "text": "before the move"}))
        .await;
    p.expect("chat").await;
    admin
        .send("PUT", "/api/v1/servers/1", Some(json!({"active": true})))
        .await;

    // Drain node 2: the participant is told, then closed with 1001, and lands on node 1.
    let drained = admin
        .post("/api/v1/servers/2/drain", json!({"deadline_seconds": 1}))
        .await;
    assert_eq!(drained["status"], "draining");
    assert_eq!(p.expect("draining").await["deadline_seconds"], 1);
    let closed = p.expect_close().await;
    assert_eq!(closed.code, 1001, "{closed:?}");
    let p = nia.join(room).await;
    assert_eq!(p.welcome["server"]["id"], 1, "placed on the other node");
    assert_eq!(p.welcome["history"][0]["text"], "before the move");
    let servers = admin.get("/api/v1/servers").await;
    assert_eq!(servers[1]["status"], "draining");
}

/// `kill -9` of a node: its participants enter again and are placed on a live node
/// within 10 seconds, and the chat history is intact; the dead node's rows are cleared.
#[tokio::test]
async fn a_killed_node_is_replaced_within_ten_seconds() {
    let Some(mut cluster) = Cluster::start(2).await else {
        return;
    };
    let admin = cluster.node(1).admin().await;
    admin.create_people(&["oli", "pam"]).await;
    let room = admin.create_room("Resilient", 10).await;
    let oli = signed_in(cluster.node(1).api(), "oli").await;
    let pam = signed_in(cluster.node(1).api(), "pam").await;
    let mut o = oli.join(room).await;
    let _p = pam.join(room).await;
    o.send(json!({"type": "chat", "text": "still here?"})).await;
    o.expect("chat").await;
    let host = o.welcome["server"]["id"].as_i64().unwrap();
    let survivor = cluster.nodes.iter().find(|n| n.id != host).unwrap().id;
    let survivor_url = cluster.node(survivor).url.clone();
    let (oli, pam) = (oli.on(&survivor_url), pam.on(&survivor_url));

    let killed_at = Instant::now();
    cluster.node_mut(host).kill9();
    // Like the web UI: retry `enter` until a node takes the room.
    let rejoin = |api: Api| async move { common::enter_until_welcome(&api, room).await };
    let ((wo, _o2), (wp, _p2)) = tokio::join!(rejoin(oli), rejoin(pam));
    let elapsed = killed_at.elapsed();
    assert!(elapsed < Duration::from_secs(10), "replaced in {elapsed:?}");
    assert_eq!(wo["server"]["id"], survivor);
    assert_eq!(wp["server"]["id"], survivor);
    assert_eq!(wo["history"][0]["text"], "still here?");
    println!(
        "participants placed again {} ms after kill -9",
        elapsed.as_millis()
    );

    // The dead node shows down; its connection rows are gone.
    let admin = admin.on(&survivor_url);
    eventually(10, || async {
        let conns = admin.get("/api/v1/connections").await;
        conns
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["server"]["id"] == survivor)
            .then_some(())
    })
    .await;
    let servers = admin.get("/api/v1/servers").await;
    let dead = servers
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == host)
        .unwrap();
    assert_eq!(dead["status"], "down");
}

const FAKETIME_LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";

/// A node in another time zone whose clock is also seven minutes fast, a node id
/// already in use, and a node that does not see the shared storage.
#[tokio::test]
async fn time_zones_skewed_clocks_node_ids_and_storage() {
    let faketime = if std::path::Path::new(FAKETIME_LIB).exists() {
        Ok(())
    } else {
        Err("libfaketime not found (apt-get install faketime)".to_string())
    };
    if !common::require("faketime", faketime) {
        return;
    }
    let Some(mut cluster) = Cluster::start(1).await else {
        return;
    };
    let skewed = [
        ("TZ", "Pacific/Kiritimati"),
        ("LD_PRELOAD", FAKETIME_LIB),
        ("FAKETIME", "+7m"),
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
    ];
    cluster.add_node(2, &skewed).await;
    // Its heartbeats are judged by the database clock: it is up, not "from the future".
    let servers = cluster.node(1).admin().await.get("/api/v1/servers").await;
    assert!(
        servers
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "up"),
        "{servers}"
    );
    let admin = cluster.node(1).admin().await;
    admin.create_people(&["quin"]).await;
    let room = admin.create_room("Far away", 10).await;
    // A session from node 2 works on node 1 and the reverse; tokens made by either work.
    let quin = signed_in(cluster.node(2).api(), "quin").await;
    assert_eq!(
        quin.on(&cluster.node(1).url).get("/api/v1/me").await["login"],
        "quin"
    );
    for api in [quin.clone(), quin.on(&cluster.node(1).url)] {
        let p = api.join(room).await;
        assert_eq!(p.welcome["room"]["id"], room);
    }

    // The same node id as a running node: refused, with a reason.
    let storage = cluster.storage.path().to_path_buf();
    let mut twin = common::cluster::NodeProc::spawn(2, &cluster.db_url, &storage, &[]);
    let status = twin.wait_exit();
    assert!(!status.success());
    assert!(
        twin.log_text().contains("node id 2 is already in use"),
        "{}",
        twin.log_text()
    );

    // A node whose storage is not the shared one is flagged, and `convene check` says so.
    let elsewhere = tempfile::tempdir().unwrap();
    let mut lost = common::cluster::NodeProc::spawn(3, &cluster.db_url, elsewhere.path(), &[]);
    lost.wait_ready().await;
    let servers = admin.get("/api/v1/servers").await;
    let storage_of = |id: i64| {
        servers
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()["storage"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        storage_of(3).contains("not the shared storage"),
        "{}",
        storage_of(3)
    );
    assert_eq!(
        (storage_of(1), storage_of(2)),
        ("ok".to_string(), "ok".to_string())
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_convene"))
        .args([
            "check",
            "--node-id",
            "9",
            "--database-url",
            &cluster.db_url,
            "--storage",
        ])
        .arg(elsewhere.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(text.contains("FAIL  shared storage"), "{text}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_convene"))
        .args([
            "check",
            "--node-id",
            "1",
            "--database-url",
            &cluster.db_url,
            "--storage",
        ])
        .arg(&storage)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FAIL  node id 1 is in use"), "{text}");
    assert!(text.contains("ok    shared storage"), "{text}");
    assert!(text.contains("clock skew"), "{text}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_convene"))
        .args([
            "check",
            "--node-id",
            "9",
            "--database-url",
            &cluster.db_url,
            "--storage",
        ])
        .arg(&storage)
        .envs(skewed)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let skew: i64 = text
        .split("clock skew against the database: ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        (400_000..440_000).contains(&skew),
        "seven minutes fast: {skew} ms"
    );
    assert!(
        out.status.success(),
        "a skewed clock is reported, not a failure: {text}"
    );
}
