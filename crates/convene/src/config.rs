//! Settings: command-line flags win over `CONVENE_*` environment variables, which win
//! over the TOML file given with `--config`, which wins over the defaults.
//!
//! Every setting is listed in `docs/configuration.md`; a bad value stops start-up with
//! a message naming the setting.

use crate::auth::password::{MAX_PASSWORD_LEN, MIN_PASSWORD_LEN};
use crate::store::NODE_IDS;
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
    /// UDP port of the media service (one port for all peers; 0 picks a free one).
    #[arg(long, env = "CONVENE_MEDIA_PORT")]
    pub media_port: Option<u16>,
    /// IP address advertised to browsers for media (the public side of a 1:1 NAT).
    #[arg(long, env = "CONVENE_MEDIA_PUBLIC_IP")]
    pub media_public_ip: Option<String>,
    /// TURN server URLs given to browsers, comma-separated (e.g. turn:turn.example.org:3478).
    #[arg(long, env = "CONVENE_TURN_URLS")]
    pub turn_urls: Option<String>,
    /// Username for the TURN servers.
    #[arg(long, env = "CONVENE_TURN_USERNAME")]
    pub turn_username: Option<String>,
    /// Credential for the TURN servers (environment or file only).
    #[arg(skip)]
    pub turn_credential: Option<String>,
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
            media_port,
            media_public_ip,
            turn_urls,
            turn_username,
            turn_credential,
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
    pub media_port: u16,
    /// None: advertise the listen address (or 127.0.0.1 when listening on all addresses).
    pub media_public_ip: Option<std::net::IpAddr>,
    /// `iceServers` for browsers.
    pub ice_servers: serde_json::Value,
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
        if !NODE_IDS.contains(&node_id) {
            bail!(
                "setting `node_id` must be between {} and {}, not {node_id}",
                NODE_IDS.start(),
                NODE_IDS.end()
            );
        }
        if let Some(name) = &self.node_name
            && (name.trim().is_empty() || name.chars().count() > 100)
        {
            bail!("setting `node_name` must be 1 to 100 characters");
        }
        if let Some(pw) = &self.admin_password {
            // The password policy of every account; a longer one could never sign in.
            if pw.chars().count() < MIN_PASSWORD_LEN {
                bail!(
                    "setting `admin_password` (CONVENE_ADMIN_PASSWORD) must have at least {MIN_PASSWORD_LEN} characters"
                );
            }
            if pw.len() > MAX_PASSWORD_LEN {
                bail!(
                    "setting `admin_password` (CONVENE_ADMIN_PASSWORD) must have at most {MAX_PASSWORD_LEN} bytes"
                );
            }
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
        let log = self.log.unwrap_or_else(|| "info".into());
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&log) {
            bail!("setting `log`: {log:?} is not a log filter ({e})");
        }
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
            media_port: self.media_port.unwrap_or(5080),
            media_public_ip: match self.media_public_ip.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(ip) => Some(ip.parse().map_err(|_| {
                    anyhow::anyhow!("setting `media_public_ip`: {ip:?} is not an IP address")
                })?),
            },
            ice_servers: ice_servers(
                self.turn_urls.as_deref(),
                self.turn_username.as_deref(),
                self.turn_credential.as_deref(),
            )?,
            log_format,
            log,
        })
    }
}

/// The TURN servers as WebRTC `iceServers`; each URL must be turn: or turns:.
fn ice_servers(
    urls: Option<&str>,
    username: Option<&str>,
    credential: Option<&str>,
) -> anyhow::Result<serde_json::Value> {
    let urls: Vec<&str> = urls
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .collect();
    if urls.is_empty() {
        return Ok(serde_json::json!([]));
    }
    if let Some(bad) = urls
        .iter()
        .find(|u| !(u.starts_with("turn:") || u.starts_with("turns:") || u.starts_with("stun:")))
    {
        bail!("setting `turn_urls`: {bad:?} is not a turn:, turns: or stun: URL");
    }
    let mut server = serde_json::json!({ "urls": urls });
    if let (Some(u), Some(c)) = (username, credential) {
        server["username"] = u.into();
        server["credential"] = c.into();
    } else if urls.iter().any(|u| u.starts_with("turn")) {
        bail!("settings `turn_username` and `turn_credential` are needed with TURN servers");
    }
    Ok(serde_json::json!([server]))
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
    fn admin_password_log_filter_and_node_name_limits() {
        let resolve = |s: Settings| s.resolve().map_err(|e| e.to_string());
        let pw = |p: &str| Settings {
            admin_password: Some(p.into()),
            ..Default::default()
        };
        assert!(resolve(pw(&"p".repeat(256))).is_ok());
        let err = resolve(pw(&"p".repeat(257))).unwrap_err();
        assert!(
            err.contains("`admin_password`") && err.contains("256"),
            "{err}"
        );
        assert!(
            resolve(pw("short"))
                .unwrap_err()
                .contains("`admin_password`")
        );
        // Eight characters, even when they take more bytes, as for every password.
        assert!(resolve(pw("ééééééé")).is_err());
        assert!(resolve(pw("éééééééé")).is_ok());

        let log = |l: &str| Settings {
            log: Some(l.into()),
            ..Default::default()
        };
        assert!(resolve(log("info,convene=debug")).is_ok());
        let err = resolve(log("convene=loud")).unwrap_err();
        assert!(err.contains("`log`"), "{err}");

        let name = |n: String| Settings {
            node_name: Some(n),
            ..Default::default()
        };
        assert!(resolve(name("é".repeat(100))).is_ok(), "100 characters");
        assert!(
            resolve(name("é".repeat(101)))
                .unwrap_err()
                .contains("`node_name`")
        );
        assert!(resolve(name("  ".into())).is_err());
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
