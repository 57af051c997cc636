//! Offer/answer on the receiving (down) connections: tracks to open and to stop are
//! offered together, one offer at a time per participant.

use crate::member::{OutState, TrackIn, TrackOut};
use crate::sfu::{MAX_SDP_BYTES, Sfu};
use crate::types::{MediaError, SfuEvent, TrackInfo};
use crate::{ParticipantId, RoomKey};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;
use str0m::change::SdpAnswer;
use str0m::media::{Direction, KeyframeRequestKind, MediaKind, Mid};

impl Sfu {
    /// The client's answer to the server's offer on its receiving connection.
    pub fn subscribe_answer(
        &mut self,
        who: &ParticipantId,
        sdp: &str,
        now: Instant,
    ) -> Result<(), MediaError> {
        let member = self
            .members
            .get_mut(who)
            .ok_or(MediaError::UnknownParticipant)?;
        if sdp.len() > MAX_SDP_BYTES {
            return Err(MediaError::BadSdp("too large".into()));
        }
        let answer = SdpAnswer::from_sdp_string(sdp).map_err(|e| {
            self.stats.malformed += 1;
            MediaError::BadSdp(e.to_string())
        })?;
        let pending = member.pending.take().ok_or(MediaError::NoPendingOffer)?;
        let down = member.down;
        let peer = self.peers.get_mut(&down).expect("down peer exists");
        let accepted = catch_unwind(AssertUnwindSafe(|| {
            peer.rtc.sdp_api().accept_answer(pending, answer)
        }));
        match accepted {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                self.stats.malformed += 1;
                // The offer is spent; put the tracks back to be offered again.
                let member = self.members.get_mut(who).expect("present");
                for t in &mut member.tracks_out {
                    t.state = match t.state {
                        OutState::Negotiating(_) => OutState::ToOpen,
                        OutState::NegotiatingStop(m) => OutState::ToStop(m),
                        s => s,
                    };
                }
                return Err(MediaError::BadSdp(e.to_string()));
            }
            Err(_) => {
                self.stats.peer_failures += 1;
                self.peer_failed(down, now);
                self.flush(now);
                return Err(MediaError::BadSdp(
                    "the answer could not be processed".into(),
                ));
            }
        }
        let member = self.members.get_mut(who).expect("present");
        let mut opened = Vec::new();
        for t in &mut member.tracks_out {
            if let OutState::Negotiating(m) = t.state {
                t.state = OutState::Open(m);
                if t.kind == MediaKind::Video {
                    opened.push((t.publisher.clone(), t.mid_in));
                }
            }
        }
        member
            .tracks_out
            .retain(|t| !matches!(t.state, OutState::NegotiatingStop(_)));
        let tracks = member
            .tracks_out
            .iter()
            .filter_map(|t| match t.state {
                OutState::Open(m) => Some(TrackInfo {
                    mid: m.to_string(),
                    publisher: t.publisher.clone(),
                    kind: kind_name(t.kind),
                    label: t.label.clone(),
                }),
                _ => None,
            })
            .collect();
        self.push_event(SfuEvent::Tracks {
            participant: who.clone(),
            tracks,
        });
        // A new subscriber needs a keyframe to start decoding.
        for (publisher, mid) in opened {
            self.request_keyframe(&publisher, mid, None, KeyframeRequestKind::Pli, now);
        }
        self.dirty.push(down);
        // More changes may have queued up while this offer was pending.
        self.negotiate(who, now);
        self.flush(now);
        Ok(())
    }

    /// Marks the tracks of `publisher` (all, or one mid) to stop at every subscriber.
    pub(crate) fn stop_tracks_of(
        &mut self,
        publisher: &ParticipantId,
        room: RoomKey,
        mid: Option<Mid>,
        now: Instant,
    ) {
        let mut touched = Vec::new();
        for (who, m) in self.members.iter_mut().filter(|(_, m)| m.room == room) {
            let mut changed = false;
            m.tracks_out.retain_mut(|t| {
                if &t.publisher != publisher || mid.is_some_and(|x| x != t.mid_in) {
                    return true;
                }
                changed = true;
                match t.state {
                    OutState::ToOpen => false,
                    OutState::Open(m) | OutState::Negotiating(m) => {
                        t.state = OutState::ToStop(m);
                        true
                    }
                    _ => true,
                }
            });
            if changed {
                touched.push(who.clone());
            }
        }
        for who in touched {
            self.negotiate(&who, now);
        }
    }

    /// Offers the pending track changes of a participant's receiving connection.
    pub(crate) fn negotiate(&mut self, who: &ParticipantId, now: Instant) {
        let Some(member) = self.members.get_mut(who) else {
            return;
        };
        // Nothing to receive yet: no offer at all (a participant who never publishes
        // nor watches costs no peer connection).
        if member.pending.is_some() || (!member.has_channel && member.tracks_out.is_empty()) {
            return;
        }
        let Some(peer) = self.peers.get_mut(&member.down) else {
            return;
        };
        let mut change = peer.rtc.sdp_api();
        if !member.has_channel {
            change.add_channel("convene".into());
            member.has_channel = true;
        }
        for t in &mut member.tracks_out {
            match t.state {
                OutState::ToOpen => {
                    let stream = if t.label == "screen" {
                        format!("{}-screen", t.publisher)
                    } else {
                        t.publisher.to_string()
                    };
                    let mid = change.add_media(
                        t.kind,
                        Direction::SendOnly,
                        Some(stream),
                        Some(t.label.clone()),
                        None,
                    );
                    t.state = OutState::Negotiating(mid);
                }
                OutState::ToStop(m) => {
                    change.stop_media(m);
                    t.state = OutState::NegotiatingStop(m);
                }
                _ => {}
            }
        }
        if !change.has_changes() {
            return;
        }
        if let Some((offer, pending)) = change.apply() {
            if !peer.engaged {
                peer.engaged = true;
                peer.last_heard = now;
            }
            member.pending = Some(pending);
            let sdp = offer.to_sdp_string();
            self.dirty.push(member.down);
            self.push_event(SfuEvent::Offer {
                participant: who.clone(),
                sdp,
            });
        }
    }
}

pub(crate) fn new_out(publisher: &ParticipantId, t: &TrackIn) -> TrackOut {
    TrackOut {
        publisher: publisher.clone(),
        mid_in: t.mid,
        kind: t.kind,
        label: t.label.clone(),
        state: OutState::ToOpen,
        rid: None,
        prefer_low: false,
    }
}

fn kind_name(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Audio => "audio",
        MediaKind::Video => "video",
    }
}
