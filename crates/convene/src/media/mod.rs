//! The node's media service: one UDP socket for all peers, and the SFU core
//! (`convene-media`) that forwards the media of the rooms this node hosts. One task
//! owns both; room actors and connections talk to it through its mailbox, and its
//! signalling output goes straight to each participant's frame queue. A supervisor
//! (`crate::health`) starts the task again if it dies: with the socket bound anew on
//! the same port, a fresh SFU, and the participants it knew told to reconnect.

use crate::health::Component;
use crate::ids::{ConnectionId, RoomId};
use crate::protocol::{ErrorCode, MediaDirection, ServerMsg, TrackView};
use convene_media::{ParticipantId, PeerDirection, RecordedFrame, Sfu, SfuConfig, SfuEvent};
use serde_json::Value;
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
    /// Copy the room's frames to `sink` (a recorder), or stop with None.
    Record {
        room: RoomId,
        sink: Option<mpsc::Sender<RecordedFrame>>,
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
    health: Component,
}

impl MediaHandle {
    /// Whether the media task works; restarted by its supervisor when it dies.
    pub fn health(&self) -> Component {
        self.health.clone()
    }

    /// Hands `cmd` over without waiting; gives it back if the mailbox is full. A
    /// command for a media task that is gone for good is dropped.
    pub fn offer(&self, cmd: MediaCmd) -> Result<(), MediaCmd> {
        match self.tx.try_send(cmd) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(cmd)) => Err(cmd),
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::debug!("media task gone");
                Ok(())
            }
        }
    }
}

/// Shared counters, read by /metrics.
#[derive(Default)]
pub struct MediaCounters {
    pub forwarded_frames: std::sync::atomic::AtomicU64,
    pub malformed: std::sync::atomic::AtomicU64,
    pub peer_failures: std::sync::atomic::AtomicU64,
    /// Recorded frames a recorder could not take in time (dropped).
    pub recorded_dropped: std::sync::atomic::AtomicU64,
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
    // Outlives each run of the task, so that a restart keeps the mailbox and seats.
    let service = Arc::new(tokio::sync::Mutex::new(Service {
        socket: Some(socket),
        rx,
        seats: HashMap::new(),
        runs: 0,
    }));
    let health = Component::new("media");
    let stopping = shutdown.clone();
    crate::health::supervise(health.clone(), tasks, shutdown, move |_| {
        serve(
            service.clone(),
            local_addr,
            candidates.clone(),
            counters.clone(),
            stopping.clone(),
        )
    });
    Ok(MediaHandle {
        tx,
        local_addr,
        ice_servers,
        health,
    })
}

/// What the media service keeps across runs of its task.
struct Service {
    /// None after a failed re-bind.
    socket: Option<UdpSocket>,
    rx: mpsc::Receiver<MediaCmd>,
    seats: HashMap<ParticipantId, Seat>,
    runs: u64,
}

struct Seat {
    room: RoomId,
    frames: mpsc::Sender<Arc<str>>,
    /// Kept to seat the participant again in the SFU of a restarted task.
    can_publish: bool,
}

/// One run of the media task. After the first, the socket is bound anew (it may be
/// what failed) on the same port, which every candidate names, and the participants
/// are seated in a fresh SFU and told their peer connections are gone, so their
/// clients offer again.
async fn serve(
    service: Arc<tokio::sync::Mutex<Service>>,
    local: SocketAddr,
    candidates: Vec<SocketAddr>,
    counters: Arc<MediaCounters>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    // Free: the previous run has ended (a task's guard goes when it dies).
    let mut guard = service.lock().await;
    let service = &mut *guard;
    let restarted = service.runs > 0;
    service.runs += 1;
    let mut sfu = Sfu::new(SfuConfig::new(candidates.clone()));
    if restarted {
        service.socket = None;
        let socket = UdpSocket::bind(local)
            .await
            .map_err(|e| anyhow::anyhow!("cannot bind UDP {local} again: {e}"))?;
        service.socket = Some(socket);
        let now = Instant::now();
        for (participant, seat) in &service.seats {
            sfu.join(seat.room.0, participant.clone(), seat.can_publish, now);
            for direction in [MediaDirection::Up, MediaDirection::Down] {
                send(seat, ServerMsg::MediaClosed { direction });
            }
        }
        tracing::info!(udp = %local, participants = service.seats.len(), "media service restarted");
    }
    let Some(socket) = service.socket.as_ref() else {
        anyhow::bail!("the media socket is not bound");
    };
    run(
        socket,
        Destinations { local, candidates },
        sfu,
        &mut service.rx,
        &mut service.seats,
        &counters,
        &shutdown,
    )
    .await;
    Ok(())
}

/// The address a datagram was sent to, as the SFU's ICE agent must be told it: it
/// accepts STUN only on one of its candidates. A socket bound to one address received
/// everything there; one bound to every address (`0.0.0.0`, the default `listen`) does
/// not say, so the candidate the sender must have used is taken: loopback for a loopback
/// sender, else the first of its address family that is not loopback.
struct Destinations {
    local: SocketAddr,
    candidates: Vec<SocketAddr>,
}

impl Destinations {
    fn of(&self, source: SocketAddr) -> SocketAddr {
        if !self.local.ip().is_unspecified() {
            return self.local;
        }
        let loopback = source.ip().is_loopback();
        let same_family = |c: &&SocketAddr| c.is_ipv4() == source.is_ipv4();
        self.candidates
            .iter()
            .filter(same_family)
            .find(|c| c.ip().is_loopback() == loopback)
            .or_else(|| self.candidates.iter().find(same_family))
            .copied()
            .unwrap_or(self.local)
    }
}

async fn run(
    socket: &UdpSocket,
    destinations: Destinations,
    mut sfu: Sfu,
    rx: &mut mpsc::Receiver<MediaCmd>,
    seats: &mut HashMap<ParticipantId, Seat>,
    counters: &MediaCounters,
    shutdown: &CancellationToken,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut recorders: HashMap<convene_media::RoomKey, mpsc::Sender<RecordedFrame>> =
        HashMap::new();
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
                Ok((n, source)) => {
                    let destination = destinations.of(source);
                    sfu.handle_receive(Instant::now(), source, destination, &buf[..n])
                }
                Err(e) => tracing::debug!(error = %e, "media socket read failed"),
            },
            cmd = rx.recv() => match cmd {
                Some(MediaCmd::Record { room, sink }) => {
                    sfu.set_recording(room.0, sink.is_some(), Instant::now());
                    match sink {
                        Some(sink) => recorders.insert(room.0, sink),
                        None => recorders.remove(&room.0),
                    };
                }
                Some(cmd) => command(&mut sfu, seats, cmd),
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
            deliver(seats, event);
        }
        // A recorder is never waited for: what it cannot take now is dropped and counted.
        while let Some(frame) = sfu.poll_recorded() {
            if let Some(sink) = recorders.get(&frame.room)
                && sink.try_send(frame).is_err()
            {
                counters
                    .recorded_dropped
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
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

fn send(seat: &Seat, frame: ServerMsg<'_>) {
    // A full queue means a slow client; the room closes those. Media frames are not
    // worth blocking the media task for.
    let _ = seat.frames.try_send(frame.to_frame());
}

fn direction(d: PeerDirection) -> MediaDirection {
    match d {
        PeerDirection::Up => MediaDirection::Up,
        PeerDirection::Down => MediaDirection::Down,
    }
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
            seats.insert(
                pid(&participant),
                Seat {
                    room,
                    frames,
                    can_publish,
                },
            );
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
                        send(seat, ServerMsg::MediaAnswer { sdp: &answer });
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
                    ServerMsg::Error {
                        code: ErrorCode::BadRequest,
                        message: &e.to_string(),
                    },
                );
            }
        }
        MediaCmd::SetPublish {
            participant,
            allowed,
        } => {
            if let Some(seat) = seats.get_mut(&pid(&participant)) {
                seat.can_publish = allowed;
            }
            sfu.set_can_publish(&pid(&participant), allowed, now)
        }
        MediaCmd::BlockAudio {
            participant,
            blocked,
        } => sfu.set_audio_blocked(&pid(&participant), blocked),
        MediaCmd::Layer {
            subscriber,
            publisher,
            low,
        } => sfu.select_layer(&pid(&subscriber), &pid(&publisher), low, now),
        MediaCmd::Record { .. } => {}
    }
}

/// Routes the SFU's signalling output to the participants' WebSocket queues.
fn deliver(seats: &HashMap<ParticipantId, Seat>, event: SfuEvent) {
    match event {
        SfuEvent::Offer { participant, sdp } => {
            if let Some(seat) = seats.get(&participant) {
                send(seat, ServerMsg::MediaOffer { sdp: &sdp });
            }
        }
        SfuEvent::Tracks {
            participant,
            tracks,
        } => {
            if let Some(seat) = seats.get(&participant) {
                let tracks = tracks
                    .iter()
                    .map(|t| TrackView {
                        mid: &t.mid,
                        participant_id: &t.publisher.0,
                        kind: t.kind,
                        label: &t.label,
                    })
                    .collect();
                send(seat, ServerMsg::MediaTracks { tracks });
            }
        }
        SfuEvent::ActiveSpeaker { room, participant } => {
            let frame = ServerMsg::ActiveSpeaker {
                participant_id: participant.as_ref().map(|p| p.0.as_str()),
            }
            .to_frame();
            for seat in seats.values().filter(|s| s.room.0 == room) {
                let _ = seat.frames.try_send(frame.clone());
            }
        }
        SfuEvent::PeerClosed {
            participant,
            direction,
        } => {
            if let Some(seat) = seats.get(&participant) {
                let direction = self::direction(direction);
                send(seat, ServerMsg::MediaClosed { direction });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Destinations;

    #[test]
    fn a_socket_on_every_address_names_the_candidate_the_sender_used() {
        let addr = |s: &str| s.parse::<std::net::SocketAddr>().unwrap();
        let bound = Destinations {
            local: addr("127.0.0.1:5080"),
            candidates: vec![addr("127.0.0.1:5080")],
        };
        assert_eq!(bound.of(addr("127.0.0.1:4000")), addr("127.0.0.1:5080"));
        let everywhere = Destinations {
            local: addr("0.0.0.0:5080"),
            candidates: vec![addr("192.168.1.20:5080"), addr("127.0.0.1:5080")],
        };
        assert_eq!(
            everywhere.of(addr("127.0.0.1:4000")),
            addr("127.0.0.1:5080")
        );
        assert_eq!(
            everywhere.of(addr("192.168.1.7:4000")),
            addr("192.168.1.20:5080")
        );
        // Loopback only advertised (media_public_ip = 127.0.0.1): that one.
        let loopback = Destinations {
            local: addr("0.0.0.0:5080"),
            candidates: vec![addr("127.0.0.1:5080")],
        };
        assert_eq!(loopback.of(addr("10.0.0.9:4000")), addr("127.0.0.1:5080"));
        assert_eq!(loopback.of(addr("[::1]:4000")), addr("0.0.0.0:5080"));
    }
}
