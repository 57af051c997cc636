//! The live room actor. It alone owns the room's participants, their hands,
//! moderator and publishing rights; it writes the connection rows and chat, fans
//! frames out to each connection's bounded queue, and tells the node's media service
//! who is in the room and who may publish (`media.rs`).

mod media;

use super::{JoinRefused, RoomCmd};
use crate::ids::{ConnectionId, UserId};
use crate::media::MediaCmd;
use crate::server::AppState;
use crate::signal::protocol::{
    ChatView, ClientMsg, CloseFrame, LeaveReason, MediaFlags, MediaWelcome, NodeLink,
    ParticipantView, RoomView, ServerMsg, ServerRef, UserView, clean_chat, close,
};
use crate::store::{NewConnection, Role, RoomRow};
use crate::time::rfc3339;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Everything the room needs to seat a new participant.
pub struct Joiner {
    pub id: ConnectionId,
    pub user: UserId,
    pub login: String,
    pub display_name: String,
    pub role: Role,
    pub remote_addr: String,
    pub user_agent: String,
    /// The connection's outgoing queue (bounded).
    pub frames: mpsc::Sender<Arc<str>>,
    /// Fired to make the connection close with a code and reason.
    pub closer: oneshot::Sender<CloseFrame>,
}

struct Member {
    view: ParticipantView,
    role: Role,
    frames: mpsc::Sender<Arc<str>>,
    closer: Option<oneshot::Sender<CloseFrame>>,
    /// Has an accepted offer and sends something (counts toward the interview limit).
    publishing: bool,
}

struct Room {
    state: AppState,
    room: RoomRow,
    /// In joining order.
    members: Vec<Member>,
    empty_since: Option<Instant>,
    /// Commands for the media service, sent after each message is handled.
    media_out: Vec<MediaCmd>,
}

pub(super) fn spawn(state: AppState, room: RoomRow, rx: mpsc::Receiver<RoomCmd>) {
    let tasks = state.tasks.clone();
    tasks.spawn(async move {
        state.metrics.live_rooms.inc();
        let id = room.id;
        let mut actor = Room {
            state: state.clone(),
            room,
            members: Vec::new(),
            empty_since: Some(Instant::now()),
            media_out: Vec::new(),
        };
        actor.run(rx).await;
        state.metrics.live_rooms.dec();
        tracing::debug!(room = %id, "room task stopped");
    });
}

impl Room {
    async fn run(&mut self, mut rx: mpsc::Receiver<RoomCmd>) {
        let mut grace = self.state.config.room_grace;
        let shutdown = self.state.shutdown.clone();
        loop {
            let idle_deadline = self.empty_since.map(|t| t + grace);
            tokio::select! {
                // The node is stopping: connections are leaving; go as soon as the room is empty.
                _ = shutdown.cancelled(), if !grace.is_zero() => {
                    grace = std::time::Duration::ZERO;
                }
                cmd = rx.recv() => match cmd {
                    Some(cmd) => {
                        self.handle(cmd).await;
                        self.flush_media().await;
                    }
                    None => break,
                },
                _ = sleep_until_opt(idle_deadline) => {
                    if self.state.rooms.retire(self.room.id, &rx) {
                        break;
                    }
                }
            }
        }
        // Refuse whatever slipped in before the registry forgot us; joiners retry.
        rx.close();
        while let Some(cmd) = rx.recv().await {
            if let RoomCmd::Join { joiner, reply } = cmd {
                let _ = reply.send(Err(JoinRefused::Gone(Box::new(joiner))));
            }
        }
        if self.members.is_empty() {
            let _ = self
                .state
                .store
                .release_room_host(self.room.id, self.state.node.id)
                .await;
        }
    }

    async fn handle(&mut self, cmd: RoomCmd) {
        match cmd {
            RoomCmd::Join { joiner, reply } => {
                let result = self.join(joiner).await;
                let _ = reply.send(result);
            }
            RoomCmd::Leave { id, reason } => self.remove(&id, reason, None),
            RoomCmd::Request { from, msg } => self.request(&from, msg).await,
            RoomCmd::Kick { id, reply } => {
                let found = self.index(&id).is_some();
                self.remove(
                    &id,
                    LeaveReason::Kicked,
                    Some(CloseFrame::new(
                        close::KICKED,
                        "you were removed from the room",
                    )),
                );
                let _ = reply.send(found);
            }
            RoomCmd::CloseUser { user, close } => {
                let ids: Vec<_> = self
                    .members
                    .iter()
                    .filter(|m| m.view.user.id == user)
                    .map(|m| m.view.id.clone())
                    .collect();
                for id in ids {
                    self.remove(&id, LeaveReason::Kicked, Some(close.clone()));
                }
            }
            RoomCmd::Update(room) => {
                self.room = *room;
                for m in &mut self.members {
                    if self.room.is_moderator(m.view.user.id) {
                        m.view.moderator = true;
                    }
                }
                let frame = ServerMsg::RoomUpdated {
                    room: RoomView::from(&self.room),
                }
                .to_frame();
                self.broadcast(frame);
                // The kind may have changed: publishing rights follow.
                let ids: Vec<_> = self.members.iter().map(|m| m.view.id.clone()).collect();
                for id in ids {
                    self.refresh_publish_right(&id, "the room's settings changed");
                }
            }
            RoomCmd::CloseAll { close, reason } => {
                let ids: Vec<_> = self.members.iter().map(|m| m.view.id.clone()).collect();
                for id in ids {
                    self.remove(&id, reason, Some(close.clone()));
                }
            }
            RoomCmd::Broadcast(frame) => self.broadcast(frame),
            RoomCmd::Snapshot(reply) => {
                let _ = reply.send(self.members.iter().map(|m| m.view.clone()).collect());
            }
        }
    }

    async fn join(&mut self, j: Joiner) -> Result<(), JoinRefused> {
        if self.members.len() as i64 >= self.room.capacity {
            return Err(JoinRefused::Full);
        }
        let since = self
            .state
            .store
            .insert_connection(&NewConnection {
                id: &j.id,
                user: j.user,
                room: self.room.id,
                server: self.state.node.id,
                remote_addr: &j.remote_addr,
                user_agent: &j.user_agent,
            })
            .await
            .map_err(|e| {
                tracing::error!(error = %e, room = %self.room.id, "cannot record connection");
                JoinRefused::Failed
            })?;
        let history = match self
            .state
            .store
            .recent_chat(self.room.id, self.state.config.chat_history)
            .await
        {
            Ok(rows) => rows.iter().map(|r| ChatView::from_row(r, None)).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot load chat history");
                Vec::new()
            }
        };
        let moderator = j.role == Role::Admin || self.room.is_moderator(j.user);
        let can_publish = media::may_publish(self.room.kind, moderator, false);
        let mut view = ParticipantView {
            id: j.id.clone(),
            user: UserView {
                id: j.user,
                login: j.login,
                display_name: j.display_name,
            },
            moderator,
            hand_raised: false,
            since: rfc3339(since),
            can_publish,
            presenter: false,
            media: MediaFlags::default(),
        };
        let media_available = self.state.media.is_some();
        view.can_publish &= media_available;
        let servers = match self.state.store.list_servers().await {
            Ok(list) => list
                .into_iter()
                .filter(|s| s.alive() && s.active)
                .map(|s| NodeLink {
                    id: s.id,
                    name: s.name,
                    url: s.url,
                })
                .collect(),
            Err(_) => Vec::new(),
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
            history,
            server: ServerRef {
                id: self.state.node.id,
                name: self.state.node.name.clone(),
            },
            servers,
            media: MediaWelcome {
                available: media_available,
                ice_servers: self
                    .state
                    .media
                    .as_ref()
                    .map(|m| m.ice_servers.clone())
                    .unwrap_or_default(),
                can_publish: view.can_publish,
            },
        }
        .to_frame();
        let joined = ServerMsg::Joined { participant: &view }.to_frame();
        let _ = j.frames.try_send(welcome);
        self.broadcast(joined);
        self.media_out.push(MediaCmd::Join {
            room: self.room.id,
            participant: j.id.clone(),
            can_publish: view.can_publish,
            frames: j.frames.clone(),
        });
        self.members.push(Member {
            view,
            role: j.role,
            frames: j.frames,
            closer: Some(j.closer),
            publishing: false,
        });
        self.empty_since = None;
        tracing::info!(room = %self.room.id, connection = %j.id, user = %j.user, "participant joined");
        Ok(())
    }

    fn index(&self, id: &ConnectionId) -> Option<usize> {
        self.members.iter().position(|m| &m.view.id == id)
    }

    /// Takes a participant out, optionally closing its connection, and tells the others.
    fn remove(&mut self, id: &ConnectionId, reason: LeaveReason, close: Option<CloseFrame>) {
        let Some(i) = self.index(id) else { return };
        let mut member = self.members.remove(i);
        if let (Some(close), Some(closer)) = (close, member.closer.take()) {
            let _ = closer.send(close);
        }
        self.media_out.push(MediaCmd::Leave {
            participant: id.clone(),
        });
        tracing::info!(room = %self.room.id, connection = %id, reason = reason.as_str(), "participant left");
        let frame = ServerMsg::Left {
            participant_id: id,
            reason: reason.as_str(),
        }
        .to_frame();
        self.broadcast(frame);
        if self.members.is_empty() {
            self.empty_since = Some(Instant::now());
        }
    }

    /// Sends a frame to everyone; a participant whose queue is full is dropped as too slow.
    fn broadcast(&mut self, frame: Arc<str>) {
        let mut slow = Vec::new();
        for m in &self.members {
            if m.frames.try_send(frame.clone()).is_err() {
                slow.push(m.view.id.clone());
            }
        }
        for id in slow {
            self.remove(
                &id,
                LeaveReason::Slow,
                Some(CloseFrame::new(
                    close::TOO_SLOW,
                    "your connection could not keep up",
                )),
            );
        }
    }

    fn send_to(&mut self, id: &ConnectionId, frame: Arc<str>) {
        if let Some(i) = self.index(id)
            && self.members[i].frames.try_send(frame).is_err()
        {
            self.remove(
                id,
                LeaveReason::Slow,
                Some(CloseFrame::new(
                    close::TOO_SLOW,
                    "your connection could not keep up",
                )),
            );
        }
    }

    fn error_to(&mut self, id: &ConnectionId, code: &str, message: &str) {
        let frame = ServerMsg::Error { code, message }.to_frame();
        self.send_to(id, frame);
    }

    async fn request(&mut self, from: &ConnectionId, msg: ClientMsg) {
        let Some(i) = self.index(from) else { return };
        let is_moderator = self.members[i].view.moderator;
        if let Some(target) = msg.moderated_target().cloned() {
            if !is_moderator {
                return self.error_to(from, "forbidden", "only moderators can do that");
            }
            if self.index(&target).is_none() {
                return self.error_to(from, "not_found", "that participant is not in the room");
            }
        }
        match msg {
            ClientMsg::Chat { text } => {
                let text = match clean_chat(&text) {
                    Ok(t) => t,
                    Err(why) => return self.error_to(from, "bad_request", why),
                };
                let view = &self.members[i].view;
                let row = self
                    .state
                    .store
                    .insert_chat(
                        self.room.id,
                        view.user.id,
                        &view.user.login,
                        &view.user.display_name,
                        &text,
                    )
                    .await;
                match row {
                    Ok(row) => {
                        self.state.metrics.chat_messages.inc();
                        let frame = ServerMsg::Chat {
                            message: ChatView::from_row(&row, Some(from.clone())),
                        }
                        .to_frame();
                        self.broadcast(frame);
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot store chat message");
                        self.error_to(from, "internal", "the message could not be saved");
                    }
                }
            }
            ClientMsg::Hand { raised } => self.set_hand(from, raised),
            ClientMsg::LowerHand { participant_id } => self.set_hand(&participant_id, false),
            ClientMsg::Kick { participant_id } => {
                if &participant_id == from {
                    return self.error_to(from, "bad_request", "use leave to leave the room");
                }
                self.remove(
                    &participant_id,
                    LeaveReason::Kicked,
                    Some(CloseFrame::new(
                        close::KICKED,
                        "a moderator removed you from the room",
                    )),
                );
            }
            ClientMsg::GrantModerator { participant_id } => {
                self.set_moderator(&participant_id, true, from)
            }
            ClientMsg::RevokeModerator { participant_id } => {
                let t = self.index(&participant_id).expect("checked above");
                if self.members[t].role == Role::Admin {
                    return self.error_to(
                        from,
                        "forbidden",
                        "an administrator is always a moderator",
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
            media_msg => self.media_request(from, media_msg),
        }
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

    fn set_moderator(&mut self, id: &ConnectionId, moderator: bool, by: &ConnectionId) {
        let Some(i) = self.index(id) else { return };
        if self.members[i].view.moderator == moderator {
            return;
        }
        self.members[i].view.moderator = moderator;
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
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
