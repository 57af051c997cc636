//! The REST API end to end: a real node on port 0, real HTTP.

use crate::common;

use common::TestNode;
use serde_json::{Value, json};

#[tokio::test]
async fn rooms_crud_visibility_and_validation() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let frank = admin.create_user("frank", "frank-password", "user").await;
    admin.create_user("gina", "gina-password", "user").await;
    let public = admin.create_room("Assembly", 100).await;
    let private = admin
        .post(
            "/api/v1/rooms",
            json!({"name": "Staff", "kind": "presentation", "capacity": 5, "public": false,
                   "members": [frank], "moderators": []}),
        )
        .await;
    assert_eq!(private["kind"], "presentation");
    assert_eq!(private["members"], json!([frank]));
    assert_eq!(private["participants"], 0);
    let private = private["id"].as_i64().unwrap();

    let mut gina = node.client();
    gina.login("gina", "gina-password").await;
    let rooms = gina.get("/api/v1/rooms").await;
    let names: Vec<_> = rooms
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Assembly"],
        "a private room is hidden from non-members"
    );
    let (status, body) = gina
        .send(
            "POST",
            &format!("/api/v1/rooms/{private}/enter"),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (403, Some("you are not a member of this room"))
    );
    let mut frank_api = node.client();
    frank_api.login("frank", "frank-password").await;
    assert_eq!(
        frank_api
            .get("/api/v1/rooms")
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );

    for bad in [
        json!({"name": ""}),
        json!({"name": "x", "kind": "party"}),
        json!({"name": "x", "capacity": 0}),
        json!({"name": "x", "capacity": 1_000_000}),
        json!({"name": "x", "members": [424242]}),
        json!({"name": "x".repeat(101)}),
    ] {
        let (status, body) = admin.send("POST", "/api/v1/rooms", Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad} → {body}");
    }
    let updated = admin
        .send(
            "PUT",
            &format!("/api/v1/rooms/{public}"),
            Some(json!({"name": "Big assembly", "capacity": 200})),
        )
        .await;
    assert_eq!(
        (updated.0, updated.1["name"].as_str()),
        (200, Some("Big assembly"))
    );
    assert_eq!(admin.send("GET", "/api/v1/rooms/31337", None).await.0, 404);
    assert_eq!(
        admin
            .send("PUT", "/api/v1/rooms/31337", Some(json!({"name": "y"})))
            .await
            .0,
        404
    );
    assert_eq!(
        admin
            .send("DELETE", &format!("/api/v1/rooms/{public}"), None)
            .await
            .0,
        204
    );
    assert_eq!(
        admin
            .send("DELETE", &format!("/api/v1/rooms/{public}"), None)
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn malformed_requests_get_4xx_json() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let http = reqwest::Client::new();
    let sid = admin.sid.clone().unwrap();
    let post = |body: reqwest::Body, ctype: &'static str| {
        http.post(format!("{}/api/v1/rooms", node.url))
            .bearer_auth(&sid)
            .header("content-type", ctype)
            .body(body)
            .send()
    };
    let res = post("{not json".into(), "application/json").await.unwrap();
    assert_eq!(res.status(), 400);
    let res = post("name=x".into(), "application/x-www-form-urlencoded")
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(2 << 20));
    let res = post(huge.into(), "application/json").await.unwrap();
    assert_eq!(res.status(), 413);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_large");
    let res = http
        .get(format!("{}/api/v1/nothing-here", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    let res = http
        .get(format!("{}/api/v1/me", node.url))
        .header("authorization", "Bearer ' OR 1=1 --")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn operations_endpoints() {
    let node = TestNode::sqlite().await;
    let http = reqwest::Client::new();
    let health: Value = http
        .get(format!("{}/healthz", node.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let ready: Value = http
        .get(format!("{}/readyz", node.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (ready["status"].as_str(), ready["database"].as_bool()),
        (Some("ready"), Some(true))
    );
    node.admin().await.get("/api/v1/rooms").await;
    let metrics = http
        .get(format!("{}/metrics", node.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("convene_ws_connections 0"));
    assert!(metrics.contains("convene_logins_total 1"));
    assert!(metrics.contains(
        "convene_http_requests_total{method=\"GET\",route=\"/api/v1/rooms\",status=\"200\"} 1"
    ));
    assert!(metrics.contains("convene_http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/v1/login\",le=\"+Inf\"} 1"));
}

#[tokio::test]
async fn servers_lists_this_node_up() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let servers = admin.get("/api/v1/servers").await;
    let s = &servers[0];
    assert_eq!(
        (
            s["id"].as_i64(),
            s["status"].as_str(),
            s["active"].as_bool()
        ),
        (Some(1), Some("up"), Some(true))
    );
    assert_eq!(s["url"], node.url);
    assert!(s["heartbeat_age_ms"].as_i64().unwrap() < 5000);
}

/// Every operation the OpenAPI document lists is routed (not the fallback, not 405).
#[tokio::test]
async fn openapi_document_matches_the_router() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let doc = admin.get("/api/openapi.json").await;
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 12, "the document lists the API");
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            if !["get", "post", "put", "delete"].contains(&method.as_str()) {
                continue;
            }
            // Logging out would end the session every later call uses.
            if path == "/api/v1/logout" {
                continue;
            }
            let concrete = path.replace("{id}", "987654");
            let body = (method != "get" && method != "delete").then(|| json!({}));
            let (status, out) = admin.send(&method.to_uppercase(), &concrete, body).await;
            assert_ne!(status, 405, "{method} {path} is not routed");
            assert_ne!(
                out["error"]["message"], "page not found",
                "{method} {path} is not routed"
            );
            assert_ne!(
                status, 401,
                "{method} {path}: the session still holds: {out}"
            );
        }
    }
    assert!(paths["/api/v1/logout"]["post"].is_object());
    for (path, method) in [
        ("/api/v1/login", "post"),
        ("/api/v1/rooms/{id}/enter", "post"),
        ("/api/v1/connections/{id}", "delete"),
        ("/api/v1/servers", "get"),
    ] {
        assert!(
            paths[path][method].is_object(),
            "{method} {path} is documented"
        );
    }
}

/// The room page signs a browser in from an entry token (the cross-node redirect),
/// once; a replayed token signs no one in.
#[tokio::test]
async fn room_page_signs_in_from_an_entry_token() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    admin.create_user("hugo", "hugo-password", "user").await;
    let room = admin.create_room("Library", 10).await;
    let mut hugo = node.client();
    hugo.login("hugo", "hugo-password").await;
    let enter = hugo
        .post(&format!("/api/v1/rooms/{room}/enter"), json!({}))
        .await;
    let room_url = enter["room_url"].as_str().unwrap();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = browser.get(room_url).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], format!("/room/{room}").as_str());
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("convene_sid=") && cookie.contains("HttpOnly"));
    let pair = cookie.split(';').next().unwrap().to_string();
    let me: Value = browser
        .get(format!("{}/api/v1/me", node.url))
        .header("cookie", &pair)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["login"], "hugo");

    let replay = browser.get(room_url).send().await.unwrap();
    assert_eq!(replay.status(), 303);
    assert!(replay.headers().get("set-cookie").is_none());
    assert!(
        replay.headers()["location"]
            .to_str()
            .unwrap()
            .contains("entry=refused")
    );
    // Without a token the page is the UI shell.
    let page = browser
        .get(format!("{}/room/{room}", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

/// The node list (addresses, versions, storage problems) is for administrators only.
#[tokio::test]
async fn servers_are_for_administrators() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    admin.create_user("ivan", "ivan-password", "user").await;
    let mut ivan = node.client();
    ivan.login("ivan", "ivan-password").await;
    for path in ["/api/v1/servers", "/api/v1/servers/1"] {
        let (status, body) = ivan.send("GET", path, None).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (403, Some("forbidden")),
            "{path}"
        );
        assert_eq!(admin.send("GET", path, None).await.0, 200, "{path}");
    }
    assert_eq!(
        node.client().send("GET", "/api/v1/servers", None).await.0,
        401
    );
}

/// PUT on a room changes only the fields given, like PUT on users and servers.
#[tokio::test]
async fn room_put_is_partial() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let jo = admin.create_user("jo", "jo-password", "user").await;
    let kim = admin.create_user("kim", "kim-password", "user").await;
    let room = admin
        .post(
            "/api/v1/rooms",
            json!({"name": "Board", "kind": "interview", "capacity": 4, "public": false,
                   "comment": "quarterly", "members": [jo], "moderators": [kim]}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let path = format!("/api/v1/rooms/{room}");
    let (status, r) = admin
        .send("PUT", &path, Some(json!({"name": " Board 2 "})))
        .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        (
            r["name"].as_str(),
            r["kind"].as_str(),
            r["capacity"].as_i64(),
            r["public"].as_bool(),
            r["comment"].as_str()
        ),
        (
            Some("Board 2"),
            Some("interview"),
            Some(4),
            Some(false),
            Some("quarterly")
        )
    );
    assert_eq!(
        (&r["members"], &r["moderators"]),
        (&json!([jo]), &json!([kim]))
    );
    // null keeps the value too; a given list replaces the old one.
    let (_, r) = admin
        .send(
            "PUT",
            &path,
            Some(json!({"public": null, "members": [], "capacity": 9})),
        )
        .await;
    assert_eq!(
        (r["public"].as_bool(), r["capacity"].as_i64(), &r["members"]),
        (Some(false), Some(9), &json!([]))
    );
    assert_eq!(r["moderators"], json!([kim]));
    assert_eq!(admin.get(&path).await["name"], "Board 2");
    for bad in [
        json!({"name": ""}),
        json!({"capacity": 0}),
        json!({"kind": "party"}),
        json!({"members": [424242]}),
        json!({"colour": "red"}),
    ] {
        let (status, body) = admin.send("PUT", &path, Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad} → {body}");
    }
    assert_eq!(
        admin
            .send("PUT", "/api/v1/rooms/31337", Some(json!({})))
            .await
            .0,
        404
    );
}

/// Activating a draining node again calls off the move: its participants stay.
#[tokio::test]
async fn reactivating_a_draining_node_calls_off_the_move() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let room = admin.create_room("Steady", 10).await;
    let mut p = admin.join(room).await;
    let drained = admin
        .post("/api/v1/servers/1/drain", json!({"deadline_seconds": 1}))
        .await;
    assert_eq!(drained["status"], "draining");
    assert_eq!(p.expect("draining").await["deadline_seconds"], 1);
    let (status, s) = admin
        .send("PUT", "/api/v1/servers/1", Some(json!({"active": true})))
        .await;
    assert_eq!((status, s["status"].as_str()), (200, Some("up")), "{s}");
    assert!(s["drain_remaining_ms"].is_null());
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    // Still connected, well past the deadline.
    p.send(json!({"type": "chat", "text": "still here"})).await;
    assert_eq!(p.expect("chat").await["message"]["text"], "still here");
    assert_eq!(
        admin
            .get("/api/v1/connections")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// The drain body is optional: without one the deadline is the default, 30 s.
#[tokio::test]
async fn drain_takes_an_empty_body() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let sid = admin.sid.clone().unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/servers/1/drain", node.url);
    let res = http.post(&url).bearer_auth(&sid).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let s: Value = res.json().await.unwrap();
    let left = s["drain_remaining_ms"].as_i64().unwrap();
    assert!((25_000..=30_000).contains(&left), "{s}");
    // `{}` means the same; a body that is not JSON is still refused.
    let s = admin.post("/api/v1/servers/1/drain", json!({})).await;
    assert!(s["drain_remaining_ms"].as_i64().unwrap() > 25_000, "{s}");
    let res = http
        .post(&url)
        .bearer_auth(&sid)
        .header("content-type", "text/plain")
        .body("deadline_seconds=5")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    let (status, body) = admin
        .send(
            "POST",
            "/api/v1/servers/1/drain",
            Some(json!({"deadline_seconds": 3601})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("bad_request"))
    );
    admin
        .send("PUT", "/api/v1/servers/1", Some(json!({"active": true})))
        .await;
}

/// A wrong method on an API path is a JSON 405 with `Allow`.
#[tokio::test]
async fn wrong_methods_get_json_405() {
    let node = TestNode::sqlite().await;
    let res = reqwest::Client::new()
        .delete(format!("{}/api/v1/me", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert!(
        res.headers()["allow"].to_str().unwrap().contains("GET"),
        "{:?}",
        res.headers()
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");
    assert!(body["error"]["message"].is_string());
}
