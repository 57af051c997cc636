//! `serve-and-measure`: starts a node on a fresh data directory, samples its memory
//! idle, runs the `rooms` load against it, samples it loaded, stops it with SIGTERM,
//! and prints a Markdown table row.

use super::rooms::{LoadArgs, load, setup};
use crate::client::Api;
use crate::procfs::{MemoryLog, MemorySample};
use crate::report::{MARKDOWN_HEADER, RoomsReport, markdown_row, print_json, secs};
use anyhow::{Context, bail};
use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::time::Instant;

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Args)]
pub struct ServeCmd {
    /// The `convene` binary to start.
    #[arg(long, default_value = "target/release/convene")]
    pub convene_bin: PathBuf,
    /// Port to listen on, on 127.0.0.1 (default: a free one).
    #[arg(long)]
    pub port: Option<u16>,
    /// Data directory (default: a new directory under the system's temporary
    /// directory, removed at the end unless --keep-data).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Keep the data directory created for the run.
    #[arg(long)]
    pub keep_data: bool,
    /// Seconds between the node being ready and sampling its idle memory.
    #[arg(long, default_value_t = 3)]
    pub idle_secs: u64,
    /// Restart the node between setup and load, so that the Argon2 hashing of
    /// creating and signing in the accounts does not count in the loaded memory
    /// (sessions are in the database and survive the restart).
    #[arg(long)]
    pub restart_after_setup: bool,
    /// The first administrator's password (CONVENE_ADMIN_PASSWORD of the node).
    #[arg(long, default_value = "bench-admin-password")]
    pub admin_password: String,
    /// The node's log filter (CONVENE_LOG); its log goes to DATA_DIR/convene.log.
    #[arg(long, default_value = "info")]
    pub server_log: String,
    /// Extra environment for the node, e.g. `GLIBC_TUNABLES=glibc.malloc.arena_max=2`
    /// (repeatable).
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_env)]
    pub server_env: Vec<(String, String)>,
    /// Print the results as JSON on stdout (progress still goes to stderr).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub load: LoadArgs,
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("expected KEY=VALUE, not {text:?}")),
    }
}

#[derive(Debug, Serialize)]
struct ServeReport {
    convene_bin: String,
    convene_version: String,
    data_dir: String,
    server_env: Vec<String>,
    restarted_after_setup: bool,
    /// How each stop went: seconds from SIGTERM to exit, and the exit status.
    stops: Vec<Stop>,
    rooms: RoomsReport,
    markdown_row: String,
}

#[derive(Debug, Clone, Serialize)]
struct Stop {
    secs: f64,
    status: String,
}

/// A node process started by the bench.
struct Node {
    child: Child,
    pid: u32,
}

pub async fn run(cmd: ServeCmd) -> anyhow::Result<()> {
    cmd.load.check()?;
    if cmd.admin_password.len() < 8 {
        bail!("--admin-password must have at least 8 characters");
    }
    let bin = cmd.convene_bin.canonicalize().with_context(|| {
        format!(
            "no convene binary at {} (build it with cargo build --release -p convene)",
            cmd.convene_bin.display()
        )
    })?;
    // The node inherits the limit, and needs as many sockets as the bench.
    crate::procfs::warn_if_few_files(cmd.load.participants, "the participants and the node");
    let version = convene_version(&bin).await;
    let (data_dir, created_dir) = match &cmd.data_dir {
        Some(dir) => (dir.clone(), false),
        None => (fresh_dir()?, true),
    };
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let port = match cmd.port {
        Some(p) => p,
        None => free_port()?,
    };
    let result = measure(&cmd, &bin, &data_dir, port).await;
    // Keep the data (and the node's log) of a failed run, to look into it.
    if created_dir && !cmd.keep_data && result.is_ok() {
        let _ = std::fs::remove_dir_all(&data_dir);
    } else {
        eprintln!("data and log kept in {}", data_dir.display());
    }
    let (rooms, stops) = result?;
    let idle = rooms.memory_at("idle").copied();
    let before_load = before_load(&rooms);
    let row = markdown_row(&rooms, idle.as_ref(), before_load.as_ref());
    let report = ServeReport {
        convene_bin: bin.display().to_string(),
        convene_version: version,
        data_dir: data_dir.display().to_string(),
        server_env: cmd
            .server_env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        restarted_after_setup: cmd.restart_after_setup,
        stops,
        rooms,
        markdown_row: row.clone(),
    };
    if cmd.json {
        print_json(&report)?;
    } else {
        println!("{} ({})", report.convene_version, report.convene_bin);
        report.rooms.print();
        for stop in &report.stops {
            println!("  node stop: {} after {:.1} s", stop.status, stop.secs);
        }
        println!();
        println!("{MARKDOWN_HEADER}");
        println!("{row}");
    }
    Ok(())
}

/// The memory just before the joins: after setup, or after the restart.
fn before_load(rooms: &RoomsReport) -> Option<MemorySample> {
    rooms
        .memory_at("idle after restart")
        .or_else(|| rooms.memory_at("after setup"))
        .copied()
}

async fn measure(
    cmd: &ServeCmd,
    bin: &Path,
    data_dir: &Path,
    port: u16,
) -> anyhow::Result<(RoomsReport, Vec<Stop>)> {
    let url = format!("http://127.0.0.1:{port}");
    let api = Api::new(&url, cmd.load.concurrency)?;
    let mut stops = Vec::new();
    let mut node = start(cmd, bin, data_dir, port).await?;
    let outcome = async {
        wait_ready(&api, &mut node).await?;
        tokio::time::sleep(Duration::from_secs(cmd.idle_secs)).await;
        let mut memory = MemoryLog::new(Some(node.pid));
        memory.record("idle");
        let prepared = setup(&api, "admin", &cmd.admin_password, &cmd.load).await?;
        memory.record("after setup");
        if cmd.restart_after_setup {
            eprintln!("restarting the node…");
            stops.push(stop(&mut node).await?);
            node = start(cmd, bin, data_dir, port).await?;
            wait_ready(&api, &mut node).await?;
            tokio::time::sleep(Duration::from_secs(cmd.idle_secs)).await;
            let mut after = MemoryLog::new(Some(node.pid));
            after.record("idle after restart");
            let mut phases = memory.into_phases();
            phases.extend(after.into_phases());
            memory = MemoryLog::with_phases(Some(node.pid), phases);
        }
        let mut report = load(&api, &prepared, &cmd.load, &mut memory).await?;
        report.memory = memory.into_phases();
        anyhow::Ok(report)
    }
    .await;
    // Stop the node whatever happened; its log tells what went wrong.
    let stopped = stop(&mut node).await;
    let report = outcome.with_context(|| {
        format!(
            "the run failed; the node's log is {}",
            data_dir.join("convene.log").display()
        )
    })?;
    stops.push(stopped?);
    Ok((report, stops))
}

async fn start(cmd: &ServeCmd, bin: &Path, data_dir: &Path, port: u16) -> anyhow::Result<Node> {
    let log_path = data_dir.join("convene.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    let log_err = log.try_clone()?;
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(bin)
        .arg("serve")
        .args(["--listen", &listen])
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--public-url", &format!("http://{listen}")])
        .env("CONVENE_ADMIN_PASSWORD", &cmd.admin_password)
        .env("CONVENE_LOG", &cmd.server_log)
        // Every simulated participant comes from one loopback address.
        .env("CONVENE_MAX_CONNECTIONS_PER_ADDRESS", "0")
        .envs(cmd.server_env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err))
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let pid = child.id().context("the node exited at once")?;
    eprintln!("started {} (pid {pid}) on {listen}", bin.display());
    Ok(Node { child, pid })
}

async fn wait_ready(api: &Api, node: &mut Node) -> anyhow::Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(status) = node.child.try_wait()? {
            bail!("the node exited while starting: {status}");
        }
        if api.ready().await {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the node was not ready after {READY_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// SIGTERM (through kill(1)), then wait; SIGKILL if it does not exit in time.
async fn stop(node: &mut Node) -> anyhow::Result<Stop> {
    if let Some(status) = node.child.try_wait()? {
        return Ok(Stop {
            secs: 0.0,
            status: format!("had already exited: {status}"),
        });
    }
    let start = Instant::now();
    let sent = Command::new("kill")
        .args(["-TERM", &node.pid.to_string()])
        .status()
        .await
        .context("cannot run kill")?;
    if !sent.success() {
        bail!("kill -TERM {} failed: {sent}", node.pid);
    }
    let status = match tokio::time::timeout(STOP_TIMEOUT, node.child.wait()).await {
        Ok(status) => format!("exited after SIGTERM: {}", status?),
        Err(_) => {
            node.child.kill().await?;
            format!("did not exit within {STOP_TIMEOUT:?} of SIGTERM; killed")
        }
    };
    Ok(Stop {
        secs: secs(start.elapsed()),
        status,
    })
}

async fn convene_version(bin: &Path) -> String {
    match Command::new(bin).arg("--version").output().await {
        Ok(out) => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        Err(e) => format!("unknown ({e})"),
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

fn fresh_dir() -> anyhow::Result<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos();
    Ok(std::env::temp_dir().join(format!("convene-bench-{}-{nanos:x}", std::process::id())))
}
