//! Attacks from the review of issue 9, performed as written against a real node:
//! CSRF from another port of the same host, NUL bytes on both databases, and the
//! headers of authenticated JSON answers.

use crate::common;

use common::{ADMIN_PASSWORD, TestNode};
use serde_json::{Value, json};

/// The admin's browser cookie (`convene_sid=…`).
async fn admin_cookie(node: &TestNode) -> String {
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/login", node.url))
        .json(&json!({"login": "admin", "password": ADMIN_PASSWORD, "client": "web"}))
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_string()
}

/// What a page elsewhere makes the admin's browser send: an empty form POST with the
/// admin's cookie, and the browser's own word on where it comes from.
async fn forged_post(node: &TestNode, cookie: &str, path: &str, from: &[(&str, &str)]) -> u16 {
    let mut req = reqwest::Client::new()
        .post(format!("{}{path}", node.url))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("");
    for (k, v) in from {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn csrf_from_another_port_of_the_same_host_is_refused() {
    let node = TestNode::sqlite().await;
    let cookie = admin_cookie(&node).await;
    let port = node.addr.port();
    let other = format!("http://localhost:{}", port + 1);
    // The attack of the review: a page on another port posts an empty form to drain.
    let drain = "/api/v1/servers/1/drain";
    assert_eq!(
        forged_post(
            &node,
            &cookie,
            drain,
            &[("sec-fetch-site", "same-site"), ("origin", &other)]
        )
        .await,
        403
    );
    assert_eq!(
        forged_post(&node, &cookie, drain, &[("sec-fetch-site", "cross-site")]).await,
        403
    );
    // An older browser that sends only Origin.
    assert_eq!(
        forged_post(&node, &cookie, drain, &[("origin", &other)]).await,
        403
    );
    let servers = node.admin().await.get("/api/v1/servers").await;
    assert_eq!(servers[0]["status"], "up", "the node was not drained");

    // The same request from the UI's own origin goes through.
    let own = format!("http://localhost:{port}");
    let status = reqwest::Client::new()
        .post(format!("{}/api/v1/rooms", node.url))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "same-origin")
        .header("origin", &own)
        .json(&json!({"name": "Allowed", "kind": "conference", "capacity": 5, "public": true}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 201, "same-origin request");
    // A Bearer token is not a cookie: integrations are not affected.
    let api = node.admin().await;
    let (status, _) = api
        .send(
            "POST",
            "/api/v1/rooms",
            Some(json!({
        "name": "Bearer", "kind": "conference", "capacity": 5, "public": true})),
        )
        .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn nul_bytes_are_refused_with_400_on_sqlite() {
    let node = TestNode::sqlite().await;
    nul_bytes_refused(&node).await;
}

#[tokio::test]
async fn nul_bytes_are_refused_with_400_on_postgres() {
    let Some(pg) = common::pg::server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::test_settings(dir.path());
    settings.database_url = Some(pg.create_database("nul").await);
    let node = TestNode::start(settings.resolve().unwrap()).await;
    nul_bytes_refused(&node).await;
}

async fn nul_bytes_refused(node: &TestNode) {
    let anon = node.client();
    let (status, body) = anon
        .send(
            "POST",
            "/api/v1/login",
            Some(json!({"login": "admin\u{0}", "password": "x"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "bad_request", "{body}");
    let admin = node.admin().await;
    for (path, body) in [
        (
            "/api/v1/rooms",
            json!({"name": "Bad\u{0}", "kind": "conference", "capacity": 5}),
        ),
        (
            "/api/v1/users",
            json!({"login": "eve", "password": "long-enough-pw", "role": "user", "display_name": "E\u{1b}[31mve"}),
        ),
        (
            "/api/v1/servers",
            json!({"id": 7, "name": "n\u{0}", "address": "10.0.0.7"}),
        ),
    ] {
        let (status, answer) = admin.send("POST", path, Some(body)).await;
        assert_eq!(status, 400, "{path}: {answer}");
    }
    // Tabs and line breaks stay allowed (a room comment over several lines).
    let (status, answer) = admin
        .send("POST", "/api/v1/rooms", Some(json!({
            "name": "Fine", "kind": "conference", "capacity": 5, "comment": "line 1\nline 2\ttab"})))
        .await;
    assert_eq!(status, 201, "{answer}");
}

#[tokio::test]
async fn authenticated_json_is_not_cached_or_sniffed() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let res = admin
        .http
        .get(format!("{}/api/v1/me", node.url))
        .bearer_auth(admin.sid.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.headers()["cache-control"], "no-store");
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["login"], "admin");
    // Anonymous answers are not personal, but are not sniffed either.
    let res = reqwest::get(format!("{}/healthz", node.url)).await.unwrap();
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
}

/// The review's row "a webservice account can create admins": an integration key that
/// leaks must not be a full takeover. It manages users, organisers and integrations, never
/// an administrator; an admin still can.
#[tokio::test]
async fn a_webservice_account_never_makes_or_touches_an_admin() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let ws_id = admin
        .create_user("integration", "integration-password", "webservice")
        .await;
    let other_admin = admin.create_user("head", "head-password", "admin").await;
    let mut ws = node.client();
    ws.login("integration", "integration-password").await;

    let refused = |(status, body): (u16, Value), what: &str| {
        assert_eq!(status, 403, "{what}: {body}");
        assert_eq!(body["error"]["code"], "forbidden", "{what}: {body}");
        let message = body["error"]["message"].as_str().unwrap().to_string();
        assert!(
            message.contains("only an administrator"),
            "{what}: {message}"
        );
    };
    // Creating an admin, or promoting anyone (itself too) to admin.
    let new_admin = json!({"login": "mallory", "password": "mallory-password", "role": "admin"});
    refused(
        ws.send("POST", "/api/v1/users", Some(new_admin)).await,
        "create an admin",
    );
    let ulla = ws.create_user("ulla", "ulla-password", "user").await;
    let promote = json!({"role": "admin"});
    refused(
        ws.send(
            "PUT",
            &format!("/api/v1/users/{ulla}"),
            Some(promote.clone()),
        )
        .await,
        "promote a user",
    );
    refused(
        ws.send("PUT", &format!("/api/v1/users/{ws_id}"), Some(promote))
            .await,
        "promote itself",
    );
    // Taking an admin's account over, disabling, demoting or deleting one.
    for (what, body) in [
        (
            "set an admin's password",
            json!({"password": "taken-over-password"}),
        ),
        ("disable an admin", json!({"enabled": false})),
        ("demote an admin", json!({"role": "user"})),
        ("rename an admin", json!({"display_name": "Owned"})),
    ] {
        refused(
            ws.send("PUT", &format!("/api/v1/users/{other_admin}"), Some(body))
                .await,
            what,
        );
    }
    refused(
        ws.send("DELETE", &format!("/api/v1/users/{other_admin}"), None)
            .await,
        "delete an admin",
    );
    let mut head = node.client();
    head.login("head", "head-password").await;
    assert_eq!(head.get("/api/v1/me").await["role"], "admin");
    let users = admin.get("/api/v1/users").await;
    let admins: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["role"] == "admin")
        .map(|u| u["login"].as_str().unwrap())
        .collect();
    assert_eq!(admins, ["admin", "head"]);

    // Within its scope it works: users, organisers, other integrations.
    for role in ["user", "organiser", "webservice"] {
        let body =
            json!({"login": format!("made-{role}"), "password": "made-password", "role": role});
        let (status, answer) = ws.send("POST", "/api/v1/users", Some(body)).await;
        assert_eq!(status, 201, "{role}: {answer}");
    }
    let (status, answer) = ws
        .send(
            "PUT",
            &format!("/api/v1/users/{ulla}"),
            Some(json!({"role": "organiser", "password": "new-ulla-password"})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["role"], "organiser");
    // An unknown account is still 404, not 403.
    let (status, _) = ws
        .send("PUT", "/api/v1/users/999999", Some(json!({"role": "user"})))
        .await;
    assert_eq!(status, 404);

    // An administrator may do all of it.
    let (status, answer) = admin
        .send(
            "PUT",
            &format!("/api/v1/users/{ulla}"),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!((status, answer["role"].as_str()), (200, Some("admin")));
    let (status, _) = admin
        .send("DELETE", &format!("/api/v1/users/{other_admin}"), None)
        .await;
    assert_eq!(status, 204);
}
