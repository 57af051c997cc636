//! The command line: `serve`, and administration commands on the same database.

use crate::auth::password;
use crate::config::{Config, LogFormat, Settings};
use crate::store::{Role, Store};
use clap::{Parser, Subcommand};
use std::io::BufRead;
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
    /// Check the database (reachable, migrated) and this node's settings.
    Check {
        #[command(flatten)]
        settings: Settings,
    },
}

#[derive(Subcommand)]
enum UserAction {
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
        Command::Check { settings } => (settings, Mode::Check),
    };
    let config = match load_config(settings, cli.config.as_deref()) {
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
            Mode::User(action) => user_command(config, action).await,
            Mode::Check => check(config).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("convene: {e:#}");
            ExitCode::FAILURE
        }
    }
}

enum Mode {
    Serve,
    User(UserAction),
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

fn read_password() -> anyhow::Result<String> {
    eprint!("Password: ");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let pw = line.trim_end_matches(['\r', '\n']).to_string();
    password::check_policy(&pw).map_err(|e| anyhow::anyhow!(e))?;
    Ok(pw)
}

async fn user_command(config: Config, action: UserAction) -> anyhow::Result<()> {
    let store = Store::open(&config.database_url).await?;
    match action {
        UserAction::Add {
            login,
            role,
            display_name,
        } => {
            crate::api::check_login_cli(&login)?;
            let role = Role::parse(&role)
                .ok_or_else(|| anyhow::anyhow!("role must be admin, user or webservice"))?;
            let hash = password::hash(read_password()?).await?;
            let name = display_name.unwrap_or_else(|| login.clone());
            match store.create_user(&login, &hash, role, &name).await? {
                Some(u) => println!("created {} (id {}, {})", u.login, u.id, u.role.as_str()),
                None => anyhow::bail!("the login {login:?} is taken"),
            }
        }
        UserAction::List => {
            println!(
                "{:>6}  {:<24} {:<11} {:<8} display name",
                "id", "login", "role", "enabled"
            );
            for u in store.list_users().await? {
                println!(
                    "{:>6}  {:<24} {:<11} {:<8} {}",
                    u.id.0,
                    u.login,
                    u.role.as_str(),
                    if u.enabled { "yes" } else { "no" },
                    u.display_name
                );
            }
        }
        UserAction::Passwd { login } => {
            let (user, _) = store
                .user_with_hash(&login)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no account {login:?}"))?;
            let hash = password::hash(read_password()?).await?;
            store
                .update_user(user.id, None, None, None, Some(&hash))
                .await?;
            store.delete_user_sessions(user.id).await?;
            println!("password of {login} changed; its sessions were ended");
        }
        UserAction::Delete { login } => {
            let (user, _) = store
                .user_with_hash(&login)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no account {login:?}"))?;
            store.delete_user(user.id).await?;
            println!("deleted {login}");
        }
    }
    store.close().await;
    Ok(())
}

async fn check(config: Config) -> anyhow::Result<()> {
    let store = Store::open(&config.database_url).await?;
    let db_now = store.now_ms().await?;
    let skew_ms = chrono::Utc::now().timestamp_millis() - db_now;
    println!(
        "database: reachable and migrated ({})",
        crate::store::redact_url(&config.database_url)
    );
    println!("clock skew against the database: {skew_ms} ms");
    let me = crate::ids::NodeId(config.node_id);
    match store.server(me).await? {
        Some(s) if s.alive() => println!(
            "node id {me}: in use by a running node (heartbeat {} ms ago)",
            s.heartbeat_age_ms.unwrap_or(0)
        ),
        _ => println!("node id {me}: free"),
    }
    store.close().await;
    Ok(())
}
