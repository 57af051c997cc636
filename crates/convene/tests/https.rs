//! HTTPS built in (issue 8, item 2): `--tls self-signed` makes a certificate once and
//! keeps it, `--tls-cert`/`--tls-key` are read again on SIGHUP without dropping open
//! connections, the redirect port answers 301, cookies are `Secure` and answers carry
//! HSTS, and a client that never completes a handshake loses its connection after
//! the header timeout.

use crate::common;

use common::ADMIN_PASSWORD;
use common::net::closed_within;
use common::net::free_port;
use common::tls::{
    Serve, fingerprint, insecure_client, logged_fingerprint, tls_connect, write_cert,
};
use serde_json::json;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Sends `GET path` (keep-alive) and reads the status line of the answer.
async fn get_status<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&data[..end]).to_string();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                if data.len() >= end + 4 + length {
                    return head.lines().next().unwrap_or("").to_string();
                }
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return "closed".to_string(),
                Ok(n) => data.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .unwrap_or_else(|_| "timed out".into())
}

#[tokio::test]
async fn self_signed_https_keeps_its_certificate_with_secure_cookies_hsts_and_a_redirect() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let redirect_port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let redirect = redirect_port.to_string();
    let args = [
        "--listen",
        &listen,
        "--media-port",
        "0",
        "--tls",
        "self-signed",
        "--http-redirect-port",
        &redirect,
    ];
    let env = [("CONVENE_ADMIN_PASSWORD", ADMIN_PASSWORD)];
    let base = format!("https://127.0.0.1:{port}");
    let http = insecure_client(None);
    let addr: SocketAddr = listen.parse().unwrap();

    let mut node = Serve::spawn(dir.path(), &args, &env);
    node.wait_ready(&http, &base).await;
    let logged = logged_fingerprint(&node.log_text()).expect("fingerprint in the log");
    let (_, der) = tls_connect(addr).await;
    assert_eq!(fingerprint(&der), logged);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = dir.path().join("data/tls-self-signed-key.pem");
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", key.display());
    }

    let res = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let hsts = res.headers()["strict-transport-security"].to_str().unwrap();
    assert!(hsts.starts_with("max-age="), "{hsts}");
    let res = http
        .post(format!("{base}/api/v1/login"))
        .json(&json!({"login": "admin", "password": ADMIN_PASSWORD, "client": "web"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    // The URLs handed out are https ones.
    let mut api = common::Api {
        http: http.clone(),
        base: base.clone(),
        sid: None,
    };
    api.login("admin", ADMIN_PASSWORD).await;
    let room = api.create_room("Secure room", 5).await;
    let enter = api
        .post(&format!("/api/v1/rooms/{room}/enter"), json!({}))
        .await;
    assert_eq!(enter["server"]["url"], base.as_str(), "{enter}");
    assert!(
        enter["ws_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("wss://127.0.0.1:{port}/ws?token=")),
        "{enter}"
    );

    // The redirect port: 301 to the same host on the HTTPS port, path and query kept.
    let res = http
        .get(format!("http://127.0.0.1:{redirect_port}/rooms?tab=all"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 301);
    assert_eq!(
        res.headers()["location"],
        format!("https://127.0.0.1:{port}/rooms?tab=all").as_str()
    );
    assert!(res.headers().get("strict-transport-security").is_none());

    // Plain HTTP on the HTTPS port gets no answer, just a close.
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert_eq!(get_status(&mut plain, "/healthz").await, "closed");

    // Restarted, the node serves the same certificate.
    assert!(node.stop().success(), "{}", node.log_text());
    let mut again = Serve::spawn(dir.path(), &args, &env);
    again.wait_ready(&http, &base).await;
    assert_eq!(logged_fingerprint(&again.log_text()), Some(logged.clone()));
    let (_, der) = tls_connect(addr).await;
    assert_eq!(fingerprint(&der), logged);
}

#[tokio::test]
async fn a_client_that_never_completes_a_handshake_is_closed_after_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut node = Serve::spawn(
        dir.path(),
        &[
            "--listen",
            &listen,
            "--media-port",
            "0",
            "--tls",
            "self-signed",
            "--http-header-timeout",
            "1",
        ],
        &[("CONVENE_ADMIN_PASSWORD", ADMIN_PASSWORD)],
    );
    let http = insecure_client(None);
    let base = format!("https://127.0.0.1:{port}");
    node.wait_ready(&http, &base).await;
    let addr: SocketAddr = listen.parse().unwrap();

    // Silent, and a handshake begun but never finished (half a ClientHello record).
    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut partial = tokio::net::TcpStream::connect(addr).await.unwrap();
    partial
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])
        .await
        .unwrap();
    let opened = Instant::now();
    for stream in [&mut silent, &mut partial] {
        let closed = closed_within(stream, Duration::from_secs(8))
            .await
            .expect("closed by the node");
        let after = closed - opened;
        assert!(after >= Duration::from_millis(800), "{after:?}");
    }
    let metrics = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let timeouts = metrics
        .lines()
        .find_map(|l| l.strip_prefix("convene_http_timeouts_total{what=\"header\"} "))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(timeouts >= 2.0, "{metrics}");
    // The node still serves.
    let res = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn certificate_files_are_reloaded_on_sighup_and_open_connections_stay() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let first = write_cert(&cert, &key, &["127.0.0.1", "localhost"]);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let args = [
        "--listen",
        listen.as_str(),
        "--media-port",
        "0",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];
    let mut node = Serve::spawn(
        dir.path(),
        &args,
        &[("CONVENE_ADMIN_PASSWORD", ADMIN_PASSWORD)],
    );
    let http = insecure_client(None);
    let base = format!("https://127.0.0.1:{port}");
    node.wait_ready(&http, &base).await;
    let addr: SocketAddr = listen.parse().unwrap();

    let (mut open, der) = tls_connect(addr).await;
    assert_eq!(fingerprint(&der), first);
    assert!(get_status(&mut open, "/healthz").await.contains(" 200 "));

    let second = write_cert(&cert, &key, &["127.0.0.1"]);
    node.signal("HUP");
    node.wait_log("TLS certificate reloaded").await;
    let (_, der) = tls_connect(addr).await;
    assert_eq!(fingerprint(&der), second);
    // The connection opened before the reload goes on.
    assert!(get_status(&mut open, "/healthz").await.contains(" 200 "));

    // A broken file is refused at reload; the certificate in force stays.
    std::fs::write(&cert, "not a certificate").unwrap();
    node.signal("HUP");
    node.wait_log("cannot reload the TLS certificate").await;
    let (_, der) = tls_connect(addr).await;
    assert_eq!(fingerprint(&der), second);
    assert!(get_status(&mut open, "/healthz").await.contains(" 200 "));
    assert!(node.stop().success());

    // At start a file that cannot be used is a wrong setting: exit 2, named.
    let mut bad = Serve::spawn(dir.path(), &args, &[]);
    let status = bad.wait_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(2), "{}", bad.log_text());
    assert!(bad.log_text().contains("`tls_cert`"), "{}", bad.log_text());
}
