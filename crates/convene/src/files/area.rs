//! The file areas' bytes: streaming an upload onto the shared storage under a key of
//! our making, reading a range back, and purging what was deleted.
//!
//! An upload is never held in memory whole: it goes out in parts of
//! `SharedStorage::part_size` with at most two parts in flight, so one upload holds
//! about three parts (3 MiB on a local path, 15 MiB on S3) whatever its size.

use super::SharedStorage;
use crate::store::Store;
use axum::body::Bytes;
use futures_util::{Stream, StreamExt};
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore};
use sha2::{Digest, Sha256};
use std::ops::Range;
use tokio::io::AsyncWriteExt;

/// How many first bytes are kept to tell what a file is.
pub const HEAD_BYTES: usize = 8192;

/// Parts of one upload in flight at once.
const PARTS_IN_FLIGHT: usize = 2;

/// A stored upload.
#[derive(Debug)]
pub struct Stored {
    pub key: String,
    pub size: u64,
    pub sha256: String,
    /// The first [`HEAD_BYTES`] bytes.
    pub head: Vec<u8>,
}

#[derive(Debug)]
pub enum StoreError {
    /// More than the cap arrived (nothing is kept).
    OverCap,
    /// The request body failed (the client went away, a malformed part).
    Body(String),
    /// The storage failed.
    Storage(anyhow::Error),
}

/// A fresh storage key: random, never derived from anything a user sent.
pub fn new_key() -> String {
    format!("files/{}", crate::secret::random_hex(16))
}

/// Streams `body` onto the storage under a new key, refusing (and removing what was
/// written) once more than `cap` bytes arrived.
pub async fn store_stream<S, E>(
    storage: &SharedStorage,
    mut body: S,
    cap: u64,
) -> Result<Stored, StoreError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let key = new_key();
    let store: std::sync::Arc<dyn ObjectStore> = storage.object_store();
    let mut writer =
        BufWriter::with_capacity(store, ObjectPath::from(key.as_str()), storage.part_size())
            .with_max_concurrency(PARTS_IN_FLIGHT);
    let mut size: u64 = 0;
    let mut head = Vec::with_capacity(HEAD_BYTES);
    let mut hash = Sha256::new();
    let failure = loop {
        let chunk = match body.next().await {
            None => break None,
            Some(Ok(chunk)) => chunk,
            Some(Err(e)) => break Some(StoreError::Body(e.to_string())),
        };
        size += chunk.len() as u64;
        if size > cap {
            break Some(StoreError::OverCap);
        }
        if head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        hash.update(&chunk);
        if let Err(e) = writer.put(chunk).await {
            break Some(StoreError::Storage(e.into()));
        }
    };
    if let Some(failure) = failure {
        if let Err(e) = writer.abort().await {
            tracing::warn!(key, error = %e, "cannot abort a refused upload");
        }
        // A local file system may have completed small writes already.
        let _ = storage.delete(&key).await;
        return Err(failure);
    }
    writer
        .shutdown()
        .await
        .map_err(|e| StoreError::Storage(e.into()))?;
    Ok(Stored {
        key,
        size,
        sha256: hex::encode(hash.finalize()),
        head,
    })
}

/// The bytes of `key` in `range` (all of it when None), as a stream.
pub async fn read(
    storage: &SharedStorage,
    key: &str,
    range: Option<Range<u64>>,
) -> anyhow::Result<futures_util::stream::BoxStream<'static, Result<Bytes, object_store::Error>>> {
    let options = GetOptions {
        range: range.map(GetRange::Bounded),
        ..GetOptions::default()
    };
    let result = storage
        .object_store()
        .get_opts(&ObjectPath::from(key), options)
        .await?;
    Ok(result.into_stream())
}

/// Removes the bytes and rows of deleted files (and of those whose room or account
/// was deleted). Returns how many went. A file whose bytes cannot be removed now stays
/// for the next purge.
pub async fn purge(store: &Store, storage: &SharedStorage) -> anyhow::Result<usize> {
    let mut purged = 0;
    for _ in 0..10 {
        let batch = store.files_to_purge(100).await?;
        if batch.is_empty() {
            break;
        }
        let mut progress = false;
        for (id, key, thumbnail) in &batch {
            // A document's pages and thumbnail first (an image's one page is the original).
            let mut removed = match thumbnail {
                Some(t) => storage.delete(t).await,
                None => Ok(()),
            };
            for page in store.pages(*id).await? {
                if page.storage_key != *key {
                    removed = removed.and(storage.delete(&page.storage_key).await);
                }
            }
            match removed.and(storage.delete(key).await) {
                Ok(()) => {
                    store.forget_file(*id).await?;
                    purged += 1;
                    progress = true;
                }
                Err(e) => {
                    tracing::warn!(file = id, error = %e, "cannot remove a deleted file's bytes")
                }
            }
        }
        if !progress || batch.len() < 100 {
            break;
        }
    }
    Ok(purged)
}

/// Runs [`purge`] in the background, as one of the node's tasks (awaited at shutdown),
/// logging a failure. The maintenance job purges too, for what this one could not.
pub fn purge_soon(tasks: &tokio_util::task::TaskTracker, store: Store, storage: SharedStorage) {
    tasks.spawn(async move {
        if let Err(e) = purge(&store, &storage).await {
            tracing::warn!(error = %e, "purging deleted files failed");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: Vec<&'static [u8]>) -> impl Stream<Item = Result<Bytes, String>> + Unpin {
        futures_util::stream::iter(parts.into_iter().map(|p| Ok(Bytes::from_static(p))))
    }

    #[tokio::test]
    async fn uploads_are_streamed_and_capped() {
        let dir = tempfile::tempdir().unwrap();
        let storage = SharedStorage::open(dir.path().to_str().unwrap()).unwrap();
        let stored = store_stream(&storage, chunks(vec![b"hello ", b"world"]), 11)
            .await
            .unwrap();
        assert_eq!(stored.size, 11);
        assert_eq!(stored.head, b"hello world");
        assert!(stored.key.starts_with("files/") && stored.key.len() == 38);
        assert_eq!(storage.get(&stored.key).await.unwrap(), b"hello world");
        let mut out = Vec::new();
        let mut s = read(&storage, &stored.key, Some(6..11)).await.unwrap();
        while let Some(b) = s.next().await {
            out.extend_from_slice(&b.unwrap());
        }
        assert_eq!(out, b"world");

        let refused = store_stream(&storage, chunks(vec![b"hello ", b"world"]), 10).await;
        assert!(matches!(refused, Err(StoreError::OverCap)));
        // Only the first upload's file is there.
        let files: Vec<_> = std::fs::read_dir(dir.path().join("files"))
            .unwrap()
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
    }
}
