//! Shared storage on an S3-compatible server (moto's, from PyPI, on loopback): a node
//! claims the bucket, reports it healthy, and `convene check` recognises it; a node
//! pointed at another bucket is flagged.

use crate::common;

use common::cluster::NodeProc;
use common::s3::{CREDENTIALS, start_moto};
use std::process::Command;

#[tokio::test]
async fn a_node_uses_s3_compatible_shared_storage() {
    let Some((_moto, endpoint)) = start_moto().await else {
        return;
    };
    let http = reqwest::Client::new();
    for bucket in ["shared", "elsewhere"] {
        let r = http
            .put(format!("{endpoint}/{bucket}"))
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_success(),
            "create bucket {bucket}: {}",
            r.status()
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/s3.db", dir.path().display());
    let storage = format!("s3://shared/convene?endpoint={endpoint}&region=us-east-1");
    let mut node = NodeProc::spawn(1, &db, std::path::Path::new(&storage), &CREDENTIALS);
    node.wait_ready().await;
    let admin = node.admin().await;
    let servers = admin.get("/api/v1/servers").await;
    assert_eq!(
        servers[0]["storage"],
        "ok",
        "{servers}\n{}",
        node.log_text()
    );
    // The cluster id is in the bucket, under the prefix.
    let listing = http
        .get(format!("{endpoint}/shared?prefix=convene/probes/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(listing.contains("convene/probes/cluster-id"), "{listing}");

    let check = |storage: String| {
        let db = db.clone();
        async move {
            let out = Command::new(env!("CARGO_BIN_EXE_convene"))
                .args([
                    "check",
                    "--node-id",
                    "2",
                    "--database-url",
                    &db,
                    "--storage",
                    &storage,
                ])
                .envs(CREDENTIALS)
                .output()
                .unwrap();
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).to_string(),
            )
        }
    };
    let (ok, text) = check(storage.clone()).await;
    assert!(
        ok && text.contains("ok    shared storage s3://shared/convene"),
        "{text}"
    );
    let (ok, text) = check(format!(
        "s3://elsewhere?endpoint={endpoint}&region=us-east-1"
    ))
    .await;
    assert!(!ok && text.contains("not the shared storage"), "{text}");
}
