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

use checks::{
    check_log_filter, check_public_url, frame_ancestors, ice_servers, normalise_database_url,
    openmeetings_prefix, rate_limits,
};

/// Upper bound of `max_connections` and `max_connections_per_address`.
const MAX_CONNECTIONS: usize = 1_000_000;

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
    /// Chat messages a participant may send at once (then `chat_per_second`).
    #[arg(long, env = "CONVENE_CHAT_BURST")]
    pub chat_burst: Option<u32>,
    /// Chat messages a participant may send per second, sustained.
    #[arg(long, env = "CONVENE_CHAT_PER_SECOND")]
    pub chat_per_second: Option<u32>,
    /// Other frames (media signalling, moderation, pings) a participant may send at once.
    #[arg(long, env = "CONVENE_FRAME_BURST")]
    pub frame_burst: Option<u32>,
    /// Other frames a participant may send per second, sustained.
    #[arg(long, env = "CONVENE_FRAME_PER_SECOND")]
    pub frame_per_second: Option<u32>,
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
    /// Seconds a client may take to send a request's headers.
    #[arg(long, env = "CONVENE_HTTP_HEADER_TIMEOUT")]
    pub http_header_timeout: Option<u64>,
    /// Seconds a client may take to send a request's whole body.
    #[arg(long, env = "CONVENE_HTTP_BODY_TIMEOUT")]
    pub http_body_timeout: Option<u64>,
    /// Seconds after which an HTTP connection with no traffic is closed.
    #[arg(long, env = "CONVENE_HTTP_IDLE_TIMEOUT")]
    pub http_idle_timeout: Option<u64>,
    /// Most HTTP connections (WebSockets included) open at once; default from the file limit.
    #[arg(long, env = "CONVENE_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Most HTTP connections open at once from one client address (0: no limit).
    #[arg(long, env = "CONVENE_MAX_CONNECTIONS_PER_ADDRESS")]
    pub max_connections_per_address: Option<usize>,
    /// Seconds shutdown waits for requests and connections before closing them.
    #[arg(long, env = "CONVENE_SHUTDOWN_GRACE")]
    pub shutdown_grace: Option<u64>,
    /// Log format: text or json.
    #[arg(long, env = "CONVENE_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Log filter, e.g. info or convene=debug.
    #[arg(long, env = "CONVENE_LOG")]
    pub log: Option<String>,
    /// Serve HTTPS with a certificate made and kept in the data directory: `self-signed`.
    #[arg(long, env = "CONVENE_TLS")]
    pub tls: Option<String>,
    /// PEM file with the HTTPS certificate chain (reloaded on SIGHUP).
    #[arg(long, env = "CONVENE_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM file with the HTTPS private key (reloaded on SIGHUP).
    #[arg(long, env = "CONVENE_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// A plain-HTTP port that redirects every request to HTTPS (needs TLS).
    #[arg(long, env = "CONVENE_HTTP_REDIRECT_PORT")]
    pub http_redirect_port: Option<u16>,
    /// Largest file that may be uploaded, in bytes.
    #[arg(long, env = "CONVENE_MAX_FILE_BYTES")]
    pub max_file_bytes: Option<u64>,
    /// Bytes the files of one room may take (0: no limit).
    #[arg(long, env = "CONVENE_ROOM_QUOTA_BYTES")]
    pub room_quota_bytes: Option<u64>,
    /// Bytes the personal files of one account may take (0: no limit).
    #[arg(long, env = "CONVENE_USER_QUOTA_BYTES")]
    pub user_quota_bytes: Option<u64>,
    /// Seconds a client may take to send an upload's whole body.
    #[arg(long, env = "CONVENE_UPLOAD_TIMEOUT")]
    pub upload_timeout: Option<u64>,
    /// Seconds one document's conversion may take before it is stopped (and fails).
    #[arg(long, env = "CONVENE_CONVERSION_TIMEOUT")]
    pub conversion_timeout: Option<u64>,
    /// Most pages a document may have to be converted.
    #[arg(long, env = "CONVENE_CONVERSION_MAX_PAGES")]
    pub conversion_max_pages: Option<u32>,
    /// Resolution of converted pages, in dots per inch.
    #[arg(long, env = "CONVENE_CONVERSION_DPI")]
    pub conversion_dpi: Option<u32>,
    /// Address space each document converter may take, in MiB.
    #[arg(long, env = "CONVENE_CONVERSION_MEMORY_LIMIT")]
    pub conversion_memory_limit: Option<u32>,
    /// Days a finished recording is kept (0: for ever).
    #[arg(long, env = "CONVENE_RECORDING_RETENTION_DAYS")]
    pub recording_retention_days: Option<u32>,
    /// Path under which the OpenMeetings-compatible API is served (`/openmeetings`).
    #[arg(long, env = "CONVENE_OPENMEETINGS_PREFIX")]
    pub openmeetings_prefix: Option<String>,
    /// Origins allowed to show Convene's pages in a frame (an LMS), space- or comma-separated.
    #[arg(long, env = "CONVENE_FRAME_ANCESTORS")]
    pub frame_ancestors: Option<String>,
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
            chat_burst,
            chat_per_second,
            frame_burst,
            frame_per_second,
            login_throttle_after,
            trust_forwarded_for,
            cleanup_interval,
            room_grace,
            media_port,
            media_public_ip,
            turn_urls,
            turn_username,
            turn_credential,
            http_header_timeout,
            http_body_timeout,
            http_idle_timeout,
            max_connections,
            max_connections_per_address,
            shutdown_grace,
            log_format,
            log,
            tls,
            tls_cert,
            tls_key,
            http_redirect_port,
            max_file_bytes,
            room_quota_bytes,
            user_quota_bytes,
            upload_timeout,
            conversion_timeout,
            conversion_max_pages,
            conversion_dpi,
            conversion_memory_limit,
            recording_retention_days,
            openmeetings_prefix,
            frame_ancestors
        )
    }
}

/// Where the HTTPS certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    /// PEM files given by the operator, read again on SIGHUP.
    Files { cert: PathBuf, key: PathBuf },
    /// Made on first start and kept in the data directory (`crate::tls`).
    SelfSigned,
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
    /// None: every URL handed out is built from the request (`crate::public_url`);
    /// refused for `serve` in a cluster ([`Config::check_for_serving`]).
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
    /// Per-participant budgets of the live rooms.
    pub rate_limits: crate::rooms::RateLimits,
    pub login_throttle_after: u32,
    pub trust_forwarded_for: bool,
    pub cleanup_interval: Duration,
    /// Finished recordings older than this are deleted (None: kept for ever).
    pub recording_retention: Option<Duration>,
    pub room_grace: Duration,
    pub media_port: u16,
    /// None: advertise the listen address (or 127.0.0.1 when listening on all addresses).
    pub media_public_ip: Option<std::net::IpAddr>,
    /// `iceServers` for browsers.
    pub ice_servers: serde_json::Value,
    pub http_header_timeout: Duration,
    pub http_body_timeout: Duration,
    pub http_idle_timeout: Duration,
    /// None: derived from the file limit at start (see `http_server::connection_cap`).
    pub max_connections: Option<usize>,
    /// 0: no per-address limit.
    pub max_connections_per_address: usize,
    pub shutdown_grace: Duration,
    pub log_format: LogFormat,
    pub log: String,
    /// None: plain HTTP.
    pub tls: Option<TlsSource>,
    /// A plain-HTTP listener (same address as `listen`) redirecting to HTTPS.
    pub http_redirect_port: Option<u16>,
    /// File areas (`docs/files.md`): the largest file, the quotas (0: none), and how long
    /// an upload's body may take.
    pub max_file_bytes: u64,
    pub room_quota_bytes: u64,
    pub user_quota_bytes: u64,
    pub upload_timeout: Duration,
    /// Document conversion (`docs/files.md`): the time limit, the page limit, the resolution.
    pub conversion: crate::files::convert::Limits,
    /// Where the OpenMeetings-compatible API lives (`docs/openmeetings-api.md`), e.g.
    /// `/openmeetings`: no trailing slash.
    pub openmeetings_prefix: String,
    /// Origins (`https://lms.example.org`) whose pages may frame Convene's; empty: none.
    pub frame_ancestors: Vec<String>,
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

    /// Checks that only matter for `serve`: the administration commands run fine
    /// with them unmet.
    pub fn check_for_serving(&self) -> anyhow::Result<()> {
        if self.public_url.is_none() && self.database_url.starts_with("postgres") {
            bail!(
                "setting `public_url` is required in a cluster (the database is PostgreSQL): other \
                 nodes send browsers to this node by its public URL, so it cannot be guessed from a \
                 request; set --public-url or CONVENE_PUBLIC_URL to the URL browsers use for this \
                 node, e.g. https://meet2.example.org"
            );
        }
        Ok(())
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
        let bounded = |name: &str, v: Option<u32>, default: u32, min: u32, max: u32| {
            let v = v.unwrap_or(default);
            if v < min || v > max {
                bail!("setting `{name}` must be between {min} and {max}, not {v}");
            }
            Ok(v)
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
        let rate_limits = rate_limits(
            self.chat_burst,
            self.chat_per_second,
            self.frame_burst,
            self.frame_per_second,
        )?;
        let login_throttle_after = self.login_throttle_after.unwrap_or(5);
        if login_throttle_after == 0 {
            bail!("setting `login_throttle_after` must be at least 1");
        }
        let max_connections = match self.max_connections {
            Some(n) if !(1..=MAX_CONNECTIONS).contains(&n) => {
                bail!("setting `max_connections` must be between 1 and {MAX_CONNECTIONS}, not {n}")
            }
            other => other,
        };
        // Behind a reverse proxy every client has the proxy's address: no default cap then.
        let per_address_default = if self.trust_forwarded_for == Some(true) {
            0
        } else {
            500
        };
        let max_connections_per_address = self
            .max_connections_per_address
            .unwrap_or(per_address_default);
        if max_connections_per_address > MAX_CONNECTIONS {
            bail!(
                "setting `max_connections_per_address` must be between 0 and {MAX_CONNECTIONS}, not {max_connections_per_address}"
            );
        }
        let log_format = match self.log_format.as_deref().unwrap_or("text") {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => bail!("setting `log_format` must be `text` or `json`, not {other:?}"),
        };
        let log = self.log.unwrap_or_else(|| "info".into());
        check_log_filter(&log)?;
        let tls = match (
            self.tls.as_deref().map(str::trim),
            self.tls_cert,
            self.tls_key,
        ) {
            (None | Some(""), None, None) => None,
            (None | Some(""), Some(cert), Some(key)) => {
                if cert.as_os_str().is_empty() || key.as_os_str().is_empty() {
                    bail!("settings `tls_cert` and `tls_key` must not be empty");
                }
                Some(TlsSource::Files { cert, key })
            }
            (None | Some(""), Some(_), None) => {
                bail!("setting `tls_cert` needs `tls_key` (the private key's PEM file) too")
            }
            (None | Some(""), None, Some(_)) => {
                bail!("setting `tls_key` needs `tls_cert` (the certificate's PEM file) too")
            }
            (Some("self-signed"), None, None) => Some(TlsSource::SelfSigned),
            (Some("self-signed"), _, _) => bail!(
                "setting `tls` = self-signed cannot be combined with `tls_cert`/`tls_key`: choose one"
            ),
            (Some(other), _, _) => bail!(
                "setting `tls` must be `self-signed` (or give `tls_cert` and `tls_key`), not {other:?}"
            ),
        };
        let http_redirect_port = match self.http_redirect_port {
            None => None,
            Some(_) if tls.is_none() => bail!(
                "setting `http_redirect_port` needs HTTPS: give `tls` = self-signed or `tls_cert` and `tls_key`"
            ),
            Some(0) => bail!("setting `http_redirect_port` must be between 1 and 65535"),
            Some(p) if p == listen.port() => {
                bail!("setting `http_redirect_port` must differ from the port of `listen` ({p})")
            }
            Some(p) => Some(p),
        };
        let max_file_bytes = self.max_file_bytes.unwrap_or(100 << 20);
        if !(1024..=(1 << 40)).contains(&max_file_bytes) {
            bail!("setting `max_file_bytes` must be between 1024 and 1099511627776 (1 TiB)");
        }
        let quota = |name: &str, v: Option<u64>, default: u64| {
            let v = v.unwrap_or(default);
            if v > 1 << 50 {
                bail!("setting `{name}` must be between 0 (no limit) and 1125899906842624 (1 PiB)");
            }
            Ok(v)
        };
        let room_quota_bytes = quota("room_quota_bytes", self.room_quota_bytes, 1 << 30)?;
        let user_quota_bytes = quota("user_quota_bytes", self.user_quota_bytes, 256 << 20)?;
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
            rate_limits,
            login_throttle_after,
            trust_forwarded_for: self.trust_forwarded_for.unwrap_or(false),
            cleanup_interval: secs("cleanup_interval", self.cleanup_interval, 60, 1, 86400)?,
            recording_retention: match bounded(
                "recording_retention_days",
                self.recording_retention_days,
                0,
                0,
                36_500,
            )? {
                0 => None,
                days => Some(Duration::from_secs(u64::from(days) * 86_400)),
            },
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
            http_header_timeout: secs(
                "http_header_timeout",
                self.http_header_timeout,
                10,
                1,
                3600,
            )?,
            http_body_timeout: secs("http_body_timeout", self.http_body_timeout, 30, 1, 86400)?,
            http_idle_timeout: secs("http_idle_timeout", self.http_idle_timeout, 60, 1, 86400)?,
            max_connections,
            max_connections_per_address,
            shutdown_grace: secs("shutdown_grace", self.shutdown_grace, 10, 0, 3600)?,
            log_format,
            log,
            tls,
            http_redirect_port,
            max_file_bytes,
            room_quota_bytes,
            user_quota_bytes,
            upload_timeout: secs("upload_timeout", self.upload_timeout, 3600, 10, 86400)?,
            conversion: crate::files::convert::Limits {
                timeout: secs("conversion_timeout", self.conversion_timeout, 120, 1, 3600)?,
                max_pages: bounded(
                    "conversion_max_pages",
                    self.conversion_max_pages,
                    500,
                    1,
                    10_000,
                )?,
                dpi: bounded("conversion_dpi", self.conversion_dpi, 120, 30, 600)?,
                memory: u64::from(bounded(
                    "conversion_memory_limit",
                    self.conversion_memory_limit,
                    2048,
                    64,
                    1 << 20,
                )?) << 20,
            },
            openmeetings_prefix: openmeetings_prefix(self.openmeetings_prefix.as_deref())?,
            frame_ancestors: frame_ancestors(self.frame_ancestors.as_deref())?,
        })
    }
}

mod checks;
#[cfg(test)]
mod tests;
