//! The node's media service: one UDP socket for all peers, and the SFU core
//! (`convene-media`) that forwards the media of the rooms this node hosts. One task
//! owns both; room actors and connections talk to it through its mailbox, and its
//! signalling output goes straight to each participant's frame queue.

use crate::ids::{ConnectionId, RoomId};
use convene_media::{ParticipantId, PeerDirection, Sfu, SfuConfig, SfuEvent};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Commands waiting for the media task before senders wait.
const MAILBOX: usize = 4096;
/// Largest datagram read (WebRTC keeps below ~1200 bytes; leave room).
const MAX_DATAGRAM: usize = 2048;
/// The task wakes at least this often.
const MAX_SLEEP: Duration = Duration::from_millis(50);

pub enum MediaCmd {
    Join {
        room: RoomId,
        participant: ConnectionId,
        can_publish: bool,
        frames: mpsc::Sender<Arc<str>>,
    },
    Leave {
        participant: ConnectionId,
    },
    Offer {
        participant: ConnectionId,
        sdp: String,
        labels: Vec<(String, String)>,
        reply: oneshot::Sender<Result<(), String>>,
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

/// A way to reach the media task.
#[derive(Clone)]
pub struct MediaHandle {
    tx: mpsc::Sender<MediaCmd>,
    /// The bound UDP address.
    pub local_addr: SocketAddr,
    /// What clients get as `iceServers`.
    pub ice_servers: Value,
}

impl MediaHandle {
    pub async fn send(&self, cmd: MediaCmd) {
        if self.tx.send(cmd).await.is_err() {
            tracing::debug!("media task gone");
        }
    }
}

/// Shared counters, read by /metrics.
#[derive(Default)]
pub struct MediaCounters {
    pub forwarded_frames: std::sync::atomic::AtomicU64,
    pub malformed: std::sync::atomic::AtomicU64,
    pub peer_failures: std::sync::atomic::AtomicU64,
}

/// Binds the UDP port and starts the task.
pub async fn start(
    bind: SocketAddr,
    advertised: Vec<std::net::IpAddr>,
    ice_servers: Value,
    counters: Arc<MediaCounters>,
    shutdown: CancellationToken,
    tasks: &TaskTracker,
) -> anyhow::Result<MediaHandle> {
    let socket = UdpSocket::bind(bind)
        .await
        .map_err(|e| anyhow::anyhow!("setting `media_port`: cannot bind UDP {bind}: {e}"))?;
    let local_addr = socket.local_addr()?;
    let candidates: Vec<SocketAddr> = advertised
        .iter()
        .map(|ip| SocketAddr::new(*ip, local_addr.port()))
        .collect();
    tracing::info!(udp = %local_addr, candidates = ?candidates, "media service listening");
    let (tx, rx) = mpsc::channel(MAILBOX);
    let sfu = Sfu::new(SfuConfig::new(candidates));
    tasks.spawn(run(socket, local_addr, sfu, rx, counters, shutdown));
    Ok(MediaHandle {
        tx,
        local_addr,
        ice_servers,
    })
}

struct Seat {
    room: RoomId,
    frames: mpsc::Sender<Arc<str>>,
}

async fn run(
    socket: UdpSocket,
    local: SocketAddr,
    mut sfu: Sfu,
    mut rx: mpsc::Receiver<MediaCmd>,
    counters: Arc<MediaCounters>,
    shutdown: CancellationToken,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut seats: HashMap<ParticipantId, Seat> = HashMap::new();
    loop {
        let now = Instant::now();
        let wake = sfu
            .next_timeout()
            .map(|t| t.saturating_duration_since(now))
            .unwrap_or(MAX_SLEEP)
            .min(MAX_SLEEP);
        tokio::select! {
            _ = shutdown.cancelled() => break,
            received = socket.recv_from(&mut buf) => match received {
                Ok((n, source)) => sfu.handle_receive(Instant::now(), source, local, &buf[..n]),
                Err(e) => tracing::debug!(error = %e, "media socket read failed"),
            },
            cmd = rx.recv() => match cmd {
                Some(cmd) => command(&mut sfu, &mut seats, cmd),
                None => break,
            },
            _ = tokio::time::sleep(wake) => sfu.handle_timeout(Instant::now()),
        }
        // str0m sends written frames when its timer is due, which forwarding makes
        // "now": handle it here instead of after a timer tick (a 1 ms floor on every
        // forwarded frame, and growing batches under load).
        let now = Instant::now();
        if sfu.next_timeout().is_some_and(|t| t <= now) {
            sfu.handle_timeout(now);
        }
        while let Some(t) = sfu.poll_transmit() {
            if let Err(e) = socket.send_to(&t.contents, t.destination).await {
                tracing::debug!(error = %e, to = %t.destination, "media send failed");
            }
        }
        while let Some(event) = sfu.poll_event() {
            deliver(&seats, event);
        }
        let s = sfu.stats();
        use std::sync::atomic::Ordering::Relaxed;
        counters.forwarded_frames.store(s.frames_forwarded, Relaxed);
        counters.malformed.store(s.malformed, Relaxed);
        counters.peer_failures.store(s.peer_failures, Relaxed);
    }
}

fn pid(c: &ConnectionId) -> ParticipantId {
    ParticipantId(c.0.clone())
}

fn send(seat: &Seat, frame: Value) {
    // A full queue means a slow client; the room closes those. Media frames are not
    // worth blocking the media task for.
    let _ = seat.frames.try_send(frame.to_string().into());
}

fn command(sfu: &mut Sfu, seats: &mut HashMap<ParticipantId, Seat>, cmd: MediaCmd) {
    let now = Instant::now();
    match cmd {
        MediaCmd::Join {
            room,
            participant,
            can_publish,
            frames,
        } => {
            seats.insert(pid(&participant), Seat { room, frames });
            sfu.join(room.0, pid(&participant), can_publish, now);
        }
        MediaCmd::Leave { participant } => {
            seats.remove(&pid(&participant));
            sfu.leave(&pid(&participant), now);
        }
        MediaCmd::Offer {
            participant,
            sdp,
            labels,
            reply,
        } => {
            let who = pid(&participant);
            let result = sfu.publish_offer(&who, &sdp, &labels, now);
            match result {
                Ok(answer) => {
                    if let Some(seat) = seats.get(&who) {
                        send(seat, json!({"type": "media_answer", "sdp": answer}));
                    }
                    let _ = reply.send(Ok(()));
                }
                Err(e) => {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
        MediaCmd::Answer { participant, sdp } => {
            let who = pid(&participant);
            if let Err(e) = sfu.subscribe_answer(&who, &sdp, now)
                && let Some(seat) = seats.get(&who)
            {
                send(
                    seat,
                    json!({"type": "error", "code": "bad_request", "message": e.to_string()}),
                );
            }
        }
        MediaCmd::SetPublish {
            participant,
            allowed,
        } => sfu.set_can_publish(&pid(&participant), allowed, now),
        MediaCmd::BlockAudio {
            participant,
            blocked,
        } => sfu.set_audio_blocked(&pid(&participant), blocked),
        MediaCmd::Layer {
            subscriber,
            publisher,
            low,
        } => sfu.select_layer(&pid(&subscriber), &pid(&publisher), low, now),
    }
}

/// Routes the SFU's signalling output to the participants' WebSocket queues.
fn deliver(seats: &HashMap<ParticipantId, Seat>, event: SfuEvent) {
    match event {
        SfuEvent::Offer { participant, sdp } => {
            if let Some(seat) = seats.get(&participant) {
                send(seat, json!({"type": "media_offer", "sdp": sdp}));
            }
        }
        SfuEvent::Tracks {
            participant,
            tracks,
        } => {
            if let Some(seat) = seats.get(&participant) {
                let tracks: Vec<Value> = tracks
                    .iter()
                    .map(|t| {
                        json!({"mid": t.mid, "participant_id": t.publisher.0, "kind": t.kind, "label": t.label})
                    })
                    .collect();
                send(seat, json!({"type": "media_tracks", "tracks": tracks}));
            }
        }
        SfuEvent::ActiveSpeaker { room, participant } => {
            let frame =
                json!({"type": "active_speaker", "participant_id": participant.map(|p| p.0)});
            for seat in seats.values().filter(|s| s.room.0 == room) {
                send(seat, frame.clone());
            }
        }
        SfuEvent::PeerClosed {
            participant,
            direction,
        } => {
            if let Some(seat) = seats.get(&participant) {
                let direction = match direction {
                    PeerDirection::Up => "up",
                    PeerDirection::Down => "down",
                };
                send(
                    seat,
                    json!({"type": "media_closed", "direction": direction}),
                );
            }
        }
    }
}
