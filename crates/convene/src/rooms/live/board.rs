//! The whiteboard's rules in the room: who may draw, the checks an operation passes,
//! and its way through the database. An operation is checked against the boards as
//! they are, numbered, stored (`board_io.rs`) and only then applied and sent to
//! everyone, so what anyone saw is in the log. Lasers and unfinished strokes are
//! relayed at once and never stored.

use super::rules::{Effect, RoomState};
use crate::boards::model::Slide;
use crate::boards::validate::{self, Refusal};
use crate::boards::{Boards, Op};
use crate::ids::{ConnectionId, UserId};
use crate::protocol::{ClientMsg, ErrorCode, ServerMsg};
use std::collections::HashSet;

/// Operations stored since the last snapshot before the room asks for another.
pub const SNAPSHOT_EVERY: i64 = 500;

/// An operation on its way to the database.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BoardWrite {
    /// Its sender (None for what the node does itself).
    pub from: Option<ConnectionId>,
    pub by_user: Option<UserId>,
    pub seq: i64,
    pub op: Op,
}

/// A `document` operation waiting for its file's pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DocumentRequest {
    pub from: ConnectionId,
    pub user: UserId,
    pub board: u32,
    pub file: i64,
}

/// The room's boards: None until loaded from the database.
#[derive(Debug, Default)]
pub(crate) struct LiveBoards {
    state: Option<Boards>,
    /// The number the next operation gets.
    next_seq: i64,
    /// The id the next new board gets (boards added but not yet stored count).
    next_board: u32,
    /// The last snapshot asked for.
    snapshot_seq: i64,
    /// Accounts a moderator allowed to draw while the room is live: the right
    /// outlasts a reconnect or a second window.
    drawers: HashSet<UserId>,
}

impl LiveBoards {
    pub fn state(&self) -> Option<&Boards> {
        self.state.as_ref()
    }

    pub(super) fn granted(&self, user: UserId) -> bool {
        self.drawers.contains(&user)
    }
}

impl RoomState {
    pub(super) fn can_draw(&self, id: &ConnectionId) -> bool {
        self.index(id)
            .is_some_and(|i| self.members[i].view.can_draw)
    }

    /// Recomputes the whiteboard right after a change of the moderator right or a
    /// grant; tells everyone when it changed.
    pub(super) fn refresh_can_draw(&mut self, id: &ConnectionId, by: Option<&ConnectionId>) {
        let Some(i) = self.index(id) else { return };
        let member = &mut self.members[i];
        let can_draw = member.view.moderator || member.may_draw;
        if member.view.can_draw == can_draw {
            return;
        }
        member.view.can_draw = can_draw;
        let frame = ServerMsg::Whiteboard {
            participant_id: id,
            can_draw,
            by,
        }
        .to_frame();
        self.broadcast(frame);
    }

    /// The boards for someone who just got their welcome (when they are loaded; if not,
    /// everyone gets them once they are).
    pub(super) fn boards_to(&mut self, id: &ConnectionId) {
        if let Some(boards) = &self.boards.state {
            let frame = ServerMsg::Boards {
                seq: boards.seq,
                boards: &boards.boards,
            }
            .to_frame();
            self.send_to(id, frame);
        }
    }

    /// The boards as stored, read by the actor when the room started.
    pub fn boards_loaded(&mut self, boards: Boards) {
        self.boards.next_seq = boards.seq + 1;
        self.boards.next_board = boards.next_board_id();
        self.boards.snapshot_seq = boards.seq;
        let frame = ServerMsg::Boards {
            seq: boards.seq,
            boards: &boards.boards,
        }
        .to_frame();
        self.boards.state = Some(boards);
        self.broadcast(frame);
    }

    pub(super) fn board_request(&mut self, from: &ConnectionId, msg: ClientMsg) {
        match msg {
            ClientMsg::GrantWhiteboard { participant_id } => {
                self.grant_draw(from, &participant_id, true)
            }
            ClientMsg::RevokeWhiteboard { participant_id } => {
                self.grant_draw(from, &participant_id, false)
            }
            ClientMsg::BoardLive {
                board,
                pointer,
                draft,
            } => self.board_live(from, board, pointer, draft),
            ClientMsg::Board { op } => self.board_op(from, op),
            _ => {}
        }
    }

    fn grant_draw(&mut self, by: &ConnectionId, target: &ConnectionId, granted: bool) {
        let Some(t) = self.index(target) else { return };
        if !granted && self.members[t].view.moderator {
            return self.error_to(
                by,
                ErrorCode::BadRequest,
                "a moderator can always draw; take the moderator right instead",
            );
        }
        let user = self.members[t].view.user.id;
        if granted {
            self.boards.drawers.insert(user);
        } else {
            self.boards.drawers.remove(&user);
        }
        // Every connection of that account, not only the one clicked.
        let same_user: Vec<ConnectionId> = self
            .members
            .iter()
            .filter(|m| m.view.user.id == user)
            .map(|m| m.view.id.clone())
            .collect();
        for id in same_user {
            if let Some(i) = self.index(&id) {
                self.members[i].may_draw = granted;
            }
            self.refresh_can_draw(&id, Some(by));
        }
    }

    fn refuse_draw(&mut self, from: &ConnectionId) -> bool {
        if self.can_draw(from) {
            return false;
        }
        self.error_to(
            from,
            ErrorCode::Forbidden,
            "you cannot draw on the whiteboard; a moderator can allow it",
        );
        true
    }

    fn board_live(
        &mut self,
        from: &ConnectionId,
        board: u32,
        pointer: Option<crate::protocol::Point>,
        mut draft: Option<crate::boards::Element>,
    ) {
        if self.refuse_draw(from) {
            return;
        }
        let Some(pages) = self
            .boards
            .state
            .as_ref()
            .and_then(|b| b.get(board))
            .map(|b| b.page_count())
        else {
            return self.error_to(from, ErrorCode::NotFound, "there is no such board");
        };
        let limit = validate::COORD_LIMIT;
        if let Some(p) = pointer
            && !(p.x.is_finite() && p.y.is_finite() && p.x.abs() <= limit && p.y.abs() <= limit)
        {
            return self.error_to(from, ErrorCode::BadRequest, "the pointer is off the board");
        }
        if let Some(e) = draft.as_mut()
            && let Err(why) = validate::check_element(e, pages)
        {
            return self.refused(from, why);
        }
        let frame = ServerMsg::BoardLive {
            participant_id: from,
            board,
            pointer,
            draft: draft.as_ref(),
        }
        .to_frame();
        let others: Vec<ConnectionId> = self
            .members
            .iter()
            .map(|m| m.view.id.clone())
            .filter(|id| id != from)
            .collect();
        for id in others {
            self.send_to(&id, frame.clone());
        }
    }

    fn refused(&mut self, from: &ConnectionId, why: Refusal) {
        match why {
            Refusal::BadRequest(m) => self.error_to(from, ErrorCode::BadRequest, &m),
            Refusal::NotFound(m) => self.error_to(from, ErrorCode::NotFound, &m),
        }
    }

    fn board_op(&mut self, from: &ConnectionId, op: Op) {
        if self.refuse_draw(from) {
            return;
        }
        let Some(boards) = &self.boards.state else {
            return self.error_to(
                from,
                ErrorCode::Unavailable,
                "the whiteboard is still loading; try again in a moment",
            );
        };
        let mut op = match validate::check(boards, op) {
            Ok(op) => op,
            Err(why) => return self.refused(from, why),
        };
        if let Op::AddBoard { board, .. } = &mut op {
            let id = board.unwrap_or(0).max(self.boards.next_board);
            self.boards.next_board = id + 1;
            *board = Some(id);
        }
        let user = self.user_of(from);
        if let Op::Document { board, file, .. } = op {
            let Some(user) = user else { return };
            return self.push(Effect::LoadDocument(DocumentRequest {
                from: from.clone(),
                user,
                board,
                file,
            }));
        }
        self.submit(Some(from.clone()), user, op);
    }

    fn submit(&mut self, from: Option<ConnectionId>, by_user: Option<UserId>, op: Op) {
        let seq = self.boards.next_seq;
        self.boards.next_seq += 1;
        self.push(Effect::StoreBoard(BoardWrite {
            from,
            by_user,
            seq,
            op,
        }));
    }

    /// The pages of a document asked for with a `document` operation (or why not).
    pub fn document_loaded(
        &mut self,
        request: DocumentRequest,
        result: Result<(String, Vec<Slide>), String>,
    ) {
        let (name, pages) = match result {
            Ok(found) => found,
            Err(why) => return self.error_to(&request.from, ErrorCode::BadRequest, &why),
        };
        let op = Op::Document {
            board: request.board,
            file: request.file,
            name: Some(name),
            pages: Some(pages),
        };
        let from = self.index(&request.from).map(|_| request.from);
        self.submit(from, Some(request.user), op);
    }

    /// The database took (or refused) operations: apply and send them, or tell their
    /// senders they were not saved.
    pub fn boards_stored(&mut self, writes: Vec<BoardWrite>, stored: bool) {
        if !stored {
            for w in writes {
                if let Some(from) = &w.from {
                    self.error_to(
                        from,
                        ErrorCode::Unavailable,
                        "the whiteboard could not be saved; your change was not applied",
                    );
                }
            }
            return;
        }
        let Some(boards) = self.boards.state.as_mut() else {
            return;
        };
        let mut frames = Vec::with_capacity(writes.len());
        for w in &writes {
            boards.apply(w.seq, &w.op);
            frames.push(
                ServerMsg::Board {
                    seq: w.seq,
                    by: w.from.as_ref(),
                    op: &w.op,
                }
                .to_frame(),
            );
        }
        let snapshot = (boards.seq - self.boards.snapshot_seq >= SNAPSHOT_EVERY).then(|| {
            let state = serde_json::to_string(&*boards).expect("boards always serialise");
            (boards.seq, state)
        });
        for frame in frames {
            self.broadcast(frame);
        }
        if let Some((seq, state)) = snapshot {
            self.boards.snapshot_seq = seq;
            self.push(Effect::SnapshotBoards { seq, state });
        }
    }
}
