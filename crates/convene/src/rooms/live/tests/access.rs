//! Access and rights that follow edits of the room and of accounts, live.

use super::*;

fn kick(target: &str) -> ClientMsg {
    ClientMsg::Kick {
        participant_id: id(target),
    }
}

#[test]
fn making_the_room_private_closes_those_it_no_longer_admits() {
    // m moderates (user 1), p is a member (user 2), o is neither (user 3), a an admin.
    let mut s = state(RoomKind::Conference, 10, vec![1]);
    for (conn, user, role) in [
        ("m", 1, Role::User),
        ("p", 2, Role::User),
        ("o", 3, Role::User),
        ("a", 4, Role::Admin),
    ] {
        s.join(seat(conn, user, role)).ok().unwrap();
    }
    s.take_effects();
    let mut private = s.room.clone();
    private.public = false;
    private.members = vec![UserId(2)];
    s.update(private);
    let fx = s.take_effects();
    assert_eq!(
        closes(&fx),
        [("o".to_string(), Some(close::ACCESS_WITHDRAWN))]
    );
    assert!(types(&frames_to(&fx, "m")).contains(&"left".to_string()));
    let left: Vec<String> = s.participants().iter().map(|v| v.id.0.clone()).collect();
    assert_eq!(left, ["m", "p", "a"]);
}

#[test]
fn a_member_removed_from_a_private_room_is_closed_and_stays_out() {
    let mut s = state(RoomKind::Conference, 10, vec![1]);
    s.room.public = false;
    s.room.members = vec![UserId(2)];
    s.join(seat("m", 1, Role::User)).ok().unwrap();
    s.join(seat("p", 2, Role::User)).ok().unwrap();
    s.take_effects();
    let mut edited = s.room.clone();
    edited.members = vec![];
    s.update(edited);
    assert_eq!(
        closes(&s.take_effects()),
        [("p".to_string(), Some(close::ACCESS_WITHDRAWN))]
    );
}

#[test]
fn a_moderator_removed_from_the_room_loses_the_right_at_once() {
    let mut s = two(RoomKind::Conference);
    let mut edited = s.room.clone();
    edited.moderators = vec![];
    s.update(edited);
    let fx = s.take_effects();
    let to_p = frames_to(&fx, "p");
    let notice = to_p
        .iter()
        .find(|f| f["type"] == "moderator")
        .expect("moderator frame");
    assert_eq!(
        (
            notice["participant_id"].as_str(),
            notice["moderator"].as_bool()
        ),
        (Some("m"), Some(false))
    );
    assert!(notice["by"].is_null());
    // And can no longer kick.
    s.request_t0(&id("m"), kick("p"));
    let fx = s.take_effects();
    assert_eq!(
        error_code(&frames_to(&fx, "m")).as_deref(),
        Some("forbidden")
    );
    assert!(closes(&fx).is_empty());
}

#[test]
fn a_right_granted_live_outlasts_an_unrelated_edit() {
    let mut s = two(RoomKind::Conference);
    s.request_t0(
        &id("m"),
        ClientMsg::GrantModerator {
            participant_id: id("p"),
        },
    );
    s.take_effects();
    let mut edited = s.room.clone();
    edited.name = "Algebra".into();
    s.update(edited);
    s.take_effects();
    assert!(s.participants().iter().all(|v| v.moderator));
}

#[test]
fn a_demoted_administrator_stops_moderating_and_leaves_a_room_it_may_not_enter() {
    // Public room: the former admin stays, without the moderator right.
    let mut s = state(RoomKind::Conference, 10, vec![]);
    s.join(seat("a", 9, Role::Admin)).ok().unwrap();
    s.join(seat("p", 2, Role::User)).ok().unwrap();
    s.take_effects();
    s.set_role(UserId(9), Role::User);
    s.take_effects();
    s.request_t0(&id("a"), kick("p"));
    let fx = s.take_effects();
    assert_eq!(
        error_code(&frames_to(&fx, "a")).as_deref(),
        Some("forbidden")
    );
    assert!(closes(&fx).is_empty());

    // Private room the admin was in only as an admin: closed with 4003.
    let mut s = state(RoomKind::Conference, 10, vec![]);
    s.room.public = false;
    s.room.members = vec![UserId(2)];
    s.join(seat("a", 9, Role::Admin)).ok().unwrap();
    s.join(seat("p", 2, Role::User)).ok().unwrap();
    s.take_effects();
    s.set_role(UserId(9), Role::User);
    assert_eq!(
        closes(&s.take_effects()),
        [("a".to_string(), Some(close::ACCESS_WITHDRAWN))]
    );
    // Someone else's role change leaves the room alone.
    s.set_role(UserId(5), Role::User);
    assert!(s.take_effects().is_empty());
}
