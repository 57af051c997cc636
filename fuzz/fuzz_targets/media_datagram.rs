//! Datagrams on the media socket (`Sfu::handle_receive`, the STUN/DTLS/RTP/RTCP
//! demultiplexer, then str0m): `a` has published, its source address is known from a
//! STUN request naming its peer, and the fuzzer's datagrams arrive from it (or from an
//! unknown address). Input: a mode byte, then datagrams, each after a two-byte length.
#![no_main]

use convene_fuzz::{CLIENT_ADDR, attribute, client, drain, publish_offer, sfu, stun};
use convene_media::ParticipantId;
use convene_media::demux::{Kind, classify, stun_local_ufrag};
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    // The demultiplexer alone, on the whole input.
    if classify(rest) == Kind::Stun {
        let _ = stun_local_ufrag(rest);
    }
    let mut now = Instant::now();
    let mut sfu = sfu(now);
    let a = ParticipantId("a".into());
    let source: SocketAddr = CLIENT_ADDR.parse().unwrap();
    let server: SocketAddr = convene_fuzz::SFU_ADDR.parse().unwrap();
    let mut rtc = client(now, source);
    let (offer, _pending, labels) = publish_offer(&mut rtc);
    let offer_sdp = offer.to_sdp_string();
    let answer = sfu
        .publish_offer(&a, &offer_sdp, &labels, now)
        .expect("a valid offer is answered");
    let ours = attribute(&answer, "ice-ufrag").expect("the answer has an ufrag");
    let theirs = attribute(&offer_sdp, "ice-ufrag").expect("the offer has an ufrag");
    let username = format!("{ours}:{theirs}");
    // Known from here on: DTLS and RTP from this address reach a's peer.
    sfu.handle_receive(now, source, server, &stun(&username, &[]));
    drain(&mut sfu);
    let from = if mode & 1 == 0 {
        source
    } else {
        "10.9.8.7:5000".parse().unwrap()
    };
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let (datagram, tail) = rest[2..].split_at(len);
        rest = tail;
        if mode & 2 != 0 {
            // Wrapped as a STUN request to a's peer: the fuzzer's bytes are attributes.
            sfu.handle_receive(now, from, server, &stun(&username, datagram));
        } else {
            sfu.handle_receive(now, from, server, datagram);
        }
        now += Duration::from_millis(u64::from(mode >> 2));
        drain(&mut sfu);
    }
    sfu.handle_timeout(now + Duration::from_millis(100));
    drain(&mut sfu);
});
