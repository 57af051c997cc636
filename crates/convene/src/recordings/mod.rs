//! Recordings (issue 11): the room's node records, any node processes and plays back.
//!
//! - `capture`: on the room's node, the frames the SFU already receives (copied out
//!   without decoding) become segments of each track on the shared storage.
//! - `segment`: the segments' format, and the IVF/Ogg files processing makes of them.
//! - `process`: a job any node claims; ffmpeg composes one WebM (`layout`).
//!
//! The API is `api/recordings.rs`; the live room's side is `rooms/live/recording.rs`.

pub mod capture;
pub mod layout;
pub mod process;
pub mod segment;

use crate::store::RecordingRow;
use serde::Serialize;

/// What a room's participants are told of its running recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordingView {
    pub id: i64,
    pub started_at: String,
    pub started_by: Option<String>,
}

impl From<&RecordingRow> for RecordingView {
    fn from(r: &RecordingRow) -> RecordingView {
        RecordingView {
            id: r.id,
            started_at: crate::time::rfc3339(r.started_at),
            started_by: r.started_by_name.clone(),
        }
    }
}

/// Where a new recording's files go (a key of ours, never a user's).
pub fn new_prefix() -> String {
    format!("recordings/{}", crate::secret::random_hex(16))
}

/// Removes every file of a recording from the shared storage (after its row is marked
/// deleted); what cannot be removed now stays, logged.
pub async fn remove_files(storage: &crate::files::SharedStorage, prefix: &str) {
    use futures_util::StreamExt;
    let store = storage.object_store();
    let mut listing = store.list(Some(&object_store::path::Path::from(prefix)));
    let mut keys = Vec::new();
    while let Some(Ok(meta)) = listing.next().await {
        keys.push(meta.location.to_string());
    }
    for key in keys {
        if let Err(e) = storage.delete(&key).await {
            tracing::warn!(error = %e, "cannot remove a deleted recording's file");
        }
    }
}
