//! One simulated WebRTC peer connection: a str0m `Rtc` (as in
//! `crates/convene/tests/common/rtc.rs`) on its own loopback UDP socket, which
//! carries the kernel's receive time of every datagram (SO_TIMESTAMPNS), so that a
//! busy bench thread does not count in the latency it measures.

use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrIn, recvmsg, setsockopt, sockopt};
use nix::sys::time::TimeSpec;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Instant;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Largest datagram read.
pub const MAX_DATAGRAM: usize = 2048;

/// A received datagram: its length, source and kernel receive time (ns since the
/// Unix epoch, CLOCK_REALTIME).
#[derive(Debug, Clone, Copy)]
pub struct Datagram {
    pub len: usize,
    pub source: SocketAddr,
    pub kernel_ns: Option<u64>,
}

pub struct Peer {
    pub rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    cmsg: Vec<u8>,
    pub connected: bool,
    /// Datagrams str0m wanted sent that the socket refused (buffer full).
    pub send_drops: u64,
    /// Datagrams received and sent.
    pub datagrams: u64,
    pub sent: u64,
}

impl Peer {
    pub async fn new() -> io::Result<Peer> {
        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        setsockopt(&socket, sockopt::ReceiveTimestampns, &true).map_err(io::Error::from)?;
        // Room for bursts when the bench thread falls behind (the kernel caps it at
        // net.core.rmem_max).
        let _ = setsockopt(&socket, sockopt::RcvBuf, &(1 << 20));
        let local = socket.local_addr()?;
        let mut rtc = RtcConfig::new()
            .set_crypto_provider(Arc::new(str0m::crypto::from_feature_flags()))
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .build(Instant::now());
        let candidate = Candidate::host(local, "udp")
            .map_err(|e| io::Error::other(format!("candidate: {e}")))?;
        rtc.add_local_candidate(candidate);
        Ok(Peer {
            rtc,
            socket,
            local,
            cmsg: nix::cmsg_space!(TimeSpec),
            connected: false,
            send_drops: 0,
            datagrams: 0,
            sent: 0,
        })
    }

    /// An offer to publish one audio and one video track: (SDP, pending, audio, video).
    pub fn publish_offer(&mut self) -> anyhow::Result<(String, SdpPendingOffer, Mid, Mid)> {
        let mut change = self.rtc.sdp_api();
        let audio = change.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let video = change.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
        let (offer, pending) = change
            .apply()
            .ok_or_else(|| anyhow::anyhow!("str0m made no offer"))?;
        Ok((offer.to_sdp_string(), pending, audio, video))
    }

    pub fn accept_answer(&mut self, pending: SdpPendingOffer, sdp: &str) -> anyhow::Result<()> {
        let answer = SdpAnswer::from_sdp_string(sdp)?;
        self.rtc.sdp_api().accept_answer(pending, answer)?;
        Ok(())
    }

    pub fn accept_offer(&mut self, sdp: &str) -> anyhow::Result<String> {
        let offer = SdpOffer::from_sdp_string(sdp)?;
        Ok(self.rtc.sdp_api().accept_offer(offer)?.to_sdp_string())
    }

    /// Waits for a datagram.
    pub async fn recv(&mut self, buf: &mut [u8]) -> io::Result<Datagram> {
        let fd = self.socket.as_raw_fd();
        let cmsg = &mut self.cmsg;
        self.socket
            .async_io(Interest::READABLE, || recv_timestamped(fd, buf, cmsg))
            .await
    }

    /// A datagram if one is queued (WouldBlock otherwise).
    pub fn try_recv(&mut self, buf: &mut [u8]) -> io::Result<Datagram> {
        let fd = self.socket.as_raw_fd();
        let cmsg = &mut self.cmsg;
        self.socket
            .try_io(Interest::READABLE, || recv_timestamped(fd, buf, cmsg))
    }

    /// Feeds a received datagram to str0m.
    pub fn input(&mut self, d: &Datagram, buf: &[u8]) {
        self.datagrams += 1;
        if let Ok(r) = Receive::new(Protocol::Udp, d.source, self.local, &buf[..d.len]) {
            let _ = self.rtc.handle_input(Input::Receive(Instant::now(), r));
        }
    }

    pub fn timeout(&mut self, now: Instant) {
        let _ = self.rtc.handle_input(Input::Timeout(now));
    }

    /// Sends what str0m wants sent and hands its events to `on_event`, until str0m
    /// asks to be woken later than now; returns when.
    ///
    /// str0m (without congestion control, its "null pacer") releases one queued
    /// packet per timeout: after each packet it asks to be woken at once. A browser
    /// sends a frame's packets straight away, so the peer gives str0m that timeout
    /// here rather than through the runtime's timer (1 ms resolution), which would
    /// add the bench's own delay to the latency it measures.
    pub fn poll(&mut self, mut on_event: impl FnMut(Event)) -> anyhow::Result<Instant> {
        let mut immediate = 0;
        loop {
            match self.rtc.poll_output()? {
                Output::Timeout(t) => {
                    let now = Instant::now();
                    if t > now || immediate >= 64 {
                        return Ok(t);
                    }
                    immediate += 1;
                    self.rtc.handle_input(Input::Timeout(now))?;
                }
                Output::Transmit(t) => match self.socket.try_send_to(&t.contents, t.destination) {
                    Ok(_) => self.sent += 1,
                    Err(_) => self.send_drops += 1,
                },
                Output::Event(Event::Connected) => self.connected = true,
                Output::Event(e) => on_event(e),
            }
        }
    }
}

fn recv_timestamped(fd: i32, buf: &mut [u8], cmsg: &mut [u8]) -> io::Result<Datagram> {
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<SockaddrIn>(fd, &mut iov, Some(cmsg), MsgFlags::MSG_DONTWAIT)
        .map_err(io::Error::from)?;
    let mut kernel_ns = None;
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            if let ControlMessageOwned::ScmTimestampns(t) = c {
                kernel_ns = Some(t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64);
            }
        }
    }
    let source = msg
        .address
        .map(|a| SocketAddr::V4(a.into()))
        .ok_or_else(|| io::Error::other("datagram without a source address"))?;
    Ok(Datagram {
        len: msg.bytes,
        source,
        kernel_ns,
    })
}

/// Now, in ns since the Unix epoch (the clock of the kernel timestamps).
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// The bench's mark inside a media frame: after a codec-like prefix of 16 bytes,
/// `CVB` + kind (`a`/`v`), publisher (u32 LE), sequence (u64 LE), send time (u64 LE,
/// ns since the Unix epoch).
const STAMP_AT: usize = 16;
const STAMP_LEN: usize = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub video: bool,
    pub publisher: u32,
    pub seq: u64,
    pub sent_ns: u64,
}

/// A frame of `size` bytes (at least 40) carrying `stamp`. Video starts like a VP8
/// keyframe (640×480), audio like an Opus packet.
pub fn frame(stamp: Stamp, size: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(size.max(STAMP_AT + STAMP_LEN));
    if stamp.video {
        v.extend_from_slice(&[0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01]);
    } else {
        v.extend_from_slice(&[0xfc, 0xff, 0xfe]);
    }
    v.resize(STAMP_AT, 0);
    v.extend_from_slice(b"CVB");
    v.push(if stamp.video { b'v' } else { b'a' });
    v.extend_from_slice(&stamp.publisher.to_le_bytes());
    v.extend_from_slice(&stamp.seq.to_le_bytes());
    v.extend_from_slice(&stamp.sent_ns.to_le_bytes());
    v.resize(size.max(STAMP_AT + STAMP_LEN), 0x42);
    v
}

/// The stamp of a frame made by [`frame`].
pub fn read_stamp(data: &[u8]) -> Option<Stamp> {
    let s = data.get(STAMP_AT..STAMP_AT + STAMP_LEN)?;
    if &s[..3] != b"CVB" {
        return None;
    }
    let video = match s[3] {
        b'v' => true,
        b'a' => false,
        _ => return None,
    };
    Some(Stamp {
        video,
        publisher: u32::from_le_bytes(s[4..8].try_into().ok()?),
        seq: u64::from_le_bytes(s[8..16].try_into().ok()?),
        sent_ns: u64::from_le_bytes(s[16..24].try_into().ok()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip() {
        for (video, size) in [(true, 1000), (false, 100), (false, 10)] {
            let stamp = Stamp {
                video,
                publisher: 7,
                seq: 123_456,
                sent_ns: now_ns(),
            };
            let f = frame(stamp, size);
            assert_eq!(f.len(), size.max(40));
            assert_eq!(read_stamp(&f), Some(stamp));
        }
        assert_eq!(read_stamp(&[0u8; 100]), None);
        assert_eq!(read_stamp(&[0u8; 20]), None);
    }

    #[tokio::test]
    async fn kernel_timestamps_arrive() {
        let mut peer = Peer::new().await.unwrap();
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let before = now_ns();
        sender.send_to(b"hello", peer.local).unwrap();
        let mut buf = [0u8; MAX_DATAGRAM];
        let d = peer.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..d.len], b"hello");
        assert_eq!(d.source, sender.local_addr().unwrap());
        let ts = d.kernel_ns.expect("a kernel timestamp");
        assert!(ts >= before - 1_000_000 && ts <= now_ns() + 1_000_000);
        assert!(peer.try_recv(&mut buf).is_err());
    }
}
