//! A throwaway PostgreSQL server from the system's binaries (initdb, pg_ctl), in a
//! temporary directory, on a free loopback port, with fsync off (as
//! `crates/convene/tests/common/pg.rs`). As root it runs as the `postgres` user
//! through runuser, since PostgreSQL refuses root. `pg_stat_statements` is loaded
//! when the installation has it, so the bench can say which statements cost time.

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct PgServer {
    dir: PathBuf,
    bin: PathBuf,
    pub port: u16,
    as_postgres: bool,
    pub stat_statements: bool,
    stopped: bool,
}

fn find_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// A new directory under the system's temporary directory.
pub fn fresh_dir(what: &str) -> anyhow::Result<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "convene-bench-{what}-{}-{nanos:x}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

impl PgServer {
    pub fn start() -> anyhow::Result<PgServer> {
        let bin = find_bin()
            .context("initdb/pg_ctl not found under /usr/lib/postgresql (install postgresql)")?;
        let dir = fresh_dir("pg")?;
        let mut server = PgServer {
            stat_statements: bin
                .parent()
                .is_some_and(|v| v.join("lib/pg_stat_statements.so").exists()),
            dir,
            bin,
            port: free_port()?,
            as_postgres: is_root(),
            stopped: true,
        };
        if server.as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&server.dir)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                bail!("cannot hand {} to the postgres user", server.dir.display());
            }
        }
        let data = server.data();
        server.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "convene",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        )?;
        let mut opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=300",
            server.port,
            server.dir.display()
        );
        if server.stat_statements {
            opts.push_str(" -c shared_preload_libraries=pg_stat_statements");
        }
        let log = server.dir.join("pg.log");
        server.run(
            "pg_ctl",
            &[
                "-D",
                &data,
                "-o",
                &opts,
                "-l",
                &log.display().to_string(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        )?;
        server.stopped = false;
        Ok(server)
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn run(&self, tool: &str, args: &[&str]) -> anyhow::Result<String> {
        let exe = self.bin.join(tool);
        let out = if self.as_postgres {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&exe)
                .args(args)
                .output()
        } else {
            Command::new(&exe).args(args).output()
        }
        .with_context(|| format!("cannot run {tool}"))?;
        if !out.status.success() {
            bail!(
                "{tool} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs SQL with psql on database `db`; unaligned output, `|` between fields.
    pub fn psql(&self, db: &str, sql: &str) -> anyhow::Result<String> {
        let port = self.port.to_string();
        self.run(
            "psql",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "convene",
                "-d",
                db,
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-F",
                "|",
                "-c",
                sql,
            ],
        )
    }

    /// Creates a database (and pg_stat_statements in it) and returns its URL.
    pub fn create_database(&mut self, name: &str) -> anyhow::Result<String> {
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""))?;
        if self.stat_statements
            && let Err(e) = self.psql(name, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        {
            eprintln!("warning: pg_stat_statements unavailable: {e:#}");
            self.stat_statements = false;
        }
        Ok(format!("postgres://convene@127.0.0.1:{}/{name}", self.port))
    }

    /// The postmaster's pid (first line of postmaster.pid).
    pub fn pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(Path::new(&self.data()).join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("pg.log")
    }

    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let data = self.data();
        if let Err(e) = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]) {
            eprintln!("warning: stopping PostgreSQL: {e:#}");
        }
    }

    /// Stops the server and removes its directory.
    pub fn remove(mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One statement's share of the database's execution time.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StatementCost {
    pub calls: u64,
    pub total_ms: f64,
    pub mean_ms: f64,
    /// Filled in by the caller, who knows how many requests there were.
    pub calls_per_request: f64,
    pub query: String,
}

impl PgServer {
    pub fn reset_statements(&self, db: &str) {
        if self.stat_statements {
            let _ = self.psql(db, "SELECT pg_stat_statements_reset()");
        }
    }

    /// The statements that took the most execution time since the last reset.
    pub fn top_statements(&self, db: &str, limit: usize) -> Vec<StatementCost> {
        if !self.stat_statements {
            return Vec::new();
        }
        let sql = format!(
            "SELECT s.calls, round(s.total_exec_time::numeric, 2), round(s.mean_exec_time::numeric, 4), \
             left(regexp_replace(s.query, '\\s+', ' ', 'g'), 110) \
             FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid \
             WHERE d.datname = '{db}' ORDER BY s.total_exec_time DESC LIMIT {limit}"
        );
        let Ok(out) = self.psql(db, &sql) else {
            return Vec::new();
        };
        out.lines()
            .filter_map(|l| {
                let mut f = l.splitn(4, '|');
                Some(StatementCost {
                    calls: f.next()?.parse().ok()?,
                    total_ms: f.next()?.parse().ok()?,
                    mean_ms: f.next()?.parse().ok()?,
                    calls_per_request: 0.0,
                    query: f.next()?.to_string(),
                })
            })
            .collect()
    }
}
