//! What a file is: the type its extension claims, the type its first bytes show
//! (magic numbers, through `infer`), and whether the two agree. The stored
//! `content_type` is the one the bytes show; how a file is served follows from it.

/// The type a name's extension stands for, for the extensions we know.
pub fn by_extension(ext: &str) -> Option<&'static str> {
    Some(match ext {
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "bmp" => "image/bmp",
        "tif" | "tiff" => "image/tiff",
        "svg" => "image/svg+xml",
        "ico" => "image/vnd.microsoft.icon",
        "txt" | "text" | "log" => "text/plain",
        "md" => "text/markdown",
        "csv" => "text/csv",
        "html" | "htm" | "xhtml" => "text/html",
        "xml" => "application/xml",
        "json" => "application/json",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "odt" => "application/vnd.oasis.opendocument.text",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "odp" => "application/vnd.oasis.opendocument.presentation",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "doc" => "application/msword",
        "xls" => "application/vnd.ms-excel",
        "ppt" => "application/vnd.ms-powerpoint",
        "mp3" => "audio/mpeg",
        "ogg" | "oga" => "audio/ogg",
        "wav" => "audio/x-wav",
        "mp4" | "m4v" => "video/mp4",
        "webm" => "video/webm",
        _ => return None,
    })
}

/// Types whose content is text: no magic number to find, but bytes that must not be
/// something else (an executable named `notes.txt`).
fn is_text(t: &str) -> bool {
    t.starts_with("text/") || matches!(t, "image/svg+xml" | "application/xml" | "application/json")
}

/// Containers that several formats share: a `.docx` is a ZIP, a `.doc` an OLE file.
fn same_family(claimed: &str, found: &str) -> bool {
    if claimed == found {
        return true;
    }
    let zip_based = claimed.starts_with("application/vnd.openxmlformats")
        || claimed.starts_with("application/vnd.oasis.opendocument")
        || claimed == "application/zip";
    let ole_based = matches!(
        claimed,
        "application/msword" | "application/vnd.ms-excel" | "application/vnd.ms-powerpoint"
    );
    let found_zip = found == "application/zip"
        || found.starts_with("application/vnd.openxmlformats")
        || found.starts_with("application/vnd.oasis.opendocument");
    let found_ole = matches!(
        found,
        "application/x-ole-storage"
            | "application/msword"
            | "application/vnd.ms-excel"
            | "application/vnd.ms-powerpoint"
    );
    // `audio/ogg` and `video/ogg`, `audio/x-wav` and `audio/wav`: one container.
    let stem = |t: &str| {
        t.rsplit('/')
            .next()
            .unwrap_or(t)
            .trim_start_matches("x-")
            .to_string()
    };
    (zip_based && found_zip)
        || (ole_based && found_ole)
        || (claimed.split('/').next() == found.split('/').next() && stem(claimed) == stem(found))
        || (claimed == "audio/ogg" && found == "video/ogg")
        || (claimed == "video/mp4" && found.starts_with("video/"))
        || (claimed == "video/webm" && found == "video/x-matroska")
        || (claimed == "image/vnd.microsoft.icon" && found == "image/x-icon")
}

/// The verdict on an upload.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Store it with this type.
    Accept(String),
    /// The content is not what the extension says: (claimed, found).
    Mismatch(&'static str, String),
}

/// Decides the type from the name's extension and the first bytes of the content.
pub fn classify(ext: Option<&str>, head: &[u8]) -> Verdict {
    let claimed = ext.and_then(by_extension);
    let found = sniff(head);
    match (claimed, found) {
        (Some(c), Some(f)) if same_family(c, &f) => {
            // The extension is more precise about a shared container (a .pptx is a ZIP).
            Verdict::Accept(
                if f == "application/zip" || f == "application/x-ole-storage" {
                    c.to_string()
                } else {
                    f
                },
            )
        }
        (Some(c), Some(f)) if is_text(c) && is_text(&f) => {
            // Text sniffing is a guess: an SVG or HTML named .txt is still markup, and is
            // stored (and served) as what it is.
            Verdict::Accept(if c == "text/plain" { f } else { c.to_string() })
        }
        (Some(c), Some(f)) => Verdict::Mismatch(c, f),
        (Some(c), None) if is_text(c) => {
            if looks_binary(head) {
                Verdict::Mismatch(c, "application/octet-stream".into())
            } else {
                Verdict::Accept(c.to_string())
            }
        }
        // A PNG, PDF, ZIP… has a magic number; one without it is not what it claims.
        (Some(c), None) if head.is_empty() => Verdict::Accept(c.to_string()),
        (Some(c), None) if has_magic(c) => Verdict::Mismatch(c, "application/octet-stream".into()),
        (Some(c), None) => Verdict::Accept(c.to_string()),
        (None, Some(f)) => Verdict::Accept(f),
        (None, None) if looks_binary(head) => Verdict::Accept("application/octet-stream".into()),
        (None, None) => Verdict::Accept("text/plain".into()),
    }
}

/// Formats that always start with a signature `infer` knows.
fn has_magic(t: &str) -> bool {
    t.starts_with("image/") && t != "image/svg+xml"
        || t == "application/pdf"
        || t == "application/zip"
        || t == "application/gzip"
        || t.starts_with("application/vnd.openxmlformats")
        || t.starts_with("application/vnd.oasis.opendocument")
}

/// The type the bytes show, including the markup `infer` does not look for.
fn sniff(head: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&head[..head.len().min(1024)]).to_ascii_lowercase();
    let start = text.trim_start_matches('\u{feff}').trim_start();
    if start.starts_with("<svg") || (start.starts_with("<?xml") && text.contains("<svg")) {
        return Some("image/svg+xml".into());
    }
    if let Some(kind) = infer::get(head) {
        return Some(kind.mime_type().to_string());
    }
    if start.starts_with("<!doctype html")
        || start.starts_with("<html")
        || start.starts_with("<script")
        || start.starts_with("<head")
        || start.starts_with("<body")
    {
        return Some("text/html".into());
    }
    if start.starts_with("<?xml") {
        return Some("application/xml".into());
    }
    None
}

/// NUL bytes or invalid UTF-8 early on: not text.
fn looks_binary(head: &[u8]) -> bool {
    let sample = &head[..head.len().min(4096)];
    if sample.contains(&0) {
        return true;
    }
    match std::str::from_utf8(sample) {
        Ok(_) => false,
        // Cut in the middle of a character at the end of the sample is fine.
        Err(e) => e.error_len().is_some(),
    }
}

/// Shown in the browser (a tab or an `<img>`) rather than downloaded: raster images and
/// PDF. Everything else — SVG and HTML above all — is an attachment.
pub fn inline_ok(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp" | "image/bmp" | "application/pdf"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n";

    #[test]
    fn matching_content_is_accepted_with_the_sniffed_type() {
        assert_eq!(
            classify(Some("png"), PNG),
            Verdict::Accept("image/png".into())
        );
        assert_eq!(
            classify(Some("pdf"), PDF),
            Verdict::Accept("application/pdf".into())
        );
        assert_eq!(
            classify(None, PDF),
            Verdict::Accept("application/pdf".into())
        );
        assert_eq!(
            classify(Some("txt"), b"hello\n"),
            Verdict::Accept("text/plain".into())
        );
        assert_eq!(
            classify(Some("weird"), b"hello"),
            Verdict::Accept("text/plain".into())
        );
        assert_eq!(
            classify(Some("svg"), b"<?xml version=\"1.0\"?><svg xmlns=\"x\"/>"),
            Verdict::Accept("image/svg+xml".into())
        );
        assert_eq!(
            classify(Some("html"), b"<!DOCTYPE html><p>hi"),
            Verdict::Accept("text/html".into())
        );
    }

    #[test]
    fn mismatches_are_found() {
        assert_eq!(
            classify(Some("png"), PDF),
            Verdict::Mismatch("image/png", "application/pdf".into())
        );
        assert!(matches!(
            classify(Some("pdf"), b"<html><script>x</script>"),
            Verdict::Mismatch(..)
        ));
        assert!(matches!(
            classify(Some("jpg"), b"just text"),
            Verdict::Mismatch(..)
        ));
        assert!(matches!(classify(Some("txt"), PNG), Verdict::Mismatch(..)));
        assert!(matches!(
            classify(Some("csv"), b"a,b\0\0\x01"),
            Verdict::Mismatch(..)
        ));
    }

    #[test]
    fn markup_in_disguise_keeps_its_real_type() {
        // HTML named .txt is stored as HTML, and so served as a sandboxed attachment.
        assert_eq!(
            classify(Some("txt"), b"<html><script>alert(1)</script>"),
            Verdict::Accept("text/html".into())
        );
        assert!(!inline_ok("text/html") && !inline_ok("image/svg+xml"));
        assert!(inline_ok("image/png") && inline_ok("application/pdf"));
    }
}
