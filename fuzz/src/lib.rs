//! What the fuzz targets share: a media world with a publishing client, and edits of a
//! valid text (an SDP) driven by the fuzzer's bytes, so that inputs stay close enough to
//! valid to reach the code past the first parse.

use convene_media::{ParticipantId, Sfu, SfuConfig, SfuEvent};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use str0m::change::{SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, Simulcast, SimulcastLayer};
use str0m::{Candidate, Rtc, RtcConfig};

pub const SFU_ADDR: &str = "127.0.0.1:3478";
pub const CLIENT_ADDR: &str = "127.0.0.1:40000";

/// A browser-like peer (Opus and VP8) at `addr`.
pub fn client(now: Instant, addr: SocketAddr) -> Rtc {
    let crypto = Arc::new(str0m::crypto::from_feature_flags());
    let mut rtc = RtcConfig::new()
        .set_crypto_provider(crypto)
        .clear_codecs()
        .enable_opus(true, false)
        .enable_vp8(true)
        .build(now);
    rtc.add_local_candidate(Candidate::host(addr, "udp").expect("a host candidate"));
    rtc
}

/// A publishing offer from `rtc`: microphone, and a camera with two simulcast layers.
pub fn publish_offer(rtc: &mut Rtc) -> (SdpOffer, SdpPendingOffer, Vec<(String, String)>) {
    let mut layers = Simulcast::new();
    layers.add_send_layer(SimulcastLayer::new("h"));
    layers.add_send_layer(SimulcastLayer::new("l"));
    let mut change = rtc.sdp_api();
    let a = change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
    let v = change.add_media(
        MediaKind::Video,
        Direction::SendOnly,
        None,
        None,
        Some(layers),
    );
    let (offer, pending) = change.apply().expect("an offer");
    let labels = vec![
        (a.to_string(), "microphone".to_string()),
        (v.to_string(), "camera".to_string()),
    ];
    (offer, pending, labels)
}

/// An SFU with participants `a` and `b` in room 1.
pub fn sfu(now: Instant) -> Sfu {
    let mut sfu = Sfu::new(SfuConfig::new(vec![SFU_ADDR.parse().unwrap()]));
    sfu.join(1, ParticipantId("a".into()), true, now);
    sfu.join(1, ParticipantId("b".into()), true, now);
    sfu
}

/// Everything the SFU has to say, taken out (and checked a little).
pub fn drain(sfu: &mut Sfu) -> Vec<SfuEvent> {
    while let Some(t) = sfu.poll_transmit() {
        assert!(!t.contents.is_empty(), "an empty datagram");
    }
    let mut events = Vec::new();
    while let Some(e) = sfu.poll_event() {
        events.push(e);
    }
    events
}

/// `text` edited as `data` says. First byte: bit 7 set, `data[1..]` is the whole text;
/// otherwise its low two bits pick replace, insert, delete or extend of the line that
/// `data[1]` picks, with `data[2..]` as the new text.
pub fn edit(text: &str, data: &[u8]) -> String {
    let Some((&op, rest)) = data.split_first() else {
        return text.to_string();
    };
    if op & 0x80 != 0 {
        return String::from_utf8_lossy(rest).into_owned();
    }
    let mut lines: Vec<String> = text.split("\r\n").map(str::to_string).collect();
    let Some((&at, payload)) = rest.split_first() else {
        return text.to_string();
    };
    let at = usize::from(at) % lines.len();
    let payload = String::from_utf8_lossy(payload).into_owned();
    match op & 3 {
        0 => lines[at] = payload,
        1 => lines.insert(at, payload),
        2 => {
            lines.remove(at);
        }
        _ => lines[at].push_str(&payload),
    }
    lines.join("\r\n")
}

/// The value of the first `a=<name>:` line of an SDP.
pub fn attribute<'a>(sdp: &'a str, name: &str) -> Option<&'a str> {
    let prefix = format!("a={name}:");
    sdp.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .map(str::trim)
}

/// A STUN binding request to `username` (`<our ufrag>:<theirs>`), with `extra` as
/// further attributes (lengths as given: the fuzzer may lie).
pub fn stun(username: &str, extra: &[u8]) -> Vec<u8> {
    let mut body = vec![0x00, 0x06];
    body.extend_from_slice(&(username.len() as u16).to_be_bytes());
    body.extend_from_slice(username.as_bytes());
    while body.len() % 4 != 0 {
        body.push(0);
    }
    body.extend_from_slice(extra);
    let mut msg = vec![0x00, 0x01];
    msg.extend_from_slice(&(body.len().min(u16::MAX as usize) as u16).to_be_bytes());
    msg.extend_from_slice(&[0x21, 0x12, 0xA4, 0x42]);
    msg.extend_from_slice(&[7; 12]);
    msg.extend_from_slice(&body);
    msg
}
