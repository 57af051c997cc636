//! Shared file storage: a local directory (an NFS or Samba mount shared by the nodes)
//! or an S3-compatible bucket, through `object_store`. Each node writes a probe at
//! start; every node checks it can read the others' probes, so a node that does not
//! see the shared storage shows up as such instead of failing silently.

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
        })
    }

    /// `s3://bucket[/prefix][?endpoint=URL&region=R&allow_http=true]`; credentials come
    /// from the usual AWS_* environment variables, never from the URL.
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

    fn probe_path(node: NodeId) -> String {
        format!("probes/node-{node}")
    }

    /// Writes this node's probe (proves the storage is writable from here).
    pub async fn write_probe(&self, node: NodeId, nonce: &str) -> anyhow::Result<()> {
        self.put(&Self::probe_path(node), nonce.as_bytes().to_vec())
            .await
    }

    /// Makes sure the shared storage carries the cluster's storage id: the first node
    /// writes it and records it in the database; the others only compare.
    pub async fn claim_cluster_id(&self, store: &crate::store::Store) -> anyhow::Result<()> {
        if store.setting(STORAGE_ID_KEY).await?.is_none() {
            let id = crate::secret::random_hex(16);
            self.put(CLUSTER_ID_PATH, id.clone().into_bytes()).await?;
            store.setting_or_insert(STORAGE_ID_KEY, &id).await?;
        }
        Ok(())
    }

    /// Does this node see the storage the cluster shares? `Ok` or what is wrong.
    pub async fn check_shared(&self, store: &crate::store::Store) -> Result<(), String> {
        let expected = match store.setting(STORAGE_ID_KEY).await {
            Ok(Some(id)) => id,
            Ok(None) => return Err("no node has claimed the shared storage yet".into()),
            Err(e) => return Err(format!("database unavailable: {e}")),
        };
        match self.get(CLUSTER_ID_PATH).await {
            Ok(bytes) if bytes == expected.as_bytes() => Ok(()),
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

/// Where the cluster's storage id lives, in the storage and in the settings table.
const CLUSTER_ID_PATH: &str = "probes/cluster-id";
const STORAGE_ID_KEY: &str = "storage_id";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_shared_storage_is_recognised_by_its_cluster_id() {
        let db_dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db?mode=rwc", db_dir.path().display());
        let store = crate::store::Store::open(&url).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let a = SharedStorage::open(dir.path().to_str().unwrap()).unwrap();
        let b = SharedStorage::open(&format!("file://{}", dir.path().display())).unwrap();
        assert!(a.check_shared(&store).await.is_err(), "nothing claimed yet");
        a.claim_cluster_id(&store).await.unwrap();
        b.claim_cluster_id(&store).await.unwrap();
        assert!(a.check_shared(&store).await.is_ok());
        assert!(b.check_shared(&store).await.is_ok());
        a.write_probe(NodeId(1), "nonce").await.unwrap();
        assert_eq!(b.get("probes/node-1").await.unwrap(), b"nonce");
        let elsewhere = tempfile::tempdir().unwrap();
        let c = SharedStorage::open(elsewhere.path().to_str().unwrap()).unwrap();
        c.claim_cluster_id(&store).await.unwrap();
        let err = c.check_shared(&store).await.unwrap_err();
        assert!(err.contains("not the shared storage"), "{err}");
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
