//! A throwaway PostgreSQL server from the system's binaries (initdb, pg_ctl), in a
//! temporary directory, on a free loopback port; stopped when dropped. As root it
//! runs as the `postgres` user through runuser, since PostgreSQL refuses root.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct PgServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    as_postgres: bool,
}

fn find_bin() -> Option<PathBuf> {
    if let Ok(out) = Command::new("sh")
        .arg("-c")
        .arg("command -v pg_ctl")
        .output()
        && out.status.success()
    {
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if let Ok(real) = std::fs::canonicalize(&p) {
            return real.parent().map(Path::to_path_buf);
        }
    }
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

use super::net::free_port;

impl PgServer {
    /// Starts a server, or says why it cannot.
    pub fn start() -> Result<PgServer, String> {
        let bin = find_bin().ok_or("initdb/pg_ctl not found (install postgresql)")?;
        let as_postgres = is_root();
        let dir = tempfile::Builder::new()
            .prefix("convene-pg-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let server = PgServer {
            dir,
            bin,
            port: free_port(),
            as_postgres,
        };
        if as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(server.dir.path())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !ok {
                return Err("cannot hand the data directory to the postgres user".into());
            }
        }
        let data = server.dir.path().join("data");
        server.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "convene",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        )?;
        server.pg_ctl_start()?;
        Ok(server)
    }

    fn pg_ctl_start(&self) -> Result<(), String> {
        let data = self.dir.path().join("data");
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("pg.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-o",
                &opts,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
    }

    /// `pg_ctl -m fast stop`, as an operator restarting the database does.
    pub fn stop_fast(&self) {
        let data = self.dir.path().join("data");
        self.run(
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-m", "fast", "-w", "stop"],
        )
        .expect("postgres stops");
    }

    /// Starts the server again after [`PgServer::stop_fast`].
    pub fn start_again(&self) {
        self.pg_ctl_start().expect("postgres starts again");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<(), String> {
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
        .map_err(|e| format!("{tool}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{tool} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// URL of the maintenance database.
    pub fn admin_url(&self) -> String {
        format!("postgres://convene@127.0.0.1:{}/postgres", self.port)
    }

    /// Creates a fresh database and returns its URL.
    pub async fn create_database(&self, name: &str) -> String {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&self.admin_url())
            .await
            .expect("connect to throwaway postgres");
        // The name is a test constant, not input: quoting it is enough.
        sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE \"{name}\"").as_str())
            .await
            .expect("create database");
        format!("postgres://convene@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }
}

/// A PostgreSQL server, or None (skipped) when the system has none.
pub fn server() -> Option<PgServer> {
    let started = PgServer::start();
    match started {
        Ok(s) => Some(s),
        Err(why) => {
            if super::require("postgres", Err(why)) {
                unreachable!()
            }
            None
        }
    }
}
