//! One simulated participant: the room WebSocket for signalling, a receiving peer
//! connection (the server's `media_offer` → our `media_answer`) and, for publishers,
//! a sending one (our `media_offer` → the server's `media_answer`) that writes audio
//! and video frames stamped with their send time.

use super::peer::{Datagram, MAX_DATAGRAM, Peer, Stamp, frame, now_ns, read_stamp};
use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use str0m::Event;
use str0m::change::SdpPendingOffer;
use str0m::media::{Frequency, MediaTime, Mid, Pt};
use tokio::sync::watch;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

/// What the participants and the conductor share.
pub struct Shared {
    /// Frames sent at or after this moment (ns since the epoch; 0 = not yet) and
    /// before `window_end` are measured.
    pub window_start: AtomicU64,
    pub window_end: AtomicU64,
    pub welcomed: AtomicUsize,
    /// Participants receiving every stream they should (and publishing, if they do).
    pub ready: AtomicUsize,
    /// The node's media port, from the candidates of its SDP.
    pub media_port: AtomicU16,
}

impl Shared {
    pub fn new() -> Shared {
        Shared {
            window_start: AtomicU64::new(0),
            window_end: AtomicU64::new(u64::MAX),
            welcomed: AtomicUsize::new(0),
            ready: AtomicUsize::new(0),
            media_port: AtomicU16::new(0),
        }
    }

    fn in_window(&self, ns: u64) -> bool {
        let start = self.window_start.load(Ordering::Relaxed);
        start != 0 && ns >= start && ns < self.window_end.load(Ordering::Relaxed)
    }
}

pub struct Config {
    pub ws_url: String,
    /// Publisher number, if this participant publishes.
    pub publisher: Option<u32>,
    /// Streams (publisher × audio/video) this participant should receive.
    pub expected_streams: usize,
    pub audio_bytes: usize,
    pub video_bytes: usize,
    pub audio_interval: Duration,
    pub video_interval: Duration,
}

/// One received stream, inside the window: lowest and highest sequence, frames.
#[derive(Debug, Clone, Copy)]
pub struct StreamSeen {
    pub min_seq: u64,
    pub max_seq: u64,
    pub frames: u64,
}

#[derive(Debug, Default)]
pub struct Outcome {
    /// Receive − send, in µs: when str0m handed us the frame, and when the kernel
    /// queued its datagram on our socket.
    pub app_us: Vec<u64>,
    pub kernel_us: Vec<u64>,
    pub audio_in_window: u64,
    pub video_in_window: u64,
    pub datagrams_in_window: u64,
    /// Datagrams the receiving connection sent in the window (RTCP: receiver reports,
    /// NACKs, transport-wide feedback), all to the node.
    pub feedback_in_window: u64,
    pub streams: HashMap<(u32, bool), StreamSeen>,
    pub sent_in_window: u64,
    /// Frames a late publisher skipped rather than send in a burst.
    pub skipped: u64,
    /// Frames written more than 5 ms after they were due (the bench thread was busy).
    pub late_writes: u64,
    pub max_late_us: u64,
    pub send_drops: u64,
    pub no_kernel_time: u64,
    pub media_closed: u64,
    pub errors: Vec<String>,
    pub ready: bool,
}

impl Outcome {
    fn note(&mut self, e: String) {
        if self.errors.len() < 3 {
            self.errors.push(e);
        }
    }
}

struct Up {
    peer: Peer,
    pending: Option<SdpPendingOffer>,
    audio: Mid,
    video: Mid,
    pts: Option<(Pt, Pt)>,
    next_audio: Instant,
    next_video: Instant,
    seq_audio: u64,
    seq_video: u64,
}

/// Runs a participant until `stop` turns true; `publish` turning true starts
/// publishing (for publishers).
pub async fn run(
    cfg: Config,
    shared: Arc<Shared>,
    publish: watch::Receiver<bool>,
    stop: watch::Receiver<bool>,
) -> Outcome {
    let mut out = Outcome::default();
    if let Err(e) = session(&cfg, &shared, publish, stop, &mut out).await {
        out.note(format!("{e:#}"));
    }
    out
}

async fn session(
    cfg: &Config,
    shared: &Shared,
    mut publish: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
    out: &mut Outcome,
) -> anyhow::Result<()> {
    let (mut ws, _) = connect_async(cfg.ws_url.as_str())
        .await
        .context("WebSocket connect")?;
    loop {
        match ws.next().await.context("closed before welcome")?? {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(t.as_str())?;
                if v["type"] != "welcome" {
                    bail!("first frame is not welcome: {:.200}", t.as_str());
                }
                if v["media"]["available"] == false {
                    bail!("the node has no media service");
                }
                break;
            }
            Message::Close(f) => bail!("closed before welcome: {f:?}"),
            _ => {}
        }
    }
    shared.welcomed.fetch_add(1, Ordering::Relaxed);
    let mut down = Peer::new().await?;
    let mut up: Option<Up> = None;
    let mut seen: HashMap<(u32, bool), ()> = HashMap::new();
    let mut dbuf = vec![0u8; MAX_DATAGRAM];
    let mut ubuf = vec![0u8; MAX_DATAGRAM];
    let sleep = tokio::time::sleep(Duration::from_millis(1));
    tokio::pin!(sleep);
    let mut feedback_mark: (Option<u64>, Option<u64>) = (None, None);
    loop {
        let ns = now_ns();
        if feedback_mark.0.is_none() && shared.in_window(ns) {
            feedback_mark.0 = Some(down.sent);
        } else if feedback_mark.0.is_some()
            && feedback_mark.1.is_none()
            && ns >= shared.window_end.load(Ordering::Relaxed)
        {
            feedback_mark.1 = Some(down.sent);
        }
        // Collect what the peers want to send and the frames they received.
        let now = Instant::now();
        let mut wake = now + Duration::from_millis(100);
        let t = down.poll(|e| {
            if let Event::MediaData(m) = e {
                on_frame(shared, &m.data, None, out, &mut seen);
            }
        })?;
        wake = wake.min(t);
        if let Some(u) = up.as_mut() {
            wake = wake.min(u.peer.poll(|_| {})?);
            if u.pts.is_some() {
                wake = wake.min(u.next_audio).min(u.next_video);
            }
        }
        if !out.ready
            && seen.len() >= cfg.expected_streams
            && (cfg.expected_streams == 0 || down.connected)
            && (cfg.publisher.is_none() || up.as_ref().is_some_and(|u| u.pts.is_some()))
        {
            out.ready = true;
            shared.ready.fetch_add(1, Ordering::Relaxed);
        }
        sleep.as_mut().reset(tokio::time::Instant::from_std(wake));
        tokio::select! {
            biased;
            _ = stop.changed() => break,
            _ = publish.changed(), if cfg.publisher.is_some() && up.is_none() => {
                let mut peer = Peer::new().await?;
                let (sdp, pending, audio, video) = peer.publish_offer()?;
                let tracks = json!({audio.to_string(): "microphone", video.to_string(): "camera"});
                ws.send(Message::text(json!({"type": "media_offer", "sdp": sdp, "tracks": tracks}).to_string())).await?;
                let now = Instant::now();
                up = Some(Up { peer, pending: Some(pending), audio, video, pts: None,
                    next_audio: now, next_video: now, seq_audio: 0, seq_video: 0 });
            }
            m = ws.next() => {
                let Some(m) = m else { bail!("the node closed the WebSocket") };
                if let Message::Text(t) = m? {
                    let v: Value = serde_json::from_str(t.as_str())?;
                    if let Some(reply) = signal(&v, &mut down, up.as_mut(), shared, out)? {
                        ws.send(Message::text(reply.to_string())).await?;
                    }
                }
            }
            d = down.recv(&mut dbuf) => {
                let mut d = d?;
                for _ in 0..64 {
                    if shared.in_window(now_ns()) {
                        out.datagrams_in_window += 1;
                    }
                    if d.kernel_ns.is_none() {
                        out.no_kernel_time += 1;
                    }
                    down.input(&d, &dbuf);
                    down.poll(|e| {
                        if let Event::MediaData(m) = e {
                            on_frame(shared, &m.data, d.kernel_ns, out, &mut seen);
                        }
                    })?;
                    d = match down.try_recv(&mut dbuf) { Ok(d) => d, Err(_) => break };
                }
            }
            d = recv_up(&mut up, &mut ubuf), if up.is_some() => {
                let u = up.as_mut().expect("checked");
                u.peer.input(&d?, &ubuf);
            }
            _ = &mut sleep => {
                let now = Instant::now();
                down.timeout(now);
                if let Some(u) = up.as_mut() {
                    u.peer.timeout(now);
                    send_due(cfg, shared, u, now, out);
                }
            }
        }
    }
    if let (Some(a), Some(b)) = feedback_mark {
        out.feedback_in_window = b - a;
    }
    out.send_drops = down.send_drops + up.as_ref().map_or(0, |u| u.peer.send_drops);
    let _ = ws.send(Message::Close(None)).await;
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
    Ok(())
}

async fn recv_up(up: &mut Option<Up>, buf: &mut [u8]) -> std::io::Result<Datagram> {
    match up.as_mut() {
        Some(u) => u.peer.recv(buf).await,
        None => std::future::pending().await,
    }
}

/// Handles a signalling frame; returns the frame to answer with, if any.
fn signal(
    v: &Value,
    down: &mut Peer,
    up: Option<&mut Up>,
    shared: &Shared,
    out: &mut Outcome,
) -> anyhow::Result<Option<Value>> {
    match v["type"].as_str() {
        Some("media_offer") => {
            let sdp = v["sdp"].as_str().context("media_offer without sdp")?;
            note_port(shared, sdp);
            let answer = down.accept_offer(sdp)?;
            Ok(Some(json!({"type": "media_answer", "sdp": answer})))
        }
        Some("media_answer") => {
            let sdp = v["sdp"].as_str().context("media_answer without sdp")?;
            if let Some(u) = up
                && let Some(pending) = u.pending.take()
            {
                u.peer.accept_answer(pending, sdp)?;
            }
            Ok(None)
        }
        Some("media_closed") => {
            out.media_closed += 1;
            out.note(format!("media_closed {}", v["direction"]));
            Ok(None)
        }
        Some("error") => {
            out.note(format!("error frame: {v}"));
            Ok(None)
        }
        _ => Ok(None),
    }
}

/// The node's media port, from an `a=candidate:… 127.0.0.1 PORT typ host` line.
fn note_port(shared: &Shared, sdp: &str) {
    if shared.media_port.load(Ordering::Relaxed) != 0 {
        return;
    }
    for line in sdp.lines().filter(|l| l.starts_with("a=candidate:")) {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let Some(port) = words.get(5).and_then(|p| p.parse().ok()) {
            shared.media_port.store(port, Ordering::Relaxed);
            return;
        }
    }
}

fn on_frame(
    shared: &Shared,
    data: &[u8],
    kernel_ns: Option<u64>,
    out: &mut Outcome,
    seen: &mut HashMap<(u32, bool), ()>,
) {
    let Some(s) = read_stamp(data) else { return };
    seen.insert((s.publisher, s.video), ());
    if !shared.in_window(s.sent_ns) {
        return;
    }
    let now = now_ns();
    out.app_us.push(now.saturating_sub(s.sent_ns) / 1000);
    if let Some(k) = kernel_ns {
        out.kernel_us.push(k.saturating_sub(s.sent_ns) / 1000);
    }
    if s.video {
        out.video_in_window += 1;
    } else {
        out.audio_in_window += 1;
    }
    out.streams
        .entry((s.publisher, s.video))
        .and_modify(|x| {
            x.min_seq = x.min_seq.min(s.seq);
            x.max_seq = x.max_seq.max(s.seq);
            x.frames += 1;
        })
        .or_insert(StreamSeen {
            min_seq: s.seq,
            max_seq: s.seq,
            frames: 1,
        });
}

/// Writes the audio and video frames that are due; a publisher more than 200 ms
/// behind skips ahead instead of sending a burst.
fn send_due(cfg: &Config, shared: &Shared, u: &mut Up, now: Instant, out: &mut Outcome) {
    let Some(publisher) = cfg.publisher else {
        return;
    };
    if u.pts.is_none() {
        if !u.peer.connected {
            return;
        }
        let (audio, video) = (u.audio, u.video);
        let mut pt = |mid| {
            u.peer
                .rtc
                .writer(mid)
                .and_then(|w| w.payload_params().next().map(|p| p.pt()))
        };
        let (Some(a), Some(v)) = (pt(audio), pt(video)) else {
            return;
        };
        u.pts = Some((a, v));
        u.next_audio = now;
        u.next_video = now;
    }
    let (pt_audio, pt_video) = u.pts.expect("set above");
    for video in [false, true] {
        let (next, seq, interval, size, mid, pt) = if video {
            let (n, s) = (&mut u.next_video, &mut u.seq_video);
            (n, s, cfg.video_interval, cfg.video_bytes, u.video, pt_video)
        } else {
            let (n, s) = (&mut u.next_audio, &mut u.seq_audio);
            (n, s, cfg.audio_interval, cfg.audio_bytes, u.audio, pt_audio)
        };
        if now.saturating_duration_since(*next) > Duration::from_millis(200) {
            let behind =
                now.saturating_duration_since(*next).as_nanos() / interval.as_nanos().max(1);
            out.skipped += behind as u64;
            *seq += behind as u64;
            *next = now;
        }
        while *next <= now {
            let sent_ns = now_ns();
            let late = now.saturating_duration_since(*next);
            if late > Duration::from_millis(5) && shared.in_window(sent_ns) {
                out.late_writes += 1;
                out.max_late_us = out.max_late_us.max(late.as_micros() as u64);
            }
            let stamp = Stamp {
                video,
                publisher,
                seq: *seq,
                sent_ns,
            };
            let time = if video {
                MediaTime::from_90khz(*seq * 3000)
            } else {
                MediaTime::new(*seq * 960, Frequency::FORTY_EIGHT_KHZ)
            };
            if let Some(w) = u.peer.rtc.writer(mid) {
                let w = if video { w } else { w.audio_level(-30, true) };
                if w.write(pt, now, time, frame(stamp, size)).is_ok() && shared.in_window(sent_ns) {
                    out.sent_in_window += 1;
                }
            }
            *seq += 1;
            *next += interval;
            // Send each frame at once, as a browser would.
            let _ = u.peer.poll(|_| {});
        }
    }
}
