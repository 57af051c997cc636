//! A WebSocket text frame from a participant, decoded as the server does
//! (`signal/connection.rs`: `serde_json::from_str::<ClientMsg>`), then the chat cleaning.
#![no_main]

use convene::protocol::{ClientMsg, MAX_CHAT_CHARS, clean_chat};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(msg) = serde_json::from_str::<ClientMsg>(text) else {
        return;
    };
    let _ = msg.moderated_target();
    if let ClientMsg::Chat { text } = &msg
        && let Ok(clean) = clean_chat(text)
    {
        assert!(!clean.is_empty() && clean.chars().count() <= MAX_CHAT_CHARS);
        assert!(
            !clean
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t')
        );
    }
});
