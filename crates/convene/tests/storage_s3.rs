//! Shared storage on an S3-compatible server (moto's, from PyPI, on loopback): a node
//! claims the bucket, reports it healthy, and `convene check` recognises it; a node
//! pointed at another bucket is flagged.

mod common;

use common::cluster::NodeProc;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_moto() -> Option<(Moto, String)> {
    // The module works wherever the package is installed, even without its script on PATH.
    let found = Command::new("python3")
        .args(["-c", "import moto.server"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        common::require(
            "s3",
            Err("moto not installed (pip install 'moto[server]')".into()),
        );
        return None;
    }
    let port = free_port();
    let child = Command::new("python3")
        .args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let moto = Moto(child);
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http.get(&url).send().await.is_ok() {
            return Some((moto, url));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("moto_server did not start");
}

const CREDENTIALS: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "convene-test"),
    ("AWS_SECRET_ACCESS_KEY", "convene-test-secret"),
    ("AWS_DEFAULT_REGION", "us-east-1"),
];

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
