//! What a run found, for people (stderr/stdout text) and machines (`--json`).

use crate::procfs::{MemorySample, Phase, mib};
use crate::stats::Percentiles;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Serialize)]
pub struct SetupReport {
    pub users: usize,
    pub users_created: usize,
    pub users_existing: usize,
    pub user_create_secs: f64,
    pub rooms_created: usize,
    pub rooms_reused: usize,
    /// Existing rooms whose capacity was raised for the load.
    pub rooms_resized: usize,
    pub login_secs: f64,
    pub login: Percentiles,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct JoinReport {
    pub attempted: usize,
    pub joined: usize,
    pub failed: usize,
    /// The first few distinct failure messages.
    pub failures: Vec<String>,
    pub wall_secs: f64,
    pub joins_per_sec: f64,
    /// `POST …/enter` + WebSocket upgrade + `welcome`.
    pub total: Percentiles,
    pub enter: Percentiles,
    pub connect: Percentiles,
    pub welcome: Percentiles,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ChatReport {
    /// Each round's messages were sent all at once (else spread over the round).
    pub burst: bool,
    pub sent: usize,
    /// Copies owed to the other participants of the senders' rooms.
    pub expected_deliveries: usize,
    pub delivered: usize,
    pub echoes: usize,
    /// Send to receipt at the other participants of the room.
    pub fanout: Percentiles,
    /// Send to receipt of the echo at the sender.
    pub echo: Percentiles,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct HoldReport {
    pub secs: f64,
    /// Text frames received after `welcome`, in all.
    pub frames_received: u64,
    /// The same, by `type`.
    pub frame_types: BTreeMap<String, u64>,
    pub error_frames: u64,
    /// The first few unexpected frames.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CloseReport {
    pub clean: usize,
    /// Connections the server closed before we did (should be 0).
    pub closed_by_server: usize,
    pub broken: usize,
    /// The first few distinct problems (server close codes, errors).
    pub problems: Vec<String>,
    pub secs: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RoomsReport {
    pub url: String,
    pub participants: usize,
    pub rooms: usize,
    pub users: usize,
    pub concurrency: usize,
    pub setup: SetupReport,
    pub join: JoinReport,
    pub hold: HoldReport,
    pub chat: ChatReport,
    pub close: CloseReport,
    /// The server's memory by phase, when its pid is known.
    pub memory: Vec<Phase>,
}

impl RoomsReport {
    pub fn memory_at(&self, phase: &str) -> Option<&MemorySample> {
        self.memory
            .iter()
            .find(|p| p.phase == phase)
            .map(|p| &p.memory)
    }

    pub fn print(&self) {
        println!(
            "rooms scenario against {}: {} participants in {} rooms, {} users, join concurrency {}",
            self.url, self.participants, self.rooms, self.users, self.concurrency
        );
        let s = &self.setup;
        println!(
            "  setup: {} users ({} created, {} existing) in {:.1} s; rooms {} created, {} reused ({} resized)",
            s.users,
            s.users_created,
            s.users_existing,
            s.user_create_secs,
            s.rooms_created,
            s.rooms_reused,
            s.rooms_resized
        );
        println!(
            "  logins: {} in {:.1} s: {}",
            s.login.count,
            s.login_secs,
            s.login.line()
        );
        let j = &self.join;
        println!(
            "  joins: {}/{} in {:.1} s ({:.0}/s), {} failed",
            j.joined, j.attempted, j.wall_secs, j.joins_per_sec, j.failed
        );
        for failure in &j.failures {
            println!("    failure: {failure}");
        }
        println!("    enter+welcome: {}", j.total.line());
        println!("    enter (REST):  {}", j.enter.line());
        println!("    ws upgrade:    {}", j.connect.line());
        println!("    welcome wait:  {}", j.welcome.line());
        let c = &self.chat;
        println!(
            "  chat ({}): {} sent, {}/{} delivered to others, {} echoes",
            if c.burst { "bursts" } else { "spread" },
            c.sent,
            c.delivered,
            c.expected_deliveries,
            c.echoes
        );
        println!("    fan-out: {}", c.fanout.line());
        println!("    echo:    {}", c.echo.line());
        let h = &self.hold;
        println!(
            "  hold: {:.1} s, {} frames received, {} error frames",
            h.secs, h.frames_received, h.error_frames
        );
        let types: Vec<String> = h
            .frame_types
            .iter()
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect();
        println!("    by type: {}", types.join(", "));
        for note in &h.notes {
            println!("    note: {note}");
        }
        let x = &self.close;
        println!(
            "  close: {} clean, {} closed by the server, {} broken, in {:.1} s",
            x.clean, x.closed_by_server, x.broken, x.secs
        );
        for problem in &x.problems {
            println!("    problem: {problem}");
        }
        if !self.memory.is_empty() {
            println!("  server memory:");
            for p in &self.memory {
                println!("    {:<20} {}", p.phase, p.memory.line());
            }
        }
    }
}

/// The header of [`markdown_row`].
pub const MARKDOWN_HEADER: &str = "| participants / rooms | idle RSS | loaded RSS | peak RSS | (loaded − before joins) / participant | join p50 / p90 / p99 / max | chat fan-out p50 / p99 | delivered |\n| --- | --- | --- | --- | --- | --- | --- | --- |";

/// One Markdown table row: memory (MiB) and latencies (ms). `idle` is the fresh
/// node, `before_load` the node just before the joins (accounts made, signed in).
pub fn markdown_row(
    report: &RoomsReport,
    idle: Option<&MemorySample>,
    before_load: Option<&MemorySample>,
) -> String {
    let loaded = report.memory_at("loaded");
    // VmHWM of the last sample: the peak of the process that served the load.
    let peak = report.memory.last().map(|p| p.memory.vm_hwm_kib);
    let cell = |m: Option<&MemorySample>| {
        m.map(|m| format!("{:.1} MiB", mib(m.vm_rss_kib)))
            .unwrap_or_else(|| "–".into())
    };
    let per_participant = match (before_load, loaded) {
        (Some(i), Some(l)) if report.join.joined > 0 => format!(
            "{:.1} KiB",
            (l.vm_rss_kib as f64 - i.vm_rss_kib as f64) / report.join.joined as f64
        ),
        _ => "–".into(),
    };
    let j = &report.join.total;
    let c = &report.chat;
    format!(
        "| {} / {} | {} | {} | {} | {} | {:.1} / {:.1} / {:.1} / {:.1} ms | {:.1} / {:.1} ms | {}/{} |",
        report.join.joined,
        report.rooms,
        cell(idle),
        cell(loaded),
        peak.map(|k| format!("{:.1} MiB", mib(k)))
            .unwrap_or_else(|| "–".into()),
        per_participant,
        j.p50_ms,
        j.p90_ms,
        j.p99_ms,
        j.max_ms,
        c.fanout.p50_ms,
        c.fanout.p99_ms,
        c.delivered,
        c.expected_deliveries
    )
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Seconds with a fraction, for reports.
pub fn secs(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}
