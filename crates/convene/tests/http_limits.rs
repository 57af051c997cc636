//! The HTTP server holds its ground (issue 7, item 5): header, body and idle timeouts,
//! connection caps under the file limit, and a bounded shutdown, as an operator or an
//! attacker would meet them.

use crate::common;

use common::net::{ServeProc, closed_within, connect_from, get, metric, raise_own_file_limit};
use common::{ADMIN_PASSWORD, TestNode, eventually, test_settings};
use convene::Settings;
use serde_json::json;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const LOCAL: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn peer(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

async fn healthz(base: &str) -> Option<u16> {
    let r = reqwest::get(format!("{base}/healthz")).await.ok()?;
    Some(r.status().as_u16())
}

/// Writes `chunk` every 250 ms (at most 10 s) until the peer closes.
fn trickle(mut w: tokio::net::tcp::OwnedWriteHalf, chunk: &'static [u8]) {
    tokio::spawn(async move {
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if w.write_all(chunk).await.is_err() {
                return;
            }
        }
    });
}

#[tokio::test]
async fn slow_headers_and_slow_bodies_are_cut_off_while_healthz_answers() {
    let dir = tempfile::tempdir().unwrap();
    let config = Settings {
        http_header_timeout: Some(2),
        http_body_timeout: Some(2),
        ..test_settings(dir.path())
    }
    .resolve()
    .unwrap();
    let node = TestNode::start(config).await;

    let started = Instant::now();
    let head = connect_from(LOCAL, node.addr).await.unwrap();
    let (mut head_r, mut head_w) = head.into_split();
    head_w
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    trickle(head_w, b"X-Slow: 1\r\n");
    let body_started = Instant::now();
    let body = connect_from(LOCAL, node.addr).await.unwrap();
    let (mut body_r, mut body_w) = body.into_split();
    body_w
        .write_all(
            b"POST /api/v1/login HTTP/1.1\r\nHost: localhost\r\n\
              Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
        )
        .await
        .unwrap();
    trickle(body_w, b" ");

    // Meanwhile the node answers everyone else.
    let answers = async {
        let mut statuses = Vec::new();
        for _ in 0..10 {
            statuses.push(healthz(&node.url).await);
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        statuses
    };
    let (head_closed, body_closed, statuses) = tokio::join!(
        closed_within(&mut head_r, Duration::from_secs(10)),
        closed_within(&mut body_r, Duration::from_secs(10)),
        answers
    );
    assert!(statuses.iter().all(|s| *s == Some(200)), "{statuses:?}");
    let head_took = head_closed.expect("a trickling header is cut off") - started;
    assert!(
        head_took >= Duration::from_millis(1900) && head_took < Duration::from_secs(8),
        "closed after {head_took:?}, http_header_timeout is 2 s"
    );
    let body_took = body_closed.expect("a trickling body is cut off") - body_started;
    assert!(
        body_took >= Duration::from_millis(1900) && body_took < Duration::from_secs(8),
        "closed after {body_took:?}, http_body_timeout is 2 s"
    );
    assert!(metric(&node.url, "convene_http_timeouts_total{what=\"header\"}").await >= 1.0);
    assert!(metric(&node.url, "convene_http_timeouts_total{what=\"body\"}").await >= 1.0);
}

#[tokio::test]
async fn idle_keep_alive_connections_close_but_websockets_stay() {
    let dir = tempfile::tempdir().unwrap();
    let config = Settings {
        http_idle_timeout: Some(3),
        ..test_settings(dir.path())
    }
    .resolve()
    .unwrap();
    let node = TestNode::start(config).await;
    let admin = node.admin().await;
    let room = admin.create_room("idle", 10).await;
    let mut participant = admin.join(room).await;

    let mut conn = connect_from(LOCAL, node.addr).await.unwrap();
    let (status, _) = get(&mut conn, "/healthz").await.expect("answered");
    assert_eq!(status, "HTTP/1.1 200 OK");
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Idle time counts from the answer, which comes after this.
    let asked = Instant::now();
    let (status, _) = get(&mut conn, "/healthz").await.expect("kept alive");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let closed = closed_within(&mut conn, Duration::from_secs(15))
        .await
        .expect("an idle connection is closed");
    let idle = closed - asked;
    assert!(
        idle >= Duration::from_millis(2900) && idle < Duration::from_secs(10),
        "closed after {idle:?} idle, http_idle_timeout is 3 s"
    );
    assert!(metric(&node.url, "convene_http_timeouts_total{what=\"idle\"}").await >= 1.0);

    // The WebSocket has been silent for longer than the idle timeout; it still works.
    participant
        .send(json!({"type": "ping", "nonce": "still-here"}))
        .await;
    assert_eq!(participant.expect("pong").await["nonce"], "still-here");
}

#[tokio::test]
async fn one_address_over_its_cap_is_refused_at_once_and_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let config = Settings {
        max_connections_per_address: Some(20),
        ..test_settings(dir.path())
    }
    .resolve()
    .unwrap();
    let node = TestNode::start(config).await;

    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(connect_from(peer(2), node.addr).await.unwrap());
    }
    // Accepted in order: the 21st is over the cap.
    let asked = Instant::now();
    let mut extra = connect_from(peer(2), node.addr).await.unwrap();
    let refused = common::net::read_response(&mut extra).await;
    let refused_after = asked.elapsed();
    let (status, _) = refused.expect("a 503 before the close");
    assert_eq!(status, "HTTP/1.1 503 Service Unavailable");
    assert!(
        closed_within(&mut extra, Duration::from_secs(5))
            .await
            .is_some()
    );
    assert!(refused_after < Duration::from_secs(3), "{refused_after:?}");

    // Those within the cap are served, and so is every other address.
    let (status, _) = get(&mut held[0], "/healthz").await.expect("served");
    assert_eq!(status, "HTTP/1.1 200 OK");
    let mut other = connect_from(peer(3), node.addr).await.unwrap();
    let (status, _) = get(&mut other, "/healthz").await.expect("served");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(healthz(&node.url).await, Some(200));
    assert!(
        metric(
            &node.url,
            "convene_http_connections_refused_total{why=\"address\"}"
        )
        .await
            >= 1.0
    );

    // Closing some frees the address's slots.
    held.truncate(10);
    let addr = node.addr;
    eventually(10, || async move {
        let mut again = connect_from(peer(2), addr).await.ok()?;
        let (status, _) = get(&mut again, "/healthz").await?;
        (status == "HTTP/1.1 200 OK").then_some(())
    })
    .await;
}

#[tokio::test]
async fn sigterm_exits_within_the_grace_whatever_clients_hold_open() {
    let mut node = ServeProc::start("", &["--shutdown-grace", "2"]).await;
    let mut admin = node.api();
    admin.login("admin", ADMIN_PASSWORD).await;
    let room = admin.create_room("stuck", 10).await;
    let _participant = admin.join(room).await;

    // A request whose body never comes, one whose headers never end, an idle one.
    let mut stuck = connect_from(LOCAL, node.addr).await.unwrap();
    stuck
        .write_all(
            b"POST /api/v1/login HTTP/1.1\r\nHost: localhost\r\n\
              Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"login\":",
        )
        .await
        .unwrap();
    let mut partial = connect_from(LOCAL, node.addr).await.unwrap();
    partial
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    let _idle = TcpStream::connect(node.addr).await.unwrap();
    // The node has them all (accepted in order, before this request).
    assert!(node.metric("convene_http_connections").await >= 4.0);

    let limit = Duration::from_secs(2 + 5);
    let Some((status, took)) = node.terminate_within(limit).await else {
        panic!(
            "still running {limit:?} after SIGTERM:\n{}",
            node.log_text()
        );
    };
    assert!(status.success(), "{status}:\n{}", node.log_text());
    assert!(
        node.log_text()
            .contains("closing connections still open at the end of shutdown_grace"),
        "the stuck request was closed by force after {took:?}:\n{}",
        node.log_text()
    );
}

#[tokio::test]
async fn the_soft_file_limit_is_raised_to_the_hard_limit() {
    let own = raise_own_file_limit();
    if !common::require(
        "file limit",
        (own > 1024)
            .then_some(())
            .ok_or(format!("the hard file limit ({own}) is not above 1024")),
    ) {
        return;
    }
    let node = ServeProc::start("ulimit -S -n 1024", &[]).await;
    let (soft, hard) = node.file_limits().expect("/proc/PID/limits");
    assert_eq!(soft, hard, "soft limit raised to the hard one");
    assert!(soft > 1024);
    let log = node.log_text();
    assert!(
        log.contains("file limit (RLIMIT_NOFILE)") && log.contains(&format!("file_limit={soft}")),
        "the figure is logged:\n{log}"
    );
}

/// Opens `n` connections from `from`, keeping each (refused ones too).
async fn flood(from: Ipv4Addr, to: std::net::SocketAddr, n: usize, into: &mut Vec<TcpStream>) {
    for _ in 0..n {
        match connect_from(from, to).await {
            Ok(s) => into.push(s),
            Err(e) => panic!("connect from {from}: {e}"),
        }
    }
}

#[tokio::test]
async fn eleven_hundred_idle_connections_under_a_1024_file_limit() {
    let own = raise_own_file_limit();
    if !common::require(
        "file limit",
        (own >= 4096)
            .then_some(())
            .ok_or(format!("this process may open only {own} files")),
    ) {
        return;
    }
    // Long header and idle timeouts: the caps, not the timeouts, must hold the line.
    let mut node = ServeProc::start(
        "ulimit -S -n 1024 && ulimit -H -n 1024",
        &["--http-header-timeout", "300", "--http-idle-timeout", "300"],
    )
    .await;
    assert_eq!(node.file_limits(), Some((1024, 1024)));
    let mut admin = node.api();
    admin.login("admin", ADMIN_PASSWORD).await;
    let room = admin.create_room("under siege", 10).await;

    // One client, 1,100 idle connections: 500 (the per-address cap) are held.
    let mut attack = Vec::with_capacity(2000);
    flood(peer(2), node.addr, 1100, &mut attack).await;
    let url = node.url.clone();
    eventually(30, || {
        let url = url.clone();
        async move {
            let refused = metric(
                &url,
                "convene_http_connections_refused_total{why=\"address\"}",
            )
            .await;
            (refused >= 600.0).then_some(())
        }
    })
    .await;
    assert!(node.metric("convene_http_connections").await >= 500.0);

    // Everyone else is served: health, sign-in, room entry, WebSocket.
    assert_eq!(healthz(&node.url).await, Some(200));
    let mut user = node.api();
    user.login("admin", ADMIN_PASSWORD).await;
    let mut participant = user.join(room).await;
    participant
        .send(json!({"type": "ping", "nonce": "n1"}))
        .await;
    assert_eq!(participant.expect("pong").await["nonce"], "n1");
    assert!(node.is_alive());

    // More clients fill the total cap (922 under 1,024 files): refused, not a crash.
    flood(peer(3), node.addr, 450, &mut attack).await;
    flood(peer(4), node.addr, 450, &mut attack).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(node.is_alive(), "{}", node.log_text());
    participant
        .send(json!({"type": "ping", "nonce": "n2"}))
        .await;
    assert_eq!(participant.expect("pong").await["nonce"], "n2");

    drop(attack);
    let url = node.url.clone();
    eventually(20, || {
        let url = url.clone();
        async move { (healthz(&url).await == Some(200)).then_some(()) }
    })
    .await;
    assert!(
        node.metric("convene_http_connections_refused_total{why=\"total\"}")
            .await
            >= 1.0
    );
    assert_eq!(node.metric("convene_http_accept_errors_total").await, 0.0);
    assert_eq!(node.metric("convene_http_connections_max").await, 922.0);
    assert!(node.is_alive());
}

#[test]
fn bad_http_settings_are_refused_with_their_name() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("--http-header-timeout", "0", "http_header_timeout"),
        ("--http-body-timeout", "0", "http_body_timeout"),
        ("--http-idle-timeout", "0", "http_idle_timeout"),
        ("--max-connections", "0", "max_connections"),
        (
            "--max-connections-per-address",
            "2000000",
            "max_connections_per_address",
        ),
        ("--shutdown-grace", "3601", "shutdown_grace"),
    ];
    for (flag, value, name) in cases {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_convene"))
            .args(["serve", flag, value])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(
            stderr.contains(&format!("setting `{name}`")),
            "{flag} {value}: {stderr}"
        );
    }
    // The environment variable is checked the same way.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_convene"))
        .arg("serve")
        .env("CONVENE_HTTP_IDLE_TIMEOUT", "0")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`http_idle_timeout`"));
}
