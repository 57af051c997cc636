//! One participant: enters a room over REST, holds its WebSocket open (tungstenite
//! answers the server's pings while the stream is read), sends chat on command and
//! times the chat frames it receives.

use crate::client::Api;
use crate::stats::micros;
use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async_with_config};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long to wait for `welcome` after the upgrade, and for the server's close reply.
const WELCOME_TIMEOUT: Duration = Duration::from_secs(20);
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);
/// Error messages kept for the report.
const KEEP_MESSAGES: usize = 5;

/// What every participant of a run shares: the clock chat is stamped with, and the
/// samples and counters the participants record.
pub struct Recorder {
    epoch: std::time::Instant,
    /// Tells this run's chat from older messages (history) or another bench's.
    run: String,
    fanout_us: Mutex<Vec<u64>>,
    echo_us: Mutex<Vec<u64>>,
    frames: AtomicU64,
    frame_types: Mutex<BTreeMap<String, u64>>,
    error_frames: AtomicU64,
    messages: Mutex<Vec<String>>,
    /// Whiteboard strokes instead of chat messages.
    board: bool,
}

impl Recorder {
    pub fn new() -> Recorder {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        Recorder {
            epoch: std::time::Instant::now(),
            run: format!("{:x}-{}", nanos, std::process::id()),
            fanout_us: Mutex::new(Vec::new()),
            echo_us: Mutex::new(Vec::new()),
            frames: AtomicU64::new(0),
            frame_types: Mutex::new(BTreeMap::new()),
            error_frames: AtomicU64::new(0),
            messages: Mutex::new(Vec::new()),
            board: false,
        }
    }

    /// Sends whiteboard strokes instead of chat messages.
    pub fn drawing(mut self, board: bool) -> Recorder {
        self.board = board;
        self
    }

    /// A stroke's id carrying this run and the moment it is sent (ids take
    /// `A-Z a-z 0-9 _ -`, which the run's marker is made of).
    fn stroke_id(&self) -> String {
        format!("bench-{}-{}", self.run, micros(self.epoch.elapsed()))
    }

    /// Sent-to-received time of a stroke of this run.
    fn stroke_latency(&self, id: &str) -> Option<u64> {
        let (run, sent) = id.strip_prefix("bench-")?.rsplit_once('-')?;
        if run != self.run {
            return None;
        }
        let sent: u64 = sent.parse().ok()?;
        Some(micros(self.epoch.elapsed()).saturating_sub(sent))
    }

    /// A chat text carrying the moment it is sent.
    fn chat_text(&self) -> String {
        format!("bench-chat {} {}", self.run, micros(self.epoch.elapsed()))
    }

    /// A `chat` frame (or with `drawing`, a `board` stroke), stamped now.
    fn chat_frame(&self) -> String {
        if self.board {
            return serde_json::json!({"type": "board", "op": {"kind": "put", "board": 1,
                "elements": [{"id": self.stroke_id(), "tool": "pen", "color": "#1e88e5",
                              "width": 3, "points": [[10, 10], [40, 25], [80, 12]]}]}})
            .to_string();
        }
        serde_json::json!({"type": "chat", "text": self.chat_text()}).to_string()
    }

    /// Sent-to-received time of a chat text of this run.
    fn chat_latency(&self, text: &str) -> Option<u64> {
        let mut words = text.strip_prefix("bench-chat ")?.split(' ');
        if words.next()? != self.run {
            return None;
        }
        let sent: u64 = words.next()?.parse().ok()?;
        Some(micros(self.epoch.elapsed()).saturating_sub(sent))
    }

    fn on_text(&self, me: &str, text: &str) {
        self.frames.fetch_add(1, Ordering::Relaxed);
        let Ok(frame) = serde_json::from_str::<Value>(text) else {
            self.note(format!("frame that is not JSON: {text:.200}"));
            return;
        };
        let kind = frame["type"].as_str().unwrap_or("(no type)");
        *lock(&self.frame_types).entry(kind.to_string()).or_default() += 1;
        match frame["type"].as_str() {
            Some("chat") => {
                let message = &frame["message"];
                let Some(latency) = message["text"].as_str().and_then(|t| self.chat_latency(t))
                else {
                    return;
                };
                let list = if message["participant_id"].as_str() == Some(me) {
                    &self.echo_us
                } else {
                    &self.fanout_us
                };
                lock(list).push(latency);
            }
            Some("board") => {
                let id = frame["op"]["elements"][0]["id"].as_str();
                let Some(latency) = id.and_then(|id| self.stroke_latency(id)) else {
                    return;
                };
                let list = if frame["by"].as_str() == Some(me) {
                    &self.echo_us
                } else {
                    &self.fanout_us
                };
                lock(list).push(latency);
            }
            Some("error") => {
                self.error_frames.fetch_add(1, Ordering::Relaxed);
                self.note(format!("error frame: {text:.200}"));
            }
            _ => {}
        }
    }

    fn note(&self, message: String) {
        let mut messages = lock(&self.messages);
        if messages.len() < KEEP_MESSAGES {
            messages.push(message);
        }
    }

    /// Chat delivered to the other participants of the sender's room, in µs.
    pub fn fanout(&self) -> Vec<u64> {
        lock(&self.fanout_us).clone()
    }

    /// Chat echoed back to its sender, in µs.
    pub fn echo(&self) -> Vec<u64> {
        lock(&self.echo_us).clone()
    }

    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }

    /// Frames received after `welcome`, by type.
    pub fn frame_types(&self) -> BTreeMap<String, u64> {
        lock(&self.frame_types).clone()
    }

    pub fn error_frames(&self) -> u64 {
        self.error_frames.load(Ordering::Relaxed)
    }

    /// The first few unexpected things the participants saw.
    pub fn messages(&self) -> Vec<String> {
        lock(&self.messages).clone()
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Where the time of one join went, in µs.
#[derive(Debug, Clone, Copy)]
pub struct JoinTiming {
    /// `POST …/enter`.
    pub enter: u64,
    /// TCP connect and WebSocket upgrade.
    pub connect: u64,
    /// From the upgrade to the `welcome` frame.
    pub welcome: u64,
    /// All three.
    pub total: u64,
}

/// Orders for a connected participant.
#[derive(Debug, Clone, Copy)]
pub enum Command {
    /// Send one chat message stamped with the current time.
    Chat,
    /// Close with 1000 and wait for the server's reply.
    Close,
}

/// How a participant's connection ended.
#[derive(Debug, Clone)]
pub enum Ending {
    /// We closed, the server answered the close.
    Clean,
    /// The server closed first (code, reason).
    ClosedByServer(u16, String),
    /// The connection broke, or the close was not answered in time.
    Broken(String),
}

/// A participant whose WebSocket is open and welcomed.
pub struct Participant {
    pub room: usize,
    commands: mpsc::UnboundedSender<Command>,
    task: JoinHandle<Ending>,
}

impl Participant {
    pub fn send(&self, command: Command) {
        // A participant whose task ended no longer listens; its ending says why.
        let _ = self.commands.send(command);
    }

    pub async fn finish(self) -> Ending {
        self.send(Command::Close);
        match self.task.await {
            Ok(ending) => ending,
            Err(e) => Ending::Broken(format!("participant task failed: {e}")),
        }
    }
}

/// Enters a room with an existing session and waits for `welcome`.
pub async fn join(
    api: &Api,
    sid: &str,
    room_index: usize,
    room_id: i64,
    recorder: Arc<Recorder>,
) -> anyhow::Result<(Participant, JoinTiming)> {
    let start = Instant::now();
    let entry = api.enter(sid, room_id).await?;
    let entered = Instant::now();
    let (mut ws, _) = connect_async_with_config(entry.ws_url.as_str(), None, true)
        .await
        .with_context(|| format!("WebSocket to room {room_id}"))?;
    let connected = Instant::now();
    let me = timeout(WELCOME_TIMEOUT, welcome(&mut ws))
        .await
        .with_context(|| format!("no welcome from room {room_id} in {WELCOME_TIMEOUT:?}"))?
        .with_context(|| format!("room {room_id}"))?;
    let welcomed = Instant::now();
    let timing = JoinTiming {
        enter: micros(entered - start),
        connect: micros(connected - entered),
        welcome: micros(welcomed - connected),
        total: micros(welcomed - start),
    };
    let (commands, receiver) = mpsc::unbounded_channel();
    let task = tokio::spawn(run(ws, me, recorder, receiver));
    Ok((
        Participant {
            room: room_index,
            commands,
            task,
        },
        timing,
    ))
}

/// Reads up to the `welcome` frame and returns our participant id.
async fn welcome(ws: &mut Ws) -> anyhow::Result<String> {
    while let Some(message) = ws.next().await {
        match message.context("reading the WebSocket")? {
            Message::Text(text) => {
                let frame: Value = serde_json::from_str(text.as_str())
                    .with_context(|| format!("frame that is not JSON: {:.200}", text.as_str()))?;
                if frame["type"] != "welcome" {
                    bail!("first frame is not welcome: {:.200}", text.as_str());
                }
                let Some(id) = frame["you"]["id"].as_str() else {
                    bail!("welcome without you.id: {:.200}", text.as_str());
                };
                return Ok(id.to_string());
            }
            Message::Close(frame) => {
                let (code, reason) = describe(frame.as_ref());
                bail!("closed before welcome: {code} {reason}");
            }
            _ => {}
        }
    }
    bail!("connection ended before welcome")
}

fn describe(frame: Option<&CloseFrame>) -> (u16, String) {
    match frame {
        Some(f) => (u16::from(f.code), f.reason.as_str().to_string()),
        None => (1005, "no close frame".to_string()),
    }
}

/// The participant's life after `welcome`: read everything (which also answers
/// pings), obey commands, and close on request.
async fn run(
    mut ws: Ws,
    me: String,
    recorder: Arc<Recorder>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) -> Ending {
    // Set once we sent our close: the time by which the server must answer.
    let mut closing: Option<Instant> = None;
    let mut server_close: Option<(u16, String)> = None;
    loop {
        let deadline = closing.unwrap_or_else(Instant::now);
        tokio::select! {
            message = ws.next() => match message {
                Some(Ok(Message::Text(text))) => recorder.on_text(&me, text.as_str()),
                Some(Ok(Message::Close(frame))) => {
                    if closing.is_none() {
                        server_close = Some(describe(frame.as_ref()));
                    } else {
                        // The reply to our close: the handshake is complete.
                        return Ending::Clean;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    return match server_close {
                        Some((code, reason)) => Ending::ClosedByServer(code, reason),
                        None => Ending::Broken(format!("WebSocket error: {e}")),
                    };
                }
                None => {
                    return match (server_close, closing) {
                        (Some((code, reason)), _) => Ending::ClosedByServer(code, reason),
                        (None, Some(_)) => Ending::Broken("ended without a close reply".into()),
                        (None, None) => Ending::Broken("ended without a close frame".into()),
                    };
                }
            },
            command = commands.recv(), if closing.is_none() => match command {
                Some(Command::Chat) => {
                    let frame = recorder.chat_frame();
                    if let Err(e) = ws.send(Message::text(frame)).await {
                        return Ending::Broken(format!("cannot send chat: {e}"));
                    }
                }
                Some(Command::Close) | None => {
                    if server_close.is_some() {
                        continue;
                    }
                    let frame = CloseFrame { code: CloseCode::Normal, reason: "bench done".into() };
                    if let Err(e) = ws.send(Message::Close(Some(frame))).await {
                        return Ending::Broken(format!("cannot send close: {e}"));
                    }
                    closing = Some(Instant::now() + CLOSE_TIMEOUT);
                }
            },
            _ = sleep_until(deadline), if closing.is_some() => {
                return Ending::Broken("the server did not answer our close".into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stroke_round_trip() {
        let r = Recorder::new().drawing(true);
        let frame: Value = serde_json::from_str(&r.chat_frame()).unwrap();
        assert_eq!(frame["type"], "board");
        let id = frame["op"]["elements"][0]["id"].as_str().unwrap();
        assert!(id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        assert!(r.stroke_latency(id).is_some());
        assert!(Recorder::new().stroke_latency(id).is_none(), "another run");
        let echo = serde_json::json!({"type": "board", "seq": 1, "by": "me", "op": frame["op"]});
        r.on_text("me", &echo.to_string());
        r.on_text("other", &echo.to_string());
        assert_eq!((r.echo().len(), r.fanout().len()), (1, 1));
    }

    #[test]
    fn chat_text_round_trip() {
        let r = Recorder::new();
        let text = r.chat_text();
        assert!(text.starts_with("bench-chat "));
        assert!(r.chat_latency(&text).is_some());
        assert!(r.chat_latency("bench-chat other-run 5").is_none());
        assert!(r.chat_latency("hello").is_none());
        let frame: Value = serde_json::from_str(&r.chat_frame()).unwrap();
        assert_eq!(frame["type"], "chat");
        assert!(r.chat_latency(frame["text"].as_str().unwrap()).is_some());
    }

    #[test]
    fn fanout_and_echo_are_told_apart() {
        let r = Recorder::new();
        let text = r.chat_text();
        let frame = |from: &str| {
            serde_json::json!({"type": "chat", "message": {"participant_id": from, "text": text}})
                .to_string()
        };
        r.on_text("me", &frame("me"));
        r.on_text("me", &frame("other"));
        r.on_text("me", &frame("other"));
        r.on_text(
            "me",
            r#"{"type":"error","code":"bad_request","message":"x"}"#,
        );
        assert_eq!(r.echo().len(), 1);
        assert_eq!(r.fanout().len(), 2);
        assert_eq!(r.frames(), 4);
        assert_eq!(r.frame_types()["chat"], 3);
        assert_eq!(r.error_frames(), 1);
    }
}
