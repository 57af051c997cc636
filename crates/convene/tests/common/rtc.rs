//! A WebRTC client made of str0m and a real UDP socket, for tests that check media
//! through a real node without a browser.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, MediaData, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};
use tokio::net::UdpSocket;

pub struct RtcClient {
    pub rtc: Rtc,
    pub socket: UdpSocket,
    pub local: SocketAddr,
    pub received: Vec<MediaData>,
    pub connected: bool,
}

impl RtcClient {
    pub async fn new() -> RtcClient {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let local = socket.local_addr().unwrap();
        let mut rtc = RtcConfig::new()
            .set_crypto_provider(Arc::new(str0m::crypto::from_feature_flags()))
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .build(Instant::now());
        rtc.add_local_candidate(Candidate::host(local, "udp").unwrap());
        RtcClient {
            rtc,
            socket,
            local,
            received: Vec::new(),
            connected: false,
        }
    }

    /// An offer to publish audio and video; returns it with the pending state and mids.
    pub fn publish_offer(&mut self) -> (String, SdpPendingOffer, Mid, Mid) {
        let mut change = self.rtc.sdp_api();
        let audio = change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let video = change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
        let (offer, pending) = change.apply().unwrap();
        (offer.to_sdp_string(), pending, audio, video)
    }

    pub fn accept_answer(&mut self, pending: SdpPendingOffer, sdp: &str) {
        let answer = SdpAnswer::from_sdp_string(sdp).unwrap();
        self.rtc.sdp_api().accept_answer(pending, answer).unwrap();
    }

    pub fn accept_offer(&mut self, sdp: &str) -> String {
        let offer = SdpOffer::from_sdp_string(sdp).unwrap();
        self.rtc
            .sdp_api()
            .accept_offer(offer)
            .unwrap()
            .to_sdp_string()
    }

    /// Runs the connection for `d`: sends what str0m wants sent, feeds what arrives.
    pub async fn run_for(&mut self, d: Duration) {
        let end = Instant::now() + d;
        let mut buf = vec![0u8; 2048];
        loop {
            let timeout = loop {
                match self.rtc.poll_output().unwrap() {
                    Output::Timeout(t) => break t,
                    Output::Transmit(t) => {
                        let _ = self.socket.send_to(&t.contents, t.destination).await;
                    }
                    Output::Event(Event::MediaData(m)) => self.received.push(m),
                    Output::Event(Event::Connected) => self.connected = true,
                    Output::Event(_) => {}
                }
            };
            let now = Instant::now();
            if now >= end {
                return;
            }
            let wait = timeout
                .min(end)
                .saturating_duration_since(now)
                .max(Duration::from_millis(1));
            match tokio::time::timeout(wait, self.socket.recv_from(&mut buf)).await {
                Ok(Ok((n, source))) => {
                    if let Ok(r) = Receive::new(Protocol::Udp, source, self.local, &buf[..n]) {
                        let _ = self.rtc.handle_input(Input::Receive(Instant::now(), r));
                    }
                }
                _ => {
                    let _ = self.rtc.handle_input(Input::Timeout(Instant::now()));
                }
            }
        }
    }

    /// Writes one audio and one video frame.
    pub fn send_frames(&mut self, audio: Mid, video: Mid, n: u64) {
        let now = Instant::now();
        for (mid, kind) in [(audio, MediaKind::Audio), (video, MediaKind::Video)] {
            let Some(writer) = self.rtc.writer(mid) else {
                continue;
            };
            let pt = writer.payload_params().next().unwrap().pt();
            let (time, data) = match kind {
                MediaKind::Audio => (
                    MediaTime::new(n * 960, str0m::media::Frequency::FORTY_EIGHT_KHZ),
                    vec![0xfc; 60],
                ),
                MediaKind::Video => (MediaTime::from_90khz(n * 3000), {
                    let mut v = vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a];
                    v.resize(700, 0x42);
                    v
                }),
            };
            let _ = writer.write(pt, now, time, data);
        }
    }
}
