//! Shared file storage: a local directory (an NFS or Samba mount shared by the nodes)
//! or an S3-compatible bucket, through `object_store`. Each node writes a probe at
//! start; every node checks it can read the others' probes, so a node that does not
//! see the shared storage shows up as such instead of failing silently.

pub mod area;
pub mod convert;
pub mod kinds;
pub mod names;
pub mod render;
pub mod serve;
pub mod thumbnail;

use crate::ids::NodeId;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use std::sync::Arc;

/// Largest file read back through [`SharedStorage::get`].
const MAX_READ: usize = 64 << 20;

#[derive(Clone)]
pub struct SharedStorage {
    inner: Arc<dyn ObjectStore>,
    /// For people: the path or the URL without credentials.
    pub description: String,
    /// Size of the parts a streamed upload is sent in (S3 wants at least 5 MiB).
    part_size: usize,
}

impl SharedStorage {
    /// Opens the storage named by the `storage` setting.
    pub fn open(spec: &str) -> anyhow::Result<SharedStorage> {
        if let Some(rest) = spec.strip_prefix("s3://") {
            return Self::open_s3(rest, spec);
        }
        let path = spec.strip_prefix("file://").unwrap_or(spec);
        std::fs::create_dir_all(path)
            .map_err(|e| anyhow::anyhow!("setting `storage`: cannot create {path}: {e}"))?;
        let fs = LocalFileSystem::new_with_prefix(path)
            .map_err(|e| anyhow::anyhow!("setting `storage`: {path}: {e}"))?;
        Ok(SharedStorage {
            inner: Arc::new(fs),
            description: path.to_string(),
            part_size: 1 << 20,
        })
    }

    /// `s3://bucket[/prefix][?endpoint=URL&region=R&virtual_hosted=true]`; plain HTTP is
    /// allowed when the endpoint starts with `http://`. Credentials come from the usual
    /// AWS_* environment variables, never from the URL.
    fn open_s3(rest: &str, spec: &str) -> anyhow::Result<SharedStorage> {
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
        if bucket.is_empty() {
            anyhow::bail!("setting `storage`: {spec:?} names no bucket");
        }
        // TLS for the S3 client: ring, the provider compiled in. A process-wide choice (the
        // only one possible); installing it twice is harmless, hence the ignored result.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            builder = match key {
                "endpoint" => builder
                    .with_endpoint(value)
                    .with_allow_http(value.starts_with("http://")),
                "region" => builder.with_region(value),
                "virtual_hosted" => builder.with_virtual_hosted_style_request(value == "true"),
                other => anyhow::bail!("setting `storage`: unknown S3 option {other:?}"),
            };
        }
        let s3 = builder
            .build()
            .map_err(|e| anyhow::anyhow!("setting `storage`: {e}"))?;
        let inner: Arc<dyn ObjectStore> = if prefix.trim_matches('/').is_empty() {
            Arc::new(s3)
        } else {
            Arc::new(PrefixStore::new(s3, prefix.trim_matches('/')))
        };
        Ok(SharedStorage {
            inner,
            description: format!("s3://{location}"),
            part_size: 5 << 20,
        })
    }

    pub async fn put(&self, path: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        self.inner
            .put(&ObjectPath::from(path), PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Vec<u8>> {
        let result = self.inner.get(&ObjectPath::from(path)).await?;
        if result.meta.size > MAX_READ as u64 {
            anyhow::bail!("{path} is larger than {MAX_READ} bytes");
        }
        Ok(result.bytes().await?.to_vec())
    }

    /// A storage in this process's memory, with parts as small as the local path's:
    /// for fuzzing the upload path, never a setting (nothing in it survives the process).
    pub fn in_memory() -> SharedStorage {
        SharedStorage {
            inner: Arc::new(object_store::memory::InMemory::new()),
            description: "memory".into(),
            part_size: 1 << 20,
        }
    }

    /// The object store itself, for streamed reads and writes (`files::area`).
    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        self.inner.clone()
    }

    /// Size of the parts of a streamed upload.
    pub fn part_size(&self) -> usize {
        self.part_size
    }

    /// Removes a file; one that is not there is no error.
    pub async fn delete(&self, path: &str) -> anyhow::Result<()> {
        match self.inner.delete(&ObjectPath::from(path)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn probe_path(node: NodeId) -> String {
        format!("probes/node-{node}")
    }

    /// Writes this node's probe (proves the storage is writable from here).
    pub async fn write_probe(&self, node: NodeId, nonce: &str) -> anyhow::Result<()> {
        self.put(&Self::probe_path(node), nonce.as_bytes().to_vec())
            .await
    }

    /// Makes sure the shared storage carries the cluster's storage id. The database is
    /// the arbiter: the first node to record an id there (insert-if-absent) writes it
    /// into the storage; every other node only compares, and never writes the id, so a
    /// node whose share is not mounted does not hide that by copying the id into its
    /// local directory.
    pub async fn claim_cluster_id(&self, store: &crate::store::Store) -> anyhow::Result<()> {
        if store.setting(STORAGE_ID_KEY).await?.is_some() {
            return Ok(());
        }
        let candidate = crate::secret::random_hex(16);
        let (id, won) = store.setting_or_insert(STORAGE_ID_KEY, &candidate).await?;
        if !won {
            return Ok(());
        }
        if let Err(e) = self.put(CLUSTER_ID_PATH, id.clone().into_bytes()).await {
            // Give the claim back, so that a node that can write claims it later.
            if let Err(undo) = store.delete_setting_if(STORAGE_ID_KEY, &id).await {
                tracing::warn!(error = %undo, "cannot withdraw the storage claim");
            }
            return Err(e);
        }
        Ok(())
    }

    /// Does this node see the storage the cluster shares? `Ok` (verified, or no node
    /// claimed it yet) or what is wrong.
    pub async fn check_shared(&self, store: &crate::store::Store) -> Result<Shared, String> {
        let expected = match store.setting(STORAGE_ID_KEY).await {
            Ok(Some(id)) => id,
            Ok(None) => return Ok(Shared::Unclaimed),
            Err(e) => return Err(format!("database unavailable: {e}")),
        };
        match self.get(CLUSTER_ID_PATH).await {
            Ok(bytes) if bytes == expected.as_bytes() => Ok(Shared::Verified),
            Ok(_) => Err(format!(
                "not the shared storage: {} holds another cluster's id (is the share mounted?)",
                self.description
            )),
            Err(_) => Err(format!(
                "not the shared storage: {} lacks the cluster's id (is the share mounted?)",
                self.description
            )),
        }
    }
}

/// What [`SharedStorage::check_shared`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shared {
    /// It holds the cluster's storage id.
    Verified,
    /// No node has claimed a storage yet (a database no node has run on).
    Unclaimed,
}

/// Where the cluster's storage id lives, in the storage and in the settings table.
const CLUSTER_ID_PATH: &str = "probes/cluster-id";
const STORAGE_ID_KEY: &str = "storage_id";

#[cfg(test)]
mod tests {
    use super::*;

    async fn sqlite_store(dir: &tempfile::TempDir) -> crate::store::Store {
        let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
        crate::store::Store::open(&url).await.unwrap()
    }

    #[tokio::test]
    async fn the_shared_storage_is_recognised_by_its_cluster_id() {
        let db_dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&db_dir).await;
        let dir = tempfile::tempdir().unwrap();
        let a = SharedStorage::open(dir.path().to_str().unwrap()).unwrap();
        let b = SharedStorage::open(&format!("file://{}", dir.path().display())).unwrap();
        assert_eq!(a.check_shared(&store).await, Ok(Shared::Unclaimed));
        a.claim_cluster_id(&store).await.unwrap();
        b.claim_cluster_id(&store).await.unwrap();
        assert_eq!(a.check_shared(&store).await, Ok(Shared::Verified));
        assert_eq!(b.check_shared(&store).await, Ok(Shared::Verified));
        a.write_probe(NodeId(1), "nonce").await.unwrap();
        assert_eq!(b.get("probes/node-1").await.unwrap(), b"nonce");
        // A node whose share is not mounted sees its empty local directory: it must not
        // copy the cluster's id there, which would hide the problem.
        let elsewhere = tempfile::tempdir().unwrap();
        let c = SharedStorage::open(elsewhere.path().to_str().unwrap()).unwrap();
        c.claim_cluster_id(&store).await.unwrap();
        assert!(!elsewhere.path().join(CLUSTER_ID_PATH).exists());
        let err = c.check_shared(&store).await.unwrap_err();
        assert!(err.contains("not the shared storage"), "{err}");
    }

    /// Two first nodes on the same share claim at once: the id in the storage is the
    /// one the database recorded, whoever wins.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_first_claims_agree() {
        for _ in 0..10 {
            let db_dir = tempfile::tempdir().unwrap();
            let store = sqlite_store(&db_dir).await;
            let dir = tempfile::tempdir().unwrap();
            let a = SharedStorage::open(dir.path().to_str().unwrap()).unwrap();
            let b = SharedStorage::open(dir.path().to_str().unwrap()).unwrap();
            let (ra, rb) = tokio::join!(a.claim_cluster_id(&store), b.claim_cluster_id(&store));
            ra.unwrap();
            rb.unwrap();
            assert_eq!(a.check_shared(&store).await, Ok(Shared::Verified));
        }
    }

    /// A claim whose storage write fails is withdrawn, so a node that can write claims.
    #[tokio::test]
    async fn a_failed_claim_is_withdrawn() {
        let db_dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(&db_dir).await;
        let dir = tempfile::tempdir().unwrap();
        let broken = SharedStorage::open(dir.path().to_str().unwrap()).unwrap();
        // A directory where the id file should be makes the write fail.
        std::fs::create_dir_all(dir.path().join(CLUSTER_ID_PATH).join("x")).unwrap();
        assert!(broken.claim_cluster_id(&store).await.is_err());
        assert_eq!(store.setting(STORAGE_ID_KEY).await.unwrap(), None);
        let good_dir = tempfile::tempdir().unwrap();
        let good = SharedStorage::open(good_dir.path().to_str().unwrap()).unwrap();
        good.claim_cluster_id(&store).await.unwrap();
        assert_eq!(good.check_shared(&store).await, Ok(Shared::Verified));
    }

    #[tokio::test]
    async fn files_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let s = SharedStorage::open(dir.path().to_str().unwrap()).unwrap();
        s.put("probes/x", b"1".to_vec()).await.unwrap();
        assert!(dir.path().join("probes/x").exists());
        s.delete("probes/x").await.unwrap();
        assert!(!dir.path().join("probes/x").exists());
        s.delete("probes/x").await.unwrap();
    }

    #[test]
    fn s3_urls_are_parsed_without_network() {
        let s = SharedStorage::open(
            "s3://media/convene?endpoint=http://127.0.0.1:9000&region=eu-west-1",
        )
        .unwrap();
        assert_eq!(s.description, "s3://media/convene");
        assert!(SharedStorage::open("s3://?region=x").is_err());
        assert!(SharedStorage::open("s3://b?colour=blue").is_err());
    }
}
