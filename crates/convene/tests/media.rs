//! Media through a real node: str0m clients on real UDP sockets, signalling over the
//! room's WebSocket, and the room rules for publishing.

use crate::common;

use common::rtc::RtcClient;
use common::ws::Participant;
use common::{Api, TestNode};
use serde_json::json;
use std::time::Duration;

async fn room_of_kind(admin: &Api, name: &str, kind: &str) -> i64 {
    admin
        .post(
            "/api/v1/rooms",
            json!({"name": name, "kind": kind, "capacity": 10, "public": true}),
        )
        .await["id"]
        .as_i64()
        .unwrap()
}

/// Sends an up offer and returns the answer frame, or the error frame.
async fn offer(p: &mut Participant, sdp: &str, audio: &str, video: &str) -> serde_json::Value {
    p.send(json!({"type": "media_offer", "sdp": sdp, "tracks": {audio: "microphone", video: "camera"}})).await;
    loop {
        let f = p.next().await.unwrap();
        if f["type"] == "media_answer" || f["type"] == "error" {
            return f;
        }
    }
}

#[tokio::test]
async fn audio_and_video_flow_between_two_participants() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    admin.create_user("ann", "ann-password", "user").await;
    let room = room_of_kind(&admin, "Studio", "conference").await;
    let mut ann = node.client();
    ann.login("ann", "ann-password").await;
    let mut a = ann.join(room).await;
    assert_eq!(a.welcome["media"]["available"], true);
    assert_eq!(a.welcome["media"]["can_publish"], true);
    let mut b = admin.join(room).await;

    // Ann publishes.
    let mut up = RtcClient::new().await;
    let (sdp, pending, audio, video) = up.publish_offer();
    let answer = offer(&mut a, &sdp, &audio.to_string(), &video.to_string()).await;
    assert_eq!(answer["type"], "media_answer", "{answer}");
    up.accept_answer(pending, answer["sdp"].as_str().unwrap());

    // The admin receives: the server offers the down connection.
    let mut down = RtcClient::new().await;
    let mut tracks = serde_json::Value::Null;
    let mut n = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while tokio::time::Instant::now() < deadline {
        // Drive both peers a little, then look at signalling.
        up.send_frames(audio, video, n);
        n += 1;
        up.run_for(Duration::from_millis(10)).await;
        down.run_for(Duration::from_millis(10)).await;
        while let Ok(Ok(Some(frame))) = tokio::time::timeout(Duration::from_millis(1), async {
            use futures_util::StreamExt;
            Ok::<_, ()>(b.socket.next().await)
        })
        .await
        {
            let Ok(tokio_tungstenite::tungstenite::Message::Text(t)) = frame else {
                continue;
            };
            let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
            if v["type"] == "media_offer" {
                let answer = down.accept_offer(v["sdp"].as_str().unwrap());
                b.send(json!({"type": "media_answer", "sdp": answer})).await;
            } else if v["type"] == "media_tracks" {
                tracks = v["tracks"].clone();
            }
        }
        let video_frames = down
            .received
            .iter()
            .filter(|m| !m.params.spec().codec.is_audio())
            .count();
        let audio_frames = down.received.len() - video_frames;
        if video_frames > 20 && audio_frames > 20 {
            break;
        }
    }
    assert!(
        up.connected,
        "the publisher connected to the node's UDP port"
    );
    let video_frames = down
        .received
        .iter()
        .filter(|m| !m.params.spec().codec.is_audio())
        .count();
    let audio_frames = down.received.len() - video_frames;
    assert!(
        video_frames > 20 && audio_frames > 20,
        "received {audio_frames} audio and {video_frames} video frames"
    );
    let labels: Vec<_> = tracks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["participant_id"].as_str().unwrap(),
                t["label"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        labels.contains(&(a.id.as_str(), "microphone"))
            && labels.contains(&(a.id.as_str(), "camera")),
        "{tracks}"
    );

    // Ann says what she sends; everyone sees it.
    a.send(json!({"type": "media_state", "microphone": true, "camera": true}))
        .await;
    let state = b.expect("media_state").await;
    assert_eq!(
        (state["participant_id"].as_str(), state["camera"].as_bool()),
        (Some(a.id.as_str()), Some(true))
    );
    // A moderator mutes her: she is told, and her microphone shows off.
    b.send(json!({"type": "mute", "participant_id": a.id}))
        .await;
    assert_eq!(a.expect("muted").await["by"]["user"]["login"], "admin");
    let metrics = reqwest::get(format!("{}/metrics", node.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let forwarded: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("convene_media_frames_forwarded_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(forwarded > 40, "{forwarded}");
}

#[tokio::test]
async fn presentation_and_interview_rules() {
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    for u in ["pia", "quinn", "rex"] {
        admin.create_user(u, &format!("{u}-password"), "user").await;
    }
    let apis = {
        let mut v = Vec::new();
        for u in ["pia", "quinn", "rex"] {
            let mut api = node.client();
            api.login(u, &format!("{u}-password")).await;
            v.push(api);
        }
        v
    };

    // Presentation: a plain participant cannot publish until a moderator makes her presenter.
    let talk = room_of_kind(&admin, "Lecture", "presentation").await;
    let mut pia = apis[0].join(talk).await;
    assert_eq!(pia.welcome["media"]["can_publish"], false);
    let mut rtc = RtcClient::new().await;
    let (sdp, _, a, v) = rtc.publish_offer();
    let refused = offer(&mut pia, &sdp, &a.to_string(), &v.to_string()).await;
    assert_eq!(
        (refused["type"].as_str(), refused["code"].as_str()),
        (Some("error"), Some("forbidden"))
    );
    let mut host = admin.join(talk).await;
    assert_eq!(
        host.welcome["media"]["can_publish"], true,
        "moderators present"
    );
    host.send(json!({"type": "grant_presenter", "participant_id": pia.id}))
        .await;
    let rights = pia.expect("publish_rights").await;
    assert_eq!(rights["can_publish"], true);
    let answer = offer(&mut pia, &sdp, &a.to_string(), &v.to_string()).await;
    assert_eq!(answer["type"], "media_answer");
    host.send(json!({"type": "revoke_presenter", "participant_id": pia.id}))
        .await;
    assert_eq!(
        pia.expect("publish_rights").await["can_publish"],
        false,
        "withdrawn live"
    );

    // Interview: two publish, the third waits.
    let chat = room_of_kind(&admin, "Interview", "interview").await;
    let mut ps = Vec::new();
    for api in &apis {
        ps.push(api.join(chat).await);
    }
    for (i, p) in ps.iter_mut().enumerate() {
        let mut rtc = RtcClient::new().await;
        let (sdp, _, a, v) = rtc.publish_offer();
        let answer = offer(p, &sdp, &a.to_string(), &v.to_string()).await;
        if i < 2 {
            assert_eq!(answer["type"], "media_answer", "{answer}");
        } else {
            assert_eq!(answer["code"], "forbidden", "{answer}");
            assert!(answer["message"].as_str().unwrap().contains("two people"));
        }
    }
    // One stops: the third may go.
    ps[0]
        .send(json!({"type": "media_state", "microphone": false, "camera": false}))
        .await;
    let mut rtc = RtcClient::new().await;
    let (sdp, _, a, v) = rtc.publish_offer();
    // Wait until the state change is processed (it is echoed to everyone); the one who
    // stopped loses her publishing connection, so she cannot resume without a new check.
    ps[2].expect("media_state").await;
    assert_eq!(ps[0].expect("media_closed").await["direction"], "up");
    let answer = offer(&mut ps[2], &sdp, &a.to_string(), &v.to_string()).await;
    assert_eq!(answer["type"], "media_answer", "{answer}");

    // Bad SDP is refused with a reason, not a crash.
    let bad = offer(&mut ps[1], "v=0\r\nnonsense", "0", "1").await;
    assert_eq!(
        (bad["type"].as_str(), bad["code"].as_str()),
        (Some("error"), Some("bad_request"))
    );
}
