//! Reachable with zero configuration (issue 8, item 1): a node without `public_url`
//! listening on every address hands each client URLs on the host that client used,
//! so another computer (here: a client on 127.0.0.2) can enter a room; forwarded
//! headers count only with `trust_forwarded_for`; a bad Host is refused, never a 500;
//! a cluster node without `public_url` does not start.

use crate::common;

use common::net::{connect_from, free_port, read_response};
use common::tls::{Serve, insecure_client};
use common::{ADMIN_PASSWORD, Api};
use serde_json::{Value, json};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

const REMOTE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// `convene serve` on 0.0.0.0 with nothing but a port (and the media port free),
/// reached from 127.0.0.2.
async fn node_on_every_address(extra: &[&str]) -> (Serve, u16, Api, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("0.0.0.0:{port}");
    let mut args = vec!["--listen", &listen, "--media-port", "0"];
    // Media candidates on loopback only: no test traffic to the machine's LAN address.
    args.extend(["--media-public-ip", "127.0.0.1"]);
    args.extend(extra);
    let mut node = Serve::spawn(
        dir.path(),
        &args,
        &[("CONVENE_ADMIN_PASSWORD", ADMIN_PASSWORD)],
    );
    let http = insecure_client(Some(REMOTE.into()));
    let base = format!("http://{REMOTE}:{port}");
    node.wait_ready(&http, &base).await;
    let mut api = Api {
        http,
        base,
        sid: None,
    };
    api.login("admin", ADMIN_PASSWORD).await;
    (node, port, api, dir)
}

/// `POST /api/v1/rooms/{room}/enter` with extra headers.
async fn enter(api: &Api, room: i64, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = api
        .http
        .post(format!("{}/api/v1/rooms/{room}/enter", api.base))
        .bearer_auth(api.sid.as_deref().unwrap())
        .json(&json!({}));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// A raw request with the given Host line (or none), from 127.0.0.2; the status line.
async fn raw_status(port: u16, sid: &str, path: &str, host_line: &str) -> String {
    let to = SocketAddr::from((REMOTE, port));
    let mut stream = connect_from(REMOTE, to).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\n{host_line}Authorization: Bearer {sid}\r\n\
         Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    match read_response(&mut stream).await {
        Some((status, _)) => status,
        // hyper may close without an answer on a request it cannot parse: also safe.
        None => "closed".into(),
    }
}

#[tokio::test]
async fn defaults_hand_out_the_host_the_client_used_and_its_websocket_joins() {
    let (node, port, api, _dir) = node_on_every_address(&[]).await;
    let room = api.create_room("Assembly", 30).await;
    let here = format!("http://{REMOTE}:{port}");

    let (status, answer) = enter(&api, room, &[]).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["server"]["url"], here.as_str(), "{answer}");
    let ws_url = answer["ws_url"].as_str().unwrap();
    assert!(
        ws_url.starts_with(&format!("ws://{REMOTE}:{port}/ws?token=")),
        "{ws_url}"
    );
    assert!(
        answer["room_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{here}/room/{room}?token=")),
        "{answer}"
    );

    // The WebSocket of that URL, from the other "computer", joins the room.
    let stream = connect_from(REMOTE, SocketAddr::from((REMOTE, port)))
        .await
        .unwrap();
    let (mut socket, _) = tokio_tungstenite::client_async(ws_url, stream)
        .await
        .expect("websocket handshake");
    let welcome = next_json(&mut socket).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    assert_eq!(welcome["you"]["user"]["login"], "admin");

    // Without trust_forwarded_for, forwarded headers change nothing.
    let (status, answer) = enter(
        &api,
        room,
        &[
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.example"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["server"]["url"], here.as_str(), "{answer}");

    // A Host that is not host[:port] is refused with 400; nothing answers 500.
    let sid = api.sid.clone().unwrap();
    let path = format!("/api/v1/rooms/{room}/enter");
    for host in [
        "Host: evil.example/path\r\n",
        "Host: user@evil.example\r\n",
        "Host: evil.example:99999\r\n",
        "Host: evil example\r\n",
        "Host: \r\n",
        "",
    ] {
        let status = raw_status(port, &sid, &path, host).await;
        assert!(status.contains(" 400 "), "{host:?}: {status}");
    }
    for host in ["Host: ex\u{1}ample\r\n", "Host: a\r\nHost: b\r\n"] {
        let status = raw_status(port, &sid, &path, host).await;
        assert!(
            status == "closed" || status.contains(" 4"),
            "{host:?}: {status}"
        );
    }
    // The node is fine afterwards, and stayed quiet about loopback URLs: none was handed out.
    let (status, _) = enter(&api, room, &[]).await;
    assert_eq!(status, 200);
    let log = node.log_text();
    assert!(!log.contains("panicked"), "{log}");
    assert!(!log.contains("names this machine only"), "{log}");

    // Administration → Servers still has a URL for the node.
    let servers = api.get("/api/v1/servers").await;
    let url = servers[0]["url"].as_str().unwrap();
    assert!(
        url.starts_with("http://") && url.ends_with(&format!(":{port}")),
        "{url}"
    );
}

#[tokio::test]
async fn forwarded_headers_count_only_with_trust_forwarded_for() {
    let (node, port, api, _dir) = node_on_every_address(&["--trust-forwarded-for", "true"]).await;
    let room = api.create_room("Staff room", 30).await;

    let (status, answer) = enter(
        &api,
        room,
        &[
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "meet.example.org"),
            ("x-forwarded-for", "198.51.100.7"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["server"]["url"], "https://meet.example.org");
    assert!(
        answer["ws_url"]
            .as_str()
            .unwrap()
            .starts_with("wss://meet.example.org/ws?token="),
        "{answer}"
    );
    assert!(
        answer["room_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("https://meet.example.org/room/{room}?token=")),
        "{answer}"
    );
    // Only the proto: the Host stays.
    let (_, answer) = enter(&api, room, &[("x-forwarded-proto", "https")]).await;
    assert_eq!(answer["server"]["url"], format!("https://{REMOTE}:{port}"));
    // A bad forwarded host is refused like a bad Host.
    let (status, answer) = enter(&api, room, &[("x-forwarded-host", "a/b")]).await;
    assert_eq!(status, 400, "{answer}");

    // A proxy that passes on `localhost` to a client elsewhere: a warning naming
    // `public_url`, once however often it happens.
    let looping = format!("localhost:{port}");
    for _ in 0..3 {
        let (status, answer) = enter(
            &api,
            room,
            &[
                ("x-forwarded-host", looping.as_str()),
                ("x-forwarded-for", "198.51.100.7"),
            ],
        )
        .await;
        assert_eq!(status, 200, "{answer}");
    }
    let log = node.wait_log("names this machine only").await;
    assert_eq!(log.matches("names this machine only").count(), 1, "{log}");
    assert!(log.contains("`public_url`"), "{log}");
    assert!(log.contains("198.51.100.7"), "{log}");
}

#[tokio::test]
async fn a_cluster_node_without_public_url_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().to_string();
    // The settings are checked before any connection: no PostgreSQL is needed to see it.
    let mut node = Serve::spawn(
        dir.path(),
        &[
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--media-port",
            "0",
            "--node-id",
            "2",
            "--database-url",
            "postgres://convene@127.0.0.1:1/convene",
        ],
        &[],
    );
    let status = node.wait_exit(Duration::from_secs(20));
    assert_eq!(status.code(), Some(2), "{}", node.log_text());
    let log = node.log_text();
    assert!(log.contains("`public_url`"), "{log}");
    assert!(log.contains("cluster"), "{log}");
}

async fn next_json<S>(socket: &mut tokio_tungstenite::WebSocketStream<S>) -> Value
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures_util::StreamExt;
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a frame within 10 s")
            .expect("open")
            .expect("a frame");
        if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}
