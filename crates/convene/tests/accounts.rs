//! Accounts through the REST API: sign-in and sessions, throttling, roles, user
//! administration and the last-administrator rule. A real node on port 0, real HTTP.

use crate::common;

use common::{ADMIN_PASSWORD, TestNode};
use serde_json::{Value, json};

#[tokio::test]
async fn login_me_logout_and_errors() {
    let node = TestNode::sqlite().await;
    let mut api = node.client();
    let (status, body) = api.send("GET", "/api/v1/me", None).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthorized");

    let (status, body) = api
        .send(
            "POST",
            "/api/v1/login",
            Some(json!({"login": "admin", "password": "nope-nope"})),
        )
        .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["message"], "wrong login or password");

    let out = api.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(out["user"]["role"], "admin");
    assert_eq!(out["user"]["login"], "admin");
    let me = api.get("/api/v1/me").await;
    assert_eq!(me["login"], "admin");
    let (status, _) = api.send("POST", "/api/v1/logout", None).await;
    assert_eq!(status, 204);
    let (status, _) = api.send("GET", "/api/v1/me", None).await;
    assert_eq!(status, 401, "the session ended with logout");
}

#[tokio::test]
async fn failed_logins_are_slowed_per_account() {
    let node = TestNode::sqlite().await;
    let api = node.client();
    for _ in 0..5 {
        let (status, _) = api
            .send(
                "POST",
                "/api/v1/login",
                Some(json!({"login": "admin", "password": "wrong-pass"})),
            )
            .await;
        assert_eq!(status, 401);
    }
    // Even the right password waits now.
    let res = api
        .http
        .post(format!("{}/api/v1/login", node.url))
        .json(&json!({"login": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().get("retry-after").is_some());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_attempts");
    // After the delay (1 s for the first step) the right password works again.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, _) = api
        .send(
            "POST",
            "/api/v1/login",
            Some(json!({"login": "admin", "password": ADMIN_PASSWORD})),
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn roles_webservice_and_cookies() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    admin
        .create_user("integration", "ws-password-1", "webservice")
        .await;
    admin.create_user("carol", "carol-password", "user").await;

    // A webservice account is refused by the web UI, with a clear message...
    let (status, body) = node
        .client()
        .send(
            "POST",
            "/api/v1/login",
            Some(json!({"login": "integration", "password": "ws-password-1", "client": "web"})),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "webservice_account");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("API only")
    );
    // ...and may use the API with a Bearer token, including administration.
    let mut ws = node.client();
    ws.login("integration", "ws-password-1").await;
    let users = ws.get("/api/v1/users").await;
    assert_eq!(users.as_array().unwrap().len(), 3);

    // A plain user may not administer.
    let mut carol = node.client();
    carol.login("carol", "carol-password").await;
    let (status, body) = carol.send("GET", "/api/v1/users", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    let (status, _) = carol
        .send("POST", "/api/v1/rooms", Some(json!({"name": "x"})))
        .await;
    assert_eq!(status, 403);
    let (status, _) = carol.send("GET", "/api/v1/connections", None).await;
    assert_eq!(status, 403);

    // The web login sets an HttpOnly, SameSite cookie that works on its own.
    let res = node
        .client()
        .http
        .post(format!("{}/api/v1/login", node.url))
        .json(&json!({"login": "carol", "password": "carol-password", "client": "web"}))
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_string();
    let me: Value = reqwest::Client::new()
        .get(format!("{}/api/v1/me", node.url))
        .header("cookie", pair)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["login"], "carol");
}

#[tokio::test]
async fn users_crud_and_validation() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let id = admin.create_user("dave", "dave-password", "user").await;
    let (status, body) = admin
        .send(
            "POST",
            "/api/v1/users",
            Some(json!({"login": "dave", "password": "another-pw", "role": "user"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("conflict"))
    );
    for bad in [
        json!({"login": "", "password": "long-enough"}),
        json!({"login": "a b", "password": "long-enough"}),
        json!({"login": "eve", "password": "short"}),
        json!({"login": "eve", "password": "long-enough", "role": "king"}),
        json!({"login": "eve", "password": "long-enough", "extra": 1}),
        json!({"login": 5, "password": "long-enough"}),
    ] {
        let (status, body) = admin.send("POST", "/api/v1/users", Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad} → {body}");
        assert!(body["error"]["message"].is_string());
    }
    let (status, body) = admin
        .send(
            "PUT",
            &format!("/api/v1/users/{id}"),
            Some(json!({"display_name": "Dave D.", "role": "admin"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (body["display_name"].as_str(), body["role"].as_str()),
        (Some("Dave D."), Some("admin"))
    );
    // Password change ends the account's sessions.
    let mut dave = node.client();
    dave.login("dave", "dave-password").await;
    admin
        .send(
            "PUT",
            &format!("/api/v1/users/{id}"),
            Some(json!({"password": "dave-new-password"})),
        )
        .await;
    assert_eq!(dave.send("GET", "/api/v1/me", None).await.0, 401);
    dave.login("dave", "dave-new-password").await;
    // Disabling ends sessions and refuses sign-in.
    admin
        .send(
            "PUT",
            &format!("/api/v1/users/{id}"),
            Some(json!({"enabled": false})),
        )
        .await;
    let (status, body) = node
        .client()
        .send(
            "POST",
            "/api/v1/login",
            Some(json!({"login": "dave", "password": "dave-new-password"})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["message"].as_str()),
        (403, Some("this account is disabled"))
    );
    // The last administrator stays; unknown ids are 404.
    let me = admin.get("/api/v1/me").await;
    let (status, _) = admin
        .send("DELETE", &format!("/api/v1/users/{}", me["id"]), None)
        .await;
    assert_eq!(status, 400);
    let (status, _) = admin
        .send(
            "PUT",
            &format!("/api/v1/users/{}", me["id"]),
            Some(json!({"role": "user"})),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(admin.send("GET", "/api/v1/users/9999", None).await.0, 404);
    assert_eq!(admin.send("GET", "/api/v1/users/abc", None).await.0, 404);
    assert_eq!(
        admin
            .send("DELETE", &format!("/api/v1/users/{id}"), None)
            .await
            .0,
        204
    );
    assert_eq!(
        admin
            .send("DELETE", &format!("/api/v1/users/{id}"), None)
            .await
            .0,
        404
    );
}

/// A browser's session id stays in the HttpOnly cookie; only API logins answer it.
/// An empty password is no sign-in attempt and is not counted as a failure.
#[tokio::test]
async fn web_logins_do_not_answer_the_session_id() {
    let node = TestNode::sqlite().await;
    let api = node.client();
    let res = api
        .http
        .post(format!("{}/api/v1/login", node.url))
        .json(&json!({"login": "admin", "password": ADMIN_PASSWORD, "client": "web"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("HttpOnly")
    );
    let body: Value = res.json().await.unwrap();
    assert!(body.get("sid").is_none(), "{body}");
    assert_eq!(body["user"]["login"], "admin");
    let out = node.admin().await;
    assert!(out.sid.is_some(), "an API login answers the sid");

    for _ in 0..8 {
        let (status, body) = api
            .send(
                "POST",
                "/api/v1/login",
                Some(json!({"login": "admin", "password": ""})),
            )
            .await;
        assert_eq!(
            (status, body["error"]["message"].as_str()),
            (400, Some("login and password are required"))
        );
    }
    // More empty attempts than `login_throttle_after`, and still no waiting.
    let (status, body) = api
        .send(
            "POST",
            "/api/v1/login",
            Some(json!({"login": "admin", "password": ADMIN_PASSWORD})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Two changes at the same moment that each leave the other administrator: one passes,
/// the other is refused, and an enabled administrator stays. (Each administrator demotes
/// the other: a webservice account may not touch administrators at all.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_changes_keep_an_administrator() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let first = admin.get("/api/v1/me").await["id"].as_i64().unwrap();
    let second = admin
        .create_user("second", "second-password", "admin")
        .await;
    let mut other = node.client();
    other.login("second", "second-password").await;
    let enabled_admins = |users: Value| {
        users
            .as_array()
            .unwrap()
            .iter()
            .filter(|u| u["role"] == "admin" && u["enabled"] == true)
            .count()
    };
    for round in 0..5 {
        let (first_path, second_path) = (
            format!("/api/v1/users/{first}"),
            format!("/api/v1/users/{second}"),
        );
        let demote = || Some(json!({"role": "user"}));
        let (a, b) = tokio::join!(
            admin.send("PUT", &second_path, demote()),
            other.send("PUT", &first_path, demote()),
        );
        // The loser is refused by the store (409), or, if the winner's change landed
        // before its request was authorised, as no longer an administrator (403).
        let refused = |s: u16| s == 409 || s == 403;
        assert!(
            (a.0 == 200 && refused(b.0)) || (b.0 == 200 && refused(a.0)),
            "round {round}: {a:?} {b:?}"
        );
        let (winner, loser) = if a.0 == 200 {
            (&admin, second)
        } else {
            (&other, first)
        };
        assert_eq!(enabled_admins(winner.get("/api/v1/users").await), 1);
        // Both administrators again for the next round.
        let (status, _) = winner
            .send(
                "PUT",
                &format!("/api/v1/users/{loser}"),
                Some(json!({"role": "admin", "enabled": true})),
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(enabled_admins(winner.get("/api/v1/users").await), 2);
    }
}

/// Guessing over many accounts from one address is slowed down too.
#[tokio::test]
async fn failed_logins_are_slowed_per_address() {
    let node = TestNode::sqlite().await;
    let api = node.client();
    for i in 0..5 {
        let (status, _) = api
            .send(
                "POST",
                "/api/v1/login",
                Some(json!({"login": format!("nobody{i}"), "password": "guess-guess"})),
            )
            .await;
        assert_eq!(status, 401);
    }
    let (status, body) = api
        .send(
            "POST",
            "/api/v1/login",
            Some(json!({"login": "admin", "password": ADMIN_PASSWORD})),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (429, Some("too_many_attempts"))
    );
}

/// Many people signing in at once from one address (a school behind one NAT) are
/// not taken for an attack: only failures count per address.
#[tokio::test]
async fn parallel_correct_sign_ins_from_one_address_all_succeed() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    for i in 0..12 {
        admin
            .create_user(&format!("pupil{i}"), "pupil-password", "user")
            .await;
    }
    let mut logins = Vec::new();
    for i in 0..12 {
        let api = node.client();
        logins.push(tokio::spawn(async move {
            api.send(
                "POST",
                "/api/v1/login",
                Some(json!({"login": format!("pupil{i}"), "password": "pupil-password"})),
            )
            .await
            .0
        }));
    }
    for l in logins {
        assert_eq!(l.await.unwrap(), 200);
    }
}
