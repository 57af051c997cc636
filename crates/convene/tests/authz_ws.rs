//! The authorisation matrix, continued (issue 9): every WebSocket request × every kind
//! of participant, and the session of a deleted account against every REST operation.
//! Real node, real sockets. The room is a presentation, so that presenters exist.

use crate::common;

use common::ws::Participant;
use common::{Api, TestNode};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// Who is in the room.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Guest,
    User,
    Moderator,
    Owner,
    Admin,
}

const EVERYONE: [Who; 5] = [
    Who::Guest,
    Who::User,
    Who::Moderator,
    Who::Owner,
    Who::Admin,
];

fn moderates(who: Who) -> bool {
    matches!(who, Who::Moderator | Who::Owner | Who::Admin)
}

/// What a request gets: let through, or refused with this error code.
#[derive(Debug, PartialEq)]
enum Outcome {
    Through,
    Refused(String),
}

/// Every client request, with the target's connection id filled in. A new request type
/// without a row here fails `every_request_type_has_a_row`.
/// A request's name, its frame, and who may make it.
type Request = (&'static str, Value, fn(Who) -> bool);

fn requests(target: &str) -> Vec<Request> {
    let all = |_: Who| true;
    vec![
        ("chat", json!({"type": "chat", "text": "hello"}), all),
        ("hand", json!({"type": "hand", "raised": true}), all),
        ("ping", json!({"type": "ping", "nonce": "x"}), all),
        (
            "media_state",
            json!({"type": "media_state", "microphone": false, "camera": false, "screen": false}),
            all,
        ),
        (
            "lower_hand",
            json!({"type": "lower_hand", "participant_id": target}),
            moderates,
        ),
        (
            "ask_mute",
            json!({"type": "ask_mute", "participant_id": target}),
            moderates,
        ),
        (
            "mute",
            json!({"type": "mute", "participant_id": target}),
            moderates,
        ),
        (
            "grant_presenter",
            json!({"type": "grant_presenter", "participant_id": target}),
            moderates,
        ),
        (
            "revoke_presenter",
            json!({"type": "revoke_presenter", "participant_id": target}),
            moderates,
        ),
        (
            "grant_moderator",
            json!({"type": "grant_moderator", "participant_id": target}),
            moderates,
        ),
        (
            "revoke_moderator",
            json!({"type": "revoke_moderator", "participant_id": target}),
            moderates,
        ),
        // Nobody waits: a moderator is told so, anyone else is refused first.
        (
            "admit",
            json!({"type": "admit", "participant_id": "nobody"}),
            moderates,
        ),
        (
            "refuse",
            json!({"type": "refuse", "participant_id": "nobody"}),
            moderates,
        ),
        // The whiteboard: moderators draw (others only once granted, which the matrix
        // does not do; `whiteboard.rs` tests the grant).
        (
            "board",
            json!({"type": "board", "op": {"kind": "erase", "board": 1, "ids": ["none"]}}),
            moderates,
        ),
        (
            "board_live",
            json!({"type": "board_live", "board": 1, "pointer": {"x": 1, "y": 2}}),
            moderates,
        ),
        (
            "grant_whiteboard",
            json!({"type": "grant_whiteboard", "participant_id": target}),
            moderates,
        ),
        (
            "revoke_whiteboard",
            json!({"type": "revoke_whiteboard", "participant_id": target}),
            moderates,
        ),
        (
            "kick",
            json!({"type": "kick", "participant_id": target}),
            moderates,
        ),
    ]
}

/// Sends `frame`, then a ping; the first error before the pong is the outcome.
async fn outcome(p: &mut Participant, frame: Value) -> Outcome {
    p.send(frame).await;
    p.send(json!({"type": "ping", "nonce": "end"})).await;
    loop {
        let f = p.next().await.expect("the connection stays open");
        match f["type"].as_str() {
            Some("error") => {
                let code = f["code"].as_str().unwrap_or_default().to_string();
                // Drain up to the pong so the next request starts clean.
                while p.expect("pong").await["nonce"] != "end" {}
                return if code == "not_found" {
                    Outcome::Through
                } else {
                    Outcome::Refused(code)
                };
            }
            Some("pong") if f["nonce"] == "end" => return Outcome::Through,
            _ => {}
        }
    }
}

async fn person(node: &TestNode, admin: &Api, login: &str, role: &str) -> (Api, i64) {
    let password = format!("{login}-password");
    let id = admin.create_user(login, &password, role).await;
    let mut api = node.client();
    api.login(login, &password).await;
    (api, id)
}

async fn guest_in(node: &TestNode, owner: &Api, room: i64) -> Api {
    let inv = owner
        .post(
            &format!("/api/v1/rooms/{room}/invitations"),
            json!({"role": "participant", "uses": "single", "expires_in": 3600, "password": null}),
        )
        .await;
    let token = inv["token"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| {
            let url = inv["url"].as_str().unwrap();
            url.rsplit('/').next().unwrap().to_string()
        });
    let redeemed = node
        .client()
        .post(
            "/api/v1/invitations/redeem",
            json!({"token": token, "display_name": "Gustav", "password": null}),
        )
        .await;
    let mut api = node.client();
    api.sid = Some(redeemed["sid"].as_str().unwrap().to_string());
    api
}

#[tokio::test]
async fn every_websocket_request_for_every_participant() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let (owner, _) = person(&node, &admin, "olga", "organiser").await;
    let (user, _) = person(&node, &admin, "ulla", "user").await;
    let (moderator, mod_id) = person(&node, &admin, "mona", "user").await;
    let (target, _) = person(&node, &admin, "tim", "user").await;
    let room = owner
        .post(
            "/api/v1/rooms",
            json!({"name": "Matrix", "kind": "presentation", "capacity": 20, "public": true}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    owner
        .send(
            "PUT",
            &format!("/api/v1/rooms/{room}"),
            Some(json!({"moderators": [mod_id]})),
        )
        .await;
    let guest = guest_in(&node, &owner, room).await;

    let mut failures = Vec::new();
    for who in EVERYONE {
        let api = match who {
            Who::Guest => &guest,
            Who::User => &user,
            Who::Moderator => &moderator,
            Who::Owner => &owner,
            Who::Admin => &admin,
        };
        let mut caller = api.join(room).await;
        assert_eq!(
            caller.welcome["you"]["moderator"].as_bool(),
            Some(moderates(who)),
            "{who:?}'s moderator flag"
        );
        let mut t = target.join(room).await;
        for (name, frame, allowed) in requests(&t.id) {
            let got = outcome(&mut caller, frame).await;
            let want = if allowed(who) {
                Outcome::Through
            } else {
                Outcome::Refused("forbidden".into())
            };
            if got != want {
                failures.push(format!("{who:?} {name}: got {got:?}, want {want:?}"));
            }
            if name == "kick" && allowed(who) {
                assert_eq!(
                    t.expect_close().await.code,
                    4001,
                    "{who:?} kicked the target"
                );
            }
        }
        drop(t);
        drop(caller);
        // Let the room forget both before the next caller.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_request_type_has_a_row() {
    let source = include_str!("../src/protocol.rs");
    let start = source.find("pub enum ClientMsg").unwrap();
    let body = &source[start..start + source[start..].find("\n}\n").unwrap()];
    let variants: BTreeSet<String> = body
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let name = l.strip_suffix(" {").or_else(|| l.strip_suffix(','))?;
            (name.chars().next()?.is_ascii_uppercase()
                && name.chars().all(|c| c.is_ascii_alphanumeric()))
            .then(|| name.to_string())
        })
        .map(|v| {
            let mut snake = String::new();
            for (i, c) in v.chars().enumerate() {
                if c.is_ascii_uppercase() && i > 0 {
                    snake.push('_');
                }
                snake.push(c.to_ascii_lowercase());
            }
            snake
        })
        .collect();
    // Answers to an offer and simulcast choices need a media session; `media.rs` tests them.
    let media_only = ["media_offer", "media_answer", "media_layer"];
    let rows: BTreeSet<String> = requests("x")
        .iter()
        .map(|(n, _, _)| n.to_string())
        .chain(media_only.iter().map(|s| s.to_string()))
        .collect();
    let missing: Vec<_> = variants.difference(&rows).collect();
    assert!(missing.is_empty(), "requests without a row: {missing:?}");
}

/// A deleted account's session is worth nothing: every operation answers it exactly as
/// it answers no session at all.
#[tokio::test]
async fn a_deleted_accounts_session_is_anonymous_everywhere() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let (gone, gone_id) = person(&node, &admin, "gone", "admin").await;
    let (status, _) = admin
        .send("DELETE", &format!("/api/v1/users/{gone_id}"), None)
        .await;
    assert_eq!(status, 204);
    let anonymous = node.client();
    let openapi: Value = serde_json::from_str(include_str!("../src/api/openapi.json")).unwrap();
    let mut checked = 0;
    let mut failures = Vec::new();
    for (path, ops) in openapi["paths"].as_object().unwrap() {
        let concrete = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "1" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for method in ops.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            if !["GET", "POST", "PUT", "DELETE", "PATCH"].contains(&method.as_str()) {
                continue;
            }
            let body = (method != "GET" && method != "DELETE").then(|| json!({}));
            let (want, _) = anonymous.send(&method, &concrete, body.clone()).await;
            let (got, answer) = gone.send(&method, &concrete, body).await;
            checked += 1;
            if got != want {
                failures.push(format!(
                    "{method} {concrete}: {got} ({answer}), anonymous gets {want}"
                ));
            }
        }
    }
    assert!(
        checked > 30,
        "only {checked} operations in the OpenAPI document"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
