//! What a capture writes: each track as a series of segments, each a small file of the
//! frames as they arrived (never decoded), written whole to the shared storage every
//! couple of seconds — so a node that dies loses at most the last segment, and
//! segments concatenate. Processing turns a track's frames into a file ffmpeg reads:
//! IVF for VP8 video, Ogg for Opus audio.
//!
//! A segment: `CVR1`, the header's length (u32, little-endian) and the header as JSON
//! ([`TrackHeader`]), then frames: time in µs since the recording started (u64), length
//! (u32), flags (u8, bit 0: keyframe), the bytes.

use serde::{Deserialize, Serialize};
use std::io::Write;

const MAGIC: &[u8; 4] = b"CVR1";
/// Largest frame taken from a segment (a VP8 frame is far smaller).
const MAX_FRAME: usize = 4 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackHeader {
    /// `audio` or `video`.
    pub kind: String,
    /// `microphone`, `camera`, `screen`…
    pub label: String,
    /// Who published it (their connection).
    pub publisher: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub t_us: u64,
    pub keyframe: bool,
    pub data: Vec<u8>,
}

/// A segment being filled.
pub struct SegmentWriter {
    buf: Vec<u8>,
    frames: usize,
}

impl SegmentWriter {
    pub fn new(header: &TrackHeader) -> SegmentWriter {
        let json = serde_json::to_vec(header).expect("a header serialises");
        let mut buf = Vec::with_capacity(64 * 1024);
        buf.extend_from_slice(MAGIC);
        buf.extend_from_slice(&(json.len() as u32).to_le_bytes());
        buf.extend_from_slice(&json);
        SegmentWriter { buf, frames: 0 }
    }

    pub fn push(&mut self, t_us: u64, keyframe: bool, data: &[u8]) {
        self.buf.extend_from_slice(&t_us.to_le_bytes());
        self.buf
            .extend_from_slice(&(data.len() as u32).to_le_bytes());
        self.buf.push(u8::from(keyframe));
        self.buf.extend_from_slice(data);
        self.frames += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.frames == 0
    }

    pub fn frames(&self) -> usize {
        self.frames
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// A segment's header and frames; what follows a damaged or cut frame is dropped.
pub fn read(bytes: &[u8]) -> Option<(TrackHeader, Vec<Frame>)> {
    let rest = bytes.strip_prefix(MAGIC)?;
    let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    let header: TrackHeader = serde_json::from_slice(rest.get(4..4 + len)?).ok()?;
    let mut at = &rest[4 + len..];
    let mut frames = Vec::new();
    while at.len() >= 13 {
        let t_us = u64::from_le_bytes(at[..8].try_into().ok()?);
        let n = u32::from_le_bytes(at[8..12].try_into().ok()?) as usize;
        let keyframe = at[12] & 1 == 1;
        if n > MAX_FRAME || at.len() < 13 + n {
            break;
        }
        frames.push(Frame {
            t_us,
            keyframe,
            data: at[13..13 + n].to_vec(),
        });
        at = &at[13 + n..];
    }
    Some((header, frames))
}

/// Width and height from a VP8 keyframe's header.
pub fn vp8_size(frame: &[u8]) -> Option<(u16, u16)> {
    if frame.len() < 10 || frame[0] & 1 != 0 || frame[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let w = u16::from_le_bytes([frame[6], frame[7]]) & 0x3fff;
    let h = u16::from_le_bytes([frame[8], frame[9]]) & 0x3fff;
    Some((w, h))
}

/// VP8 frames as an IVF file, times in milliseconds from the track's first frame.
pub fn write_ivf(out: &mut impl Write, frames: &[Frame]) -> std::io::Result<()> {
    let (w, h) = frames
        .iter()
        .find_map(|f| vp8_size(&f.data))
        .unwrap_or((640, 480));
    let first = frames.first().map_or(0, |f| f.t_us);
    let mut header = Vec::with_capacity(32);
    header.extend_from_slice(b"DKIF");
    header.extend_from_slice(&0u16.to_le_bytes());
    header.extend_from_slice(&32u16.to_le_bytes());
    header.extend_from_slice(b"VP80");
    header.extend_from_slice(&w.to_le_bytes());
    header.extend_from_slice(&h.to_le_bytes());
    header.extend_from_slice(&1000u32.to_le_bytes());
    header.extend_from_slice(&1u32.to_le_bytes());
    header.extend_from_slice(&(frames.len() as u32).to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes());
    out.write_all(&header)?;
    let mut last = None;
    for f in frames {
        let mut pts = (f.t_us - first) / 1000;
        // Strictly increasing, as a demuxer wants.
        if let Some(prev) = last
            && pts <= prev
        {
            pts = prev + 1;
        }
        last = Some(pts);
        out.write_all(&(f.data.len() as u32).to_le_bytes())?;
        out.write_all(&pts.to_le_bytes())?;
        out.write_all(&f.data)?;
    }
    Ok(())
}

/// Opus packets as an Ogg Opus file (RFC 7845), granules from the times (48 kHz) from
/// the track's first packet: a pause leaves a gap that the mixer fills with silence.
pub fn write_ogg_opus(out: &mut impl Write, frames: &[Frame]) -> std::io::Result<()> {
    use ogg::writing::{PacketWriteEndInfo, PacketWriter};
    const SERIAL: u32 = 0x436f_6e76;
    let mut writer = PacketWriter::new(out);
    let mut head = b"OpusHead".to_vec();
    head.push(1);
    head.push(2);
    head.extend_from_slice(&0u16.to_le_bytes());
    head.extend_from_slice(&48_000u32.to_le_bytes());
    head.extend_from_slice(&0i16.to_le_bytes());
    head.push(0);
    writer.write_packet(head, SERIAL, PacketWriteEndInfo::EndPage, 0)?;
    let mut tags = b"OpusTags".to_vec();
    let vendor = b"Convene";
    tags.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    tags.extend_from_slice(vendor);
    tags.extend_from_slice(&0u32.to_le_bytes());
    writer.write_packet(tags, SERIAL, PacketWriteEndInfo::EndPage, 0)?;
    let first = frames.first().map_or(0, |f| f.t_us);
    let mut granule = 0u64;
    for (i, f) in frames.iter().enumerate() {
        // The end of this packet: its start plus 20 ms (what browsers send).
        let start = (f.t_us - first) * 48 / 1000;
        granule = (start + 960).max(granule + 1);
        let end = if i + 1 == frames.len() {
            PacketWriteEndInfo::EndStream
        } else if i % 50 == 49 {
            PacketWriteEndInfo::EndPage
        } else {
            PacketWriteEndInfo::NormalPacket
        };
        writer.write_packet(f.data.clone(), SERIAL, end, granule)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> TrackHeader {
        TrackHeader {
            kind: "video".into(),
            label: "camera".into(),
            publisher: "c1".into(),
        }
    }

    #[test]
    fn a_segment_reads_back_and_a_cut_one_keeps_its_whole_frames() {
        let mut w = SegmentWriter::new(&header());
        w.push(10, true, b"key");
        w.push(40_000, false, b"delta");
        let bytes = w.finish();
        let (h, frames) = read(&bytes).unwrap();
        assert_eq!(h, header());
        assert_eq!(frames.len(), 2);
        assert_eq!((frames[1].t_us, frames[1].keyframe), (40_000, false));
        assert_eq!(frames[1].data, b"delta");
        let (_, cut) = read(&bytes[..bytes.len() - 2]).unwrap();
        assert_eq!(cut.len(), 1, "the cut frame is dropped");
        assert!(read(b"nonsense").is_none());
    }

    #[test]
    fn ivf_frames_have_increasing_times_from_zero() {
        let key = [
            0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, 0xff,
        ];
        let frames = vec![
            Frame {
                t_us: 5_000_000,
                keyframe: true,
                data: key.to_vec(),
            },
            Frame {
                t_us: 5_000_000,
                keyframe: false,
                data: vec![1, 2],
            },
            Frame {
                t_us: 5_066_000,
                keyframe: false,
                data: vec![3],
            },
        ];
        let mut out = Vec::new();
        write_ivf(&mut out, &frames).unwrap();
        assert_eq!(&out[..4], b"DKIF");
        assert_eq!(u16::from_le_bytes([out[12], out[13]]), 640);
        assert_eq!(u16::from_le_bytes([out[14], out[15]]), 480);
        let pts = |at: usize| u64::from_le_bytes(out[at + 4..at + 12].try_into().unwrap());
        let second = 32 + 12 + key.len();
        assert_eq!((pts(32), pts(second), pts(second + 12 + 2)), (0, 1, 66));
    }
}
