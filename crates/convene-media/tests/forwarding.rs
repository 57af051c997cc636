//! The media core driven deterministically: str0m clients on a virtual network,
//! time as an input.

mod net;

use convene_media::{MediaError, PeerDirection, SfuEvent};
use net::World;
use std::time::Duration;
use str0m::media::MediaKind;

fn frames_of(w: &World, who: &str, kind: MediaKind) -> usize {
    let c = &w.clients[w.idx(who)];
    let mids: Vec<_> = c
        .tracks
        .iter()
        .filter(|t| {
            t.kind
                == if kind == MediaKind::Audio {
                    "audio"
                } else {
                    "video"
                }
        })
        .map(|t| t.mid.clone())
        .collect();
    c.received
        .iter()
        .filter(|d| mids.contains(&d.mid.to_string()))
        .count()
}

#[test]
fn a_publisher_reaches_every_subscriber_in_its_room_only() {
    let mut w = World::new();
    let alice = w.join("alice", 1, true);
    w.join("bob", 1, true);
    w.join("carol", 1, true);
    w.join("dave", 2, true);
    w.publish(alice).unwrap();
    w.run(Duration::from_millis(500));
    assert!(w.clients[alice].up_connected, "ICE and DTLS completed");
    w.stream(alice, Duration::from_secs(1), 20);

    for who in ["bob", "carol"] {
        let c = &w.clients[w.idx(who)];
        let labels: Vec<_> = c
            .tracks
            .iter()
            .map(|t| (t.publisher.0.as_str(), t.label.as_str()))
            .collect();
        assert_eq!(labels.len(), 2, "{who}: {labels:?}");
        assert!(labels.contains(&("alice", "microphone")) && labels.contains(&("alice", "camera")));
        assert!(
            frames_of(&w, who, MediaKind::Audio) > 30,
            "{who} hears alice"
        );
        assert!(
            frames_of(&w, who, MediaKind::Video) > 30,
            "{who} sees alice"
        );
    }
    assert!(
        w.clients[w.idx("dave")].received.is_empty(),
        "another room hears nothing"
    );
    assert!(
        w.clients[alice].received.is_empty(),
        "no echo to the publisher"
    );
    assert!(w.sfu.stats().frames_forwarded > 150, "{:?}", w.sfu.stats());
}

#[test]
fn a_late_subscriber_gets_the_tracks_and_a_keyframe_is_requested() {
    let mut w = World::new();
    let alice = w.join("alice", 1, true);
    w.publish(alice).unwrap();
    w.run(Duration::from_millis(300));
    w.stream(alice, Duration::from_millis(400), 30);
    let before = w.clients[alice].keyframe_requests;
    w.join("erin", 1, true);
    w.run(Duration::from_millis(300));
    w.stream(alice, Duration::from_millis(600), 30);
    assert!(frames_of(&w, "erin", MediaKind::Video) > 10);
    assert!(
        w.clients[alice].keyframe_requests > before,
        "the publisher was asked for a keyframe"
    );
    assert!(w.sfu.stats().keyframe_requests >= 1);
}

/// The keyframe asked for when a subscriber's answer comes goes out before its
/// connection can carry it; once the connection is up, another is asked for at once
/// (not after the usual interval), or the subscriber waits for a keyframe that never comes.
#[test]
fn a_subscriber_whose_connection_comes_up_asks_for_a_keyframe_at_once() {
    let mut w = World::new();
    let alice = w.join("alice", 1, true);
    w.publish(alice).unwrap();
    w.run(Duration::from_millis(300));
    w.stream(alice, Duration::from_millis(600), 30);
    let before = w.sfu.stats().keyframe_requests;
    w.join("erin", 1, true);
    // Well within the interval between two ordinary requests (500 ms).
    w.run(Duration::from_millis(300));
    let after = w.sfu.stats().keyframe_requests;
    assert!(
        after >= before + 2,
        "one request at the answer, one when the connection came up: {before} then {after}"
    );
}

#[test]
fn tracks_go_when_their_publisher_leaves() {
    let mut w = World::new();
    let alice = w.join("alice", 1, true);
    w.join("bob", 1, true);
    w.publish(alice).unwrap();
    w.run(Duration::from_millis(300));
    w.stream(alice, Duration::from_millis(200), 30);
    assert_eq!(w.clients[w.idx("bob")].tracks.len(), 2);
    let id = w.clients[alice].id.clone();
    w.sfu.leave(&id, w.now);
    w.run(Duration::from_millis(200));
    assert!(
        w.clients[w.idx("bob")].tracks.is_empty(),
        "renegotiated without alice's tracks"
    );
    assert_eq!(w.sfu.participants(), 1);
}

#[test]
fn publishing_rights_are_enforced_and_withdrawn_live() {
    let mut w = World::new();
    let viewer = w.join("viewer", 1, false);
    assert!(matches!(w.publish(viewer), Err(MediaError::NotAllowed)));
    let speaker = w.join("speaker", 1, true);
    w.publish(speaker).unwrap();
    w.run(Duration::from_millis(300));
    w.stream(speaker, Duration::from_millis(200), 30);
    assert_eq!(w.clients[viewer].tracks.len(), 2);
    let id = w.clients[speaker].id.clone();
    w.sfu.set_can_publish(&id, false, w.now);
    w.run(Duration::from_millis(200));
    assert!(
        w.clients[viewer].tracks.is_empty(),
        "withdrawn tracks stop at once"
    );
}

#[test]
fn the_loudest_publisher_becomes_the_active_speaker() {
    let mut w = World::new();
    let alice = w.join("alice", 1, true);
    let bob = w.join("bob", 1, true);
    w.publish(alice).unwrap();
    w.publish(bob).unwrap();
    w.run(Duration::from_millis(300));
    for n in 0..60 {
        w.send_frames(alice, n, 10);
        w.send_frames(bob, n, 90);
        w.run(Duration::from_millis(20));
    }
    let speakers: Vec<_> = w
        .events
        .iter()
        .filter_map(|e| match e {
            SfuEvent::ActiveSpeaker {
                room: 1,
                participant,
            } => Some(participant.clone().map(|p| p.0)),
            _ => None,
        })
        .collect();
    assert_eq!(
        speakers.last(),
        Some(&Some("alice".to_string())),
        "{speakers:?}"
    );
}

#[test]
fn malformed_and_unknown_datagrams_are_dropped_and_counted() {
    let mut w = World::new();
    w.join("alice", 1, true);
    let src = "127.0.0.1:50000".parse().unwrap();
    let dst = net::SFU_ADDR.parse().unwrap();
    w.sfu.handle_receive(w.now, src, dst, &[0xff, 0, 1]);
    w.sfu
        .handle_receive(w.now, src, dst, &[0x80, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
    let mut stun = vec![0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42];
    stun.extend_from_slice(&[0; 12]);
    stun.extend_from_slice(&[0x00, 0x06, 0x00, 0x04, b'n', b'o', b'p', b'e']);
    w.sfu.handle_receive(w.now, src, dst, &stun);
    w.sfu.handle_receive(w.now, src, dst, &[]);
    let s = w.sfu.stats();
    assert_eq!((s.malformed, s.unknown_source), (2, 2), "{s:?}");
    assert!(w.sfu.poll_transmit().is_none(), "nothing answered");
    let bad = w
        .sfu
        .publish_offer(&w.clients[0].id.clone(), "v=0 garbage", &[], w.now);
    assert!(matches!(bad, Err(MediaError::BadSdp(_))));
}

#[test]
fn a_silent_peer_is_cleaned_up() {
    let mut w = World::new();
    let alice = w.join("alice", 1, true);
    w.publish(alice).unwrap();
    w.run(Duration::from_millis(300));
    // The client vanishes: no more datagrams from it, time goes on.
    w.clients.clear();
    let later = w.now + Duration::from_secs(31);
    w.sfu.handle_timeout(later);
    let closed: Vec<_> = std::iter::from_fn(|| w.sfu.poll_event())
        .filter_map(|e| match e {
            SfuEvent::PeerClosed { direction, .. } => Some(direction),
            _ => None,
        })
        .collect();
    assert!(closed.contains(&PeerDirection::Up), "{closed:?}");
}

#[test]
fn each_subscriber_gets_one_simulcast_layer_of_its_choice() {
    let mut w = World::new();
    let alice = w.join("alice", 1, true);
    w.join("bob", 1, true);
    w.join("carol", 1, true);
    w.publish_simulcast(alice);
    w.run(Duration::from_millis(300));
    for n in 0..30 {
        w.send_simulcast_frame(alice, n);
        w.run(Duration::from_millis(20));
    }
    let layers = |w: &World, who: &str| -> (usize, usize) {
        let c = &w.clients[w.idx(who)];
        let h = c
            .received
            .iter()
            .filter(|d| d.data.last() == Some(&b'H'))
            .count();
        let l = c
            .received
            .iter()
            .filter(|d| d.data.last() == Some(&b'L'))
            .count();
        (h, l)
    };
    let (h, l) = layers(&w, "bob");
    assert!(
        h > 10 && l == 0,
        "bob gets only the high layer: {h} high, {l} low"
    );
    // Carol asks for the low layer.
    let (carol, alice_id) = (
        w.clients[w.idx("carol")].id.clone(),
        w.clients[alice].id.clone(),
    );
    let requests_before = w.clients[alice].keyframe_requests;
    w.sfu.select_layer(&carol, &alice_id, true, w.now);
    let c = w.idx("carol");
    w.clients[c].received.clear();
    for n in 30..60 {
        w.send_simulcast_frame(alice, n);
        w.run(Duration::from_millis(20));
    }
    let (h, l) = layers(&w, "carol");
    assert!(
        l > 10 && h == 0,
        "carol now gets only the low layer: {h} high, {l} low"
    );
    assert!(
        w.clients[alice].keyframe_requests > requests_before,
        "a keyframe was asked for the switch"
    );
}

#[test]
fn idle_and_unanswering_participants_cause_no_churn() {
    let mut w = World::new();
    // Nobody publishes: no offer, no peer traffic, nothing closed, for two minutes.
    let quiet = w.join("quiet", 1, true);
    w.sfu.handle_timeout(w.now + Duration::from_secs(60));
    w.sfu.handle_timeout(w.now + Duration::from_secs(120));
    let events: Vec<_> = std::iter::from_fn(|| w.sfu.poll_event()).collect();
    assert!(events.is_empty(), "{events:?}");
    let _ = quiet;
    // Someone publishes; a participant that never answers its offer is dropped once,
    // and not offered again every 30 s.
    let mut w = World::new();
    let alice = w.join("alice", 1, true);
    w.publish(alice).unwrap();
    w.run(Duration::from_millis(300));
    let id = convene_media::ParticipantId("ghost".into());
    w.sfu.join(1, id.clone(), true, w.now);
    let offers = |events: &[SfuEvent]| {
        events
            .iter()
            .filter(|e| matches!(e, SfuEvent::Offer { participant, .. } if *participant == id))
            .count()
    };
    let first: Vec<_> = std::iter::from_fn(|| w.sfu.poll_event()).collect();
    assert_eq!(offers(&first), 1, "the ghost is offered alice's tracks");
    let mut later = Vec::new();
    for s in 1..=5 {
        w.sfu.handle_timeout(w.now + Duration::from_secs(31 * s));
        later.extend(std::iter::from_fn(|| w.sfu.poll_event()));
    }
    assert_eq!(
        offers(&later),
        0,
        "no new offer without a change: {later:?}"
    );
    let closed = later
        .iter()
        .filter(|e| matches!(e, SfuEvent::PeerClosed { participant, .. } if *participant == id))
        .count();
    assert_eq!(closed, 1, "{later:?}");
}

#[test]
fn a_better_layer_arriving_later_is_switched_to() {
    let mut w = World::new();
    let alice = w.join("alice", 1, true);
    let bob = w.join("bob", 1, true);
    w.publish_simulcast(alice);
    w.run(Duration::from_millis(300));
    // Only the low layer at first (the browser starts it first, say).
    for n in 0..15 {
        w.send_layers(alice, n, &[("l", b'L')]);
        w.run(Duration::from_millis(20));
    }
    assert!(
        w.clients[bob]
            .received
            .iter()
            .any(|d| d.data.last() == Some(&b'L'))
    );
    w.clients[bob].received.clear();
    for n in 15..45 {
        w.send_simulcast_frame(alice, n);
        w.run(Duration::from_millis(20));
    }
    let h = w.clients[bob]
        .received
        .iter()
        .filter(|d| d.data.last() == Some(&b'H'))
        .count();
    let l_late = w.clients[bob]
        .received
        .iter()
        .skip(5)
        .filter(|d| d.data.last() == Some(&b'L'))
        .count();
    assert!(
        h > 10 && l_late == 0,
        "bob moved to the high layer: {h} high, {l_late} low after the switch"
    );
}

/// A subscriber who joins after a simulcast publisher started: the keyframe requests
/// name a layer (a request without one reaches no stream of a simulcast track).
#[test]
fn a_late_subscriber_to_simulcast_gets_video_and_a_keyframe_request() {
    let mut w = World::new();
    let alice = w.join("alice", 1, true);
    w.publish_simulcast(alice);
    w.run(Duration::from_millis(300));
    for n in 0..20 {
        w.send_simulcast_frame(alice, n);
        w.run(Duration::from_millis(20));
    }
    let before = w.clients[alice].keyframe_requests;
    w.join("erin", 1, true);
    w.run(Duration::from_millis(300));
    for n in 20..60 {
        w.send_simulcast_frame(alice, n);
        w.run(Duration::from_millis(20));
    }
    let erin = w.idx("erin");
    assert!(!w.clients[erin].received.is_empty(), "erin got no video");
    assert!(
        w.clients[alice].keyframe_requests > before,
        "alice was asked for a keyframe for erin"
    );
}
