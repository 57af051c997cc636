//! The SFU's public vocabulary: configuration, events, errors, counters.

use crate::ParticipantId;
use crate::RoomKey;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use str0m::config::CryptoProvider;

#[derive(Clone)]
pub struct SfuConfig {
    /// Addresses advertised to clients as host candidates (ICE-lite: we only answer).
    pub candidates: Vec<SocketAddr>,
    /// A peer from which nothing arrived for this long is dropped.
    pub silence_timeout: Duration,
    pub crypto: Arc<CryptoProvider>,
}

impl SfuConfig {
    pub fn new(candidates: Vec<SocketAddr>) -> SfuConfig {
        SfuConfig {
            candidates,
            silence_timeout: Duration::from_secs(30),
            crypto: Arc::new(str0m::crypto::from_feature_flags()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerDirection {
    /// Client → server: what the participant publishes.
    Up,
    /// Server → client: what the participant receives.
    Down,
}

/// What the receiving side carries on one mid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackInfo {
    pub mid: String,
    pub publisher: ParticipantId,
    pub kind: &'static str,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SfuEvent {
    /// Send this offer (for the receiving connection) to the participant.
    Offer {
        participant: ParticipantId,
        sdp: String,
    },
    /// After an answer: what each mid of the participant's receiving connection carries.
    Tracks {
        participant: ParticipantId,
        tracks: Vec<TrackInfo>,
    },
    /// The loudest participant of a room changed (None: silence).
    ActiveSpeaker {
        room: RoomKey,
        participant: Option<ParticipantId>,
    },
    /// A peer connection ended (failed, went silent, or misbehaved).
    PeerClosed {
        participant: ParticipantId,
        direction: PeerDirection,
    },
}

/// One frame of a publisher in a recorded room, as it arrived (never decoded), for
/// the recorder: of a simulcast track, every layer's (the recorder picks one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedFrame {
    pub room: RoomKey,
    pub publisher: ParticipantId,
    /// The publisher's mid.
    pub track: String,
    /// What the track is: "microphone", "camera", "screen"…
    pub label: String,
    pub audio: bool,
    /// The simulcast layer, if any.
    pub layer: Option<String>,
    /// The frame's media time in microseconds (its RTP clock, extended): only its
    /// differences within the track count.
    pub media_us: u64,
    /// When it arrived: where the track sits on the recording's timeline.
    pub arrived: std::time::Instant,
    /// A VP8 keyframe (always true for audio).
    pub keyframe: bool,
    /// Shared with the forwarded copies: recording copies nothing.
    pub data: std::sync::Arc<[u8]>,
}

#[derive(Debug)]
pub enum MediaError {
    UnknownParticipant,
    NotAllowed,
    BadSdp(String),
    NoPendingOffer,
}

impl std::fmt::Display for MediaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MediaError::UnknownParticipant => write!(f, "not in a room of this node"),
            MediaError::NotAllowed => write!(f, "you may not publish in this room"),
            MediaError::BadSdp(why) => write!(f, "unusable SDP: {why}"),
            MediaError::NoPendingOffer => write!(f, "no offer is waiting for an answer"),
        }
    }
}

impl std::error::Error for MediaError {}

/// Counters for metrics and benchmarks.
#[derive(Debug, Clone, Default)]
pub struct SfuStats {
    pub datagrams_in: u64,
    pub unknown_source: u64,
    pub malformed: u64,
    pub frames_forwarded: u64,
    pub bytes_forwarded: u64,
    pub keyframe_requests: u64,
    pub peer_failures: u64,
    pub transmits_dropped: u64,
    /// Recorded frames not taken out in time (`Sfu::poll_recorded`).
    pub recorded_dropped: u64,
}
