//! `cluster`: a throwaway PostgreSQL and several `convene serve` nodes on loopback
//! ports sharing it and one storage directory; then
//!
//! * **placement latency** — signed-in clients calling `POST /api/v1/rooms/{id}/enter`
//!   spread over every node: first entries (which assign a room to a node) and
//!   entries to rooms already placed, reported apart, with the CPU of every process
//!   and the statements that took the database's time;
//! * **failover** — participants on one node, `kill -9` of it, and the time until
//!   every participant is back in its room on another node.
//!
//! See `docs/benchmarks-cluster-media.md`.

mod failover;
mod placement;

use super::harness::cpu::{CpuReport, Meter, Source};
use super::harness::node::{self, NodeProc, NodeSpec};
use super::harness::pg::{PgServer, StatementCost, free_port, fresh_dir};
use super::harness::{accounts, rooms, run_prefix};
use crate::client::Api;
use crate::report::print_json;
use crate::stats::Percentiles;
use anyhow::{Context, bail};
use clap::Args;
use failover::{Backoff, FailoverReport};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

const DB: &str = "convene_bench";

#[derive(Debug, Clone, Args)]
pub struct ClusterCmd {
    /// The `convene` binary to start.
    #[arg(long, default_value = "target/release/convene")]
    pub convene_bin: PathBuf,
    /// Nodes to start (ids 1..=N).
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// The first administrator's password.
    #[arg(long, default_value = "bench-admin-password")]
    pub admin_password: String,
    /// Accounts to create and sign in once (clients share their sessions).
    #[arg(long, default_value_t = 20)]
    pub users: usize,
    /// Concurrent clients; a comma-separated list runs the placement phases once per value.
    #[arg(long, default_value = "100", value_delimiter = ',')]
    pub concurrency: Vec<usize>,
    /// Fresh rooms entered once each in the first-entry phase (per concurrency value).
    #[arg(long, default_value_t = 1000)]
    pub first_rooms: usize,
    /// Seconds of entries to rooms already placed (per concurrency value) …
    #[arg(long, default_value_t = 10)]
    pub duration_secs: u64,
    /// … or this many requests instead.
    #[arg(long)]
    pub requests: Option<usize>,
    /// Open loop: send this many requests per second in all (latency counts from
    /// when each request was due). Default: closed loop, as fast as answered.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Participants put on one node and moved by the failover.
    #[arg(long, default_value_t = 60)]
    pub failover_participants: usize,
    /// Rooms (hosted by that node) the participants are spread over.
    #[arg(long, default_value_t = 6)]
    pub failover_rooms: usize,
    /// Wait before each re-entry: `fixed:MS` (±25 %) or `web` (the web UI's
    /// exponential backoff from 0.5 s).
    #[arg(long, default_value = "fixed:250", value_parser = Backoff::parse)]
    pub backoff: Backoff,
    #[arg(long)]
    pub skip_placement: bool,
    #[arg(long)]
    pub skip_failover: bool,
    /// Seconds an empty room stays assigned (CONVENE_ROOM_GRACE of the nodes); long,
    /// so that rooms placed by the first-entry phase stay placed for the next.
    #[arg(long, default_value_t = 600)]
    pub room_grace: u64,
    /// The nodes' log filter.
    #[arg(long, default_value = "info")]
    pub server_log: String,
    /// Keep the nodes' data directories and logs.
    #[arg(long)]
    pub keep: bool,
    /// Print the results as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Serialize)]
struct PhaseReport {
    phase: String,
    concurrency: usize,
    open_loop_rate: Option<f64>,
    requests: usize,
    errors: usize,
    messages: Vec<String>,
    wall_secs: f64,
    per_sec: f64,
    latency: Percentiles,
    /// Latency by the node the request went to.
    by_entry_node: Vec<Percentiles>,
    /// Hosting node id → answers naming it.
    hosts: BTreeMap<i64, usize>,
    late_starts: usize,
    cpu: CpuReport,
    /// Connections of the nodes to the database at the end of the phase.
    db_connections: Option<usize>,
    /// Database statements by execution time (pg_stat_statements), calls per request.
    statements: Vec<StatementCost>,
}

#[derive(Debug, Clone, Serialize)]
struct ClusterReport {
    convene_version: String,
    machine: String,
    date: String,
    nodes: usize,
    users: usize,
    setup_secs: f64,
    phases: Vec<PhaseReport>,
    failover: Option<FailoverReport>,
}

pub async fn run(cmd: ClusterCmd) -> anyhow::Result<()> {
    if cmd.nodes < 2 && !cmd.skip_failover {
        bail!("--nodes must be at least 2 for the failover (or give --skip-failover)");
    }
    if cmd.nodes == 0 || cmd.users == 0 || cmd.concurrency.contains(&0) {
        bail!("--nodes, --users and --concurrency must be positive");
    }
    let bin = cmd.convene_bin.canonicalize().with_context(|| {
        format!(
            "no convene binary at {} (cargo build --release -p convene)",
            cmd.convene_bin.display()
        )
    })?;
    crate::procfs::warn_if_few_files(
        cmd.concurrency.iter().max().copied().unwrap_or(0) * 2 + cmd.failover_participants * 2,
        "the clients and the nodes",
    );
    let mut pg = PgServer::start()?;
    eprintln!("PostgreSQL on 127.0.0.1:{} (pid {:?})", pg.port, pg.pid());
    let db_url = pg.create_database(DB)?;
    let storage = fresh_dir("storage")?;
    let mut nodes: Vec<NodeProc> = Vec::new();
    let mut dirs = vec![storage.clone()];
    let env = vec![("CONVENE_ROOM_GRACE".to_string(), cmd.room_grace.to_string())];
    let outcome = async {
        for id in 1..=cmd.nodes {
            let dir = fresh_dir(&format!("node{id}"))?;
            dirs.push(dir.clone());
            nodes.push(NodeProc::spawn(&NodeSpec {
                bin: &bin,
                node_id: Some(id as i64),
                port: free_port()?,
                data_dir: &dir,
                database_url: Some(&db_url),
                storage: Some(&storage),
                admin_password: &cmd.admin_password,
                log_filter: &cmd.server_log,
                env: &env,
            })?);
        }
        let max_conc = cmd.concurrency.iter().max().copied().unwrap_or(1);
        let http = node::http_client(max_conc + cmd.failover_participants + 8)?;
        for n in nodes.iter_mut() {
            n.wait_ready(&http).await?;
        }
        measure(&cmd, &bin, &pg, &http, &mut nodes).await
    }
    .await;
    let stops = nodes.iter_mut().map(|n| n.stop(Duration::from_secs(15)));
    futures_util::future::join_all(stops).await;
    let failed = outcome.is_err();
    if failed || cmd.keep {
        for n in &nodes {
            eprintln!("node {} log: {}", n.id, n.log.display());
        }
        eprintln!("PostgreSQL log: {}", pg.log_path().display());
        pg.stop();
    } else {
        pg.remove();
        for d in dirs {
            let _ = std::fs::remove_dir_all(d);
        }
    }
    let report = outcome?;
    if cmd.json {
        print_json(&report)
    } else {
        print_report(&report);
        Ok(())
    }
}

async fn measure(
    cmd: &ClusterCmd,
    bin: &std::path::Path,
    pg: &PgServer,
    http: &reqwest::Client,
    nodes: &mut [NodeProc],
) -> anyhow::Result<ClusterReport> {
    let setup_started = std::time::Instant::now();
    let apis: Vec<Api> = nodes
        .iter()
        .map(|n| Api::new(&n.url, 16))
        .collect::<anyhow::Result<_>>()?;
    let admin = apis[0].login("admin", &cmd.admin_password).await?;
    let prefix = run_prefix("cl");
    // One sign-in at a time per node: the cluster counts sign-ins in flight per
    // address, and refuses (429) the sixth at once from 127.0.0.1.
    let sids = accounts(&apis, &admin, &prefix, "bench-user-password", cmd.users, 1).await?;
    let mut meter = Meter::default();
    for n in nodes.iter() {
        meter.add(format!("node-{}", n.id), Source::Process(n.pid));
    }
    if let Some(pid) = pg.pid() {
        meter.add("postgres", Source::Tree(pid));
    }
    meter.add("bench", Source::Process(std::process::id()));
    let bases: Vec<String> = nodes.iter().map(|n| n.url.clone()).collect();
    let mut report = ClusterReport {
        convene_version: node::version(bin).await,
        machine: node::machine_facts(),
        date: now_utc(),
        nodes: nodes.len(),
        users: cmd.users,
        setup_secs: setup_started.elapsed().as_secs_f64(),
        phases: Vec::new(),
        failover: None,
    };
    let mut next_room = 0;
    if !cmd.skip_placement {
        // Rooms for an unmeasured warm-up before each concurrency level, so that the
        // nodes' database pools have grown to what the level needs.
        let warm = rooms(&apis[0], &admin, &prefix, next_room, 50, 50).await?;
        next_room += warm.len();
        for &concurrency in &cmd.concurrency {
            let ids = rooms(&apis[0], &admin, &prefix, next_room, cmd.first_rooms, 50).await?;
            next_room += cmd.first_rooms;
            let warm_up = placement::Plan {
                first: false,
                rooms: warm.clone(),
                concurrency,
                requests: None,
                duration: Some(Duration::from_secs(2)),
                rate: None,
            };
            placement::drive(http, &bases, &sids, warm_up).await;
            for first in [true, false] {
                let plan = placement::Plan {
                    first,
                    rooms: ids.clone(),
                    concurrency,
                    requests: cmd.requests,
                    duration: (!first && cmd.requests.is_none())
                        .then(|| Duration::from_secs(cmd.duration_secs)),
                    rate: cmd.rate,
                };
                let name = if first { "first entry" } else { "placed room" };
                eprintln!("placement: {name}, {concurrency} concurrent…");
                pg.reset_statements(DB);
                let before = meter.sample();
                let out = placement::drive(http, &bases, &sids, plan).await;
                let after = meter.sample();
                let backends = pg
                    .psql(
                        DB,
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()",
                    )
                    .ok()
                    .and_then(|t| t.trim().parse::<usize>().ok())
                    .map(|n| n.saturating_sub(1));
                let n = out.latencies_us.len();
                let mut statements = pg.top_statements(DB, 8);
                for s in &mut statements {
                    s.calls_per_request = s.calls as f64 / (n + out.errors).max(1) as f64;
                }
                report.phases.push(PhaseReport {
                    phase: name.into(),
                    concurrency,
                    open_loop_rate: cmd.rate,
                    requests: n,
                    errors: out.errors,
                    messages: out.messages,
                    wall_secs: out.wall.as_secs_f64(),
                    per_sec: n as f64 / out.wall.as_secs_f64().max(1e-9),
                    latency: Percentiles::from_micros(&out.latencies_us),
                    by_entry_node: out
                        .by_node_us
                        .iter()
                        .map(|v| Percentiles::from_micros(v))
                        .collect(),
                    hosts: out.hosts,
                    late_starts: out.late_starts,
                    cpu: meter.report(&before, &after),
                    db_connections: backends,
                    statements,
                });
            }
        }
    }
    if !cmd.skip_failover {
        let candidates = rooms(
            &apis[0],
            &admin,
            &prefix,
            next_room,
            cmd.failover_rooms * cmd.nodes,
            (cmd.failover_participants / cmd.failover_rooms.max(1) + 10) as i64,
        )
        .await?;
        let plan = failover::Plan {
            participants: cmd.failover_participants,
            candidate_rooms: candidates,
            rooms: cmd.failover_rooms.max(1),
            backoff: cmd.backoff,
            timeout: Duration::from_secs(90),
            admin_sid: admin.clone(),
        };
        report.failover = Some(failover::run(http, nodes, &sids, plan).await?);
    }
    Ok(report)
}

fn now_utc() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M:%S UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn print_report(r: &ClusterReport) {
    println!("{} — {} — {}", r.convene_version, r.machine, r.date);
    println!(
        "cluster: {} nodes on one PostgreSQL, {} accounts (setup {:.1} s)",
        r.nodes, r.users, r.setup_secs
    );
    for p in &r.phases {
        let mode = match p.open_loop_rate {
            Some(rate) => format!("open loop {rate}/s, {} late starts", p.late_starts),
            None => "closed loop".into(),
        };
        println!(
            "\nplacement, {} ({} concurrent, {mode}): {} requests in {:.1} s = {:.0}/s, {} errors",
            p.phase, p.concurrency, p.requests, p.wall_secs, p.per_sec, p.errors
        );
        for m in &p.messages {
            println!("  error: {m}");
        }
        println!("  latency: {}", p.latency.line());
        for (i, l) in p.by_entry_node.iter().enumerate() {
            println!("    via node {}: {}", i + 1, l.line());
        }
        let hosts: Vec<String> = p
            .hosts
            .iter()
            .map(|(h, n)| format!("node {h}: {n}"))
            .collect();
        println!("  hosting node named: {}", hosts.join(", "));
        println!("  CPU: {}", p.cpu.line());
        if let Some(n) = p.db_connections {
            println!("  database connections of the nodes: {n}");
        }
        if !p.statements.is_empty() {
            println!("  database time (pg_stat_statements, execution only):");
            for s in &p.statements {
                println!(
                    "    {:>8.1} ms total, {:>7.3} ms mean, {:>5.2}/request  {}",
                    s.total_ms, s.mean_ms, s.calls_per_request, s.query
                );
            }
        }
    }
    if let Some(f) = &r.failover {
        println!(
            "\nfailover: {} participants in {} rooms on node {}, kill -9, re-entry backoff {}",
            f.participants, f.rooms, f.victim_node, f.backoff
        );
        println!(
            "  back: {}/{} ({} failed); kill → last back {:.2} s",
            f.reconnected, f.participants, f.failed, f.kill_to_all_back_secs
        );
        println!("  kill → back per participant: {}", f.back.line());
        println!(
            "  kill → first `enter` naming a live node: {:.2} s; loss seen by the clients within {:.0} ms",
            f.first_new_host_secs, f.loss_seen_max_ms
        );
        println!(
            "  re-entry attempts per participant: median {}, max {}",
            f.attempts_p50, f.attempts_max
        );
        let hosts: Vec<String> = f
            .new_hosts
            .iter()
            .map(|(room, h)| format!("room {room} → node {h}"))
            .collect();
        println!("  new hosts: {}", hosts.join(", "));
        println!(
            "  participant rows 2 s later: {} on live nodes, {} still on the dead node",
            f.live_rows, f.ghost_rows
        );
        for m in &f.messages {
            println!("  failure: {m}");
        }
    }
}
