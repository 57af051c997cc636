//! The forwarding unit: its public interface, peers and demultiplexing. Negotiation
//! is in `negotiation.rs`, forwarding in `forward.rs`.

use crate::demux::{self, Kind};
use crate::member::{Member, OutState, PeerKey};
use crate::negotiation::new_out;
use crate::speaker::SpeakerTracker;
use crate::types::{MediaError, PeerDirection, RecordedFrame, SfuConfig, SfuEvent, SfuStats};
use crate::{ParticipantId, RoomKey};
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};
use str0m::change::SdpOffer;
use str0m::media::{KeyframeRequestKind, MediaKind, Mid};
use str0m::net::{Protocol, Receive, Transmit};
use str0m::{Candidate, IceCreds, Input, Output, Rtc, RtcConfig};

/// Datagrams queued for sending before the oldest are dropped.
const MAX_TRANSMITS: usize = 20_000;
const MAX_EVENTS: usize = 10_000;
/// At most one keyframe request per published track in this interval.
pub(crate) const KEYFRAME_INTERVAL: Duration = Duration::from_millis(500);
const SPEAKER_TICK: Duration = Duration::from_millis(250);
/// Largest SDP accepted from a client.
pub const MAX_SDP_BYTES: usize = 64 * 1024;

pub(crate) struct Peer {
    pub(crate) rtc: Rtc,
    pub(crate) owner: ParticipantId,
    pub(crate) direction: PeerDirection,
    ufrag: String,
    next_timeout: Option<Instant>,
    pub(crate) last_heard: Instant,
    /// ICE and DTLS completed at least once.
    pub(crate) connected: bool,
    /// An offer or answer went out: from now on the client must be heard from.
    pub(crate) engaged: bool,
    sources: Vec<SocketAddr>,
}

pub struct Sfu {
    pub(crate) config: SfuConfig,
    pub(crate) members: HashMap<ParticipantId, Member>,
    pub(crate) peers: HashMap<PeerKey, Peer>,
    pub(crate) by_ufrag: HashMap<String, PeerKey>,
    pub(crate) by_source: HashMap<SocketAddr, PeerKey>,
    pub(crate) transmits: VecDeque<Transmit>,
    pub(crate) events: VecDeque<SfuEvent>,
    /// Peers with output to collect.
    pub(crate) dirty: Vec<PeerKey>,
    pub(crate) speakers: HashMap<RoomKey, SpeakerTracker<ParticipantId>>,
    pub(crate) next_speaker_tick: Option<Instant>,
    pub(crate) next_key: PeerKey,
    pub(crate) stats: SfuStats,
    /// Rooms whose publishers' frames are copied out for the recorder.
    pub(crate) recorded_rooms: HashSet<RoomKey>,
    pub(crate) recorded: VecDeque<RecordedFrame>,
}

/// Recorded frames held for the caller at most (a few seconds of a busy room).
const MAX_RECORDED: usize = 8192;

impl Sfu {
    pub fn new(config: SfuConfig) -> Sfu {
        Sfu {
            config,
            members: HashMap::new(),
            peers: HashMap::new(),
            by_ufrag: HashMap::new(),
            by_source: HashMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            dirty: Vec::new(),
            speakers: HashMap::new(),
            next_speaker_tick: None,
            next_key: 1,
            stats: SfuStats::default(),
            recorded_rooms: HashSet::new(),
            recorded: VecDeque::new(),
        }
    }

    /// Starts (or stops) copying the frames of `room`'s publishers out through
    /// [`Sfu::poll_recorded`]. Starting asks every video publisher of the room for a
    /// keyframe, so that the recording begins with a picture.
    pub fn set_recording(&mut self, room: RoomKey, on: bool, now: Instant) {
        if !on {
            self.recorded_rooms.remove(&room);
            return;
        }
        if !self.recorded_rooms.insert(room) {
            return;
        }
        let tracks: Vec<(ParticipantId, Mid)> = self
            .members
            .iter()
            .filter(|(_, m)| m.room == room)
            .flat_map(|(who, m)| {
                m.tracks_in
                    .iter()
                    .filter(|t| t.kind == MediaKind::Video)
                    .map(move |t| (who.clone(), t.mid))
            })
            .collect();
        for (who, mid) in tracks {
            if let Some(t) = self
                .members
                .get_mut(&who)
                .and_then(|m| m.tracks_in.iter_mut().find(|t| t.mid == mid))
            {
                t.last_keyframe_request = None;
            }
            self.request_keyframe(&who, mid, None, KeyframeRequestKind::Pli, now);
        }
    }

    /// The next frame for the recorder of a recorded room.
    pub fn poll_recorded(&mut self) -> Option<RecordedFrame> {
        self.recorded.pop_front()
    }

    pub(crate) fn push_recorded(&mut self, frame: RecordedFrame) {
        if self.recorded.len() >= MAX_RECORDED {
            self.recorded.pop_front();
            self.stats.recorded_dropped += 1;
        }
        self.recorded.push_back(frame);
    }

    pub fn stats(&self) -> &SfuStats {
        &self.stats
    }

    pub fn participants(&self) -> usize {
        self.members.len()
    }

    pub(crate) fn new_peer(
        &mut self,
        owner: &ParticipantId,
        direction: PeerDirection,
        now: Instant,
    ) -> PeerKey {
        let creds = IceCreds::new();
        let mut rtc = RtcConfig::new()
            .set_ice_lite(true)
            .set_local_ice_credentials(creds.clone())
            .set_crypto_provider(self.config.crypto.clone())
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .build(now);
        for addr in &self.config.candidates {
            match Candidate::host(*addr, "udp") {
                Ok(c) => {
                    rtc.add_local_candidate(c);
                }
                Err(e) => tracing::warn!(%addr, error = %e, "unusable media address"),
            }
        }
        let key = self.next_key;
        self.next_key += 1;
        self.by_ufrag.insert(creds.ufrag.clone(), key);
        self.peers.insert(
            key,
            Peer {
                rtc,
                owner: owner.clone(),
                direction,
                ufrag: creds.ufrag,
                next_timeout: Some(now),
                last_heard: now,
                connected: false,
                engaged: false,
                sources: Vec::new(),
            },
        );
        key
    }

    fn remove_peer(&mut self, key: PeerKey) {
        if let Some(mut peer) = self.peers.remove(&key) {
            peer.rtc.disconnect();
            self.by_ufrag.remove(&peer.ufrag);
            for s in peer.sources {
                if self.by_source.get(&s) == Some(&key) {
                    self.by_source.remove(&s);
                }
            }
        }
    }

    /// Seats a participant; it will receive every track published in its room.
    pub fn join(&mut self, room: RoomKey, who: ParticipantId, can_publish: bool, now: Instant) {
        if self.members.contains_key(&who) {
            self.leave(&who, now);
        }
        let down = self.new_peer(&who, PeerDirection::Down, now);
        let mut member = Member::new(room, can_publish, down);
        for (publisher, other) in self.members.iter().filter(|(_, m)| m.room == room) {
            for t in &other.tracks_in {
                member.tracks_out.push(new_out(publisher, t));
            }
        }
        self.members.insert(who.clone(), member);
        self.negotiate(&who, now);
        self.flush(now);
    }

    /// Takes a participant out; its tracks stop for everyone.
    pub fn leave(&mut self, who: &ParticipantId, now: Instant) {
        let Some(member) = self.members.remove(who) else {
            return;
        };
        self.remove_peer(member.down);
        if let Some(up) = member.up {
            self.remove_peer(up);
        }
        if let Some(s) = self.speakers.get_mut(&member.room) {
            s.forget(who);
        }
        self.stop_tracks_of(who, member.room, None, now);
        self.flush(now);
    }

    /// The client's offer for its publishing connection; returns the answer.
    pub fn publish_offer(
        &mut self,
        who: &ParticipantId,
        sdp: &str,
        labels: &[(String, String)],
        now: Instant,
    ) -> Result<String, MediaError> {
        let member = self
            .members
            .get_mut(who)
            .ok_or(MediaError::UnknownParticipant)?;
        if !member.can_publish {
            return Err(MediaError::NotAllowed);
        }
        if sdp.len() > MAX_SDP_BYTES {
            return Err(MediaError::BadSdp("too large".into()));
        }
        for (mid, label) in labels.iter().take(16) {
            let label = match label.as_str() {
                "microphone" | "camera" | "screen" => label.clone(),
                _ => continue,
            };
            member.labels.insert(mid.chars().take(16).collect(), label);
        }
        let offer = SdpOffer::from_sdp_string(sdp).map_err(|e| {
            self.stats.malformed += 1;
            MediaError::BadSdp(e.to_string())
        })?;
        let up = match self.members[who].up {
            Some(k) => k,
            None => {
                let k = self.new_peer(who, PeerDirection::Up, now);
                self.members.get_mut(who).expect("present").up = Some(k);
                k
            }
        };
        let peer = self.peers.get_mut(&up).expect("up peer exists");
        if !peer.engaged {
            peer.engaged = true;
            peer.last_heard = now;
        }
        let answer = catch_unwind(AssertUnwindSafe(|| peer.rtc.sdp_api().accept_offer(offer)));
        let answer = match answer {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => {
                self.stats.malformed += 1;
                return Err(MediaError::BadSdp(e.to_string()));
            }
            Err(_) => {
                self.stats.peer_failures += 1;
                self.peer_failed(up, now);
                self.flush(now);
                return Err(MediaError::BadSdp(
                    "the offer could not be processed".into(),
                ));
            }
        };
        self.dirty.push(up);
        self.flush(now);
        Ok(answer.to_sdp_string())
    }

    /// Grants or withdraws the right to publish; withdrawing stops the tracks at once.
    pub fn set_can_publish(&mut self, who: &ParticipantId, allowed: bool, now: Instant) {
        let Some(member) = self.members.get_mut(who) else {
            return;
        };
        member.can_publish = allowed;
        if allowed {
            return;
        }
        let room = member.room;
        member.tracks_in.clear();
        member.labels.clear();
        if let Some(up) = member.up.take() {
            self.remove_peer(up);
            // The client must publish again on a new connection, after a new check.
            self.push_event(SfuEvent::PeerClosed {
                participant: who.clone(),
                direction: PeerDirection::Up,
            });
        }
        self.stop_tracks_of(who, room, None, now);
        self.flush(now);
    }

    /// A moderator's mute: the participant's audio is no longer forwarded.
    pub fn set_audio_blocked(&mut self, who: &ParticipantId, blocked: bool) {
        if let Some(m) = self.members.get_mut(who) {
            m.audio_blocked = blocked;
        }
    }

    /// Which simulcast layer `subscriber` gets of `publisher`'s video.
    pub fn select_layer(
        &mut self,
        subscriber: &ParticipantId,
        publisher: &ParticipantId,
        low: bool,
        now: Instant,
    ) {
        let Some(member) = self.members.get_mut(subscriber) else {
            return;
        };
        let mut changed = Vec::new();
        for t in member
            .tracks_out
            .iter_mut()
            .filter(|t| &t.publisher == publisher && t.kind == MediaKind::Video)
        {
            if t.prefer_low != low {
                t.prefer_low = low;
                t.rid = None;
                changed.push(t.mid_in);
            }
        }
        for mid in changed {
            self.request_keyframe(publisher, mid, None, KeyframeRequestKind::Pli, now);
        }
        self.flush(now);
    }

    /// A datagram arrived on the media socket.
    pub fn handle_receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        buf: &[u8],
    ) {
        self.stats.datagrams_in += 1;
        let key = match demux::classify(buf) {
            Kind::Stun => demux::stun_local_ufrag(buf).and_then(|u| self.by_ufrag.get(u).copied()),
            Kind::Dtls | Kind::Rtp => self.by_source.get(&source).copied(),
            Kind::Unknown => {
                self.stats.malformed += 1;
                return;
            }
        };
        let Some(key) = key else {
            self.stats.unknown_source += 1;
            return;
        };
        let Ok(receive) = Receive::new(Protocol::Udp, source, destination, buf) else {
            self.stats.malformed += 1;
            return;
        };
        let peer = self.peers.get_mut(&key).expect("indexed peers exist");
        peer.last_heard = now;
        if !peer.sources.contains(&source) && peer.sources.len() < 8 {
            peer.sources.push(source);
            self.by_source.insert(source, key);
        }
        let result = catch_unwind(AssertUnwindSafe(|| {
            peer.rtc.handle_input(Input::Receive(now, receive))
        }));
        match result {
            Ok(Ok(())) => self.dirty.push(key),
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "datagram refused");
                self.stats.malformed += 1;
                self.dirty.push(key);
            }
            Err(_) => {
                self.stats.peer_failures += 1;
                self.peer_failed(key, now);
            }
        }
        self.flush(now);
    }

    /// Drives time: retransmissions, feedback, keep-alives, silence detection.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<PeerKey> = self
            .peers
            .iter()
            .filter(|(_, p)| p.next_timeout.is_none_or(|t| t <= now))
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            let peer = self.peers.get_mut(&key).expect("listed");
            let result = catch_unwind(AssertUnwindSafe(|| {
                peer.rtc.handle_input(Input::Timeout(now))
            }));
            match result {
                Ok(_) => self.dirty.push(key),
                Err(_) => {
                    self.stats.peer_failures += 1;
                    self.peer_failed(key, now);
                }
            }
        }
        let silent: Vec<PeerKey> = self
            .peers
            .iter()
            .filter(|(_, p)| {
                p.engaged
                    && now.saturating_duration_since(p.last_heard) > self.config.silence_timeout
            })
            .map(|(k, _)| *k)
            .collect();
        for key in silent {
            tracing::debug!(peer = key, "peer went silent");
            self.peer_failed(key, now);
        }
        if self.next_speaker_tick.is_none_or(|t| t <= now) {
            self.next_speaker_tick = Some(now + SPEAKER_TICK);
            let mut changes = Vec::new();
            for (room, tracker) in &mut self.speakers {
                if let Some(change) = tracker.tick(now) {
                    changes.push(SfuEvent::ActiveSpeaker {
                        room: *room,
                        participant: change,
                    });
                }
            }
            for e in changes {
                self.push_event(e);
            }
        }
        self.flush(now);
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<SfuEvent> {
        self.events.pop_front()
    }

    /// When [`Sfu::handle_timeout`] must be called next.
    pub fn next_timeout(&self) -> Option<Instant> {
        let peers = self.peers.values().filter_map(|p| p.next_timeout).min();
        match (peers, self.next_speaker_tick) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub(crate) fn push_event(&mut self, e: SfuEvent) {
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(e);
    }

    /// A peer failed or went silent: remove it and tell the signalling layer.
    pub(crate) fn peer_failed(&mut self, key: PeerKey, now: Instant) {
        let Some(peer) = self.peers.get(&key) else {
            return;
        };
        let (owner, direction, was_connected) =
            (peer.owner.clone(), peer.direction, peer.connected);
        self.remove_peer(key);
        let mut reoffer = false;
        if let Some(member) = self.members.get_mut(&owner) {
            let room = member.room;
            match direction {
                PeerDirection::Up if member.up == Some(key) => {
                    member.up = None;
                    member.tracks_in.clear();
                    self.stop_tracks_of(&owner, room, None, now);
                }
                PeerDirection::Down if member.down == key => {
                    // A fresh receiving connection; everything is offered again.
                    let down = self.new_peer(&owner, PeerDirection::Down, now);
                    let member = self.members.get_mut(&owner).expect("present");
                    member.down = down;
                    member.pending = None;
                    member.has_channel = false;
                    // Offer again at once only to a client that had connected; one that never
                    // answered gets an offer with the next change of tracks, not every 30 s.
                    reoffer = was_connected;
                    member.tracks_out.retain(|t| {
                        !matches!(t.state, OutState::ToStop(_) | OutState::NegotiatingStop(_))
                    });
                    for t in &mut member.tracks_out {
                        t.state = OutState::ToOpen;
                    }
                }
                _ => {}
            }
        }
        self.push_event(SfuEvent::PeerClosed {
            participant: owner.clone(),
            direction,
        });
        if reoffer {
            self.negotiate(&owner, now);
        }
    }

    /// Collects the output of every peer touched, until none is left.
    pub(crate) fn flush(&mut self, now: Instant) {
        while let Some(key) = self.dirty.pop() {
            self.drain(key, now);
        }
    }

    fn drain(&mut self, key: PeerKey, now: Instant) {
        loop {
            let Some(peer) = self.peers.get_mut(&key) else {
                return;
            };
            if !peer.rtc.is_alive() {
                self.peer_failed(key, now);
                return;
            }
            let output = match catch_unwind(AssertUnwindSafe(|| peer.rtc.poll_output())) {
                Ok(Ok(o)) => o,
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "peer failed");
                    self.peer_failed(key, now);
                    return;
                }
                Err(_) => {
                    self.stats.peer_failures += 1;
                    self.peer_failed(key, now);
                    return;
                }
            };
            match output {
                Output::Timeout(t) => {
                    peer.next_timeout = Some(t);
                    return;
                }
                Output::Transmit(t) => {
                    if self.transmits.len() >= MAX_TRANSMITS {
                        self.transmits.pop_front();
                        self.stats.transmits_dropped += 1;
                    }
                    self.transmits.push_back(t);
                }
                Output::Event(e) => self.on_event(key, e, now),
            }
        }
    }
}
