//! The room's media rules: who may publish (by room kind and role), the interview
//! limit, moderator mutes and presenters. The room decides; the node's media service
//! (`crate::media`) carries out the [`MediaOp`]s.

use super::rules::{Effect, MediaOp, RoomState, may_publish};
use crate::ids::ConnectionId;
use crate::protocol::{ClientMsg, ErrorCode, MediaFlags, ServerMsg};
use crate::store::RoomKind;

/// In an interview, at most this many participants publish at once.
const INTERVIEW_PUBLISHERS: usize = 2;

impl RoomState {
    fn media(&mut self, op: MediaOp) {
        self.push(Effect::Media(op));
    }

    /// Recomputes one participant's right to publish; tells them and the SFU if it changed.
    pub(super) fn refresh_publish_right(&mut self, id: &ConnectionId, reason: &str) {
        let Some(i) = self.index(id) else { return };
        let m = &self.members[i];
        let allowed =
            self.node.media && may_publish(self.room.kind, m.view.moderator, m.view.presenter);
        if allowed == m.view.can_publish {
            return;
        }
        let m = &mut self.members[i];
        m.view.can_publish = allowed;
        if !allowed {
            m.publishing = false;
            m.view.media = MediaFlags::default();
        }
        self.media(MediaOp::SetPublish {
            participant: id.clone(),
            allowed,
        });
        let frame = ServerMsg::PublishRights {
            can_publish: allowed,
            reason,
        }
        .to_frame();
        self.send_to(id, frame);
        if !allowed {
            self.broadcast_media_state(id);
        }
    }

    fn broadcast_media_state(&mut self, id: &ConnectionId) {
        let Some(i) = self.index(id) else { return };
        let frame = ServerMsg::MediaState {
            participant_id: id,
            media: self.members[i].view.media,
        }
        .to_frame();
        self.broadcast(frame);
    }

    /// The media frames of `docs/protocol.md`; moderator checks are already done.
    pub(super) fn media_request(&mut self, from: &ConnectionId, msg: ClientMsg) {
        if !self.node.media {
            return self.error_to(
                from,
                ErrorCode::Unavailable,
                "this server has no media service",
            );
        }
        let Some(i) = self.index(from) else { return };
        match msg {
            ClientMsg::MediaOffer { sdp, tracks } => {
                let me = &self.members[i];
                if !me.view.can_publish {
                    return self.error_to(
                        from,
                        ErrorCode::Forbidden,
                        "you may not publish in this room",
                    );
                }
                let others = self
                    .members
                    .iter()
                    .filter(|m| m.publishing && &m.view.id != from)
                    .count();
                if self.room.kind == RoomKind::Interview
                    && !me.publishing
                    && others >= INTERVIEW_PUBLISHERS
                {
                    return self.error_to(
                        from,
                        ErrorCode::Forbidden,
                        "two people already speak in this interview; wait until one stops",
                    );
                }
                self.members[i].publishing = true;
                self.media(MediaOp::Offer {
                    participant: from.clone(),
                    sdp,
                    labels: tracks.into_iter().collect(),
                });
            }
            ClientMsg::MediaAnswer { sdp } => self.media(MediaOp::Answer {
                participant: from.clone(),
                sdp,
            }),
            ClientMsg::MediaState {
                microphone,
                camera,
                screen,
            } => {
                let flags = MediaFlags {
                    microphone,
                    camera,
                    screen,
                };
                let m = &self.members[i];
                if flags.any() && !m.view.can_publish {
                    return self.error_to(
                        from,
                        ErrorCode::Forbidden,
                        "you may not publish in this room",
                    );
                }
                if flags.microphone && !m.view.media.microphone {
                    // Turning the microphone on lifts a moderator's mute.
                    self.media(MediaOp::BlockAudio {
                        participant: from.clone(),
                        blocked: false,
                    });
                }
                let m = &mut self.members[i];
                m.view.media = flags;
                if !flags.any() && m.publishing {
                    m.publishing = false;
                    if self.room.kind == RoomKind::Interview {
                        // The slot is free for someone else: close this participant's
                        // publishing connection, so publishing again needs a new offer,
                        // which is checked against the limit.
                        self.media(MediaOp::SetPublish {
                            participant: from.clone(),
                            allowed: false,
                        });
                        self.media(MediaOp::SetPublish {
                            participant: from.clone(),
                            allowed: true,
                        });
                    }
                }
                self.broadcast_media_state(from);
            }
            ClientMsg::MediaLayer {
                participant_id,
                quality,
            } => {
                let low = match quality.as_str() {
                    "low" => true,
                    "high" => false,
                    _ => {
                        return self.error_to(
                            from,
                            ErrorCode::BadRequest,
                            "quality must be high or low",
                        );
                    }
                };
                self.media(MediaOp::Layer {
                    subscriber: from.clone(),
                    publisher: participant_id,
                    low,
                });
            }
            ClientMsg::Mute { participant_id } => {
                let by = self.members[i].view.clone();
                self.media(MediaOp::BlockAudio {
                    participant: participant_id.clone(),
                    blocked: true,
                });
                if let Some(t) = self.index(&participant_id) {
                    self.members[t].view.media.microphone = false;
                }
                let frame = ServerMsg::Muted { by: &by }.to_frame();
                self.send_to(&participant_id, frame);
                self.broadcast_media_state(&participant_id);
            }
            ClientMsg::GrantPresenter { participant_id } => {
                self.set_presenter(from, &participant_id, true)
            }
            ClientMsg::RevokePresenter { participant_id } => {
                self.set_presenter(from, &participant_id, false)
            }
            _ => {}
        }
    }

    fn set_presenter(&mut self, by: &ConnectionId, target: &ConnectionId, presenter: bool) {
        if self.room.kind != RoomKind::Presentation {
            return self.error_to(
                by,
                ErrorCode::BadRequest,
                "presenters exist in presentation rooms only",
            );
        }
        let Some(t) = self.index(target) else { return };
        if self.members[t].view.presenter == presenter {
            return;
        }
        self.members[t].view.presenter = presenter;
        let frame = ServerMsg::Presenter {
            participant_id: target,
            presenter,
            by,
        }
        .to_frame();
        self.broadcast(frame);
        let reason = if presenter {
            "you may now present"
        } else {
            "you no longer present"
        };
        self.refresh_publish_right(target, reason);
    }
}
