//! The writing half of a participant's WebSocket. It alone owns the sink, so a peer
//! that stops reading blocks nobody but this future, and every write has a deadline:
//! a write that does not complete in time ends the connection.

use crate::protocol::CloseFrame;
use axum::extract::ws::{CloseFrame as WsClose, Message, WebSocket};
use futures_util::SinkExt;
use futures_util::stream::SplitSink;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior, timeout};

/// How the reading side asks the writer to stop.
pub(super) enum Finish {
    /// Send this close frame (after the write under way), then stop.
    Close(CloseFrame),
    /// The peer closed or is gone: stop at once, abandoning a pending write.
    Now,
}

/// Why the writer stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WriterEnd {
    /// The room closed this connection; its close frame was sent or timed out.
    RoomClosed,
    /// The room dropped this connection without a word: its task stopped.
    RoomStopped,
    /// A write did not complete within the deadline: the peer does not read.
    Stalled,
    /// The socket failed: the peer is gone.
    Broken,
    /// The reading side asked it to stop.
    Finished,
}

pub(super) struct Writer {
    pub sink: SplitSink<WebSocket, Message>,
    /// The room's frames for this connection (bounded; the room drops us when full).
    pub frames: mpsc::Receiver<Arc<str>>,
    /// Frames of the connection itself, such as replies to malformed input.
    pub control: mpsc::Receiver<Arc<str>>,
    /// Fired by the room to close the connection (kicked, too slow, moved).
    pub closer: oneshot::Receiver<CloseFrame>,
    /// From the reading side; `None` once received.
    pub finish: Option<oneshot::Receiver<Finish>>,
    /// Longest time one write may take.
    pub deadline: Duration,
    pub ping_every: Duration,
}

impl Writer {
    pub async fn run(mut self) -> WriterEnd {
        let mut ping = tokio::time::interval_at(Instant::now() + self.ping_every, self.ping_every);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // A close asked for while a write was under way.
        let mut pending_close: Option<CloseFrame> = None;
        loop {
            if let Some(close) = pending_close.take() {
                return match self.send_close(close).await {
                    Err(end) => end,
                    Ok(()) => WriterEnd::Finished,
                };
            }
            let msg = tokio::select! {
                biased;
                finish = next_finish(&mut self.finish) => match finish {
                    Finish::Close(close) => {
                        pending_close = Some(close);
                        continue;
                    }
                    Finish::Now => {
                        // Flushes the reply to the peer's close, if it sent one.
                        let _ = timeout(self.deadline, self.sink.close()).await;
                        return WriterEnd::Finished;
                    }
                },
                decided = &mut self.closer => return self.room_close(decided.ok()).await,
                Some(frame) = self.control.recv() => text(&frame),
                frame = self.frames.recv() => match frame {
                    Some(frame) => text(&frame),
                    // The room let go of our queue: it closed us (the reason is in
                    // `closer`) or its task stopped.
                    None => {
                        let decided = self.closer.try_recv().ok();
                        return self.room_close(decided).await;
                    }
                },
                _ = ping.tick() => Message::Ping(Vec::new().into()),
            };
            // The reading side may learn meanwhile that the peer is gone.
            let send = timeout(self.deadline, self.sink.send(msg));
            tokio::pin!(send);
            loop {
                tokio::select! {
                    biased;
                    sent = &mut send => match sent {
                        Ok(Ok(())) => break,
                        Ok(Err(_)) => return WriterEnd::Broken,
                        Err(_) => return WriterEnd::Stalled,
                    },
                    finish = next_finish(&mut self.finish) => match finish {
                        Finish::Close(close) => pending_close = Some(close),
                        Finish::Now => return WriterEnd::Finished,
                    },
                }
            }
        }
    }

    /// Sends what the room queued before its decision, then the close frame, all
    /// within one deadline.
    async fn room_close(&mut self, decided: Option<CloseFrame>) -> WriterEnd {
        let Some(close) = decided else {
            let close = CloseFrame::new(crate::protocol::close::INTERNAL, "the room stopped");
            return match self.send_close(close).await {
                Err(end) => end,
                Ok(()) => WriterEnd::RoomStopped,
            };
        };
        let sink = &mut self.sink;
        let frames = &mut self.frames;
        let flushed = timeout(self.deadline, async {
            while let Ok(frame) = frames.try_recv() {
                sink.feed(text(&frame)).await?;
            }
            sink.send(close_message(close)).await
        })
        .await;
        match flushed {
            Ok(Ok(())) => WriterEnd::RoomClosed,
            Ok(Err(_)) => WriterEnd::Broken,
            Err(_) => WriterEnd::Stalled,
        }
    }

    async fn send_close(&mut self, close: CloseFrame) -> Result<(), WriterEnd> {
        match timeout(self.deadline, self.sink.send(close_message(close))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(WriterEnd::Broken),
            Err(_) => Err(WriterEnd::Stalled),
        }
    }
}

/// The reading side's request, once; pending forever after it was received.
async fn next_finish(finish: &mut Option<oneshot::Receiver<Finish>>) -> Finish {
    let Some(rx) = finish.as_mut() else {
        return std::future::pending().await;
    };
    // A dropped sender means the reading side is gone: stop.
    let got = rx.await.unwrap_or(Finish::Now);
    *finish = None;
    got
}

fn text(frame: &Arc<str>) -> Message {
    Message::Text(frame.as_ref().into())
}

pub(super) fn close_message(close: CloseFrame) -> Message {
    Message::Close(Some(WsClose {
        code: close.code,
        reason: close.reason.into(),
    }))
}
