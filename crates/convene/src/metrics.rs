//! Prometheus metrics of one node, kept in the node's state (no global registry, so
//! several nodes can run in one process).

use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    pub fn dec(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The HTTP server's connection figures (see `http_server`).
#[derive(Default)]
pub struct HttpCounters {
    /// Open connections, upgraded WebSockets included.
    pub open: Gauge,
    /// The cap in force (`max_connections` fitted under the file limit).
    pub max: Gauge,
    pub refused_total_cap: Counter,
    pub refused_address_cap: Counter,
    pub accept_errors: Counter,
    pub header_timeouts: Counter,
    pub body_timeouts: Counter,
    pub idle_timeouts: Counter,
    /// Connections still open at the end of `shutdown_grace`, closed by force.
    pub forced_closes: Counter,
}

impl HttpCounters {
    fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP convene_http_connections Open HTTP connections, WebSockets included.\n# TYPE convene_http_connections gauge\nconvene_http_connections {}",
            self.open.get()
        );
        let _ = writeln!(
            out,
            "# HELP convene_http_connections_max The cap on open HTTP connections in force.\n# TYPE convene_http_connections_max gauge\nconvene_http_connections_max {}",
            self.max.get()
        );
        let _ = writeln!(
            out,
            "# HELP convene_http_connections_refused_total Connections closed at once because a cap was reached.\n# TYPE convene_http_connections_refused_total counter\nconvene_http_connections_refused_total{{why=\"total\"}} {}\nconvene_http_connections_refused_total{{why=\"address\"}} {}",
            self.refused_total_cap.get(),
            self.refused_address_cap.get()
        );
        let _ = writeln!(
            out,
            "# HELP convene_http_accept_errors_total Failed accepts (e.g. out of file descriptors).\n# TYPE convene_http_accept_errors_total counter\nconvene_http_accept_errors_total {}",
            self.accept_errors.get()
        );
        let _ = writeln!(
            out,
            "# HELP convene_http_timeouts_total Connections closed by a timeout.\n# TYPE convene_http_timeouts_total counter\nconvene_http_timeouts_total{{what=\"header\"}} {}\nconvene_http_timeouts_total{{what=\"body\"}} {}\nconvene_http_timeouts_total{{what=\"idle\"}} {}",
            self.header_timeouts.get(),
            self.body_timeouts.get(),
            self.idle_timeouts.get()
        );
        let _ = writeln!(
            out,
            "# HELP convene_http_forced_closes_total Connections closed by force at the end of the shutdown grace.\n# TYPE convene_http_forced_closes_total counter\nconvene_http_forced_closes_total {}",
            self.forced_closes.get()
        );
    }
}

/// Upper bounds (seconds) of the request-latency histogram.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    pub ws_connections: Gauge,
    pub live_rooms: Gauge,
    pub chat_messages: Counter,
    pub logins: Counter,
    pub login_failures: Counter,
    pub ws_rejected: Counter,
    pub ws_bad_frames: Counter,
    /// Written by the media task.
    pub media: std::sync::Arc<crate::media::MediaCounters>,
    /// Written by the HTTP server's accept loop and connections.
    pub http: std::sync::Arc<HttpCounters>,
    /// (method, route, status class) → latency histogram. A lock held for nanoseconds.
    requests: Mutex<std::collections::BTreeMap<(String, String, u16), Histogram>>,
}

impl Metrics {
    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let mut map = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        let h = map
            .entry((method.to_string(), route.to_string(), status))
            .or_default();
        h.count += 1;
        h.sum += secs;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let gauge = |out: &mut String, name: &str, help: &str, v: i64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        gauge(
            &mut out,
            "convene_ws_connections",
            "Live WebSocket connections on this node.",
            self.ws_connections.get(),
        );
        gauge(
            &mut out,
            "convene_live_rooms",
            "Rooms live on this node.",
            self.live_rooms.get(),
        );
        counter(
            &mut out,
            "convene_chat_messages_total",
            "Chat messages sent in rooms of this node.",
            self.chat_messages.get(),
        );
        counter(
            &mut out,
            "convene_logins_total",
            "Successful sign-ins on this node.",
            self.logins.get(),
        );
        counter(
            &mut out,
            "convene_login_failures_total",
            "Failed sign-ins on this node.",
            self.login_failures.get(),
        );
        counter(
            &mut out,
            "convene_ws_rejected_total",
            "WebSocket entries refused (token, capacity).",
            self.ws_rejected.get(),
        );
        counter(
            &mut out,
            "convene_ws_bad_frames_total",
            "Malformed WebSocket frames received.",
            self.ws_bad_frames.get(),
        );
        use std::sync::atomic::Ordering::Relaxed;
        let m = &self.media;
        counter(
            &mut out,
            "convene_media_frames_forwarded_total",
            "Media frames forwarded by the SFU.",
            m.forwarded_frames.load(Relaxed),
        );
        counter(
            &mut out,
            "convene_media_malformed_total",
            "Malformed media datagrams or SDP dropped.",
            m.malformed.load(Relaxed),
        );
        counter(
            &mut out,
            "convene_media_peer_failures_total",
            "Peer connections removed after a failure.",
            m.peer_failures.load(Relaxed),
        );
        self.http.render(&mut out);
        let map = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(
            out,
            "# HELP convene_http_requests_total HTTP requests by route and status.\n# TYPE convene_http_requests_total counter"
        );
        for ((method, route, status), h) in map.iter() {
            let _ = writeln!(
                out,
                "convene_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {}",
                escape(route),
                h.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP convene_http_request_duration_seconds HTTP request latency.\n# TYPE convene_http_request_duration_seconds histogram"
        );
        let mut merged = std::collections::BTreeMap::<(String, String), Histogram>::new();
        for ((method, route, _), h) in map.iter() {
            let m = merged.entry((method.clone(), route.clone())).or_default();
            m.count += h.count;
            m.sum += h.sum;
            for i in 0..BUCKETS.len() {
                m.counts[i] += h.counts[i];
            }
        }
        for ((method, route), h) in merged {
            let labels = format!("method=\"{method}\",route=\"{}\"", escape(&route));
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "convene_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "convene_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "convene_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "convene_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        out
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.ws_connections.inc();
        m.observe_request("GET", "/api/v1/rooms", 200, Duration::from_millis(3));
        let text = m.render();
        assert!(text.contains("convene_ws_connections 1"));
        assert!(text.contains(
            "convene_http_requests_total{method=\"GET\",route=\"/api/v1/rooms\",status=\"200\"} 1"
        ));
        assert!(text.contains("le=\"0.005\"} 1"));
        assert!(text.contains("le=\"0.0025\"} 0"));
        assert!(text.contains("convene_http_connections_refused_total{why=\"address\"} 0"));
    }
}
