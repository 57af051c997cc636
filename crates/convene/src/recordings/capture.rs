//! The capture on the room's node: the frames the SFU copies out of a recorded room
//! (`MediaCmd::Record`) become segments of each track on the shared storage, written
//! every `SEGMENT`, with a heartbeat in the database. It never slows the media task
//! (a full queue drops frames there) and never blocks the room. It ends when the room
//! drops its handle (stop, the room ended), when the database says the recording was
//! stopped or deleted, or when the storage keeps refusing segments; then it writes
//! what it holds and leaves the recording to processing.

use super::segment::{SegmentWriter, TrackHeader};
use crate::files::SharedStorage;
use crate::store::{RecordingRow, Store};
use convene_media::RecordedFrame;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How often segments are written (at most this much is lost when the node dies).
pub const SEGMENT: Duration = Duration::from_secs(2);
/// Frames queued between the media task and the capture.
const QUEUE: usize = 4096;
/// Segment writes refused in a row before the capture gives up.
const MAX_FAILURES: u32 = 3;
/// A recorded layer silent this long gives way to another layer's next keyframe.
const LAYER_STALL: Duration = Duration::from_millis(800);
/// A track's media clock and arrival drifting apart by more than this is re-anchored.
const MAX_DRIFT_US: u64 = 2_000_000;

/// The room's hold on a running capture: dropping it stops the capture.
pub struct CaptureHandle {
    pub id: i64,
    stop: CancellationToken,
}

impl Drop for CaptureHandle {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// What a capture needs.
pub struct Capture {
    pub store: Store,
    pub storage: SharedStorage,
    pub node: i64,
    pub recording: RecordingRow,
    /// Called when the capture has ended by itself or been stopped, with its id.
    pub ended: Box<dyn FnOnce(i64, Option<String>) + Send + Sync>,
}

struct Track {
    n: usize,
    header: TrackHeader,
    seq: u32,
    segment: SegmentWriter,
    /// The layer recorded (None inside for a track without simulcast) and when it
    /// last sent a frame.
    layer: Option<(Option<String>, Instant)>,
    /// (µs since the start, media µs) of the frame the track's clock is anchored to.
    anchor: Option<(u64, u64)>,
    last_t: u64,
}

impl Capture {
    /// Starts the capture; the sender is what the media task feeds.
    pub fn spawn(self, tasks: &TaskTracker) -> (CaptureHandle, mpsc::Sender<RecordedFrame>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let stop = CancellationToken::new();
        let handle = CaptureHandle {
            id: self.recording.id,
            stop: stop.clone(),
        };
        tasks.spawn(self.run(rx, stop));
        (handle, tx)
    }

    async fn run(self, mut rx: mpsc::Receiver<RecordedFrame>, stop: CancellationToken) {
        let id = self.recording.id;
        tracing::info!(recording = id, "recording: capture started");
        let started = Instant::now();
        let mut tracks: HashMap<(String, String), Track> = HashMap::new();
        let mut tick = tokio::time::interval(SEGMENT);
        tick.tick().await;
        let mut failures = 0;
        let mut why = None;
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                frame = rx.recv() => match frame {
                    Some(f) => add(&mut tracks, started, f),
                    None => break,
                },
                _ = tick.tick() => {
                    if self.flush(&mut tracks).await {
                        failures = 0;
                    } else {
                        failures += 1;
                        if failures >= MAX_FAILURES {
                            tracing::error!(recording = id, "recording: the storage refuses segments; stopping the recording (what was written is kept)");
                            why = Some("the recording stopped: the shared storage refuses its files (is it full?); what was recorded until now is kept".to_string());
                            break;
                        }
                    }
                    match self.store.recording_heartbeat(id, self.node).await {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(e) => tracing::warn!(recording = id, error = %e, "recording: no heartbeat"),
                    }
                }
            }
        }
        while let Ok(f) = rx.try_recv() {
            add(&mut tracks, started, f);
        }
        self.flush(&mut tracks).await;
        if let Err(e) = self.store.capture_finished(id).await {
            // Processing finds it by its heartbeat soon.
            tracing::warn!(recording = id, error = %e, "recording: cannot mark the capture finished");
        }
        tracing::info!(
            recording = id,
            tracks = tracks.len(),
            secs = started.elapsed().as_secs(),
            "recording: capture ended"
        );
        (self.ended)(id, why);
    }

    /// Writes every track's segment; false when the storage refused one.
    async fn flush(&self, tracks: &mut HashMap<(String, String), Track>) -> bool {
        let mut ok = true;
        for t in tracks.values_mut() {
            if t.segment.is_empty() {
                continue;
            }
            let full = std::mem::replace(&mut t.segment, SegmentWriter::new(&t.header));
            let key = format!(
                "{}/t{:02}/{:06}.cvr",
                self.recording.storage_prefix, t.n, t.seq
            );
            t.seq += 1;
            if let Err(e) = self.storage.put(&key, full.finish()).await {
                tracing::warn!(recording = self.recording.id, error = %format!("{e:#}"), "recording: a segment could not be written");
                ok = false;
            }
        }
        ok
    }
}

/// A simulcast layer's rank: `f` (full) before `h` before `q`, others after.
fn rank(layer: Option<&str>) -> u8 {
    match layer {
        None | Some("f") => 0,
        Some("h") => 1,
        Some("q") => 2,
        Some(_) => 3,
    }
}

/// Whether a video frame goes into the track: frames of the layer it records; a
/// better layer's keyframe switches up; when the recorded layer stops (the publisher
/// dropped it under load), the next keyframe of another switches to it.
fn take_layer(track: &mut Track, f: &RecordedFrame) -> bool {
    let now = f.arrived;
    let current = track.layer.as_ref().map(|(l, _)| l.clone());
    if track.layer.is_some() && current == Some(f.layer.clone()) {
        track.layer = Some((f.layer.clone(), now));
        return true;
    }
    if !f.keyframe {
        return false;
    }
    let switch = match &track.layer {
        None => true,
        Some((layer, seen)) => {
            rank(f.layer.as_deref()) < rank(layer.as_deref())
                || now.saturating_duration_since(*seen) > LAYER_STALL
        }
    };
    if switch {
        // Another picture size, decodable from this keyframe on; its clock anew.
        track.layer = Some((f.layer.clone(), now));
        track.anchor = None;
    }
    switch
}

/// Adds a frame to its track, on the recording's timeline: anchored at its arrival,
/// then following the track's own media clock (smooth), re-anchored after a jump.
fn add(tracks: &mut HashMap<(String, String), Track>, started: Instant, f: RecordedFrame) {
    let key = (f.publisher.0.clone(), f.track.clone());
    let next = tracks.len();
    let track = tracks.entry(key).or_insert_with(|| {
        let header = TrackHeader {
            kind: if f.audio { "audio" } else { "video" }.into(),
            label: f.label.clone(),
            publisher: f.publisher.0.clone(),
        };
        Track {
            n: next,
            segment: SegmentWriter::new(&header),
            header,
            seq: 0,
            layer: None,
            anchor: None,
            last_t: 0,
        }
    });
    if !f.audio && !take_layer(track, &f) {
        return;
    }
    let arrived = f.arrived.saturating_duration_since(started).as_micros() as u64;
    let t = match track.anchor {
        Some((at, media)) if f.media_us >= media => {
            let t = at + (f.media_us - media);
            if t.abs_diff(arrived) > MAX_DRIFT_US {
                track.anchor = Some((arrived, f.media_us));
                arrived
            } else {
                t
            }
        }
        _ => {
            track.anchor = Some((arrived, f.media_us));
            arrived
        }
    };
    let t = t.max(track.last_t);
    track.last_t = t;
    track.segment.push(t, f.keyframe, &f.data);
}

#[cfg(test)]
mod tests {
    use super::*;
    use convene_media::ParticipantId;

    fn frame(layer: &str, keyframe: bool, at: Instant) -> RecordedFrame {
        RecordedFrame {
            room: 1,
            publisher: ParticipantId("p".into()),
            track: "0".into(),
            label: "camera".into(),
            audio: false,
            layer: Some(layer.into()),
            media_us: 0,
            arrived: at,
            keyframe,
            data: std::sync::Arc::from(&b"x"[..]),
        }
    }

    #[test]
    fn the_best_layer_with_a_picture_is_recorded_switching_on_keyframes() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut tracks = HashMap::new();
        let mut taken = |f: RecordedFrame| {
            let before = tracks
                .values()
                .map(|t: &Track| t.segment.frames())
                .sum::<usize>();
            add(&mut tracks, t0, f);
            tracks.values().map(|t| t.segment.frames()).sum::<usize>() > before
        };
        assert!(
            !taken(frame("q", false, ms(0))),
            "nothing before a keyframe"
        );
        assert!(taken(frame("q", true, ms(10))));
        assert!(
            !taken(frame("h", false, ms(20))),
            "a better layer waits for its keyframe"
        );
        assert!(taken(frame("h", true, ms(30))), "and switches on it");
        assert!(
            !taken(frame("q", true, ms(40))),
            "a worse one is not taken while h sends"
        );
        assert!(taken(frame("h", false, ms(50))));
        // h stops (the publisher dropped it): q's next keyframe takes over.
        assert!(!taken(frame("q", false, ms(2000))));
        assert!(taken(frame("q", true, ms(2100))));
        assert!(taken(frame("q", false, ms(2150))));
    }
}
