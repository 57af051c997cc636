//! Rights that follow the room's definition and the accounts while people are in it.
//! An edit of the room (made private, a member or moderator removed) or a change of an
//! account's role takes effect at once: whoever may no longer be in the room is closed
//! with 4003, and the moderator right follows the new definition, unless a moderator
//! granted or revoked it live.

use super::rules::RoomState;
use crate::auth::policy;
use crate::ids::{ConnectionId, UserId};
use crate::protocol::{CloseFrame, LeaveReason, RoomView, ServerMsg, close};
use crate::store::{Role, RoomRow};

impl RoomState {
    /// The room's definition changed: everyone hears it; access and rights follow.
    pub fn update(&mut self, room: RoomRow) {
        self.room = room;
        let frame = ServerMsg::RoomUpdated {
            room: RoomView::from(&self.room),
        }
        .to_frame();
        self.broadcast(frame);
        self.recheck(None, "the room's settings changed");
        // Waiting room turned off, or a waiter made a moderator: they come in.
        self.admit_those_who_need_not_wait();
    }

    /// An account's role changed (say, an administrator demoted): its connections
    /// here keep only what the new role allows.
    pub fn set_role(&mut self, user: UserId, role: Role) {
        let mut here = false;
        for m in self.members.iter_mut().filter(|m| m.view.user.id == user) {
            m.role = role;
            here = true;
        }
        for w in self.lobby.iter_mut().filter(|w| w.seat.user == user) {
            w.seat.role = role;
            here = true;
        }
        if here {
            self.recheck(Some(user), "your role changed");
        }
    }

    /// Closes whoever may no longer be here (members and waiters) and brings each
    /// member's moderator and publishing rights in line; only `user`'s if given.
    fn recheck(&mut self, user: Option<UserId>, why: &str) {
        let concerned = |u: UserId| user.is_none_or(|only| only == u);
        let withdrawn: Vec<ConnectionId> = self
            .members
            .iter()
            .filter(|m| concerned(m.view.user.id))
            .filter(|m| !policy::may_be_in_room(m.role, m.view.user.id, &self.room))
            .map(|m| m.view.id.clone())
            .chain(
                self.lobby
                    .iter()
                    .filter(|w| concerned(w.seat.user))
                    .filter(|w| !policy::may_be_in_room(w.seat.role, w.seat.user, &self.room))
                    .map(|w| w.seat.id.clone()),
            )
            .collect();
        for id in &withdrawn {
            self.remove(
                id,
                LeaveReason::Kicked,
                Some(CloseFrame::new(
                    close::ACCESS_WITHDRAWN,
                    "you no longer have access to this room",
                )),
            );
        }
        let rights: Vec<(ConnectionId, bool)> = self
            .members
            .iter()
            .filter(|m| concerned(m.view.user.id))
            .map(|m| {
                let by_definition =
                    policy::moderates(m.role, m.view.user.id, &self.room) || m.invited_moderator;
                // Administrators and the owner always moderate; others as decided live.
                let always = m.role == Role::Admin || self.room.owner == Some(m.view.user.id);
                let right = always || m.by_moderator.unwrap_or(by_definition);
                (m.view.id.clone(), right)
            })
            .collect();
        for (id, right) in rights {
            let was = self
                .members
                .iter()
                .any(|m| m.view.id == id && m.view.moderator);
            if was != right {
                self.apply_moderator(&id, right, None);
            } else {
                self.refresh_publish_right(&id, why);
            }
        }
    }
}
