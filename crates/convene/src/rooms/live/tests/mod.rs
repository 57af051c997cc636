//! The room's rules, one by one, without a database, sockets or a clock.

use super::lobby::LobbyOutcome;
use super::rules::{Effect, MediaOp, NodeFacts, RoomState, Seat};
use crate::ids::{ConnectionId, NodeId, RoomId, UserId};
use crate::protocol::{ClientMsg, CloseFrame, LeaveReason, ServerRef, close};
use crate::rooms::JoinRefused;
use crate::store::{ChatRow, Role, RoomKind, RoomRow};
use serde_json::Value;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

mod access;
mod limits;
mod lobby;

/// The time every frame of these tests is read at, unless a test says otherwise.
pub(super) static T0: LazyLock<Instant> = LazyLock::new(Instant::now);

impl RoomState {
    /// A frame read at [`T0`].
    pub(super) fn request_t0(&mut self, from: &ConnectionId, msg: ClientMsg) {
        self.request(from, msg, *T0)
    }
}

/// `ms` milliseconds after [`T0`].
pub(super) fn at(ms: u64) -> Instant {
    *T0 + Duration::from_millis(ms)
}

pub(super) fn room(kind: RoomKind, capacity: i64, moderators: Vec<UserId>) -> RoomRow {
    RoomRow {
        id: RoomId(7),
        name: "Maths".into(),
        kind,
        capacity,
        public: true,
        comment: String::new(),
        members: vec![],
        moderators,
        created_at: 0,
        owner: None,
        waiting_room: false,
    }
}

pub(super) fn state(kind: RoomKind, capacity: i64, moderators: Vec<i64>) -> RoomState {
    RoomState::new(
        room(kind, capacity, moderators.into_iter().map(UserId).collect()),
        NodeFacts {
            server: ServerRef {
                id: NodeId(1),
                name: "node-1".into(),
            },
            media: true,
            ice_servers: serde_json::json!([]),
            chat_history: 3,
            limits: Default::default(),
        },
    )
}

pub(super) fn id(n: &str) -> ConnectionId {
    ConnectionId(n.into())
}

pub(super) fn seat(conn: &str, user: i64, role: Role) -> Seat {
    Seat {
        id: id(conn),
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

/// Frames sent to `to`, parsed.
pub(super) fn frames_to(effects: &[Effect], to: &str) -> Vec<Value> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send { to: t, frame } if t.0 == to => {
                Some(serde_json::from_str(frame).unwrap())
            }
            _ => None,
        })
        .collect()
}

pub(super) fn types(frames: &[Value]) -> Vec<String> {
    frames
        .iter()
        .map(|f| f["type"].as_str().unwrap().to_string())
        .collect()
}

pub(super) fn closes(effects: &[Effect]) -> Vec<(String, Option<u16>)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Remove { id, close } => Some((id.0.clone(), close.as_ref().map(|c| c.code))),
            _ => None,
        })
        .collect()
}

pub(super) fn media_ops(effects: &[Effect]) -> Vec<MediaOp> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Media(op) => Some(op.clone()),
            _ => None,
        })
        .collect()
}

/// A room with a moderator `m` (user 1) and a participant `p` (user 2).
pub(super) fn two(kind: RoomKind) -> RoomState {
    let mut s = state(kind, 10, vec![1]);
    s.join(seat("m", 1, Role::User)).ok().unwrap();
    s.join(seat("p", 2, Role::User)).ok().unwrap();
    s.take_effects();
    s
}

pub(super) fn error_code(frames: &[Value]) -> Option<String> {
    frames
        .iter()
        .find(|f| f["type"] == "error")
        .map(|f| f["code"].as_str().unwrap().to_string())
}

#[test]
fn a_joiner_gets_a_welcome_and_the_others_hear_of_it() {
    let mut s = state(RoomKind::Conference, 10, vec![]);
    s.join(seat("a", 1, Role::User)).ok().unwrap();
    s.take_effects();
    s.join(seat("b", 2, Role::User)).ok().unwrap();
    let fx = s.take_effects();
    let welcome = &frames_to(&fx, "b")[0];
    assert_eq!(welcome["type"], "welcome");
    assert_eq!(welcome["participants"].as_array().unwrap().len(), 2);
    assert_eq!(welcome["server"]["id"], 1);
    assert_eq!(welcome["media"]["can_publish"], true);
    assert_eq!(types(&frames_to(&fx, "a")), ["joined"]);
    assert_eq!(
        media_ops(&fx),
        [MediaOp::Join {
            participant: id("b"),
            can_publish: true
        }]
    );
}

#[test]
fn capacity_is_enforced() {
    let mut s = state(RoomKind::Conference, 1, vec![]);
    assert!(s.join(seat("a", 1, Role::User)).is_ok());
    assert!(matches!(
        s.join(seat("b", 2, Role::User)),
        Err(JoinRefused::Full)
    ));
    s.remove(&id("a"), LeaveReason::Left, None);
    assert!(s.join(seat("b", 2, Role::User)).is_ok());
}

#[test]
fn only_moderators_moderate() {
    let mut s = two(RoomKind::Conference);
    for msg in [
        ClientMsg::Kick {
            participant_id: id("m"),
        },
        ClientMsg::GrantModerator {
            participant_id: id("p"),
        },
        ClientMsg::LowerHand {
            participant_id: id("m"),
        },
        ClientMsg::AskMute {
            participant_id: id("m"),
        },
        ClientMsg::Mute {
            participant_id: id("m"),
        },
    ] {
        s.request_t0(&id("p"), msg);
        let fx = s.take_effects();
        assert_eq!(
            error_code(&frames_to(&fx, "p")).as_deref(),
            Some("forbidden")
        );
        assert!(closes(&fx).is_empty());
    }
    // A moderator kicks; the kicked one is closed with 4001 and the others told.
    s.request_t0(
        &id("m"),
        ClientMsg::Kick {
            participant_id: id("p"),
        },
    );
    let fx = s.take_effects();
    assert_eq!(closes(&fx), [("p".to_string(), Some(close::KICKED))]);
    assert_eq!(frames_to(&fx, "m")[0]["reason"], "kicked");
    assert!(!s.contains(&id("p")));
}

#[test]
fn moderation_aims_at_people_in_the_room_and_not_at_oneself() {
    let mut s = two(RoomKind::Conference);
    s.request_t0(
        &id("m"),
        ClientMsg::Kick {
            participant_id: id("ghost"),
        },
    );
    assert_eq!(
        error_code(&frames_to(&s.take_effects(), "m")).as_deref(),
        Some("not_found")
    );
    s.request_t0(
        &id("m"),
        ClientMsg::Kick {
            participant_id: id("m"),
        },
    );
    assert_eq!(
        error_code(&frames_to(&s.take_effects(), "m")).as_deref(),
        Some("bad_request")
    );
}

#[test]
fn granting_and_revoking_moderator_rights() {
    let mut s = two(RoomKind::Conference);
    s.request_t0(
        &id("m"),
        ClientMsg::GrantModerator {
            participant_id: id("p"),
        },
    );
    let fx = s.take_effects();
    assert_eq!(frames_to(&fx, "p")[0]["type"], "moderator");
    // Now p may moderate.
    s.request_t0(
        &id("p"),
        ClientMsg::RevokeModerator {
            participant_id: id("m"),
        },
    );
    let fx = s.take_effects();
    assert_eq!(frames_to(&fx, "m")[0]["moderator"], false);
    // An administrator stays a moderator.
    s.join(seat("admin", 9, Role::Admin)).ok().unwrap();
    s.take_effects();
    s.request_t0(
        &id("p"),
        ClientMsg::RevokeModerator {
            participant_id: id("admin"),
        },
    );
    assert_eq!(
        error_code(&frames_to(&s.take_effects(), "p")).as_deref(),
        Some("forbidden")
    );
}

#[test]
fn hands_go_up_and_a_moderator_lowers_them() {
    let mut s = two(RoomKind::Conference);
    s.request_t0(&id("p"), ClientMsg::Hand { raised: true });
    let fx = s.take_effects();
    assert_eq!(frames_to(&fx, "m")[0]["raised"], true);
    // Raising it again changes nothing.
    s.request_t0(&id("p"), ClientMsg::Hand { raised: true });
    assert!(s.take_effects().is_empty());
    s.request_t0(
        &id("m"),
        ClientMsg::LowerHand {
            participant_id: id("p"),
        },
    );
    assert_eq!(frames_to(&s.take_effects(), "p")[0]["raised"], false);
}

#[test]
fn a_ping_is_answered_to_its_sender_only() {
    let mut s = two(RoomKind::Conference);
    s.request_t0(
        &id("p"),
        ClientMsg::Ping {
            nonce: Some("n1".into()),
        },
    );
    let fx = s.take_effects();
    assert_eq!(frames_to(&fx, "p")[0]["nonce"], "n1");
    assert!(frames_to(&fx, "m").is_empty());
}

pub(super) fn row(n: i64, body: &str) -> ChatRow {
    ChatRow {
        id: n,
        room_id: RoomId(7),
        user_id: Some(UserId(2)),
        login: "u2".into(),
        display_name: "User 2".into(),
        body: body.into(),
        sent_at: 0,
    }
}

#[test]
fn chat_is_echoed_only_once_stored() {
    let mut s = two(RoomKind::Conference);
    s.request_t0(
        &id("p"),
        ClientMsg::Chat {
            text: "  hello\u{7}  ".into(),
        },
    );
    let fx = s.take_effects();
    // Nothing is sent yet: the message goes to the writer, cleaned.
    assert!(frames_to(&fx, "m").is_empty() && frames_to(&fx, "p").is_empty());
    let pending = match &fx[..] {
        [Effect::StoreChat(p)] => p.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(pending.text, "hello");
    s.chat_stored(pending.from, Some(row(1, "hello")));
    let fx = s.take_effects();
    assert_eq!(frames_to(&fx, "m")[0]["message"]["text"], "hello");
    assert_eq!(frames_to(&fx, "p")[0]["message"]["participant_id"], "p");
    // Not stored: only the sender hears, and nothing is echoed.
    s.chat_stored(id("p"), None);
    let fx = s.take_effects();
    assert_eq!(
        error_code(&frames_to(&fx, "p")).as_deref(),
        Some("unavailable")
    );
    assert!(frames_to(&fx, "m").is_empty());
    s.chat_refused(&id("m"));
    assert_eq!(
        error_code(&frames_to(&s.take_effects(), "m")).as_deref(),
        Some("unavailable")
    );
    // Empty chat is refused at once.
    s.request_t0(&id("p"), ClientMsg::Chat { text: " ".into() });
    assert_eq!(
        error_code(&frames_to(&s.take_effects(), "p")).as_deref(),
        Some("bad_request")
    );
}

#[test]
fn a_joiner_sees_messages_stored_after_its_history_was_read() {
    let mut s = two(RoomKind::Conference);
    for (n, text) in [(1, "one"), (2, "two"), (3, "three"), (4, "four")] {
        s.chat_stored(id("p"), Some(row(n, text)));
    }
    s.take_effects();
    // The joiner read the history when only "one" and "two" were stored.
    let mut j = seat("late", 3, Role::User);
    j.history = vec![
        crate::protocol::ChatView::from_row(&row(1, "one"), None),
        crate::protocol::ChatView::from_row(&row(2, "two"), None),
    ];
    s.join(j).ok().unwrap();
    let welcome = &frames_to(&s.take_effects(), "late")[0];
    let texts: Vec<_> = welcome["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    // The newest three (chat_history), in order, none twice.
    assert_eq!(texts, ["two", "three", "four"]);
}

#[test]
fn presentations_let_moderators_and_presenters_publish() {
    let mut s = two(RoomKind::Presentation);
    s.join(seat("q", 3, Role::User)).ok().unwrap();
    let fx = s.take_effects();
    assert_eq!(frames_to(&fx, "q")[0]["media"]["can_publish"], false);
    s.request_t0(
        &id("q"),
        ClientMsg::MediaOffer {
            sdp: "v=0".into(),
            tracks: Default::default(),
        },
    );
    assert_eq!(
        error_code(&frames_to(&s.take_effects(), "q")).as_deref(),
        Some("forbidden")
    );
    s.request_t0(
        &id("m"),
        ClientMsg::GrantPresenter {
            participant_id: id("q"),
        },
    );
    let fx = s.take_effects();
    assert!(types(&frames_to(&fx, "q")).contains(&"publish_rights".to_string()));
    assert!(media_ops(&fx).contains(&MediaOp::SetPublish {
        participant: id("q"),
        allowed: true
    }));
    s.request_t0(
        &id("q"),
        ClientMsg::MediaOffer {
            sdp: "v=0".into(),
            tracks: Default::default(),
        },
    );
    assert!(matches!(
        &media_ops(&s.take_effects())[..],
        [MediaOp::Offer { .. }]
    ));
    // Presenters exist in presentations only.
    let mut c = two(RoomKind::Conference);
    c.request_t0(
        &id("m"),
        ClientMsg::GrantPresenter {
            participant_id: id("p"),
        },
    );
    assert_eq!(
        error_code(&frames_to(&c.take_effects(), "m")).as_deref(),
        Some("bad_request")
    );
}

#[test]
fn an_interview_has_two_speakers_at_most() {
    let mut s = two(RoomKind::Interview);
    s.join(seat("q", 3, Role::User)).ok().unwrap();
    s.take_effects();
    let offer = || ClientMsg::MediaOffer {
        sdp: "v=0".into(),
        tracks: Default::default(),
    };
    s.request_t0(&id("m"), offer());
    s.request_t0(&id("p"), offer());
    s.take_effects();
    s.request_t0(&id("q"), offer());
    assert_eq!(
        error_code(&frames_to(&s.take_effects(), "q")).as_deref(),
        Some("forbidden")
    );
    // One stops: the slot is free, and their publishing connection is closed.
    s.request_t0(
        &id("p"),
        ClientMsg::MediaState {
            microphone: false,
            camera: false,
            screen: false,
        },
    );
    let fx = s.take_effects();
    assert!(media_ops(&fx).contains(&MediaOp::SetPublish {
        participant: id("p"),
        allowed: false
    }));
    s.request_t0(&id("q"), offer());
    assert!(matches!(
        &media_ops(&s.take_effects())[..],
        [MediaOp::Offer { .. }]
    ));
}

#[test]
fn a_moderator_mutes_and_the_microphone_comes_back_when_turned_on() {
    let mut s = two(RoomKind::Conference);
    s.request_t0(
        &id("m"),
        ClientMsg::Mute {
            participant_id: id("p"),
        },
    );
    let fx = s.take_effects();
    assert!(types(&frames_to(&fx, "p")).contains(&"muted".to_string()));
    assert!(media_ops(&fx).contains(&MediaOp::BlockAudio {
        participant: id("p"),
        blocked: true
    }));
    s.request_t0(
        &id("p"),
        ClientMsg::MediaState {
            microphone: true,
            camera: false,
            screen: false,
        },
    );
    assert!(media_ops(&s.take_effects()).contains(&MediaOp::BlockAudio {
        participant: id("p"),
        blocked: false
    }));
}

#[test]
fn a_fenced_room_closes_everyone_with_4010_and_admits_no_one() {
    let mut s = two(RoomKind::Conference);
    s.fence();
    let fx = s.take_effects();
    assert_eq!(
        closes(&fx),
        [
            ("m".to_string(), Some(close::ROOM_MOVED)),
            ("p".to_string(), Some(close::ROOM_MOVED))
        ]
    );
    assert!(s.is_empty() && s.is_fenced());
    assert!(matches!(
        s.join(seat("x", 5, Role::User)),
        Err(JoinRefused::Moved)
    ));
}

#[test]
fn too_slow_closed_users_and_room_changes() {
    let mut s = two(RoomKind::Conference);
    s.too_slow(&id("p"));
    let fx = s.take_effects();
    assert_eq!(closes(&fx), [("p".to_string(), Some(close::TOO_SLOW))]);
    assert_eq!(frames_to(&fx, "m")[0]["reason"], "slow");
    s.join(seat("p2", 2, Role::User)).ok().unwrap();
    s.join(seat("p3", 2, Role::User)).ok().unwrap();
    s.take_effects();
    s.close_user(
        UserId(2),
        CloseFrame::new(close::ACCESS_WITHDRAWN, "account deleted"),
    );
    let fx = s.take_effects();
    assert_eq!(closes(&fx).len(), 2);
    // The room becomes a presentation with user 2 as moderator; rights follow, and
    // everyone hears that p4 moderates (and so draws on the whiteboard) now.
    s.join(seat("p4", 2, Role::User)).ok().unwrap();
    s.join(seat("q", 3, Role::User)).ok().unwrap();
    s.take_effects();
    s.update(room(RoomKind::Presentation, 10, vec![UserId(1), UserId(2)]));
    let fx = s.take_effects();
    assert_eq!(
        types(&frames_to(&fx, "q")),
        [
            "room_updated",
            "moderator",
            "whiteboard",
            "publish_rights",
            "media_state"
        ]
    );
    assert!(media_ops(&fx).contains(&MediaOp::SetPublish {
        participant: id("q"),
        allowed: false
    }));
    let p4 = s
        .participants()
        .into_iter()
        .find(|v| v.id == id("p4"))
        .unwrap();
    assert!(p4.moderator && p4.can_publish);
}

#[test]
fn the_owner_is_a_moderator_and_stays_one() {
    let mut r = room(RoomKind::Presentation, 10, vec![]);
    r.owner = Some(UserId(3));
    let mut s = RoomState::new(
        r,
        NodeFacts {
            server: ServerRef {
                id: NodeId(1),
                name: "node-1".into(),
            },
            media: true,
            ice_servers: serde_json::json!([]),
            chat_history: 3,
            limits: Default::default(),
        },
    );
    s.join(seat("o", 3, Role::Organiser)).ok().unwrap();
    s.join(seat("p", 2, Role::User)).ok().unwrap();
    let fx = s.take_effects();
    let welcome = &frames_to(&fx, "o")[0];
    assert_eq!(welcome["you"]["moderator"], true);
    assert_eq!(welcome["you"]["can_publish"], true, "moderators present");
    assert_eq!(frames_to(&fx, "p")[0]["you"]["moderator"], false);
    // The owner moderates: grants p moderation; p cannot take the owner's away.
    s.request_t0(
        &id("o"),
        ClientMsg::GrantModerator {
            participant_id: id("p"),
        },
    );
    s.take_effects();
    s.request_t0(
        &id("p"),
        ClientMsg::RevokeModerator {
            participant_id: id("o"),
        },
    );
    assert_eq!(
        error_code(&frames_to(&s.take_effects(), "p")).as_deref(),
        Some("forbidden")
    );
}
