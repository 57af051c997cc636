//! The waiting room's rules, part of the room's state machine (`rules.rs`): who waits,
//! what moderators see, admitting and refusing. No I/O: the actor carries out the effects,
//! and hands each new list of waiters to the lobby's copy in the database (`mirror.rs`).
//!
//! * With `waiting_room` on, whoever joins without a moderator right (admin, the room's
//!   owner or moderators, a guest of a moderator invitation) waits: they get `waiting`, and
//!   every moderator gets `lobby` (the whole list) at each change, and when they join or
//!   become a moderator.
//! * Admitted: `admitted`, then the ordinary `welcome` (capacity is checked then). Someone
//!   admitted does not wait again while the room is live (a reconnect, another window),
//!   unless kicked or refused.
//! * Refused: closed with 4002. Leaving, being kicked or the room closing take them out of
//!   the lobby like anyone else, without `left` (they were never in).
//! * Turning the waiting room off, or making a waiter a moderator of the room, lets them in.

use super::rules::{Effect, RoomState, Seat};
use crate::ids::{ConnectionId, UserId};
use crate::protocol::{
    ClientMsg, CloseFrame, ErrorCode, RoomView, ServerMsg, UserView, WaiterView, close,
};
use crate::rooms::JoinRefused;
use crate::store::{LobbyEntry, Role};
use crate::time::rfc3339;

/// The fewest people a lobby can hold; otherwise it holds as many as the room.
const MIN_LOBBY: i64 = 10;

/// Someone waiting, with all it takes to seat them later.
#[derive(Debug)]
pub(crate) struct Waiter {
    pub seat: Seat,
    pub view: WaiterView,
}

/// What became of an admission or a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LobbyOutcome {
    Admitted,
    Refused,
    /// No one with that id waits (any more).
    NotWaiting,
    /// The room is at capacity: they keep waiting.
    Full,
}

impl RoomState {
    /// Does this joiner wait in the lobby?
    pub(super) fn must_wait(&self, s: &Seat) -> bool {
        self.room.waiting_room && !self.moderator_right(s) && !self.admitted.contains(&s.user)
    }

    /// Puts a joiner in the lobby: `waiting` for them, `lobby` for the moderators.
    pub(super) fn wait(&mut self, s: Seat) -> Result<(), JoinRefused> {
        if self.lobby.len() as i64 >= self.room.capacity.max(MIN_LOBBY) {
            return Err(JoinRefused::LobbyFull);
        }
        let view = WaiterView {
            id: s.id.clone(),
            user: UserView {
                id: s.user,
                login: s.login.clone(),
                display_name: s.display_name.clone(),
            },
            guest: s.role == Role::Guest,
            since: rfc3339(s.since),
        };
        let frame = ServerMsg::Waiting {
            participant_id: &s.id,
            room: RoomView::from(&self.room),
        }
        .to_frame();
        self.send_to(&s.id, frame);
        self.lobby.push(Waiter { seat: s, view });
        self.lobby_changed();
        Ok(())
    }

    pub fn is_waiting(&self, id: &ConnectionId) -> bool {
        self.lobby_index(id).is_some()
    }

    fn lobby_index(&self, id: &ConnectionId) -> Option<usize> {
        self.lobby.iter().position(|w| &w.seat.id == id)
    }

    /// The account behind a connection, in the room or in the lobby.
    pub(super) fn user_of(&self, id: &ConnectionId) -> Option<UserId> {
        self.index(id)
            .map(|i| self.members[i].view.user.id)
            .or_else(|| self.lobby_index(id).map(|i| self.lobby[i].seat.user))
    }

    /// Who waits, oldest first.
    pub fn waiters(&self) -> Vec<WaiterView> {
        self.lobby.iter().map(|w| w.view.clone()).collect()
    }

    /// Takes a waiter out of the lobby (closing with `close` if given); false if they
    /// were not waiting.
    pub(super) fn leave_lobby(&mut self, id: &ConnectionId, close: Option<CloseFrame>) -> bool {
        let Some(i) = self.lobby_index(id) else {
            return false;
        };
        self.lobby.remove(i);
        self.push(Effect::Remove {
            id: id.clone(),
            close,
        });
        self.lobby_changed();
        true
    }

    /// Admits or refuses a waiter (`by`: the moderator in the room, if it was one).
    pub fn decide(
        &mut self,
        id: &ConnectionId,
        admit: bool,
        by: Option<&ConnectionId>,
    ) -> LobbyOutcome {
        let Some(i) = self.lobby_index(id) else {
            return LobbyOutcome::NotWaiting;
        };
        if !admit {
            self.admitted.remove(&self.lobby[i].seat.user);
            self.leave_lobby(
                id,
                Some(CloseFrame::new(
                    close::REFUSED,
                    "a moderator did not let you into the room",
                )),
            );
            return LobbyOutcome::Refused;
        }
        if self.members.len() as i64 >= self.room.capacity {
            return LobbyOutcome::Full;
        }
        let waiter = self.lobby.remove(i);
        self.admitted.insert(waiter.seat.user);
        let frame = ServerMsg::Admitted { by }.to_frame();
        self.send_to(id, frame);
        // The moderators hear it before the newcomer is seated (one who is a moderator
        // gets the lobby with its welcome).
        self.lobby_changed();
        // Capacity was checked above: the seat cannot be refused.
        let _ = self.seat(waiter.seat);
        LobbyOutcome::Admitted
    }

    /// An `admit` or `refuse` frame from a participant.
    pub(super) fn decide_by(
        &mut self,
        from: &ConnectionId,
        is_moderator: bool,
        target: &ConnectionId,
        admit: bool,
    ) {
        if !is_moderator {
            return self.error_to(from, ErrorCode::Forbidden, "only moderators can do that");
        }
        match self.decide(target, admit, Some(from)) {
            LobbyOutcome::Admitted | LobbyOutcome::Refused => {}
            LobbyOutcome::NotWaiting => self.error_to(
                from,
                ErrorCode::NotFound,
                "that person is no longer waiting",
            ),
            LobbyOutcome::Full => self.error_to(
                from,
                ErrorCode::Full,
                "the room is full: someone has to leave before another can come in",
            ),
        }
    }

    /// After a change of the room: those who need not wait any more come in (while there
    /// is room).
    pub(super) fn admit_those_who_need_not_wait(&mut self) {
        let free: Vec<ConnectionId> = self
            .lobby
            .iter()
            .filter(|w| !self.must_wait(&w.seat))
            .map(|w| w.seat.id.clone())
            .collect();
        for id in free {
            if self.decide(&id, true, None) == LobbyOutcome::Full {
                break;
            }
        }
    }

    /// A frame from someone waiting: only `ping` is answered.
    pub(super) fn waiter_request(&mut self, from: &ConnectionId, msg: ClientMsg) {
        if self.lobby_index(from).is_none() {
            return;
        }
        match msg {
            ClientMsg::Ping { nonce } => {
                let frame = ServerMsg::Pong {
                    nonce: nonce.as_deref(),
                }
                .to_frame();
                self.send_to(from, frame);
            }
            _ => self.error_to(
                from,
                ErrorCode::Forbidden,
                "you are waiting to be let in by a moderator",
            ),
        }
    }

    fn lobby_frame(&self) -> std::sync::Arc<str> {
        let waiting = self.waiters();
        ServerMsg::Lobby { waiting: &waiting }.to_frame()
    }

    /// Tells one moderator who waits (when there is a waiting room or someone in it).
    pub(super) fn lobby_to(&mut self, id: &ConnectionId) {
        if self.room.waiting_room || !self.lobby.is_empty() {
            let frame = self.lobby_frame();
            self.send_to(id, frame);
        }
    }

    /// The lobby changed: every moderator hears it, and its copy is renewed.
    fn lobby_changed(&mut self) {
        let frame = self.lobby_frame();
        let moderators: Vec<ConnectionId> = self
            .members
            .iter()
            .filter(|m| m.view.moderator)
            .map(|m| m.view.id.clone())
            .collect();
        for id in moderators {
            self.send_to(&id, frame.clone());
        }
        let entries = self
            .lobby
            .iter()
            .map(|w| LobbyEntry {
                connection: w.seat.id.clone(),
                user: w.seat.user,
                login: w.seat.login.clone(),
                display_name: w.seat.display_name.clone(),
                guest: w.view.guest,
                since: w.seat.since,
            })
            .collect();
        self.push(Effect::Lobby(entries));
    }
}
