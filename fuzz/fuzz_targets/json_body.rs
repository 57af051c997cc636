//! A REST request body through the API's JSON extractor (`api/extract.rs`): parse, then
//! refuse control characters (NUL…) in any string or key. What it accepts holds none.
#![no_main]

use convene::api::parse_clean;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = parse_clean::<serde_json::Value>(data) {
        let text = value.to_string();
        assert!(!text.contains("\\u0000"), "a NUL got through: {text}");
        assert!(convene::api::parse_clean::<serde_json::Value>(text.as_bytes()).is_ok());
    }
});
