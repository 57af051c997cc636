//! A participant's SDP offer for its publishing connection (`media_offer`), through
//! `Sfu::publish_offer`: a valid offer from a browser-like peer, edited by the fuzzer
//! (or replaced whole), then time passes. Refusals are fine; a panic is not.
#![no_main]

use convene_fuzz::{CLIENT_ADDR, client, drain, edit, publish_offer, sfu};
use convene_media::ParticipantId;
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();
    let mut sfu = sfu(now);
    let mut rtc = client(now, CLIENT_ADDR.parse().unwrap());
    let (offer, _pending, mut labels) = publish_offer(&mut rtc);
    let sdp = edit(&offer.to_sdp_string(), data);
    if data.first().is_some_and(|b| b & 0x40 != 0) {
        labels.push(("0".into(), String::from_utf8_lossy(data).into_owned()));
    }
    let a = ParticipantId("a".into());
    if let Ok(answer) = sfu.publish_offer(&a, &sdp, &labels, now) {
        assert!(answer.starts_with("v=0"), "{answer}");
    }
    drain(&mut sfu);
    sfu.handle_timeout(now + Duration::from_millis(500));
    drain(&mut sfu);
    sfu.leave(&a, now + Duration::from_secs(1));
    drain(&mut sfu);
});
