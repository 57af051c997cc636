//! Moto's S3-compatible server (from PyPI), on a free loopback port, for the tests of
//! shared storage on S3; skipped (or failed under CONVENE_TEST_REQUIRE=all) without it.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The server; killed when dropped.
pub struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

use super::net::free_port;

/// Starts it; its endpoint URL.
pub async fn start_moto() -> Option<(Moto, String)> {
    // The module works wherever the package is installed, even without its script on PATH.
    let found = Command::new("python3")
        .args(["-c", "import moto.server"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        super::require(
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

/// What the nodes read their S3 credentials from.
pub const CREDENTIALS: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "convene-test"),
    ("AWS_SECRET_ACCESS_KEY", "convene-test-secret"),
    ("AWS_DEFAULT_REGION", "us-east-1"),
];
