//! The device check, the translations and the first-run traps of the web UI, in headless Chromium with its
//! fake camera and microphone: the check shows a preview and a moving level and remembers the choice after a
//! reload; a German browser gets the German UI; a URL in chat is a safe link; an unknown page shows the UI's
//! not-found page; on a single node the cluster (Servers, "on node-1") is out of sight unless asked for, and
//! deactivating the last server asks first.

use crate::common;

use common::browser::{Driver, enter_room, pass_device_check, sign_in, wait_for, wait_for_text};
use common::{ADMIN_PASSWORD, TestNode};
use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use std::time::Duration;

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.unwrap()
}

/// Polls a script until it returns true, up to 20 s.
async fn until(c: &Client, what: &str, script: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if js(c, script).await == Value::Bool(true) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Readings of a level meter's `data-level` (0–100) over about two seconds.
async fn levels(c: &Client, css: &str) -> Vec<u64> {
    let mut out = Vec::new();
    for _ in 0..20 {
        let v = js(
            c,
            &format!("return document.querySelector('{css}')?.dataset.level ?? '0'"),
        )
        .await;
        out.push(v.as_str().unwrap_or("0").parse().unwrap_or(0));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    out
}

fn moving(readings: &[u64]) -> bool {
    let distinct: std::collections::BTreeSet<_> = readings.iter().collect();
    readings.iter().any(|&l| l > 0) && distinct.len() >= 3
}

/// Opens a room's page from the list and waits for its device check.
async fn open_device_check(c: &Client, room: i64) {
    wait_for(
        c,
        &format!("#room-list [data-room-id=\"{room}\"] .enter-room"),
    )
    .await
    .click()
    .await
    .unwrap();
    wait_for(c, "#device-check").await;
}

async fn value_of(c: &Client, css: &str) -> String {
    js(c, &format!("return document.querySelector('{css}').value"))
        .await
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_device_check_shows_the_camera_and_the_level_and_remembers_the_choice() {
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    admin.create_people(&["ann"]).await;
    let room = admin.create_room("Biology", 10).await;
    let ann = driver.browser().await;
    sign_in(&ann, &node.url, "ann", "ann-password").await;
    open_device_check(&ann, room).await;

    // The preview plays the (fake) camera; the meter follows the (fake, beeping) microphone.
    wait_for(&ann, "#device-check[data-state=\"ready\"]").await;
    until(&ann, "the preview shows video", "const v = document.querySelector('#device-check-video'); return !!v && v.dataset.live === 'true' && v.videoWidth > 0 && !v.hidden").await;
    let readings = levels(&ann, "#device-check-level").await;
    assert!(moving(&readings), "the level meter moves: {readings:?}");
    wait_for_text(&ann, "#device-check-title", "camera and microphone").await;

    // Choose the second microphone and speaker, and to enter with the camera off.
    let mics = ann
        .find_all(Locator::Css("#device-check-mic option"))
        .await
        .unwrap();
    assert!(
        mics.len() >= 2,
        "the fake devices offer several microphones"
    );
    wait_for(&ann, "#device-check-mic")
        .await
        .select_by_index(1)
        .await
        .unwrap();
    let mic = value_of(&ann, "#device-check-mic").await;
    let speaker = if ann
        .find(Locator::Css("#device-check-speaker"))
        .await
        .is_ok()
        && ann
            .find_all(Locator::Css("#device-check-speaker option"))
            .await
            .unwrap()
            .len()
            >= 2
    {
        wait_for(&ann, "#device-check-speaker")
            .await
            .select_by_index(1)
            .await
            .unwrap();
        Some(value_of(&ann, "#device-check-speaker").await)
    } else {
        None
    };
    wait_for(&ann, "#device-check-camera-toggle")
        .await
        .click()
        .await
        .unwrap();
    until(&ann, "the camera is released", "return document.querySelector('#device-check-camera-toggle').getAttribute('aria-pressed') === 'false' && !document.querySelector('#device-check-video').dataset.live").await;
    until(
        &ann,
        "the new microphone is in use",
        "return document.querySelector('#device-check').dataset.state === 'ready'",
    )
    .await;

    // After a reload the choice is still there.
    ann.refresh().await.unwrap();
    wait_for(&ann, "#device-check[data-state=\"ready\"]").await;
    assert_eq!(
        value_of(&ann, "#device-check-mic").await,
        mic,
        "the microphone is remembered"
    );
    if let Some(speaker) = &speaker {
        assert_eq!(
            &value_of(&ann, "#device-check-speaker").await,
            speaker,
            "the speaker is remembered"
        );
    }
    assert_eq!(
        js(&ann, "return document.querySelector('#device-check-camera-toggle').getAttribute('aria-pressed')").await,
        "false",
        "entering with the camera off is remembered"
    );
    assert!(
        moving(&levels(&ann, "#device-check-level").await),
        "the meter moves again"
    );

    // Enter: the microphone is on (the chosen one), the camera off; a level shows in the microphone button.
    pass_device_check(&ann, true).await;
    wait_for(&ann, "#room[data-state=\"open\"]").await;
    wait_for(&ann, "#toggle-mic[aria-pressed=\"true\"]").await;
    wait_for(&ann, "#toggle-camera[aria-pressed=\"false\"]").await;
    until(&ann, "the engine uses the chosen microphone", &format!(
        "const t = window.conveneMedia?.engine.local.microphone; return !!t && t.getSettings().deviceId === {}",
        json!(mic)
    ))
    .await;
    until(
        &ann,
        "the own level indicator shows",
        "const m = document.querySelector('#mic-level'); return !!m && !m.hidden",
    )
    .await;
    assert!(
        moving(&levels(&ann, "#mic-level").await),
        "the own level moves"
    );

    // The controls are labelled: visible text, and a tooltip saying what a click does.
    for (css, text) in [
        ("#toggle-mic", "Microphone"),
        ("#toggle-camera", "Camera"),
        ("#toggle-screen", "Share screen"),
        ("#device-menu summary", "Devices"),
    ] {
        wait_for_text(&ann, css, text).await;
        let title = wait_for(&ann, css)
            .await
            .attr("title")
            .await
            .unwrap()
            .unwrap_or_default();
        assert!(!title.is_empty(), "{css} has a tooltip");
    }
    wait_for(&ann, "#device-menu summary")
        .await
        .click()
        .await
        .unwrap();
    until(
        &ann,
        "the room's device picker shows the chosen microphone",
        &format!(
            "return document.querySelector('#select-mic').value === {}",
            json!(mic)
        ),
    )
    .await;
    ann.close().await.unwrap();
}

#[tokio::test]
async fn entering_without_camera_and_microphone_when_the_browser_refuses_them() {
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    admin.create_people(&["ben"]).await;
    let room = admin.create_room("Physics", 10).await;
    // The fake permission prompt answers "deny" (the last --use-fake-ui-for-media-stream wins).
    let ben = driver
        .browser_with(&["--use-fake-ui-for-media-stream=deny"], json!({}))
        .await;
    sign_in(&ben, &node.url, "ben", "ben-password").await;
    open_device_check(&ben, room).await;
    wait_for(&ben, "#device-check[data-state=\"denied\"]").await;
    wait_for_text(
        &ben,
        "#device-check-message",
        "does not let this site use your camera and microphone",
    )
    .await;
    pass_device_check(&ben, false).await;
    wait_for(&ben, "#room[data-state=\"open\"]").await;
    wait_for(&ben, "#toggle-mic[aria-pressed=\"false\"]").await;
    ben.close().await.unwrap();
}

#[tokio::test]
async fn a_german_browser_gets_the_german_ui_and_the_picker_switches() {
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    admin.create_people(&["jonas"]).await;
    let room = admin.create_room("Erdkunde", 10).await;
    let c = driver
        .browser_with(
            &["--lang=de-DE"],
            json!({"intl": {"accept_languages": "de-DE,de"}}),
        )
        .await;
    c.goto(&format!("{}/login", node.url)).await.unwrap();
    wait_for_text(&c, "#login-submit", "Anmelden").await;
    wait_for_text(&c, ".login-page h1", "Bei Convene anmelden").await;
    assert_eq!(js(&c, "return document.documentElement.lang").await, "de");
    assert_eq!(
        js(
            &c,
            "return document.querySelector('#language-select').value"
        )
        .await,
        "de"
    );
    sign_in(&c, &node.url, "jonas", "jonas-password").await;
    wait_for_text(&c, "#rooms-title", "Räume").await;
    wait_for_text(&c, "#nav-rooms", "Räume").await;
    wait_for_text(&c, "#logout", "Abmelden").await;
    open_device_check(&c, room).await;
    wait_for_text(&c, "#device-check-title", "Kamera und Mikrofon prüfen").await;
    wait_for_text(&c, "#device-check-join-without", "Ohne Kamera und Mikrofon").await;
    pass_device_check(&c, false).await;
    wait_for(&c, "#room[data-state=\"open\"]").await;
    wait_for_text(&c, "#toggle-mic", "Mikrofon").await;
    wait_for_text(&c, "#leave-room", "Verlassen").await;
    wait_for_text(&c, "#connection-status", "Verbunden").await;

    // The picker: English, remembered in this browser.
    wait_for(&c, "#leave-room").await.click().await.unwrap();
    wait_for_text(&c, "#rooms-title", "Räume").await;
    wait_for(&c, "#language-select")
        .await
        .select_by_value("en")
        .await
        .unwrap();
    wait_for_text(&c, "#rooms-title", "Rooms").await;
    c.refresh().await.unwrap();
    wait_for_text(&c, "#rooms-title", "Rooms").await;
    assert_eq!(js(&c, "return document.documentElement.lang").await, "en");
    c.close().await.unwrap();
}

#[tokio::test]
async fn chat_links_the_not_found_page_and_a_single_node_without_cluster_wording() {
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let room = admin.create_room("Links", 10).await;
    let c = driver.browser().await;
    sign_in(&c, &node.url, "admin", ADMIN_PASSWORD).await;
    enter_room(&c, room).await;

    // A URL in chat is a safe link; a javascript: "link" stays text.
    let url = format!("{}://example.org/worksheet?page=2", "https");
    for text in [
        format!("Homework: {url}. Due Friday"),
        "javascript:alert(1)".to_string(),
    ] {
        wait_for(&c, "#chat-input")
            .await
            .send_keys(&text)
            .await
            .unwrap();
        wait_for(&c, "#chat-send").await.click().await.unwrap();
    }
    wait_for_text(&c, "#chat-messages .chat-message", "javascript:alert(1)").await;
    let link = wait_for(&c, "#chat-messages .chat-text a").await;
    assert_eq!(
        link.attr("href").await.unwrap().as_deref(),
        Some(url.as_str())
    );
    assert_eq!(
        link.attr("rel").await.unwrap().as_deref(),
        Some("noopener noreferrer")
    );
    assert_eq!(
        link.attr("target").await.unwrap().as_deref(),
        Some("_blank")
    );
    assert_eq!(link.text().await.unwrap(), url);
    assert_eq!(
        c.find_all(Locator::Css("#chat-messages .chat-text a"))
            .await
            .unwrap()
            .len(),
        1,
        "only the http(s) URL is a link"
    );
    // One node: the room does not say which server it is on.
    assert_eq!(
        js(&c, "return document.querySelector('#room-server').hidden").await,
        true
    );

    // One node: no Servers tab, unless asked for.
    c.goto(&format!("{}/admin", node.url)).await.unwrap();
    wait_for(&c, "#admin-tab-users").await;
    wait_for(&c, "#show-cluster").await;
    assert!(
        c.find(Locator::Css("#admin-tab-servers")).await.is_err(),
        "Servers is out of sight on one node"
    );
    wait_for(&c, "#admin-tab-connections")
        .await
        .click()
        .await
        .unwrap();
    wait_for(&c, "#connections-table").await;
    assert!(
        c.find(Locator::Css("#connections-table th.col-server"))
            .await
            .is_err(),
        "no server column on one node"
    );
    wait_for(&c, "#show-cluster").await.click().await.unwrap();
    wait_for(&c, "#admin-tab-servers")
        .await
        .click()
        .await
        .unwrap();

    // Deactivating the only server asks first, saying that no new meeting can start.
    wait_for(
        &c,
        "#servers-table tr[data-server-id=\"1\"] [data-action=\"deactivate\"]",
    )
    .await
    .click()
    .await
    .unwrap();
    wait_for_text(&c, "#confirm", "no new meeting can start").await;
    wait_for(&c, "#confirm-cancel").await.click().await.unwrap();
    let servers = admin.get("/api/v1/servers").await;
    assert_eq!(
        servers[0]["active"], true,
        "cancelled: still active: {servers}"
    );
    // Draining it says the same.
    wait_for(
        &c,
        "#servers-table tr[data-server-id=\"1\"] [data-action=\"drain\"]",
    )
    .await
    .click()
    .await
    .unwrap();
    wait_for_text(&c, "#drain-last-warning", "no new meeting can start").await;
    wait_for(&c, "#confirm-cancel").await.click().await.unwrap();
    // The choice to see the cluster is remembered; turning it off hides Servers again.
    c.refresh().await.unwrap();
    wait_for(&c, "#admin-tab-servers").await;
    wait_for(&c, "#show-cluster").await.click().await.unwrap();
    wait_for(&c, "#admin-tab-users[aria-current=\"page\"]").await;
    assert!(c.find(Locator::Css("#admin-tab-servers")).await.is_err());

    // A mistyped address shows the UI's not-found page, not JSON.
    c.goto(&format!("{}/romos/1", node.url)).await.unwrap();
    wait_for_text(&c, "#not-found h1", "Page not found").await;
    wait_for(&c, "#not-found a[href=\"/rooms\"]").await;
    c.close().await.unwrap();
}

/// No browser needed: what the server answers for unknown paths.
#[tokio::test]
async fn unknown_paths_give_browsers_the_ui_and_api_clients_json() {
    let node = TestNode::sqlite().await;
    let http = reqwest::Client::new();
    let get = |path: &str, accept: &str| {
        http.get(format!("{}{path}", node.url))
            .header("accept", accept)
            .send()
    };
    let html = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    for path in ["/nope", "/romos/1", "/admin/servers/extra", "/login/again"] {
        let res = get(path, html).await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(
            res.headers()["content-type"],
            "text/html; charset=utf-8",
            "{path}"
        );
        assert!(
            res.headers().contains_key("content-security-policy"),
            "{path}"
        );
        assert!(
            res.text().await.unwrap().contains("id=\"app\""),
            "{path}: the shell"
        );
    }
    for (path, accept) in [
        ("/nope", "application/json"),
        ("/nope", "*/*"),
        ("/api/v1/nothing-here", html),
        ("/api", html),
        ("/assets/nope.js", html),
    ] {
        let res = get(path, accept).await.unwrap();
        assert_eq!(res.status(), 404, "{path} {accept}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path} {accept}");
    }
    let res = http
        .post(format!("{}/nope", node.url))
        .header("accept", html)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    // Known pages are unchanged.
    let res = get("/rooms", html).await.unwrap();
    assert_eq!(res.status(), 200);
}
