//! Leases and fencing in the store, on both databases: renewal under an epoch, death
//! declared only once a lease ran out, a dead node's renewal refused, assignments valid
//! only under their host's epoch, and placement moving a room off a dead host.

use crate::common;

use convene::cluster::placement::{Judge, PlacementError, host_for_room};
use convene::ids::{NodeId, RoomId};
use convene::store::{Renewal, RoomKind, RoomWrite, Store};

const N1: NodeId = NodeId(1);
const N2: NodeId = NodeId(2);

/// Ends `node`'s lease now, as if it had stopped renewing for longer than a lease.
async fn expire(store: &Store, node: NodeId) {
    sqlx::query("UPDATE servers SET lease_until = lease_until - 100000 WHERE id = $1")
        .bind(node.0)
        .execute(store.pool())
        .await
        .unwrap();
}

async fn new_room(store: &Store, name: &str) -> RoomId {
    store
        .create_room(&RoomWrite {
            name: name.into(),
            kind: RoomKind::Conference,
            capacity: 10,
            public: true,
            comment: String::new(),
            members: vec![],
            moderators: vec![],
        })
        .await
        .unwrap()
        .id
}

async fn suite(store: Store) {
    let e1 = store
        .register_node(N1, None, "http://a:5080", "one", "t")
        .await
        .unwrap();
    let e2 = store
        .register_node(N2, None, "http://b:5080", "two", "t")
        .await
        .unwrap();
    let judge = Judge {
        node: N1,
        may_judge: true,
    };
    let shy = Judge {
        node: N1,
        may_judge: false,
    };
    assert_eq!(
        store.renew_lease(N2, "two", e2, true).await.unwrap(),
        Renewal::Renewed
    );
    assert_eq!(
        store.renew_lease(N2, "other", e2, true).await.unwrap(),
        Renewal::Lost,
        "another process's renewal"
    );

    // A room on node 2 stays there while its lease holds.
    let first = new_room(&store, "first").await;
    let second = new_room(&store, "second").await;
    assert_eq!(host_for_room(&store, first, judge).await.unwrap().id, N1);
    assert_eq!(host_for_room(&store, second, judge).await.unwrap().id, N2);
    assert!(store.declare_dead_nodes(N1).await.unwrap().is_empty());

    // Its lease ran out: a node that may not judge yet does not move the room.
    expire(&store, N2).await;
    assert!(matches!(
        host_for_room(&store, second, shy).await,
        Err(PlacementError::HostUnreachable)
    ));
    // An expired lease under an unchanged epoch can still be renewed: no one took it.
    assert_eq!(
        store.renew_lease(N2, "two", e2, true).await.unwrap(),
        Renewal::Renewed
    );
    assert_eq!(host_for_room(&store, second, judge).await.unwrap().id, N2);

    // Ran out again, and now a judge declares it dead on entry: the room moves, and
    // node 2 can no longer renew: it must drop its rooms and register again.
    expire(&store, N2).await;
    assert_eq!(host_for_room(&store, second, judge).await.unwrap().id, N1);
    assert_eq!(
        store.renew_lease(N2, "two", e2, true).await.unwrap(),
        Renewal::Lost
    );
    let e2b = store
        .register_node(N2, None, "http://b:5080", "two", "t")
        .await
        .unwrap();
    assert!(e2b > e2, "the epoch only grows: {e2} then {e2b}");
    assert_eq!(
        store.renew_lease(N2, "two", e2b, true).await.unwrap(),
        Renewal::Renewed
    );
    assert_eq!(host_for_room(&store, second, judge).await.unwrap().id, N1);

    // An assignment made under an old epoch does not count.
    let third = new_room(&store, "third").await;
    store.assign_room_host(third, N2, e2).await.unwrap();
    let placed = host_for_room(&store, third, judge).await.unwrap();
    let host = store.room_host(third).await.unwrap().unwrap();
    assert_eq!((host.node, host.epoch), (placed.id, placed.epoch));
    assert!(host.node != N2 || host.epoch == e2b);

    // The janitor: a node whose lease ran out, holding rooms, is declared dead once.
    let fourth = new_room(&store, "fourth").await;
    store.assign_room_host(fourth, N2, e2b).await.unwrap();
    expire(&store, N2).await;
    let dead = store.declare_dead_nodes(N1).await.unwrap();
    assert_eq!(dead.iter().map(|d| d.0).collect::<Vec<_>>(), vec![N2]);
    assert!(store.room_host(fourth).await.unwrap().is_none());
    assert!(store.declare_dead_nodes(N1).await.unwrap().is_empty());
    // A judge never declares itself dead.
    expire(&store, N1).await;
    assert!(store.declare_dead_nodes(N1).await.unwrap().is_empty());
    // An unready node gets no new rooms.
    store.renew_lease(N1, "one", e1, false).await.unwrap();
    assert!(matches!(
        host_for_room(&store, new_room(&store, "fifth").await, judge).await,
        Err(PlacementError::NoServer)
    ));
}

#[tokio::test]
async fn leases_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
    suite(Store::open(&url).await.unwrap()).await;
}

#[tokio::test]
async fn leases_on_postgres() {
    let Some(pg) = common::pg::server() else {
        return;
    };
    let url = pg.create_database("leases").await;
    suite(Store::open(&url).await.unwrap()).await;
}
