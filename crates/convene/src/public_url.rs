//! The URLs a node hands out (`enter`'s `ws_url` and `room_url`, invitation links):
//! the configured `public_url`, or — a single node without one — built from the
//! request, so that `http://THE-MACHINE:5080` works from any computer with no setting.
//!
//! From the request means the `Host` header, validated as a host with an optional
//! port and nothing else (no user, path, query or control character), and with
//! `trust_forwarded_for` the reverse proxy's `X-Forwarded-Proto` and
//! `X-Forwarded-Host`. The scheme is `https` when the node serves TLS itself.

use crate::config::Config;
use axum::http::HeaderMap;
use axum::http::uri::Authority;
use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Mutex;

/// Why no URL could be built from a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadHost {
    #[error("the request has no Host header")]
    Missing,
    #[error("the Host header is not a host name or address with an optional port")]
    Invalid,
    #[error("the X-Forwarded-Host header is not a host name or address with an optional port")]
    InvalidForwarded,
}

/// The origin (`scheme://host[:port]`, no trailing slash) under which the client
/// reached this node: `public_url` when set, else built from the request.
pub fn origin_for_request(config: &Config, headers: &HeaderMap) -> Result<String, BadHost> {
    if let Some(url) = &config.public_url {
        return Ok(url.clone());
    }
    from_request(config, headers)
}

/// [`origin_for_request`] for a handler: a bad Host is the client's error (400).
pub fn client_origin(config: &Config, headers: &HeaderMap) -> crate::error::ApiResult<String> {
    origin_for_request(config, headers)
        .map_err(|e| crate::error::ApiError::bad_request(e.to_string()))
}

/// The origin built from the request alone (ignores `public_url`).
pub fn from_request(config: &Config, headers: &HeaderMap) -> Result<String, BadHost> {
    let mut scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let mut host = None;
    if config.trust_forwarded_for {
        if let Some(proto) = first_value(headers, "x-forwarded-proto") {
            match proto.to_ascii_lowercase().as_str() {
                "https" => scheme = "https",
                "http" => scheme = "http",
                // Anything else is not ours to repeat to clients: ignored.
                _ => {}
            }
        }
        if let Some(forwarded) = first_value(headers, "x-forwarded-host") {
            host = Some(normalise_host(scheme, &forwarded).ok_or(BadHost::InvalidForwarded)?);
        }
    }
    let host = match host {
        Some(h) => h,
        None => {
            if headers.get_all(axum::http::header::HOST).iter().count() > 1 {
                return Err(BadHost::Invalid);
            }
            let value = headers
                .get(axum::http::header::HOST)
                .ok_or(BadHost::Missing)?
                .to_str()
                .map_err(|_| BadHost::Invalid)?;
            normalise_host(scheme, value).ok_or(BadHost::Invalid)?
        }
    };
    Ok(format!("{scheme}://{host}"))
}

/// The first entry of a header that proxies may repeat or list (`a, b`).
fn first_value(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?;
    let first = value.split(',').next()?.trim();
    (!first.is_empty()).then(|| first.to_string())
}

/// `host[:port]` checked and normalised (lower case, a default port dropped), or None
/// when it is anything else.
pub fn normalise_host(scheme: &str, value: &str) -> Option<String> {
    let value = value.trim();
    // The http crate's authority grammar refuses spaces, control characters, paths,
    // queries and fragments; a user part is legal there, but not in a Host.
    let authority: Authority = value.parse().ok()?;
    if authority.as_str().contains('@') || authority.host().is_empty() {
        return None;
    }
    let url = url::Url::parse(&format!("{scheme}://{}/", authority.as_str())).ok()?;
    if url.path() != "/" || url.query().is_some() || !url.username().is_empty() {
        return None;
    }
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    })
}

/// Whether the URL names a host only the machine itself can reach: `localhost`
/// (and `*.localhost`), 127.0.0.0/8, ::1 or an unspecified address.
pub fn names_this_machine_only(url: &str) -> bool {
    let Ok(url) = url::Url::parse(url) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback() || ip.is_unspecified(),
        Some(url::Host::Ipv6(ip)) => {
            ip.is_loopback()
                || ip.is_unspecified()
                || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        None => false,
    }
}

/// The `ws://` or `wss://` form of an `http(s)://` origin.
pub fn websocket_origin(origin: &str) -> String {
    if let Some(rest) = origin.strip_prefix("https://") {
        format!("wss://{rest}")
    } else {
        format!("ws://{}", origin.trim_start_matches("http://"))
    }
}

/// Whether this node's browser sessions travel over HTTPS only (the cookie's `Secure`).
pub fn cookies_secure(config: &Config) -> bool {
    config.tls.is_some()
        || config
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
}

/// Warnings about handed-out URLs that the client cannot reach, each logged once.
#[derive(Debug, Default)]
pub struct UnreachableWarnings {
    seen: Mutex<HashSet<String>>,
}

impl UnreachableWarnings {
    /// Logs a warning (once per distinct URL) when `url` names this machine only but
    /// goes to a client at a non-loopback address: no browser there can follow it.
    pub fn check(&self, url: &str, client: &str) {
        let Ok(ip) = client.parse::<IpAddr>() else {
            return;
        };
        if ip.to_canonical().is_loopback() || !names_this_machine_only(url) {
            return;
        }
        let first = self
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(url.to_string());
        if first {
            tracing::warn!(
                url,
                client,
                "handing a client on another computer a URL that names this machine only \
                 ({url}): no browser there can follow it. Set the `public_url` setting \
                 (--public-url, CONVENE_PUBLIC_URL) to the URL other computers use to reach \
                 this node (logged once per URL)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn hosts_are_checked_and_normalised() {
        let ok = |v: &str| normalise_host("http", v);
        assert_eq!(ok("127.0.0.2:5080").as_deref(), Some("127.0.0.2:5080"));
        assert_eq!(ok("School.Example").as_deref(), Some("school.example"));
        assert_eq!(ok("school.example:80").as_deref(), Some("school.example"));
        assert_eq!(ok("[::1]:5080").as_deref(), Some("[::1]:5080"));
        // Browsers send IDNs as punycode; raw UTF-8 is no valid Host.
        assert_eq!(
            ok("xn--bcher-kva.example").as_deref(),
            Some("xn--bcher-kva.example")
        );
        assert_eq!(ok("bücher.example"), None);
        for bad in [
            "",
            "example.org/path",
            "example.org?x",
            "example.org#x",
            "user@example.org",
            "exa mple.org",
            "example.org:99999",
            "example.org:port",
            "exa\tmple.org",
            "http://example.org",
            ":5080",
        ] {
            assert_eq!(ok(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn loopback_urls_are_recognised() {
        assert!(names_this_machine_only("http://localhost:5080"));
        assert!(names_this_machine_only("http://app.localhost"));
        assert!(names_this_machine_only("http://127.0.0.9:1"));
        assert!(names_this_machine_only("https://[::1]:8443"));
        assert!(names_this_machine_only("http://0.0.0.0:5080"));
        assert!(!names_this_machine_only("http://192.0.2.10:5080"));
        assert!(!names_this_machine_only("https://meet.example.org"));
    }

    #[test]
    fn forwarded_headers_count_only_when_trusted() {
        let mut config = Config::with_data_dir("/nonexistent");
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("10.0.0.1:5080"));
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        h.insert(
            "x-forwarded-host",
            HeaderValue::from_static("meet.example.org, proxy.internal"),
        );
        assert_eq!(from_request(&config, &h).unwrap(), "http://10.0.0.1:5080");
        config.trust_forwarded_for = true;
        assert_eq!(
            from_request(&config, &h).unwrap(),
            "https://meet.example.org"
        );
        h.insert(
            "x-forwarded-host",
            HeaderValue::from_static("evil.example/x"),
        );
        assert_eq!(from_request(&config, &h), Err(BadHost::InvalidForwarded));
        h.remove("x-forwarded-host");
        assert_eq!(from_request(&config, &h).unwrap(), "https://10.0.0.1:5080");
        h.remove("host");
        assert_eq!(from_request(&config, &h), Err(BadHost::Missing));
        config.public_url = Some("https://meet.example.org".into());
        assert_eq!(
            origin_for_request(&config, &h).unwrap(),
            "https://meet.example.org"
        );
    }
}
