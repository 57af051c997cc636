//! Documents for the conversion and whiteboard tests: checks for poppler and
//! LibreOffice, a PDF made on the spot, a multipart upload, waiting for a conversion.

use super::{Api, eventually};
use serde_json::Value;
use std::process::Command;

/// `program` runs (`-v`/`--version`), or why not.
pub fn tool(program: &str, arg: &str) -> Result<(), String> {
    Command::new(program)
        .arg(arg)
        .output()
        .map(|_| ())
        .map_err(|e| format!("{program}: {e} (install poppler-utils / LibreOffice)"))
}

pub fn poppler() -> bool {
    super::require(
        "pdftoppm",
        tool("pdftoppm", "-v").and(tool("pdfinfo", "-v")),
    )
}

pub fn libreoffice() -> bool {
    poppler() && super::require("soffice", tool("soffice", "--version"))
}

/// A valid PDF of `pages` pages of `w` × `h` points, each with a filled rectangle.
pub fn pdf(pages: usize, w: u32, h: u32) -> Vec<u8> {
    let mut objects: Vec<String> = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".into(),
        format!(
            "<< /Type /Pages /Count {pages} /Kids [{}] >>",
            (0..pages)
                .map(|i| format!("{} 0 R", 3 + 2 * i))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    ];
    for i in 0..pages {
        let content = format!("0 0 1 rg {} {} 50 50 re f", 10 + 20 * i, 10);
        objects.push(format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w} {h}] /Contents {} 0 R >>",
            4 + 2 * i
        ));
        objects.push(format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ));
    }
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// A two-slide presentation: flat ODF written here, made an .odp by LibreOffice.
pub fn odp(slides: usize) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let pages: String = (1..=slides)
        .map(|i| {
            format!(
                r#"<draw:page draw:name="s{i}"><draw:frame svg:x="2cm" svg:y="2cm" svg:width="20cm" svg:height="3cm"><draw:text-box><text:p>Slide {i}</text:p></draw:text-box></draw:frame></draw:page>"#
            )
        })
        .collect();
    let flat = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" office:version="1.2" office:mimetype="application/vnd.oasis.opendocument.presentation"><office:body><office:presentation>{pages}</office:presentation></office:body></office:document>"#
    );
    std::fs::write(dir.path().join("slides.fodp"), flat).unwrap();
    let out = Command::new("soffice")
        .arg(format!(
            "-env:UserInstallation=file://{}/profile",
            dir.path().display()
        ))
        .args(["--headless", "--convert-to", "odp", "--outdir"])
        .arg(dir.path().join("out"))
        .arg(dir.path().join("slides.fodp"))
        .env("HOME", dir.path())
        .output()
        .unwrap();
    std::fs::read(dir.path().join("out/slides.odp")).unwrap_or_else(|e| {
        panic!(
            "soffice made no .odp ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

pub async fn upload(api: &Api, path: &str, name: &str, data: &[u8]) -> Value {
    let boundary = "convene-conversion-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let res = api
        .http
        .post(format!("{}{path}", api.base))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .bearer_auth(api.sid.as_deref().unwrap())
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let json: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "upload {name}: {json}");
    json
}

/// Waits for the file to leave `converting`; its final JSON.
pub async fn settled(api: &Api, id: i64, secs: u64) -> Value {
    eventually(secs, || async {
        let file = api.get(&format!("/api/v1/files/{id}")).await;
        (file["status"] != "converting").then_some(file)
    })
    .await
}
