//! Memory of a process, read from `/proc/PID/status` (Linux).

use anyhow::Context;
use serde::Serialize;

/// One reading of a process's memory, in KiB as the kernel reports it.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct MemorySample {
    /// Resident set size.
    pub vm_rss_kib: u64,
    /// Peak resident set size since the process started.
    pub vm_hwm_kib: u64,
    /// Resident anonymous memory (heap, stacks).
    pub rss_anon_kib: u64,
    /// Resident file-backed memory (the mapped executable and libraries).
    pub rss_file_kib: u64,
    pub threads: u64,
}

impl MemorySample {
    pub fn read(pid: u32) -> anyhow::Result<MemorySample> {
        let path = format!("/proc/{pid}/status");
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
        Ok(MemorySample::parse(&text))
    }

    fn parse(status: &str) -> MemorySample {
        let mut sample = MemorySample::default();
        for line in status.lines() {
            let Some((key, rest)) = line.split_once(':') else {
                continue;
            };
            let value = rest
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            match key {
                "VmRSS" => sample.vm_rss_kib = value,
                "VmHWM" => sample.vm_hwm_kib = value,
                "RssAnon" => sample.rss_anon_kib = value,
                "RssFile" => sample.rss_file_kib = value,
                "Threads" => sample.threads = value,
                _ => {}
            }
        }
        sample
    }

    /// `12.3 MiB RSS (anon 8.1, file 4.2; peak 20.0 MiB; 3 threads)`.
    pub fn line(&self) -> String {
        format!(
            "{:.1} MiB RSS (anon {:.1}, file {:.1}; peak {:.1} MiB; {} threads)",
            mib(self.vm_rss_kib),
            mib(self.rss_anon_kib),
            mib(self.rss_file_kib),
            mib(self.vm_hwm_kib),
            self.threads
        )
    }
}

/// The server's memory at one moment of the run.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    pub phase: String,
    #[serde(flatten)]
    pub memory: MemorySample,
}

/// Samples a process's memory at named phases, if its pid is known.
#[derive(Debug, Default)]
pub struct MemoryLog {
    pid: Option<u32>,
    phases: Vec<Phase>,
}

impl MemoryLog {
    pub fn new(pid: Option<u32>) -> MemoryLog {
        MemoryLog {
            pid,
            phases: Vec::new(),
        }
    }

    /// Goes on from phases recorded earlier (of another process, say).
    pub fn with_phases(pid: Option<u32>, phases: Vec<Phase>) -> MemoryLog {
        MemoryLog { pid, phases }
    }

    /// Reads the memory now and records it under `phase` (and says so on stderr).
    pub fn record(&mut self, phase: &str) -> Option<MemorySample> {
        let sample = self.read()?;
        eprintln!("server memory {phase}: {}", sample.line());
        self.phases.push(Phase {
            phase: phase.to_string(),
            memory: sample,
        });
        Some(sample)
    }

    /// Reads the memory now without recording it.
    pub fn read(&self) -> Option<MemorySample> {
        let pid = self.pid?;
        match MemorySample::read(pid) {
            Ok(sample) => Some(sample),
            Err(e) => {
                eprintln!("warning: {e:#}");
                None
            }
        }
    }

    /// Records a sample taken earlier.
    pub fn push(&mut self, phase: &str, memory: MemorySample) {
        eprintln!("server memory {phase}: {}", memory.line());
        self.phases.push(Phase {
            phase: phase.to_string(),
            memory,
        });
    }

    pub fn into_phases(self) -> Vec<Phase> {
        self.phases
    }
}

/// This process's soft limit on open files, from `/proc/self/limits`.
pub fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_open_files_limit(&text)
}

fn parse_open_files_limit(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()?;
    match soft {
        "unlimited" => Some(u64::MAX),
        n => n.parse().ok(),
    }
}

/// Warns when `sockets` connections (plus some slack) would not fit in the soft limit.
pub fn warn_if_few_files(sockets: usize, who: &str) {
    let needed = sockets as u64 + 100;
    if let Some(limit) = open_files_limit()
        && limit < needed
    {
        eprintln!(
            "warning: the open file limit is {limit}, {who} need about {needed}; \
             raise it first, e.g. `ulimit -Sn $(ulimit -Hn)`"
        );
    }
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status() {
        let text = "Name:\tconvene\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nRssAnon:\t    8192 kB\nRssFile:\t    2048 kB\nThreads:\t3\n";
        let s = MemorySample::parse(text);
        assert_eq!(s.vm_rss_kib, 10240);
        assert_eq!(s.vm_hwm_kib, 20480);
        assert_eq!(s.rss_anon_kib, 8192);
        assert_eq!(s.rss_file_kib, 2048);
        assert_eq!(s.threads, 3);
        assert!(s.line().starts_with("10.0 MiB RSS"));
    }

    #[test]
    fn parses_limits() {
        let text = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n";
        assert_eq!(parse_open_files_limit(text), Some(1024));
        assert!(open_files_limit().is_some());
    }

    #[test]
    fn reads_own_process() {
        let s = MemorySample::read(std::process::id()).unwrap();
        assert!(s.vm_rss_kib > 0);
        assert!(s.threads >= 1);
    }
}
