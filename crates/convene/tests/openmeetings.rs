//! The OpenMeetings-compatible API against real nodes: the Moodle plugin's sequence of calls
//! (reference §7.1) with its exact encodings, on one node (SQLite) and in a two-node cluster
//! (PostgreSQL), the hash opened in headless Chromium.

use crate::common;
use crate::common::om;

use common::TestNode;
use common::browser::{Driver, wait_for};
use common::cluster::Cluster;
use om::{Om, moodle_options, moodle_room, moodle_user};
use serde_json::{Value, json};
use std::time::Duration;

/// A node on SQLite whose database file the test can reach (to age a hash).
async fn node() -> (TestNode, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = common::test_settings(dir.path()).resolve().unwrap();
    let db = config.database_url.clone();
    (TestNode::start(config).await, db, dir)
}

fn message(a: &om::Answer) -> String {
    match &a.body["serviceResult"]["message"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The sign-in cookie a hash page set, and where it sent the browser.
fn cookie_of(res: &reqwest::Response) -> String {
    let set = res
        .headers()
        .get("set-cookie")
        .expect("a session cookie")
        .to_str()
        .unwrap();
    assert!(set.contains("HttpOnly"), "{set}");
    set.split(';').next().unwrap().to_string()
}

/// Enters the room as the browser would with that cookie: `enter`, then the WebSocket.
async fn enter_with_cookie(base: &str, cookie: &str, room: i64) -> common::ws::Participant {
    let res = reqwest::Client::new()
        .post(format!("{base}/api/v1/rooms/{room}/enter"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let enter: Value = res.json().await.unwrap();
    let mut p = common::ws::Participant::connect(enter["ws_url"].as_str().unwrap()).await;
    p.welcome = p.expect("welcome").await;
    p
}

async fn count(om: &Om, sid: &str, room: i64) -> i64 {
    let a = om.get(&format!("room/count/{room}?&sid={sid}")).await;
    assert_eq!(a.body["serviceResult"]["type"], "SUCCESS", "{}", a.body);
    message(&a).parse().unwrap()
}

/// Moves a hash's expiry into the past, as 15 minutes unused would.
async fn age_hash(db_url: &str, hash: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(db_url).await.unwrap();
    let done = sqlx::query(
        "UPDATE om_hashes SET expires_at = expires_at - 16 * 60 * 1000 WHERE token_hash = $1",
    )
    .bind(convene::secret::hash_token(hash))
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(done.rows_affected(), 1);
    pool.close().await;
}

#[tokio::test]
async fn the_moodle_plugins_sequence_on_one_node() {
    let (node, db_url, _dir) = node().await;
    let admin = node.admin().await;
    admin
        .create_user("moodle-ws", "moodle-ws-password", "webservice")
        .await;
    let om = Om::new(&node.url);

    // A wrong password: OpenMeetings' 200 ERROR.
    let bad = om
        .post_multipart("user/login?", &[("user", "moodle-ws"), ("pass", "wrong")])
        .await;
    assert_eq!(bad.status, 200);
    assert_eq!(
        bad.body,
        json!({"serviceResult": {"message": "error.bad.credentials", "type": "ERROR"}})
    );
    // The three ways clients log in: multipart (Moodle), multipart without a boundary
    // parameter (the node client), GET with a query (OpenMeetings ≤ 8, deprecated).
    let sid = om.login("moodle-ws", "moodle-ws-password").await;
    let nb = om
        .post_multipart_no_boundary(
            "user/login",
            &[("user", "moodle-ws"), ("pass", "moodle-ws-password")],
        )
        .await;
    assert_eq!(nb.body["serviceResult"]["type"], "SUCCESS", "{}", nb.body);
    let old = om
        .get("user/login?user=moodle-ws&pass=moodle-ws-password")
        .await;
    assert_eq!(old.body["serviceResult"]["type"], "SUCCESS", "{}", old.body);
    // The sid is an ordinary API session of the webservice account.
    let me: Value = reqwest::Client::new()
        .get(format!("{}/api/v1/me", node.url))
        .bearer_auth(&sid)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "webservice");

    // Activity form opened.
    let rec = om.get(&format!("record/moodle?&sid={sid}")).await;
    assert_eq!(
        (rec.status, rec.body.clone()),
        (200, json!({"recordingDTO": []}))
    );
    let files = om.get(&format!("file/moodle?&sid={sid}")).await;
    assert_eq!(files.body, json!({"fileItemDTO": []}));
    let v = om.get("info/version?").await;
    assert_eq!(v.body["info"]["version"], "9.1.0");
    assert_eq!(om.get("info/health").await.body["health"]["dbOk"], true);

    // Activity saved: the room, multipart.
    let add = om
        .post_multipart(
            &format!("room/?&sid={sid}"),
            &[("room", &moodle_room(3, "C101 Maths").to_string())],
        )
        .await;
    assert_eq!(add.status, 200, "{}", add.body);
    let room = add.body["roomDTO"]["id"].as_i64().unwrap();
    assert_eq!(add.body["roomDTO"]["externalId"], "3");
    assert_eq!(add.body["roomDTO"]["capacity"], 25);
    // Saved again with its id: an update, the same room.
    let mut again = moodle_room(3, "C101 Maths (renamed)");
    again["id"] = json!(room);
    let upd = om
        .post_multipart(
            &format!("room/?&sid={sid}"),
            &[("room", &again.to_string())],
        )
        .await;
    assert_eq!(upd.body["roomDTO"]["id"], room, "{}", upd.body);
    assert_eq!(upd.body["roomDTO"]["name"], "C101 Maths (renamed)");
    // The id of a room Convene does not know (one of the OpenMeetings server used before):
    // made anew.
    let mut migrated = moodle_room(4, "Old activity");
    migrated["id"] = json!(424242);
    let m = om
        .post_multipart(
            &format!("room/?&sid={sid}"),
            &[("room", &migrated.to_string())],
        )
        .await;
    let migrated = m.body["roomDTO"]["id"].as_i64().unwrap();
    assert!(migrated != 424242 && migrated != room, "{}", m.body);
    // An ordinary Convene room.
    let convene_room = admin.get(&format!("/api/v1/rooms/{room}")).await;
    assert_eq!(convene_room["kind"], "conference");
    assert_eq!(convene_room["capacity"], 25);
    // Get-or-create by external type and id, twice: the same room.
    for _ in 0..2 {
        let got = om
            .get(&format!("room/CONFERENCE/moodle/3?&sid={sid}"))
            .await;
        assert_eq!(got.body["roomDTO"]["id"], room, "{}", got.body);
    }
    let made = om
        .get(&format!(
            "room/PRESENTATION/moodle/9?&sid={sid}&room={}",
            urlencode(&json!({"name": "Lecture", "type": "CONFERENCE"}).to_string())
        ))
        .await;
    let lecture = made.body["roomDTO"]["id"].as_i64().unwrap();
    assert_ne!(lecture, room);
    assert_eq!(made.body["roomDTO"]["type"], "PRESENTATION");
    let same = om
        .get(&format!("room/PRESENTATION/moodle/9?&sid={sid}"))
        .await;
    assert_eq!(same.body["roomDTO"]["id"], lecture);
    let none = om.get(&format!("room/INTERVIEW/moodle/9?&sid={sid}")).await;
    assert_eq!(none.status, 204);
    assert_eq!(
        om.get(&format!("room/{room}?&sid={sid}")).await.body["roomDTO"]["id"],
        room
    );

    // Activity viewed: a hash for a student and one for the teacher.
    let student = moodle_user("7", "stud1", "Ann", "Lee");
    let teacher = moodle_user("2", "teach1", "Tom", "Tutor");
    let h1 = om
        .hash(&sid, &student, &moodle_options(room, 3, false))
        .await;
    let h2 = om
        .hash(&sid, &teacher, &moodle_options(room, 3, true))
        .await;
    let missing = om
        .post_form(
            &format!("user/hash?&sid={sid}"),
            &[("user", r#"{"login":"x"}"#), ("options", "{}")],
        )
        .await;
    assert_eq!(missing.status, 200);
    assert_eq!(missing.body["serviceResult"]["type"], "ERROR");

    // The hash pages, as Moodle's iframe opens them: `?&secure=…&language=1`.
    let (status, location, res) = om.open_hash(&format!("&secure={h1}&language=1")).await;
    assert_eq!(status, 303);
    assert_eq!(location.as_deref(), Some(format!("/room/{room}").as_str()));
    let ann = cookie_of(&res);
    let (_, _, res) = om.open_hash(&format!("&secure={h2}&language=2")).await;
    let tom = cookie_of(&res);
    let mut ann_ws = enter_with_cookie(&node.url, &ann, room).await;
    assert_eq!(ann_ws.welcome["you"]["moderator"], false);
    assert_eq!(ann_ws.welcome["you"]["user"]["display_name"], "Ann Lee");
    let tom_ws = enter_with_cookie(&node.url, &tom, room).await;
    assert_eq!(tom_ws.welcome["you"]["moderator"], true);

    // room/count and room/users show them.
    assert_eq!(count(&om, &sid, room).await, 2);
    let users = om.get(&format!("room/users/{room}?&sid={sid}")).await;
    let list = users.body["userDTO"].as_array().unwrap();
    let ann_dto = list
        .iter()
        .find(|u| u["externalId"] == "7")
        .expect("the student is listed");
    assert_eq!(ann_dto["login"], "stud1");
    assert_eq!(ann_dto["type"], "EXTERNAL");
    assert_eq!(ann_dto["externalType"], "moodle");
    assert_eq!(ann_dto["rights"], json!(["ROOM"]));
    // Never an administrator: the account is a plain user.
    let account = admin.get(&format!("/api/v1/users/{}", ann_dto["id"])).await;
    assert_eq!(account["role"], "user");

    // Kick the student: her connection closes, the teacher stays.
    let kick = om
        .get(&format!("room/kick/{room}/moodle/7?&sid={sid}"))
        .await;
    assert_eq!(message(&kick), "Kicked");
    let closed = ann_ws.expect_close().await;
    assert!(closed.code >= 4000, "closed: {closed:?}");
    common::eventually(5, || async {
        (count(&om, &sid, room).await == 1).then_some(())
    })
    .await;
    assert_eq!(
        message(
            &om.get(&format!("room/kick/{room}/moodle/99?&sid={sid}"))
                .await
        ),
        "Not kicked"
    );

    // A used hash is refused; so is an expired one (aged in the database, not waited for).
    let (status, _, res) = om.open_hash(&format!("&secure={h1}")).await;
    assert_eq!(status, 403);
    assert!(res.text().await.unwrap().contains("invalid hash"));
    let h3 = om
        .hash(&sid, &student, &moodle_options(room, 3, false))
        .await;
    age_hash(&db_url, &h3).await;
    let (status, _, _) = om.open_hash(&format!("secure={h3}")).await;
    assert_eq!(status, 403);
    let (status, _, _) = om
        .open_hash("secure=not-a-hash-at-all-but-long-enough")
        .await;
    assert_eq!(status, 403);

    // A bad sid, or none: error.notallowed (500 and the `exception` header).
    for path in [
        format!("room/{room}?&sid=bogus-sid-value-that-is-long-enough"),
        format!("room/count/{room}"),
        "record/moodle?&sid=".to_string(),
    ] {
        let a = om.get(&path).await;
        assert_eq!(a.status, 500, "{path}");
        assert_eq!(a.exception.as_deref(), Some("error.notallowed"));
        assert_eq!(
            a.body,
            json!({"serviceResult": {"message": "error.notallowed", "type": "ERROR"}})
        );
    }
    // A plain user's sid has no web-service right.
    admin.create_people(&["ulla"]).await;
    let u = om
        .post_multipart("user/login", &[("user", "ulla"), ("pass", "ulla-password")])
        .await;
    assert_eq!(u.body["serviceResult"]["message"], "error.notallowed");

    // Malformed requests: OpenMeetings' statuses, never a 5xx crash.
    let no_type = om
        .post_multipart(&format!("room/?&sid={sid}"), &[("room", r#"{"name":"x"}"#)])
        .await;
    assert_eq!(no_type.status, 400);
    let bad_json = om
        .post_form(&format!("room/?&sid={sid}"), &[("room", "{not json")])
        .await;
    assert_eq!(bad_json.status, 400);
    assert_eq!(om.get(&format!("room/abc?&sid={sid}")).await.status, 404);
    assert_eq!(
        om.get(&format!(
            "room/CONFERENCE/moodle/3?&sid={sid}&room=[object Object]"
        ))
        .await
        .status,
        200,
        "the room exists: `room` is not read"
    );
    assert_eq!(
        om.get(&format!(
            "room/CONFERENCE/moodle/77?&sid={sid}&room=[object Object]"
        ))
        .await
        .status,
        404
    );
    assert_eq!(
        om.call("PUT", "room/1", None, String::new()).await.status,
        405
    );
    assert_eq!(om.get(&format!("room/999999?&sid={sid}")).await.status, 500);

    // An invitation (room/hash, its DTO in the query) is a Convene invitation link.
    let invite = json!({"roomId": room.to_string(), "valid": "ONE_TIME", "firstname": "Guest",
                        "email": "g@x.test", "passwordProtected": false});
    let inv = om
        .call(
            "POST",
            &format!(
                "room/hash?&sid={sid}&invite={}&sendmail=false",
                urlencode(&invite.to_string())
            ),
            None,
            String::new(),
        )
        .await;
    assert_eq!(inv.body["serviceResult"]["type"], "SUCCESS", "{}", inv.body);
    let token = message(&inv);
    let (status, location, _) = om.open_hash(&format!("invitation={token}")).await;
    assert_eq!((status, location), (303, Some(format!("/invite/{token}"))));
    let check: Value = reqwest::Client::new()
        .post(format!("{}/api/v1/invitations/check", node.url))
        .json(&json!({"token": token}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(check["room"]["id"], room, "{check}");

    // Activity deleted.
    let del = om
        .call(
            "DELETE",
            &format!("room/{room}?&sid={sid}"),
            None,
            String::new(),
        )
        .await;
    assert_eq!(message(&del), "Deleted");
    let del = om
        .call(
            "DELETE",
            &format!("room/{room}?&sid={sid}"),
            None,
            String::new(),
        )
        .await;
    assert_eq!((del.status, message(&del)), (200, "Not found".to_string()));
    drop(tom_ws);
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn bad_logins_are_throttled_like_convenes_own() {
    let (node, _db, _dir) = node().await;
    let admin = node.admin().await;
    admin
        .create_user("moodle-ws", "moodle-ws-password", "webservice")
        .await;
    let om = Om::new(&node.url);
    let mut throttled = None;
    for attempt in 0..12 {
        let a = om
            .post_form("user/login", &[("user", "moodle-ws"), ("pass", "guess")])
            .await;
        assert_eq!(a.body["serviceResult"]["type"], "ERROR", "{}", a.body);
        if a.status == 429 {
            throttled = Some(attempt);
            break;
        }
        assert_eq!(a.status, 200);
    }
    assert!(throttled.is_some(), "bad logins were never slowed down");
    // Even the right password waits now.
    let a = om
        .post_form(
            "user/login",
            &[("user", "moodle-ws"), ("pass", "moodle-ws-password")],
        )
        .await;
    assert_eq!(a.status, 429);
}

/// Opens the hash in Chromium and waits until the room page is connected.
async fn open_in_browser(driver: &mut Driver, url: &str) -> fantoccini::Client {
    let c = driver.browser().await;
    c.goto(url).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if c.find(fantoccini::Locator::Css("#room[data-state=\"open\"]"))
            .await
            .is_ok()
        {
            break;
        }
        if let Ok(skip) = c
            .find(fantoccini::Locator::Css("#device-check-join-without"))
            .await
        {
            let _ = skip.click().await;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the room did not open; at {:?}",
            c.current_url().await.ok()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    wait_for(&c, "#room[data-state=\"open\"]").await;
    c
}

#[tokio::test]
async fn the_hash_opened_in_chromium_lands_in_the_room() {
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let (node, _db, _dir) = node().await;
    let admin = node.admin().await;
    admin
        .create_user("moodle-ws", "moodle-ws-password", "webservice")
        .await;
    let om = Om::new(&node.url);
    let sid = om.login("moodle-ws", "moodle-ws-password").await;
    let add = om
        .post_multipart(
            &format!("room/?&sid={sid}"),
            &[("room", &moodle_room(5, "Browser room").to_string())],
        )
        .await;
    let room = add.body["roomDTO"]["id"].as_i64().unwrap();
    let hash = om
        .hash(
            &sid,
            &moodle_user("7", "stud1", "Ann", "Lee"),
            &moodle_options(room, 5, false),
        )
        .await;
    let c = open_in_browser(
        &mut driver,
        &format!("{}/hash?&secure={hash}&language=1", om.base),
    )
    .await;
    let users = om.get(&format!("room/users/{room}?&sid={sid}")).await;
    assert_eq!(
        users.body["userDTO"][0]["externalId"], "7",
        "{}",
        users.body
    );
    assert_eq!(count(&om, &sid, room).await, 1);
    c.close().await.unwrap();
}

#[tokio::test]
async fn in_a_cluster_the_hash_lands_on_the_rooms_node() {
    let Some(cluster) = Cluster::start(2).await else {
        return;
    };
    let admin = cluster.node(1).admin().await;
    admin
        .create_user("moodle-ws", "moodle-ws-password", "webservice")
        .await;
    // The room goes to node 2 (node 1 inactive while it is placed).
    admin
        .send("PUT", "/api/v1/servers/1", Some(json!({"active": false})))
        .await;
    let om1 = Om::new(&cluster.node(1).url);
    let om2 = Om::new(&cluster.node(2).url);
    let sid = om1.login("moodle-ws", "moodle-ws-password").await;
    let add = om1
        .post_multipart(
            &format!("room/?&sid={sid}"),
            &[("room", &moodle_room(11, "Cluster room").to_string())],
        )
        .await;
    let room = add.body["roomDTO"]["id"].as_i64().unwrap();
    let teacher = moodle_user("2", "teach1", "Tom", "Tutor");
    // The hash made on node 1 and opened there: sent on to node 2, unspent.
    let h = om1
        .hash(&sid, &teacher, &moodle_options(room, 11, true))
        .await;
    let (status, location, _) = om1.open_hash(&format!("&secure={h}&language=1")).await;
    assert_eq!(status, 303, "to the room's node");
    let location = location.unwrap();
    assert!(
        location.starts_with(&format!("{}/openmeetings/hash?", cluster.node(2).url)),
        "{location}"
    );
    admin
        .send("PUT", "/api/v1/servers/1", Some(json!({"active": true})))
        .await;
    // Kept open (the browser, or the WebSocket) until the end.
    let mut driver = Driver::start().await;
    let mut browser = None;
    let mut socket = None;
    match driver.as_mut() {
        Some(driver) => {
            let c = open_in_browser(driver, &format!("{}/hash?&secure={h}", om1.base)).await;
            let url = c.current_url().await.unwrap();
            assert_eq!(
                url.port(),
                reqwest::Url::parse(&cluster.node(2).url).unwrap().port(),
                "in the room on node 2: {url}"
            );
            browser = Some(c);
        }
        None => {
            // Without a browser: node 2 signs in and keeps the browser there.
            let (status, location, res) = om2.open_hash(location.split_once('?').unwrap().1).await;
            assert_eq!(status, 303);
            assert_eq!(location.unwrap(), format!("/room/{room}"));
            let cookie = cookie_of(&res);
            socket = Some(enter_with_cookie(&cluster.node(2).url, &cookie, room).await);
        }
    }
    // room/count and room/users on either node, and the connection is on node 2.
    assert_eq!(count(&om1, &sid, room).await, 1);
    let users = om2.get(&format!("room/users/{room}?&sid={sid}")).await;
    assert_eq!(
        users.body["userDTO"][0]["externalId"], "2",
        "{}",
        users.body
    );
    let conns = admin.get("/api/v1/connections").await;
    assert_eq!(conns[0]["server"]["id"], 2, "{conns}");
    // Spent on node 2: refused on both.
    assert_eq!(om1.open_hash(&format!("secure={h}")).await.0, 403);
    assert_eq!(om2.open_hash(&format!("secure={h}")).await.0, 403);
    // Kick from node 1 reaches node 2.
    let kick = om1.get(&format!("room/kick/{room}?&sid={sid}")).await;
    assert_eq!(message(&kick), "Kicked");
    common::eventually(10, || async {
        (count(&om1, &sid, room).await == 0).then_some(())
    })
    .await;
    if let Some(c) = browser {
        c.close().await.unwrap();
    }
    drop(socket);
}

#[tokio::test]
async fn frame_ancestors_let_the_lms_frame_the_pages_and_nothing_else() {
    let http = reqwest::Client::new();
    let header = |r: &reqwest::Response, h: &str| {
        r.headers().get(h).map(|v| v.to_str().unwrap().to_string())
    };
    // By default no one frames Convene.
    let (node, _db, _dir) = node().await;
    let r = http
        .get(format!("{}/room/1", node.url))
        .send()
        .await
        .unwrap();
    assert!(
        header(&r, "content-security-policy")
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(header(&r, "x-frame-options").as_deref(), Some("DENY"));
    drop(node);
    // With the LMS's origin configured, the room page names it.
    let dir = tempfile::tempdir().unwrap();
    let config = convene::Settings {
        frame_ancestors: Some("https://moodle.example.org".into()),
        openmeetings_prefix: Some("/om".into()),
        ..common::test_settings(dir.path())
    }
    .resolve()
    .unwrap();
    let node = TestNode::start(config).await;
    let r = http
        .get(format!("{}/room/1", node.url))
        .send()
        .await
        .unwrap();
    let csp = header(&r, "content-security-policy").unwrap();
    assert!(
        csp.contains("frame-ancestors https://moodle.example.org"),
        "{csp}"
    );
    assert_eq!(header(&r, "x-frame-options"), None);
    // The prefix is configurable.
    let r = http
        .get(format!("{}/om/services/info/version", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let gone = http
        .get(format!("{}/openmeetings/services/info/version", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
}

#[tokio::test]
async fn under_https_the_hash_cookie_survives_a_cross_site_iframe() {
    // An https public URL is what marks cookies Secure (TLS may end at a proxy).
    let dir = tempfile::tempdir().unwrap();
    let config = convene::Settings {
        public_url: Some("https://meet.example.org".into()),
        ..common::test_settings(dir.path())
    }
    .resolve()
    .unwrap();
    let node = TestNode::start(config).await;
    let admin = node.admin().await;
    admin
        .create_user("moodle-ws", "moodle-ws-password", "webservice")
        .await;
    let om = Om::new(&node.url);
    let sid = om.login("moodle-ws", "moodle-ws-password").await;
    let add = om
        .post_multipart(
            &format!("room/?&sid={sid}"),
            &[("room", &moodle_room(8, "Iframe room").to_string())],
        )
        .await;
    let room = add.body["roomDTO"]["id"].as_i64().unwrap();
    let hash = om
        .hash(
            &sid,
            &moodle_user("7", "stud1", "Ann", "Lee"),
            &moodle_options(room, 8, false),
        )
        .await;
    let (status, _, res) = om.open_hash(&format!("&secure={hash}")).await;
    assert_eq!(status, 303);
    let set = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(set.contains("SameSite=None; Secure"), "{set}");
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
}
