//! Recordings (issue 11) through real nodes: two Chromiums with fake cameras and
//! microphones are recorded for 20 s; the processed file has audio and video of about
//! that length, shows the camera's picture in its middle, plays back with ranges; a
//! room with nobody publishing still gives a valid recording; bad requests get 4xx.

use crate::common;

use common::browser::{
    Driver, enter_room, sign_in, turn_on_camera_and_microphone, wait_for, wait_for_media,
};
use common::{Api, TestNode, eventually};
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};

fn ffmpeg() -> bool {
    common::require(
        "ffmpeg",
        common::documents::tool("ffmpeg", "-version")
            .and(common::documents::tool("ffprobe", "-version")),
    )
}

/// Waits until the recording is `ready` (or fails the test with its error).
async fn processed(api: &Api, id: i64, secs: u64) -> Value {
    eventually(secs, || async {
        let r = api.get(&format!("/api/v1/recordings/{id}")).await;
        assert_ne!(r["status"], "failed", "{r}");
        (r["status"] == "ready").then_some(r)
    })
    .await
}

async fn fetch(
    api: &Api,
    path: &str,
    range: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = api
        .http
        .get(format!("{}{path}", api.base))
        .bearer_auth(api.sid.as_deref().unwrap());
    if let Some(r) = range {
        req = req.header("range", r);
    }
    let res = req.send().await.unwrap();
    let (status, headers) = (res.status().as_u16(), res.headers().clone());
    (status, headers, res.bytes().await.unwrap().to_vec())
}

/// `POST /api/v1/rooms/{room}/recordings` with `body`: the status and answer.
async fn start_recording(api: &Api, room: i64, body: Value) -> (u16, Value) {
    api.send(
        "POST",
        &format!("/api/v1/rooms/{room}/recordings"),
        Some(body),
    )
    .await
}

/// The bytes written to a file of a fresh folder (kept while the folder is).
fn saved(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("recording.webm");
    std::fs::write(&file, bytes).unwrap();
    (dir, file)
}

/// `ffprobe`'s view of a file: its streams' types and its duration in seconds.
fn probe(path: &std::path::Path) -> (Vec<String>, f64) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type:format=duration",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let streams = v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["codec_type"].as_str().unwrap().to_string())
        .collect();
    let duration = v["format"]["duration"].as_str().unwrap().parse().unwrap();
    (streams, duration)
}

/// The mean red, green and blue of the frame at `at` seconds (scaled down).
fn frame_colour(path: &std::path::Path, at: f64) -> [f64; 3] {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-ss", &format!("{at}"), "-i"])
        .arg(path)
        .args([
            "-frames:v",
            "1",
            "-vf",
            "scale=64:36",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success() && !out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut sum = [0f64; 3];
    for px in out.stdout.chunks(3) {
        for c in 0..3 {
            sum[c] += f64::from(px[c]);
        }
    }
    let n = (out.stdout.len() / 3) as f64;
    sum.map(|s| s / n)
}

/// Chromium's fake camera is a green picture: a frame of the middle half of a recording
/// `secs` long shows it (under load a layer switch can leave a short dark gap).
fn assert_camera_in_the_middle(file: &std::path::Path, secs: f64) {
    let colours: Vec<[f64; 3]> = [0.3, 0.4, 0.5, 0.6, 0.7]
        .iter()
        .map(|at| frame_colour(file, secs * at))
        .collect();
    assert!(
        colours
            .iter()
            .any(|[r, g, b]| *g > 50.0 && *g > r + 20.0 && *g > b + 20.0),
        "not the camera's picture: {colours:?}"
    );
}

#[tokio::test]
async fn two_browsers_are_recorded_and_the_file_plays_back_with_ranges() {
    if !ffmpeg() {
        return;
    }
    let _one = common::browser::media_turn().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    admin.create_people(&["ann", "ben", "eve"]).await;
    let room = admin.create_room("Recorded lesson", 10).await;
    let ann = driver.browser().await;
    let ben = driver.browser().await;
    sign_in(&ann, &node.url, "ann", "ann-password").await;
    sign_in(&ben, &node.url, "ben", "ben-password").await;
    enter_room(&ann, room).await;
    enter_room(&ben, room).await;
    turn_on_camera_and_microphone(&ann).await;
    turn_on_camera_and_microphone(&ben).await;
    wait_for_media(&ann, "ann").await;
    wait_for_media(&ben, "ben").await;

    // Only the room's moderators start it.
    let mut eve = node.client();
    eve.login("eve", "eve-password").await;
    let (status, _) = start_recording(&eve, room, json!({})).await;
    assert_eq!(status, 403);
    let started = Instant::now();
    let (status, rec) = start_recording(&admin, room, json!({"name": "Lesson 1"})).await;
    assert_eq!(status, 201, "{rec}");
    let id = rec["id"].as_i64().unwrap();
    assert_eq!(rec["status"], "recording");
    let (status, _) = start_recording(&admin, room, json!({})).await;
    assert_eq!(status, 409, "one recording at a time");
    // Both see the indicator.
    wait_for(&ann, "[data-testid=recording-indicator]:not([hidden])").await;
    wait_for(&ben, "[data-testid=recording-indicator]:not([hidden])").await;
    tokio::time::sleep(Duration::from_secs(20).saturating_sub(started.elapsed())).await;
    let (status, stopped) = admin
        .send(
            "POST",
            &format!("/api/v1/recordings/{id}/stop"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{stopped}");
    // What was recorded: from the start call's answer to the stop call's.
    let recorded = started.elapsed().as_secs_f64();
    let done = processed(&admin, id, 240).await;
    ann.close().await.unwrap();
    ben.close().await.unwrap();

    let duration = done["duration_seconds"].as_f64().unwrap();
    assert!(
        (duration - recorded).abs() <= 2.0,
        "{duration} s of {recorded} s: {done}"
    );
    let media = done["media_url"].as_str().unwrap();
    let (status, headers, part) = fetch(&admin, media, Some("bytes=0-99")).await;
    assert_eq!(status, 206);
    assert_eq!(part.len(), 100);
    assert!(
        headers["content-range"]
            .to_str()
            .unwrap()
            .starts_with("bytes 0-99/")
    );
    let (status, _, _) = fetch(&admin, media, Some("bytes=999999999-")).await;
    assert_eq!(status, 416);
    let (status, headers, whole) = fetch(&admin, media, None).await;
    assert_eq!(
        (status, headers["content-type"].to_str().unwrap()),
        (200, "video/webm")
    );
    assert_eq!(whole.len() as i64, done["size_bytes"].as_i64().unwrap());
    let (_dir, file) = saved(&whole);
    let (streams, probed) = probe(&file);
    assert!(
        streams.contains(&"video".into()) && streams.contains(&"audio".into()),
        "{streams:?}"
    );
    assert!(
        (probed - recorded).abs() <= 2.0,
        "ffprobe: {probed} s of {recorded} s"
    );
    assert_camera_in_the_middle(&file, probed);
    let (status, _, thumb) = fetch(&admin, done["thumbnail_url"].as_str().unwrap(), None).await;
    assert_eq!(status, 200);
    assert!(thumb.starts_with(b"\x89PNG"));
    // Listed for the room; another room's recordings are not reachable by its id.
    let list = admin.get(&format!("/api/v1/rooms/{room}/recordings")).await;
    assert_eq!(list["recordings"][0]["id"], id);
    admin
        .send(
            "PUT",
            &format!("/api/v1/rooms/{room}"),
            Some(json!({"public": false})),
        )
        .await;
    let (status, _) = eve
        .send("GET", &format!("/api/v1/recordings/{id}"), None)
        .await;
    assert_eq!(status, 404);
    let (status, _, _) = fetch(&eve, media, None).await;
    assert_eq!(status, 404);
    // Renamed and deleted by a moderator.
    let (status, renamed) = admin
        .send(
            "PUT",
            &format!("/api/v1/recordings/{id}"),
            Some(json!({"name": "Algebra"})),
        )
        .await;
    assert_eq!((status, renamed["name"].as_str()), (200, Some("Algebra")));
    let (status, _) = admin
        .send("DELETE", &format!("/api/v1/recordings/{id}"), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = admin
        .send("GET", &format!("/api/v1/recordings/{id}"), None)
        .await;
    assert_eq!(status, 404);
    node.stop().await.unwrap();
}

/// Nobody publishes: the recording is still a valid file (black and silent).
#[tokio::test]
async fn a_recording_of_a_room_where_nobody_publishes_is_still_valid() {
    if !ffmpeg() {
        return;
    }
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let room = admin.create_room("Quiet", 10).await;
    let (status, _) = start_recording(&admin, room, json!({})).await;
    assert_eq!(status, 409, "an empty room is not recorded");
    let mut p = admin.join(room).await;
    assert_eq!(p.welcome["recording"], Value::Null);
    assert_eq!(p.welcome["you"]["can_record"], true);
    let (status, rec) = start_recording(&admin, room, json!({})).await;
    assert_eq!(status, 201, "{rec}");
    let id = rec["id"].as_i64().unwrap();
    let started = p.expect("recording").await;
    assert_eq!(
        (started["active"].as_bool(), started["id"].as_i64()),
        (Some(true), Some(id))
    );
    // Someone entering now is told in their welcome.
    let late = admin.join(room).await;
    assert_eq!(late.welcome["recording"]["id"], id);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (status, _) = admin
        .send(
            "POST",
            &format!("/api/v1/recordings/{id}/stop"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200);
    let stopped = p.expect("recording").await;
    assert_eq!(stopped["active"], false);
    let (status, _) = admin
        .send(
            "POST",
            &format!("/api/v1/recordings/{id}/stop"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 409, "stopped already");
    let done = processed(&admin, id, 120).await;
    let duration = done["duration_seconds"].as_f64().unwrap();
    assert!((2.5..=5.0).contains(&duration), "{done}");
    let (_, _, whole) = fetch(&admin, done["media_url"].as_str().unwrap(), None).await;
    let (_dir, file) = saved(&whole);
    let (streams, probed) = probe(&file);
    assert_eq!(streams.len(), 2, "{streams:?}");
    assert!((2.5..=5.0).contains(&probed), "{probed}");
    // Bad input.
    let (status, _) = admin
        .send(
            "PUT",
            &format!("/api/v1/recordings/{id}"),
            Some(json!({"name": ""})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = admin.send("GET", "/api/v1/recordings/999999", None).await;
    assert_eq!(status, 404);
    node.stop().await.unwrap();
}

/// The recording node killed (kill -9) after 10 s: what it wrote is processed by the
/// other node, about 10 s, and plays back through it with ranges.
#[tokio::test]
async fn a_recording_survives_kill_9_of_its_node_and_plays_back_through_the_other() {
    if !ffmpeg() {
        return;
    }
    let _one = common::browser::media_turn().await;
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let Some(mut cluster) = common::cluster::Cluster::start(2).await else {
        return;
    };
    let admin = cluster.node(1).admin().await;
    admin.create_people(&["ann", "ben"]).await;
    // The room on node 2, the browsers entering through node 1.
    admin
        .send("PUT", "/api/v1/servers/1", Some(json!({"active": false})))
        .await;
    let room = admin.create_room("Fragile lesson", 10).await;
    let enter = admin
        .post(&format!("/api/v1/rooms/{room}/enter"), json!({}))
        .await;
    assert_eq!(enter["server"]["id"], 2);
    admin
        .send("PUT", "/api/v1/servers/1", Some(json!({"active": true})))
        .await;
    let base = cluster.node(1).url.clone();
    let ann = driver.browser().await;
    let ben = driver.browser().await;
    sign_in(&ann, &base, "ann", "ann-password").await;
    sign_in(&ben, &base, "ben", "ben-password").await;
    enter_room(&ann, room).await;
    enter_room(&ben, room).await;
    turn_on_camera_and_microphone(&ann).await;
    turn_on_camera_and_microphone(&ben).await;
    wait_for_media(&ann, "ann").await;
    wait_for_media(&ben, "ben").await;

    let (status, rec) = start_recording(&admin, room, json!({})).await;
    assert_eq!(status, 201, "{rec}");
    let id = rec["id"].as_i64().unwrap();
    wait_for(&ann, "[data-testid=recording-indicator]:not([hidden])").await;
    wait_for(&ben, "[data-testid=recording-indicator]:not([hidden])").await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    cluster.node_mut(2).kill9();
    let done = processed(&admin, id, 180).await;
    ann.close().await.unwrap();
    ben.close().await.unwrap();
    let duration = done["duration_seconds"].as_f64().unwrap();
    assert!((7.0..=13.0).contains(&duration), "about 10 s: {done}");
    let media = done["media_url"].as_str().unwrap();
    let (status, _, part) = fetch(&admin, media, Some("bytes=100-1099")).await;
    assert_eq!((status, part.len()), (206, 1000), "a range through node 1");
    let (_, _, whole) = fetch(&admin, media, None).await;
    let (_dir, file) = saved(&whole);
    let (streams, probed) = probe(&file);
    assert!(
        streams.contains(&"video".into()) && streams.contains(&"audio".into()),
        "{streams:?}"
    );
    assert!((7.0..=13.0).contains(&probed), "{probed}");
    assert_camera_in_the_middle(&file, probed);
}

/// The room's setting: `forbidden` refuses starting; `automatic` records from the
/// moment the room opens, and the first to enter is told in their welcome.
#[tokio::test]
async fn a_room_set_to_automatic_records_itself_and_forbidden_refuses() {
    if !ffmpeg() {
        return;
    }
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let room = admin.create_room("Policies", 10).await;
    let settings = format!("/api/v1/rooms/{room}/recordings/settings");
    let (status, _) = admin
        .send("PUT", &settings, Some(json!({"policy": "sometimes"})))
        .await;
    assert_eq!(status, 400);
    let (status, _) = admin
        .send("PUT", &settings, Some(json!({"policy": "forbidden"})))
        .await;
    assert_eq!(status, 200);
    let p = admin.join(room).await;
    let (status, refused) = start_recording(&admin, room, json!({})).await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(
        admin.get(&format!("/api/v1/rooms/{room}/recordings")).await["policy"],
        "forbidden"
    );
    drop(p);

    let auto = admin.create_room("Always recorded", 10).await;
    let (status, _) = admin
        .send(
            "PUT",
            &format!("/api/v1/rooms/{auto}/recordings/settings"),
            Some(json!({"policy": "automatic"})),
        )
        .await;
    assert_eq!(status, 200);
    let mut first = admin.join(auto).await;
    // The lookup runs as the room opens: the welcome, or a frame right after it.
    let id = match first.welcome["recording"]["id"].as_i64() {
        Some(id) => id,
        None => first.expect("recording").await["id"].as_i64().unwrap(),
    };
    let rec = admin.get(&format!("/api/v1/recordings/{id}")).await;
    assert_eq!(rec["status"], "recording");
    assert_eq!(rec["started_by"], Value::Null, "started by the room itself");
    let (status, _) = admin
        .send(
            "POST",
            &format!("/api/v1/recordings/{id}/stop"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200);
    processed(&admin, id, 120).await;
    node.stop().await.unwrap();
}
