//! The rules of a live room as a state machine: it takes an input (a join, a frame, a
//! leave, a stored chat message, the loss of the lease) and returns effects (frames to
//! send, connections to close, chat to store, commands for the media service). No
//! sockets, no database, no clock: the actor around it (`mod.rs`) does the I/O, and
//! the tests below check every rule without either.

use super::board::{BoardWrite, DocumentRequest, LiveBoards};
use super::chat::Pending;
use super::limits::{Limiter, RateLimits};
use super::lobby::Waiter;
use crate::ids::{ConnectionId, UserId};
use crate::protocol::{
    ChatView, ClientMsg, CloseFrame, ErrorCode, LeaveReason, MediaFlags, MediaWelcome, NodeLink,
    ParticipantView, RoomView, ServerMsg, ServerRef, UserView, clean_chat, close,
};
use crate::rooms::JoinRefused;
use crate::store::{ChatRow, LobbyEntry, Role, RoomRow};
use crate::time::rfc3339;
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Instant;

/// What the room does; the actor carries it out in order.
#[derive(Debug)]
pub(crate) enum Effect {
    Send {
        to: ConnectionId,
        frame: Arc<str>,
    },
    /// The participant is out of the room: close its connection with this (or, for
    /// `None`, just forget it: it is already leaving).
    Remove {
        id: ConnectionId,
        close: Option<CloseFrame>,
    },
    StoreChat(Pending),
    Media(MediaOp),
    /// Who waits in the lobby now: the actor hands it to the lobby's copy in the database.
    Lobby(Vec<LobbyEntry>),
    /// A whiteboard operation to store; it is applied and sent once stored.
    StoreBoard(BoardWrite),
    /// The boards as of `seq`, to store as the room's snapshot.
    SnapshotBoards {
        seq: i64,
        state: String,
    },
    /// Look up a file's pages for a `document` operation.
    LoadDocument(DocumentRequest),
}

/// A command for the node's media service (the actor attaches the channels).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MediaOp {
    Join {
        participant: ConnectionId,
        can_publish: bool,
    },
    Leave {
        participant: ConnectionId,
    },
    Offer {
        participant: ConnectionId,
        sdp: String,
        labels: Vec<(String, String)>,
    },
    Answer {
        participant: ConnectionId,
        sdp: String,
    },
    SetPublish {
        participant: ConnectionId,
        allowed: bool,
    },
    BlockAudio {
        participant: ConnectionId,
        blocked: bool,
    },
    Layer {
        subscriber: ConnectionId,
        publisher: ConnectionId,
        low: bool,
    },
}

/// Who is joining (the channels to reach them stay with the actor).
#[derive(Debug, Clone)]
pub(crate) struct Seat {
    pub id: ConnectionId,
    pub user: UserId,
    pub login: String,
    pub display_name: String,
    pub role: Role,
    /// When the connection row was written (database clock, ms).
    pub since: i64,
    pub history: Vec<ChatView>,
    pub servers: Vec<NodeLink>,
    /// A moderator while here by its invitation (a guest of a moderator invitation).
    pub invited_moderator: bool,
}

/// What the room knows of its node.
#[derive(Debug, Clone)]
pub(crate) struct NodeFacts {
    pub server: ServerRef,
    /// The node has a media service.
    pub media: bool,
    pub ice_servers: serde_json::Value,
    /// Chat messages kept for joiners.
    pub chat_history: usize,
    /// Each participant's budgets (`limits.rs`).
    pub limits: RateLimits,
}

#[derive(Debug)]
pub(super) struct Member {
    pub view: ParticipantView,
    /// The account's role, kept current while here (`access.rs`).
    pub role: Role,
    /// A moderator by the invitation it came with.
    pub invited_moderator: bool,
    /// A moderator granted or revoked the moderator right live; it outlasts edits of the
    /// room's definition.
    pub by_moderator: Option<bool>,
    /// Has an accepted offer and sends something (counts toward the interview limit).
    pub publishing: bool,
    /// A moderator granted the whiteboard right.
    pub may_draw: bool,
}

#[derive(Debug)]
pub(crate) struct RoomState {
    pub(super) room: RoomRow,
    pub(super) node: NodeFacts,
    /// In joining order.
    pub(super) members: Vec<Member>,
    /// The last messages stored while the room was live, newest last: merged into the
    /// history a joiner read, so none stored meanwhile is missed.
    recent: VecDeque<ChatView>,
    /// The lease was lost: everyone was closed and no one may join.
    pub(super) fenced: bool,
    /// Who waits to be let in (waiting room), oldest first.
    pub(super) lobby: Vec<Waiter>,
    /// Let in by a moderator while the room is live: they do not wait again (a reconnect,
    /// a second window) unless kicked or refused.
    pub(super) admitted: HashSet<UserId>,
    /// Each connection's rate-limit buckets.
    pub(super) limiter: Limiter,
    /// The whiteboard (`board.rs`).
    pub(super) boards: LiveBoards,
    /// The recording running now (`recording.rs`).
    pub(super) recording: Option<crate::recordings::RecordingView>,
    out: Vec<Effect>,
}

fn closing(code: u16, reason: &str) -> Option<CloseFrame> {
    Some(CloseFrame::new(code, reason))
}

impl RoomState {
    pub fn new(room: RoomRow, node: NodeFacts) -> RoomState {
        let limiter = Limiter::new(node.limits);
        RoomState {
            room,
            node,
            members: Vec::new(),
            recent: VecDeque::new(),
            fenced: false,
            lobby: Vec::new(),
            admitted: HashSet::new(),
            limiter,
            boards: LiveBoards::default(),
            recording: None,
            out: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, effect: Effect) {
        self.out.push(effect);
    }

    /// The effects decided since the last call, in order.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.out)
    }

    /// No one is in the room, and no one waits.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.lobby.is_empty()
    }

    pub fn is_fenced(&self) -> bool {
        self.fenced
    }

    #[cfg(test)]
    pub fn contains(&self, id: &ConnectionId) -> bool {
        self.index(id).is_some()
    }

    pub fn participants(&self) -> Vec<ParticipantView> {
        self.members.iter().map(|m| m.view.clone()).collect()
    }

    pub fn room_id(&self) -> crate::ids::RoomId {
        self.room.id
    }

    pub(super) fn index(&self, id: &ConnectionId) -> Option<usize> {
        self.members.iter().position(|m| &m.view.id == id)
    }

    /// Is this joiner a moderator here: by its account, or by its invitation?
    pub(super) fn moderator_right(&self, s: &Seat) -> bool {
        crate::auth::policy::moderates(s.role, s.user, &self.room) || s.invited_moderator
    }

    /// Seats a participant (a welcome for them, `joined` for the others), or, in a room with
    /// a waiting room, puts someone without a moderator right in the lobby.
    pub fn join(&mut self, s: Seat) -> Result<(), JoinRefused> {
        if self.fenced {
            return Err(JoinRefused::Moved);
        }
        if self.must_wait(&s) {
            return self.wait(s);
        }
        self.seat(s)
    }

    /// Seats a participant let in: a welcome for them, `joined` for the others.
    pub(super) fn seat(&mut self, s: Seat) -> Result<(), JoinRefused> {
        if self.members.len() as i64 >= self.room.capacity {
            return Err(JoinRefused::Full);
        }
        let moderator = self.moderator_right(&s);
        let can_publish = self.node.media && may_publish(self.room.kind, moderator, false);
        let view = ParticipantView {
            id: s.id.clone(),
            user: UserView {
                id: s.user,
                login: s.login,
                display_name: s.display_name,
            },
            moderator,
            hand_raised: false,
            since: rfc3339(s.since),
            can_publish,
            presenter: false,
            media: MediaFlags::default(),
            guest: s.role == Role::Guest,
            can_draw: moderator || self.boards.granted(s.user),
            can_record: moderator,
        };
        let welcome = ServerMsg::Welcome {
            you: &view,
            room: RoomView::from(&self.room),
            participants: self
                .members
                .iter()
                .map(|m| &m.view)
                .chain(std::iter::once(&view))
                .collect(),
            history: self.merged_history(s.history),
            server: self.node.server.clone(),
            servers: s.servers,
            media: MediaWelcome {
                available: self.node.media,
                ice_servers: if self.node.media {
                    self.node.ice_servers.clone()
                } else {
                    serde_json::Value::Null
                },
                can_publish,
            },
            recording: self.recording.as_ref(),
        }
        .to_frame();
        let joined = ServerMsg::Joined { participant: &view }.to_frame();
        self.broadcast(joined);
        self.send_to(&s.id, welcome);
        self.boards_to(&s.id);
        self.out.push(Effect::Media(MediaOp::Join {
            participant: s.id.clone(),
            can_publish,
        }));
        self.members.push(Member {
            view,
            role: s.role,
            invited_moderator: s.invited_moderator,
            by_moderator: None,
            publishing: false,
            may_draw: self.boards.granted(s.user),
        });
        if moderator {
            self.lobby_to(&s.id);
        }
        Ok(())
    }

    /// Takes a participant out, closing its connection with `close` if given, and
    /// tells the others.
    pub fn remove(&mut self, id: &ConnectionId, reason: LeaveReason, close: Option<CloseFrame>) {
        if self.leave_lobby(id, close.clone()) {
            return;
        }
        let Some(i) = self.index(id) else { return };
        self.members.remove(i);
        self.out.push(Effect::Remove {
            id: id.clone(),
            close,
        });
        self.out.push(Effect::Media(MediaOp::Leave {
            participant: id.clone(),
        }));
        let frame = ServerMsg::Left {
            participant_id: id,
            reason: reason.as_str(),
        }
        .to_frame();
        self.broadcast(frame);
    }

    /// A participant's queue is full: it is dropped as too slow.
    pub fn too_slow(&mut self, id: &ConnectionId) {
        self.remove(
            id,
            LeaveReason::Slow,
            closing(close::TOO_SLOW, "your connection could not keep up"),
        );
    }

    /// Everyone out with `close` (a drain, a deleted room), those waiting too.
    pub fn close_all(&mut self, close: CloseFrame, reason: LeaveReason) {
        let ids: Vec<_> = self
            .lobby
            .iter()
            .map(|w| w.seat.id.clone())
            .chain(self.members.iter().map(|m| m.view.id.clone()))
            .collect();
        for id in ids {
            self.remove(&id, reason, Some(close.clone()));
        }
    }

    /// The lease does not hold: stop serving, so that everyone enters again through
    /// placement and lands on the room's current host.
    pub fn fence(&mut self) {
        self.fenced = true;
        self.close_all(
            CloseFrame::new(
                close::ROOM_MOVED,
                "this server lost contact with the cluster; entering the room again",
            ),
            LeaveReason::Moved,
        );
    }

    /// Every connection of `user` out (account deleted or disabled).
    pub fn close_user(&mut self, user: UserId, close: CloseFrame) {
        self.admitted.remove(&user);
        let ids: Vec<_> = self
            .lobby
            .iter()
            .filter(|w| w.seat.user == user)
            .map(|w| w.seat.id.clone())
            .chain(
                self.members
                    .iter()
                    .filter(|m| m.view.user.id == user)
                    .map(|m| m.view.id.clone()),
            )
            .collect();
        for id in ids {
            self.remove(&id, LeaveReason::Kicked, Some(close.clone()));
        }
    }

    /// Kicked through the API (also from the lobby); true if they were here. In a room
    /// with a waiting room, they wait again if they come back.
    pub fn kick(&mut self, id: &ConnectionId) -> bool {
        let user = self.user_of(id);
        if let Some(user) = user {
            self.admitted.remove(&user);
        }
        let found = user.is_some();
        self.remove(
            id,
            LeaveReason::Kicked,
            closing(close::KICKED, "you were removed from the room"),
        );
        found
    }

    /// Sends a frame to everyone.
    pub fn broadcast(&mut self, frame: Arc<str>) {
        for m in &self.members {
            self.out.push(Effect::Send {
                to: m.view.id.clone(),
                frame: frame.clone(),
            });
        }
    }

    pub(super) fn send_to(&mut self, id: &ConnectionId, frame: Arc<str>) {
        self.out.push(Effect::Send {
            to: id.clone(),
            frame,
        });
    }

    pub(super) fn error_to(&mut self, id: &ConnectionId, code: ErrorCode, message: &str) {
        let frame = ServerMsg::Error { code, message }.to_frame();
        self.send_to(id, frame);
    }

    /// A frame from a participant, read at `at`.
    pub fn request(&mut self, from: &ConnectionId, msg: ClientMsg, at: Instant) {
        if !self.within_rate(from, &msg, at) {
            return;
        }
        let Some(i) = self.index(from) else {
            return self.waiter_request(from, msg);
        };
        let is_moderator = self.members[i].view.moderator;
        if let Some(target) = msg.moderated_target().cloned() {
            if !is_moderator {
                return self.error_to(from, ErrorCode::Forbidden, "only moderators can do that");
            }
            if self.index(&target).is_none() {
                return self.error_to(
                    from,
                    ErrorCode::NotFound,
                    "that participant is not in the room",
                );
            }
        }
        match msg {
            ClientMsg::Chat { text } => {
                let text = match clean_chat(&text) {
                    Ok(t) => t,
                    Err(why) => return self.error_to(from, ErrorCode::BadRequest, why),
                };
                let view = &self.members[i].view;
                self.out.push(Effect::StoreChat(Pending {
                    from: from.clone(),
                    user: view.user.id,
                    login: view.user.login.clone(),
                    display_name: view.user.display_name.clone(),
                    text,
                }));
            }
            ClientMsg::Hand { raised } => self.set_hand(from, raised),
            ClientMsg::LowerHand { participant_id } => self.set_hand(&participant_id, false),
            ClientMsg::Kick { participant_id } => {
                if &participant_id == from {
                    return self.error_to(
                        from,
                        ErrorCode::BadRequest,
                        "use leave to leave the room",
                    );
                }
                // Back through the waiting room, if the room has one.
                if let Some(user) = self.user_of(&participant_id) {
                    self.admitted.remove(&user);
                }
                self.remove(
                    &participant_id,
                    LeaveReason::Kicked,
                    closing(close::KICKED, "a moderator removed you from the room"),
                );
            }
            ClientMsg::GrantModerator { participant_id } => {
                self.set_moderator(&participant_id, true, from)
            }
            ClientMsg::RevokeModerator { participant_id } => {
                let target = self.index(&participant_id).map(|t| &self.members[t]);
                if target.is_some_and(|t| t.role == Role::Admin) {
                    return self.error_to(
                        from,
                        ErrorCode::Forbidden,
                        "an administrator is always a moderator",
                    );
                }
                if target.is_some_and(|t| self.room.owner == Some(t.view.user.id)) {
                    return self.error_to(
                        from,
                        ErrorCode::Forbidden,
                        "the room's owner is always a moderator",
                    );
                }
                self.set_moderator(&participant_id, false, from)
            }
            ClientMsg::AskMute { participant_id } => {
                let by = self.members[i].view.clone();
                let frame = ServerMsg::MuteRequested { by: &by }.to_frame();
                self.send_to(&participant_id, frame);
            }
            ClientMsg::Ping { nonce } => {
                let frame = ServerMsg::Pong {
                    nonce: nonce.as_deref(),
                }
                .to_frame();
                self.send_to(from, frame);
            }
            ClientMsg::Admit { participant_id } => {
                self.decide_by(from, is_moderator, &participant_id, true)
            }
            ClientMsg::Refuse { participant_id } => {
                self.decide_by(from, is_moderator, &participant_id, false)
            }
            board_msg @ (ClientMsg::Board { .. }
            | ClientMsg::BoardLive { .. }
            | ClientMsg::GrantWhiteboard { .. }
            | ClientMsg::RevokeWhiteboard { .. }) => self.board_request(from, board_msg),
            media_msg => self.media_request(from, media_msg),
        }
    }

    /// The chat writer stored a message (its echo is the acknowledgement), or could not
    /// (its sender hears that it was not sent).
    pub fn chat_stored(&mut self, from: ConnectionId, row: Option<ChatRow>) {
        let Some(row) = row else {
            return self.error_to(
                &from,
                ErrorCode::Unavailable,
                "the database is not reachable; your message was not sent",
            );
        };
        let message = ChatView::from_row(&row, Some(from));
        self.recent.push_back(message.clone());
        while self.recent.len() > self.node.chat_history {
            self.recent.pop_front();
        }
        let frame = ServerMsg::Chat { message }.to_frame();
        self.broadcast(frame);
    }

    /// The chat writer's queue is full: the message was not taken.
    pub fn chat_refused(&mut self, from: &ConnectionId) {
        self.error_to(
            from,
            ErrorCode::Unavailable,
            "the chat cannot be saved right now; your message was not sent",
        );
    }

    /// The history a joiner read from the database, with the messages stored since
    /// (which the read may have missed), oldest first, the newest `chat_history` kept.
    fn merged_history(&self, mut history: Vec<ChatView>) -> Vec<ChatView> {
        let newest_read = history.last().map(|m| m.id).unwrap_or(i64::MIN);
        history.extend(self.recent.iter().filter(|m| m.id > newest_read).cloned());
        let keep = self.node.chat_history;
        if history.len() > keep {
            history.drain(..history.len() - keep);
        }
        history
    }

    fn set_hand(&mut self, id: &ConnectionId, raised: bool) {
        let Some(i) = self.index(id) else { return };
        if self.members[i].view.hand_raised == raised {
            return;
        }
        self.members[i].view.hand_raised = raised;
        let frame = ServerMsg::Hand {
            participant_id: id,
            raised,
        }
        .to_frame();
        self.broadcast(frame);
    }

    /// A moderator's decision: it stands until another moderator changes it.
    fn set_moderator(&mut self, id: &ConnectionId, moderator: bool, by: &ConnectionId) {
        let Some(i) = self.index(id) else { return };
        self.members[i].by_moderator = Some(moderator);
        self.apply_moderator(id, moderator, Some(by));
    }

    /// Gives or takes the moderator right; `by` is None when it follows the room's
    /// definition or the account's role.
    pub(super) fn apply_moderator(
        &mut self,
        id: &ConnectionId,
        moderator: bool,
        by: Option<&ConnectionId>,
    ) {
        let Some(i) = self.index(id) else { return };
        if self.members[i].view.moderator == moderator {
            return;
        }
        self.members[i].view.moderator = moderator;
        self.members[i].view.can_record = moderator;
        let frame = ServerMsg::Moderator {
            participant_id: id,
            moderator,
            by,
        }
        .to_frame();
        self.broadcast(frame);
        let reason = if moderator {
            "you are now a moderator"
        } else {
            "you are no longer a moderator"
        };
        self.refresh_publish_right(id, reason);
        self.refresh_can_draw(id, by);
        if moderator {
            self.lobby_to(id);
        }
    }
}

/// May a participant publish in a room of this kind? (The interview limit is checked
/// when an offer arrives, since it depends on the others.)
pub(super) fn may_publish(kind: crate::store::RoomKind, moderator: bool, presenter: bool) -> bool {
    use crate::store::RoomKind;
    match kind {
        RoomKind::Conference | RoomKind::Interview => true,
        RoomKind::Presentation => moderator || presenter,
    }
}
