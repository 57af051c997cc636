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

    /// Writes this node's probe.
    pub async fn write_probe(&self, node: NodeId, nonce: &str) -> anyhow::Result<()> {
        self.put(&Self::probe_path(node), nonce.as_bytes().to_vec())
            .await
    }

    /// Reads another node's probe and compares it with what that node recorded.
    pub async fn check_probe(&self, node: NodeId, expected: &str) -> Result<(), String> {
        match self.get(&Self::probe_path(node)).await {
            Ok(bytes) if bytes == expected.as_bytes() => Ok(()),
            Ok(_) => Err(format!(
                "the probe of node {node} differs: this node sees another storage"
            )),
            Err(e) => Err(format!("cannot read the probe of node {node}: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn probes_round_trip_on_a_shared_directory() {
        let dir = tempfile::tempdir().unwrap();
        let a = SharedStorage::open(dir.path().to_str().unwrap()).unwrap();
        let b = SharedStorage::open(&format!("file://{}", dir.path().display())).unwrap();
        a.write_probe(NodeId(1), "nonce-1").await.unwrap();
        assert!(b.check_probe(NodeId(1), "nonce-1").await.is_ok());
        assert!(b.check_probe(NodeId(1), "other").await.is_err());
        let elsewhere = tempfile::tempdir().unwrap();
        let c = SharedStorage::open(elsewhere.path().to_str().unwrap()).unwrap();
        let err = c.check_probe(NodeId(1), "nonce-1").await.unwrap_err();
        assert!(err.contains("cannot read the probe of node 1"), "{err}");
    }

    #[test]
    fn s3_urls_are_parsed_without_network() {
        let s = SharedStorage::open("s3://media/convene?endpoint=http://127.0.0.1:9000&region=eu-west-1")
            .unwrap();
        assert_eq!(s.description, "s3://media/convene");
        assert!(SharedStorage::open("s3://?region=x").is_err());
        assert!(SharedStorage::open("s3://b?colour=blue").is_err());
    }
}
