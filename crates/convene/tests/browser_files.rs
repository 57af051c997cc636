//! The room's Files panel in headless Chromium: two files dropped at once are uploaded
//! (XMLHttpRequest, one request each) and listed; a participant without the upload
//! right sees them but no upload button.

mod common;

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
