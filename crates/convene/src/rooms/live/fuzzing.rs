//! A way in for the fuzz targets (`fuzz/`, `docs/security.md`): the room's rules fed
//! with frames as clients send them, without sockets or a database. Not an API.

use super::rules::{Effect, NodeFacts, RoomState, Seat};
use crate::ids::{ConnectionId, NodeId, RoomId, UserId};
use crate::protocol::{ClientMsg, ServerRef};
use crate::store::{ChatRow, Role, RoomKind, RoomRow};
use std::time::{Duration, Instant};

/// The connections of the fuzzed room: an admin, a named moderator, a user, a guest (who
/// waits when the room has a waiting room). Frames name them by these ids.
const WHO: [(&str, i64, Role); 4] = [
    ("a", 1, Role::Admin),
    ("b", 2, Role::User),
    ("c", 3, Role::User),
    ("w", 4, Role::Guest),
];

fn seat(i: usize) -> Seat {
    let (id, user, role) = WHO[i];
    Seat {
        id: ConnectionId(id.into()),
        user: UserId(user),
        login: format!("u{user}"),
        display_name: format!("User {user}"),
        role,
        since: 0,
        history: vec![],
        servers: vec![],
        invited_moderator: false,
    }
}

/// Runs one input through a room's rules and panics if a rule breaks.
///
/// The first byte picks the room (kind, waiting room, media, capacity); then each line
/// is a frame: its first byte picks the sender (low two bits) and how long after the
/// previous frame it was read (the rest, in 20 ms steps), the remainder is the frame's
/// text. A line `join` seats its sender again.
#[doc(hidden)]
pub fn fuzz_room(input: &[u8]) {
    let Some((&setup, rest)) = input.split_first() else {
        return;
    };
    let kind = match setup % 3 {
        0 => RoomKind::Conference,
        1 => RoomKind::Presentation,
        _ => RoomKind::Interview,
    };
    let capacity = i64::from(setup >> 5) + 1;
    let room = RoomRow {
        id: RoomId(1),
        name: "Fuzz".into(),
        kind,
        capacity,
        public: true,
        comment: String::new(),
        members: vec![],
        moderators: vec![UserId(2)],
        created_at: 0,
        owner: None,
        waiting_room: setup & 4 != 0,
    };
    let node = NodeFacts {
        server: ServerRef {
            id: NodeId(1),
            name: "node-1".into(),
        },
        media: setup & 8 != 0,
        ice_servers: serde_json::json!([]),
        chat_history: 5,
        limits: Default::default(),
    };
    let mut state = RoomState::new(room, node);
    state.boards_loaded(crate::boards::Boards::default());
    for i in 0..WHO.len() {
        let _ = state.join(seat(i));
    }
    let mut now = Instant::now();
    let mut chat_id = 0;
    settle(&mut state, &mut chat_id, capacity);
    for line in rest.split(|b| *b == b'\n') {
        let Some((&head, frame)) = line.split_first() else {
            continue;
        };
        let who = usize::from(head & 3);
        now += Duration::from_millis(u64::from(head >> 2) * 20);
        let Ok(text) = std::str::from_utf8(frame) else {
            continue;
        };
        let from = ConnectionId(WHO[who].0.into());
        if text == "join" {
            if state.index(&from).is_none() && !state.is_waiting(&from) {
                let _ = state.join(seat(who));
            }
        } else if let Ok(msg) = serde_json::from_str::<ClientMsg>(text) {
            state.request(&from, msg, now);
        }
        settle(&mut state, &mut chat_id, capacity);
    }
}

/// Carries out the effects as the actor would (chat stored at once), checking each.
fn settle(state: &mut RoomState, chat_id: &mut i64, capacity: i64) {
    loop {
        let effects = state.take_effects();
        if effects.is_empty() {
            break;
        }
        for effect in effects {
            match effect {
                Effect::Send { frame, .. } => {
                    let v: serde_json::Value =
                        serde_json::from_str(&frame).expect("server frames are JSON");
                    assert!(v["type"].is_string(), "a frame without a type: {frame}");
                }
                Effect::StoreChat(p) => {
                    assert!(!p.text.is_empty() && p.text.chars().count() <= 2000);
                    *chat_id += 1;
                    let row = ChatRow {
                        id: *chat_id,
                        room_id: RoomId(1),
                        user_id: Some(p.user),
                        login: p.login,
                        display_name: p.display_name,
                        body: p.text,
                        sent_at: 0,
                    };
                    state.chat_stored(p.from, Some(row));
                }
                // Stored at once (or, for odd numbers, refused by the database).
                Effect::StoreBoard(w) => {
                    let stored = w.seq % 7 != 3;
                    state.boards_stored(vec![w], stored);
                    let boards = state.boards.state().expect("loaded");
                    assert!(
                        boards.weight() <= crate::boards::validate::MAX_ROOM_WEIGHT + (1 << 20)
                    );
                    assert!(boards.boards.len() <= crate::boards::validate::MAX_BOARDS + 1);
                }
                Effect::SnapshotBoards { state: json, .. } => {
                    let back: crate::boards::Boards =
                        serde_json::from_str(&json).expect("a snapshot reads back");
                    assert!(back.seq <= state.boards.state().expect("loaded").seq);
                }
                Effect::LoadDocument(request) => {
                    state.document_loaded(request, Err("no such file".into()))
                }
                Effect::Remove { .. } | Effect::Media(_) | Effect::Lobby(_) => {}
            }
        }
    }
    assert!(state.members.len() as i64 <= capacity, "over capacity");
}
