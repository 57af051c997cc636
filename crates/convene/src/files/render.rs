//! The converters themselves: poppler's `pdfinfo` and `pdftoppm` (PDF → PNG per page)
//! and LibreOffice's `soffice` (office documents → PDF), run as child processes in a
//! private temporary folder, each killed (with its whole process group) when the job's
//! time limit passes, and each under an address-space limit (util-linux's `prlimit`),
//! so that a decompression bomb in a document costs bounded memory. Also the size of
//! an image, read from its header.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;
use tokio::time::Instant;

/// Why a conversion stopped.
#[derive(Debug)]
pub enum Stop {
    /// The document cannot be converted; the reason is for people.
    Fail(String),
    /// Something on our side (the storage) failed: the job is tried again later.
    Retry(anyhow::Error),
}

/// What one job's tools may take: until when, the time limit it comes from (for the
/// message), and the address space of each tool.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub deadline: Instant,
    pub limit: Duration,
    /// Bytes of address space (`prlimit --as`), inherited by what the tool starts.
    pub memory: u64,
}

/// Which converters this node has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tools {
    /// `pdfinfo` and `pdftoppm` (poppler-utils).
    pub pdf: bool,
    /// `soffice` (LibreOffice).
    pub office: bool,
}

impl Tools {
    /// Looks the programs up on `PATH`.
    pub fn detect() -> Tools {
        Tools {
            pdf: on_path("pdftoppm") && on_path("pdfinfo"),
            office: on_path("soffice"),
        }
    }

    /// For the start-up log: what this node converts.
    pub fn describe(&self) -> String {
        let mut formats = vec!["images (.png .jpg .gif .webp .bmp)"];
        if self.pdf {
            formats.push(".pdf");
            if self.office {
                formats.push(".odt .ods .odp .docx .xlsx .pptx .doc .xls .ppt");
            }
        }
        formats.join(", ")
    }
}

fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(program))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

/// A private temporary folder, removed with everything in it when dropped.
pub struct WorkDir {
    path: PathBuf,
}

impl WorkDir {
    pub fn new() -> std::io::Result<WorkDir> {
        use std::os::unix::fs::DirBuilderExt;
        let path =
            std::env::temp_dir().join(format!("convene-convert-{}", crate::secret::random_hex(8)));
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(WorkDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Removes the work folders that nodes killed in the middle of a job left behind: those
/// not touched for longer than the longest `conversion_timeout` allows (a live job's
/// folder, this node's or another's on the same machine, is younger).
pub fn sweep_stale(older_than: Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let stale = entry
            .file_name()
            .to_string_lossy()
            .starts_with("convene-convert-")
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > older_than));
        if stale && std::fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The first line of a tool's complaint, bounded, for an error message.
fn complaint(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no message");
    line.chars().take(200).collect()
}

fn timed_out(limit: Duration) -> Stop {
    Stop::Fail(format!(
        "the conversion took longer than the limit of {} s (setting `conversion_timeout`) and was stopped",
        limit.as_secs_f64()
    ))
}

/// A command for `program`, under util-linux's `prlimit` (the memory limit, inherited
/// by whatever the tool starts) and coreutils' `timeout` when they are there: should this
/// node die (`kill -9`) in the middle, the tool and what it started still go shortly
/// after the job's time limit instead of running on as orphans.
pub(crate) fn command(program: &str, budget: &Budget) -> Command {
    let mut argv: Vec<String> = Vec::new();
    if on_path("prlimit") {
        argv.extend([
            "prlimit".into(),
            format!("--as={}", budget.memory),
            "--".into(),
        ]);
    }
    if on_path("timeout") {
        let secs = budget
            .deadline
            .saturating_duration_since(Instant::now())
            .as_secs()
            + 2;
        argv.extend([
            "timeout".into(),
            "-s".into(),
            "KILL".into(),
            secs.to_string(),
        ]);
    }
    argv.push(program.into());
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    cmd
}

/// Whether a tool's end looks like running out of its memory limit: killed by a signal
/// (an abort on a failed allocation), or saying so.
fn out_of_memory(status: &std::process::ExitStatus, stderr: &[u8]) -> bool {
    use std::os::unix::process::ExitStatusExt;
    let text = String::from_utf8_lossy(stderr).to_ascii_lowercase();
    status.signal().is_some()
        || text.contains("bad_alloc")
        || text.contains("out of memory")
        || text.contains("cannot allocate memory")
        // The dynamic loader, when the limit leaves no room for a library.
        || text.contains("failed to map segment")
}

fn memory_message(what: &str, budget: &Budget) -> String {
    format!(
        "{what} needed more memory than the limit of {} MiB (setting `conversion_memory_limit`), or the document is damaged",
        budget.memory >> 20
    )
}

/// Runs `cmd` to its end or until `deadline`, killing its whole process group then.
/// Its standard output on success.
pub(crate) async fn run(mut cmd: Command, what: &str, budget: &Budget) -> Result<Vec<u8>, Stop> {
    cmd.kill_on_drop(true)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd
        .spawn()
        .map_err(|e| Stop::Fail(format!("this server cannot run {what}: {e}")))?;
    // Until the tool has exited by itself, its whole process group goes with this
    // function's future: at the time limit, and when the job is dropped (the node stops).
    let mut group = GroupKill(child.id());
    match tokio::time::timeout_at(budget.deadline, child.wait_with_output()).await {
        Ok(Ok(out)) => {
            group.0 = None;
            if out.status.success() {
                Ok(out.stdout)
            } else if out_of_memory(&out.status, &out.stderr) {
                Err(Stop::Fail(memory_message(what, budget)))
            } else {
                Err(Stop::Fail(format!(
                    "{what} could not read the document (it may be damaged): {}",
                    complaint(&out.stderr)
                )))
            }
        }
        Ok(Err(e)) => Err(Stop::Fail(format!("{what} failed: {e}"))),
        Err(_) => Err(timed_out(budget.limit)),
    }
}

/// Kills a process group when dropped (unless disarmed with `None`): what the tool
/// started (`soffice.bin` under `soffice`, the tool under `timeout`) goes with it.
struct GroupKill(Option<u32>);

impl Drop for GroupKill {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            // std's, waited for (a millisecond): a drop may come as the runtime stops.
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// What `pdfinfo` says of a document.
#[derive(Debug, Clone, PartialEq)]
pub struct PdfInfo {
    pub pages: u32,
    /// The largest page's area in square points.
    pub max_area_pt2: f64,
}

fn parse_pages(text: &str) -> Option<u32> {
    text.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|v| v.trim().parse().ok())
}

/// `Page    1 size: 612 x 792 pts (letter)` (or `Page size:` for one page): the largest area.
fn parse_max_area(text: &str) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with("Page") && l.contains("size:"))
        .filter_map(|l| {
            let dims = l.split("size:").nth(1)?.trim();
            let mut parts = dims.split_whitespace();
            let w: f64 = parts.next()?.parse().ok()?;
            parts.next().filter(|x| *x == "x")?;
            let h: f64 = parts.next()?.parse().ok()?;
            Some(w * h)
        })
        .reduce(f64::max)
}

pub async fn pdf_info(pdf: &Path, budget: &Budget) -> Result<PdfInfo, Stop> {
    let mut cmd = command("pdfinfo", budget);
    cmd.arg(pdf);
    let out = run(cmd, "pdfinfo", budget).await?;
    let text = String::from_utf8_lossy(&out);
    let pages = parse_pages(&text)
        .ok_or_else(|| Stop::Fail("this PDF cannot be read: it gives no page count".to_string()))?;
    if pages == 0 {
        return Err(Stop::Fail("this PDF has no pages".into()));
    }
    // Each page's size, for the largest (bounded: only asked once the count is accepted).
    let mut cmd = command("pdfinfo", budget);
    cmd.args(["-f", "1", "-l", &pages.to_string()]).arg(pdf);
    let out = run(cmd, "pdfinfo", budget).await?;
    let max_area_pt2 = parse_max_area(&String::from_utf8_lossy(&out)).unwrap_or(612.0 * 792.0);
    Ok(PdfInfo {
        pages,
        max_area_pt2,
    })
}

/// Most pixels in one page image; a huge page is rendered at a lower resolution.
pub const MAX_PAGE_PIXELS: f64 = 40e6;

/// The resolution to render at: `dpi`, lowered so that the largest page stays under
/// [`MAX_PAGE_PIXELS`].
pub fn effective_dpi(dpi: u32, max_area_pt2: f64) -> u32 {
    let fit = (MAX_PAGE_PIXELS * 72.0 * 72.0 / max_area_pt2.max(1.0)).sqrt();
    (dpi as f64).min(fit).floor().max(1.0) as u32
}

/// Renders pages 1..=`pages` of `pdf` into `out` as `page-N.png` (`pdftoppm` pads N).
pub async fn pdf_to_png(
    pdf: &Path,
    out: &Path,
    pages: u32,
    dpi: u32,
    budget: &Budget,
) -> Result<(), Stop> {
    let mut cmd = command("pdftoppm", budget);
    cmd.args([
        "-png",
        "-r",
        &dpi.to_string(),
        "-f",
        "1",
        "-l",
        &pages.to_string(),
    ])
    .arg(pdf)
    .arg(out.join("page"));
    run(cmd, "pdftoppm", budget).await.map(|_| ())
}

/// The pages `pdftoppm` wrote into `dir`: (number, path), in order.
pub fn rendered_pages(dir: &Path) -> Vec<(u32, PathBuf)> {
    let mut pages: Vec<(u32, PathBuf)> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let n = name
                        .strip_prefix("page-")?
                        .strip_suffix(".png")?
                        .parse()
                        .ok()?;
                    Some((n, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    pages.sort();
    pages
}

/// Converts an office document to `<outdir>/<stem>.pdf` with a LibreOffice profile of its
/// own (two conversions never share one, and none touches a user's).
pub async fn office_to_pdf(input: &Path, work: &Path, budget: &Budget) -> Result<PathBuf, Stop> {
    let outdir = work.join("office");
    let profile = work.join("profile");
    let mut cmd = command("soffice", budget);
    cmd.arg(format!(
        "-env:UserInstallation=file://{}",
        profile.display()
    ))
    .args([
        "--headless",
        "--invisible",
        "--nologo",
        "--norestore",
        "--nolockcheck",
        "--nodefault",
        "--convert-to",
        "pdf",
        "--outdir",
    ])
    .arg(&outdir)
    .arg(input)
    .env("HOME", work);
    run(cmd, "LibreOffice", budget).await?;
    let stem = input.file_stem().unwrap_or_default();
    let pdf = outdir.join(stem).with_extension("pdf");
    if !pdf.is_file() {
        return Err(Stop::Fail(format!(
            "LibreOffice could not convert this document (it may be damaged, or need more memory than the limit of {} MiB, setting `conversion_memory_limit`)",
            budget.memory >> 20
        )));
    }
    Ok(pdf)
}

/// Width and height of a PNG from its header.
pub fn png_size(head: &[u8]) -> Option<(u32, u32)> {
    if head.len() < 24 || &head[..8] != b"\x89PNG\r\n\x1a\n" || &head[12..16] != b"IHDR" {
        return None;
    }
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    Some((be(&head[16..20]), be(&head[20..24])))
}

/// Width and height of a PNG, GIF, BMP, JPEG or WebP image from its first bytes.
pub fn image_size(head: &[u8]) -> Option<(u32, u32)> {
    let le16 = |b: &[u8]| u16::from_le_bytes([b[0], b[1]]) as u32;
    let be16 = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]) as u32;
    if let Some(size) = png_size(head) {
        return Some(size);
    }
    if head.len() >= 10 && (head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a")) {
        return Some((le16(&head[6..8]), le16(&head[8..10])));
    }
    if head.len() >= 26 && head.starts_with(b"BM") {
        let w = i32::from_le_bytes([head[18], head[19], head[20], head[21]]);
        let h = i32::from_le_bytes([head[22], head[23], head[24], head[25]]);
        return Some((w.unsigned_abs(), h.unsigned_abs()));
    }
    if head.len() >= 30 && head.starts_with(b"RIFF") && &head[8..12] == b"WEBP" {
        return match &head[12..16] {
            b"VP8 " => Some((le16(&head[26..28]) & 0x3fff, le16(&head[28..30]) & 0x3fff)),
            b"VP8L" => {
                let b = &head[21..25];
                let bits = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                Some(((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1))
            }
            b"VP8X" => {
                let w = u32::from_le_bytes([head[24], head[25], head[26], 0]) + 1;
                let h = u32::from_le_bytes([head[27], head[28], head[29], 0]) + 1;
                Some((w, h))
            }
            _ => None,
        };
    }
    if head.starts_with(&[0xff, 0xd8]) {
        // Walk the segments to the first start-of-frame marker.
        let mut i = 2;
        while i + 9 < head.len() {
            if head[i] != 0xff {
                return None;
            }
            let marker = head[i + 1];
            if marker == 0xff {
                i += 1;
                continue;
            }
            let len = be16(&head[i + 2..i + 4]) as usize;
            let sof = matches!(marker, 0xc0..=0xcf) && !matches!(marker, 0xc4 | 0xc8 | 0xcc);
            if sof {
                return Some((be16(&head[i + 7..i + 9]), be16(&head[i + 5..i + 7])));
            }
            i += 2 + len;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdfinfo_output_is_read() {
        let one = "Producer: x\nPages:           3\nPage size:      612 x 792 pts (letter)\n";
        assert_eq!(parse_pages(one), Some(3));
        assert_eq!(parse_max_area(one), Some(612.0 * 792.0));
        let many = "Page    1 size: 100 x 100 pts\nPage    2 size: 200 x 300.5 pts\n";
        assert_eq!(parse_max_area(many), Some(200.0 * 300.5));
        assert_eq!(parse_pages("garbage"), None);
    }

    #[test]
    fn huge_pages_get_a_lower_resolution() {
        assert_eq!(effective_dpi(96, 612.0 * 792.0), 96);
        // A 200 × 200 inch page at 300 dpi would be 3.6 gigapixels.
        let dpi = effective_dpi(300, 14400.0 * 14400.0);
        assert!(dpi < 40, "{dpi}");
        let px = (200 * dpi) as f64;
        assert!(px * px <= MAX_PAGE_PIXELS);
    }

    #[test]
    fn image_sizes_are_read_from_headers() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\x2c\0\0\0\xc8\x08\x06\0\0\0";
        assert_eq!(image_size(png), Some((300, 200)));
        let gif = b"GIF89a\x0a\x00\x14\x00\x00\x00";
        assert_eq!(image_size(gif), Some((10, 20)));
        let mut jpeg = vec![0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0, 0];
        jpeg.extend_from_slice(&[
            0xff, 0xc0, 0x00, 0x11, 0x08, 0x00, 0x30, 0x00, 0x40, 3, 0, 0,
        ]);
        assert_eq!(image_size(&jpeg), Some((64, 48)));
        assert_eq!(image_size(b"not an image at all, really"), None);
    }

    #[test]
    fn stale_work_folders_are_swept_and_live_ones_kept() {
        let live = WorkDir::new().unwrap();
        let stale = WorkDir::new().unwrap();
        let touched = std::process::Command::new("touch")
            .args(["-d", "2 hours ago"])
            .arg(stale.path())
            .status()
            .unwrap();
        assert!(touched.success());
        assert!(sweep_stale(Duration::from_secs(3600)) >= 1);
        assert!(live.path().is_dir());
        assert!(!stale.path().exists());
    }

    #[test]
    fn rendered_pages_are_found_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["page-10.png", "page-02.png", "page-01.png", "other.txt"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let found: Vec<u32> = rendered_pages(dir.path())
            .into_iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(found, vec![1, 2, 10]);
    }
}
