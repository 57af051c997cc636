//! Room affinity under faults, on real `convene` processes and a real PostgreSQL: a
//! paused node, a node cut from the database, PostgreSQL restarts. Each test checks
//! what an operator would: no room served by two nodes for longer than the lease plus
//! a second, no acknowledged chat message lost, and convergence by itself.

use crate::common;

use common::cluster::Cluster;
use common::faults::{RoamLog, Roamer, TcpProxy, assert_no_acked_chat_lost, longest_split};
use common::{Api, eventually};
use std::time::Duration;
use tokio::time::Instant;

/// The lease (5 s) plus a second: the longest two nodes may both serve one room.
const SPLIT_LIMIT: Duration = Duration::from_secs(6);
/// A node judges others only after renewing without a break for this long.
const JUDGE_AFTER: Duration = Duration::from_secs(10);

async fn signed_in(api: Api, login: &str) -> Api {
    let mut api = api;
    api.login(login, &format!("{login}-password")).await;
    api
}

/// Waits until every roamer is connected to `node`.
async fn all_on(roamers: &[&Roamer], node: i64, secs: u64) {
    eventually(secs, || async {
        roamers
            .iter()
            .all(|r| r.snapshot().current == Some(node))
            .then_some(())
    })
    .await;
}

fn pongs_from_after(logs: &[RoamLog], node: i64, after: Instant) -> usize {
    logs.iter()
        .flat_map(|l| l.pongs.iter())
        .filter(|(n, t)| *n == node && *t > after)
        .count()
}

/// The longest time between two pongs of one participant after `from`.
fn longest_gap(log: &RoamLog, from: Instant) -> Duration {
    log.pongs
        .windows(2)
        .filter(|w| w[0].1 >= from)
        .map(|w| w[1].1 - w[0].1)
        .max()
        .unwrap_or_default()
}

async fn metric(api: &Api, name: &str) -> f64 {
    let text = api
        .http
        .get(format!("{}/metrics", api.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("metric {name} missing"))
}

#[tokio::test]
async fn a_paused_node_fences_itself_and_never_serves_a_moved_room() {
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    let started = Instant::now();
    let (n1, n2) = (cluster.node(1).url.clone(), cluster.node(2).url.clone());
    let admin = cluster.node(1).admin().await;
    admin.create_people(&["ann", "ben", "cat", "dan"]).await;
    let room = admin.create_room("Paused", 10).await;
    let ann = signed_in(cluster.node(1).api(), "ann").await;
    let ben = signed_in(cluster.node(1).api(), "ben").await;
    let cat = signed_in(cluster.node(1).api(), "cat").await;
    let dan = signed_in(cluster.node(1).api(), "dan").await;
    // The first entry places the room on node 1 (least loaded, lower id).
    let a = Roamer::spawn(&ann, vec![n1.clone(), n2.clone()], room, "ann", false);
    all_on(&[&a], 1, 20).await;
    let b = Roamer::spawn(&ben, vec![n2.clone(), n1.clone()], room, "ben", false);
    let c = Roamer::spawn(&cat, vec![n1.clone(), n2.clone()], room, "cat", false);
    // Holds on to its connection to node 1 whatever happens, to see whether node 1
    // goes on serving it after the pause.
    let sticky = Roamer::spawn(&dan, vec![n1.clone()], room, "dan", true);
    all_on(&[&a, &b, &c, &sticky], 1, 20).await;
    tokio::time::sleep_until(started + JUDGE_AFTER + Duration::from_secs(1)).await;

    let paused_at = Instant::now();
    cluster.node(1).signal("STOP");
    // The others move to node 2 while node 1 sleeps.
    all_on(&[&a, &b, &c], 2, 25).await;
    let moved_after = paused_at.elapsed();
    tokio::time::sleep_until(paused_at + Duration::from_secs(15)).await;
    let resumed_at = Instant::now();
    cluster.node(1).signal("CONT");

    // Node 1 learns at once that it lost the room: the sticky participant is closed
    // with 4010 and answered nothing after the pause.
    eventually(5, || async {
        (!sticky.snapshot().closes.is_empty()).then_some(())
    })
    .await;
    let s = sticky.snapshot();
    let (closed_by, code, closed_at) = s.closes[0];
    assert_eq!((closed_by, code), (1, 4010), "sticky participant's close");
    let fenced_after_resume = closed_at.saturating_duration_since(resumed_at);
    // Node 1 comes back as a live, empty node; the room stays on node 2.
    let admin2 = admin.on(&n2);
    eventually(15, || async {
        let servers = admin2.get("/api/v1/servers").await;
        (servers[0]["status"] == "up").then_some(())
    })
    .await;
    let again = dan.on(&n1);
    let (status, e) = again
        .send(
            "POST",
            &format!("/api/v1/rooms/{room}/enter"),
            Some(serde_json::json!({})),
        )
        .await;
    assert_eq!(status, 200, "{e}");
    assert_eq!(e["server"]["id"], 2, "the room stays where it moved");
    tokio::time::sleep(Duration::from_secs(2)).await;

    let logs = vec![
        a.stop().await,
        b.stop().await,
        c.stop().await,
        sticky.stop().await,
    ];
    assert_eq!(
        pongs_from_after(&logs, 1, resumed_at),
        0,
        "node 1 served the room after its pause"
    );
    let split = longest_split(&logs);
    assert!(
        split <= SPLIT_LIMIT,
        "room split over two nodes for {split:?}"
    );
    let checked = assert_no_acked_chat_lost(&cluster.db_url, room, &logs).await;
    assert!(checked > 10, "too few messages acknowledged: {checked}");
    let node1 = cluster.node(1).api();
    assert!(metric(&node1, "convene_lease_fences_total").await >= 1.0);
    assert!(metric(&node1, "convene_lease_losses_total").await >= 1.0);
    println!(
        "pause: participants on node 2 {} ms after SIGSTOP; node 1 closed its room {} ms after SIGCONT; \
         longest split {} ms; {checked} acknowledged messages all stored",
        moved_after.as_millis(),
        fenced_after_resume.as_millis(),
        split.as_millis()
    );
    assert!(
        fenced_after_resume < Duration::from_secs(2),
        "fenced {fenced_after_resume:?} after resuming"
    );
}

#[tokio::test]
async fn a_node_cut_from_the_database_stops_serving_and_its_rooms_move() {
    let Some(mut cluster) = Cluster::start(1).await else {
        return;
    };
    let proxy = TcpProxy::start(cluster.pg.port()).await;
    let via_proxy = cluster.db_url.replace(
        &format!(":{}/", cluster.pg.port()),
        &format!(":{}/", proxy.port),
    );
    cluster.add_node_via(2, &via_proxy, &[]).await;
    let started = Instant::now();
    let (n1, n2) = (cluster.node(1).url.clone(), cluster.node(2).url.clone());
    let admin = cluster.node(1).admin().await;
    admin.create_people(&["eve", "fay", "gus", "hal"]).await;
    let other = admin.create_room("Elsewhere", 10).await;
    let room = admin.create_room("Cut off", 10).await;
    let eve = signed_in(cluster.node(1).api(), "eve").await;
    let fay = signed_in(cluster.node(1).api(), "fay").await;
    let gus = signed_in(cluster.node(1).api(), "gus").await;
    let hal = signed_in(cluster.node(1).api(), "hal").await;
    // The first room goes to node 1, so the second, by load, to node 2.
    let o = Roamer::spawn(&hal, vec![n1.clone()], other, "hal", false);
    all_on(&[&o], 1, 20).await;
    let e = Roamer::spawn(&eve, vec![n2.clone(), n1.clone()], room, "eve", false);
    all_on(&[&e], 2, 20).await;
    let f = Roamer::spawn(&fay, vec![n1.clone(), n2.clone()], room, "fay", false);
    let sticky = Roamer::spawn(&gus, vec![n2.clone()], room, "gus", true);
    all_on(&[&e, &f, &sticky], 2, 20).await;
    tokio::time::sleep_until(started + JUDGE_AFTER + Duration::from_secs(1)).await;

    let cut_at = Instant::now();
    proxy.cut();
    // A new entry on the cut node fails fast with 503, not after a long hang.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let asked = Instant::now();
    let (status, _) = gus
        .on(&n2)
        .send(
            "POST",
            &format!("/api/v1/rooms/{room}/enter"),
            Some(serde_json::json!({})),
        )
        .await;
    let enter_took = asked.elapsed();
    assert_eq!(status, 503, "enter on a node cut from the database");
    assert!(
        enter_took < Duration::from_secs(7),
        "enter took {enter_took:?}"
    );
    // Node 2 stops serving by itself once its lease runs out, without the database.
    eventually(10, || async {
        (!sticky.snapshot().closes.is_empty()).then_some(())
    })
    .await;
    let s = sticky.snapshot();
    let (by, code, closed_at) = s.closes[0];
    assert_eq!((by, code), (2, 4010), "sticky participant's close");
    let fenced_after = closed_at - cut_at;
    assert!(
        fenced_after <= SPLIT_LIMIT,
        "fenced {fenced_after:?} after the cut"
    );
    // Until then its room did not freeze: pongs kept coming.
    let gaps = s
        .pongs
        .windows(2)
        .filter(|w| w[0].1 >= cut_at)
        .map(|w| w[1].1 - w[0].1)
        .max()
        .unwrap_or_default();
    assert!(
        gaps < Duration::from_secs(2),
        "the room froze for {gaps:?} during the cut"
    );
    // The others move to node 1 while the cut lasts.
    let moved = tokio::time::timeout(Duration::from_secs(25), async {
        while !(e.snapshot().current == Some(1) && f.snapshot().current == Some(1)) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(
        moved.is_ok(),
        "participants did not move during the cut:\n{}",
        cluster.logs()
    );
    let moved_after = cut_at.elapsed();
    tokio::time::sleep_until(cut_at + Duration::from_secs(20)).await;
    let restored_at = Instant::now();
    proxy.restore();

    // Node 2 finds it was declared dead, drops everything and registers again.
    let admin = admin.on(&n1);
    eventually(20, || async {
        let servers = admin.get("/api/v1/servers").await;
        (servers[1]["status"] == "up").then_some(())
    })
    .await;
    let back_after = restored_at.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(o.snapshot().current == Some(1), "the other room kept going");
    let logs = vec![e.stop().await, f.stop().await, sticky.stop().await];
    assert_eq!(
        pongs_from_after(&logs, 2, cut_at + SPLIT_LIMIT),
        0,
        "node 2 served the room after its lease ran out"
    );
    let split = longest_split(&logs);
    assert!(
        split <= SPLIT_LIMIT,
        "room split over two nodes for {split:?}"
    );
    let checked = assert_no_acked_chat_lost(&cluster.db_url, room, &logs).await;
    let other_log = o.stop().await;
    assert_no_acked_chat_lost(&cluster.db_url, other, &[other_log]).await;
    let node2 = cluster.node(2).api();
    assert!(metric(&node2, "convene_lease_losses_total").await >= 1.0);
    assert!(metric(&cluster.node(1).api(), "convene_evictions_total").await >= 1.0);
    println!(
        "cut: enter on the cut node answered 503 in {} ms; it fenced itself {} ms after the cut; \
         participants on node 1 {} ms after the cut; node 2 up again {} ms after the cut ended; \
         longest split {} ms; {checked} acknowledged messages all stored",
        enter_took.as_millis(),
        fenced_after.as_millis(),
        moved_after.as_millis(),
        back_after.as_millis(),
        split.as_millis()
    );
}

#[tokio::test]
async fn postgres_restarts_of_5_10_and_30_seconds_split_nothing_and_keep_every_room_in_place() {
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    let (n1, n2) = (cluster.node(1).url.clone(), cluster.node(2).url.clone());
    let admin = cluster.node(1).admin().await;
    admin.create_people(&["ida", "jon", "kim", "lea"]).await;
    let r1 = admin.create_room("One", 10).await;
    let r2 = admin.create_room("Two", 10).await;
    let api = |login: &'static str| signed_in(cluster.node(1).api(), login);
    let (ida, jon, kim, lea) = (
        api("ida").await,
        api("jon").await,
        api("kim").await,
        api("lea").await,
    );
    let both = |first: &str, second: &str| vec![first.to_string(), second.to_string()];
    let i = Roamer::spawn(&ida, both(&n1, &n2), r1, "ida", false);
    all_on(&[&i], 1, 20).await;
    let k = Roamer::spawn(&kim, both(&n2, &n1), r2, "kim", false);
    all_on(&[&k], 2, 20).await;
    let j = Roamer::spawn(&jon, both(&n2, &n1), r1, "jon", false);
    let l = Roamer::spawn(&lea, both(&n1, &n2), r2, "lea", false);
    all_on(&[&i, &j], 1, 20).await;
    all_on(&[&k, &l], 2, 20).await;

    let mut figures = Vec::new();
    for outage in [5u64, 10, 30] {
        let down_at = Instant::now();
        cluster.pg.stop_fast();
        tokio::time::sleep(Duration::from_secs(outage)).await;
        cluster.pg.start_again();
        let up_at = Instant::now();
        // Everyone is back in the same room on the same node as before.
        all_on(&[&i, &j], 1, 30).await;
        all_on(&[&k, &l], 2, 30).await;
        // What participants saw: the longest time without an answer from their room.
        let gap = [&i, &j, &k, &l]
            .iter()
            .map(|r| longest_gap(&r.snapshot(), down_at - Duration::from_secs(1)))
            .max()
            .unwrap_or_default();
        figures.push(format!(
            "{outage} s restart: all back {} ms after the database returned ({} ms after it stopped), \
             longest time without an answer from the room {} ms",
            up_at.elapsed().as_millis(),
            down_at.elapsed().as_millis(),
            gap.as_millis()
        ));
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    // The room list counts everyone again, once.
    let rooms = admin.on(&n2).get("/api/v1/rooms").await;
    for r in [r1, r2] {
        let entry = rooms
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == r)
            .unwrap();
        assert_eq!(
            entry["participants"], 2,
            "room {r} in the room list: {entry}"
        );
    }
    let one = vec![i.stop().await, j.stop().await];
    let two = vec![k.stop().await, l.stop().await];
    assert_eq!(
        pongs_from_after(&one, 2, Instant::now() - Duration::from_secs(3600)),
        0
    );
    assert_eq!(
        pongs_from_after(&two, 1, Instant::now() - Duration::from_secs(3600)),
        0
    );
    assert_eq!(longest_split(&one), Duration::ZERO);
    assert_eq!(longest_split(&two), Duration::ZERO);
    let checked = assert_no_acked_chat_lost(&cluster.db_url, r1, &one).await
        + assert_no_acked_chat_lost(&cluster.db_url, r2, &two).await;
    let errors: usize = one.iter().chain(&two).map(|l| l.errors.len()).sum();
    println!(
        "{}; {checked} acknowledged messages all stored; {errors} messages refused while the database was away",
        figures.join("; ")
    );
}
