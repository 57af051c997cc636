//! The waiting room's rules.

use super::*;

/// A room with a waiting room and a moderator `m` (user 1) in it.
fn lobby_room(capacity: i64) -> RoomState {
    let mut s = state(RoomKind::Conference, capacity, vec![1]);
    s.room.waiting_room = true;
    s.join(seat("m", 1, Role::User)).ok().unwrap();
    s.take_effects();
    s
}

fn guest(conn: &str, user: i64) -> Seat {
    seat(conn, user, Role::Guest)
}

fn lobby_mirror(effects: &[Effect]) -> Option<Vec<String>> {
    effects.iter().rev().find_map(|e| match e {
        Effect::Lobby(entries) => Some(entries.iter().map(|e| e.connection.0.clone()).collect()),
        _ => None,
    })
}

fn waiting_ids(frame: &Value) -> Vec<String> {
    assert_eq!(frame["type"], "lobby");
    frame["waiting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap().to_string())
        .collect()
}

fn decide_frame(s: &mut RoomState, from: &str, target: &str, admit: bool) {
    let participant_id = id(target);
    let msg = if admit {
        ClientMsg::Admit { participant_id }
    } else {
        ClientMsg::Refuse { participant_id }
    };
    s.request_t0(&id(from), msg);
}

#[test]
fn without_a_moderator_right_one_waits_and_moderators_see_it() {
    let mut s = lobby_room(10);
    s.room.waiting_room = false;
    s.join(seat("p", 2, Role::User)).ok().unwrap();
    s.room.waiting_room = true;
    s.take_effects();
    s.join(guest("g", 3)).ok().unwrap();
    let fx = s.take_effects();
    let to_g = frames_to(&fx, "g");
    assert_eq!(types(&to_g), ["waiting"]);
    assert_eq!(to_g[0]["participant_id"], "g");
    assert_eq!(to_g[0]["room"]["waiting_room"], true);
    assert_eq!(waiting_ids(&frames_to(&fx, "m")[0]), ["g"]);
    assert_eq!(frames_to(&fx, "m")[0]["waiting"][0]["guest"], true);
    assert!(frames_to(&fx, "p").is_empty(), "participants hear nothing");
    assert!(media_ops(&fx).is_empty(), "no media for a waiter");
    assert_eq!(lobby_mirror(&fx), Some(vec!["g".to_string()]));
    assert_eq!(s.participants().len(), 2);
    assert!(s.is_waiting(&id("g")) && !s.is_waiting(&id("p")));
    // Waiters alone keep a room open.
    s.remove(&id("m"), LeaveReason::Left, None);
    s.remove(&id("p"), LeaveReason::Left, None);
    assert!(!s.is_empty());
}

#[test]
fn moderators_admins_and_invited_moderators_do_not_wait_and_see_the_lobby() {
    let mut s = lobby_room(10);
    s.join(guest("g", 3)).ok().unwrap();
    s.take_effects();
    let mut invited = guest("gm", 4);
    invited.invited_moderator = true;
    for joiner in [seat("a", 9, Role::Admin), invited] {
        let conn = joiner.id.0.clone();
        s.join(joiner).ok().unwrap();
        let to = frames_to(&s.take_effects(), &conn);
        assert_eq!(types(&to), ["welcome", "lobby"], "{conn}");
        assert_eq!(to[0]["you"]["moderator"], true);
        assert_eq!(waiting_ids(&to[1]), ["g"]);
    }
    let gm = s
        .participants()
        .into_iter()
        .find(|p| p.id == id("gm"))
        .unwrap();
    assert!(gm.guest && gm.moderator);
}

#[test]
fn admitting_seats_the_waiter() {
    let mut s = lobby_room(10);
    s.join(seat("p", 2, Role::User)).ok().unwrap();
    s.take_effects();
    decide_frame(&mut s, "m", "p", true);
    let fx = s.take_effects();
    let to_p = frames_to(&fx, "p");
    assert_eq!(types(&to_p), ["admitted", "welcome"]);
    assert_eq!(to_p[0]["by"], "m");
    assert_eq!(to_p[1]["participants"].as_array().unwrap().len(), 2);
    assert_eq!(types(&frames_to(&fx, "m")), ["lobby", "joined"]);
    assert!(waiting_ids(&frames_to(&fx, "m")[0]).is_empty());
    assert_eq!(lobby_mirror(&fx), Some(vec![]));
    assert_eq!(
        media_ops(&fx),
        [MediaOp::Join {
            participant: id("p"),
            can_publish: true
        }]
    );
    assert!(!s.is_waiting(&id("p")) && s.participants().len() == 2);
}

#[test]
fn refusing_closes_the_waiter_with_4002_and_tells_no_one_else() {
    let mut s = lobby_room(10);
    s.join(seat("p", 2, Role::User)).ok().unwrap();
    s.take_effects();
    decide_frame(&mut s, "m", "p", false);
    let fx = s.take_effects();
    assert_eq!(closes(&fx), [("p".to_string(), Some(close::REFUSED))]);
    assert_eq!(types(&frames_to(&fx, "m")), ["lobby"]);
    assert!(frames_to(&fx, "p").is_empty());
    assert!(media_ops(&fx).is_empty());
    assert!(!s.is_waiting(&id("p")));
    // Knocking again: waiting again.
    s.join(seat("p2", 2, Role::User)).ok().unwrap();
    assert!(s.is_waiting(&id("p2")));
}

#[test]
fn only_moderators_decide_and_only_about_waiters() {
    let mut s = lobby_room(10);
    s.room.waiting_room = false;
    s.join(seat("p", 2, Role::User)).ok().unwrap();
    s.room.waiting_room = true;
    s.join(seat("w", 3, Role::User)).ok().unwrap();
    s.take_effects();
    decide_frame(&mut s, "p", "w", true);
    assert_eq!(
        error_code(&frames_to(&s.take_effects(), "p")).as_deref(),
        Some("forbidden")
    );
    assert!(s.is_waiting(&id("w")));
    decide_frame(&mut s, "m", "nobody", true);
    assert_eq!(
        error_code(&frames_to(&s.take_effects(), "m")).as_deref(),
        Some("not_found")
    );
    // A waiter cannot let itself (or anyone) in, nor chat; it may ping.
    decide_frame(&mut s, "w", "w", true);
    s.request_t0(&id("w"), ClientMsg::Chat { text: "hi".into() });
    s.request_t0(&id("w"), ClientMsg::Ping { nonce: None });
    let to_w = frames_to(&s.take_effects(), "w");
    assert_eq!(types(&to_w), ["error", "error", "pong"]);
    assert_eq!(to_w[0]["code"], "forbidden");
    assert!(s.is_waiting(&id("w")));
}

#[test]
fn a_full_room_keeps_them_waiting() {
    let mut s = lobby_room(1);
    s.join(seat("w", 2, Role::User)).ok().unwrap();
    s.take_effects();
    decide_frame(&mut s, "m", "w", true);
    let fx = s.take_effects();
    assert_eq!(error_code(&frames_to(&fx, "m")).as_deref(), Some("full"));
    assert!(frames_to(&fx, "w").is_empty());
    assert!(s.is_waiting(&id("w")));
    assert_eq!(s.decide(&id("w"), true, None), LobbyOutcome::Full);
    s.remove(&id("m"), LeaveReason::Left, None);
    s.take_effects();
    assert_eq!(s.decide(&id("w"), true, None), LobbyOutcome::Admitted);
    let fx = s.take_effects();
    let to_w = frames_to(&fx, "w");
    assert_eq!(types(&to_w), ["admitted", "welcome"]);
    assert_eq!(to_w[0]["by"], Value::Null, "admitted through the API");
}

#[test]
fn the_lobby_is_bounded() {
    let mut s = lobby_room(2);
    for n in 0..10 {
        s.join(seat(&format!("w{n}"), 10 + n, Role::User))
            .ok()
            .unwrap();
    }
    assert!(matches!(
        s.join(seat("w10", 20, Role::User)),
        Err(JoinRefused::LobbyFull)
    ));
}

#[test]
fn once_admitted_one_comes_back_without_waiting_unless_kicked() {
    let mut s = lobby_room(10);
    s.join(seat("p", 2, Role::User)).ok().unwrap();
    assert_eq!(s.decide(&id("p"), true, None), LobbyOutcome::Admitted);
    // A reconnect (new connection, same account) and a second window go straight in.
    s.remove(&id("p"), LeaveReason::Timeout, None);
    s.join(seat("p2", 2, Role::User)).ok().unwrap();
    s.join(seat("p3", 2, Role::User)).ok().unwrap();
    assert!(!s.is_waiting(&id("p2")) && !s.is_waiting(&id("p3")));
    // Kicked by a moderator: waits again.
    s.request_t0(
        &id("m"),
        ClientMsg::Kick {
            participant_id: id("p2"),
        },
    );
    s.join(seat("p4", 2, Role::User)).ok().unwrap();
    assert!(s.is_waiting(&id("p4")));
    // Kicked through the API from the lobby: closed with 4001.
    s.take_effects();
    assert!(s.kick(&id("p4")));
    assert_eq!(
        closes(&s.take_effects()),
        [("p4".to_string(), Some(close::KICKED))]
    );
    assert!(!s.is_waiting(&id("p4")));
}

#[test]
fn a_waiter_who_leaves_is_gone_without_a_left_frame() {
    let mut s = lobby_room(10);
    s.join(seat("w", 2, Role::User)).ok().unwrap();
    s.take_effects();
    s.remove(&id("w"), LeaveReason::Left, None);
    let fx = s.take_effects();
    assert_eq!(types(&frames_to(&fx, "m")), ["lobby"]);
    assert_eq!(closes(&fx), [("w".to_string(), None)]);
    assert_eq!(lobby_mirror(&fx), Some(vec![]));
    assert!(!s.is_waiting(&id("w")));
}

#[test]
fn turning_the_waiting_room_off_or_making_a_waiter_moderator_lets_them_in() {
    let mut s = lobby_room(10);
    s.join(seat("a", 2, Role::User)).ok().unwrap();
    s.join(seat("b", 3, Role::User)).ok().unwrap();
    s.take_effects();
    let mut r = s.room.clone();
    r.moderators.push(UserId(2));
    s.update(r.clone());
    let fx = s.take_effects();
    assert_eq!(
        types(&frames_to(&fx, "a")),
        ["admitted", "welcome", "lobby"]
    );
    assert!(s.is_waiting(&id("b")));
    r.waiting_room = false;
    s.update(r);
    let fx = s.take_effects();
    assert_eq!(types(&frames_to(&fx, "b")), ["admitted", "welcome"]);
    assert!(!s.is_waiting(&id("b")) && s.participants().len() == 3);
    // Without a waiting room, everyone comes straight in.
    s.join(guest("g", 4)).ok().unwrap();
    let fx = s.take_effects();
    assert_eq!(types(&frames_to(&fx, "g")), ["welcome"]);
    assert_eq!(frames_to(&fx, "g")[0]["you"]["guest"], true);
}

#[test]
fn closing_the_room_or_a_user_closes_waiters_too() {
    let mut s = lobby_room(10);
    s.join(seat("w", 2, Role::User)).ok().unwrap();
    s.join(seat("v", 3, Role::User)).ok().unwrap();
    s.take_effects();
    s.close_user(UserId(3), CloseFrame::new(close::ACCESS_WITHDRAWN, "gone"));
    assert_eq!(
        closes(&s.take_effects()),
        [("v".to_string(), Some(close::ACCESS_WITHDRAWN))]
    );
    s.fence();
    let fx = s.take_effects();
    let mut closed = closes(&fx);
    closed.sort();
    assert_eq!(
        closed,
        [
            ("m".to_string(), Some(close::ROOM_MOVED)),
            ("w".to_string(), Some(close::ROOM_MOVED))
        ]
    );
    assert!(s.is_empty());
}

#[test]
fn a_new_moderator_is_shown_the_lobby() {
    let mut s = lobby_room(10);
    s.room.waiting_room = false;
    s.join(seat("p", 2, Role::User)).ok().unwrap();
    s.room.waiting_room = true;
    s.join(seat("w", 3, Role::User)).ok().unwrap();
    s.take_effects();
    s.request_t0(
        &id("m"),
        ClientMsg::GrantModerator {
            participant_id: id("p"),
        },
    );
    let to_p = frames_to(&s.take_effects(), "p");
    assert_eq!(waiting_ids(to_p.last().unwrap()), ["w"]);
    // p now decides.
    decide_frame(&mut s, "p", "w", true);
    assert_eq!(
        types(&frames_to(&s.take_effects(), "w")),
        ["admitted", "welcome"]
    );
}
