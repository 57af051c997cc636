//! Convene's media core: a selective forwarding unit (SFU) for the rooms of one node.
//!
//! Sans-IO, like str0m on which it stands: no sockets, no async runtime, no clock.
//! The caller feeds datagrams ([`Sfu::handle_receive`]) and the time
//! ([`Sfu::handle_timeout`]), and takes out datagrams to send ([`Sfu::poll_transmit`])
//! and events for signalling ([`Sfu::poll_event`]). Tests drive it deterministically.
//!
//! Each participant has two peer connections, as in Galène: *up*, offered by the
//! client, carries what it publishes; *down*, offered by the server, carries what
//! it receives. Neither side ever has to answer an offer while its own is pending.

pub mod demux;
mod forward;
mod member;
mod negotiation;
mod sfu;
mod speaker;
mod types;

pub use sfu::{MAX_SDP_BYTES, Sfu};
pub use str0m::net::Transmit;
pub use types::{
    MediaError, PeerDirection, RecordedFrame, SfuConfig, SfuEvent, SfuStats, TrackInfo,
};

/// A room, as the signalling layer numbers it.
pub type RoomKey = i64;

/// A participant (one WebSocket connection), as the signalling layer names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantId(pub String);

impl std::fmt::Display for ParticipantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
