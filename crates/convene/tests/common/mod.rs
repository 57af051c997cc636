//! Test harness: nodes started in-process on port 0, a throwaway PostgreSQL started
//! from the system's binaries, HTTP and WebSocket clients.
#![allow(dead_code)]

pub mod browser;
pub mod cluster;
pub mod documents;
pub mod faults;
pub mod invites;
pub mod net;
pub mod om;
pub mod pg;
pub mod rtc;
pub mod s3;
pub mod tls;
pub mod ws;

use convene::{Config, Settings};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const ADMIN_PASSWORD: &str = "admin-secret-pw";

/// True when the dependency is there; otherwise skips (prints why) or, with
/// `CONVENE_TEST_REQUIRE=all`, fails.
pub fn require(what: &str, available: Result<(), String>) -> bool {
    match available {
        Ok(()) => true,
        Err(why) => {
            let required = std::env::var("CONVENE_TEST_REQUIRE").unwrap_or_default();
            if required
                .split(',')
                .any(|r| r.trim() == "all" || r.trim() == what)
            {
                panic!(
                    "{what} is required (CONVENE_TEST_REQUIRE={required}) but unavailable: {why}"
                );
            }
            eprintln!("SKIPPED: {what} unavailable: {why}");
            false
        }
    }
}

/// Settings of a test node: fast timers, a data dir of its own.
pub fn test_settings(data_dir: &std::path::Path) -> Settings {
    Settings {
        data_dir: Some(data_dir.to_path_buf()),
        listen: Some("127.0.0.1:0".into()),
        admin_password: Some(ADMIN_PASSWORD.into()),
        room_grace: Some(1),
        media_port: Some(0),
        ..Settings::default()
    }
}

pub struct TestNode {
    pub addr: SocketAddr,
    pub url: String,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<anyhow::Result<()>>>,
    _dir: Option<tempfile::TempDir>,
    /// The node's long-running tasks (from `convene::run_observed`).
    pub health: Option<convene::health::Health>,
}

impl TestNode {
    /// A node on its own SQLite database.
    pub async fn sqlite() -> TestNode {
        let dir = tempfile::tempdir().unwrap();
        let config = test_settings(dir.path()).resolve().unwrap();
        let mut node = TestNode::start(config).await;
        node._dir = Some(dir);
        node
    }

    /// A node with the given settings (data dir and database taken from them).
    pub async fn start(config: Config) -> TestNode {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let (started_tx, started) = oneshot::channel::<convene::Started>();
        let handle = tokio::spawn(convene::run_observed(
            listener,
            config,
            async move {
                let _ = rx.await;
            },
            move |s| {
                let _ = started_tx.send(s);
            },
        ));
        let url = format!("http://localhost:{}", addr.port());
        let mut node = TestNode {
            addr,
            url,
            shutdown: Some(tx),
            handle: Some(handle),
            _dir: None,
            health: None,
        };
        node.wait_ready().await;
        node.health = started.await.ok().map(|s| s.health);
        node
    }

    async fn wait_ready(&mut self) {
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if self.handle.as_ref().is_some_and(|h| h.is_finished()) {
                let result = self.handle.take().unwrap().await.unwrap();
                panic!("node at {} stopped during start-up: {result:?}", self.url);
            }
            if let Ok(r) = client.get(format!("{}/readyz", self.url)).send().await
                && r.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("node at {} did not become ready", self.url);
    }

    /// Stops the node gracefully and returns what `run` returned.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.handle.take().unwrap().await.unwrap()
    }

    pub fn client(&self) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: self.url.clone(),
            sid: None,
        }
    }

    /// A client signed in as admin.
    pub async fn admin(&self) -> Api {
        let mut api = self.client();
        api.login("admin", ADMIN_PASSWORD).await;
        api
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A JSON API client holding a Bearer session.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub sid: Option<String>,
}

impl Api {
    pub fn on(&self, base: &str) -> Api {
        Api {
            http: self.http.clone(),
            base: base.to_string(),
            sid: self.sid.clone(),
        }
    }

    pub async fn login(&mut self, login: &str, password: &str) -> Value {
        let (status, body) = self
            .send(
                "POST",
                "/api/v1/login",
                Some(json!({"login": login, "password": password})),
            )
            .await;
        assert_eq!(status, 200, "login {login}: {body}");
        self.sid = Some(body["sid"].as_str().unwrap().to_string());
        body
    }

    pub async fn send(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(sid) = &self.sid {
            req = req.bearer_auth(sid);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> Value {
        let (status, body) = self.send("GET", path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let (status, out) = self.send("POST", path, Some(body)).await;
        assert!(
            status == 200 || status == 201,
            "POST {path}: {status} {out}"
        );
        out
    }

    pub async fn create_user(&self, login: &str, password: &str, role: &str) -> i64 {
        self.post(
            "/api/v1/users",
            json!({"login": login, "password": password, "role": role}),
        )
        .await["id"]
            .as_i64()
            .unwrap()
    }

    /// Plain users whose password is `<login>-password`, the tests' convention.
    pub async fn create_people(&self, logins: &[&str]) {
        for login in logins {
            self.create_user(login, &format!("{login}-password"), "user")
                .await;
        }
    }

    pub async fn create_room(&self, name: &str, capacity: i64) -> i64 {
        self.post(
            "/api/v1/rooms",
            json!({"name": name, "kind": "conference", "capacity": capacity, "public": true}),
        )
        .await["id"]
            .as_i64()
            .unwrap()
    }

    /// `enter`, then opens the WebSocket and waits for `welcome`.
    pub async fn join(&self, room: i64) -> ws::Participant {
        let enter = self
            .post(&format!("/api/v1/rooms/{room}/enter"), json!({}))
            .await;
        let mut p = ws::Participant::connect(enter["ws_url"].as_str().unwrap()).await;
        p.welcome = p.expect("welcome").await;
        p.id = p.welcome["you"]["id"].as_str().unwrap().to_string();
        p
    }
}

/// Like the web UI after losing its node: `enter` again until a node takes the room
/// and its WebSocket welcomes us; the welcome and the connection.
pub async fn enter_until_welcome(api: &Api, room: i64) -> (Value, ws::Participant) {
    loop {
        let (status, e) = api
            .send(
                "POST",
                &format!("/api/v1/rooms/{room}/enter"),
                Some(json!({})),
            )
            .await;
        if status == 200
            && let Ok(mut p) = ws::Participant::try_connect(e["ws_url"].as_str().unwrap()).await
            && let Ok(w) = p.next().await
            && w["type"] == "welcome"
        {
            return (w, p);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Polls `check` until it returns Some, for at most `secs` seconds.
pub async fn eventually<T, F, Fut>(secs: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("condition not met within {secs} s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs a command with `stdin` fed to it; its output, once it exited.
pub fn run_with_stdin(mut cmd: std::process::Command, stdin: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}
