//! Invitations and guests, through the API and real WebSockets (the waiting room:
//! `waiting_room.rs`).

use crate::common;

use common::invites::{code, connect, guest, invite, redeem, room_with, token};
use common::{Api, TestNode, eventually};
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn invitations_are_created_listed_and_revoked_by_moderators_only() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let mo = admin.create_user("mona", "mona-password", "user").await;
    admin.create_people(&["ulf"]).await;
    let room = room_with(&admin, "Parents' evening", false, vec![mo]).await;
    let mut mona = node.client();
    mona.login("mona", "mona-password").await;
    let mut ulf = node.client();
    ulf.login("ulf", "ulf-password").await;

    let inv = invite(
        &mona,
        room,
        json!({"role": "participant", "uses": "single",
                                         "expires_in": 3600, "password": null}),
    )
    .await;
    let url = inv["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/invite/", node.url)), "{url}");
    assert_eq!(token(&inv).len(), 43);
    assert_eq!(inv["token"], token(&inv).as_str());
    for (k, v) in [
        ("role", json!("participant")),
        ("uses", json!("single")),
        ("status", json!("active")),
        ("password_required", json!(false)),
        ("room_id", json!(room)),
    ] {
        assert_eq!(inv[k], v, "{k}: {inv}");
    }
    assert!(inv["expires_at"].as_str().unwrap().ends_with('Z'));
    // Defaults: participant, single use, a day.
    let second = invite(&admin, room, json!({})).await;
    assert_eq!(
        (second["role"].as_str(), second["uses"].as_str()),
        (Some("participant"), Some("single"))
    );

    let list = mona.get(&format!("/api/v1/rooms/{room}/invitations")).await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert!(
        list.iter()
            .all(|i| i.get("token").is_none() && i.get("url").is_none())
    );
    assert_eq!(list[0]["id"], second["id"], "newest first");

    // Someone who does not moderate the room may neither invite nor list.
    let (status, out) = ulf
        .send(
            "POST",
            &format!("/api/v1/rooms/{room}/invitations"),
            Some(json!({})),
        )
        .await;
    assert_eq!((status, code(&out)), (403, "forbidden"));
    let (status, _) = ulf
        .send("GET", &format!("/api/v1/rooms/{room}/invitations"), None)
        .await;
    assert_eq!(status, 403);
    let (status, _) = ulf
        .send(
            "DELETE",
            &format!("/api/v1/invitations/{}", inv["id"]),
            None,
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = admin
        .send("GET", "/api/v1/rooms/987654/invitations", None)
        .await;
    assert_eq!(status, 404);

    // Bad input is a clear 400.
    for bad in [
        json!({"role": "boss"}),
        json!({"uses": "twice"}),
        json!({"expires_in": 0}),
        json!({"expires_in": 100_000_000}),
        json!({"password": "abc"}),
        json!({"password": ""}),
        json!({"colour": "red"}),
    ] {
        let (status, out) = mona
            .send(
                "POST",
                &format!("/api/v1/rooms/{room}/invitations"),
                Some(bad.clone()),
            )
            .await;
        assert_eq!((status, code(&out)), (400, "bad_request"), "{bad}: {out}");
    }

    // Revoked: refused with a clear message, and listed as such.
    let (status, _) = mona
        .send(
            "DELETE",
            &format!("/api/v1/invitations/{}", inv["id"]),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, out) = redeem(&node.client(), &token(&inv), "Paul", None).await;
    assert_eq!((status, code(&out)), (410, "invitation_revoked"), "{out}");
    assert!(
        out["error"]["message"]
            .as_str()
            .unwrap()
            .contains("withdrawn")
    );
    let list = mona.get(&format!("/api/v1/rooms/{room}/invitations")).await;
    assert_eq!(list[1]["status"], "revoked");
    let (status, _) = mona
        .send("DELETE", "/api/v1/invitations/987654", None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn redemption_single_and_multi_use_expiry_and_passwords() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let room = room_with(&admin, "Open day", false, vec![]).await;
    let anon = node.client();

    // Single use: the second redemption is refused.
    let single = invite(&admin, room, json!({"uses": "single"})).await;
    let (status, out) = redeem(&anon, &token(&single), "  Anna Berg ", None).await;
    assert_eq!(status, 200, "{out}");
    assert!(out["sid"].as_str().unwrap().len() >= 43);
    assert_eq!(out["user"]["display_name"], "Anna Berg", "trimmed");
    assert!(out["user"]["login"].as_str().unwrap().starts_with("guest-"));
    assert_eq!(out["room"]["id"], room);
    assert_eq!(out["moderator"], false);
    let (status, out) = redeem(&anon, &token(&single), "Bert", None).await;
    assert_eq!((status, code(&out)), (410, "invitation_used"), "{out}");

    // Two redemptions at once of a single-use invitation: exactly one goes through.
    let race = invite(&admin, room, json!({"uses": "single"})).await;
    let t = token(&race);
    let (a, b) = tokio::join!(
        redeem(&anon, &t, "Cleo", None),
        redeem(&anon, &t, "Dora", None)
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [200, 410], "{a:?} {b:?}");

    // Multi use: as many as come.
    let multi = invite(&admin, room, json!({"uses": "multi"})).await;
    for name in ["Emil", "Frida", "Gus"] {
        guest(&anon, &token(&multi), name).await;
    }
    let list = admin
        .get(&format!("/api/v1/rooms/{room}/invitations"))
        .await;
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == multi["id"])
        .unwrap();
    assert_eq!(
        (listed["redeemed"].as_i64(), listed["status"].as_str()),
        (Some(3), Some("active"))
    );

    // Expired (on the database clock): refused, and the link says so.
    let short = invite(&admin, room, json!({"expires_in": 1, "uses": "multi"})).await;
    let out = eventually(10, || async {
        let (status, out) = anon
            .send(
                "POST",
                "/api/v1/invitations/check",
                Some(json!({"token": token(&short)})),
            )
            .await;
        (status == 410).then_some(out)
    })
    .await;
    assert_eq!(code(&out), "invitation_expired");
    let (status, out) = redeem(&anon, &token(&short), "Hugo", None).await;
    assert_eq!((status, code(&out)), (410, "invitation_expired"), "{out}");
    assert!(
        out["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );

    // A password: needed, and right.
    let locked = invite(
        &admin,
        room,
        json!({"uses": "multi", "password": "tulip-42"}),
    )
    .await;
    assert_eq!(locked["password_required"], true);
    let (status, check) = anon
        .send(
            "POST",
            "/api/v1/invitations/check",
            Some(json!({"token": token(&locked)})),
        )
        .await;
    assert_eq!(
        (status, check["password_required"].as_bool()),
        (200, Some(true))
    );
    let (status, out) = redeem(&anon, &token(&locked), "Ida", None).await;
    assert_eq!((status, code(&out)), (401, "password_required"), "{out}");
    let (status, out) = redeem(&anon, &token(&locked), "Ida", Some("tulip-41")).await;
    assert_eq!((status, code(&out)), (401, "wrong_password"), "{out}");
    let (status, out) = redeem(&anon, &token(&locked), "Ida", Some("tulip-42")).await;
    assert_eq!(status, 200, "{out}");

    // An unknown or malformed token.
    for bad in [
        "x".repeat(43),
        "short".to_string(),
        "../../etc/passwd".to_string(),
    ] {
        let (status, out) = redeem(&anon, &bad, "Jon", None).await;
        assert_eq!(
            (status, code(&out)),
            (404, "invitation_invalid"),
            "{bad}: {out}"
        );
    }
    // Guests cannot sign in with a password.
    let login = out["user"]["login"].as_str().unwrap();
    let (status, _) = anon
        .send(
            "POST",
            "/api/v1/login",
            Some(json!({"login": login, "password": "tulip-42"})),
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_guests_display_name_is_validated() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let room = room_with(&admin, "Choir", false, vec![]).await;
    let inv = invite(&admin, room, json!({"uses": "multi"})).await;
    let anon = node.client();
    for bad in ["", "    ", &"x".repeat(101), "Eve\u{7}", "Line\nbreak"] {
        let (status, out) = redeem(&anon, &token(&inv), bad, None).await;
        assert_eq!((status, code(&out)), (400, "bad_request"), "{bad:?}: {out}");
    }
    // Not counted as attempts, and the invitation is still unused.
    let (status, out) = redeem(&anon, &token(&inv), &"é".repeat(100), None).await;
    assert_eq!(status, 200, "{out}");
    let (status, out) = anon
        .send(
            "POST",
            "/api/v1/invitations/redeem",
            Some(json!({"token": token(&inv)})),
        )
        .await;
    assert_eq!(status, 400, "{out}");
}

#[tokio::test]
async fn guests_reach_nothing_outside_their_room() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let room = room_with(&admin, "Guest room", false, vec![]).await;
    let other = room_with(&admin, "Staff room", false, vec![]).await;
    let inv = invite(&admin, room, json!({"uses": "multi"})).await;
    let g = guest(&node.client(), &token(&inv), "Visitor").await;

    // Its own room: enter and the lobby; its account: me.
    let me = g.get("/api/v1/me").await;
    assert_eq!(
        (me["role"].as_str(), me["display_name"].as_str()),
        (Some("guest"), Some("Visitor"))
    );
    let (status, out) = g
        .send(
            "POST",
            &format!("/api/v1/rooms/{room}/enter"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let (status, out) = g
        .send("GET", &format!("/api/v1/rooms/{room}/lobby"), None)
        .await;
    assert_eq!(
        (status, out["waiting_room"].as_bool()),
        (200, Some(false)),
        "{out}"
    );
    // Another room: no.
    let (status, out) = g
        .send(
            "POST",
            &format!("/api/v1/rooms/{other}/enter"),
            Some(json!({})),
        )
        .await;
    assert_eq!((status, code(&out)), (403, "forbidden"), "{out}");

    // Every other operation of the API, whatever the room: 403.
    let doc = admin.get("/api/openapi.json").await;
    let public = [
        "/api/openapi.json",
        "/api/v1/login",
        "/api/v1/invitations/check",
        "/api/v1/invitations/redeem",
        "/room/{id}",
        "/invite/{token}",
        "/ws",
        "/healthz",
        "/readyz",
        "/metrics",
    ];
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if public.contains(&path.as_str()) || path == "/api/v1/logout" {
            continue;
        }
        for method in ops.as_object().unwrap().keys() {
            if !["get", "post", "put", "delete"].contains(&method.as_str()) {
                continue;
            }
            for target in [room, other] {
                // Entering, the lobby, reading the room's files (`files.rs` tests those)
                // and its whiteboard (`authz_matrix.rs`).
                let allowed = target == room
                    && ((method == "post" && path == "/api/v1/rooms/{id}/enter")
                        || (method == "get" && path == "/api/v1/rooms/{id}/lobby")
                        || (method == "get" && path.starts_with("/api/v1/rooms/{id}/boards"))
                        || (method == "get" && path.starts_with("/api/v1/rooms/{id}/files")));
                if allowed || (method == "get" && path == "/api/v1/me") {
                    continue;
                }
                let concrete = path
                    .replace("{id}", &target.to_string())
                    .replace("{participant}", "abc123");
                let body = (method != "get" && method != "delete").then(|| json!({}));
                let (status, out) = g.send(&method.to_uppercase(), &concrete, body).await;
                assert_eq!(
                    (status, code(&out)),
                    (403, "forbidden"),
                    "a guest calling {method} {concrete}: {out}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 30, "only {checked} operations checked");

    // The WebSocket of another room is refused too (its entry token cannot be had, and a
    // token of its own room is for that room only): enter its room and see the welcome.
    let mut p = connect(&g, room).await;
    let welcome = p.expect("welcome").await;
    assert_eq!(welcome["you"]["guest"], true);
    assert_eq!(welcome["you"]["user"]["display_name"], "Visitor");

    // Signing out ends the guest session.
    let (status, _) = g.send("POST", "/api/v1/logout", Some(json!({}))).await;
    assert_eq!(status, 204);
    let (status, _) = g.send("GET", "/api/v1/me", None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_guest_of_a_private_room_enters_it_and_a_revoked_invitation_ends_the_visit() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let private = admin
        .post("/api/v1/rooms", json!({"name": "Board", "public": false}))
        .await["id"]
        .as_i64()
        .unwrap();
    let inv = invite(&admin, private, json!({"uses": "multi"})).await;
    let g = guest(&node.client(), &token(&inv), "Auditor").await;
    let mut p = connect(&g, private).await;
    p.expect("welcome").await;
    // The room's definition does not list guests.
    let def = admin.get(&format!("/api/v1/rooms/{private}")).await;
    assert_eq!(
        (&def["members"], &def["moderators"]),
        (&json!([]), &json!([])),
        "{def}"
    );

    let (status, _) = admin
        .send(
            "DELETE",
            &format!("/api/v1/invitations/{}", inv["id"]),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let closed = p.expect_close().await;
    assert_eq!(closed.code, 4003, "{closed:?}");
    assert!(closed.reason.contains("revoked"), "{closed:?}");
    let (status, _) = g.send("GET", "/api/v1/me", None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn guests_leave_with_their_invitations_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::test_settings(dir.path());
    settings.cleanup_interval = Some(1);
    let node = TestNode::start(settings.resolve().unwrap()).await;
    let admin = node.admin().await;
    let room = room_with(&admin, "Short visit", false, vec![]).await;
    let inv = invite(&admin, room, json!({"expires_in": 6})).await;
    let g = guest(&node.client(), &token(&inv), "Courier").await;
    let mut p = connect(&g, room).await;
    p.expect("welcome").await;
    let closed = p.expect_close().await;
    assert_eq!(closed.code, 4003, "{closed:?}");
    assert!(closed.reason.contains("expired"), "{closed:?}");
    let (status, _) = g.send("GET", "/api/v1/me", None).await;
    assert_eq!(status, 401);
    // The guest's account is gone with it.
    let users = admin.get("/api/v1/users").await;
    assert!(
        !users
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["role"] == "guest"),
        "{users}"
    );
}

#[tokio::test]
async fn redemption_is_rate_limited() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let room = room_with(&admin, "Vault", false, vec![]).await;
    let inv = invite(
        &admin,
        room,
        json!({"uses": "multi", "password": "right-one"}),
    )
    .await;
    let anon = node.client();
    let attempt = |password: String| {
        let anon = anon.clone();
        let token = token(&inv);
        async move {
            let res = anon
                .http
                .post(format!("{}/api/v1/invitations/redeem", anon.base))
                .json(&json!({"token": token, "display_name": "Mallory", "password": password}))
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let retry_after = res
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
            let body: Value = res.json().await.unwrap();
            (status, retry_after, body)
        }
    };
    // Wrong passwords until the wait is long enough to test against (each wait doubles).
    let mut wait = 0;
    for n in 0..30 {
        let (status, retry_after, body) = attempt(format!("guess-{n}")).await;
        match status {
            401 => assert_eq!(code(&body), "wrong_password"),
            429 => {
                assert_eq!(code(&body), "too_many_attempts");
                wait = retry_after.expect("Retry-After");
                if wait >= 4 {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(wait)).await;
            }
            other => panic!("attempt {n}: {other} {body}"),
        }
    }
    assert!(wait >= 4, "throttled with a growing wait");
    // The right password waits too.
    let (status, retry_after, _) = attempt("right-one".into()).await;
    assert_eq!(status, 429);
    assert!(retry_after.is_some());
    // Guessing tokens from the same address is throttled as well.
    let (status, _) = anon
        .send(
            "POST",
            "/api/v1/invitations/check",
            Some(json!({"token": "y".repeat(43)})),
        )
        .await;
    assert_eq!(status, 429);
}

#[tokio::test]
async fn a_moderator_invitation_makes_a_moderator_of_the_room_while_there() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    admin.create_people(&["pia"]).await;
    let room = room_with(&admin, "Workshop", false, vec![]).await;
    let inv = invite(&admin, room, json!({"role": "moderator"})).await;
    let (status, out) = redeem(&node.client(), &token(&inv), "Guest Speaker", None).await;
    assert_eq!(
        (status, out["moderator"].as_bool()),
        (200, Some(true)),
        "{out}"
    );
    let g = Api {
        sid: Some(out["sid"].as_str().unwrap().into()),
        ..node.client()
    };
    let mut speaker = connect(&g, room).await;
    let welcome = speaker.expect("welcome").await;
    assert_eq!(
        (
            welcome["you"]["moderator"].as_bool(),
            welcome["you"]["guest"].as_bool()
        ),
        (Some(true), Some(true))
    );

    let mut pia = node.client();
    pia.login("pia", "pia-password").await;
    let mut p = pia.join(room).await;
    assert_eq!(p.welcome["you"]["moderator"], false);
    // The guest moderates: lowers a hand, and removes pia.
    speaker
        .send(json!({"type": "kick", "participant_id": p.id}))
        .await;
    assert_eq!(p.expect_close().await.code, 4001);
    // Not a moderator of the room's definition.
    let def = admin.get(&format!("/api/v1/rooms/{room}")).await;
    assert_eq!(def["moderators"], json!([]));
    // Nor through the API.
    let (status, _) = g
        .send("GET", &format!("/api/v1/rooms/{room}/invitations"), None)
        .await;
    assert_eq!(status, 403);
}
