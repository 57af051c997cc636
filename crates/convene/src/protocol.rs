//! The frames of `docs/protocol.md`, as types: what `rooms` and `signal` both speak.

use crate::ids::{ConnectionId, RoomId, UserId};
use crate::store::{ChatRow, RoomRow};
use crate::time::rfc3339;
use serde::{Deserialize, Serialize};

/// Longest chat message, in characters.
pub const MAX_CHAT_CHARS: usize = 2000;

/// A frame from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    Chat {
        text: String,
    },
    Hand {
        raised: bool,
    },
    LowerHand {
        participant_id: ConnectionId,
    },
    Kick {
        participant_id: ConnectionId,
    },
    GrantModerator {
        participant_id: ConnectionId,
    },
    RevokeModerator {
        participant_id: ConnectionId,
    },
    AskMute {
        participant_id: ConnectionId,
    },
    Ping {
        #[serde(default)]
        nonce: Option<String>,
    },
    /// Offer of the publishing (up) connection, with a label per mid.
    MediaOffer {
        sdp: String,
        #[serde(default)]
        tracks: std::collections::BTreeMap<String, String>,
    },
    /// Answer to the server's offer for the receiving (down) connection.
    MediaAnswer {
        sdp: String,
    },
    MediaState {
        microphone: bool,
        camera: bool,
        #[serde(default)]
        screen: bool,
    },
    MediaLayer {
        participant_id: ConnectionId,
        quality: String,
    },
    Mute {
        participant_id: ConnectionId,
    },
    GrantPresenter {
        participant_id: ConnectionId,
    },
    RevokePresenter {
        participant_id: ConnectionId,
    },
    /// Moderators: let someone waiting in the lobby into the room.
    Admit {
        participant_id: ConnectionId,
    },
    /// Moderators: send someone waiting in the lobby away.
    Refuse {
        participant_id: ConnectionId,
    },
    /// A whiteboard operation (`boards::model::Op`).
    Board {
        op: crate::boards::Op,
    },
    /// A laser pointer or unfinished stroke: relayed, never stored.
    BoardLive {
        board: u32,
        #[serde(default)]
        pointer: Option<Point>,
        #[serde(default)]
        draft: Option<crate::boards::Element>,
    },
    GrantWhiteboard {
        participant_id: ConnectionId,
    },
    RevokeWhiteboard {
        participant_id: ConnectionId,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

impl ClientMsg {
    /// The participant a moderator's request is aimed at.
    pub fn moderated_target(&self) -> Option<&ConnectionId> {
        match self {
            ClientMsg::LowerHand { participant_id }
            | ClientMsg::Kick { participant_id }
            | ClientMsg::GrantModerator { participant_id }
            | ClientMsg::RevokeModerator { participant_id }
            | ClientMsg::AskMute { participant_id }
            | ClientMsg::Mute { participant_id }
            | ClientMsg::GrantPresenter { participant_id }
            | ClientMsg::RevokePresenter { participant_id }
            | ClientMsg::GrantWhiteboard { participant_id }
            | ClientMsg::RevokeWhiteboard { participant_id } => Some(participant_id),
            _ => None,
        }
    }
}

/// What a participant currently sends.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct MediaFlags {
    pub microphone: bool,
    pub camera: bool,
    pub screen: bool,
}

impl MediaFlags {
    pub fn any(self) -> bool {
        self.microphone || self.camera || self.screen
    }
}

/// The media part of `welcome`.
#[derive(Debug, Clone, Serialize)]
pub struct MediaWelcome {
    /// False when this node has no media service.
    pub available: bool,
    pub ice_servers: serde_json::Value,
    pub can_publish: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub id: UserId,
    pub login: String,
    pub display_name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ParticipantView {
    pub id: ConnectionId,
    pub user: UserView,
    pub moderator: bool,
    pub hand_raised: bool,
    pub since: String,
    /// May publish audio and video under the room's rules.
    pub can_publish: bool,
    /// Granted publishing in a presentation room.
    pub presenter: bool,
    pub media: MediaFlags,
    /// Came in through an invitation, without an account.
    pub guest: bool,
    /// May change the whiteboard: a moderator, or granted the right.
    pub can_draw: bool,
    /// May start and stop recording the room: its moderators.
    pub can_record: bool,
}

/// Someone waiting in the lobby (`lobby`), as moderators see them.
#[derive(Debug, Clone, Serialize)]
pub struct WaiterView {
    /// The waiting connection (the `participant_id` to admit or refuse).
    pub id: ConnectionId,
    pub user: UserView,
    pub guest: bool,
    /// When they started waiting (RFC 3339, UTC).
    pub since: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoomView {
    pub id: RoomId,
    pub name: String,
    pub kind: &'static str,
    pub capacity: i64,
    pub waiting_room: bool,
}

impl From<&RoomRow> for RoomView {
    fn from(r: &RoomRow) -> Self {
        RoomView {
            id: r.id,
            name: r.name.clone(),
            kind: r.kind.as_str(),
            capacity: r.capacity,
            waiting_room: r.waiting_room,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ChatView {
    pub id: i64,
    /// The sending connection, when it is known (history may predate it).
    pub participant_id: Option<ConnectionId>,
    pub user: UserView,
    pub text: String,
    pub sent_at: String,
}

impl ChatView {
    pub fn from_row(row: &ChatRow, participant_id: Option<ConnectionId>) -> Self {
        ChatView {
            id: row.id,
            participant_id,
            user: UserView {
                id: row.user_id.unwrap_or(UserId(0)),
                login: row.login.clone(),
                display_name: row.display_name.clone(),
            },
            text: row.body.clone(),
            sent_at: rfc3339(row.sent_at),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerRef {
    pub id: crate::ids::NodeId,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeLink {
    pub id: crate::ids::NodeId,
    pub name: String,
    pub url: String,
}

/// A frame from the server.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg<'a> {
    Welcome {
        you: &'a ParticipantView,
        room: RoomView,
        participants: Vec<&'a ParticipantView>,
        history: Vec<ChatView>,
        server: ServerRef,
        /// The live nodes (entry points to fall back on if this one goes away).
        servers: Vec<NodeLink>,
        media: MediaWelcome,
        /// The recording running as you enter, if any: you are told before you publish.
        recording: Option<&'a crate::recordings::RecordingView>,
    },
    Joined {
        participant: &'a ParticipantView,
    },
    Left {
        participant_id: &'a ConnectionId,
        reason: &'a str,
    },
    Chat {
        message: ChatView,
    },
    Hand {
        participant_id: &'a ConnectionId,
        raised: bool,
    },
    Moderator {
        participant_id: &'a ConnectionId,
        moderator: bool,
        /// None when the right follows an edit of the room or of the account.
        by: Option<&'a ConnectionId>,
    },
    MuteRequested {
        by: &'a ParticipantView,
    },
    RoomUpdated {
        room: RoomView,
    },
    Error {
        code: ErrorCode,
        message: &'a str,
    },
    Pong {
        nonce: Option<&'a str>,
    },
    /// This node is being drained: the room moves to another node at the deadline.
    Draining {
        deadline_seconds: u64,
    },
    MediaState {
        participant_id: &'a ConnectionId,
        #[serde(flatten)]
        media: MediaFlags,
    },
    PublishRights {
        can_publish: bool,
        reason: &'a str,
    },
    Muted {
        by: &'a ParticipantView,
    },
    Presenter {
        participant_id: &'a ConnectionId,
        presenter: bool,
        by: &'a ConnectionId,
    },
    /// The server's answer to the client's offer for its publishing (up) connection.
    MediaAnswer {
        sdp: &'a str,
    },
    /// The server's offer for the receiving (down) connection.
    MediaOffer {
        sdp: &'a str,
    },
    /// What each mid of the down connection carries.
    MediaTracks {
        tracks: Vec<TrackView<'a>>,
    },
    ActiveSpeaker {
        participant_id: Option<&'a str>,
    },
    /// The server closed one of the participant's peer connections: offer again.
    MediaClosed {
        direction: MediaDirection,
    },
    /// To someone who entered a room with a waiting room: wait until a moderator admits
    /// (`admitted`, then `welcome`) or refuses (close 4002) them.
    Waiting {
        participant_id: &'a ConnectionId,
        room: RoomView,
    },
    /// To a waiter: a moderator let them in; `welcome` follows.
    Admitted {
        by: Option<&'a ConnectionId>,
    },
    /// To moderators: who waits in the lobby now (everyone, oldest first).
    Lobby {
        waiting: &'a [WaiterView],
    },
    Boards {
        seq: i64,
        boards: &'a [crate::boards::Board],
    },
    Board {
        seq: i64,
        by: Option<&'a ConnectionId>,
        op: &'a crate::boards::Op,
    },
    BoardLive {
        participant_id: &'a ConnectionId,
        board: u32,
        pointer: Option<Point>,
        draft: Option<&'a crate::boards::Element>,
    },
    Whiteboard {
        participant_id: &'a ConnectionId,
        can_draw: bool,
        by: Option<&'a ConnectionId>,
    },
    /// The room's recording started (`active`, with who and when) or stopped.
    Recording {
        active: bool,
        id: i64,
        #[serde(skip_serializing_if = "Option::is_none")]
        started_at: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        started_by: Option<&'a str>,
    },
}

/// One mid of a participant's receiving connection (`media_tracks`).
#[derive(Debug, Serialize)]
pub struct TrackView<'a> {
    pub mid: &'a str,
    pub participant_id: &'a str,
    pub kind: &'a str,
    pub label: &'a str,
}

/// Which of a participant's two peer connections (`media_closed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaDirection {
    Up,
    Down,
}

impl ServerMsg<'_> {
    pub fn to_frame(&self) -> std::sync::Arc<str> {
        serde_json::to_string(self)
            .expect("server frames always serialise")
            .into()
    }
}

/// The `code` of an `error` frame (`docs/protocol.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is malformed or makes no sense here.
    BadRequest,
    /// The sender may not do that.
    Forbidden,
    /// The participant aimed at is not in the room.
    NotFound,
    /// Something the room needs (the database, the media service) is away: try again.
    Unavailable,
    /// The room is at capacity (admitting from the lobby).
    Full,
    /// The sender is over its rate limit: the frame was refused; slow down.
    RateLimited,
    Internal,
}

/// Why a participant left, as `left.reason` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaveReason {
    Left,
    Kicked,
    Timeout,
    Shutdown,
    RoomDeleted,
    Slow,
    Moved,
    Error,
}

impl LeaveReason {
    pub fn as_str(self) -> &'static str {
        match self {
            LeaveReason::Left => "left",
            LeaveReason::Kicked => "kicked",
            LeaveReason::Timeout => "timeout",
            LeaveReason::Shutdown => "shutdown",
            LeaveReason::RoomDeleted => "room_deleted",
            LeaveReason::Slow => "slow",
            LeaveReason::Moved => "moved",
            LeaveReason::Error => "error",
        }
    }
}

/// WebSocket close codes of `docs/protocol.md`.
pub mod close {
    pub const NORMAL: u16 = 1000;
    pub const GOING_AWAY: u16 = 1001;
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
    pub const INTERNAL: u16 = 1011;
    pub const KICKED: u16 = 4001;
    /// A moderator did not let the waiter in (waiting room).
    pub const REFUSED: u16 = 4002;
    pub const ACCESS_WITHDRAWN: u16 = 4003;
    pub const TOO_SLOW: u16 = 4008;
    pub const ROOM_MOVED: u16 = 4010;
    pub const ROOM_FULL: u16 = 4009;
    pub const BAD_TOKEN: u16 = 4401;
}

/// A close the server decided on: code and a sentence for people.
#[derive(Debug, Clone)]
pub struct CloseFrame {
    pub code: u16,
    pub reason: String,
}

impl CloseFrame {
    pub fn new(code: u16, reason: impl Into<String>) -> Self {
        CloseFrame {
            code,
            reason: reason.into(),
        }
    }
}

/// Cleans chat text: trims it, drops control characters other than newline and tab.
pub fn clean_chat(text: &str) -> Result<String, &'static str> {
    let cleaned: String = text
        .trim()
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect();
    if cleaned.is_empty() {
        return Err("the message is empty");
    }
    if cleaned.chars().count() > MAX_CHAT_CHARS {
        return Err("the message is longer than 2000 characters");
    }
    Ok(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The media frames as `docs/protocol.md` and the web client (`web/js/media.js`) read them.
    #[test]
    fn media_frames_keep_their_wire_shape() {
        let json = |m: ServerMsg| serde_json::from_str::<serde_json::Value>(&m.to_frame()).unwrap();
        assert_eq!(
            json(ServerMsg::MediaTracks {
                tracks: vec![TrackView {
                    mid: "1",
                    participant_id: "p",
                    kind: "video",
                    label: "camera"
                }]
            }),
            serde_json::json!({"type": "media_tracks", "tracks": [
                {"mid": "1", "participant_id": "p", "kind": "video", "label": "camera"}]})
        );
        assert_eq!(
            json(ServerMsg::ActiveSpeaker {
                participant_id: None
            }),
            serde_json::json!({"type": "active_speaker", "participant_id": null})
        );
        assert_eq!(
            json(ServerMsg::MediaClosed {
                direction: MediaDirection::Down
            }),
            serde_json::json!({"type": "media_closed", "direction": "down"})
        );
        assert_eq!(
            json(ServerMsg::Error {
                code: ErrorCode::Unavailable,
                message: "m"
            }),
            serde_json::json!({"type": "error", "code": "unavailable", "message": "m"})
        );
        assert_eq!(
            json(ServerMsg::MediaOffer { sdp: "v=0" }),
            serde_json::json!({"type": "media_offer", "sdp": "v=0"})
        );
    }

    #[test]
    fn parses_client_frames() {
        let m: ClientMsg = serde_json::from_str(r#"{"type":"chat","text":"hi"}"#).unwrap();
        assert!(matches!(m, ClientMsg::Chat { text } if text == "hi"));
        let m: ClientMsg =
            serde_json::from_str(r#"{"type":"kick","participant_id":"ab"}"#).unwrap();
        assert!(matches!(m, ClientMsg::Kick { .. }));
        assert!(serde_json::from_str::<ClientMsg>(r#"{"type":"launch_missiles"}"#).is_err());
        assert!(serde_json::from_str::<ClientMsg>(r#"{"type":"chat"}"#).is_err());
        assert!(serde_json::from_str::<ClientMsg>("not json").is_err());
    }

    #[test]
    fn chat_text_is_cleaned_and_bounded() {
        assert_eq!(clean_chat("  hello\u{0007} ").unwrap(), "hello");
        assert!(clean_chat("   ").is_err());
        assert!(clean_chat(&"x".repeat(2001)).is_err());
        assert!(clean_chat(&"é".repeat(2000)).is_ok());
    }
}
