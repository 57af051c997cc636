//! The command line: `serve`, and administration commands on the same database.

mod check;
mod servers;
mod users;

use crate::config::{Config, LogFormat, Settings};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "convene", version, about = "Self-hosted web conferencing")]
struct Cli {
    /// TOML file with settings (flags and CONVENE_* variables override it).
    #[arg(long, global = true, env = "CONVENE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a conferencing node.
    Serve {
        #[command(flatten)]
        settings: Settings,
    },
    /// Manage accounts.
    User {
        #[command(subcommand)]
        action: UserAction,
        #[command(flatten)]
        settings: Settings,
    },
    /// Manage the cluster's servers (Administration → Servers).
    Server {
        #[command(subcommand)]
        action: ServerAction,
        #[command(flatten)]
        settings: Settings,
    },
    /// Check the database, node id, shared storage and clock of this node's settings.
    Check {
        #[command(flatten)]
        settings: Settings,
    },
}

#[derive(Subcommand)]
pub enum ServerAction {
    /// List the servers with status and load.
    List,
    /// Add a server before its node runs.
    Add {
        id: i64,
        #[arg(long)]
        name: Option<String>,
        /// Host name or IP address browsers use.
        #[arg(long)]
        address: String,
        #[arg(long, default_value_t = 5080)]
        http_port: i64,
        #[arg(long, default_value = "http")]
        protocol: String,
        #[arg(long, default_value = "")]
        base_path: String,
        #[arg(long, default_value_t = 1.0)]
        weight: f64,
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Change a server's fields.
    Update {
        id: i64,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        address: Option<String>,
        #[arg(long)]
        http_port: Option<i64>,
        #[arg(long)]
        protocol: Option<String>,
        #[arg(long)]
        base_path: Option<String>,
        #[arg(long)]
        weight: Option<f64>,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Let a server receive new rooms again.
    Activate { id: i64 },
    /// Give a server no new rooms; its live rooms go on.
    Deactivate { id: i64 },
    /// Move a server's participants to other nodes by a deadline.
    Drain {
        id: i64,
        #[arg(long, default_value_t = crate::cluster::drain::DEFAULT_DEADLINE_SECS)]
        deadline_seconds: u64,
    },
}

#[derive(Subcommand)]
pub enum UserAction {
    /// Create an account; the password is read from standard input.
    Add {
        login: String,
        #[arg(long, default_value = "user")]
        role: String,
        #[arg(long)]
        display_name: Option<String>,
    },
    /// List the accounts.
    List,
    /// Set an account's password, read from standard input.
    Passwd { login: String },
    /// Delete an account.
    Delete { login: String },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let (settings, command) = match cli.command {
        Command::Serve { settings } => (settings, Mode::Serve),
        Command::User { action, settings } => (settings, Mode::User(action)),
        Command::Server { action, settings } => (settings, Mode::Server(action)),
        Command::Check { settings } => (settings, Mode::Check),
    };
    let serving = matches!(command, Mode::Serve);
    let config = match load_config(settings, cli.config.as_deref()).and_then(|c| {
        if serving {
            c.check_for_serving().map(|()| c)
        } else {
            Ok(c)
        }
    }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("convene: {e:#}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config, matches!(command, Mode::Serve));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(async move {
        match command {
            Mode::Serve => serve(config).await,
            Mode::User(action) => users::run(config, action).await,
            Mode::Server(action) => servers::run(config, action).await,
            Mode::Check => check::run(config).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("convene: {e:#}");
            // A certificate or key file that cannot be used is a wrong setting.
            if e.downcast_ref::<crate::tls::TlsSettingError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

enum Mode {
    Serve,
    User(UserAction),
    Server(ServerAction),
    Check,
}

/// Flags and environment (already merged by clap) over the file over the defaults.
fn load_config(settings: Settings, file: Option<&std::path::Path>) -> anyhow::Result<Config> {
    let file_settings = match file {
        Some(path) => Settings::from_file(path)?,
        None => Settings::default(),
    };
    let env_only = Settings {
        admin_password: std::env::var("CONVENE_ADMIN_PASSWORD").ok(),
        turn_credential: std::env::var("CONVENE_TURN_CREDENTIAL").ok(),
        ..Settings::default()
    };
    settings.or(env_only).or(file_settings).resolve()
}

fn init_logging(config: &Config, serving: bool) {
    let filter = if serving {
        config.log.clone()
    } else {
        "warn".to_string()
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    crate::server::run(listener, config, shutdown_signal()).await
}

/// SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
