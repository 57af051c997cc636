//! Raw TCP clients from chosen loopback addresses, and a single `convene serve`
//! process on SQLite started under a given file limit.

use super::{ADMIN_PASSWORD, Api};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A TCP port free on every address, for a process a test starts with a fixed port.
/// Taken below the kernel's ephemeral range (32768–60999), where neither outgoing
/// connections nor port-0 listeners of parallel tests can take it between this check
/// and the child's bind (a port from `bind(:0)` could: CI once failed on exactly that).
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    const LOW: u16 = 20_000;
    const SPAN: u16 = 12_000;
    // Different test binaries (and their leftover children) start at different places.
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let start = (std::process::id() % u32::from(SPAN)) as u16;
    for _ in 0..SPAN {
        let step = NEXT.fetch_add(7, Ordering::Relaxed) % SPAN;
        let port = LOW + (start + step) % SPAN;
        let tcp = std::net::TcpListener::bind(("0.0.0.0", port));
        let udp = std::net::UdpSocket::bind(("0.0.0.0", port));
        if tcp.is_ok() && udp.is_ok() {
            return port;
        }
    }
    panic!("no free port below the ephemeral range");
}

/// Raises this process's soft file limit to the hard one; returns the soft limit now.
pub fn raise_own_file_limit() -> u64 {
    convene::http_server::raise_file_limit().1
}

/// A TCP connection to `to` from the loopback address `from` (all of 127.0.0.0/8 is
/// local on Linux).
pub async fn connect_from(from: Ipv4Addr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(IpAddr::V4(from), 0))?;
    socket.connect(to).await
}

/// Waits up to `limit` for the peer to close the connection (EOF or reset), discarding
/// what it sends; returns when that happened, None if it stayed open.
pub async fn closed_within(
    stream: &mut (impl AsyncRead + Unpin),
    limit: Duration,
) -> Option<Instant> {
    let mut buf = [0u8; 4096];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return Instant::now(),
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(limit, read_all).await.ok()
}

/// Reads one HTTP/1.1 response (headers and a Content-Length body) from `stream`;
/// returns the status line and the body, or None if the connection ended first.
pub async fn read_response(stream: &mut TcpStream) -> Option<(String, String)> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            if let Some(end) = find(&data, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&data[..end]).to_string();
                let length = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if data.len() >= end + 4 + length {
                    let body = String::from_utf8_lossy(&data[end + 4..end + 4 + length]);
                    let status = head.lines().next().unwrap_or("").to_string();
                    return Some((status, body.to_string()));
                }
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => data.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .ok()
        .flatten()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Sends a `GET path` on `stream` (keep-alive) and reads the answer.
pub async fn get(stream: &mut TcpStream, path: &str) -> Option<(String, String)> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    read_response(stream).await
}

/// One `convene serve` process on its own SQLite database.
pub struct ServeProc {
    pub addr: SocketAddr,
    pub url: String,
    pub log: PathBuf,
    child: Option<Child>,
    _data: tempfile::TempDir,
}

impl ServeProc {
    /// Starts `convene serve` with `args` (flags) after running the shell commands
    /// `limits` (e.g. `ulimit -S -n 1024`), and waits until it is ready.
    pub async fn start(limits: &str, args: &[&str]) -> ServeProc {
        let data = tempfile::tempdir().unwrap();
        let port = free_port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let url = format!("http://{addr}");
        let log = data.path().join("node.log");
        let out = std::fs::File::create(&log).unwrap();
        let script = format!("{limits}\nexec \"$@\"");
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(script)
            .arg("sh")
            .arg(env!("CARGO_BIN_EXE_convene"))
            .args(["serve", "--listen", &addr.to_string(), "--public-url", &url])
            .args(["--media-port", "0"])
            .arg("--data-dir")
            .arg(data.path())
            .args(args)
            .env("CONVENE_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("CONVENE_ROOM_GRACE", "1")
            .env("CONVENE_LOG", "info,convene=debug")
            .stdout(Stdio::null())
            .stderr(out);
        let child = cmd.spawn().expect("convene starts");
        let mut node = ServeProc {
            addr,
            url,
            log,
            child: Some(child),
            _data: data,
        };
        node.wait_ready().await;
        node
    }

    async fn wait_ready(&mut self) {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!(
                    "convene exited during start-up ({status}):\n{}",
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
        panic!("convene did not become ready:\n{}", self.log_text());
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// True while the process has not exited.
    pub fn is_alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// Sends SIGTERM and waits up to `limit` for the exit; None if still running.
    pub async fn terminate_within(&mut self, limit: Duration) -> Option<(ExitStatus, Duration)> {
        let child = self.child.as_mut().expect("running");
        let start = Instant::now();
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        while start.elapsed() < limit {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return Some((status, start.elapsed()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// The node's log, without terminal colours.
    pub fn log_text(&self) -> String {
        strip_ansi(&std::fs::read_to_string(&self.log).unwrap_or_default())
    }

    /// `(soft, hard)` "Max open files" of the running process, from /proc.
    pub fn file_limits(&self) -> Option<(u64, u64)> {
        let text = std::fs::read_to_string(format!("/proc/{}/limits", self.pid())).ok()?;
        let line = text.lines().find(|l| l.starts_with("Max open files"))?;
        let mut numbers = line
            .trim_start_matches("Max open files")
            .split_whitespace()
            .map(|n| n.parse::<u64>().ok());
        Some((numbers.next()??, numbers.next()??))
    }

    /// The value of one line of `/metrics` (name with labels), 0 if absent.
    pub async fn metric(&self, name: &str) -> f64 {
        metric(&self.url, name).await
    }

    pub fn api(&self) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: self.url.clone(),
            sid: None,
        }
    }
}

impl Drop for ServeProc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The value of one line of the node's `/metrics` at `base`, 0 if absent or unreachable.
pub async fn metric(base: &str, name: &str) -> f64 {
    let Ok(response) = reqwest::get(format!("{base}/metrics")).await else {
        return 0.0;
    };
    let text = response.text().await.unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI sequences end with a letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
