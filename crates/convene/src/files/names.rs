//! Names of files and folders: what people see, never a path. A name is checked here
//! once; the bytes are stored under a random key, so a name cannot reach outside its
//! folder whatever it holds — the checks keep names sane for people and for downloads.

/// Longest name, in bytes of UTF-8 (what most file systems allow for one component).
pub const MAX_NAME_BYTES: usize = 255;

/// Why a name is refused, for the API's 400.
pub fn check_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(format!("the name is longer than {MAX_NAME_BYTES} bytes"));
    }
    if name.chars().any(|c| c.is_control()) {
        return Err("the name contains a control character (such as NUL)".into());
    }
    if name.contains('/') || name.contains('\\') {
        return Err("the name contains a path separator (/ or \\): give a name, not a path".into());
    }
    if name == "." || name == ".." {
        return Err("the name cannot be . or ..".into());
    }
    // `C:` and the like: a Windows drive, an absolute path in disguise.
    let bytes = name.as_bytes();
    if bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic() && bytes.len() == 2 {
        return Err("the name cannot be a drive".into());
    }
    // Bidirectional overrides make `evil\u{202e}fdp.exe` look like `evilexe.pdf`.
    if name
        .chars()
        .any(|c| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
    {
        return Err("the name contains a bidirectional text control".into());
    }
    Ok(name.to_string())
}

/// The extension (lower case, without the dot), if any.
pub fn extension(name: &str) -> Option<String> {
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty() && ext.len() <= 10).then(|| ext.to_ascii_lowercase())
}

/// `Content-Disposition` for a download: an ASCII fallback and the UTF-8 name (RFC 6266).
pub fn content_disposition(kind: &str, name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' && c != '%' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.as_bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(b) {
            encoded.push(*b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_names_are_refused() {
        for bad in [
            "",
            "   ",
            "../x",
            "..",
            ".",
            "/etc/passwd",
            "a/b",
            "C:\\Windows\\x",
            "a\\b",
            "nul\0byte",
            "bell\u{7}",
            "line\nbreak",
            "C:",
            "evil\u{202e}fdp.exe",
            &"x".repeat(256),
        ] {
            assert!(check_name(bad).is_err(), "{bad:?} must be refused");
        }
        for good in [
            "Slides.pdf",
            "..hidden",
            ".bashrc",
            "Ünïcødé 📄.txt",
            "a..b",
            "C:x",
        ] {
            assert!(check_name(good).is_ok(), "{good:?} is a fine name");
        }
        assert_eq!(check_name("  spaced.txt ").unwrap(), "spaced.txt");
    }

    #[test]
    fn extensions() {
        assert_eq!(extension("a.PDF").as_deref(), Some("pdf"));
        assert_eq!(extension(".bashrc"), None);
        assert_eq!(extension("noext"), None);
        assert_eq!(extension("x.tar.gz").as_deref(), Some("gz"));
    }

    #[test]
    fn dispositions_are_safe_header_values() {
        let d = content_disposition("attachment", "Bericht \"Ü\".pdf");
        assert_eq!(
            d,
            "attachment; filename=\"Bericht ___.pdf\"; filename*=UTF-8''Bericht%20%22%C3%9C%22.pdf"
        );
        assert!(axum::http::HeaderValue::from_str(&d).is_ok());
    }
}
