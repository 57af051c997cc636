//! Checks of single settings' values (and the values they become): each error names
//! its setting, so start-up stops with a message the operator can act on.

use anyhow::bail;

/// First path segments that Convene's own routes use: the API prefix may not take them.
const RESERVED_SEGMENTS: &[&str] = &[
    "api", "ws", "assets", "room", "rooms", "my-rooms", "login", "profile", "admin", "invite",
    "healthz", "readyz", "metrics",
];

/// `/name[/more]`: letters, digits, `-`, `_`, `.`; no trailing slash; not one of Convene's.
pub(super) fn openmeetings_prefix(given: Option<&str>) -> anyhow::Result<String> {
    let prefix = given.map(str::trim).unwrap_or("/openmeetings");
    let segments: Vec<&str> = prefix.strip_prefix('/').unwrap_or("").split('/').collect();
    let valid = prefix.starts_with('/')
        && prefix.len() <= 100
        && segments.iter().all(|s| {
            !s.is_empty()
                && *s != "."
                && *s != ".."
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        });
    if !valid {
        bail!(
            "setting `openmeetings_prefix`: {prefix:?} must be a path such as /openmeetings \
             (starting with /, no trailing slash, letters, digits, - _ . only)"
        );
    }
    if RESERVED_SEGMENTS.contains(&segments[0]) {
        bail!(
            "setting `openmeetings_prefix`: {prefix:?} starts with /{}, which Convene uses itself",
            segments[0]
        );
    }
    Ok(prefix.to_string())
}

/// Origins for CSP `frame-ancestors`: `https://host[:port]` (or `http://`), or `'self'`.
pub(super) fn frame_ancestors(given: Option<&str>) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for item in given
        .unwrap_or("")
        .split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let origin = item.trim_end_matches('/');
        let ok = origin == "'self'"
            || url::Url::parse(origin).is_ok_and(|u| {
                matches!(u.scheme(), "https" | "http")
                    && u.host_str().is_some()
                    && u.path() == "/"
                    && u.query().is_none()
                    && u.username().is_empty()
                    && !origin.contains(['*', ';', '"', '\''])
            });
        if !ok {
            bail!(
                "setting `frame_ancestors`: {item:?} is not an origin such as \
                 https://moodle.example.org (or 'self')"
            );
        }
        out.push(origin.to_string());
    }
    Ok(out)
}

/// The TURN servers as WebRTC `iceServers`; each URL must be turn: or turns:.
pub(super) fn ice_servers(
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

pub(super) fn normalise_database_url(url: &str) -> anyhow::Result<String> {
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

/// The log filter must parse, and every directive must end in a real level: the
/// filter syntax would otherwise take `loud` for the name of a module to log in full.
pub(super) fn check_log_filter(log: &str) -> anyhow::Result<()> {
    const LEVELS: &str = "use error, warn, info, debug, trace or off, optionally per module \
                          as in `info,convene=debug`";
    if log.trim().is_empty() {
        bail!("setting `log` must not be empty ({LEVELS})");
    }
    if let Err(e) = tracing_subscriber::EnvFilter::try_new(log) {
        bail!("setting `log`: {log:?} is not a log filter ({e}; {LEVELS})");
    }
    for directive in log.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let level = directive
            .rsplit_once('=')
            .map_or(directive, |(_, l)| l)
            .trim();
        let real = !level.is_empty()
            && !level.chars().all(|c| c.is_ascii_digit())
            && level
                .parse::<tracing_subscriber::filter::LevelFilter>()
                .is_ok();
        if !real {
            bail!("setting `log`: {level:?} in {log:?} is not a log level ({LEVELS})");
        }
    }
    Ok(())
}

pub(super) fn check_public_url(url: &str) -> anyhow::Result<String> {
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

/// The rate-limit settings, each between 1 and 100000.
pub(super) fn rate_limits(
    chat_burst: Option<u32>,
    chat_per_second: Option<u32>,
    frame_burst: Option<u32>,
    frame_per_second: Option<u32>,
) -> anyhow::Result<crate::rooms::RateLimits> {
    use crate::rooms::{Budget, RateLimits};
    let default = RateLimits::default();
    let get = |name: &str, v: Option<u32>, default: u32| {
        let v = v.unwrap_or(default);
        if !(1..=100_000).contains(&v) {
            bail!("setting `{name}` must be between 1 and 100000, not {v}");
        }
        Ok(v)
    };
    Ok(RateLimits {
        chat: Budget {
            burst: get("chat_burst", chat_burst, default.chat.burst)?,
            per_second: get("chat_per_second", chat_per_second, default.chat.per_second)?,
        },
        frames: Budget {
            burst: get("frame_burst", frame_burst, default.frames.burst)?,
            per_second: get(
                "frame_per_second",
                frame_per_second,
                default.frames.per_second,
            )?,
        },
    })
}
