//! Recording in the live room. The database says whether the room is being recorded
//! (the API starts and stops it there and publishes `RecordingChanged`); the room looks
//! it up off its loop, tells everyone (`recording` frames, and `welcome` for those who
//! enter, before they publish), and runs the capture on this node while it lasts
//! (`recordings::capture`). A room re-placed after its node died does not resume the
//! dead node's capture: that recording is processed from what it wrote.

use super::rules::RoomState;
use super::{Room, RoomCmd};
use crate::ids::RoomId;
use crate::media::MediaCmd;
use crate::protocol::ServerMsg;
use crate::recordings::RecordingView;
use crate::recordings::capture::Capture;
use crate::store::{RecordingPolicy, RecordingRow, Store};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

/// How long a lookup may take; the next change or the room's next start asks again.
const DEADLINE: Duration = Duration::from_secs(5);

impl RoomState {
    /// The room's recording is now `view`: everyone is told when that changes.
    pub(super) fn set_recording(&mut self, view: Option<RecordingView>) {
        if self.recording == view {
            return;
        }
        let frame = match (&view, &self.recording) {
            (Some(v), _) => ServerMsg::Recording {
                active: true,
                id: v.id,
                started_at: Some(&v.started_at),
                started_by: v.started_by.as_deref(),
            }
            .to_frame(),
            (None, Some(old)) => ServerMsg::Recording {
                active: false,
                id: old.id,
                started_at: None,
                started_by: None,
            }
            .to_frame(),
            (None, None) => return,
        };
        self.recording = view;
        self.broadcast(frame);
    }

    pub(super) fn tell_moderators(&mut self, frame: std::sync::Arc<str>) {
        let to: Vec<_> = self
            .members
            .iter()
            .filter(|m| m.view.moderator)
            .map(|m| m.view.id.clone())
            .collect();
        for id in to {
            self.send_to(&id, frame.clone());
        }
    }
}

/// Looks up the room's running recording and hands it to the room. `opening`: the room
/// just opened here, and one whose policy is `automatic` starts recording now.
pub(super) fn look_up(
    store: Store,
    room: RoomId,
    opening: bool,
    back: mpsc::WeakSender<RoomCmd>,
    tasks: &TaskTracker,
) {
    tasks.spawn(async move {
        let find = async {
            let found = store.live_recording(room).await?;
            if found.is_some()
                || !opening
                || store.room_recording_policy(room).await? != RecordingPolicy::Automatic
            {
                return Ok(found);
            }
            let name = format!(
                "Automatic recording — {}",
                chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
            );
            let started = store
                .start_recording(room, &name, None, &crate::recordings::new_prefix())
                .await?;
            if let Some(r) = &started {
                tracing::info!(%room, recording = r.id, "recording started automatically");
            }
            Ok::<_, sqlx::Error>(started)
        };
        match tokio::time::timeout(DEADLINE, find).await {
            Ok(Ok(found)) => {
                if let Some(back) = back.upgrade() {
                    let _ = back
                        .send(RoomCmd::RecordingFound(found.map(Box::new)))
                        .await;
                }
            }
            Ok(Err(e)) => tracing::warn!(%room, error = %e, "cannot look up the room's recording"),
            Err(_) => tracing::warn!(%room, "looking up the room's recording timed out"),
        }
    });
}

impl Room {
    /// The database's answer: start the capture, or stop it.
    pub(super) fn recording_found(&mut self, found: Option<RecordingRow>) {
        let node = self.ctx.server.id.0;
        // Another node's capture (it died, the room moved here) is not resumed.
        let ours = found.filter(|r| r.node.is_none_or(|n| n == node));
        match (&ours, &self.capture) {
            (Some(r), Some(c)) if c.id == r.id => return,
            (None, None) => {
                self.rules.set_recording(None);
                return;
            }
            _ => {}
        }
        self.stop_capture();
        let Some(row) = ours else {
            self.rules.set_recording(None);
            return;
        };
        let room = self.rules.room_id();
        self.rules.set_recording(Some(RecordingView::from(&row)));
        let back = self.back.clone();
        let capture = Capture {
            store: self.ctx.store.clone(),
            storage: self.ctx.storage.clone(),
            node,
            recording: row,
            ended: Box::new(move |id, why| {
                if let Some(back) = back.upgrade() {
                    let _ = back.try_send(RoomCmd::RecordingEnded(id, why));
                }
            }),
        };
        let (handle, sink) = capture.spawn(&self.ctx.tasks);
        self.capture = Some(handle);
        self.media_out.push_back(MediaCmd::Record {
            room,
            sink: Some(sink),
        });
    }

    /// The capture ended by itself (the storage refused it, it was deleted); the
    /// moderators are told why when there is a reason.
    pub(super) fn recording_ended(&mut self, id: i64, why: Option<String>) {
        if self.capture.as_ref().is_some_and(|c| c.id == id) {
            self.stop_capture();
            self.rules.set_recording(None);
            if let Some(why) = why {
                self.rules.tell_moderators(
                    ServerMsg::Error {
                        code: crate::protocol::ErrorCode::Unavailable,
                        message: &why,
                    }
                    .to_frame(),
                );
            }
        }
    }

    pub(super) fn stop_capture(&mut self) {
        if self.capture.take().is_some() {
            self.media_out.push_back(MediaCmd::Record {
                room: self.rules.room_id(),
                sink: None,
            });
        }
    }
}
