//! Placement latency: many signed-in clients calling `POST /api/v1/rooms/{id}/enter`
//! on every node, closed loop (each client sends its next request when the last one
//! is answered) or open loop at a fixed rate.

use super::super::harness::node;
use crate::stats::micros;
use rand::Rng;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::Instant;

/// Which rooms a phase enters, how many requests, for how long.
pub struct Plan {
    /// First entries: request i enters `rooms[i]`, each once. Otherwise every
    /// request picks one of `rooms` at random.
    pub first: bool,
    pub rooms: Vec<i64>,
    pub concurrency: usize,
    /// Stop after this many requests …
    pub requests: Option<usize>,
    /// … or after this long.
    pub duration: Option<Duration>,
    /// Open loop: request i is due at start + i / rate (latency still counts from
    /// when it is sent; how many were sent late is reported).
    pub rate: Option<f64>,
}

#[derive(Default)]
pub struct Outcome {
    pub latencies_us: Vec<u64>,
    /// Per entry node (index into the node list).
    pub by_node_us: Vec<Vec<u64>>,
    pub errors: usize,
    pub messages: Vec<String>,
    /// Hosting node id → answers naming it.
    pub hosts: BTreeMap<i64, usize>,
    pub wall: Duration,
    /// Open loop: requests sent more than 5 ms after they were due (every client
    /// was busy, or the bench was).
    pub late_starts: usize,
}

/// Runs one phase against the nodes at `bases`, with the sessions `sids` (dealt
/// round robin), and returns what it measured.
pub async fn drive(
    http: &reqwest::Client,
    bases: &[String],
    sids: &[String],
    plan: Plan,
) -> Outcome {
    let total = if plan.first {
        plan.rooms.len()
    } else {
        plan.requests.unwrap_or(usize::MAX)
    };
    let next = Arc::new(AtomicUsize::new(0));
    let plan = Arc::new(plan);
    let bases: Arc<Vec<String>> = Arc::new(bases.to_vec());
    let sids: Arc<Vec<String>> = Arc::new(sids.to_vec());
    let start = Instant::now();
    let deadline = plan.duration.map(|d| start + d);
    let mut tasks = Vec::new();
    for _ in 0..plan.concurrency.max(1) {
        let (http, next, plan, bases, sids) = (
            http.clone(),
            next.clone(),
            plan.clone(),
            bases.clone(),
            sids.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut out = Outcome {
                by_node_us: vec![Vec::new(); bases.len()],
                ..Outcome::default()
            };
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                if let Some(rate) = plan.rate {
                    let due = start + Duration::from_secs_f64(i as f64 / rate);
                    if deadline.is_some_and(|d| due >= d) {
                        break;
                    }
                    tokio::time::sleep_until(due).await;
                    if due.elapsed() > Duration::from_millis(5) {
                        out.late_starts += 1;
                    }
                }
                let sent = Instant::now();
                let room = if plan.first {
                    plan.rooms[i]
                } else {
                    plan.rooms[rand::thread_rng().gen_range(0..plan.rooms.len())]
                };
                let n = i % bases.len();
                let sid = &sids[i % sids.len()];
                match node::enter(&http, &bases[n], sid, room).await {
                    Ok(answer) => {
                        let us = micros(sent.elapsed());
                        out.latencies_us.push(us);
                        out.by_node_us[n].push(us);
                        *out.hosts.entry(answer.server.id).or_default() += 1;
                    }
                    Err(e) => {
                        out.errors += 1;
                        if out.messages.len() < 3 {
                            out.messages.push(format!("{e:#}"));
                        }
                    }
                }
            }
            out
        }));
    }
    let mut all = Outcome {
        by_node_us: vec![Vec::new(); bases.len()],
        ..Outcome::default()
    };
    for t in tasks {
        let Ok(out) = t.await else {
            all.errors += 1;
            continue;
        };
        all.latencies_us.extend(out.latencies_us);
        for (a, b) in all.by_node_us.iter_mut().zip(out.by_node_us) {
            a.extend(b);
        }
        all.errors += out.errors;
        all.late_starts += out.late_starts;
        for m in out.messages {
            if all.messages.len() < 5 && !all.messages.contains(&m) {
                all.messages.push(m);
            }
        }
        for (k, v) in out.hosts {
            *all.hosts.entry(k).or_default() += v;
        }
    }
    all.wall = start.elapsed();
    all
}
