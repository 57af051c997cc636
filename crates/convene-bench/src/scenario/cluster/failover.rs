//! Failover: participants on one node, `kill -9` of that node, and each participant
//! entering again as the web UI does — `enter` through a surviving node after a
//! backoff, the WebSocket of the answer, `welcome` — until it is back in its room.

use super::super::harness::node::{self, NodeProc};
use crate::stats::{Percentiles, micros};
use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

const WELCOME_TIMEOUT: Duration = Duration::from_secs(5);

/// The wait before re-entry attempt n (1-based).
#[derive(Debug, Clone, Copy)]
pub enum Backoff {
    /// This many ms (±25 % jitter) before every attempt.
    Fixed(u64),
    /// The web UI's `backoffDelay` (web/js/protocol.js): 0.5 s, 1 s, 2 s … up to 15 s,
    /// ±25 % jitter.
    Web,
}

impl Backoff {
    pub fn parse(text: &str) -> Result<Backoff, String> {
        if text == "web" {
            return Ok(Backoff::Web);
        }
        let ms = text.strip_prefix("fixed:").unwrap_or(text);
        ms.parse()
            .map(Backoff::Fixed)
            .map_err(|_| format!("expected `web` or `fixed:MS`, not {text:?}"))
    }

    fn delay(self, attempt: u32) -> Duration {
        let base = match self {
            Backoff::Fixed(ms) => ms as f64,
            Backoff::Web => {
                (500.0 * 2f64.powi(attempt.saturating_sub(1).min(30) as i32)).min(15_000.0)
            }
        };
        let jitter = 0.75 + rand::thread_rng().r#gen::<f64>() * 0.5;
        Duration::from_secs_f64((base * jitter).min(15_000.0) / 1000.0)
    }

    pub fn describe(self) -> String {
        match self {
            Backoff::Fixed(ms) => format!("fixed {ms} ms ±25 %"),
            Backoff::Web => "web UI (0.5 s, 1 s, 2 s, 4 s … ±25 %)".into(),
        }
    }
}

pub struct Plan {
    pub participants: usize,
    /// Rooms to place (sequentially, so placement spreads them); the participants go
    /// to those of them that landed on the node hosting the most.
    pub candidate_rooms: Vec<i64>,
    pub rooms: usize,
    pub backoff: Backoff,
    pub timeout: Duration,
    pub admin_sid: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FailoverReport {
    pub victim_node: i64,
    pub rooms: usize,
    pub participants: usize,
    pub backoff: String,
    /// Kill to the last participant welcomed again, in seconds.
    pub kill_to_all_back_secs: f64,
    /// Per participant: kill to welcomed again.
    pub back: Percentiles,
    /// Kill to the first `enter` answer naming a surviving node.
    pub first_new_host_secs: f64,
    /// Kill to the connection loss seen by the participant (max over participants).
    pub loss_seen_max_ms: f64,
    pub reconnected: usize,
    pub failed: usize,
    pub messages: Vec<String>,
    /// Re-entry attempts per participant (p50, max).
    pub attempts_p50: u32,
    pub attempts_max: u32,
    /// Rooms → new hosting node.
    pub new_hosts: BTreeMap<i64, i64>,
    /// Rows `GET /rooms/{id}/participants` still showed on the dead node, 2 s after
    /// everyone was back.
    pub ghost_rows: usize,
    /// Rows on live nodes, same moment (should equal `participants`).
    pub live_rows: usize,
}

struct Back {
    lost_at: Instant,
    back_at: Option<Instant>,
    first_new_host_at: Option<Instant>,
    attempts: u32,
    room: i64,
    server: i64,
    error: Option<String>,
}

pub async fn run(
    http: &reqwest::Client,
    nodes: &mut [NodeProc],
    sids: &[String],
    plan: Plan,
) -> anyhow::Result<FailoverReport> {
    let bases: Vec<String> = nodes.iter().map(|n| n.url.clone()).collect();
    // Place the candidate rooms one after the other, so that each placement sees the
    // previous ones.
    let mut by_host: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for (i, room) in plan.candidate_rooms.iter().enumerate() {
        let answer = node::enter(http, &bases[i % bases.len()], &plan.admin_sid, *room).await?;
        by_host.entry(answer.server.id).or_default().push(*room);
    }
    let placed: Vec<String> = by_host
        .iter()
        .map(|(h, r)| format!("node {h}: {}", r.len()))
        .collect();
    eprintln!("failover rooms placed: {}", placed.join(", "));
    let (victim, rooms) = by_host
        .iter()
        .max_by_key(|(id, rooms)| (rooms.len(), -**id))
        .map(|(id, rooms)| {
            (
                *id,
                rooms.iter().take(plan.rooms).copied().collect::<Vec<_>>(),
            )
        })
        .context("no room was placed")?;
    let victim_index = nodes
        .iter()
        .position(|n| n.id == victim)
        .context("the hosting node is not one of ours")?;
    let survivors: Vec<String> = nodes
        .iter()
        .filter(|n| n.id != victim)
        .map(|n| n.url.clone())
        .collect();
    if survivors.is_empty() {
        bail!("failover needs at least two nodes");
    }

    let (joined_tx, mut joined_rx) = mpsc::channel::<anyhow::Result<()>>(plan.participants);
    let (back_tx, mut back_rx) = mpsc::channel::<Back>(plan.participants);
    let (close_tx, close_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    for p in 0..plan.participants {
        let room = rooms[p % rooms.len()];
        let sid = sids[p % sids.len()].clone();
        let first_base = bases[p % bases.len()].clone();
        let home = survivors[p % survivors.len()].clone();
        let (http, joined_tx, back_tx, mut close_rx) = (
            http.clone(),
            joined_tx.clone(),
            back_tx.clone(),
            close_rx.clone(),
        );
        let backoff = plan.backoff;
        tasks.push(tokio::spawn(async move {
            let joined = async {
                let answer = node::enter(&http, &first_base, &sid, room).await?;
                if answer.server.id != victim {
                    bail!("room {room} moved to node {} meanwhile", answer.server.id);
                }
                join_ws(&answer.ws_url).await
            }
            .await;
            let mut ws = match joined {
                Ok((ws, _)) => {
                    let _ = joined_tx.send(Ok(())).await;
                    ws
                }
                Err(e) => {
                    let _ = joined_tx.send(Err(e)).await;
                    return;
                }
            };
            // Hold the connection (reading answers the node's pings) until it breaks.
            while let Some(Ok(m)) = ws.next().await {
                if m.is_close() {
                    break;
                }
            }
            let lost_at = Instant::now();
            let mut back = Back {
                lost_at,
                back_at: None,
                first_new_host_at: None,
                attempts: 0,
                room,
                server: victim,
                error: None,
            };
            let mut ws = loop {
                if lost_at.elapsed() > Duration::from_secs(120) {
                    let _ = back_tx.send(back).await;
                    return;
                }
                back.attempts += 1;
                tokio::time::sleep(backoff.delay(back.attempts)).await;
                let answer = match node::enter(&http, &home, &sid, room).await {
                    Ok(a) => a,
                    Err(e) => {
                        back.error = Some(format!("{e:#}"));
                        continue;
                    }
                };
                if answer.server.id != victim && back.first_new_host_at.is_none() {
                    back.first_new_host_at = Some(Instant::now());
                }
                match join_ws(&answer.ws_url).await {
                    Ok((ws, server)) => {
                        back.back_at = Some(Instant::now());
                        back.server = server;
                        back.error = None;
                        break ws;
                    }
                    Err(e) => back.error = Some(format!("{e:#}")),
                }
            };
            let _ = back_tx.send(back).await;
            loop {
                tokio::select! {
                    m = ws.next() => if !matches!(m, Some(Ok(_))) { return },
                    _ = close_rx.changed() => break,
                }
            }
            let _ = ws.send(Message::Close(None)).await;
            let _ = tokio::time::timeout(Duration::from_secs(5), async {
                while let Some(Ok(_)) = ws.next().await {}
            })
            .await;
        }));
    }
    drop(joined_tx);
    let mut joined = 0;
    while joined < plan.participants {
        match tokio::time::timeout(Duration::from_secs(60), joined_rx.recv()).await {
            Ok(Some(r)) => r.context("a failover participant could not join")?,
            _ => bail!("only {joined} failover participants joined"),
        }
        joined += 1;
    }
    eprintln!(
        "{joined} participants in {} rooms on node {victim}; killing it in 2 s",
        rooms.len()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let killed_at = Instant::now();
    nodes[victim_index].kill9().await;
    eprintln!("node {victim} killed (kill -9)");

    let mut backs = Vec::new();
    let deadline = killed_at + plan.timeout;
    while backs.len() < joined {
        match tokio::time::timeout_at(deadline, back_rx.recv()).await {
            Ok(Some(b)) => backs.push(b),
            _ => break,
        }
    }
    let mut report = FailoverReport {
        victim_node: victim,
        rooms: rooms.len(),
        participants: joined,
        backoff: plan.backoff.describe(),
        ..FailoverReport::default()
    };
    let mut back_us = Vec::new();
    let mut attempts = Vec::new();
    for b in &backs {
        let lost_ms = b.lost_at.saturating_duration_since(killed_at).as_secs_f64() * 1000.0;
        report.loss_seen_max_ms = report.loss_seen_max_ms.max(lost_ms);
        match b.back_at {
            Some(t) => {
                back_us.push(micros(t.saturating_duration_since(killed_at)));
                report.reconnected += 1;
                report.new_hosts.insert(b.room, b.server);
            }
            None => {
                report.failed += 1;
                if let Some(e) = &b.error
                    && report.messages.len() < 5
                {
                    report.messages.push(e.clone());
                }
            }
        }
        attempts.push(b.attempts);
    }
    report.failed += joined - backs.len();
    report.back = Percentiles::from_micros(&back_us);
    report.kill_to_all_back_secs = report.back.max_ms / 1000.0;
    report.first_new_host_secs = backs
        .iter()
        .filter_map(|b| b.first_new_host_at)
        .min()
        .map_or(0.0, |t| {
            t.saturating_duration_since(killed_at).as_secs_f64()
        });
    attempts.sort_unstable();
    report.attempts_p50 = attempts.get(attempts.len() / 2).copied().unwrap_or(0);
    report.attempts_max = attempts.last().copied().unwrap_or(0);

    // Are the dead node's connection rows gone?
    tokio::time::sleep(Duration::from_secs(2)).await;
    for room in &rooms {
        let rows: Vec<Value> = http
            .get(format!("{}/api/v1/rooms/{room}/participants", survivors[0]))
            .bearer_auth(&plan.admin_sid)
            .send()
            .await?
            .json()
            .await?;
        for r in rows {
            if r["server"]["id"].as_i64() == Some(victim) {
                report.ghost_rows += 1;
            } else {
                report.live_rows += 1;
            }
        }
    }
    let _ = close_tx.send(true);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
    }
    Ok(report)
}

/// Opens a room WebSocket and reads up to `welcome`; returns the hosting node's id.
async fn join_ws(url: &str) -> anyhow::Result<(Ws, i64)> {
    let (mut ws, _) = tokio::time::timeout(WELCOME_TIMEOUT, connect_async(url))
        .await
        .context("WebSocket connect timed out")?
        .context("WebSocket connect")?;
    let welcome = tokio::time::timeout(WELCOME_TIMEOUT, async {
        while let Some(m) = ws.next().await {
            match m? {
                Message::Text(t) => return anyhow::Ok(serde_json::from_str::<Value>(t.as_str())?),
                Message::Close(f) => bail!("closed before welcome: {f:?}"),
                _ => {}
            }
        }
        bail!("connection ended before welcome")
    })
    .await
    .context("no welcome in time")??;
    if welcome["type"] != "welcome" {
        bail!("first frame is not welcome: {:.200}", welcome.to_string());
    }
    Ok((ws, welcome["server"]["id"].as_i64().unwrap_or(0)))
}
