//! An uploaded file's name and first bytes, as `api/files.rs` takes them: the name
//! check, the extension, the sniffed type, and the download header built from a name
//! that passed. What passes holds no separator, control character or `..`, passes
//! again unchanged, and makes a valid header.
#![no_main]

use axum::http::HeaderValue;
use convene::files::{kinds, names};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data
        .first()
        .map_or(0, |b| *b as usize % (data.len().max(1)));
    let (name, head) = data.split_at(split.min(data.len()));
    let Ok(raw) = std::str::from_utf8(name) else {
        return;
    };
    let Ok(name) = names::check_name(raw) else {
        return;
    };
    assert!(!name.contains('/') && !name.contains('\\'), "{name:?}");
    assert!(!name.chars().any(char::is_control), "{name:?}");
    assert!(name != "." && name != ".." && !name.is_empty(), "{name:?}");
    assert!(name.len() <= names::MAX_NAME_BYTES);
    assert_eq!(names::check_name(&name).as_deref(), Ok(name.as_str()));
    let ext = names::extension(&name);
    if let Some(ext) = &ext {
        assert!(
            ext.len() <= 10 && !ext.chars().any(|c| c.is_ascii_uppercase()),
            "{ext:?}"
        );
    }
    let _ = kinds::classify(ext.as_deref(), head);
    for kind in ["attachment", "inline"] {
        let header = names::content_disposition(kind, &name);
        assert!(HeaderValue::from_str(&header).is_ok(), "{header:?}");
    }
});
