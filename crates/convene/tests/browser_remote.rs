//! Another computer, in a browser (issue 8, items 1 and 2): Chromium reaches a node
//! started with defaults on 0.0.0.0 and `--tls self-signed` as https://127.0.0.2:PORT
//! (a second loopback address stands for the machine's LAN address), signs in, enters
//! a room over the WebSocket URL the node built from that host, and has a secure
//! context (camera and microphone allowed); a second browser on 127.0.0.1 meets it, and
//! each decodes the other's video and receives the other's audio.

use crate::common;

use common::browser::{
    Driver, enter_room, pass_device_check, sign_in, turn_on_camera_and_microphone, wait_for,
    wait_for_media,
};
use common::net::free_port;
use common::tls::{Serve, insecure_browser, insecure_client};
use common::{ADMIN_PASSWORD, Api};
use tempfile::TempDir;

/// A node started with defaults on 0.0.0.0 (media candidates on loopback only: no test
/// traffic to the LAN address) plus `extra`, ann and ben made; the node, the admin
/// signed in through 127.0.0.2 and the two base URLs (127.0.0.2, 127.0.0.1), after its
/// data directory (declared first, so removed last).
async fn start_node(scheme: &str, extra: &[&str]) -> (TempDir, Serve, Api, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("0.0.0.0:{port}");
    let mut args = vec![
        "--listen",
        &listen,
        "--media-port",
        "0",
        "--media-public-ip",
        "127.0.0.1",
    ];
    args.extend_from_slice(extra);
    let mut node = Serve::spawn(
        dir.path(),
        &args,
        &[("CONVENE_ADMIN_PASSWORD", ADMIN_PASSWORD)],
    );
    let remote = format!("{scheme}://127.0.0.2:{port}");
    let local = format!("{scheme}://127.0.0.1:{port}");
    let http = insecure_client(None);
    node.wait_ready(&http, &remote).await;
    let mut admin = Api {
        http,
        base: remote.clone(),
        sid: None,
    };
    admin.login("admin", ADMIN_PASSWORD).await;
    admin.create_people(&["ann", "ben"]).await;
    (dir, node, admin, remote, local)
}

#[tokio::test]
async fn a_browser_on_another_address_enters_over_self_signed_https() {
    let _turn = common::browser::media_turn().await;
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (_dir, node, admin, remote, local) = start_node("https", &["--tls", "self-signed"]).await;
    let room = admin.create_room("Parents' evening", 10).await;

    let (ann, _ann_profile) = insecure_browser(&driver).await;
    sign_in(&ann, &remote, "ann", "ann-password").await;
    // With the camera and microphone: the device check gets them only in a secure context.
    wait_for(
        &ann,
        &format!("#room-list [data-room-id=\"{room}\"] .enter-room"),
    )
    .await
    .click()
    .await
    .unwrap();
    pass_device_check(&ann, true).await;
    wait_for(&ann, "#room[data-state=\"open\"]").await;
    wait_for(&ann, "#participants li[data-login=\"ann\"]").await;
    let context = ann
        .execute(
            "return [window.isSecureContext, location.origin, \
             typeof navigator.mediaDevices?.getUserMedia === 'function'];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        context,
        serde_json::json!([true, remote, true]),
        "{}",
        node.log_text()
    );

    let (ben, _ben_profile) = insecure_browser(&driver).await;
    sign_in(&ben, &local, "ben", "ben-password").await;
    enter_room(&ben, room).await;
    wait_for(&ben, "#participants li[data-login=\"ann\"]").await;
    wait_for(&ann, "#participants li[data-login=\"ben\"]").await;

    // Media both ways: ann came in with the camera and microphone of her device check,
    // ben turns his on in the room; each decodes the other's frames and gets audio.
    wait_for(&ann, "#toggle-mic[aria-pressed=\"true\"]").await;
    wait_for(&ann, "#toggle-camera[aria-pressed=\"true\"]").await;
    turn_on_camera_and_microphone(&ben).await;
    let from_ben = wait_for_media(&ann, "ann (from 127.0.0.2)").await;
    let from_ann = wait_for_media(&ben, "ben (from 127.0.0.1)").await;
    println!("ann received: {from_ben}\nben received: {from_ann}");
    assert_eq!(from_ben["publishing"], true, "{from_ben}");
    assert_eq!(from_ann["publishing"], true, "{from_ann}");
    wait_for(&ann, "#video-grid .video-tile[data-login=\"ben\"] video").await;
    wait_for(&ben, "#video-grid .video-tile[data-login=\"ann\"] video").await;

    // Both connections are live on the node, whichever address each browser used.
    let connections = admin.get("/api/v1/connections").await;
    let logins: Vec<&str> = connections
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["room_id"] == room)
        .filter_map(|c| c["user"]["login"].as_str().or(c["login"].as_str()))
        .collect();
    assert_eq!(logins.len(), 2, "{connections}");

    ann.close().await.unwrap();
    ben.close().await.unwrap();
    assert!(!node.log_text().contains("names this machine only"));
}

/// The same node with nothing configured, over plain HTTP: a browser on another
/// address signs in and enters (its WebSocket URL is built from the address it used),
/// and sees and hears someone who publishes. It comes in without a camera, as a visitor
/// from another computer must over plain HTTP (not a secure context). Chromium counts
/// every loopback address as secure, so that refusal itself is not shown here.
#[tokio::test]
async fn a_browser_on_another_address_enters_over_plain_http_and_sees_and_hears() {
    let _turn = common::browser::media_turn().await;
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (_dir, node, admin, remote, local) = start_node("http", &[]).await;
    let room = admin.create_room("Open evening", 10).await;

    let (ann, _ann_profile) = insecure_browser(&driver).await;
    sign_in(&ann, &remote, "ann", "ann-password").await;
    wait_for(
        &ann,
        &format!("#room-list [data-room-id=\"{room}\"] .enter-room"),
    )
    .await
    .click()
    .await
    .unwrap();
    pass_device_check(&ann, false).await;
    wait_for(&ann, "#room[data-state=\"open\"]").await;
    let origin = ann
        .execute("return location.origin;", vec![])
        .await
        .unwrap();
    assert_eq!(origin, serde_json::json!(remote));

    let (ben, _ben_profile) = insecure_browser(&driver).await;
    sign_in(&ben, &local, "ben", "ben-password").await;
    enter_room(&ben, room).await;
    wait_for(&ann, "#participants li[data-login=\"ben\"]").await;
    turn_on_camera_and_microphone(&ben).await;
    let from_ben = wait_for_media(&ann, "ann (from 127.0.0.2, plain HTTP)").await;
    println!("ann received: {from_ben}");
    wait_for(&ann, "#video-grid .video-tile[data-login=\"ben\"] video").await;

    ann.close().await.unwrap();
    ben.close().await.unwrap();
    assert!(!node.log_text().contains("names this machine only"));
}
