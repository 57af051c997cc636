//! Settings: command-line flags win over `CONVENE_*` environment variables, which win
//! over the TOML file given with `--config`, which wins over the defaults.
//!
//! Every setting is listed in `docs/configuration.md`; a bad value stops start-up with
//! a message naming the setting.

use anyhow::{Context, bail};
use clap::Args;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The settings as given: every field optional, so the layers can be merged.
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address and port to listen on.
    #[arg(long, env = "CONVENE_LISTEN")]
    pub listen: Option<String>,
    /// Directory for the embedded database and local files.
    #[arg(long, env = "CONVENE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite://path or postgres://user:pass@host/db.
    #[arg(long, env = "CONVENE_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Shared file storage: a local path (an NFS or Samba mount in a cluster) or
    /// s3://bucket/prefix?endpoint=…&region=… for S3-compatible storage.
    #[arg(long, env = "CONVENE_STORAGE")]
    pub storage: Option<String>,
    /// The URL under which browsers reach this node.
    #[arg(long, env = "CONVENE_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// This node's unique id in the cluster (the seed's serverId).
    #[arg(long, env = "CONVENE_NODE_ID")]
    pub node_id: Option<i64>,
    /// This node's name as shown under Administration → Servers.
    #[arg(long, env = "CONVENE_NODE_NAME")]
    pub node_name: Option<String>,
    /// Password of the first `admin` account (only used when the database has no users).
    #[arg(skip)]
    pub admin_password: Option<String>,
    /// Session lifetime in seconds.
    #[arg(long, env = "CONVENE_SESSION_TTL")]
    pub session_ttl: Option<u64>,
    /// Entry token lifetime in seconds.
    #[arg(long, env = "CONVENE_ENTRY_TOKEN_TTL")]
    pub entry_token_ttl: Option<u64>,
    /// Seconds between WebSocket pings.
    #[arg(long, env = "CONVENE_WS_PING_INTERVAL")]
    pub ws_ping_interval: Option<u64>,
    /// Seconds of silence after which a WebSocket is closed.
    #[arg(long, env = "CONVENE_WS_TIMEOUT")]
    pub ws_timeout: Option<u64>,
    /// Largest accepted HTTP request body, in bytes.
    #[arg(long, env = "CONVENE_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Largest accepted WebSocket message, in bytes.
    #[arg(long, env = "CONVENE_MAX_WS_MESSAGE_BYTES")]
    pub max_ws_message_bytes: Option<usize>,
    /// Chat messages sent to a participant on joining.
    #[arg(long, env = "CONVENE_CHAT_HISTORY")]
    pub chat_history: Option<u32>,
    /// Failed logins (per account and per address) before logins are slowed down.
    #[arg(long, env = "CONVENE_LOGIN_THROTTLE_AFTER")]
    pub login_throttle_after: Option<u32>,
    /// Take the client address from X-Forwarded-For (only behind a trusted reverse proxy).
    #[arg(long, env = "CONVENE_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: Option<bool>,
    /// Seconds between runs of the clean-up job (expired sessions, tokens).
    #[arg(long, env = "CONVENE_CLEANUP_INTERVAL")]
    pub cleanup_interval: Option<u64>,
    /// Seconds an empty room stays live (and assigned to this node) before it is released.
    #[arg(long, env = "CONVENE_ROOM_GRACE")]
    pub room_grace: Option<u64>,
    /// Log format: text or json.
    #[arg(long, env = "CONVENE_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Log filter, e.g. info or convene=debug.
    #[arg(long, env = "CONVENE_LOG")]
    pub log: Option<String>,
}

impl Settings {
    /// Reads a TOML settings file.
    pub fn from_file(path: &Path) -> anyhow::Result<Settings> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("bad config file {}", path.display()))
    }

    /// Fills every setting not given here from `lower`.
    pub fn or(self, lower: Settings) -> Settings {
        macro_rules! pick {
            ($($f:ident),*) => { Settings { $($f: self.$f.or(lower.$f)),* } };
        }
        pick!(
            listen,
            data_dir,
            database_url,
            storage,
            public_url,
            node_id,
            node_name,
            admin_password,
            session_ttl,
            entry_token_ttl,
            ws_ping_interval,
            ws_timeout,
            max_body_bytes,
            max_ws_message_bytes,
            chat_history,
            login_throttle_after,
            trust_forwarded_for,
            cleanup_interval,
            room_grace,
            log_format,
            log
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Validated settings with defaults applied.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    /// Local path or s3:// URL of the shared file storage.
    pub storage: String,
    /// None: derived from the bound listener (`http://localhost:PORT`).
    pub public_url: Option<String>,
    pub node_id: i64,
    pub node_name: Option<String>,
    pub admin_password: Option<String>,
    pub session_ttl: Duration,
    pub entry_token_ttl: Duration,
    pub ws_ping_interval: Duration,
    pub ws_timeout: Duration,
    pub max_body_bytes: usize,
    pub max_ws_message_bytes: usize,
    pub chat_history: u32,
    pub login_throttle_after: u32,
    pub trust_forwarded_for: bool,
    pub cleanup_interval: Duration,
    pub room_grace: Duration,
    pub log_format: LogFormat,
    pub log: String,
}

impl Config {
    /// Defaults for a node keeping its data in `data_dir`; what `serve` uses with no settings.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Config {
        Settings {
            data_dir: Some(data_dir.into()),
            ..Settings::default()
        }
        .resolve()
        .expect("defaults are valid")
    }

    /// The node's display name.
    pub fn node_name(&self) -> String {
        self.node_name
            .clone()
            .unwrap_or_else(|| format!("node-{}", self.node_id))
    }
}

impl Settings {
    /// Applies defaults and checks every value, naming the setting that is wrong.
    pub fn resolve(self) -> anyhow::Result<Config> {
        let listen_text = self.listen.unwrap_or_else(|| "0.0.0.0:5080".into());
        let listen: SocketAddr = listen_text.parse().map_err(|_| {
            anyhow::anyhow!("setting `listen`: {listen_text:?} is not an address:port")
        })?;
        let data_dir = self.data_dir.unwrap_or_else(|| PathBuf::from("./data"));
        if data_dir.as_os_str().is_empty() {
            bail!("setting `data_dir` must not be empty");
        }
        let database_url = match self.database_url {
            Some(url) => normalise_database_url(&url)?,
            None => format!("sqlite://{}/convene.db?mode=rwc", data_dir.display()),
        };
        let storage = match self.storage {
            Some(s) if s.trim().is_empty() => bail!("setting `storage` must not be empty"),
            Some(s)
                if s.contains("://") && !s.starts_with("s3://") && !s.starts_with("file://") =>
            {
                bail!("setting `storage` must be a local path, file:// or s3:// URL, not {s:?}")
            }
            Some(s) => s,
            None => data_dir.join("files").display().to_string(),
        };
        let public_url = match self.public_url {
            Some(url) => Some(check_public_url(&url)?),
            None => None,
        };
        let node_id = self.node_id.unwrap_or(1);
        if !(1..=1_000_000).contains(&node_id) {
            bail!("setting `node_id` must be between 1 and 1000000, not {node_id}");
        }
        if let Some(name) = &self.node_name
            && (name.trim().is_empty() || name.len() > 100)
        {
            bail!("setting `node_name` must be 1 to 100 characters");
        }
        if let Some(pw) = &self.admin_password
            && pw.len() < 8
        {
            bail!(
                "setting `admin_password` (CONVENE_ADMIN_PASSWORD) must have at least 8 characters"
            );
        }
        let secs = |name: &str, v: Option<u64>, default: u64, min: u64, max: u64| {
            let v = v.unwrap_or(default);
            if v < min || v > max {
                bail!("setting `{name}` must be between {min} and {max} seconds, not {v}");
            }
            Ok(Duration::from_secs(v))
        };
        let ws_ping_interval = secs("ws_ping_interval", self.ws_ping_interval, 15, 1, 3600)?;
        let ws_timeout = secs("ws_timeout", self.ws_timeout, 45, 2, 7200)?;
        if ws_timeout <= ws_ping_interval {
            bail!("setting `ws_timeout` must be longer than `ws_ping_interval`");
        }
        let max_body_bytes = self.max_body_bytes.unwrap_or(1 << 20);
        if !(1024..=(64 << 20)).contains(&max_body_bytes) {
            bail!("setting `max_body_bytes` must be between 1024 and 67108864");
        }
        let max_ws_message_bytes = self.max_ws_message_bytes.unwrap_or(64 << 10);
        if !(1024..=(16 << 20)).contains(&max_ws_message_bytes) {
            bail!("setting `max_ws_message_bytes` must be between 1024 and 16777216");
        }
        let chat_history = self.chat_history.unwrap_or(50);
        if chat_history > 1000 {
            bail!("setting `chat_history` must be at most 1000");
        }
        let login_throttle_after = self.login_throttle_after.unwrap_or(5);
        if login_throttle_after == 0 {
            bail!("setting `login_throttle_after` must be at least 1");
        }
        let log_format = match self.log_format.as_deref().unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => bail!("setting `log_format` must be `text` or `json`, not {other:?}"),
        };
        Ok(Config {
            listen,
            data_dir,
            database_url,
            storage,
            public_url,
            node_id,
            node_name: self.node_name,
            admin_password: self.admin_password,
            session_ttl: secs("session_ttl", self.session_ttl, 12 * 3600, 60, 90 * 86400)?,
            entry_token_ttl: secs("entry_token_ttl", self.entry_token_ttl, 60, 5, 3600)?,
            ws_ping_interval,
            ws_timeout,
            max_body_bytes,
            max_ws_message_bytes,
            chat_history,
            login_throttle_after,
            trust_forwarded_for: self.trust_forwarded_for.unwrap_or(false),
            cleanup_interval: secs("cleanup_interval", self.cleanup_interval, 60, 1, 86400)?,
            room_grace: secs("room_grace", self.room_grace, 30, 0, 3600)?,
            log_format,
            log: self.log.unwrap_or_else(|| "info".into()),
        })
    }
}

fn normalise_database_url(url: &str) -> anyhow::Result<String> {
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let rest = rest.trim_start_matches("//");
        if rest.is_empty() {
            bail!("setting `database_url`: the sqlite URL names no file");
        }
        // Create the file on first start unless the URL says otherwise.
        if rest.contains("mode=") {
            Ok(format!("sqlite://{rest}"))
        } else if rest.contains('?') {
            Ok(format!("sqlite://{rest}&mode=rwc"))
        } else {
            Ok(format!("sqlite://{rest}?mode=rwc"))
        }
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(url.to_string())
    } else {
        bail!("setting `database_url` must start with sqlite:// or postgres://")
    }
}

fn check_public_url(url: &str) -> anyhow::Result<String> {
    let trimmed = url.trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("http://")
        .or_else(|| trimmed.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => {
            Ok(trimmed.to_string())
        }
        _ => bail!("setting `public_url` must be an http:// or https:// URL, not {url:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_zero_configuration() {
        let c = Settings::default().resolve().unwrap();
        assert_eq!(c.listen.port(), 5080);
        assert_eq!(c.database_url, "sqlite://./data/convene.db?mode=rwc");
        assert_eq!(c.node_id, 1);
        assert_eq!(c.node_name(), "node-1");
    }

    #[test]
    fn higher_layers_win() {
        let flags = Settings {
            listen: Some("127.0.0.1:1".into()),
            ..Default::default()
        };
        let env_and_file = Settings {
            listen: Some("127.0.0.1:2".into()),
            node_id: Some(7),
            ..Default::default()
        };
        let c = flags.or(env_and_file).resolve().unwrap();
        assert_eq!(c.listen.port(), 1);
        assert_eq!(c.node_id, 7);
    }

    #[test]
    fn bad_settings_are_named() {
        let err = |s: Settings| s.resolve().unwrap_err().to_string();
        assert!(
            err(Settings {
                listen: Some("nowhere".into()),
                ..Default::default()
            })
            .contains("`listen`")
        );
        assert!(
            err(Settings {
                database_url: Some("mysql://x".into()),
                ..Default::default()
            })
            .contains("`database_url`")
        );
        assert!(
            err(Settings {
                public_url: Some("ftp://x".into()),
                ..Default::default()
            })
            .contains("`public_url`")
        );
        assert!(
            err(Settings {
                ws_timeout: Some(1),
                ..Default::default()
            })
            .contains("`ws_timeout`")
        );
    }

    #[test]
    fn file_rejects_unknown_keys() {
        let bad: Result<Settings, _> = toml::from_str("listne = \"1.2.3.4:5\"");
        assert!(bad.unwrap_err().to_string().contains("listne"));
        let good: Settings = toml::from_str("listen = \"1.2.3.4:5\"\nnode_id = 3").unwrap();
        assert_eq!(good.node_id, Some(3));
    }

    #[test]
    fn sqlite_urls_get_create_mode() {
        assert_eq!(
            normalise_database_url("sqlite:x.db").unwrap(),
            "sqlite://x.db?mode=rwc"
        );
        assert_eq!(
            normalise_database_url("sqlite://x.db?mode=ro").unwrap(),
            "sqlite://x.db?mode=ro"
        );
    }
}
