//! Events of the peers: tracks appearing and ending, media to forward, keyframe
//! requests travelling from subscribers back to publishers.

use crate::ParticipantId;
use crate::member::{OutState, PeerKey, TrackIn, choose_layer};
use crate::negotiation::new_out;
use crate::sfu::{KEYFRAME_INTERVAL, Sfu};
use crate::speaker::SpeakerTracker;
use crate::types::{PeerDirection, RecordedFrame};
use std::time::Instant;
use str0m::media::{KeyframeRequestKind, MediaData, MediaKind, Mid};
use str0m::{Event, IceConnectionState};

impl Sfu {
    pub(crate) fn on_event(&mut self, key: PeerKey, event: Event, now: Instant) {
        let Some(peer) = self.peers.get(&key) else {
            return;
        };
        let (owner, direction) = (peer.owner.clone(), peer.direction);
        match event {
            Event::Connected => {
                if let Some(p) = self.peers.get_mut(&key) {
                    p.connected = true;
                }
                if direction == PeerDirection::Down {
                    self.keyframes_for(&owner, now);
                }
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                if let Some(p) = self.peers.get_mut(&key) {
                    p.rtc.disconnect();
                }
            }
            Event::MediaAdded(added) if direction == PeerDirection::Up => {
                let Some(member) = self.members.get_mut(&owner) else {
                    return;
                };
                if member.tracks_in.iter().any(|t| t.mid == added.mid)
                    || member.tracks_in.len() >= 8
                {
                    return;
                }
                let label = member
                    .labels
                    .get(&added.mid.to_string())
                    .cloned()
                    .unwrap_or_else(|| {
                        if added.kind == MediaKind::Audio {
                            "microphone"
                        } else {
                            "camera"
                        }
                        .to_string()
                    });
                let track = TrackIn {
                    mid: added.mid,
                    kind: added.kind,
                    label,
                    rids: Vec::new(),
                    last_keyframe_request: None,
                };
                let room = member.room;
                let mut subscribers = Vec::new();
                for (who, m) in self
                    .members
                    .iter_mut()
                    .filter(|(w, m)| m.room == room && **w != owner)
                {
                    m.tracks_out.push(new_out(&owner, &track));
                    subscribers.push(who.clone());
                }
                self.members
                    .get_mut(&owner)
                    .expect("present")
                    .tracks_in
                    .push(track);
                for who in subscribers {
                    self.negotiate(&who, now);
                }
            }
            Event::MediaChanged(changed)
                if direction == PeerDirection::Up && !changed.direction.is_receiving() =>
            {
                // The client stopped sending on a mid (e.g. screen sharing ended).
                let room = self.members.get(&owner).map(|m| m.room);
                if let (Some(room), Some(member)) = (room, self.members.get_mut(&owner)) {
                    member.tracks_in.retain(|t| t.mid != changed.mid);
                    self.stop_tracks_of(&owner, room, Some(changed.mid), now);
                }
            }
            Event::MediaData(data) if direction == PeerDirection::Up => {
                self.forward(&owner, data, now)
            }
            Event::KeyframeRequest(req) if direction == PeerDirection::Down => {
                let Some(member) = self.members.get(&owner) else {
                    return;
                };
                let found = member
                    .tracks_out
                    .iter()
                    .find(|t| t.state.mid() == Some(req.mid))
                    .map(|t| (t.publisher.clone(), t.mid_in, t.rid));
                if let Some((publisher, mid_in, rid)) = found {
                    self.request_keyframe(&publisher, mid_in, rid, req.kind, now);
                }
            }
            _ => {}
        }
    }

    /// Sends one frame of `publisher` to every subscriber in its room.
    fn forward(&mut self, publisher: &ParticipantId, data: MediaData, now: Instant) {
        let Some(member) = self.members.get_mut(publisher) else {
            return;
        };
        let room = member.room;
        if data.params.spec().codec.is_audio() {
            if let Some(level) = data.ext_vals.audio_level {
                self.speakers
                    .entry(room)
                    .or_insert_with(SpeakerTracker::new)
                    .observe(publisher, level.unsigned_abs(), now);
            }
            if member.audio_blocked {
                return;
            }
        }
        let Some(track) = member.tracks_in.iter_mut().find(|t| t.mid == data.mid) else {
            return;
        };
        let mut new_layer = false;
        if let Some(rid) = data.rid
            && !track.rids.contains(&rid)
            && track.rids.len() < 4
        {
            track.rids.push(rid);
            new_layer = true;
        }
        let rids = track.rids.clone();
        // Every layer of a simulcast track: the recorder keeps the best one that has a
        // picture, switching on keyframes (a layer the publisher stops sending under load
        // must not leave the recording black).
        if self.recorded_rooms.contains(&room) {
            let audio = data.params.spec().codec.is_audio();
            let frame = RecordedFrame {
                room,
                publisher: publisher.clone(),
                track: data.mid.to_string(),
                label: track.label.clone(),
                audio,
                layer: data.rid.map(|r| r.to_string()),
                media_us: (data.time.as_seconds() * 1e6).max(0.0) as u64,
                arrived: data.network_time,
                // VP8: bit 0 of the frame tag is 0 on a keyframe.
                keyframe: audio || data.data.first().is_some_and(|b| b & 1 == 0),
                data: data.data.clone(),
            };
            self.push_recorded(frame);
        }
        let mut switched = false;
        if !data.contiguous {
            // Loss on the way in: ask the publisher for a fresh keyframe.
            self.request_keyframe(publisher, data.mid, data.rid, KeyframeRequestKind::Pli, now);
        }
        let mut touched = Vec::new();
        for (_, sub) in self
            .members
            .iter_mut()
            .filter(|(w, m)| m.room == room && *w != publisher)
        {
            for t in sub.tracks_out.iter_mut() {
                let OutState::Open(mid_out) = t.state else {
                    continue;
                };
                if &t.publisher != publisher || t.mid_in != data.mid {
                    continue;
                }
                if data.rid.is_some() {
                    // Layers show up one by one: choose again whenever a new one appears,
                    // so a subscriber is not stuck on whichever arrived first.
                    if t.rid.is_none() || new_layer {
                        let best = choose_layer(&rids, t.prefer_low);
                        switched |= t.rid.is_some() && best != t.rid;
                        t.rid = best;
                    }
                    if t.rid != data.rid {
                        continue;
                    }
                }
                let Some(peer) = self.peers.get_mut(&sub.down) else {
                    continue;
                };
                let Some(writer) = peer.rtc.writer(mid_out) else {
                    continue;
                };
                let Some(pt) = writer.match_params(data.params) else {
                    continue;
                };
                if writer
                    .write(pt, data.network_time, data.time, data.data.clone())
                    .is_ok()
                {
                    self.stats.frames_forwarded += 1;
                    self.stats.bytes_forwarded += data.data.len() as u64;
                    touched.push(sub.down);
                }
            }
        }
        if switched {
            self.request_keyframe(publisher, data.mid, None, KeyframeRequestKind::Pli, now);
        }
        self.dirty.extend(touched);
    }

    /// A receiving connection is up (at last, or again): what it was sent before could not
    /// be decoded, and the keyframe asked for when its answer came may have gone out before
    /// it could carry it. Every publisher of a video it receives is asked for a new one, past
    /// the usual interval (a connection comes up rarely).
    fn keyframes_for(&mut self, subscriber: &ParticipantId, now: Instant) {
        let Some(member) = self.members.get(subscriber) else {
            return;
        };
        let wanted: Vec<(ParticipantId, Mid, Option<str0m::media::Rid>)> = member
            .tracks_out
            .iter()
            .filter(|t| t.kind == MediaKind::Video && matches!(t.state, OutState::Open(_)))
            .map(|t| (t.publisher.clone(), t.mid_in, t.rid))
            .collect();
        for (publisher, mid, rid) in wanted {
            if let Some(track) = self
                .members
                .get_mut(&publisher)
                .and_then(|p| p.tracks_in.iter_mut().find(|t| t.mid == mid))
            {
                track.last_keyframe_request = None;
            }
            self.request_keyframe(&publisher, mid, rid, KeyframeRequestKind::Pli, now);
        }
    }

    pub(crate) fn request_keyframe(
        &mut self,
        publisher: &ParticipantId,
        mid: Mid,
        rid: Option<str0m::media::Rid>,
        kind: KeyframeRequestKind,
        now: Instant,
    ) {
        let Some(member) = self.members.get_mut(publisher) else {
            return;
        };
        let Some(up) = member.up else { return };
        let Some(track) = member.tracks_in.iter_mut().find(|t| t.mid == mid) else {
            return;
        };
        if track.kind != MediaKind::Video
            || track
                .last_keyframe_request
                .is_some_and(|t| now.saturating_duration_since(t) < KEYFRAME_INTERVAL)
        {
            return;
        }
        track.last_keyframe_request = Some(now);
        let Some(peer) = self.peers.get_mut(&up) else {
            return;
        };
        if let Some(mut writer) = peer.rtc.writer(mid)
            && writer.request_keyframe(rid, kind).is_ok()
        {
            self.stats.keyframe_requests += 1;
            self.dirty.push(up);
        }
    }
}
