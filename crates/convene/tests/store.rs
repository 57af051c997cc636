//! The store against both databases: the same suite on SQLite and on a throwaway
//! PostgreSQL.

use crate::common;

use convene::cluster::placement::{Judge, host_for_room};
use convene::ids::{ConnectionId, NodeId, RoomId, UserId};
use convene::store::{AccountError, NewConnection, Role, RoomKind, RoomWrite, Store};

/// A judge that may not declare nodes dead (both nodes here are alive anyway).
const JUDGE: Judge = Judge {
    node: NodeId(1),
    may_judge: false,
};

fn room(name: &str, capacity: i64, public: bool, members: Vec<UserId>) -> RoomWrite {
    RoomWrite {
        name: name.into(),
        kind: RoomKind::Conference,
        capacity,
        public,
        comment: String::new(),
        members,
        moderators: vec![],
    }
}

async fn suite(store: Store) {
    // Clock: the database's, in UTC milliseconds, close to ours on one machine.
    let now = store.now_ms().await.unwrap();
    assert!((chrono::Utc::now().timestamp_millis() - now).abs() < 5_000);

    // Accounts: unique logins, updates, deletion.
    let alice = store
        .create_user("alice", "h1", Role::User, "Alice")
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .create_user("alice", "h2", Role::User, "")
            .await
            .unwrap()
            .is_none()
    );
    let bob = store
        .create_user("bob", "h3", Role::Admin, "Bob")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.count_users().await.unwrap(), 2);
    let (u, hash) = store.user_with_hash("alice").await.unwrap().unwrap();
    assert_eq!((u.id, hash.as_str(), u.role), (alice.id, "h1", Role::User));
    let u = store
        .update_user(
            alice.id,
            Some(Role::Webservice),
            Some("A."),
            Some(false),
            Some("h9"),
        )
        .await
        .unwrap();
    assert_eq!(
        (u.role, u.display_name.as_str(), u.enabled),
        (Role::Webservice, "A.", false)
    );
    assert!(matches!(
        store
            .update_user(UserId(9999), None, None, None, None)
            .await,
        Err(AccountError::NotFound)
    ));
    store
        .update_user(alice.id, Some(Role::User), None, Some(true), None)
        .await
        .unwrap();

    // Sessions: valid until expiry (database clock); deleted on logout.
    let sid = store.create_session(alice.id, "api", 60_000).await.unwrap();
    assert_eq!(
        store.session_user(&sid).await.unwrap().unwrap().user.id,
        alice.id
    );
    let expired = store.create_session(alice.id, "api", -1).await.unwrap();
    assert!(store.session_user(&expired).await.unwrap().is_none());
    assert_eq!(store.purge_expired_sessions().await.unwrap(), 1);
    store.delete_session(&sid).await.unwrap();
    assert!(store.session_user(&sid).await.unwrap().is_none());
    assert!(store.session_user("not-a-token").await.unwrap().is_none());

    // Rooms with members and moderators.
    let mut w = room("Maths", 10, false, vec![alice.id]);
    w.moderators = vec![bob.id];
    let maths = store.create_room(&w).await.unwrap();
    assert_eq!(
        (maths.members.clone(), maths.moderators.clone()),
        (vec![alice.id], vec![bob.id])
    );
    assert!(maths.admits(alice.id) && maths.admits(bob.id) && !maths.admits(UserId(77)));
    let mut w2 = room("Maths 2", 20, true, vec![]);
    w2.kind = RoomKind::Interview;
    let updated = store.update_room(maths.id, &w2).await.unwrap().unwrap();
    assert_eq!(
        (updated.name.as_str(), updated.kind, updated.capacity),
        ("Maths 2", RoomKind::Interview, 20)
    );
    assert!(updated.members.is_empty());
    assert!(store.update_room(RoomId(999), &w2).await.unwrap().is_none());
    let art = store
        .create_room(&room("Art", 5, true, vec![]))
        .await
        .unwrap();
    assert_eq!(store.list_rooms().await.unwrap().len(), 2);
    // Members and moderators come sorted, from one room and from the list alike.
    let duo = store
        .create_room(&room("Duo", 5, false, vec![bob.id, alice.id]))
        .await
        .unwrap();
    assert_eq!(duo.members, vec![alice.id, bob.id]);
    let listed = store.list_rooms().await.unwrap();
    let listed = listed.iter().find(|r| r.id == duo.id).unwrap();
    assert_eq!(
        listed.members,
        vec![alice.id, bob.id],
        "list_rooms sorts too"
    );
    assert!(store.delete_room(duo.id).await.unwrap());

    // Nodes, entry tokens: single use, bound to a node, expiring.
    let n1 = NodeId(1);
    let n2 = NodeId(2);
    store
        .register_node(n1, Some("one"), "http://a:5080", "i1", "t")
        .await
        .unwrap();
    store
        .register_node(n2, Some("two"), "http://b:5080", "i2", "t")
        .await
        .unwrap();
    assert!(
        store
            .register_node(n1, Some("one"), "http://a:5080", "i3", "t")
            .await
            .is_err(),
        "a live id is refused"
    );
    let token = store
        .create_entry_token(alice.id, art.id, n1, 60_000)
        .await
        .unwrap();
    assert!(
        store
            .redeem_entry_token(&token, n2)
            .await
            .unwrap()
            .is_none(),
        "foreign node"
    );
    assert!(
        store
            .redeem_entry_token(&token, n1)
            .await
            .unwrap()
            .is_none(),
        "a refused token is burnt"
    );
    let token = store
        .create_entry_token(alice.id, art.id, n1, 60_000)
        .await
        .unwrap();
    let grant = store.redeem_entry_token(&token, n1).await.unwrap().unwrap();
    assert_eq!((grant.user, grant.room), (alice.id, art.id));
    assert!(
        store
            .redeem_entry_token(&token, n1)
            .await
            .unwrap()
            .is_none(),
        "replay"
    );
    let old = store
        .create_entry_token(alice.id, art.id, n1, -1)
        .await
        .unwrap();
    assert!(
        store.redeem_entry_token(&old, n1).await.unwrap().is_none(),
        "expired"
    );

    // Connections and live counts, per room and per node.
    let c1 = ConnectionId::random();
    let c2 = ConnectionId::random();
    for (c, node) in [(&c1, n1), (&c2, n2)] {
        store
            .insert_connection(&NewConnection {
                id: c,
                user: alice.id,
                room: art.id,
                server: node,
                remote_addr: "127.0.0.1",
                user_agent: "test",
            })
            .await
            .unwrap();
    }
    assert_eq!(store.participant_counts().await.unwrap()[&art.id], 2);
    let list = store.list_connections().await.unwrap();
    assert_eq!(list.len(), 2);
    assert!(
        list.iter()
            .any(|c| c.server_name == "two" && c.login == "alice")
    );
    assert_eq!(
        store.delete_node_connections(n2).await.unwrap(),
        1,
        "only that node's rows"
    );
    assert_eq!(store.room_connections(art.id).await.unwrap().len(), 1);
    store.delete_connection(&c1).await.unwrap();
    assert!(store.participant_counts().await.unwrap().is_empty());

    // Chat history: the last N, oldest first.
    for i in 0..5 {
        store
            .insert_chat(art.id, alice.id, "alice", "Alice", &format!("m{i}"))
            .await
            .unwrap();
    }
    let recent = store.recent_chat(art.id, 3).await.unwrap();
    let bodies: Vec<_> = recent.iter().map(|c| c.body.as_str()).collect();
    assert_eq!(bodies, ["m2", "m3", "m4"]);

    // Throttling: after 3 attempts the next must wait; parallel attempts are counted
    // one by one, so exactly 3 of 8 get through.
    let mut parallel = Vec::new();
    for _ in 0..8 {
        let s = store.clone();
        parallel.push(tokio::spawn(async move {
            s.reserve_login_attempt("login:y", 3).await.unwrap()
        }));
    }
    let mut allowed = 0;
    for p in parallel {
        match p.await.unwrap() {
            None => allowed += 1,
            Some(wait) => assert!((1..=1000).contains(&wait), "{wait}"),
        }
    }
    assert_eq!(allowed, 3, "parallel attempts cannot slip past the limit");
    store.clear_login_failures("login:y").await.unwrap();
    assert_eq!(
        store.reserve_login_attempt("login:y", 3).await.unwrap(),
        None
    );

    // Placement: concurrent first entries agree on one host; capacity spreads rooms.
    let a = store
        .create_room(&room("A", 50, true, vec![]))
        .await
        .unwrap();
    let b = store
        .create_room(&room("B", 50, true, vec![]))
        .await
        .unwrap();
    let mut handles = Vec::new();
    for _ in 0..8 {
        let s = store.clone();
        handles.push(tokio::spawn(async move {
            host_for_room(&s, a.id, JUDGE).await.unwrap().id
        }));
    }
    let mut hosts = Vec::new();
    for h in handles {
        hosts.push(h.await.unwrap());
    }
    assert!(
        hosts.windows(2).all(|w| w[0] == w[1]),
        "one host: {hosts:?}"
    );
    let host_b = host_for_room(&store, b.id, JUDGE).await.unwrap().id;
    assert_ne!(hosts[0], host_b, "the second room goes to the other node");

    // Deleting a room or user takes its dependants with it.
    assert!(store.delete_room(art.id).await.unwrap());
    assert!(store.recent_chat(art.id, 10).await.unwrap().is_empty());
    store.delete_user(alice.id).await.unwrap();
    assert!(matches!(
        store.delete_user(alice.id).await,
        Err(AccountError::NotFound)
    ));

    last_admin_stays(&store, bob.id).await;
}

/// The only enabled administrator cannot be demoted, disabled or deleted, not even by
/// two concurrent changes that each leave the other admin (the check is in the statement).
async fn last_admin_stays(store: &Store, only_admin: UserId) {
    assert!(store.is_last_enabled_admin(only_admin).await.unwrap());
    for change in [(Some(Role::User), None), (None, Some(false))] {
        assert!(matches!(
            store
                .update_user(only_admin, change.0, Some("renamed"), change.1, None)
                .await,
            Err(AccountError::LastAdmin)
        ));
    }
    assert!(matches!(
        store.delete_user(only_admin).await,
        Err(AccountError::LastAdmin)
    ));
    let bob = store.user(only_admin).await.unwrap().unwrap();
    assert_eq!(
        (bob.role, bob.enabled, bob.display_name.as_str()),
        (Role::Admin, true, "Bob"),
        "a refused change changes nothing"
    );
    // Unchanged role and state, or another field: allowed.
    store
        .update_user(only_admin, Some(Role::Admin), Some("Bob"), Some(true), None)
        .await
        .unwrap();

    let mut keep = only_admin;
    for round in 0..10 {
        let other = store
            .create_user(&format!("admin{round}"), "h", Role::Admin, "")
            .await
            .unwrap()
            .unwrap()
            .id;
        assert!(!store.is_last_enabled_admin(keep).await.unwrap());
        let (s1, s2) = (store.clone(), store.clone());
        let demote = tokio::spawn(async move {
            s1.update_user(keep, Some(Role::User), None, None, None)
                .await
                .is_ok()
        });
        let disable = tokio::spawn(async move {
            if round % 2 == 0 {
                s2.update_user(other, None, None, Some(false), None)
                    .await
                    .is_ok()
            } else {
                s2.delete_user(other).await.is_ok()
            }
        });
        let (a, b) = (demote.await.unwrap(), disable.await.unwrap());
        assert!(
            a ^ b,
            "round {round}: exactly one of the two changes passes ({a}, {b})"
        );
        let admins: Vec<_> = store
            .list_users()
            .await
            .unwrap()
            .into_iter()
            .filter(|u| u.role == Role::Admin && u.enabled)
            .collect();
        assert_eq!(admins.len(), 1, "round {round}");
        // Remove whichever account lost, so the next round starts with one admin again.
        let (survivor, loser) = if a { (other, keep) } else { (keep, other) };
        assert_eq!(admins[0].id, survivor);
        if store.user(loser).await.unwrap().is_some() {
            store.delete_user(loser).await.unwrap();
        }
        keep = survivor;
    }
    assert!(store.is_last_enabled_admin(keep).await.unwrap());
}

#[tokio::test]
async fn store_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db", dir.path().display());
    let store = Store::open(&format!("{url}?mode=rwc")).await.unwrap();
    suite(store).await;
    // Migrations are idempotent: opening again applies nothing and keeps data.
    let again = Store::open(&format!("{url}?mode=rwc")).await.unwrap();
    assert_eq!(again.count_users().await.unwrap(), 1);
}

#[tokio::test]
async fn store_on_postgres() {
    let Some(pg) = common::pg::server() else {
        return;
    };
    let url = pg.create_database("store_suite").await;
    let store = Store::open(&url).await.unwrap();
    suite(store).await;
    let again = Store::open(&url).await.unwrap();
    assert_eq!(again.count_users().await.unwrap(), 1);
}

/// A room deleted between its creation and the read that follows is an error for the
/// caller, not a panic of the server (a trigger plays the concurrent delete).
#[tokio::test]
async fn a_room_gone_right_after_its_creation_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
    let store = Store::open(&url).await.unwrap();
    sqlx::query(
        "CREATE TRIGGER vanish AFTER INSERT ON rooms BEGIN DELETE FROM rooms WHERE id = NEW.id; END",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let created = store.create_room(&room("Ghost", 5, true, vec![])).await;
    assert!(created.is_err(), "{created:?}");
}

/// Retention: finished recordings older than the age are marked deleted; newer ones
/// and one being captured stay.
#[tokio::test]
async fn old_finished_recordings_expire_and_others_stay() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/r.db?mode=rwc", dir.path().display());
    let store = Store::open(&url).await.unwrap();
    let room = store
        .create_room(&room("kept", 10, true, vec![]))
        .await
        .unwrap()
        .id;
    let rec = |n: &str| {
        let store = store.clone();
        let n = n.to_string();
        async move {
            store
                .start_recording(room, &n, None, &format!("recordings/{n}"))
                .await
                .unwrap()
                .unwrap()
                .id
        }
    };
    let old = rec("old").await;
    store.capture_finished(old).await.unwrap();
    let recent = rec("recent").await;
    store.capture_finished(recent).await.unwrap();
    let live = rec("live").await;
    let day = 86_400_000i64;
    sqlx::query(
        "UPDATE recordings SET status = 'ready', started_at = started_at - $1 WHERE id = $2",
    )
    .bind(10 * day)
    .bind(old)
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query("UPDATE recordings SET status = 'ready' WHERE id = $1")
        .bind(recent)
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE recordings SET started_at = started_at - $1 WHERE id = $2")
        .bind(10 * day)
        .bind(live)
        .execute(store.pool())
        .await
        .unwrap();
    let expired = store.expire_recordings(7 * day).await.unwrap();
    assert_eq!(expired, vec![(old, "recordings/old".to_string())]);
    assert!(store.recording(old).await.unwrap().is_none());
    assert!(store.recording(recent).await.unwrap().is_some());
    assert_eq!(
        store.recording(live).await.unwrap().unwrap().status,
        "recording"
    );
    assert!(
        store.expire_recordings(7 * day).await.unwrap().is_empty(),
        "once"
    );
}
