//! The room's Files panel in headless Chromium: two files dropped at once are uploaded
//! (XMLHttpRequest, one request each) and listed; a participant without the upload
//! right sees them but no upload button.

use crate::common;

use common::TestNode;
use common::browser::{Driver, enter_room, sign_in, wait_for, wait_for_text};
use serde_json::json;

/// Drops files made in the page on the Files panel, as a drag and drop from the desktop would.
const DROP: &str = r#"
const [names] = arguments;
const dt = new DataTransfer();
for (const name of names) dt.items.add(new File([`content of ${name}\n`], name, { type: 'text/plain' }));
const panel = document.querySelector('#files-panel');
panel.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
panel.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
return true;
"#;

#[tokio::test]
async fn files_dropped_on_the_panel_are_uploaded_and_listed() {
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    admin.create_people(&["pia"]).await;
    let room = admin.create_room("Files class", 10).await;

    let c = driver.browser().await;
    sign_in(&c, &node.url, "admin", common::ADMIN_PASSWORD).await;
    enter_room(&c, room).await;
    wait_for(&c, "#files-toggle").await.click().await.unwrap();
    wait_for(&c, "#files-body:not([hidden]) #files-upload:not([hidden])").await;
    c.execute(DROP, vec![json!(["first.txt", "second.txt"])])
        .await
        .unwrap();
    wait_for_text(&c, "#files-list [data-file-id]", "first.txt").await;
    wait_for_text(&c, "#files-list [data-file-id]", "second.txt").await;
    let listing = admin.get(&format!("/api/v1/rooms/{room}/files")).await;
    let names: Vec<_> = listing["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["first.txt", "second.txt"], "{listing}");
    c.close().await.unwrap();

    // A participant: the files, but no upload button (the room's `files_upload` is off).
    let p = driver.browser().await;
    sign_in(&p, &node.url, "pia", "pia-password").await;
    enter_room(&p, room).await;
    wait_for(&p, "#files-toggle").await.click().await.unwrap();
    wait_for_text(&p, "#files-list [data-file-id]", "second.txt").await;
    assert!(
        p.find(fantoccini::Locator::Css("#files-upload[hidden]"))
            .await
            .is_ok(),
        "no upload button for a participant"
    );
    p.close().await.unwrap();
}

/// Turns Chromium's network off or on for the page (chromedriver's network emulation).
async fn set_offline(driver: &Driver, c: &fantoccini::Client, offline: bool) {
    let session = c.session_id().await.unwrap().expect("a session");
    let res = reqwest::Client::new()
        .post(format!(
            "{}/session/{session}/chromium/network_conditions",
            driver.url
        ))
        .json(&json!({"network_conditions": {
            "offline": offline, "latency": 0, "download_throughput": -1, "upload_throughput": -1
        }}))
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_success(),
        "network conditions: {}",
        res.text().await.unwrap()
    );
}

/// The `data-state`s of the upload queue's entries, by file name.
async fn upload_states(c: &fantoccini::Client) -> Vec<(String, String)> {
    let got = c
        .execute(
            "return [...document.querySelectorAll('[data-testid=upload-entry]')].map(e => [e.dataset.name, e.dataset.state]);",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(got).unwrap()
}

async fn until<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..150 {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Uploads that failed when the network went away are sent again with Retry; a converted
/// document shows its thumbnail, opens in the page viewer, and the board exports.
#[tokio::test]
async fn failed_uploads_retry_and_a_document_has_a_thumbnail_a_viewer_and_an_export() {
    if !common::documents::poppler() {
        return;
    }
    let Some(mut driver) = Driver::start().await else {
        return;
    };
    let node = TestNode::sqlite().await;
    let admin = node.admin().await;
    let room = admin.create_room("Retry class", 10).await;
    let deck = common::documents::upload(
        &admin,
        &format!("/api/v1/rooms/{room}/files"),
        "deck.pdf",
        &common::documents::pdf(3, 400, 300),
    )
    .await;
    let deck = deck["id"].as_i64().unwrap();
    assert_eq!(
        common::documents::settled(&admin, deck, 60).await["status"],
        "ready"
    );

    let c = driver.browser().await;
    sign_in(&c, &node.url, "admin", common::ADMIN_PASSWORD).await;
    enter_room(&c, room).await;
    wait_for(&c, "#files-toggle").await.click().await.unwrap();
    wait_for(&c, "#files-body:not([hidden]) #files-upload:not([hidden])").await;

    // Offline: both uploads fail and stay in the queue, each with a Retry.
    set_offline(&driver, &c, true).await;
    c.execute(DROP, vec![json!(["lost-1.txt", "lost-2.txt"])])
        .await
        .unwrap();
    until("two failed uploads", async || {
        let states = upload_states(&c).await;
        (states.len() == 2 && states.iter().all(|(_, s)| s == "failed")).then_some(())
    })
    .await;
    set_offline(&driver, &c, false).await;
    for retry in c
        .find_all(fantoccini::Locator::Css("[data-testid=upload-retry]"))
        .await
        .unwrap()
    {
        retry.click().await.unwrap();
    }
    until("both uploads done on retry", async || {
        let states = upload_states(&c).await;
        (states.iter().filter(|(_, s)| s == "done").count() == 2 || states.is_empty()).then_some(())
    })
    .await;
    wait_for_text(&c, "#files-list [data-file-id]", "lost-2.txt").await;
    let listing = admin.get(&format!("/api/v1/rooms/{room}/files")).await;
    let names: Vec<_> = listing["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        ["deck.pdf", "lost-1.txt", "lost-2.txt"],
        "each sent once"
    );

    // The document's thumbnail is a loaded picture.
    let thumb = format!("[data-file-id='{deck}'] img[data-testid=file-thumb]");
    until("the thumbnail loaded", async || {
        let w = c
            .execute(
                "const i = document.querySelector(arguments[0]); return i && i.complete ? i.naturalWidth : 0;",
                vec![json!(thumb)],
            )
            .await
            .unwrap();
        (w.as_u64().unwrap_or(0) > 0).then_some(())
    })
    .await;
    // Clicking it opens the page viewer at page 1 of 3; Next turns; Escape closes.
    wait_for(&c, &format!("[data-file-id='{deck}'] a.files-name"))
        .await
        .click()
        .await
        .unwrap();
    wait_for(
        &c,
        "dialog[data-testid=page-viewer][open][data-page='1'][data-pages='3']",
    )
    .await;
    wait_for(&c, "[data-testid=page-viewer-next]")
        .await
        .click()
        .await
        .unwrap();
    wait_for(
        &c,
        "dialog[data-testid=page-viewer][data-page='2'][data-state=ready]",
    )
    .await;
    wait_for_text(&c, "[data-testid=page-viewer-counter]", "2").await;
    let shown = c
        .execute(
            "const i = document.querySelector('[data-testid=page-viewer-image]'); return [i.naturalWidth, i.currentSrc];",
            vec![],
        )
        .await
        .unwrap();
    let pages = admin.get(&format!("/api/v1/files/{deck}/pages")).await;
    assert_eq!(shown[0], pages[1]["width"], "page 2 at its size: {shown}");
    assert!(
        shown[1]
            .as_str()
            .unwrap()
            .ends_with(&format!("/files/{deck}/pages/2"))
    );
    // A real key press, as a user's: the dialog's own Escape handling.
    c.active_element()
        .await
        .unwrap()
        .send_keys(&fantoccini::key::Key::Escape.to_string())
        .await
        .unwrap();
    until("the viewer closed", async || {
        c.find(fantoccini::Locator::Css(
            "dialog[data-testid=page-viewer][open]",
        ))
        .await
        .is_err()
        .then_some(())
    })
    .await;

    // The board's export links answer a PNG and a PDF.
    wait_for(&c, "#toggle-whiteboard")
        .await
        .click()
        .await
        .unwrap();
    wait_for(&c, "canvas[data-testid=\"board-canvas\"]").await;
    wait_for(&c, "[data-testid=board-export] summary")
        .await
        .click()
        .await
        .unwrap();
    let answers = c
        .execute(
            "return Promise.all(['board-export-png', 'board-export-pdf'].map(async id => {
               const a = document.querySelector(`[data-testid=${id}]`);
               const r = await fetch(a.href);
               return [a.getAttribute('href'), r.status, r.headers.get('content-type')];
             }));",
            vec![],
        )
        .await
        .unwrap();
    let answers: Vec<(String, u16, String)> = serde_json::from_value(answers).unwrap();
    assert!(
        answers[0]
            .0
            .contains(&format!("/rooms/{room}/boards/1/export")),
        "{answers:?}"
    );
    assert_eq!((answers[0].1, answers[0].2.as_str()), (200, "image/png"));
    assert_eq!(
        (answers[1].1, answers[1].2.as_str()),
        (200, "application/pdf")
    );
    c.close().await.unwrap();
}
