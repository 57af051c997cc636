//! Invitations and guests, as the tests drive them through the API.

use super::Api;
use super::ws::Participant;
use serde_json::{Value, json};

/// Creates an invitation; returns its answer.
pub async fn invite(api: &Api, room: i64, body: Value) -> Value {
    let (status, out) = api
        .send(
            "POST",
            &format!("/api/v1/rooms/{room}/invitations"),
            Some(body),
        )
        .await;
    assert_eq!(status, 201, "invitation for room {room}: {out}");
    out
}

/// The token at the end of an invitation's `url`.
pub fn token(invitation: &Value) -> String {
    let url = invitation["url"].as_str().unwrap();
    url.rsplit_once("/invite/").unwrap().1.to_string()
}

/// Redeems without a session; the raw answer.
pub async fn redeem(base: &Api, token: &str, name: &str, password: Option<&str>) -> (u16, Value) {
    let anonymous = Api {
        sid: None,
        ..base.clone()
    };
    anonymous
        .send(
            "POST",
            "/api/v1/invitations/redeem",
            Some(json!({"token": token, "display_name": name, "password": password})),
        )
        .await
}

/// Redeems and returns a client holding the guest's session.
pub async fn guest(base: &Api, token: &str, name: &str) -> Api {
    let (status, out) = redeem(base, token, name, None).await;
    assert_eq!(status, 200, "redeem: {out}");
    assert_eq!(out["user"]["role"], "guest");
    Api {
        sid: Some(out["sid"].as_str().unwrap().to_string()),
        ..base.clone()
    }
}

pub fn code(out: &Value) -> &str {
    out["error"]["code"].as_str().unwrap_or("")
}

/// A room with the waiting room on (or off).
pub async fn room_with(api: &Api, name: &str, waiting_room: bool, moderators: Vec<i64>) -> i64 {
    api.post(
        "/api/v1/rooms",
        json!({"name": name, "public": true, "capacity": 10,
               "waiting_room": waiting_room, "moderators": moderators}),
    )
    .await["id"]
        .as_i64()
        .unwrap()
}

/// `enter`, then the WebSocket; the first frame is left unread.
pub async fn connect(api: &Api, room: i64) -> Participant {
    let enter = api
        .post(&format!("/api/v1/rooms/{room}/enter"), json!({}))
        .await;
    Participant::connect(enter["ws_url"].as_str().unwrap()).await
}
