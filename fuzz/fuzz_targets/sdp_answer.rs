//! A participant's SDP answer for its receiving connection (`media_answer`), through
//! `Sfu::subscribe_answer`: `a` publishes, `b` gets the server's offer and answers with a
//! browser-like peer's answer, edited by the fuzzer (or replaced whole).
#![no_main]

use convene_fuzz::{CLIENT_ADDR, client, drain, edit, publish_offer, sfu};
use convene_media::{ParticipantId, SfuEvent};
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, Instant};
use str0m::change::{SdpAnswer, SdpOffer};

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();
    let mut sfu = sfu(now);
    let a = ParticipantId("a".into());
    let b = ParticipantId("b".into());
    let mut up = client(now, CLIENT_ADDR.parse().unwrap());
    let (offer, pending, labels) = publish_offer(&mut up);
    let answer = sfu
        .publish_offer(&a, &offer.to_sdp_string(), &labels, now)
        .expect("a valid offer is answered");
    up.sdp_api()
        .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap())
        .unwrap();
    // The server's offer to b follows once a's tracks are known (time may have to pass).
    let mut to_b = None;
    for step in 0..20u64 {
        to_b = drain(&mut sfu).into_iter().find_map(|e| match e {
            SfuEvent::Offer { participant, sdp } if participant == b => Some(sdp),
            _ => None,
        });
        if to_b.is_some() {
            break;
        }
        sfu.handle_timeout(now + Duration::from_millis(10 * step));
    }
    let Some(server_offer) = to_b else {
        // Nothing offered to b: nothing to answer (not what this target is after).
        return;
    };
    let mut down = client(now, "127.0.0.1:40001".parse().unwrap());
    let valid = down
        .sdp_api()
        .accept_offer(SdpOffer::from_sdp_string(&server_offer).unwrap())
        .unwrap()
        .to_sdp_string();
    let _ = sfu.subscribe_answer(&b, &edit(&valid, data), now);
    drain(&mut sfu);
    sfu.handle_timeout(now + Duration::from_millis(500));
    drain(&mut sfu);
    // A second answer to the same offer is refused, never trusted.
    let _ = sfu.subscribe_answer(&b, &valid, now);
    drain(&mut sfu);
});
