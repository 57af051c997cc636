//! Tools for fault tests: a TCP proxy the test can cut (a node cut from the database),
//! and roaming participants that behave like the web UI — they ping, chat, and enter
//! again through any node when their connection ends — while logging which node
//! answered them and when, so a test can tell whether a room was ever split.

use super::Api;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// Forwards connections to `target`; while cut, it forwards nothing (a black hole:
/// connections hang as in a network partition), and on restore it drops them.
pub struct TcpProxy {
    pub port: u16,
    cut: Arc<AtomicBool>,
    /// Bumped at each restore: connections of an older generation are dropped.
    generation: Arc<std::sync::atomic::AtomicU64>,
    stop: CancellationToken,
}

impl TcpProxy {
    pub async fn start(target_port: u16) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let generation = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let stop = CancellationToken::new();
        let (c, g, s) = (cut.clone(), generation.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = s.cancelled() => return,
                    a = listener.accept() => a,
                };
                let Ok((client, _)) = accepted else { continue };
                let (c, g, s) = (c.clone(), g.clone(), s.clone());
                tokio::spawn(async move {
                    let born = g.load(Ordering::SeqCst);
                    let forward = async {
                        if c.load(Ordering::SeqCst) {
                            std::future::pending::<()>().await;
                        }
                        let Ok(server) = TcpStream::connect(("127.0.0.1", target_port)).await
                        else {
                            return;
                        };
                        pump(client, server, &c).await;
                    };
                    let restored = async {
                        while g.load(Ordering::SeqCst) == born {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    };
                    tokio::select! {
                        _ = forward => {}
                        _ = restored => {}
                        _ = s.cancelled() => {}
                    }
                });
            }
        });
        TcpProxy {
            port,
            cut,
            generation,
            stop,
        }
    }

    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }

    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Copies one way; while cut, bytes are held back (not lost: they wait in buffers).
async fn one_way(
    r: &mut tokio::net::tcp::OwnedReadHalf,
    w: &mut tokio::net::tcp::OwnedWriteHalf,
    cut: &AtomicBool,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        while cut.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let n = match r.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while cut.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if w.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Copies both ways until either side ends.
async fn pump(client: TcpStream, server: TcpStream, cut: &AtomicBool) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    tokio::select! {
        _ = one_way(&mut cr, &mut sw, cut) => {}
        _ = one_way(&mut sr, &mut cw, cut) => {}
    }
}

/// What one roaming participant saw.
#[derive(Debug, Default, Clone)]
pub struct RoamLog {
    /// (node, when) of every pong.
    pub pongs: Vec<(i64, Instant)>,
    /// Texts of this participant's own messages that came back (acknowledged).
    pub acked: Vec<String>,
    /// (node, close code, when) of every connection that ended.
    pub closes: Vec<(i64, u16, Instant)>,
    /// The node it is connected to now.
    pub current: Option<i64>,
    /// Error frames received (for example "not sent" while the database is away).
    pub errors: Vec<String>,
}

pub struct Roamer {
    pub name: String,
    pub log: Arc<Mutex<RoamLog>>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

/// No frame for this long: the node is taken as gone (as the web UI does).
const SILENCE: Duration = Duration::from_secs(3);

impl Roamer {
    /// Enters `room` through the nodes at `bases` (signed in with `api`'s session) and
    /// stays: pings every 200 ms, chats every 500 ms, enters again after a close or
    /// silence. A `sticky` one never lets go of its first connection (to see whether a
    /// node goes on serving it), and never re-enters.
    pub fn spawn(api: &Api, bases: Vec<String>, room: i64, name: &str, sticky: bool) -> Roamer {
        let log = Arc::new(Mutex::new(RoamLog::default()));
        let stop = CancellationToken::new();
        let task = tokio::spawn(roam(
            api.clone(),
            bases,
            room,
            name.to_string(),
            sticky,
            log.clone(),
            stop.clone(),
        ));
        Roamer {
            name: name.to_string(),
            log,
            stop,
            task,
        }
    }

    pub fn snapshot(&self) -> RoamLog {
        self.log.lock().unwrap().clone()
    }

    pub async fn stop(self) -> RoamLog {
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
        self.log.lock().unwrap().clone()
    }
}

async fn roam(
    api: Api,
    bases: Vec<String>,
    room: i64,
    name: String,
    sticky: bool,
    log: Arc<Mutex<RoamLog>>,
    stop: CancellationToken,
) {
    let mut turn = 0usize;
    let mut sent = 0u64;
    while !stop.is_cancelled() {
        let base = &bases[turn % bases.len()];
        turn += 1;
        let entered = tokio::time::timeout(
            Duration::from_secs(3),
            api.on(base).send(
                "POST",
                &format!("/api/v1/rooms/{room}/enter"),
                Some(json!({})),
            ),
        )
        .await;
        let ws_url = match entered {
            Ok((200, e)) => e["ws_url"].as_str().unwrap_or_default().to_string(),
            _ => {
                tokio::time::sleep(Duration::from_millis(300)).await;
                continue;
            }
        };
        let Ok(Ok((mut ws, _))) = tokio::time::timeout(
            Duration::from_secs(3),
            tokio_tungstenite::connect_async(&ws_url),
        )
        .await
        else {
            tokio::time::sleep(Duration::from_millis(300)).await;
            continue;
        };
        let mut node = None::<i64>;
        let mut me = String::new();
        let mut ping = tokio::time::interval(Duration::from_millis(200));
        let mut chat = tokio::time::interval(Duration::from_millis(500));
        let mut last_frame = Instant::now();
        let code = loop {
            tokio::select! {
                _ = stop.cancelled() => break 1000,
                _ = ping.tick() => {
                    if !sticky && last_frame.elapsed() > SILENCE {
                        break 1006;
                    }
                    let frame = json!({"type": "ping", "nonce": name}).to_string();
                    let _ = tokio::time::timeout(Duration::from_secs(1), ws.send(Message::Text(frame.into()))).await;
                }
                _ = chat.tick(), if node.is_some() => {
                    sent += 1;
                    let frame = json!({"type": "chat", "text": format!("{name}-{sent}")}).to_string();
                    let _ = tokio::time::timeout(Duration::from_secs(1), ws.send(Message::Text(frame.into()))).await;
                }
                msg = ws.next() => match msg {
                    Some(Ok(Message::Text(t))) => {
                        last_frame = Instant::now();
                        let Ok(v) = serde_json::from_str::<Value>(t.as_str()) else { continue };
                        match v["type"].as_str() {
                            Some("welcome") => {
                                node = v["server"]["id"].as_i64();
                                me = v["you"]["id"].as_str().unwrap_or_default().to_string();
                                log.lock().unwrap().current = node;
                            }
                            Some("pong") => {
                                if let Some(n) = node {
                                    log.lock().unwrap().pongs.push((n, Instant::now()));
                                }
                            }
                            Some("chat") if v["message"]["participant_id"] == me.as_str() => {
                                let text = v["message"]["text"].as_str().unwrap_or_default().to_string();
                                log.lock().unwrap().acked.push(text);
                            }
                            Some("error") => {
                                let text = v["message"].as_str().unwrap_or_default().to_string();
                                log.lock().unwrap().errors.push(text);
                            }
                            _ => {}
                        }
                    }
                    Some(Ok(Message::Close(f))) => break f.map(|f| u16::from(f.code)).unwrap_or(1005),
                    Some(Ok(_)) => last_frame = Instant::now(),
                    Some(Err(_)) | None => break 1006,
                },
            }
        };
        {
            let mut l = log.lock().unwrap();
            l.current = None;
            if let Some(n) = node {
                l.closes.push((n, code, Instant::now()));
            }
        }
        if sticky || code == 1000 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The longest time during which two different nodes answered participants of one
/// room (each node's span from its first to its last pong), over all pairs of nodes.
pub fn longest_split(logs: &[RoamLog]) -> Duration {
    let mut spans: std::collections::BTreeMap<i64, (Instant, Instant)> = Default::default();
    for (node, t) in logs.iter().flat_map(|l| l.pongs.iter()) {
        let e = spans.entry(*node).or_insert((*t, *t));
        e.0 = e.0.min(*t);
        e.1 = e.1.max(*t);
    }
    let spans: Vec<_> = spans.values().collect();
    let mut worst = Duration::ZERO;
    for (i, a) in spans.iter().enumerate() {
        for b in &spans[i + 1..] {
            let start = a.0.max(b.0);
            let end = a.1.min(b.1);
            if end > start {
                worst = worst.max(end - start);
            }
        }
    }
    worst
}

/// Chat texts stored for `room`, read straight from the database.
pub async fn stored_chat(db_url: &str, room: i64) -> std::collections::HashSet<String> {
    use sqlx::{Connection, Row};
    let mut conn = sqlx::PgConnection::connect(db_url).await.unwrap();
    sqlx::query("SELECT body FROM chat_messages WHERE room_id = $1")
        .bind(room)
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>("body"))
        .collect()
}

/// Every acknowledged message of `logs` is stored; returns how many were checked.
pub async fn assert_no_acked_chat_lost(db_url: &str, room: i64, logs: &[RoamLog]) -> usize {
    let stored = stored_chat(db_url, room).await;
    let acked: Vec<&String> = logs.iter().flat_map(|l| l.acked.iter()).collect();
    let lost: Vec<_> = acked.iter().filter(|t| !stored.contains(**t)).collect();
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
    acked.len()
}
