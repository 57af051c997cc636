//! Processing, on any node: a recording whose capture ended (or whose node stopped
//! writing) is claimed by one node (a lease on the database clock, as conversions are),
//! its tracks' segments are read back from the shared storage, turned into IVF and
//! Ogg files, and composed by ffmpeg into one WebM: the audio of everyone mixed, the
//! video laid out as the room showed it (a screen share large with the cameras beside
//! it, else a grid), each track at the moment it began. Then a thumbnail and the
//! duration; the segments are removed once the file is stored.

use super::layout::{self, Input};
use super::segment::{self, Frame, TrackHeader};
use crate::files::SharedStorage;
use crate::files::render::{self, Budget, Stop, WorkDir};
use crate::store::{RecordingClaim, Store};
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long a claim holds without renewal.
const LEASE_MS: i64 = 30_000;
/// A capture silent for this long is taken to have died with its node.
const STALE_MS: i64 = 15_000;
const POLL: Duration = Duration::from_secs(1);
/// ffmpeg's own memory bound (address space).
const MEMORY: u64 = 4 << 30;

#[derive(Clone)]
pub struct Processor {
    pub store: Store,
    pub storage: SharedStorage,
    pub node: i64,
}

pub fn spawn(processor: Processor, tasks: &TaskTracker, shutdown: CancellationToken) {
    tasks.spawn(async move {
        loop {
            let claim = tokio::select! {
                _ = shutdown.cancelled() => return,
                c = processor.store.claim_recording(processor.node, LEASE_MS, STALE_MS) => c,
            };
            match claim {
                Ok(Some(claim)) => processor.process(claim, &shutdown).await,
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "recording processing: cannot claim"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    });
}

/// One track as read back: its header, file and place on the timeline.
struct TrackFile {
    header: TrackHeader,
    path: std::path::PathBuf,
    start_us: u64,
    end_us: u64,
}

impl Processor {
    async fn process(&self, claim: RecordingClaim, shutdown: &CancellationToken) {
        let id = claim.id;
        let started = std::time::Instant::now();
        let work = match WorkDir::new() {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "recording processing: no temporary folder");
                return;
            }
        };
        let job = self.compose(&claim, work.path());
        tokio::pin!(job);
        let mut renew = tokio::time::interval(Duration::from_secs(5));
        let outcome = loop {
            tokio::select! {
                r = &mut job => break Some(r),
                _ = shutdown.cancelled() => break None,
                _ = renew.tick() => {
                    if let Ok(false) = self.store.recording_claim_renew(&claim, LEASE_MS).await {
                        tracing::warn!(recording = id, "recording processing: the claim was lost");
                        return;
                    }
                }
            }
        };
        match outcome {
            // Stopping: the claim lapses and another node takes it.
            None => {}
            Some(Ok((key, thumb, duration_ms, size, segments))) => {
                match self
                    .store
                    .finish_recording(&claim, &key, thumb.as_deref(), duration_ms, size)
                    .await
                {
                    Ok(true) => {
                        tracing::info!(
                            recording = id,
                            duration_ms,
                            size,
                            ms = started.elapsed().as_millis() as u64,
                            "recording processed"
                        );
                        for s in segments {
                            let _ = self.storage.delete(&s).await;
                        }
                    }
                    other => {
                        tracing::warn!(recording = id, outcome = ?other.err(), "recording processing: not recorded as done");
                        let _ = self.storage.delete(&key).await;
                    }
                }
            }
            Some(Err(Stop::Fail(why))) => {
                tracing::warn!(recording = id, reason = %why, "recording processing failed");
                let _ = self.store.fail_recording(&claim, &why).await;
            }
            Some(Err(Stop::Retry(e))) => {
                tracing::warn!(recording = id, error = %format!("{e:#}"), "recording processing: will try again");
            }
        }
    }

    /// Reads the tracks, composes the file, stores it: (media key, thumbnail key,
    /// duration, size, the segments' keys).
    async fn compose(
        &self,
        claim: &RecordingClaim,
        work: &Path,
    ) -> Result<(String, Option<String>, i64, i64, Vec<String>), Stop> {
        let rec = self
            .store
            .recording(claim.id)
            .await
            .map_err(|e| Stop::Retry(e.into()))?
            .ok_or_else(|| Stop::Fail("the recording was deleted".into()))?;
        let (tracks, segments) = self.read_tracks(&rec.storage_prefix, work).await?;
        let wall_ms = rec
            .stopped_at
            .map(|s| (s - rec.started_at).max(0))
            .unwrap_or(0);
        let content_us = tracks.iter().map(|t| t.end_us).max().unwrap_or(0);
        let duration = (content_us as f64 / 1e6).max(wall_ms as f64 / 1e3).max(1.0);
        let inputs: Vec<Input> = tracks
            .iter()
            .map(|t| Input {
                path: t.path.clone(),
                audio: t.header.kind == "audio",
                screen: t.header.label == "screen",
                offset: t.start_us as f64 / 1e6,
            })
            .collect();
        let out = work.join("recording.webm");
        let budget = Budget {
            deadline: tokio::time::Instant::now() + Duration::from_secs_f64(duration * 4.0 + 120.0),
            limit: Duration::from_secs_f64(duration * 4.0 + 120.0),
            memory: MEMORY,
        };
        let mut cmd = render::command("ffmpeg", &budget);
        cmd.args(layout::ffmpeg_args(&inputs, duration, &out));
        render::run(cmd, "ffmpeg", &budget).await?;
        let thumb_path = work.join("thumb.png");
        let mut cmd = render::command("ffmpeg", &budget);
        cmd.args(["-v", "error", "-y", "-ss"])
            .arg(format!("{:.2}", duration / 2.0))
            .arg("-i")
            .arg(&out)
            .args(["-frames:v", "1", "-vf", "scale=320:-2"])
            .arg(&thumb_path);
        let thumb_made = render::run(cmd, "ffmpeg", &budget).await.is_ok();
        let bytes = tokio::fs::read(&out)
            .await
            .map_err(|e| Stop::Retry(e.into()))?;
        let size = bytes.len() as i64;
        let key = format!("{}/recording.webm", rec.storage_prefix);
        self.storage.put(&key, bytes).await.map_err(Stop::Retry)?;
        let thumb = if thumb_made && let Ok(png) = tokio::fs::read(&thumb_path).await {
            let t = format!("{}/thumbnail.png", rec.storage_prefix);
            self.storage.put(&t, png).await.ok().map(|()| t)
        } else {
            None
        };
        Ok((
            key,
            thumb,
            (duration * 1000.0).round() as i64,
            size,
            segments,
        ))
    }

    /// Each track's segments, in order, as one IVF (video) or Ogg (audio) file.
    async fn read_tracks(
        &self,
        prefix: &str,
        work: &Path,
    ) -> Result<(Vec<TrackFile>, Vec<String>), Stop> {
        let store = self.storage.object_store();
        let prefix_path = object_store::path::Path::from(prefix);
        let mut listing = store.list(Some(&prefix_path));
        let mut by_track: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut all = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(|e| Stop::Retry(e.into()))?;
            let key = meta.location.to_string();
            let Some(rest) = key.strip_prefix(prefix).map(|r| r.trim_start_matches('/')) else {
                continue;
            };
            if let Some((track, name)) = rest.split_once('/')
                && name.ends_with(".cvr")
            {
                by_track
                    .entry(track.to_string())
                    .or_default()
                    .push(key.clone());
                all.push(key);
            }
        }
        let mut tracks = Vec::new();
        for (track, mut keys) in by_track {
            keys.sort();
            let mut header = None;
            let mut frames: Vec<Frame> = Vec::new();
            for key in &keys {
                let bytes = self.storage.get(key).await.map_err(Stop::Retry)?;
                match segment::read(&bytes) {
                    Some((h, f)) => {
                        header.get_or_insert(h);
                        frames.extend(f);
                    }
                    None => {
                        tracing::warn!(segment = %key, "recording processing: an unreadable segment is skipped")
                    }
                }
            }
            let (Some(header), Some(first), Some(last)) = (header, frames.first(), frames.last())
            else {
                continue;
            };
            let (start_us, end_us) = (first.t_us, last.t_us + 20_000);
            let audio = header.kind == "audio";
            let path = work.join(format!("{track}.{}", if audio { "ogg" } else { "ivf" }));
            let mut file = Vec::new();
            let written = if audio {
                segment::write_ogg_opus(&mut file, &frames)
            } else {
                segment::write_ivf(&mut file, &frames)
            };
            written.map_err(|e| Stop::Retry(e.into()))?;
            tokio::fs::write(&path, file)
                .await
                .map_err(|e| Stop::Retry(e.into()))?;
            tracks.push(TrackFile {
                header,
                path,
                start_us,
                end_us,
            });
        }
        Ok((tracks, all))
    }
}
