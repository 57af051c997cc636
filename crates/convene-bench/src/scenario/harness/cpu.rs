//! CPU time of processes (`/proc/PID/stat`) and of the whole machine (`/proc/stat`),
//! sampled at two moments and reported as a percentage of one core.

use serde::Serialize;
use std::sync::OnceLock;
use std::time::Instant;

/// Clock ticks per second (`getconf CLK_TCK`; 100 on every usual Linux).
fn ticks_per_sec() -> f64 {
    static TCK: OnceLock<f64> = OnceLock::new();
    *TCK.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// The fields of `/proc/PID/stat` after the command name, split on whitespace:
/// index 0 is field 3 (state).
fn stat_fields(pid: u32) -> Option<Vec<u64>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    Some(
        rest.split_whitespace()
            .map(|f| f.parse::<u64>().unwrap_or(0))
            .collect(),
    )
}

/// utime + stime of one process, in ticks.
pub fn process_ticks(pid: u32) -> Option<u64> {
    let f = stat_fields(pid)?;
    Some(f.get(11)? + f.get(12)?)
}

/// A process and its children: the root's own and reaped children's time, plus the
/// live children's (PostgreSQL: the postmaster and its backends).
pub fn tree_ticks(root: u32) -> Option<u64> {
    let f = stat_fields(root)?;
    let mut total = f.get(11)? + f.get(12)? + f.get(13)? + f.get(14)?;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if let Some(c) = stat_fields(pid)
            && c.get(1) == Some(&u64::from(root))
        {
            total += c.get(11).unwrap_or(&0) + c.get(12).unwrap_or(&0);
        }
    }
    Some(total)
}

/// (busy, total) ticks of all cores, from the first line of `/proc/stat`.
pub fn machine_ticks() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().next()?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal (guest is inside user).
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Some((total.saturating_sub(idle), total))
}

/// What to measure.
#[derive(Debug, Clone)]
pub enum Source {
    Process(u32),
    Tree(u32),
}

/// CPU readings of several labelled sources at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    at: Instant,
    values: Vec<Option<u64>>,
    machine: Option<(u64, u64)>,
}

/// Labelled sources, sampled together.
#[derive(Debug, Clone, Default)]
pub struct Meter {
    sources: Vec<(String, Source)>,
}

/// CPU use over an interval, as % of one core (100 = one core busy all the time).
#[derive(Debug, Clone, Serialize)]
pub struct CpuUse {
    pub label: String,
    pub percent_of_core: f64,
    pub cpu_secs: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CpuReport {
    pub wall_secs: f64,
    pub processes: Vec<CpuUse>,
    /// Busy time of the whole machine, % of one core (so up to 100 × cores).
    pub machine_percent_of_core: f64,
    /// Machine busy time not accounted for by the processes above (other work on the
    /// machine, the kernel's softirq time for the network, …).
    pub other_percent_of_core: f64,
}

impl Meter {
    pub fn add(&mut self, label: impl Into<String>, source: Source) {
        self.sources.push((label.into(), source));
    }

    pub fn sample(&self) -> Snapshot {
        Snapshot {
            at: Instant::now(),
            values: self
                .sources
                .iter()
                .map(|(_, s)| match s {
                    Source::Process(pid) => process_ticks(*pid),
                    Source::Tree(pid) => tree_ticks(*pid),
                })
                .collect(),
            machine: machine_ticks(),
        }
    }

    pub fn report(&self, a: &Snapshot, b: &Snapshot) -> CpuReport {
        let wall = b.at.duration_since(a.at).as_secs_f64().max(1e-9);
        let tck = ticks_per_sec();
        let mut processes = Vec::new();
        let mut accounted = 0.0;
        for (i, (label, _)) in self.sources.iter().enumerate() {
            let (Some(x), Some(y)) = (a.values[i], b.values[i]) else {
                continue;
            };
            let secs = y.saturating_sub(x) as f64 / tck;
            accounted += secs;
            processes.push(CpuUse {
                label: label.clone(),
                percent_of_core: round1(secs / wall * 100.0),
                cpu_secs: round3(secs),
            });
        }
        let (machine, other) = match (a.machine, b.machine) {
            (Some((ba, _)), Some((bb, _))) => {
                let secs = bb.saturating_sub(ba) as f64 / tck;
                (
                    secs / wall * 100.0,
                    (secs - accounted).max(0.0) / wall * 100.0,
                )
            }
            _ => (0.0, 0.0),
        };
        CpuReport {
            wall_secs: round3(wall),
            processes,
            machine_percent_of_core: round1(machine),
            other_percent_of_core: round1(other),
        }
    }
}

impl CpuReport {
    pub fn get(&self, label: &str) -> Option<&CpuUse> {
        self.processes.iter().find(|p| p.label == label)
    }

    /// `node-1 45.0 %, postgres 30.1 %, …` (of one core).
    pub fn line(&self) -> String {
        let mut parts: Vec<String> = self
            .processes
            .iter()
            .map(|p| format!("{} {:.0} %", p.label, p.percent_of_core))
            .collect();
        parts.push(format!("other {:.0} %", self.other_percent_of_core));
        format!(
            "{} (machine {:.0} % of one core, over {:.1} s)",
            parts.join(", "),
            self.machine_percent_of_core,
            self.wall_secs
        )
    }
}

pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_cpu() {
        let me = std::process::id();
        assert!(process_ticks(me).is_some());
        assert!(tree_ticks(me).is_some());
        let (busy, total) = machine_ticks().unwrap();
        assert!(total >= busy && total > 0);
        let mut meter = Meter::default();
        meter.add("me", Source::Process(me));
        let a = meter.sample();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        assert!(x > 0);
        let b = meter.sample();
        let r = meter.report(&a, &b);
        assert_eq!(r.processes.len(), 1);
        assert!(r.get("me").is_some());
        assert!(r.line().contains("me "));
    }
}
