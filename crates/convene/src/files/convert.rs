//! Document conversion (issue 10, item 2): a PDF, an office document or an image
//! becomes pages (PNG images) stored beside the original on the shared storage.
//!
//! An upload of a document queues a job in the database ([`enqueue`]); every node runs
//! one worker ([`spawn`]) that claims jobs one at a time (`store::conversions`: one
//! claimer per job; a claim is a lease the worker renews while it works, so a job whose
//! node died is taken again by another). The worker reads the original from the
//! storage into a private temporary folder, runs the converters there
//! (`files::render`) under the `conversion_timeout`, writes the pages back under keys
//! of its own making, and records them with the file `ready` — or the file `failed`
//! with a reason people can act on.

use super::render::{self, Stop, Tools, WorkDir};
use super::{SharedStorage, area, names, thumbnail};
use crate::store::{Claim, FileRow, PageRow, Store};
use futures_util::StreamExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long a claim holds without renewal; the worker renews it twice a second.
const LEASE_MS: i64 = 10_000;
/// How often an idle worker looks for a job.
const POLL: Duration = Duration::from_millis(500);
/// How long an office job waits for a node with LibreOffice before one without it
/// fails it (so a mixed cluster converts it, and a cluster without says so soon).
const OFFICE_WAIT_MS: i64 = 5_000;
/// Claims of one job (a node stopping or dying while on it) before it is failed.
const MAX_ATTEMPTS: i64 = 5;
/// Largest image taken as its own page.
const MAX_IMAGE_PIXELS: u64 = 100_000_000;
/// Largest image file read whole to make its thumbnail.
const MAX_THUMBNAIL_SOURCE: i64 = 64 << 20;

/// The conversion settings.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: Duration,
    pub max_pages: u32,
    pub dpi: u32,
    /// Address space each converting tool may take, in bytes (`prlimit --as`).
    pub memory: u64,
}

/// What a worker needs: the database, the storage, who it is and its limits.
#[derive(Clone)]
pub struct Converter {
    pub store: Store,
    pub storage: SharedStorage,
    pub node: i64,
    pub limits: Limits,
    pub tools: Tools,
}

/// The kind of conversion a stored type gets, if any.
pub fn kind_of(content_type: &str) -> Option<&'static str> {
    match content_type {
        "application/pdf" => Some("pdf"),
        "image/png" | "image/jpeg" | "image/gif" | "image/webp" | "image/bmp" => Some("image"),
        t if office_ext(t).is_some() => Some("office"),
        _ => None,
    }
}

/// The extension LibreOffice is given for an office type (never the user's name).
fn office_ext(content_type: &str) -> Option<&'static str> {
    Some(match content_type {
        "application/vnd.oasis.opendocument.text" => "odt",
        "application/vnd.oasis.opendocument.spreadsheet" => "ods",
        "application/vnd.oasis.opendocument.presentation" => "odp",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation" => "pptx",
        "application/msword" => "doc",
        "application/vnd.ms-excel" => "xls",
        "application/vnd.ms-powerpoint" => "ppt",
        _ => return None,
    })
}

/// After an upload: a document is marked `converting` and its job queued; anything
/// else is returned as it is.
pub async fn enqueue(store: &Store, file: FileRow) -> sqlx::Result<FileRow> {
    let Some(kind) = kind_of(&file.content_type) else {
        return Ok(file);
    };
    Ok(store.queue_conversion(file.id, kind).await?.unwrap_or(file))
}

/// Starts the node's conversion worker, one of its tasks (stopped by `shutdown`).
pub fn spawn(converter: Converter, tasks: &TaskTracker, shutdown: CancellationToken) {
    let tools = converter.tools;
    tracing::info!(
        formats = %tools.describe(),
        pdf = tools.pdf,
        office = tools.office,
        "document conversion: this node converts {}",
        tools.describe()
    );
    if !tools.pdf {
        tracing::warn!(
            "document conversion: pdftoppm/pdfinfo not found (install poppler-utils): PDFs and office documents are left to other nodes or fail"
        );
    } else if !tools.office {
        tracing::warn!(
            "document conversion: soffice not found (install LibreOffice): office documents are left to other nodes or fail"
        );
    }
    tasks.spawn(async move {
        // What a node killed mid-job left in the temporary folder (the longest time
        // limit is an hour).
        let swept = tokio::task::spawn_blocking(|| render::sweep_stale(Duration::from_secs(3900)));
        if let Ok(n) = swept.await
            && n > 0
        {
            tracing::info!(
                folders = n,
                "document conversion: removed stale work folders"
            );
        }
        converter.run(shutdown).await
    });
}

impl Converter {
    async fn run(self, shutdown: CancellationToken) {
        loop {
            let office = self.tools.office && self.tools.pdf;
            let claim = tokio::select! {
                _ = shutdown.cancelled() => return,
                c = self.store.claim_conversion(self.node, LEASE_MS, office, OFFICE_WAIT_MS) => c,
            };
            match claim {
                Ok(Some(claim)) => self.process(claim, &shutdown).await,
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "document conversion: cannot claim a job"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Converts one claimed job and records the outcome (if the claim is still ours).
    async fn process(&self, claim: Claim, shutdown: &CancellationToken) {
        let started = std::time::Instant::now();
        let file = match self.store.file(claim.file_id).await {
            Ok(Some(file)) => file,
            Ok(None) => {
                let _ = self
                    .store
                    .fail_conversion(&claim, "the file was deleted")
                    .await;
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "document conversion: cannot read the file");
                let _ = self.store.release_conversion(&claim).await;
                return;
            }
        };
        if claim.attempt > MAX_ATTEMPTS {
            let why = format!(
                "the conversion was interrupted {} times (its node stopped); upload the file again",
                claim.attempt - 1
            );
            let _ = self.store.fail_conversion(&claim, &why).await;
            return;
        }
        tracing::info!(file = file.id, kind = %claim.kind, attempt = claim.attempt, "document conversion started");
        let total = Arc::new(AtomicI64::new(-1));
        let work = match WorkDir::new() {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "document conversion: cannot make a temporary folder");
                let _ = self.store.release_conversion(&claim).await;
                return;
            }
        };
        let job = self.convert(&claim, &file, work.path(), total.clone());
        tokio::pin!(job);
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        let outcome = loop {
            tokio::select! {
                r = &mut job => break Some(r),
                _ = shutdown.cancelled() => break None,
                _ = tick.tick() => {
                    let done = render::rendered_pages(&work.path().join("pages")).len() as i64;
                    let t = total.load(Ordering::Relaxed);
                    // A page may be half written: count only those before the last.
                    let done = if t > 0 { done.saturating_sub(1).min(t) } else { 0 };
                    match self.store.conversion_progress(&claim, done, (t > 0).then_some(t), LEASE_MS).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(file = file.id, "document conversion: the claim was lost; stopping");
                            return;
                        }
                        Err(e) => tracing::warn!(error = %e, "document conversion: cannot record progress"),
                    }
                }
            }
        };
        let result = match outcome {
            None => {
                let _ = self.store.release_conversion(&claim).await;
                return;
            }
            Some(r) => r,
        };
        match result {
            Ok((pages, first)) => {
                let count = pages.len();
                let thumbnail = self.thumbnail(&file, &pages, first).await;
                match self
                    .store
                    .finish_conversion(&claim, &pages, thumbnail.as_deref())
                    .await
                {
                    Ok(true) => tracing::info!(
                        file = file.id,
                        pages = count,
                        node = self.node,
                        ms = started.elapsed().as_millis() as u64,
                        "document converted"
                    ),
                    outcome => {
                        if let Err(e) = outcome {
                            tracing::warn!(error = %e, "document conversion: cannot record the pages");
                            let _ = self.store.release_conversion(&claim).await;
                        }
                        for page in pages.iter().filter(|p| p.storage_key != file.storage_key) {
                            let _ = self.storage.delete(&page.storage_key).await;
                        }
                        if let Some(key) = &thumbnail {
                            let _ = self.storage.delete(key).await;
                        }
                    }
                }
            }
            Err(Stop::Fail(why)) => {
                tracing::info!(file = file.id, reason = %why, "document conversion failed");
                if let Err(e) = self.store.fail_conversion(&claim, &why).await {
                    tracing::warn!(error = %e, "document conversion: cannot record the failure");
                }
            }
            Err(Stop::Retry(e)) => {
                tracing::warn!(file = file.id, error = %format!("{e:#}"), "document conversion: will try again");
                let _ = self.store.release_conversion(&claim).await;
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }

    /// The conversion itself; the pages as stored.
    async fn convert(
        &self,
        claim: &Claim,
        file: &FileRow,
        work: &Path,
        total: Arc<AtomicI64>,
    ) -> Result<(Vec<PageRow>, Option<Vec<u8>>), Stop> {
        let limits = self.limits;
        let budget = render::Budget {
            deadline: tokio::time::Instant::now() + limits.timeout,
            limit: limits.timeout,
            memory: limits.memory,
        };
        if claim.kind == "image" {
            // The original is the page; its thumbnail reads it from the storage.
            return self.image_page(file).await.map(|pages| (pages, None));
        }
        if !self.tools.pdf {
            return Err(Stop::Fail(
                "this server cannot convert documents (poppler-utils is not installed)".into(),
            ));
        }
        let pdf = if claim.kind == "office" {
            let ext = office_ext(&file.content_type).unwrap_or("odt");
            if !self.tools.office {
                let named = names::extension(&file.name).unwrap_or_else(|| ext.to_string());
                return Err(Stop::Fail(format!(
                    "this server cannot convert .{named} files (LibreOffice is not installed)"
                )));
            }
            let input = work.join(format!("document.{ext}"));
            self.download(file, &input).await?;
            render::office_to_pdf(&input, work, &budget).await?
        } else {
            let input = work.join("document.pdf");
            self.download(file, &input).await?;
            input
        };
        let info = render::pdf_info(&pdf, &budget).await?;
        if info.pages > limits.max_pages {
            return Err(Stop::Fail(format!(
                "the document has {} pages; this server converts at most {} (setting `conversion_max_pages`)",
                info.pages, limits.max_pages
            )));
        }
        total.store(info.pages as i64, Ordering::Relaxed);
        let out = work.join("pages");
        tokio::fs::create_dir(&out)
            .await
            .map_err(|e| Stop::Retry(e.into()))?;
        let dpi = render::effective_dpi(limits.dpi, info.max_area_pt2);
        render::pdf_to_png(&pdf, &out, info.pages, dpi, &budget).await?;
        let rendered = render::rendered_pages(&out);
        if rendered.len() != info.pages as usize {
            return Err(Stop::Fail(format!(
                "only {} of the document's {} pages could be rendered",
                rendered.len(),
                info.pages
            )));
        }
        let prefix = format!("pages/{}", crate::secret::random_hex(16));
        let mut pages = Vec::with_capacity(rendered.len());
        // Page 1's bytes, kept for the thumbnail (no read back from the storage).
        let mut first = None;
        for (number, path) in rendered {
            let bytes = tokio::fs::read(&path)
                .await
                .map_err(|e| Stop::Retry(e.into()))?;
            let (width, height) = render::png_size(&bytes)
                .ok_or_else(|| Stop::Fail(format!("page {number} could not be rendered")))?;
            let key = format!("{prefix}/{number}.png");
            if number == 1 {
                first = Some(bytes.clone());
            }
            if let Err(e) = self.storage.put(&key, bytes).await {
                for page in &pages {
                    let page: &PageRow = page;
                    let _ = self.storage.delete(&page.storage_key).await;
                }
                return Err(Stop::Retry(e));
            }
            pages.push(PageRow {
                number: number as i64,
                width: width as i64,
                height: height as i64,
                storage_key: key,
            });
        }
        Ok((pages, first))
    }

    /// The first page made small and stored (`thumbs/<random>.png`); None when it cannot
    /// be made (a picture too large to decode within the bound, a damaged one): the file
    /// is converted all the same and shows its icon.
    /// `rendered`: the first page's bytes when the conversion has them at hand.
    async fn thumbnail(
        &self,
        file: &FileRow,
        pages: &[PageRow],
        rendered: Option<Vec<u8>>,
    ) -> Option<String> {
        let first = pages.iter().min_by_key(|p| p.number)?;
        let bytes = match rendered {
            Some(bytes) => bytes,
            None if first.storage_key == file.storage_key && file.size > MAX_THUMBNAIL_SOURCE => {
                return None;
            }
            None => match self.storage.get(&first.storage_key).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(file = file.id, error = %format!("{e:#}"), "thumbnail: cannot read the first page");
                    return None;
                }
            },
        };
        let made = tokio::task::spawn_blocking(move || thumbnail::make(&bytes)).await;
        let png = match made {
            Ok(Ok(png)) => png,
            Ok(Err(why)) => {
                tracing::info!(file = file.id, reason = %why, "no thumbnail for this file");
                return None;
            }
            Err(e) => {
                tracing::warn!(file = file.id, error = %e, "thumbnail: the decoder failed");
                return None;
            }
        };
        let key = format!("thumbs/{}.png", crate::secret::random_hex(16));
        match self.storage.put(&key, png).await {
            Ok(()) => Some(key),
            Err(e) => {
                tracing::warn!(file = file.id, error = %format!("{e:#}"), "thumbnail: cannot store it");
                None
            }
        }
    }

    /// An image is its own one page.
    async fn image_page(&self, file: &FileRow) -> Result<Vec<PageRow>, Stop> {
        let mut head = Vec::new();
        let mut stream = area::read(&self.storage, &file.storage_key, Some(0..65536))
            .await
            .map_err(Stop::Retry)?;
        while let Some(chunk) = stream.next().await {
            head.extend_from_slice(&chunk.map_err(|e| Stop::Retry(e.into()))?);
        }
        let (width, height) = render::image_size(&head)
            .filter(|(w, h)| *w > 0 && *h > 0)
            .ok_or_else(|| {
                Stop::Fail("the image's size cannot be read (it may be damaged)".into())
            })?;
        if width as u64 * height as u64 > MAX_IMAGE_PIXELS {
            return Err(Stop::Fail(format!(
                "the image is {width} × {height} pixels, more than the {MAX_IMAGE_PIXELS} this server shows"
            )));
        }
        Ok(vec![PageRow {
            number: 1,
            width: width as i64,
            height: height as i64,
            storage_key: file.storage_key.clone(),
        }])
    }

    /// Copies the original from the storage to `to`.
    async fn download(&self, file: &FileRow, to: &Path) -> Result<(), Stop> {
        let mut stream = area::read(&self.storage, &file.storage_key, None)
            .await
            .map_err(Stop::Retry)?;
        let mut out = tokio::fs::File::create(to)
            .await
            .map_err(|e| Stop::Retry(e.into()))?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| Stop::Retry(e.into()))?;
            out.write_all(&chunk)
                .await
                .map_err(|e| Stop::Retry(e.into()))?;
        }
        out.flush().await.map_err(|e| Stop::Retry(e.into()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_and_images_are_converted_and_nothing_else() {
        assert_eq!(kind_of("application/pdf"), Some("pdf"));
        assert_eq!(kind_of("image/jpeg"), Some("image"));
        assert_eq!(
            kind_of("application/vnd.oasis.opendocument.presentation"),
            Some("office")
        );
        assert_eq!(kind_of("image/svg+xml"), None);
        assert_eq!(kind_of("text/html"), None);
        assert_eq!(kind_of("application/zip"), None);
    }
}
