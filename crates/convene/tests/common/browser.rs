//! Headless Chromium driven through chromedriver (Debian's `chromium` and
//! `chromium-driver`); skipped with a reason when they are missing.

use fantoccini::{Client, ClientBuilder, Locator};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Driver {
    child: Child,
    pub url: String,
    profiles: Vec<tempfile::TempDir>,
}

fn find(names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {n}"))
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    })
}

impl Driver {
    /// Starts chromedriver, or None (skipped, or a failure under CONVENE_TEST_REQUIRE).
    pub async fn start() -> Option<Driver> {
        let driver = find(&["chromedriver"]);
        let chromium = find(&["chromium", "chromium-browser"]);
        let (driver, _) = match (driver, chromium) {
            (Some(d), Some(c)) => (d, c),
            _ => {
                super::require("chromium", Err("chromium and chromedriver not found (apt-get install chromium chromium-driver)".into()));
                return None;
            }
        };
        let port = super::net::free_port();
        // Its own process group, so that dropping the driver also ends the browsers it
        // started (a failing test would otherwise leave them running).
        let mut child = Command::new(driver)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if http
                .get(format!("{url}/status"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                return Some(Driver {
                    child,
                    url,
                    profiles: Vec::new(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("chromedriver did not start");
    }

    /// A new browser with its own profile (its own cookies).
    pub async fn browser(&mut self) -> Client {
        self.browser_with(&[], serde_json::json!({})).await
    }

    /// A new browser with more command-line switches (e.g. `--lang=de`) and profile preferences
    /// (e.g. `{"intl": {"accept_languages": "de-DE,de"}}`).
    pub async fn browser_with(&mut self, extra_args: &[&str], prefs: serde_json::Value) -> Client {
        let profile = tempfile::tempdir().unwrap();
        let chromium = find(&["chromium", "chromium-browser"]).unwrap();
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,900",
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            "--allow-loopback-in-peer-connection",
            "--autoplay-policy=no-user-gesture-required",
            "--auto-select-desktop-capture-source=Entire screen",
            "--auto-accept-this-tab-capture",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.extend(extra_args.iter().map(|a| a.to_string()));
        let caps = serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": args,
                "prefs": prefs,
            }
        });
        self.profiles.push(profile);
        let caps = caps.as_object().unwrap().clone().into_iter().collect();
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("browser session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for an element matching `css`, up to 15 s.
/// Polls rather than using WebDriver's wait, which gives up with "aborted by
/// navigation" when the page moves on (a redirect to another node) meanwhile.
pub async fn wait_for(c: &Client, css: &str) -> fantoccini::elements::Element {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match c.find(Locator::Css(css)).await {
            Ok(element) => return element,
            Err(e) if tokio::time::Instant::now() > deadline => {
                panic!("element {css} did not appear: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Waits until `css` exists and its text contains `text`.
pub async fn wait_for_text(c: &Client, css: &str, text: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(elements) = c.find_all(Locator::Css(css)).await {
            for e in elements {
                if e.text().await.is_ok_and(|t| t.contains(text)) {
                    return;
                }
            }
        }
        if tokio::time::Instant::now() > deadline {
            let page = c.source().await.unwrap_or_default();
            panic!(
                "no {css} with text {text:?}; page:\n{}",
                &page[..page.len().min(4000)]
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Signs in through the login page and waits for the room list.
pub async fn sign_in(c: &Client, base: &str, login: &str, password: &str) {
    c.goto(&format!("{base}/login")).await.unwrap();
    wait_for(c, "#login-name")
        .await
        .send_keys(login)
        .await
        .unwrap();
    wait_for(c, "#login-password")
        .await
        .send_keys(password)
        .await
        .unwrap();
    wait_for(c, "#login-submit").await.click().await.unwrap();
    wait_for(c, "#room-list").await;
}

/// Passes the device check that comes before a room (`#device-check`): with `with_media`, enters with
/// the microphone and camera it turned on (once it has them), otherwise without camera and microphone.
pub async fn pass_device_check(c: &Client, with_media: bool) {
    let button = if with_media {
        "#device-check[data-state=\"ready\"] #device-check-join"
    } else {
        "#device-check-join-without"
    };
    wait_for(c, button).await.click().await.unwrap();
}

/// Enters a room from the room list and waits until the page is connected. The device check is
/// passed without camera and microphone (tests turn them on in the room).
pub async fn enter_room(c: &Client, room: i64) {
    // The list re-renders every few seconds: a button found just before may be gone
    // (stale) when clicked, so find and click again.
    let button = format!("#room-list [data-room-id=\"{room}\"] .enter-room");
    for attempt in 0.. {
        match wait_for(c, &button).await.click().await {
            Ok(_) => break,
            Err(e) if attempt >= 10 => panic!("cannot click {button}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if c.find(Locator::Css("#room")).await.is_ok() {
            break;
        }
        if let Ok(skip) = c.find(Locator::Css("#device-check-join-without")).await
            && skip.click().await.is_ok()
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "neither the device check nor the room appeared"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_for(c, "#room[data-state=\"open\"]").await;
}

/// Turns on the microphone and the camera from the room's controls.
pub async fn turn_on_camera_and_microphone(c: &Client) {
    wait_for(c, "#toggle-mic").await.click().await.unwrap();
    wait_for(c, "#toggle-camera").await.click().await.unwrap();
}

/// `window.conveneMedia.stats()` of the page: what its receiving connection decoded
/// (`videoFramesDecoded`, `audioBytesReceived`), and whether it publishes.
pub async fn stats(c: &Client) -> serde_json::Value {
    c.execute_async(
        "const done = arguments[arguments.length - 1];
         (window.conveneMedia ? window.conveneMedia.stats() : Promise.resolve({}))
           .then(done, e => done({error: String(e)}));",
        vec![],
    )
    .await
    .unwrap_or(serde_json::Value::Null)
}

/// Waits until the page decodes video frames and receives audio bytes (from the others:
/// its receiving connection carries only what they publish).
pub async fn wait_for_media(c: &Client, who: &str) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let s = stats(c).await;
        if s["videoFramesDecoded"].as_u64().unwrap_or(0) > 0
            && s["audioBytesReceived"].as_u64().unwrap_or(0) > 0
        {
            return s;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("{who} received no media: {s}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Real WebRTC in four headless browsers at once starves two cores (ICE consent checks
/// time out): the tests whose browsers send media take turns, across every module of
/// the test binary.
pub async fn media_turn() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}
