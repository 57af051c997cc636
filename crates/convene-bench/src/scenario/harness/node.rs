//! `convene serve` processes started by the bench: spawn, wait for `/readyz`, stop
//! with SIGTERM or `kill -9`, and the small part of the REST API the cluster and media
//! scenarios need beyond `crate::client::Api` (the hosting node of an entry, metrics).

use anyhow::{Context, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::time::Instant;

const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// How to start one node.
pub struct NodeSpec<'a> {
    pub bin: &'a Path,
    pub node_id: Option<i64>,
    pub port: u16,
    pub data_dir: &'a Path,
    pub database_url: Option<&'a str>,
    pub storage: Option<&'a Path>,
    pub admin_password: &'a str,
    pub log_filter: &'a str,
    pub env: &'a [(String, String)],
}

pub struct NodeProc {
    pub id: i64,
    pub url: String,
    pub pid: u32,
    pub log: PathBuf,
    child: Option<Child>,
}

impl NodeProc {
    pub fn spawn(spec: &NodeSpec<'_>) -> anyhow::Result<NodeProc> {
        let log = spec.data_dir.join("convene.log");
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("cannot open {}", log.display()))?;
        let err = out.try_clone()?;
        let listen = format!("127.0.0.1:{}", spec.port);
        let url = format!("http://{listen}");
        let mut cmd = Command::new(spec.bin);
        cmd.arg("serve")
            .args(["--listen", &listen, "--public-url", &url])
            .args(["--media-port", "0"])
            .arg("--data-dir")
            .arg(spec.data_dir);
        if let Some(id) = spec.node_id {
            cmd.args(["--node-id", &id.to_string()]);
        }
        if let Some(db) = spec.database_url {
            cmd.args(["--database-url", db]);
        }
        if let Some(storage) = spec.storage {
            cmd.arg("--storage").arg(storage);
        }
        let child = cmd
            .env("CONVENE_ADMIN_PASSWORD", spec.admin_password)
            .env("CONVENE_LOG", spec.log_filter)
            // Every simulated participant comes from one loopback address.
            .env("CONVENE_MAX_CONNECTIONS_PER_ADDRESS", "0")
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", spec.bin.display()))?;
        let pid = child.id().context("the node exited at once")?;
        eprintln!(
            "started node {} (pid {pid}) on {listen}",
            spec.node_id.unwrap_or(1)
        );
        Ok(NodeProc {
            id: spec.node_id.unwrap_or(1),
            url,
            pid,
            log,
            child: Some(child),
        })
    }

    pub async fn wait_ready(&mut self, http: &reqwest::Client) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!(
                    "node {} exited while starting ({status}); its log is {}",
                    self.id,
                    self.log.display()
                );
            }
            let ready = http
                .get(format!("{}/readyz", self.url))
                .send()
                .await
                .is_ok_and(|r| r.status() == reqwest::StatusCode::OK);
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("node {} was not ready after {READY_TIMEOUT:?}", self.id);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `kill -9`: no goodbye, no clean-up.
    pub async fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    /// SIGTERM; `kill -9` if the node has not exited after `grace`.
    pub async fn stop(&mut self, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()
            .await;
        if tokio::time::timeout(grace, child.wait()).await.is_err() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }
}

/// What `POST /api/v1/rooms/{id}/enter` answers (the parts the bench uses).
#[derive(Debug, Clone, Deserialize)]
pub struct EnterAnswer {
    pub server: EnterServer,
    pub ws_url: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EnterServer {
    pub id: i64,
}

/// `POST {base}/api/v1/rooms/{room}/enter` with a session.
pub async fn enter(
    http: &reqwest::Client,
    base: &str,
    sid: &str,
    room: i64,
) -> anyhow::Result<EnterAnswer> {
    let response = http
        .post(format!("{base}/api/v1/rooms/{room}/enter"))
        .bearer_auth(sid)
        .send()
        .await
        .with_context(|| format!("POST {base}/api/v1/rooms/{room}/enter"))?;
    let status = response.status();
    let body = response.text().await.context("reading the entry answer")?;
    if !status.is_success() {
        let body: String = body.chars().take(200).collect();
        bail!("POST …/rooms/{room}/enter: HTTP {status}: {body}");
    }
    serde_json::from_str(&body).with_context(|| format!("unexpected entry answer {body:.200}"))
}

/// A counter of the node's `/metrics` (its first sample line).
pub async fn metric(http: &reqwest::Client, base: &str, name: &str) -> anyhow::Result<f64> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .with_context(|| format!("GET {base}/metrics"))?
        .text()
        .await?;
    parse_metric(&text, name).with_context(|| format!("no {name} in {base}/metrics"))
}

fn parse_metric(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?;
        let rest = rest.strip_prefix(' ').or_else(|| {
            // A labelled sample: name{…} value.
            rest.starts_with('{')
                .then(|| rest.split_once("} ").map(|(_, v)| v))
                .flatten()
        })?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// The version line of a `convene` binary.
pub async fn version(bin: &Path) -> String {
    match Command::new(bin).arg("--version").output().await {
        Ok(out) => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        Err(e) => format!("unknown ({e})"),
    }
}

/// A reqwest client for many concurrent requests to a few hosts.
pub fn http_client(pool: usize) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(pool)
        .timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .build()
        .context("cannot build the HTTP client")
}

/// The node count, the CPU model, and today's date, for the report.
pub fn machine_facts() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpus} CPUs ({model})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_parsed() {
        let text =
            "# HELP x\nconvene_media_frames_forwarded_total 1234\nconvene_x_total{a=\"b\"} 5\n";
        assert_eq!(
            parse_metric(text, "convene_media_frames_forwarded_total"),
            Some(1234.0)
        );
        assert_eq!(parse_metric(text, "convene_x_total"), Some(5.0));
        assert_eq!(parse_metric(text, "convene_media"), None);
    }
}
