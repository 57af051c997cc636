//! `media`: simulated WebRTC participants (str0m on loopback UDP, signalling over the
//! room WebSocket) in R rooms of P publishers and S subscribers, against one node.
//! Publishers send 50 audio frames/s (~100 bytes) and 30 video frames/s (~1,000
//! bytes, one RTP packet each) stamped with their send time; the bench measures the
//! node's forwarding rate (its `/metrics`), its CPU (`/proc/PID/stat`), and the
//! latency the forwarding adds (receive − send, one machine, one clock).
//!
//! The peers run on `--client-threads` threads, each a current-thread runtime, and
//! compete with the node for the machine's cores; their CPU is reported apart.
//! See `docs/benchmarks-cluster-media.md`.

mod participant;
mod peer;

use super::harness::cpu::{CpuReport, Meter, Source};
use super::harness::node::{self, NodeProc, NodeSpec};
use super::harness::pg::{free_port, fresh_dir};
use super::harness::{accounts, rooms, run_prefix};
use crate::client::Api;
use crate::report::print_json;
use crate::stats::Percentiles;
use anyhow::{Context, bail};
use clap::Args;
use participant::{Config, Outcome, Shared};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

const FORWARDED: &str = "convene_media_frames_forwarded_total";

#[derive(Debug, Clone, Args)]
pub struct MediaCmd {
    /// A running node (default: start `--convene-bin` on a fresh SQLite data directory).
    #[arg(long)]
    pub url: Option<String>,
    /// The running node's pid, for its CPU (with --url).
    #[arg(long)]
    pub pid: Option<u32>,
    #[arg(long, default_value = "target/release/convene")]
    pub convene_bin: PathBuf,
    /// The administrator's password (CONVENE_ADMIN_PASSWORD of a node started here).
    #[arg(long, default_value = "bench-admin-password")]
    pub admin_password: String,
    /// Rooms.
    #[arg(long, short = 'r', default_value_t = 2)]
    pub rooms: usize,
    /// Publishers per room (each also receives the other publishers).
    #[arg(long, short = 'p', default_value_t = 1)]
    pub publishers: usize,
    /// Subscribers per room.
    #[arg(long, short = 's', default_value_t = 4)]
    pub subscribers: usize,
    /// Seconds measured, after every participant receives every stream.
    #[arg(long, default_value_t = 20)]
    pub duration_secs: u64,
    /// Longest wait for every stream to arrive everywhere before measuring anyway.
    #[arg(long, default_value_t = 20)]
    pub warmup_timeout_secs: u64,
    /// Threads running the simulated peers (one current-thread runtime each).
    #[arg(long, default_value_t = 1)]
    pub client_threads: usize,
    #[arg(long, default_value_t = 100)]
    pub audio_bytes: usize,
    #[arg(long, default_value_t = 1000)]
    pub video_bytes: usize,
    #[arg(long, default_value_t = 50)]
    pub audio_fps: u32,
    #[arg(long, default_value_t = 30)]
    pub video_fps: u32,
    /// Accounts the participants share.
    #[arg(long, default_value_t = 10)]
    pub users: usize,
    /// The log filter of a node started here.
    #[arg(long, default_value = "info")]
    pub server_log: String,
    /// Keep the data directory of a node started here.
    #[arg(long)]
    pub keep: bool,
    /// Print the results as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
struct MediaReport {
    convene_version: String,
    machine: String,
    date: String,
    rooms: usize,
    publishers: usize,
    subscribers: usize,
    participants: usize,
    client_threads: usize,
    warmup_secs: f64,
    ready: usize,
    window_secs: f64,
    /// Node counter delta over the window, per second.
    forwarded_per_sec: f64,
    /// What the load should make: R × P × (P + S − 1) × (audio + video fps).
    expected_per_sec: f64,
    /// Frames sent in the window, received at the participants, per second.
    received_per_sec: f64,
    received_audio: u64,
    received_video: u64,
    /// Datagrams arriving at the receiving peers in the window, per second (RTP and RTCP).
    datagrams_per_sec: f64,
    /// Frames published in the window × (room size − 1).
    owed: u64,
    /// Frames missing from sequence gaps at the receivers.
    missing: u64,
    latency_app: Percentiles,
    latency_kernel: Percentiles,
    cpu: CpuReport,
    node_percent_of_core: f64,
    bench_percent_of_core: f64,
    forwarded_per_cpu_sec: f64,
    /// Bench CPU ÷ node CPU.
    bench_to_node_cpu: f64,
    /// Datagrams the receiving connections sent to the node (RTCP), per second.
    feedback_per_sec: f64,
    udp_rcvbuf_errors: u64,
    /// Drops on the node's media socket during the window (and since it opened).
    node_socket_drops: Option<u64>,
    node_socket_drops_total: Option<u64>,
    late_writes: u64,
    max_late_ms: f64,
    send_drops: u64,
    skipped: u64,
    media_closed: u64,
    errors: Vec<String>,
}

pub async fn run(cmd: MediaCmd) -> anyhow::Result<()> {
    let per_room = cmd.publishers + cmd.subscribers;
    if cmd.rooms == 0 || cmd.publishers == 0 || per_room < 2 || cmd.client_threads == 0 {
        bail!("need --rooms ≥ 1, --publishers ≥ 1, at least 2 per room, --client-threads ≥ 1");
    }
    if cmd.audio_fps == 0 || cmd.video_fps == 0 {
        bail!("--audio-fps and --video-fps must be positive");
    }
    crate::procfs::warn_if_few_files(cmd.rooms * per_room * 4, "the peers");
    let mut started: Option<(NodeProc, PathBuf)> = None;
    let http = node::http_client(16)?;
    let (url, pid, version) = match &cmd.url {
        Some(url) => {
            crate::client::check_base_url(url)?;
            (
                url.trim_end_matches('/').to_string(),
                cmd.pid,
                String::new(),
            )
        }
        None => {
            let bin = cmd
                .convene_bin
                .canonicalize()
                .with_context(|| format!("no convene binary at {}", cmd.convene_bin.display()))?;
            let dir = fresh_dir("media")?;
            let mut n = NodeProc::spawn(&NodeSpec {
                bin: &bin,
                node_id: None,
                port: free_port()?,
                data_dir: &dir,
                database_url: None,
                storage: None,
                admin_password: &cmd.admin_password,
                log_filter: &cmd.server_log,
                env: &[],
            })?;
            let ready = n.wait_ready(&http).await;
            let (url, pid) = (n.url.clone(), n.pid);
            started = Some((n, dir));
            ready?;
            (url, Some(pid), node::version(&bin).await)
        }
    };
    let outcome = measure(&cmd, &http, &url, pid).await;
    if let Some((mut n, dir)) = started {
        n.stop(Duration::from_secs(15)).await;
        if outcome.is_err() || cmd.keep {
            eprintln!("node log: {}", n.log.display());
        } else {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    let mut report = outcome?;
    report.convene_version = version;
    if cmd.json {
        print_json(&report)
    } else {
        print_report(&report);
        Ok(())
    }
}

/// Threads with a current-thread runtime each, for the peers.
struct ClientThreads {
    handles: Vec<tokio::runtime::Handle>,
    stops: Vec<tokio::sync::oneshot::Sender<()>>,
    joins: Vec<std::thread::JoinHandle<()>>,
}

impl ClientThreads {
    fn start(n: usize) -> anyhow::Result<ClientThreads> {
        let mut t = ClientThreads {
            handles: Vec::new(),
            stops: Vec::new(),
            joins: Vec::new(),
        };
        for i in 0..n {
            let (handle_tx, handle_rx) = std::sync::mpsc::channel();
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            t.joins.push(
                std::thread::Builder::new()
                    .name(format!("media-peers-{i}"))
                    .spawn(move || {
                        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()
                        else {
                            return;
                        };
                        let _ = handle_tx.send(rt.handle().clone());
                        rt.block_on(async {
                            let _ = stop_rx.await;
                        });
                    })?,
            );
            t.handles
                .push(handle_rx.recv().context("a peer thread could not start")?);
            t.stops.push(stop_tx);
        }
        Ok(t)
    }

    fn stop(self) {
        for s in self.stops {
            let _ = s.send(());
        }
        for j in self.joins {
            let _ = j.join();
        }
    }
}

async fn measure(
    cmd: &MediaCmd,
    http: &reqwest::Client,
    url: &str,
    pid: Option<u32>,
) -> anyhow::Result<MediaReport> {
    let api = Api::new(url, 16)?;
    let admin = api.login("admin", &cmd.admin_password).await?;
    let prefix = run_prefix("md");
    let users = cmd.users.max(1);
    let sids = accounts(
        std::slice::from_ref(&api),
        &admin,
        &prefix,
        "bench-user-password",
        users,
        2,
    )
    .await?;
    let per_room = cmd.publishers + cmd.subscribers;
    let room_ids = rooms(&api, &admin, &prefix, 0, cmd.rooms, per_room as i64 + 2).await?;
    let threads = ClientThreads::start(cmd.client_threads)?;
    let shared = Arc::new(Shared::new());
    let (publish_tx, publish_rx) = watch::channel(false);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let mut n = 0usize;
    for (r, room) in room_ids.iter().enumerate() {
        for j in 0..per_room {
            let answer = node::enter(http, url, &sids[n % sids.len()], *room).await?;
            let publisher = (j < cmd.publishers).then_some((r * cmd.publishers + j) as u32);
            let others = cmd.publishers - usize::from(publisher.is_some());
            let cfg = Config {
                ws_url: answer.ws_url,
                publisher,
                expected_streams: others * 2,
                audio_bytes: cmd.audio_bytes,
                video_bytes: cmd.video_bytes,
                audio_interval: Duration::from_secs_f64(1.0 / f64::from(cmd.audio_fps)),
                video_interval: Duration::from_secs_f64(1.0 / f64::from(cmd.video_fps)),
            };
            let handle = &threads.handles[n % threads.handles.len()];
            tasks.push(handle.spawn(participant::run(
                cfg,
                shared.clone(),
                publish_rx.clone(),
                stop_rx.clone(),
            )));
            n += 1;
        }
    }
    let total = n;
    let result = async {
        wait_for(&shared.welcomed, total, Duration::from_secs(30)).await;
        let welcomed = shared.welcomed.load(Ordering::Relaxed);
        if welcomed < total {
            bail!("only {welcomed} of {total} participants were welcomed");
        }
        eprintln!("{total} participants in {} rooms; publishing…", cmd.rooms);
        let warm = Instant::now();
        let _ = publish_tx.send(true);
        wait_for(
            &shared.ready,
            total,
            Duration::from_secs(cmd.warmup_timeout_secs),
        )
        .await;
        let warmup_secs = warm.elapsed().as_secs_f64();
        let ready = shared.ready.load(Ordering::Relaxed);
        eprintln!(
            "{ready}/{total} participants receiving every stream after {warmup_secs:.1} s; \
             measuring for {} s…",
            cmd.duration_secs
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        let mut meter = Meter::default();
        if let Some(pid) = pid {
            meter.add("node", Source::Process(pid));
        }
        meter.add("bench", Source::Process(std::process::id()));
        let port = shared.media_port.load(Ordering::Relaxed);
        let drops_before = udp_socket_drops(port);
        let udp_before = udp_counter("RcvbufErrors");
        let fwd_before = node::metric(http, url, FORWARDED).await?;
        let cpu_before = meter.sample();
        let t0 = Instant::now();
        shared.window_start.store(peer::now_ns(), Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(cmd.duration_secs)).await;
        shared.window_end.store(peer::now_ns(), Ordering::Relaxed);
        let window = t0.elapsed().as_secs_f64();
        let cpu_after = meter.sample();
        let fwd_after = node::metric(http, url, FORWARDED).await?;
        let udp_after = udp_counter("RcvbufErrors");
        let drops_after = udp_socket_drops(port);
        // Let the last frames of the window arrive.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut report = MediaReport {
            machine: node::machine_facts(),
            date: now_utc(),
            rooms: cmd.rooms,
            publishers: cmd.publishers,
            subscribers: cmd.subscribers,
            participants: total,
            client_threads: cmd.client_threads,
            warmup_secs,
            ready,
            window_secs: window,
            forwarded_per_sec: (fwd_after - fwd_before) / window,
            expected_per_sec: (cmd.rooms * cmd.publishers * (per_room - 1)) as f64
                * f64::from(cmd.audio_fps + cmd.video_fps),
            cpu: meter.report(&cpu_before, &cpu_after),
            udp_rcvbuf_errors: udp_after.saturating_sub(udp_before),
            node_socket_drops: drops_before
                .zip(drops_after)
                .map(|(a, b)| b.saturating_sub(a)),
            node_socket_drops_total: drops_after,
            ..MediaReport::default()
        };
        report.node_percent_of_core = report.cpu.get("node").map_or(0.0, |c| c.percent_of_core);
        report.bench_percent_of_core = report.cpu.get("bench").map_or(0.0, |c| c.percent_of_core);
        if let Some(node_cpu) = report.cpu.get("node").filter(|c| c.cpu_secs > 0.0) {
            report.forwarded_per_cpu_sec = (fwd_after - fwd_before) / node_cpu.cpu_secs;
            report.bench_to_node_cpu =
                (report.bench_percent_of_core / node_cpu.percent_of_core * 100.0).round() / 100.0;
        }
        anyhow::Ok(report)
    }
    .await;
    let _ = stop_tx.send(true);
    let mut outcomes = Vec::new();
    for t in tasks {
        if let Ok(Ok(o)) = tokio::time::timeout(Duration::from_secs(10), t).await {
            outcomes.push(o);
        }
    }
    threads.stop();
    let mut report = result?;
    summarise(&mut report, &outcomes, per_room);
    Ok(report)
}

fn summarise(report: &mut MediaReport, outcomes: &[Outcome], per_room: usize) {
    let mut app = Vec::new();
    let mut kernel = Vec::new();
    let mut sent = 0;
    let mut datagrams = 0;
    let mut feedback = 0;
    for o in outcomes {
        feedback += o.feedback_in_window;
        report.late_writes += o.late_writes;
        report.max_late_ms = report.max_late_ms.max(o.max_late_us as f64 / 1000.0);
        app.extend_from_slice(&o.app_us);
        kernel.extend_from_slice(&o.kernel_us);
        report.received_audio += o.audio_in_window;
        report.received_video += o.video_in_window;
        datagrams += o.datagrams_in_window;
        sent += o.sent_in_window;
        report.missing += o
            .streams
            .values()
            .map(|s| (s.max_seq - s.min_seq + 1).saturating_sub(s.frames))
            .sum::<u64>();
        report.send_drops += o.send_drops;
        report.skipped += o.skipped;
        report.media_closed += o.media_closed;
        for e in &o.errors {
            if report.errors.len() < 8 && !report.errors.contains(e) {
                report.errors.push(e.clone());
            }
        }
    }
    let lost = report.participants.saturating_sub(outcomes.len());
    if lost > 0 {
        report
            .errors
            .push(format!("{lost} participant tasks did not report"));
    }
    let w = report.window_secs.max(1e-9);
    report.received_per_sec = (report.received_audio + report.received_video) as f64 / w;
    report.datagrams_per_sec = datagrams as f64 / w;
    report.feedback_per_sec = feedback as f64 / w;
    report.owed = sent * (per_room as u64 - 1);
    report.latency_app = Percentiles::from_micros(&app);
    report.latency_kernel = Percentiles::from_micros(&kernel);
}

async fn wait_for(counter: &std::sync::atomic::AtomicUsize, target: usize, limit: Duration) {
    let deadline = Instant::now() + limit;
    while counter.load(Ordering::Relaxed) < target && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A counter of the `Udp:` lines of `/proc/net/snmp` (the whole machine).
fn udp_counter(name: &str) -> u64 {
    let Ok(text) = std::fs::read_to_string("/proc/net/snmp") else {
        return 0;
    };
    let mut udp = text.lines().filter(|l| l.starts_with("Udp:"));
    let (Some(header), Some(values)) = (udp.next(), udp.next()) else {
        return 0;
    };
    header
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(h, _)| *h == name)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

/// Datagrams the kernel dropped on the UDP socket bound to `port` (last column of
/// `/proc/net/udp`), since the socket was opened.
fn udp_socket_drops(port: u16) -> Option<u64> {
    if port == 0 {
        return None;
    }
    let text = std::fs::read_to_string("/proc/net/udp").ok()?;
    let suffix = format!(":{port:04X}");
    text.lines().skip(1).find_map(|l| {
        let mut f = l.split_whitespace();
        let local = f.nth(1)?;
        if !local.ends_with(&suffix) {
            return None;
        }
        l.split_whitespace().last()?.parse().ok()
    })
}

fn now_utc() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M:%S UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn print_report(r: &MediaReport) {
    println!("{} — {} — {}", r.convene_version, r.machine, r.date);
    println!(
        "media: {} rooms × ({} publishers + {} subscribers) = {} participants, peers on {} thread(s)",
        r.rooms, r.publishers, r.subscribers, r.participants, r.client_threads
    );
    println!(
        "  warm-up {:.1} s ({}/{} receiving every stream); window {:.1} s",
        r.warmup_secs, r.ready, r.participants, r.window_secs
    );
    println!(
        "  forwarded by the node: {:.0}/s (the load owes {:.0}/s)",
        r.forwarded_per_sec, r.expected_per_sec
    );
    println!(
        "  received by the peers: {:.0} frames/s ({} audio, {} video; {} owed, {} missing in sequence), {:.0} datagrams/s",
        r.received_per_sec,
        r.received_audio,
        r.received_video,
        r.owed,
        r.missing,
        r.datagrams_per_sec
    );
    println!(
        "  added latency (frame handed over by str0m): {}",
        r.latency_app.line()
    );
    println!(
        "  added latency (datagram in the kernel):     {}",
        r.latency_kernel.line()
    );
    println!("  CPU: {}", r.cpu.line());
    println!(
        "  node: {:.1} % of one core, {:.0} frames forwarded per CPU-second; bench/node CPU {:.2}",
        r.node_percent_of_core, r.forwarded_per_cpu_sec, r.bench_to_node_cpu
    );
    println!(
        "  RTCP from the receiving connections to the node: {:.0} datagrams/s",
        r.feedback_per_sec
    );
    let drops = |d: Option<u64>| d.map_or_else(|| "?".to_string(), |d| d.to_string());
    println!(
        "  UDP receive-buffer drops in the window: machine {}, node's socket {} ({} since it opened)",
        r.udp_rcvbuf_errors,
        drops(r.node_socket_drops),
        drops(r.node_socket_drops_total)
    );
    println!(
        "  bench: frames written > 5 ms late {} (max {:.1} ms), skipped {}, send drops {}, media_closed {}",
        r.late_writes, r.max_late_ms, r.skipped, r.send_drops, r.media_closed
    );
    for e in &r.errors {
        println!("  problem: {e}");
    }
}
