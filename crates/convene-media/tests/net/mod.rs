//! A virtual network and virtual clock: the SFU and str0m clients exchange datagrams
//! in memory, so every run is the same.
#![allow(dead_code)]

use convene_media::{ParticipantId, Sfu, SfuConfig, SfuEvent};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, MediaData, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};

pub const SFU_ADDR: &str = "127.0.0.1:3478";
pub const STEP: Duration = Duration::from_millis(5);

pub struct Client {
    pub id: ParticipantId,
    pub addr: SocketAddr,
    pub up: Rtc,
    pub down: Rtc,
    pub up_pending: Option<SdpPendingOffer>,
    pub sent_mids: Vec<(Mid, MediaKind)>,
    pub received: Vec<MediaData>,
    pub keyframe_requests: usize,
    pub tracks: Vec<convene_media::TrackInfo>,
    pub up_connected: bool,
    pub down_addr: SocketAddr,
}

pub struct World {
    pub now: Instant,
    pub sfu: Sfu,
    pub clients: Vec<Client>,
    pub events: Vec<SfuEvent>,
    crypto: Arc<str0m::config::CryptoProvider>,
}

fn rtc(now: Instant, crypto: &Arc<str0m::config::CryptoProvider>, addr: SocketAddr) -> Rtc {
    let mut rtc = RtcConfig::new()
        .set_crypto_provider(crypto.clone())
        .clear_codecs()
        .enable_opus(true, false)
        .enable_vp8(true)
        .build(now);
    rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
    rtc
}

impl World {
    pub fn new() -> World {
        let now = Instant::now();
        let config = SfuConfig::new(vec![SFU_ADDR.parse().unwrap()]);
        let crypto = config.crypto.clone();
        World {
            now,
            sfu: Sfu::new(config),
            clients: Vec::new(),
            events: Vec::new(),
            crypto,
        }
    }

    /// A participant joins the SFU's room `room` and answers offers by itself.
    pub fn join(&mut self, name: &str, room: i64, can_publish: bool) -> usize {
        let n = self.clients.len() as u16;
        let addr: SocketAddr = format!("127.0.0.1:{}", 40000 + 2 * n).parse().unwrap();
        let down_addr: SocketAddr = format!("127.0.0.1:{}", 40001 + 2 * n).parse().unwrap();
        let id = ParticipantId(name.into());
        self.clients.push(Client {
            id: id.clone(),
            addr,
            up: rtc(self.now, &self.crypto, addr),
            down: rtc(self.now, &self.crypto, down_addr),
            up_pending: None,
            sent_mids: Vec::new(),
            received: Vec::new(),
            keyframe_requests: 0,
            tracks: Vec::new(),
            up_connected: false,
            down_addr,
        });
        self.sfu.join(room, id, can_publish, self.now);
        self.clients.len() - 1
    }

    pub fn idx(&self, name: &str) -> usize {
        self.clients.iter().position(|c| c.id.0 == name).unwrap()
    }

    /// The client offers to publish audio and video; returns the SFU's verdict.
    pub fn publish(&mut self, i: usize) -> Result<(), convene_media::MediaError> {
        let c = &mut self.clients[i];
        let mut change = c.up.sdp_api();
        let a = change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let v = change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
        let (offer, pending) = change.apply().unwrap();
        c.sent_mids = vec![(a, MediaKind::Audio), (v, MediaKind::Video)];
        let labels = vec![
            (a.to_string(), "microphone".into()),
            (v.to_string(), "camera".into()),
        ];
        let id = c.id.clone();
        let answer = self
            .sfu
            .publish_offer(&id, &offer.to_sdp_string(), &labels, self.now)?;
        let c = &mut self.clients[i];
        c.up.sdp_api()
            .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap())
            .unwrap();
        Ok(())
    }

    /// The client offers one simulcast camera with layers `h` and `l`.
    pub fn publish_simulcast(&mut self, i: usize) {
        let c = &mut self.clients[i];
        let mut layers = str0m::media::Simulcast::new();
        layers.add_send_layer(str0m::media::SimulcastLayer::new("h"));
        layers.add_send_layer(str0m::media::SimulcastLayer::new("l"));
        let mut change = c.up.sdp_api();
        let v = change.add_media(
            MediaKind::Video,
            Direction::SendOnly,
            None,
            None,
            Some(layers),
        );
        let (offer, pending) = change.apply().unwrap();
        c.sent_mids = vec![(v, MediaKind::Video)];
        let id = c.id.clone();
        let answer = self
            .sfu
            .publish_offer(&id, &offer.to_sdp_string(), &[], self.now)
            .unwrap();
        let c = &mut self.clients[i];
        c.up.sdp_api()
            .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap())
            .unwrap();
    }

    /// Sends one frame on each simulcast layer; the payload's last byte names the layer.
    pub fn send_simulcast_frame(&mut self, i: usize, seq: u64) {
        self.send_layers(i, seq, &[("h", b'H'), ("l", b'L')]);
    }

    /// Sends one frame on each of the given layers.
    pub fn send_layers(&mut self, i: usize, seq: u64, layers: &[(&str, u8)]) {
        let now = self.now;
        let c = &mut self.clients[i];
        let (mid, _) = c.sent_mids[0];
        for &(rid, mark) in layers {
            let Some(writer) = c.up.writer(mid) else {
                return;
            };
            let pt = writer.payload_params().next().unwrap().pt();
            let mut data = vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a];
            data.resize(300, 0x42);
            data.push(mark);
            let _ = writer.rid(str0m::media::Rid::from(rid)).write(
                pt,
                now,
                MediaTime::from_90khz(seq * 3000),
                data,
            );
        }
    }

    /// Runs the network and clocks for `d`.
    pub fn run(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.now += STEP;
            self.sfu.handle_timeout(self.now);
            for c in &mut self.clients {
                c.up.handle_input(Input::Timeout(self.now)).unwrap();
                c.down.handle_input(Input::Timeout(self.now)).unwrap();
            }
            self.exchange();
        }
    }

    /// Moves datagrams both ways until quiet; handles signalling events.
    pub fn exchange(&mut self) {
        let sfu_addr: SocketAddr = SFU_ADDR.parse().unwrap();
        for _ in 0..50 {
            let mut moved = false;
            while let Some(t) = self.sfu.poll_transmit() {
                moved = true;
                if let Some(c) = self
                    .clients
                    .iter_mut()
                    .find(|c| c.addr == t.destination || c.down_addr == t.destination)
                {
                    let rtc = if c.addr == t.destination {
                        &mut c.up
                    } else {
                        &mut c.down
                    };
                    let r =
                        Receive::new(Protocol::Udp, sfu_addr, t.destination, &t.contents).unwrap();
                    let _ = rtc.handle_input(Input::Receive(self.now, r));
                }
            }
            let mut outgoing = Vec::new();
            for c in &mut self.clients {
                for (up, rtc) in [(true, &mut c.up), (false, &mut c.down)] {
                    loop {
                        match rtc.poll_output().unwrap() {
                            Output::Timeout(_) => break,
                            Output::Transmit(t) => outgoing.push(t),
                            Output::Event(Event::MediaData(d)) => c.received.push(d),
                            Output::Event(Event::KeyframeRequest(_)) => c.keyframe_requests += 1,
                            Output::Event(Event::Connected) if up => c.up_connected = true,
                            Output::Event(_) => {}
                        }
                    }
                }
            }
            for t in outgoing {
                moved = true;
                self.sfu
                    .handle_receive(self.now, t.source, t.destination, &t.contents);
            }
            while let Some(e) = self.sfu.poll_event() {
                moved = true;
                self.on_event(e);
            }
            if !moved {
                break;
            }
        }
    }

    fn on_event(&mut self, e: SfuEvent) {
        match &e {
            SfuEvent::Offer { participant, sdp } => {
                let i = self.idx(&participant.0);
                let offer = SdpOffer::from_sdp_string(sdp).unwrap();
                let answer = self.clients[i].down.sdp_api().accept_offer(offer).unwrap();
                let id = participant.clone();
                self.sfu
                    .subscribe_answer(&id, &answer.to_sdp_string(), self.now)
                    .unwrap();
            }
            SfuEvent::Tracks {
                participant,
                tracks,
            } => {
                let i = self.idx(&participant.0);
                self.clients[i].tracks = tracks.clone();
            }
            _ => {}
        }
        self.events.push(e);
    }

    /// The publisher sends one audio and one video frame (a keyframe when `key`).
    pub fn send_frames(&mut self, i: usize, seq: u64, audio_level: i8) {
        let now = self.now;
        let c = &mut self.clients[i];
        for (mid, kind) in c.sent_mids.clone() {
            let Some(writer) = c.up.writer(mid) else {
                continue;
            };
            let pt = writer.payload_params().next().unwrap().pt();
            let (time, data) = match kind {
                MediaKind::Audio => (
                    MediaTime::new(seq * 960, str0m::media::Frequency::FORTY_EIGHT_KHZ),
                    vec![0xfc; 80],
                ),
                // A VP8 keyframe starts with an even first byte (P bit clear).
                MediaKind::Video => (MediaTime::from_90khz(seq * 3000), {
                    let mut v = vec![0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a];
                    v.resize(900, 0x42);
                    v
                }),
            };
            let writer = if kind == MediaKind::Audio {
                writer.audio_level(-audio_level.abs(), true)
            } else {
                writer
            };
            writer.write(pt, now, time, data).unwrap();
        }
    }

    /// Publishes frames for `d`, 20 ms apart.
    pub fn stream(&mut self, i: usize, d: Duration, audio_level: i8) {
        let frames = d.as_millis() as u64 / 20;
        for n in 0..frames {
            self.send_frames(i, n, audio_level);
            self.run(Duration::from_millis(20));
        }
    }
}
