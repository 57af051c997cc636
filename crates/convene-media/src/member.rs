//! What the SFU knows of one participant: its two peer connections, the tracks it
//! publishes and those it receives.

use crate::{ParticipantId, RoomKey};
use std::collections::HashMap;
use std::time::Instant;
use str0m::change::SdpPendingOffer;
use str0m::media::{MediaKind, Mid, Rid};

pub(crate) type PeerKey = u64;

/// A track this participant publishes (on its up connection).
pub(crate) struct TrackIn {
    pub mid: Mid,
    pub kind: MediaKind,
    /// microphone, camera or screen, as the client said.
    pub label: String,
    /// Simulcast layers seen so far.
    pub rids: Vec<Rid>,
    pub last_keyframe_request: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutState {
    ToOpen,
    Negotiating(Mid),
    Open(Mid),
    ToStop(Mid),
    NegotiatingStop(Mid),
}

impl OutState {
    pub fn mid(self) -> Option<Mid> {
        match self {
            OutState::ToOpen => None,
            OutState::Negotiating(m)
            | OutState::Open(m)
            | OutState::ToStop(m)
            | OutState::NegotiatingStop(m) => Some(m),
        }
    }
}

/// A track this participant receives (on its down connection).
pub(crate) struct TrackOut {
    pub publisher: ParticipantId,
    pub mid_in: Mid,
    pub kind: MediaKind,
    pub label: String,
    pub state: OutState,
    /// The simulcast layer forwarded; None until the publisher's layers are known.
    pub rid: Option<Rid>,
    /// `high` or `low`: what the subscriber asked for.
    pub prefer_low: bool,
}

pub(crate) struct Member {
    pub room: RoomKey,
    pub can_publish: bool,
    /// A moderator muted this participant: its audio is not forwarded.
    pub audio_blocked: bool,
    pub up: Option<PeerKey>,
    pub down: PeerKey,
    pub tracks_in: Vec<TrackIn>,
    pub tracks_out: Vec<TrackOut>,
    /// The server's offer on the down connection, awaiting the client's answer.
    pub pending: Option<SdpPendingOffer>,
    /// Labels the client gave to the mids of its up connection.
    pub labels: HashMap<String, String>,
    /// The down connection's data channel: offered at once, it keeps the connection
    /// (and its BUNDLE group) alive while no track is being sent.
    pub has_channel: bool,
}

impl Member {
    pub fn new(room: RoomKey, can_publish: bool, down: PeerKey) -> Member {
        Member {
            room,
            can_publish,
            audio_blocked: false,
            up: None,
            down,
            tracks_in: Vec::new(),
            tracks_out: Vec::new(),
            pending: None,
            labels: HashMap::new(),
            has_channel: false,
        }
    }
}

/// Orders simulcast layer names from best to worst, for the usual namings
/// (f/h/q, h/m/l, high/mid/low).
pub(crate) fn layer_rank(rid: &Rid) -> u8 {
    match rid.to_string().as_str() {
        "f" | "full" | "hi" => 0,
        "h" | "high" => 1,
        "m" | "mid" | "medium" => 2,
        "l" | "low" | "lo" => 3,
        "q" | "quarter" => 4,
        _ => 5,
    }
}

/// The layer to forward among `rids`.
pub(crate) fn choose_layer(rids: &[Rid], prefer_low: bool) -> Option<Rid> {
    let best = rids.iter().min_by_key(|r| layer_rank(r));
    let worst = rids.iter().max_by_key(|r| layer_rank(r));
    if prefer_low { worst } else { best }.copied()
}
