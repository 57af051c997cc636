//! The URL a node hands out, built from the request's Host (and, when trusted,
//! X-Forwarded-Proto/Host) by `public_url.rs`; the CSRF check of Origin against Host
//! (`api/csrf.rs`). Input: a flags byte, then header values separated by newlines.
#![no_main]

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use convene::config::{Config, TlsSource};
use convene::public_url::{
    from_request, names_this_machine_only, normalise_host, websocket_origin,
};
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

/// Plain and HTTPS nodes, trusting forwarded headers or not.
static CONFIGS: LazyLock<Vec<Config>> = LazyLock::new(|| {
    let mut configs = Vec::new();
    for tls in [false, true] {
        for trust in [false, true] {
            let mut c = Config::with_data_dir("/nonexistent");
            c.trust_forwarded_for = trust;
            c.tls = tls.then_some(TlsSource::SelfSigned);
            configs.push(c);
        }
    }
    configs
});

const NAMES: [&str; 5] = [
    "host",
    "x-forwarded-host",
    "x-forwarded-proto",
    "origin",
    "sec-fetch-site",
];

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let config = &CONFIGS[usize::from(flags & 3)];
    let mut headers = HeaderMap::new();
    for (i, value) in rest.split(|b| *b == b'\n').enumerate() {
        let name = NAMES[i % NAMES.len()];
        // A second Host when the flags say so (proxies and attackers send two).
        let Ok(value) = HeaderValue::from_bytes(value) else {
            continue;
        };
        if name == "sec-fetch-site" && flags & 4 == 0 {
            continue;
        }
        headers.append(HeaderName::from_static(name), value);
    }
    if let Ok(origin) = from_request(config, &headers) {
        let (scheme, host) = origin.split_once("://").expect("an origin has a scheme");
        assert!(scheme == "http" || scheme == "https", "{origin}");
        // What we hand out parses again to itself.
        assert_eq!(
            normalise_host(scheme, host).as_deref(),
            Some(host),
            "{origin}"
        );
        assert!(url_parses(&origin), "{origin}");
        let _ = names_this_machine_only(&origin);
        assert!(websocket_origin(&origin).starts_with("ws"));
    }
    if let Ok(value) = std::str::from_utf8(rest) {
        for scheme in ["http", "https"] {
            if let Some(host) = normalise_host(scheme, value) {
                assert_eq!(
                    normalise_host(scheme, &host).as_deref(),
                    Some(host.as_str()),
                    "{value:?}"
                );
            }
        }
        let _ = names_this_machine_only(value);
    }
    let _ = convene::api::csrf::same_origin(&headers);
});

fn url_parses(origin: &str) -> bool {
    origin.parse::<axum::http::Uri>().is_ok()
}
