//! Per-participant rate limits (`limits.rs`) through the room's rules, time given per frame.

use super::*;
use crate::rooms::live::limits::{Budget, RateLimits, STRIKES};

fn chat(text: &str) -> ClientMsg {
    ClientMsg::Chat { text: text.into() }
}

fn ping() -> ClientMsg {
    ClientMsg::Ping { nonce: None }
}

fn stored_chats(effects: &[Effect]) -> usize {
    effects
        .iter()
        .filter(|e| matches!(e, Effect::StoreChat(_)))
        .count()
}

#[test]
fn chat_over_the_burst_is_refused_with_an_error_until_the_bucket_refills() {
    let mut s = two(RoomKind::Conference);
    for i in 0..10 {
        s.request(&id("p"), chat(&format!("m{i}")), at(0));
    }
    let fx = s.take_effects();
    assert_eq!(stored_chats(&fx), 10, "the burst passes");
    assert!(frames_to(&fx, "p").is_empty());

    s.request(&id("p"), chat("one too many"), at(10));
    let fx = s.take_effects();
    assert_eq!(stored_chats(&fx), 0, "refused: not stored");
    let to_p = frames_to(&fx, "p");
    assert_eq!(types(&to_p), ["error"]);
    assert_eq!(to_p[0]["code"], "rate_limited");
    assert!(to_p[0]["message"].as_str().unwrap().contains("too fast"));
    assert!(closes(&fx).is_empty(), "the connection stays open");
    assert!(frames_to(&fx, "m").is_empty(), "the others hear nothing");

    // 2 a second sustained: half a second later, one more.
    s.request(&id("p"), chat("later"), at(510));
    s.request(&id("p"), chat("too soon"), at(520));
    let fx = s.take_effects();
    assert_eq!(stored_chats(&fx), 1);
    assert_eq!(
        error_code(&frames_to(&fx, "p")).as_deref(),
        Some("rate_limited")
    );

    // The moderator's own budget is untouched.
    s.request(&id("m"), chat("hello"), at(520));
    assert_eq!(stored_chats(&s.take_effects()), 1);
}

#[test]
fn other_frames_have_their_own_larger_budget() {
    let mut s = two(RoomKind::Conference);
    let burst = RateLimits::default().frames.burst;
    for _ in 0..burst {
        s.request(&id("p"), ping(), at(0));
    }
    let fx = s.take_effects();
    assert_eq!(types(&frames_to(&fx, "p")), vec!["pong"; burst as usize]);
    s.request(&id("p"), ping(), at(0));
    let fx = s.take_effects();
    assert_eq!(
        error_code(&frames_to(&fx, "p")).as_deref(),
        Some("rate_limited")
    );
    assert!(!types(&frames_to(&fx, "p")).contains(&"pong".to_string()));
    // Moderation and media frames count against the same budget: refused, not done.
    s.request(&id("p"), ClientMsg::Hand { raised: true }, at(0));
    let fx = s.take_effects();
    assert!(frames_to(&fx, "m").is_empty(), "no hand raised");
    // Chat has its own budget.
    s.request(&id("p"), chat("still allowed"), at(0));
    assert_eq!(stored_chats(&s.take_effects()), 1);
}

#[test]
fn a_flood_is_closed_with_1008_and_the_others_hear_it() {
    let mut s = two(RoomKind::Conference);
    // ~400 messages in 0.1 s, as the attack in issue 9.
    let mut closed_after = None;
    for i in 0..400u64 {
        s.request(&id("p"), chat("spam"), at(i / 4));
        let fx = s.take_effects();
        if let Some(close) = fx.iter().find_map(|e| match e {
            Effect::Remove { id, close } if id.0 == "p" => close.clone(),
            _ => None,
        }) {
            assert_eq!(close.code, close::POLICY);
            assert!(close.reason.contains("too fast"), "{}", close.reason);
            let left = &frames_to(&fx, "m")[0];
            assert_eq!(left["type"], "left");
            assert_eq!(left["reason"], "error");
            assert!(media_ops(&fx).contains(&MediaOp::Leave {
                participant: id("p")
            }));
            closed_after = Some(i + 1);
            break;
        }
    }
    // The burst, then every strike spent on a refusal, then the close.
    assert_eq!(closed_after, Some(10 + STRIKES as u64 + 1));
    assert!(!s.contains(&id("p")));
    // Frames still in flight from the closed connection do nothing.
    s.request(&id("p"), chat("late"), at(200));
    assert!(s.take_effects().is_empty());
    // The moderator is unharmed.
    s.request(&id("m"), chat("calm"), at(200));
    assert_eq!(stored_chats(&s.take_effects()), 1);
}

#[test]
fn slightly_over_the_limit_is_refused_but_not_closed() {
    let mut s = two(RoomKind::Conference);
    // Three messages a second for a minute, against two: a third refused, no close.
    let mut refused = 0;
    for i in 0..180u64 {
        s.request(&id("p"), chat("steady"), at(i * 1000 / 3));
        let fx = s.take_effects();
        assert!(closes(&fx).is_empty(), "closed at message {i}");
        if error_code(&frames_to(&fx, "p")).is_some() {
            refused += 1;
        }
    }
    assert!((40..=70).contains(&refused), "{refused}");
}

#[test]
fn someone_waiting_in_the_lobby_is_limited_too() {
    let mut s = two(RoomKind::Conference);
    s.room.waiting_room = true;
    s.join(seat("w", 9, Role::Guest)).ok().unwrap();
    s.take_effects();
    let burst = RateLimits::default().frames.burst as u64;
    let mut closed = None;
    for i in 0..burst + STRIKES as u64 + 1 {
        s.request(&id("w"), ping(), at(0));
        let fx = s.take_effects();
        if let Some(c) = closes(&fx).into_iter().find(|(who, _)| who == "w") {
            closed = Some((i + 1, c.1));
            // Never in the room: no `left`, but the moderators' lobby changes.
            assert!(!types(&frames_to(&fx, "m")).contains(&"left".to_string()));
            assert!(types(&frames_to(&fx, "m")).contains(&"lobby".to_string()));
        }
    }
    assert_eq!(
        closed,
        Some((burst + STRIKES as u64 + 1, Some(close::POLICY)))
    );
    assert!(!s.is_waiting(&id("w")));
}

#[test]
fn the_budgets_come_from_the_node() {
    let mut s = two(RoomKind::Conference);
    s.node.limits = RateLimits {
        chat: Budget {
            burst: 1,
            per_second: 1,
        },
        frames: Budget {
            burst: 1,
            per_second: 1,
        },
    };
    s.limiter = crate::rooms::live::limits::Limiter::new(s.node.limits);
    s.request(&id("p"), chat("a"), at(0));
    s.request(&id("p"), chat("b"), at(0));
    let fx = s.take_effects();
    assert_eq!(stored_chats(&fx), 1);
    assert_eq!(
        error_code(&frames_to(&fx, "p")).as_deref(),
        Some("rate_limited")
    );
    s.request(&id("p"), chat("c"), at(1000));
    assert_eq!(stored_chats(&s.take_effects()), 1);
}

#[test]
fn those_who_left_are_forgotten() {
    let mut s = state(RoomKind::Conference, 500, vec![]);
    for n in 0..100 {
        let who = format!("c{n}");
        s.join(seat(&who, n, Role::User)).ok().unwrap();
        s.request(&id(&who), ping(), at(0));
        s.remove(&id(&who), LeaveReason::Left, None);
    }
    s.join(seat("last", 1000, Role::User)).ok().unwrap();
    s.request(&id("last"), ping(), at(0));
    assert!(s.limiter.len() <= 20, "{}", s.limiter.len());
}
