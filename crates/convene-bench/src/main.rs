//! `convene-bench`: drives real HTTP and WebSocket clients against a Convene node
//! and reports latencies and the node's memory. See `docs/benchmarks.md`.

mod client;
mod participant;
mod procfs;
mod report;
mod scenario;
mod stats;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "convene-bench", version, about = "Load tool for Convene")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Many WebSocket participants in many rooms, against a running node.
    Rooms(scenario::rooms::RoomsCmd),
    /// Start a node, measure its memory idle and under the `rooms` load, stop it.
    ServeAndMeasure(scenario::serve::ServeCmd),
    /// Three nodes on a throwaway PostgreSQL: placement latency and failover time.
    Cluster(scenario::cluster::ClusterCmd),
    /// Simulated WebRTC peers through one node's SFU: forwarding rate, CPU, latency.
    Media(scenario::media::MediaCmd),
    /// Print a process's resident memory (from /proc/PID/status).
    MeasureRss {
        #[arg(long)]
        pid: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("convene-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Rooms(cmd) => scenario::rooms::run(cmd).await,
            Command::ServeAndMeasure(cmd) => scenario::serve::run(cmd).await,
            Command::Cluster(cmd) => scenario::cluster::run(cmd).await,
            Command::Media(cmd) => scenario::media::run(cmd).await,
            Command::MeasureRss { pid, json } => measure_rss(pid, json),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("convene-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn measure_rss(pid: u32, json: bool) -> anyhow::Result<()> {
    let sample = procfs::MemorySample::read(pid)?;
    if json {
        report::print_json(&sample)
    } else {
        println!("pid {pid}: {}", sample.line());
        Ok(())
    }
}
