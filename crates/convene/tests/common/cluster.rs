//! A real cluster: a throwaway PostgreSQL and several `convene serve` processes on
//! loopback ports, sharing one storage directory.

use super::pg::PgServer;
use super::{ADMIN_PASSWORD, Api};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct NodeProc {
    pub id: i64,
    pub url: String,
    child: Option<Child>,
    pub log: PathBuf,
    _data: tempfile::TempDir,
}

pub struct Cluster {
    pub pg: PgServer,
    pub db_url: String,
    pub storage: tempfile::TempDir,
    pub nodes: Vec<NodeProc>,
}

use super::net::free_port;

impl NodeProc {
    /// Starts `convene serve` as node `id` (not waiting for it).
    pub fn spawn(id: i64, db_url: &str, storage: &Path, env: &[(&str, &str)]) -> NodeProc {
        let data = tempfile::tempdir().unwrap();
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let log = data.path().join("node.log");
        let out = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_convene"));
        cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--node-id", &id.to_string(), "--public-url", &url])
            .args(["--database-url", db_url])
            .args(["--media-port", "0"])
            .arg("--storage")
            .arg(storage)
            .arg("--data-dir")
            .arg(data.path())
            .env("CONVENE_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("CONVENE_ROOM_GRACE", "2")
            .env("CONVENE_LOG", "info,convene=debug")
            .stdout(Stdio::null())
            .stderr(out);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("convene starts");
        NodeProc {
            id,
            url,
            child: Some(child),
            log,
            _data: data,
        }
    }

    pub async fn wait_ready(&mut self) {
        let http = reqwest::Client::new();
        for _ in 0..300 {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!(
                    "node {} exited during start-up ({status}):\n{}",
                    self.id,
                    self.log_text()
                );
            }
            if http
                .get(format!("{}/readyz", self.url))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "node {} did not become ready:\n{}",
            self.id,
            self.log_text()
        );
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `kill -9`: no goodbye, no cleanup.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends a signal (`STOP`, `CONT`, …) to the process.
    pub fn signal(&self, sig: &str) {
        let c = self.child.as_ref().expect("running");
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &c.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig}");
    }

    /// SIGTERM and wait for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .unwrap();
        c.wait().unwrap()
    }

    /// Waits for the process to exit by itself.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        self.child.take().expect("running").wait().unwrap()
    }

    pub fn api(&self) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: self.url.clone(),
            sid: None,
        }
    }

    pub async fn admin(&self) -> Api {
        let mut api = self.api();
        api.login("admin", ADMIN_PASSWORD).await;
        api
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        self.kill9();
    }
}

impl Cluster {
    /// PostgreSQL and `n` nodes with ids 1..=n, all ready; None when PostgreSQL is unavailable.
    pub async fn start(n: i64) -> Option<Cluster> {
        let pg = super::pg::server()?;
        let db_url = pg.create_database("cluster").await;
        let storage = tempfile::tempdir().unwrap();
        let mut cluster = Cluster {
            pg,
            db_url,
            storage,
            nodes: Vec::new(),
        };
        for id in 1..=n {
            cluster.add_node(id, &[]).await;
        }
        Some(cluster)
    }

    pub async fn add_node(&mut self, id: i64, env: &[(&str, &str)]) -> &mut NodeProc {
        let mut node = NodeProc::spawn(id, &self.db_url, self.storage.path(), env);
        node.wait_ready().await;
        self.nodes.push(node);
        self.nodes.last_mut().unwrap()
    }

    /// Adds a node whose database connections go to `db_url` (a proxy, say).
    pub async fn add_node_via(&mut self, id: i64, db_url: &str, env: &[(&str, &str)]) {
        let mut node = NodeProc::spawn(id, db_url, self.storage.path(), env);
        node.wait_ready().await;
        self.nodes.push(node);
    }

    pub fn node(&self, id: i64) -> &NodeProc {
        self.nodes.iter().find(|n| n.id == id).expect("node exists")
    }

    pub fn node_mut(&mut self, id: i64) -> &mut NodeProc {
        self.nodes
            .iter_mut()
            .find(|n| n.id == id)
            .expect("node exists")
    }

    /// The node serving `url`.
    pub fn by_url(&self, url: &str) -> &NodeProc {
        self.nodes
            .iter()
            .find(|n| n.url == url)
            .unwrap_or_else(|| panic!("no node at {url}"))
    }

    /// Every node's log, for a failing test's output.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("===== node {} =====\n{}", n.id, n.log_text()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}
